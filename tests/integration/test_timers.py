"""Timers in the database: claim, fence, lease, and the answer deadline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from respons.domain.lifecycle import EventKind, State
from respons.engine import alarms as service
from respons.engine import timers
from respons.engine.timers import TimerWorker
from respons.store.journal import Journal
from respons.store.tables import timers as timer_table
from tests.factories import T0, FakeClock
from tests.integration.test_alarm_engine import new_alarm

LEASE = timedelta(seconds=30)
DEADLINE = timedelta(seconds=60)


def receive(journal, registry, at=T0):
    return journal.run_sync(lambda c: service.receive(c, new_alarm(registry), now=at, answer_deadline=DEADLINE))


def claim(journal, now, node="n1"):
    return journal.run_sync(lambda c: timers.claim_due(c, now=now, node=node, lease=LEASE))


def fire(journal, c, now):
    return journal.run_sync(lambda conn: timers.fire(conn, c, now=now))


def timeline_kinds(engine, alarm_id):
    with engine.connect() as conn:
        return [e.kind for e in service.load_timeline(conn, alarm_id)]


def test_timer_is_not_claimed_before_it_is_due(journal, registry):
    receive(journal, registry)
    assert claim(journal, T0 + DEADLINE - timedelta(milliseconds=1)) == []


def test_due_answer_deadline_fires_once_and_marks_the_alarm(engine, journal, registry):
    r = receive(journal, registry)
    claims = claim(journal, T0 + DEADLINE)
    assert [c.alarm_id for c in claims] == [r.alarm_id]
    assert fire(journal, claims[0], T0 + DEADLINE)
    assert not fire(journal, claims[0], T0 + DEADLINE), "a fired timer must not fire again"
    assert claim(journal, T0 + DEADLINE + LEASE * 3) == []
    assert timeline_kinds(engine, r.alarm_id) == [EventKind.RECEIVED, EventKind.QUEUED, EventKind.ANSWER_TIME_EXCEEDED]
    with engine.connect() as conn:
        event = service.load_timeline(conn, r.alarm_id)[-1]
    assert event.actor == "system:timer" and event.data["waited_seconds"] == 60.0


def test_cancel_after_claim_voids_the_claim_through_the_fence(engine, journal, registry):
    r = receive(journal, registry)
    claims = claim(journal, T0 + DEADLINE)
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0 + DEADLINE))
    assert not fire(journal, claims[0], T0 + DEADLINE + timedelta(seconds=1))
    assert EventKind.ANSWER_TIME_EXCEEDED not in timeline_kinds(engine, r.alarm_id)


def test_a_dead_nodes_claim_is_taken_over_after_its_lease_and_the_old_claim_is_stale(engine, journal, registry):
    r = receive(journal, registry)
    dead_nodes_claim = claim(journal, T0 + DEADLINE, node="dead")[0]
    assert claim(journal, T0 + DEADLINE + LEASE / 2, node="alive") == [], "lease still held"
    takeover = claim(journal, T0 + DEADLINE + LEASE + timedelta(seconds=1), node="alive")[0]
    assert takeover.fence > dead_nodes_claim.fence
    assert not fire(journal, dead_nodes_claim, T0 + DEADLINE + LEASE), "stale fence must do nothing"
    assert fire(journal, takeover, T0 + DEADLINE + LEASE)
    assert timeline_kinds(engine, r.alarm_id).count(EventKind.ANSWER_TIME_EXCEEDED) == 1


def test_two_claimers_never_get_the_same_timer(journal, registry):
    for i in range(6):
        receive(journal, registry, at=T0 + timedelta(seconds=i))
    first = claim(journal, T0 + timedelta(minutes=5), node="a")
    second = claim(journal, T0 + timedelta(minutes=5), node="b")
    assert len(first) == 6 and second == []


def test_a_timer_due_while_the_server_was_down_fires_after_restart(engine, registry):
    """Receive with one 'process', stop it, start another long after the deadline."""
    before = Journal(engine, window_ms=1).start()
    r = before.run_sync(lambda c: service.receive(c, new_alarm(registry), now=T0, answer_deadline=DEADLINE))
    before.close()

    clock = FakeClock(T0 + timedelta(minutes=10))  # the server was down for ten minutes
    after = Journal(engine, window_ms=1).start()
    worker = TimerWorker(after, clock, node="restarted", poll_seconds=0.05, lease_seconds=30)
    try:
        fired = asyncio.run(worker.run_once())
    finally:
        after.close()
    assert fired == 1
    with engine.connect() as conn:
        events = service.load_timeline(conn, r.alarm_id)
        timer_state = conn.execute(select(timer_table.c.state).where(timer_table.c.alarm_id == r.alarm_id)).scalar_one()
    assert events[-1].kind is EventKind.ANSWER_TIME_EXCEEDED and events[-1].at == clock.now
    assert events[-1].data["waited_seconds"] == 600.0
    assert timer_state == "fired"


def test_deadline_for_an_answered_alarm_does_nothing(engine, journal, registry):
    r = receive(journal, registry)
    journal.run_sync(lambda c: service.on_answer_deadline(c, r.alarm_id, T0 + DEADLINE))  # still queued: marks it
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0 + DEADLINE))
    journal.run_sync(lambda c: service.on_answer_deadline(c, r.alarm_id, T0 + DEADLINE * 2))
    kinds = timeline_kinds(engine, r.alarm_id)
    assert kinds.count(EventKind.ANSWER_TIME_EXCEEDED) == 1 and kinds[-1] is EventKind.ANSWERED
    with engine.connect() as conn:
        projection = service.projection_from_row(
            conn.execute(select(service.alarms).where(service.alarms.c.id == r.alarm_id)).one()
        )
    assert projection.state is State.ANSWERED and projection.answer_time_exceeded
