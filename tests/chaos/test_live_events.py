"""Server-sent events from a real server process over a real socket."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timezone

import httpx
import pytest
from sqlalchemy import update

from respons.domain.access import Role
from respons.store.tables import agreements
from tests.chaos.server import ServerProcess, free_port
from tests.factories import PASSWORD, add_user, seed_registry

pytestmark = pytest.mark.slow


def read_events(client: httpx.Client, url: str, into: list[tuple[str, dict]], connected: threading.Event) -> None:
    with client.stream("GET", url + "/api/v1/queue/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            connected.set()
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind:
                into.append((kind, json.loads(line[6:])))


def test_operator_stream_carries_committed_changes_in_scope_only(migrated_url, engine, tmp_path):
    registry = seed_registry(engine)
    served, ended = registry.municipality_ids
    with engine.begin() as conn:
        conn.execute(update(agreements).where(agreements.c.municipality_id == ended).values(valid_to=date(2025, 6, 30)))
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    server = ServerProcess(migrated_url, free_port(), tmp_path / "server.log", cookie_secure="false", sse_max_seconds=60, sse_heartbeat_seconds=0.5)
    server.start()
    try:
        operator = httpx.Client(base_url=server.url, timeout=10)
        csrf = {"X-CSRF-Token": operator.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD}).json()["csrf_token"]}
        events: list[tuple[str, dict]] = []
        connected = threading.Event()
        reader = threading.Thread(target=read_events, args=(operator, server.url, events, connected), daemon=True)
        reader.start()
        assert connected.wait(5), "the stream should start with a retry hint"

        def post(municipality_id: int) -> str:
            device = registry.devices_by_municipality[municipality_id][0]
            body = {"device": device, "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat()}
            headers = {"Authorization": f"Bearer {registry.intake_tokens[municipality_id]}"}
            response = httpx.post(server.url + "/api/v1/alarms", json=body, headers=headers)
            assert response.status_code == 202, response.text
            return response.json()["alarm_id"]

        foreign = post(ended)
        mine = post(served)
        assert httpx.Client(base_url=server.url, cookies=operator.cookies).post(
            f"/api/v1/alarms/{mine}/answer", headers=csrf
        ).status_code == 200
        # Until the answer and a few heartbeats have come (a loaded machine is slow to send them).
        deadline = time.monotonic() + 30
        while not (any(e.get("event") == "answered" for k, e in events if k == "alarm")
                   and sum(k == "heartbeat" for k, _ in events) >= 4):
            assert time.monotonic() < deadline, f"the stream brought only {events}"
            time.sleep(0.1)
    finally:
        server.stop()  # ends the stream
    reader.join(10)
    alarms = [e for k, e in events if k == "alarm"]
    assert [(e["alarm_id"], e["event"]) for e in alarms] == [(mine, "queued"), (mine, "answered")]
    assert all(e["alarm_id"] != foreign for e in alarms)
    # Ids, states and who in the field it concerns (zone and user tags): no personal data.
    assert all(set(e) == {"alarm_id", "municipality_id", "event", "state", "seq", "priority", "audience"} for e in alarms)
    beats = [e for k, e in events if k == "heartbeat"]
    assert len(beats) >= 4 and all(e == {"live": True} for e in beats), "a heartbeat every 0.5 s while the stream is open"


def test_sigterm_ends_open_streams_at_once_and_the_node_exits(migrated_url, engine, tmp_path):
    """Issue 14: with one console open, SIGTERM took 297 s. Streams end at once; the process
    exits within 10 s, and a request in flight still gets its answer."""
    import signal
    import subprocess

    registry = seed_registry(engine)
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    server = ServerProcess(migrated_url, free_port(), tmp_path / "server.log", cookie_secure="false")
    server.start()
    try:
        screens = []
        for _ in range(3):
            client = httpx.Client(base_url=server.url, timeout=httpx.Timeout(10, read=60))
            client.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
            events: list[tuple[str, dict]] = []
            connected = threading.Event()
            reader = threading.Thread(target=read_events, args=(client, server.url, events, connected), daemon=True)
            reader.start()
            assert connected.wait(5)
            screens.append(reader)
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("the node did not exit within 10 s of SIGTERM with three consoles open")
        # uvicorn re-raises the signal after its graceful shutdown, as a process should.
        assert server.process.returncode == -signal.SIGTERM
        for reader in screens:
            reader.join(5)
            assert not reader.is_alive(), "every stream ended"
    finally:
        server.stop()
    assert registry is not None
