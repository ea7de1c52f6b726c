"""Application services for alarms: each function is a unit of work for the journal.

They take an open write Connection and ``now``; the domain decides, these functions
load and store. Every state change goes through ``append_event``, which writes the
timeline event and the refreshed projection in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from respons.domain import lifecycle
from respons.domain.lifecycle import IllegalTransition
from respons.domain.alarm_types import AlarmType
from respons.domain.deviations import DeviationCategory
from respons.domain.lifecycle import Action, AlarmProjection, CallResult, Event, EventKind, Outcome, State
from respons.domain import routing as routing_rules
from respons.domain.routing import Target as RouteTarget
from respons.engine import storms, timers
from respons.store.db import is_postgres
from respons.observability import metrics
from respons.store.journal import after_commit, announce
from respons.store.tables import alarm_events, alarms, contacts

ANSWER_DEADLINE = "answer_deadline"
# Escalated and handed-back alarms get the centre's standard deadline (Helsedirektoratet:
# answered within 60 s); the configured one is passed in by the intake for new alarms.
DEFAULT_ANSWER_DEADLINE = timedelta(seconds=60)


class AlarmNotFound(LookupError):
    def __init__(self, alarm_id: str):
        super().__init__(f"No alarm with id {alarm_id!r}.")
        self.alarm_id = alarm_id


class IdempotencyConflict(Exception):
    """The key was used before for a different request."""

    def __init__(self, key: str, alarm_id: str):
        super().__init__(
            f"Idempotency key {key!r} was already used for a different alarm ({alarm_id}). "
            "Use a new key for a new alarm; resend the identical request to retry."
        )
        self.alarm_id = alarm_id


@dataclass(frozen=True)
class NewAlarm:
    municipality_id: int
    recipient_id: int | None
    device_id: int | None
    alarm_type: AlarmType
    source: str
    actor: str  # who delivered it: "device:TA-0001", "http:vendor"
    occurred_at: datetime
    payload: dict[str, Any] | None = None
    idempotency_scope: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    # Set when occurred_at is far from the receive time (domain/clock_check.py): kept on the
    # "received" event, so the timeline and the console say the device's time is not believed.
    clock_suspect: dict[str, Any] | None = None


@dataclass(frozen=True)
class Received:
    alarm_id: str
    duplicate: bool
    state: State
    received_at: datetime


def receive(conn: Connection, new: NewAlarm, *, now: datetime, answer_deadline: timedelta) -> Received:
    """Store a new alarm, or recognise a retransmit of one we already have.

    Two nodes committing the same idempotency key at the same moment: the unique constraint
    makes the second insert fail, the journal rolls back that unit alone, the sender gets no
    answer and retries, and the retry finds the first node's alarm. (A savepoint or
    ``ON CONFLICT`` here would handle it in place, but cost every alarm on the hot path for
    a race that needs two nodes and one device retransmitting within milliseconds.)
    """
    if new.idempotency_key is not None:
        existing = _find_by_idempotency(conn, new)
        if existing is not None:
            return existing
    from respons.engine import routing  # routing builds on this module's services

    alarm_id = str(uuid.uuid4())
    # Counted after the COMMIT, once: a unit can run twice, or be rolled back.
    after_commit(conn, lambda: metrics.alarm_received(new.source, new.alarm_type.code))
    received_data = {"source": new.source, "occurred_at": new.occurred_at.isoformat()}
    if new.clock_suspect is not None:
        received_data["clock_suspect"] = new.clock_suspect
    received = Event(EventKind.RECEIVED, now, new.actor, received_data)
    projection = lifecycle.start(received)
    leader = _storm_leader(conn, new, now=now, answer_deadline=answer_deadline)
    if leader is not None:
        return _receive_member(conn, new, alarm_id, received, projection, leader, now=now)
    plan = routing.plan_for(conn, municipality_id=new.municipality_id, recipient_id=new.recipient_id,
                            category=new.alarm_type.category.value, device_id=new.device_id, now=now)
    to_centre = plan.first.target is RouteTarget.CENTRE
    if to_centre:
        # The common case, folded here so the row is inserted once with its final
        # projection instead of inserted and then updated on the hot path.
        queued = Event(EventKind.QUEUED, now, "system:routing", {"to": "response_centre", "step": 0,
                                                                  "reason": plan.reason.value})
        projection = lifecycle.apply(projection, queued)
    conn.execute(
        _INSERT_ALARM,
        dict(
            id=alarm_id,
            municipality_id=new.municipality_id,
            recipient_id=new.recipient_id,
            device_id=new.device_id,
            type=new.alarm_type.code,
            category=new.alarm_type.category.value,
            priority=int(new.alarm_type.priority),
            source=new.source,
            occurred_at=new.occurred_at,
            received_at=now,
            payload=new.payload,
            idempotency_scope=new.idempotency_scope,
            idempotency_key=new.idempotency_key,
            request_fingerprint=new.fingerprint,
            route=plan.to_json(),
            route_step=0,
            **projection_columns(projection),
        ),
    )
    if to_centre:
        conn.execute(_INSERT_EVENT, [_event_row(alarm_id, 1, received), _event_row(alarm_id, 2, queued)])
        _announce(conn, alarm_id, new.municipality_id, projection, EventKind.QUEUED, priority=int(new.alarm_type.priority))
        timers.schedule(conn, ANSWER_DEADLINE, alarm_id=alarm_id, due_at=now + answer_deadline, now=now)
    else:
        conn.execute(_INSERT_EVENT, [_event_row(alarm_id, 1, received)])
        routing.enter_step(conn, alarm_id, 0, now)
        projection = projection_from_row(conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one())
    return Received(alarm_id=alarm_id, duplicate=False, state=projection.state, received_at=now)


def _storm_leader(conn: Connection, new: NewAlarm, *, now: datetime, answer_deadline: timedelta) -> str | None:
    """The group alarm this AC loss joins, if its municipality is in a power-failure storm."""
    if new.alarm_type.code != storms.STORM_TYPE or new.source == storms.SOURCE:
        return None
    leader = storms.open_leader(conn, new.municipality_id)
    if leader is not None:
        return leader
    recent = storms.recent_ungrouped(conn, new.municipality_id, now)
    if len(recent) + 1 < storms.THRESHOLD:
        return None
    leader = receive(conn, NewAlarm(
        municipality_id=new.municipality_id, recipient_id=None, device_id=None, alarm_type=new.alarm_type,
        source=storms.SOURCE, actor=storms.ACTOR, occurred_at=now,
        payload={"storm": {"threshold": storms.THRESHOLD, "window_minutes": storms.WINDOW.total_seconds() / 60}},
    ), now=now, answer_deadline=answer_deadline).alarm_id
    storms.join(conn, leader, recent, municipality_id=new.municipality_id, now=now)
    return leader


def _receive_member(conn: Connection, new: NewAlarm, alarm_id: str, received: Event, projection: AlarmProjection,
                    leader: str, *, now: datetime) -> Received:
    """A storm member: stored like any alarm, but neither routed nor timed; its leader is."""
    conn.execute(_INSERT_ALARM, dict(
        id=alarm_id, municipality_id=new.municipality_id, recipient_id=new.recipient_id,
        device_id=new.device_id, type=new.alarm_type.code, category=new.alarm_type.category.value,
        priority=int(new.alarm_type.priority), source=new.source, occurred_at=new.occurred_at,
        received_at=now, payload=new.payload, idempotency_scope=new.idempotency_scope,
        idempotency_key=new.idempotency_key, request_fingerprint=new.fingerprint, group_id=leader,
        **projection_columns(projection)))
    conn.execute(_INSERT_EVENT, [_event_row(alarm_id, 1, received)])
    storms.join(conn, leader, [], municipality_id=new.municipality_id, now=now)
    return Received(alarm_id=alarm_id, duplicate=False, state=projection.state, received_at=now)


def start_answer_deadline(conn: Connection, alarm_id: str, now: datetime, deadline: timedelta | None = None) -> None:
    """The centre's answer clock starts when an alarm reaches its queue (also by escalation
    or hand-back); the deadline timer marks it if nobody answers in time."""
    timers.cancel(conn, ANSWER_DEADLINE, alarm_id=alarm_id)
    timers.schedule(conn, ANSWER_DEADLINE, alarm_id=alarm_id, due_at=now + (deadline or DEFAULT_ANSWER_DEADLINE), now=now)


_BY_IDEMPOTENCY = select(alarms.c.id, alarms.c.state, alarms.c.received_at, alarms.c.request_fingerprint).where(
    alarms.c.idempotency_scope == bindparam("scope"), alarms.c.idempotency_key == bindparam("key"))


def _find_by_idempotency(conn: Connection, new: NewAlarm) -> Received | None:
    row = conn.execute(_BY_IDEMPOTENCY, {"scope": new.idempotency_scope, "key": new.idempotency_key}).first()
    if row is None:
        return None
    if new.fingerprint is not None and row.request_fingerprint not in (None, new.fingerprint):
        raise IdempotencyConflict(new.idempotency_key, row.id)
    return Received(alarm_id=row.id, duplicate=True, state=State(row.state), received_at=row.received_at)


def append_event(
    conn: Connection,
    alarm_id: str,
    event: Event | Callable[[AlarmProjection], Event],
    *,
    visible_to: frozenset[int] | None = None,
) -> AlarmProjection:
    """Apply ``event`` to the alarm through the domain's rules and store both.

    ``event`` may be a function of the alarm's current projection, read under the row lock,
    for events whose content depends on the state (a note after close is an addendum): a
    colleague's close committed a moment earlier is then seen, not raced.

    ``visible_to``: the municipalities the caller may act in; an alarm outside them is
    reported as not found (None: no restriction, for the system's own events).
    """
    query = select(alarms).where(alarms.c.id == alarm_id)
    if is_postgres(conn):
        # Two nodes answering the same alarm: the second waits here, then sees ANSWERED.
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or (visible_to is not None and row.municipality_id not in visible_to):
        raise AlarmNotFound(alarm_id)
    before = projection_from_row(row)
    if callable(event):
        event = event(before)
    lifecycle.check_holder(before, event)
    after = lifecycle.apply(before, event)
    _insert_event(conn, alarm_id, after.seq, event)
    conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**projection_columns(after)))
    field_audience = routing_rules.audience(row.route, row.route_step, row.municipality_id, row.mission,
                                            (row.answered_by, after.answered_by))
    _announce(conn, alarm_id, row.municipality_id, after, event.kind, priority=row.priority, audience=field_audience)
    return after


def _announce(conn: Connection, alarm_id: str, municipality_id: int, p: AlarmProjection, kind: EventKind, *,
              priority: int, audience: frozenset[str] = frozenset()) -> None:
    # Enough for a screen to decide whether it cares (scope for the centre, ``audience`` for
    # responders in the field), what to refetch, and which sound to play; never personal data.
    announce(
        conn,
        {"alarm_id": alarm_id, "municipality_id": municipality_id, "event": kind.value, "state": p.state.value,
         "seq": p.seq, "priority": priority, "audience": sorted(audience)},
    )


def answer(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, now: datetime) -> AlarmProjection:
    projection = append_event(conn, alarm_id, Event(EventKind.ANSWERED, now, actor), visible_to=visible_to)
    timers.cancel(conn, ANSWER_DEADLINE, alarm_id=alarm_id)
    if projection.queued_at is not None:
        from respons.engine import deviations  # deviations read alarms; this is the one way back

        if now - projection.queued_at > deviations.ANSWER_TIME_THRESHOLD:
            seconds = round((now - projection.queued_at).total_seconds())
            deviations.propose(conn, alarm_id=alarm_id, category=DeviationCategory.ANSWER_TIME, now=now,
                               title=f"Alarmen ble besvart etter {seconds} sekunder", data={"answer_seconds": seconds})
    return projection


def add_note(
    conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, text: str, now: datetime
) -> AlarmProjection:
    """A note; on a closed alarm it is kept as an addendum (the returned state says closed)."""
    return append_event(conn, alarm_id, lambda alarm: lifecycle.note(alarm, now, actor, text), visible_to=visible_to)


def take_over(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None,
              now: datetime) -> AlarmProjection:
    """An operator takes an alarm a colleague holds; the former holder sees it live."""
    return append_event(conn, alarm_id, lambda alarm: Event(EventKind.TAKEN_OVER, now, actor,
                                                            {"from": alarm.answered_by}), visible_to=visible_to)


def resolve(
    conn: Connection,
    alarm_id: str,
    *,
    actor: str,
    visible_to: frozenset[int] | None,
    outcome: Outcome,
    note: str | None,
    now: datetime,
) -> AlarmProjection:
    data: dict[str, Any] = {"outcome": outcome.value}
    if note:
        data["note"] = note
    return append_event(conn, alarm_id, Event(EventKind.RESOLVED, now, actor, data), visible_to=visible_to)


def clear(conn: Connection, alarm_id: str, *, actor: str, now: datetime, reason: str,
          outcome: Outcome = Outcome.CLEARED) -> AlarmProjection:
    """The system ends an alarm whose cause went away (see EventKind.CLEARED); its timers stop."""
    projection = append_event(conn, alarm_id, Event(EventKind.CLEARED, now, actor, {"reason": reason,
                                                                                   "outcome": outcome.value}))
    timers.cancel_all(conn, alarm_id=alarm_id)
    _close_storm_members(conn, alarm_id, projection, now)
    return projection


def close(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, now: datetime) -> AlarmProjection:
    projection = append_event(conn, alarm_id, Event(EventKind.CLOSED, now, actor), visible_to=visible_to)
    _close_storm_members(conn, alarm_id, projection, now)
    return projection


def _close_storm_members(conn: Connection, alarm_id: str, projection: AlarmProjection, now: datetime) -> None:
    if conn.execute(select(alarms.c.source).where(alarms.c.id == alarm_id)).scalar() == storms.SOURCE:
        storms.clear_members(conn, alarm_id, outcome=projection.outcome, now=now)


def record_action(
    conn: Connection,
    alarm_id: str,
    *,
    action: Action,
    actor: str,
    visible_to: frozenset[int] | None,
    now: datetime,
    result: CallResult | None = None,
    contact_id: int | None = None,
    text: str | None = None,
) -> AlarmProjection:
    """A call with its result, a dispatch, a call to 113, a message to the technician."""
    data: dict[str, Any] = {"action": action.value}
    if result is not None:
        data["result"] = result.value
    if contact_id is not None:
        municipality_id = conn.execute(select(alarms.c.municipality_id).where(alarms.c.id == alarm_id)).scalar_one_or_none()
        if municipality_id is None or (visible_to is not None and municipality_id not in visible_to):
            raise AlarmNotFound(alarm_id)
        contact = conn.execute(
            select(contacts.c.name, contacts.c.phone)
            .select_from(contacts.join(alarms, alarms.c.recipient_id == contacts.c.recipient_id))
            .where(contacts.c.id == contact_id, alarms.c.id == alarm_id)
        ).first()
        if contact is None:
            # Only the alarm's own recipient's contacts: the id must not reach someone else's.
            raise IllegalTransition(EventKind.ACTION, None, f"Contact {contact_id} is not a contact of this alarm's recipient.",
                                    reason="contact_not_recipients")
        # Name and number as they were at the time: the contact list may change later.
        data.update(contact_id=contact_id, contact_name=contact.name, phone=contact.phone)
    if text:
        data["text"] = text
    return append_event(conn, alarm_id, Event(EventKind.ACTION, now, actor, data), visible_to=visible_to)


def on_answer_deadline(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: the alarm has waited longer than the answer deadline."""
    row = conn.execute(select(alarms.c.state, alarms.c.received_at, alarms.c.queued_at).where(alarms.c.id == alarm_id)).first()
    if row is None or row.state != State.QUEUED:
        return  # answered (or gone) in the meantime: the deadline no longer applies
    waited = (now - (row.queued_at or row.received_at)).total_seconds()
    append_event(
        conn,
        alarm_id,
        Event(EventKind.ANSWER_TIME_EXCEEDED, now, "system:timer", {"waited_seconds": round(waited, 1)}),
    )


timers.register(ANSWER_DEADLINE, on_answer_deadline)


def load_timeline(conn: Connection, alarm_id: str) -> list[Event]:
    rows = conn.execute(
        select(alarm_events).where(alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq)
    ).all()
    return [Event(EventKind(r.kind), r.at, r.actor, r.data) for r in rows]


def projection_from_row(row) -> AlarmProjection:
    return AlarmProjection(
        state=State(row.state),
        received_at=row.received_at,
        seq=row.seq,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        resolved_at=row.resolved_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        closed_at=row.closed_at,
        answer_time_exceeded=row.answer_time_exceeded,
        missing_response=row.missing_response,
        arrived_at=row.arrived_at,
    )


def projection_columns(p: AlarmProjection) -> dict[str, Any]:
    return {
        "state": p.state.value,
        "seq": p.seq,
        "queued_at": p.queued_at,
        "answered_at": p.answered_at,
        "answered_by": p.answered_by,
        "resolved_at": p.resolved_at,
        "outcome": p.outcome.value if p.outcome else None,
        "closed_at": p.closed_at,
        "answer_time_exceeded": p.answer_time_exceeded,
        "missing_response": p.missing_response,
        "arrived_at": p.arrived_at,
    }


# Prebuilt statements executed with parameters: building ``insert().values(...)`` anew
# for every alarm cost more CPU than running it (measured in bench/intake_http.py).
_INSERT_ALARM = insert(alarms)
_INSERT_EVENT = insert(alarm_events)


def _event_row(alarm_id: str, seq: int, event: Event) -> dict[str, Any]:
    return dict(alarm_id=alarm_id, seq=seq, kind=event.kind.value, at=event.at, actor=event.actor, data=event.data)


def _insert_event(conn: Connection, alarm_id: str, seq: int, event: Event) -> None:
    conn.execute(_INSERT_EVENT, _event_row(alarm_id, seq, event))
