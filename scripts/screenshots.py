"""Regenerate the console screenshots in docs/screenshots/ (1920×1080, real Chromium).

    make screenshots

A throw-away demo database (synthetic people only), a real server, a night-shift queue
with alarms of every age and priority, then the queue and one alarm's card as the
operator sees them, (where the voice peers are installed: scripts/ensure-voice.sh) the
card during a call with the alarm unit, and (where GStreamer is too: scripts/ensure-camera.sh)
the supervision round during a camera look-in with the demo's simulated camera. Run it after
changing the console's look; commit the PNGs.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the browser harness lives with the tests

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from sqlalchemy import create_engine, select, update  # noqa: E402

from respons.auth import accounts  # noqa: E402
from respons.demo.seed import seed_demo  # noqa: E402
from respons.domain.access import Role  # noqa: E402
from respons.domain.alarm_types import alarm_type  # noqa: E402
from respons.engine import alarms as service  # noqa: E402
from respons.engine import receiving
from respons.store.migrate import upgrade  # noqa: E402
from respons.demo import alarm_unit, camera  # noqa: E402
from respons.demo.supervision import DEMO_CAMERA_PORTS  # noqa: E402
from respons.store.tables import devices  # noqa: E402
from respons.voice import janus  # noqa: E402
from tests.browser.harness import VIEWPORT, Account, launch, log_in  # noqa: E402
from tests.chaos.server import ServerProcess, free_port  # noqa: E402
from tests.voice_stack import OPERATOR_TONE, UNIT_TONE, Gateway, Unit, tone  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# (type, seconds waited, answered by the other operator?)
NIGHT = [
    ("fall", 71, False), ("button_press", 52, False), ("button_press", 38, False), ("fire", 12, False),
    ("inactivity", 95, True), ("door_opened", 30, False), ("bed_exit", 8, False), ("medication_missed", 240, True),
    ("battery_low", 600, False), ("device_silent", 1500, False), ("geofence_exit", 20, False), ("button_press", 140, True),
]


def build_world(database_url: str) -> tuple[str, list[str]]:
    upgrade(database_url)
    engine = create_engine(database_url)
    now = datetime.now(timezone.utc)
    seed_demo(engine, now=now, recipients=600, history_days=120)
    with engine.begin() as conn:
        colleague = accounts.create_user(conn, username="kari", display_name="Kari Nattevakt", password="demo-kari-2026-night",
                                         now=now)
        accounts.grant_role(conn, user_id=colleague, role=Role.OPERATOR, municipality_id=None, actor="screenshots", now=now)
        # People with a safety alarm, spread over the municipalities: every k-th of them.
        everyone = conn.execute(select(devices.c.recipient_id).where(devices.c.kind == "safety_alarm",
                                                                     devices.c.recipient_id.is_not(None))
                                .distinct().order_by(devices.c.recipient_id)).scalars().all()
        chosen = everyone[:: max(1, len(everyone) // len(NIGHT))][: len(NIGHT)]
        owned = conn.execute(
            select(devices.c.id, devices.c.municipality_id, devices.c.recipient_id, devices.c.identity)
            .where(devices.c.recipient_id.in_(chosen), devices.c.kind == "safety_alarm")
        ).all()
        made = []
        for (code, waited, taken), device in zip(NIGHT, owned):
            received = now - timedelta(seconds=waited)
            new = receiving.NewAlarm(device.municipality_id, device.recipient_id, device.id, alarm_type(code), "http",
                                   f"device:{device.identity}", received)
            alarm_id = receiving.receive(conn, new, now=received, answer_deadline=timedelta(seconds=60)).alarm_id
            if taken:
                service.answer(conn, alarm_id, actor=f"user:{colleague}", visible_to=None, now=received + timedelta(seconds=25))
            made.append(alarm_id)
    engine.dispose()
    return now.isoformat(), made


def voice_peers(folder: Path, database_url: str):
    """The gateway and a simulated unit that every screenshot alarm's device calls back, or
    None (with why) when they are not installed."""
    problem = janus.available() or alarm_unit.available()
    if problem:
        print(f"no call screenshot: {problem}")
        return None
    gateway = Gateway(folder / "janus").start()
    unit = Unit(folder / "unit", microphone=tone(folder / "unit.wav", UNIT_TONE, seconds=60, channels=2))
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.kind == "safety_alarm").values(voice_uri=unit.uri))
    engine.dispose()
    return gateway, unit


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    shots: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/screenshots.db"
        build_world(database_url)
        peers = voice_peers(Path(tmp), database_url)
        server = ServerProcess(database_url, free_port(), Path(tmp) / "server.log",
                               **(peers[0].settings if peers else {}))
        server.start()
        try:
            with sync_playwright() as p:
                microphone = tone(Path(tmp) / "operator.wav", OPERATOR_TONE, seconds=60, channels=1)
                browser = launch(p, extra_args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                                f"--use-file-for-fake-audio-capture={microphone}"])
                page = browser.new_context(viewport=VIEWPORT, locale="nb-NO").new_page()
                log_in(page, server.url, Account("operator", "demo-operator-2026"))
                expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=10_000)
                page.locator("#queue").focus()
                page.keyboard.press("j")
                page.wait_for_timeout(1200)  # one tick of the answer clocks
                page.screenshot(path=str(OUT / "console-queue.png"))

                page.keyboard.press("n")
                page.keyboard.press("a")
                expect(page.locator("#work-state")).to_have_text("Besvart", timeout=10_000)
                page.select_option("#call-result", "no_answer")
                page.click("#call-form button[type=submit]")
                expect(page.locator("#timeline li[data-kind=action]")).to_have_count(1, timeout=10_000)
                page.fill("#note-text", "Bruker svarer ikke på telefon. Ringer pårørende.")
                page.keyboard.press("Control+Enter")
                expect(page.locator("#timeline li[data-kind=note]")).to_have_count(1, timeout=10_000)
                page.keyboard.press("Escape")
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / "console-card.png"))

                if peers:
                    # T: a call with the alarm unit, 0:03 into it.
                    page.locator("#card-heading").focus()
                    page.keyboard.press("t")
                    expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=20_000)
                    page.wait_for_timeout(3200)
                    page.screenshot(path=str(OUT / "console-call.png"))
                    page.keyboard.press("h")
                    expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=10_000)

                if peers and camera.available() is None:
                    # The round: the demo's camera look-in due now (one of three every 20 minutes).
                    cameras = [camera.start(port) for port in DEMO_CAMERA_PORTS]
                    try:
                        page.goto(server.url + "/round")
                        expect(page.locator("tr.lookin-row").first).to_be_visible(timeout=15_000)
                        page.keyboard.press("n")
                        page.keyboard.press("s")
                        page.wait_for_function("window.respons.round.camera && window.respons.round.camera.frames > 30",
                                               timeout=20_000)
                        page.screenshot(path=str(OUT / "round-lookin.png"))
                        shots.append("round-lookin.png")
                    finally:
                        for process in cameras:
                            camera.stop(process)

                # The statistics an auditor lands on: last month in the host municipality.
                stats = browser.new_context(viewport=VIEWPORT, locale="nb-NO").new_page()
                log_in(stats, server.url, Account("revisor", "demo-revisor-2026"))
                stats.select_option("#stats-municipality", label="Kristiansand (4204)")
                last_month = (datetime.now(timezone.utc).replace(day=1) - timedelta(days=1)).date().isoformat()
                stats.fill("#stats-date", last_month)
                stats.click(".stats-choose button[type=submit]")
                expect(stats.locator("#key-figures")).to_be_visible(timeout=10_000)
                stats.screenshot(path=str(OUT / "statistics.png"), full_page=True)
                browser.close()
        finally:
            server.stop()
            if peers:
                for peer in peers:
                    peer.stop()
    for name in ("console-queue.png", "console-card.png", "statistics.png") + (("console-call.png",) if peers else ()):
        print(f"wrote {OUT / name}")
    for name in shots:
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
