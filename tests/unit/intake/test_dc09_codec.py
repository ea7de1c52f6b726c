"""The DC-09 codec without sockets: framing, checks, answers, event codes, and fuzzing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.intake.dc09.contact_id import Meaning, Unreadable, contact_id, sia_dcs
from respons.intake.dc09.crc import crc16_arc
from respons.domain.dc09_keys import BadKey, parse_key
from respons.intake.dc09.frames import Answer, Frame, FrameSplitter, Refusal, answer, build, parse

NOW = datetime(2026, 11, 23, 2, 14, 7, tzinfo=timezone.utc)


def frame(**kwargs) -> bytes:
    defaults = dict(sequence="0042", account="1234", prefix="0", receiver="1", data="#1234|1101 01 015", timestamp=NOW)
    return build("ADM-CID", **{**defaults, **kwargs})


def test_crc_is_crc16_arc():
    assert crc16_arc(b"123456789") == 0xBB3D  # the published check value of CRC-16/ARC


def test_a_frame_round_trips_with_every_field():
    parsed = parse(frame(xdata=("X007E59.43", "Y58N08.00")), now=NOW)
    assert parsed == Frame("ADM-CID", False, "0042", "1", "0", "1234", "#1234|1101 01 015", ("X007E59.43", "Y58N08.00"), NOW)


def test_several_frames_in_one_read_and_one_frame_across_reads():
    one, two, three = frame(sequence="0001"), frame(sequence="0002"), frame(sequence="0003")
    splitter = FrameSplitter()
    assert splitter.feed(b"noise" + one + two + three[:10]) == [one, two]
    assert splitter.feed(three[10:25]) == []
    assert splitter.feed(three[25:]) == [three]
    assert splitter.skipped == len(b"noise")


def test_a_damaged_frame_is_answered_nak():
    good = frame()
    flipped = good[:20] + bytes([good[20] ^ 0x01]) + good[21:]
    assert parse(flipped, now=NOW) == Refusal(Answer.NAK, "CRC does not match")
    wrong_length = good[:6] + b"FFF" + good[9:]
    refusal = parse(wrong_length, now=NOW)
    assert isinstance(refusal, Refusal) and refusal.answer is Answer.NAK and "length" in refusal.reason
    assert parse(b"\nhello\r", now=NOW).answer is Answer.NAK


@pytest.mark.parametrize("offset, accepted", [(-40, True), (-41, False), (20, True), (21, False)])
def test_timestamps_outside_minus_40_plus_20_seconds_are_refused_with_the_receivers_time(offset, accepted):
    result = parse(frame(timestamp=NOW + timedelta(seconds=offset)), now=NOW)
    if accepted:
        assert isinstance(result, Frame)
    else:
        assert isinstance(result, Refusal) and result.answer is Answer.NAK
        assert answer(Answer.NAK, result.frame, now=NOW) == raw('"NAK"0000R0L0A0[]_02:14:07,11-23-2026')


def raw(message: str) -> bytes:
    """A frame around ``message`` with a correct CRC and length, whatever the message says."""
    body = message.encode("ascii")
    return b"\n" + f"{crc16_arc(body):04X}0{len(body):03X}".encode("ascii") + body + b"\r"


@pytest.mark.parametrize(
    "message, why",
    [
        ('"ADM-CID"0001L0#12[]', "fields"),  # account shorter than 3 hex digits
        ('"ADM-CID"01L0#1234[]', "fields"),  # sequence is four digits
        ('"ADM-CID"0001#1234[]', "fields"),  # the L-prefix is mandatory
        ('"ADM-CID"0001L0#1234[#1234|1101 01 015]_25:99:99,13-45-2026', "timestamp"),
    ],
)
def test_what_is_a_frame_but_not_understood_is_answered_duh(message, why):
    refusal = parse(raw(message), now=NOW)
    assert isinstance(refusal, Refusal) and refusal.answer is Answer.DUH and why in refusal.reason


KEYS = {bits: bytes(range(bits // 8)) for bits in (128, 192, 256)}


@pytest.mark.parametrize("bits", sorted(KEYS))
def test_an_encrypted_frame_round_trips_with_the_accounts_key(bits):
    sent = frame(key=KEYS[bits], xdata=("X007E59.43",))
    assert b'"*ADM-CID"' in sent and b"1101 01 015" not in sent, "the content travels encrypted"
    parsed = parse(sent, now=NOW, key=KEYS[bits])
    assert parsed == Frame("ADM-CID", True, "0042", "1", "0", "1234", "#1234|1101 01 015", ("X007E59.43",), NOW)


def test_random_pad_makes_equal_messages_encrypt_differently():
    one, two = frame(key=KEYS[128]), frame(key=KEYS[128])
    assert one != two
    assert parse(one, now=NOW, key=KEYS[128]) == parse(two, now=NOW, key=KEYS[128])


def test_an_encrypted_frame_without_a_key_or_with_the_wrong_key_is_answered_duh():
    sent = frame(key=KEYS[128])
    no_key = parse(sent, now=NOW)
    assert no_key.answer is Answer.DUH and "has no DC-09 key" in no_key.reason
    assert no_key.frame.account == "1234" and no_key.frame.sequence == "0042", "the DUH can echo the frame"
    wrong = parse(sent, now=NOW, key=KEYS[256])
    assert wrong.answer is Answer.DUH and "could not decrypt" in wrong.reason


def test_an_encrypted_frame_must_carry_a_timestamp_and_is_held_to_the_window():
    with pytest.raises(ValueError):
        frame(key=KEYS[128], timestamp=None)
    stale = parse(frame(key=KEYS[128], timestamp=NOW - timedelta(seconds=41)), now=NOW, key=KEYS[128])
    assert stale.answer is Answer.NAK and "window" in stale.reason


def test_the_ack_of_an_encrypted_frame_is_encrypted_and_a_nak_is_not():
    parsed = parse(frame(key=KEYS[128]), now=NOW, key=KEYS[128])
    ack = answer(Answer.ACK, parsed, now=NOW, key=KEYS[128])
    assert ack.count(b'"*ACK"') == 1
    opened = parse(ack, now=NOW, key=KEYS[128])
    assert (opened.token, opened.encrypted, opened.sequence, opened.timestamp) == ("ACK", True, "0042", NOW)
    assert answer(Answer.NAK, parsed, now=NOW, key=KEYS[128]) == raw('"NAK"0000R0L0A0[]_02:14:07,11-23-2026')


def test_keys_are_entered_as_hex_of_the_right_length():
    assert parse_key("00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f") == KEYS[128]
    for bad in ("0011", "zz" * 16, "ABCDEF0123456789"):
        with pytest.raises(BadKey):
            parse_key(bad)


@settings(max_examples=200, deadline=None)
@given(data=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="[]"), max_size=80),
       bits=st.sampled_from(sorted(KEYS)))
def test_any_content_round_trips_encrypted(data, bits):
    parsed = parse(build("SIA-DCS", sequence="0001", account="ABC", data=data, timestamp=NOW, key=KEYS[bits]),
                   now=NOW, key=KEYS[bits])
    assert isinstance(parsed, Frame) and parsed.data == data and parsed.encrypted


def test_ack_echoes_sequence_receiver_prefix_and_account():
    parsed = parse(frame(), now=NOW)
    ack = parse(answer(Answer.ACK, parsed, now=NOW), now=NOW)
    assert (ack.token, ack.sequence, ack.receiver, ack.prefix, ack.account, ack.data) == ("ACK", "0042", "1", "0", "1234", "")


# Byte-exact answers (ANSI/SIA DC-09-2013 5.5.3.2 and 5.5.3.3; frames.answer cites them).
# Two NAKs as written by receivers nobody here wrote (a Java DC-09 handler's test vector from
# 2015 and a Rust one's from 2025), with their CRC and length: ours must be the same bytes.
@pytest.mark.parametrize("at, expected", [
    (datetime(2015, 4, 14, 16, 9, 9, tzinfo=timezone.utc), b'\n3C830025"NAK"0000R0L0A0[]_16:09:09,04-14-2015\r'),
    (datetime(2025, 9, 24, 16, 20, 1, tzinfo=timezone.utc), b'\nE4410025"NAK"0000R0L0A0[]_16:20:01,09-24-2025\r'),
])
def test_the_nak_is_the_standards_fixed_form_with_the_receivers_utc_time(at, expected):
    assert answer(Answer.NAK, None, now=at) == expected
    assert answer(Answer.NAK, parse(frame(), now=NOW), now=at) == expected, "a NAK echoes nothing of the frame"
    oslo = at.astimezone(timezone(timedelta(hours=2)))
    assert answer(Answer.NAK, None, now=oslo) == expected, "the time is written in UTC"


@pytest.mark.parametrize("receiver", ["1", None])
@pytest.mark.parametrize("stamped", [True, False])
def test_the_clear_ack_is_the_frame_build_writes(receiver, stamped):
    # 5.5.3.1: "ACK" echoing sequence, receiver, prefix and account, empty data, and the
    # receiver's time when the frame carried one. Written at once (frames.answer), it must be
    # the bytes the general builder writes.
    parsed = parse(frame(receiver=receiver, timestamp=NOW if stamped else None), now=NOW)
    assert answer(Answer.ACK, parsed, now=NOW) == build(
        "ACK", sequence="0042", account="1234", prefix="0", receiver=receiver, timestamp=NOW if stamped else None)
    stamp = "_" + NOW.strftime("%H:%M:%S,%m-%d-%Y") if stamped else ""
    assert answer(Answer.ACK, parsed, now=NOW) == raw(f'"ACK"0042{"R1" if receiver else ""}L0#1234[]{stamp}')


def test_the_duh_echoes_the_frame_without_data_or_timestamp_in_clear():
    assert answer(Answer.DUH, parse(frame(), now=NOW), now=NOW) == raw('"DUH"0042R1L0#1234[]')
    assert answer(Answer.DUH, parse(frame(receiver=None), now=NOW), now=NOW) == raw('"DUH"0042L0#1234[]')
    no_key = parse(frame(key=KEYS[128]), now=NOW)
    assert answer(Answer.DUH, no_key.frame, now=NOW, key=KEYS[128]) == raw('"DUH"0042R1L0#1234[]'), \
        "never encrypted: the sender may not share our key"
    assert answer(Answer.DUH, None, now=NOW) == raw('"DUH"0000R0L0A0[]'), "nothing to echo: the NAK's placeholders"


@pytest.mark.parametrize(
    "data, code, alarm_type, meaning",
    [
        ("#1234|1101 01 015", "101", "button_press", Meaning.ALARM),
        ("#1234|3101 01 015", "101", "button_press", Meaning.RESTORE),
        ("1110 00 001", "110", "fire", Meaning.ALARM),
        ("#1234|1301 00 000", "301", "power_lost", Meaning.ALARM),
        ("#1234|1302 00 000", "302", "battery_low", Meaning.ALARM),
        ("#1234|1350 00 000", "350", "device_fault", Meaning.ALARM),
        ("#1234|1602 00 000", "602", None, Meaning.HEARTBEAT),
        ("#1234|1999 00 000", "999", None, Meaning.ALARM),  # unknown: an alarm of no known type, for a person to look at
    ],
)
def test_contact_id_codes_map_onto_the_taxonomy(data, code, alarm_type, meaning):
    event = contact_id(data)
    assert (event.code, event.alarm_type, event.meaning) == (code, alarm_type, meaning)


def test_sia_codes_map_onto_the_taxonomy():
    assert sia_dcs("#1234|Nri1/MA501").alarm_type == "button_press"
    assert sia_dcs("Nri1/FH12").meaning is Meaning.RESTORE
    assert sia_dcs("#1234|NRP").meaning is Meaning.HEARTBEAT
    with pytest.raises(Unreadable):
        contact_id("#1234|Nri1/MA501")
    with pytest.raises(Unreadable):
        sia_dcs("1101 01 015")


# --- fuzzing: every input is answered or refused, nothing raises ---------------------------


@settings(max_examples=400)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_are_split_and_every_frame_parsed_or_refused(chunks):
    splitter = FrameSplitter()
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            result = parse(raw, now=NOW)
            assert isinstance(result, (Frame, Refusal))
            if isinstance(result, Refusal):
                assert answer(result.answer, result.frame, now=NOW).startswith(b"\n")


@given(st.text(max_size=80))
def test_any_event_data_is_read_or_refused_cleanly(data):
    for reader in (contact_id, sia_dcs):
        try:
            reader(data)
        except Unreadable:
            pass


accounts = st.text("0123456789ABCDEF", min_size=3, max_size=16)
payload = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="[]"), max_size=60)


@given(
    token=st.sampled_from(["ADM-CID", "SIA-DCS", "NULL"]), sequence=st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    account=accounts, prefix=st.text("0123456789ABCDEF", min_size=1, max_size=6),
    receiver=st.none() | st.text("0123456789ABCDEF", min_size=1, max_size=6), data=payload,
    skew=st.integers(-40, 20),
)
def test_built_frames_parse_back_to_what_was_built(token, sequence, account, prefix, receiver, data, skew):
    stamp = (NOW + timedelta(seconds=skew)).replace(microsecond=0)
    raw = build(token, sequence=sequence, account=account, prefix=prefix, receiver=receiver, data=data, timestamp=stamp)
    assert FrameSplitter().feed(raw) == [raw]
    assert parse(raw, now=NOW) == Frame(token, False, sequence, receiver, prefix, account, data, (), stamp)
