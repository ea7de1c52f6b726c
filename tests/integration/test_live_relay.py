"""The live relay between nodes on a real PostgreSQL: only committed changes travel, a
node does not hear itself twice, and a lost listening connection is noticed and healed."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import psycopg
import pytest
from sqlalchemy import text

from respons.engine.live import LiveBus
from respons.store import live_relay
from respons.store.db import make_engine
from respons.store.journal import Journal, announce
from sqlalchemy.engine import make_url


def test_payloads_stay_under_the_notify_limit_and_keep_every_change():
    changes = [{"alarm_id": f"{i:036d}", "audience": ["zone:1"] * 20, "n": i} for i in range(400)]
    payloads = live_relay.payloads(changes, "node-1")
    assert len(payloads) > 1
    assert all(len(p.encode()) <= live_relay.MAX_PAYLOAD for p in payloads)
    decoded = [json.loads(p) for p in payloads]
    assert {d["n"] for d in decoded} == {"node-1"}
    assert [c for d in decoded for c in d["c"]] == changes


@pytest.fixture
def pg(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def collect(bus: LiveBus, seconds: float, until=None) -> list[dict]:
    async def scenario():
        subscription = bus.subscribe()
        seen: list[dict] = []
        ends = time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0:
            change = await subscription.next(timeout=left)
            if change is not None:
                seen.append(change)
            if subscription.overflowed:
                seen.append({"reload": True})
                subscription.overflowed = False
            if until and until(seen):
                break
        return seen

    return asyncio.run(scenario())


def test_another_node_hears_only_what_committed_and_a_node_not_itself(pg):
    other_bus = LiveBus()
    other = live_relay.Relay(pg.url, "other", other_bus).start()
    own_bus = LiveBus()
    own = live_relay.Relay(pg.url, "own", own_bus).start()
    journal = Journal(pg, before_commit=lambda conn, changes: live_relay.notify(conn, changes, node="own")).start()
    try:
        assert other_bus.connected and own_bus.connected

        def good(n):
            def unit(conn):
                conn.execute(text("select 1"))
                announce(conn, {"alarm_id": f"ok-{n}"})
            return unit

        def bad(conn):
            announce(conn, {"alarm_id": "rolled-back"})
            raise ValueError("refused")

        # One batch: two good units and one that fails (the batch is written again, isolated).
        futures = [journal.submit(good(1)), journal.submit(bad), journal.submit(good(2))]
        heard = collect(other_bus, 5, until=lambda seen: len(seen) >= 2)
        assert futures[0].result(5) is None and futures[2].result(5) is None
        with pytest.raises(ValueError):
            futures[1].result(5)
        assert sorted(c["alarm_id"] for c in heard) == ["ok-1", "ok-2"]
        assert collect(other_bus, 0.5) == [], "a rolled-back unit notifies nobody"
        assert collect(own_bus, 0.5) == [], "a node publishes its own changes itself, not again from the relay"
    finally:
        journal.close()
        other.stop()
        own.stop()


def test_stopping_wakes_the_listener_and_the_other_nodes_hear_nothing_of_it(pg):
    """A listener waits for notifications up to ``check_seconds`` at a time; without the wake
    a stop would outlast its join (5 s) here and leave the thread running."""
    other_bus = LiveBus()
    other = live_relay.Relay(pg.url, "other", other_bus).start()
    stopping = live_relay.Relay(pg.url, "stopping", LiveBus(), check_seconds=60).start()
    try:
        stopping.stop()
        assert not stopping.is_live()
        assert not stopping._thread.is_alive()
        assert collect(other_bus, 0.5) == [], "the wake is nothing the other nodes' screens see"
    finally:
        other.stop()


def test_a_lost_listening_connection_is_reported_and_healed_with_a_resync(pg):
    bus = LiveBus()
    relay = live_relay.Relay(pg.url, "node", bus, check_seconds=0.2, max_retry_seconds=0.5).start()
    dsn = pg.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def kill_listener() -> int:
        with psycopg.connect(dsn, autocommit=True) as conn:
            return len(conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND (query LIKE 'LISTEN%%' OR query = 'SELECT 1')").fetchall())

    async def scenario():
        screen = bus.subscribe()
        assert bus.connected
        assert await asyncio.to_thread(kill_listener) == 1
        states = []
        while relay.reconnects == 0:
            states.append(bus.connected)
            await asyncio.sleep(0.005)
        assert False in states, "while the relay is down the node says it is not live"
        assert await screen.next(timeout=5) is None and screen.overflowed, "after healing, every screen reloads"
        assert bus.connected
        await asyncio.to_thread(lambda: _notify_from_elsewhere(pg))
        assert (await screen.next(timeout=5)) == {"alarm_id": "after"}, "and changes flow again"

    try:
        asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        relay.stop()


def _notify_from_elsewhere(engine) -> None:
    with engine.begin() as conn:
        live_relay.notify(conn, [{"alarm_id": "after"}], node="elsewhere")


@pytest.mark.parametrize("payload", ['[]', '"x"', '{"n":"other","c":[1]}', '{"n":"other","c":{"a":1}}', "not json"])
def test_a_malformed_notification_is_dropped_and_the_relay_keeps_listening(pg, payload):
    """Anyone who can connect to the database can NOTIFY: nothing they send stops the relay."""
    bus = LiveBus()
    relay = live_relay.Relay(pg.url, "node", bus, check_seconds=0.2).start()
    dsn = pg.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def send(text_: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('respons_live', %s)", (text_,))

    async def scenario():
        screen = bus.subscribe(lambda change: change.get("municipality_id") == 1)
        await asyncio.to_thread(send, payload)
        await asyncio.to_thread(send, '{"n":"other","c":[{"alarm_id":"after","municipality_id":1}]}')
        return await screen.next(timeout=5)

    try:
        assert asyncio.run(scenario()) == {"alarm_id": "after", "municipality_id": 1}
        assert bus.connected
    finally:
        relay.stop()
    assert not bus.connected, "a stopped relay hears nobody"


def test_a_node_that_starts_deaf_resyncs_its_screens_when_it_first_hears(pg):
    """The database refused at start (wrong port here); screens opened meanwhile reload
    once the relay gets through, as after any reconnect."""
    bus = LiveBus()
    relay = live_relay.Relay(pg.url.set(port=1), "node", bus, max_retry_seconds=0.2).start(wait_seconds=0.3)

    async def scenario():
        screen = bus.subscribe()
        assert not bus.connected
        relay._dsn = pg.url.set(drivername="postgresql").render_as_string(hide_password=False)
        assert await screen.next(timeout=5) is None and screen.overflowed
        assert bus.connected

    try:
        asyncio.run(scenario())
    finally:
        relay.stop()


class FreezingProxy:
    """A TCP proxy to the database that can stop forwarding without closing anything: a
    network partition that drops packets instead of refusing them."""

    def __init__(self, host: str, port: int):
        self.frozen = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._target = (host, port)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            pass

    def close(self):
        self.frozen.clear()
        self._server.close()


def test_a_listener_that_stops_answering_is_not_live_and_screens_reload_when_it_answers(pg):
    """A hung connection (no error, no answer) must not leave screens saying live."""
    proxy = FreezingProxy(pg.url.host or "127.0.0.1", pg.url.port or 5432)
    bus = LiveBus()
    relay = live_relay.Relay(pg.url.set(host="127.0.0.1", port=proxy.port), "node", bus, check_seconds=0.2).start()

    async def scenario():
        screen = bus.subscribe()
        assert bus.connected
        proxy.frozen.set()
        for _ in range(100):
            if not bus.connected:
                break
            await asyncio.sleep(0.05)
        assert not bus.connected, "silence from the database is not live"
        proxy.frozen.clear()
        assert await screen.next(timeout=5) is None and screen.overflowed, "healed: the screens reload"
        assert bus.connected

    try:
        asyncio.run(scenario())
    finally:
        relay.stop()
        proxy.close()


def test_a_change_too_big_for_one_notification_asks_for_a_reload():
    huge = {"alarm_id": "x", "audience": ["zone:1"] * 5000}
    payloads = live_relay.payloads([{"alarm_id": "small"}, huge], "node")
    assert all(len(p.encode()) <= live_relay.MAX_PAYLOAD for p in payloads)
    assert [c for p in payloads for c in json.loads(p)["c"]] == [{"alarm_id": "small"}, live_relay.RELOAD]
