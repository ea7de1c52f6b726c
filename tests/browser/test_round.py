"""The supervision round in real Chromium: an operator works a round of three look-ins by
keyboard while a colleague's list follows live; the camera's picture comes through the real
gateway (Janus's streaming plugin) from GStreamer's test picture, and is closed after the
look-in's length, or at once when the consent is withdrawn."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, insert, select

from respons.clock import OSLO
from respons.digital_supervision import lookins, store
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.store.db import write_transaction
from respons.demo import camera as simulated
from respons.store.tables import alarms, audit_log, devices, supervision_lookins
from tests.browser.harness import log_in
from tests.voice_stack import Gateway, camera_port, require_camera

LIVE = 10_000  # ms


@pytest.fixture
def camera_settings(tmp_path):
    """The gateway, and a simulated camera sending to its port (the first person's camera)."""
    require_camera()
    gateway = Gateway(tmp_path / "janus").start()
    camera = simulated.start(camera_port(), log_path=tmp_path / "camera.log")
    yield gateway.settings
    simulated.stop(camera)
    gateway.stop()


def cameras(world, sources: dict[int, str]) -> None:
    """Supervision cameras in the registry: person index → video source."""
    engine = create_engine(world.database_url)
    with write_transaction(engine) as conn:
        for index, source in sources.items():
            conn.execute(insert(devices).values(
                municipality_id=world.registry.municipality_ids[0], recipient_id=world.registry.recipient_ids[index],
                kind="camera", protocol="http", identity=f"CAM-{index}", video_source=source,
                created_at=datetime.now(timezone.utc)))
    engine.dispose()


def plans_due_now(world, kinds: list[Kind], *, max_seconds: int = 30) -> list[int]:
    """One plan per person, due at the second, third, fourth… whole minute from now (Oslo wall
    clock), scheduled as the server's sweep would; the look-ins' ids in time order. Never the
    next whole minute: it can be a second away, and pass while the test logs in."""
    engine = create_engine(world.database_url)
    now = datetime.now(timezone.utc)
    with write_transaction(engine) as conn:
        for n, kind in enumerate(kinds, start=1):
            at = (now + timedelta(minutes=n + 1)).astimezone(OSLO).time().replace(second=0, microsecond=0)
            plan = Plan(kind=kind, times=(AgreedTime(at),), max_seconds=max_seconds, consent_by="Brukeren selv",
                        consent_on=date(2026, 1, 1), valid_from=now.astimezone(OSLO).date() - timedelta(days=1),
                        checklist=("Ligger i sengen", "Puster rolig"))
            recipient = world.registry.recipient_ids[n - 1]
            store.add(conn, municipality_id=world.registry.municipality_ids[0], recipient_id=recipient, plan=plan,
                      now=now, actor="test")
        lookins.schedule(conn, now, lookins.Rules())
        ids = conn.execute(select(supervision_lookins.c.id).order_by(supervision_lookins.c.due_at)).scalars().all()
    engine.dispose()
    return ids


def round_of(new_page, world, account):
    page = new_page()
    log_in(page, world.url, account, next_path="/round")
    expect(page).to_have_url(re.compile(r"/round$"))
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    return page


@pytest.mark.server_settings("camera_settings")
def test_an_operator_works_a_round_of_three_look_ins_by_keyboard(new_page, world):
    # The first person's camera sends; the third's is connected to nothing.
    cameras(world, {0: f"rtp:{camera_port()}/vp8", 2: f"rtp:{camera_port(1)}/vp8"})
    first, second, third = plans_due_now(world, [Kind.CAMERA, Kind.SENSOR, Kind.CAMERA], max_seconds=10)
    anne = round_of(new_page, world, world.operators[0])
    bjorn = round_of(new_page, world, world.operators[1])
    for lookin in (first, second, third):
        expect(anne.locator(f"#lookin-{lookin} .lk-clock")).to_have_text("kan startes")

    # N chooses the first look-in due, S starts it: the camera's picture plays in the page.
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{first}")).to_have_attribute("aria-selected", "true")
    expect(anne.locator("#start-button")).to_be_visible()
    anne.keyboard.press("s")
    expect(anne.locator("#outcome-form")).to_be_visible(timeout=LIVE)
    expect(anne.locator("#lookin")).to_contain_text("Ligger i sengen")
    expect(anne.locator("#view-timer")).to_contain_text("Innsynet lukkes om")
    expect(bjorn.locator(f"#lookin-{first} .lk-status")).to_have_text("Startet av Anne", timeout=LIVE)
    anne.wait_for_function("window.respons.round.camera && window.respons.round.camera.frames > 15", timeout=LIVE)
    expect(anne.locator("#camera-video")).to_be_visible()
    expect(anne.locator("#camera-status")).to_have_text("Direkte bilde. Ingenting tas opp eller lagres.")
    quality = anne.evaluate("document.querySelector('#camera-video').getVideoPlaybackQuality().totalVideoFrames")
    assert quality > 15, "the browser decoded the camera's frames"

    # After the look-in's length (10 s) the picture is closed by the server, and stays closed.
    anne.wait_for_function("window.respons.round.camera.ended === 'closed'", timeout=15_000)
    expect(anne.locator("#camera-video")).to_be_hidden()
    expect(anne.locator("#camera-status")).to_have_text("Bildet er lukket.")
    frames = anne.evaluate("window.respons.round.camera.frames")
    anne.wait_for_timeout(1500)
    assert anne.evaluate("window.respons.round.camera.frames") == frames

    # 1 and Enter record "seen, all well".
    anne.keyboard.press("1")
    anne.keyboard.press("Enter")
    expect(anne.locator("#lookin-outcome")).to_have_text("Sett, alt vel", timeout=LIVE)
    expect(bjorn.locator(f"#lookin-{first} .lk-status")).to_have_text("Sett, alt vel", timeout=LIVE)

    # The next: not seen, so the person is looked for again in 15 minutes (a new row, live).
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{second}")).to_have_attribute("aria-selected", "true")
    anne.keyboard.press("s")
    expect(anne.locator("#outcome-form")).to_be_visible(timeout=LIVE)
    anne.keyboard.press("3")
    anne.keyboard.press("Enter")
    expect(anne.locator("#lookin-outcome")).to_have_text("Ikke sett", timeout=LIVE)
    expect(anne.locator("#lookin")).to_contain_text(re.compile(r"Ny sjekk kl\. \d\d:\d\d\."))
    expect(bjorn.locator("tr.lookin-row")).to_have_count(4, timeout=LIVE)

    # The third (the look again is not due yet, so N passes it): its camera sends nothing, so
    # no picture is shown, the page says so and offers outcome 4; Enter records it, and the
    # person is to be phoned instead (a new row) while a technician alarm goes out.
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{third}")).to_have_attribute("aria-selected", "true")
    anne.keyboard.press("s")
    expect(anne.locator("#camera-status")).to_have_text(re.compile("^Kamera utilgjengelig"), timeout=LIVE)
    expect(anne.locator("#camera-video")).to_be_hidden()
    expect(anne.locator("#outcome-camera_unavailable")).to_be_checked()
    anne.locator("#outcome-camera_unavailable").focus()
    anne.keyboard.press("Enter")
    expect(anne.locator("#lookin-outcome")).to_have_text("Kamera utilgjengelig", timeout=LIVE)
    expect(anne.locator("#lookin")).to_contain_text("Ring brukeren nå (i stedet for kamera).")
    expect(bjorn.locator("tr.lookin-row")).to_have_count(5, timeout=LIVE)

    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        done = dict(conn.execute(select(supervision_lookins.c.id, supervision_lookins.c.outcome)
                                 .where(supervision_lookins.c.id.in_([first, second, third]))).all())
        raised = conn.execute(select(alarms.c.type, alarms.c.payload)).all()
        logged = conn.execute(select(audit_log.c.action, audit_log.c.details)
                              .where(audit_log.c.action.in_(["look_in", "look_in_ended"]))).all()
    engine.dispose()
    assert done == {first: "seen_well", second: "not_seen", third: "camera_unavailable"}
    assert [(a.type, a.payload["supervision"]["lookin_id"]) for a in raised] == [("device_fault", third)]
    started = sorted(d["lookin_id"] for action, d in logged if action == "look_in" and "camera" not in d)
    assert started == [first, second, third]
    [opened] = [d for action, d in logged if action == "look_in" and "camera" in d]
    assert (opened["lookin_id"], opened["camera"]) == (first, "CAM-0")
    [closed] = [d for action, d in logged if action == "look_in_ended" and "camera_seconds" in d]
    # The picture's time counts from the page's request for it, which follows the start by
    # however long a loaded machine takes: so no lower bound but "shown at all".
    assert closed["lookin_id"] == first and 0 < closed["camera_seconds"] <= 11


@pytest.mark.server_settings("camera_settings")
def test_consent_withdrawn_while_the_picture_is_shown_closes_it_at_once_and_the_look_in_is_recorded(
        new_page, world):
    cameras(world, {0: f"rtp:{camera_port()}/vp8"})
    [lookin] = plans_due_now(world, [Kind.CAMERA], max_seconds=120)
    anne = round_of(new_page, world, world.operators[0])
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{lookin}")).to_have_attribute("aria-selected", "true")
    anne.keyboard.press("s")
    anne.wait_for_function("window.respons.round.camera && window.respons.round.camera.frames > 15", timeout=LIVE)

    # The municipality's administrator ends the plan today: the consent is withdrawn.
    admin = new_page()
    log_in(admin, world.url, world.municipality_admin)
    admin.goto(f"{world.url}/admin/registry/recipients/{world.registry.recipient_ids[0]}/supervision")
    admin.fill("form.inline-form input[name=valid_to]", datetime.now(timezone.utc).astimezone(OSLO).date().isoformat())
    admin.click("form.inline-form button[type=submit]")
    expect(admin).to_have_url(re.compile(r"ended="), timeout=LIVE)

    # Anne's picture closes at once, long before its two minutes; she still records what she saw.
    # The page heard "withdrawn" on the live stream (the server closes its side too, so the
    # transport may report closed first: either way the picture is gone).
    anne.wait_for_function("(id) => window.respons.round.withdrawn.has(id)", arg=str(lookin), timeout=LIVE)
    anne.wait_for_function("['withdrawn', 'closed'].includes(window.respons.round.camera.ended)", timeout=LIVE)
    expect(anne.locator("#camera-video")).to_be_hidden()
    expect(anne.locator("#camera-status")).to_have_text("Bildet er lukket.")
    anne.keyboard.press("1")
    anne.keyboard.press("Enter")
    expect(anne.locator("#lookin-outcome")).to_have_text("Sett, alt vel", timeout=LIVE)
