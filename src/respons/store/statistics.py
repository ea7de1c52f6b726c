"""Reading alarm facts for the key figures (domain/statistics.py) from the alarm rows.

One row per alarm: the ``alarms`` row carries the projection of its timeline (received,
queued, answered, outcome, mission), so the figures need the timeline only for the home
care's arrival (the first *arrived* action). A storm's group alarm (source ``storm``) is
left out: it only groups its members, which are counted as the device reports they are.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from respons.domain.routing import Target
from respons.domain.statistics import ANSWER_TARGET_SECONDS, CLEARED_AT_CENTRE, AlarmFact, Counts
from respons.engine import storms
from respons.store.tables import alarm_events, alarms, recipients


def alarm_facts(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime) -> list[AlarmFact]:
    """Facts for alarms received in [start, end) in the given municipalities.

    The route's first target and the mission's times are read as text by the database (JSON
    paths), not as whole JSON documents: a month of a large municipality is tens of thousands
    of rows, and decoding every plan and mission in Python was most of the time."""
    rows = conn.execute(
        select(alarms.c.id, alarms.c.municipality_id, recipients.c.zone_id, alarms.c.recipient_id, alarms.c.type,
               alarms.c.category, alarms.c.received_at, alarms.c.queued_at, alarms.c.answered_at, alarms.c.outcome,
               alarms.c.closed_at, alarms.c.missing_response,
               alarms.c.route[("steps", 0, "target")].as_string().label("first_target"),
               alarms.c.mission["dispatched_at"].as_string().label("dispatched_at"),
               alarms.c.mission["accepted_at"].as_string().label("accepted_at"),
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
    routed_direct = r.first_target is not None and r.first_target != Target.CENTRE.value
    asked_at = accepted_at = None
    if r.dispatched_at:
        # The centre dispatched home care: asked then, accepted when someone took the mission.
        asked_at = datetime.fromisoformat(r.dispatched_at)
        accepted_at = datetime.fromisoformat(r.accepted_at) if r.accepted_at else None
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


def counts_by_municipality(conn: Connection, *, municipality_ids: frozenset[int], start: datetime, end: datetime,
                           now: datetime, minutes_per_cleared_alarm: float) -> dict[int, Counts]:
    """The additive key figures per municipality, summed by the database in one pass: the
    yearly report across 40 municipalities reads millions of alarms and must not turn each
    into a Python object. The same definitions as ``domain.statistics.key_figures`` (a test
    compares the two on the same alarms)."""
    answered_by_centre = and_(alarms.c.queued_at.is_not(None), alarms.c.answered_at.is_not(None))
    in_time = and_(answered_by_centre, _seconds(conn, alarms.c.answered_at, alarms.c.queued_at) <= ANSWER_TARGET_SECONDS)
    late_waiting = and_(alarms.c.queued_at.is_not(None), alarms.c.answered_at.is_(None),
                        alarms.c.queued_at < now - timedelta(seconds=ANSWER_TARGET_SECONDS))
    pending = and_(alarms.c.queued_at.is_not(None), alarms.c.answered_at.is_(None),
                   alarms.c.queued_at >= now - timedelta(seconds=ANSWER_TARGET_SECONDS))
    resolved = and_(answered_by_centre, alarms.c.outcome.is_not(None))
    direct = func.coalesce(alarms.c.route[("steps", 0, "target")].as_string(), "centre") != "centre"

    def total(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = conn.execute(
        select(alarms.c.municipality_id, func.count().label("received"),
               total(or_(answered_by_centre, late_waiting)).label("to_centre"), total(in_time).label("within"),
               total(pending).label("pending"), total(resolved).label("resolved"),
               total(and_(resolved, alarms.c.outcome.in_(sorted(CLEARED_AT_CENTRE)))).label("cleared"),
               total(direct).label("direct"), total(and_(direct, alarms.c.queued_at.is_not(None))).label("escalated"),
               total(alarms.c.missing_response.is_(True)).label("missing"))
        .where(alarms.c.municipality_id.in_(sorted(municipality_ids)), alarms.c.received_at >= start,
               alarms.c.received_at < end, alarms.c.source != storms.SOURCE)
        .group_by(alarms.c.municipality_id)
    ).all()
    return {r.municipality_id: Counts(
        received=r.received, to_centre=int(r.to_centre), answered_within_target=int(r.within),
        pending_answer=int(r.pending), resolved_by_centre=int(r.resolved), cleared_at_centre=int(r.cleared),
        routed_direct=int(r.direct), escalated=int(r.escalated), missing_responses=int(r.missing),
        minutes_per_cleared_alarm=minutes_per_cleared_alarm) for r in rows}


def _seconds(conn: Connection, later, earlier):
    # Time arithmetic is the one thing the two databases spell differently.
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0
