#!/usr/bin/env python
"""Benchmark a timer backlog after a restart (issue 15, item 7): how long after the server is
ready has the last of N overdue timers fired?

Method (docs/benchmarks.md, "Timer backlog after a restart"):

1. A fresh database (SQLite WAL file, or a new PostgreSQL database dropped afterwards),
   migrated, with the test registry (``tests.factories.seed_registry``); ``--timers`` alarms
   received through the real unit of work (``engine.receiving.receive``: routing plan, timeline,
   answer-deadline timer), all at T0. That journal is closed: the server stopped.
2. A new journal (as a restarted server has) and a ``TimerWorker`` with the server's
   defaults (poll 0.5 s, lease 30 s) and an injected clock at T0 + 10 minutes, so every
   answer deadline is overdue; its handler is the real one (an ``answer_time_exceeded``
   event appended through the domain). The worker is started as ``respons serve`` starts it
   (``PeriodicWorker.start``); that moment is *ready*. Timed with ``time.perf_counter`` until
   the worker has fired all of them (checked every 2 ms), and the CPU time of this process
   (``time.process_time``: the event loop and the journal thread) divided by the timers; on
   PostgreSQL also the CPU time of the database's server processes for this database (from
   ``/proc``; the database is new and only this process uses it).
3. The same with the **reference**: the worker as it was before (claims of 100, each firing
   awaited alone, so one COMMIT per timer), in the same run, on a fresh database of the same
   kind.
4. Afterwards, every timer is checked to be fired and every alarm to have exactly one
   ``answer_time_exceeded`` event.

Usage: ``.venv/bin/python bench/timer_backlog.py --db both [--timers 500] [--runs 3]``; the
figures go to ``bench/results/timer_backlog-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_http import fresh_database  # noqa: E402  (the intake benchmark's helper)
from rich.console import Console  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from respons.domain.lifecycle import EventKind  # noqa: E402
from respons.engine import receiving
from respons.engine import timers  # noqa: E402
from respons.runtime import TIMER_HANDLERS  # noqa: E402
from respons.engine.timers import TimerWorker  # noqa: E402
from respons.store.db import make_engine  # noqa: E402
from respons.store.journal import Journal  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import alarm_events  # noqa: E402
from respons.store.tables import timers as timer_table  # noqa: E402
from tests.factories import T0, FakeClock, new_alarm, seed_registry  # noqa: E402

console = Console(stderr=True)
DEADLINE = timedelta(seconds=60)


class OneCommitEachWorker(TimerWorker):
    """The worker before issue 15 (reference): each firing waits for its own COMMIT, and a
    round claims at most 100, the rest waiting for the next poll."""

    async def run_once(self) -> int:
        claims = await self._journal.run(
            lambda conn: timers.claim_due(conn, now=self._clock(), node=self._node, lease=self._lease)
        )
        fired = 0
        for claim in claims:
            try:
                if await self._journal.run(lambda conn, c=claim: timers.fire(conn, c, now=self._clock(), handlers=TIMER_HANDLERS)):
                    fired += 1
            except Exception:
                console.print_exception()
        self.fired += fired
        return fired


STRATEGIES = {"batched": TimerWorker, "one commit each": OneCommitEachWorker}


def prepare(url: str, count: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        registry = seed_registry(engine)
        journal = Journal(engine, window_ms=1).start()
        try:
            for start in range(0, count, 100):
                n = min(100, count - start)
                journal.run_sync(lambda c, n=n: [receiving.receive(c, new_alarm(registry), now=T0, answer_deadline=DEADLINE)
                                                 for _ in range(n)], timeout=120)
        finally:
            journal.close()
    finally:
        engine.dispose()


async def drain(worker: TimerWorker, count: int, timeout: float) -> tuple[float, float]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    worker.start()  # ready: from here on the server takes requests
    try:
        while worker.fired < count:
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"only {worker.fired} of {count} fired after {timeout} s")
            await asyncio.sleep(0.002)
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await worker.stop()


def backend_cpu_seconds(engine) -> float:
    """CPU time so far of PostgreSQL's server processes serving this database."""
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile, or another machine
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def one_run(kind: str, strategy: str, args) -> dict:
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(dir=args.tmpdir)))
        url, _ = fresh_database(kind, cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / "timers.db")
        prepare(url, args.timers)
        engine = make_engine(url)
        cleanup.callback(engine.dispose)
        with engine.connect() as conn:  # a warm pool, as a running server has
            conn.execute(select(1))
        journal = Journal(engine, window_ms=2.0, max_batch=500).start()
        try:
            clock = FakeClock(T0 + timedelta(minutes=10))
            worker = STRATEGIES[strategy](journal, clock, handlers=TIMER_HANDLERS, node="bench", poll_seconds=0.5, lease_seconds=30)
            # The journal's connection, opened before the clock starts, so its backend is counted.
            journal.run_sync(lambda conn: conn.execute(select(1)).scalar())
            server0 = backend_cpu_seconds(engine) if kind == "postgres" else 0.0
            wall, cpu = asyncio.run(drain(worker, args.timers, timeout=120))
            server = backend_cpu_seconds(engine) - server0 if kind == "postgres" else None
            commits = journal.stats.batches - 1
        finally:
            journal.close()
        with engine.connect() as conn:
            states = dict(conn.execute(select(timer_table.c.state, func.count()).group_by(timer_table.c.state)).all())
            exceeded = conn.execute(
                select(alarm_events.c.alarm_id, func.count()).where(alarm_events.c.kind == EventKind.ANSWER_TIME_EXCEEDED.value)
                .group_by(alarm_events.c.alarm_id)).all()
        ok = states == {"fired": args.timers} and len(exceeded) == args.timers and all(n == 1 for _, n in exceeded)
        return {"wall_s": round(wall, 3), "cpu_ms_per_timer": round(cpu * 1000 / args.timers, 2),
                "db_server_cpu_ms_per_timer": None if server is None else round(server * 1000 / args.timers, 2),
                "commits": commits, "check": "OK" if ok else f"FAILED: {states}, {len(exceeded)} alarms marked"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--timers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        for strategy in STRATEGIES:
            runs = []
            load_before = os.getloadavg()  # the machine is shared: say how busy it was
            for i in range(args.runs):
                console.print(f"[{kind}] {strategy}, run {i + 1} of {args.runs} …")
                runs.append(one_run(kind, strategy, args))
            walls = [r["wall_s"] for r in runs]
            results.append({"db": kind, "strategy": strategy, "timers": args.timers, "runs": runs,
                            "median_wall_s": round(statistics.median(walls), 3),
                            "median_cpu_ms_per_timer": round(statistics.median(r["cpu_ms_per_timer"] for r in runs), 2),
                            "median_db_server_cpu_ms_per_timer": None if kind != "postgres" else round(
                                statistics.median(r["db_server_cpu_ms_per_timer"] for r in runs), 2),
                            "load_average_before": load_before})
    out = Path(__file__).resolve().parent / "results" / f"timer_backlog-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    for r in results:
        walls = [x["wall_s"] for x in r["runs"]]
        console.print(f"{r['db']:>8} {r['strategy']:>16}: last of {r['timers']} fired {r['median_wall_s']} s after ready "
                      f"(median; {min(walls)}–{max(walls)}), CPU {r['median_cpu_ms_per_timer']} ms per timer"
                      f"{'' if r['median_db_server_cpu_ms_per_timer'] is None else ' + database ' + str(r['median_db_server_cpu_ms_per_timer'])}, "
                      f"commits {[x['commits'] for x in r['runs']]}, {set(x['check'] for x in r['runs'])}")
    return 0 if all(x["check"] == "OK" for r in results for x in r["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
