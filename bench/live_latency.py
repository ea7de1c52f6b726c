#!/usr/bin/env python
"""Benchmark the live bus: how long from a new alarm to the screens, on one node and across nodes?

Two real ``respons serve`` nodes (A and B) on one fresh PostgreSQL database. Open on them,
split evenly, ``--consoles`` operator streams (``/api/v1/queue/events``) and ``--apps``
responder streams (``/app/events``; the responders are on duty, so every change is checked against
their duty filter, which these centre alarms do not match). Then alarms are posted one at a time, alternately to A and to B,
``--alarms`` in all, ``--interval`` apart. For each alarm and each console: the time from
the **send** of the intake request to the ``queued`` event arriving on that console (the
whole way: intake, commit, bus, stream), grouped by whether the console is on the node that
took the alarm (**same node**) or the other (**across nodes**, through LISTEN/NOTIFY).
(Timing from the 202 instead is meaningless here: the event usually reaches the client
before the 202 does.) References in the same run: the intake's own round trip (send to
202), and the raw PostgreSQL NOTIFY→LISTEN round trip between two connections of this
process (the floor for any delivery through the database). CPU time of each node per
alarm is read from /proc.

All processes (both nodes, PostgreSQL and this client with its 550 streams) share the
machine's cores, so the figures include their contention. This is a benchmark, not a test.

    .venv/bin/python bench/live_latency.py --alarms 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake_http import fresh_database, percentile, process_cpu_seconds  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from respons.domain.access import Role  # noqa: E402
from respons.engine import routing  # noqa: E402
from respons.store.db import make_engine  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import zones  # noqa: E402
from tests.chaos.server import ServerProcess, free_port  # noqa: E402
from tests.factories import PASSWORD, add_user, seed_registry  # noqa: E402

console = Console()


def prepare(url: str):
    upgrade(url)
    engine = make_engine(url)
    registry = seed_registry(engine)
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    responder = add_user(engine, "hilde", [(Role.RESPONDER, registry.municipality_ids[0])])
    with engine.begin() as conn:
        zone = conn.execute(select(zones.c.id).where(zones.c.municipality_id == registry.municipality_ids[0])).scalar_one()
        routing.log_in_to_zones(conn, user_id=responder.id, zone_ids=[zone], role="responder",
                                now=datetime.now(timezone.utc), municipality_ids=frozenset(registry.municipality_ids))
    engine.dispose()
    return registry


async def log_in(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()


class Stream:
    """One open event stream; records when each alarm's ``queued`` event arrived."""

    def __init__(self, node: str, kind: str):
        self.node, self.kind = node, kind
        self.arrived: dict[str, float] = {}
        self.open = asyncio.Event()
        self.heartbeats = 0

    async def run(self, client: httpx.AsyncClient, path: str) -> None:
        async with client.stream("GET", path) as response:
            event = None
            async for line in response.aiter_lines():
                self.open.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "alarm":
                    change = json.loads(line[6:])
                    if change.get("event") == "queued":
                        self.arrived.setdefault(change["alarm_id"], time.perf_counter())
                elif line.startswith("data: ") and event == "heartbeat":
                    self.heartbeats += 1


async def notify_reference(dsn: str, rounds: int) -> list[float]:
    """Raw NOTIFY → LISTEN round trips between two connections: the database's own floor."""
    listener = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    sender = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await listener.execute("LISTEN bench_reference")
    times = []
    generator = listener.notifies()
    for i in range(rounds):
        started = time.perf_counter()
        await sender.execute("SELECT pg_notify('bench_reference', %s)", (str(i),))
        await anext(generator)
        times.append(time.perf_counter() - started)
    await listener.close()
    await sender.close()
    return times


def summary(seconds: list[float]) -> dict:
    values = sorted(v * 1000 for v in seconds)
    return {"n": len(values), "p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99),
            "max_ms": values[-1] if values else None, "mean_ms": statistics.fmean(values) if values else None}


async def measure(nodes: dict[str, ServerProcess], registry, args) -> dict:
    municipality = registry.municipality_ids[0]
    devices = registry.devices_by_municipality[municipality]
    limits = httpx.Limits(max_connections=args.consoles + args.apps + 10)
    timeout = httpx.Timeout(30, read=None)
    clients = {name: httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) for name, server in nodes.items()}
    responder_clients = {name: httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout)
                         for name, server in nodes.items()}
    for name in nodes:
        await log_in(clients[name], "olga")
        await log_in(responder_clients[name], "hilde")
    names = list(nodes)
    streams: list[Stream] = []
    tasks = []
    for i in range(args.consoles):
        stream = Stream(names[i % 2], "console")
        streams.append(stream)
        tasks.append(asyncio.create_task(stream.run(clients[stream.node], "/api/v1/queue/events")))
    for i in range(args.apps):
        stream = Stream(names[i % 2], "app")
        streams.append(stream)
        tasks.append(asyncio.create_task(stream.run(responder_clients[stream.node], "/app/events")))
    await asyncio.wait_for(asyncio.gather(*(s.open.wait() for s in streams)), 60)

    intake = httpx.AsyncClient(timeout=30)
    headers = {"Authorization": f"Bearer {registry.intake_tokens[municipality]}"}
    cpu_before = {name: process_cpu_seconds(server.process.pid) for name, server in nodes.items()}
    sent: dict[str, tuple[str, float, float]] = {}  # alarm id -> (node, sent, acknowledged)
    for i in range(args.alarms):
        node = names[i % 2]
        body = {"device": devices[i % len(devices)], "type": "fall", "occurred_at": datetime.now(timezone.utc).isoformat()}
        started = time.perf_counter()
        response = await intake.post(nodes[node].url + "/api/v1/alarms", json=body, headers=headers)
        acknowledged = time.perf_counter()
        response.raise_for_status()
        sent[response.json()["alarm_id"]] = (node, started, acknowledged)
        await asyncio.sleep(args.interval)
    await asyncio.sleep(2)  # the last events on their way
    cpu = {name: process_cpu_seconds(server.process.pid) - cpu_before[name] for name, server in nodes.items()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in (*clients.values(), *responder_clients.values(), intake):
        await client.aclose()

    groups: dict[str, list[float]] = {"same_node": [], "across_nodes": []}
    missing = 0
    for stream in (s for s in streams if s.kind == "console"):
        for alarm_id, (node, started, _) in sent.items():
            arrived = stream.arrived.get(alarm_id)
            if arrived is None:
                missing += 1
                continue
            groups["same_node" if stream.node == node else "across_nodes"].append(arrived - started)
    return {
        "same_node": summary(groups["same_node"]),
        "across_nodes": summary(groups["across_nodes"]),
        "intake_roundtrip": summary([acknowledged - started for _, started, acknowledged in sent.values()]),
        "missing_deliveries": missing,
        "app_streams_heartbeats": sum(s.heartbeats for s in streams if s.kind == "app"),
        "node_cpu_seconds": cpu,
        "node_cpu_ms_per_alarm": {k: 1000 * v / args.alarms for k, v in cpu.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between alarms")
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "RESPONS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    started_at = datetime.now(timezone.utc)
    with ExitStack() as cleanup, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, _ = fresh_database("postgresql", cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / "x.db")
        registry = prepare(url)
        nodes = {}
        for name in ("A", "B"):
            server = ServerProcess(url, free_port(), workdir / f"{name}.log", node_name=name, cookie_secure="false",
                                   answer_deadline_seconds=86400)
            server.start()
            cleanup.callback(server.stop)
            nodes[name] = server
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        reference = summary(asyncio.run(notify_reference(dsn, args.alarms)))
        result = asyncio.run(measure(nodes, registry, args))

    result.update({
        "benchmark": "live_latency",
        "started_at": started_at.isoformat(timespec="seconds"),
        "config": vars(args) | {"pg_admin_url": "(local)"},
        "reference_notify_roundtrip": reference,
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
    })
    result["ratio_across_to_same_p50"] = result["across_nodes"]["p50_ms"] / result["same_node"]["p50_ms"]
    result["ratio_across_to_intake_p50"] = result["across_nodes"]["p50_ms"] / result["intake_roundtrip"]["p50_ms"]

    table = Table(title=f"New alarm to screen: {args.consoles} consoles, {args.apps} app streams, {args.alarms} alarms")
    for column in ("send → …", "n", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column)
    for label, key in (("screen, same node", "same_node"), ("screen, across nodes", "across_nodes"),
                       ("202 (reference)", "intake_roundtrip")):
        s = result[key]
        table.add_row(label, str(s["n"]), f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['max_ms']:.1f}")
    table.add_row("NOTIFY→LISTEN (reference)", str(reference["n"]), f"{reference['p50_ms']:.2f}",
                  f"{reference['p99_ms']:.2f}", f"{reference['max_ms']:.2f}")
    console.print(table)
    console.print(f"missing deliveries: {result['missing_deliveries']}; node CPU per alarm (ms): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in result["node_cpu_ms_per_alarm"].items()))
    out = ROOT / "bench" / "results" / f"live_latency-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2))
    console.print(f"[dim]{out.relative_to(ROOT)}[/dim]")
    return 0 if result["missing_deliveries"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
