"""Reading alarm facts for the key figures (domain/statistics.py) from the alarm rows.

One row per alarm: the ``alarms`` row carries the projection of its timeline (received,
queued, answered, outcome, mission), so the figures need the timeline only for the home
care's arrival (the first *arrived* action). A storm's group alarm (source ``storm``) is
left out: it only groups its members, which are counted as the device reports they are.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from respons.domain.routing import RoutingPlan, Target
from respons.domain.statistics import AlarmFact
from respons.engine import storms
from respons.store.tables import alarm_events, alarms, recipients


def alarm_facts(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime) -> list[AlarmFact]:
    """Facts for alarms received in [start, end) in the given municipalities."""
    rows = conn.execute(
        select(alarms.c.id, alarms.c.municipality_id, recipients.c.zone_id, alarms.c.recipient_id, alarms.c.type,
               alarms.c.category, alarms.c.received_at, alarms.c.queued_at, alarms.c.answered_at, alarms.c.outcome,
               alarms.c.closed_at, alarms.c.route, alarms.c.mission, alarms.c.missing_response,
               _first_arrival().label("arrived_at"))
        .outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
        .where(alarms.c.municipality_id.in_(sorted(municipality_ids)), alarms.c.received_at >= start,
               alarms.c.received_at < end, alarms.c.source != storms.SOURCE)
        .order_by(alarms.c.received_at)
    ).all()
    return [_fact(r) for r in rows]


def _first_arrival():
    # Per alarm, through the timeline's (alarm_id, seq) index: a report reads the timelines of
    # its own alarms only, however many million events the table holds.
    action = alarm_events.c.data["action"].as_string()  # JSON access, spelled per database by SQLAlchemy
    return (select(func.min(alarm_events.c.at))
            .where(alarm_events.c.alarm_id == alarms.c.id, alarm_events.c.kind == "action", action == "arrived")
            .scalar_subquery())


def _fact(r) -> AlarmFact:
    routed_direct = bool(r.route) and RoutingPlan.from_json(r.route).first.target is not Target.CENTRE
    mission = r.mission or {}
    asked_at = accepted_at = None
    if mission.get("dispatched_at"):
        # The centre dispatched home care: asked then, accepted when someone took the mission.
        asked_at = datetime.fromisoformat(mission["dispatched_at"])
        accepted_at = datetime.fromisoformat(mission["accepted_at"]) if mission.get("accepted_at") else None
    elif routed_direct and r.queued_at is None:
        # Offered to the zone on arrival; the responder who took the offer accepted it.
        asked_at, accepted_at = r.received_at, r.answered_at
    return AlarmFact(
        alarm_id=r.id, municipality_id=r.municipality_id, zone_id=r.zone_id, recipient_id=r.recipient_id, type=r.type,
        category=r.category, received_at=r.received_at, queued_at=r.queued_at, answered_at=r.answered_at,
        # Reached the centre's queue and was answered: the centre answered it (responders
        # only ever take offers, which are not queued).
        answered_by_centre=r.queued_at is not None and r.answered_at is not None,
        outcome=r.outcome, closed_at=r.closed_at, routed_direct=routed_direct,
        escalated=routed_direct and r.queued_at is not None, home_care_asked_at=asked_at, mission_accepted_at=accepted_at,
        arrived_at=r.arrived_at, missing_response=r.missing_response,
    )
