"""Missions: home care dispatched by the centre, and the alert when they do not respond.

When an operator dispatches home care for an alarm the centre holds, the mission is
offered to everyone on duty in the recipient's zone (the responder app lists it). It must
be **accepted** within ``accept_within`` and **completed** (reported done) within
``complete_within``; both limits are frozen onto the mission when it is dispatched. Each is
a database timer; when one falls due and the mission has not got that far, a
``missing_response`` event marks the alarm, and the console flags it on the queue with the
critical sound (seed 000: the centre must know when help does not arrive).

Accepting is first-wins, like accepting a routed alarm: the second responder is refused
and told who has it. A missing response is proposed as a deviation by the deviations
feature, reacting to the committed ``missing_response`` change (engine/deviations.react).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from respons.domain import routing as routing_rules
from respons.domain.lifecycle import Action, Event, EventKind, IllegalTransition
from respons.engine import alarms as alarm_actions
from respons.engine import routing, timers
from respons.engine.timeline import append_event
from respons.store import alarms as alarm_rows
from respons.store.alarms import AlarmNotFound

ACCEPT_DEADLINE = "mission_accept"
COMPLETE_DEADLINE = "mission_complete"


def dispatch(conn: Connection, alarm_id: str, *, actor: str, visible_to: frozenset[int] | None, now: datetime,
             accept_within: timedelta, complete_within: timedelta, text: str | None = None):
    row = alarm_rows.dispatch_target(conn, alarm_id)
    if row is None or (visible_to is not None and row.municipality_id not in visible_to):
        raise AlarmNotFound(alarm_id)
    if row.zone_id is None:
        # No zone (no recipient, or one without a zone, or a storm's group alarm): no phone
        # would ever be offered it, and the centre would learn that only at the deadline.
        raise IllegalTransition(EventKind.ACTION, None, "The recipient has no zone to send home care to.",
                                reason="no_zone")
    mission = {"zone_id": row.zone_id, "dispatched_at": now.isoformat(), "dispatched_by": actor,
               "accept_by": (now + accept_within).isoformat(), "complete_by": (now + complete_within).isoformat(),
               "accepted_at": None, "accepted_by": None, "done_at": None}
    # The mission first, then the event: the event's announcement then reaches the zone's phones.
    alarm_rows.set_mission(conn, alarm_id, mission)
    projection = alarm_actions.record_action(conn, alarm_id, action=Action.DISPATCH_HOME_CARE, actor=actor,
                                             visible_to=visible_to, now=now, text=text)
    for kind in (ACCEPT_DEADLINE, COMPLETE_DEADLINE):
        timers.cancel(conn, kind, alarm_id=alarm_id)  # a new dispatch replaces the old mission's limits
    timers.schedule(conn, ACCEPT_DEADLINE, alarm_id=alarm_id, due_at=now + accept_within, now=now)
    timers.schedule(conn, COMPLETE_DEADLINE, alarm_id=alarm_id, due_at=now + complete_within, now=now)
    return projection


def _mission(conn: Connection, alarm_id: str, visible_to: frozenset[int] | None):
    """The mission under the row lock (PostgreSQL): it is read, checked and written back
    whole, so two responders on two nodes must not both see it untaken."""
    row = alarm_rows.mission_for_update(conn, alarm_id)
    if row is None or (visible_to is not None and row.municipality_id not in visible_to):
        raise AlarmNotFound(alarm_id)
    return row.mission


def accept(conn: Connection, alarm_id: str, *, user_id: int, now: datetime, visible_to: frozenset[int]):
    row, tags = routing.field_row(conn, alarm_id, user_id=user_id, visible_to=visible_to)  # 404, and the lock
    mission = row.mission
    if mission and routing_rules.zone_tag(mission.get("zone_id")) not in tags:
        raise AlarmNotFound(alarm_id)  # dispatched, but not to a zone they are on duty in
    if not mission or mission.get("done_at"):
        raise IllegalTransition(EventKind.MISSION_ACCEPTED, None, "There is no open mission for this alarm.",
                                reason="no_open_mission")
    if mission.get("accepted_by"):
        raise IllegalTransition(EventKind.MISSION_ACCEPTED, None, "The mission has already been accepted.",
                                reason="mission_taken")
    actor = f"user:{user_id}"
    projection = append_event(conn, alarm_id, Event(EventKind.MISSION_ACCEPTED, now, actor), visible_to=visible_to)
    alarm_rows.set_mission(conn, alarm_id, {**mission, "accepted_at": now.isoformat(), "accepted_by": actor})
    timers.cancel(conn, ACCEPT_DEADLINE, alarm_id=alarm_id)
    return projection


def report(conn: Connection, alarm_id: str, *, user_id: int, action: Action, now: datetime, visible_to: frozenset[int],
           text: str | None = None):
    """En route / arrived / done from the responder who accepted the mission."""
    mission = _mission(conn, alarm_id, visible_to)
    actor = f"user:{user_id}"
    if not mission or mission.get("accepted_by") != actor:
        raise IllegalTransition(EventKind.ACTION, None, "Only the responder who accepted the mission can report on it.",
                                reason="mission_not_yours")
    projection = alarm_actions.record_action(conn, alarm_id, action=action, actor=actor, visible_to=visible_to, now=now,
                                             text=text)
    if action is Action.DONE:
        alarm_rows.set_mission(conn, alarm_id, {**mission, "done_at": now.isoformat()})
        timers.cancel(conn, COMPLETE_DEADLINE, alarm_id=alarm_id)
    return projection


def _missing_response(conn: Connection, alarm_id: str, now: datetime, *, field: str, missing: str) -> None:
    row = alarm_rows.mission_and_state(conn, alarm_id)
    if row is None or not row.mission or row.mission.get(field) or row.state not in ("answered", "resolved"):
        return  # responded in time, or the alarm is closed
    append_event(conn, alarm_id, Event(EventKind.MISSING_RESPONSE, now, "system:timer",
                                       {"missing": missing, "zone_id": row.mission.get("zone_id")}))


def on_accept_deadline(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: nobody in the zone accepted the mission in time."""
    _missing_response(conn, alarm_id, now, field="accepted_at", missing="not_accepted")


def on_complete_deadline(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: the mission was not reported done in time."""
    _missing_response(conn, alarm_id, now, field="done_at", missing="not_completed")


MISSING_TITLES = {"not_accepted": "Hjemmetjenesten tok ikke oppdraget i tide",
                  "not_completed": "Hjemmetjenesten meldte ikke oppdraget utført i tide"}
