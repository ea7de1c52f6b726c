"""The SCAIP receiver: SIP over TCP and UDP around the pure SIP and SCAIP codecs.

Each SIP MESSAGE with an ``mrq`` body is done in **one unit of work through the journal
writer**, and the ``200 OK`` carrying the ``mrs`` is written to the socket only after that
unit is committed (DESIGN.md invariant 1). So:

- an alarm becomes an alarm and is answered ``snu=0``; a retransmission — the same SIP
  transaction again (same Call-ID and CSeq, same body) or the same ``ref`` and content in a
  new transaction — finds the alarm it made before by its idempotency key and gets the same
  answer, never a second alarm;
- a heartbeat (``mty=PI`` or a test/normal status) marks the device as seen
  (``devices.last_seen_at`` and the precomputed ``alert_after``);
- a reset or restore status is written on the device's open alarm as a note;
- an unknown controller id, a status code without a meaning in Respons, or an ``mrq`` that
  cannot be read (not XML, mandatory tag missing, a value the schema does not allow) is kept
  in quarantine for an administrator and answered with the ``snu`` that says why, so the
  device can use its backup receiver;
- if the journal cannot commit, **nothing is answered**: over UDP the device's SIP stack
  retransmits (RFC 3261 timer E) and over TCP its transaction times out, and either way it
  sends the alarm again — a ``200 OK`` is a promise that the alarm is stored.

SIP requests that are not SCAIP messages are answered by SIP alone: OPTIONS 200 (devices
and proxies use it as a keep-alive), ACK nothing, other methods 405/501 with
``Allow: MESSAGE, OPTIONS``, a body that is not SCAIP XML 415, a malformed request 400.
With voice configured, the device's call that follows its alarm (INVITE, and CANCEL,
REGISTER from the gateway, BYE) goes to ``voice/inbound.py``, which rings the operators and
redirects the device to the gateway once one takes the call (docs/voice.md).

Device registration binds a device to SCAIP with ``protocol = scaip`` and
``identity = <controller id (cid)>``; the per-device id (``did``) of a pendant or sensor
behind the controller is kept in the alarm's payload.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Connection

from respons.clock import Clock
from respons.domain.alarm_types import Category, alarm_type
from respons.engine.routing import RulesCache
from respons.intake import devices as device_intake
from respons.intake.devices import IntakeSettings
from respons.intake.listeners import Listener
from respons.intake.scaip import sip
from respons.intake.scaip.codes import Event, Meaning, classify
from respons.intake.scaip.messages import (
    ACCEPTED_CONTENT_TYPES, CONTENT_TYPE, MessageType, Mrq, StatusNumber, Unreadable, VoiceMode, build_mrs, parse_mrq,
    voice_reply,
)
from respons.store import quarantine
from respons.store.journal import Journal, JournalClosed, JournalUnavailable, Lane
from respons.voice.inbound import InboundSip

log = logging.getLogger(__name__)

SOURCE = "scaip"
DEFAULT_DEADLINE_SECONDS = 60
# The SIP headers kept with a quarantined message (quarantine.keep drops credentials anyway).
_KEPT_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq", "Content-Type", "User-Agent", "Contact")


@dataclass(frozen=True)
class Reply:
    """What the ``mrs`` says: the status number and, for a refusal, a short text; for an
    accepted alarm, whether a call suits it (not a technical alarm) and whether the centre can
    call its unit back (it has a voice address)."""

    status: StatusNumber
    text: str | None = None
    alarm: bool = False
    voice_wanted: bool = False
    can_call_back: bool = False


@dataclass(frozen=True)
class VoicePolicy:
    """What the answers tell units about the voice call after an alarm (``voice_reply``)."""

    mode: VoiceMode = VoiceMode.AUTO
    callback_minutes: int = 5
    call_to: str | None = None  # tnu: where units are to call instead of their pre-defined receiver
    configured: bool = False  # Respons has voice (a gateway is configured)
    available: Callable[[], bool] = lambda: False  # Respons's voice answers now (its gateway)


def handle(conn: Connection, message: Mrq | Unreadable, request: sip.Request, *, now: datetime,
           remote: str | None, answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
           rules_cache: RulesCache | None = None) -> Reply:
    """The unit of work for one SCAIP message; returns what to answer once it is committed.

    ``message`` is the parsed ``mrq`` or why it could not be parsed; ``request`` is the SIP
    request that carried it (kept with a quarantined message, traced in an alarm's payload)."""
    if isinstance(message, Unreadable):
        _keep(conn, request, remote, message.status.name.lower(), message.reason, now)
        return Reply(message.status, message.reason)
    device = device_intake.identify(conn, SOURCE, message.cid)
    if device is None:
        _keep(conn, request, remote, "unknown_controller", f"No active SCAIP device with controller id {message.cid}.", now)
        return Reply(StatusNumber.NOT_TREATED, "unknown controller id")
    event = classify(message)
    device_intake.heard(conn, device, now)
    if event.meaning is Meaning.HEARTBEAT:
        return Reply(StatusNumber.OK)
    if event.meaning is Meaning.RESTORE:
        _restore(conn, device, message, event, now)
        return Reply(StatusNumber.OK)
    if event.alarm_type is None:
        _keep(conn, request, remote, "unknown_code",
              f"SCAIP device type/status {event.code} (mty {message.message_type}) has no meaning in Respons yet.", now)
        return Reply(StatusNumber.WRONG_DATA_CONTENT, f"device type/status {event.code} not understood")
    content = json.dumps(message.fields(), sort_keys=True, ensure_ascii=True)
    digest = hashlib.sha256(content.encode("ascii")).hexdigest()
    kind = alarm_type(event.alarm_type)
    device_intake.raise_alarm(
        conn, device, alarm_type=kind, source=SOURCE, occurred_at=now,
        payload=payload(message, event, request),
        # A retransmission repeats ref and content: the same key, the same alarm. A device that
        # reuses a ref (a counter after a restart) for a different message gets a new alarm.
        idempotency_scope=f"{SOURCE}:{message.cid}", idempotency_key=f"{message.ref}:{digest[:24]}",
        fingerprint=digest, now=now, settings=IntakeSettings.of(answer_deadline_seconds, rules_cache),
    )
    return Reply(StatusNumber.OK, alarm=True, voice_wanted=kind.category is not Category.TECHNICAL,
                 can_call_back=device.voice_uri is not None)


def payload(message: Mrq, event: Event, request: sip.Request) -> dict:
    """What the alarm keeps of the message: every tag, the call handling, the position."""
    out: dict = {
        "scaip": {**message.fields(), "code": event.code},
        "sip": {"call_id": request.call_id[:200], "cseq": request.cseq[:40]},
        # Voice is outside Respons: the operator sees whether the device will call (cha 0,
        # the schema's default) or wants to be called back (cha 1), and on which number.
        "call": {"handling": message.cha, "voice_call_expected": message.cha in (None, "0"),
                 "callback_requested": message.cha == "1", "caller_id": message.crd},
    }
    if message.did is not None:
        out["device_id"] = message.did  # the pendant or sensor behind the controller
    position = message.position
    if position is not None:
        out["position"] = {"lat": position.lat, "lon": position.lon}
    return out


def lane_of(message: Mrq | Unreadable) -> Lane:
    """Heartbeats and technical events wait behind alarms; anything unreadable could be one."""
    if isinstance(message, Unreadable):
        return Lane.LIFE
    event = classify(message)
    if event.meaning is Meaning.HEARTBEAT:
        return Lane.TECHNICAL
    if event.meaning is Meaning.RESTORE:
        # Not urgent, and never ahead of the alarm it restores (that one is in LIFE or FIFO in TECHNICAL).
        technical = event.alarm_type is not None and Lane.for_alarm(alarm_type(event.alarm_type)) is Lane.TECHNICAL
        return Lane.TECHNICAL if technical else Lane.DEFAULT
    if event.alarm_type is None:
        return Lane.LIFE
    return Lane.for_alarm(alarm_type(event.alarm_type))




def _restore(conn: Connection, device, message: Mrq, event: Event, now: datetime) -> None:
    what = "tilbakestilling (reset)" if message.message_type == MessageType.RESET else "gjenoppretting (restore)"
    device_intake.restore(conn, device, type_code=event.alarm_type, now=now,
                          text=f"SCAIP {what} fra enheten: enhetstype/status {event.code}.")


def _keep(conn: Connection, request: sip.Request, remote: str | None, reason: str, message: str, now: datetime) -> None:
    headers = {name: ", ".join(request.all(name)) for name in _KEPT_HEADERS if request.get(name) is not None}
    quarantine.keep(conn, quarantine.RawInput(source=SOURCE, body=request.body, content_type=request.content_type,
                                              headers=headers, remote_addr=remote),
                    reason=reason[:40], message=message, now=now)


class Receiver(Listener):
    """SIP over TCP and UDP; each MESSAGE's 200 OK is sent after its unit is committed."""

    def __init__(self, journal: Journal, clock: Clock, *, answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
                 rules_cache: RulesCache | None = None, calls: InboundSip | None = None,
                 voice: VoicePolicy = VoicePolicy()):
        super().__init__()
        self.calls = calls  # voice: inbound calls (None: INVITE is 405, as without voice)
        self.voice = voice
        self.rules_cache = rules_cache
        self.journal = journal
        self.clock = clock
        self.answer_deadline_seconds = answer_deadline_seconds

    async def answer_for(self, raw: bytes, remote: str | None, *, datagram: bool = False,
                         send: Callable[[bytes], None] | None = None) -> bytes | None:
        """The bytes to send back for one SIP message, or None to stay silent (``send``: for
        the later answers of an INVITE)."""
        try:
            request = sip.parse_request(raw, datagram=datagram)
        except sip.BadRequest as exc:
            log.info("SCAIP: refused a SIP request from %s: %s", remote, exc)
            return sip.response(exc, exc.status, reason=sip.REASONS.get(exc.status)) if exc.response_possible else None
        if request.method == "ACK":
            return None  # never answered (RFC 3261 §17.2.3)
        if request.method == "OPTIONS":
            return sip.response(request, 200, extra=(("Allow", sip.ALLOW), ("Accept", CONTENT_TYPE)))
        if self.calls is not None and send is not None and request.method in self.calls.HANDLED:
            return await self.calls.on_request(request, remote, send)
        if request.method != "MESSAGE":
            return sip.response(request, 405 if request.method in sip.KNOWN_METHODS else 501,
                                extra=(("Allow", sip.ALLOW),))
        required = request.get("Require")
        if required:
            return sip.response(request, 420, extra=(("Unsupported", required),))
        if request.content_type not in ACCEPTED_CONTENT_TYPES:
            return sip.response(request, 415, extra=(("Accept", ", ".join(sorted(ACCEPTED_CONTENT_TYPES))),))
        try:
            message: Mrq | Unreadable = parse_mrq(request.body)
        except Unreadable as exc:
            message = exc
        now = self.clock()
        try:
            reply = await self.journal.run(
                lambda conn: handle(conn, message, request, now=now, remote=remote,
                                    answer_deadline_seconds=self.answer_deadline_seconds,
                                    rules_cache=self.rules_cache),
                lane=lane_of(message))
        except (JournalUnavailable, JournalClosed):
            # Nothing was stored: say nothing, and the device sends the message again.
            log.warning("SCAIP message from %s not answered: the journal did not commit", remote)
            return None
        except Exception:  # noqa: BLE001 - a bug must not answer 200 for an alarm that is not stored
            log.exception("SCAIP message from %s not answered: its unit of work failed", remote)
            return None
        voice = (voice_reply(message.cha, mode=self.voice.mode, voice_configured=self.voice.configured,
                             voice_available=self.voice.available(), voice_wanted=reply.voice_wanted,
                             can_call_back=reply.can_call_back, callback_minutes=self.voice.callback_minutes,
                             call_to=self.voice.call_to)
                 if reply.alarm and isinstance(message, Mrq) else None)
        return sip.response(request, 200, body=build_mrs(message.ref, reply.status, reply.text, voice),
                            content_type=CONTENT_TYPE)

    async def _datagram(self, data: bytes, remote: str, send: Callable[[bytes], None] | None = None) -> list[bytes]:
        if not data.strip(b"\r\n"):
            return []  # a CRLF keep-alive
        answer = await self.answer_for(data, remote, datagram=True, send=send)
        return [answer] if answer is not None else []

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        remote = peer[0] if peer else None
        splitter = sip.MessageSplitter()
        try:
            while data := await reader.read(4096):
                # Messages of one connection are answered in order, each after its commit.
                for raw in splitter.feed(data):
                    reply = await self.answer_for(raw, remote, send=writer.write)
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
                if splitter.broken:
                    log.info("SCAIP: closing the TCP connection from %s: %s", remote, splitter.broken)
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
