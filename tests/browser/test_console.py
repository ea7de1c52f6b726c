"""The operator console in real Chromium: the work of answering an alarm, end to end."""

from __future__ import annotations

import re

import pytest

from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from respons.auth import audit
from respons.store.tables import alarm_events, alarms, audit_log
from tests.browser.harness import log_in

LIVE = 10_000  # ms: how long a live update may take to arrive before the test fails


def console_of(new_page, world, account):
    page = new_page()
    log_in(page, world.url, account)
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    return page


def test_an_alarm_is_answered_documented_and_closed_by_keyboard_while_a_second_operator_watches(new_page, world):
    anne = console_of(new_page, world, world.operators[0])
    bjorn = console_of(new_page, world, world.operators[1])
    expect(anne.locator("#queue-empty")).to_be_visible()

    alarm_id = world.send_alarm(type="fall")

    # It appears live in both browsers, without a reload, and rings the critical sound.
    row_a, row_b = anne.locator(f"#row-{alarm_id}"), bjorn.locator(f"#row-{alarm_id}")
    expect(row_a).to_be_visible(timeout=LIVE)
    expect(row_b).to_be_visible(timeout=LIVE)
    expect(row_a).to_contain_text("Fall")
    expect(row_a).to_contain_text("Venter")
    assert anne.evaluate("window.respons.played.map(p => p.kind)") == ["critical"]
    assert anne.evaluate("performance.getEntriesByType('navigation')[0].type") == "navigate"  # no reload happened

    # N: the next alarm is selected and its card opens; A: Anne takes it.
    anne.keyboard.press("n")
    expect(row_a).to_have_attribute("aria-current", "true")
    expect(anne.locator("#answer-button")).to_be_visible()
    anne.keyboard.press("a")
    expect(anne.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
    expect(row_a).to_contain_text("Tatt av deg", timeout=LIVE)

    # Bjørn sees at once who has it, and cannot take it too.
    expect(row_b).to_contain_text("Tatt av Anne", timeout=LIVE)
    row_b.click()
    expect(bjorn.locator("#work-state")).to_have_text("Besvart")
    expect(bjorn.locator("#answer-button")).to_have_count(0)

    # The card: what the operator needs, one glance away.
    card = anne.locator("#card")
    expect(card).to_contain_text("Testveien 1")
    expect(card).to_contain_text("Kari Nordmann")
    expect(card).to_contain_text("+4740000001")
    expect(card).to_contain_text("Nøkkelboks ved inngangsdøra")
    expect(card).to_contain_text("Hørselshemmet")
    expect(card).to_contain_text("Hjemmesykepleie: medisiner")
    expect(anne.locator("#map-link")).to_have_attribute("href", re.compile(r"openstreetmap\.org/\?mlat=58\.14600&mlon=7\.99500"))

    # M: a note, saved with Ctrl+Enter.
    anne.keyboard.press("m")
    expect(anne.locator("#note-text")).to_be_focused()
    anne.keyboard.type("Bruker har falt på badet, er ikke skadet.")
    anne.keyboard.press("Control+Enter")
    expect(anne.locator("#timeline")).to_contain_text("Bruker har falt på badet", timeout=LIVE)

    # A call to the first contact, recorded with its result.
    anne.select_option("#call-whom", label="1. Kari Nordmann (datter)")
    anne.select_option("#call-result", "answered")
    anne.click("#call-form button[type=submit]")
    expect(anne.locator("#timeline")).to_contain_text("Ringte Kari Nordmann (+4740000001) – Svarte", timeout=LIVE)

    # U: the outcome, chosen with the arrow keys and saved with Ctrl+Enter.
    anne.keyboard.press("Escape")
    anne.keyboard.press("u")
    expect(anne.locator("#outcome")).to_be_focused()
    anne.keyboard.press("ArrowDown")  # the first outcome: resolved at the centre
    anne.keyboard.press("Control+Enter")
    expect(anne.locator("#work-state")).to_have_text("Utfall registrert", timeout=LIVE)
    expect(anne.locator("#timeline")).to_contain_text("Løst av responssenteret")
    # Bjørn's open card follows along.
    expect(bjorn.locator("#work-state")).to_have_text("Utfall registrert", timeout=LIVE)

    # L: close. The alarm leaves both queues.
    anne.keyboard.press("Escape")
    anne.keyboard.press("l")
    expect(anne.locator("#work-state")).to_have_text("Lukket", timeout=LIVE)
    expect(row_a).to_have_count(0, timeout=LIVE)
    expect(row_b).to_have_count(0, timeout=LIVE)

    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(alarm_events.c.kind).where(alarm_events.c.alarm_id == alarm_id)
                                              .order_by(alarm_events.c.seq))]
        assert kinds == ["received", "queued", "answered", "note", "action", "resolved", "closed"]
        assert conn.execute(select(alarms.c.outcome).where(alarms.c.id == alarm_id)).scalar_one() == "resolved_at_centre"
        # Opening the card is an audited read: Anne's when she answered, Bjørn's when he looked.
        reads = conn.execute(select(audit_log.c.actor).where(audit_log.c.action == audit.READ_RECIPIENT,
                                                             audit_log.c.alarm_id == alarm_id)).scalars().all()
    engine.dispose()
    assert len(reads) >= 2 and len(set(reads)) == 2


def test_the_answer_clock_warns_at_45_seconds_and_turns_red_at_60(new_page, world):
    page = new_page()
    page.clock.install()
    log_in(page, world.url, world.operators[0])
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    alarm_id = world.send_alarm(type="button_press")
    clock = page.locator(f"#row-{alarm_id} [data-clock]")
    expect(clock).to_be_visible(timeout=LIVE)
    expect(clock).not_to_have_class(re.compile("is-(warning|late)"))
    assert page.evaluate("window.respons.played.map(p => p.kind)") == ["alarm"]  # not the critical sound

    page.clock.fast_forward(46_000)
    expect(clock).to_have_class(re.compile(r"\bis-warning\b"))
    expect(clock).to_have_text(re.compile(r"^0:4[6-9]$"))
    page.clock.fast_forward(15_000)
    expect(clock).to_have_class(re.compile(r"\bis-late\b"))
    expect(clock).to_have_text(re.compile(r"^1:0[1-4]$"))


def test_sound_can_be_tested_and_switched_off(new_page, world):
    page = new_page()
    log_in(page, world.url, world.operators[0])
    page.click("#sound-test")
    page.wait_for_function("window.respons.played.length === 2")
    assert page.evaluate("window.respons.played.map(p => p.kind)") == ["alarm", "critical"]
    toggle = page.locator("#sound-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_have_text("Lyd av")


def test_log_in_refusal_is_in_norwegian_and_english_is_selectable(new_page, world):
    page = new_page()
    page.goto(world.url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next=/console"))
    page.fill("#username", world.operators[0].username)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Feil brukernavn eller passord.")

    page.select_option("#lang-select", "en")
    expect(page.locator("h1")).to_have_text("Log in")
    log_in(page, world.url, world.operators[0])
    expect(page.locator("#queue-heading")).to_have_text("Alarm queue")
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.mark.sse_max_seconds(2)
def test_missed_changes_arrive_after_the_live_stream_comes_back(new_page, world):
    """The stream ends (server limit, proxy, network trouble); the console shows that it is
    down, reconnects, and refetches the queue, so an alarm sent meanwhile is not missed."""
    page = console_of(new_page, world, world.operators[0])
    page.route("**/api/v1/queue/events", lambda route: route.abort())
    # The server ends every stream after RESPONS_SSE_MAX_SECONDS; the reconnect now fails.
    expect(page.locator("#live-status")).to_have_attribute("data-live", "down", timeout=LIVE)
    expect(page.locator("#live-status")).to_have_text("Frakoblet – prøver igjen")
    alarm_id = world.send_alarm(type="door_opened")
    page.wait_for_timeout(500)
    expect(page.locator(f"#row-{alarm_id}")).to_have_count(0)

    page.unroute("**/api/v1/queue/events")
    expect(page.locator(f"#row-{alarm_id}")).to_be_visible(timeout=LIVE)
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up")
