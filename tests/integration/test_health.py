"""Health and database faults, for real: a read-only SQLite file, a full disk (a small tmpfs),
PostgreSQL refusing connections. /readyz follows the state and recovers without a restart;
every request the database cannot serve is a 503 with Retry-After, never a 500; one log line
per state change, not a traceback per failed batch.

The read-only and full-disk tests mount file systems and so need root (CI and this machine
run as root); elsewhere they skip and say why.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.db import make_engine
from respons.store.migrate import upgrade
from respons.store.tables import alarms, node_heartbeats
from respons.web.app import create_app
from tests.databases import POSTGRES_ADMIN_URL
from tests.factories import add_user, log_in, seed_registry

PROBE_SECONDS = 0.2


def _app(url: str, clock, *, background: bool = True):
    # With the background workers, as `respons serve` runs: the probe is periodic.
    return create_app(Settings(database_url=url, journal_window_ms=1, readiness_probe_seconds=PROBE_SECONDS,
                               cookie_secure=False), clock, run_timers=background)


def _wait_for(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _readiness(client) -> tuple[int, str | None]:
    response = client.get("/readyz")
    return response.status_code, response.json().get("reason")


def _alarm(registry, key: str) -> dict:
    return {"device": registry.device_identities[0], "type": "fall", "occurred_at": "2026-11-23T01:59:58Z",
            "idempotency_key": key}


def _intake_headers(registry) -> dict[str, str]:
    return {"Authorization": f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"}


def _respons_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("respons")]


def _run(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, capture_output=True, text=True)


def _need_mounts() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only bind or a small tmpfs")


# --- the node answers -------------------------------------------------------------------------


def test_livez_readyz_and_healthz_while_the_database_commits(migrated_url, clock, engine):
    with TestClient(_app(migrated_url, clock), base_url="https://testserver") as client:
        _wait_for(lambda: _readiness(client)[0] == 200, "the first probe to commit")
        assert client.get("/livez").json()["status"] == "live"
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready"
        assert ready["live"] is True, "the node hears every node (PostgreSQL: its relay listens)"
        client.app.state.runtime.live.close()
        assert client.get("/readyz").json()["live"] is False, "a stopping node's screens are not live"
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["journal"]["batches"] >= 1
        with engine.connect() as conn:
            beats = conn.execute(select(node_heartbeats)).all()
        assert len(beats) == 1, "the probe writes one row for this node"


# --- SQLite: read-only file -------------------------------------------------------------------


@contextmanager
def _read_only(path: Path):
    """Bind-mount the database file read-only over itself: writes fail with SQLITE_READONLY
    for every connection opened from now on (root is not stopped by chmod)."""
    result = _run(f"mount --bind {path} {path} && mount -o remount,bind,ro {path}")
    if result.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {result.stderr.strip()}")
    try:
        yield
    finally:
        # Lazy: connections still holding the read-only file do not keep the mount; the path
        # is the writable file again at once.
        _run(f"umount -l {path}")


def test_read_only_sqlite_is_not_ready_answers_503_logs_once_and_recovers(tmp_path, clock, caplog):
    _need_mounts()
    url = f"sqlite:///{tmp_path / 'respons.db'}"
    upgrade(url)
    seed_engine = make_engine(url)
    registry = seed_registry(seed_engine, municipalities_count=1, recipients_per=2)
    seed_engine.dispose()
    caplog.set_level(logging.INFO)
    with _read_only(tmp_path / "respons.db"):
        with TestClient(_app(url, clock), base_url="https://testserver") as client:
            assert _wait_for(lambda: _readiness(client)[1] == "read_only", "/readyz to say read_only")
            unready = client.get("/readyz")
            assert unready.status_code == 503 and unready.headers["Retry-After"]
            assert client.get("/healthz").status_code == 503, "/healthz is /readyz"
            assert client.get("/livez").status_code == 200, "the process runs: no restart wanted"

            refused = client.post("/api/v1/alarms", json=_alarm(registry, "ro-1"), headers=_intake_headers(registry))
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"]
            assert "INSERT" not in refused.text and "sqlite" not in refused.text.lower(), "no driver text for senders"

            time.sleep(10 * PROBE_SECONDS)  # ten probes and more batches fail meanwhile
            scraped = client.get("/metrics").text
            assert 'respons_journal_failed_batches_total{reason="read_only"}' in scraped
            assert "respons_ready 0.0" in scraped
            records = _respons_records(caplog)
            assert not [r for r in records if r.exc_info], "no tracebacks for an outage"
            assert len([r for r in records if "not ready: read_only" in r.getMessage()]) == 1
            assert len([r for r in records if "does not commit" in r.getMessage()]) == 1

            # Fixed without a restart: the journal's connections are replaced after a failure.
            _run(f"umount -l {tmp_path / 'respons.db'}")
            _wait_for(lambda: _readiness(client)[0] == 200, "/readyz to recover", timeout=10)
            accepted = client.post("/api/v1/alarms", json=_alarm(registry, "ro-1"), headers=_intake_headers(registry))
            assert accepted.status_code == 202, accepted.text
            assert [r for r in _respons_records(caplog) if "ready again" in r.getMessage()]
    check = make_engine(url)
    with check.connect() as conn:
        assert conn.execute(select(alarms.c.idempotency_key)).scalars().all() == ["ro-1"]
    check.dispose()


# --- SQLite: full disk ------------------------------------------------------------------------


@contextmanager
def _small_disk(path: Path, size: str = "32m"):
    path.mkdir()
    result = _run(f"mount -t tmpfs -o size={size} respons-test {path}")
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        _run(f"umount -l {path}")


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    # Unbuffered: a buffered file that hit the full disk tries to write its buffer again when
    # it is closed, and that second ENOSPC escaped the test now and then.
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_full_disk_is_not_ready_answers_503_and_recovers_without_losing_an_acknowledged_alarm(tmp_path, clock, caplog):
    _need_mounts()
    with _small_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk / 'respons.db'}"
        upgrade(url)
        seed_engine = make_engine(url)
        registry = seed_registry(seed_engine, municipalities_count=1, recipients_per=2)
        caplog.set_level(logging.INFO)
        with TestClient(_app(url, clock), base_url="https://testserver") as client:
            _wait_for(lambda: _readiness(client)[0] == 200, "ready")
            acked = []
            assert client.post("/api/v1/alarms", json=_alarm(registry, "before"), headers=_intake_headers(registry)).status_code == 202
            acked.append("before")
            # Empty the WAL first, so the next write must grow a file on the full disk (a WAL
            # that still had room would take a few more small writes).
            with seed_engine.connect() as conn:
                _wait_for(lambda: conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0] == 0,
                          "a truncating checkpoint")
            filler = _fill(disk)

            assert _wait_for(lambda: _readiness(client)[1] == "disk_full", "/readyz to say disk_full")
            statuses = []
            for n in range(5):
                response = client.post("/api/v1/alarms", json=_alarm(registry, f"full-{n}"), headers=_intake_headers(registry))
                statuses.append(response.status_code)
                if response.status_code == 202:
                    acked.append(f"full-{n}")
            assert 500 not in statuses
            assert 503 in statuses, statuses
            assert not [r for r in _respons_records(caplog) if r.exc_info], "no tracebacks for a full disk"

            filler.unlink()
            _wait_for(lambda: _readiness(client)[0] == 200, "/readyz to recover", timeout=10)
            for n in range(5):  # the senders retry with their keys
                response = client.post("/api/v1/alarms", json=_alarm(registry, f"full-{n}"), headers=_intake_headers(registry))
                assert response.status_code == 202, response.text
                acked.append(f"full-{n}")
        with seed_engine.connect() as conn:
            stored = conn.execute(select(alarms.c.idempotency_key)).scalars().all()
        seed_engine.dispose()
    assert sorted(stored) == sorted(set(acked)), "every 202 stored, once"


# --- PostgreSQL: refusing connections -----------------------------------------------------------


@contextmanager
def _refusing(url: str):
    """ALLOW_CONNECTIONS false, and every open backend of the database terminated."""
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_refusing_connections_every_path_answers_503_and_recovers(migrated_url, clock, caplog):
    seed_engine = make_engine(migrated_url)
    registry = seed_registry(seed_engine, municipalities_count=1, recipients_per=2)
    operator = add_user(seed_engine, "olga", [(Role.OPERATOR, None)])
    seed_engine.dispose()
    caplog.set_level(logging.INFO)
    with TestClient(_app(migrated_url, clock), base_url="https://testserver") as client:
        _wait_for(lambda: _readiness(client)[0] == 200, "ready")
        csrf = log_in(client, operator, clock)
        client.cookies.set("respons_lang", "en")
        assert client.get("/console").status_code == 200
        with _refusing(migrated_url):
            # The token lookup (outside the journal) and the journal.
            intake = client.post("/api/v1/alarms", json=_alarm(registry, "pg-1"), headers=_intake_headers(registry))
            assert intake.status_code == 503 and intake.headers["Retry-After"], intake.text
            # The session lookup, for the API and for a page (in the reader's language).
            queue = client.get("/api/v1/queue")
            assert queue.status_code == 503 and queue.headers["Retry-After"], queue.text
            assert queue.json()["reason"] == "database_unreachable"
            page = client.get("/console", headers={"Accept": "text/html"})
            assert page.status_code == 503 and page.headers["Retry-After"]
            assert "text/html" in page.headers["content-type"]
            assert "The database did not answer" in page.text
            assert client.post("/api/v1/alarms/x/answer", headers=csrf).status_code == 503
            assert _wait_for(lambda: _readiness(client)[1] == "database_unreachable", "/readyz to say unreachable")
            assert client.get("/livez").status_code == 200
            time.sleep(10 * PROBE_SECONDS)
            records = _respons_records(caplog)
            assert not [r for r in records if r.exc_info], "no tracebacks for an outage"
            assert len([r for r in records if "not ready: database_unreachable" in r.getMessage()]) == 1
        _wait_for(lambda: _readiness(client)[0] == 200, "/readyz to recover without a restart", timeout=15)
        accepted = client.post("/api/v1/alarms", json=_alarm(registry, "pg-1"), headers=_intake_headers(registry))
        assert accepted.status_code == 202, accepted.text
        assert client.get("/console").status_code == 200, "the session survived the outage"
