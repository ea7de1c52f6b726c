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
from collections import deque
from datetime import datetime, timedelta

from typing import Callable, NamedTuple

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
from respons.store.journal import Journal, JournalClosed, JournalUnavailable, Lane
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
# Frames read from one connection and not yet answered before its reading is paused (a panel
# waits for each ACK; only a misbehaving sender gets here).
MAX_UNANSWERED = 64
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

    def answer(self, raw: bytes, remote: str | None, then: Callable[[bytes | None], None]) -> None:
        """Work out the answer to one frame and hand it to ``then`` once the unit that holds the
        frame has committed (None: say nothing, so the panel sends the frame again). Called on
        the event loop, which calls ``then`` later.

        Callbacks rather than a coroutine per frame: with hundreds of panels each sending a
        frame a second, suspending and resuming a chain of coroutines for every frame was a
        seventh of a link test's CPU (docs/benchmarks.md). The steps below are the same
        pipeline: read → open → decode → commit (heartbeats, or the lane's batch) → answer."""
        now = self.clock()
        envelope = read(raw)
        if isinstance(envelope, Refusal):
            self._refused(envelope, raw, remote, now, then)
        elif envelope.encrypted:
            # The account's key may need a query: in a thread, off the event loop.
            lookup = asyncio.ensure_future(asyncio.to_thread(self.keys.key, envelope.account))
            lookup.add_done_callback(lambda done: self._after(
                _outcome(done), remote, then,
                lambda key: self._opened(open_envelope(envelope, now=now, key=key), raw, remote, now, key, then)))
        else:
            self._opened(open_envelope(envelope, now=now, key=None), raw, remote, now, None, then)

    async def answer_for(self, raw: bytes, remote: str | None) -> bytes | None:
        """``answer`` awaited: the answer to one frame, once it is committed."""
        answered = asyncio.get_running_loop().create_future()
        self.answer(raw, remote, lambda reply: answered.done() or answered.set_result(reply))
        return await answered

    def _opened(self, result: Frame | Refusal, raw: bytes, remote: str | None, now: datetime, key: bytes | None,
                then: Callable[[bytes | None], None]) -> None:
        if isinstance(result, Refusal):
            self._refused(result, raw, remote, now, then)
            return
        message = interpret(result)

        def reply(kind: Answer) -> None:
            then(answer(kind, result, now=self.clock(), key=key))

        def in_its_batch(_known=None) -> None:
            self.batches[lane_of(message)].submit(Incoming(result, raw, message, now, remote),
                                                  lambda outcome: self._after(outcome, remote, then, reply))

        if message.heartbeat:
            # A sign of life from a known panel is committed with the others read meanwhile;
            # an unknown account goes through the whole unit, which keeps the frame.
            self.heartbeats.submit(result.account, now, lambda known: self._after(
                known, remote, then, lambda known: reply(Answer.ACK) if known else in_its_batch()))
        else:
            in_its_batch()

    def _refused(self, refusal: Refusal, raw: bytes, remote: str | None, now: datetime,
                 then: Callable[[bytes | None], None]) -> None:
        refused = answer(refusal.answer, refusal.frame, now=now)
        if refusal.answer is not Answer.DUH:
            then(refused)
            return
        # A frame we cannot understand may still be somebody's alarm: keep it, then answer.
        try:
            kept = asyncio.wrap_future(self.journal.submit(
                lambda conn: _keep(conn, raw, remote, "unreadable_frame", refusal.reason, now), lane=Lane.LIFE))
        except JournalClosed as exc:  # the node is stopping: nothing kept, nothing said
            self._after(exc, remote, then, then)
            return
        kept.add_done_callback(lambda done: self._after(_outcome(done), remote, then, lambda _id: then(refused)))

    @staticmethod
    def _after(outcome, remote: str | None, then: Callable[[bytes | None], None], go_on: Callable) -> None:
        """``go_on(outcome)``, unless a step failed: then the frame is not answered."""
        if isinstance(outcome, JournalUnavailable):
            # Nothing was stored: say nothing, and the panel sends the frame again.
            log.warning("DC-09 frame from %s not answered: the journal did not commit", remote)
            then(None)
        elif isinstance(outcome, BaseException):
            # The unit was rolled back (a bug, or another node storing the same retransmit at
            # the same instant), or the key could not be read: no ACK, so the panel sends it
            # again; the connection stays.
            log.error("DC-09 frame from %s not answered: %s", remote, outcome, exc_info=outcome)
            then(None)
        else:
            go_on(outcome)

    async def _datagram(self, data: bytes, remote: str, send=None) -> list[bytes]:
        answers = [await self.answer_for(raw, remote) for raw in FrameSplitter().feed(data)]
        return [a for a in answers if a is not None]

    def _tcp_protocol(self) -> asyncio.Protocol:
        return _PanelConnection(self)


def _outcome(done: asyncio.Future):
    """A finished future's result, or the exception it ended with (a cancelled one: CancelledError)."""
    if done.cancelled():
        return asyncio.CancelledError()
    return done.exception() or done.result()


class _PanelConnection(asyncio.Protocol):
    """One panel's TCP connection. Frames are answered in the order they came, each after its
    commit, one at a time: a panel's restore must find its alarm committed, as its next frame
    after a retransmit must find the first. A plain protocol rather than a stream and a task
    per connection (the costs are in ``Receiver.answer``).

    Flow: a panel that sends faster than its frames are committed gets its reading paused
    (``MAX_UNANSWERED`` frames waiting), and one that does not read its answers too (the
    transport's buffer past ``WRITE_BUFFER_LIMIT``), so neither grows memory. A panel that
    closes its sending side still gets the answers to what it sent, then the connection closes."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.splitter = FrameSplitter()
        self.waiting: deque[bytes] = deque()
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.answering = False  # a frame of this connection is between its read and its answer
        self.reading_paused = False
        self.writing_paused = False
        self.ended = False  # the panel sent its last byte
        self.closed = False
        self.starting = False  # _next's loop is running (an answer given at once lets it go on)

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if peer else None
        transport.set_write_buffer_limits(high=WRITE_BUFFER_LIMIT)

    def data_received(self, data: bytes) -> None:
        self.waiting.extend(self.splitter.feed(data))
        if len(self.waiting) >= MAX_UNANSWERED and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self._next()

    def eof_received(self) -> bool:
        self.ended = True
        self._next()
        return True  # keep the sending side open for the answers still to come

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._next()

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.waiting.clear()

    def _next(self) -> None:
        # A loop, not a recursion: an answer can come back within ``answer`` itself (a NAK
        # needs no commit), and thousands of two-byte "frames" in one read would otherwise
        # nest a call chain per frame until Python gives up.
        if self.starting:
            return  # the loop below goes on with the next frame
        self.starting = True
        try:
            while not (self.answering or self.closed or self.writing_paused) and self.waiting:
                self.answering = True
                try:
                    self.receiver.answer(self.waiting.popleft(), self.remote, self._answered)
                except Exception:
                    # A fault of the receiver must not leave the connection waiting for ever.
                    log.exception("DC-09 frame from %s not answered: reading it failed", self.remote)
                    self._answered(None)
            if self.closed:
                return
            if self.ended and not self.answering and not self.waiting:
                self.transport.close()
            elif self.reading_paused and len(self.waiting) < MAX_UNANSWERED // 2:
                self.reading_paused = False
                self.transport.resume_reading()
        finally:
            self.starting = False

    def _answered(self, reply: bytes | None) -> None:
        self.answering = False
        if self.closed:
            return
        if reply is not None and not self.transport.is_closing():
            self.transport.write(reply)
        self._next()
