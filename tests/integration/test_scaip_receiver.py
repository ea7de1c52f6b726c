"""The SCAIP receiver over real UDP and TCP sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select, update

from respons.intake.scaip.messages import Mrq, VoiceMode, build_mrq, parse_mrs
from respons.intake.scaip.receiver import Receiver, VoicePolicy
from respons.intake.scaip.sip import MessageSplitter, Response, build_request, parse_response
from respons.store.journal import JournalUnavailable
from respons.store.tables import alarm_events, alarms, devices, quarantine
from tests.factories import FakeClock

NOW = datetime(2026, 11, 23, 2, 14, 7, tzinfo=timezone.utc)
CID = "4790000001"
_calls = itertools.count(1)


def register(engine, registry) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0], kind="safety_alarm",
            protocol="scaip", identity=CID, heartbeat_interval_s=3600, heartbeat_grace_s=300, created_at=NOW,
        )).inserted_primary_key[0]


def sip_message(body: bytes, *, call_id: str | None = None, cseq: int = 1, transport: str = "UDP",
                content_type: str = "application/scaip+xml", method: str = "MESSAGE") -> bytes:
    call_id = call_id or f"call-{next(_calls)}@device"
    return build_request(method, "sip:arc@respons.example", [
        ("Via", f"SIP/2.0/{transport} 127.0.0.1:5070;branch=z9hG4bK-{call_id}-{cseq};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{CID}@alarm.example>;tag=dev1"),
        ("To", "<sip:arc@respons.example>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Content-Type", content_type),
    ], body)


def mrq(ref: str, *, cid: str = CID, **tags) -> bytes:
    return build_mrq(Mrq(ref=ref, cid=cid, **{"dty": "0003", "stc": "0010", **tags}))


def run(journal, scenario, *, clock=None, voice: VoicePolicy = VoicePolicy()):
    async def main():
        receiver = Receiver(journal, clock or FakeClock(NOW), voice=voice)
        await receiver.start("127.0.0.1", 0, 0)
        try:
            return await scenario(receiver)
        finally:
            await receiver.stop()

    return asyncio.run(main())


async def exchange_udp(port: int, datagrams: list[bytes]) -> list[bytes]:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            replies.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    got = []
    try:
        for datagram in datagrams:
            transport.sendto(datagram)
            got.append(await asyncio.wait_for(replies.get(), 10))
    finally:
        transport.close()
    return got


async def exchange_tcp(port: int, payloads: list[bytes], expect: int) -> list[Response]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for payload in payloads:
        writer.write(payload)
        await writer.drain()
        await asyncio.sleep(0.02)  # separate reads, so a message can arrive in pieces
    splitter, answers = MessageSplitter(), []
    while len(answers) < expect:
        data = await asyncio.wait_for(reader.read(4096), 10)
        assert data, "the receiver closed the connection"
        answers += [parse_response(raw) for raw in splitter.feed(data)]
    writer.close()
    return answers


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def kept(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r.reason for r in conn.execute(select(quarantine.c.reason)))


def test_an_alarm_is_answered_after_commit_and_a_retransmission_makes_no_second_alarm(engine, registry, journal):
    device_id = register(engine, registry)
    body = mrq("R1", dty="0005", stc="0009", did="P-0042", cha="0", crd="+4790000001", geo="58.1467,7.9956")
    first = sip_message(body, call_id="fall-1")
    again_in_new_transaction = sip_message(body, call_id="fall-1-retry", cseq=2)
    answers = run(journal, lambda r: exchange_udp(r.udp_port, [first, first, again_in_new_transaction]))

    ok = parse_response(answers[0])
    assert (ok.status, ok.get("Call-ID"), ok.get("CSeq")) == (200, "fall-1", "1 MESSAGE")
    assert ok.get("Content-Type") == "application/scaip+xml" and ok.get("To").startswith("<sip:arc@respons.example>;tag=")
    mrs = parse_mrs(ok.body)
    assert (mrs.ref, mrs.snu) == ("R1", 0)
    assert answers[1] == answers[0], "a retransmitted request gets the same answer"
    retry = parse_response(answers[2])
    assert retry.status == 200 and parse_mrs(retry.body).snu == 0 and retry.get("Call-ID") == "fall-1-retry"

    with engine.connect() as conn:
        stored = conn.execute(select(alarms)).all()
    assert len(stored) == 1, "the retransmissions made no second alarm"
    alarm = stored[0]
    assert (alarm.type, alarm.source, alarm.device_id, alarm.recipient_id, alarm.municipality_id) == (
        "fall", "scaip", device_id, registry.recipient_ids[0], registry.municipality_ids[0])
    assert alarm.payload["position"] == {"lat": 58.1467, "lon": 7.9956}
    assert alarm.payload["device_id"] == "P-0042"
    assert alarm.payload["call"] == {"handling": "0", "voice_call_expected": True, "callback_requested": False,
                                     "caller_id": "+4790000001"}
    assert alarm.payload["scaip"]["ref"] == "R1" and alarm.payload["scaip"]["code"] == "0005/0009"
    assert alarm.payload["sip"]["call_id"] == "fall-1"


def test_the_answer_to_an_alarm_tells_the_unit_whether_to_call_where_and_how_long_to_wait_for_a_call_back(
        engine, registry, journal):
    device_id = register(engine, registry)

    def answers(voice: VoicePolicy, *bodies: bytes) -> list:
        got = run(journal, lambda r: exchange_udp(r.udp_port, [sip_message(b) for b in bodies]), voice=voice)
        return [parse_mrs(parse_response(a).body) for a in got]

    talking = VoicePolicy(configured=True, available=lambda: True, callback_minutes=7)
    # The unit will call (cha 0): a duplex call to its pre-defined receiver. It asks to be called
    # back (cha 1) but has no voice address here: it is told to call instead.
    will_call, wants_call_back = answers(talking, mrq("V1", cha="0"), mrq("V2", cha="1"))
    assert (will_call.snu, will_call.mre, will_call.cre, will_call.tnu) == (0, "1", "61", None)
    assert (wants_call_back.mre, wants_call_back.cre) == ("1", "61")
    # With a voice address the centre can call it: keep the auto-answer channel open 7 minutes.
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.id == device_id).values(voice_uri="sip:unit@10.0.0.5"))
    [called_back] = answers(talking, mrq("V3", cha="1"))
    assert (called_back.mre, called_back.cre) == ("1", "07")
    # Units sent elsewhere (tnu), the gateway down, or no voice: what each says.
    [elsewhere] = answers(VoicePolicy(configured=True, available=lambda: True, call_to="gsm:+4722000000"), mrq("V4"))
    assert (elsewhere.mre, elsewhere.cre, elsewhere.tnu) == ("1", "62", "gsm:+4722000000")
    [down] = answers(VoicePolicy(configured=True, available=lambda: False), mrq("V5", cha="1"))
    assert (down.mre, down.cre, down.tnu) == ("0", None, None)
    [external] = answers(VoicePolicy(mode=VoiceMode.EXTERNAL), mrq("V6", cha="1"))
    assert (external.mre, external.cre) == ("1", "61")
    [none] = answers(VoicePolicy(mode=VoiceMode.NONE, configured=True, available=lambda: True), mrq("V7"))
    assert (none.mre, none.cre) == ("0", None)
    # Without Respons's voice the answer says nothing of it, as before voice existed.
    [unconfigured] = answers(VoicePolicy(), mrq("V8"))
    assert (unconfigured.snu, unconfigured.mre, unconfigured.cre) == (0, None, None)
    # A technical alarm (low battery) is no reason to open the loudspeaker.
    [battery] = answers(talking, mrq("T1", stc="0016"))
    assert (battery.snu, battery.mre, battery.cre) == (0, "0", None)
    # A heartbeat and a refusal say nothing about voice.
    heartbeat, refused = answers(talking, mrq("P1", dty="0002", stc=None, mty="PI"), mrq("X1", cid="4799999999"))
    assert (heartbeat.snu, heartbeat.mre) == (0, None)
    assert (refused.snu, refused.mre) == (5, None)


def test_a_heartbeat_marks_the_device_seen_and_makes_no_alarm(engine, registry, journal):
    device_id = register(engine, registry)
    later = NOW + timedelta(minutes=5)
    answers = run(journal, lambda r: exchange_udp(r.udp_port, [sip_message(mrq("P1", dty="0002", stc=None, mty="PI"))]),
                  clock=FakeClock(later))
    assert parse_mrs(parse_response(answers[0]).body).snu == 0
    with engine.connect() as conn:
        seen = conn.execute(select(devices.c.last_seen_at, devices.c.alert_after).where(devices.c.id == device_id)).one()
    assert seen.last_seen_at == later and seen.alert_after == later + timedelta(seconds=3900)
    assert count(engine, alarms) == 0 and kept(engine) == []


def test_what_cannot_become_an_alarm_is_kept_and_answered_with_the_status_number_that_says_why(engine, registry, journal):
    register(engine, registry)
    missing_dty = b"<mrq><ref>M1</ref><cid>" + CID.encode() + b"</cid><stc>0010</stc></mrq>"
    stranger = mrq("S1", cid="4799999999")
    gas = mrq("G1", dty="0021", stc="0009")  # a gas detector: no alarm type in Respons yet
    not_xml = b"<mrq><ref>X1</ref>"
    answers = run(journal, lambda r: exchange_udp(r.udp_port, [sip_message(b) for b in (missing_dty, stranger, gas, not_xml)]))
    replies = [parse_mrs(parse_response(a).body) for a in answers]
    assert [(m.ref, m.snu) for m in replies] == [("M1", 7), ("S1", 5), ("G1", 3), ("X1", 2)]
    assert all(m.ste for m in replies), "a refusal says why"
    assert count(engine, alarms) == 0
    assert kept(engine) == ["invalid_format", "mandatory_tag_missing", "unknown_code", "unknown_controller"]
    with engine.connect() as conn:
        row = conn.execute(select(quarantine).where(quarantine.c.reason == "mandatory_tag_missing")).one()
    assert row.source == "scaip" and row.body == missing_dty and row.content_type == "application/scaip+xml"
    assert row.headers["Call-ID"].startswith("call-") and row.remote_addr == "127.0.0.1"


def test_sip_that_is_not_a_scaip_message_is_answered_by_sip_alone(engine, registry, journal):
    register(engine, registry)
    malformed = sip_message(mrq("B1")).replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 REGISTER")
    options = sip_message(b"", method="OPTIONS", content_type="text/plain")
    invite = sip_message(b"", method="INVITE", content_type="application/sdp")
    weird = sip_message(b"", method="FROBNICATE", content_type="text/plain")
    plain_text = sip_message(b"help", content_type="text/plain")
    answers = run(journal, lambda r: exchange_udp(r.udp_port, [malformed, options, invite, weird, plain_text]))
    responses = [parse_response(a) for a in answers]
    assert [r.status for r in responses] == [400, 200, 405, 501, 415]
    assert responses[0].get("Call-ID") and responses[0].all("Via"), "a 400 still echoes what could be read"
    assert responses[2].get("Allow") == "MESSAGE, OPTIONS" and responses[3].get("Allow") == "MESSAGE, OPTIONS"
    assert "application/scaip+xml" in responses[4].get("Accept")
    assert count(engine, alarms) == 0 and kept(engine) == []


def test_coalesced_and_split_tcp_messages_are_each_answered_in_order(engine, registry, journal):
    device_id = register(engine, registry)
    alarm = sip_message(mrq("T1"), call_id="t-1", transport="TCP")
    heartbeat = sip_message(mrq("T2", mty="PI", stc=None), call_id="t-2", transport="TCP")
    fire = sip_message(mrq("T3", dty="0023", stc="0009"), call_id="t-3", transport="TCP")
    # Two messages in one write, then one message in three writes, then the first again.
    payloads = [alarm + heartbeat, fire[:30], fire[30:200], fire[200:], alarm]
    answers = run(journal, lambda r: exchange_tcp(r.tcp_port, payloads, 4))
    assert [(a.status, a.get("Call-ID"), parse_mrs(a.body).ref, parse_mrs(a.body).snu) for a in answers] == [
        (200, "t-1", "T1", 0), (200, "t-2", "T2", 0), (200, "t-3", "T3", 0), (200, "t-1", "T1", 0)]
    with engine.connect() as conn:
        stored = conn.execute(select(alarms.c.type, alarms.c.device_id)).all()
    assert sorted(s.type for s in stored) == ["button_press", "fire"] and {s.device_id for s in stored} == {device_id}


def test_a_tcp_stream_that_cannot_be_framed_is_answered_400_and_closed(engine, registry, journal):
    register(engine, registry)
    broken = sip_message(mrq("Z1"), transport="TCP").replace(b"Content-Length: ", b"Content-Length: x")

    async def scenario(receiver):
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.tcp_port)
        writer.write(broken)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)  # read() returns at EOF: the receiver closed
        writer.close()
        return data

    assert parse_response(run(journal, scenario)).status == 400
    assert count(engine, alarms) == 0


def test_a_reset_annotates_the_open_alarm(engine, registry, journal):
    register(engine, registry)
    messages = [sip_message(mrq("N1")), sip_message(mrq("N2", mty="RE", stc="0094"))]
    answers = run(journal, lambda r: exchange_udp(r.udp_port, messages))
    assert [parse_mrs(parse_response(a).body).snu for a in answers] == [0, 0]
    with engine.connect() as conn:
        alarm_id = conn.execute(select(alarms.c.id)).scalar_one()
        notes = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id,
                                                               alarm_events.c.kind == "note")).scalars().all()
    assert len(notes) == 1 and "reset" in notes[0]["text"] and "0003/0094" in notes[0]["text"]


def test_nothing_is_answered_when_the_journal_cannot_commit():
    class DownJournal:
        async def run(self, work, *, lane):
            raise JournalUnavailable("the database is gone")

    async def scenario():
        receiver = Receiver(DownJournal(), FakeClock(NOW))
        return await receiver.answer_for(sip_message(mrq("D1")), "127.0.0.1", datagram=True)

    assert asyncio.run(scenario()) is None
