"""The MQTT subscriber: sensor messages from a broker, acknowledged only after the commit.

Respons connects to the broker as a client with a fixed client id, a persistent session
(MQTT 5, ``clean_start`` off and a session expiry) and QoS 1 subscriptions, so the broker
keeps what sensors publish while Respons is down or restarting and delivers it afterwards.

Each message is read (``messages.read``, pure) and what it says is done in **one unit of
work through the journal writer** (``handle``). The PUBACK goes to the broker only after
that unit is committed (DESIGN.md invariant 1): paho-mqtt's ``manual_ack`` keeps the
library from acknowledging on its own (aiomqtt does not expose manual acks). So:

- an alarm becomes an alarm; a redelivery (same device, message id and content) finds the
  alarm it made before (idempotency key) and is acknowledged again without a second one;
- a heartbeat, and every message from a known device, marks the device as seen
  (``last_seen_at``, and ``alert_after`` when it has a heartbeat interval);
- ``"state": "restored"`` is written on the device's open alarm of that type as a note;
- an unknown topic or device, invalid JSON or a message that breaks the schema is kept in
  quarantine and acknowledged: it is kept, so it is not lost, and redelivering it forever
  would help nobody;
- if the journal did not commit (``JournalUnavailable``), the message is not acknowledged:
  the receiver drops the connection and reconnects (with backoff), and the broker sends
  every unacknowledged message of the session again.

MQTT wants PUBACKs in the order the PUBLISHes came (MQTT 5 §4.6), while the journal may
commit a fall alarm before a heartbeat that arrived earlier (lanes). ``AckLedger`` holds
back an acknowledgement until every earlier message of the connection is acknowledged.

paho runs its network loop in a thread of ours; units are handed to the journal with
``Journal.submit`` and acknowledged from the journal's completion callback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.engine import Connection

from respons.clock import Clock
from respons.domain.alarm_types import alarm_type
from respons.engine.routing import RulesCache
from respons.epj import doses
from respons.intake import devices as device_intake
from respons.intake.devices import IntakeSettings, Restored
from respons.intake.mqtt.messages import DOSE, MAX_BODY_BYTES, Reading, Unreadable, lane_of, read
from respons.observability import metrics
from respons.store import quarantine
from respons.store.journal import Journal, JournalClosed, JournalUnavailable, Lane

log = logging.getLogger(__name__)

SOURCE = "mqtt"
DEFAULT_TOPICS = ("respons/+/sensors/+/+",)
DEFAULT_DEADLINE_SECONDS = 60
# How many unacknowledged messages the broker may send us at once (MQTT 5 Receive
# Maximum): enough for the journal to batch them, few enough to bound what is in flight.
RECEIVE_MAXIMUM = 100


# --- the unit of work ---------------------------------------------------------------------


def handle(conn: Connection, reading: Reading | Unreadable, *, topic: str, body: bytes, now: datetime,
           answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS, rules_cache: RulesCache | None = None) -> str:
    """The unit of work for one message; returns what became of it (for logs and stats)."""
    if isinstance(reading, Unreadable):
        keep(conn, topic, body, reading.reason, reading.message, now)
        return f"quarantine:{reading.reason}"
    where = reading.topic
    device = device_intake.identify(conn, SOURCE, where.device, with_municipality_number=True)
    if device is None:
        keep(conn, topic, body, "unknown_device",
             f"No active MQTT device with id {where.device!r}. Register the device in Respons with protocol 'mqtt' "
             "and this id, or check the device id in the topic.", now)
        return "quarantine:unknown_device"
    if device.municipality_number != where.municipality:
        # The topic's municipality is what the broker's access rules can check per
        # integrator; a device of another municipality is not this sender's to report.
        keep(conn, topic, body, "unknown_device",
             f"Device {where.device!r} is not registered in municipality {where.municipality!r} (the topic's); "
             f"it belongs to municipality {device.municipality_number}.", now)
        return "quarantine:unknown_device"
    device_intake.heard(conn, device, now)
    msg = reading.message
    if reading.heartbeat:
        return "heartbeat"
    if msg.type == DOSE:
        return _dose(conn, device, msg, topic=topic, body=body, now=now)
    if msg.state == "restored":
        return _restore(conn, device, msg.type, msg.id, now)
    payload: dict = {"mqtt": {"topic": topic, "id": msg.id}}
    if msg.payload is not None:
        payload["sensor"] = msg.payload
    if msg.extra_fields:
        payload["extra_fields"] = msg.extra_fields
    content = msg.content_hash()
    received = device_intake.raise_alarm(
        conn, device, alarm_type=alarm_type(msg.type), source=SOURCE, occurred_at=msg.occurred_at, payload=payload,
        # A redelivery repeats device, id and content: the same key, the same alarm. A sensor
        # that reuses an id for something new (a counter reset by a power cut) gets a new alarm.
        idempotency_scope=f"{SOURCE}:{device.identity}", idempotency_key=f"{msg.id}:{content[:32]}",
        fingerprint=content, now=now, settings=IntakeSettings.of(answer_deadline_seconds, rules_cache),
    )
    return "duplicate" if received.duplicate else "alarm"


def keep(conn: Connection, topic: str, body: bytes, reason: str, message: str, now: datetime) -> str:
    raw = quarantine.RawInput(source=SOURCE, body=body[:MAX_BODY_BYTES], content_type="application/json",
                              headers={"mqtt-topic": topic})
    return quarantine.keep(conn, raw, reason=reason, message=message, now=now)


def _keep_failed(conn: Connection, *, topic: str, body: bytes, text: str, now: datetime) -> str:
    keep(conn, topic, body, "internal_error", text, now)
    return "quarantine:internal_error"




def _dose(conn: Connection, device, msg, *, topic: str, body: bytes, now: datetime) -> str:
    details = msg.payload or {}
    event, medication = details.get("event"), details.get("medication")
    try:
        recorded = doses.record(conn, device, message_id=msg.id, event=str(event) if event is not None else None,
                                medication=str(medication)[:200] if medication is not None else None,
                                dispensed_at=msg.occurred_at.astimezone(timezone.utc), source=SOURCE, now=now)
    except doses.DoseRefused as exc:
        keep(conn, topic, body, exc.reason, str(exc), now)
        return f"quarantine:{exc.reason}"
    return "duplicate" if recorded.duplicate else "dose"


def _restore(conn: Connection, device, type_code: str, message_id: str | None, now: datetime) -> str:
    text = f"Gjenopprettet fra sensoren ({alarm_type(type_code).label_nb}, melding {message_id})."
    # A redelivered restore names the same message: one note is enough. (An alarm has few notes.)
    done = device_intake.restore(conn, device, type_code=type_code, text=text, now=now, once=True)
    return "duplicate" if done is Restored.ALREADY_NOTED else "restore"


# --- acknowledgements in order ------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    generation: int
    seq: int


class AckLedger:
    """Which QoS 1 messages of the current connection may be acknowledged, in arrival order.

    Not thread-safe: the receiver holds its lock around every call and the ``ack`` sends
    that follow, so the PUBACKs leave in the order this returns them.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._next = 0
        self._pending: OrderedDict[int, list] = OrderedDict()  # seq -> [mid, done]

    def reset(self) -> None:
        """A new connection: what was pending will be redelivered, so forget it."""
        self.generation += 1
        self._pending.clear()

    def received(self, mid: int) -> Ticket:
        self._next += 1
        self._pending[self._next] = [mid, False]
        return Ticket(self.generation, self._next)

    def committed(self, ticket: Ticket) -> list[int]:
        """Mark a message committed; returns the mids to acknowledge now, in order."""
        if ticket.generation != self.generation or ticket.seq not in self._pending:
            return []  # from a connection that is gone: the broker sends it again
        self._pending[ticket.seq][1] = True
        ready = []
        while self._pending:
            seq, (mid, done) = next(iter(self._pending.items()))
            if not done:
                break
            del self._pending[seq]
            ready.append(mid)
        return ready

    def __len__(self) -> int:
        return len(self._pending)


# --- the client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str, *, username: str | None = None, password: str | None = None) -> "Broker":
        """``mqtt://[user:password@]host[:1883]`` or ``mqtts://…[:8883]`` (TLS with the system's CAs)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} must look like mqtt://host:1883 or mqtts://host:8883")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                   username if username is not None else (unquote(parts.username) if parts.username else None),
                   password if password is not None else (unquote(parts.password) if parts.password else None))


@dataclass
class ReceiverStats:
    received: int = 0
    committed: int = 0
    acked: int = 0
    quarantined: int = 0
    not_committed: int = 0
    connects: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Receiver:
    """Subscribes, hands each message to the journal, acknowledges after the commit."""

    def __init__(self, journal: Journal, clock: Clock, broker: Broker, *, client_id: str,
                 topics: tuple[str, ...] | list[str] = DEFAULT_TOPICS, session_expiry_seconds: int = 7 * 24 * 3600,
                 answer_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS, keepalive: int = 30,
                 max_backoff_seconds: float = 30.0, rules_cache: RulesCache | None = None):
        self.journal = journal
        self.rules_cache = rules_cache
        self.clock = clock
        self.broker = broker
        self.client_id = client_id
        self.topics = list(topics)
        self.session_expiry_seconds = session_expiry_seconds
        self.answer_deadline_seconds = answer_deadline_seconds
        self.keepalive = keepalive
        self.max_backoff = max_backoff_seconds
        self.stats = ReceiverStats()
        self.subscribed = threading.Event()  # set once the broker has granted the subscriptions
        self._lock = threading.Lock()  # the ledger, and the order of PUBACKs on the wire
        self._ledger = AckLedger()
        self._stopping = threading.Event()
        self._failures = 0  # commit failures in a row, for the reconnect backoff
        self._thread: threading.Thread | None = None
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=MQTTProtocolVersion.MQTTv5,
                             manual_ack=True)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=int(self.max_backoff))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    # --- lifecycle (async wrappers for the web app's lifespan) ---

    async def start(self) -> None:
        self.start_thread()

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_thread)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="respons-mqtt", daemon=True)
        self._thread.start()

    def stop_thread(self, drain_seconds: float = 5.0) -> None:
        """Let what is in the journal commit and be acknowledged, then disconnect (the
        session, with its subscriptions, stays at the broker)."""
        self._stopping.set()
        waited = 0.0
        while len(self._ledger) and waited < drain_seconds:
            time.sleep(0.05)
            waited += 0.05
        # Repeated: a disconnect() that lands while the thread is inside connect() is undone by it.
        for _ in range(100):
            self._client.disconnect()
            if self._thread is None:
                break
            self._thread.join(0.1)
            if not self._thread.is_alive():
                break

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_seconds
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        return props

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._client.connect(self.broker.host, self.broker.port, keepalive=self.keepalive,
                                     clean_start=False, properties=self._connect_properties())
            except (OSError, ValueError) as exc:
                log.warning("MQTT broker %s:%s not reachable (%s); retrying in %.1f s",
                            self.broker.host, self.broker.port, exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            delay = 0.5
            if self._stopping.is_set():
                self._client.disconnect()
            # Reconnects by itself after a lost connection; returns after disconnect().
            self._client.loop_forever()
            if not self._stopping.is_set():
                # We dropped the connection because a commit failed: give the database a
                # moment before the broker redelivers.
                pause = min(0.5 * 2 ** min(self._failures, 6), self.max_backoff)
                log.info("MQTT: reconnecting in %.1f s so the broker redelivers what was not committed", pause)
                self._stopping.wait(pause)

    # --- paho callbacks (in the network thread) ---

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._ledger.reset()
        if reason_code.is_failure:
            log.error("MQTT broker %s:%s refused the connection: %s", self.broker.host, self.broker.port, reason_code)
            return
        self.stats.connects += 1
        if not flags.session_present:
            log.warning("MQTT broker had no session for client id %r (first start, or the session expired): "
                        "only messages published from now on are kept for Respons", self.client_id)
        log.info("MQTT connected to %s:%s as %r; subscribing to %s", self.broker.host, self.broker.port,
                 self.client_id, ", ".join(self.topics))
        # Retained messages are old news (a state, not an event): never delivered on subscribe.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        client.subscribe([(topic, options) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [f"{topic}: {rc}" for topic, rc in zip(self.topics, reason_codes) if rc.is_failure]
        if refused:
            log.error("MQTT broker refused subscriptions: %s", "; ".join(refused))
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._ledger.reset()
        self.subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT connection to %s:%s lost or dropped (%s)", self.broker.host, self.broker.port, reason_code)

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        # An exception here would end paho's network loop: log it; unacknowledged, the
        # message comes again on the next connection.
        try:
            self._accept(message)
        except Exception:
            log.exception("MQTT message %s could not be handed to the journal", message.mid)

    def _accept(self, message: paho.MQTTMessage) -> None:
        self.stats.received += 1
        arrived = time.perf_counter()
        now = self.clock()
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = repr(message._topic)  # brokers refuse such topics; keep it readable anyway
        body = bytes(message.payload)
        reading = read(topic, body)
        ticket = None
        if message.qos > 0:
            with self._lock:
                ticket = self._ledger.received(message.mid)
        work = partial(handle, reading=reading, topic=topic, body=body, now=now,
                       answer_deadline_seconds=self.answer_deadline_seconds, rules_cache=self.rules_cache)
        try:
            future = self.journal.submit(work, lane=lane_of(reading))
        except JournalClosed:
            log.warning("MQTT message on %s not acknowledged: the journal is closed", topic)
            return
        future.add_done_callback(partial(self._settled, ticket, topic, body, now))
        if ticket is not None:
            # The PUBACK goes out in _settled when the unit committed (in order, right after).
            future.add_done_callback(lambda f: f.exception() is None and metrics.ack("mqtt", arrived))

    # --- after the journal (in the journal's thread) ---

    def _settled(self, ticket: Ticket | None, topic: str, body: bytes, now: datetime, future) -> None:
        error = future.exception()
        if error is None:
            self._committed(ticket, future.result())
        elif isinstance(error, (JournalUnavailable, JournalClosed)):
            self._not_committed(topic, error)
        else:
            # The unit itself failed (a bug, a constraint): keep the message rather than
            # have the broker redeliver it forever.
            log.error("MQTT message on %s failed in its unit of work: %r; keeping it in quarantine", topic, error)
            text = f"Respons could not handle this message: {error.__class__.__name__}: {error}"
            retry = self.journal.submit(partial(_keep_failed, topic=topic, body=body, text=text, now=now), lane=Lane.LIFE)
            retry.add_done_callback(lambda f: self._committed(ticket, f.result()) if f.exception() is None
                                    else self._not_committed(topic, f.exception()))

    def _committed(self, ticket: Ticket | None, outcome: str) -> None:
        self._failures = 0
        self.stats.committed += 1
        self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
        if outcome.startswith("quarantine:"):
            self.stats.quarantined += 1
        if ticket is None:
            return
        with self._lock:
            for mid in self._ledger.committed(ticket):
                self._client.ack(mid, 1)
                self.stats.acked += 1

    def _not_committed(self, topic: str, error: BaseException) -> None:
        self.stats.not_committed += 1
        self._failures += 1
        log.warning("MQTT message on %s not acknowledged: %s; reconnecting so the broker sends it again", topic, error)
        # Only a new connection makes the broker redeliver an unacknowledged QoS 1 message.
        self._client.disconnect()
