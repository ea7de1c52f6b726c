"""Routing and escalation: walking an alarm's frozen routing plan with database timers.

When an alarm arrives, ``plan_for`` loads the municipality's agreement rules and asks the
pure ``domain.routing.plan_route`` for a plan; the plan is stored on the alarm (``route``)
and never re-read from the agreement again, so editing an agreement changes only alarms
that arrive afterwards. ``enter_step`` carries out one step:

- centre: ``queued`` / ``escalated`` event, and the centre's answer deadline starts;
- zone / technicians: ``offered`` to everyone on duty there, a resend timer, and (when the
  step has a time limit) an escalation timer to the next step;
- next of kin: an SMS to each contact who takes alarms, queued in the messages outbox in the
  same transaction (messages/outbox.py; the worker sends after the commit), and the alarm is
  theirs to confirm within the step's time. A confirmation (an SMS reply or the message's
  link: ``kin_confirmed``) resolves and closes it as handled by next of kin; no confirmation
  in time, every message failed, or every contact said no → the next step (the centre), with
  the reason on the timeline. Without a contact who takes alarms, on to the next step at once.

Entering a step, accepting and escalating cancel the running resend and escalation timers,
which bumps their fence: a timer from a step the alarm has left can never act (DESIGN.md
invariant 4), so a firing timer always belongs to the alarm's current step. A restart finds pending timers in the
database and carries on where the chain was.

Accepting is ``answered`` from ``offered``: the journal (SQLite) or ``FOR UPDATE``
(PostgreSQL) serialises two responders, the domain refuses the second, and the refusal
names who has it.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import date, datetime, timedelta
from typing import Any, Callable, NamedTuple

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from respons.domain import routing
from respons.domain.alarm_types import ALARM_TYPES
from respons.domain.lifecycle import Event, EventKind, IllegalTransition, Outcome, State
from respons.domain.routing import AgreementRules, AlarmFacts, RoutingPlan, Step, Target, Window
from respons.engine import timeline, timers
from respons.store import alarms as alarm_rows
from respons.store.alarms import AlarmNotFound
from respons.store.db import ForEachDatabase, fetch_rows, in_list, list_value
from respons.store.journal import announce
from respons.messages import outbox as messages
from respons.store.tables import (
    agreement_windows,
    agreements,
    devices,
    recipients,
    responder_presence,
    staff,
    users,
    zones,
)

DUTY_CHANGED = "duty_changed"  # a live change: this responder's duty changed
RESEND = "route_resend"
ESCALATE = "route_escalate"
SYSTEM = "system:routing"


# --- the plan --------------------------------------------------------------------------------


def load_rules(conn: Connection, municipality_id: int, today: date) -> AgreementRules | None:
    """The agreement in force for the municipality on ``today`` (Oslo date), as data.
    (Next-of-kin choices are the recipient's; ``plan_for`` adds them per alarm.)"""
    agreement = conn.execute(
        select(agreements).where(
            agreements.c.municipality_id == municipality_id,
            agreements.c.valid_from <= today,
            or_(agreements.c.valid_to.is_(None), agreements.c.valid_to >= today),
        ).order_by(agreements.c.valid_from.desc())
    ).first()
    if agreement is None:
        return None
    windows = tuple(
        Window(routing.ServiceModel(w.service_model), w.starts, w.ends, frozenset(w.categories), w.weekdays,
               w.escalation_minutes, frozenset(w.device_kinds) if w.device_kinds else None)
        for w in conn.execute(select(agreement_windows).where(agreement_windows.c.agreement_id == agreement.id)
                              .order_by(agreement_windows.c.id))
    )
    staffed = frozenset(conn.execute(select(zones.c.id).where(zones.c.municipality_id == municipality_id,
                                                              zones.c.staffed_housing.is_(True))).scalars())
    return AgreementRules(windows=windows, resend_seconds=agreement.resend_seconds or routing.DEFAULT_RESEND_SECONDS,
                          staffed_housing_zones=staffed,
                          kin_confirm_seconds=60 * agreement.kin_confirm_minutes if agreement.kin_confirm_minutes
                          else routing.DEFAULT_KIN_CONFIRM_SECONDS)


# Agreement rules change seldom and are read for every arriving alarm: a node keeps them for
# RULES_TTL_SECONDS (measured in bench/intake_http.py: reading them per alarm halved the
# intake rate). The registry announces a changed agreement (``routing.AGREEMENT_CHANGED``);
# every node's cache hears it on its live bus, this node's at the commit and the others'
# through the relay, and drops that municipality's copy, so the TTL only bounds a change
# the announcement missed. Running alarms are unaffected either way (their plan is frozen).
RULES_TTL_SECONDS = 10.0


class RulesCache:
    """One node's copy of the agreement rules in force, per municipality and Oslo date.
    Owned by the runtime (respons/runtime.py); a unit without one reads the rules each time."""

    def __init__(self, ttl_seconds: float = RULES_TTL_SECONDS,
                 load: Callable[[Connection, int, date], AgreementRules | None] = load_rules):
        self._ttl = ttl_seconds
        self._load = load
        self._entries: dict[tuple[int, date], tuple[float, AgreementRules | None]] = {}

    def rules(self, conn: Connection, municipality_id: int, today: date) -> AgreementRules | None:
        key = (municipality_id, today)
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        rules = self._load(conn, municipality_id, today)
        self._entries[key] = (time.monotonic() + self._ttl, rules)
        return rules

    def forget(self, municipality_id: int | None = None) -> None:
        """Drop cached agreement rules (one municipality's, or all)."""
        # Called from the relay's thread while the journal's thread may add an entry: iterate a
        # copy (``list`` of a dict is one step under the GIL), never the dict itself.
        for key in list(self._entries):
            if municipality_id is None or key[0] == municipality_id:
                self._entries.pop(key, None)

    # As an observer of the live bus (engine/live.py):
    def changes(self, changes: list[dict]) -> None:
        for change in changes:
            if change.get("event") == routing.AGREEMENT_CHANGED:
                self.forget(change.get("agreement_of"))

    def resync(self) -> None:
        self.forget()  # changes may have been missed


_PERSON_AND_DEVICE = (
    select(recipients.c.zone_id, recipients.c.kin_categories, devices.c.kind)
    .select_from(recipients.outerjoin(devices, and_(devices.c.id == bindparam("device_id"),
                                                     devices.c.recipient_id == recipients.c.id)))
    .where(recipients.c.id == bindparam("recipient_id"))
)


def plan_for(conn: Connection, *, municipality_id: int, recipient_id: int | None, category: str,
             device_id: int | None, now: datetime, rules_cache: RulesCache | None = None) -> RoutingPlan:
    zone_id = device_kind = None
    kin: frozenset[str] = frozenset()
    if recipient_id is not None:
        # One round trip for the recipient's zone and next-of-kin choice and the device's kind.
        person = conn.execute(_PERSON_AND_DEVICE, {"recipient_id": recipient_id, "device_id": device_id}).first()
        if person is not None:
            zone_id, kin, device_kind = person.zone_id, frozenset(person.kin_categories or ()), person.kind
    elif device_id is not None:
        device_kind = conn.execute(select(devices.c.kind).where(devices.c.id == device_id)).scalar_one_or_none()
    return _plan(conn, municipality_id, AlarmFacts(category, recipient_id, zone_id, device_kind), kin, now, rules_cache)


def _plan(conn: Connection, municipality_id: int, facts: AlarmFacts, kin: frozenset[str], now: datetime,
          rules_cache: RulesCache | None) -> RoutingPlan:
    """The plan for an alarm with these facts under the agreement in force on its Oslo day."""
    today = routing.oslo_date(now)
    rules = rules_cache.rules(conn, municipality_id, today) if rules_cache else load_rules(conn, municipality_id, today)
    if rules is not None and kin:
        rules = dataclasses.replace(rules, next_of_kin={facts.recipient_id: kin})
    return routing.plan_route(facts, rules, now)


class PlanRequest(NamedTuple):  # immutable, and one per alarm of a batch (as frames.Frame)
    municipality_id: int
    recipient_id: int | None
    category: str
    device_id: int | None
    now: datetime  # when the alarm arrived: the agreement, the day and the hour it is planned for


_PEOPLE = ForEachDatabase(lambda postgres: select(recipients.c.id, recipients.c.zone_id, recipients.c.kin_categories)
                          .where(in_list(postgres, recipients.c.id, "ids")))
_DEVICES = ForEachDatabase(lambda postgres: select(devices.c.id, devices.c.kind, devices.c.recipient_id)
                           .where(in_list(postgres, devices.c.id, "ids")))


def plan_many(conn: Connection, requests: list[PlanRequest], *,
              rules_cache: RulesCache | None = None) -> list[RoutingPlan]:
    """``plan_for`` for many alarms at once (a batch unit, engine/receiving.receive_many): the
    recipients' zones and next-of-kin choices and the devices' kinds in one query each."""
    recipient_ids = {r.recipient_id for r in requests if r.recipient_id is not None}
    device_ids = {r.device_id for r in requests if r.device_id is not None}
    people = {row.id: row for row in fetch_rows(conn, _PEOPLE(conn), {"ids": list_value(conn, recipient_ids)})
              } if recipient_ids else {}
    owned = {row.id: row for row in fetch_rows(conn, _DEVICES(conn), {"ids": list_value(conn, device_ids)})
             } if device_ids else {}
    plans = []
    for request in requests:
        person = people.get(request.recipient_id)
        zone_id, kin = (person.zone_id, frozenset(person.kin_categories or ())) if person else (None, frozenset())
        device = owned.get(request.device_id)
        # As plan_for: a recipient's alarm takes the kind of the recipient's own device only.
        kind = device.kind if device and (request.recipient_id is None or device.recipient_id == request.recipient_id) else None
        facts = AlarmFacts(request.category, request.recipient_id, zone_id, kind)
        plans.append(_plan(conn, request.municipality_id, facts, kin, request.now, rules_cache))
    return plans


# --- walking the plan --------------------------------------------------------------------------


# Why an alarm left a next-of-kin step for the next one (on the ``escalated`` event).
KIN_NOT_CONFIRMED, KIN_UNREACHABLE, KIN_DECLINED, NO_KIN = "kin_not_confirmed", "kin_unreachable", "kin_declined", "no_kin"
KIN_NONE = "kin_none"  # some said no, the others could not be reached


def enter_step(conn: Connection, alarm_id: str, index: int, now: datetime, *, escalation: bool = False,
               reason: str | None = None) -> None:
    row = alarm_rows.route_of(conn, alarm_id)
    plan = RoutingPlan.from_json(row.route)
    step = plan.steps[index]
    alarm_rows.set_route_step(conn, alarm_id, index)
    _cancel_route_timers(conn, alarm_id)
    if step.target is Target.CENTRE:
        kind = EventKind.ESCALATED if escalation else EventKind.QUEUED
        data: dict[str, Any] = {"to": "response_centre", "step": index, **({"reason": reason} if reason else {})}
        timeline.append_event(conn, alarm_id, Event(kind, now, SYSTEM, data))
        timeline.start_answer_deadline(conn, alarm_id, now)
        return
    if step.target is Target.NEXT_OF_KIN:
        if not _ask_next_of_kin(conn, alarm_id, index, step, row.municipality_id, row.recipient_id, now):
            return enter_step(conn, alarm_id, index + 1, now, escalation=True, reason=NO_KIN)
    else:
        _offer(conn, alarm_id, index, step, row.municipality_id, now, round_=1)
    if step.seconds is not None and index + 1 < len(plan.steps):
        timers.schedule(conn, ESCALATE, alarm_id=alarm_id, due_at=now + timedelta(seconds=step.seconds), now=now)


def _offer(conn: Connection, alarm_id: str, index: int, step: Step, municipality_id: int, now: datetime, *, round_: int) -> None:
    on_duty = on_duty_for(conn, step, municipality_id)
    data: dict[str, Any] = {"target": step.target.value, "zone_id": step.zone_id, "to": on_duty, "round": round_,
                            "step": index}
    timeline.append_event(conn, alarm_id, Event(EventKind.OFFERED, now, SYSTEM, data))
    if on_duty:
        # Their phones hear of it even with the app closed (Web Push, after the commit).
        messages.push_offer(conn, alarm_id, municipality_id=municipality_id, user_ids=on_duty, step=index,
                            label=_offer_label(conn, alarm_id), now=now, step_seconds=step.seconds)
    if step.resend_seconds:
        timers.schedule(conn, RESEND, alarm_id=alarm_id, due_at=now + timedelta(seconds=step.resend_seconds), now=now)


def on_duty_for(conn: Connection, step: Step, municipality_id: int) -> list[int]:
    """User ids logged in where the step points: the zone, or the municipality's technicians."""
    query = select(responder_presence.c.user_id).where(responder_presence.c.logged_out_at.is_(None))
    if step.target is Target.TECHNICIANS:
        query = query.where(responder_presence.c.role == "technician", responder_presence.c.municipality_id == municipality_id)
    else:
        query = query.where(responder_presence.c.role == "responder", responder_presence.c.zone_id == step.zone_id)
    return sorted(set(conn.execute(query).scalars()))


def _cancel_route_timers(conn: Connection, alarm_id: str) -> None:
    timers.cancel(conn, RESEND, alarm_id=alarm_id)
    timers.cancel(conn, ESCALATE, alarm_id=alarm_id)


def on_resend(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: offer the alarm again to whoever is on duty at its step now."""
    row = alarm_rows.routing_state(conn, alarm_id)  # locked: an accept on another node waits
    if row is None or row.state != State.OFFERED:
        return  # accepted or gone meanwhile
    index = row.route_step or 0
    last_round = alarm_rows.latest_event_data(conn, alarm_id, EventKind.OFFERED) or {}
    step = RoutingPlan.from_json(row.route).steps[index]
    _offer(conn, alarm_id, index, step, row.municipality_id, now, round_=int(last_round.get("round", 1)) + 1)


def on_escalate(conn: Connection, alarm_id: str, now: datetime) -> None:
    """Timer handler: nobody accepted (or no next of kin confirmed) within the step's time
    limit; on to the next step."""
    row = alarm_rows.routing_state(conn, alarm_id)
    if row is None or row.state != State.OFFERED:
        return
    index = row.route_step or 0
    kin = RoutingPlan.from_json(row.route).steps[index].target is Target.NEXT_OF_KIN
    enter_step(conn, alarm_id, index + 1, now, escalation=True, reason=KIN_NOT_CONFIRMED if kin else None)


# --- responders ----------------------------------------------------------------------------------


class NotOnDuty(Exception):
    """The user is not logged in where the alarm is offered."""


def field_tags(conn: Connection, user_id: int) -> frozenset[str]:
    """The duty tags of a responder or technician: the zones they are logged in to, their
    technician duty, and themselves."""
    rows = conn.execute(select(responder_presence.c.zone_id, responder_presence.c.role,
                               responder_presence.c.municipality_id)
                        .where(responder_presence.c.user_id == user_id,
                               responder_presence.c.logged_out_at.is_(None))).all()
    return routing.duty_tags(f"user:{user_id}", [r.zone_id for r in rows if r.zone_id is not None],
                             [r.municipality_id for r in rows if r.role == "technician"])


def field_row(conn: Connection, alarm_id: str, *, user_id: int, visible_to: frozenset[int]):
    """The alarm row (locked on PostgreSQL) and the responder's duty tags, for a responder's
    action. An alarm that was never offered to them, nor dispatched to nor held by them, does
    not exist for them (404), even in their own municipality: the centre's queue is not theirs
    to take from. The row lock makes the checks that follow hold until the action commits: an
    escalation or a colleague's accept on another node waits, or is seen (issue 14)."""
    row = alarm_rows.field_state(conn, alarm_id, lock=True)
    if row is None or row.municipality_id not in visible_to:
        raise AlarmNotFound(alarm_id)
    tags = field_tags(conn, user_id)
    if not concerns(row, tags):
        raise AlarmNotFound(alarm_id)
    return row, tags


def concerns(row, tags: frozenset[str]) -> bool:
    """Was this alarm ever put to someone with these duty tags (offered, dispatched, held)?
    Decides 404 (never) from a refusal that says why (it was, but is not now)."""
    return bool(routing.audience(row.route, row.route_step, row.municipality_id, row.mission,
                                 (row.answered_by,)) & tags)


def _in_hand(row, tags: frozenset[str], user_id: int) -> bool:
    return routing.in_hand(route=row.route, route_step=row.route_step, state=row.state,
                           municipality_id=row.municipality_id, mission=row.mission, answered_by=row.answered_by,
                           group_id=row.group_id, tags=tags, actor=f"user:{user_id}")


def in_hand_of(conn: Connection, alarm_id: str, *, user_id: int, visible_to: frozenset[int]) -> bool:
    """May the responder see this alarm now (the app's alarm page)? Read-only, no lock."""
    row = alarm_rows.field_state(conn, alarm_id, lock=False)
    return (row is not None and row.municipality_id in visible_to
            and _in_hand(row, field_tags(conn, user_id), user_id))


def taken_by(conn: Connection, alarm_id: str, *, user_id: int, visible_to: frozenset[int]) -> bool:
    """Has the responder taken this open alarm, or its mission (calls from the app)? Read-only."""
    row = alarm_rows.field_state(conn, alarm_id, lock=False)
    return (row is not None and row.municipality_id in visible_to
            and _in_hand(row, field_tags(conn, user_id), user_id)
            and routing.taken_by(answered_by=row.answered_by, mission=row.mission, actor=f"user:{user_id}"))


def require_in_hand(conn: Connection, alarm_id: str, *, user_id: int, visible_to: frozenset[int]) -> None:
    """404 unless the alarm is the responder's to work on now (notes, calls, status)."""
    row, tags = field_row(conn, alarm_id, user_id=user_id, visible_to=visible_to)
    if not _in_hand(row, tags, user_id):
        raise AlarmNotFound(alarm_id)


def _require_offered(conn: Connection, alarm_id: str, kind: EventKind, *, user_id: int, visible_to: frozenset[int]) -> None:
    row, tags = field_row(conn, alarm_id, user_id=user_id, visible_to=visible_to)
    if row.group_id is not None or not routing.offered_to(row.route, row.route_step, row.state, row.municipality_id, tags):
        # It was theirs to see (offered to their zone before), but is not on offer now: taken
        # by a colleague, escalated to the centre, grouped into a storm, or the offer moved on.
        raise IllegalTransition(kind, State(row.state), "The alarm is no longer offered to you.",
                                reason="no_longer_offered")


def accept(conn: Connection, alarm_id: str, *, user_id: int, now: datetime, visible_to: frozenset[int]):
    """The first responder to accept gets the alarm; everyone else is refused by the domain."""
    _require_offered(conn, alarm_id, EventKind.ANSWERED, user_id=user_id, visible_to=visible_to)
    projection = timeline.append_event(conn, alarm_id, Event(EventKind.ANSWERED, now, f"user:{user_id}",
                                                                  {"via": "responder_app"}), visible_to=visible_to)
    _cancel_route_timers(conn, alarm_id)
    return projection


def decline(conn: Connection, alarm_id: str, *, user_id: int, now: datetime, visible_to: frozenset[int], reason: str | None):
    _require_offered(conn, alarm_id, EventKind.DECLINED, user_id=user_id, visible_to=visible_to)
    return timeline.append_event(conn, alarm_id, Event(EventKind.DECLINED, now, f"user:{user_id}",
                                                            {"reason": reason} if reason else {}), visible_to=visible_to)


def hand_back(conn: Connection, alarm_id: str, *, user_id: int, now: datetime, visible_to: frozenset[int], reason: str | None):
    """A responder gives the alarm to the centre: back in its queue with the whole history."""
    row, _ = field_row(conn, alarm_id, user_id=user_id, visible_to=visible_to)
    if row.answered_by != f"user:{user_id}":
        raise IllegalTransition(EventKind.HANDED_BACK, None, "Only the responder who has the alarm can hand it back.",
                                reason="hand_back_not_yours")
    projection = timeline.append_event(conn, alarm_id, Event(EventKind.HANDED_BACK, now, f"user:{user_id}",
                                                                  {"reason": reason} if reason else {}), visible_to=visible_to)
    timeline.start_answer_deadline(conn, alarm_id, now)
    return projection


def field_lists(conn: Connection, *, user_id: int, municipalities: frozenset[int]) -> tuple[list[str], list[str]]:
    """(offered, mine): the alarm ids on offer to this responder's duty now (routing offers
    and missions the centre dispatched to their zones), and those they hold."""
    tags = field_tags(conn, user_id)
    actor = f"user:{user_id}"
    rows = alarm_rows.field_candidates(conn, municipalities)
    offered, mine = [], []
    for r in rows:
        mission = r.mission or {}
        if r.state == State.OFFERED and routing.offered_to(r.route, r.route_step, r.state, r.municipality_id, tags):
            offered.append(r.id)
        elif r.answered_by == actor:
            mine.append(r.id)
        elif mission and not mission.get("done_at") and r.state != State.OFFERED:
            if mission.get("accepted_by") == actor:
                mine.append(r.id)
            elif routing.mission_open_to(mission, tags):
                offered.append(r.id)  # home care dispatched by the centre, waiting to be taken
    return offered, mine


def log_in_to_zones(conn: Connection, *, user_id: int, zone_ids: list[int], role: str, now: datetime,
                    municipality_ids: frozenset[int]) -> list[int]:
    """Replace the user's presence with these zones (a night shift may cover several)."""
    log_out(conn, user_id=user_id, now=now)
    rows = conn.execute(select(zones.c.id, zones.c.municipality_id).where(zones.c.id.in_(zone_ids))).all()
    allowed = [r for r in rows if r.municipality_id in municipality_ids]
    if len(allowed) != len(set(zone_ids)):
        raise AlarmNotFound("zone")  # a zone outside the user's municipalities looks missing
    if allowed:
        conn.execute(insert(responder_presence), [
            dict(user_id=user_id, municipality_id=r.municipality_id, zone_id=r.id, role=role, logged_in_at=now)
            for r in allowed
        ])
    return [r.id for r in allowed]


def log_in_as_technician(conn: Connection, *, user_id: int, municipality_id: int, now: datetime) -> None:
    log_out(conn, user_id=user_id, now=now)
    conn.execute(insert(responder_presence).values(user_id=user_id, municipality_id=municipality_id, zone_id=None,
                                                   role="technician", logged_in_at=now))


def log_out(conn: Connection, *, user_id: int, now: datetime) -> None:
    """Off duty everywhere (also the first step of going on duty somewhere else)."""
    conn.execute(update(responder_presence).where(responder_presence.c.user_id == user_id,
                                                  responder_presence.c.logged_out_at.is_(None)).values(logged_out_at=now))
    # The person's open streams filter by the duty they had: tell them to start again.
    announce(conn, duty_changed(user_id))


def duty_changed(user_id: int) -> dict:
    return {"event": DUTY_CHANGED, "municipality_id": None, "audience": [f"user:{user_id}"]}


def colleagues(conn: Connection, zone_ids: list[int]) -> list[dict]:
    """Who is logged in to these zones, with their competence (from the staff register)."""
    rows = conn.execute(
        select(users.c.id, users.c.display_name, responder_presence.c.zone_id, zones.c.name.label("zone"))
        .join(users, users.c.id == responder_presence.c.user_id)
        .join(zones, zones.c.id == responder_presence.c.zone_id)
        .where(responder_presence.c.logged_out_at.is_(None), responder_presence.c.zone_id.in_(zone_ids))
        .order_by(zones.c.name, users.c.display_name)
    ).all()
    competence = {r.name: r.competence for r in conn.execute(select(staff.c.name, staff.c.competence))}
    return [{"user_id": r.id, "name": r.display_name, "zone_id": r.zone_id, "zone": r.zone,
             "competence": competence.get(r.display_name)} for r in rows]


# --- next of kin -------------------------------------------------------------------------------------


def _ask_next_of_kin(conn: Connection, alarm_id: str, index: int, step: Step, municipality_id: int,
                     recipient_id: int | None, now: datetime) -> bool:
    if recipient_id is None:
        return False
    seconds = step.seconds or routing.DEFAULT_KIN_CONFIRM_SECONDS
    asked = messages.ask_next_of_kin(conn, alarm_id, municipality_id=municipality_id, recipient_id=recipient_id,
                                     seconds=seconds, now=now)
    if not asked:
        return False
    # Offered to them: handled only when one of them confirms (``kin_confirmed``).
    timeline.append_event(conn, alarm_id, Event(EventKind.KIN_ASKED, now, SYSTEM, {
        "contacts": asked, "step": index, "confirm_by": (now + timedelta(seconds=seconds)).isoformat()}))
    return True


def waiting_for_kin(conn: Connection, alarm_id: str) -> bool:
    """Is the alarm offered to next of kin now (their confirmation still counts)? Reads the
    alarm's row under its lock (PostgreSQL): what follows in the unit holds until it commits."""
    row = alarm_rows.routing_state(conn, alarm_id)
    return (row is not None and row.state == State.OFFERED
            and RoutingPlan.from_json(row.route).steps[row.route_step or 0].target is Target.NEXT_OF_KIN)


def kin_confirmed(conn: Connection, alarm_id: str, *, contact_id: int | None, name: str | None, via: str,
                  now: datetime) -> bool:
    """A next of kin says they go: the alarm is theirs, resolved and closed as handled by
    next of kin. False when the alarm no longer waits for them (the centre has it: their
    answer is still on the timeline, written by the caller)."""
    if not waiting_for_kin(conn, alarm_id):
        return False
    actor = f"contact:{contact_id}" if contact_id is not None else SYSTEM
    _cancel_route_timers(conn, alarm_id)
    timeline.append_event(conn, alarm_id, Event(EventKind.KIN_CONFIRMED, now, actor, {"via": via, "name": name}))
    timeline.append_event(conn, alarm_id, Event(EventKind.RESOLVED, now, actor, {"outcome": Outcome.NEXT_OF_KIN.value}))
    timeline.append_event(conn, alarm_id, Event(EventKind.CLOSED, now, SYSTEM))
    return True


def kin_unavailable(conn: Connection, alarm_id: str, *, reason: str, now: datetime) -> bool:
    """Nobody asked can confirm any more (every message failed, or every contact said no):
    the next step now, not at the end of the time."""
    if not waiting_for_kin(conn, alarm_id):
        return False
    row = alarm_rows.routing_state(conn, alarm_id)
    enter_step(conn, alarm_id, (row.route_step or 0) + 1, now, escalation=True, reason=reason)
    return True


def _offer_label(conn: Connection, alarm_id: str) -> str:
    """What a responder's lock screen says about an offer: the alarm's type and zone, no
    name or address (the person is named in the app, behind the log-in)."""
    facts = alarm_rows.offer_facts(conn, alarm_id)
    label = ALARM_TYPES[facts.type].label_nb
    return f"{label} – {facts.zone}" if facts.zone else label
