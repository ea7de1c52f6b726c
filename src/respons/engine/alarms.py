"""Operator actions on an alarm: answer, note, take over, record a call or dispatch, resolve,
close, and the system's clear. Each is a unit of work for the journal that appends one event
through ``engine/timeline.append_event`` (the domain decides whether it is allowed).

What follows from an action elsewhere is not called from here: a late answer proposed as a
deviation reacts to the committed ``answered`` change (engine/deviations.react, registered
in respons/runtime.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from respons.domain import lifecycle
from respons.domain import storms as storm_rules
from respons.domain.lifecycle import Action, AlarmProjection, CallResult, Event, EventKind, IllegalTransition, Outcome
from respons.engine import timers
from respons.engine.timeline import ANSWER_DEADLINE, announce_change, append_event
from respons.store import alarms as alarm_rows
from respons.store.alarms import AlarmNotFound

__all__ = ["AlarmNotFound", "add_note", "answer", "clear", "close", "record_action", "resolve", "take_over"]


def answer(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, now: datetime) -> AlarmProjection:
    projection = append_event(conn, alarm_id, Event(EventKind.ANSWERED, now, actor), visible_to=visible_to)
    timers.cancel(conn, ANSWER_DEADLINE, alarm_id=alarm_id)
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
    """The system ends an alarm whose cause went away (see EventKind.CLEARED); its timers stop.
    A storm member that was the last open one of its group clears the group too (an outage
    whose devices are all back in contact is over)."""
    projection = append_event(conn, alarm_id, Event(EventKind.CLEARED, now, actor, {"reason": reason,
                                                                                   "outcome": outcome.value}))
    timers.cancel_all(conn, alarm_id=alarm_id)
    if reason != ALL_MEMBERS_CLEARED:
        _close_storm_members(conn, alarm_id, projection, now)
    leader = alarm_rows.group_of(conn, alarm_id)
    if leader is not None and reason != STORM_GROUP_CLOSED:
        # The group's row first: another node adding members holds it until it commits, and
        # only then is "no open member left" true (PostgreSQL; SQLite has one writer).
        alarm_rows.for_update(conn, leader)
        if not alarm_rows.has_open_members(conn, leader):
            try:
                clear(conn, leader, actor=storm_rules.ACTOR, now=now, reason=ALL_MEMBERS_CLEARED)
            except IllegalTransition:
                pass  # the group is closed already
    return projection


def close(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, now: datetime) -> AlarmProjection:
    projection = append_event(conn, alarm_id, Event(EventKind.CLOSED, now, actor), visible_to=visible_to)
    _close_storm_members(conn, alarm_id, projection, now)
    return projection


STORM_GROUP_CLOSED = "storm_group_closed"
ALL_MEMBERS_CLEARED = "all_members_cleared"  # a group whose members have all cleared clears itself
# Members cleared in the unit that closes their group; the rest by the supervision worker,
# this many per unit (clear_members): each cleared member of a person is a document for the
# patient record, and an outage of 50,000 cleared in one unit would hold the journal, and
# every alarm behind it, for a minute.
MEMBERS_PER_UNIT = 200


def _close_storm_members(conn: Connection, alarm_id: str, projection: AlarmProjection, now: datetime) -> None:
    """A storm's group alarm is closed: so is every member still open, with its outcome."""
    if alarm_rows.source_of(conn, alarm_id) != storm_rules.SOURCE:
        return
    clear_members(conn, alarm_id, outcome=projection.outcome or Outcome.CLEARED, now=now)


def clear_members(conn: Connection, leader_id: str, *, outcome: Outcome, now: datetime,
                  limit: int = MEMBERS_PER_UNIT) -> int:
    """Clear up to ``limit`` open members of a closed group, with its outcome; returns how many.

    Written in batched statements, not one ``clear`` each. Members have no timers to stop:
    a member's clocks stop when it joins (engine/storms.join), and one that arrives as a
    member never gets any."""
    changes = []
    for row in alarm_rows.open_members(conn, leader_id, limit=limit):
        event = Event(EventKind.CLEARED, now, storm_rules.ACTOR, {"reason": STORM_GROUP_CLOSED, "outcome": outcome.value})
        changes.append((row, event, lifecycle.apply(alarm_rows.projection_from_row(row), event)))
    alarm_rows.write_events(conn, [(row.id, event, after) for row, event, after in changes])
    for row, event, after in changes:
        announce_change(conn, row.id, row.municipality_id, after, event.kind, priority=row.priority)
    return len(changes)


def clear_members_of_closed_groups(conn: Connection, now: datetime, *, limit: int = MEMBERS_PER_UNIT) -> int:
    """The members a group's close left open (more than ``MEMBERS_PER_UNIT``), up to ``limit``;
    a unit of the supervision worker. Returns how many were cleared."""
    cleared = 0
    for group in alarm_rows.closed_groups_with_open_members(conn, source=storm_rules.SOURCE, limit=10):
        cleared += clear_members(conn, group.id, outcome=Outcome(group.outcome or Outcome.CLEARED.value),
                                 now=now, limit=limit - cleared)
        if cleared >= limit:
            break
    return cleared


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
        municipality_id = alarm_rows.municipality_of(conn, alarm_id)
        if municipality_id is None or (visible_to is not None and municipality_id not in visible_to):
            raise AlarmNotFound(alarm_id)
        contact = alarm_rows.recipients_contact(conn, alarm_id, contact_id)
        if contact is None:
            # Only the alarm's own recipient's contacts: the id must not reach someone else's.
            raise IllegalTransition(EventKind.ACTION, None, f"Contact {contact_id} is not a contact of this alarm's recipient.",
                                    reason="contact_not_recipients")
        # Name and number as they were at the time: the contact list may change later.
        data.update(contact_id=contact_id, contact_name=contact.name, phone=contact.phone)
    if text:
        data["text"] = text
    return append_event(conn, alarm_id, Event(EventKind.ACTION, now, actor, data), visible_to=visible_to)
