"""The SIP layer of the SCAIP receiver without sockets: requests, framing, responses, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.intake.scaip.sip import (
    BadRequest, MessageSplitter, Request, build_request, has_tag, parse_request, parse_response, response,
)

BODY = b'<?xml version="1.0"?><mrq><ref>1</ref><cid>4711</cid><dty>3</dty></mrq>'


def message(*, call_id: str = "a84b4c76e66710@pc33", cseq: str = "1 MESSAGE", body: bytes = BODY,
            method: str = "MESSAGE", compact: bool = False, extra: list[tuple[str, str]] | None = None) -> bytes:
    names = dict(via="v", frm="f", to="t", cid="i", ctype="c") if compact else dict(
        via="Via", frm="From", to="To", cid="Call-ID", ctype="Content-Type")
    headers = [
        (names["via"], "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds;rport"),
        (names["via"], "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8"),
        ("Max-Forwards", "70"),
        (names["frm"], "<sip:4711@alarm.example>;tag=1928301774"),
        (names["to"], "<sip:arc@respons.example>"),
        (names["cid"], call_id),
        ("CSeq", cseq),
        (names["ctype"], "application/scaip+xml"),
        *(extra or []),
    ]
    return build_request(method, "sip:arc@respons.example", headers, body)


def test_a_request_is_parsed_with_its_headers_in_order_and_its_body():
    request = parse_request(message())
    assert (request.method, request.uri, request.version) == ("MESSAGE", "sip:arc@respons.example", "SIP/2.0")
    assert request.all("Via") == ["SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds;rport",
                                  "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds8"]
    assert (request.call_id, request.cseq, request.content_type) == ("a84b4c76e66710@pc33", "1 MESSAGE",
                                                                     "application/scaip+xml")
    assert request.body == BODY


def test_compact_header_names_are_the_full_ones():
    compact, full = parse_request(message(compact=True)), parse_request(message())
    assert compact.headers == full.headers
    assert compact.get("l") == str(len(BODY)) and compact.get("content-length") == str(len(BODY))


def test_folded_header_lines_are_joined():
    raw = message().replace(b"To: <sip:arc@respons.example>", b"To:\r\n   <sip:arc@respons.example>")
    assert parse_request(raw).get("To") == "<sip:arc@respons.example>"


def test_leading_crlfs_are_ignored_and_a_datagram_may_carry_more_than_content_length():
    assert parse_request(b"\r\n\r\n" + message()).body == BODY
    assert parse_request(message() + b"trailing junk", datagram=True).body == BODY
    with pytest.raises(BadRequest) as refused:
        parse_request(message() + b"trailing junk")  # on a stream, Content-Length frames exactly
    assert refused.value.status == 400


def test_a_datagram_without_content_length_has_the_rest_as_body():
    raw = message().replace(f"Content-Length: {len(BODY)}\r\n".encode(), b"")
    assert parse_request(raw, datagram=True).body == BODY
    with pytest.raises(BadRequest):
        parse_request(raw)


@pytest.mark.parametrize("raw, status, why", [
    (b"hello", 400, "request line"),
    (b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 400, "response"),
    (message().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505, "SIP/3.0"),
    (message().replace(b"Call-ID: a84b4c76e66710@pc33\r\n", b""), 400, "Call-ID"),
    (message().replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 INVITE"), 400, "does not match"),
    (message().replace(b"CSeq: 1 MESSAGE", b"CSeq: one MESSAGE"), 400, "CSeq"),
    (message().replace(f"Content-Length: {len(BODY)}".encode(), b"Content-Length: 9999"), 400, "Content-Length"),
    (message().replace(f"Content-Length: {len(BODY)}".encode(), b"Content-Length: 99999999"), 413, "more than"),
    (message().replace(f"Content-Length: {len(BODY)}".encode(), b"Content-Length: -1"), 400, "not a number"),
    (message().replace(b"Max-Forwards: 70", b"Max Forwards 70"), 400, "header line"),
    (message(body=b"").replace(b"\r\n\r\n", b"\r\n"), 400, "empty line"),
])
def test_malformed_requests_are_refused_with_the_status_to_answer(raw, status, why):
    with pytest.raises(BadRequest) as refused:
        parse_request(raw)
    assert refused.value.status == status and why in refused.value.reason


def test_a_bad_request_is_still_answered_with_the_headers_that_could_be_read():
    raw = message().replace(b"CSeq: 1 MESSAGE", b"CSeq: 1 INVITE")
    with pytest.raises(BadRequest) as refused:
        parse_request(raw)
    answer = parse_response(response(refused.value, 400))
    assert answer.status == 400 and answer.reason == "Bad Request"
    assert answer.all("Via") == parse_request(message()).all("Via")
    assert answer.get("Call-ID") == "a84b4c76e66710@pc33"
    with pytest.raises(BadRequest) as hopeless:
        parse_request(b"garbage\r\n\r\n")
    assert not hopeless.value.response_possible  # no Via: nobody to answer


def test_the_response_copies_every_via_in_order_from_to_call_id_and_cseq_and_adds_a_to_tag():
    request = parse_request(message(extra=[("Via", "SIP/2.0/TCP 10.0.0.3;branch=z9hG4bK3")]))
    raw = response(request, 200, body=b"<mrs/>", content_type="application/scaip+xml")
    answer = parse_response(raw)
    assert (answer.status, answer.reason) == (200, "OK")
    assert answer.all("Via") == request.all("Via") and len(answer.all("Via")) == 3
    assert answer.get("From") == request.get("From")
    assert answer.get("To").startswith("<sip:arc@respons.example>;tag=")
    assert (answer.get("Call-ID"), answer.get("CSeq")) == (request.call_id, request.cseq)
    assert answer.get("Content-Type") == "application/scaip+xml"
    assert answer.get("Content-Length") == "6" and answer.body == b"<mrs/>"
    assert raw == response(parse_request(message(extra=[("Via", "SIP/2.0/TCP 10.0.0.3;branch=z9hG4bK3")])), 200,
                           body=b"<mrs/>", content_type="application/scaip+xml"), "a retransmission gets the same bytes"


def test_an_existing_to_tag_is_kept_and_a_tag_inside_the_uri_does_not_count():
    assert has_tag("<sip:arc@x>;tag=abc") and has_tag("sip:arc@x;tag=abc")
    assert not has_tag("<sip:arc@x;tag=abc>")
    request = parse_request(message().replace(b"To: <sip:arc@respons.example>", b"t: <sip:arc@r>;tag=77"))
    assert parse_response(response(request, 200)).get("To") == "<sip:arc@r>;tag=77"


def test_a_response_without_a_body_says_content_length_0_and_echoed_values_cannot_inject_headers():
    request = Request("MESSAGE", "sip:x", "SIP/2.0", (("Via", "SIP/2.0/UDP h"), ("Call-ID", "x\r\nEvil: 1")))
    answer = parse_response(response(request, 405, extra=(("Allow", "MESSAGE, OPTIONS"),)))
    assert answer.get("Content-Length") == "0" and answer.get("Allow") == "MESSAGE, OPTIONS"
    assert answer.get("Evil") is None


def test_several_messages_in_one_read_and_one_message_across_reads():
    one, two, three = (message(cseq=f"{n} MESSAGE") for n in (1, 2, 3))
    splitter = MessageSplitter()
    assert splitter.feed(b"\r\n\r\n" + one + two + three[:40]) == [one, two]
    assert splitter.feed(three[40:len(three) - 10]) == []
    assert splitter.feed(three[len(three) - 10:] + b"\r\n") == [three]
    assert splitter.feed(b"") == [] and splitter.broken is None


def test_a_stream_that_cannot_be_framed_is_handed_out_once_and_marked_broken():
    splitter = MessageSplitter()
    bad = message().replace(f"Content-Length: {len(BODY)}".encode(), b"Content-Length: lots")
    rest = splitter.feed(message() + bad)
    assert rest[0] == message() and len(rest) == 2 and splitter.broken
    with pytest.raises(BadRequest):
        parse_request(rest[1])
    assert splitter.feed(message()) == [], "nothing more is read from a broken stream"


# --- fuzzing: every input parses or is refused with BadRequest, nothing else ---------------


@settings(max_examples=400)
@given(st.lists(st.binary(max_size=400), max_size=8))
def test_any_bytes_are_split_and_every_message_parsed_or_refused(chunks):
    splitter = MessageSplitter()
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            for datagram in (False, True):
                try:
                    request = parse_request(raw, datagram=datagram)
                except BadRequest as refused:
                    assert refused.status in (400, 413, 505)
                    if refused.response_possible:
                        assert parse_response(response(refused, refused.status)).status == refused.status
                else:
                    assert parse_response(response(request, 200)).status == 200


sip_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)
header_names = st.sampled_from(["Via", "From", "To", "Call-ID", "CSeq", "Content-Type", "Contact", "l", "v", "X-Any"])


@settings(max_examples=300)
@given(headers=st.lists(st.tuples(header_names, sip_text), max_size=12), body=st.binary(max_size=200),
       mutate=st.integers(0, 400), byte=st.integers(0, 255))
def test_mutated_requests_parse_or_are_refused_cleanly(headers, body, mutate, byte):
    raw = bytearray(build_request("MESSAGE", "sip:arc@x", headers, body))
    if raw:
        raw[mutate % len(raw)] = byte
    try:
        parse_request(bytes(raw), datagram=bool(mutate % 2))
    except BadRequest:
        pass


@settings(max_examples=200)
@given(call_id=sip_text, number=st.integers(0, 2**31), body=st.binary(max_size=300),
       vias=st.lists(sip_text, min_size=1, max_size=4), pieces=st.integers(1, 6))
def test_built_requests_parse_back_and_frame_whatever_the_reads(call_id, number, body, vias, pieces):
    headers = [("Via", f"SIP/2.0/TCP {v}") for v in vias] + [
        ("From", "<sip:d@x>;tag=1"), ("To", "<sip:arc@x>"), ("Call-ID", call_id), ("CSeq", f"{number} MESSAGE")]
    raw = build_request("MESSAGE", "sip:arc@x", headers, body)
    request = parse_request(raw)
    assert (request.call_id, request.cseq, request.body) == (call_id, f"{number} MESSAGE", body)
    assert request.all("Via") == [f"SIP/2.0/TCP {v}" for v in vias]
    splitter, stream, out = MessageSplitter(), raw + raw, []
    step = max(1, len(stream) // pieces)
    for i in range(0, len(stream), step):
        out += splitter.feed(stream[i:i + step])
    assert out == [raw, raw]
    answer = parse_response(response(request, 200, body=body, content_type="application/scaip+xml"))
    assert answer.all("Via") == request.all("Via") and answer.body == body
