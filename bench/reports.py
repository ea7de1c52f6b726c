#!/usr/bin/env python
"""Benchmark the reports over a large history (issue 7): a municipality's monthly report and
the yearly report for 40 municipalities, over ten million timeline events.

Method (docs/benchmarks.md, "Reports"):

1. A fresh database (SQLite WAL file, or a new PostgreSQL database dropped afterwards),
   migrated; 40 municipalities with recipients and zones (``tests.factories.seed_registry``).
2. A year of history, written in bulk: ``--events`` timeline events in all (default
   10,000,000), five per alarm (received, queued, answered, resolved, closed; a fifth of the
   alarms also dispatch home care and get an *arrived* action), spread over the municipalities
   by a skewed share (the host has a quarter) and over the year by the demo's hourly profile,
   and written in order of arrival, as production writes them.
   Rows are consistent with their timelines; they are generated directly (not folded one by one
   through the domain) so that writing 10 M events takes minutes, not hours.
3. ``ANALYZE`` (both databases), then, timed with ``time.perf_counter`` in this process:
   * the **monthly report** of the host municipality (the largest): read the facts, compute the
     figures, render the PDF (``reports.model.build`` + ``reports.pdf.render``), ``--runs`` runs;
   * the **yearly report for 40 municipalities** (``build_year`` + ``render_year``), ``--runs`` runs;
   * also the host's own **year report**, month by month (not a target; a year of the largest
     municipality is the heaviest single report).
   Reported: each run, the median, and the number of alarms and events behind it.
   **Reference in the same run**: ``SELECT count(*)`` over the same month's alarms of that
   municipality and over the whole year's alarms: what merely touching the rows costs.

Usage: ``.venv/bin/python bench/reports.py --db both [--events 10000000]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics as stats
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from respons.demo.traffic import HOURLY_WEIGHTS  # noqa: E402
from respons.statistics.rules import OSLO, Period  # noqa: E402
from respons.statistics import service as statistics# noqa: E402
from respons.statistics import report_model as model# noqa: E402
from respons.statistics import report_pdf as pdf
from respons.store.db import make_engine  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import alarm_events, alarms  # noqa: E402

console = Console(stderr=True)
YEAR = 2025
MUNICIPALITIES = 40
CHUNK = 20_000
EVENTS_PER_ALARM = 5


def municipality_shares(n: int) -> list[float]:
    """The host has a quarter; the rest fall off like real municipality sizes."""
    rest = [1 / (i + 2) for i in range(n - 1)]
    scale = 0.75 / sum(rest)
    return [0.25] + [r * scale for r in rest]


def generate(engine, registry, total_events: int, rng: random.Random) -> dict:
    municipality_ids = registry.municipality_ids
    recipients_of = {m: [] for m in municipality_ids}
    with engine.connect() as conn:
        from respons.store.tables import recipients

        for rid, mid in conn.execute(select(recipients.c.id, recipients.c.municipality_id)):
            recipients_of[mid].append(rid)
    shares = municipality_shares(len(municipality_ids))
    hours = list(range(24))
    start = datetime(YEAR, 1, 1, tzinfo=OSLO).astimezone(timezone.utc)
    seconds_in_year = (datetime(YEAR + 1, 1, 1, tzinfo=OSLO) - datetime(YEAR, 1, 1, tzinfo=OSLO)).total_seconds()
    n_alarms = total_events // EVENTS_PER_ALARM
    written_events = 0
    alarm_rows, event_rows = [], []
    # Drawn first and written in order of arrival, as production writes them: a month's rows
    # then lie together in the table, not scattered over a year's pages (which made the same
    # count of a month's alarms four times slower on SQLite; docs/benchmarks.md).
    arrivals = []
    for _ in range(n_alarms):
        mid = rng.choices(municipality_ids, weights=shares)[0]
        day = start + timedelta(seconds=rng.random() * seconds_in_year)
        hour = rng.choices(hours, weights=HOURLY_WEIGHTS)[0]
        arrivals.append((day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60)), mid))
    arrivals.sort()
    with Progress(console=console) as progress:
        task = progress.add_task("writing the history", total=n_alarms)
        for at, mid in arrivals:
            answered = at + timedelta(seconds=rng.lognormvariate(3.3, 0.5))
            dispatch = rng.random() < 0.2
            resolved = answered + timedelta(minutes=rng.uniform(1, 30 if dispatch else 3))
            closed = resolved + timedelta(seconds=30)
            alarm_id = str(uuid.UUID(int=rng.getrandbits(128)))
            outcome = "home_care_dispatched" if dispatch else rng.choice(("resolved_at_centre", "resolved_at_centre",
                                                                          "false_alarm", "technician"))
            alarm_rows.append(dict(
                id=alarm_id, municipality_id=mid, recipient_id=rng.choice(recipients_of[mid]), device_id=None,
                type="button_press", category="assistance", priority=2, source="bench", occurred_at=at, received_at=at,
                payload=None, idempotency_scope=None, idempotency_key=None, request_fingerprint=None,
                route={"steps": [{"target": "centre", "seconds": None, "resend_seconds": None, "zone_id": None}],
                       "reason": "service_model", "service_model": 1},
                route_step=0, mission=None, missing_response=False, state="closed", seq=5, queued_at=at,
                answered_at=answered, answered_by="user:1", resolved_at=resolved, outcome=outcome, closed_at=closed,
                answer_time_exceeded=(answered - at).total_seconds() > 60, arrived_at=None))
            events = [("received", at, {"source": "bench"}), ("queued", at, {"to": "response_centre"}),
                      ("answered", answered, {}), ("resolved", resolved, {"outcome": outcome}), ("closed", closed, {})]
            if dispatch:  # the arrival replaces nothing: a sixth event for a fifth of the alarms
                arrived = answered + timedelta(minutes=rng.uniform(10, 25))
                alarm_rows[-1]["arrived_at"] = arrived
                events.insert(3, ("action", arrived, {"action": "arrived"}))
            event_rows += [dict(alarm_id=alarm_id, seq=s, kind=k, at=t, actor="user:1", data=d)
                           for s, (k, t, d) in enumerate(events, start=1)]
            if len(alarm_rows) >= CHUNK:
                written_events += _flush(engine, alarm_rows, event_rows)
                progress.advance(task, CHUNK)
        written_events += _flush(engine, alarm_rows, event_rows)
        progress.update(task, completed=n_alarms)
    return {"alarms": n_alarms, "events": written_events}


def _flush(engine, alarm_rows: list, event_rows: list) -> int:
    with engine.begin() as conn:
        if alarm_rows:
            conn.execute(insert(alarms), alarm_rows)
        if event_rows:
            conn.execute(insert(alarm_events), event_rows)
    n = len(event_rows)
    alarm_rows.clear()
    event_rows.clear()
    return n


def timed(fn, runs: int) -> dict:
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return {"runs_s": [round(s, 3) for s in seconds], "median_s": round(stats.median(seconds), 3)}


def bench(kind: str, args) -> dict:
    from intake_http import fresh_database
    from tests.factories import seed_registry

    rng = random.Random(args.seed)
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(dir=args.tmpdir)))
        url, _ = fresh_database(kind, cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / "reports.db")
        upgrade(url)
        engine = make_engine(url)
        cleanup.callback(engine.dispose)
        registry = seed_registry(engine, municipalities_count=MUNICIPALITIES, recipients_per=20,
                                 now=datetime(YEAR, 1, 1, tzinfo=timezone.utc))
        t0 = time.perf_counter()
        volume = generate(engine, registry, args.events, rng)
        volume["write_s"] = round(time.perf_counter() - t0, 1)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        host = registry.municipality_ids[0]
        now = datetime(YEAR + 1, 2, 1, tzinfo=timezone.utc)
        month = statistics.PeriodRequest.containing(host, Period.MONTH, date(YEAR, 10, 15))
        scope = frozenset(registry.municipality_ids)

        def monthly():
            with engine.connect() as conn:
                pdf.render(model.build(conn, month, now=now, minutes_per_cleared_alarm=30))

        host_year = statistics.PeriodRequest.containing(host, Period.YEAR, date(YEAR, 6, 1))

        def host_yearly():
            with engine.connect() as conn:
                pdf.render(model.build(conn, host_year, now=now, minutes_per_cleared_alarm=30))

        def yearly():
            with engine.connect() as conn:
                pdf.render_year(model.build_year(conn, scope, YEAR, now=now, minutes_per_cleared_alarm=30))

        start, end = month.bounds
        with engine.connect() as conn:
            month_alarms = conn.execute(select(func.count()).select_from(alarms).where(
                alarms.c.municipality_id == host, alarms.c.received_at >= start, alarms.c.received_at < end)).scalar_one()

        def count_month():
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(alarms).where(
                    alarms.c.municipality_id == host, alarms.c.received_at >= start, alarms.c.received_at < end)).scalar_one()

        def count_year():
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(alarms)).scalar_one()

        console.print(f"[{kind}] timing the monthly report ({month_alarms} alarms) and the yearly report …")
        result = {
            "db": kind, "volume": volume, "month_alarms": month_alarms,
            "monthly_report": timed(monthly, args.runs), "yearly_report_40": timed(yearly, args.runs),
            "host_year_report": timed(host_yearly, args.runs),
            "reference_count_month": timed(count_month, 5), "reference_count_year": timed(count_year, 3),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each report")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = [bench(kind, args) for kind in kinds]
    print(json.dumps(results, indent=2))
    for r in results:
        console.print(f"{r['db']}: {r['volume']['events']:,} events, monthly report median "
                      f"{r['monthly_report']['median_s']} s ({r['month_alarms']} alarms; count alone "
                      f"{r['reference_count_month']['median_s']} s), yearly report for 40 median "
                      f"{r['yearly_report_40']['median_s']} s (count of the year alone {r['reference_count_year']['median_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
