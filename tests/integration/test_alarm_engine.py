"""Alarm services on a real database: lifecycle, timeline as truth, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from respons.domain import lifecycle
from respons.domain.lifecycle import EventKind, IllegalTransition, NotHolder, Outcome, State
from respons.engine import alarms as service
from respons.engine import receiving
from respons.engine import timeline as alarm_timeline
from respons.store import alarms as alarm_rows
from respons.store import queries
from respons.store.journal import Journal
from respons.store.tables import alarm_events, alarms, timers
from tests.factories import T0, new_alarm

DEADLINE = timedelta(seconds=60)


def receive(journal, registry, at=T0, **kw):
    return journal.run_sync(lambda c: receiving.receive(c, new_alarm(registry, **kw), now=at, answer_deadline=DEADLINE))


def stored_projection(engine, alarm_id):
    with engine.connect() as conn:
        row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
        return alarm_rows.projection_from_row(row), alarm_timeline.load_timeline(conn, alarm_id)


def test_received_alarm_is_queued_with_timeline_and_answer_deadline(engine, journal, registry):
    r = receive(journal, registry)
    assert not r.duplicate and r.state is State.QUEUED
    projection, timeline = stored_projection(engine, r.alarm_id)
    assert [e.kind for e in timeline] == [EventKind.RECEIVED, EventKind.QUEUED]
    assert projection == lifecycle.fold(timeline)
    with engine.connect() as conn:
        timer = conn.execute(select(timers).where(timers.c.alarm_id == r.alarm_id)).one()
    assert timer.state == "pending" and timer.due_at == T0 + DEADLINE


def test_full_operator_flow_keeps_projection_equal_to_timeline(engine, journal, registry):
    r = receive(journal, registry)
    op = "user:1"
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor=op, visible_to=None, now=T0 + timedelta(seconds=25)))
    journal.run_sync(lambda c: service.add_note(c, r.alarm_id, actor=op, visible_to=None, text="Snakket med bruker", now=T0 + timedelta(seconds=40)))
    journal.run_sync(
        lambda c: service.resolve(c, r.alarm_id, actor=op, visible_to=None, outcome=Outcome.NEXT_OF_KIN, note="Datter kommer", now=T0 + timedelta(seconds=90))
    )
    final = journal.run_sync(lambda c: service.close(c, r.alarm_id, actor=op, visible_to=None, now=T0 + timedelta(seconds=120)))
    projection, timeline = stored_projection(engine, r.alarm_id)
    assert final.state is State.CLOSED
    assert projection == lifecycle.fold(timeline) == final
    assert [e.actor for e in timeline[2:]] == [op] * 4
    assert projection.answer_seconds(now=T0 + timedelta(hours=1)) == 25
    with engine.connect() as conn:
        timer_state = conn.execute(select(timers.c.state).where(timers.c.alarm_id == r.alarm_id)).scalar_one()
    assert timer_state == "cancelled", "answering must cancel the answer deadline"


def test_illegal_transition_changes_nothing(engine, journal, registry):
    r = receive(journal, registry)
    with pytest.raises(IllegalTransition, match="answer the alarm before"):
        journal.run_sync(
            lambda c: service.resolve(c, r.alarm_id, actor="user:1", visible_to=None, outcome=Outcome.FALSE_ALARM, note=None, now=T0)
        )
    projection, timeline = stored_projection(engine, r.alarm_id)
    assert projection.state is State.QUEUED and len(timeline) == 2


def test_second_operator_cannot_answer_an_answered_alarm(journal, registry):
    r = receive(journal, registry)
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0))
    with pytest.raises(IllegalTransition, match="is answered"):
        journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0))


def test_an_alarm_outside_the_callers_municipalities_is_not_found(journal, registry):
    r = receive(journal, registry)  # an alarm of the first municipality
    other = frozenset({registry.municipality_ids[1]})
    with pytest.raises(service.AlarmNotFound):
        journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:2", visible_to=other, now=T0))
    own = frozenset({registry.municipality_ids[0]})
    assert journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:2", visible_to=own, now=T0)).state is State.ANSWERED


def test_unknown_alarm_is_reported(journal, registry):
    with pytest.raises(service.AlarmNotFound):
        journal.run_sync(lambda c: service.answer(c, "no-such-alarm", actor="user:1", visible_to=None, now=T0))


def test_retransmit_with_same_key_returns_same_alarm(engine, journal, registry):
    first = receive(journal, registry, key="k-1")
    again = receive(journal, registry, at=T0 + timedelta(seconds=5), key="k-1")
    assert again.alarm_id == first.alarm_id and again.duplicate
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alarms)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(alarm_events)).scalar_one() == 2


def test_same_key_in_one_batch_makes_one_alarm(engine, registry):
    journal = Journal(engine, window_ms=100).start()
    try:
        futures = [
            journal.submit(lambda c: receiving.receive(c, new_alarm(registry, key="same"), now=T0, answer_deadline=DEADLINE))
            for _ in range(5)
        ]
        results = [f.result(10) for f in futures]
    finally:
        journal.close()
    assert len({r.alarm_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1


def test_reused_key_with_different_content_is_a_conflict(journal, registry):
    receive(journal, registry, key="k-2", fingerprint="a")
    with pytest.raises(receiving.IdempotencyConflict, match="already used for a different alarm"):
        receive(journal, registry, key="k-2", fingerprint="b")


def test_queue_orders_waiting_first_then_priority_then_age(engine, journal, registry):
    oldest_button = receive(journal, registry, at=T0, type_code="button_press")
    battery = receive(journal, registry, at=T0 + timedelta(seconds=1), type_code="battery_low")
    fall = receive(journal, registry, at=T0 + timedelta(seconds=2), type_code="fall")
    newer_button = receive(journal, registry, at=T0 + timedelta(seconds=3), type_code="button_press")
    answered_fall = receive(journal, registry, at=T0 - timedelta(seconds=30), type_code="fall")
    journal.run_sync(lambda c: service.answer(c, answered_fall.alarm_id, actor="user:1", visible_to=None, now=T0 + timedelta(seconds=4)))
    with engine.connect() as conn:
        items = queries.queue(conn, now=T0 + timedelta(seconds=10), in_municipalities=frozenset(registry.municipality_ids))
    assert [i["id"] for i in items] == [
        fall.alarm_id,
        oldest_button.alarm_id,
        newer_button.alarm_id,
        battery.alarm_id,
        answered_fall.alarm_id,
    ]
    assert items[0]["answer_seconds"] == 8.0  # still waiting: the clock runs to now
    assert items[-1]["answer_seconds"] == 34.0  # answered: the clock stopped
    assert items[0]["recipient"] and items[0]["municipality"] == "Testkommune 0"


def test_alarm_changes_are_announced_for_the_live_views(engine, registry):
    published = []
    journal = Journal(engine, window_ms=1, on_commit=published.extend).start()
    try:
        r = receive(journal, registry)
        journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor="user:1", visible_to=None, now=T0))
    finally:
        journal.close()
    assert [(c["alarm_id"], c["event"], c["state"], c["seq"]) for c in published] == [
        (r.alarm_id, "queued", "queued", 2),
        (r.alarm_id, "answered", "answered", 3),
    ]
    assert {c["municipality_id"] for c in published} == {registry.municipality_ids[0]}


# --- take-over and notes after close (issue 14) -----------------------------------------------


def test_take_over_is_on_the_timeline_and_only_the_holder_may_finish(engine, journal, registry):
    r = receive(journal, registry)
    first, second = "user:1", "user:2"
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor=first, visible_to=None, now=T0 + timedelta(seconds=20)))
    with pytest.raises(NotHolder) as refused:
        journal.run_sync(lambda c: service.resolve(c, r.alarm_id, actor=second, visible_to=None,
                                                   outcome=Outcome.FALSE_ALARM, note=None, now=T0 + timedelta(seconds=30)))
    assert refused.value.holder == first
    # A colleague's note is still welcome (handover), and does not take the alarm.
    journal.run_sync(lambda c: service.add_note(c, r.alarm_id, actor=second, visible_to=None, text="Ringer datter",
                                                now=T0 + timedelta(seconds=35)))
    taken = journal.run_sync(lambda c: service.take_over(c, r.alarm_id, actor=second, visible_to=None,
                                                         now=T0 + timedelta(seconds=40)))
    assert taken.answered_by == second
    with pytest.raises(NotHolder):
        journal.run_sync(lambda c: service.resolve(c, r.alarm_id, actor=first, visible_to=None,
                                                   outcome=Outcome.FALSE_ALARM, note=None, now=T0 + timedelta(seconds=45)))
    journal.run_sync(lambda c: service.resolve(c, r.alarm_id, actor=second, visible_to=None,
                                               outcome=Outcome.FALSE_ALARM, note=None, now=T0 + timedelta(seconds=50)))
    projection, timeline = stored_projection(engine, r.alarm_id)
    assert projection == lifecycle.fold(timeline)
    assert [(e.kind, e.actor) for e in timeline[2:]] == [
        (EventKind.ANSWERED, first), (EventKind.NOTE, second), (EventKind.TAKEN_OVER, second), (EventKind.RESOLVED, second)]
    assert timeline[4].data == {"from": first}
    assert projection.answer_seconds(now=T0 + timedelta(hours=1)) == 20  # the first answer counts


def test_a_note_saved_after_a_colleague_closed_the_alarm_is_kept_as_an_addendum(engine, journal, registry):
    r = receive(journal, registry)
    op = "user:1"
    journal.run_sync(lambda c: service.answer(c, r.alarm_id, actor=op, visible_to=None, now=T0 + timedelta(seconds=20)))
    journal.run_sync(lambda c: service.resolve(c, r.alarm_id, actor=op, visible_to=None,
                                               outcome=Outcome.RESOLVED_AT_CENTRE, note=None, now=T0 + timedelta(seconds=30)))
    journal.run_sync(lambda c: service.close(c, r.alarm_id, actor=op, visible_to=None, now=T0 + timedelta(seconds=40)))
    after = journal.run_sync(lambda c: service.add_note(c, r.alarm_id, actor="user:2", visible_to=None,
                                                        text="Bruker ringte tilbake, alt vel", now=T0 + timedelta(seconds=90)))
    assert after.state is State.CLOSED
    projection, timeline = stored_projection(engine, r.alarm_id)
    assert projection == lifecycle.fold(timeline)
    assert timeline[-1].kind is EventKind.NOTE
    assert timeline[-1].data == {"text": "Bruker ringte tilbake, alt vel", "addendum": True}
    assert projection.closed_at == T0 + timedelta(seconds=40)
