#!/usr/bin/env python
"""Benchmark the HTTP intake: durable alarms per second and ACK latency.

What it measures, per database kind (SQLite and/or PostgreSQL):

* **Intake**: N concurrent senders, each in a closed loop, ``POST /api/v1/alarms`` to a real
  ``respons serve`` process. A 202 is only sent after the alarm's journal batch is committed
  (DESIGN.md invariant 1), so "ACKed alarms per second" is "durable alarms per second".
  Latency is measured from just before the request is sent until its 202 has been read.
* **Reference**, same run, same database, same machine, same engine settings
  (``respons.store.db.make_engine``; SQLite in WAL with ``synchronous=FULL``):
  - raw durable insert rate: one ``alarms`` row per transaction, committed each time,
    one connection in one thread (the classic "one fsync per event" design);
  - batched insert rate: 100 rows per commit (an upper bound for plain inserts);
  - the real unit of work (``receive_http_alarm``: device lookup, idempotency check,
    alarm + 2 timeline events + projection update + timer), one per commit, no HTTP.
  The report gives intake throughput / raw single-row commit rate: how much the journal's
  group commit buys over committing each event alone.

Usage::

    .venv/bin/python bench/intake_http.py --db both --senders 1,16,64 --seconds 8

Results are printed as a table and written to ``bench/results/intake_http-<db>-<UTC>.json``.
This is a benchmark, not a test: it asserts nothing except that no ACKed alarm is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import platform
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url

import profiling  # bench/profiling.py, beside this script
from respons.auth import accounts
from respons.domain.alarm_types import alarm_type
from respons.domain.identity import synthetic_national_id
from respons.intake.http import AlarmIn, receive_http_alarm
from respons.store.db import WRITE, make_engine
from respons.store.migrate import upgrade
from respons.store.quarantine import RawInput
from respons.store.tables import alarms, centres, devices, municipalities, recipients

console = Console() if sys.stdout.isatty() else Console(width=150)

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUTTON = alarm_type("button_press")
# Every alarm the load generator sends is stored with this key prefix, so the final count
# can tell them apart from the rows the reference loops insert.
LOAD_KEY_PREFIX = "load-"


# --- small helpers ---------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 in proc(5)); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies over all cores from /proc/stat: is the whole machine saturated?"""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_facts() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    return {
        "nproc": nproc,
        "cpu_model": cpu_model,
        "mem_total_gib": mem_total_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite_library": sqlite3.sqlite_version,
        "loadavg_at_start": os.getloadavg(),
    }


def filesystem_of(path: Path) -> dict[str, str] | None:
    """The mount (device, fs type) holding ``path``: a tmpfs would make fsync free."""
    best: tuple[str, str, str] | None = None
    target = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount_point, fs_type = line.split()[:3]
            if target == mount_point or target.startswith(mount_point.rstrip("/") + "/"):
                if best is None or len(mount_point) > len(best[1]):
                    best = (device, mount_point, fs_type)
    except OSError:
        return None
    return {"device": best[0], "mount_point": best[1], "fs_type": best[2]} if best else None


HOT_PATH = [
    "store/journal.py", "store/db.py", "store/alarms.py", "engine/receiving.py", "engine/timeline.py",
    "engine/routing.py", "engine/timers.py", "intake/http.py", "intake/devices.py", "web/api/intake.py",
]


def source_digests() -> dict[str, str]:
    """sha256 (first 12 hex) of the files an alarm passes through: which code was measured."""
    import respons

    root = Path(respons.__file__).parent
    digests = {}
    for name in HOT_PATH:
        try:
            digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()[:12]
        except OSError:
            digests[name] = "missing"
    return digests


# --- fixture ---------------------------------------------------------------------------


# Set by insert_fixture: the intake token every sender presents.
AUTH_HEADERS: dict[str, str] = {}


def insert_fixture(engine: Engine, n_recipients: int, seed: int = 42) -> dict[str, Any]:
    """One centre, one municipality, n synthetic recipients with one ``http`` device each."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        centre_id = conn.execute(
            insert(centres).values(name="Benchmark-senteret", created_at=now)
        ).inserted_primary_key[0]
        municipality_id = conn.execute(
            insert(municipalities).values(
                number="9999", name="Benchmark kommune", population=50000, role="host",
                centre_id=centre_id, created_at=now,
            )
        ).inserted_primary_key[0]
        seen: set[str] = set()
        rows = []
        for i in range(n_recipients):
            birth = date(1925, 1, 1) + timedelta(days=rng.randrange(0, 35 * 365))
            while True:
                nid = synthetic_national_id(birth, rng)
                if nid not in seen:
                    seen.add(nid)
                    break
            rows.append(
                dict(
                    municipality_id=municipality_id, national_id=nid, given_name=f"Test{i}",
                    family_name="Benchmark", birth_date=birth, address=f"Testveien {i + 1}",
                    postal_code="4600", city="Testby", created_at=now, updated_at=now,
                )
            )
        conn.execute(insert(recipients), rows)
        recipient_ids = conn.execute(
            select(recipients.c.id).where(recipients.c.municipality_id == municipality_id).order_by(recipients.c.id)
        ).scalars().all()
        identities = [f"BENCH-{i:05d}" for i in range(len(recipient_ids))]
        conn.execute(
            insert(devices),
            [
                dict(
                    municipality_id=municipality_id, recipient_id=rid, kind="safety_alarm", protocol="http",
                    identity=identity, created_at=now,
                )
                for rid, identity in zip(recipient_ids, identities)
            ],
        )
        device_rows = conn.execute(select(devices.c.id, devices.c.recipient_id)).all()
        # The intake needs an API token of the devices' municipality, as a vendor would hold.
        AUTH_HEADERS["Authorization"] = "Bearer " + accounts.create_token(
            conn, name="Benchmark vendor", municipality_id=municipality_id, purpose="intake", actor="bench",
            created_by=None, now=now,
        )[1]
    return {
        "municipality_id": municipality_id,
        "identities": identities,
        "device_pairs": [(r.id, r.recipient_id) for r in device_rows],
    }


# --- reference: the database's own durable insert rate ---------------------------------


def _alarm_row(fixture: dict[str, Any], rng: random.Random, source: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    device_id, recipient_id = rng.choice(fixture["device_pairs"])
    return dict(
        id=str(uuid.uuid4()), municipality_id=fixture["municipality_id"], recipient_id=recipient_id,
        device_id=device_id, type=BUTTON.code, category=BUTTON.category.value, priority=int(BUTTON.priority),
        source=source, occurred_at=now, received_at=now, payload={"battery": 81, "signal": -71},
        idempotency_scope=None, idempotency_key=None, request_fingerprint=uuid.uuid4().hex * 2,
        state="queued", seq=2,
    )


def raw_insert_rate(engine: Engine, fixture: dict[str, Any], seconds: float, rows_per_commit: int) -> dict[str, Any]:
    """One thread, one connection, ``rows_per_commit`` alarm rows per durable commit."""
    rng = random.Random(1)
    rows = commits = 0
    with engine.connect().execution_options(**WRITE) as conn:
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            batch = [_alarm_row(fixture, rng, "bench-raw") for _ in range(rows_per_commit)]
            with conn.begin():
                if rows_per_commit == 1:
                    conn.execute(insert(alarms).values(**batch[0]))
                else:
                    conn.execute(insert(alarms), batch)
            rows += rows_per_commit
            commits += 1
        elapsed = time.perf_counter() - start
    return {
        "rows_per_commit": rows_per_commit,
        "seconds": round(elapsed, 3),
        "rows": rows,
        "commits": commits,
        "rows_per_s": rows / elapsed,
        "commits_per_s": commits / elapsed,
        "mean_commit_ms": 1000.0 * elapsed / commits,
    }


def unit_of_work_rate(engine: Engine, fixture: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The intake's real unit of work, one per commit, in-process (no HTTP, no journal thread).

    Shaped like a journal batch of one: BEGIN (IMMEDIATE on SQLite), SAVEPOINT, the unit,
    RELEASE, COMMIT.
    """
    rng = random.Random(2)
    n = 0
    run = uuid.uuid4().hex[:8]
    with engine.connect().execution_options(**WRITE) as conn:
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            now = datetime.now(timezone.utc)
            body = {
                "device": rng.choice(fixture["identities"]), "type": BUTTON.code, "occurred_at": now.isoformat(),
                "idempotency_key": f"ref-{run}-{n}", "payload": {"battery": 81, "signal": -71},
            }
            raw_body = json.dumps(body).encode()
            alarm = AlarmIn.model_validate_json(raw_body)
            raw = RawInput(source="http", body=raw_body, content_type="application/json", remote_addr="127.0.0.1")
            with conn.begin():
                with conn.begin_nested():
                    receive_http_alarm(
                        conn, alarm, raw, municipality_id=fixture["municipality_id"],
                        idempotency_key=alarm.idempotency_key, now=now,
                        answer_deadline=timedelta(days=1),
                    )
            n += 1
        elapsed = time.perf_counter() - start
    return {"seconds": round(elapsed, 3), "units": n, "units_per_s": n / elapsed, "mean_ms": 1000.0 * elapsed / n}


# --- the server ------------------------------------------------------------------------


class Server:
    """``respons serve`` in a subprocess, with its own process group."""

    def __init__(self, database_url: str, window_ms: float, workdir: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.env = dict(
            os.environ,
            RESPONS_DATABASE_URL=database_url,
            RESPONS_JOURNAL_WINDOW_MS=str(window_ms),
            # No answer deadline may fall due during the run: the timer worker would then add
            # "answer time exceeded" events to the journal and the numbers would mix two loads.
            RESPONS_ANSWER_DEADLINE_SECONDS="86400",
            RESPONS_HOST="127.0.0.1",
            RESPONS_PORT=str(self.port),
        )
        self.command = [sys.executable, "-m", "respons.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.log_path, "wb")
        # cwd is the temp dir so that no stray .env in the checkout changes the settings.
        self.proc = subprocess.Popen(
            self.command, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s:\n{self.log_tail()}")

    def health(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            response = client.get("/healthz")
            response.raise_for_status()
            return response.json()

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully; the journal drains
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


# --- the load --------------------------------------------------------------------------
#
# Every sender owns one keep-alive connection, opened (and used once for GET /healthz)
# before the clock starts, so client construction and TCP set-up are not in the figures.
# Two clients are available:
#   raw   – a minimal HTTP/1.1 client on asyncio streams (default). On a 2-core machine the
#           load generator shares the CPU with the server; this one costs a fraction of httpx.
#   httpx – httpx.AsyncClient, one per sender: what a Python integrator would write.


class RawHTTPConnection:
    """Just enough HTTP/1.1 for this benchmark: keep-alive, Content-Length bodies."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in AUTH_HEADERS.items())
            + "\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            return status, b"".join(parts)
        return status, (await self.reader.readexactly(length) if length else b"")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass


class HttpxConnection:
    def __init__(self, base_url: str):
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits)

    async def open(self) -> None:
        pass

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        response = await self.client.request(
            method, path, content=body or None,
            headers={"Content-Type": "application/json", **AUTH_HEADERS} if body else dict(AUTH_HEADERS)
        )
        return response.status_code, response.content

    async def close(self) -> None:
        await self.client.aclose()


async def _sender(
    conn, index: int, identities: list[str], key_prefix: str, start: asyncio.Event, deadline: list[float],
    latencies: list[float], errors: Counter, duplicates: list[int],
) -> None:
    rng = random.Random(index)
    await start.wait()
    i = 0
    while time.perf_counter() < deadline[0]:
        body = json.dumps(
            {
                "device": rng.choice(identities),
                "type": "button_press",
                "occurred_at": datetime.now(timezone.utc).isoformat(),
                "idempotency_key": f"{key_prefix}{index}-{i}",
                "payload": {"battery": rng.randint(20, 100), "signal": -rng.randint(50, 100)},
            }
        ).encode()
        i += 1
        sent = time.perf_counter()
        try:
            status, content = await conn.request("POST", "/api/v1/alarms", body)
        except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[f"exception:{exc.__class__.__name__}"] += 1
            await asyncio.sleep(0.01)
            continue
        acked = time.perf_counter()
        if status == 202:
            latencies.append(acked - sent)
            if b'"duplicate":true' in content:
                duplicates[0] += 1
        else:
            errors[str(status)] += 1


async def _load(client: str, base_url: str, senders: int, seconds: float, identities: list[str], key_prefix: str):
    url = httpx.URL(base_url)
    conns = [
        RawHTTPConnection(url.host, url.port) if client == "raw" else HttpxConnection(base_url) for _ in range(senders)
    ]
    try:
        for conn in conns:  # connect and warm every connection before the clock starts
            await conn.open()
            status, _ = await conn.request("GET", "/healthz")
            if status != 200:
                raise RuntimeError(f"/healthz answered {status}")
        latencies: list[float] = []
        errors: Counter = Counter()
        duplicates = [0]
        start_event = asyncio.Event()
        deadline = [0.0]
        tasks = [
            asyncio.create_task(
                _sender(conn, i, identities, key_prefix, start_event, deadline, latencies, errors, duplicates)
            )
            for i, conn in enumerate(conns)
        ]
        await asyncio.sleep(0)  # let every sender reach the start line
        start = time.perf_counter()
        deadline[0] = start + seconds
        start_event.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    finally:
        for conn in conns:
            await conn.close()
    return latencies, errors, duplicates[0], elapsed


def run_load(client: str, base_url: str, senders: int, seconds: float, identities: list[str], key_prefix: str):
    coroutine = _load(client, base_url, senders, seconds, identities, key_prefix)
    try:
        import uvloop  # the server runs on uvloop too (uvicorn's default when installed)
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def load_step(
    server: Server, client: str, senders: int, seconds: float, identities: list[str], run_id: str, label: str,
    profile: Path | None = None, gil_only: bool = False,
) -> dict[str, Any]:
    before = server.health()["journal"]
    server_cpu0, client_cpu0, machine0 = server.cpu_seconds(), own_cpu_seconds(), machine_cpu_times()
    spy = None
    if profile is not None:

        spy = profiling.record(server.proc.pid, seconds, profile, gil_only=gil_only)
    latencies, errors, duplicates, elapsed = run_load(
        client, server.base_url, senders, seconds, identities, f"{LOAD_KEY_PREFIX}{run_id}-{label}-"
    )
    if spy is not None:
        spy.wait(timeout=60)
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu0, own_cpu_seconds() - client_cpu0
    machine1 = machine_cpu_times()
    machine_busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])
    after = server.health()["journal"]
    latencies.sort()
    batches = after["batches"] - before["batches"]
    units = after["units"] - before["units"]
    ms = lambda v: None if v is None else round(v * 1000.0, 3)  # noqa: E731
    step = {
        "senders": senders,
        "seconds": round(elapsed, 3),
        "acked": len(latencies),
        "errors": dict(errors),
        "duplicates": duplicates,
        "alarms_per_s": len(latencies) / elapsed,
        "latency_ms": {
            "mean": ms(sum(latencies) / len(latencies)) if latencies else None,
            "p50": ms(percentile(latencies, 50)),
            "p90": ms(percentile(latencies, 90)),
            "p99": ms(percentile(latencies, 99)),
            "max": ms(latencies[-1] if latencies else None),
        },
        "journal": {
            "batches": batches,
            "units": units,  # includes the timer worker's polls (about two per second)
            "mean_batch": units / batches if batches else None,
            "largest_batch_so_far": after["largest_batch"],
        },
        "cpu": {
            "server_ms_per_alarm": round(1000.0 * server_cpu / max(1, len(latencies)), 4),
            "server_percent_of_one_core": round(100.0 * server_cpu / elapsed, 1),
            "load_generator_percent_of_one_core": round(100.0 * client_cpu / elapsed, 1),
            # everything on the machine (server, load generator, PostgreSQL, anybody else) over all cores
            "machine_busy_percent_of_all_cores": round(100.0 * machine_busy, 1),
        },
    }
    if profile is not None and profile.exists():

        step["profile"] = profiling.summary(profile)
    return step


# --- one database ----------------------------------------------------------------------


def database_facts(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return {
                "kind": "sqlite",
                "version": conn.exec_driver_sql("select sqlite_version()").scalar_one(),
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
                ),
            }
        facts = {"kind": "postgresql", "version": conn.execute(text("select version()")).scalar_one()}
        for setting in (
            "server_version", "synchronous_commit", "fsync", "wal_sync_method", "full_page_writes",
            "commit_delay", "shared_buffers", "data_directory",
        ):
            facts[setting] = conn.execute(text(f"show {setting}")).scalar_one()
        return facts


def fresh_database(kind: str, cleanup: ExitStack, *, pg_admin_url: str, sqlite_path: Path) -> tuple[str, dict[str, Any]]:
    """A new, empty database for one run: a SQLite file at ``sqlite_path``, or a PostgreSQL
    database created through ``pg_admin_url`` and dropped when ``cleanup`` closes (also after a
    failure or Ctrl-C). Returns its URL and where it is, for the result."""
    if kind == "sqlite":
        return f"sqlite:///{sqlite_path}", {"path": str(sqlite_path), "filesystem": filesystem_of(sqlite_path.parent)}
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    cleanup.callback(admin.dispose)
    name = f"respons_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        console.print(f"[dim]dropped database {name}[/dim]")

    cleanup.callback(drop)
    return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False), {"database": name}


def fresh_engine(kind: str, cleanup: ExitStack, *, pg_admin_url: str, sqlite_path: Path) -> tuple[Engine, dict[str, Any]]:
    """``fresh_database`` migrated to the newest schema, and an engine on it (disposed when
    ``cleanup`` closes), for a benchmark that works in its own process."""
    url, where = fresh_database(kind, cleanup, pg_admin_url=pg_admin_url, sqlite_path=sqlite_path)
    upgrade(url)
    engine = make_engine(url)
    cleanup.callback(engine.dispose)
    return engine, where


def bench_database(kind: str, args: argparse.Namespace, workdir: Path, run_id: str) -> dict[str, Any]:
    started_at = datetime.now(timezone.utc)
    result: dict[str, Any] = {
        "benchmark": "intake_http",
        "db": kind,
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, *sys.argv],
        "config": {
            "senders": args.senders, "seconds": args.seconds, "window_ms": args.window_ms,
            "recipients": args.recipients, "ref_seconds": args.ref_seconds, "warmup_seconds": args.warmup_seconds,
            "server_env": {"RESPONS_JOURNAL_WINDOW_MS": str(args.window_ms), "RESPONS_ANSWER_DEADLINE_SECONDS": "86400"},
            "client": args.client,
            "load_generator": "one process, asyncio (uvloop if installed), one keep-alive connection per sender, "
            "opened before the clock starts; client "
            + ("minimal HTTP/1.1 on asyncio streams" if args.client == "raw" else "httpx.AsyncClient per sender"),
        },
        "machine": machine_facts(),
        "source_sha256": source_digests(),
    }
    with ExitStack() as cleanup:
        url, result["database_location"] = fresh_database(kind, cleanup, pg_admin_url=args.pg_admin_url,
                                                          sqlite_path=workdir / "respons-bench.db")

        console.rule(f"[bold]{kind}")
        console.print("migrating and inserting the fixture …")
        upgrade(url)
        engine = make_engine(url)
        cleanup.callback(engine.dispose)
        fixture = insert_fixture(engine, args.recipients)
        result["database"] = database_facts(engine)

        console.print(f"reference: raw single-row commits for {args.ref_seconds} s …")
        reference = {"single_row": raw_insert_rate(engine, fixture, args.ref_seconds, 1)}
        console.print(f"reference: 100 rows per commit for {args.ref_seconds} s …")
        reference["batch_100"] = raw_insert_rate(engine, fixture, args.ref_seconds, 100)
        console.print(f"reference: the intake's unit of work, one per commit, for {args.ref_seconds} s …")
        reference["unit_of_work"] = unit_of_work_rate(engine, fixture, args.ref_seconds)
        result["reference"] = reference
        engine.dispose()  # the server is now the only client of the database

        server = Server(url, args.window_ms, workdir)
        cleanup.callback(server.stop)
        console.print(f"starting {' '.join(server.command[1:])} (window {args.window_ms} ms) …")
        server.start()
        if args.warmup_seconds > 0:
            console.print(f"warm-up: {min(8, max(args.senders))} senders for {args.warmup_seconds} s (not recorded) …")
            warm = load_step(server, args.client, min(8, max(args.senders)), args.warmup_seconds, fixture["identities"], run_id, "warmup")
            total_acked = warm["acked"]
        else:
            total_acked = 0
        steps = []
        for senders in args.senders:
            console.print(f"load: {senders} senders for {args.seconds} s …")
            step = load_step(server, args.client, senders, args.seconds, fixture["identities"], run_id, f"s{senders}",
                             profiling.kept(args.out_dir, f"intake_http-profile-{kind}-{senders}") if args.profile else None,
                             gil_only=args.profile_gil)
            step["ratio_to_raw_single_row"] = step["alarms_per_s"] / reference["single_row"]["rows_per_s"]
            steps.append(step)
            total_acked += step["acked"]
            time.sleep(0.5)
        result["steps"] = steps
        health = server.health()
        server.stop()

        # Sanity: every 202 must be a row (invariant 1). Read after the server has stopped.
        engine = make_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).select_from(alarms).where(alarms.c.idempotency_key.like(f"{LOAD_KEY_PREFIX}{run_id}-%"))
            ).scalar_one()
        engine.dispose()
        result["sanity"] = {
            "acked_202_total_incl_warmup": total_acked,
            "alarms_in_database": stored,
            "ok": stored >= total_acked,
            "final_journal_stats": health["journal"],
            "timers_fired": health.get("timers_fired"),
        }
        best = max(steps, key=lambda s: s["alarms_per_s"])
        result["summary"] = {
            "best_alarms_per_s": best["alarms_per_s"],
            "at_senders": best["senders"],
            "p50_ms": best["latency_ms"]["p50"],
            "p99_ms": best["latency_ms"]["p99"],
            "raw_single_row_commits_per_s": reference["single_row"]["rows_per_s"],
            "ratio_best_intake_to_raw_single_row": best["alarms_per_s"] / reference["single_row"]["rows_per_s"],
        }
        result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return result


# --- output ----------------------------------------------------------------------------


def print_result(result: dict[str, Any]) -> None:
    db = result["database"]
    ref = result["reference"]
    version = db.get("server_version") or db.get("version")
    durability = (
        f"journal_mode={db['journal_mode']} synchronous={db['synchronous']}"
        if db["kind"] == "sqlite"
        else f"synchronous_commit={db['synchronous_commit']} fsync={db['fsync']} wal_sync_method={db['wal_sync_method']}"
    )
    table = Table(title=f"HTTP intake on {db['kind']} {version} ({durability}), window {result['config']['window_ms']} ms")
    for column in ("senders", "ACKed", "alarms/s", "p50 ms", "p99 ms", "max ms", "mean batch", "× raw", "server CPU", "client CPU", "machine busy", "errors"):
        table.add_column(column, justify="right")
    for s in result["steps"]:
        lat = s["latency_ms"]
        table.add_row(
            str(s["senders"]), str(s["acked"]), f"{s['alarms_per_s']:.0f}", f"{lat['p50']:.1f}", f"{lat['p99']:.1f}",
            f"{lat['max']:.1f}", f"{s['journal']['mean_batch']:.1f}" if s["journal"]["mean_batch"] else "-",
            f"{s['ratio_to_raw_single_row']:.2f}", f"{s['cpu']['server_percent_of_one_core']:.0f} %",
            f"{s['cpu']['load_generator_percent_of_one_core']:.0f} %", f"{s['cpu']['machine_busy_percent_of_all_cores']:.0f} %",
            str(sum(s["errors"].values())),
        )
    console.print(table)
    refs = Table(title=f"Reference on the same {db['kind']} database, one thread, make_engine settings")
    for column in ("what", "rate", "mean per commit"):
        refs.add_column(column, justify="right")
    refs.add_row("1 alarms row per commit", f"{ref['single_row']['rows_per_s']:.0f} rows/s", f"{ref['single_row']['mean_commit_ms']:.2f} ms")
    refs.add_row("100 alarms rows per commit", f"{ref['batch_100']['rows_per_s']:.0f} rows/s", f"{ref['batch_100']['mean_commit_ms']:.2f} ms")
    refs.add_row("intake unit of work per commit (no HTTP)", f"{ref['unit_of_work']['units_per_s']:.0f} alarms/s", f"{ref['unit_of_work']['mean_ms']:.2f} ms")
    console.print(refs)
    summary, sanity = result["summary"], result["sanity"]
    console.print(
        f"best: [bold]{summary['best_alarms_per_s']:.0f} alarms/s[/bold] at {summary['at_senders']} senders "
        f"(p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms) = "
        f"[bold]{summary['ratio_best_intake_to_raw_single_row']:.2f}×[/bold] the raw single-row commit rate "
        f"({summary['raw_single_row_commits_per_s']:.0f}/s)"
    )
    colour = "green" if sanity["ok"] else "red"
    console.print(
        f"[{colour}]sanity: {sanity['acked_202_total_incl_warmup']} ACKed (202), "
        f"{sanity['alarms_in_database']} load alarms in the database[/{colour}]"
    )


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(result["started_at"]).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"intake_http-{result['db']}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


# --- command line ----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="HTTP intake benchmark: durable alarms/s and ACK latency for concurrent senders, "
        "against the same database's raw durable insert rate.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--senders", default="1,8,32,64", help="comma-separated concurrent sender counts, one step each")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load step")
    parser.add_argument("--window-ms", type=float, default=2.0, help="journal group-commit window (RESPONS_JOURNAL_WINDOW_MS)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="load generator: raw = minimal HTTP/1.1 on asyncio streams (cheap on CPU), httpx = httpx.AsyncClient")
    parser.add_argument("--recipients", type=int, default=500, help="synthetic recipients, one http device each")
    parser.add_argument("--profile", action="store_true",
                        help="sample the server with py-spy during each step; the summary goes in the result")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL (Python's own CPU)")
    parser.add_argument("--ref-seconds", type=float, default=3.0, help="duration of each reference insert loop")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="unrecorded warm-up load before the steps")
    parser.add_argument("--pg-admin-url", default=os.environ.get("RESPONS_BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN_URL),
                        help="PostgreSQL URL used to CREATE and DROP the benchmark database (env RESPONS_BENCH_POSTGRES_URL)")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite file and server logs go (default: system temp)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON results are written")
    args = parser.parse_args(argv)
    try:
        args.senders = [int(s) for s in args.senders.split(",") if s.strip()]
    except ValueError:
        parser.error("--senders takes comma-separated integers, e.g. 1,8,32,64")
    if not args.senders or min(args.senders) < 1:
        parser.error("--senders needs at least one positive count")
    return args


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    run_id = uuid.uuid4().hex[:8]
    written = []
    try:
        for kind in kinds:
            with tempfile.TemporaryDirectory(prefix=f"respons-bench-{kind}-", dir=args.tmpdir) as tmp:
                result = bench_database(kind, args, Path(tmp), run_id)
            print_result(result)
            written.append(write_result(result, args.out_dir))
    except KeyboardInterrupt:
        console.print("[red]interrupted; server stopped and benchmark database dropped[/red]")
        return 130
    for path in written:
        console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
