"""The SIP side of inbound calls (voice/inbound.py): a redirect server and a registrar for the
gateway's sessions only, answering as RFC 3261 says. The calls themselves are stored by a
stand-in here (the browser test runs the real thing)."""

from __future__ import annotations

import asyncio

from respons.intake.scaip.sip import build_request, parse_request, parse_response
from respons.voice.inbound import InboundSip, uri_of, user_of


class Calls:
    """What InboundSip asks of the voice service."""

    def __init__(self, fail: bool = False):
        self.incoming_calls: list[dict] = []
        self.gave_up: list[str] = []
        self.fail = fail

    async def incoming(self, **call) -> str:
        if self.fail:
            raise RuntimeError("database down")
        self.incoming_calls.append(call)
        return f"call-{len(self.incoming_calls)}"

    async def caller_gave_up(self, call_id: str) -> None:
        self.gave_up.append(call_id)


def request(method: str, *, call_id: str = "c1@unit", cseq: int = 1, to: str = "<sip:centre@10.0.0.1>",
            contact: str | None = None, frm: str = '"Unit" <sip:4711@10.0.0.5:5072>;tag=u1'):
    headers = [("Via", f"SIP/2.0/UDP 10.0.0.5:5072;branch=z9hG4bK-{call_id}-{cseq};rport"), ("Max-Forwards", "70"),
               ("From", frm), ("To", to), ("Call-ID", call_id), ("CSeq", f"{cseq} {method}")]
    if contact:
        headers.append(("Contact", contact))
    return parse_request(build_request(method, "sip:centre@10.0.0.1", headers))


def run(sip: InboundSip, req, remote="10.0.0.5"):
    sent: list[bytes] = []
    answer = asyncio.run(sip.on_request(req, remote, sent.append))
    return [parse_response(raw) for raw in sent + ([answer] if answer else [])]


def test_the_caller_is_read_from_the_from_header():
    assert uri_of('"Unit" <sip:4711@10.0.0.5:5072>;tag=u1') == "sip:4711@10.0.0.5:5072"
    assert user_of('"Unit" <sip:4711@10.0.0.5:5072>;tag=u1') == "4711"
    assert user_of("sip:alarm@127.0.0.1") == "alarm"
    assert user_of("<tel:+4790000001>") is None


def test_an_invite_rings_at_once_and_a_retransmission_gets_the_same_answer_without_a_second_call():
    calls = Calls()
    sip = InboundSip(calls)
    first = run(sip, request("INVITE"))
    assert [r.status for r in first] == [100, 180]
    assert calls.incoming_calls == [{"caller": "sip:4711@10.0.0.5:5072", "caller_user": "4711", "sip_call_id": "c1@unit",
                                     "request_user": "centre"}]
    again = run(sip, request("INVITE"))
    assert [r.status for r in again] == [180]
    assert len(calls.incoming_calls) == 1
    # One dialog: the 180's To-tag is the 302's.
    tag = first[1].get("To")
    sip.contacts["in-1"] = "sip:in-1@127.0.0.1:35926"
    sent = []
    sip.pending["c1@unit"].send = sent.append
    assert sip.redirect("c1@unit", "sip:in-1@127.0.0.1:35926")
    moved = parse_response(sent[0])
    assert (moved.status, moved.get("Contact"), moved.get("To")) == (302, "<sip:in-1@127.0.0.1:35926>", tag)
    assert not sip.redirect("c1@unit", "sip:in-1@127.0.0.1:35926")  # once
    # The 302 was lost: the INVITE sent again gets it again, and makes no second call.
    assert [(r.status, r.get("Contact")) for r in run(sip, request("INVITE"))] == [(302, "<sip:in-1@127.0.0.1:35926>")]
    assert len(calls.incoming_calls) == 1


def test_an_invite_answered_finally_is_answered_the_same_for_32_seconds_then_forgotten():
    calls, now = Calls(), [1000.0]
    sip = InboundSip(calls, clock=lambda: now[0])
    run(sip, request("INVITE"))
    sip.refuse("c1@unit", 480, "Temporarily Unavailable")
    now[0] += 31
    assert [r.status for r in run(sip, request("INVITE"))] == [480]
    # A new transaction of the same call (the device tries again) is a new call, at once;
    # RFC 3261 names it by its branch.
    assert [r.status for r in run(sip, request("INVITE", cseq=2))] == [100, 180]
    assert len(calls.incoming_calls) == 2
    now[0] += 2
    sip.refuse("c1@unit", 480, "Temporarily Unavailable")  # prunes the first, past its 32 s
    assert list(sip.completed) == [("c1@unit", "2 INVITE", "z9hG4bK-c1@unit-2")]


def test_a_cancel_before_anyone_takes_the_call_ends_the_invite_with_487_and_the_call_as_given_up():
    calls = Calls()
    sip = InboundSip(calls)
    invite_answers = []
    asyncio.run(sip.on_request(request("INVITE"), "10.0.0.5", invite_answers.append))
    cancelled = run(sip, request("CANCEL"))
    assert [r.status for r in cancelled] == [200]
    assert parse_response(invite_answers[-1]).status == 487
    assert parse_response(invite_answers[-1]).get("CSeq") == "1 INVITE"
    assert calls.gave_up == ["call-1"]
    assert [r.status for r in run(sip, request("CANCEL", call_id="unknown@unit"))] == [481]
    assert [r.status for r in run(sip, request("INVITE"))] == [487]  # the 487 was lost: again, no new call
    assert len(calls.incoming_calls) == 1


def test_a_cancel_while_the_call_is_being_stored_gives_the_stored_call_up_and_no_180_follows_the_487():
    calls = Calls()
    sip = InboundSip(calls)
    storing = asyncio.Event()
    stored = asyncio.Event()

    async def slow_incoming(**call) -> str:
        storing.set()
        await stored.wait()
        return await Calls.incoming(calls, **call)

    calls.incoming = slow_incoming
    invite_answers: list[bytes] = []

    async def scenario():
        invite = asyncio.create_task(sip.on_request(request("INVITE"), "10.0.0.5", invite_answers.append))
        await storing.wait()
        cancelled = await sip.on_request(request("CANCEL"), "10.0.0.5", invite_answers.append)
        stored.set()
        await invite
        return cancelled

    cancelled = asyncio.run(scenario())
    assert parse_response(cancelled).status == 200
    assert [parse_response(raw).status for raw in invite_answers] == [100, 487]
    assert calls.gave_up == ["call-1"]


def test_only_the_gateway_registers_and_a_registration_can_be_withdrawn():
    sip = InboundSip(Calls())
    register = request("REGISTER", to="<sip:in-1@respons.invalid>", contact="<sip:in-1@127.0.0.1:35926>")
    assert [r.status for r in run(sip, register, remote="10.9.9.9")] == [403]
    assert sip.contacts == {}
    assert [r.status for r in run(sip, register, remote="127.0.0.1")] == [200]
    assert sip.contacts == {"in-1": "sip:in-1@127.0.0.1:35926"}
    withdraw = request("REGISTER", to="<sip:in-1@respons.invalid>", contact="<sip:in-1@127.0.0.1:35926>;expires=0")
    assert [r.status for r in run(sip, withdraw, remote="127.0.0.1")] == [200]
    assert sip.contacts == {}
    assert [r.status for r in run(sip, request("REGISTER", to="<tel:1>"), remote="127.0.0.1")] == [400]


def test_a_bye_or_a_reinvite_is_not_ours_and_a_call_that_cannot_be_stored_is_refused_with_retry_after():
    sip = InboundSip(Calls())
    assert [r.status for r in run(sip, request("BYE"))] == [481]
    assert [r.status for r in run(sip, request("INVITE", to="<sip:centre@10.0.0.1>;tag=abc"))] == [481]
    broken = InboundSip(Calls(fail=True))
    answers = run(broken, request("INVITE", call_id="c2@unit"))
    assert [r.status for r in answers] == [100, 503]
    assert answers[-1].get("Retry-After") == "5"
    assert broken.pending == {}
    broken.voice.fail = False  # the device tries again (a new transaction): a new call
    assert [r.status for r in run(broken, request("INVITE", call_id="c2@unit", cseq=2))] == [100, 180]
