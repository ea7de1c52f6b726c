"""Voice end to end: real Chromium with a fake microphone, the real gateway (Janus), and
baresip as the alarm unit (docs/voice.md). Audio is checked both ways by its tone: the unit
plays 1000 Hz and records what it hears; the browser's microphone plays 660 Hz."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import httpx
import pytest
from playwright.sync_api import expect
import socket

from sqlalchemy import create_engine, insert, select, update

from respons.store.db import make_engine, write_transaction

from respons.store.tables import alarm_events, alarms, devices
from respons.intake.scaip.messages import Mrq, build_mrq, parse_mrs
from respons.intake.scaip.sip import build_request, parse_response
from tests.browser.field import PHONE, responder, routing_with_backup
from tests.browser.harness import launch, log_in
from tests.chaos.server import free_port
from tests.voice_stack import (OPERATOR_TONE, UNIT_TONE, BusyLine, EchoLine, Gateway, Unit, level_db, require_voice,
                               tone)

LIVE = 10_000
CALL = 20_000  # ms: a call is set up through a gateway and a SIP peer


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    require_voice()
    folder = tmp_path_factory.mktemp("tones")
    return {"operator": tone(folder / "operator.wav", OPERATOR_TONE, seconds=60, channels=1),
            "unit": tone(folder / "unit.wav", UNIT_TONE, seconds=60, channels=2)}


@pytest.fixture(scope="module")
def browser(playwright_instance, tones):
    b = launch(playwright_instance, extra_args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tones['operator']}"])
    yield b
    b.close()


@pytest.fixture
def gateway(tmp_path, tones):
    g = Gateway(tmp_path / "janus").start()
    yield g
    g.stop()


@pytest.fixture
def voice_settings(gateway):
    # The SCAIP port too: devices send their alarm there, and call there afterwards.
    return {**gateway.settings, "voice_ring_seconds": "4", "voice_probe_seconds": "0.5", "scaip_port": str(free_port()),
            "voice_expected_call_seconds": "3"}


@pytest.fixture
def patient_voice_settings(voice_settings):
    """A call handed over rings this long for the colleague: time for a loaded machine to show
    it, click the row and press A (the 4 s of ``voice_settings`` are for the call not taken)."""
    return {**voice_settings, "voice_ring_seconds": "15"}


@pytest.fixture
def trunk(tmp_path, tones):
    line = EchoLine(tmp_path / "trunk")
    yield line
    line.stop()


@pytest.fixture
def trunk_settings(voice_settings, trunk):
    return {**voice_settings, **trunk.settings}


def unit_at(world, uri: str) -> None:
    """The first device (the alarm unit the test's alarms come from) is called back at ``uri``."""
    engine = make_engine(world.database_url)
    with write_transaction(engine) as conn:
        conn.execute(update(devices).where(devices.c.identity == world.registry.device_identities[0])
                     .values(voice_uri=uri))
    engine.dispose()


def call_events(world, alarm_id: str) -> list[tuple[str, str]]:
    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(alarm_events.c.actor, alarm_events.c.data)
                            .where(alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call")
                            .order_by(alarm_events.c.seq)).all()
    engine.dispose()
    return [(data["phase"], actor) for actor, data in rows]


def console(new_page, world, operator: int = 0):
    """An operator's console, logged in and live."""
    page = new_page()
    log_in(page, world.url, world.operators[operator])
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    return page


def answered_alarm(new_page, world):
    page = console(new_page, world)
    alarm_id = world.send_alarm(type="button_press")
    page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
    page.keyboard.press("a")
    expect(page.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
    expect(page.locator("#voice-targets .voice-call").first).to_be_enabled(timeout=LIVE)
    return page, alarm_id


# The strongest frequency of what the browser hears, once the expected tone has been heard in
# two samples in a row (or after 10 s, the last sample): audio that starts late on a loaded
# machine is waited for, not sampled once at a fixed moment.
REMOTE_PEAK = """async (expected) => {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(window.respons.voice.remoteStream).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const sample = async () => {
    analyser.getFloatFrequencyData(bins);
    let peak = 1;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
    const stats = await window.respons.voice.active().pc.getStats();
    let packets = 0;
    stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") packets = s.packetsReceived; });
    return { hz: peak * ctx.sampleRate / analyser.fftSize, db: bins[peak], packets };
  };
  const deadline = performance.now() + 10000;
  let heard = null, inARow = 0;
  await new Promise((r) => setTimeout(r, 500));
  while (true) {
    heard = await sample();
    inARow = heard.packets > 0 && Math.abs(heard.hz - expected) < 15 ? inARow + 1 : 0;
    if (inARow >= 2 || performance.now() > deadline) return heard;
    await new Promise((r) => setTimeout(r, 250));
  }
}"""


@pytest.mark.server_settings("voice_settings")
def test_the_operator_calls_the_alarm_unit_back_and_both_hear_each_other(new_page, world, tmp_path, tones):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        unit_at(world, unit.uri)
        page, alarm_id = answered_alarm(new_page, world)

        # T: "Ring opp" the alarm unit, which answers by itself.
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        expect(page.locator("#voice-state")).to_have_text("I samtale med alarmenheten")
        expect(page.locator("#voice-controls")).to_be_visible()
        expect(page.locator("#voice-targets")).to_be_hidden()
        unit.control.wait_for("CALL_ESTABLISHED")

        # The browser hears the unit's tone over the gateway ...
        heard = page.evaluate(REMOTE_PEAK, UNIT_TONE)
        assert heard["packets"] > 0
        assert abs(heard["hz"] - UNIT_TONE) < 15, heard
        time.sleep(1.5)  # ... and the unit records the browser's for a while.

        # H: hang up. The unit's recording holds the operator's tone, not its own.
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        unit.control.wait_for("CALL_CLOSED")
        recording = unit.heard()
        assert level_db(recording, OPERATOR_TONE) > level_db(recording, UNIT_TONE) + 20

        # The timeline says who called, that it was answered and that it ended, with its length.
        timeline = page.locator("#timeline")
        expect(timeline.locator('[data-phase="ringing"]')).to_contain_text("ringer alarmenheten", timeout=LIVE)
        expect(timeline.locator('[data-phase="answered"]')).to_have_count(1)
        expect(timeline.locator('[data-phase="ended"]')).to_contain_text(re.compile(r"avsluttet etter \d+ s"))
        operator = call_events(world, alarm_id)
        assert [phase for phase, _ in operator] == ["ringing", "answered", "ended"]
        assert operator[0][1] == operator[1][1] and operator[1][1].startswith("user:")
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_a_busy_line_and_a_unit_that_does_not_answer_are_failed_calls_with_a_call_again(new_page, world, tmp_path,
                                                                                         tones):
    busy = BusyLine(tmp_path / "busy")
    unit_at(world, busy.uri)
    page, alarm_id = answered_alarm(new_page, world)
    page.keyboard.press("t")
    expect(page.locator("#voice-state")).to_have_attribute("data-state", "failed", timeout=CALL)
    expect(page.locator("#voice-state")).to_contain_text("Opptatt")
    expect(page.locator("#voice-again")).to_be_visible()
    busy.stop()

    # A unit that rings and rings: given up after the ring time (4 s here), "no answer".
    unit = Unit(tmp_path / "unit", microphone=tones["unit"], answer="manual")
    try:
        unit_at(world, unit.uri)
        page.reload()  # the card again, with the unit's new address
        expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
        page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
        expect(page.locator("#voice-targets .voice-call").first).to_be_enabled(timeout=LIVE)
        page.locator("#card-heading").focus()
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ringing", timeout=CALL)
        unit.control.wait_for("CALL_INCOMING")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "failed", timeout=CALL)
        expect(page.locator("#voice-state")).to_contain_text("Svarer ikke")
    finally:
        unit.stop()
    failures = page.locator('#timeline [data-phase="failed"]')
    expect(failures).to_have_count(2, timeout=LIVE)
    expect(page.locator("#timeline")).to_contain_text("Opptatt")
    expect(page.locator("#timeline")).to_contain_text("Svarer ikke")


@pytest.mark.server_settings("voice_settings")
def test_with_the_gateway_stopped_the_console_says_voice_is_unavailable_and_the_alarm_is_handled(
        new_page, world, gateway):
    gateway.stop()
    deadline = time.monotonic() + 10
    while httpx.get(world.url + "/readyz").json().get("voice") != "gateway_down":
        assert time.monotonic() < deadline, "readiness never reported the gateway down"
        time.sleep(0.2)

    page = new_page()
    log_in(page, world.url, world.operators[0])
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    alarm_id = world.send_alarm(type="button_press")
    page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
    expect(page.locator("#voice-state")).to_have_text("Tale utilgjengelig", timeout=LIVE)
    expect(page.locator("#voice-numbers")).to_contain_text("+4790000001")  # the person's phone, to call by hand

    page.keyboard.press("a")
    expect(page.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
    page.select_option("#outcome", "resolved_at_centre")
    page.click("#resolve-button")
    page.click("#close-button", timeout=LIVE)
    expect(page.locator("#work-state")).to_have_text("Lukket", timeout=LIVE)


def scaip_unit(world, identity: str, voice_uri: str | None) -> None:
    engine = make_engine(world.database_url)
    with write_transaction(engine) as conn:
        conn.execute(insert(devices).values(
            municipality_id=world.registry.municipality_ids[0], recipient_id=world.registry.recipient_ids[0],
            kind="safety_alarm", protocol="scaip", identity=identity, voice_uri=voice_uri,
            created_at=datetime.now(timezone.utc)))
    engine.dispose()


def scaip_alarm(world, port: int, controller: str, *, cha: str = "0") -> tuple[str, object]:
    """A SCAIP assistance alarm over UDP, by default with "cha 0" (the device will call; 1:
    call it back); the alarm's id and the centre's answer (``mrs``)."""
    body = build_mrq(Mrq(ref="r1", cid=controller, dty="0003", stc="0010", cha=cha))
    message = build_request("MESSAGE", "sip:arc@respons.example", [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-voice-1;rport"), ("Max-Forwards", "70"),
        ("From", f"<sip:{controller}@alarm.example>;tag=dev1"), ("To", "<sip:arc@respons.example>"),
        ("Call-ID", "voice-alarm-1@device"), ("CSeq", "1 MESSAGE"), ("Content-Type", "application/scaip+xml")], body)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(message, ("127.0.0.1", port))
        answer = sock.recv(65536)
    assert answer.startswith(b"SIP/2.0 200"), answer[:200]
    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        alarm_id = conn.execute(select(alarms.c.id).where(alarms.c.source == "scaip")).scalar_one()
    engine.dispose()
    return alarm_id, parse_mrs(parse_response(answer).body)


@pytest.mark.server_settings("voice_settings")
def test_the_unit_calls_after_its_scaip_alarm_and_a_rings_through_to_the_operator_who_answers_with_a(
        new_page, world, tmp_path, tones, voice_settings):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        scaip_unit(world, "4790004711", unit.uri)
        page = console(new_page, world)

        # The SCAIP alarm, then the unit's call to the centre (the same port).
        port = int(voice_settings["scaip_port"])
        alarm_id, answer = scaip_alarm(world, port, "4790004711")
        # The gateway answers: the unit is told to make its duplex call to its receiver (SS 91100).
        assert (answer.snu, answer.mre, answer.cre) == (0, "1", "61")
        page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
        rings_before = page.evaluate("window.respons.played.filter(p => p.kind === 'critical').length")
        unit.control.command("dial", f"sip:centre@127.0.0.1:{port}")
        expect(page.locator("#voice-incoming")).to_be_visible(timeout=CALL)
        # The queue row says the unit is calling, and the console rings (nobody holds the alarm).
        expect(page.locator(f"#row-{alarm_id}")).to_have_attribute("data-call", "ringing")
        assert page.evaluate("window.respons.played.filter(p => p.kind === 'critical').length") > rings_before

        # A answers the alarm and the call.
        page.locator("#card-heading").focus()
        page.keyboard.press("a")
        expect(page.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        expect(page.locator(f"#row-{alarm_id}")).not_to_have_attribute("data-call", "ringing", timeout=LIVE)
        unit.control.wait_for("CALL_ESTABLISHED")
        heard = page.evaluate(REMOTE_PEAK, UNIT_TONE)
        assert heard["packets"] > 0
        assert abs(heard["hz"] - UNIT_TONE) < 15, heard
        time.sleep(1.5)
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        unit.control.wait_for("CALL_CLOSED")
        recording = unit.heard()
        assert level_db(recording, OPERATOR_TONE) > level_db(recording, UNIT_TONE) + 20

        phases = call_events(world, alarm_id)
        assert [phase for phase, _ in phases] == ["ringing", "answered", "ended"]
        assert phases[0][1] == "device:4790004711" and phases[1][1].startswith("user:")
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_a_gateway_that_dies_during_a_call_leaves_a_lost_call_and_a_call_again(new_page, world, tmp_path, tones,
                                                                               gateway):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        unit_at(world, unit.uri)
        page, alarm_id = answered_alarm(new_page, world)
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        gateway.process.kill()  # no goodbye from the gateway: as in a crash
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "lost", timeout=CALL)
        expect(page.locator("#voice-again")).to_be_visible()
        expect(page.locator('#timeline [data-phase="lost"]')).to_contain_text("brutt etter", timeout=LIVE)
        assert [phase for phase, _ in call_events(world, alarm_id)] == ["ringing", "answered", "lost"]
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_a_call_that_no_alarm_explains_rings_at_the_centre_as_an_unknown_caller(new_page, world, tmp_path, tones,
                                                                                voice_settings):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])  # registered nowhere
    try:
        page = console(new_page, world)
        unit.control.command("dial", f"sip:centre@127.0.0.1:{voice_settings['scaip_port']}")

        row = page.locator("tr.alarm-row", has_text="Ukjent innringer")
        expect(row).to_be_visible(timeout=CALL)
        row.click()
        expect(page.locator("#unknown-caller")).to_contain_text("sip:alarm@127.0.0.1")
        expect(page.locator("#voice-incoming")).to_contain_text("alarm ringer", timeout=LIVE)
        page.locator("#card-heading").focus()
        page.keyboard.press("a")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        unit.control.wait_for("CALL_ESTABLISHED")
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_a_unit_that_said_it_would_call_and_does_not_is_offered_a_call_back(new_page, world, voice_settings):
    scaip_unit(world, "4790004712", "sip:unit@127.0.0.1:9")
    page = console(new_page, world)
    alarm_id, _ = scaip_alarm(world, int(voice_settings["scaip_port"]), "4790004712")
    page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
    # The card opens at once; the offer comes when the unit's time to call (3 s here) is up.
    expect(page.locator("#voice-targets .voice-call").first).to_be_enabled(timeout=LIVE)
    expect(page.locator("#voice-overdue")).to_be_visible(timeout=LIVE)
    expect(page.locator("#voice-overdue")).to_contain_text("har ikke ringt")


@pytest.mark.server_settings("voice_settings")
def test_a_unit_that_asks_to_be_called_back_says_so_on_the_card_until_the_centre_has_reached_it(
        new_page, world, tmp_path, tones, voice_settings):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        scaip_unit(world, "4790004713", unit.uri)
        page = console(new_page, world)
        alarm_id, answer = scaip_alarm(world, int(voice_settings["scaip_port"]), "4790004713", cha="1")
        # The centre can call it back: keep the auto-answer channel open (5 minutes by default).
        assert (answer.mre, answer.cre) == ("1", "05")
        page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
        # At once (not after a wait, as for a call that does not come): the unit waits for us.
        expect(page.locator("#voice-callback")).to_contain_text("venter på at dere ringer", timeout=LIVE)
        # A, then T at once (the card is replaced by the answer while the keys come): both count.
        page.locator("#card-heading").focus()
        page.keyboard.press("a")
        page.keyboard.press("t")
        expect(page.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        expect(page.locator("#voice-callback")).to_be_hidden()
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        # Reached: the card no longer asks, also when opened again.
        page.reload()
        page.locator(f"#row-{alarm_id}").click(timeout=LIVE)
        expect(page.locator("#voice-targets .voice-call").first).to_be_enabled(timeout=LIVE)
        expect(page.locator("#voice-callback")).to_have_count(0)
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_taking_a_second_call_puts_the_first_on_hold_and_t_takes_it_back(new_page, world, tmp_path, tones):
    first_unit = Unit(tmp_path / "first", microphone=tones["unit"])
    second_unit = Unit(tmp_path / "second", microphone=tones["unit"])
    try:
        engine = make_engine(world.database_url)
        with write_transaction(engine) as conn:
            for identity, unit in zip(world.registry.device_identities[:2], (first_unit, second_unit)):
                conn.execute(update(devices).where(devices.c.identity == identity).values(voice_uri=unit.uri))
        engine.dispose()
        page, first = answered_alarm(new_page, world)
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)

        # A second alarm: Anne answers it and calls its unit; the first call goes on hold.
        second = world.send_alarm(type="door_opened", device=world.registry.device_identities[1])
        page.locator(f"#row-{second}").click(timeout=LIVE)
        expect(page.locator("#answer-button")).to_be_visible(timeout=LIVE)  # the second card, not the first
        page.keyboard.press("a")
        expect(page.locator(f'#alarm-work[data-alarm-id="{second}"] #work-state')).to_have_text("Besvart", timeout=LIVE)
        expect(page.locator(f'#voice[data-alarm-id="{second}"] .voice-call').first).to_be_enabled(timeout=LIVE)
        page.locator("#card-heading").focus()
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        assert len(page.evaluate("window.respons.voice.onHold()")) == 1

        # Back on the first card: it shows its call on hold; T takes it back, the second waits.
        page.locator(f"#row-{first}").click(timeout=LIVE)
        expect(page.locator(f'#voice[data-alarm-id="{first}"] #voice-held')).to_be_visible(timeout=LIVE)
        expect(page.locator("#voice-held")).to_contain_text("Samtale på vent")
        page.locator("#card-heading").focus()
        page.keyboard.press("t")
        expect(page.locator("#voice-controls")).to_be_visible(timeout=LIVE)
        expect(page.locator("#voice-held")).to_be_hidden()
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)

        assert [phase for phase, _ in call_events(world, first)] == ["ringing", "answered", "held", "resumed", "ended"]
        assert [phase for phase, _ in call_events(world, second)] == ["ringing", "answered", "held"]
        expect(page.locator('#timeline [data-phase="held"]')).to_contain_text("satt på vent")
    finally:
        first_unit.stop()
        second_unit.stop()


@pytest.mark.server_settings("patient_voice_settings")
def test_the_operator_hands_the_call_to_a_colleague_who_talks_to_the_unit_and_holds_the_alarm(
        new_page, world, tmp_path, tones):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        unit_at(world, unit.uri)
        # Bjørn is logged in first: Anne's card offers the colleagues logged in.
        colleague = console(new_page, world, 1)
        page, alarm_id = answered_alarm(new_page, world)
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        unit.control.wait_for("CALL_ESTABLISHED")

        # "Sett over" to Bjørn: the unit is asked to call the centre again, which rings at Bjørn.
        expect(page.locator("#voice-transfer")).to_be_visible()
        page.click("#voice-transfer-button")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "transferring", timeout=LIVE)
        row = colleague.locator(f"#row-{alarm_id}")
        expect(row).to_have_attribute("data-call", "ringing", timeout=CALL)
        row.click()
        expect(colleague.locator("#voice-incoming")).to_contain_text("satt over til deg", timeout=LIVE)
        colleague.locator("#card-heading").focus()
        colleague.keyboard.press("a")  # A takes the call handed over

        # Bjørn talks to the unit, both ways; Anne's call has ended, and Bjørn holds the alarm.
        expect(colleague.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=CALL)
        heard = colleague.evaluate(REMOTE_PEAK, UNIT_TONE)
        assert heard["packets"] > 0
        assert abs(heard["hz"] - UNIT_TONE) < 15, heard
        time.sleep(1.5)
        colleague.keyboard.press("h")
        expect(colleague.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        unit.control.wait_for("CALL_CLOSED")
        recording = unit.heard()
        assert level_db(recording, OPERATOR_TONE) > level_db(recording, UNIT_TONE) + 20

        expect(colleague.locator("#work-holder")).to_have_attribute("data-mine", "1", timeout=LIVE)
        timeline = colleague.locator("#timeline")
        expect(timeline.locator('[data-phase="transferred"]')).to_contain_text("satt over til", timeout=LIVE)
        phases = call_events(world, alarm_id)
        anne, bjorn = phases[1][1], phases[3][1]
        assert [p for p, _ in phases] == ["ringing", "answered", "ringing", "answered", "transferred", "ended",
                                          "ended"], phases
        assert anne != bjorn and bjorn.startswith("user:")
    finally:
        unit.stop()


@pytest.mark.server_settings("voice_settings")
def test_a_call_the_colleague_does_not_take_stays_with_the_operator_who_handed_it_over(new_page, world, tmp_path,
                                                                                       tones):
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        unit_at(world, unit.uri)
        colleague = console(new_page, world, 1)
        page, alarm_id = answered_alarm(new_page, world)
        page.keyboard.press("t")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        page.click("#voice-transfer-button")
        expect(colleague.locator(f"#row-{alarm_id}")).to_have_attribute("data-call", "ringing", timeout=CALL)

        # Bjørn does not answer within the ring time (4 s here): Anne is told, and still talks.
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "transfer_failed", timeout=CALL)
        expect(colleague.locator(f"#row-{alarm_id}")).not_to_have_attribute("data-call", "ringing", timeout=LIVE)
        heard = page.evaluate(REMOTE_PEAK, UNIT_TONE)
        assert heard["packets"] > 0 and abs(heard["hz"] - UNIT_TONE) < 15, heard
        expect(page.locator("#timeline [data-phase='transfer_failed']")).to_contain_text("kom ikke over til",
                                                                                        timeout=LIVE)
        page.keyboard.press("h")
        expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        phases = [p for p, _ in call_events(world, alarm_id)]
        # The colleague's call gives up and the transfer fails: two writers, either order.
        assert phases[:3] == ["ringing", "answered", "ringing"] and phases[-1] == "ended", phases
        assert sorted(phases[3:-1]) == ["failed", "transfer_failed"], phases
    finally:
        unit.stop()


CALL_FROM_THE_APP = """async (alarmId) => {
  const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  const response = await fetch("/app/alarms/" + alarmId + "/calls", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ target: "unit", sdp: "v=0 an offer that is never used" }) });
  return response.status;
}"""


@pytest.mark.server_settings("voice_settings")
def test_a_responder_calls_the_alarm_unit_from_the_app_for_an_alarm_in_hand(new_page, world, tmp_path, tones):
    routing_with_backup(world, backup_minutes=4, resend_seconds=30)
    unit = Unit(tmp_path / "unit", microphone=tones["unit"])
    try:
        unit_at(world, unit.uri)
        phone = new_page(**PHONE)
        log_in(phone, world.url, responder(world, "hilde"))
        phone.check("input[name=zone_id]")
        phone.click("#duty-form button[type=submit]")
        expect(phone.locator("#duty-zones")).to_contain_text("Sone 0", timeout=LIVE)
        # The offer goes out once, live: the phone must be listening before the alarm comes.
        expect(phone.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
        alarm_id = world.send_alarm(type="button_press")
        phone.click(f"#offer-{alarm_id} a", timeout=LIVE)
        # On offer: no call button yet; a colleague who is not on duty cannot call for it.
        expect(phone.locator("#voice")).to_have_count(0)
        other = new_page(**PHONE)
        log_in(other, world.url, responder(world, "ola"))
        assert other.evaluate(CALL_FROM_THE_APP, alarm_id) == 404
        # Nor Hilde herself before she has accepted it: on offer is not taken.
        assert phone.evaluate(CALL_FROM_THE_APP, alarm_id) == 404
        phone.click("#accept-button")
        expect(phone.locator("#app-state")).to_have_text("Besvart", timeout=LIVE)
        phone.reload()

        # Hilde calls the unit (no keyboard on a phone: the button), and they hear each other.
        call = phone.locator("#voice-targets .voice-call").first
        expect(call).to_contain_text("alarmenheten", timeout=LIVE)
        expect(call.locator("kbd")).to_have_count(0)
        call.click()
        expect(phone.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
        unit.control.wait_for("CALL_ESTABLISHED")
        heard = phone.evaluate(REMOTE_PEAK, UNIT_TONE)
        assert heard["packets"] > 0 and abs(heard["hz"] - UNIT_TONE) < 15, heard
        time.sleep(1.5)
        phone.click("#voice-hangup")
        expect(phone.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
        unit.control.wait_for("CALL_CLOSED")
        recording = unit.heard()
        assert level_db(recording, OPERATOR_TONE) > level_db(recording, UNIT_TONE) + 20
        phases = call_events(world, alarm_id)
        assert [p for p, _ in phases] == ["ringing", "answered", "ended"], phases
        assert phases[0][1] == phases[1][1] and phases[0][1].startswith("user:")  # Hilde, by her own id
    finally:
        unit.stop()


@pytest.mark.server_settings("trunk_settings")
def test_the_persons_phone_is_called_through_the_trunk_and_nothing_else_is_dialled(new_page, world, trunk):
    # The trunk is the simulated line: it answers any number and sends the audio back.
    page, alarm_id = answered_alarm(new_page, world)
    person = page.locator('#voice-targets .voice-call[data-target="person"]')
    expect(person).to_be_enabled()
    person.click()
    expect(page.locator("#voice-state")).to_have_attribute("data-state", "answered", timeout=CALL)
    heard = page.evaluate(REMOTE_PEAK, OPERATOR_TONE)  # the operator's own tone, back from the line
    assert heard["packets"] > 0 and abs(heard["hz"] - OPERATOR_TONE) < 15, heard
    # The button clicked is hidden during the call: focus did not stay on it, so H hangs up.
    expect(page.locator("#voice-targets")).to_be_hidden()
    page.keyboard.press("h")
    expect(page.locator("#voice-state")).to_have_attribute("data-state", "ended", timeout=LIVE)
    # The gateway dialled the person's number at the trunk, and nothing else.
    assert set(trunk.dialled()) == {f"sip:+4790000001@{trunk.config.trunk}"}
    expect(page.locator('#timeline [data-phase="ringing"]')).to_contain_text("ringer brukeren", timeout=LIVE)
