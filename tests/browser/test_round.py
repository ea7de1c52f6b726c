"""The supervision round in real Chromium: an operator works a round of three look-ins by
keyboard while a colleague's list follows live."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from respons.clock import OSLO
from respons.digital_supervision import lookins, store
from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.store.db import write_transaction
from respons.store.tables import alarms, audit_log, supervision_lookins
from tests.browser.harness import log_in

LIVE = 10_000  # ms


def plans_due_now(world, kinds: list[Kind]) -> list[int]:
    """One plan per person, due one, two, three… minutes from now (Oslo wall clock), scheduled
    as the server's sweep would; the look-ins' ids in time order."""
    engine = create_engine(world.database_url)
    now = datetime.now(timezone.utc)
    with write_transaction(engine) as conn:
        for n, kind in enumerate(kinds, start=1):
            at = (now + timedelta(minutes=n)).astimezone(OSLO).time().replace(second=0, microsecond=0)
            plan = Plan(kind=kind, times=(AgreedTime(at),), max_seconds=30, consent_by="Brukeren selv",
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


def test_an_operator_works_a_round_of_three_look_ins_by_keyboard(new_page, world):
    first, second, third = plans_due_now(world, [Kind.PHONE, Kind.SENSOR, Kind.PHONE])
    anne = round_of(new_page, world, world.operators[0])
    bjorn = round_of(new_page, world, world.operators[1])
    for lookin in (first, second, third):
        expect(anne.locator(f"#lookin-{lookin} .lk-clock")).to_have_text("kan startes")

    # N chooses the first look-in due, S starts it; 1 and Enter record "seen, all well".
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{first}")).to_have_attribute("aria-selected", "true")
    expect(anne.locator("#start-button")).to_be_visible()
    anne.keyboard.press("s")
    expect(anne.locator("#outcome-form")).to_be_visible(timeout=LIVE)
    expect(anne.locator("#lookin")).to_contain_text("Ligger i sengen")
    expect(anne.locator("#view-timer")).to_contain_text("Innsynet lukkes om")
    expect(bjorn.locator(f"#lookin-{first} .lk-status")).to_have_text("Startet av Anne", timeout=LIVE)
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

    # The third (the look again is not due yet, so N passes it): seen, needs help → an alarm.
    anne.keyboard.press("n")
    expect(anne.locator(f"#lookin-{third}")).to_have_attribute("aria-selected", "true")
    anne.keyboard.press("s")
    expect(anne.locator("#outcome-form")).to_be_visible(timeout=LIVE)
    anne.keyboard.press("2")
    anne.keyboard.press("Enter")
    expect(anne.locator("#lookin-outcome")).to_have_text("Sett, trenger hjelp", timeout=LIVE)
    expect(anne.locator("#lookin")).to_contain_text("Alarm sendt.")

    engine = create_engine(world.database_url)
    with engine.connect() as conn:
        done = dict(conn.execute(select(supervision_lookins.c.id, supervision_lookins.c.outcome)
                                 .where(supervision_lookins.c.id.in_([first, second, third]))).all())
        raised = conn.execute(select(alarms.c.type, alarms.c.payload)).all()
        opened = conn.execute(select(audit_log.c.details).where(audit_log.c.action == "look_in")).scalars().all()
    engine.dispose()
    assert done == {first: "seen_well", second: "not_seen", third: "seen_needs_help"}
    assert [(a.type, a.payload["supervision"]["lookin_id"]) for a in raised] == [("supervision_due", third)]
    assert sorted(d["lookin_id"] for d in opened) == [first, second, third]
