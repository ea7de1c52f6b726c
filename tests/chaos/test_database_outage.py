"""PostgreSQL goes away under a real ``respons serve`` while alarms arrive at ~20/s.

Backends are terminated (``pg_terminate_backend``: a failover, a restart, an administrator)
and the database refuses connections for a few seconds (``ALLOW_CONNECTIONS false``).
Senders retry with their idempotency keys, as a vendor must. Asserted: not one 500 (the
answer is 503 with Retry-After, or the connection drops), not one false 202 (every 202'd
alarm is stored under its id, and retries made no duplicates), /readyz says so during the
outage and recovers without a restart, and the log does not fill with tracebacks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from respons.store.db import make_engine
from respons.store.tables import alarms
from tests.chaos.server import ServerProcess, free_port
from tests.databases import POSTGRES_ADMIN_URL
from tests.factories import seed_registry

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SENDERS = 4
PER_SENDER_PER_SECOND = 5  # 20 alarms/s in all


class Sender(threading.Thread):
    def __init__(self, index: int, url: str, devices: list[str], token: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.index, self.url, self.devices, self.stop_sending = index, url, devices, stop
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acked: dict[str, str] = {}
        self.statuses: Counter = Counter()
        self.bad: list[str] = []  # anything but 202 and 503 (with Retry-After)

    def send_until_acked(self, client: httpx.Client, key: str, device: str) -> None:
        body = {"device": device, "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat(),
                "idempotency_key": key}
        while True:
            try:
                response = client.post(self.url + "/api/v1/alarms", json=body, headers=self.headers)
            except httpx.TransportError:
                self.statuses["transport"] += 1
            else:
                self.statuses[response.status_code] += 1
                if response.status_code == 202:
                    self.acked[key] = response.json()["alarm_id"]
                    return
                if response.status_code != 503 or "retry-after" not in response.headers:
                    self.bad.append(f"{response.status_code} {response.text[:200]}")
            time.sleep(0.1)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not self.stop_sending.is_set():
                started = time.monotonic()
                self.send_until_acked(client, f"o{self.index}-{n}", self.devices[n % len(self.devices)])
                n += 1
                time.sleep(max(0.0, 1 / PER_SENDER_PER_SECOND - (time.monotonic() - started)))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_terminated_backends_and_refused_connections_give_no_500_and_no_false_202(migrated_url, tmp_path):
    setup = make_engine(migrated_url)
    registry = seed_registry(setup, municipalities_count=1, recipients_per=10)
    setup.dispose()
    name = make_url(migrated_url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def sql(statement: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(statement))

    def terminate() -> None:
        sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    log_path = tmp_path / "server.log"
    server = ServerProcess(migrated_url, free_port(), log_path, journal_window_ms=2, readiness_probe_seconds=0.5)
    server.start()
    stop = threading.Event()
    token = registry.intake_tokens[registry.municipality_ids[0]]
    senders = [Sender(i, server.url, registry.device_identities, token, stop) for i in range(SENDERS)]
    health_during_outage: list[tuple[str, int, str | None]] = []
    try:
        for s in senders:
            s.start()
        time.sleep(2)
        terminate()
        time.sleep(2)
        terminate()
        time.sleep(1)
        sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        terminate()
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # refused for ~4 s
            for path in ("/readyz", "/healthz", "/livez"):
                response = httpx.get(server.url + path, timeout=5)
                health_during_outage.append((path, response.status_code, response.json().get("reason")))
            time.sleep(0.25)
        sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        time.sleep(2)
        terminate()
        time.sleep(3)
        stop.set()
        for s in senders:
            s.join(30)
            assert not s.is_alive(), "a sender never got its 202 after the outage"
        ready = httpx.get(server.url + "/readyz", timeout=5)
        deadline = time.monotonic() + 10
        while ready.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = httpx.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 200, f"/readyz did not recover without a restart: {ready.text}"
    finally:
        stop.set()
        sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        server.stop()
        admin.dispose()

    statuses = sum((s.statuses for s in senders), Counter())
    bad = [b for s in senders for b in s.bad]
    assert not bad, f"{len(bad)} answers were neither 202 nor 503 with Retry-After: {bad[:5]}"
    assert statuses[503] + statuses["transport"] > 0, f"the outage was not felt: {statuses}"
    assert statuses[500] == 0
    acked = {k: v for s in senders for k, v in s.acked.items()}
    assert len(acked) >= 150, f"about 20 alarms/s for ~15 s: {len(acked)} acknowledged ({statuses})"

    check = make_engine(migrated_url)
    with check.connect() as conn:
        stored = dict(conn.execute(select(alarms.c.idempotency_key, alarms.c.id)).all())
    check.dispose()
    missing = {k for k in acked if stored.get(k) != acked[k]}
    assert not missing, f"{len(missing)} acknowledged alarms are missing or changed: {sorted(missing)[:5]}"
    assert stored == acked, "every stored alarm acknowledged once under its key: no duplicates, no strays"

    during = Counter((path, status) for path, status, _ in health_during_outage)
    assert not [h for h in health_during_outage if h[1] not in (200, 503)], health_during_outage
    assert during[("/readyz", 503)] > 0 and during[("/healthz", 503)] > 0, during
    assert {reason for path, status, reason in health_during_outage if path == "/readyz" and status == 503} <= {
        "database_unreachable", "journal_stalled"}
    assert during[("/livez", 503)] == 0, "the process runs: no restart wanted"

    log = log_path.read_text(errors="replace")
    assert log.count("Traceback") <= 2, f"an outage is logged by state changes, not tracebacks:\n{log[-3000:]}"
    assert log.count("not ready: database_unreachable") <= 3, log[-3000:]
