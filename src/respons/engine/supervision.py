"""Device supervision: every device with a heartbeat interval is expected to show a sign of
life (a heartbeat, a link test, any message) within ``interval + grace``.

The deadline is precomputed (Healthchecks' ``alert_after``) whenever a device is seen, and
an index on it lets the sweep find the silent devices without looking at the others. A
silent device raises one technical alarm, *lost contact* (``device_silent``), which routing
gives to the technicians (or the centre); while it is out, ``alert_after`` is NULL (so the
device leaves the index) and ``silent_since``/``silent_alarm_id`` say why. When the device
is heard again, its lost-contact alarm is closed as *cleared*.

A peripheral (fall sensor, smoke detector) reports through its base unit. When the base
unit is silent, the peripherals go quiet as a consequence: they are marked silent without
an alarm of their own (inhibited), so the technician sees one fault, not six. When the base
unit returns, its peripherals get a fresh interval to report in.

When many devices of one municipality and network fall silent at once (a mobile network
down), their lost-contact alarms are members of one outage alarm (domain/storms.py), written
in batched statements: an outage of 50,000 devices is 50 units, not 50,000.

Each function is a unit of work for the journal; the sweep runs in the technical lane, so a
thousand silent devices never delay an assistance alarm. The worker sleeps until the earliest
deadline, so lost contact is raised when it is due, not up to a poll later.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.engine import Connection, Row

from respons.clock import Clock
from respons.domain import storms as storm_rules
from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import IllegalTransition
from respons.engine import alarms as alarm_actions
from respons.engine import receiving
from respons.engine.routing import RulesCache
from respons.engine.periodic import PeriodicWorker
from respons.store.db import is_postgres, update_rows
from respons.store import planner
from respons.store.journal import Journal, Lane, announce
from respons.store.tables import devices


SOURCE = "supervision"
ACTOR = "system:supervision"
LOST_CONTACT = alarm_type("device_silent")
# Devices per unit of the sweep: an outage of 50,000 is 50 units, and an assistance alarm
# waits for at most one of them (the journal's lanes put it first in the next batch).
SWEEP_LIMIT = 1000
# Lost contacts raised one alarm at a time (routed, timed) per unit: each is a few statements
# and a plan, so a unit of a thousand would hold the journal for seconds. More than this many
# silent devices outside any outage (many municipalities with a few each) wait for the next unit.
LONE_PER_UNIT = 100


def deadline(device: Row, now: datetime) -> datetime | None:
    if not device.heartbeat_interval_s:
        return None
    return now + timedelta(seconds=device.heartbeat_interval_s + (device.heartbeat_grace_s or 0))


# A device that talks often (a panel with a link test every 90 s, a busy sensor) would cost a
# write per message. Its deadline is only moved when that gains more than this: the
# lost-contact alarm can then come at most this much early, never late.
REFRESH_AFTER = timedelta(seconds=60)

def deadline_move(device: Row, now: datetime) -> dict | None:
    """What a sign of life from a device that is not silent writes (its row's new values), or
    None: a heartbeat that changes nothing writes nothing."""
    new_deadline = deadline(device, now)
    fresh = device.last_seen_at is not None and now - device.last_seen_at < REFRESH_AFTER
    if fresh and (device.alert_after is None) == (new_deadline is None):
        # Seen a moment ago: the deadline stands within REFRESH_AFTER (or there is none:
        # an unsupervised device's last_seen_at is not worth a write per message).
        return None
    return {"id": device.id, "last_seen_at": now, "alert_after": new_deadline}


def seen(conn: Connection, device: Row, now: datetime) -> None:
    """A sign of life from ``device`` (a row of ``devices``): push its deadline on, and if it
    was silent, clear its lost-contact alarm and wake the peripherals it silenced."""
    if device.silent_since is None:
        move = deadline_move(device, now)
        if move is not None:
            update_rows(conn, devices, [move])
        return
    new_deadline = deadline(device, now)
    conn.execute(update(devices).where(devices.c.id == device.id).values(
        last_seen_at=now, alert_after=new_deadline, silent_since=None, silent_alarm_id=None))
    if device.silent_alarm_id is not None:
        try:
            alarm_actions.clear(conn, device.silent_alarm_id, actor=f"device:{device.identity}", now=now,
                                reason="device_back_in_contact")
        except IllegalTransition:
            pass  # somebody closed it already
    _wake_peripherals(conn, device.id, now)


# Announced by a unit that gave a device a deadline (a registration): every node's worker
# looks again for its earliest deadline, which may now be sooner than the one it sleeps for.
DEADLINES_CHANGED = "deadlines_changed"


def deadlines_changed(conn: Connection, municipality_id: int) -> None:
    announce(conn, {"event": DEADLINES_CHANGED, "municipality_id": municipality_id})


def seen_many(conn: Connection, heard: list[tuple[Row, datetime]]) -> None:
    """Signs of life from many devices at once (a batch of heartbeats, intake/heartbeats.py):
    the deadline moves in one batched statement; a device that was silent takes the whole
    path of ``seen``."""
    moves = []
    for device, now in heard:
        if device.silent_since is not None:
            seen(conn, device, now)
        elif (move := deadline_move(device, now)) is not None:
            moves.append(move)
    update_rows(conn, devices, moves)


def _wake_peripherals(conn: Connection, base_unit_id: int, now: datetime) -> None:
    inhibited = conn.execute(select(devices).where(
        devices.c.base_unit_id == base_unit_id, devices.c.silent_since.is_not(None),
        devices.c.silent_alarm_id.is_(None))).all()
    for peripheral in inhibited:
        # A full interval to report through the base unit again; if it does not, it is
        # silent in its own right and raises its own alarm.
        conn.execute(update(devices).where(devices.c.id == peripheral.id).values(
            silent_since=None, alert_after=deadline(peripheral, now)))


def sweep(conn: Connection, now: datetime, *, answer_deadline: timedelta, limit: int = SWEEP_LIMIT,
          rules_cache: RulesCache | None = None) -> int:
    """Raise lost contact for devices past their deadline; returns how many were handled.

    The due devices are read in deadline order straight off ``ix_devices_alert_after`` (no
    sort), ``limit`` at a time. A peripheral whose base unit is silent, or due in this very
    sweep, is inhibited rather than alarmed. The rest are grouped by their outage key
    (municipality, network): a key with an open outage, or whose devices make one with the
    recent lost contacts, gets member alarms written in batched statements under one group
    alarm (engine/storms.py); a lone silent device gets its own alarm, as any alarm.
    """
    query = (select(devices)
             .where(devices.c.alert_after <= now, devices.c.active.is_(True))
             .order_by(devices.c.alert_after)
             .limit(limit))
    if is_postgres(conn):
        # Nodes sweeping together never take the same device (the idempotency key would
        # stop a second alarm anyway).
        query = query.with_for_update(skip_locked=True)
    due = conn.execute(query).all()
    if not due:
        return 0
    silent_bases = _silent_base_units(conn, {d.base_unit_id for d in due if d.base_unit_id is not None}, now)
    inhibited = [d.id for d in due if d.base_unit_id in silent_bases]
    if inhibited:
        conn.execute(update(devices).where(devices.c.id.in_(inhibited)).values(
            alert_after=None, silent_since=now, silent_alarm_id=None))
    outages: dict[storm_rules.GroupKey, list[Row]] = {}
    for device in due:
        if device.base_unit_id not in silent_bases:
            key = storm_rules.key_for(storm_rules.OUTAGE, device.municipality_id, device.network)
            outages.setdefault(key, []).append(device)
    handled = len(inhibited)
    lone_budget = LONE_PER_UNIT
    # In key order, as every unit takes storm keys' locks (receiving.storm_leader): two nodes
    # never wait for each other crosswise.
    for key, silent in sorted(outages.items(), key=lambda item: item[0].sort_key):
        lone_budget -= _raise_lost_contact(conn, key, silent, now, answer_deadline=answer_deadline,
                                           rules_cache=rules_cache, lone_budget=lone_budget)
        handled += len(silent) if lone_budget >= 0 else 0
        if lone_budget < 0:
            break  # the rest stay due: the next unit takes them
    return handled


_SILENT = update(devices).where(devices.c.id == bindparam("device_id")).values(
    alert_after=None, silent_since=bindparam("now"), silent_alarm_id=bindparam("alarm_id"))


def _raise_lost_contact(conn: Connection, key: storm_rules.GroupKey, silent: list[Row], now: datetime, *,
                        answer_deadline: timedelta, rules_cache: RulesCache | None, lone_budget: int) -> int:
    """Raise the devices' lost contact; returns how many took the one-alarm path, or more than
    ``lone_budget`` (and nothing done) when they would not fit in this unit."""
    leader = receiving.storm_leader(conn, key, arriving=len(silent), now=now, answer_deadline=answer_deadline,
                                    rules_cache=rules_cache)
    if leader is None:
        if len(silent) > lone_budget:
            return lone_budget + 1
        received = [receiving.receive(conn, _lost_contact(device), now=now, answer_deadline=answer_deadline,
                                      rules_cache=rules_cache) for device in silent]
    else:
        received = receiving.receive_members(conn, [(_lost_contact(device), now) for device in silent], leader,
                                             municipality_id=key.municipality_id)
    conn.execute(_SILENT, [{"device_id": device.id, "now": now, "alarm_id": alarm.alarm_id}
                           for device, alarm in zip(silent, received)])
    return 0 if leader is not None else len(silent)


def _lost_contact(device: Row) -> receiving.NewAlarm:
    return receiving.NewAlarm(
        municipality_id=device.municipality_id, recipient_id=device.recipient_id, device_id=device.id,
        alarm_type=LOST_CONTACT, source=SOURCE, actor=ACTOR, occurred_at=device.alert_after,
        payload={"supervision": {"last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
                                 "interval_s": device.heartbeat_interval_s, "grace_s": device.heartbeat_grace_s}},
        idempotency_scope=f"{SOURCE}:{device.id}", idempotency_key=device.alert_after.isoformat(),
        network=device.network)


def _silent_base_units(conn: Connection, base_unit_ids: set[int], now: datetime) -> set[int]:
    """Those of ``base_unit_ids`` that are silent, or due (and so silent in this sweep)."""
    if not base_unit_ids:
        return set()
    return set(conn.execute(select(devices.c.id).where(
        devices.c.id.in_(base_unit_ids),
        or_(devices.c.silent_since.is_not(None), devices.c.alert_after <= now))).scalars())


def next_deadline(conn: Connection) -> datetime | None:
    """The earliest deadline of any supervised device: the first entry of the deadline index."""
    return conn.execute(select(func.min(devices.c.alert_after)).where(devices.c.active.is_(True))).scalar()


# Not sooner than this after a round, even if a deadline is already past: on PostgreSQL the
# due devices may be locked by another node's sweep (SKIP LOCKED), and their deadline stays
# the earliest until it commits; without a floor this node would spin on them.
MIN_WAIT = timedelta(milliseconds=100)
CLEARING_SLICES_PER_ROUND = 5


class SupervisionWorker(PeriodicWorker):
    """Sweeps for silent devices when the earliest deadline comes (it sleeps until then, and
    never longer than ``poll_seconds``: a device registered meanwhile with a sooner deadline
    is found by then), through the journal's technical lane. Then it clears, a slice per unit,
    the members a closed storm left open."""

    name = "respons-supervision"

    def __init__(self, journal: Journal, clock: Clock, *, poll_seconds: float, answer_deadline: timedelta,
                 rules_cache: RulesCache | None = None):
        super().__init__(poll_seconds=poll_seconds)
        self._rules_cache = rules_cache
        self._journal = journal
        self._clock = clock
        self._answer_deadline = answer_deadline
        self._next: datetime | None = None
        self._planner_checked: float | None = None  # monotonic

    async def run_once(self) -> int:
        total = 0
        self._next = None  # a failed round waits the whole poll (the database may be down)
        while True:
            handled, self._next = await self._journal.run(self._round, lane=Lane.TECHNICAL)
            total += handled
            # Again while devices are still due (a full unit, or one that left the rest for the
            # next); not when nothing could be taken (another node holds them: SKIP LOCKED).
            if handled == 0 or self._next is None or self._next > self._clock():
                break
        for _slice in range(CLEARING_SLICES_PER_ROUND):
            # A closed group's members, a few slices a round: a group of 50,000 must not keep
            # the sweep waiting.
            cleared = await self._journal.run(
                lambda conn: alarm_actions.clear_members_of_closed_groups(conn, self._clock()), lane=Lane.TECHNICAL)
            if cleared < alarm_actions.MEMBERS_PER_UNIT:
                break
        if self._planner_checked is None or time.monotonic() - self._planner_checked > planner.CHECK_EVERY.total_seconds():
            self._planner_checked = time.monotonic()
            # Off the journal and off the event loop: ANALYZE of a million devices takes a second.
            await asyncio.to_thread(planner.keep_informed, self._journal.engine)
        return total

    # As an observer of the live bus (engine/live.py), on every node.
    def changes(self, changes: list[dict]) -> None:
        if any(change.get("event") == DEADLINES_CHANGED for change in changes):
            self.wake()

    def resync(self) -> None:
        self.wake()

    def _round(self, conn: Connection) -> tuple[int, datetime | None]:
        handled = sweep(conn, self._clock(), answer_deadline=self._answer_deadline, rules_cache=self._rules_cache)
        return handled, next_deadline(conn)

    def _wait_seconds(self) -> float:
        if self._next is None:
            return self._poll
        wait = (self._next - self._clock()).total_seconds()
        return min(self._poll, max(MIN_WAIT.total_seconds(), wait))
