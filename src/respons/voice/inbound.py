"""Calls that come in: the SIP side, in Respons's SIP listener (the port SCAIP devices already
send their alarms to; docs/voice.md, "Inbound calls").

Respons is no media server and no proxy here. For an INVITE it is a *redirect server*
(RFC 3261 §8.3.4, §21.3): it answers 100 and, once the call is stored and tied to its alarm,
180 Ringing; when an operator takes the call, the gateway opens a SIP session for that one
call and registers it here (Respons is the *registrar* for the gateway's sessions only), and
the device's INVITE gets 302 Moved Temporarily to that session, which the device follows.
From then on the device and the gateway speak to each other directly.

A CANCEL before that (the person's unit gave up) gets 200, and the INVITE 487 (RFC 3261 §9.2).
An INVITE sent again after its final answer (302, 487, 480: lost on UDP) gets that answer again
for Timer H's 32 s (§17.2.1), not a second call. REGISTER is accepted from the gateway's address only.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from respons.intake.scaip import sip

log = logging.getLogger(__name__)

Send = Callable[[bytes], None]
REGISTER_SECONDS = 300
# RFC 3261 §17.2.1: an INVITE server transaction that sent a final answer absorbs the INVITE's
# retransmissions for Timer H (64 × T1 = 32 s).
COMPLETED_SECONDS = 32.0
_URI = re.compile(r"<?(sips?:[^>;\s]+)")
_USER = re.compile(r"sips?:([^@;>\s]+)@")
_BRANCH = re.compile(r";\s*branch=([^;,\s]+)", re.IGNORECASE)


def _transaction(request: sip.Request) -> tuple[str, str | None, str | None]:
    """What names an INVITE's server transaction (RFC 3261 §17.2.3): the top Via's branch,
    with the Call-ID and CSeq for a device whose branch is not unique."""
    found = _BRANCH.search(request.get("Via") or "")
    return request.call_id, request.get("CSeq"), found.group(1) if found else None


def uri_of(header: str | None) -> str | None:
    """The URI of a From/To/Contact value: ``"Unit" <sip:4711@10.0.0.5>;tag=x`` → ``sip:4711@10.0.0.5``."""
    found = _URI.search(header or "")
    return found.group(1) if found else None


def user_of(header: str | None) -> str | None:
    found = _USER.search(uri_of(header) or "")
    return found.group(1) if found else None


@dataclass
class Pending:
    """An INVITE waiting for an operator: its request (every later answer echoes it) and how
    to reach the device (its UDP address or TCP connection)."""

    request: sip.Request
    send: Send
    call_id: str | None = None  # ours (voice_calls.id), once stored
    last: bytes | None = None  # the last answer, for a retransmitted INVITE
    cancelled: bool = False  # the device's CANCEL came (perhaps while the call was being stored)


@dataclass
class InboundSip:
    """The SIP transactions of inbound calls; ``voice`` stores the calls and runs them."""

    voice: object  # voice.service.Voice (not imported: the service imports this module)
    gateway_hosts: frozenset[str] = frozenset({"127.0.0.1"})
    contacts: dict[str, str] = field(default_factory=dict)  # registered user → Contact URI
    pending: dict[str, Pending] = field(default_factory=dict)  # SIP Call-ID → INVITE
    # The transaction (``_transaction``) → (until when, the final answer) of INVITEs answered
    # lately: a device that tries again after a 503 sends a new transaction, which is a new call.
    completed: dict[tuple[str, str | None, str | None], tuple[float, bytes]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    HANDLED = frozenset({"INVITE", "CANCEL", "REGISTER", "BYE"})

    async def on_request(self, request: sip.Request, remote: str | None, send: Send) -> bytes | None:
        """The immediate answer to ``request`` (None: answered through ``send`` or not at all)."""
        if request.method == "REGISTER":
            return self._register(request, remote)
        if request.method == "CANCEL":
            return await self._cancel(request)
        if request.method == "BYE":
            # After the 302 the device's dialog is with the gateway, never with us.
            return sip.response(request, 481, reason="Call/Transaction Does Not Exist")
        return await self._invite(request, remote, send)

    def _register(self, request: sip.Request, remote: str | None) -> bytes:
        if remote not in self.gateway_hosts:
            log.info("voice: refused a REGISTER from %s (only the gateway registers here)", remote)
            return sip.response(request, 403, reason="Forbidden")
        user, contact = user_of(request.get("To")), uri_of(request.get("Contact"))
        if not user or not contact:
            return sip.response(request, 400, reason="Bad Request")
        expires = request.get("Expires")
        if expires == "0" or ";expires=0" in (request.get("Contact") or ""):
            self.contacts.pop(user, None)
            return sip.response(request, 200)
        self.contacts[user] = contact
        return sip.response(request, 200, extra=(("Contact", f"<{contact}>;expires={REGISTER_SECONDS}"),
                                                 ("Expires", str(REGISTER_SECONDS))))

    async def _invite(self, request: sip.Request, remote: str | None, send: Send) -> bytes | None:
        known = self.pending.get(request.call_id)
        if known is not None:
            return known.last  # a retransmission: the same answer again (RFC 3261 §17.2.1)
        answered = self.completed.get(_transaction(request))
        if answered is not None and answered[0] > self.clock():
            return answered[1]  # its final answer was lost: sent again, no second call
        if request.get("To") and sip.has_tag(request.get("To") or ""):
            return sip.response(request, 481, reason="Call/Transaction Does Not Exist")  # a re-INVITE: not ours
        pending = Pending(request, send)
        self.pending[request.call_id] = pending
        trying = sip.response(request, 100, reason="Trying")
        pending.last = trying
        send(trying)
        try:
            pending.call_id = await self.voice.incoming(caller=uri_of(request.get("From")) or "",
                                                        caller_user=user_of(request.get("From")), sip_call_id=request.call_id,
                                                        request_user=user_of(request.uri))
        except Exception:  # noqa: BLE001 - the device must hear something: it may be a person in need
            log.exception("voice: an incoming call from %s could not be stored", remote)
            if self.pending.pop(request.call_id, None) is pending:
                self._final(pending, 503, reason="Service Unavailable", extra=(("Retry-After", "5"),))
            return None
        if pending.cancelled:
            # The CANCEL came while the call was being stored: it had no call to end then.
            await self.voice.caller_gave_up(pending.call_id)
        elif self.pending.get(request.call_id) is pending:  # not answered finally meanwhile
            self._answer(pending, 180, reason="Ringing")
        return None

    async def _cancel(self, request: sip.Request) -> bytes:
        pending = self.pending.pop(request.call_id, None)
        if pending is None:
            return sip.response(request, 481, reason="Call/Transaction Does Not Exist")
        pending.cancelled = True
        self._final(pending, 487, reason="Request Terminated")
        if pending.call_id is not None:
            await self.voice.caller_gave_up(pending.call_id)
        return sip.response(request, 200)

    def redirect(self, sip_call_id: str, contact: str) -> bool:
        """Send the device to the gateway session registered at ``contact``; False if the
        INVITE is gone (the device gave up)."""
        pending = self.pending.pop(sip_call_id, None)
        if pending is None:
            return False
        self._final(pending, 302, reason="Moved Temporarily", extra=(("Contact", f"<{contact}>"),))
        return True

    def refuse(self, sip_call_id: str, status: int, reason: str) -> None:
        pending = self.pending.pop(sip_call_id, None)
        if pending is not None:
            self._final(pending, status, reason=reason)

    def _final(self, pending: Pending, status: int, *, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        """The INVITE's final answer, kept for its retransmissions (``completed``)."""
        self._answer(pending, status, reason=reason, extra=extra)
        now = self.clock()
        for transaction in [t for t, (until, _) in self.completed.items() if until <= now]:
            del self.completed[transaction]
        self.completed[_transaction(pending.request)] = (now + COMPLETED_SECONDS, pending.last)

    @staticmethod
    def _answer(pending: Pending, status: int, *, reason: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        answer = sip.response(pending.request, status, reason=reason, extra=extra)
        pending.last = answer
        pending.send(answer)
        return None
