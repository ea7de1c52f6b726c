"""SCAIP mrq/mrs XML and the code mapping, without sockets; the parsers are fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from respons.domain.alarm_types import ALARM_TYPES
from respons.intake.scaip.codes import (
    DEVICE_TYPES, GENERIC_ALARM, HEARTBEATS, RESTORES, STATUS_ALARMS, Meaning, classify,
)
from respons.intake.scaip.messages import (
    Mrq, Position, StatusNumber, Unreadable, VoiceMode, VoiceReply, build_mrq, build_mrs, parse_mrq, parse_mrs,
    voice_reply,
)

ALARM = (b'<?xml version="1.0" encoding="UTF-8"?>\n<mrq>\n  <ref>A17</ref>\n  <ver>01.00</ver>\n'
         b"  <cid>4790000001</cid>\n  <dty>0005</dty>\n  <cha>1</cha>\n  <mty>ME</mty>\n  <did>P-0042</did>\n"
         b"  <dco>002</dco>\n  <crd>sip:+4790000001@alarm.example</crd>\n  <stc>0009</stc>\n  <stt>Fall</stt>\n"
         b"  <pri>1</pri>\n  <lco>021</lco>\n  <lte>Kj\xc3\xb8kken</lte>\n"
         b"  <lge><geo>58.1467,7.9956</geo><tim>2026-11-23T02:14:07+01</tim></lge>\n  <ame>0</ame>\n</mrq>")


def test_an_alarm_is_read_with_every_tag():
    mrq = parse_mrq(ALARM)
    assert (mrq.ref, mrq.cid, mrq.dty, mrq.did, mrq.stc, mrq.mty, mrq.cha) == (
        "A17", "4790000001", "0005", "P-0042", "0009", "ME", "1")
    assert (mrq.crd, mrq.stt, mrq.pri, mrq.lco, mrq.lte, mrq.ame) == (
        "sip:+4790000001@alarm.example", "Fall", "1", "021", "Kjøkken", "0")
    assert mrq.position == Position(58.1467, 7.9956) and mrq.tim == "2026-11-23T02:14:07+01"
    assert mrq.fields()["did"] == "P-0042" and "extra" not in mrq.fields()


def test_a_namespaced_document_and_the_scaip_root_seen_in_the_wild_are_read_and_unknown_tags_kept():
    ns = b'<m:mrq xmlns:m="urn:scaip"><m:ref>1</m:ref><m:cid>+4711</m:cid><m:dty>3</m:dty><m:vendor>x</m:vendor></m:mrq>'
    mrq = parse_mrq(ns)
    assert (mrq.ref, mrq.cid, mrq.device_type, mrq.extra) == ("1", "+4711", "0003", (("vendor", "x"),))
    assert parse_mrq(b"<scaip><ref>2</ref><cid>1</cid><dty>4</dty></scaip>").ref == "2"


def test_empty_optional_elements_say_nothing_and_mty_defaults_to_message():
    mrq = parse_mrq(b"<mrq><ref>1</ref><cid>1</cid><dty>4</dty><stc/><crd></crd></mrq>")
    assert mrq.stc is None and mrq.crd is None and mrq.message_type == "ME"


def test_gga_positions_are_read_with_their_hemisphere_and_bad_positions_are_ignored():
    gga = "$GPGGA,021407.00,5808.8020,N,00759.7360,E,1,08,0.9,12.0,M,40.0,M,,*47"
    assert Mrq("1", "1", "3", gga=gga).position == Position(58.1467, 7.9956)
    assert Mrq("1", "1", "3", gga=gga.replace(",N,", ",S,").replace(",E,", ",W,")).position == Position(-58.1467, -7.9956)
    assert Mrq("1", "1", "3", geo="91,10").position is None
    assert Mrq("1", "1", "3", geo="59.9,10.7,3").position is None
    assert Mrq("1", "1", "3", geo="59.9").position is None


@pytest.mark.parametrize("body, status, ref", [
    (b"not xml", StatusNumber.INVALID_FORMAT, None),
    (b"<mrq><ref>X1</ref><cid>1</cid>", StatusNumber.INVALID_FORMAT, "X1"),  # ref still echoed
    (b"<alarm><ref>1</ref></alarm>", StatusNumber.INVALID_FORMAT, "1"),
    (b"<mrq><cid>1</cid><dty>3</dty></mrq>", StatusNumber.MANDATORY_TAG_MISSING, None),
    (b"<mrq><ref>R</ref><dty>3</dty></mrq>", StatusNumber.MANDATORY_TAG_MISSING, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid></mrq>", StatusNumber.MANDATORY_TAG_MISSING, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty> </dty></mrq>", StatusNumber.MANDATORY_TAG_MISSING, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty>fall</dty></mrq>", StatusNumber.WRONG_DATA_CONTENT, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty>3</dty><mty>XX</mty></mrq>", StatusNumber.WRONG_DATA_CONTENT, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty>3</dty><stc>1</stc><stc>2</stc></mrq>", StatusNumber.WRONG_DATA_CONTENT, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty><x/></dty></mrq>", StatusNumber.WRONG_DATA_CONTENT, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty>3</dty><stt>" + b"x" * 300 + b"</stt></mrq>", StatusNumber.WRONG_DATA_CONTENT, "R"),
    (b"<mrq><ref>R</ref><cid>1</cid><dty>3</dty><ite>" + b"x" * 5000 + b"</ite></mrq>", StatusNumber.MESSAGE_TOO_LONG, "R"),
])
def test_what_cannot_be_read_is_refused_with_the_status_number_and_the_ref_when_there_is_one(body, status, ref):
    with pytest.raises(Unreadable) as refused:
        parse_mrq(body)
    assert refused.value.status is status and refused.value.ref == ref


def test_entity_expansion_is_refused_before_parsing():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE mrq [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
              b"<mrq><ref>1</ref><cid>1</cid><dty>3</dty><ite>&b;</ite></mrq>")
    with pytest.raises(Unreadable) as refused:
        parse_mrq(laughs)
    assert refused.value.status is StatusNumber.INVALID_FORMAT and "DOCTYPE" in refused.value.reason
    external = b'<!DOCTYPE mrq SYSTEM "file:///etc/passwd"><mrq><ref>1</ref><cid>1</cid><dty>3</dty></mrq>'
    with pytest.raises(Unreadable):
        parse_mrq(external)


def test_the_mrs_echoes_ref_and_carries_the_status_number():
    assert parse_mrs(build_mrs("A17", StatusNumber.OK)) == parse_mrs(b"<mrs><ref>A17</ref><snu>0</snu></mrs>")
    refused = parse_mrs(build_mrs(None, StatusNumber.MANDATORY_TAG_MISSING, "mandatory tag(s) missing: ref <&>"))
    assert (refused.ref, refused.snu, refused.ste) == ("", 7, "mandatory tag(s) missing: ref <&>")
    assert b"<ste>" not in build_mrs("1", StatusNumber.OK)


# --- the code mapping ------------------------------------------------------------------


def mrq(dty: str, stc: str | None = None, mty: str | None = None) -> Mrq:
    return Mrq(ref="1", cid="4711", dty=dty, stc=stc, mty=mty)


@pytest.mark.parametrize("dty, stc, mty, meaning, alarm_type", [
    ("0003", "0010", None, Meaning.ALARM, "button_press"),  # personal trigger, manual alarm
    ("3", None, "ME", Meaning.ALARM, "button_press"),  # no stc: the device type's own alarm; unpadded codes
    ("0004", "0009", None, Meaning.ALARM, "button_press"),  # fixed trigger (pull cord)
    ("0005", "0009", None, Meaning.ALARM, "fall"),
    ("0030", "0011", None, Meaning.ALARM, "fall"),  # man-down detector, alert
    ("0023", "0009", None, Meaning.ALARM, "fire"),  # smoke detector
    ("0014", "0077", None, Meaning.ALARM, "door_opened"),  # door open too long
    ("0012", "0006", None, Meaning.ALARM, "bed_exit"),
    ("0010", "0104", None, Meaning.ALARM, "inactivity"),  # activity detector, time out
    ("0011", "0081", None, Meaning.ALARM, "medication_missed"),
    ("0029", "0009", None, Meaning.ALARM, "geofence_exit"),
    ("0003", "0016", None, Meaning.ALARM, "battery_low"),  # a pendant's battery
    ("0002", "0085", "IN", Meaning.ALARM, "power_lost"),
    ("0002", "0023", None, Meaning.ALARM, "device_fault"),  # IP connection failure
    ("0021", "0010", None, Meaning.ALARM, "button_press"),  # a manual alarm is a person, whatever the device
    ("0021", "0009", None, Meaning.ALARM, None),  # gas detector: no type in Respons yet -> quarantine
    ("0003", "0062", None, Meaning.ALARM, None),  # "log": not an alarm we know
    ("0002", None, "PI", Meaning.HEARTBEAT, None),
    ("0005", "0009", "PI", Meaning.HEARTBEAT, None),  # a ping is a ping
    ("0002", "0102", None, Meaning.HEARTBEAT, None),  # test transmission
    ("0002", "0070", None, Meaning.HEARTBEAT, None),  # normal state
    ("0003", "0094", None, Meaning.RESTORE, "button_press"),  # restoral of a pendant's alarm
    ("0002", "0086", None, Meaning.RESTORE, "power_lost"),
    ("0003", "0016", "RE", Meaning.RESTORE, "battery_low"),  # reset of a named problem
    ("0021", "0019", None, Meaning.RESTORE, None),  # cancel from an unmapped device: any open alarm
])
def test_device_types_and_status_codes_map_onto_the_taxonomy(dty, stc, mty, meaning, alarm_type):
    event = classify(mrq(dty, stc, mty))
    assert (event.meaning, event.alarm_type) == (meaning, alarm_type)


def test_every_mapped_code_names_a_real_alarm_type_and_no_code_has_two_meanings():
    named = set(DEVICE_TYPES.values()) | set(STATUS_ALARMS.values()) | {t for t in RESTORES.values() if t}
    assert named <= set(ALARM_TYPES)
    groups = [set(STATUS_ALARMS), set(RESTORES), set(HEARTBEATS), {c for c in GENERIC_ALARM if c}]
    assert sum(len(g) for g in groups) == len(set().union(*groups))


# --- fuzzing ---------------------------------------------------------------------------


@settings(max_examples=400)
@given(st.binary(max_size=600))
def test_any_bytes_are_read_or_refused_with_a_status_number(body):
    try:
        parsed = parse_mrq(body)
    except Unreadable as refused:
        assert isinstance(refused.status, StatusNumber) and refused.status is not StatusNumber.OK
        parse_mrs(build_mrs(refused.ref, refused.status, refused.reason))
    else:
        classify(parsed)


tags = st.sampled_from(["ref", "cid", "dty", "stc", "mty", "did", "lge", "geo", "gga", "pri", "crd", "x", "mrq"])
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@settings(max_examples=400)
@given(st.lists(st.tuples(tags, texts, st.booleans()), max_size=12), st.sampled_from(["mrq", "scaip", "mrs"]))
def test_any_element_soup_is_read_or_refused_with_a_status_number(elements, root):
    from xml.sax.saxutils import escape

    inner = "".join(f"<{t}>{escape(x)}</{t}>" if closed else f"<{t}>{escape(x)}" for t, x, closed in elements)
    try:
        parsed = parse_mrq(f"<{root}>{inner}</{root}>".encode("utf-8", errors="surrogatepass"))
    except Unreadable as refused:
        assert refused.status is not StatusNumber.OK
    else:
        classify(parsed)
        assert parsed.position is None or -90 <= parsed.position.lat <= 90


digits = st.text("0123456789", min_size=1)
words = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="<>&"), min_size=1, max_size=40)


@settings(max_examples=300)
@example(ref="1", cid="1", dty="3", stc=None, mty=None, did="\xa0P1\x85", crd=None, cha=None, lat=0.0, lon=0.0)
@given(ref=st.text("0123456789ABCDEFabcdef", min_size=1, max_size=16), cid=digits.filter(lambda s: len(s) <= 16),
       dty=st.text("0123456789", min_size=1, max_size=4), stc=st.none() | st.text("0123456789", min_size=1, max_size=4),
       mty=st.none() | st.sampled_from(["ME", "RE", "IN", "PI"]), did=st.none() | words, crd=st.none() | words,
       cha=st.none() | st.sampled_from("01"), lat=st.floats(0, 90), lon=st.floats(0, 180))
def test_built_messages_parse_back_to_what_was_built(ref, cid, dty, stc, mty, did, crd, cha, lat, lon):
    built = Mrq(ref=ref, cid=cid, dty=dty, stc=stc, mty=mty, did=did, crd=crd, cha=cha, geo=f"{lat:.5f},{lon:.5f}")
    parsed = parse_mrq(build_mrq(built))
    assert parsed == built
    assert parsed.position == Position(round(float(f"{lat:.5f}"), 7), round(float(f"{lon:.5f}"), 7))
    answer = parse_mrs(build_mrs(parsed.ref, StatusNumber.OK))
    assert (answer.ref, answer.snu) == (ref, 0)


@pytest.mark.parametrize("message, lane", [
    (mrq("0005", "0009"), "LIFE"),  # fall
    (mrq("0003", "0010"), "LIFE"),  # button press
    (mrq("0021", "0009"), "LIFE"),  # unknown: could be an alarm
    (Unreadable(StatusNumber.INVALID_FORMAT, "not XML"), "LIFE"),
    (mrq("0002", None, "PI"), "TECHNICAL"),  # heartbeat
    (mrq("0002", "0085"), "TECHNICAL"),  # power failure
    (mrq("0002", "0086"), "TECHNICAL"),  # power restored
    (mrq("0003", "0094"), "DEFAULT"),  # restoral of a button press: after the alarm, before technical traffic
])
def test_messages_are_classified_into_journal_lanes_before_they_are_submitted(message, lane):
    from respons.intake.scaip.receiver import lane_of

    assert lane_of(message).name == lane


def test_the_voice_reply_follows_ss_91100_table_2_and_a_units_call_back_request():
    def reply(cha, **kw):
        settings = {"mode": VoiceMode.AUTO, "voice_configured": True, "voice_available": True, "voice_wanted": True,
                    "can_call_back": True, "callback_minutes": 5, "call_to": None, **kw}
        return voice_reply(cha, **settings)

    assert reply(None) == VoiceReply("1", "61")
    assert reply("0") == VoiceReply("1", "61")
    assert reply("1") == VoiceReply("1", "05")
    assert reply("1", callback_minutes=90) == VoiceReply("1", "60")  # cre has two digits: at most 60 minutes
    assert reply("1", can_call_back=False) == VoiceReply("1", "61")
    assert reply("0", call_to="sip:centre@respons.example") == VoiceReply("1", "62", "sip:centre@respons.example")
    assert reply("1", voice_available=False) == VoiceReply("0")
    assert reply("1", mode=VoiceMode.EXTERNAL, voice_available=False) == VoiceReply("1", "61")
    assert reply("0", mode=VoiceMode.NONE) == VoiceReply("0")
    assert reply("0", voice_wanted=False) == VoiceReply("0")  # a technical alarm: no call
    # An installation without Respons's voice says nothing, as before (its units may call a
    # telephone system of their own); "external" says it explicitly, with tnu if configured.
    assert reply("0", voice_configured=False, voice_available=False) is None
    assert reply("1", mode=VoiceMode.EXTERNAL, voice_configured=False, call_to="gsm:+4722000000") == VoiceReply(
        "1", "62", "gsm:+4722000000")


def test_the_voice_fields_are_written_after_the_status_and_read_back():
    body = build_mrs("R1", StatusNumber.OK, voice=VoiceReply("1", "62", "sip:a&b@respons.example"))
    assert b"<snu>0</snu><mre>1</mre><cre>62</cre><tnu>sip:a&amp;b@respons.example</tnu></mrs>" in body
    mrs = parse_mrs(body)
    assert (mrs.mre, mrs.cre, mrs.tnu) == ("1", "62", "sip:a&b@respons.example")
    plain = parse_mrs(build_mrs("R2", StatusNumber.OK))
    assert (plain.mre, plain.cre, plain.tnu) == (None, None, None)
