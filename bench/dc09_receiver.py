#!/usr/bin/env python
"""Benchmark the SIA DC-09 receiver: ACKed frames per second and ACK latency (issue 6).

What it measures, per database kind (SQLite and/or PostgreSQL) and scenario:

* **Respons**: the real ``Receiver`` (``respons.intake.dc09.receiver``) with a real
  ``Journal`` on a fresh database, in its **own server process** (one asyncio event loop on
  uvloop when installed, plus the journal's writer thread), on a free TCP port. An ACK is
  only written after the frame's unit of work is committed (DESIGN.md invariant 1), so
  "ACKed frames per second" is "durable frames per second".
* **Reference**, in the same run, immediately before: ``pysiaalarm``'s asyncio SIA server
  (``pysiaalarm.aio.SIAClient`` with one ``SIAAccount`` per account and a callback that
  does nothing), in its own server process on the same event loop implementation. It parses
  the frame, checks CRC, account and timestamp, and **ACKs on parse without storing
  anything**. So Respons ÷ pysiaalarm is the price of durability plus the taxonomy and
  routing unit of work, not a comparison of two receivers doing the same job.

The load generator runs in ``--load-procs`` separate processes (asyncio, uvloop when
installed), so it does not share the receiver's GIL. Every connection is one panel with its
own account: it sends a frame, waits for the ACK, then sends the next one with the next
sequence number (closed loop, like a real panel). Latency is from just before the frame is
written to the ACK having been read. All connections are opened before the clock starts;
a warm-up (not recorded) precedes the measured window; a frame counts for the window when
its ACK arrives inside it.

Scenarios:

* ``alarms`` (always): every connection sends ADM-CID Contact ID 1101/1100 (personal
  emergency / medical: ``button_press``, life lane).
* ``storm`` (``--storm``): a power-failure storm. Most connections send technical traffic,
  alternately Contact ID 1301 (AC loss: ``power_lost``, technical lane) and NULL link tests;
  ``--storm-assist`` connections (default 2 %) send 1101/1100 assistance alarms. The ACK
  latency of assistance alarms is reported separately from the technical frames (the
  journal fills a batch lane by lane: ``Lane.LIFE`` before ``Lane.TECHNICAL``).

After each Respons run the server is stopped (the journal drains) and the database is
checked: every ACKed alarm frame must be an ``alarms`` row (per alarm type, counted by the
receiver's idempotency scope ``sia_dc09:<account>``). A run that lost an ACKed alarm is a
failed benchmark: the script says so and exits with status 1.

Usage::

    .venv/bin/python bench/dc09_receiver.py --db both                 # 1,000 connections, 10 s
    .venv/bin/python bench/dc09_receiver.py --db sqlite --storm --connections 2000
    .venv/bin/python bench/dc09_receiver.py --db postgres --json > result.json

Results are printed as a table (``--json``: the JSON document on stdout, the table on
stderr) and written to ``bench/results/dc09_receiver-<UTC>.json``. Needs the ``bench``
extra (``pip install -e ".[test,bench]"``) for pysiaalarm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import profiling  # bench/profiling.py, beside this script

HOST = "127.0.0.1"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Frame kinds the load generator sends -> the alarm type the receiver makes of it (None: no alarm).
ALARM_TYPE_OF = {"cid_1101": "button_press", "cid_1100": "button_press", "cid_1301": "power_lost", "null": None}
CONNECT_BATCH = 50  # connections opened at once per load process (the listen backlog is 100)


def raise_nofile(wanted: int) -> int:
    """Raise the soft limit on open files towards ``wanted`` (capped at the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def emit(message: dict[str, Any]) -> None:
    """One JSON line on stdout: how the child processes talk to the orchestrator."""
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run_loop(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def loop_name() -> str:
    try:
        import uvloop

        return f"uvloop {uvloop.__version__}"
    except ImportError:
        return "asyncio"


# --- server processes ------------------------------------------------------------------
#
# Both servers print {"ready": true, "port": …} once listening, a stats line on SIGUSR1, and
# a final stats line after SIGTERM/SIGINT (Respons: after the journal has drained).


def serve_respons(config: dict[str, Any]) -> None:
    import logging

    from respons.clock import system_clock
    from respons.engine.routing import RulesCache
    from respons.intake.dc09.receiver import Receiver
    from respons.runtime import REACTIONS, settle_heap
    from respons.store.db import make_engine
    from respons.store.journal import Journal

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_nofile(config["connections"] + 1024)
    engine = make_engine(config["url"])
    # As a node builds them (respons/runtime.py): the journal with its reactions, the receiver
    # with the node's agreement-rules cache (without it every alarm reads the agreement).
    journal = Journal(engine, window_ms=config["window_ms"], max_batch=config["max_batch"], reactions=REACTIONS).start()
    # A far answer deadline: no timer is due during the run (and no timer worker runs here).
    receiver = Receiver(journal, system_clock, answer_deadline_seconds=86400, rules_cache=RulesCache())

    def stats() -> dict[str, Any]:
        s = journal.stats
        return {"batches": s.batches, "units": s.units, "largest_batch": s.largest_batch}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, lambda: emit({"journal": stats()}))
        await receiver.start(HOST, 0)
        settle_heap()  # as the server does once its node is up (web/server.py)
        emit({"ready": True, "port": receiver.tcp_port})
        await stop.wait()
        await receiver.stop()

    run_loop(main())
    journal.close(timeout=60)
    emit({"journal": stats(), "final": True})
    engine.dispose()


def serve_pysiaalarm(config: dict[str, Any]) -> None:
    import logging

    from pysiaalarm import SIAAccount
    from pysiaalarm.aio import SIAClient

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    raise_nofile(config["connections"] + 1024)

    async def main() -> None:
        async def on_event(event) -> None:  # trivial: the reference stores nothing
            return None

        # Default timeband (−40 s / +20 s, as DC-09 and our codec), no encryption keys.
        accounts = [SIAAccount(account) for account in config["accounts"]]
        client = SIAClient(HOST, 0, accounts, on_event)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, lambda: emit({"counts": vars(client.counts)}))
        await client.async_start()
        emit({"ready": True, "port": client.server.sockets[0].getsockname()[1]})
        await stop.wait()
        counts = dict(vars(client.counts))
        await client.async_stop()
        emit({"counts": counts, "final": True})

    run_loop(main())


class ServerProcess:
    """A receiver (``respons`` or ``pysiaalarm``) in a subprocess of this script."""

    def __init__(self, kind: str, config: dict[str, Any], workdir: Path):
        self.kind = kind
        self.log_path = workdir / f"server-{kind}-{uuid.uuid4().hex[:6]}.log"
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.final: dict[str, Any] | None = None

    def start(self, timeout: float = 60.0) -> None:
        config_path = self.log_path.with_suffix(".json")
        config_path.write_text(json.dumps(self.config))
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, f"_serve-{self.kind}", str(config_path)], stdout=subprocess.PIPE,
            stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, text=True, cwd=self.log_path.parent,
        )
        log.close()
        line = self._read(timeout)
        if not line.get("ready"):
            raise RuntimeError(f"{self.kind} server did not start:\n{self.log_tail()}")
        self.port = line["port"]

    def _read(self, timeout: float) -> dict[str, Any]:
        import selectors

        assert self.proc is not None and self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise RuntimeError(f"{self.kind} server said nothing within {timeout} s:\n{self.log_tail()}")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.kind} server exited with {self.proc.poll()}:\n{self.log_tail()}")
        return json.loads(line)

    def stats(self) -> dict[str, Any]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)
        return self._read(10.0)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> dict[str, Any] | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.final
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.final = self._read(90.0)
            self.proc.wait(30)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)
        return self.final

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


# --- the load generator (one or more processes) ----------------------------------------


def frame_kinds(role: str) -> list[str]:
    """The frames a connection sends, cycled: what a panel in that role would send."""
    return {
        "alarm": ["cid_1101", "cid_1100"],
        "assistance": ["cid_1101", "cid_1100"],
        "technical": ["cid_1301", "null"],
        "link": ["null"],
    }[role]


def make_frame(kind: str, account: str, sequence: str, zone: int, now: datetime) -> bytes:
    from respons.intake.dc09.frames import build

    if kind == "null":
        return build("NULL", sequence=sequence, account=account, prefix="0", receiver="1", timestamp=now)
    code = kind.removeprefix("cid_")
    return build("ADM-CID", sequence=sequence, account=account, prefix="0", receiver="1",
                 data=f"#{account}|{code} 01 {zone % 1000:03d}", timestamp=now)


async def _panel(reader, writer, account: str, role: str, clock: dict[str, float], window: dict[str, list[float]],
                 acked: Counter, errors: Counter) -> None:
    kinds = frame_kinds(role)
    accounts = account if isinstance(account, list) else [account]
    perf = time.perf_counter
    interval = clock["interval"]  # 0: closed loop; else one frame per interval (paced, like real panels)
    next_at = clock["start"] + (random.random() * interval if interval else 0.0)
    await asyncio.sleep(max(0.0, next_at - perf()))
    measure_from, end = clock["measure_from"], clock["end"]
    latencies = window[role]
    n = 0
    while perf() < end:
        if interval:
            await asyncio.sleep(max(0.0, next_at - perf()))
            next_at += interval
        kind = kinds[n % len(kinds)]
        sequence = f"{n % 9999 + 1:04d}"
        frame = make_frame(kind, accounts[n % len(accounts)], sequence, n, datetime.now(timezone.utc))
        n += 1
        sent = perf()
        writer.write(frame)
        try:
            reply = await reader.readuntil(b"\r")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError) as exc:
            errors[f"connection:{exc.__class__.__name__}"] += 1
            return
        got = perf()
        if reply.find(b'"ACK"' + sequence.encode()) < 0:
            token = reply.split(b'"')[1].decode(errors="replace") if reply.count(b'"') >= 2 else "garbage"
            errors[f"answer:{token}"] += 1
            continue
        acked[kind] += 1
        if measure_from <= got <= end:
            latencies.append(got - sent)
            acked[f"window:{role}"] += 1


async def _load(config: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    streams = []
    try:
        panels = config["panels"]  # [[account, role], …]
        for i in range(0, len(panels), CONNECT_BATCH):
            streams += await asyncio.gather(
                *(asyncio.open_connection(config["host"], config["port"]) for _ in panels[i:i + CONNECT_BATCH])
            )
        emit({"connected": len(streams)})
        go = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
        # Epoch times from the orchestrator -> this process's perf_counter.
        offset = time.perf_counter() - time.time()
        clock = {"start": go["start"] + offset, "measure_from": go["measure_from"] + offset, "end": go["end"] + offset,
                 "interval": go.get("interval", 0.0)}
        window: dict[str, list[float]] = {"alarm": [], "assistance": [], "technical": [], "link": []}
        acked: Counter = Counter()
        errors: Counter = Counter()
        tasks = [
            asyncio.create_task(_panel(reader, writer, account, role, clock, window, acked, errors))
            for (reader, writer), (account, role) in zip(streams, panels)
        ]
        # Every panel stops after its last ACK; one that never gets one is an error, not a hang.
        done, pending = await asyncio.wait(tasks, timeout=go["end"] - time.time() + 60)
        for task in pending:
            task.cancel()
            errors["no_ack_within_60s_after_the_end"] += 1
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "window_latencies_s": {k: v for k, v in window.items() if v},
            "acked": dict(acked),
            "errors": dict(errors),
            "cpu_s": cpu.ru_utime + cpu.ru_stime,
        }
    finally:
        for _, writer in streams:
            writer.close()


def load_main(config: dict[str, Any]) -> None:
    raise_nofile(len(config["panels"]) + 1024)
    result = run_loop(_load(config))
    # The latencies can be megabytes: a file, not the pipe (whose fd the event loop may
    # have left non-blocking, which cuts a long write short).
    Path(config["result_path"]).write_text(json.dumps(result))
    emit({"result_path": config["result_path"]})


class LoadProcess:
    def __init__(self, panels: list[list[str]], port: int, workdir: Path):
        self.log_path = workdir / f"load-{uuid.uuid4().hex[:6]}.log"
        config_path = self.log_path.with_suffix(".json")
        config_path.write_text(json.dumps({"host": HOST, "port": port, "panels": panels,
                                           "result_path": str(self.log_path.with_suffix(".result.json"))}))
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "_load", str(config_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, start_new_session=True, text=True,
        )
        log.close()

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"a load process exited with {self.proc.poll()}:\n{tail}")
        return json.loads(line)

    def go(self, times: dict[str, float]) -> None:
        self.proc.stdin.write(json.dumps(times) + "\n")
        self.proc.stdin.flush()

    def cpu_seconds(self) -> float:
        try:
            return process_cpu_seconds(self.proc.pid)
        except OSError:
            return 0.0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


# --- orchestration ---------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float | None:
    from intake_http import percentile as nearest_rank

    return nearest_rank(sorted_values, p)


def process_cpu_seconds(pid: int) -> float:
    from intake_http import process_cpu_seconds as cpu

    return cpu(pid)


def latency_summary(values: list[float]) -> dict[str, Any]:
    values = sorted(values)
    ms = lambda v: None if v is None else round(v * 1000.0, 3)  # noqa: E731
    return {
        "n": len(values),
        "mean": ms(sum(values) / len(values)) if values else None,
        "p50": ms(percentile(values, 50)),
        "p95": ms(percentile(values, 95)),
        "p99": ms(percentile(values, 99)),
        "max": ms(values[-1] if values else None),
    }


def panels_for(scenario: str, accounts: list[str], assist: int) -> list[list[str]]:
    if scenario != "linktests":
        accounts = [a for a in accounts if not a.startswith(LINK_PREFIX)]
    if scenario == "alarms":
        return [[account, "alarm"] for account in accounts]
    if scenario == "linktests":
        # Each connection a concentrator for its share of the devices, each of which is heard
        # once in a while: every link test moves a deadline (issue 21, goal 5).
        link = [a for a in accounts if a.startswith(LINK_PREFIX)] or accounts
        connections = len([a for a in accounts if not a.startswith(LINK_PREFIX)])
        return [[link[i::connections], "link"] for i in range(connections)]
    # Spread the assistance panels over the connection list (and so over the load processes).
    step = max(1, len(accounts) // max(1, assist))
    assisting = set(range(0, step * assist, step))
    return [[account, "assistance" if i in assisting else "technical"] for i, account in enumerate(accounts)]


class BackendCpu:
    """CPU time of the PostgreSQL backends serving one database, from /proc (the database
    runs on this machine): the part of a durable frame's cost the server process does not
    see. Backends that appear during the window count from their start."""

    def __init__(self, admin_url: str, database: str):
        from sqlalchemy import create_engine

        self._engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._database = database
        self.described: dict[int, str] = {}

    def sample(self) -> dict[int, float]:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            rows = conn.execute(text("SELECT pid, backend_type, left(query, 60) AS query FROM pg_stat_activity "
                                     "WHERE datname = :d"), {"d": self._database}).all()
        out = {}
        for row in rows:
            try:
                out[row.pid] = process_cpu_seconds(row.pid)
            except OSError:
                continue  # gone meanwhile
            # What each backend does, to tell where the database's CPU goes: the node's
            # connections by their last statement (a LISTEN is the live relay's).
            self.described[row.pid] = f"{row.backend_type}: {' '.join((row.query or '').split())}"
        return out


    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def by_backend(self, before: dict[int, float], after: dict[int, float], frames: int, top: int = 6) -> list:
        """The backends that spent most, ms per frame each, with what they last ran."""
        spent = sorted(((cpu - before.get(pid, 0.0), pid) for pid, cpu in after.items()), reverse=True)[:top]
        return [{"ms_per_frame": round(1000.0 * cpu / max(1, frames), 4), "backend": self.described.get(pid, "?")}
                for cpu, pid in spent]

    def close(self) -> None:
        self._engine.dispose()


def run_load(server: ServerProcess, panels: list[list[str]], procs: int, warmup: float, seconds: float,
             workdir: Path, rate: float = 0.0, backends: BackendCpu | None = None,
             profile: Path | None = None, gil_only: bool = False) -> dict[str, Any]:
    from intake_http import machine_cpu_times

    shares = [share for share in (panels[i::procs] for i in range(procs)) if share]
    loads = [LoadProcess(share, server.port, workdir) for share in shares]
    try:
        t0 = time.time()
        for load, share in zip(loads, shares):
            connected = load.read()
            if connected.get("connected") != len(share):
                raise RuntimeError(f"a load process connected {connected} of {len(share)}")
        connect_s = time.time() - t0
        start = time.time() + 0.5
        times = {"start": start, "measure_from": start + warmup, "end": start + warmup + seconds,
                 "interval": len(panels) / rate if rate else 0.0}
        for load in loads:
            load.go(times)
        time.sleep(max(0.0, times["measure_from"] - time.time()))
        journal0 = server.stats().get("journal") if server.kind == "respons" else None
        server_cpu0, load_cpu0, machine0 = server.cpu_seconds(), [l.cpu_seconds() for l in loads], machine_cpu_times()
        backend0 = backends.sample() if backends else {}
        spy = None
        if profile is not None:
            # Sampling the server for the measured window (its own CPU is not the server's).
            spy = profiling.record(server.proc.pid, seconds, profile, gil_only=gil_only)
        time.sleep(max(0.0, times["end"] - time.time()))
        server_cpu1, load_cpu1, machine1 = server.cpu_seconds(), [l.cpu_seconds() for l in loads], machine_cpu_times()
        backend1 = backends.sample() if backends else {}
        backend_cpu = BackendCpu.spent(backend0, backend1)
        journal1 = server.stats().get("journal") if server.kind == "respons" else None
        results = [json.loads(Path(load.read()["result_path"]).read_text()) for load in loads]
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        for load in loads:
            load.kill()
    latencies: dict[str, list[float]] = {}
    acked: Counter = Counter()
    errors: Counter = Counter()
    for r in results:
        for role, values in r["window_latencies_s"].items():
            latencies.setdefault(role, []).extend(values)
        acked.update(r["acked"])
        errors.update(r["errors"])
    all_window = [v for values in latencies.values() for v in values]
    machine_busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])
    step: dict[str, Any] = {
        "connections": len(panels),
        "connect_seconds": round(connect_s, 2),
        "seconds": seconds,
        "window_epoch": [times["measure_from"], times["end"]],
        "acked_in_window": len(all_window),
        "frames_per_s": len(all_window) / seconds,
        "latency_ms": latency_summary(all_window),
        "by_role": {
            role: {"acked_in_window": len(values), "frames_per_s": len(values) / seconds,
                   "latency_ms": latency_summary(values)}
            for role, values in sorted(latencies.items())
        },
        "acked_total_incl_warmup": {k: v for k, v in sorted(acked.items()) if not k.startswith("window:")},
        "errors": dict(errors),
        "cpu": {
            # The goal's unit (issue 21): CPU per ACKed frame of the server process plus the
            # database backends serving it, from /proc.
            "ms_per_frame": round(1000.0 * (server_cpu1 - server_cpu0 + backend_cpu) / max(1, len(all_window)), 4),
            "server_ms_per_frame": round(1000.0 * (server_cpu1 - server_cpu0) / max(1, len(all_window)), 4),
            "database_ms_per_frame": round(1000.0 * backend_cpu / max(1, len(all_window)), 4),
            "server_percent_of_one_core": round(100.0 * (server_cpu1 - server_cpu0) / seconds, 1),
            "load_generator_percent_of_one_core": [round(100.0 * (b - a) / seconds, 1) for a, b in zip(load_cpu0, load_cpu1)],
            "machine_busy_percent_of_all_cores": round(100.0 * machine_busy, 1),
        },
    }
    if backends:
        step["cpu"]["database_by_backend"] = backends.by_backend(backend0, backend1, len(all_window))
    if profile is not None and profile.exists():
        step["profile"] = profiling.summary(profile)
    if journal0 and journal1:
        batches = journal1["batches"] - journal0["batches"]
        units = journal1["units"] - journal0["units"]
        step["journal"] = {"batches": batches, "units": units, "mean_batch": units / batches if batches else None,
                           "largest_batch_so_far": journal1["largest_batch"]}
    return step


def ratios(respons: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    def ratio(a, b):
        return None if a is None or not b else a / b

    out = {"frames_per_s": ratio(respons["frames_per_s"], reference["frames_per_s"]),
           "cpu_per_frame": ratio(respons["cpu"]["ms_per_frame"], reference["cpu"]["ms_per_frame"]),
           "latency": {p: ratio(respons["latency_ms"][p], reference["latency_ms"][p]) for p in ("p50", "p95", "p99")}}
    out["by_role"] = {
        role: {"frames_per_s": ratio(r["frames_per_s"], reference["by_role"].get(role, {}).get("frames_per_s")),
               "latency": {p: ratio(r["latency_ms"][p], reference["by_role"].get(role, {}).get("latency_ms", {}).get(p))
                           for p in ("p50", "p95", "p99")}}
        for role, r in respons["by_role"].items()
    }
    return out


LINK_PREFIX = "E"


def insert_fixture(engine, n: int, seed: int = 42, link_devices: int = 0) -> list[str]:
    """One centre, one municipality, n recipients with one ``sia_dc09`` device each, and
    ``link_devices`` more devices (no recipient; last heard an hour ago, so a link test moves
    each one's deadline); returns the accounts (hex, as the panels send them)."""
    import random
    from datetime import date, timedelta

    from sqlalchemy import insert, select

    from respons.domain.identity import synthetic_national_id
    from respons.store.tables import centres, devices, municipalities, recipients

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    accounts = [f"{0xD0000 + i:06X}" for i in range(n)]
    with engine.begin() as conn:
        centre_id = conn.execute(insert(centres).values(name="Benchmark-senteret", created_at=now)).inserted_primary_key[0]
        municipality_id = conn.execute(insert(municipalities).values(
            number="9999", name="Benchmark kommune", population=50000, role="host", centre_id=centre_id, created_at=now,
        )).inserted_primary_key[0]
        seen: set[str] = set()
        rows = []
        for i in range(n):
            birth = date(1925, 1, 1) + timedelta(days=rng.randrange(0, 35 * 365))
            while (nid := synthetic_national_id(birth, rng)) in seen:
                pass
            seen.add(nid)
            rows.append(dict(municipality_id=municipality_id, national_id=nid, given_name=f"Test{i}",
                             family_name="Benchmark", birth_date=birth, address=f"Testveien {i + 1}",
                             postal_code="4600", city="Testby", created_at=now, updated_at=now))
        conn.execute(insert(recipients), rows)
        recipient_ids = conn.execute(select(recipients.c.id).where(recipients.c.municipality_id == municipality_id)
                                     .order_by(recipients.c.id)).scalars().all()
        conn.execute(insert(devices), [
            dict(municipality_id=municipality_id, recipient_id=rid, kind="safety_alarm", protocol="sia_dc09",
                 identity=account, heartbeat_interval_s=3600, heartbeat_grace_s=300, created_at=now)
            for rid, account in zip(recipient_ids, accounts)
        ])
        link = [f"{LINK_PREFIX}{i:07X}" for i in range(link_devices)]
        an_hour_ago = now - timedelta(hours=1)
        for start in range(0, len(link), 10_000):
            conn.execute(insert(devices), [
                dict(municipality_id=municipality_id, kind="safety_alarm", protocol="sia_dc09", identity=account,
                     heartbeat_interval_s=3600, heartbeat_grace_s=300, last_seen_at=an_hour_ago,
                     alert_after=an_hour_ago + timedelta(seconds=3900), created_at=now)
                for account in link[start:start + 10_000]])
    return accounts + link


def stored_alarms(url: str) -> dict[str, int]:
    """Alarms the receiver made, per type (a group leader or other derived row is not counted)."""
    from sqlalchemy import func, select

    from respons.store.db import make_engine
    from respons.store.tables import alarms

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(alarms.c.type, func.count()).where(alarms.c.idempotency_scope.like("sia_dc09:%"))
                                .group_by(alarms.c.type)).all()
    finally:
        engine.dispose()
    return {t: n for t, n in rows}


def deadline_moves(url: str, start: float, end: float) -> int:
    """Devices whose deadline a link test moved inside the window (each is heard at most once
    in it: the connections cycle through more devices than they reach in the window)."""
    from sqlalchemy import func, select

    from respons.store.db import make_engine
    from respons.store.tables import devices

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(devices).where(
                devices.c.last_seen_at >= datetime.fromtimestamp(start, timezone.utc),
                devices.c.last_seen_at <= datetime.fromtimestamp(end, timezone.utc))).scalar_one()
    finally:
        engine.dispose()


def expected_alarms(acked_total: dict[str, int]) -> dict[str, int]:
    expected: Counter = Counter()
    for kind, n in acked_total.items():
        if ALARM_TYPE_OF.get(kind):
            expected[ALARM_TYPE_OF[kind]] += n
    return dict(expected)


def bench_database(kind: str, args: argparse.Namespace, workdir: Path, out) -> dict[str, Any]:
    from intake_http import database_facts, fresh_database
    from respons.store.db import make_engine
    from respons.store.migrate import upgrade

    result: dict[str, Any] = {"db": kind, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with ExitStack() as cleanup:
        url, result["database_location"] = fresh_database(kind, cleanup, pg_admin_url=args.pg_admin_url,
                                                          sqlite_path=workdir / "respons-dc09-bench.db")

        out.rule(f"[bold]DC-09 receiver on {kind}")
        out.print(f"migrating and registering {args.connections} DC-09 devices …")
        upgrade(url)
        engine = make_engine(url)
        accounts = insert_fixture(engine, args.connections,
                                  link_devices=args.link_devices if "linktests" in (args.scenarios or []) else 0)
        result["database"] = database_facts(engine)
        engine.dispose()

        scenarios = args.scenarios or (["alarms", "storm"] if args.storm else ["alarms"])
        backends = None
        if kind != "sqlite":
            backends = BackendCpu(args.pg_admin_url, result["database_location"]["database"])
            cleanup.callback(backends.close)
        result["scenarios"] = []
        for scenario in scenarios:
            panels = panels_for(scenario, accounts, args.storm_assist)
            entry: dict[str, Any] = {"scenario": scenario}
            if scenario == "storm":
                entry["assistance_connections"] = sum(1 for _, role in panels if role == "assistance")

            out.print(f"\\[{scenario}] reference: pysiaalarm, {len(panels)} connections, "
                      f"{args.warmup_seconds} s warm-up + {args.seconds} s …")
            reference = ServerProcess("pysiaalarm", {"accounts": accounts, "connections": len(panels)}, workdir)
            cleanup.callback(reference.stop)
            reference.start()
            entry["reference"] = run_load(reference, panels, args.load_procs, args.warmup_seconds, args.seconds, workdir,
                                          args.rate)
            entry["reference"]["server_counts"] = (reference.stop() or {}).get("counts")

            before = stored_alarms(url)
            out.print(f"\\[{scenario}] Respons receiver on {kind}, same load …")
            server = ServerProcess("respons", {"url": url, "connections": len(panels), "window_ms": args.window_ms,
                                               "max_batch": args.max_batch}, workdir)
            cleanup.callback(server.stop)
            server.start()
            entry["respons"] = run_load(server, panels, args.load_procs, args.warmup_seconds, args.seconds, workdir, args.rate,
                                        backends, profiling.kept(args.out_dir, f"dc09_receiver-profile-{kind}-{scenario}") if args.profile else None,
                                        gil_only=args.profile_gil)
            final = server.stop()
            entry["respons"]["final_journal_stats"] = (final or {}).get("journal")
            if scenario == "linktests":
                entry["respons"]["deadline_moves_per_s"] = deadline_moves(url, *entry["respons"]["window_epoch"]) / args.seconds

            # Every ACKed alarm frame must be an alarm row. Read after the server has stopped.
            after = stored_alarms(url)
            stored = {t: after.get(t, 0) - before.get(t, 0) for t in set(after) | set(before)}
            expected = expected_alarms(entry["respons"]["acked_total_incl_warmup"])
            entry["sanity"] = {
                "acked_alarm_frames_by_type": expected,
                "stored_alarms_by_type": stored,
                "ok": all(stored.get(t, 0) >= n for t, n in expected.items()),
                "exact": all(stored.get(t, 0) == n for t, n in expected.items()),
            }
            entry["ratios"] = ratios(entry["respons"], entry["reference"])
            result["scenarios"].append(entry)
            time.sleep(0.5)
    result["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return result


# --- output ----------------------------------------------------------------------------


def fmt(v, spec=".1f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def print_result(doc: dict[str, Any], out) -> None:
    from rich.table import Table

    for db in doc["databases"]:
        facts = db["database"]
        version = facts.get("server_version") or facts.get("version")
        durability = (f"journal_mode={facts['journal_mode']} synchronous={facts['synchronous']}" if facts["kind"] == "sqlite"
                      else f"synchronous_commit={facts['synchronous_commit']} fsync={facts['fsync']}")
        for entry in db["scenarios"]:
            table = Table(title=f"DC-09 receiver, scenario '{entry['scenario']}', {entry['respons']['connections']} "
                                f"connections, {doc['config']['seconds']} s — Respons on {facts['kind']} {version} "
                                f"({durability}) vs pysiaalarm (ACKs on parse, stores nothing)")
            for column in ("server", "ACKed", "ACKed/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean batch",
                           "server CPU", "load CPU", "machine busy", "errors"):
                table.add_column(column, justify="right")
            for label, step in (("pysiaalarm", entry["reference"]), (f"Respons/{facts['kind']}", entry["respons"])):
                rows = [("all", step["frames_per_s"], step["acked_in_window"], step["latency_ms"])]
                if entry["scenario"] == "storm":
                    rows += [(role, r["frames_per_s"], r["acked_in_window"], r["latency_ms"])
                             for role, r in step["by_role"].items()]
                for i, (role, rate, n, lat) in enumerate(rows):
                    first = i == 0
                    table.add_row(
                        label if first else f"  {role}", str(n), f"{rate:.0f}", fmt(lat["p50"]), fmt(lat["p95"]),
                        fmt(lat["p99"]), fmt(lat["max"]),
                        fmt((step.get("journal") or {}).get("mean_batch")) if first else "",
                        f"{step['cpu']['server_percent_of_one_core']:.0f} %" if first else "",
                        " + ".join(f"{c:.0f}" for c in step["cpu"]["load_generator_percent_of_one_core"]) + " %" if first else "",
                        f"{step['cpu']['machine_busy_percent_of_all_cores']:.0f} %" if first else "",
                        str(sum(step["errors"].values())) if first else "",
                    )
            out.print(table)
            r = entry["ratios"]
            out.print(
                f"Respons ÷ pysiaalarm: throughput [bold]{fmt(r['frames_per_s'], '.2f', '×')}[/bold], latency p50 "
                f"{fmt(r['latency']['p50'], '.1f', '×')}, p95 {fmt(r['latency']['p95'], '.1f', '×')}, "
                f"p99 {fmt(r['latency']['p99'], '.1f', '×')}"
            )
            if entry["scenario"] == "storm":
                for role, rr in r["by_role"].items():
                    out.print(f"  {role}: latency p50 {fmt(rr['latency']['p50'], '.1f', '×')}, "
                              f"p99 {fmt(rr['latency']['p99'], '.1f', '×')}")
            s = entry["sanity"]
            colour = "green" if s["ok"] else "red"
            out.print(f"[{colour}]sanity: ACKed alarm frames {s['acked_alarm_frames_by_type']}, "
                      f"stored alarms {s['stored_alarms_by_type']} → {'OK' if s['ok'] else 'ALARMS LOST'}[/{colour}]")
            for label, step in (("pysiaalarm", entry["reference"]), ("Respons", entry["respons"])):
                if step["errors"]:
                    out.print(f"[yellow]{label} errors: {step['errors']}[/yellow]")
                if any(c >= 90 for c in step["cpu"]["load_generator_percent_of_one_core"]):
                    out.print(f"[yellow]{label}: a load process used ≥ 90 % of a core: the load generator may be the "
                              f"limit; try more --load-procs[/yellow]")


# --- command line ----------------------------------------------------------------------


def source_digests() -> dict[str, str]:
    import hashlib

    import respons

    root = Path(respons.__file__).parent
    digests = {}
    for name in ("intake/dc09/frames.py", "intake/dc09/receiver.py", "intake/dc09/contact_id.py", "store/journal.py",
                 "store/db.py", "store/alarms.py", "intake/devices.py", "engine/receiving.py", "engine/timeline.py",
                 "engine/routing.py", "engine/timers.py"):
        try:
            digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()[:12]
        except OSError:
            digests[name] = "missing"
    return digests


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SIA DC-09 receiver benchmark: ACKed (durable) frames/s and ACK latency for many concurrent "
        "panels, against pysiaalarm's asyncio server (ACKs on parse, stores nothing) in the same run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "postgresql", "both"], default="both")
    parser.add_argument("--connections", type=int, default=1000, help="concurrent TCP connections (panels), one account each")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="unrecorded load before the window")
    parser.add_argument("--storm", action="store_true",
                        help="also run the power-failure storm: technical frames (1301 AC loss, NULL) on most "
                        "connections, 1101/1100 assistance alarms on a few; latency reported per class")
    parser.add_argument("--storm-assist", type=int, default=None,
                        help="connections sending assistance alarms in the storm (default: 2 %% of --connections, at least 1)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="paced panels: this many frames/s in all (each panel sends every connections/rate s, "
                             "or as soon as its previous ACK came if that is later); 0: closed loop, as fast as ACKs come")
    parser.add_argument("--scenarios", nargs="+", choices=["alarms", "storm", "linktests"], default=None,
                        help="which scenarios to run (default: alarms, and storm with --storm)")
    parser.add_argument("--profile", action="store_true",
                        help="sample the Respons server with py-spy during the window; the summary goes in the result")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL (Python's own CPU)")
    parser.add_argument("--link-devices", type=int, default=300_000,
                        help="devices the linktests scenario's connections send link tests for")
    parser.add_argument("--load-procs", type=int, default=2, help="load generator processes (asyncio each)")
    parser.add_argument("--window-ms", type=float, default=2.0, help="journal group-commit window")
    parser.add_argument("--max-batch", type=int, default=500, help="journal max units per commit")
    parser.add_argument("--pg-admin-url", default=os.environ.get("RESPONS_BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN_URL),
                        help="PostgreSQL URL used to CREATE and DROP the benchmark database (env RESPONS_BENCH_POSTGRES_URL)")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite file and logs go (default: system temp)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the JSON result is written")
    parser.add_argument("--json", action="store_true", help="print the JSON result on stdout (the table goes to stderr)")
    args = parser.parse_args(argv)
    if args.connections < 1 or args.load_procs < 1 or args.seconds <= 0:
        parser.error("--connections, --load-procs and --seconds must be positive")
    if args.storm_assist is None:
        args.storm_assist = max(1, args.connections // 50)
    if args.storm and not 1 <= args.storm_assist < args.connections:
        parser.error("--storm-assist must be at least 1 and below --connections")
    args.db = "postgresql" if args.db == "postgres" else args.db
    return args


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    stream_is_tty = sys.stderr.isatty() if args.json else sys.stdout.isatty()
    out = Console(stderr=args.json, width=None if stream_is_tty else 150)
    try:
        import pysiaalarm  # noqa: F401
    except ImportError:
        out.print('[red]pysiaalarm is missing: .venv/bin/python -m pip install -e ".[test,bench]"[/red]')
        return 2
    from importlib.metadata import version

    from intake_http import machine_facts

    raise_nofile(args.connections + 1024)
    signal.signal(signal.SIGTERM, _terminate)
    started = datetime.now(timezone.utc)
    doc: dict[str, Any] = {
        "benchmark": "dc09_receiver",
        "started_at": started.isoformat(timespec="seconds"),
        "command": [Path(sys.executable).name, *sys.argv],
        "config": {
            "connections": args.connections, "seconds": args.seconds, "warmup_seconds": args.warmup_seconds,
            "storm": args.storm, "storm_assist": args.storm_assist if args.storm else None,
            "load_procs": args.load_procs, "window_ms": args.window_ms, "max_batch": args.max_batch,
            "event_loop": loop_name(),
            "servers": "each receiver in its own process; load generator in --load-procs other processes",
            "reference": f"pysiaalarm {version('pysiaalarm')} aio.SIAClient (TCP), no-op callback",
        },
        "machine": machine_facts(),
        "source_sha256": source_digests(),
        "databases": [],
    }
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    try:
        for kind in kinds:
            with tempfile.TemporaryDirectory(prefix=f"respons-dc09-bench-{kind}-", dir=args.tmpdir) as tmp:
                doc["databases"].append(bench_database(kind, args, Path(tmp), out))
    except KeyboardInterrupt:
        out.print("[red]interrupted; servers stopped and benchmark database dropped[/red]")
        return 130
    doc["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print_result(doc, out)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"dc09_receiver-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    out.print(f"wrote {path}")
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    ok = all(entry["sanity"]["ok"] for db in doc["databases"] for entry in db["scenarios"])
    if not ok:
        out.print("[red bold]FAILED: an ACKed alarm frame is not in the database[/red bold]")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("_serve-respons", "_serve-pysiaalarm", "_load"):
        role_config = json.loads(Path(sys.argv[2]).read_text())
        {"_serve-respons": serve_respons, "_serve-pysiaalarm": serve_pysiaalarm, "_load": load_main}[sys.argv[1]](role_config)
        sys.exit(0)
    sys.exit(main())
