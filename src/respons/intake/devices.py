"""The device-intake service every protocol calls: identify, heard, raise, restore.

A protocol module (``intake/http.py``, ``intake/dc09``, ``intake/scaip``, ``intake/mqtt``)
only maps its messages onto these four steps; what they mean is decided once, here and in
the engine:

- **identify**: the active device this identity belongs to (for one protocol, and for the
  HTTP intake only within the sender's municipality), or None;
- **heard**: any message is a sign of life (supervision's deadline moves on, a lost-contact
  alarm clears; engine/supervision.py);
- **raise**: a new alarm for the device (``engine/receiving.receive``; a retransmit with the
  same idempotency key finds the alarm it made before);
- **restore**: the device says the condition is over; a note on its newest open alarm of
  that type (or of any type, where the protocol does not say).

Every function is part of the caller's unit of work in the journal; the protocol answers
(ACK, SIP 200, PUBACK, 202) only after it commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Row

from respons.domain.alarm_types import AlarmType
from respons.engine import alarms as alarm_actions
from respons.engine import receiving, supervision
from respons.engine.receiving import NewAlarm, Received
from respons.engine.routing import RulesCache
from respons.store import alarms as alarm_rows
from respons.store.db import ForEachDatabase, fetch_rows, in_list, is_postgres, list_value
from respons.store.tables import devices, municipalities


@dataclass(frozen=True)
class IntakeSettings:
    """What every raised alarm needs from the node: its answer deadline, and the node's
    agreement-rules cache (None in tests and tools: the rules are read each time)."""

    answer_deadline: timedelta
    rules_cache: RulesCache | None = None

    @classmethod
    def of(cls, answer_deadline_seconds: float, rules_cache: RulesCache | None = None) -> "IntakeSettings":
        return cls(timedelta(seconds=answer_deadline_seconds), rules_cache)


# What engine/supervision.seen reads of a device: a heartbeat batch reads no more.
_SUPERVISION_COLUMNS = (devices.c.id, devices.c.identity, devices.c.heartbeat_interval_s, devices.c.heartbeat_grace_s,
                        devices.c.last_seen_at, devices.c.alert_after, devices.c.silent_since, devices.c.silent_alarm_id)
_BY_PROTOCOL = select(devices).where(devices.c.protocol == bindparam("protocol"),
                                     devices.c.identity == bindparam("identity"), devices.c.active.is_(True))
# MQTT topics name the municipality by its number: read with the device, in one round trip.
_BY_PROTOCOL_WITH_NUMBER = (select(devices, municipalities.c.number.label("municipality_number"))
                            .join(municipalities, municipalities.c.id == devices.c.municipality_id)
                            .where(devices.c.protocol == bindparam("protocol"),
                                   devices.c.identity == bindparam("identity"), devices.c.active.is_(True)))
_IN_MUNICIPALITY = select(devices).where(devices.c.identity == bindparam("identity"),
                                         devices.c.municipality_id == bindparam("municipality_id"))
_LOCKED = select(*_SUPERVISION_COLUMNS).where(devices.c.id == bindparam("device_id")).with_for_update(key_share=True)


def identify(conn: Connection, protocol: str, identity: str, *, with_municipality_number: bool = False) -> Row | None:
    """The active device registered for ``protocol`` with this identity, or None."""
    query = _BY_PROTOCOL_WITH_NUMBER if with_municipality_number else _BY_PROTOCOL
    return conn.execute(query, {"protocol": protocol, "identity": identity}).first()


def identify_in_municipality(conn: Connection, identity: str, municipality_id: int) -> Row | None:
    """A device of the sender's municipality, whatever its protocol (the HTTP intake: a
    vendor platform reports for devices it relays)."""
    return conn.execute(_IN_MUNICIPALITY, {"identity": identity, "municipality_id": municipality_id}).first()


def heard(conn: Connection, device: Row, now: datetime) -> None:
    """A sign of life from a device ``identify`` found. On PostgreSQL a device this is about to
    write is read again, locked: a sweep on another node may have marked it silent since, and
    written on the row read before, it would get a deadline and keep its open alarm. (Read
    unlocked first, so a sign of life that changes nothing writes nothing, not even a lock;
    batches lock as they read: ``_locked_by_identity``.)"""
    if is_postgres(conn) and (device.silent_since is not None or supervision.deadline_move(device, now) is not None):
        device = conn.execute(_LOCKED, {"device_id": device.id}).one()
    supervision.seen(conn, device, now)


def heard_many(conn: Connection, protocol: str, heard_at: dict[str, datetime], *,
               returns: int | None = None) -> tuple[set[str], set[str]]:
    """Signs of life from many devices of one protocol (identity → when), identified with one
    query and written in one batched statement. Returns the identities that are active
    devices (the others are the caller's to refuse), and those left for later: silent devices
    beyond the first ``returns`` (each return clears an alarm: not thousands in one unit)."""
    if not heard_at:
        return set(), set()
    found = list(_locked_by_identity(conn, _HEARD, heard_at, protocol=protocol).values())
    later: set[str] = set()
    if returns is not None:
        # In the order they were heard (the ones left for later come first next time), so no
        # device waits behind ever newer ones.
        order = {identity: n for n, identity in enumerate(heard_at)}
        coming_back = sorted((device.identity for device in found if device.silent_since is not None), key=order.get)
        later = set(coming_back[returns:])
    supervision.seen_many(conn, [(device, heard_at[device.identity]) for device in found
                                 if device.identity not in later])
    return {device.identity for device in found}, later


def identify_many(conn: Connection, protocol: str, identities: set[str]) -> dict[str, Row]:
    """``identify`` for many identities at once (a batch unit): the active devices, by identity,
    with what hearing them and raising their alarms reads (``_RAISING_COLUMNS``)."""
    return _locked_by_identity(conn, _ACTIVE, identities, protocol=protocol)


def identify_many_anywhere(conn: Connection, identities: set[str]) -> dict[str, Row]:
    """``identify_in_municipality`` for many identities (a batch unit): the devices by identity
    (unique across protocols); the caller checks each one's municipality."""
    return _locked_by_identity(conn, _ANY, identities)


def _by_identity(columns, *where) -> ForEachDatabase:
    def build(postgres: bool):
        query = select(*columns).where(in_list(postgres, devices.c.identity, "identities"), *where).order_by(devices.c.id)
        return query.with_for_update(key_share=True) if postgres else query
    return ForEachDatabase(build)


_OF_PROTOCOL = (devices.c.protocol == bindparam("protocol"), devices.c.active.is_(True))
# What a batch unit reads of a device it hears and raises alarms for (engine/supervision.seen,
# new_alarm): not the whole row, whose other columns a batch of a hundred panels would convert
# for nothing.
_RAISING_COLUMNS = _SUPERVISION_COLUMNS + (devices.c.municipality_id, devices.c.recipient_id, devices.c.network)
_HEARD = _by_identity(_SUPERVISION_COLUMNS, *_OF_PROTOCOL)
_ACTIVE = _by_identity(_RAISING_COLUMNS, *_OF_PROTOCOL)
_ANY = _by_identity((devices,))


def _locked_by_identity(conn: Connection, query: ForEachDatabase, identities, **parameters) -> dict[str, Row]:
    """The devices with these identities (and ``where``), by identity, in one query (a batch
    unit). Locked on PostgreSQL: a sweep on another node may be marking one of them silent,
    so wait for it and read what it committed, or a silent device would get a deadline and
    keep its open alarm. In id order; FOR NO KEY UPDATE, so alarms inserted for these devices
    (a foreign key to them) do not wait. (Crosswise waits between two nodes' batches end in a
    deadlock, and the journal writes its batch again: store/journal.py.)"""
    if not identities:
        return {}
    return {row.identity: row for row in fetch_rows(conn, query(conn), {"identities": list_value(conn, identities),
                                                                         **parameters})}


def heard_all(conn: Connection, heard: list[tuple[Row, datetime]]) -> None:
    """``heard`` for devices already identified (a batch unit), in one batched update."""
    supervision.seen_many(conn, heard)


def new_alarm(device: Row, *, alarm_type: AlarmType, source: str, occurred_at: datetime,
              payload: dict[str, Any] | None, idempotency_scope: str | None, idempotency_key: str | None,
              fingerprint: str | None, clock_suspect: dict[str, Any] | None = None) -> NewAlarm:
    """What the device raises: an alarm for its recipient, in its municipality, by it."""
    return NewAlarm(
        municipality_id=device.municipality_id, recipient_id=device.recipient_id, device_id=device.id,
        alarm_type=alarm_type, source=source, actor=actor(device), occurred_at=occurred_at, payload=payload,
        idempotency_scope=idempotency_scope, idempotency_key=idempotency_key, fingerprint=fingerprint,
        clock_suspect=clock_suspect, network=device.network)


def raise_alarm(conn: Connection, device: Row, *, alarm_type: AlarmType, source: str, occurred_at: datetime,
                payload: dict[str, Any] | None, idempotency_scope: str | None, idempotency_key: str | None,
                fingerprint: str | None, now: datetime, settings: IntakeSettings,
                clock_suspect: dict[str, Any] | None = None) -> Received:
    return receiving.receive(conn, new_alarm(
        device, alarm_type=alarm_type, source=source, occurred_at=occurred_at, payload=payload,
        idempotency_scope=idempotency_scope, idempotency_key=idempotency_key, fingerprint=fingerprint,
        clock_suspect=clock_suspect,
    ), now=now, answer_deadline=settings.answer_deadline, rules_cache=settings.rules_cache)


def raise_many(conn: Connection, arrivals: list[tuple[NewAlarm, datetime]],
               settings: IntakeSettings) -> list[Received | receiving.IdempotencyConflict]:
    """``raise_alarm`` for many alarms at once (a batch unit): engine/receiving.receive_many."""
    return receiving.receive_many(conn, arrivals, answer_deadline=settings.answer_deadline,
                                  rules_cache=settings.rules_cache)


class Restored(Enum):
    NOTED = "noted"  # a note on the open alarm
    NO_OPEN_ALARM = "no_open_alarm"  # nothing open to restore: acknowledged all the same
    ALREADY_NOTED = "already_noted"  # a redelivered restore: one note is enough


def restore(conn: Connection, device: Row, *, type_code: str | None, text: str, now: datetime,
            once: bool = False) -> Restored:
    """Note ``text`` on the device's newest open alarm of ``type_code`` (any type if None).
    ``once``: not if the alarm has that note already (a protocol that redelivers)."""
    open_alarm = alarm_rows.open_alarm_of_device(conn, device.id, type_code)
    if open_alarm is None:
        return Restored.NO_OPEN_ALARM
    if once and text in alarm_rows.note_texts(conn, open_alarm):
        return Restored.ALREADY_NOTED
    alarm_actions.add_note(conn, open_alarm, actor=actor(device), visible_to=None, now=now, text=text)
    return Restored.NOTED


def actor(device: Row) -> str:
    return f"device:{device.identity}"
