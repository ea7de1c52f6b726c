"""Invoice runs on SQLite and PostgreSQL: a January computed by hand from the register and the
timeline, its drill-down, approval, immutability (engine and database), a late registration
shown as a difference, and the refusals."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from respons.economy.pricing import InvoicePeriod
from respons.economy import invoicing
from respons.registry import service as registry_service
from respons.economy import store as economy
from respons.store.tables import (
    agreements,
    invoice_lines,
    invoice_runs,
    price_models,
    recipients,
    service_periods,
)
from tests.factories import ECONOMY_NOW as NOW
from tests.factories import synthetic_national_id

# The fixture lives in tests/integration/conftest.py. It is imported here only because
# test_cli_invoice.py and test_cli_operations.py still import it from this module; drop this
# line once they no longer do.

UTC = timezone.utc
JANUARY = InvoicePeriod(date(2026, 1, 1), 1)
D = Decimal


def lines_of(conn, run_id):
    return [(line.municipality_id, line.description, line.quantity, line.amount, line.due_on)
            for line in invoicing.stored_lines(conn, run_id)]


def test_a_january_is_invoiced_as_counted_by_hand_and_each_line_drills_down(engine, economy_world):
    centre_id, a, b, people = economy_world
    with engine.begin() as conn:
        outcome = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW)
    assert outcome.run_id is not None and outcome.differences == []
    with engine.connect() as conn:
        lines = lines_of(conn, outcome.run_id)
        # A's prices are from 2025 and indexed by 4.3 %: 106.97 → 111.57, 12.50 → 13.04, 3.00 → 3.13.
        # Users: 31 + 21 + 20 = 72 days of a 31-day month = 2.32 months × 111.57 = 259.13.
        # Events: two GPS alarms (one at 00:30 on 1 January) and one supervision alarm (the one at
        # 00:30 on 1 February is February's) = 3 × 13.04. Budget 1,200,000 a year: January's
        # 100,000 is 41,000 in equal halves and 59,000 by population 30,000 : 10,000.
        assert lines == [
            (a, "Full responstjeneste", D("2.32"), D("259.13"), None),
            (a, "GPS og digitalt tilsyn", D(3), D("39.12"), None),
            (a, "Andel av budsjett", D(0), D("64750.00"), None),
            (a, "Samarbeidsavgift per innbygger", D(30_000), D("93900.00"), date(2026, 1, 15)),
            (b, "Kun backup", D("3.00"), D("98.22"), None),
            (b, "Andel av budsjett", D(0), D("35250.00"), None),
        ]
        assert outcome.total == sum(line[3] for line in lines) == D("194296.47")
        users, events = invoicing.stored_lines(conn, outcome.run_id)[:2]
        counted = invoicing.counted_recipients(conn, users.id)
        assert counted == {people[a][0]: 31, people[a][1]: 21, people[a][2]: 20}
        behind = economy.events_counted(conn, a, events.basis["alarm_types"], JANUARY)
        assert [e.id for e in behind] == ["e-0", "e-1", "e-2"]

    with engine.begin() as conn:  # computing the draft again replaces it
        again = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW)
    with engine.connect() as conn:
        assert conn.execute(select(invoice_runs.c.id)).scalars().all() == [again.run_id]


def test_a_month_is_invoiced_once_whatever_periods_the_runs_are_made_for(engine, economy_world):
    """An approved January and a draft for January to March: approving the draft would invoice
    January twice (its users, events, the fee due on the 15th and a twelfth of each budget)."""
    centre_id, a, b, people = economy_world
    quarter = InvoicePeriod(date(2026, 1, 1), 3)
    with engine.begin() as conn:
        draft = invoicing.run(conn, centre_id, quarter, actor="user:1", now=NOW).run_id
        january = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW).run_id
        invoicing.approve(conn, january, actor="user:2", now=NOW)
    with engine.begin() as conn:
        with pytest.raises(invoicing.InvoiceRefused, match="overlapper") as refused:
            invoicing.approve(conn, draft, actor="user:2", now=NOW)
        assert (refused.value.key, refused.value.params["run"]) == ("overlaps_approved", january)
        with pytest.raises(invoicing.InvoiceRefused, match="overlapper"):
            invoicing.run(conn, centre_id, quarter, actor="user:1", now=NOW)
        # February to March does not overlap: it is computed and can be approved.
        spring = invoicing.run(conn, centre_id, InvoicePeriod(date(2026, 2, 1), 2), actor="user:1", now=NOW).run_id
        invoicing.approve(conn, spring, actor="user:2", now=NOW)
    with engine.connect() as conn:
        approved = conn.execute(select(invoice_runs.c.id).where(invoice_runs.c.state == "approved")
                                .order_by(invoice_runs.c.id)).scalars().all()
    assert approved == [january, spring]


def test_an_approved_run_cannot_be_altered_and_a_late_registration_shows_as_a_difference(engine, economy_world):
    centre_id, a, b, people = economy_world
    with engine.begin() as conn:
        run_id = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW).run_id
        invoicing.approve(conn, run_id, actor="user:2", now=NOW)
    with engine.begin() as conn:
        with pytest.raises(invoicing.InvoiceRefused, match="allerede godkjent"):
            invoicing.approve(conn, run_id, actor="user:2", now=NOW)
        with pytest.raises(invoicing.InvoiceRefused, match="kan ikke slettes"):
            invoicing.discard(conn, run_id, actor="user:2", now=NOW)

    line_id = min(line.id for line in invoicing.stored_lines(engine.connect(), run_id))
    for statement in (
        update(invoice_lines).where(invoice_lines.c.run_id == run_id).values(amount_ore=0),
        delete(invoice_lines).where(invoice_lines.c.id == line_id),
        update(invoice_runs).where(invoice_runs.c.id == run_id).values(total_ore=0),
        update(invoice_runs).where(invoice_runs.c.id == run_id).values(state="draft"),
        delete(invoice_runs).where(invoice_runs.c.id == run_id),
        update(invoice_lines).where(invoice_lines.c.id == line_id).values(recipients=[[people[b][0], 5]]),
        insert(invoice_lines).values(run_id=run_id, municipality_id=a, price_model_id=1, component=9, kind="per_event",
                                     description="snuck in", quantity="1", unit="x", amount_ore=100, basis={}),
    ):
        with pytest.raises(DBAPIError, match="approved invoice run cannot be changed"):
            with engine.begin() as conn:
                conn.execute(statement)
    with engine.connect() as conn:
        assert sum(line[3] for line in lines_of(conn, run_id)) == D("194296.47"), "nothing changed"

    # A recipient registered late, from 20 January: computing January again stores nothing
    # and shows the difference: (72 + 12) / 31 months × 111.57 = 302.32.
    with engine.begin() as conn:
        late = conn.execute(insert(recipients).values(
            municipality_id=a, national_id="01813512345", given_name="Sen", family_name="Registrert",
            birth_date=date(1935, 1, 1), address="Testveien 9", postal_code="4600", city="Testby", created_at=NOW,
            updated_at=NOW)).inserted_primary_key[0]
        conn.execute(insert(service_periods).values(recipient_id=late, starts_on=date(2026, 1, 20)))
        outcome = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW)
    assert (outcome.run_id, outcome.approved_run_id) == (None, run_id)
    assert outcome.differences == [invoicing.Difference(a, "Full responstjeneste", D("259.13"), D("302.32"))]
    with engine.connect() as conn:
        assert conn.execute(select(invoice_runs.c.id)).scalars().all() == [run_id]


def test_runs_that_cannot_be_made_are_refused_with_the_reason(engine, economy_world):
    centre_id, a, b, _ = economy_world
    with engine.begin() as conn:
        with pytest.raises(invoicing.InvoiceRefused, match="ett kalenderår"):
            invoicing.run(conn, centre_id, InvoicePeriod(date(2026, 12, 1), 2), actor="user:1", now=NOW)
        with pytest.raises(invoicing.InvoiceRefused, match="«svartjeneste» for 2027"):
            invoicing.run(conn, centre_id, InvoicePeriod(date(2027, 1, 1), 1), actor="user:1", now=NOW)
        # B's model starts 1 January 2026: a run over December and January would span it.
        conn.execute(insert(price_models).values(
            agreement_id=conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == a)).scalar_one(),
            valid_from=date(2026, 3, 1), base_year=2026, created_at=NOW, created_by="test",
            components=[{"kind": "per_user_month", "price": "100.00"}]))
        conn.execute(update(price_models).where(price_models.c.valid_from == date(2025, 1, 1))
                     .values(valid_to=date(2026, 3, 1)))
        with pytest.raises(invoicing.InvoiceRefused, match="endres i perioden"):
            invoicing.run(conn, centre_id, InvoicePeriod(date(2026, 1, 1), 6), actor="user:1", now=NOW)


def test_a_day_of_service_counts_once_however_it_was_registered(engine, economy_world):
    _, a, _, people = economy_world
    with engine.begin() as conn:  # overlapping and touching periods for the one-from-the-11th
        conn.execute(insert(service_periods), [
            dict(recipient_id=people[a][1], starts_on=date(2026, 1, 5), ends_on=date(2026, 1, 15)),
            dict(recipient_id=people[a][1], starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 5)),
        ])
        days = economy.active_days(conn, [a], JANUARY, [None])[(a, None)]
    assert days.by_recipient[people[a][1]] == 31, "1–4, 5–14 and 11–31 January: every day once"
    assert days.by_month == {date(2026, 1, 1): 31 + 31 + 20}


def test_the_register_keeps_service_periods_when_recipients_come_and_go(engine, economy_world):
    _, a, _, _ = economy_world
    import random

    values = dict(national_id=synthetic_national_id(date(1940, 5, 5), random.Random(3)), given_name="Ny", family_name="Bruker", address="Testveien 10",
                  postal_code="4600", city="Testby")
    with engine.begin() as conn:
        rid = registry_service.create_recipient(conn, values, municipality_id=a, allowed=None, now=NOW,
                                                today=date(2026, 2, 3), actor="user:1")
        registry_service.update_recipient(conn, rid, {"active": False}, allowed=None, now=NOW + timedelta(days=7),
                                          today=date(2026, 2, 10), actor="user:1")
        registry_service.update_recipient(conn, rid, {"active": True}, allowed=None, now=NOW + timedelta(days=20),
                                          today=date(2026, 2, 23), actor="user:1")
        periods = conn.execute(select(service_periods.c.starts_on, service_periods.c.ends_on)
                               .where(service_periods.c.recipient_id == rid).order_by(service_periods.c.starts_on)).all()
    assert [tuple(p) for p in periods] == [(date(2026, 2, 3), date(2026, 2, 10)), (date(2026, 2, 23), None)]


def test_completed_supervisions_are_counted_per_municipality_and_month(engine, economy_world):
    from datetime import datetime

    from respons.digital_supervision import lookins, store as supervision
    from respons.digital_supervision.plans import AgreedTime, Kind, Plan
    from respons.digital_supervision.rounds import Window

    centre_id, a, b, people = economy_world
    with engine.begin() as conn:
        model = conn.execute(select(price_models.c.id, price_models.c.components)
                             .join(agreements, agreements.c.id == price_models.c.agreement_id)
                             .where(agreements.c.municipality_id == b)).one()
        conn.execute(update(price_models).where(price_models.c.id == model.id).values(
            components=[*model.components, {"kind": "per_supervision", "price": "45.00", "label": "Kameratilsyn"}]))
        plan_id = supervision.add(conn, municipality_id=b, recipient_id=people[b][0], now=NOW, actor="test", plan=Plan(
            kind=Kind.CAMERA, times=(AgreedTime(datetime(2026, 1, 1, 23).time()),), max_seconds=30,
            consent_by="Brukeren selv", consent_on=date(2025, 12, 1), valid_from=date(2025, 12, 1)))
        plan = {"id": plan_id, "municipality_id": b, "recipient_id": people[b][0]}
        done_at = [datetime(2026, 1, 1, 0, 10, tzinfo=UTC), datetime(2026, 1, 20, 22, 0, tzinfo=UTC),
                   datetime(2026, 1, 31, 22, 59, tzinfo=UTC),  # 23:59 on 31 January in Oslo: January's
                   datetime(2026, 1, 31, 23, 0, tzinfo=UTC)]  # 00:00 on 1 February in Oslo: February's
        rows = [lookins.new_lookin(plan, lookins.Reason.PLANNED, Kind.CAMERA, at, at, Window()) |
                {"state": "done", "outcome": "seen_well", "started_by": "user:7", "started_at": at,
                 "finished_by": "user:7", "finished_at": at} for at in done_at]
        rows[1]["outcome"] = "camera_unavailable"  # no picture: not a supervision (the call instead is)
        rows.append(lookins.new_lookin(plan, lookins.Reason.FALLBACK, Kind.PHONE, done_at[1], done_at[1], Window()) | {
            "state": "done", "outcome": "seen_well", "started_by": "user:7", "started_at": done_at[1],
            "finished_by": "user:7", "finished_at": done_at[1] + timedelta(minutes=1)})
        supervision.add_lookins(conn, rows)
        supervision.add_lookins(conn, [lookins.new_lookin(  # not done: not billed
            plan, lookins.Reason.RECHECK, Kind.CAMERA, done_at[1] + timedelta(minutes=15), NOW, Window())
            | {"state": "missed"}])
        outcome = invoicing.run(conn, centre_id, JANUARY, actor="user:1", now=NOW)
    with engine.connect() as conn:
        [line] = [line for line in invoicing.stored_lines(conn, outcome.run_id) if line.kind == "per_supervision"]
        assert (line.municipality_id, line.description, line.quantity) == (b, "Kameratilsyn", D(3))
        _, behind = invoicing.line_contents(conn, line, JANUARY)
        assert [(e.finished_at, e.method) for e in behind] == [
            (done_at[0], "camera"), (done_at[1] + timedelta(minutes=1), "phone"), (done_at[2], "camera")]
