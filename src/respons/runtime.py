"""The composition root: one place that builds a running node and names its parts.

``Node.start`` opens the database, starts the journal (with the reactions below), the live
bus and, on PostgreSQL, the relay to the other nodes; the timer worker with the handlers
below; the supervision sweep; and the device listeners the settings ask for (DC-09, SCAIP,
MQTT). ``Node.stop`` stops them in the order that keeps every acknowledgement true. The web
app (web/app.py) is one adapter of a node: it starts one in its lifespan and serves it.

Nothing registers itself on import: every timer kind and every reaction is listed here,
so "what runs when a timer fires" and "what follows an alarm change" are answered by
reading this file.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from types import MappingProxyType

from sqlalchemy import Engine

from respons.auth.token_cache import TokenCache
from respons.clock import Clock
from respons.engine import missions, routing, timeline
from respons.deviations import service as deviations
from respons.digital_supervision.camera import Cameras
from respons.digital_supervision.lookins import RoundWorker, Rules as RoundRules, camera_closed
from respons.digital_supervision.rounds import Window
from respons.engine.live import LiveBus
from respons.engine.routing import RulesCache
from respons.intake.http import HttpAlarms
from respons.engine.supervision import SupervisionWorker
from respons.engine.timers import Handlers, TimerWorker
from respons.epj import outbox as epj_outbox
from respons.epj.care import CareReader
from respons.epj.worker import DeliveryWorker
from respons.messages import providers as message_providers
from respons.messages.worker import MessageWorker
from respons.voice.service import NODE_SILENT, SilentNodeCalls, Voice, VoiceSettings
from respons.intake.dc09.receiver import Receiver as Dc09Receiver
from respons.intake.mqtt.receiver import Broker as MqttBroker, Receiver as MqttReceiver
from respons.intake.scaip.messages import VoiceMode
from respons.intake.scaip.receiver import Receiver as ScaipReceiver, VoicePolicy
from respons.observability import metrics
from respons.settings import Settings
from respons.store import live_relay
from respons.store.db import is_postgres, make_engine
from respons.store.journal import Journal, Reaction

log = logging.getLogger(__name__)

# Every timer kind and what runs when one fires (engine/timers.py).
TIMER_HANDLERS: Handlers = MappingProxyType({
    timeline.ANSWER_DEADLINE: timeline.on_answer_deadline,
    routing.RESEND: routing.on_resend,
    routing.ESCALATE: routing.on_escalate,
    missions.ACCEPT_DEADLINE: missions.on_accept_deadline,
    missions.COMPLETE_DEADLINE: missions.on_complete_deadline,
})

# Follow-on work that commits with the change it follows (store/journal.py, "Reactions").
REACTIONS: tuple[Reaction, ...] = (
    deviations.react,  # a late answer, a missing response: proposed as deviations
    epj_outbox.react,  # a closed alarm or an addendum: its VKP document to the EPJ's outbox
)


def node_name(settings: Settings) -> str:
    return settings.node_name or f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """What a running node holds, for the adapters (web routes, the CLI's serve)."""

    settings: Settings
    engine: Engine
    journal: Journal
    clock: Clock
    timers: TimerWorker
    live: LiveBus
    rules: RulesCache = field(default_factory=RulesCache)
    care: CareReader = field(default_factory=CareReader)  # care plans read back from the EPJ, kept briefly
    voice: Voice | None = None  # calls through the gateway (docs/voice.md)
    rounds: RoundRules = field(default_factory=RoundRules)  # digital supervision (docs/supervision.md)
    cameras: Cameras = field(default_factory=lambda: Cameras(None))  # camera look-ins open on this node
    push_key: str | None = None  # the VAPID public key phones subscribe with; None: Web Push off
    http_alarms: HttpAlarms | None = None  # POST /api/v1/alarms in batches (intake/http.py)
    tokens: TokenCache = field(default_factory=TokenCache)  # valid API tokens, briefly (auth/token_cache.py)

    @property
    def answer_deadline(self) -> timedelta:
        return timedelta(seconds=self.settings.answer_deadline_seconds)


def round_rules(settings: Settings, rules: RulesCache | None) -> RoundRules:
    return RoundRules(window=Window(window=timedelta(minutes=settings.supervision_window_minutes),
                                    late_after=timedelta(minutes=settings.supervision_late_minutes)),
                      recheck=timedelta(minutes=settings.supervision_recheck_minutes),
                      answer_deadline=timedelta(seconds=settings.answer_deadline_seconds), rules_cache=rules)


# Allocations (of objects the cycle collector tracks) between two of its young collections:
# Python's default is 700.
YOUNG_COLLECTION_EVERY = 50_000


def settle_heap() -> None:
    """Once a serving process has built its node: what exists now lives as long as the
    process, so the cycle collector stops looking at it (``gc.freeze``), and looks at the
    young objects less often. A full collection walked every one of the ~130,000 objects
    the modules, the engine and the app hold, and young collections ran every 700
    allocations: together about a tenth of the DC-09 receiver's CPU per alarm, for nothing,
    as the alarm path makes no garbage cycles (docs/benchmarks.md, "Issue 21"). Objects still
    die when their last reference goes; a cycle is still collected, later.

    The serving process only (web/server.py): a test process builds many nodes, and freezing
    each would keep whatever cycles the tests before it left."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, older, oldest)


@dataclass
class Node:
    runtime: Runtime
    relay: live_relay.Relay | None
    supervisor: SupervisionWorker
    epj: DeliveryWorker
    round_worker: RoundWorker
    messages: MessageWorker
    silent_node_calls: SilentNodeCalls
    listeners: list = field(default_factory=list)  # started device listeners, stopped in reverse

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> "Node":
        """Database, live bus, relay and journal: enough to serve and write; nothing polls yet."""
        engine = make_engine(settings.database_url)
        live = LiveBus()
        rules = RulesCache()
        live.observe(rules)  # an agreement changed on any node: its rules are read again
        name = node_name(settings)
        # Several nodes share one PostgreSQL: changes travel between them by LISTEN/NOTIFY.
        relay = live_relay.Relay(engine.url, name, live).start() if is_postgres(engine) else None
        journal = Journal(
            engine, window_ms=settings.journal_window_ms, max_batch=settings.journal_max_batch, on_commit=live.publish,
            before_commit=partial(live_relay.notify, node=name) if relay else None, reactions=REACTIONS,
        ).start()
        timers = TimerWorker(journal, clock, handlers=TIMER_HANDLERS, node=name,
                             poll_seconds=settings.timer_poll_seconds, lease_seconds=settings.timer_lease_seconds)
        supervisor = SupervisionWorker(journal, clock, poll_seconds=settings.supervision_poll_seconds,
                                       answer_deadline=timedelta(seconds=settings.answer_deadline_seconds),
                                       rules_cache=rules)
        live.observe(supervisor)  # a device registered on any node: its deadline may be the earliest
        runtime = Runtime(settings=settings, engine=engine, journal=journal, clock=clock, timers=timers, live=live,
                          rules=rules, rounds=round_rules(settings, rules))
        live.observe(runtime.tokens)  # a token revoked on any node: forgotten by every node
        runtime.http_alarms = HttpAlarms(
            journal, answer_deadline=runtime.answer_deadline, rules_cache=rules,
            clock_future=timedelta(seconds=settings.intake_clock_future_seconds),
            clock_past=timedelta(seconds=settings.intake_clock_past_seconds))
        runtime.voice = Voice(VoiceSettings(
            gateway_url=settings.voice_gateway_url, gateway_secret=settings.voice_gateway_secret,
            trunk=settings.voice_trunk, caller_id=settings.voice_caller_id, ring_seconds=settings.voice_ring_seconds,
            probe_seconds=settings.voice_probe_seconds, answer_deadline_seconds=settings.answer_deadline_seconds,
            expected_call_seconds=settings.voice_expected_call_seconds, centre_address=settings.voice_centre_address),
            journal, engine, clock, name, rules)
        # The same gateway, its streaming plugin; each camera closing is audited with its length.
        runtime.cameras = Cameras(runtime.voice.gateway, on_closed=lambda lookin_id, seconds: journal.run(
            lambda conn: camera_closed(conn, lookin_id, seconds=seconds, now=clock())))
        live.observe(runtime.cameras)  # a consent withdrawn on any node: the picture shown here ends
        epj = DeliveryWorker(journal, engine, clock, node=name, poll_seconds=settings.epj_poll_seconds,
                             lease_seconds=settings.epj_lease_seconds, timeout_seconds=settings.epj_timeout_seconds,
                             alarm_after=timedelta(seconds=settings.epj_alarm_after_seconds),
                             answer_deadline=timedelta(seconds=settings.answer_deadline_seconds), rules_cache=rules,
                             tokens=runtime.care.tokens)
        round_worker = RoundWorker(journal, clock, runtime.rounds, poll_seconds=settings.round_poll_seconds)
        sending = message_providers.build(settings)
        messages = MessageWorker(journal, clock, node=name, sms=sending.sms, push=sending.push,
                                 poll_seconds=settings.message_poll_seconds, lease_seconds=settings.message_lease_seconds,
                                 link_base=settings.public_url, allow_list=sending.allow_list)
        live.observe(messages)  # a commit on any node queued a message: send it now
        runtime.push_key = sending.push.public_key if sending.push else None
        log.info("%s", sending.summary)
        return cls(runtime=runtime, relay=relay, supervisor=supervisor, epj=epj, round_worker=round_worker,
                   messages=messages, silent_node_calls=SilentNodeCalls(
                       journal, engine, clock, node=name,
                       silent_for=max(NODE_SILENT, timedelta(seconds=4 * settings.readiness_probe_seconds))))

    @property
    def name(self) -> str:
        return node_name(self.runtime.settings)

    def start_workers(self) -> None:
        """The timer worker, the supervision sweep, the EPJ delivery, the rounds' sweep, the
        messages' delivery and the calls of nodes gone (tests may run a node without them)."""
        self.runtime.timers.start()
        self.supervisor.start()
        self.epj.start()
        self.round_worker.start()
        self.messages.start()
        self.silent_node_calls.start()

    async def start_listeners(self) -> None:
        """The device listeners the settings ask for, and voice."""
        settings, rt = self.runtime.settings, self.runtime
        await rt.voice.start()
        await rt.cameras.remove_stale()
        await self.messages.start_providers()  # the SMSC session: receipts and replies arrive on it
        if settings.dc09_port is not None:
            dc09 = Dc09Receiver(rt.journal, rt.clock, answer_deadline_seconds=settings.answer_deadline_seconds,
                                retransmit_seconds=settings.dc09_retransmit_seconds, rules_cache=rt.rules)
            metrics.timed_answers(dc09, "dc09")
            await dc09.start(settings.host, settings.dc09_port, settings.dc09_port)
            self.listeners.append(dc09)
            log.info("SIA DC-09 receiver on %s:%s (TCP and UDP)", settings.host, dc09.tcp_port)
        if settings.scaip_port is not None:
            scaip = ScaipReceiver(rt.journal, rt.clock, answer_deadline_seconds=settings.answer_deadline_seconds,
                                  rules_cache=rt.rules, voice=VoicePolicy(
                                      mode=VoiceMode(settings.scaip_voice_reply),
                                      callback_minutes=settings.voice_callback_minutes,
                                      call_to=settings.voice_scaip_call_to,
                                      configured=rt.voice.gateway is not None, available=lambda: rt.voice.available))
            metrics.timed_answers(scaip, "scaip")
            await scaip.start(settings.host, settings.scaip_port, settings.scaip_port)
            # The device's call after its alarm comes to the same port (docs/voice.md).
            scaip.calls = rt.voice.listen(settings.host, scaip.udp_port)
            self.listeners.append(scaip)
            log.info("SCAIP receiver on %s:%s (SIP over TCP and UDP)", settings.host, scaip.tcp_port)
        if settings.mqtt_url:
            mqtt = MqttReceiver(rt.journal, rt.clock, MqttBroker.from_url(settings.mqtt_url,
                                                                          username=settings.mqtt_username,
                                                                          password=settings.mqtt_password),
                                client_id=settings.mqtt_client_id, topics=settings.mqtt_topics,
                                session_expiry_seconds=settings.mqtt_session_expiry_seconds,
                                answer_deadline_seconds=settings.answer_deadline_seconds, rules_cache=rt.rules)
            await mqtt.start()
            self.listeners.append(mqtt)
            log.info("MQTT intake from %s as %r", settings.mqtt_url.split("@")[-1], settings.mqtt_client_id)

    async def stop(self) -> None:
        # Listeners first (the MQTT receiver before the journal closes: what it committed is
        # acknowledged), then the workers, then the streams, the journal and the database.
        for listener in reversed(self.listeners):
            await listener.stop()
        await self.runtime.cameras.stop()
        await self.runtime.voice.stop()
        await self.silent_node_calls.stop()
        await self.round_worker.stop()
        await self.messages.stop()
        await self.epj.stop()
        await self.supervisor.stop()
        await self.runtime.timers.stop()
        self.runtime.live.close()
        self.runtime.journal.close()
        if self.relay is not None:
            self.relay.stop()
        self.runtime.engine.dispose()
