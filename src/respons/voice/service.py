"""Calls: the operator's browser brings its WebRTC offer, Respons asks the gateway to call the
address it chose for the alarm, and writes what happens on the alarm's timeline
(docs/voice.md, "How a call is set up").

Each call is one task on the node that started it, speaking to the gateway (one session, one
SIP handle). The call's row is its state for every node: the browser waits on it through any
node (``wait``). The row and the timeline event are one unit of work; the gateway is asked
only after it committed, so no call exists that the record does not know of.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy.engine import Connection, Engine

from respons.auth.accounts import logged_in_with_role
from respons.clock import Clock
from respons.domain.access import Role
from respons.domain.lifecycle import Event, EventKind, IllegalTransition
from respons.domain.alarm_types import SYSTEM_SOURCE, alarm_type
from respons.engine import alarms as alarm_work, receiving, routing
from respons.engine.periodic import PeriodicWorker
from respons.engine.routing import RulesCache
from respons.engine.timeline import append_event
from respons.store import queries
from respons.store.alarms import AlarmNotFound
from respons.store.journal import Journal
from respons.voice import calls, store
from respons.voice.calls import Direction, Failure, State, Target, TargetKind
from respons.voice.gateway import Gateway, GatewayError, GatewayEvent, SipHandle
from respons.voice.inbound import InboundSip

log = logging.getLogger(__name__)

UNKNOWN_CALLER = "unknown_caller"  # the alarm type of a call no alarm explains
UNKNOWN = "unknown"  # the target kind of such a call
# How often a call's node looks for what the operator asked through another node.
REQUEST_SECONDS = 0.5
# A unit asked to call a colleague (transfer) that has not called within this long did not follow.
TRANSFER_SECONDS = 20.0
# A node that has written no heartbeat (web/health.py, every 5 s) for this long is gone: its
# calls are ended by the others. Long, because ending a call that still has audio is worse
# than a minute's delay in saying it was lost (at least four probes: ``silent_for``).
NODE_SILENT = timedelta(seconds=60)
SILENT_NODES_POLL_SECONDS = 10.0
# How long a stopping node waits for its calls to hang up before it cuts them short.
STOP_SECONDS = 5.0


class VoiceUnavailable(Exception):
    """No gateway configured, or it does not answer: the operator calls by hand."""


class UnknownTarget(Exception):
    """The browser asked for someone this alarm has no address for."""


@dataclass(frozen=True)
class VoiceSettings:
    gateway_url: str | None
    gateway_secret: str | None
    trunk: str | None
    caller_id: str
    ring_seconds: float
    probe_seconds: float
    # An inbound call is tied to an open alarm its unit raised at most this long before.
    inbound_window_seconds: float = 900.0
    answer_deadline_seconds: float = 60.0  # for the alarm an unknown caller's call becomes
    expected_call_seconds: float = 60.0  # a unit that said it would call and has not: offer a call-back
    # The centre's SIP address as units reach it (host[:port]), for a transfer's REFER; the
    # SIP listener's own address when not set.
    centre_address: str | None = None


def alarm_targets(conn: Connection, alarm_id: str, trunk: str | None, visible_to: frozenset[int] | None = None,
                  responder: int | None = None) -> tuple[dict[str, Any], list[Target]]:
    """The alarm (municipality, recipient) and whom the operator (or the ``responder`` who has
    taken the alarm or its mission, in the app) may call for it."""
    row = store.alarm_to_call(conn, alarm_id)
    if row is None or (visible_to is not None and row["municipality_id"] not in visible_to):
        raise AlarmNotFound(alarm_id)
    if responder is not None and not routing.taken_by(conn, alarm_id, user_id=responder,
                                                      visible_to=visible_to or frozenset()):
        raise AlarmNotFound(alarm_id)
    return dict(row), calls.targets(unit_uri=store.unit_uri(conn, row["device_id"]), person_phone=row["phone"],
                                    contacts=store.contacts_of(conn, row["recipient_id"]), trunk=trunk)


class Voice:
    """This node's voice: its gateway, its calls in progress, and whether the gateway answers."""

    def __init__(self, settings: VoiceSettings, journal: Journal, engine: Engine, clock: Clock, node: str,
                 rules: RulesCache | None = None):
        self.settings = settings
        self.rules = rules
        self.journal = journal
        self.engine = engine
        self.clock = clock
        self.node = node
        self.gateway = (Gateway(settings.gateway_url, settings.gateway_secret or "")
                        if settings.gateway_url else None)
        self.problem: str | None = "not_configured" if self.gateway is None else "starting"
        self._sessions: dict[str, CallSession] = {}
        self._changed = asyncio.Condition()
        self._probe: asyncio.Task | None = None
        # Inbound calls: the SIP listener's side (set when the listener starts) and where the
        # gateway's sessions register (that listener's address).
        self.inbound: InboundSip | None = None
        self.registrar: str | None = None

    def listen(self, host: str, port: int) -> InboundSip | None:
        """The SIP listener on ``host:port`` takes inbound calls (None: no gateway, INVITE stays 405)."""
        if self.gateway is None:
            return None
        self.inbound = InboundSip(self)
        self.registrar = f"sip:{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
        return self.inbound

    @property
    def centre_address(self) -> str | None:
        """Where a unit calls the centre (host[:port]): the address a transfer sends it to."""
        return self.settings.centre_address or (self.registrar[len("sip:"):] if self.registrar else None)

    @property
    def available(self) -> bool:
        return self.problem is None

    async def start(self) -> None:
        # Calls this node was speaking for before it stopped (or was killed) are gone with
        # their gateway session: say so on their timelines rather than leave a silent gap.
        # Read first: a node whose database is down or read-only still starts (and writes
        # nothing it does not need to).
        try:
            if await asyncio.to_thread(self._has_orphans):
                await self.journal.run(self._lose_orphans)
        except Exception as e:  # the database's outage is reported by readiness, not here
            log.warning("voice: calls left from before the restart are not closed yet: %s", e)
        if self.gateway is not None:
            await self.check()
            self._probe = asyncio.create_task(self._probe_loop(), name="voice-probe")

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        # Hang-ups asked all at once, and one deadline for them and for the calls to end: a
        # call that rings untaken waits on its row with no end, and a gateway that does not
        # answer holds each request for its timeout. So the node's stop (the journal, the
        # workers) finishes before the service manager kills it (systemd's TimeoutStopSec=20).
        # A call cut short here is said below.
        sessions = list(self._sessions.values())
        waiting = [asyncio.create_task(s.hang_up(reason="node_stopping")) for s in sessions]
        waiting += [s.task for s in sessions if s.task is not None and not s.task.done()]
        if waiting:
            _, stuck = await asyncio.wait(waiting, timeout=STOP_SECONDS)
            for task in stuck:
                task.cancel()
            if stuck:  # their clean-up (closing a gateway handle) gets a moment, not a timeout
                await asyncio.wait(stuck, timeout=1.0)
        try:
            if await asyncio.to_thread(self._has_orphans):
                await self.journal.run(lambda conn: self._lose_orphans(conn, reason="node_stopping"))
        except Exception as e:  # noqa: BLE001 - the next start, or another node, says it then
            log.warning("voice: calls cut short by the stop are not closed yet: %s", e)
        if self.gateway is not None:
            await self.gateway.close()

    async def check(self) -> None:
        before = self.problem
        try:
            await self.gateway.info()
            self.problem = None
        except GatewayError as e:
            self.problem = "gateway_down"
            if before != self.problem:
                log.warning("voice: %s", e)
        if before != self.problem and self.problem is None:
            log.info("voice: the gateway at %s answers", self.gateway.url)

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.probe_seconds)
            await self.check()

    # --- the operator's side ---------------------------------------------------------

    def targets(self, alarm_id: str, visible_to: frozenset[int] | None, *, responder: int | None = None) -> list[Target]:
        with self.engine.connect() as conn:
            return alarm_targets(conn, alarm_id, self.settings.trunk, visible_to, responder)[1]

    async def call(self, alarm_id: str, target_key: str, offer_sdp: str, *, actor: str,
                   visible_to: frozenset[int] | None, responder: int | None = None) -> str:
        """Start an outbound call; returns its id. Raises ``AlarmNotFound``, ``UnknownTarget``
        or ``VoiceUnavailable``. ``responder``: the user id of a responder calling from the
        app, who may call only for an alarm in hand."""
        # An alarm outside the caller's reach is not found, gateway or not.
        await asyncio.to_thread(lambda: self.targets(alarm_id, visible_to, responder=responder))
        if self.gateway is None or not self.available:
            raise VoiceUnavailable(self.problem)
        call_id = str(uuid.uuid4())

        def record(conn: Connection) -> Target:
            alarm, found = alarm_targets(conn, alarm_id, self.settings.trunk, visible_to, responder)
            target = next((t for t in found if t.key == target_key and t.callable), None)
            if target is None:
                raise UnknownTarget(target_key)
            now = self.clock()
            store.add(conn, call_id=call_id, alarm_id=alarm_id, municipality_id=alarm["municipality_id"],
                      direction=Direction.OUTBOUND.value, target_kind=target.kind.value, target_label=target.label,
                      address=target.address, operator=actor, node=self.node, now=now)
            _timeline(conn, alarm_id, now, actor, call_id, "ringing", direction=Direction.OUTBOUND.value,
                      target=target.kind.value, label=target.label, address=target.address)
            return target

        target = await self.journal.run(record)
        session = CallSession(self, call_id, alarm_id, actor)
        self._sessions[call_id] = session
        session.task = asyncio.create_task(session.dial(calls.sip_uri(target, self.settings.trunk), offer_sdp),
                                           name=f"call-{call_id}")
        return call_id

    # --- inbound ------------------------------------------------------------------------

    async def incoming(self, *, caller: str, caller_user: str | None, sip_call_id: str,
                       request_user: str | None = None) -> str:
        """A unit (or anyone) calls the centre: the call is stored, tied to its alarm when one
        is found, and rings; returns its id. The session waits for an operator to take it.
        A unit calling because an operator handed its call to a colleague (``request_user``
        names that call) rings at the colleague alone."""
        call_id = str(uuid.uuid4())
        now = self.clock()
        window = timedelta(seconds=self.settings.inbound_window_seconds)

        def record(conn: Connection) -> tuple[str | None, bool]:
            handed = store.get(conn, calls.transferred_call(request_user) or "")
            if handed is not None and handed["transfer_to"] and handed["state"] == State.ANSWERED.value:
                return self._transferred(conn, call_id, handed, caller, now), True
            found = store.alarm_for_caller(conn, caller_user, since=now - window)
            alarm = found or self._unknown_caller(conn, caller, sip_call_id, now)
            unit = store.device_identity(conn, alarm["device_id"]) if alarm else None
            kind = TargetKind.UNIT.value if found else UNKNOWN
            label = (caller_user or caller)[:200]
            store.add(conn, call_id=call_id, alarm_id=alarm["id"] if alarm else None,
                      municipality_id=alarm["municipality_id"] if alarm else None, direction=Direction.INBOUND.value,
                      target_kind=kind, target_label=label, address=caller[:200], operator=None, node=self.node,
                      now=now)
            _timeline(conn, alarm["id"] if alarm else None, now, f"device:{unit}" if unit else "system", call_id,
                      "ringing", direction=Direction.INBOUND.value, target=kind, label=label)
            return (alarm["id"] if alarm else None), False

        alarm_id, handed_over = await self.journal.run(record)
        session = CallSession(self, call_id, alarm_id, None)
        self._sessions[call_id] = session
        # A unit's own call rings until someone takes it (a person may be waiting); a call
        # handed to a colleague rings for the ring time, then goes back to who handed it over.
        ring_seconds = self.settings.ring_seconds if handed_over else None
        session.task = asyncio.create_task(session.receive(sip_call_id, ring_seconds), name=f"call-{call_id}")
        await self._notify()
        return call_id

    def _transferred(self, conn: Connection, call_id: str, handed: dict[str, Any], caller: str, now: datetime) -> str | None:
        """The unit's call after a transfer: the same alarm and party, for the colleague."""
        store.add(conn, call_id=call_id, alarm_id=handed["alarm_id"], municipality_id=handed["municipality_id"],
                  direction=Direction.INBOUND.value, target_kind=handed["target_kind"],
                  target_label=handed["target_label"], address=caller[:200], operator=None, node=self.node, now=now,
                  transfer_to=handed["transfer_to"], transferred_from=handed["id"])
        _timeline(conn, handed["alarm_id"], now, "system", call_id, "ringing", direction=Direction.INBOUND.value,
                  target=handed["target_kind"], label=handed["target_label"], **{"for": handed["transfer_to"]})
        return handed["alarm_id"]

    def _unknown_caller(self, conn: Connection, caller: str, sip_call_id: str, now: datetime) -> dict | None:
        """A call no alarm explains rings at the centre as an alarm of its own ("Ukjent
        innringer"): it could be a person in need, and the queue is where the centre looks."""
        host = store.host_municipality(conn)
        if host is None:
            return None
        received = receiving.receive(conn, receiving.NewAlarm(
            municipality_id=host, recipient_id=None, device_id=None, alarm_type=alarm_type(UNKNOWN_CALLER),
            source=SYSTEM_SOURCE, actor="voice", occurred_at=now, payload={"unknown_caller": {"caller": caller[:200]}},
            idempotency_scope="voice", idempotency_key=sip_call_id[:200],
        ), now=now, answer_deadline=timedelta(seconds=self.settings.answer_deadline_seconds), rules_cache=self.rules)
        return {"id": received.alarm_id, "municipality_id": host, "device_id": None}

    async def caller_gave_up(self, call_id: str) -> None:
        session = self._sessions.get(call_id)
        if session is not None:
            session.caller_gone = True
            await session._finish(State.FAILED, failure=Failure.CANCELLED.value, reason="caller_hung_up")
            if session.task is not None:
                session.task.cancel()

    async def take(self, call_id: str, *, actor: str, visible_to: frozenset[int] | None) -> bool | None:
        """The operator takes a ringing inbound call (A, or its button); False when it no
        longer rings or a colleague was first, None when there is no such call within reach."""
        def unit(conn: Connection) -> bool | None:
            call = store.get(conn, call_id)
            if call is None or (visible_to is not None and call["municipality_id"] not in visible_to):
                return None
            return store.take(conn, call_id, actor)

        taken = await self.journal.run(unit)
        await self._notify()
        return taken

    async def answer_offer(self, call_id: str, sdp: str, *, actor: str) -> bool:
        """The operator's browser answers the gateway's offer for a call it took."""
        def unit(conn: Connection) -> bool:
            call = store.get(conn, call_id)
            if call is None or call["accepted_by"] != actor or call["browser_sdp"] is not None:
                return False
            store.change(conn, call_id, browser_sdp=sdp)
            return True

        done = await self.journal.run(unit)
        await self._notify()
        return done

    def call_overdue_at(self, alarm_id: str) -> datetime | None:
        """When the card should offer to call the unit back because the call it announced has
        not come (None: no call announced, or it came)."""
        with self.engine.connect() as conn:
            expected = store.expected_call(conn, alarm_id)
        if expected is None or expected["came"]:
            return None
        return expected["received_at"] + timedelta(seconds=self.settings.expected_call_seconds)

    def callback_wanted(self, alarm_id: str) -> bool:
        """The unit asked to be called back (SCAIP ``cha`` 1) and nobody has reached it yet."""
        with self.engine.connect() as conn:
            return store.callback_wanted(conn, alarm_id)

    def ringing_for(self, alarm_id: str, actor: str) -> dict[str, Any] | None:
        """The inbound call ringing for this alarm that ``actor`` may take (a call handed to a
        colleague rings for that colleague alone)."""
        with self.engine.connect() as conn:
            ringing = store.ringing_inbound(conn, alarm_id)
        return ringing if ringing is None or ringing["transfer_to"] in (None, actor) else None

    async def _row_when(self, call_id: str, ready: Callable[[dict[str, Any]], bool], timeout: float | None) -> dict | None:
        """The call's row once ``ready`` says so (None after ``timeout`` or if it is gone)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            row = await asyncio.to_thread(self._row, call_id)
            if row is None or ready(row):
                return row
            if deadline is not None and loop.time() >= deadline:
                return None
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=0.5)
                except asyncio.TimeoutError:
                    pass

    async def hold(self, call_id: str, *, actor: str, on: bool) -> bool | None:
        """Put the operator's answered call on hold (the unit hears nothing, the operator takes
        another call) or take it back (docs/voice.md, "Several calls"). None: no call of this
        operator's; False: not an answered call. Another node's call: asked through its row."""
        session = self._sessions.get(call_id)
        if session is None:
            return await self._ask(call_id, actor, "hold" if on else "resume", answered=True)
        if session.operator != actor:
            return None
        return session.answered and await session.hold(on)

    async def hang_up(self, call_id: str, *, actor: str) -> bool | None:
        """The operator hangs up (None: no call of this operator's; False: it is over); a call
        another node speaks for is asked through its row."""
        session = self._sessions.get(call_id)
        if session is None:
            return await self._ask(call_id, actor, "hangup")
        if session.operator != actor:
            return None
        await session.hang_up(reason="operator", actor=actor)
        return True

    def colleagues(self, actor: str) -> list[tuple[str, str]]:
        """(actor, name) of the operators logged in now, but ``actor``: whom a call can go to."""
        with self.engine.connect() as conn:
            return [c for c in logged_in_with_role(conn, Role.OPERATOR, now=self.clock()) if c[0] != actor]

    async def transfer(self, call_id: str, *, to: str, actor: str) -> int | bool | None:
        """Hand the operator's answered call with a unit to a colleague (docs/voice.md,
        "Transfer"); the call's version once marked. None: no call of this operator's; False:
        not a call that can be handed over now (not answered, not with a unit, one already
        under way, or ``to`` is not a colleague logged in). The unit is asked to call again;
        the call ends when the colleague answers."""
        row = await asyncio.to_thread(self._row, call_id)
        if row is None or row["operator"] != actor:
            return None
        names = dict(await asyncio.to_thread(self.colleagues, actor))
        if row["target_kind"] not in calls.TRANSFERABLE or to not in names or self.centre_address is None:
            return False
        version = await self.journal.run(lambda conn: store.begin_transfer(conn, call_id, to=to, operator=actor))
        if version is None:
            return False
        await self._notify()
        session = self._sessions.get(call_id)
        if session is not None:
            await session.start_transfer()  # on another node, the call's node sees the row and does it
        return version

    async def transfer_answered(self, handed_id: str, to: str) -> None:
        """The colleague answered the unit's new call: the handed call is transferred (once,
        whichever node sees it first), the colleague takes the alarm over, and the handed call
        ends (here, or on its own node when it next looks: CallSession._watch_transfer)."""
        def unit(conn: Connection) -> bool:
            handed = store.get(conn, handed_id)
            if handed is None or not store.end_transfer(conn, handed_id, to=to):
                return False
            now = self.clock()
            _timeline(conn, handed["alarm_id"], now, "system", handed_id, "transferred", to=to,
                      to_name=self._name_of(conn, to))
            if handed["alarm_id"]:
                # Whoever talks to the person holds the alarm; only now that the call is theirs.
                try:
                    alarm_work.take_over(conn, handed["alarm_id"], actor=to, visible_to=None, now=now)
                except IllegalTransition:
                    pass  # they hold it already, or it is closed: the call is theirs all the same
            return True

        if await self.journal.run(unit):
            await self._notify()
        session = self._sessions.get(handed_id)
        if session is not None and session.transfer_since is not None:
            session.transfer_since = None
            await session.hang_up(reason="transferred")

    def _give_up(self, conn: Connection, call: dict[str, Any], *, reason: str) -> bool:
        """End a ringing inbound call nobody has taken, on its timeline; False if taken first."""
        now = self.clock()
        if not store.end_if_untaken(conn, call["id"], now=now, failure=Failure.NO_ANSWER.value):
            return False
        _end_event(conn, call, now, State.FAILED, failure=Failure.NO_ANSWER.value, reason=reason)
        return True

    @staticmethod
    def _name_of(conn: Connection, actor: str) -> str:
        return queries.actor_names(conn, {actor}).get(actor, actor)

    async def _ask(self, call_id: str, actor: str, what: str, *, answered: bool = False) -> bool | None:
        def unit(conn: Connection) -> bool | None:
            call = store.get(conn, call_id)
            if call is None or call["operator"] != actor:
                return None
            if answered and call["state"] != State.ANSWERED.value:
                return False
            return store.ask(conn, call_id, what)
        return await self.journal.run(unit)

    def _row(self, call_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return store.get(conn, call_id)

    def read(self, call_id: str, *, actor: str) -> dict[str, Any] | None:
        row = self._row(call_id)
        if row is None or row["operator"] != actor:
            return None  # another operator's call, or none: the same answer
        return row

    async def wait(self, call_id: str, after_version: int, *, actor: str, timeout: float = 20.0) -> dict[str, Any] | None:
        """The call once its version is past ``after_version`` (or as it is after ``timeout``).

        Woken at once by this node's own call tasks; a call spoken for by another node is
        read again every half second."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await asyncio.to_thread(self.read, call_id, actor=actor)
            if row is None or row["version"] > after_version or loop.time() >= deadline:
                return row
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=min(0.5, deadline - loop.time()))
                except asyncio.TimeoutError:
                    pass

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _has_orphans(self) -> bool:
        with self.engine.connect() as conn:
            return bool(store.unfinished_of_node(conn, self.node))

    def _lose_orphans(self, conn: Connection, *, reason: str = "node_restarted") -> int:
        return _lose(conn, store.unfinished_of_node(conn, self.node), self.clock(), reason=reason)


def lose_calls_of_silent_nodes(conn: Connection, *, now: datetime, node: str,
                               silent_for: timedelta = NODE_SILENT) -> int:
    """Calls whose node has stopped beating: said on their timelines as lost (talking) or failed
    (ringing), as their own node does at its restart — which, under a name with its pid in it,
    it never does. A unit of work; two nodes sweeping together end each call once."""
    return _lose(conn, store.unfinished_of_silent_nodes(conn, node=node, heard_since=now - silent_for), now,
                 reason="node_gone")


def _lose(conn: Connection, unfinished: list[dict[str, Any]], now: datetime, *, reason: str) -> int:
    """Calls nobody speaks to the gateway for any more: lost (talking) or failed (ringing), on
    their timelines; each once, whoever else ends it at the same moment (the one UPDATE)."""
    ended = 0
    for call in unfinished:
        answered = call["state"] == State.ANSWERED.value
        state, failure = (State.LOST, None) if answered else (State.FAILED, Failure.GATEWAY.value)
        if store.finish_if_unfinished(conn, call["id"], state=state.value, failure=failure, ended_at=now):
            _end_event(conn, call, now, state, failure=failure, reason=reason)
            ended += 1
    return ended


class SilentNodeCalls(PeriodicWorker):
    """Every node looks, now and then, for calls whose node is gone (``lose_calls_of_silent_nodes``).
    A read first: nothing found writes nothing.

    Silence counts only while the database could be reached: after an outage every node's
    heartbeat is old, and the nodes that are alive beat again within seconds. So a node
    sweeps only once its own reads have gone through for ``silent_for`` without a break."""

    name = "respons-calls"

    def __init__(self, journal: Journal, engine: Engine, clock: Clock, *, node: str,
                 silent_for: timedelta = NODE_SILENT, poll_seconds: float = SILENT_NODES_POLL_SECONDS):
        super().__init__(poll_seconds=poll_seconds)
        self._journal, self._engine, self._clock, self._node = journal, engine, clock, node
        self._silent_for = silent_for
        self._reading_since: float | None = None  # monotonic: reads unbroken since then

    def _found(self) -> bool:
        with self._engine.connect() as conn:
            return bool(store.unfinished_of_silent_nodes(conn, node=self._node,
                                                         heard_since=self._clock() - self._silent_for))

    async def run_once(self) -> int:
        try:
            found = await asyncio.to_thread(self._found)
        except Exception:
            self._reading_since = None
            raise
        if self._reading_since is None:
            self._reading_since = time.monotonic()
        if not found or time.monotonic() - self._reading_since < self._silent_for.total_seconds():
            return 0
        return await self._journal.run(lambda conn: lose_calls_of_silent_nodes(
            conn, now=self._clock(), node=self._node, silent_for=self._silent_for))


def _timeline(conn: Connection, alarm_id: str | None, now: datetime, actor: str, call_id: str, phase: str,
              **data: Any) -> None:
    if alarm_id is None:
        return
    append_event(conn, alarm_id, Event(EventKind.CALL, now, actor, {"call_id": call_id, "phase": phase,
                                                                    **{k: v for k, v in data.items() if v is not None}}))


def _end(conn: Connection, call: dict[str, Any], now: datetime, state: State, *, failure: str | None = None,
         sip_code: int | None = None, reason: str | None = None) -> None:
    """A call's last change: its row and its timeline event, in one unit."""
    store.change(conn, call["id"], state=state.value, failure=failure, sip_code=sip_code, ended_at=now)
    _end_event(conn, call, now, state, failure=failure, sip_code=sip_code, reason=reason)


def _end_event(conn: Connection, call: dict[str, Any], now: datetime, state: State, *, failure: str | None = None,
               sip_code: int | None = None, reason: str | None = None) -> None:
    seconds = calls.talk_seconds(call["answered_at"], now)
    phase = {State.ENDED: "ended", State.FAILED: "failed", State.LOST: "lost"}[state]
    _timeline(conn, call["alarm_id"], now, "system", call["id"], phase, direction=call["direction"],
              target=call["target_kind"], label=call["target_label"], operator=call["operator"], seconds=seconds,
              failure=failure, sip_code=sip_code, reason=reason)


class CallSession:
    """One call's conversation with the gateway, on the node that started it."""

    def __init__(self, voice: Voice, call_id: str, alarm_id: str | None, operator: str):
        self.voice = voice
        self.call_id = call_id
        self.alarm_id = alarm_id
        self.operator = operator
        self.task: asyncio.Task | None = None
        self.handle: SipHandle | None = None
        self.answered = False
        self.hangup_reason: str | None = None  # set when we end it: operator, ring timeout, stopping
        self.caller_gone = False  # an inbound caller cancelled before anyone took the call
        self.transfer_since: float | None = None  # loop time the unit was asked to call a colleague
        self.transfer_started_at: datetime | None = None  # the same, by the clock (its new call is newer)
        self.transferred_from: str | None = None  # the call a colleague handed over (an inbound one)
        self._done = asyncio.Event()

    async def finished(self) -> None:
        await self._done.wait()

    async def hold(self, on: bool) -> bool:
        try:
            # sendonly: the gateway keeps sending (nothing, the browser's track is muted) and
            # the unit knows it is held (RFC 3264 §8.4); unhold renegotiates sendrecv.
            await self.handle.send({"request": "hold", "direction": "sendonly"} if on else {"request": "unhold"})
        except GatewayError as e:
            log.warning("voice: call %s could not be %s: %s", self.call_id, "held" if on else "resumed", e)
            return False
        await self._change(lambda conn, now: (
            store.change(conn, self.call_id, on_hold=on),
            _timeline(conn, self.alarm_id, now, self.operator, self.call_id, "held" if on else "resumed")))
        return True

    async def start_transfer(self) -> None:
        """Ask the unit (SIP REFER through the gateway) to call the centre again at the address
        that names this call; that call rings at the colleague the row names (Voice.incoming).
        Once per transfer, whichever of the operator's request or this node's look at the row
        comes first."""
        if self.transfer_since is not None or not self.answered:
            return
        self.transfer_since = asyncio.get_running_loop().time()
        self.transfer_started_at = self.voice.clock()
        uri = f"sip:{calls.transfer_user(self.call_id)}@{self.voice.centre_address}"
        try:
            await self.handle.send({"request": "transfer", "uri": uri})
        except GatewayError as e:
            log.warning("voice: call %s could not be handed over: %s", self.call_id, e)
            await self._transfer_failed(reason="gateway")

    async def _transfer_failed(self, *, reason: str, sip_code: int | None = None) -> None:
        """The unit did not get to the colleague: the call stays with this operator, and the
        unit's new call, if it still rings at the colleague, goes away with the transfer."""
        since, self.transfer_since = self.transfer_started_at, None

        def unit(conn: Connection) -> None:
            row = store.get(conn, self.call_id)
            if row is None or row["transfer_to"] is None or not store.end_transfer(conn, self.call_id):
                return
            _timeline(conn, self.alarm_id, self.voice.clock(), "system", self.call_id, "transfer_failed",
                      to=row["transfer_to"], to_name=Voice._name_of(conn, row["transfer_to"]), reason=reason,
                      sip_code=sip_code)
            arrived = store.transfer_of(conn, self.call_id, since=since) if since else None
            if arrived is not None:
                self.voice._give_up(conn, arrived, reason="transfer_failed")
        await self.voice.journal.run(unit)
        await self.voice._notify()

    async def hang_up(self, *, reason: str, actor: str | None = None) -> None:
        if self.hangup_reason is None:
            self.hangup_reason = reason
        if self.handle is not None:
            try:
                await self.handle.send({"request": "hangup"})
            except GatewayError:
                pass  # the loop below sees the gateway gone and records it

    async def dial(self, uri: str, offer_sdp: str) -> None:
        """An outbound call: the gateway calls ``uri`` with the operator's browser's offer."""
        await self._lifetime(self._dial(uri, offer_sdp))

    async def receive(self, sip_call_id: str, ring_seconds: float | None = None) -> None:
        """An inbound call: wait for an operator to take it (at most ``ring_seconds``), then
        send the device to a gateway session of its own and let the operator's browser answer
        the gateway's offer."""
        await self._lifetime(self._receive(sip_call_id, ring_seconds),
                             on_crash=lambda: self.voice.inbound.refuse(sip_call_id, 500, "Server Internal Error"))

    async def _lifetime(self, work, *, on_crash=None) -> None:
        """Run a call to its end; whatever happens, the record says how it ended and the
        gateway's session is closed."""
        try:
            await work
        except asyncio.CancelledError:
            if not self.caller_gone:  # the caller's CANCEL stops a call that was never taken
                raise
        except Exception:
            log.exception("voice: call %s", self.call_id)
            if on_crash is not None:
                on_crash()
            await self._finish(State.LOST if self.answered else State.FAILED,
                               failure=None if self.answered else Failure.GATEWAY.value, reason="internal_error")
        finally:
            if self.handle is not None:
                await self.handle.close()
            self.voice._sessions.pop(self.call_id, None)
            self._done.set()

    async def _dial(self, uri: str, offer_sdp: str) -> None:
        voice = self.voice
        try:
            self.handle = await voice.gateway.open_sip()
            await self.handle.send({"request": "register", "type": "guest",
                                    "username": f"sip:{voice.settings.caller_id}@respons.invalid",
                                    "display_name": voice.settings.caller_id})
            await self.handle.send({"request": "call", "uri": uri},
                                   {"type": "offer", "sdp": offer_sdp, "trickle": False})
        except GatewayError as e:
            log.warning("voice: call %s could not be placed: %s", self.call_id, e)
            await self._finish(State.FAILED, failure=Failure.GATEWAY.value, reason="gateway_refused")
            return
        await self._follow()

    async def _receive(self, sip_call_id: str, ring_seconds: float | None) -> None:
        voice = self.voice
        def decided(row: dict[str, Any]) -> bool:
            return row["accepted_by"] is not None or row["state"] != State.RINGING.value

        taken = await voice._row_when(self.call_id, decided, timeout=ring_seconds)
        if taken is None and ring_seconds is not None:
            # Nobody took it in time: the unit hears 480 and tells the gateway (NOTIFY), and the
            # operator who handed it over still has the first call. A take at the same moment
            # wins: then it goes on as taken.
            row = await asyncio.to_thread(voice._row, self.call_id)
            if row is not None and not await voice.journal.run(lambda conn: voice._give_up(conn, row,
                                                                                             reason="ring_timeout")):
                taken = await voice._row_when(self.call_id, decided, timeout=None)
        if taken is None or taken["state"] != State.RINGING.value:
            # Over before anyone took it (given up, or the transfer it belonged to failed).
            voice.inbound.refuse(sip_call_id, 480, "Temporarily Unavailable")
            await voice._notify()
            return
        self.operator = taken["accepted_by"]
        self.transferred_from = taken["transferred_from"]
        user = f"in-{self.call_id[:8]}"
        try:
            self.handle = await voice.gateway.open_sip()
            # The gateway's session registers with Respons's listener (any secret: it is not
            # checked; the listener only takes REGISTER from the gateway's address).
            await self.handle.send({"request": "register", "username": f"sip:{user}@respons.invalid",
                                    "secret": "unused", "proxy": voice.registrar,
                                    "display_name": voice.settings.caller_id})
            contact = await self._registered(user)
        except GatewayError as e:
            log.warning("voice: inbound call %s cannot reach the gateway: %s", self.call_id, e)
            contact = None
        if contact is None or not voice.inbound.redirect(sip_call_id, contact):
            voice.inbound.refuse(sip_call_id, 480, "Temporarily Unavailable")
            await self._finish(State.FAILED, failure=Failure.GATEWAY.value, reason="gateway_unreachable")
            return
        await self._follow(ring_seconds=None)  # taken already: the operator's browser answers

    async def _registered(self, user: str, timeout: float = 10.0) -> str | None:
        """The Contact the gateway's session registered with, once it has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            poll = asyncio.create_task(self.handle.events())
            done, _ = await asyncio.wait({poll}, timeout=max(0.0, deadline - loop.time()))
            if not done:
                poll.cancel()
                break
            for event in poll.result():
                if event.kind == "registered":
                    return self.voice.inbound.contacts.get(user)
                if event.kind in ("registration_failed", "error"):
                    log.warning("voice: the gateway did not register for call %s: %s", self.call_id, event.data)
                    return None
        return None

    async def _offer_to_browser(self, jsep: dict[str, Any]) -> None:
        """The gateway offers the device's call: the operator's browser answers it."""
        await self._change(lambda conn, now: store.change(conn, self.call_id, remote_sdp=jsep.get("sdp")))
        row = await self.voice._row_when(self.call_id, lambda r: r["browser_sdp"] is not None
                                         or r["state"] != State.RINGING.value, timeout=30)
        if row is None or row["browser_sdp"] is None:
            await self.hang_up(reason="browser_silent")
            return
        await self.handle.send({"request": "accept"}, {"type": "answer", "sdp": row["browser_sdp"], "trickle": False})

    async def _follow(self, ring_seconds: float | None = -1) -> None:
        """Read the gateway's events until the call is over; give up ringing after the ring
        time (the settings' unless given; None: never)."""
        loop = asyncio.get_running_loop()
        if ring_seconds == -1:
            ring_seconds = self.voice.settings.ring_seconds
        ring_deadline = loop.time() + (ring_seconds if ring_seconds is not None else 10 ** 9)
        poll: asyncio.Task | None = None
        try:
            while True:
                if poll is None:
                    poll = asyncio.create_task(self.handle.events())
                # Wake at least every REQUEST_SECONDS: the operator may have asked another
                # node to hang up or hold (the call's row carries it).
                timeout = REQUEST_SECONDS if self.answered else min(REQUEST_SECONDS,
                                                                    max(0.0, ring_deadline - loop.time()))
                done, _ = await asyncio.wait({poll}, timeout=timeout)
                if not done:
                    await self._requests()
                    if not self.answered and loop.time() >= ring_deadline:
                        await self.hang_up(reason="ring_timeout")
                        ring_deadline = loop.time() + 3600  # asked once; the gateway's hangup ends it
                    continue
                try:
                    events = poll.result()
                except GatewayError as e:
                    log.warning("voice: call %s: %s", self.call_id, e)
                    await self._finish(State.LOST if self.answered else State.FAILED,
                                       failure=None if self.answered else Failure.GATEWAY.value, reason="gateway_lost")
                    return
                finally:
                    poll = None
                for event in events:
                    if await self._on(event):
                        return
        finally:
            if poll is not None:
                poll.cancel()

    async def _requests(self) -> None:
        """Do what the operator asked, through another node or in the row: hang up, hold, take
        back, hand over; and follow a transfer under way."""
        row = await asyncio.to_thread(self.voice._row, self.call_id)  # a read: no unit of work if nothing was asked
        if row is None:
            return
        if self.transfer_since is not None:
            await self._watch_transfer()
        elif row["transfer_to"] and self.answered:
            await self.start_transfer()
        if row["request"] is None:
            return
        what = await self.voice.journal.run(lambda conn: store.take_request(conn, self.call_id))
        if what == "hangup":
            await self.hang_up(reason="operator")
        elif what in ("hold", "resume") and self.answered:
            await self.hold(what == "hold")

    async def _watch_transfer(self) -> None:
        """The unit's new call decides: answered by the colleague, this call is transferred and
        ends; failed or never come within TRANSFER_SECONDS, the transfer failed."""
        arrived = await asyncio.to_thread(self._transfer_arrived)
        if arrived is None:
            if asyncio.get_running_loop().time() - self.transfer_since >= TRANSFER_SECONDS:
                await self._transfer_failed(reason="unit_did_not_call")
        elif arrived["answered_at"] is not None:
            await self.voice.transfer_answered(self.call_id, arrived["accepted_by"])
        elif arrived["state"] in (State.FAILED.value, State.ENDED.value, State.LOST.value):
            await self._transfer_failed(reason="colleague_did_not_answer")

    def _transfer_arrived(self) -> dict[str, Any] | None:
        with self.voice.engine.connect() as conn:
            return store.transfer_of(conn, self.call_id, since=self.transfer_started_at)

    async def _on(self, event: GatewayEvent) -> bool:
        """Apply one gateway event; True when the call is over."""
        if event.kind == "incomingcall" and event.jsep:
            await self._offer_to_browser(event.jsep)
            return False
        if event.kind == "accepted" and not self.answered:
            self.answered = True
            sdp = (event.jsep or {}).get("sdp")
            found = {"remote_sdp": sdp} if sdp else {}  # an inbound call's SDP came with the offer
            await self._change(lambda conn, now: (
                store.change(conn, self.call_id, state=State.ANSWERED.value, answered_at=now, **found),
                _timeline(conn, self.alarm_id, now, self.operator, self.call_id, "answered")))
            if self.transferred_from is not None:
                await self.voice.transfer_answered(self.transferred_from, self.operator)
            return False
        if event.kind == "error" and self.transfer_since is not None and self.answered:
            # The gateway refused the transfer request (its answers come as events): the
            # call itself goes on.
            await self._transfer_failed(reason="gateway")
            return False
        if event.kind == "notify" and self.transfer_since is not None:
            # The unit reports its new call (RFC 3515 NOTIFY): a failure ends the transfer.
            code = calls.transfer_refused(event.data.get("content"))
            if code is not None:
                await self._transfer_failed(reason="unit_call_failed", sip_code=code)
            return False
        if event.kind == "progress" and event.jsep and not self.answered:
            # Early media (ring-back from a trunk): the browser can hear it before the answer.
            await self._change(lambda conn, now: store.change(conn, self.call_id, remote_sdp=event.jsep.get("sdp")))
            return False
        if event.kind in ("hangup", "webrtc_hangup", "error"):
            code = event.data.get("code") if event.kind == "hangup" else None
            if self.answered:
                await self._finish(State.ENDED if event.kind == "hangup" else State.LOST,
                                   reason=self.hangup_reason or ("remote" if event.kind == "hangup" else "media_lost"))
            else:
                failure = calls.failure_for(code, timed_out=self.hangup_reason == "ring_timeout",
                                            cancelled=self.hangup_reason in ("operator", "node_stopping",
                                                                             "browser_silent"))
                await self._finish(State.FAILED, failure=failure.value, sip_code=code,
                                   reason=event.data.get("reason") if event.kind == "error" else None)
            return True
        return False

    async def _change(self, work) -> None:
        def unit(conn: Connection) -> None:
            work(conn, self.voice.clock())
        await self.voice.journal.run(unit)
        await self.voice._notify()

    async def _finish(self, state: State, *, failure: str | None = None, sip_code: int | None = None,
                      reason: str | None = None) -> None:
        if self.transfer_since is not None:
            await self._transfer_failed(reason="call_ended")

        def unit(conn: Connection) -> None:
            call = store.get(conn, self.call_id)
            if call is not None and call["state"] in (State.RINGING.value, State.ANSWERED.value):
                _end(conn, call, self.voice.clock(), state, failure=failure, sip_code=sip_code, reason=reason)
        await self.voice.journal.run(unit)
        await self.voice._notify()

