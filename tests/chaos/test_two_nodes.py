"""Two real ``respons serve`` nodes on one PostgreSQL: screens see every node's changes.

An alarm posted to node A reaches a console streaming from node B; a timer fired by B
reaches a console streaming from A; after A is killed (SIGKILL) the console on B keeps
updating. The relay is PostgreSQL's LISTEN/NOTIFY (store/live_relay.py).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from respons.domain.access import Role
from tests.chaos.server import ServerProcess, free_port
from tests.factories import PASSWORD, add_user, seed_registry

pytestmark = pytest.mark.slow


class Screen(threading.Thread):
    """An operator's console stream on one node: collects (event, data) until told to stop."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=30))
        login = self.client.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
        assert login.status_code == 200, login.text
        self.events: list[tuple[str, dict]] = []
        self.open = threading.Event()
        self.ended = threading.Event()

    def run(self):
        try:
            with self.client.stream("GET", "/api/v1/queue/events") as response:
                kind = None
                for line in response.iter_lines():
                    self.open.set()
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind:
                        self.events.append((kind, json.loads(line[6:])))
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def saw(self, alarm_id: str, event: str) -> bool:
        return any(k == "alarm" and e["alarm_id"] == alarm_id and e["event"] == event for k, e in self.events)

    def wait_for(self, alarm_id: str, event: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.saw(alarm_id, event):
                return True
            time.sleep(0.02)
        return False


def post_alarm(url: str, registry, municipality_id: int) -> str:
    device = registry.devices_by_municipality[municipality_id][0]
    body = {"device": device, "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat()}
    response = httpx.post(url + "/api/v1/alarms", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {registry.intake_tokens[municipality_id]}"})
    assert response.status_code == 202, response.text
    return response.json()["alarm_id"]


def test_changes_cross_nodes_both_ways_and_survive_a_killed_node(postgres_url, tmp_path):
    from respons.store.db import make_engine

    engine = make_engine(postgres_url)
    registry = seed_registry(engine)
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    engine.dispose()
    municipality = registry.municipality_ids[0]
    common = dict(cookie_secure="false", sse_heartbeat_seconds=0.5, answer_deadline_seconds=1)
    # A's timer worker is asleep for the test, so the answer deadline is fired by B.
    a = ServerProcess(postgres_url, free_port(), tmp_path / "a.log", node_name="A", timer_poll_seconds=3600, **common)
    b = ServerProcess(postgres_url, free_port(), tmp_path / "b.log", node_name="B", timer_poll_seconds=0.2, **common)
    a.start()
    b.start()
    try:
        on_a, on_b = Screen(a.url), Screen(b.url)
        for screen in (on_a, on_b):
            screen.start()
            assert screen.open.wait(5)

        alarm_id = post_alarm(a.url, registry, municipality)
        assert on_b.wait_for(alarm_id, "queued"), "an alarm posted to A must reach a console on B"
        # Each node's own screens and the other node's get the change within the same few
        # milliseconds (measured: both at the POST's answer); which is first is a race.
        assert on_a.wait_for(alarm_id, "queued")
        assert on_a.wait_for(alarm_id, "answer_time_exceeded"), "a timer fired by B must reach a console on A"
        assert on_b.wait_for(alarm_id, "answer_time_exceeded")

        a.kill()
        assert on_a.ended.wait(10), "A's stream died with A"
        after = post_alarm(b.url, registry, municipality)
        assert on_b.wait_for(after, "queued"), "B's screens keep updating after A was killed"
        beats = [e for k, e in on_b.events if k == "heartbeat"]
        assert beats and all(e == {"live": True} for e in beats)
        assert [e["alarm_id"] for k, e in on_b.events if k == "alarm" and e["event"] == "queued"] == [alarm_id, after]
    finally:
        a.stop()
        b.stop()
