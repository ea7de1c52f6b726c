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

Each function is a unit of work for the journal; the sweep runs in the technical lane, so a
thousand silent devices never delay an assistance alarm.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.engine import Connection, Row

from respons.clock import Clock
from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import IllegalTransition
from respons.engine import alarms as alarm_actions
from respons.engine import receiving
from respons.engine.routing import RulesCache
from respons.engine.periodic import PeriodicWorker
from respons.store.db import is_postgres
from respons.store.journal import Journal, Lane
from respons.store.tables import devices


SOURCE = "supervision"
ACTOR = "system:supervision"
LOST_CONTACT = alarm_type("device_silent")
SWEEP_LIMIT = 200


def deadline(device: Row, now: datetime) -> datetime | None:
    if not device.heartbeat_interval_s:
        return None
    return now + timedelta(seconds=device.heartbeat_interval_s + (device.heartbeat_grace_s or 0))


# A device that talks often (a panel with a link test every 90 s, a busy sensor) would cost a
# write per message. Its deadline is only moved when that gains more than this: the
# lost-contact alarm can then come at most this much early, never late.
REFRESH_AFTER = timedelta(seconds=60)

_SEEN = update(devices).where(devices.c.id == bindparam("device_id")).values(
    last_seen_at=bindparam("now"), alert_after=bindparam("alert_after"))


def seen(conn: Connection, device: Row, now: datetime) -> None:
    """A sign of life from ``device`` (a row of ``devices``): push its deadline on, and if it
    was silent, clear its lost-contact alarm and wake the peripherals it silenced."""
    new_deadline = deadline(device, now)
    if device.silent_since is None:
        fresh = device.last_seen_at is not None and now - device.last_seen_at < REFRESH_AFTER
        if fresh and (device.alert_after is None) == (new_deadline is None):
            # Seen a moment ago: the deadline stands within REFRESH_AFTER (or there is none:
            # an unsupervised device's last_seen_at is not worth a write per message).
            return
        conn.execute(_SEEN, {"device_id": device.id, "now": now, "alert_after": new_deadline})
        return
    conn.execute(update(devices).where(devices.c.id == device.id).values(
        last_seen_at=now, alert_after=new_deadline, silent_since=None, silent_alarm_id=None))
    if device.silent_alarm_id is not None:
        try:
            alarm_actions.clear(conn, device.silent_alarm_id, actor=f"device:{device.identity}", now=now,
                                reason="device_back_in_contact")
        except IllegalTransition:
            pass  # somebody closed it already
    _wake_peripherals(conn, device.id, now)


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

    Base units are handled before peripherals, so a peripheral whose base unit fell silent in
    the same sweep is inhibited rather than alarmed.
    """
    query = (select(devices)
             .where(devices.c.alert_after <= now, devices.c.active.is_(True))
             .order_by(devices.c.base_unit_id.is_not(None), devices.c.alert_after)
             .limit(limit))
    if is_postgres(conn):
        # Nodes sweeping together never take the same device (the idempotency key would
        # stop a second alarm anyway).
        query = query.with_for_update(skip_locked=True)
    due = conn.execute(query).all()
    for device in due:
        if device.base_unit_id is not None and _base_unit_silent(conn, device.base_unit_id, now):
            conn.execute(update(devices).where(devices.c.id == device.id).values(
                alert_after=None, silent_since=now, silent_alarm_id=None))
            continue
        received = receiving.receive(conn, receiving.NewAlarm(
            municipality_id=device.municipality_id, recipient_id=device.recipient_id, device_id=device.id,
            alarm_type=LOST_CONTACT, source=SOURCE, actor=ACTOR, occurred_at=device.alert_after,
            payload={"supervision": {"last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
                                     "interval_s": device.heartbeat_interval_s, "grace_s": device.heartbeat_grace_s}},
            idempotency_scope=f"{SOURCE}:{device.id}", idempotency_key=device.alert_after.isoformat(),
        ), now=now, answer_deadline=answer_deadline, rules_cache=rules_cache)
        conn.execute(update(devices).where(devices.c.id == device.id).values(
            alert_after=None, silent_since=now, silent_alarm_id=received.alarm_id))
    return len(due)


def _base_unit_silent(conn: Connection, base_unit_id: int, now: datetime) -> bool:
    return conn.execute(select(devices.c.id).where(
        devices.c.id == base_unit_id,
        or_(devices.c.silent_since.is_not(None), devices.c.alert_after <= now))).first() is not None


class SupervisionWorker(PeriodicWorker):
    """Sweeps for silent devices every ``poll_seconds``, through the journal's technical lane."""

    name = "respons-supervision"

    def __init__(self, journal: Journal, clock: Clock, *, poll_seconds: float, answer_deadline: timedelta,
                 rules_cache: RulesCache | None = None):
        super().__init__(poll_seconds=poll_seconds)
        self._rules_cache = rules_cache
        self._journal = journal
        self._clock = clock
        self._answer_deadline = answer_deadline

    async def run_once(self) -> int:
        total = 0
        while True:
            handled = await self._journal.run(
                lambda conn: sweep(conn, self._clock(), answer_deadline=self._answer_deadline,
                                   rules_cache=self._rules_cache), lane=Lane.TECHNICAL)
            total += handled
            if handled < SWEEP_LIMIT:
                return total
