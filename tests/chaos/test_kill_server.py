"""Kill -9 the server while senders post; every 202 must survive, retries make no duplicates."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import func, select

from respons.store.tables import alarm_events, alarms
from tests.chaos.server import ServerProcess, free_port
from tests.factories import seed_registry

pytestmark = pytest.mark.slow

SENDERS = 12


class Sender(threading.Thread):
    """A vendor platform: sends alarms, and retries each one with its key until it gets a 202."""

    def __init__(self, index: int, url: str, devices: list[str], stop: threading.Event, token: str):
        super().__init__(daemon=True)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.index, self.url, self.devices, self.stop_sending = index, url, devices, stop
        self.acked: dict[str, str] = {}  # idempotency key -> alarm id from the 202
        self.bodies: dict[str, dict] = {}
        self.failures = 0

    def send_until_acked(self, client: httpx.Client, key: str, device: str | None = None) -> dict:
        body = self.bodies.setdefault(
            key,
            {"device": device, "type": "button_press", "occurred_at": datetime.now(timezone.utc).isoformat(), "idempotency_key": key},
        )
        while True:
            try:
                response = client.post(self.url + "/api/v1/alarms", json=body, headers=self.headers)
                if response.status_code == 202:
                    return response.json()
                assert response.status_code == 503, response.text
            except httpx.TransportError:
                pass
            self.failures += 1
            time.sleep(0.05)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            n = 0
            while not self.stop_sending.is_set():
                key = f"s{self.index}-{n}"
                result = self.send_until_acked(client, key, self.devices[n % len(self.devices)])
                self.acked[key] = result["alarm_id"]
                n += 1


def test_every_acknowledged_alarm_survives_sigkill_and_retries_make_no_duplicates(migrated_url, engine, tmp_path):
    registry = seed_registry(engine, municipalities_count=1, recipients_per=20)
    server = ServerProcess(migrated_url, free_port(), tmp_path / "server.log", journal_window_ms=2)
    server.start()
    stop = threading.Event()
    token = registry.intake_tokens[registry.municipality_ids[0]]
    senders = [Sender(i, server.url, registry.device_identities, stop, token) for i in range(SENDERS)]
    try:
        for s in senders:
            s.start()
        _wait_for(lambda: sum(len(s.acked) for s in senders) >= 200, "200 acknowledged alarms before the kill")
        server.kill()  # requests are in flight: some committed and unanswered, some not yet committed
        acked_before_kill = {k: v for s in senders for k, v in list(s.acked.items())}
        time.sleep(0.5)
        server.start()
        _wait_for(lambda: sum(len(s.acked) for s in senders) >= len(acked_before_kill) + 100, "traffic after restart")
        stop.set()
        for s in senders:
            s.join(30)
            assert not s.is_alive()

        # Senders whose earlier 202 got lost resend; resending acknowledged alarms must not duplicate.
        with httpx.Client(timeout=5) as client:
            for s in senders:
                for key in list(s.acked)[-3:]:
                    again = s.send_until_acked(client, key)  # the identical request again
                    assert (again["alarm_id"], again["duplicate"]) == (s.acked[key], True)
    finally:
        stop.set()
        server.stop()

    acked = {k: v for s in senders for k, v in s.acked.items()}
    assert sum(s.failures for s in senders) > 0, "the kill should have interrupted some senders"
    with engine.connect() as conn:
        stored = dict(conn.execute(select(alarms.c.idempotency_key, alarms.c.id)).all())
        per_alarm_events = dict(
            conn.execute(select(alarm_events.c.alarm_id, func.count()).group_by(alarm_events.c.alarm_id)).all()
        )
    lost = {k for k in acked_before_kill if stored.get(k) != acked_before_kill[k]}
    assert not lost, f"{len(lost)} alarms acknowledged before the kill are missing or changed: {sorted(lost)[:5]}"
    assert stored == acked, "every alarm in the database was acknowledged exactly once under its key"
    assert len(set(stored.values())) == len(stored)
    assert all(per_alarm_events[alarm_id] >= 2 for alarm_id in stored.values()), "received + queued for every alarm"


def test_answer_deadline_due_while_the_server_was_down_fires_after_restart(migrated_url, engine, tmp_path):
    registry = seed_registry(engine, municipalities_count=1, recipients_per=1)
    server = ServerProcess(
        migrated_url, free_port(), tmp_path / "server.log", answer_deadline_seconds=5.0, timer_poll_seconds=0.1
    )
    server.start()
    try:
        alarm_id = httpx.post(
            server.url + "/api/v1/alarms",
            json={"device": registry.device_identities[0], "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat()},
            headers={"Authorization": f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"},
        ).json()["alarm_id"]
        server.kill()  # well before the five-second deadline, even on a loaded machine
        time.sleep(6.0)  # the deadline passes while nothing runs
        with engine.connect() as conn:
            kinds = [k for (k,) in conn.execute(select(alarm_events.c.kind).where(alarm_events.c.alarm_id == alarm_id))]
        assert "answer_time_exceeded" not in kinds, "nothing may fire while the server is down"
        restarted_at = datetime.now(timezone.utc)
        server.start()

        def exceeded():
            with engine.connect() as conn:
                rows = conn.execute(
                    select(alarm_events).where(alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "answer_time_exceeded")
                ).all()
            return [{"at": r.at.isoformat(), "data": r.data} for r in rows]

        _wait_for(lambda: exceeded(), "the overdue answer deadline to fire after restart", timeout=15)
        event = exceeded()[0]
        assert datetime.fromisoformat(event["at"].replace("Z", "+00:00")) >= restarted_at
        assert event["data"]["waited_seconds"] >= 6.0
    finally:
        server.stop()


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
