"""Batch-aware intake on SQLite and PostgreSQL: DC-09 frames written many to a unit make the
same alarms, events and answer deadlines as one at a time; a retransmit in the same batch is
one alarm; frames that are not a known panel's alarm still get their own treatment; and a
batch that cannot be written falls back to one unit per frame, so a bad frame fails alone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from respons.intake.batches import Batcher
from respons.intake.dc09.frames import Answer, FrameSplitter, build, parse
from respons.intake.dc09.receiver import Receiver, handle
from respons.store.journal import Lane
from respons.store.tables import alarm_events, alarms, devices, quarantine, timers
from tests.factories import FakeClock

DEADLINE = 60


def register(engine, registry, accounts: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(devices), [
            {"municipality_id": registry.municipality_ids[0], "recipient_id": registry.recipient_ids[n % len(registry.recipient_ids)],
             "kind": "safety_alarm", "protocol": "sia_dc09", "identity": account, "heartbeat_interval_s": 3600,
             "heartbeat_grace_s": 300, "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
            for n, account in enumerate(accounts)])


def frame(account: str, sequence: str, code: str, now: datetime) -> bytes:
    return build("ADM-CID", sequence=sequence, account=account, prefix="0", receiver="1",
                 data=f"#{account}|{code} 01 015", timestamp=now)


def tokens(replies: list[bytes | None], now: datetime) -> list[str | None]:
    return [parse(FrameSplitter().feed(r)[0], now=now).token if r else None for r in replies]


def snapshot(engine, alarm_id: str) -> tuple:
    """What an alarm is, without its ids and times: to compare a batched alarm with one alone."""
    with engine.connect() as conn:
        row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
        events = conn.execute(select(alarm_events.c.seq, alarm_events.c.kind,
                                     func.substr(alarm_events.c.actor, 1, 7),  # "device:" or "system:"
                                     alarm_events.c.data)
                              .where(alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq)).all()
        deadlines = conn.execute(select(timers.c.kind, timers.c.state, timers.c.due_at)
                                 .where(timers.c.alarm_id == alarm_id)).all()
    payload = {k: v for k, v in (row.payload or {}).get("dc09", {}).items() if k != "zone"}
    return ((row.type, row.category, row.priority, row.state, row.seq, row.route_step, row.route, row.source,
             row.recipient_id is not None, row.group_id, payload, row.occurred_at == row.received_at),
            [(seq, kind, actor, data) for seq, kind, actor, data in events],
            [(kind, state, (due - row.received_at).total_seconds()) for kind, state, due in deadlines])


def test_alarm_frames_from_many_panels_in_one_batch_are_the_alarms_one_at_a_time_would_be(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    accounts = [f"C{n:03X}" for n in range(120)]
    register(engine, registry, accounts + ["C999"])
    receiver = Receiver(journal, FakeClock(now), answer_deadline_seconds=DEADLINE)

    lone = frame("C999", "0001", "1101", now)
    # The reference: the same frame through the unit one frame at a time makes.
    assert journal.run_sync(lambda conn: handle(conn, parse(lone, now=now), lone, now=now, remote="127.0.0.1",
                                                answer_deadline_seconds=DEADLINE)) is Answer.ACK

    async def together():
        frames = [frame(a, "0001", "1101", now) for a in accounts]
        frames.append(frame(accounts[0], "0001", "1101", now))  # a retransmit in the same batch
        frames.append(frame("FFFF", "0001", "1101", now))  # an unknown panel
        frames.append(frame(accounts[1], "0002", "3101", now))  # a restore
        return await asyncio.gather(*(receiver.answer_for(f, "127.0.0.1") for f in frames))

    replies = asyncio.run(together())
    assert tokens(replies, now) == ["ACK"] * 121 + ["DUH", "ACK"]
    with engine.connect() as conn:
        notes = conn.execute(select(alarm_events.c.data).join(alarms, alarms.c.id == alarm_events.c.alarm_id)
                             .where(alarms.c.idempotency_scope == f"sia_dc09:{accounts[1]}",
                                    alarm_events.c.kind == "note")).scalars().all()
    assert len(notes) == 1, "the restore in the same batch as its alarm is noted on it, as one at a time"
    assert receiver.batches[Lane.LIFE].batches <= 5, "written in batches, not a unit each"

    with engine.connect() as conn:
        made = conn.execute(select(alarms.c.id, alarms.c.idempotency_scope).where(alarms.c.source == "sia_dc09")).all()
        kept = conn.execute(select(quarantine.c.reason)).scalars().all()
    by_panel = {}
    for alarm_id, scope in made:
        by_panel.setdefault(scope.removeprefix("sia_dc09:"), []).append(alarm_id)
    assert sorted(by_panel) == sorted(accounts + ["C999"]) and all(len(v) == 1 for v in by_panel.values()), \
        "one alarm per panel: the retransmit in the same batch found its alarm"
    assert kept == ["unknown_account"]
    alone = snapshot(engine, by_panel["C999"][0])
    assert alone[0][3] == "queued" and [e[1] for e in alone[1]] == ["received", "queued"]
    assert alone[2] == [("answer_deadline", "pending", float(DEADLINE))]
    for account in accounts[:1] + accounts[2:]:  # accounts[1] has its restore noted besides
        assert snapshot(engine, by_panel[account][0]) == alone, f"{account}: not what one alarm alone makes"


def test_panels_heard_in_a_batch_have_their_deadlines_moved(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    accounts = [f"D{n:03X}" for n in range(50)]
    register(engine, registry, accounts)
    receiver = Receiver(journal, FakeClock(now))

    async def together():
        return await asyncio.gather(*(receiver.answer_for(frame(a, "0001", "1101", now), "127.0.0.1") for a in accounts))

    asyncio.run(together())
    with engine.connect() as conn:
        deadlines = conn.execute(select(devices.c.alert_after).where(devices.c.identity.in_(accounts))).scalars().all()
    assert deadlines == [now + timedelta(seconds=3600 + 300)] * len(accounts)


def test_a_batch_that_cannot_be_written_falls_back_to_a_unit_per_item_and_the_bad_one_fails_alone(engine, journal):
    def unit(conn, items: list[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("item 13 cannot be written")
        return [item * 2 for item in items]

    batcher = Batcher(journal, unit, lane=Lane.DEFAULT, max_batch=100)

    async def scenario():
        return await asyncio.gather(*(batcher.add(n) for n in range(30)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert [r for n, r in enumerate(results) if n != 13] == [n * 2 for n in range(30) if n != 13]
    assert isinstance(results[13], RuntimeError)


def test_a_closed_journal_fails_every_item_of_the_batch(engine, journal):
    batcher = Batcher(journal, lambda conn, items: list(items), lane=Lane.DEFAULT, max_batch=100)
    journal.close()

    async def scenario():
        return await asyncio.gather(*(batcher.add(n) for n in range(5)), return_exceptions=True)

    assert all(isinstance(r, Exception) for r in asyncio.run(scenario()))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alarms)).scalar() == 0


def test_ac_losses_arriving_in_one_batch_are_members_of_one_storm_and_an_assistance_alarm_is_not(engine, registry, journal):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    accounts = [f"E{n:03X}" for n in range(12)]
    register(engine, registry, accounts + ["E999"])
    receiver = Receiver(journal, FakeClock(now))

    async def together():
        frames = [frame(a, "0001", "1301", now) for a in accounts]
        frames.append(frame(accounts[3], "0001", "1301", now))  # a retransmit in the same batch
        frames.append(frame("E999", "0001", "1101", now))
        return await asyncio.gather(*(receiver.answer_for(f, "127.0.0.1") for f in frames))

    assert tokens(asyncio.run(together()), now) == ["ACK"] * 14
    with engine.connect() as conn:
        rows = conn.execute(select(alarms.c.id, alarms.c.type, alarms.c.source, alarms.c.group_id, alarms.c.state)).all()
        live = conn.execute(select(timers.c.alarm_id).where(timers.c.state == "pending")).scalars().all()
    (leader,) = [r for r in rows if r.source == "storm"]
    members = [r for r in rows if r.type == "power_lost" and r.source == "sia_dc09"]
    (assistance,) = [r for r in rows if r.type == "button_press"]
    assert len(members) == 12 and {m.group_id for m in members} == {leader.id}, "one member per panel, none twice"
    assert assistance.group_id is None and assistance.state == "queued"
    assert sorted(live) == sorted([leader.id, assistance.id]), "members have no clocks of their own"
