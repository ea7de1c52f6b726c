"""Outages on SQLite and PostgreSQL, on an injected clock: when many devices of a municipality
(and network) fall silent at once, supervision raises their lost contact as members of one
group alarm, written in batches; the devices' return clears their members and, with the last
one, the group; a group closed with thousands open is cleared a slice per unit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from respons.domain import storms
from respons.domain.lifecycle import Outcome
from respons.engine import alarms as alarm_service
from respons.engine import receiving, supervision
from respons.engine.supervision import SupervisionWorker
from respons.store import queries
from respons.store.tables import alarm_events, alarms, devices, timers
from tests.factories import T0

INTERVAL = 600
DEADLINE = timedelta(seconds=60)
DUE = T0 + timedelta(seconds=INTERVAL)


def add_devices(engine, municipality_id: int, recipient_id: int, count: int, prefix: str, *,
                network: str | None = None, due=DUE) -> list[int]:
    rows = [{"municipality_id": municipality_id, "recipient_id": recipient_id, "kind": "safety_alarm",
             "protocol": "sia_dc09", "identity": f"{prefix}{n:05d}", "heartbeat_interval_s": INTERVAL,
             "heartbeat_grace_s": 0, "last_seen_at": due - timedelta(seconds=INTERVAL), "alert_after": due,
             "network": network, "created_at": T0} for n in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(devices), rows)
        return list(conn.execute(select(devices.c.id).where(devices.c.identity.like(f"{prefix}%"))
                                 .order_by(devices.c.id)).scalars())


def sweep_all(engine, at) -> int:
    handled = 0
    while True:
        with engine.begin() as conn:
            n = supervision.sweep(conn, at, answer_deadline=DEADLINE)
        handled += n
        if n < supervision.SWEEP_LIMIT:
            return handled


def seen(engine, device_id: int, at) -> None:
    with engine.begin() as conn:
        supervision.seen(conn, conn.execute(select(devices).where(devices.c.id == device_id)).one(), at)


def groups(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(alarms).where(alarms.c.source == storms.SOURCE).order_by(alarms.c.received_at)).all()


def members(engine, leader_id: str) -> list:
    with engine.connect() as conn:
        return conn.execute(select(alarms).where(alarms.c.group_id == leader_id)).all()


def queue(engine, registry, at) -> list[dict]:
    with engine.connect() as conn:
        return queries.queue(conn, now=at, in_municipalities=frozenset(registry.municipality_ids))


def test_an_outage_of_many_devices_is_one_group_alarm_with_a_member_for_each(engine, registry):
    municipality = registry.municipality_ids[0]
    ids = add_devices(engine, municipality, registry.recipient_ids[0], 2500, "OUT")
    at = DUE + timedelta(seconds=1)
    assert sweep_all(engine, at) == 2500, "in slices of SWEEP_LIMIT devices"

    (leader,) = groups(engine)
    assert (leader.type, leader.municipality_id, leader.recipient_id) == ("device_silent", municipality, None)
    assert leader.payload["storm"]["kind"] == "outage" and "network" not in leader.payload["storm"]
    grouped = members(engine, leader.id)
    assert len(grouped) == 2500 and {m.device_id for m in grouped} == set(ids)
    assert {(m.type, m.source, m.state, m.occurred_at) for m in grouped} == {("device_silent", "supervision", "received", DUE)}
    with engine.connect() as conn:
        silent = conn.execute(select(devices.c.id, devices.c.silent_alarm_id, devices.c.silent_since,
                                     devices.c.alert_after).where(devices.c.id.in_(ids))).all()
        member_timers = conn.execute(select(func.count()).select_from(timers).where(
            timers.c.alarm_id.in_([m.id for m in grouped[:500]]), timers.c.state == "pending")).scalar_one()
        first_events = conn.execute(select(alarm_events.c.kind, func.count()).where(
            alarm_events.c.alarm_id.in_([m.id for m in grouped[:500]])).group_by(alarm_events.c.kind)).all()
    by_device = {m.device_id: m.id for m in grouped}
    assert all(d.silent_alarm_id == by_device[d.id] and d.silent_since == at and d.alert_after is None for d in silent)
    assert member_timers == 0, "members wait through their group: no answer clocks of their own"
    assert first_events == [("received", 500)], "each member's timeline starts with its receipt"

    rows = queue(engine, registry, at)
    outage = [r for r in rows if r["type"] == "device_silent"]
    assert [(r["id"], r["members"], r["storm"]) for r in outage] == [(leader.id, 2500, {"kind": "outage", "network": None})], \
        "one row for the centre and the technicians, not 2,500"
    assert sweep_all(engine, at + timedelta(minutes=5)) == 0, "one alarm per silence"


def test_outages_are_grouped_per_municipality_and_network(engine, registry):
    first, second = registry.municipality_ids[:2]
    telenor = add_devices(engine, first, registry.recipient_ids[0], 6, "ZTN", network="Telenor")
    telia = add_devices(engine, first, registry.recipient_ids[0], 6, "ZTA", network="Telia")
    unknown = add_devices(engine, first, registry.recipient_ids[0], 6, "ZUK")
    elsewhere = add_devices(engine, second, registry.recipient_ids[-1], 6, "ZEL", network="Telenor")
    sweep_all(engine, DUE + timedelta(seconds=1))

    found = {(g.municipality_id, g.payload["storm"].get("network")): {m.device_id for m in members(engine, g.id)}
             for g in groups(engine)}
    assert found == {(first, "Telenor"): set(telenor), (first, "Telia"): set(telia), (first, None): set(unknown),
                     (second, "Telenor"): set(elsewhere)}
    shown = {(r["municipality_id"], r["storm"]["network"]): r["members"] for r in queue(engine, registry, DUE)
             if r["members"] is not None}
    assert shown == {(first, "Telenor"): 6, (first, "Telia"): 6, (first, None): 6, (second, "Telenor"): 6}


def test_four_silent_devices_are_four_alarms_and_the_fifth_in_the_window_makes_them_a_group(engine, registry):
    municipality = registry.municipality_ids[0]
    ids = add_devices(engine, municipality, registry.recipient_ids[0], 5, "FEW")
    for n, device_id in enumerate(ids[:4]):
        with engine.begin() as conn:
            conn.execute(devices.update().where(devices.c.id == device_id)
                         .values(alert_after=DUE + timedelta(minutes=n)))
    with engine.begin() as conn:
        conn.execute(devices.update().where(devices.c.id == ids[4]).values(alert_after=DUE + timedelta(minutes=9)))
    for minute in range(4):
        sweep_all(engine, DUE + timedelta(minutes=minute, seconds=1))
    assert groups(engine) == []
    lone = [r for r in queue(engine, registry, DUE + timedelta(minutes=5)) if r["type"] == "device_silent"]
    assert len(lone) == 4 and all(r["members"] is None for r in lone), "four are four faults of their own"

    sweep_all(engine, DUE + timedelta(minutes=9, seconds=1))
    (leader,) = groups(engine)
    assert {m.device_id for m in members(engine, leader.id)} == set(ids)
    with engine.connect() as conn:
        live = conn.execute(select(func.count()).select_from(timers).where(
            timers.c.alarm_id.in_([a["id"] for a in lone]), timers.c.state.in_(["pending", "claimed"]))).scalar_one()
    assert live == 0, "the four joined the group: their clocks stopped"


def test_silences_spread_over_more_than_the_window_are_no_outage(engine, registry):
    municipality = registry.municipality_ids[0]
    ids = add_devices(engine, municipality, registry.recipient_ids[0], 6, "SPR")
    step = storms.OUTAGE.window / 4 + timedelta(seconds=30)
    with engine.begin() as conn:
        for n, device_id in enumerate(ids):
            conn.execute(devices.update().where(devices.c.id == device_id).values(alert_after=DUE + n * step))
    for n in range(len(ids)):
        assert sweep_all(engine, DUE + n * step + timedelta(seconds=1)) == 1
    assert groups(engine) == []


def test_devices_coming_back_clear_their_members_and_the_last_one_clears_the_group(engine, registry):
    municipality = registry.municipality_ids[0]
    ids = add_devices(engine, municipality, registry.recipient_ids[0], 8, "BCK")
    sweep_all(engine, DUE + timedelta(seconds=1))
    (leader,) = groups(engine)
    back = DUE + timedelta(minutes=30)
    for n, device_id in enumerate(ids[:-1]):
        seen(engine, device_id, back + timedelta(seconds=n))
    assert groups(engine)[0].state != "closed", "not over while one device is still out"
    shown = [r for r in queue(engine, registry, back) if r["id"] == leader.id]
    assert shown and shown[0]["members"] == 8

    seen(engine, ids[-1], back + timedelta(minutes=1))
    (leader,) = groups(engine)
    assert (leader.state, leader.outcome) == ("closed", "cleared")
    assert {(m.state, m.outcome) for m in members(engine, leader.id)} == {("closed", "cleared")}
    with engine.connect() as conn:
        reasons = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == leader.id,
                                                                 alarm_events.c.kind == "cleared")).scalars().all()
    assert [r["reason"] for r in reasons] == ["all_members_cleared"]
    assert [r for r in queue(engine, registry, back) if r["type"] == "device_silent"] == []


def test_a_group_closed_with_thousands_open_is_cleared_a_slice_per_unit(engine, registry):
    municipality = registry.municipality_ids[0]
    add_devices(engine, municipality, registry.recipient_ids[0], 450, "CLS")
    sweep_all(engine, DUE + timedelta(seconds=1))
    (leader,) = groups(engine)
    at = DUE + timedelta(minutes=10)
    with engine.begin() as conn:
        alarm_service.answer(conn, leader.id, actor="user:1", visible_to=None, now=at)
        alarm_service.resolve(conn, leader.id, actor="user:1", visible_to=None, outcome=Outcome.TECHNICIAN,
                              note=None, now=at)
        alarm_service.close(conn, leader.id, actor="user:1", visible_to=None, now=at)
    states = sorted(m.state for m in members(engine, leader.id))
    assert states.count("closed") == alarm_service.MEMBERS_PER_UNIT, "the first slice with the close itself"

    with engine.begin() as conn:
        assert alarm_service.clear_members_of_closed_groups(conn, at) == alarm_service.MEMBERS_PER_UNIT
    with engine.begin() as conn:
        assert alarm_service.clear_members_of_closed_groups(conn, at) == 450 - 2 * alarm_service.MEMBERS_PER_UNIT
    with engine.begin() as conn:
        assert alarm_service.clear_members_of_closed_groups(conn, at) == 0
    assert {(m.state, m.outcome) for m in members(engine, leader.id)} == {("closed", "technician")}
    with engine.connect() as conn:
        cleared = conn.execute(select(func.count()).select_from(alarm_events).where(
            alarm_events.c.kind == "cleared", alarm_events.c.alarm_id.in_([m.id for m in members(engine, leader.id)]))
        ).scalar_one()
    assert cleared == 450, "each member's timeline says it was cleared, once"


def test_a_member_retransmitted_into_the_group_finds_its_alarm(engine, registry):
    municipality = registry.municipality_ids[0]
    ids = add_devices(engine, municipality, registry.recipient_ids[0], 6, "RTX")
    sweep_all(engine, DUE + timedelta(seconds=1))
    (leader,) = groups(engine)
    with engine.connect() as conn:
        device = conn.execute(select(devices).where(devices.c.id == ids[0])).one()
    again = receiving.NewAlarm(
        municipality_id=municipality, recipient_id=device.recipient_id, device_id=device.id,
        alarm_type=supervision.LOST_CONTACT, source=supervision.SOURCE, actor=supervision.ACTOR, occurred_at=DUE,
        idempotency_scope=f"{supervision.SOURCE}:{device.id}", idempotency_key=DUE.isoformat())
    with engine.begin() as conn:
        (received,) = receiving.receive_members(conn, [(again, DUE)], leader.id, municipality_id=municipality)
    assert received.duplicate and received.alarm_id == device.silent_alarm_id
    assert len(members(engine, leader.id)) == 6


def test_the_worker_wakes_at_the_earliest_deadline_not_at_its_poll(engine, registry, journal):
    """The poll is a minute; a deadline half a second away is met within seconds."""
    from respons.clock import system_clock

    municipality = registry.municipality_ids[0]
    due = system_clock() + timedelta(milliseconds=500)
    (device_id,) = add_devices(engine, municipality, registry.recipient_ids[0], 1, "WAKE", due=due + timedelta(hours=1))
    worker = SupervisionWorker(journal, system_clock, poll_seconds=60, answer_deadline=DEADLINE)

    async def scenario() -> bool:
        worker.start()
        await asyncio.sleep(0.2)  # the first round: nothing due, next deadline an hour away
        with engine.begin() as conn:  # a device due sooner (the poll alone would find it in a minute)
            conn.execute(devices.update().where(devices.c.id == device_id).values(alert_after=due))
        worker.wake()  # what a registration does
        try:
            for _ in range(150):
                await asyncio.sleep(0.1)
                with engine.connect() as conn:
                    if conn.execute(select(devices.c.silent_since).where(devices.c.id == device_id)).scalar():
                        return True
            return False
        finally:
            await worker.stop()

    assert asyncio.run(scenario()), "raised at its deadline, long before the 60 s poll"


def test_two_nodes_sweeping_one_outage_make_one_group_alarm(engine, registry):
    """Two sweeps, each its own slice of the same outage at the same moment (SKIP LOCKED):
    the second waits for the first's group alarm and joins it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("one writer on SQLite: two sweeps never run at the same moment")
    import threading

    municipality = registry.municipality_ids[0]
    add_devices(engine, municipality, registry.recipient_ids[0], 20, "TWO")
    at = DUE + timedelta(seconds=1)
    first = engine.connect()
    transaction = first.begin()
    assert supervision.sweep(first, at, answer_deadline=DEADLINE, limit=10) == 10
    second_done = threading.Event()

    def second_node():
        with engine.begin() as conn:
            supervision.sweep(conn, at, answer_deadline=DEADLINE, limit=10)
        second_done.set()

    thread = threading.Thread(target=second_node)
    thread.start()
    try:
        assert not second_done.wait(1.0), "the second sweep waits for the first's group"
    finally:
        transaction.commit()
        first.close()
        thread.join(10)
    (leader,) = groups(engine)
    assert len(members(engine, leader.id)) == 20


def test_a_group_is_not_cleared_while_another_node_adds_members_to_it(engine, registry):
    """The last member's device comes back while a sweep on another node is adding new
    members: the group stays open for them."""
    if engine.dialect.name != "postgresql":
        pytest.skip("one writer on SQLite: no other node adds members meanwhile")
    import threading

    municipality = registry.municipality_ids[0]
    old = add_devices(engine, municipality, registry.recipient_ids[0], 5, "OLD")
    sweep_all(engine, DUE + timedelta(seconds=1))
    (leader,) = groups(engine)
    back = DUE + timedelta(minutes=5)
    for device_id in old[:-1]:
        seen(engine, device_id, back)
    add_devices(engine, municipality, registry.recipient_ids[0], 5, "NEW", due=back)
    sweeping = engine.connect()
    transaction = sweeping.begin()
    assert supervision.sweep(sweeping, back + timedelta(seconds=1), answer_deadline=DEADLINE) == 5
    thread = threading.Thread(target=seen, args=(engine, old[-1], back + timedelta(seconds=2)))
    thread.start()
    thread.join(1.0)
    transaction.commit()
    sweeping.close()
    thread.join(10)
    (leader,) = groups(engine)
    assert leader.state != "closed", "five new members are out: the outage is not over"
    open_members = [m for m in members(engine, leader.id) if m.state != "closed"]
    assert len(open_members) == 5


def test_a_registration_tells_every_supervision_worker_to_look_again(engine, registry):
    from respons.registry import service as registry_service
    from respons.store.journal import Journal

    published: list[dict] = []
    journal = Journal(engine, window_ms=1, on_commit=published.extend).start()
    try:
        journal.run_sync(lambda conn: registry_service.add_device(
            conn, {"kind": "safety_alarm", "protocol": "http", "identity": "REG-1", "heartbeat_interval_s": 60},
            municipality_id=registry.municipality_ids[0], allowed=None, now=T0, actor="user:1"))
    finally:
        journal.close()
    assert supervision.DEADLINES_CHANGED in [c.get("event") for c in published]
    worker = SupervisionWorker(journal, lambda: T0, poll_seconds=60, answer_deadline=DEADLINE)
    woken = []
    worker.wake = lambda: woken.append(True)  # type: ignore[method-assign]
    worker.changes(published)
    assert woken, "the worker on this node (and, by the relay, on the others) wakes"
