"""Timers in the database: claim, fence, lease, and the answer deadline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from respons.domain.lifecycle import EventKind, State
from respons.engine import alarms as service
from respons.engine import receiving
from respons.engine import timeline as alarm_timeline
from respons.store import alarms as alarm_rows
from respons.engine import timers
from respons.runtime import TIMER_HANDLERS
from respons.engine.timers import TimerWorker
from respons.store.db import make_engine
from respons.store.journal import Journal
from respons.store.tables import alarm_events, alarms
from respons.store.tables import timers as timer_table
from tests.factories import T0, FakeClock, new_alarm, seed_registry

LEASE = timedelta(seconds=30)
DEADLINE = timedelta(seconds=60)


def receive(journal, registry, at=T0):
    return journal.run_sync(lambda c: receiving.receive(c, new_alarm(registry), now=at, answer_deadline=DEADLINE))


def claim(journal, now, node="n1"):
    return journal.run_sync(lambda c: timers.claim_due(c, now=now, node=node, lease=LEASE))


def fire(journal, c, now):
    return journal.run_sync(lambda conn: timers.fire(conn, c, now=now, handlers=TIMER_HANDLERS))


def timeline_kinds(engine, alarm_id):
    with engine.connect() as conn:
        return [e.kind for e in alarm_timeline.load_timeline(conn, alarm_id)]


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
        event = alarm_timeline.load_timeline(conn, r.alarm_id)[-1]
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
    r = before.run_sync(lambda c: receiving.receive(c, new_alarm(registry), now=T0, answer_deadline=DEADLINE))
    before.close()

    clock = FakeClock(T0 + timedelta(minutes=10))  # the server was down for ten minutes
    after = Journal(engine, window_ms=1).start()
    worker = TimerWorker(after, clock, handlers=TIMER_HANDLERS, node="restarted", poll_seconds=0.05, lease_seconds=30)
    try:
        fired = asyncio.run(worker.run_once())
    finally:
        after.close()
    assert fired == 1
    with engine.connect() as conn:
        events = alarm_timeline.load_timeline(conn, r.alarm_id)
        timer_state = conn.execute(select(timer_table.c.state).where(timer_table.c.alarm_id == r.alarm_id)).scalar_one()
    assert events[-1].kind is EventKind.ANSWER_TIME_EXCEEDED and events[-1].at == clock.now
    assert events[-1].data["waited_seconds"] == 600.0
    assert timer_state == "fired"


def test_deadline_for_an_answered_alarm_does_nothing(engine, journal, registry):
    r = receive(journal, registry)
    journal.run_sync(lambda c: alarm_timeline.on_answer_deadline(c, r.alarm_id, T0 + DEADLINE))  # still queued: marks it
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0 + DEADLINE))
    journal.run_sync(lambda c: alarm_timeline.on_answer_deadline(c, r.alarm_id, T0 + DEADLINE * 2))
    kinds = timeline_kinds(engine, r.alarm_id)
    assert kinds.count(EventKind.ANSWER_TIME_EXCEEDED) == 1 and kinds[-1] is EventKind.ANSWERED
    with engine.connect() as conn:
        projection = alarm_rows.projection_from_row(
            conn.execute(select(alarms).where(alarms.c.id == r.alarm_id)).one()
        )
    assert projection.state is State.ANSWERED and projection.answer_time_exceeded


# --- a backlog, fired in batches (issue 15, item 7) -----------------------------------------


def receive_many(journal, registry, count, at=T0, deadline=DEADLINE):
    """``count`` alarms in one unit, each with its answer-deadline timer."""
    def work(conn):
        return [receiving.receive(conn, new_alarm(registry), now=at, answer_deadline=deadline).alarm_id
                for _ in range(count)]
    return journal.run_sync(work, timeout=120)


def exceeded_counts(engine, alarm_ids):
    with engine.connect() as conn:
        rows = conn.execute(
            select(alarm_events.c.alarm_id)
            .where(alarm_events.c.kind == EventKind.ANSWER_TIME_EXCEEDED.value)
        ).scalars().all()
    counts = dict.fromkeys(alarm_ids, 0)
    for alarm_id in rows:
        counts[alarm_id] += 1
    return counts


def timer_states(engine, kind=alarm_timeline.ANSWER_DEADLINE):
    with engine.connect() as conn:
        return conn.execute(select(timer_table.c.state).where(timer_table.c.kind == kind)).scalars().all()


def test_a_backlog_of_500_overdue_timers_fires_each_once_in_one_round_sharing_commits(engine, journal, registry):
    alarm_ids = receive_many(journal, registry, 500)
    clock = FakeClock(T0 + timedelta(minutes=10))  # back after ten minutes down: all 500 overdue
    worker = TimerWorker(journal, clock, handlers=TIMER_HANDLERS, node="restarted", poll_seconds=60, lease_seconds=30, batch=100)
    batches_before = journal.stats.batches

    fired = asyncio.run(worker.run_once())

    # One round drains the backlog: no waiting for four more polls of 100.
    assert fired == 500 and worker.fired == 500
    assert set(exceeded_counts(engine, alarm_ids).values()) == {1}
    assert set(timer_states(engine)) == {"fired"}
    # Five claims and the firings grouped behind them; one commit per timer would be >= 505.
    assert journal.stats.batches - batches_before <= 50, journal.stats
    assert asyncio.run(worker.run_once()) == 0, "a fired timer must not fire again"
    assert set(exceeded_counts(engine, alarm_ids).values()) == {1}


def test_a_claim_takes_at_most_its_limit_and_the_next_claim_the_rest(journal, registry):
    """On PostgreSQL, ``IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED)`` once claimed every due
    timer: the planner rescanned the subquery per row. One node must leave the rest to others."""
    receive_many(journal, registry, 250)
    now = T0 + timedelta(minutes=10)
    claim_of = lambda node: journal.run_sync(lambda c: timers.claim_due(c, now=now, node=node, lease=LEASE, limit=100))
    first, second, third = claim_of("a"), claim_of("b"), claim_of("c")
    assert (len(first), len(second), len(third)) == (100, 100, 50)
    assert len({c.timer_id for c in first + second + third}) == 250


POISON = "test_poisoned"
MARK = "test_mark"


def test_one_failing_handler_does_not_stop_its_batch_and_is_retried_after_its_lease(engine, journal, registry, monkeypatch):
    alarm_ids = receive_many(journal, registry, 8, deadline=timedelta(days=1))
    poisoned = {alarm_ids[3]}

    def handler(conn, alarm_id, now):
        # Writes first, then fails for a poisoned alarm: its write must be rolled back too.
        timers.schedule(conn, MARK, alarm_id=alarm_id, due_at=now + timedelta(days=30), now=now)
        if alarm_id in poisoned:
            raise RuntimeError("handler failed")

    journal.run_sync(lambda c: [timers.schedule(c, POISON, alarm_id=a, due_at=T0, now=T0) for a in alarm_ids])
    clock = FakeClock(T0 + timedelta(seconds=1))
    worker = TimerWorker(journal, clock, handlers={**TIMER_HANDLERS, POISON: handler}, node="n1", poll_seconds=60,
                         lease_seconds=30)

    assert asyncio.run(worker.run_once()) == 7
    with engine.connect() as conn:
        marked = conn.execute(select(timer_table.c.alarm_id).where(timer_table.c.kind == MARK)).scalars().all()
        failed = conn.execute(
            select(timer_table.c.state).where(timer_table.c.kind == POISON, timer_table.c.alarm_id == alarm_ids[3])
        ).scalar_one()
    assert sorted(marked) == sorted(set(alarm_ids) - poisoned), "each other timer fired exactly once"
    assert failed == "claimed"

    poisoned.clear()  # the fault is gone
    clock.advance(seconds=10)
    assert asyncio.run(worker.run_once()) == 0, "the failed claim is held until its lease runs out"
    clock.advance(seconds=30)
    assert asyncio.run(worker.run_once()) == 1
    with engine.connect() as conn:
        marked = conn.execute(select(timer_table.c.alarm_id).where(timer_table.c.kind == MARK)).scalars().all()
    assert sorted(marked) == sorted(alarm_ids)
    assert set(timer_states(engine, POISON)) == {"fired"}


CANCELLER = "test_canceller"


def test_a_timer_cancelled_by_an_earlier_firing_in_the_same_batch_does_not_fire(engine, journal, registry, monkeypatch):
    """Both are claimed together; the first one's handler answers the alarm (cancelling its
    deadline) in the batch's transaction, so the deadline's fence check sees it."""
    alarm_id = receive_many(journal, registry, 1)[0]

    def answer(conn, alarm_id, now):
        service.answer(conn, alarm_id, actor="user:1", visible_to=None, now=now)

    # Due before the answer deadline, so it comes first in the claim and in the batch.
    journal.run_sync(lambda c: timers.schedule(c, CANCELLER, alarm_id=alarm_id, due_at=T0, now=T0))
    clock = FakeClock(T0 + DEADLINE + timedelta(seconds=5))
    worker = TimerWorker(journal, clock, handlers={**TIMER_HANDLERS, CANCELLER: answer}, node="n1", poll_seconds=60,
                         lease_seconds=30)

    assert asyncio.run(worker.run_once()) == 1
    assert timeline_kinds(engine, alarm_id) == [EventKind.RECEIVED, EventKind.QUEUED, EventKind.ANSWERED]
    assert timer_states(engine) == ["cancelled"]


@pytest.mark.postgres
def test_two_nodes_drain_a_backlog_of_500_together_each_timer_once(postgres_url):
    engines = [make_engine(postgres_url) for _ in range(2)]
    journals = [Journal(e, window_ms=1).start() for e in engines]
    try:
        registry = seed_registry(engines[0])
        alarm_ids = receive_many(journals[0], registry, 500)
        clock = FakeClock(T0 + timedelta(minutes=10))
        workers = [TimerWorker(j, clock, handlers=TIMER_HANDLERS, node=f"node-{n}", poll_seconds=60, lease_seconds=30, batch=50)
                   for n, j in enumerate(journals)]

        async def both():
            return await asyncio.gather(*(w.run_once() for w in workers))

        fired = asyncio.run(both())
        assert sum(fired) == 500
        assert all(f > 0 for f in fired), f"both nodes took part: {fired}"
        assert set(exceeded_counts(engines[0], alarm_ids).values()) == {1}
        with engines[0].connect() as conn:
            by_node = dict(conn.execute(
                select(timer_table.c.claimed_by, func.count()).where(timer_table.c.state == "fired")
                .group_by(timer_table.c.claimed_by)
            ).all())
        assert by_node == {"node-0": fired[0], "node-1": fired[1]}
    finally:
        for j in journals:
            j.close()
        for e in engines:
            e.dispose()
