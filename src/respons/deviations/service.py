"""Deviation reports as units of work: register, propose (from the system), confirm,
dismiss, assign, act, close; lists, one deviation with its timeline, and the year's
summary for the collaboration committee. The rules are in ``deviations/rules.py``.

Proposals come from two changes to an alarm, which ``react`` hears in the unit of work
that made them (the journal offers every announced change to the reactions the runtime
registers, before the unit ends, so a proposal commits with its cause or not at all): a
mission whose home care did not accept or finish in time (``missing_response``), and an
alarm the centre answered later than ``ANSWER_TIME_THRESHOLD`` (``answered``). A proposal
is unique per alarm and category, so a second timer or a retry never proposes the same
deviation twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.deviations import rules
from respons.deviations.rules import (
    Deviation,
    DeviationCategory,
    DeviationEvent,
    DeviationEventKind,
    DeviationState,
    IllegalDeviationChange,
    Severity,
)
from respons.statistics.rules import OSLO
from respons.store.db import is_postgres
from respons.domain.alarm_types import Category, alarm_type
from respons.domain.lifecycle import EventKind
from respons.engine.missions import MISSING_TITLES
from respons.store import alarms as alarm_rows
from respons.store.tables import deviation_events, deviations

# An answer later than this is proposed as a deviation (the target is 60 s; twice that is a
# case the committee should look at). A municipality may agree on another figure later.
ANSWER_TIME_THRESHOLD = timedelta(seconds=120)
SYSTEM = "system:deviations"


class DeviationNotFound(LookupError):
    pass


def alarm_for_deviation(conn: Connection, alarm_id: str, *, municipality_ids: frozenset[int]) -> dict[str, Any] | None:
    """What the form shows of the alarm a deviation is registered from (its type, time and
    municipality; no recipient data), or None outside the caller's municipalities."""
    row = alarm_rows.deviation_subject(conn, alarm_id)
    if row is None or row.municipality_id not in municipality_ids:
        return None
    return dict(row._mapping)


def register(conn: Connection, *, municipality_id: int, category: str, title: str, severity: str = "medium",
             description: str | None = None, alarm_id: str | None = None, actor: str, now: datetime) -> int:
    if alarm_id is not None:
        found = alarm_rows.municipality_of(conn, alarm_id)
        if found != municipality_id:
            raise IllegalDeviationChange("The alarm is not one of this municipality's.", "alarm_elsewhere")
    event = DeviationEvent(DeviationEventKind.REGISTERED, now, actor,
                           {"category": category, "severity": severity, "title": title})
    deviation_id = _insert(conn, rules.start(event), event, municipality_id=municipality_id, alarm_id=alarm_id,
                           description=description, system=False)
    if deviation_id is None:
        raise IllegalDeviationChange("A deviation of this category is already registered (or proposed) for the alarm.",
                                     "already_registered")
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id, alarm_id=alarm_id,
                 details={"entity": "deviation", "deviation_id": deviation_id, "category": category})
    return deviation_id


def propose(conn: Connection, *, alarm_id: str, category: DeviationCategory, title: str, now: datetime,
            data: dict[str, Any] | None = None) -> int | None:
    """A deviation the system suggests from an alarm; None if one of the category exists for
    the alarm (proposed before, or registered by a person)."""
    municipality_id = alarm_rows.municipality_of(conn, alarm_id)
    event = DeviationEvent(DeviationEventKind.PROPOSED, now, SYSTEM,
                           {"category": category.value, "severity": Severity.MEDIUM.value, "title": title, **(data or {})})
    return _insert(conn, rules.start(event), event, municipality_id=municipality_id, alarm_id=alarm_id,
                   description=None, system=True)


def _insert(conn: Connection, deviation: Deviation, event: DeviationEvent, *, municipality_id: int,
            alarm_id: str | None, description: str | None, system: bool) -> int | None:
    """The new deviation's id; None if the alarm has one of the category already (one per
    alarm and category). ON CONFLICT, not a look first: a person's registration and the
    system's proposal in an alarm's own unit may race on two nodes, and the alarm's unit
    must not fail for it."""
    dialect = postgresql if is_postgres(conn) else sqlite
    deviation_id = conn.execute(dialect.insert(deviations).values(
        municipality_id=municipality_id, alarm_id=alarm_id, description=description, proposed_by_system=system,
        created_by=event.actor, **_columns(deviation)).on_conflict_do_nothing(
        index_elements=[deviations.c.alarm_id, deviations.c.category]).returning(deviations.c.id)).scalar()
    if deviation_id is not None:
        _insert_event(conn, deviation_id, 1, event)
    return deviation_id


def change(conn: Connection, deviation_id: int, kind: DeviationEventKind, *, actor: str, data: dict[str, Any],
           now: datetime, allowed: frozenset[int]) -> Deviation:
    query = select(deviations).where(deviations.c.id == deviation_id)
    if is_postgres(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or row.municipality_id not in allowed:
        raise DeviationNotFound(deviation_id)
    event = DeviationEvent(kind, now, actor, data)
    after = rules.apply(_projection(row), event)
    _insert_event(conn, deviation_id, after.seq, event)
    conn.execute(update(deviations).where(deviations.c.id == deviation_id).values(**_columns(after)))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, municipality_id=row.municipality_id,
                 details={"entity": "deviation", "deviation_id": deviation_id, "change": CHANGE_NAMES[kind]})
    return after


# What the API and the pages call each change (``kind`` in ``POST …/events``).
CHANGES = {"confirm": DeviationEventKind.REGISTERED, "dismiss": DeviationEventKind.DISMISSED,
           "assign": DeviationEventKind.ASSIGNED, "action": DeviationEventKind.ACTION, "close": DeviationEventKind.CLOSED}
CHANGE_NAMES = {kind: name for name, kind in CHANGES.items()}


def listing(conn: Connection, *, municipality_ids: frozenset[int], open_only: bool = False) -> list[dict]:
    query = select(deviations).where(deviations.c.municipality_id.in_(sorted(municipality_ids)))
    if open_only:
        query = query.where(deviations.c.state.in_([s.value for s in rules.OPEN]))
    return [dict(r._mapping) for r in conn.execute(query.order_by(deviations.c.created_at.desc()))]


def detail(conn: Connection, deviation_id: int, *, municipality_ids: frozenset[int]) -> dict | None:
    row = conn.execute(select(deviations).where(deviations.c.id == deviation_id)).first()
    if row is None or row.municipality_id not in municipality_ids:
        return None
    out = dict(row._mapping)
    out["timeline"] = [dict(e._mapping) for e in conn.execute(
        select(deviation_events.c.seq, deviation_events.c.kind, deviation_events.c.at, deviation_events.c.actor,
               deviation_events.c.data).where(deviation_events.c.deviation_id == deviation_id)
        .order_by(deviation_events.c.seq))]
    return out


def year_summary(conn: Connection, *, municipality_ids: frozenset[int], year: int) -> rules.YearSummary:
    """Deviations registered or proposed in the Oslo calendar year."""
    start = datetime(year, 1, 1, tzinfo=OSLO)
    end = datetime(year + 1, 1, 1, tzinfo=OSLO)
    rows = conn.execute(select(deviations).where(
        deviations.c.municipality_id.in_(sorted(municipality_ids)), deviations.c.created_at >= start,
        deviations.c.created_at < end)).all()
    return rules.summarise([(_projection(r), r.proposed_by_system) for r in rows])


def _projection(row) -> Deviation:
    return Deviation(DeviationState(row.state), row.seq, DeviationCategory(row.category), Severity(row.severity),
                     row.title, row.created_at, row.assigned_to, row.closed_at, row.conclusion)


def _columns(d: Deviation) -> dict[str, Any]:
    return {"state": d.state.value, "seq": d.seq, "category": d.category.value, "severity": d.severity.value,
            "title": d.title, "created_at": d.created_at, "assigned_to": d.assigned_to, "closed_at": d.closed_at,
            "conclusion": d.conclusion}


def _insert_event(conn: Connection, deviation_id: int, seq: int, event: DeviationEvent) -> None:
    conn.execute(insert(deviation_events).values(deviation_id=deviation_id, seq=seq, kind=event.kind.value, at=event.at,
                                                 actor=event.actor, data=event.data))


# --- reacting to alarm changes -----------------------------------------------------------------


def react(conn: Connection, change: dict[str, Any]) -> None:
    """A journal reaction (respons/runtime.py): propose what an alarm's change calls for."""
    # The members themselves, not .value (StrEnum: equal to their text): this runs for
    # every change of every alarm, and an enum's .value is a property lookup each time.
    kind = change.get("event")
    if kind == EventKind.ANSWERED:
        _late_answer(conn, change["alarm_id"])
    elif kind == EventKind.MISSING_RESPONSE:
        _missing_response(conn, change["alarm_id"])


def _late_answer(conn: Connection, alarm_id: str) -> None:
    answered = alarm_rows.latest_event(conn, alarm_id, EventKind.ANSWERED)
    if answered is None or (answered.data or {}).get("via") == "responder_app":
        return  # the answer-time target is the centre's; a responder's accept is not measured by it
    facts = alarm_rows.deviation_facts(conn, alarm_id)
    if alarm_type(facts.type).category is Category.SYSTEM:
        return  # the centre's own fault (epj/watch.py): no person waited for an answer
    if facts.queued_at is None or facts.answered_at - facts.queued_at <= ANSWER_TIME_THRESHOLD:
        return
    seconds = round((facts.answered_at - facts.queued_at).total_seconds())
    propose(conn, alarm_id=alarm_id, category=DeviationCategory.ANSWER_TIME, now=answered.at,
            title=f"Alarmen ble besvart etter {seconds} sekunder", data={"answer_seconds": seconds})


def _missing_response(conn: Connection, alarm_id: str) -> None:
    # For the committee: proposed as a deviation, for a person to confirm or dismiss.
    event = alarm_rows.latest_event(conn, alarm_id, EventKind.MISSING_RESPONSE)
    missing = (event.data or {}).get("missing")
    propose(conn, alarm_id=alarm_id, category=DeviationCategory.MISSING_RESPONSE, now=event.at,
            title=MISSING_TITLES[missing], data={"missing": missing})
