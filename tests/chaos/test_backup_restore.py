"""docs/operations.md followed end to end: install, run, back up while the server writes,
restore into a fresh database, and check that nothing acknowledged is missing and the audit
chain is intact. Every step is the `respons` command an operator would type."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
from sqlalchemy import func, select, text

from respons.auth import audit
from respons.store.db import make_engine, write_transaction
from respons.store.tables import alarms, audit_log
from tests.chaos.server import ServerProcess, free_port
from tests.databases import fresh_postgres_database as _fresh_postgres_database
from tests.factories import seed_registry

pytestmark = pytest.mark.slow


def respons(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "respons.cli", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "RESPONS_DATABASE_URL": database_url, **env})


@pytest.fixture
def fresh_url(database_url, tmp_path):
    """A second, empty database of the same kind: where the backup is restored."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'respons.db'}"
    else:
        yield from _fresh_postgres_database()


class Sender(threading.Thread):
    """A vendor platform posting alarms one after another; remembers every 202."""

    def __init__(self, url: str, token: str, devices: list[str]):
        super().__init__(daemon=True)
        self.url, self.devices = url, devices
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acked: list[str] = []
        self.bodies: list[dict] = []  # the body of each acknowledged alarm, in order
        self.stop = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                body = {"device": self.devices[n % len(self.devices)], "type": "button_press",
                        "occurred_at": datetime.now(timezone.utc).isoformat(), "idempotency_key": f"backup-{n}"}
                response = client.post(self.url + "/api/v1/alarms", json=body, headers=self.headers)
                if response.status_code == 202:
                    self.acked.append(response.json()["alarm_id"])
                    self.bodies.append(body)
                    n += 1
                else:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                    time.sleep(0.05)


class AuditWriter(threading.Thread):
    """Another writer of the audit chain (as a CLI command or a second node would be)."""

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.engine = make_engine(database_url)
        self.stop = threading.Event()
        self.appended = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with write_transaction(self.engine) as conn:
                    audit.append(conn, now=datetime.now(timezone.utc), actor="system:test", action=audit.UPDATE,
                                 details={"n": self.appended})
                self.appended += 1
                time.sleep(0.01)
        finally:
            self.engine.dispose()


def start(server: ServerProcess, log) -> None:
    try:
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        raise AssertionError(f"{exc}:\n{log.read_text(errors='replace')[-3000:]}") from None


def wait_for(condition, what, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what()}"
        time.sleep(0.05)


def test_a_backup_taken_while_the_server_writes_restores_every_acknowledged_alarm_and_an_intact_audit_chain(
        database_url, fresh_url, tmp_path):
    # Install: the schema, then the registry, an operator and an intake token, as the docs do it.
    migrated = respons(database_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    engine = make_engine(database_url)
    registry = seed_registry(engine, municipalities_count=1, recipients_per=10)
    created = respons(database_url, "user", "create", "olga", "--name", "Olga Operatør", "--role", "operator",
                      RESPONS_NEW_PASSWORD="a-long-enough-password")
    assert created.returncode == 0, created.stderr
    issued = respons(database_url, "token", "create", "--municipality", "9000", "--name", "Leverandør")
    assert issued.returncode == 0, issued.stderr
    token = next(line for line in issued.stdout.split() if line.startswith("rsp_"))

    server = ServerProcess(database_url, free_port(), tmp_path / "server.log")
    start(server, tmp_path / "server.log")
    sender = Sender(server.url, token, registry.device_identities)
    writer = AuditWriter(database_url)
    backups = tmp_path / "backups"
    backups.mkdir()
    try:
        sender.start()
        writer.start()
        wait_for(lambda: len(sender.acked) >= 50 and writer.appended >= 20,
                 lambda: f"traffic before the backup: {len(sender.acked)} alarms ({sender.errors[-1:]}), "
                         f"{writer.appended} audit records")
        acked_before = list(sender.acked)
        audit_before = writer.appended
        made = respons(database_url, "backup", str(backups))
        acked_after = list(sender.acked)
        audit_after = writer.appended
        assert made.returncode == 0, made.stderr
        # The server and the other writer really wrote while the copy was taken.
        assert len(acked_after) > len(acked_before) and audit_after > audit_before
    finally:
        sender.stop.set()
        writer.stop.set()
        sender.join(15)
        writer.join(15)
        server.stop()
    assert sender.errors == []
    [backup_file] = list(backups.iterdir())
    assert backup_file.name.startswith("respons-") and backup_file.suffix in (".db", ".dump")
    assert not list(backups.glob("*.partial"))

    restored = respons(fresh_url, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Audit log intact" in restored.stdout
    verified = respons(fresh_url, "audit", "verify")
    assert verified.returncode == 0 and "Audit log intact" in verified.stdout, verified.stdout + verified.stderr

    copy = make_engine(fresh_url)
    try:
        with copy.connect() as conn:
            ids = set(conn.execute(select(alarms.c.id)).scalars())
            orphans = conn.execute(text(
                "select count(*) from alarms a where not exists (select 1 from alarm_events e where e.alarm_id = a.id)"
            )).scalar()
            written_by_other = conn.execute(
                select(func.count()).select_from(audit_log).where(audit_log.c.actor == "system:test")).scalar()
            own_record = conn.execute(select(audit_log.c.details).where(audit_log.c.purpose == "backup")).scalars().all()
        with engine.connect() as conn:
            in_source = set(conn.execute(select(alarms.c.id)).scalars())
    finally:
        copy.dispose()
        engine.dispose()
    # Everything acknowledged before the backup began is in it; nothing in it was invented.
    assert set(acked_before) <= ids <= in_source
    assert len(ids) < len(in_source), "the copy is a snapshot, not the database after the traffic"
    assert orphans == 0, "every alarm kept its timeline"
    assert audit_before <= written_by_other <= audit_after + 1
    assert len(own_record) == 1 and own_record[0]["what"] == "backup", "the backup is in the audit log it copied"

    # The restored installation runs: a server starts on it and takes an alarm with the same token.
    again = ServerProcess(fresh_url, free_port(), tmp_path / "restored.log")
    start(again, tmp_path / "restored.log")
    try:
        response = httpx.post(again.url + "/api/v1/alarms", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                              json={"device": registry.device_identities[0], "type": "fall",
                                    "occurred_at": datetime.now(timezone.utc).isoformat(), "idempotency_key": "after"})
        assert response.status_code == 202, response.text
        # A retransmission of an alarm acknowledged before the backup is still the same alarm.
        replay = httpx.post(again.url + "/api/v1/alarms", headers={"Authorization": f"Bearer {token}"},
                            json=sender.bodies[0], timeout=10)
        assert replay.status_code == 202 and replay.json()["alarm_id"] == acked_before[0], replay.text
    finally:
        again.stop()


def test_restore_refuses_a_database_that_holds_data_unless_told_to_replace_it(database_url, fresh_url, tmp_path):
    assert respons(database_url, "migrate").returncode == 0
    backup_file = tmp_path / "one.backup"
    assert respons(database_url, "backup", str(backup_file)).returncode == 0
    assert respons(fresh_url, "migrate").returncode == 0

    refused = respons(fresh_url, "restore", str(backup_file))
    assert refused.returncode == 1
    assert "--replace" in refused.stderr and "Traceback" not in refused.stderr

    replaced = respons(fresh_url, "restore", "--replace", str(backup_file))
    assert replaced.returncode == 0, replaced.stderr
    assert "Audit log intact: 1 records" in replaced.stdout, "the backup's own record, and only it"


def test_a_backup_that_cannot_be_written_leaves_nothing_behind_and_says_why(database_url, tmp_path):
    assert respons(database_url, "migrate").returncode == 0
    missing_folder = tmp_path / "no" / "such" / "folder" / "x.backup"
    failed = respons(database_url, "backup", str(missing_folder))
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0 and "does not exist" in failed.stderr


def test_a_database_that_cannot_be_written_is_still_backed_up_with_a_warning(tmp_path):
    """A full disk or a stuck writer must not also take the backup away; only its audit
    record is missing, and the operator is told."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'respons.db'}"
    assert respons(url, "migrate").returncode == 0
    blocker = sqlite3.connect(tmp_path / "respons.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock past the command's busy timeout
    try:
        made = respons(url, "backup", str(tmp_path / "copy.db"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert made.returncode == 0, made.stderr
    assert "not recorded in the audit log" in made.stderr
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("select count(*) from audit_log where purpose = 'backup'").fetchone() == (0,)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        copy.close()
