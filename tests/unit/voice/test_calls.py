"""The rules of a call (voice/calls.py) and what the gateway's messages mean (voice/gateway.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from respons.voice import calls
from respons.voice.calls import Failure, TargetKind
from respons.voice.gateway import parse_event

T0 = datetime(2026, 12, 4, 2, 59, 50, tzinfo=timezone.utc)


def test_the_unit_comes_first_and_phone_numbers_are_callable_only_through_a_trunk():
    found = calls.targets(unit_uri="sip:unit@10.0.0.5", person_phone="+4790000001",
                          contacts=[(7, "Kari Nordmann", "+4740000001")], trunk=None)
    assert [(t.key, t.kind, t.callable) for t in found] == [
        ("unit", TargetKind.UNIT, True), ("person", TargetKind.PERSON, False), ("contact:7", TargetKind.CONTACT, False)]
    assert found[0].phone is None and found[1].phone == "+4790000001"
    with_trunk = calls.targets(unit_uri=None, person_phone="+4790000001", contacts=[], trunk="trunk.example:5060")
    assert [(t.key, t.callable) for t in with_trunk] == [("person", True)]
    assert calls.sip_uri(with_trunk[0], "trunk.example:5060") == "sip:+4790000001@trunk.example:5060"
    with pytest.raises(ValueError):
        calls.sip_uri(with_trunk[0], None)


def test_a_unit_is_dialled_at_its_own_address_whatever_the_trunk():
    unit = calls.targets(unit_uri="sip:unit@10.0.0.5", person_phone=None, contacts=[], trunk="t")[0]
    assert calls.sip_uri(unit, "t") == "sip:unit@10.0.0.5"


@pytest.mark.parametrize(("code", "failure"), [
    (486, Failure.BUSY), (600, Failure.BUSY), (408, Failure.NO_ANSWER), (480, Failure.NO_ANSWER),
    (487, Failure.NO_ANSWER), (403, Failure.REJECTED), (603, Failure.REJECTED), (404, Failure.UNREACHABLE),
    (503, Failure.UNREACHABLE), (None, Failure.UNREACHABLE)])
def test_the_final_sip_response_says_why_a_call_was_not_answered(code, failure):
    assert calls.failure_for(code) is failure


def test_our_own_cancel_is_no_answer_after_the_ring_time_and_cancelled_when_the_operator_hung_up():
    assert calls.failure_for(487, timed_out=True) is Failure.NO_ANSWER
    assert calls.failure_for(487, cancelled=True) is Failure.CANCELLED


def test_talk_time_is_from_the_answer_to_the_end_in_whole_seconds():
    assert calls.talk_seconds(T0, T0 + timedelta(seconds=65.4)) == 65
    assert calls.talk_seconds(None, T0) is None
    assert calls.talk_seconds(T0, None) is None
    assert calls.talk_seconds(T0, T0 - timedelta(seconds=1)) == 0  # a clock step never gives a negative call


def test_the_sip_plugins_events_and_the_gateways_own_are_told_apart():
    accepted = parse_event({"janus": "event", "sender": 1, "plugindata": {"plugin": "janus.plugin.sip", "data": {
        "sip": "event", "result": {"event": "accepted", "username": "sip:unit@10.0.0.5"}}},
        "jsep": {"type": "answer", "sdp": "v=0"}})
    assert (accepted.kind, accepted.jsep["type"]) == ("accepted", "answer")
    busy = parse_event({"janus": "event", "plugindata": {"data": {"sip": "event", "result": {
        "event": "hangup", "code": 486, "reason": "Busy Here"}}}})
    assert (busy.kind, busy.data["code"]) == ("hangup", 486)
    refused = parse_event({"janus": "event", "plugindata": {"data": {"error_code": 443, "error": "Missing element"}}})
    assert (refused.kind, refused.data["code"]) == ("error", 443)
    assert parse_event({"janus": "hangup", "reason": "DTLS alert"}).kind == "webrtc_hangup"
    assert parse_event({"janus": "webrtcup"}).kind == "webrtcup"
    assert parse_event({"janus": "keepalive"}) is None
    assert parse_event({"janus": "ack"}) is None


def test_a_transfer_address_names_the_call_handed_over_and_nothing_else_does():
    user = calls.transfer_user("0b9c2d4e-1111-2222-3333-444455556666")
    assert calls.transferred_call(user) == "0b9c2d4e-1111-2222-3333-444455556666"
    assert calls.transferred_call("alarm") is None
    assert calls.transferred_call("xfer-") is None
    assert calls.transferred_call(None) is None


def test_only_a_failure_in_the_units_notify_ends_a_transfer_a_redirect_does_not():
    assert calls.transfer_refused("SIP/2.0 486 Busy Here\n") == 486
    assert calls.transfer_refused("SIP/2.0 503 Service Unavailable") == 503
    assert calls.transfer_refused("SIP/2.0 100 Trying\n") is None
    assert calls.transfer_refused("SIP/2.0 302 Moved Temporarily") is None  # the centre sends it to the colleague
    assert calls.transfer_refused("SIP/2.0 200 OK") is None
    assert calls.transfer_refused("garbage") is None
    assert calls.transfer_refused(None) is None
