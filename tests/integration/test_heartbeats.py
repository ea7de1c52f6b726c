"""Heartbeats committed in batches, on SQLite and PostgreSQL: every deadline is right after a
batch (moved, left alone when nothing changes, a silent device brought back), an unknown
identity is told apart, the answer waits for the commit, and DC-09 link tests take this path
end to end."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from respons.engine import supervision
from respons.intake.dc09.frames import FrameSplitter, build, parse
from respons.intake.dc09.receiver import Receiver
from respons.intake.heartbeats import Heartbeats
from respons.store.journal import Journal, JournalClosed
from respons.store.tables import alarms, devices, quarantine
from tests.factories import FakeClock

INTERVAL, GRACE = 900, 60
PROTOCOL = "sia_dc09"


def add(engine, registry, identity: str, *, last_seen: datetime | None, interval: int | None = INTERVAL) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0], kind="safety_alarm",
            protocol=PROTOCOL, identity=identity, heartbeat_interval_s=interval, heartbeat_grace_s=GRACE if interval else None,
            last_seen_at=last_seen, created_at=last_seen or datetime(2026, 1, 1, tzinfo=timezone.utc),
            alert_after=last_seen + timedelta(seconds=INTERVAL + GRACE) if interval and last_seen else None,
        )).inserted_primary_key[0]


def row(engine, device_id: int):
    with engine.connect() as conn:
        return conn.execute(select(devices).where(devices.c.id == device_id)).one()


def test_a_batch_moves_every_deadline_that_must_move_and_writes_nothing_else(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stale = [add(engine, registry, f"ST{n:03X}", last_seen=now - timedelta(minutes=5)) for n in range(150)]
    fresh = [add(engine, registry, f"FR{n:03X}", last_seen=now - timedelta(seconds=10)) for n in range(100)]
    unsupervised = add(engine, registry, "UNS", last_seen=now - timedelta(seconds=5), interval=None)
    silent = add(engine, registry, "SIL", last_seen=now - timedelta(hours=2))
    with engine.begin() as conn:
        supervision.sweep(conn, now - timedelta(minutes=30), answer_deadline=timedelta(seconds=60))
    before = {d: row(engine, d) for d in fresh + [unsupervised]}
    assert row(engine, silent).silent_alarm_id is not None
    heartbeats = Heartbeats(journal, PROTOCOL)

    async def scenario():
        identities = [row(engine, d).identity for d in stale + fresh + [unsupervised, silent]]
        # A device heard twice in one batch: the later time counts.
        calls = [heartbeats.heard(i, now) for i in identities]
        calls.append(heartbeats.heard("ST000", now - timedelta(seconds=1)))
        calls.append(heartbeats.heard("NOPE", now))
        return await asyncio.gather(*calls)

    answers = asyncio.run(scenario())
    assert answers[:-1] == [True] * (len(answers) - 1) and answers[-1] is False, "an unknown identity is told apart"
    assert heartbeats.batches < 10, f"{len(answers)} heartbeats in {heartbeats.batches} units, not one each"
    for d in stale:
        moved = row(engine, d)
        assert (moved.last_seen_at, moved.alert_after) == (now, now + timedelta(seconds=INTERVAL + GRACE))
    for d, old in before.items():
        assert (row(engine, d).last_seen_at, row(engine, d).alert_after) == (old.last_seen_at, old.alert_after), \
            "a heartbeat that changes nothing writes nothing"
    back = row(engine, silent)
    assert back.silent_since is None and back.alert_after == now + timedelta(seconds=INTERVAL + GRACE)
    with engine.connect() as conn:
        lost = conn.execute(select(alarms.c.state, alarms.c.outcome).where(alarms.c.device_id == silent)).one()
    assert tuple(lost) == ("closed", "cleared"), "its lost-contact alarm cleared"


def test_the_answer_waits_for_the_commit_and_a_closed_journal_answers_nothing(engine, registry):
    now = datetime.now(timezone.utc)
    device = add(engine, registry, "WAIT", last_seen=now - timedelta(minutes=5))
    journal = Journal(engine, window_ms=1)  # not started: nothing commits until it is
    heartbeats = Heartbeats(journal, PROTOCOL)

    async def scenario():
        pending = asyncio.ensure_future(heartbeats.heard("WAIT", now))
        await asyncio.sleep(0.3)
        assert not pending.done(), "no answer before the commit"
        assert row(engine, device).last_seen_at != now
        journal.start()
        assert await asyncio.wait_for(pending, 10) is True
        assert row(engine, device).last_seen_at == now
        journal.close()
        with pytest.raises(JournalClosed):
            await heartbeats.heard("WAIT", now)

    asyncio.run(scenario())


def test_dc09_link_tests_from_many_panels_are_acknowledged_after_one_batched_commit(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    panels = [add(engine, registry, f"A{n:04X}", last_seen=now - timedelta(minutes=10)) for n in range(200)]
    receiver = Receiver(journal, FakeClock(now))

    async def scenario():
        frames = [build("NULL", sequence="0007", account=row(engine, p).identity, timestamp=now) for p in panels]
        frames.append(build("NULL", sequence="0007", account="BEEF", timestamp=now))
        return await asyncio.gather(*(receiver.answer_for(f, "127.0.0.1") for f in frames))

    replies = asyncio.run(scenario())
    tokens = [parse(FrameSplitter().feed(r)[0], now=now).token for r in replies]
    assert tokens[:-1] == ["ACK"] * len(panels) and tokens[-1] == "DUH", "an unknown panel is refused"
    assert receiver.heartbeats.batches < 20
    assert all(row(engine, p).alert_after == now + timedelta(seconds=INTERVAL + GRACE) for p in panels)
    with engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(quarantine).where(quarantine.c.reason == "unknown_account")).scalar()
    assert kept == 1, "the unknown panel's frame is kept for an administrator"


def test_a_network_coming_back_is_taken_a_slice_per_unit_and_every_panel_is_answered(engine, registry, journal):
    from respons.intake import heartbeats as heartbeats_module

    now = datetime.now(timezone.utc).replace(microsecond=0)
    silent = [add(engine, registry, f"BK{n:03X}", last_seen=now - timedelta(hours=2)) for n in range(120)]
    with engine.begin() as conn:
        supervision.sweep(conn, now - timedelta(minutes=30), answer_deadline=timedelta(seconds=60))
    heartbeats = Heartbeats(journal, PROTOCOL)

    async def scenario():
        return await asyncio.gather(*(heartbeats.heard(row(engine, d).identity, now) for d in silent))

    assert asyncio.run(scenario()) == [True] * len(silent)
    assert heartbeats.batches >= len(silent) // heartbeats_module.RETURNS_PER_UNIT, "in slices"
    assert all(row(engine, d).silent_since is None for d in silent)
    with engine.connect() as conn:
        still_open = conn.execute(select(func.count()).select_from(alarms).where(
            alarms.c.device_id.in_(silent), alarms.c.state != "closed")).scalar()
    assert still_open == 0
