"""An alarm's timeline: every change is an event, applied by the domain and stored with the
projection it leads to, in the same transaction, and announced to the live bus.

``append_event`` is the one way an alarm changes state; receiving (engine/receiving.py),
routing (engine/routing.py), operator actions (engine/alarms.py) and missions all call it.
The answer deadline lives here too: it starts whenever an alarm reaches the centre's queue
(first arrival, escalation, hand-back), and its timer marks the alarm if nobody answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Connection

from respons.domain import lifecycle
from respons.domain import routing as routing_rules
from respons.domain.lifecycle import AlarmProjection, Event, EventKind, State
from respons.engine import timers
from respons.store import alarms as alarm_rows
from respons.store.alarms import AlarmNotFound
from respons.store.journal import announce

ANSWER_DEADLINE = "answer_deadline"
# Escalated and handed-back alarms get the centre's standard deadline (Helsedirektoratet:
# answered within 60 s); the configured one is passed in by the intake for new alarms.
DEFAULT_ANSWER_DEADLINE = timedelta(seconds=60)


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
    row = alarm_rows.for_update(conn, alarm_id)
    if row is None or (visible_to is not None and row.municipality_id not in visible_to):
        raise AlarmNotFound(alarm_id)
    before = alarm_rows.projection_from_row(row)
    if callable(event):
        event = event(before)
    lifecycle.check_holder(before, event)
    after = lifecycle.apply(before, event)
    alarm_rows.write_event(conn, alarm_id, event, after)
    field_audience = routing_rules.audience(row.route, row.route_step, row.municipality_id, row.mission,
                                            (row.answered_by, after.answered_by))
    # A call's phase and direction travel with it: consoles ring for an inbound call that
    # rings (voice/service.py), without fetching anything; a call handed to a colleague
    # rings at that colleague alone (``for``).
    call = ({"phase": event.data.get("phase"), "direction": event.data.get("direction"), "for": event.data.get("for")}
            if event.kind is EventKind.CALL else None)
    announce_change(conn, alarm_id, row.municipality_id, after, event.kind, priority=row.priority,
                    audience=field_audience, call=call)
    return after


def announce_change(conn: Connection, alarm_id: str, municipality_id: int, p: AlarmProjection, kind: EventKind, *,
                    priority: int, audience: frozenset[str] = frozenset(), call: dict | None = None) -> None:
    # Enough for a screen to decide whether it cares (scope for the centre, ``audience`` for
    # responders in the field), what to refetch, and which sound to play; never personal data.
    # Reactions in the same unit (store/journal.py) read the event kind from it too.
    change = {"alarm_id": alarm_id, "municipality_id": municipality_id, "event": kind.value, "state": p.state.value,
              "seq": p.seq, "priority": priority, "audience": sorted(audience)}
    if call is not None:
        change["call"] = call
    announce(conn, change)


def start_answer_deadline(conn: Connection, alarm_id: str, now: datetime, deadline: timedelta | None = None) -> None:
    """The centre's answer clock starts when an alarm reaches its queue (also by escalation
    or hand-back); the deadline timer marks it if nobody answers in time."""
    timers.cancel(conn, ANSWER_DEADLINE, alarm_id=alarm_id)
    timers.schedule(conn, ANSWER_DEADLINE, alarm_id=alarm_id, due_at=now + (deadline or DEFAULT_ANSWER_DEADLINE), now=now)


def on_answer_deadline(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: the alarm has waited longer than the answer deadline."""
    row = alarm_rows.answer_clock(conn, alarm_id)
    if row is None or row.state != State.QUEUED:
        return  # answered (or gone) in the meantime: the deadline no longer applies
    waited = (now - (row.queued_at or row.received_at)).total_seconds()
    append_event(
        conn,
        alarm_id,
        Event(EventKind.ANSWER_TIME_EXCEEDED, now, "system:timer", {"waited_seconds": round(waited, 1)}),
    )


def load_timeline(conn: Connection, alarm_id: str) -> list[Event]:
    return alarm_rows.timeline(conn, alarm_id)
