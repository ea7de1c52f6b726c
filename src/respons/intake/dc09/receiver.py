"""The DC-09 receiver: TCP and UDP listeners around the pure codec.

Each frame is parsed (``frames.parse``), and what it says is done in **one unit of work
through the journal writer**; the answer is written to the socket only after that unit is
committed (DESIGN.md invariant 1). So:

- an alarm (``ADM-CID`` / ``SIA-DCS``) becomes an alarm; a retransmitted frame (the same
  account, sequence number and content, whatever its timestamp) received within
  ``retransmit_seconds`` of the first is recognised and answered ACK again without a second
  alarm (``retransmit_key`` says how);
- a heartbeat (``NULL`` link test, or a periodic-test code) marks the device as seen;
- a restore is written on the device's open alarm of the same type as a note;
- an unknown account, an unknown event code or unreadable event data is kept in quarantine
  for an administrator and answered ``DUH``, so the panel tries its backup path;
- a frame that is a frame but cannot be understood (bad fields, encrypted without a key
  we know, wrong key) is kept in quarantine too and answered ``DUH``;
- a damaged or stale frame is answered ``NAK`` (with the receiver's time) and not kept: the
  sender will send it again.

Device registration binds a device to DC-09 with ``protocol = sia_dc09`` and
``identity = <account>`` (hex, as the panel sends it), and for encrypted accounts the AES
key (``devices.dc09_key``, hex). Keys are read through a small cache (``KeyRing``) so an
encrypted frame costs no extra query in the common case.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import datetime, timedelta

from typing import NamedTuple

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from respons.clock import Clock
from respons.domain.alarm_types import alarm_type
from respons.domain.dc09_keys import BadKey, parse_key
from respons.engine import receiving
from respons.engine.routing import RulesCache
from respons.intake import devices as device_intake
from respons.intake.devices import IntakeSettings
from respons.intake.dc09 import contact_id as codes
from respons.intake.listeners import Listener
from respons.intake.batches import AGAIN, Batcher
from respons.intake.heartbeats import Heartbeats
from respons.intake.dc09.frames import Answer, Frame, FrameSplitter, Refusal, answer, open_envelope, read
from respons.store import alarms as alarm_rows
from respons.store import quarantine
from respons.store.journal import Journal, JournalUnavailable, Lane
from respons.store.tables import devices

log = logging.getLogger(__name__)

SOURCE = "sia_dc09"
DEFAULT_DEADLINE_SECONDS = 60
# RESPONS_DC09_RETRANSMIT_SECONDS. A panel that gets no ACK sends the event again after its
# timeout, a few times, then over its backup path; minutes cover that. Longer would merge a
# real repeat of the same event into the first alarm once the sequence number has wrapped
# (0001-9999) or on a panel that does not advance it.
DEFAULT_RETRANSMIT_SECONDS = 300.0
# Answers buffered for a connection before the receiver waits for the panel to read them.
WRITE_BUFFER_LIMIT = 64 * 1024
# Frames per batch unit: an alarm batch of this many is written in tens of milliseconds.
MAX_BATCH = 100


class Message(NamedTuple):  # immutable, and built for every frame (as frames.Frame)
    """What a readable frame says, decoded once: the journal lane is chosen from it before
    the unit of work runs, and the unit acts on it."""

    frame: Frame
    event: codes.Event | None = None  # None for a link test (NULL) and for a frame not understood
    problem: tuple[str, str] | None = None  # (quarantine reason, message) when not understood

    @property
    def heartbeat(self) -> bool:
        """A link test or a periodic test: only a sign of life."""
        return self.problem is None and (self.event is None or self.event.meaning is codes.Meaning.HEARTBEAT)


def interpret(frame: Frame) -> Message:
    if frame.token == "NULL":
        return Message(frame)
    try:
        if frame.token == "ADM-CID":
            return Message(frame, event=codes.contact_id(frame.data))
        if frame.token == "SIA-DCS":
            return Message(frame, event=codes.sia_dcs(frame.data))
    except codes.Unreadable as exc:
        return Message(frame, problem=("unreadable_event", str(exc)))
    return Message(frame, problem=("unknown_token", f"DC-09 message type {frame.token!r} is not handled."))


def retransmit_key(frame: Frame, *, now: datetime, window_seconds: float) -> tuple[str, str | None]:
    """The idempotency key of an alarm frame, and the key an earlier sending within the window
    may carry.

    A retransmit repeats account, sequence number and content, but its timestamp is new: a
    panel stamps each sending, and must, because the receiver refuses a timestamp more than
    40 s old (``frames.DEFAULT_WINDOW``), so a retry after a lost ACK cannot carry the first
    sending's time. The key used to hold the timestamp, to tell a retransmit from a real new
    event that repeats an old sequence number once the counter has wrapped; it therefore made
    every retransmit a second alarm (issue 15). Now the key holds the receive time's slot of
    ``window_seconds`` instead: the same event within the window is one alarm, the same
    bytes later are a new one. A sending in the next slot is matched by looking for the
    previous slot's key with a receive time inside the window, so no slot edge splits a
    retransmit from its first sending. ``window_seconds <= 0`` keeps the timestamp in the key
    (only a frame with the same timestamp is a retransmit).
    """
    # Over what the frame says, not its bytes: an encrypted retransmit has a new random pad.
    content = hashlib.sha256(repr((frame.token, frame.data, frame.xdata)).encode()).hexdigest()[:24]
    if window_seconds <= 0:
        return f"{frame.sequence}:{content}:{frame.timestamp.isoformat() if frame.timestamp else '-'}", None
    slot = int(now.timestamp() // window_seconds)
    return f"{frame.sequence}:{content}:{slot}", f"{frame.sequence}:{content}:{slot - 1}"


def handle(conn: Connection, frame: Frame, raw: bytes, *, now: datetime, remote: str | None,
           answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
           retransmit_seconds: float = DEFAULT_RETRANSMIT_SECONDS, message: Message | None = None,
           rules_cache: RulesCache | None = None) -> Answer:
    """The unit of work for one readable frame; returns what to answer once it is committed.
    ``message``: the frame already decoded (the receiver decodes once, for the lane too)."""
    message = message or interpret(frame)
    device = device_intake.identify(conn, SOURCE, frame.account)
    if device is None:
        _keep(conn, raw, remote, "unknown_account", f"No active DC-09 device with account {frame.account}.", now)
        return Answer.DUH
    if message.problem is not None:
        _keep(conn, raw, remote, *message.problem, now)
        return Answer.DUH
    device_intake.heard(conn, device, now)
    if message.heartbeat:
        return Answer.ACK
    event = message.event
    if event.alarm_type is None:
        _keep(conn, raw, remote, "unknown_event_code", f"Event code {event.code} has no meaning in Respons yet.", now)
        return Answer.DUH
    if event.meaning is codes.Meaning.RESTORE:
        return _restore(conn, device, event, now)
    scope = f"{SOURCE}:{frame.account}"
    key, previous_slot = retransmit_key(frame, now=now, window_seconds=retransmit_seconds)
    if previous_slot is not None and alarm_rows.sent_since(conn, scope, previous_slot,
                                                           now - timedelta(seconds=retransmit_seconds)):
        return Answer.ACK  # sent first in the previous slot, within the window: that alarm
    # A retransmit in the same slot finds the alarm it made before (duplicate) and is simply
    # acknowledged again.
    receiving.receive(conn, _new_alarm(device, frame, event, key, now), now=now,
                      answer_deadline=timedelta(seconds=answer_deadline_seconds), rules_cache=rules_cache)
    return Answer.ACK


def _new_alarm(device, frame: Frame, event: codes.Event, key: str, now: datetime) -> receiving.NewAlarm:
    return device_intake.new_alarm(
        device, alarm_type=alarm_type(event.alarm_type), source=SOURCE, occurred_at=frame.timestamp or now,
        payload={"dc09": {"token": frame.token, "sequence": frame.sequence, "code": event.code, "zone": event.zone,
                          "group": event.group, "xdata": list(frame.xdata)}},
        # A retransmit repeats account, sequence and content: the same key, the same alarm.
        idempotency_scope=f"{SOURCE}:{frame.account}", idempotency_key=key,
        # The key covers the whole content, so a key found again is always the same content.
        fingerprint=key)


class Incoming(NamedTuple):
    """A readable frame waiting for its batch: what ``handle`` needs of it."""

    frame: Frame
    raw: bytes
    message: Message
    now: datetime
    remote: str | None


def handle_many(conn: Connection, incoming: list[Incoming], *, answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
                retransmit_seconds: float = DEFAULT_RETRANSMIT_SECONDS,
                rules_cache: RulesCache | None = None) -> list[Answer | BaseException]:
    """``handle`` for a batch of frames (intake/batches.py): the panels are identified in one
    query, heard in one update, their retransmits looked up in one query and their alarms
    written by ``receiving.receive_many``. A frame that is not a known panel's alarm (unknown
    account, not understood, a restore, an event code with no meaning) takes ``handle`` alone."""
    found = device_intake.identify_many(conn, SOURCE, {item.frame.account for item in incoming})
    answers: list[Answer | BaseException | object | None] = [None] * len(incoming)
    heard, raising = [], []
    accounts: set[str] = set()
    for index, item in enumerate(incoming):
        if item.frame.account in accounts:
            # One frame per panel per batch: its next one (a restore of this alarm, a
            # retransmit over its other path) must see this one committed, as one at a time.
            answers[index] = AGAIN
            continue
        accounts.add(item.frame.account)
        device, event = found.get(item.frame.account), item.message.event
        if (device is None or item.message.problem is not None or event is None or item.message.heartbeat
                or event.alarm_type is None or event.meaning is codes.Meaning.RESTORE):
            answers[index] = handle(conn, item.frame, item.raw, now=item.now, remote=item.remote,
                                    answer_deadline_seconds=answer_deadline_seconds,
                                    retransmit_seconds=retransmit_seconds, message=item.message, rules_cache=rules_cache)
            continue
        heard.append((device, item.now))
        raising.append((index, item, device, *retransmit_key(item.frame, now=item.now, window_seconds=retransmit_seconds)))
    device_intake.heard_all(conn, heard)
    window = timedelta(seconds=retransmit_seconds)
    earlier = {pair: row.received_at for pair, row in alarm_rows.by_idempotency_many(
        conn, [(f"{SOURCE}:{item.frame.account}", previous) for _i, item, _d, _key, previous in raising
               if previous is not None]).items()}
    arrivals, indexes = [], []
    for index, item, device, key, previous in raising:
        first = earlier.get((f"{SOURCE}:{item.frame.account}", previous)) if previous is not None else None
        if first is not None and first >= item.now - window:
            answers[index] = Answer.ACK  # sent first in the previous slot, within the window: that alarm
            continue
        arrivals.append((_new_alarm(device, item.frame, item.message.event, key, item.now), item.now))
        indexes.append(index)
    received = device_intake.raise_many(conn, arrivals, IntakeSettings.of(answer_deadline_seconds, rules_cache))
    for index, result in zip(indexes, received):
        answers[index] = result if isinstance(result, BaseException) else Answer.ACK
    return answers  # type: ignore[return-value]


def lane_of(message: Message) -> Lane:
    """Link tests and technical events wait behind alarms; anything unreadable could be one."""
    event = message.event
    if message.problem is not None:
        return Lane.LIFE
    if message.heartbeat:
        return Lane.TECHNICAL
    if event.alarm_type is None:
        return Lane.LIFE
    return Lane.for_alarm(alarm_type(event.alarm_type))


def _restore(conn: Connection, device, event: codes.Event, now: datetime) -> Answer:
    device_intake.restore(conn, device, type_code=event.alarm_type, now=now,
                          text=f"Gjenopprettet (restore) fra enheten: kode {event.code}.")
    return Answer.ACK


def _keep(conn: Connection, raw: bytes, remote: str | None, reason: str, message: str, now: datetime) -> None:
    quarantine.keep(conn, quarantine.RawInput(source=SOURCE, body=raw, content_type="application/x-sia-dc09",
                                              remote_addr=remote), reason=reason, message=message, now=now)


class KeyRing:
    """Accounts' AES keys, read from the devices table and kept for ``ttl`` seconds, so a
    changed or new key is in use within that time without a query per frame."""

    def __init__(self, engine: Engine, *, ttl: float = 10.0):
        self._engine = engine
        self._ttl = ttl
        self._keys: dict[str, tuple[float, bytes | None]] = {}

    def key(self, account: str) -> bytes | None:
        cached = self._keys.get(account)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self._engine.connect() as conn:
            hex_key = conn.execute(select(devices.c.dc09_key).where(
                devices.c.protocol == SOURCE, devices.c.identity == account, devices.c.active.is_(True))).scalar()
        try:
            key = parse_key(hex_key) if hex_key else None
        except BadKey:
            log.error("DC-09 account %s has an unusable key in the register", account)
            key = None
        if len(self._keys) > 100_000:  # bounded: a scan of random accounts cannot grow it forever
            self._keys.clear()
        self._keys[account] = (time.monotonic() + self._ttl, key)
        return key


class Receiver(Listener):
    """TCP and UDP listeners; each frame's answer is sent after its unit is committed."""

    def __init__(self, journal: Journal, clock: Clock, *, answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
                 retransmit_seconds: float = DEFAULT_RETRANSMIT_SECONDS, rules_cache: RulesCache | None = None):
        super().__init__()
        self.rules_cache = rules_cache
        self.journal = journal
        self.clock = clock
        self.answer_deadline_seconds = answer_deadline_seconds
        self.retransmit_seconds = retransmit_seconds
        self.keys = KeyRing(journal.engine)
        self.heartbeats = Heartbeats(journal, SOURCE)
        # Frames are written in batches per lane (intake/batches.py): an assistance alarm
        # never waits in a batch of AC losses.
        self.batches = {lane: Batcher(journal, self._handle_many, lane=lane, max_batch=MAX_BATCH,
                                      in_flight=2 if lane is Lane.LIFE else 1)
                        for lane in (Lane.LIFE, Lane.TECHNICAL)}

    def _handle_many(self, conn: Connection, incoming: list[Incoming]) -> list[Answer | BaseException]:
        return handle_many(conn, incoming, answer_deadline_seconds=self.answer_deadline_seconds,
                           retransmit_seconds=self.retransmit_seconds, rules_cache=self.rules_cache)

    async def answer_for(self, raw: bytes, remote: str | None) -> bytes | None:
        now = self.clock()
        envelope = read(raw)
        key = None
        if isinstance(envelope, Refusal):
            result = envelope
        else:
            if envelope.encrypted:
                key = await asyncio.to_thread(self.keys.key, envelope.account)
            result = open_envelope(envelope, now=now, key=key)
        try:
            if isinstance(result, Refusal):
                if result.answer is Answer.DUH:
                    # A frame we cannot understand may still be somebody's alarm: keep it.
                    await self.journal.run(lambda conn: _keep(conn, raw, remote, "unreadable_frame", result.reason, now),
                                           lane=Lane.LIFE)
                return answer(result.answer, result.frame, now=now)
            message = interpret(result)
            # A sign of life from a known panel is committed with the others read meanwhile;
            # an unknown account goes through the whole unit below, which keeps the frame.
            if message.heartbeat and await self.heartbeats.heard(result.account, now):
                return answer(Answer.ACK, result, now=self.clock(), key=key)
            reply = await self.batches[lane_of(message)].add(Incoming(result, raw, message, now, remote))
        except JournalUnavailable:
            # Nothing was stored: say nothing, and the panel sends the frame again.
            log.warning("DC-09 frame from %s not answered: the journal did not commit", remote)
            return None
        except Exception:
            # The unit was rolled back (a bug, or another node storing the same retransmit at
            # the same instant): no ACK, so the panel sends it again; the connection stays.
            log.exception("DC-09 frame from %s not answered: its unit of work failed", remote)
            return None
        return answer(reply, result, now=self.clock(), key=key)

    async def _datagram(self, data: bytes, remote: str, send=None) -> list[bytes]:
        answers = [await self.answer_for(raw, remote) for raw in FrameSplitter().feed(data)]
        return [a for a in answers if a is not None]

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        remote = peer[0] if peer else None
        splitter = FrameSplitter()
        try:
            while data := await reader.read(4096):
                # Frames of one connection are answered in order, each after its commit.
                for raw in splitter.feed(data):
                    reply = await self.answer_for(raw, remote)
                    if reply is not None:
                        writer.write(reply)
                        # Waits only for a panel that does not read its answers (the kernel's
                        # buffer full, then ours past the high-water mark): an ACK of forty
                        # bytes is sent at once, and a wait per frame cost a link test 3 %.
                        if writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
                            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
