"""The responder app on a phone and the operator console side by side, in real Chromium."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect
from sqlalchemy import create_engine, select, update

from respons.engine.routing import ESCALATE
from respons.store.tables import alarms, timers
from tests.browser.field import PHONE, responder, routing_with_backup
from tests.browser.harness import log_in

LIVE = 10_000


def test_an_alarm_offered_to_the_zone_is_accepted_on_the_phone_and_followed_on_the_console(new_page, world):
    routing_with_backup(world, backup_minutes=4, resend_seconds=30)
    phone = new_page(**PHONE)
    log_in(phone, world.url, responder(world, "hilde"))
    expect(phone).to_have_url(re.compile(r"/app$"))
    phone.check("input[name=zone_id]")
    phone.click("#duty-form button[type=submit]")
    expect(phone.locator("#duty-zones")).to_contain_text("Sone 0", timeout=LIVE)
    expect(phone.locator("#offers")).to_have_attribute("data-count", "0")

    console = new_page()
    log_in(console, world.url, world.operators[0])
    expect(console.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)

    alarm_id = world.send_alarm(type="button_press")
    # The phone: the offer arrives live, with an alert that keeps sounding until seen.
    expect(phone.locator(f"#offer-{alarm_id}")).to_be_visible(timeout=LIVE)
    expect(phone.locator("#app-alert")).to_be_visible()
    phone.wait_for_function("window.responsApp.alerts >= 2", timeout=LIVE)  # it repeats
    phone.click("#app-seen")
    expect(phone.locator("#app-alert")).to_be_hidden()
    # The console: visible as being with home care, not waiting for the centre.
    row = console.locator(f"#row-{alarm_id}")
    expect(row).to_contain_text("Hos hjemmetjenesten", timeout=LIVE)
    row.click()
    expect(console.locator("#work-state")).to_have_text("Hos hjemmetjenesten")

    phone.click(f"#offer-{alarm_id} a")
    expect(phone.locator("#app-work")).to_contain_text("Tilbudt")
    expect(phone.locator("body")).to_contain_text("Testveien 1")
    phone.click("#accept-button")
    expect(phone.locator("#app-state")).to_have_text("Besvart", timeout=LIVE)
    expect(row).to_contain_text("Tatt av Hilde", timeout=LIVE)

    phone.click("#status-en_route")
    expect(phone.locator("#app-timeline")).to_contain_text("På vei", timeout=LIVE)
    expect(console.locator("#timeline")).to_contain_text("På vei", timeout=LIVE)
    phone.click("#status-arrived")
    expect(console.locator("#timeline")).to_contain_text("Fremme hos bruker", timeout=LIVE)
    phone.fill("#done-note", "Hjalp bruker opp fra gulvet. Ingen skader.")
    phone.click("#status-done")
    expect(phone).to_have_url(re.compile(r"/app$"), timeout=LIVE)
    expect(row).to_have_count(0, timeout=LIVE)


def test_an_alarm_nobody_accepts_escalates_to_the_console_after_the_backup_time(new_page, world):
    routing_with_backup(world, backup_minutes=1, resend_seconds=20)
    phone = new_page(**PHONE)
    log_in(phone, world.url, responder(world, "per"))
    phone.check("input[name=zone_id]")
    phone.click("#duty-form button[type=submit]")
    expect(phone.locator("#duty-zones")).to_be_visible(timeout=LIVE)

    console = new_page()
    log_in(console, world.url, world.operators[0])
    expect(console.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    alarm_id = world.send_alarm(type="fall")
    expect(phone.locator(f"#offer-{alarm_id}")).to_be_visible(timeout=LIVE)
    row = console.locator(f"#row-{alarm_id}")
    expect(row).to_contain_text("Hos hjemmetjenesten", timeout=LIVE)

    # Nobody accepts: the escalation is due one minute (the backup time) after the alarm came
    # in. The minute itself is not waited out here (the timing is tested on a clock in
    # tests/integration/test_routing_scenarios.py): the timer is made due now, and the real
    # server's timer worker fires it as it would have a minute later.
    engine = create_engine(world.database_url)
    with engine.begin() as conn:
        received_at = conn.execute(select(alarms.c.received_at).where(alarms.c.id == alarm_id)).scalar_one()
        escalation = conn.execute(select(timers.c.id, timers.c.due_at).where(
            timers.c.alarm_id == alarm_id, timers.c.kind == ESCALATE, timers.c.state == "pending")).one()
        assert escalation.due_at.replace(tzinfo=None) == (received_at + timedelta(minutes=1)).replace(tzinfo=None)
        assert row.get_attribute("data-waiting") != "1"
        conn.execute(update(timers).where(timers.c.id == escalation.id).values(due_at=datetime.now(timezone.utc)))
    engine.dispose()
    # Then it is the centre's, waiting, with its history.
    expect(row).to_contain_text("Venter", timeout=LIVE)
    expect(row).to_have_attribute("data-waiting", "1")
    row.click()
    timeline = console.locator("#timeline")
    expect(timeline).to_contain_text("Tilbudt")
    expect(timeline).to_contain_text("Eskalert til responssenteret")
    expect(phone.locator(f"#offer-{alarm_id}")).to_have_count(0, timeout=LIVE)


def test_the_app_says_it_is_not_connected_when_heartbeats_stop_and_alerts_for_offers_missed(new_page, world):
    routing_with_backup(world, backup_minutes=4, resend_seconds=30)
    phone = new_page(**PHONE)
    phone.clock.install()  # the watchdog's silence passes at once with fast_forward
    log_in(phone, world.url, responder(world, "hilde"))
    phone.check("input[name=zone_id]")
    phone.click("#duty-form button[type=submit]")
    status, banner = phone.locator("#live-status"), phone.locator("#live-banner")
    expect(status).to_have_attribute("data-live", "up", timeout=LIVE)
    expect(status).to_have_text("Direkte")

    phone.route("**/app/events", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/event-stream"}, body=": nothing\n\n"))
    phone.evaluate("window.responsApp.live.source && window.responsApp.live.source.close()")
    phone.clock.fast_forward(8_000)
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Ikke tilkoblet – skjermen er ikke oppdatert")
    expect(status).to_have_attribute("data-live", "down")
    assert phone.evaluate("window.responsApp.warnings") == 1

    alarm_id = world.send_alarm(type="button_press")
    phone.clock.fast_forward(8_000)
    expect(phone.locator(f"#offer-{alarm_id}")).to_have_count(0)

    phone.unroute("**/app/events")
    phone.clock.fast_forward(10_000)
    expect(status).to_have_attribute("data-live", "up", timeout=LIVE)
    expect(banner).to_be_hidden()
    # The offer that came meanwhile arrives, and the alert starts for it.
    expect(phone.locator(f"#offer-{alarm_id}")).to_be_visible(timeout=LIVE)
    expect(phone.locator("#app-alert")).to_be_visible()
