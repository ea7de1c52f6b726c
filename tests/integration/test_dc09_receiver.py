"""The DC-09 receiver over real TCP and UDP sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from respons.intake.dc09.crc import crc16_arc
from respons.intake.dc09.frames import Frame, FrameSplitter, build, parse
from respons.intake.dc09.receiver import Receiver
from respons.store.tables import alarm_events, alarms, devices, quarantine
from tests.factories import FakeClock

NOW = datetime(2026, 11, 23, 2, 14, 7, tzinfo=timezone.utc)
ACCOUNT = "1A2B"


KEY = bytes.fromhex("8E0F6A3D2C1B4A5968778695A4B3C2D1")


def register(engine, registry, *, account: str = ACCOUNT, key: bytes | None = None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0], kind="safety_alarm",
            protocol="sia_dc09", identity=account, heartbeat_interval_s=3600, heartbeat_grace_s=300, created_at=NOW,
            dc09_key=key.hex().upper() if key else None,
        )).inserted_primary_key[0]


def cid(sequence: str, data: str = f"#{ACCOUNT}|1101 01 015", *, account: str = ACCOUNT, stamp=NOW,
        key: bytes | None = None) -> bytes:
    return build("ADM-CID", sequence=sequence, account=account, prefix="0", receiver="1", data=data, timestamp=stamp,
                 key=key)


async def exchange_tcp(port: int, payloads: list[bytes], expect: int, *, key: bytes | None = None) -> list[Frame]:
    return [parse(raw, now=NOW, key=key) for raw in await exchange_tcp_raw(port, payloads, expect)]


async def exchange_tcp_raw(port: int, payloads: list[bytes], expect: int) -> list[bytes]:
    """The answers' bytes, LF to CR, as the panel receives them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for payload in payloads:
        writer.write(payload)
        await writer.drain()
        await asyncio.sleep(0.01)  # separate reads, so a frame can arrive in pieces
    splitter, answers = FrameSplitter(), []
    while len(answers) < expect:
        data = await asyncio.wait_for(reader.read(4096), 10)
        assert data, "the receiver closed the connection"
        answers += splitter.feed(data)
    writer.close()
    return answers


def framed(message: str) -> bytes:
    """``message`` between LF and CR with its CRC-16/ARC and length, as DC-09 frames it."""
    body = message.encode("ascii")
    return b"\n" + f"{crc16_arc(body):04X}0{len(body):03X}".encode("ascii") + body + b"\r"


def run(journal, scenario):
    async def main():
        receiver = Receiver(journal, FakeClock(NOW))
        await receiver.start("127.0.0.1", 0, 0)
        try:
            return await scenario(receiver)
        finally:
            await receiver.stop()

    return asyncio.run(main())


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_coalesced_and_split_frames_are_each_answered_after_commit_and_a_retransmit_makes_no_second_alarm(
        engine, registry, journal):
    device_id = register(engine, registry)
    alarm = cid("0001")
    heartbeat = build("NULL", sequence="0002", account=ACCOUNT, prefix="0", receiver="1", timestamp=NOW)
    fire = cid("0003", f"#{ACCOUNT}|1110 01 002")
    # Two frames in one write, then one frame in two writes, then the first frame again.
    payloads = [alarm + heartbeat, fire[:17], fire[17:], alarm]
    answers = run(journal, lambda r: exchange_tcp(r.tcp_port, payloads, 4))
    assert [(a.token, a.sequence, a.account) for a in answers] == [
        ("ACK", "0001", ACCOUNT), ("ACK", "0002", ACCOUNT), ("ACK", "0003", ACCOUNT), ("ACK", "0001", ACCOUNT)]
    with engine.connect() as conn:
        stored = conn.execute(select(alarms.c.type, alarms.c.source, alarms.c.device_id).order_by(alarms.c.received_at)).all()
        seen = conn.execute(select(devices.c.last_seen_at, devices.c.alert_after).where(devices.c.id == device_id)).one()
    assert sorted(s.type for s in stored) == ["button_press", "fire"], "the retransmit made no second alarm"
    assert {s.source for s in stored} == {"sia_dc09"} and {s.device_id for s in stored} == {device_id}
    assert seen.last_seen_at == NOW and seen.alert_after == NOW + timedelta(seconds=3900)


def test_frames_sent_faster_than_they_are_committed_are_all_answered_in_order(engine, registry, journal):
    register(engine, registry)
    sequences = [f"{n:04d}" for n in range(1, 151)]  # more than a connection reads ahead before pausing

    async def flood(receiver):
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.tcp_port)
        writer.write(b"".join(cid(sequence) for sequence in sequences))  # not one answer read meanwhile
        await writer.drain()
        splitter, answers = FrameSplitter(), []
        while len(answers) < len(sequences):
            data = await asyncio.wait_for(reader.read(4096), 10)
            assert data, "the receiver closed the connection"
            answers += splitter.feed(data)
        writer.close()
        return [parse(raw, now=NOW) for raw in answers]

    answers = run(journal, flood)
    assert [(a.token, a.sequence) for a in answers] == [("ACK", sequence) for sequence in sequences]
    assert count(engine, alarms) == len(sequences)


def test_thousands_of_damaged_frames_in_one_write_are_each_refused_and_the_connection_still_serves(
        engine, registry, journal):
    register(engine, registry)
    # A link test first (answered after its commit), then 3,000 two-byte "frames" (each
    # answered NAK at once), then an alarm.
    link = build("NULL", sequence="0001", account=ACCOUNT, prefix="0", receiver="1", timestamp=NOW)
    payload = link + b"\n\r" * 3000 + cid("0002")
    answers = run(journal, lambda r: exchange_tcp_raw(r.tcp_port, [payload], 3002))
    first, last = parse(answers[0], now=NOW), parse(answers[-1], now=NOW)
    assert (first.token, first.sequence, last.token, last.sequence) == ("ACK", "0001", "ACK", "0002")
    assert all(b'"NAK"' in answer for answer in answers[1:-1]) and len(answers) == 3002
    assert count(engine, alarms) == 1


def test_a_panel_that_closes_its_sending_side_gets_its_answers_and_then_the_end(engine, registry, journal):
    register(engine, registry)

    async def send_and_close(receiver):
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.tcp_port)
        writer.write(cid("0001") + cid("0002", f"#{ACCOUNT}|1110 01 002"))
        writer.write_eof()
        received = b""
        while data := await asyncio.wait_for(reader.read(4096), 10):
            received += data  # until the receiver closes
        writer.close()
        return [parse(raw, now=NOW) for raw in FrameSplitter().feed(received)]

    answers = run(journal, send_and_close)
    assert [(a.token, a.sequence) for a in answers] == [("ACK", "0001"), ("ACK", "0002")]
    assert count(engine, alarms) == 2


def test_a_panel_gone_before_its_answer_still_has_its_alarm_and_the_next_connection_is_served(
        engine, registry, journal):
    register(engine, registry)

    async def hang_up_then_again(receiver):
        _reader, writer = await asyncio.open_connection("127.0.0.1", receiver.tcp_port)
        writer.write(cid("0001"))
        writer.transport.abort()  # gone at once: the answer has nowhere to go
        for _ in range(100):
            if count(engine, alarms) == 1:
                break
            await asyncio.sleep(0.05)
        return await exchange_tcp(receiver.tcp_port, [cid("0002", f"#{ACCOUNT}|1110 01 002")], 1)

    answers = run(journal, hang_up_then_again)
    assert [(a.token, a.sequence) for a in answers] == [("ACK", "0002")]
    assert count(engine, alarms) == 2


def test_every_refusal_is_answered_and_unknown_accounts_are_kept(engine, registry, journal):
    register(engine, registry)
    good = cid("0010")
    bad_crc = good[:1] + b"0000" + good[5:]
    stale = cid("0011", stamp=NOW - timedelta(seconds=41))
    stranger = cid("0012", "#FFFF|1101 01 001", account="FFFF")
    unknown_code = cid("0013", f"#{ACCOUNT}|1999 01 001")
    unreadable = build("SIA-DCS", sequence="0014", account=ACCOUNT, prefix="0", data="???", timestamp=NOW)
    encrypted_without_key = cid("0015", key=KEY)
    answers = run(journal, lambda r: exchange_tcp_raw(
        r.tcp_port, [bad_crc, stale, stranger, unknown_code, unreadable, encrypted_without_key], 6))
    # Byte for byte as ANSI/SIA DC-09-2013 5.5.3.2 and 5.5.3.3 write them: the NAK in its one
    # fixed form with the receiver's time, the DUH echoing the frame's fields, both in clear.
    assert answers == [
        framed('"NAK"0000R0L0A0[]_02:14:07,11-23-2026'),  # damaged: nothing of it is echoed
        framed('"NAK"0000R0L0A0[]_02:14:07,11-23-2026'),  # stale: the panel sets its clock by ours
        framed('"DUH"0012R1L0#FFFF[]'),
        framed(f'"DUH"0013R1L0#{ACCOUNT}[]'),
        framed(f'"DUH"0014L0#{ACCOUNT}[]'),
        framed(f'"DUH"0015R1L0#{ACCOUNT}[]'),  # encrypted, but the DUH is not
    ]
    assert count(engine, alarms) == 0
    with engine.connect() as conn:
        kept = [r.reason for r in conn.execute(select(quarantine.c.reason).order_by(quarantine.c.received_at))]
    assert sorted(kept) == ["unknown_account", "unknown_event_code", "unreadable_event", "unreadable_frame"], \
        "what could be an alarm is kept; damaged and stale frames are sent again by the panel"


def test_udp_frames_are_answered_and_a_restore_annotates_the_open_alarm(engine, registry, journal):
    register(engine, registry)

    async def scenario(receiver):
        loop = asyncio.get_running_loop()
        replies: asyncio.Queue = asyncio.Queue()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                replies.put_nowait(data)

        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", receiver.udp_port))
        got = []
        for frame in (cid("0020"), cid("0021", f"#{ACCOUNT}|3101 01 015")):
            transport.sendto(frame)
            got.append(parse(await asyncio.wait_for(replies.get(), 10), now=NOW))
        transport.close()
        return got

    answers = run(journal, scenario)
    assert [(a.token, a.sequence) for a in answers] == [("ACK", "0020"), ("ACK", "0021")]
    with engine.connect() as conn:
        alarm_id = conn.execute(select(alarms.c.id)).scalar_one()
        notes = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id,
                                                               alarm_events.c.kind == "note")).scalars().all()
    assert len(notes) == 1 and "restore" in notes[0]["text"]


def test_encrypted_frames_of_a_keyed_account_become_alarms_and_are_acknowledged_encrypted(engine, registry, journal):
    device_id = register(engine, registry, key=KEY)
    alarm, again = cid("0030", key=KEY), cid("0030", key=KEY)  # a retransmit: new random pad, same content
    link_test = build("NULL", sequence="0031", account=ACCOUNT, prefix="0", receiver="1", timestamp=NOW, key=KEY)
    clear = cid("0032")  # an encrypted account's clear frame is still read (some panels fall back)
    answers = run(journal, lambda r: exchange_tcp(r.tcp_port, [alarm, again, link_test, clear], 4, key=KEY))
    assert [(a.token, a.encrypted, a.sequence) for a in answers] == [
        ("ACK", True, "0030"), ("ACK", True, "0030"), ("ACK", True, "0031"), ("ACK", False, "0032")]
    assert all(a.timestamp == NOW for a in answers[:3]), "an encrypted ACK carries the receiver's time"
    with engine.connect() as conn:
        stored = conn.execute(select(alarms.c.type, alarms.c.device_id, alarms.c.payload)).all()
    assert sorted(s.payload["dc09"]["sequence"] for s in stored) == ["0030", "0032"], "the retransmit made no second alarm"
    assert {(s.type, s.device_id) for s in stored} == {("button_press", device_id)}


def test_a_frame_encrypted_with_the_wrong_key_is_answered_duh_and_kept(engine, registry, journal):
    register(engine, registry, key=KEY)
    wrong = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    answers = run(journal, lambda r: exchange_tcp(r.tcp_port, [cid("0040", key=wrong)], 1))
    assert [(a.token, a.encrypted, a.sequence) for a in answers] == [("DUH", False, "0040")]
    assert count(engine, alarms) == 0
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine.c.reason, quarantine.c.message)).all()
    assert [k.reason for k in kept] == ["unreadable_frame"] and "could not decrypt" in kept[0].message


# --- retransmits with a fresh timestamp (issue 15, item 8) ------------------------------------


def send_over_time(journal, sendings, *, retransmit_seconds=None) -> list[bytes]:
    """One TCP connection; each sending is (seconds after NOW, frame builder given the clock's
    time): the clock is moved, the frame stamped with the panel's time then, and its answer read
    before the next is sent, as a panel waits for the ACK before it retries."""
    clock = FakeClock(NOW)

    async def main():
        kwargs = {} if retransmit_seconds is None else {"retransmit_seconds": retransmit_seconds}
        receiver = Receiver(journal, clock, **kwargs)
        await receiver.start("127.0.0.1", 0, 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", receiver.tcp_port)
            splitter, answers = FrameSplitter(), []
            for seconds, make in sendings:
                clock.now = NOW + timedelta(seconds=seconds)
                writer.write(make(clock.now))
                await writer.drain()
                got: list[bytes] = []
                while not got:
                    data = await asyncio.wait_for(reader.read(4096), 10)
                    assert data, "the receiver closed the connection"
                    got = splitter.feed(data)
                answers += got
            writer.close()
            return answers
        finally:
            await receiver.stop()

    return asyncio.run(main())


def stored_alarms(engine):
    with engine.connect() as conn:
        return conn.execute(select(alarms.c.id, alarms.c.received_at, alarms.c.payload)
                            .order_by(alarms.c.received_at)).all()


def test_a_retransmit_with_a_fresh_timestamp_is_acknowledged_and_is_the_same_alarm(engine, registry, journal):
    register(engine, registry)
    # NOW is 02:14:07; 02:15:00 starts a new 300 s slot, so the retries at 02:15:37 and 02:18:57
    # fall in another slot than the first sending and are still the same alarm.
    sendings = [(0, lambda t: cid("0101", stamp=t)), (30, lambda t: cid("0101", stamp=t)),
                (90, lambda t: cid("0101", stamp=t)), (290, lambda t: cid("0101", stamp=t))]
    answers = send_over_time(journal, sendings)
    assert [parse(a, now=NOW + timedelta(seconds=s)).token for a, (s, _) in zip(answers, sendings)] == ["ACK"] * 4
    stored = stored_alarms(engine)
    assert len(stored) == 1, "every retry within the window is the first alarm"
    assert stored[0].received_at == NOW and stored[0].payload["dc09"]["sequence"] == "0101"
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(alarm_events)
                              .where(alarm_events.c.alarm_id == stored[0].id)).scalar_one()
    assert events == 2, "received and queued only: a retry adds nothing to the timeline"


def test_the_same_event_after_the_window_or_with_other_content_is_a_new_alarm(engine, registry, journal):
    register(engine, registry)
    sendings = [
        (0, lambda t: cid("0201", stamp=t)),
        (60, lambda t: cid("0201", f"#{ACCOUNT}|1101 01 016", stamp=t)),  # same sequence, another zone
        (301, lambda t: cid("0201", stamp=t)),  # the first bytes again, after the window
        (320, lambda t: cid("0201", stamp=t)),  # ... and that one's own retry
    ]
    answers = send_over_time(journal, sendings)
    assert [parse(a, now=NOW + timedelta(seconds=s)).token for a, (s, _) in zip(answers, sendings)] == ["ACK"] * 4
    stored = stored_alarms(engine)
    assert [(a.received_at - NOW).total_seconds() for a in stored] == [0, 60, 301]
    assert [a.payload["dc09"]["zone"] for a in stored] == ["015", "016", "015"]


def test_the_retransmit_window_is_configurable_and_holds_for_encrypted_frames(engine, registry, journal):
    register(engine, registry, key=KEY)
    sendings = [(0, lambda t: cid("0301", stamp=t, key=KEY)), (25, lambda t: cid("0301", stamp=t, key=KEY)),
                (31, lambda t: cid("0301", stamp=t, key=KEY))]
    answers = send_over_time(journal, sendings, retransmit_seconds=30)
    opened = [parse(a, now=NOW + timedelta(seconds=s), key=KEY) for a, (s, _) in zip(answers, sendings)]
    assert [(a.token, a.encrypted, a.sequence) for a in opened] == [("ACK", True, "0301")] * 3
    assert [(a.received_at - NOW).total_seconds() for a in stored_alarms(engine)] == [0, 31], \
        "25 s later is the same alarm; 31 s later, with a 30 s window, a new one"
