"""The owner of an alarm's rows: ``alarms`` and its timeline ``alarm_events``.

Every write to the two tables is a function here, and so is every read the alarm core
decides on (the projection under the row lock, "the open alarm of this device", the
idempotency lookup, the rows a responder's offers are chosen from, a storm's members).
Screens read through ``store/queries.py`` and reports through ``statistics/store.py``;
neither writes. So "who changes an alarm?" has one answer, and a rule about the rows (the
projection is written with its event, in the same transaction) is kept in one place.

The functions take an open Connection inside the caller's unit of work and decide
nothing: the domain decides (``domain/lifecycle``, ``domain/routing``), the engine calls.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import String, and_, bindparam, column, desc, func, insert, literal_column, select, update
from sqlalchemy.engine import Connection, Row
from uuid_utils import uuid7

from respons.domain.lifecycle import OPEN_STATES, AlarmProjection, Event, EventKind, Outcome, State
from respons.store.db import ArrayText, array_text, fetch_rows, insert_rows, is_postgres
from respons.store.tables import alarm_events, alarms, contacts, devices, recipients, zones

_OPEN = sorted(s.value for s in OPEN_STATES)


class AlarmNotFound(LookupError):
    """No such alarm, or none the caller may see (both look the same from outside: 404)."""

    def __init__(self, alarm_id: str):
        super().__init__(f"No alarm with id {alarm_id!r}.")
        self.alarm_id = alarm_id


# --- mapping -------------------------------------------------------------------------------


def projection_from_row(row) -> AlarmProjection:
    return AlarmProjection(
        state=State(row.state),
        received_at=row.received_at,
        seq=row.seq,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        answered_by=row.answered_by,
        resolved_at=row.resolved_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        closed_at=row.closed_at,
        answer_time_exceeded=row.answer_time_exceeded,
        missing_response=row.missing_response,
        arrived_at=row.arrived_at,
    )


def projection_columns(p: AlarmProjection) -> dict[str, Any]:
    return {
        "state": p.state.value,
        "seq": p.seq,
        "queued_at": p.queued_at,
        "answered_at": p.answered_at,
        "answered_by": p.answered_by,
        "resolved_at": p.resolved_at,
        "outcome": p.outcome.value if p.outcome else None,
        "closed_at": p.closed_at,
        "answer_time_exceeded": p.answer_time_exceeded,
        "missing_response": p.missing_response,
        "arrived_at": p.arrived_at,
    }


def event_row(alarm_id: str, seq: int, event: Event) -> dict[str, Any]:
    return dict(alarm_id=alarm_id, seq=seq, kind=event.kind.value, at=event.at, actor=event.actor, data=event.data)


# --- writes --------------------------------------------------------------------------------

# Prebuilt statements executed with parameters: building ``insert().values(...)`` anew
# for every alarm cost more CPU than running it (measured in bench/intake_http.py).
_INSERT_ALARM = insert(alarms)
_INSERT_EVENT = insert(alarm_events)


def insert_alarm(conn: Connection, columns: dict[str, Any], events: list[Event]) -> None:
    """A new alarm row (with its projection columns) and its first events, seq 1, 2, …"""
    conn.execute(_INSERT_ALARM, columns)
    conn.execute(_INSERT_EVENT, [event_row(columns["id"], seq, e) for seq, e in enumerate(events, start=1)])


def insert_many(conn: Connection, alarm_rows: list[dict[str, Any]], event_rows: list[dict[str, Any]]) -> None:
    """Many alarm rows and their events at once (a network outage's lost contact, the demo's
    history): COPY on PostgreSQL, batched inserts on SQLite (store/db.insert_rows)."""
    insert_rows(conn, alarms, alarm_rows)
    insert_rows(conn, alarm_events, event_rows)


def write_event(conn: Connection, alarm_id: str, event: Event, after: AlarmProjection) -> None:
    """The event and the projection it leads to, together (DESIGN.md invariant 2)."""
    conn.execute(_INSERT_EVENT, event_row(alarm_id, after.seq, event))
    conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**projection_columns(after)))


def set_route_step(conn: Connection, alarm_id: str, index: int) -> None:
    conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(route_step=index))


def set_mission(conn: Connection, alarm_id: str, mission: dict[str, Any]) -> None:
    conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(mission=mission))


def set_group(conn: Connection, member_ids: list[str], leader_id: str) -> None:
    conn.execute(update(alarms).where(alarms.c.id.in_(member_ids)).values(group_id=leader_id))


_PROJECTION_NAMES = ("state", "seq", "queued_at", "answered_at", "answered_by", "resolved_at", "outcome",
                     "closed_at", "answer_time_exceeded", "missing_response", "arrived_at")  # projection_columns
_SET_PROJECTION = update(alarms).where(alarms.c.id == bindparam("alarm_id")).values(
    # Bound names may not be column names in an UPDATE's SET: prefixed.
    **{name: bindparam(f"p_{name}") for name in _PROJECTION_NAMES})


def write_events(conn: Connection, changes: list[tuple[str, Event, AlarmProjection]]) -> None:
    """Many alarms' next events with their projections (one per alarm), as two batched
    statements: closing a storm of thousands of members in one round trip per slice."""
    if not changes:
        return
    conn.execute(_INSERT_EVENT, [event_row(alarm_id, after.seq, event) for alarm_id, event, after in changes])
    conn.execute(_SET_PROJECTION, [{"alarm_id": alarm_id, **{f"p_{k}": v for k, v in projection_columns(after).items()}}
                                   for alarm_id, _event, after in changes])


# --- reads the core decides on ---------------------------------------------------------------


def for_update(conn: Connection, alarm_id: str) -> Row | None:
    """The whole row, locked on PostgreSQL: two nodes answering the same alarm — the second
    waits here, then sees ANSWERED. (SQLite: the journal is the only writer.)"""
    query = select(alarms).where(alarms.c.id == alarm_id)
    if is_postgres(conn):
        query = query.with_for_update()
    return conn.execute(query).first()



def projection(conn: Connection, alarm_id: str) -> AlarmProjection:
    return projection_from_row(conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one())


def source_of(conn: Connection, alarm_id: str) -> str | None:
    return conn.execute(select(alarms.c.source).where(alarms.c.id == alarm_id)).scalar()


def municipality_of(conn: Connection, alarm_id: str) -> int | None:
    return conn.execute(select(alarms.c.municipality_id).where(alarms.c.id == alarm_id)).scalar_one_or_none()



def new_id() -> str:
    """A new alarm's id: a UUIDv7 (RFC 9562), ordered by time, so each new alarm's key goes at
    the end of the primary key's index and of the indexes that lead with it (its events', its
    timers') instead of at a random page of each. With random ids a batch of a hundred alarms
    dirtied about a hundred leaf pages per index, all written to SQLite's WAL at each commit:
    time-ordered ids took a quarter off the CPU per DC-09 alarm (docs/benchmarks.md). The time
    in it comes from the system clock and only orders the index; the alarm's own times are its
    columns. uuid-utils (native code) makes one in a tenth of ``uuid.uuid4``'s time."""
    return str(uuid7())


_BY_IDEMPOTENCY = select(alarms.c.id, alarms.c.state, alarms.c.received_at, alarms.c.request_fingerprint).where(
    alarms.c.idempotency_scope == bindparam("scope"), alarms.c.idempotency_key == bindparam("key"))


def by_idempotency(conn: Connection, scope: str | None, key: str) -> Row | None:
    return conn.execute(_BY_IDEMPOTENCY, {"scope": scope, "key": key}).first()


def by_idempotency_many(conn: Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """The alarms already stored under these (scope, key) pairs, by pair."""
    if not pairs:
        return {}
    pairs = sorted(set(pairs))
    if is_postgres(conn):
        # Planned for each list (store/db.fetch_rows says why).
        found = fetch_rows(conn, _BY_PAIRS_POSTGRES, {"scopes": array_text(s for s, _k in pairs),
                                                      "keys": array_text(k for _s, k in pairs)}, plan_each_time=True)
    else:
        found = conn.execute(_BY_PAIRS_SQLITE, {"pairs": json.dumps(pairs)})
    return {(r.idempotency_scope, r.idempotency_key): r for r in found}


# Each a single statement whatever the batch's size, so it is compiled once (a VALUES table
# of n rows was a new statement for every n, compiled again each batch), and each pair one
# probe of the unique index.
_PAIR_COLUMNS = (alarms.c.id, alarms.c.state, alarms.c.received_at, alarms.c.request_fingerprint,
                 alarms.c.idempotency_scope, alarms.c.idempotency_key)
# PostgreSQL: the pairs as two arrays (a row-value IN of a thousand pairs cost it 60 ms).
_WANTED = func.unnest(bindparam("scopes", type_=ArrayText(String)), bindparam("keys", type_=ArrayText(String))
                      ).table_valued(column("scope", String), column("key", String)).render_derived()
_BY_PAIRS_POSTGRES = select(*_PAIR_COLUMNS).join_from(
    alarms, _WANTED, and_(alarms.c.idempotency_scope == _WANTED.c.scope, alarms.c.idempotency_key == _WANTED.c.key))
# SQLite: the pairs as one JSON array walked by json_each (a row-value IN made SQLite scan
# the table; two plain INs probed every cross pair).
_PAIR = func.json_each(bindparam("pairs", type_=String)).table_valued("value").alias("wanted")
_BY_PAIRS_SQLITE = select(*_PAIR_COLUMNS).join_from(
    _PAIR, alarms, and_(alarms.c.idempotency_scope == func.json_extract(_PAIR.c.value, literal_column("'$[0]'")),
                        alarms.c.idempotency_key == func.json_extract(_PAIR.c.value, literal_column("'$[1]'"))))


_SENT_SINCE = select(alarms.c.id).where(
    alarms.c.idempotency_scope == bindparam("scope"), alarms.c.idempotency_key == bindparam("key"),
    alarms.c.received_at >= bindparam("since"))


def sent_since(conn: Connection, scope: str, key: str, since: datetime) -> bool:
    """Did an alarm with this key arrive at or after ``since`` (a retransmit window)?"""
    return conn.execute(_SENT_SINCE, {"scope": scope, "key": key, "since": since}).first() is not None


def open_alarm_of_device(conn: Connection, device_id: int, type_code: str | None = None) -> str | None:
    """The device's newest open alarm (of this type, if given): what a restore is about."""
    query = select(alarms.c.id).where(alarms.c.device_id == device_id, alarms.c.state.in_(_OPEN))
    if type_code is not None:
        query = query.where(alarms.c.type == type_code)
    return conn.execute(query.order_by(desc(alarms.c.received_at)).limit(1)).scalar_one_or_none()


def timeline(conn: Connection, alarm_id: str) -> list[Event]:
    rows = conn.execute(
        select(alarm_events).where(alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq)
    ).all()
    return [Event(EventKind(r.kind), r.at, r.actor, r.data) for r in rows]


def latest_event(conn: Connection, alarm_id: str, kind: EventKind) -> Event | None:
    row = conn.execute(select(alarm_events).where(
        alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == kind.value)
        .order_by(alarm_events.c.seq.desc()).limit(1)).first()
    return None if row is None else Event(EventKind(row.kind), row.at, row.actor, row.data)


def latest_event_data(conn: Connection, alarm_id: str, kind: EventKind) -> dict[str, Any] | None:
    event = latest_event(conn, alarm_id, kind)
    return None if event is None else event.data


def note_texts(conn: Connection, alarm_id: str) -> list[str | None]:
    rows = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id,
                                                          alarm_events.c.kind == EventKind.NOTE.value)).scalars()
    return [(data or {}).get("text") for data in rows]


def recipients_contact(conn: Connection, alarm_id: str, contact_id: int) -> Row | None:
    """The contact (name, phone) if it is one of this alarm's recipient's: the id must not
    reach someone else's."""
    return conn.execute(
        select(contacts.c.name, contacts.c.phone)
        .select_from(contacts.join(alarms, alarms.c.recipient_id == contacts.c.recipient_id))
        .where(contacts.c.id == contact_id, alarms.c.id == alarm_id)
    ).first()


def answer_clock(conn: Connection, alarm_id: str) -> Row | None:
    """(state, received_at, queued_at): what the answer-deadline timer decides on."""
    return conn.execute(select(alarms.c.state, alarms.c.received_at, alarms.c.queued_at)
                        .where(alarms.c.id == alarm_id)).first()


# --- routing and the field ---------------------------------------------------------------------

_FIELD_COLUMNS = (alarms.c.state, alarms.c.route, alarms.c.route_step, alarms.c.municipality_id, alarms.c.mission,
                  alarms.c.answered_by, alarms.c.group_id)


def route_of(conn: Connection, alarm_id: str) -> Row:
    return conn.execute(select(alarms.c.route, alarms.c.municipality_id, alarms.c.recipient_id)
                        .where(alarms.c.id == alarm_id)).one()


def routing_state(conn: Connection, alarm_id: str) -> Row | None:
    """(state, route, route_step, municipality_id), locked on PostgreSQL: a resend or
    escalation decides on it, and a responder's accept on another node must not slip in
    between."""
    query = select(alarms.c.state, alarms.c.route, alarms.c.route_step, alarms.c.municipality_id).where(
        alarms.c.id == alarm_id)
    if is_postgres(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def field_state(conn: Connection, alarm_id: str, *, lock: bool) -> Row | None:
    """What decides a responder's access: route, step, state, mission, holder, group."""
    query = select(*_FIELD_COLUMNS).where(alarms.c.id == alarm_id)
    if lock and is_postgres(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def field_candidates(conn: Connection, municipalities: frozenset[int]) -> list[Row]:
    """The alarms that may be on offer to, or held by, someone in the field: offered,
    answered or resolved, not a storm member (those are offered through their group)."""
    return conn.execute(
        select(alarms.c.id, alarms.c.state, alarms.c.route, alarms.c.route_step, alarms.c.answered_by,
               alarms.c.municipality_id, alarms.c.mission)
        .where(alarms.c.municipality_id.in_(sorted(municipalities)),
               alarms.c.state.in_([State.OFFERED.value, State.ANSWERED.value, State.RESOLVED.value]),
               alarms.c.group_id.is_(None))
    ).all()


def kin_message_facts(conn: Connection, alarm_id: str) -> Row:
    """(type, given_name, address) for the SMS that asks next of kin to go."""
    return conn.execute(select(alarms.c.type, recipients.c.given_name, recipients.c.address)
                        .join(recipients, recipients.c.id == alarms.c.recipient_id).where(alarms.c.id == alarm_id)).one()


def offer_facts(conn: Connection, alarm_id: str) -> Row:
    """(type, zone name or None) for the push that tells a responder's phone of an offer."""
    return conn.execute(select(alarms.c.type, zones.c.name.label("zone"))
                        .select_from(alarms.outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
                                     .outerjoin(zones, zones.c.id == recipients.c.zone_id))
                        .where(alarms.c.id == alarm_id)).one()


def dispatch_target(conn: Connection, alarm_id: str) -> Row | None:
    """(municipality_id, zone_id): where home care for this alarm would be sent."""
    return conn.execute(select(alarms.c.municipality_id, recipients.c.zone_id)
                        .outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
                        .where(alarms.c.id == alarm_id)).first()


def mission_for_update(conn: Connection, alarm_id: str) -> Row | None:
    """(mission, municipality_id) under the row lock (PostgreSQL): a mission is read, checked
    and written back whole, so two responders on two nodes must not both see it untaken."""
    query = select(alarms.c.mission, alarms.c.municipality_id).where(alarms.c.id == alarm_id)
    if is_postgres(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def mission_and_state(conn: Connection, alarm_id: str) -> Row | None:
    return conn.execute(select(alarms.c.mission, alarms.c.state).where(alarms.c.id == alarm_id)).first()


# --- storms --------------------------------------------------------------------------------------


def open_storm_leaders(conn: Connection, *, source: str) -> list[Row]:
    """(id, municipality_id, type, payload) of every open group alarm; the engine picks its own.

    Asked on every AC loss and every lost-contact batch, so it must stay cheap as the table
    grows: only open storm alarms (a handful at most) are read, through ix_alarms_source_state.
    Filtering on municipality in SQL lets SQLite's planner prefer the municipality index and
    walk all of its alarms."""
    query = (select(alarms.c.id, alarms.c.municipality_id, alarms.c.type, alarms.c.payload)
             .where(alarms.c.source == source, alarms.c.state.in_(_OPEN)).order_by(alarms.c.received_at))
    if is_postgres(conn):
        # A node adding a member waits for another that is closing the group right now.
        query = query.with_for_update()
    return conn.execute(query).all()


def recent_open(conn: Connection, *, priority: int, since: datetime) -> list[Row]:
    """(id, municipality_id, type, source, group_id, network) of the open alarms of one priority
    received since ``since``; ``network`` is their device's (devices.network), if any.

    Read through the queue index (open state, priority, received in the window): the open
    alarms of one priority from the last minutes, never a municipality's whole history."""
    return conn.execute(select(alarms.c.id, alarms.c.municipality_id, alarms.c.type, alarms.c.source,
                               alarms.c.group_id, devices.c.network)
                        .select_from(alarms.outerjoin(devices, devices.c.id == alarms.c.device_id))
                        .where(alarms.c.state.in_(_OPEN), alarms.c.priority == priority,
                               alarms.c.received_at >= since)
                        .order_by(alarms.c.received_at)).all()


def field_rows(conn: Connection, alarm_ids: Iterable[str]) -> list[Row]:
    """(id, route, route_step, mission, answered_by): who in the field an alarm concerns."""
    ids = list(alarm_ids)
    if not ids:
        return []
    return conn.execute(select(alarms.c.id, alarms.c.route, alarms.c.route_step, alarms.c.mission,
                               alarms.c.answered_by).where(alarms.c.id.in_(ids))).all()


def head(conn: Connection, alarm_id: str) -> Row:
    """(state, seq, priority): enough to announce a change to the alarm's row."""
    return conn.execute(select(alarms.c.state, alarms.c.seq, alarms.c.priority).where(alarms.c.id == alarm_id)).one()


def member_counts(conn: Connection, leader_ids: list[str]) -> dict[str, int]:
    if not leader_ids:
        return {}
    rows = conn.execute(select(alarms.c.group_id, func.count()).where(alarms.c.group_id.in_(leader_ids))
                        .group_by(alarms.c.group_id))
    return {group_id: n for group_id, n in rows}


def open_members(conn: Connection, leader_id: str, *, limit: int | None = None) -> list[Row]:
    """The group's open members, whole rows (through ix_alarms_group_state), locked on
    PostgreSQL; those another node is clearing right now are skipped (it has them)."""
    query = select(alarms).where(alarms.c.group_id == leader_id, alarms.c.state.in_(_OPEN)).order_by(alarms.c.id)
    if limit is not None:
        query = query.limit(limit)
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).all()


def has_open_members(conn: Connection, leader_id: str) -> bool:
    return conn.execute(select(alarms.c.id).where(alarms.c.group_id == leader_id, alarms.c.state.in_(_OPEN))
                        .limit(1)).first() is not None


def group_of(conn: Connection, alarm_id: str) -> str | None:
    return conn.execute(select(alarms.c.group_id).where(alarms.c.id == alarm_id)).scalar()


def closed_groups_with_open_members(conn: Connection, *, source: str, limit: int) -> list[Row]:
    """(id, outcome) of closed group alarms that still have open members: a storm of thousands
    is closed in slices (engine/alarms.py), the rest by the supervision worker."""
    member = alarms.alias("member")
    return conn.execute(select(alarms.c.id, alarms.c.outcome)
                        .where(alarms.c.source == source, alarms.c.state == State.CLOSED.value,
                               select(member.c.id).where(member.c.group_id == alarms.c.id,
                                                         member.c.state.in_(_OPEN)).exists())
                        .limit(limit)).all()


# --- deviations ----------------------------------------------------------------------------------


def deviation_subject(conn: Connection, alarm_id: str) -> Row | None:
    """(id, municipality_id, type, received_at): what a deviation form shows of its alarm."""
    return conn.execute(select(alarms.c.id, alarms.c.municipality_id, alarms.c.type, alarms.c.received_at)
                        .where(alarms.c.id == alarm_id)).first()


def deviation_facts(conn: Connection, alarm_id: str) -> Row | None:
    """(id, municipality_id, type, received_at, queued_at, answered_at): what a deviation
    proposal or report about this alarm records."""
    return conn.execute(select(alarms.c.id, alarms.c.municipality_id, alarms.c.type, alarms.c.received_at,
                               alarms.c.queued_at, alarms.c.answered_at)
                        .where(alarms.c.id == alarm_id)).first()
