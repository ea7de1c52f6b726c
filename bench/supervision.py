#!/usr/bin/env python
"""Benchmark device supervision at scale (issue 21, goal 4): what an idle sweep costs with
``--devices`` supervised devices, how late a missed heartbeat is raised, and how long an outage
of ``--silent`` devices takes to commit — the baseline the issue's goals are measured against.

Method (docs/benchmarks.md, "Supervision at scale"):

1. A fresh database (SQLite file, or a new PostgreSQL database) with one municipality and
   ``--devices`` devices, each with a heartbeat interval of one hour and a deadline spread over
   the next hour, inserted in bulk (as a migration or an import would: no ANALYZE afterwards).
2. **Idle pass**: ``engine.supervision.sweep`` with nothing due, timed (CPU of this process and
   wall) over 50 passes; on PostgreSQL before and after ``ANALYZE devices``.
3. **Latency**: 20 devices whose deadlines fall 1–6 s ahead; the node's ``SupervisionWorker``
   runs (its poll, RESPONS_SUPERVISION_POLL_SECONDS = 5 by default) and each device's
   lost-contact alarm's commit is compared with its deadline: p50, p99, max.
4. **Outage**: ``--silent`` devices' deadlines set to the past at once (a mobile network down);
   the worker's time to commit all their lost-contact alarms, and how many alarms it made.

Usage: ``.venv/bin/python bench/supervision.py [--devices 100000] [--silent 5000] [--db both]``;
figures to ``bench/results/supervision-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bench.intake_http import DEFAULT_PG_ADMIN_URL, fresh_engine, percentile, process_cpu_seconds  # noqa: E402
from bench.ratios import write  # noqa: E402
from respons.clock import system_clock  # noqa: E402
from respons.engine import supervision  # noqa: E402
from respons.runtime import REACTIONS  # noqa: E402
from respons.store import planner  # noqa: E402
from respons.store.db import is_postgres  # noqa: E402
from respons.store.journal import Journal, Lane  # noqa: E402
from respons.store.tables import alarms, devices  # noqa: E402
from tests.factories import seed_registry  # noqa: E402

console = Console()
INTERVAL = 3600
CHUNK = 10_000


def fleet(engine, count: int, now: datetime) -> int:
    municipality = seed_registry(engine, municipalities_count=1, recipients_per=1).municipality_ids[0]
    for start in range(0, count, CHUNK):
        rows = [{"municipality_id": municipality, "kind": "safety_alarm", "protocol": "sia_dc09",
                 "identity": f"BENCH-{n:08d}", "heartbeat_interval_s": INTERVAL, "heartbeat_grace_s": 0,
                 "last_seen_at": now, "alert_after": now + timedelta(seconds=60 + (n * 3547) % (INTERVAL - 60)),
                 "active": True, "created_at": now}
                for n in range(start, min(count, start + CHUNK))]
        with engine.begin() as conn:
            conn.execute(insert(devices), rows)
    return municipality


def idle_pass(engine, journal: Journal, passes: int = 50) -> dict:
    cpu0, t0 = process_cpu_seconds(os.getpid()), time.perf_counter()
    for _ in range(passes):
        handled = journal.run_sync(lambda c: supervision.sweep(c, system_clock(), answer_deadline=timedelta(seconds=60)),
                                   lane=Lane.TECHNICAL)
        assert handled == 0
    return {"ms_per_pass": round(1000 * (time.perf_counter() - t0) / passes, 2),
            "cpu_ms_per_pass": round(1000 * (process_cpu_seconds(os.getpid()) - cpu0) / passes, 2)}


def lost_contact_alarms(engine, ids: list[int]) -> dict[int, datetime]:
    with engine.connect() as conn:
        rows = conn.execute(select(alarms.c.device_id, alarms.c.received_at)
                            .where(alarms.c.device_id.in_(ids), alarms.c.type == "device_silent")).all()
    return {r.device_id: r.received_at for r in rows}


async def run_worker(journal: Journal, until, timeout: float) -> float:
    worker = supervision.SupervisionWorker(journal, system_clock, poll_seconds=5.0,
                                           answer_deadline=timedelta(seconds=60))
    t0 = time.perf_counter()
    worker.start()
    try:
        while not await asyncio.to_thread(until) and time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    return time.perf_counter() - t0


def latency(engine, journal: Journal) -> dict:
    now = system_clock()
    with engine.connect() as conn:
        ids = conn.execute(select(devices.c.id).order_by(devices.c.id).limit(20)).scalars().all()
    deadlines = {device_id: now + timedelta(seconds=1 + 5 * i / len(ids)) for i, device_id in enumerate(ids)}
    with engine.begin() as conn:
        for device_id, at in deadlines.items():
            conn.execute(update(devices).where(devices.c.id == device_id).values(alert_after=at))
    asyncio.run(run_worker(journal, lambda: len(lost_contact_alarms(engine, ids)) == len(ids), timeout=30))
    raised = lost_contact_alarms(engine, ids)
    late = sorted((raised[d] - deadlines[d]).total_seconds() for d in ids if d in raised)
    return {"raised": len(raised), "late_p50_s": round(percentile(late, 50), 2), "late_p99_s": round(percentile(late, 99), 2),
            "late_max_s": round(late[-1], 2)}


def outage(engine, journal: Journal, silent: int) -> dict:
    now = system_clock()
    with engine.connect() as conn:
        ids = conn.execute(select(devices.c.id).where(devices.c.alert_after.is_not(None))
                           .order_by(devices.c.id.desc()).limit(silent)).scalars().all()
    with engine.begin() as conn:
        for start in range(0, len(ids), CHUNK):
            conn.execute(update(devices).where(devices.c.id.in_(ids[start:start + CHUNK]))
                         .values(alert_after=now - timedelta(seconds=1)))

    def done() -> bool:
        # No device past its deadline is left: each was marked silent in the unit that
        # committed its lost-contact alarm (or its membership of the outage). One probe of
        # the deadline index, cheap enough to ask five times a second without slowing the
        # database it measures (a count of silent devices would scan a million rows).
        time.sleep(0.2)
        with engine.connect() as conn:
            return conn.execute(select(devices.c.id).where(devices.c.alert_after <= now, devices.c.active.is_(True))
                                .limit(1)).first() is None

    cpu0 = process_cpu_seconds(os.getpid())
    seconds = asyncio.run(run_worker(journal, done, timeout=1800))
    cpu = process_cpu_seconds(os.getpid()) - cpu0
    with engine.connect() as conn:
        made = conn.execute(select(func.count()).select_from(alarms).where(alarms.c.type == "device_silent",
                                                                           alarms.c.source != "storm")).scalar_one()
        groups = conn.execute(select(func.count()).select_from(alarms).where(alarms.c.type == "device_silent",
                                                                             alarms.c.source == "storm")).scalar_one()
        # What the centre's queue and the technicians' list show: alarms not in a group.
        ungrouped = conn.execute(select(func.count()).select_from(alarms).where(
            alarms.c.type == "device_silent", alarms.c.group_id.is_(None))).scalar_one()
    return {"silent": len(ids), "seconds_to_commit_all": round(seconds, 1), "member_alarms": made,
            "group_alarms": groups, "rows_shown": ungrouped, "cpu_ms_per_device": round(1000 * cpu / len(ids), 3)}


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> dict:
    with ExitStack() as cleanup:
        engine, where = fresh_engine(kind, cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / f"{kind}.db")
        t0 = time.perf_counter()
        fleet(engine, args.devices, system_clock())
        result = {"db": kind, "devices": args.devices, "insert_seconds": round(time.perf_counter() - t0, 1)}
        journal = Journal(engine, window_ms=2, reactions=REACTIONS).start()
        cleanup.callback(journal.close)
        result["idle_pass"] = idle_pass(engine, journal)
        if is_postgres(engine):
            # What the node's supervision worker does at start and every 30 s (store/planner.py).
            time.sleep(1.5)  # the statistics collector's flush interval
            result["analysed_by_the_node"] = planner.keep_informed(engine)
            result["idle_pass_after_analyze"] = idle_pass(engine, journal)
        result["latency"] = latency(engine, journal)
        result["outage"] = outage(engine, journal, args.silent)
        console.print(result)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--silent", type=int, default=5_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench(kind, args, Path(tmp)) for kind in kinds]
    write(console, "supervision", results, when_utc=datetime.now(timezone.utc).isoformat())


if __name__ == "__main__":
    main()
