"""The demo centre on both databases, and the simulator sending to a real server."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from respons.demo.seed import seed_demo, spread_by_population
from respons.demo.simulate import run_simulator, wait_until_healthy
from respons.domain.alarm_types import Category
from respons.domain.identity import parse_national_id
from respons.settings import Settings
from respons.store.tables import (
    agreement_windows,
    agreements,
    alarms,
    contacts,
    devices,
    municipalities,
    recipients,
    staff,
    zones,
)
from respons.web.app import create_app
from tests.factories import DEMO_NOW as NOW
from tests.factories import DEMO_RECIPIENTS as RECIPIENTS
from tests.factories import seed_demo_centre as seed


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def table_counts(engine) -> dict[str, int]:
    tables = (municipalities, agreements, agreement_windows, zones, recipients, contacts, devices, staff)
    return {t.name: count(engine, t) for t in tables}


def rows(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).all()


@pytest.fixture
def seeded(engine):
    summary = seed(engine)
    return engine, summary


def test_the_centre_has_municipalities_with_different_service_models(seeded):
    engine, _ = seeded
    windows = rows(
        engine,
        select(agreements.c.municipality_id, agreement_windows).join(
            agreement_windows, agreement_windows.c.agreement_id == agreements.c.id
        ),
    )
    setups: dict[int, set] = defaultdict(set)
    for w in windows:
        setups[w.municipality_id].add((w.service_model, w.starts, w.ends, tuple(w.categories), w.escalation_minutes))
    assert count(engine, municipalities) >= 4
    assert len(setups) == count(engine, municipalities) == count(engine, agreements)
    assert len({frozenset(s) for s in setups.values()}) >= 3
    assert {w.service_model for w in windows} == {1, 2, 3}
    for municipality_windows in setups.values():
        # The centre handles technical alarms everywhere.
        assert any(model == 1 and Category.TECHNICAL.value in cats for model, _, _, cats, _ in municipality_windows)
    for w in windows:
        assert set(w.categories) <= {c.value for c in Category}
        # Backup needs a time (model 2); full response has none (model 1); routing without
        # backup may name a last resort (model 3).
        if w.service_model == 2:
            assert w.escalation_minutes is not None
        if w.service_model == 1:
            assert w.escalation_minutes is None


def test_there_is_one_host_and_its_operators(seeded):
    engine, _ = seeded
    roles = Counter(r.role for r in rows(engine, select(municipalities.c.role)))
    assert roles["host"] == 1 and roles["cooperating"] >= 3
    host_operators = rows(
        engine,
        select(staff.c.id)
        .join(municipalities, municipalities.c.id == staff.c.municipality_id)
        .where(staff.c.role == "operator", municipalities.c.role == "host"),
    )
    assert len(host_operators) >= 10
    staff_roles = {r.role for r in rows(engine, select(staff.c.role))}
    assert staff_roles == {"operator", "responder", "technician"}


def test_recipients_are_spread_over_municipalities_with_synthetic_national_ids(seeded):
    engine, _ = seeded
    people = rows(engine, select(recipients))
    assert len(people) == RECIPIENTS
    assert len({p.national_id for p in people}) == RECIPIENTS
    for person in people:
        parsed = parse_national_id(person.national_id, today=NOW.date())
        assert parsed.synthetic is True
        assert parsed.birth_date == person.birth_date
        assert 40 <= (NOW.date() - person.birth_date).days // 365 <= 101
    per_municipality = Counter(p.municipality_id for p in people)
    assert len(per_municipality) == count(engine, municipalities)
    assert min(per_municipality.values()) >= RECIPIENTS // len(per_municipality)  # the floor when there are few
    assert all(p.created_at == NOW for p in people)
    from respons.store.tables import service_periods

    periods = rows(engine, select(service_periods))
    assert sorted(p.recipient_id for p in periods) == sorted(p.id for p in people), "one open period each, for invoices"
    assert all(p.ends_on is None and p.starts_on < NOW.date() for p in periods)
    assert any((NOW.date() - p.starts_on).days < 90 for p in periods), "some started lately: part months"


def test_every_recipient_has_a_safety_alarm_and_device_identities_are_unique(seeded):
    engine, _ = seeded
    all_devices = rows(engine, select(devices))
    identities = [d.identity for d in all_devices]
    assert len(set(identities)) == len(identities)
    with_alarm = {d.recipient_id for d in all_devices if d.kind == "safety_alarm" and d.recipient_id is not None}
    assert with_alarm == {r.id for r in rows(engine, select(recipients.c.id))}
    assert any(d.recipient_id is None for d in all_devices)  # spares on the shelf
    assert len({d.kind for d in all_devices}) >= 5
    cameras = [d for d in all_devices if d.kind == "camera"]
    assert len(cameras) == 3 and all(d.video_source.startswith("rtp:") for d in cameras)
    for d in all_devices:
        # A supervision camera sends its picture to the gateway, no heartbeats to Respons.
        if d.recipient_id is not None and d.kind != "camera":
            assert d.last_seen_at == NOW
            assert (d.alert_after - NOW).total_seconds() == d.heartbeat_interval_s + d.heartbeat_grace_s


def test_contacts_have_e164_phones_and_priorities_from_one(seeded):
    engine, _ = seeded
    all_contacts = rows(engine, select(contacts))
    assert all(c.phone.startswith("+") for c in all_contacts)
    priorities: dict[int, list[int]] = defaultdict(list)
    for c in all_contacts:
        priorities[c.recipient_id].append(c.priority)
    assert len(priorities) == RECIPIENTS
    for given_priorities in priorities.values():
        assert sorted(given_priorities) == list(range(1, len(given_priorities) + 1)) and len(given_priorities) <= 3
    assert 0 < sum(c.receives_alarms for c in all_contacts) < len(all_contacts) / 4


def test_seeding_again_without_reset_changes_nothing(seeded):
    engine, first = seeded
    before = table_counts(engine)
    again = seed(engine)
    assert "already there" in again and "--reset" in again
    assert table_counts(engine) == before
    assert "300 recipients" in first


def test_reset_recreates_the_same_people(seeded):
    engine, _ = seeded
    before = table_counts(engine)
    national_ids = {r.national_id for r in rows(engine, select(recipients.c.national_id))}
    with engine.begin() as conn:
        conn.execute(insert(municipalities).values(
            number="9998", name="Ekstra", population=1, role="cooperating", centre_id=1, created_at=NOW
        ))
    seed(engine, reset=True)
    assert table_counts(engine) == before
    assert {r.national_id for r in rows(engine, select(recipients.c.national_id))} == national_ids


def test_another_seed_gives_other_people(seeded):
    engine, _ = seeded
    first = {r.national_id for r in rows(engine, select(recipients.c.national_id))}
    seed(engine, reset=True, seed=2)
    assert {r.national_id for r in rows(engine, select(recipients.c.national_id))} != first


def test_rows_without_explicit_ids_can_be_added_after_seeding(seeded):
    # On PostgreSQL this needs the sequences moved past the seeded ids.
    engine, _ = seeded
    with engine.begin() as conn:
        municipality_id = conn.execute(insert(municipalities).values(
            number="9999", name="Testkommune", population=100, role="cooperating", centre_id=1, created_at=NOW
        )).inserted_primary_key[0]
        conn.execute(insert(zones).values(municipality_id=municipality_id, code="TST-01", name="Test"))
        conn.execute(insert(devices).values(
            municipality_id=municipality_id, kind="safety_alarm", protocol="http", identity="TA-NEW", created_at=NOW
        ))
    assert municipality_id > 5


def test_naive_now_is_refused(engine):
    with pytest.raises(ValueError, match="timezone-aware"):
        seed_demo(engine, now=datetime(2026, 1, 1), recipients=10)


@given(total=st.integers(0, 100_000), populations=st.lists(st.integers(1, 1_000_000), min_size=1, max_size=10))
def test_spread_adds_up_and_respects_the_floor(total, populations):
    parts = spread_by_population(total, populations, minimum=150)
    assert sum(parts) == total
    assert min(parts) >= min(150, total // len(populations))


# --- the simulator against a real server ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(database_url: str, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(Settings(database_url=database_url, journal_window_ms=1), run_timers=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


def test_simulated_alarms_reach_the_server_even_when_it_starts_late(seeded, migrated_url, caplog):
    engine, _ = seeded
    caplog.set_level(logging.WARNING, logger="respons.demo.simulate")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    result: dict = {}
    # Fast enough for dozens of alarms in a few seconds from 300 recipients.
    simulator = threading.Thread(
        target=lambda: result.update(run_simulator(url, speed=60_000, duration=3, seed=3, database_url=migrated_url))
    )
    simulator.start()
    time.sleep(0.8)  # the first alarms meet a refused connection and must be retried
    server, server_thread = start_server(migrated_url, port)
    try:
        assert wait_until_healthy(url, timeout=15)
        simulator.join(timeout=30)
        assert not simulator.is_alive()
    finally:
        server.should_exit = True
        server_thread.join(timeout=10)
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert result["sent"] >= 10
    assert result["accepted"] == result["sent"] and result["rejected"] == 0
    stored = rows(engine, select(alarms.c.idempotency_key, alarms.c.device_id, alarms.c.occurred_at, alarms.c.received_at))
    assert len(stored) == result["accepted"]
    assert len({a.idempotency_key for a in stored}) == len(stored)
    assert all(a.device_id is not None for a in stored)
    assert all(a.occurred_at <= a.received_at for a in stored)  # no reports from the future


def test_the_simulator_explains_what_to_do_when_there_are_no_devices(engine, migrated_url, capsys):
    from rich.console import Console

    result = run_simulator("http://127.0.0.1:9", speed=1, duration=1, seed=1, database_url=migrated_url, console=Console(width=200))
    assert result == {"sent": 0, "accepted": 0, "rejected": 0}
    assert "respons demo" in capsys.readouterr().out


def test_the_demo_history_is_handled_alarms_whose_rows_are_their_timelines(engine):
    from collections import defaultdict

    from respons.domain.lifecycle import fold
    from respons.statistics.rules import Period, key_figures
    from respons.statistics.store import alarm_facts
    from respons.statistics import service as statistics
    from respons.engine.timeline import load_timeline
    from respons.store.alarms import projection_from_row

    summary = seed(engine, history_days=60)
    assert "handled alarms over the last 60 days" in summary
    with engine.connect() as conn:
        rows = conn.execute(select(alarms)).all()
        assert len(rows) > 150 and {r.state for r in rows} == {"closed"}
        assert max(r.received_at for r in rows) < NOW and min(r.received_at for r in rows) >= NOW - timedelta(days=60)
        for row in random.Random(5).sample(rows, 40):
            assert projection_from_row(row) == fold(load_timeline(conn, row.id)), "the row is its timeline's projection"
        ids = {m.number: m.id for m in conn.execute(select(municipalities.c.number, municipalities.c.id))}
        month = statistics.PeriodRequest.containing(ids["4206"], Period.MONTH, (NOW - timedelta(days=20)).date())
        farsund = statistics.figures(conn, month, now=NOW, minutes_per_cleared_alarm=30)
        month_k = statistics.PeriodRequest.containing(ids["4204"], Period.MONTH, (NOW - timedelta(days=20)).date())
        kristiansand = statistics.figures(conn, month_k, now=NOW, minutes_per_cleared_alarm=30)
        everything = key_figures(alarm_facts(conn, municipality_ids=frozenset(ids.values()), start=NOW - timedelta(days=61),
                                             end=NOW), now=NOW)
        per_municipality = defaultdict(int)
        for r in rows:
            per_municipality[r.municipality_id] += 1
    assert set(per_municipality) == set(ids.values()), "every municipality has history"
    # Farsund routes care alarms to home care with the centre as backup; Kristiansand does not.
    assert farsund.routed_direct > 0 and 0 < farsund.escalated < farsund.routed_direct
    assert kristiansand.routed_direct == 0 and kristiansand.received > 0
    assert 0.85 < everything.share_answered_within_target < 1.0
    assert 0.4 < everything.clearance_rate < 0.8
    assert everything.arrival_seconds.count > 0 and everything.accept_seconds.count > 0


def test_the_demo_can_be_invoiced_and_reset_after_an_approved_run(engine):
    """Every demo agreement has a price model, the years have budgets and (example)
    deflators, so last month can be invoiced; and a reset removes approved runs, which
    nothing else may (their guards are put back)."""
    from datetime import date

    from sqlalchemy.exc import DBAPIError

    from respons.economy.pricing import InvoicePeriod
    from respons.economy import invoicing
    from respons.store.tables import invoice_runs

    seed(engine)
    with engine.begin() as conn:
        centre_id = conn.execute(select(municipalities.c.centre_id)).scalars().first()
        outcome = invoicing.run(conn, centre_id, InvoicePeriod(date(2026, 10, 1), 1), actor="test", now=NOW)
        invoicing.approve(conn, outcome.run_id, actor="test", now=NOW)
        lines = invoicing.stored_lines(conn, outcome.run_id)
    names = dict(rows(engine, select(municipalities.c.id, municipalities.c.name)))
    assert {names[line.municipality_id] for line in lines} == set(names.values())
    assert {names[line.municipality_id] for line in lines if line.description == "Kun backup"} == {"Farsund"}
    assert sum(line.amount for line in lines if line.kind == "budget_share") == 3_000_000 / 12 == 250_000
    assert outcome.total > 250_000

    seed(engine, reset=True)
    assert count(engine, invoice_runs) == 0
    with engine.begin() as conn:  # the guards are back
        run_id = invoicing.run(conn, centre_id, InvoicePeriod(date(2026, 10, 1), 1), actor="test", now=NOW).run_id
        invoicing.approve(conn, run_id, actor="test", now=NOW)
    with pytest.raises(DBAPIError, match="approved invoice run cannot be changed"):
        with engine.begin() as conn:
            conn.execute(invoice_runs.delete())
