"""supervision_plans and supervision_lookins: the one owner of both tables
(docs/architecture.md, "Owners")."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from respons.digital_supervision.plans import AgreedTime, Fallback, Kind, Plan
from respons.digital_supervision.rounds import State
from respons.store.db import claimable_ids, is_postgres
from respons.store.tables import alarms, devices, municipalities, recipients, supervision_lookins, supervision_plans


def add(conn: Connection, *, municipality_id: int, recipient_id: int, plan: Plan, now: datetime, actor: str) -> int:
    return conn.execute(insert(supervision_plans).values(
        municipality_id=municipality_id, recipient_id=recipient_id, kind=plan.kind.value,
        times=[{"at": t.at.strftime("%H:%M"), "weekdays": sorted(t.weekdays)} for t in plan.times],
        max_seconds=plan.max_seconds, event_based=plan.event_based, checklist=list(plan.checklist),
        instructions=plan.instructions or None, consent_by=plan.consent_by, consent_on=plan.consent_on,
        valid_from=plan.valid_from, valid_to=plan.valid_to, fallback=plan.fallback.value, created_at=now,
        created_by=actor,
    )).inserted_primary_key[0]


def of_recipient(conn: Connection, recipient_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(supervision_plans).where(supervision_plans.c.recipient_id == recipient_id)
                        .order_by(supervision_plans.c.valid_from, supervision_plans.c.id)).mappings()
    return [dict(r) for r in rows]


def plan_of(row: dict[str, Any]) -> Plan:
    return Plan(kind=Kind(row["kind"]),
                times=tuple(AgreedTime(time.fromisoformat(t["at"]), frozenset(t["weekdays"])) for t in row["times"]),
                max_seconds=row["max_seconds"], consent_by=row["consent_by"], consent_on=row["consent_on"],
                valid_from=row["valid_from"], valid_to=row["valid_to"], event_based=row["event_based"],
                checklist=tuple(row["checklist"]), instructions=row["instructions"] or "",
                fallback=Fallback(row["fallback"]))


def get(conn: Connection, plan_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(supervision_plans).where(supervision_plans.c.id == plan_id)).mappings().first()
    return dict(row) if row else None


def end(conn: Connection, plan_id: int, valid_to: date, *, withdrawn_at: datetime | None = None) -> bool:
    """The plan's last day (and the moment consent was withdrawn); False when it ends earlier
    already — an administrator's end committed meanwhile (the one UPDATE decides)."""
    values: dict[str, Any] = {"valid_to": valid_to}
    if withdrawn_at is not None:
        # Ended today a second time: consent was withdrawn at the first.
        values["withdrawn_at"] = func.coalesce(supervision_plans.c.withdrawn_at, withdrawn_at)
    return conn.execute(update(supervision_plans).where(
        supervision_plans.c.id == plan_id,
        or_(supervision_plans.c.valid_to.is_(None), supervision_plans.c.valid_to >= valid_to),
    ).values(**values)).rowcount == 1


# --- scheduling: plans become look-in rows ----------------------------------------------------

def plans_to_schedule(conn: Connection, *, before: datetime, today: date, limit: int) -> list[dict[str, Any]]:
    """Plans in force whose look-ins are scheduled only up to before ``before`` (or not yet)."""
    query = (select(supervision_plans)
             .where(or_(supervision_plans.c.scheduled_until.is_(None), supervision_plans.c.scheduled_until < before),
                    or_(supervision_plans.c.valid_to.is_(None), supervision_plans.c.valid_to >= today - timedelta(days=1)),
                    supervision_plans.c.withdrawn_at.is_(None))
             .order_by(supervision_plans.c.id).limit(limit))
    if is_postgres(conn):
        # Nodes sweeping together never schedule the same plan (the unique key would stop a
        # second row anyway).
        query = query.with_for_update(skip_locked=True)
    return [dict(r) for r in conn.execute(query).mappings()]


def scheduled(conn: Connection, plan_id: int, until: datetime) -> None:
    conn.execute(update(supervision_plans).where(supervision_plans.c.id == plan_id).values(scheduled_until=until))


def add_lookins(conn: Connection, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Insert look-ins; one that exists already (same plan, reason and time; or the same
    look-in's recheck) is left as it is, so scheduling twice never makes two. Returns the ids
    of those inserted."""
    rows = list(rows)
    if not rows:
        return []
    dialect = postgresql if is_postgres(conn) else sqlite
    return list(conn.execute(dialect.insert(supervision_lookins).on_conflict_do_nothing()
                             .returning(supervision_lookins.c.id), rows).scalars())


def cancel_from(conn: Connection, plan_id: int, moment: datetime) -> list[dict[str, Any]]:
    """The plan ended: its look-ins due from ``moment`` on will not be done."""
    return _cancel(conn, plan_id, supervision_lookins.c.due_at >= moment)


def cancel_open(conn: Connection, plan_id: int, now: datetime) -> list[dict[str, Any]]:
    """Consent withdrawn: none of the plan's look-ins not yet started will be done, also one
    due a moment ago whose window is still open (one whose window has closed is missed)."""
    return _cancel(conn, plan_id, supervision_lookins.c.closes_at > now)


def _cancel(conn: Connection, plan_id: int, condition) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(update(supervision_lookins).where(
        supervision_lookins.c.plan_id == plan_id, supervision_lookins.c.state == State.DUE, condition)
        .values(state=State.CANCELLED, check_at=None)
        .returning(supervision_lookins.c.id, supervision_lookins.c.municipality_id)).mappings()]


def end_views(conn: Connection, plan_id: int, now: datetime) -> list[dict[str, Any]]:
    """Consent withdrawn during a look-in: its picture ends now. The look-in stays started, so
    the operator still records what was seen."""
    return [dict(r) for r in conn.execute(update(supervision_lookins).where(
        supervision_lookins.c.plan_id == plan_id, supervision_lookins.c.state == State.STARTED,
        supervision_lookins.c.view_until > now).values(view_until=now)
        .returning(supervision_lookins.c.id, supervision_lookins.c.municipality_id)).mappings()]


def open_after(conn: Connection, alarm_id: str) -> dict[str, Any] | None:
    """The look-in after this alarm that is still going on, if any."""
    row = conn.execute(select(supervision_lookins.c.id, supervision_lookins.c.started_by,
                              supervision_lookins.c.view_until).where(
        supervision_lookins.c.alarm_id == alarm_id,
        supervision_lookins.c.state.in_([State.DUE, State.STARTED]))).mappings().first()
    return dict(row) if row else None


# --- the round ------------------------------------------------------------------------------------

_ROUND_COLUMNS = (
    supervision_lookins,
    recipients.c.given_name, recipients.c.family_name,
    municipalities.c.name.label("municipality"),
    supervision_plans.c.max_seconds,
)


def _joined(query):
    return (query.join(recipients, recipients.c.id == supervision_lookins.c.recipient_id)
            .join(municipalities, municipalities.c.id == supervision_lookins.c.municipality_id)
            .join(supervision_plans, supervision_plans.c.id == supervision_lookins.c.plan_id))


def round_of(conn: Connection, *, municipality_ids: Iterable[int], starts: datetime, ends: datetime,
             window: timedelta = timedelta(0)) -> list[dict[str, Any]]:
    """The look-ins of the shift [starts, ends) in these municipalities, by municipality and
    time: those due in it, those whose window reaches into it (at 23:02 the 22:58 look-in can
    still be done, and at 22:55 the 23:05 one can begin), and any started and not finished."""
    in_scope = supervision_lookins.c.municipality_id.in_(list(municipality_ids))
    query = _joined(select(*_ROUND_COLUMNS)).where(
        in_scope, supervision_lookins.c.state != State.CANCELLED,
        or_(and_(supervision_lookins.c.due_at >= starts, supervision_lookins.c.due_at < ends),
            and_(supervision_lookins.c.state == State.DUE, supervision_lookins.c.due_at >= starts - window,
                 supervision_lookins.c.due_at < ends + window),
            and_(supervision_lookins.c.state == State.STARTED, supervision_lookins.c.due_at >= starts - timedelta(days=1))),
    ).order_by(municipalities.c.name, supervision_lookins.c.due_at, supervision_lookins.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def lookin(conn: Connection, lookin_id: int) -> dict[str, Any] | None:
    row = conn.execute(_joined(select(*_ROUND_COLUMNS, supervision_plans.c.kind, supervision_plans.c.checklist,
                                      supervision_plans.c.instructions, supervision_plans.c.event_based,
                                      supervision_plans.c.fallback, supervision_plans.c.withdrawn_at))
                       .where(supervision_lookins.c.id == lookin_id)).mappings().first()
    return dict(row) if row else None


def start(conn: Connection, lookin_id: int, *, actor: str, now: datetime, view_until: datetime,
          check_at: datetime) -> bool:
    """Start a look-in nobody has started (one UPDATE: of two operators, one wins); ``check_at``:
    when the sweep gives up waiting for its outcome."""
    return conn.execute(update(supervision_lookins).where(
        supervision_lookins.c.id == lookin_id, supervision_lookins.c.state == State.DUE,
    ).values(state=State.STARTED, started_by=actor, started_at=now, view_until=view_until,
             check_at=check_at)).rowcount == 1


def finish(conn: Connection, lookin_id: int, *, actor: str, outcome: str, note: str | None, now: datetime) -> bool:
    return conn.execute(update(supervision_lookins).where(
        supervision_lookins.c.id == lookin_id, supervision_lookins.c.state == State.STARTED,
        supervision_lookins.c.started_by == actor,
    ).values(state=State.DONE, outcome=outcome, note=note, finished_by=actor, finished_at=now,
             view_until=None, check_at=None)).rowcount == 1


def followed_by(conn: Connection, lookin_id: int) -> list[dict[str, Any]]:
    """The look-ins that follow this one: a look again, or the phone call instead of the camera."""
    return [dict(r) for r in conn.execute(select(supervision_lookins).where(
        supervision_lookins.c.previous_id == lookin_id).order_by(supervision_lookins.c.id)).mappings()]


def raised(conn: Connection, lookin_id: int, alarm_id: str) -> None:
    conn.execute(update(supervision_lookins).where(supervision_lookins.c.id == lookin_id)
                 .values(raised_alarm_id=alarm_id))


def now_late(conn: Connection, *, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Look-ins past their late mark and still in their window: marked late (once), and
    watched again when the window closes."""
    due = and_(supervision_lookins.c.state == State.DUE, supervision_lookins.c.check_at <= now,
               supervision_lookins.c.late.is_(False), supervision_lookins.c.closes_at > now)
    candidates = select(supervision_lookins.c.id).where(due).order_by(supervision_lookins.c.check_at).limit(limit)
    return [dict(r) for r in conn.execute(
        update(supervision_lookins).where(supervision_lookins.c.id.in_(claimable_ids(conn, candidates, "late")), due)
        .values(late=True, check_at=supervision_lookins.c.closes_at)
        .returning(supervision_lookins.c.id, supervision_lookins.c.municipality_id)).mappings()]


def now_missed(conn: Connection, *, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Look-ins whose window closed before anybody started them, and look-ins started whose
    outcome never came: marked missed, once."""
    due = or_(and_(supervision_lookins.c.state == State.DUE, supervision_lookins.c.check_at <= now,
                   supervision_lookins.c.closes_at <= now),
              and_(supervision_lookins.c.state == State.STARTED, supervision_lookins.c.check_at <= now))
    candidates = select(supervision_lookins.c.id).where(due).order_by(supervision_lookins.c.check_at).limit(limit)
    rows = conn.execute(
        update(supervision_lookins).where(supervision_lookins.c.id.in_(claimable_ids(conn, candidates, "missed")), due)
        .values(state=State.MISSED, check_at=None)
        .returning(*supervision_lookins.c)).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: (r["due_at"], r["id"]))


def of_person(conn: Connection, recipient_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The person's latest look-ins that happened or should have (their supervision history)."""
    rows = conn.execute(select(supervision_lookins).where(
        supervision_lookins.c.recipient_id == recipient_id,
        supervision_lookins.c.state.in_([State.DONE, State.MISSED, State.STARTED]),
    ).order_by(supervision_lookins.c.due_at.desc(), supervision_lookins.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]


def camera_of(conn: Connection, recipient_id: int) -> dict[str, Any] | None:
    """The person's supervision camera with a video source (read from the registry's devices)."""
    row = conn.execute(select(devices.c.id, devices.c.identity, devices.c.video_source).where(
        devices.c.recipient_id == recipient_id, devices.c.active.is_(True), devices.c.video_source.is_not(None),
    ).order_by(devices.c.id).limit(1)).mappings().first()
    return dict(row) if row else None


def alarm_of(conn: Connection, alarm_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The alarm an event-based look-in follows (read from the alarm core's rows); ``lock``:
    held until the unit ends on PostgreSQL (FOR NO KEY UPDATE, as the core's own changes)."""
    query = select(alarms.c.id, alarms.c.state, alarms.c.municipality_id, alarms.c.recipient_id).where(
        alarms.c.id == alarm_id)
    if lock and is_postgres(conn):
        query = query.with_for_update(key_share=True)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def event_plan(conn: Connection, recipient_id: int, today: date, *, lock: bool = False) -> dict[str, Any] | None:
    """The person's plan in force today that allows look-ins after an alarm (``lock``: FOR
    SHARE on PostgreSQL, until the unit ends: its withdrawal waits)."""
    query = select(supervision_plans).where(
        supervision_plans.c.recipient_id == recipient_id, supervision_plans.c.event_based.is_(True),
        supervision_plans.c.valid_from <= today,
        or_(supervision_plans.c.valid_to.is_(None), supervision_plans.c.valid_to >= today),
        supervision_plans.c.withdrawn_at.is_(None),
    ).order_by(supervision_plans.c.valid_from.desc(), supervision_plans.c.id.desc()).limit(1)
    if lock and is_postgres(conn):
        query = query.with_for_update(read=True)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def lookin_facts(conn: Connection, *, municipality_id: int, start: datetime, end: datetime) -> list[tuple]:
    """(reason, state, late, outcome, escalated) of each look-in due in [start, end), for the
    statistics (statistics/supervision.py); cancelled ones were never due."""
    return [tuple(r) for r in conn.execute(
        select(supervision_lookins.c.reason, supervision_lookins.c.state, supervision_lookins.c.late,
               supervision_lookins.c.outcome, supervision_lookins.c.raised_alarm_id.is_not(None))
        .where(supervision_lookins.c.municipality_id == municipality_id, supervision_lookins.c.due_at >= start,
               supervision_lookins.c.due_at < end, supervision_lookins.c.state != State.CANCELLED))]
