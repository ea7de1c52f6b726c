"""The alarm lifecycle as an explicit state machine over append-only timeline events.

An alarm's state is never stored on its own: it is the fold of its events
(DESIGN.md invariant 2). ``apply`` is the single rule book: it either returns the next
projection or raises ``IllegalTransition`` with a message an operator can act on.
The store keeps a copy of the projection on the alarm row for fast queue queries and
writes it in the same transaction as the event, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Iterable


class State(StrEnum):
    RECEIVED = "received"  # committed by intake, not yet placed anywhere
    QUEUED = "queued"  # waiting in the response centre's queue
    OFFERED = "offered"  # offered to home care (a zone) or technicians; the first to accept takes it
    ANSWERED = "answered"  # an operator has taken it and is working on it
    RESOLVED = "resolved"  # an outcome is recorded; follow-up may still be documented
    CLOSED = "closed"  # finished; only the history remains


class EventKind(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    OFFERED = "offered"  # (again) to everyone logged in to a zone, or to the technicians
    DECLINED = "declined"  # one responder said no; the offer stands for the others
    ESCALATED = "escalated"  # nobody accepted in time: to the centre, with its history
    HANDED_BACK = "handed_back"  # a responder gives the alarm back to the centre
    # Written before next of kin had to confirm (until 2026-12): the SMS counted as handled.
    # Kept so those timelines still fold; routing now writes KIN_ASKED and KIN_CONFIRMED.
    KIN_NOTIFIED = "kin_notified"
    # Next of kin asked by SMS to go; the alarm is theirs to confirm within the step's time
    # (docs/messages.md). Not confirmed in time, or no message delivered: the next step.
    KIN_ASKED = "kin_asked"
    KIN_CONFIRMED = "kin_confirmed"  # a next of kin said they go (an SMS reply, or the link)
    MISSION_ACCEPTED = "mission_accepted"  # home care took the mission the centre dispatched
    MISSING_RESPONSE = "missing_response"  # a dispatched mission was not accepted/completed in time
    ANSWERED = "answered"
    # Another operator takes over an alarm a colleague holds (shift handover, a colleague
    # gone home): from then on they are the holder; the answer time stays the first answer's.
    TAKEN_OVER = "taken_over"
    NOTE = "note"
    ACTION = "action"  # something the operator did: a call and its result, a dispatch
    ANSWER_TIME_EXCEEDED = "answer_time_exceeded"
    RESOLVED = "resolved"
    CLOSED = "closed"
    # The cause went away by itself and nobody has to act: a silent device reported again,
    # or a power-failure storm's member alarm closed with its group. Ends the alarm.
    CLEARED = "cleared"
    # A call through the voice gateway, written by the system as it happens: ringing,
    # answered, ended, failed, lost (voice/calls.py). Calls may end after the alarm closed.
    CALL = "call"
    # A look-in by camera (or phone) after this alarm (digital supervision, event-based):
    # started, then its outcome. Recorded in any state, as a call is.
    LOOK_IN = "look_in"
    # A message to the outside (SMS, push) changed state: queued, sent, delivered, failed,
    # expired, or a reply came. Written by the system in any state, as a call is.
    MESSAGE = "message"


class Outcome(StrEnum):
    RESOLVED_AT_CENTRE = "resolved_at_centre"
    HOME_CARE_DISPATCHED = "home_care_dispatched"
    EMERGENCY_SERVICES = "emergency_services"
    NEXT_OF_KIN = "next_of_kin"
    TECHNICIAN = "technician"
    FALSE_ALARM = "false_alarm"
    CLEARED = "cleared"  # the condition ended by itself (see EventKind.CLEARED)


# What a person can record; "cleared" is the system's word for a cause that went away.
OPERATOR_OUTCOMES = tuple(o for o in Outcome if o is not Outcome.CLEARED)


class Action(StrEnum):
    """What an operator does for an alarm; each is recorded on the timeline."""

    CALL_RECIPIENT = "call_recipient"
    CALL_CONTACT = "call_contact"
    DISPATCH_HOME_CARE = "dispatch_home_care"
    CALL_EMERGENCY_SERVICES = "call_emergency_services"  # 113 / AMK
    NOTIFY_TECHNICIAN = "notify_technician"
    # The home-care worker's mission, as they report it from the app.
    EN_ROUTE = "en_route"
    ARRIVED = "arrived"
    DONE = "done"


CALLS = frozenset({Action.CALL_RECIPIENT, Action.CALL_CONTACT})


class CallResult(StrEnum):
    # Telephony integration comes later; until then the operator records the result.
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"


OPEN_STATES = frozenset({State.RECEIVED, State.QUEUED, State.OFFERED, State.ANSWERED, State.RESOLVED})
# Waiting for the centre: the answer clock runs for these.
WAITING_STATES = frozenset({State.RECEIVED, State.QUEUED})


class IllegalTransition(Exception):
    """The event is not allowed in the alarm's current state.

    ``reason`` names the refusal for the screens, which say it in the person's language
    (web/refusals.py); the message is the API's English text. Without a reason, the event's
    kind is not allowed in ``state``.
    """

    def __init__(self, kind: EventKind, state: State | None, message: str, *, reason: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.state = state
        self.reason = reason


class NotHolder(IllegalTransition):
    """An operator tried to finish an alarm a colleague holds without taking it over."""

    def __init__(self, kind: EventKind, state: State, holder: str):
        super().__init__(kind, state, f"Cannot {kind.value}: {holder} holds the alarm; take it over first.",
                         reason="held_by_colleague")
        self.holder = holder


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: datetime
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlarmProjection:
    state: State
    received_at: datetime
    seq: int = 1  # number of events folded in
    queued_at: datetime | None = None  # when it (last) reached the centre's queue
    answered_at: datetime | None = None
    answered_by: str | None = None
    resolved_at: datetime | None = None
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    answer_time_exceeded: bool = False
    missing_response: bool = False  # the centre must look: home care has not responded
    arrived_at: datetime | None = None  # home care first reported arriving (the statistics' arrival time)

    def answer_seconds(self, now: datetime) -> float:
        """The centre's answer clock: from reaching its queue (receipt, escalation or
        hand-back) to the answer, or to ``now`` while waiting."""
        end = self.answered_at or now
        return max(0.0, (end - (self.queued_at or self.received_at)).total_seconds())


# Which states each event may follow. RECEIVED is special: it starts a timeline.
_ALLOWED_FROM: dict[EventKind, frozenset[State]] = {
    EventKind.QUEUED: frozenset({State.RECEIVED}),
    EventKind.OFFERED: frozenset({State.RECEIVED, State.OFFERED}),
    EventKind.DECLINED: frozenset({State.OFFERED}),
    EventKind.ESCALATED: frozenset({State.OFFERED, State.RECEIVED}),
    EventKind.HANDED_BACK: frozenset({State.ANSWERED}),
    EventKind.KIN_NOTIFIED: frozenset({State.RECEIVED}),
    EventKind.KIN_ASKED: frozenset({State.RECEIVED, State.OFFERED}),
    EventKind.KIN_CONFIRMED: frozenset({State.OFFERED}),
    EventKind.MISSION_ACCEPTED: frozenset({State.ANSWERED, State.RESOLVED}),
    EventKind.MISSING_RESPONSE: frozenset({State.ANSWERED, State.RESOLVED}),
    EventKind.ANSWERED: frozenset({State.QUEUED, State.OFFERED}),
    EventKind.TAKEN_OVER: frozenset({State.ANSWERED, State.RESOLVED}),
    # Documentation after close is normal (the operator finishes writing after a colleague
    # closed the alarm); such a note must be marked as an addendum (see ``note``).
    EventKind.NOTE: frozenset(OPEN_STATES | {State.CLOSED}),
    # Follow-up after the outcome is recorded (calling next of kin afterwards) is still work.
    EventKind.ACTION: frozenset({State.ANSWERED, State.RESOLVED}),
    EventKind.ANSWER_TIME_EXCEEDED: frozenset({State.QUEUED}),
    EventKind.RESOLVED: frozenset({State.ANSWERED}),
    EventKind.CLOSED: frozenset({State.RESOLVED}),
    EventKind.CLEARED: frozenset(OPEN_STATES),
    EventKind.CALL: frozenset(State),
    EventKind.LOOK_IN: frozenset(State),
    EventKind.MESSAGE: frozenset(State),
}

_REFUSAL_HINTS: dict[EventKind, str] = {
    EventKind.QUEUED: "only a newly received alarm can be queued",
    EventKind.OFFERED: "only a new or still offered alarm can be offered",
    EventKind.DECLINED: "only an offered alarm can be declined",
    EventKind.ESCALATED: "only an alarm nobody has accepted escalates",
    EventKind.HANDED_BACK: "only an alarm someone has taken can be handed back",
    EventKind.KIN_NOTIFIED: "next of kin are notified when the alarm arrives",
    EventKind.KIN_ASKED: "next of kin are asked when the alarm reaches their step",
    EventKind.KIN_CONFIRMED: "only an alarm waiting for next of kin can be confirmed by them",
    EventKind.MISSION_ACCEPTED: "only a dispatched mission of an open alarm can be accepted",
    EventKind.MISSING_RESPONSE: "missing response only concerns a mission of an open alarm",
    EventKind.ANSWERED: "only a waiting or offered alarm can be answered or accepted",
    EventKind.TAKEN_OVER: "only an alarm someone holds can be taken over",
    EventKind.NOTE: "a closed alarm takes notes only as addenda",
    EventKind.ACTION: "answer the alarm before acting on it; a closed alarm cannot be changed",
    EventKind.ANSWER_TIME_EXCEEDED: "the answer deadline only applies while the alarm waits in the queue",
    EventKind.RESOLVED: "answer the alarm before recording an outcome",
    EventKind.CLOSED: "record an outcome (resolve) before closing",
    EventKind.CLEARED: "the alarm is already closed",
    EventKind.CALL: "a call can always be recorded",
    EventKind.LOOK_IN: "a look-in can always be recorded",
    EventKind.MESSAGE: "a message can always be recorded",
}


_PROJECTION_FIELDS = frozenset(f.name for f in fields(AlarmProjection))


def _changed(alarm: AlarmProjection, **changes: Any) -> AlarmProjection:
    """``dataclasses.replace`` for the projection, which it does for every event of every
    alarm (the intake folds two per alarm, a timeline read one per event): replace looks at
    each of the twelve fields on every call, 3.2 µs; a copy of the instance's values with
    the changes is 0.7 µs. The projection has no ``__post_init__`` to skip."""
    if not changes.keys() <= _PROJECTION_FIELDS:
        raise TypeError(f"AlarmProjection has no field {sorted(changes.keys() - _PROJECTION_FIELDS)}")
    changed = object.__new__(AlarmProjection)
    values = changed.__dict__  # frozen: written past its __setattr__, as its own __init__ does
    values.update(alarm.__dict__)
    values.update(changes)
    return changed


def start(event: Event) -> AlarmProjection:
    if event.kind is not EventKind.RECEIVED:
        raise IllegalTransition(event.kind, None, "A timeline must start with a 'received' event.", reason="no_events")
    return AlarmProjection(state=State.RECEIVED, received_at=event.at)


def apply(alarm: AlarmProjection, event: Event) -> AlarmProjection:
    """Return the projection after ``event``, or raise ``IllegalTransition``."""
    if event.kind is EventKind.RECEIVED:
        raise IllegalTransition(event.kind, alarm.state, "The alarm has already been received.", reason="already_received")
    if alarm.state not in _ALLOWED_FROM[event.kind]:
        raise IllegalTransition(
            event.kind,
            alarm.state,
            f"Cannot {event.kind.value.replace('_', ' ')}: the alarm is {alarm.state.value}; "
            f"{_REFUSAL_HINTS[event.kind]}.",
        )
    seq = alarm.seq + 1
    match event.kind:
        case EventKind.QUEUED | EventKind.ESCALATED:
            return _changed(alarm, seq=seq, state=State.QUEUED, queued_at=event.at)
        case EventKind.OFFERED | EventKind.KIN_ASKED:
            # Offered to next of kin: nobody holds it until one of them confirms.
            return _changed(alarm, seq=seq, state=State.OFFERED)
        case EventKind.KIN_CONFIRMED:
            return _changed(alarm, seq=seq, state=State.ANSWERED, answered_at=event.at, answered_by=event.actor)
        case (EventKind.DECLINED | EventKind.MISSION_ACCEPTED | EventKind.CALL | EventKind.LOOK_IN
              | EventKind.MESSAGE):
            return _changed(alarm, seq=seq)
        case EventKind.MISSING_RESPONSE:
            return _changed(alarm, seq=seq, missing_response=True)
        case EventKind.KIN_NOTIFIED:
            # Next of kin have it: taken, by the routing on their behalf.
            return _changed(alarm, seq=seq, state=State.ANSWERED, answered_at=event.at, answered_by=event.actor)
        case EventKind.HANDED_BACK:
            # Back in the centre's queue: nobody holds it any more, and the centre's answer
            # clock starts from the hand-back.
            return _changed(alarm, seq=seq, state=State.QUEUED, queued_at=event.at, answered_at=None, answered_by=None)
        case EventKind.ANSWERED:
            return _changed(alarm, seq=seq, state=State.ANSWERED, answered_at=event.at, answered_by=event.actor)
        case EventKind.TAKEN_OVER:
            if event.actor == alarm.answered_by:
                raise IllegalTransition(event.kind, alarm.state, "You already hold this alarm.", reason="already_holder")
            return _changed(alarm, seq=seq, answered_by=event.actor)
        case EventKind.NOTE:
            if not str(event.data.get("text", "")).strip():
                raise IllegalTransition(event.kind, alarm.state, "A note needs some text.", reason="note_empty")
            if alarm.state is State.CLOSED and not event.data.get("addendum"):
                raise IllegalTransition(event.kind, alarm.state, "Cannot note: the alarm is closed; "
                                        "a note after close is an addendum.", reason="note_after_close")
            return _changed(alarm, seq=seq)
        case EventKind.ACTION:
            _check_action(event, alarm.state)
            if event.data.get("action") == Action.ARRIVED and alarm.arrived_at is None:
                return _changed(alarm, seq=seq, arrived_at=event.at)
            return _changed(alarm, seq=seq)
        case EventKind.ANSWER_TIME_EXCEEDED:
            return _changed(alarm, seq=seq, answer_time_exceeded=True)
        case EventKind.RESOLVED:
            try:
                outcome = Outcome(event.data.get("outcome"))
            except ValueError:
                known = ", ".join(o.value for o in Outcome)
                raise IllegalTransition(
                    event.kind, alarm.state, f"Unknown outcome {event.data.get('outcome')!r}. Known outcomes: {known}.",
                    reason="unknown_outcome") from None
            if outcome not in OPERATOR_OUTCOMES:
                raise IllegalTransition(event.kind, alarm.state, "'cleared' is recorded by the system when the cause "
                                        "goes away; choose what was done.", reason="cleared_is_system")
            return _changed(alarm, seq=seq, state=State.RESOLVED, resolved_at=event.at, outcome=outcome)
        case EventKind.CLOSED:
            return _changed(alarm, seq=seq, state=State.CLOSED, closed_at=event.at)
        case EventKind.CLEARED:
            # An outcome recorded by a person (resolved first) is kept.
            outcome = alarm.outcome or Outcome(event.data.get("outcome", Outcome.CLEARED.value))
            return _changed(alarm, seq=seq, state=State.CLOSED, closed_at=event.at, outcome=outcome,
                            resolved_at=alarm.resolved_at or event.at)
    raise AssertionError(f"unhandled event kind {event.kind}")  # pragma: no cover


def note(alarm: AlarmProjection, at: datetime, actor: str, text: str) -> Event:
    """A note on the alarm as it is now: on a closed alarm it is an addendum, so a note typed
    while a colleague closed the alarm is kept and the timeline says it came after."""
    data: dict[str, Any] = {"text": text}
    if alarm.state is State.CLOSED:
        data["addendum"] = True
    return Event(EventKind.NOTE, at, actor, data)


# Events that finish an operator's work on the alarm: only its holder may record them.
_HOLDER_ONLY = frozenset({EventKind.RESOLVED, EventKind.CLOSED})


def check_holder(alarm: AlarmProjection, event: Event) -> None:
    """Refuse a person's outcome or close on an alarm another person holds.

    Policy for new events, not a rule of the fold: timelines written before take-over
    existed must still fold. Notes and actions by colleagues stay allowed (handover); a
    holder that is the system (next of kin notified by routing) binds nobody.
    """
    if alarm.state not in _ALLOWED_FROM[event.kind]:
        return  # ``apply`` refuses it for what it is (closing a closed alarm is not a holder question)
    holder = alarm.answered_by
    if (event.kind in _HOLDER_ONLY and holder is not None and holder != event.actor
            and holder.startswith("user:") and event.actor.startswith("user:")):
        raise NotHolder(event.kind, alarm.state, holder)


def _check_action(event: Event, state: State) -> None:
    try:
        action = Action(event.data.get("action"))
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise IllegalTransition(event.kind, state, f"Unknown action {event.data.get('action')!r}. Known actions: {known}.",
                                reason="unknown_action") from None
    if action in CALLS:
        try:
            CallResult(event.data.get("result"))
        except ValueError:
            known = ", ".join(r.value for r in CallResult)
            raise IllegalTransition(event.kind, state, f"A call needs its result. Known results: {known}.",
                                    reason="call_needs_result") from None
    if action is Action.CALL_CONTACT and not event.data.get("contact_id"):
        raise IllegalTransition(event.kind, state, "Say which contact was called.", reason="call_needs_contact")


def fold(events: Iterable[Event]) -> AlarmProjection:
    """Rebuild an alarm's projection from its whole timeline."""
    iterator = iter(events)
    try:
        projection = start(next(iterator))
    except StopIteration:
        raise IllegalTransition(EventKind.RECEIVED, None, "An alarm without events has no state.", reason="no_events") from None
    for event in iterator:
        projection = apply(projection, event)
    return projection
