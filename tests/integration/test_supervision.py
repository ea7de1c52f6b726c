"""Device supervision on SQLite and PostgreSQL: silent devices raise lost contact, their
return clears it, a silent base unit inhibits its peripherals, and the sweep finds due
devices through the deadline index."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update

from respons.domain.lifecycle import State
from respons.engine import supervision
from respons.engine.supervision import SupervisionWorker
from respons.intake.dc09.frames import build, parse
from respons.intake.dc09.receiver import Answer, handle
from respons.store.tables import alarms, devices, timers
from tests.factories import T0, FakeClock

INTERVAL, GRACE = 3600, 300
DEADLINE = timedelta(seconds=60)


def add_device(engine, registry, identity: str, *, base_unit_id: int | None = None, protocol: str = "sia_dc09") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
            kind="safety_alarm" if base_unit_id is None else "fall_sensor", protocol=protocol, identity=identity,
            heartbeat_interval_s=INTERVAL, heartbeat_grace_s=GRACE, base_unit_id=base_unit_id, last_seen_at=T0,
            alert_after=T0 + timedelta(seconds=INTERVAL + GRACE), created_at=T0,
        )).inserted_primary_key[0]


def sweep(engine, at) -> int:
    with engine.begin() as conn:
        return supervision.sweep(conn, at, answer_deadline=DEADLINE)


def seen(engine, device_id: int, at) -> None:
    with engine.begin() as conn:
        supervision.seen(conn, conn.execute(select(devices).where(devices.c.id == device_id)).one(), at)


def lost_contact(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(alarms).where(alarms.c.type == "device_silent").order_by(alarms.c.received_at)).all()


def device(engine, device_id: int):
    with engine.connect() as conn:
        return conn.execute(select(devices).where(devices.c.id == device_id)).one()


DUE = T0 + timedelta(seconds=INTERVAL + GRACE)


def test_a_silent_device_raises_lost_contact_once_and_its_return_clears_it(engine, registry):
    panel = add_device(engine, registry, "5C4")
    assert sweep(engine, DUE - timedelta(seconds=1)) == 0, "not silent before interval + grace"
    assert sweep(engine, DUE + timedelta(seconds=1)) == 1
    assert sweep(engine, DUE + timedelta(minutes=10)) == 0, "one alarm per silence, not one per sweep"
    (alarm,) = lost_contact(engine)
    assert (alarm.category, alarm.source, alarm.device_id, alarm.occurred_at) == ("technical", "supervision", panel, DUE)
    assert alarm.state in (State.QUEUED.value, State.OFFERED.value)
    silent = device(engine, panel)
    assert silent.alert_after is None and silent.silent_since == DUE + timedelta(seconds=1)
    assert silent.silent_alarm_id == alarm.id

    back = DUE + timedelta(minutes=20)
    seen(engine, panel, back)
    (alarm,) = lost_contact(engine)
    assert (alarm.state, alarm.outcome, alarm.closed_at) == ("closed", "cleared", back)
    with engine.connect() as conn:
        live = conn.execute(select(timers.c.kind).where(timers.c.alarm_id == alarm.id,
                                                        timers.c.state.in_(["pending", "claimed"]))).all()
    assert live == [], "a cleared alarm has no answer clock or routing timers left"
    returned = device(engine, panel)
    assert returned.silent_since is None and returned.alert_after == back + timedelta(seconds=INTERVAL + GRACE)
    assert sweep(engine, back + timedelta(seconds=INTERVAL)) == 0


def test_a_dc09_link_test_is_a_sign_of_life_that_clears_lost_contact(engine, registry):
    add_device(engine, registry, "5C4")
    sweep(engine, DUE + timedelta(seconds=1))
    back = DUE + timedelta(minutes=3)
    link_test = build("NULL", sequence="0001", account="5C4", timestamp=back)
    with engine.begin() as conn:
        handle(conn, parse(link_test, now=back), link_test, now=back, remote="127.0.0.1")
    (alarm,) = lost_contact(engine)
    assert alarm.state == "closed" and alarm.outcome == "cleared"


def test_a_link_test_during_another_nodes_sweep_waits_for_it_and_clears_what_it_raised(engine, registry):
    # PostgreSQL, two nodes: the sweep marks the panel silent while its link test is being
    # written elsewhere. The link test must read what the sweep committed (and clear the
    # alarm), not the row from before it, which would leave a talking panel marked silent
    # with its lost-contact alarm open.
    if engine.dialect.name != "postgresql":
        pytest.skip("one writer on SQLite: a unit never overlaps another's")
    panel = add_device(engine, registry, "5C4")
    back = DUE + timedelta(seconds=2)
    link_test = build("NULL", sequence="0001", account="5C4", timestamp=back)

    def write_link_test():
        with engine.begin() as conn:
            return handle(conn, parse(link_test, now=back), link_test, now=back, remote="127.0.0.1")

    with engine.connect() as sweeping, ThreadPoolExecutor(1) as pool:
        sweeping.begin()
        assert supervision.sweep(sweeping, DUE + timedelta(seconds=1), answer_deadline=DEADLINE) == 1
        answered = pool.submit(write_link_test)
        try:
            with pytest.raises(FutureTimeout):
                answered.result(timeout=0.5)  # waits for the sweep's lock on the panel
        finally:
            sweeping.commit()
        assert answered.result(timeout=10) is Answer.ACK
    (alarm,) = lost_contact(engine)
    assert (alarm.state, alarm.outcome) == ("closed", "cleared")
    returned = device(engine, panel)
    assert (returned.silent_since, returned.silent_alarm_id) == (None, None)
    assert returned.alert_after == back + timedelta(seconds=INTERVAL + GRACE)


def test_a_link_test_that_changes_nothing_takes_no_lock(engine, registry):
    # Heard a moment ago: the deadline stands, nothing is written, and nothing waits for a
    # lock another unit holds on the panel (PostgreSQL; SQLite has one writer).
    if engine.dialect.name != "postgresql":
        pytest.skip("one writer on SQLite: a unit never overlaps another's")
    add_device(engine, registry, "5C4")
    now = T0 + timedelta(seconds=30)
    link_test = build("NULL", sequence="0001", account="5C4", timestamp=now)
    with engine.connect() as holder:
        holder.begin()
        holder.execute(select(devices.c.id).where(devices.c.identity == "5C4").with_for_update())
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert handle(conn, parse(link_test, now=now), link_test, now=now, remote="127.0.0.1") is Answer.ACK
        holder.rollback()


def test_a_silent_base_unit_inhibits_its_peripherals_and_wakes_them_when_it_returns(engine, registry):
    base = add_device(engine, registry, "BASE1")
    fall, smoke = (add_device(engine, registry, name, base_unit_id=base) for name in ("FALL1", "SMOKE1"))
    assert sweep(engine, DUE + timedelta(seconds=1)) == 3
    (alarm,) = lost_contact(engine)
    assert alarm.device_id == base, "one fault for the technician: the base unit"
    for peripheral in (fall, smoke):
        row = device(engine, peripheral)
        assert row.silent_since is not None and row.silent_alarm_id is None and row.alert_after is None

    back = DUE + timedelta(hours=2)
    seen(engine, base, back)
    for peripheral in (fall, smoke):
        row = device(engine, peripheral)
        assert row.silent_since is None and row.alert_after == back + timedelta(seconds=INTERVAL + GRACE)
    for alive in (base, fall):  # the base unit and the fall sensor report again; the smoke detector does not
        seen(engine, alive, back + timedelta(minutes=1))
    assert sweep(engine, back + timedelta(seconds=INTERVAL + GRACE + 1)) == 1
    silent = [a for a in lost_contact(engine) if a.state != "closed"]
    assert [a.device_id for a in silent] == [smoke], "a peripheral still silent after the base returned alarms itself"


def test_a_peripheral_silent_while_its_base_unit_is_fine_raises_its_own_alarm(engine, registry):
    base = add_device(engine, registry, "BASE2")
    fall = add_device(engine, registry, "FALL2", base_unit_id=base)
    seen(engine, base, DUE - timedelta(minutes=1))
    assert sweep(engine, DUE + timedelta(seconds=1)) == 1
    assert [a.device_id for a in lost_contact(engine)] == [fall]


def test_devices_without_an_interval_are_not_supervised(engine, registry):
    panel = add_device(engine, registry, "5C5")
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == panel).values(heartbeat_interval_s=None))
    seen(engine, panel, T0)
    assert device(engine, panel).alert_after is None
    assert sweep(engine, T0 + timedelta(days=30)) == 0


def test_the_worker_sweeps_through_the_journal(engine, registry, journal):
    add_device(engine, registry, "5C6")
    worker = SupervisionWorker(journal, FakeClock(DUE + timedelta(seconds=5)), poll_seconds=60, answer_deadline=DEADLINE)
    assert asyncio.run(worker.run_once()) == 1
    assert len(lost_contact(engine)) == 1


def test_the_sweep_finds_due_devices_through_the_deadline_index(engine, registry):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner rightly scans a table this small; the index exists on both (test_migrations)")
    with engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM devices WHERE alert_after <= :now AND active"), {"now": DUE}))
    assert "ix_devices_alert_after" in plan


def test_an_http_alarm_is_a_sign_of_life_that_pushes_the_deadline_and_clears_lost_contact(engine, registry):
    """Vendor platforms send alarms over HTTP and no heartbeats: each alarm shows the device
    is alive (a demo running longer than a day no longer fills up with lost contact)."""
    from respons.intake.http import AlarmIn, receive_http_alarm
    from respons.store.quarantine import RawInput

    def http_alarm(identity: str, at):
        with engine.begin() as conn:
            return receive_http_alarm(conn, AlarmIn(device=identity, type="button_press", occurred_at=at),
                                      RawInput("http", b"{}"), municipality_id=registry.municipality_ids[0],
                                      idempotency_key=None, now=at, answer_deadline=DEADLINE)

    quiet, lost = add_device(engine, registry, "HTTP-1", protocol="http"), add_device(engine, registry, "HTTP-2", protocol="http")
    halfway = T0 + timedelta(seconds=INTERVAL // 2)
    http_alarm("HTTP-1", halfway)
    assert device(engine, quiet).alert_after == halfway + timedelta(seconds=INTERVAL + GRACE)
    assert sweep(engine, DUE + timedelta(seconds=1)) == 1, "HTTP-1 was heard halfway; only HTTP-2 is silent"
    back = DUE + timedelta(minutes=5)
    http_alarm("HTTP-2", back)
    (alarm,) = lost_contact(engine)
    assert (alarm.device_id, alarm.state, alarm.outcome) == (lost, "closed", "cleared")
    assert device(engine, lost).silent_since is None
