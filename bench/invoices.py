#!/usr/bin/env python
"""Benchmark an invoice run (issue 8): 50 municipalities and 120,000 recipients over a year.

Method (docs/benchmarks.md, "Invoice run"):

1. A fresh database (SQLite WAL file, or a new PostgreSQL database dropped afterwards),
   migrated; one centre, ``--municipalities`` municipalities (default 50) with agreements and
   price models that use every component (per user per month, a backup-only share, per event,
   two split budgets, a fee per inhabitant, a per-patient price for follow-up kits),
   ``--recipients`` recipients (default 120,000) spread by a skewed share, each with a safety
   alarm (and one in twenty a follow-up kit) and a service period: most all year, some starting
   or ending inside it, some with a break.
2. A year (2025) of alarms, ``--alarms-per-recipient`` a year (default 26, Kristiansand's
   460,000 alarms for 17,529 units), of the types the price models count and others, written in
   bulk in order of arrival. Only the alarm rows: an invoice reads no timeline events.
3. ``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``, as autovacuum has long done for a year-old
   table; index-only scans need its visibility map), then timed with ``time.perf_counter`` in this process: the **invoice run for
   the whole year** (``economy.invoicing.run``: read, compute, store every line and the
   recipients behind them, commit), ``--runs`` times (each replaces the draft before it).
   **Reference in the same run**: ``SELECT count(*)`` over the year's alarms and over the
   service periods: what touching the rows costs.

Usage: ``.venv/bin/python bench/invoices.py --db both``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reports import municipality_shares, timed  # noqa: E402  (the reports benchmark's helpers)
from rich.console import Console  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from respons.domain.identity import synthetic_national_id  # noqa: E402
from respons.economy.pricing import InvoicePeriod  # noqa: E402
from respons.statistics.rules import OSLO  # noqa: E402
from respons.economy import invoicing# noqa: E402
from respons.store.db import make_engine, write_transaction  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import (  # noqa: E402
    agreements,
    alarms,
    budgets,
    centres,
    deflators,
    devices,
    municipalities,
    price_models,
    recipients,
    service_periods,
)

console = Console(stderr=True)
YEAR = 2025
CHUNK = 20_000
PRICED_TYPES = ("geofence_exit", "supervision_due", "door_opened", "bed_exit")
OTHER_TYPES = ("button_press", "button_press", "button_press", "fall", "battery_low", "device_silent")


def build(engine, args, rng: random.Random) -> dict:
    now = datetime(YEAR, 1, 1, tzinfo=timezone.utc)
    year_start = datetime(YEAR, 1, 1, tzinfo=OSLO)
    seconds_in_year = (datetime(YEAR + 1, 1, 1, tzinfo=OSLO) - year_start).total_seconds()
    with engine.begin() as conn:
        centre_id = conn.execute(insert(centres).values(name="Benkesenteret", created_at=now)).inserted_primary_key[0]
        municipality_ids = []
        for m in range(args.municipalities):
            mid = conn.execute(insert(municipalities).values(
                number=f"{8000 + m}", name=f"Benkekommune {m:02d}", population=rng.randint(900, 120_000),
                role="host" if m == 0 else "cooperating", centre_id=centre_id, created_at=now)).inserted_primary_key[0]
            municipality_ids.append(mid)
            agreement = conn.execute(insert(agreements).values(
                municipality_id=mid, centre_id=centre_id, valid_from=date(2020, 1, 1), created_at=now)).inserted_primary_key[0]
            backup_only = m % 5 == 4
            components = [
                {"kind": "per_user_month", "price": "32.74" if backup_only else "106.97",
                 "label": "Kun backup" if backup_only else "Full responstjeneste"},
                {"kind": "per_user_month", "price": "450.00", "label": "Digital hjemmeoppfølging",
                 "device_kinds": ["measurement_kit"]},
                {"kind": "per_event", "price": "12.50", "label": "GPS og digitalt tilsyn",
                 "alarm_types": ["geofence_exit", "supervision_due"]},
                {"kind": "per_event", "price": "4.00", "label": "Sensorer", "alarm_types": ["door_opened", "bed_exit"]},
                {"kind": "budget_share", "budget": "svartjeneste", "label": "Svartjeneste"},
                {"kind": "budget_share", "budget": "systemer", "label": "Systemer"},
                {"kind": "per_inhabitant", "price": "3.00", "due": "01-15"},
            ]
            conn.execute(insert(price_models).values(agreement_id=agreement, valid_from=date(2024, 1, 1), base_year=2024,
                                                     components=components, created_at=now, created_by="bench"))
        conn.execute(insert(budgets), [
            dict(centre_id=centre_id, year=YEAR, name="svartjeneste", amount_ore=2_500_000_000, fixed_share="0.41"),
            dict(centre_id=centre_id, year=YEAR, name="systemer", amount_ore=400_000_000, fixed_share="0.15")])
        conn.execute(insert(deflators).values(year=YEAR, rate="0.043", source="bench"))

    weights = municipality_shares(args.municipalities)
    national_ids: set[str] = set()
    recipient_rows, device_rows, period_rows = [], [], []
    owners: list[int] = []
    for i in range(args.recipients):
        mid = rng.choices(municipality_ids, weights=weights)[0]
        birth = date(1920, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        while (nid := synthetic_national_id(birth, rng)) in national_ids:
            pass
        national_ids.add(nid)
        rid = i + 1
        owners.append(mid)
        recipient_rows.append(dict(id=rid, municipality_id=mid, national_id=nid, given_name="Benk", family_name=f"Bruker{i}",
                                   birth_date=birth, address="Benkeveien 1", postal_code="4600", city="Benkeby",
                                   created_at=now, updated_at=now))
        device_rows.append(dict(municipality_id=mid, recipient_id=rid, kind="safety_alarm", protocol="http",
                                identity=f"B-{rid:07d}", created_at=now))
        if rng.random() < 0.05:
            device_rows.append(dict(municipality_id=mid, recipient_id=rid, kind="measurement_kit", protocol="http",
                                    identity=f"K-{rid:07d}", created_at=now))
        roll = rng.random()
        if roll < 0.80:  # all year
            period_rows.append(dict(recipient_id=rid, starts_on=date(2021, 3, 1), ends_on=None))
        elif roll < 0.90:  # started in the year
            period_rows.append(dict(recipient_id=rid, starts_on=date(YEAR, 1, 1) + timedelta(days=rng.randrange(365)),
                                    ends_on=None))
        elif roll < 0.97:  # ended in the year
            period_rows.append(dict(recipient_id=rid, starts_on=date(2022, 6, 1),
                                    ends_on=date(YEAR, 1, 1) + timedelta(days=rng.randrange(365))))
        else:  # a break
            period_rows.append(dict(recipient_id=rid, starts_on=date(2023, 1, 1), ends_on=date(YEAR, 4, 1)))
            period_rows.append(dict(recipient_id=rid, starts_on=date(YEAR, 6, 1), ends_on=None))
    with engine.begin() as conn:
        for table, rows in ((recipients, recipient_rows), (devices, device_rows), (service_periods, period_rows)):
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[start:start + CHUNK])
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('recipients_id_seq', (SELECT max(id) FROM recipients))"))

    n_alarms = args.recipients * args.alarms_per_recipient
    arrivals = sorted((year_start.astimezone(timezone.utc) + timedelta(seconds=rng.random() * seconds_in_year),
                       rng.randrange(args.recipients)) for _ in range(n_alarms))
    rows = []
    for at, index in arrivals:
        kind = rng.choice(PRICED_TYPES) if rng.random() < 0.3 else rng.choice(OTHER_TYPES)
        rows.append(dict(id=str(uuid.UUID(int=rng.getrandbits(128))), municipality_id=owners[index], recipient_id=index + 1,
                         type=kind, category="assistance", priority=2, source="bench", occurred_at=at, received_at=at,
                         state="closed", seq=1))
        if len(rows) >= CHUNK:
            _flush(engine, rows)
    _flush(engine, rows)
    return {"centre_id": centre_id, "municipalities": args.municipalities, "recipients": args.recipients,
            "service_periods": len(period_rows), "devices": len(device_rows), "alarms": n_alarms}


def _flush(engine, rows: list) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(alarms), rows)
        rows.clear()


def bench(kind: str, args) -> dict:
    from intake_http import fresh_database

    rng = random.Random(args.seed)
    with ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(dir=args.tmpdir)))
        url, _ = fresh_database(kind, cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / "invoices.db")
        upgrade(url)
        engine = make_engine(url)
        cleanup.callback(engine.dispose)
        t0 = time.perf_counter()
        console.print(f"[{kind}] writing {args.recipients:,} recipients and a year of alarms …")
        volume = build(engine, args, rng)
        volume["write_s"] = round(time.perf_counter() - t0, 1)
        if kind == "postgres":
            # A year-old table has been vacuumed by autovacuum long ago; a freshly loaded one
            # has no visibility map, and without it PostgreSQL cannot read an index alone.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        year = InvoicePeriod(date(YEAR, 1, 1), 12)
        outcome: dict = {}

        def invoice_run():
            with write_transaction(engine) as conn:
                result = invoicing.run(conn, volume["centre_id"], year, actor="bench",
                                       now=datetime(YEAR + 1, 1, 5, tzinfo=timezone.utc))
            outcome.update(lines=result.lines, total=str(result.total))

        start, end = datetime(YEAR, 1, 1, tzinfo=OSLO), datetime(YEAR + 1, 1, 1, tzinfo=OSLO)

        def count_alarms():
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(alarms).where(alarms.c.received_at >= start,
                                                                           alarms.c.received_at < end)).scalar_one()

        def count_periods():
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(service_periods)).scalar_one()

        console.print(f"[{kind}] timing the invoice run for {YEAR} …")
        result = {"db": kind, "volume": volume, "invoice_run_year": timed(invoice_run, args.runs),
                  "reference_count_alarms": timed(count_alarms, 3), "reference_count_service_periods": timed(count_periods, 3)}
        result["run"] = outcome
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--municipalities", type=int, default=50)
    parser.add_argument("--recipients", type=int, default=120_000)
    parser.add_argument("--alarms-per-recipient", type=int, default=26)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = [bench(kind, args) for kind in kinds]
    print(json.dumps(results, indent=2))
    for r in results:
        console.print(f"{r['db']}: invoice run for {r['volume']['municipalities']} municipalities, "
                      f"{r['volume']['recipients']:,} recipients, {r['volume']['alarms']:,} alarms: median "
                      f"{r['invoice_run_year']['median_s']} s ({r['run']['lines']} lines); count of the year's alarms "
                      f"{r['reference_count_alarms']['median_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
