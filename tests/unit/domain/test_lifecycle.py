from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respons.domain.lifecycle import (
    AlarmProjection,
    Event,
    EventKind,
    IllegalTransition,
    NotHolder,
    Outcome,
    State,
    apply,
    check_holder,
    fold,
    note,
    start,
)

T0 = datetime(2026, 11, 23, 2, 14, tzinfo=timezone.utc)


def ev(kind: EventKind, seconds: float = 0, actor: str = "staff:1", **data) -> Event:
    return Event(kind, T0 + timedelta(seconds=seconds), actor, data)


def happy_path() -> list[Event]:
    return [
        ev(EventKind.RECEIVED, 0, "device:TA-1"),
        ev(EventKind.QUEUED, 0, "system:routing"),
        ev(EventKind.ANSWERED, 31),
        ev(EventKind.NOTE, 40, text="Bruker har falt, ikke skadet"),
        ev(EventKind.RESOLVED, 95, outcome="home_care_dispatched"),
        ev(EventKind.CLOSED, 400),
    ]


def test_happy_path_folds_to_closed_with_times_and_outcome():
    p = fold(happy_path())
    assert p.state is State.CLOSED
    assert p.seq == 6
    assert p.answered_at == T0 + timedelta(seconds=31)
    assert p.answered_by == "staff:1"
    assert p.outcome is Outcome.HOME_CARE_DISPATCHED
    assert p.closed_at == T0 + timedelta(seconds=400)
    assert p.answer_seconds(now=T0 + timedelta(hours=5)) == 31


def test_answer_clock_runs_while_waiting():
    p = fold(happy_path()[:2])
    assert p.state is State.QUEUED
    assert p.answer_seconds(now=T0 + timedelta(seconds=75)) == 75


def test_timeline_must_start_with_received():
    with pytest.raises(IllegalTransition, match="must start"):
        start(ev(EventKind.QUEUED))


def test_cannot_receive_twice():
    with pytest.raises(IllegalTransition, match="already been received"):
        apply(start(ev(EventKind.RECEIVED)), ev(EventKind.RECEIVED))


@pytest.mark.parametrize(
    "prefix_length, kind, message",
    [
        (2, EventKind.RESOLVED, "answer the alarm before recording an outcome"),
        (2, EventKind.CLOSED, "record an outcome"),
        (3, EventKind.ANSWERED, "only a waiting or offered alarm can be answered"),
        (3, EventKind.ANSWER_TIME_EXCEEDED, "only applies while the alarm waits"),
        (6, EventKind.NOTE, "a note after close is an addendum"),
        (1, EventKind.ANSWERED, "only a waiting or offered alarm"),
    ],
)
def test_illegal_transitions_are_refused_with_a_clear_reason(prefix_length, kind, message):
    projection = fold(happy_path()[:prefix_length])
    data = {"outcome": "false_alarm"} if kind is EventKind.RESOLVED else {"text": "x"}
    with pytest.raises(IllegalTransition, match=message) as info:
        apply(projection, ev(kind, 500, **data))
    assert info.value.state is projection.state


def test_unknown_outcome_is_refused():
    answered = fold(happy_path()[:3])
    with pytest.raises(IllegalTransition, match="Unknown outcome 'went_home'"):
        apply(answered, ev(EventKind.RESOLVED, outcome="went_home"))


def test_empty_note_is_refused():
    with pytest.raises(IllegalTransition, match="needs some text"):
        apply(fold(happy_path()[:3]), ev(EventKind.NOTE, text="   "))


def test_answer_time_exceeded_marks_the_alarm_but_keeps_it_waiting():
    p = apply(fold(happy_path()[:2]), ev(EventKind.ANSWER_TIME_EXCEEDED, 60, "system:timer"))
    assert p.state is State.QUEUED
    assert p.answer_time_exceeded
    assert apply(p, ev(EventKind.ANSWERED, 70)).answer_time_exceeded  # the mark stays for statistics


@given(st.lists(st.sampled_from(list(EventKind)), max_size=12))
def test_any_event_sequence_either_folds_or_is_refused_and_seq_counts_events(kinds):
    """Property: the state machine never ends in an undefined state, and a refused event changes nothing."""
    projection: AlarmProjection = start(ev(EventKind.RECEIVED))
    applied = 1
    for i, kind in enumerate(kinds):
        data = {"outcome": "resolved_at_centre", "text": "note"}
        try:
            after = apply(projection, ev(kind, i + 1, **data))
        except IllegalTransition:
            continue
        applied += 1
        assert after.seq == applied
        assert after.state in State
        # After close only the record grows: an addendum note, or a call, a look-in or a message's
        # state (a receipt, a late reply) that comes after it.
        if projection.state is State.CLOSED and not (kind in (EventKind.NOTE, EventKind.CALL, EventKind.LOOK_IN,
                                                              EventKind.MESSAGE)
                                                     and after.state is State.CLOSED):
            pytest.fail("a closed alarm accepted an event other than an addendum note, a call, a look-in or a message")
        projection = after


# --- operator actions -------------------------------------------------------------------


def answered() -> AlarmProjection:
    return fold(happy_path()[:3])


def test_a_recorded_call_with_its_result_is_a_timeline_event_that_keeps_the_state():
    after = apply(answered(), ev(EventKind.ACTION, 50, action="call_recipient", result="no_answer"))
    assert after.state is State.ANSWERED
    assert after.seq == answered().seq + 1


def test_the_first_arrival_of_home_care_is_kept_and_a_second_does_not_move_it():
    p = apply(answered(), ev(EventKind.ACTION, 60, action="en_route"))
    assert p.arrived_at is None
    p = apply(p, ev(EventKind.ACTION, 600, action="arrived"))
    p = apply(p, ev(EventKind.ACTION, 900, action="arrived"))
    assert p.arrived_at == T0 + timedelta(seconds=600)


@pytest.mark.parametrize(
    "data, complaint",
    [
        ({"action": "call_recipient"}, "needs its result"),
        ({"action": "call_contact", "result": "answered"}, "which contact"),
        ({"action": "teleport"}, "Unknown action"),
        ({"action": "call_recipient", "result": "maybe"}, "needs its result"),
    ],
)
def test_an_incomplete_or_unknown_action_is_refused_with_what_is_missing(data, complaint):
    with pytest.raises(IllegalTransition, match=complaint):
        apply(answered(), ev(EventKind.ACTION, 50, **data))


def test_acting_requires_the_alarm_to_be_answered_and_not_closed():
    queued = fold(happy_path()[:2])
    with pytest.raises(IllegalTransition, match="answer the alarm before acting"):
        apply(queued, ev(EventKind.ACTION, 5, action="dispatch_home_care"))
    closed = fold(happy_path())
    with pytest.raises(IllegalTransition):
        apply(closed, ev(EventKind.ACTION, 500, action="notify_technician"))
    resolved = fold(happy_path()[:5])
    assert apply(resolved, ev(EventKind.ACTION, 120, action="call_contact", contact_id=3, result="answered")).state is State.RESOLVED


# --- notes after close, take-over, who may finish ------------------------------------------


def test_a_note_on_a_closed_alarm_is_an_addendum_that_keeps_it_closed():
    closed = fold(happy_path())
    event = note(closed, T0 + timedelta(seconds=500), "user:1", "Skrevet etter lukking")
    assert event.data == {"text": "Skrevet etter lukking", "addendum": True}
    after = apply(closed, event)
    assert after.state is State.CLOSED
    assert after.seq == closed.seq + 1
    assert after.closed_at == closed.closed_at


def test_a_note_on_an_open_alarm_is_not_an_addendum():
    assert "addendum" not in note(answered(), T0, "user:1", "x").data


def test_taking_over_makes_the_actor_the_holder_and_keeps_the_answer_time():
    held = fold(happy_path()[:3])  # answered by staff:1 at 31 s
    after = apply(held, ev(EventKind.TAKEN_OVER, 60, "user:2", **{"from": "staff:1"}))
    assert after.answered_by == "user:2"
    assert after.answered_at == held.answered_at
    assert after.state is State.ANSWERED
    with pytest.raises(IllegalTransition, match="already hold"):
        apply(after, ev(EventKind.TAKEN_OVER, 70, "user:2"))


@pytest.mark.parametrize("prefix", [1, 2, 6])
def test_only_a_held_alarm_can_be_taken_over(prefix):
    with pytest.raises(IllegalTransition, match="only an alarm someone holds"):
        apply(fold(happy_path()[:prefix]), ev(EventKind.TAKEN_OVER, 60, "user:2"))


def test_an_operator_cannot_resolve_or_close_a_colleagues_alarm_but_may_note_and_act():
    held = apply(fold(happy_path()[:2]), ev(EventKind.ANSWERED, 31, "user:1"))
    resolved = apply(held, ev(EventKind.RESOLVED, 40, "user:1", outcome="false_alarm"))
    for alarm, kind, data in ((held, EventKind.RESOLVED, {"outcome": "false_alarm"}), (resolved, EventKind.CLOSED, {})):
        with pytest.raises(NotHolder) as info:
            check_holder(alarm, ev(kind, 50, "user:2", **data))
        assert info.value.holder == "user:1"
    check_holder(held, ev(EventKind.NOTE, 50, "user:2", text="x"))
    check_holder(held, ev(EventKind.ACTION, 50, "user:2", action="call_recipient", result="answered"))
    check_holder(held, ev(EventKind.RESOLVED, 50, "user:1", outcome="false_alarm"))
    taken = apply(held, ev(EventKind.TAKEN_OVER, 60, "user:2"))
    check_holder(taken, ev(EventKind.RESOLVED, 70, "user:2", outcome="false_alarm"))
    with pytest.raises(NotHolder):
        check_holder(taken, ev(EventKind.RESOLVED, 70, "user:1", outcome="false_alarm"))


def test_a_holder_that_is_the_system_binds_nobody():
    kin = apply(fold(happy_path()[:1]), ev(EventKind.KIN_NOTIFIED, 5, "system:routing"))
    check_holder(kin, ev(EventKind.RESOLVED, 50, "user:2", outcome="next_of_kin"))


def test_closing_a_closed_alarm_is_refused_for_what_it_is_not_as_a_holder_question():
    """Two browsers press Close: the second operator is told the alarm is closed, not asked
    to take over an alarm that can no longer be taken over."""
    held = apply(fold(happy_path()[:2]), ev(EventKind.ANSWERED, 31, "user:1"))
    closed = apply(apply(held, ev(EventKind.RESOLVED, 40, "user:1", outcome="false_alarm")), ev(EventKind.CLOSED, 50, "user:1"))
    check_holder(closed, ev(EventKind.CLOSED, 60, "user:2"))  # no NotHolder
    with pytest.raises(IllegalTransition) as refused:
        apply(closed, ev(EventKind.CLOSED, 60, "user:2"))
    assert not isinstance(refused.value, NotHolder)


def test_a_changed_projection_is_what_dataclasses_replace_makes():
    # apply's copy of the projection (lifecycle._changed) takes the fast way round
    # dataclasses.replace: the same projection, the original untouched, a wrong name refused.
    import dataclasses

    from respons.domain.lifecycle import _changed

    before = start(Event(EventKind.RECEIVED, T0, "device:1", {}))
    after = _changed(before, seq=2, state=State.QUEUED, queued_at=T0)
    assert after == dataclasses.replace(before, seq=2, state=State.QUEUED, queued_at=T0)
    assert before.state is State.RECEIVED and before.seq == 1 and before.queued_at is None
    assert hash(after) == hash(dataclasses.replace(before, seq=2, state=State.QUEUED, queued_at=T0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.seq = 3
    with pytest.raises(TypeError, match="queud_at"):
        _changed(before, queud_at=T0)
