"""Months of invented alarm history for the demo, so the statistics have something to show.

``lifecycle`` is pure: for one simulated alarm it invents what happened (who answered when,
the outcome, home care's acceptance and arrival, an escalation where the municipality routes
directly) as a list of timeline events, and folds them through the domain
(``domain/lifecycle``), so every stored alarm row is exactly the projection of its timeline,
as for real alarms. ``seed_history`` writes them in bulk.

The shares are this project's assumptions, tuned to the figures in DOMAIN.md: about 60 % of
care alarms cleared at the centre, answer times around 30 s with a few percent over 60 s,
home care taking a dispatched mission within minutes and arriving within half an hour, and
about one directly routed alarm in ten escalating to the centre (the Farsund pilot).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.demo import traffic
from respons.domain import lifecycle
from respons.domain.alarm_types import ALARM_TYPES, Category
from respons.domain.lifecycle import Event, EventKind
from respons.domain.routing import OSLO, Reason, RoutingPlan, ServiceModel, Step, Target
from respons.store import alarms as alarm_store
from respons.store.alarms import event_row, projection_columns
from respons.store.tables import devices, recipients

SOURCE = "demo_history"
CENTRE_OUTCOMES = (("resolved_at_centre", 58), ("home_care_dispatched", 24), ("next_of_kin", 6),
                   ("false_alarm", 8), ("emergency_services", 4))
TECHNICAL_OUTCOMES = (("technician", 55), ("resolved_at_centre", 45))


@dataclass(frozen=True)
class Staff:
    operators: tuple[str, ...]  # actors: "user:12"
    responders: tuple[str, ...]


def lifecycle_of(rng: random.Random, *, at: datetime, type_code: str, device: str,
                 direct: bool, zone_id: int | None, staff: Staff) -> tuple[list[Event], dict | None, dict]:
    """The events of one alarm from receipt to closing; the mission (if any) and the route."""
    technical = ALARM_TYPES[type_code].category is Category.TECHNICAL
    events = [Event(EventKind.RECEIVED, at, f"device:{device}", {"source": SOURCE, "occurred_at": at.isoformat()})]
    operator = rng.choice(staff.operators)
    responder = rng.choice(staff.responders) if staff.responders else operator
    mission = None
    t = at
    if direct and not technical:
        route = RoutingPlan((Step(Target.ZONE, 240, 60, zone_id), Step(Target.CENTRE)), Reason.SERVICE_MODEL,
                            ServiceModel.ROUTING_WITH_BACKUP)
        events.append(Event(EventKind.OFFERED, at, "system:routing",
                            {"target": "zone", "zone_id": zone_id, "to": [], "round": 1, "step": 0}))
        if rng.random() < 0.9:  # home care takes it
            t = at + timedelta(seconds=rng.uniform(20, 200))
            events.append(Event(EventKind.ANSWERED, t, responder, {"via": "responder_app"}))
            t += timedelta(minutes=rng.uniform(10, 30))
            events.append(Event(EventKind.ACTION, t, responder, {"action": "arrived"}))
            t += timedelta(minutes=rng.uniform(5, 25))
            events.append(Event(EventKind.RESOLVED, t, responder, {"outcome": "home_care_dispatched"}))
            events.append(Event(EventKind.CLOSED, t, responder))
            return events, mission, route.to_json()
        t = at + timedelta(seconds=240)
        events.append(Event(EventKind.ESCALATED, t, "system:routing", {"to": "response_centre", "step": 1}))
    else:
        route = RoutingPlan((Step(Target.CENTRE),), Reason.SERVICE_MODEL, ServiceModel.FULL_RESPONSE)
        events.append(Event(EventKind.QUEUED, at, "system:routing", {"to": "response_centre", "step": 0,
                                                                      "reason": "service_model"}))
    # The centre answers: mostly well within a minute, sometimes not (a busy night).
    answer = rng.lognormvariate(3.3, 0.45) if rng.random() > 0.04 else rng.uniform(61, 180)
    t += timedelta(seconds=answer)
    events.append(Event(EventKind.ANSWERED, t, operator))
    outcome = _weighted(rng, TECHNICAL_OUTCOMES if technical else CENTRE_OUTCOMES)
    t += timedelta(seconds=rng.uniform(30, 150))
    if outcome in ("resolved_at_centre", "home_care_dispatched", "next_of_kin") and not technical:
        events.append(Event(EventKind.ACTION, t, operator, {"action": "call_recipient", "result": "answered"}))
    if outcome == "home_care_dispatched":
        dispatched = t
        events.append(Event(EventKind.ACTION, t, operator, {"action": "dispatch_home_care"}))
        accepted = t + timedelta(seconds=rng.uniform(30, 400))
        mission = {"zone_id": zone_id, "dispatched_at": dispatched.isoformat(), "dispatched_by": operator,
                   "accepted_at": accepted.isoformat(), "accepted_by": responder, "done_at": None}
        events.append(Event(EventKind.MISSION_ACCEPTED, accepted, responder))
        arrived = accepted + timedelta(minutes=rng.uniform(8, 30))
        events.append(Event(EventKind.ACTION, arrived, responder, {"action": "arrived"}))
        t = arrived + timedelta(minutes=rng.uniform(5, 25))
        mission["done_at"] = t.isoformat()
    events.append(Event(EventKind.RESOLVED, t, operator, {"outcome": outcome}))
    events.append(Event(EventKind.CLOSED, t + timedelta(seconds=rng.uniform(5, 60)), operator))
    return events, mission, route.to_json()


def _weighted(rng: random.Random, choices) -> str:
    names, weights = zip(*choices)
    return rng.choices(names, weights=weights)[0]


def routes_directly(windows, category: Category, moment: datetime) -> bool:
    """Does the municipality's agreement (demo/seed.py windows) route ``category`` away from
    the centre at ``moment`` (Oslo time)? The first window that covers it decides."""
    clock = moment.astimezone(OSLO).time()
    for window in windows:
        if category not in window.categories:
            continue
        starts, ends = window.hours
        if starts == ends or (starts <= clock < ends if starts < ends else (clock >= starts or clock < ends)):
            return window.service_model in (2, 3)
    return False


def seed_history(conn: Connection, *, now: datetime, days: int, rng: random.Random, specs, staff: Staff,
                 rate_per_recipient_day: float = traffic.alarms_per_recipient_day / 4) -> int:
    """Invent ``days`` of history before ``now`` for every municipality in ``specs`` (by number).
    The rate is a quarter of Kristiansand's, so a demo database stays small and quick; the last
    three hours are left empty, so every invented alarm is closed before ``now``."""
    from respons.store.tables import municipalities

    written = 0
    for spec in specs:
        municipality_id = conn.execute(select(municipalities.c.id).where(municipalities.c.number == spec.number)).scalar_one()
        owned = conn.execute(
            select(devices.c.id, devices.c.identity, devices.c.kind, devices.c.recipient_id, recipients.c.zone_id)
            .join(recipients, recipients.c.id == devices.c.recipient_id)
            .where(devices.c.municipality_id == municipality_id)).all()
        if not owned:
            continue
        by_identity = {d.identity: d for d in owned}
        n_recipients = len({d.recipient_id for d in owned})
        start = now - timedelta(days=days)
        alarm_rows, event_rows = [], []
        for simulated in traffic.schedule(rng, start=start, end=now - timedelta(hours=3),
                                          devices=[(d.identity, d.kind) for d in owned],
                                          rate_per_recipient_day=rate_per_recipient_day, n_recipients=n_recipients):
            device = by_identity[simulated.device]
            category = ALARM_TYPES[simulated.type].category
            alarm_id = str(uuid.UUID(int=rng.getrandbits(128)))
            events, mission, route = lifecycle_of(
                rng, at=simulated.at, type_code=simulated.type, device=device.identity,
                direct=routes_directly(spec.windows, category, simulated.at), zone_id=device.zone_id, staff=staff)
            projection = lifecycle.fold(events)
            kind = ALARM_TYPES[simulated.type]
            alarm_rows.append(dict(
                id=alarm_id, municipality_id=municipality_id, recipient_id=device.recipient_id, device_id=device.id,
                type=kind.code, category=kind.category.value, priority=int(kind.priority), source=SOURCE,
                occurred_at=simulated.at, received_at=simulated.at, payload=None, idempotency_scope=None,
                idempotency_key=None, request_fingerprint=None, route=route, route_step=1 if any(
                    e.kind is EventKind.ESCALATED for e in events) else 0, mission=mission,
                **projection_columns(projection)))
            event_rows += [event_row(alarm_id, i, e) for i, e in enumerate(events, start=1)]
        alarm_store.insert_many(conn, alarm_rows, event_rows)
        written += len(alarm_rows)
    return written

