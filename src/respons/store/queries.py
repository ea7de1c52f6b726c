"""Read models for the operator API: the queue and one alarm with its timeline."""

from __future__ import annotations

from datetime import datetime

from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import ALARM_TYPES
from respons.domain.lifecycle import OPEN_STATES, WAITING_STATES, State
from respons.domain import storms
from respons.store import alarms as alarm_rows
from respons.store.tables import (
    alarm_events,
    alarms,
    contacts,
    devices,
    municipalities,
    planned_visits,
    recipients,
    users,
    zones,
)


def _alarms_with_people():
    """Alarms with what an operator sees at a glance: municipality, person, address, zone."""
    return (
        select(
            alarms,
            municipalities.c.name.label("municipality"),
            recipients.c.given_name,
            recipients.c.family_name,
            recipients.c.address,
            recipients.c.city,
            zones.c.name.label("zone"),
        )
        .join(municipalities, municipalities.c.id == alarms.c.municipality_id)
        .outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
        .outerjoin(zones, zones.c.id == recipients.c.zone_id)
    )


def queue(
    conn: Connection, *, now: datetime, in_municipalities: frozenset[int], states: set[State] | None = None, limit: int = 200
) -> list[dict]:
    """Open alarms: the waiting ones first, then by priority, then oldest first.

    Waiting (unanswered) alarms come before ones an operator already holds, so the top
    of the list is always the next alarm to answer.
    """
    wanted = sorted(s.value for s in (states or OPEN_STATES))
    waiting = [s.value for s in WAITING_STATES]
    rows = conn.execute(
        _alarms_with_people()
        # A power-failure storm's members are shown through their group alarm (engine/storms.py).
        .where(alarms.c.state.in_(wanted), alarms.c.municipality_id.in_(sorted(in_municipalities)),
               alarms.c.group_id.is_(None))
        .order_by(
            case((alarms.c.state.in_(waiting), 0), else_=1),
            alarms.c.priority,
            alarms.c.received_at,
        )
        .limit(limit)
    ).all()
    members = alarm_rows.member_counts(conn, [r.id for r in rows if r.source == storms.SOURCE])
    return [_summary(r, now, members.get(r.id)) for r in rows]


def _summary(r, now: datetime, members: int | None = None) -> dict:
    t = ALARM_TYPES[r.type]
    end = r.answered_at or now
    start = r.queued_at or r.received_at
    return {
        "id": r.id,
        "municipality_id": r.municipality_id,
        "recipient_id": r.recipient_id,
        "type": r.type,
        "label": t.label_nb,
        "category": r.category,
        "priority": r.priority,
        "state": r.state,
        "municipality": r.municipality,
        "recipient": (f"{r.given_name} {r.family_name}" if r.given_name else None),
        "address": (f"{r.address}, {r.city}" if r.address else None),
        "zone": r.zone,
        "occurred_at": r.occurred_at,
        "received_at": r.received_at,
        "answered_at": r.answered_at,
        "answered_by": r.answered_by,
        "answer_seconds": round(max(0.0, (end - start).total_seconds()), 1),
        "route_step": r.route_step,
        "route": r.route,
        # Offered to next of kin (not to home care): waiting for one of them to confirm.
        "with_kin": r.state == "offered" and _step_target(r.route, r.route_step) == "next_of_kin",
        "mission": r.mission,
        "missing_response": r.missing_response,
        "answer_time_exceeded": r.answer_time_exceeded,
        "group_id": r.group_id,
        # A storm's group alarm: how many devices' alarms it holds, and what kind of storm
        # (a power failure, or an outage: devices out of contact, per network where known).
        "members": members if r.source == storms.SOURCE else None,
        "storm": _storm(r.payload) if r.source == storms.SOURCE else None,
    }


def _storm(payload: dict | None) -> dict:
    storm = (payload or {}).get("storm") or {}
    return {"kind": storm.get("kind", storms.POWER.name), "network": storm.get("network")}


def _step_target(route: dict | None, step: int | None) -> str | None:
    steps = (route or {}).get("steps") or []
    index = step or 0
    return steps[index].get("target") if 0 <= index < len(steps) else None


def queue_item(conn: Connection, alarm_id: str, *, now: datetime, in_municipalities: frozenset[int]) -> dict | None:
    """One row of the queue (no timeline): what the console fetches for every live change."""
    row = conn.execute(
        _alarms_with_people().where(alarms.c.id == alarm_id, alarms.c.municipality_id.in_(sorted(in_municipalities)))
    ).first()
    if row is None:
        return None
    return _summary(row, now, alarm_rows.member_counts(conn, [row.id]).get(row.id, 0) if row.source == storms.SOURCE else None)


def alarm_detail(conn: Connection, alarm_id: str, *, now: datetime, in_municipalities: frozenset[int]) -> dict | None:
    """One alarm with its timeline, or None if missing or outside ``in_municipalities``."""
    row = conn.execute(
        _alarms_with_people()
        .where(alarms.c.id == alarm_id, alarms.c.municipality_id.in_(sorted(in_municipalities)))
    ).first()
    if row is None:
        return None
    detail = _summary(row, now, alarm_rows.member_counts(conn, [row.id]).get(row.id, 0) if row.source == storms.SOURCE else None)
    detail.update(outcome=row.outcome, resolved_at=row.resolved_at, closed_at=row.closed_at, payload=row.payload)
    detail["timeline"] = [
        {"seq": e.seq, "kind": e.kind, "at": e.at, "actor": e.actor, "data": e.data}
        for e in conn.execute(
            select(alarm_events).where(alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq)
        )
    ]
    return detail


def actor_names(conn: Connection, actors: set[str | None]) -> dict[str, str]:
    """Display names for timeline actors ("user:12" -> "Kari Operatør", "contact:3" -> the
    next of kin who confirmed); others keep their id."""
    names: dict[str, str] = {}
    user_ids = {int(a.split(":", 1)[1]) for a in actors if a and a.startswith("user:") and a[5:].isdigit()}
    if user_ids:
        rows = conn.execute(select(users.c.id, users.c.display_name).where(users.c.id.in_(sorted(user_ids))))
        names.update({f"user:{r.id}": r.display_name for r in rows})
    contact_ids = {int(a.split(":", 1)[1]) for a in actors if a and a.startswith("contact:") and a[8:].isdigit()}
    if contact_ids:
        rows = conn.execute(select(contacts.c.id, contacts.c.name).where(contacts.c.id.in_(sorted(contact_ids))))
        names.update({f"contact:{r.id}": r.name for r in rows})
    return names


def with_taker_names(conn: Connection, items: list[dict]) -> list[dict]:
    """Add ``answered_by_name``: who has taken each alarm, so no two operators work one."""
    names = actor_names(conn, {i.get("answered_by") for i in items})
    for item in items:
        item["answered_by_name"] = names.get(item.get("answered_by") or "", item.get("answered_by"))
    return items


def contacts_of(conn: Connection, recipient_id: int) -> list[dict]:
    """The recipient's contacts, first to call first."""
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(contacts).where(contacts.c.recipient_id == recipient_id).order_by(contacts.c.priority, contacts.c.id)
        )
    ]


def recipient_card(conn: Connection, recipient_id: int, *, now: datetime, exclude_alarm: str | None = None) -> dict | None:
    """What the operator needs to decide: the person, how to reach and enter, devices,
    planned visits around now, and the last alarms with their outcomes.

    The caller has already checked scope (through the alarm) and writes the audit record.
    """
    person = conn.execute(
        select(recipients, zones.c.name.label("zone"))
        .outerjoin(zones, zones.c.id == recipients.c.zone_id)
        .where(recipients.c.id == recipient_id)
    ).first()
    if person is None:
        return None
    card = dict(person._mapping)
    card["contacts"] = contacts_of(conn, recipient_id)
    card["devices"] = [
        {**r, "overdue": bool(r["silent_since"] or (r["alert_after"] and r["alert_after"] < now))}
        for r in device_rows(conn, devices.c.recipient_id == recipient_id)
    ]
    card["visits"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(planned_visits)
            .where(
                planned_visits.c.recipient_id == recipient_id,
                planned_visits.c.starts_at >= now - timedelta(hours=12),
                planned_visits.c.starts_at <= now + timedelta(hours=24),
            )
            .order_by(planned_visits.c.starts_at)
        )
    ]
    recent = select(alarms).where(alarms.c.recipient_id == recipient_id)
    if exclude_alarm:
        recent = recent.where(alarms.c.id != exclude_alarm)
    card["recent_alarms"] = [
        {**dict(r._mapping), "label": ALARM_TYPES[r.type].label_nb}
        for r in conn.execute(recent.order_by(alarms.c.received_at.desc()).limit(10))
    ]
    return card


def device_rows(conn: Connection, *where) -> list[dict]:
    """Devices as screens and the API show them: never the DC-09 key (it is entered once and
    not read back), only whether there is one."""
    shown = [c for c in devices.c if c.name != "dc09_key"]
    query = select(*shown, devices.c.dc09_key.is_not(None).label("encrypted")).where(*where).order_by(devices.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def unanswered_by_municipality(conn: Connection, states) -> list[tuple[str, str, int, datetime]]:
    """(municipality number, state, count, earliest received_at) of the alarms in ``states``:
    the metrics' waiting alarms, read at scrape time with the queue's index."""
    return [tuple(r) for r in conn.execute(
        select(municipalities.c.number, alarms.c.state, func.count(), func.min(alarms.c.received_at))
        .join(municipalities, municipalities.c.id == alarms.c.municipality_id)
        .where(alarms.c.state.in_(states))
        .group_by(municipalities.c.number, alarms.c.state)
    )]


def alarm_holder(conn: Connection, alarm_id: str) -> str | None:
    """Who holds the alarm (``answered_by``: an actor such as ``user:7``), or None."""
    return conn.execute(select(alarms.c.answered_by).where(alarms.c.id == alarm_id)).scalar_one_or_none()
