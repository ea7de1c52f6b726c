"""Deliveries that keep failing raise one technical alarm at the centre, cleared when they
succeed again — against the real FHIR server, down and then up, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from respons.domain.alarm_types import SYSTEM_SOURCE
from respons.domain.lifecycle import Outcome
from respons.engine import alarms as alarm_actions
from respons.epj import watch
from respons.statistics import store as statistics_store
from respons.store.tables import alarm_events, alarms, epj_delivery_faults, epj_documents
from tests.factories import T0, FakeClock, drain_deliveries as drain
from tests.integration.epj.conftest import ALARM_AFTER


def system_alarms(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(alarms).where(alarms.c.source == SYSTEM_SOURCE)).all()


def test_an_epj_down_past_the_deadline_raises_one_alarm_at_the_centre_cleared_when_it_is_up(
        engine, journal, world, epj_down, make_worker, registry):
    clock = FakeClock(T0 + timedelta(minutes=5))
    world(2)
    w = make_worker(clock)
    drain(w)
    with engine.connect() as conn:
        fault = conn.execute(select(epj_delivery_faults)).one()
    assert (fault.failing_since, fault.alert_after, fault.failures) == (clock(), clock() + ALARM_AFTER, 2)
    assert "ConnectError" in fault.last_error

    clock.advance(seconds=ALARM_AFTER.total_seconds() - 1)
    drain(w)
    assert system_alarms(engine) == [], "not before the deadline"

    clock.advance(seconds=1)
    drain(w)
    clock.advance(minutes=30)  # still down: more failures, more sweeps, the same one alarm
    drain(w)
    [alarm] = system_alarms(engine)
    assert (alarm.type, alarm.category, alarm.municipality_id, alarm.recipient_id) == (
        "epj_delivery_failing", "system", registry.municipality_ids[0], None)
    assert alarm.state == "queued" and alarm.route["reason"] == "system", "always the centre's, whatever the agreement"
    assert alarm.occurred_at == T0 + timedelta(minutes=5), "it began with the first failure"
    assert alarm.payload["epj_delivery"]["failures"] >= 3 and "ConnectError" in alarm.payload["epj_delivery"]["last_error"]

    epj_down.start()
    clock.advance(hours=1)
    drain(w)
    with engine.connect() as conn:
        assert {r.state for r in conn.execute(select(epj_documents.c.state))} == {"delivered"}
        fault = conn.execute(select(epj_delivery_faults)).one()
        cleared = conn.execute(select(alarm_events.c.kind, alarm_events.c.actor, alarm_events.c.data)
                               .where(alarm_events.c.alarm_id == alarm.id).order_by(alarm_events.c.seq.desc())).first()
        state = conn.execute(select(alarms.c.state, alarms.c.outcome).where(alarms.c.id == alarm.id)).one()
    assert (fault.failing_since, fault.alert_after, fault.alarm_id) == (None, None, None)
    assert (cleared.kind, cleared.actor, cleared.data["reason"]) == ("cleared", watch.ACTOR, watch.RESUMED)
    assert tuple(state) == ("closed", "cleared")

    # The system alarm concerns no patient: no document of its own.
    with engine.connect() as conn:
        assert conn.execute(select(epj_documents).where(epj_documents.c.alarm_id == alarm.id)).first() is None


def test_a_municipality_without_an_endpoint_is_not_failing(engine, journal, world, make_worker, registry):
    clock = FakeClock(T0 + timedelta(minutes=5))
    world(1)
    with engine.begin() as conn:
        conn.execute(update(epj_documents).values(municipality_id=registry.municipality_ids[1]))
    w = make_worker(clock)
    for _ in range(4):
        drain(w)
        clock.advance(hours=1)
    assert system_alarms(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(epj_delivery_faults)).first() is None


def test_a_failure_after_the_alarm_was_closed_by_the_centre_raises_no_second_one_until_deliveries_resume(
        engine, journal, registry):
    municipality = registry.municipality_ids[0]
    now = T0

    def sweep():
        return journal.run_sync(lambda c: watch.sweep(c, now, answer_deadline=timedelta(seconds=60)))

    journal.run_sync(lambda c: watch.failed(c, municipality, now=now, error="HTTP 503", alarm_after=ALARM_AFTER))
    now += ALARM_AFTER
    assert sweep() == 1
    [first] = system_alarms(engine)
    # The operator on duty has called the host administrator and closes the alarm; the EPJ
    # is still down.
    journal.run_sync(lambda c: alarm_actions.answer(c, first.id, actor="user:1", visible_to=None, now=now))
    journal.run_sync(lambda c: alarm_actions.resolve(c, first.id, actor="user:1", visible_to=None,
                                                     outcome=Outcome.RESOLVED_AT_CENTRE, note=None, now=now))
    journal.run_sync(lambda c: alarm_actions.close(c, first.id, actor="user:1", visible_to=None, now=now))
    journal.run_sync(lambda c: watch.failed(c, municipality, now=now, error="HTTP 503", alarm_after=ALARM_AFTER))
    now += ALARM_AFTER * 3
    assert sweep() == 0 and len(system_alarms(engine)) == 1
    # Deliveries resume: the closed alarm stays as the centre closed it (nothing to clear).
    journal.run_sync(lambda c: watch.delivered(c, municipality, now=now))
    with engine.connect() as conn:
        assert conn.execute(select(alarms.c.outcome).where(alarms.c.id == first.id)).scalar_one() == "resolved_at_centre"
    journal.run_sync(lambda c: watch.failed(c, municipality, now=now, error="HTTP 500", alarm_after=ALARM_AFTER))
    now += ALARM_AFTER
    assert sweep() == 1, "a new outage is a new alarm"
    assert len(system_alarms(engine)) == 2


def test_system_alarms_are_not_in_the_municipality_figures(engine, journal, registry):
    municipality = registry.municipality_ids[0]
    journal.run_sync(lambda c: watch.failed(c, municipality, now=T0, error="HTTP 503", alarm_after=ALARM_AFTER))
    journal.run_sync(lambda c: watch.sweep(c, T0 + ALARM_AFTER, answer_deadline=timedelta(seconds=60)))
    assert len(system_alarms(engine)) == 1
    with engine.connect() as conn:
        load, _ = statistics_store.centre_load_by_hour(conn, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))
    assert sum(load.values()) == 0
