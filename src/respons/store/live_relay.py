"""Committed changes between nodes: PostgreSQL LISTEN/NOTIFY.

Each node publishes its own committed changes to its own screens directly (engine/live.py).
For the other nodes, the journal adds ``pg_notify`` to the very transaction that commits
the changes (``notify``, the journal's ``before_commit``): PostgreSQL delivers a
notification only if that transaction commits, so a rolled-back unit notifies nobody, and
delivers notifications in commit order. Every node LISTENs on one connection of its own
(``Relay``) and hands what the *other* nodes committed to its live bus.

A node that loses its listening connection cannot know what it missed: its bus is marked
not connected (the screens' heartbeat says ``live: false``), and when the relay is back it
asks every screen to reload (``LiveBus.resync``). No home-made cluster protocol: the
database that already orders the commits also carries the news of them.

SQLite is one node: there is no relay and the bus is always connected.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Protocol

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection


log = logging.getLogger(__name__)

CHANNEL = "respons_live"
# A NOTIFY payload must be shorter than 8000 bytes (PostgreSQL's default); a batch of
# changes is split into as many notifications as it needs.
MAX_PAYLOAD = 7800
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
# In a notification's changes: "the screens must reload" (see ``payloads``).
RELOAD = {"reload": True}


def payloads(changes: list[dict[str, Any]], node: str) -> list[str]:
    """The changes as JSON payloads of at most MAX_PAYLOAD bytes, each naming the node.

    A change too big for a notification on its own (it never should be: ids and tags) is
    replaced by a request that the other nodes' screens reload, rather than failing the
    commit it belongs to.
    """
    head = len(json.dumps({"n": node, "c": []}, separators=(",", ":")).encode())
    out: list[str] = []
    chunk: list[str] = []
    size = head
    for change in changes:
        item = json.dumps(change, separators=(",", ":"))
        if head + len(item.encode()) + 1 > MAX_PAYLOAD:
            item = json.dumps(RELOAD)
        cost = len(item.encode()) + 1
        if chunk and size + cost > MAX_PAYLOAD:
            out.append(_payload(node, chunk))
            chunk, size = [], head
        chunk.append(item)
        size += cost
    if chunk:
        out.append(_payload(node, chunk))
    return out


def _payload(node: str, items: list[str]) -> str:
    return '{"n":' + json.dumps(node) + ',"c":[' + ",".join(items) + "]}"


def notify(conn: Connection, changes: list[dict[str, Any]], *, node: str) -> None:
    """Inside the committing transaction: tell the other nodes what this batch changed."""
    conn.execute(_NOTIFY, [{"channel": CHANNEL, "payload": p} for p in payloads(changes, node)])


class Bus(Protocol):
    """What the relay needs of the live bus (engine/live.LiveBus): the store does not import
    the engine."""

    live_source: Callable[[], bool] | None

    def publish(self, changes: list[dict[str, Any]]) -> None: ...

    def resync(self) -> None: ...


class Relay:
    """Listens for the other nodes' changes and publishes them on this node's bus.

    The node counts as live only while the listening connection has answered within the
    last ``2 × check_seconds`` (plus a little): a connection that hangs (packets dropped by a
    firewall, not refused) or a listener thread that died must not leave screens saying
    "live". TCP keepalives and ``tcp_user_timeout`` make the driver give up on a silent
    peer within seconds, after which the thread reconnects and the screens reload.
    """

    def __init__(self, url: URL, node: str, bus: Bus, *, check_seconds: float = 2.0, max_retry_seconds: float = 5.0):
        # psycopg takes a libpq URI; SQLAlchemy's URL names the driver in the scheme.
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._node = node
        self._bus = bus
        self._check = check_seconds
        self._max_retry = max_retry_seconds
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="respons-live-relay", daemon=True)
        self._answered_at: float | None = None  # monotonic time of the connection's last answer
        self.reconnects = 0
        bus.live_source = self.is_live

    def is_live(self) -> bool:
        answered = self._answered_at
        return (answered is not None and self._thread.is_alive()
                and time.monotonic() - answered <= 2 * self._check + 1.0)

    def start(self, wait_seconds: float = 5.0) -> "Relay":
        self._thread.start()
        # Start live if the database answers; if not, the node starts anyway and its screens
        # say they are not live until the relay gets through.
        self._listening.wait(wait_seconds)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        """A listener waiting for notifications sees ``_stopping`` only when the wait ends,
        after up to ``check_seconds``: every stop of a node (and of every test's app) paid
        that. An empty notification of this node's own ends the wait at once; the other
        nodes drop it as they drop anything empty. If the database does not answer, the
        listener is not waiting on it either; the attempt gives up after its connect timeout
        (2 s) and the join's (5 s) still bounds the stop."""
        if not self._listening.is_set():
            return
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=2) as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, _payload(self._node, [])))
        except Exception as exc:  # noqa: BLE001 - a stop must not fail on its courtesy call
            log.info("live relay: could not wake the listener to stop (%s); it stops within %s s",
                     exc.__class__.__name__, self._check)

    def _run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5, keepalives=1,
                                     keepalives_idle=2, keepalives_interval=1, keepalives_count=3,
                                     tcp_user_timeout=int(1000 * (2 * self._check + 1))) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._answered_at = time.monotonic()
                    if self._listening.is_set():
                        self.reconnects += 1
                        log.warning("live relay: listening again; screens reload")
                    self._listening.set()
                    # Screens that opened while this node was deaf (at start too) may have
                    # missed changes: every screen reloads once it hears again.
                    self._bus.resync()
                    delay = 0.2
                    self._listen(conn)
            except Exception as exc:  # noqa: BLE001 - whatever it was, the node is not live until it listens again
                if self._answered_at is not None:
                    log.warning("live relay: stopped hearing the other nodes (%s: %s); screens are told they are not live",
                                exc.__class__.__name__, exc)
                self._answered_at = None
                self._stopping.wait(delay)
                delay = min(delay * 2, self._max_retry)
        self._answered_at = None

    def _listen(self, conn: psycopg.Connection) -> None:
        while not self._stopping.is_set():
            for notification in conn.notifies(timeout=self._check):
                if self._stopping.is_set():  # woken by stop() (or stopping anyway): no more
                    return
                self._deliver(notification.payload)
            # A quiet connection may be a dead one: ask, so a lost server is noticed within
            # seconds rather than at the next change that never comes.
            conn.execute("SELECT 1")
            was_live = self.is_live()
            self._answered_at = time.monotonic()
            if not was_live:
                # It hung long enough for the screens to say "not live" (a partition that
                # dropped packets, then healed): they may have missed changes meanwhile.
                log.warning("live relay: the database answers again; screens reload")
                self._bus.resync()

    def _deliver(self, payload: str) -> None:
        """Hand another node's changes to this node's screens; anything malformed (anyone who
        can connect to the database can NOTIFY) is logged and dropped, never fatal."""
        try:
            message = json.loads(payload)
            changes = message.get("c") if isinstance(message, dict) else None
            if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
                raise ValueError("not a list of changes")
        except ValueError as exc:
            log.error("live relay: unreadable notification dropped (%s)", exc)
            return
        if message.get("n") == self._node or not changes:  # own changes are published already
            return
        if RELOAD in changes:
            self._bus.resync()
            changes = [c for c in changes if c != RELOAD]
        try:
            self._bus.publish(changes)
        except Exception:  # noqa: BLE001 - a screen's filter must not stop the relay
            log.exception("live relay: publishing %d changes failed", len(changes))
