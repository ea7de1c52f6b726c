#!/usr/bin/env python
"""Benchmark the messages' outbox (issue 20): how fast a backlog of next-of-kin requests gets
to an SMS centre, and what each costs this process.

Method (docs/benchmarks.md, "Messages"):

1. A fresh SQLite database with the test registry; ``--count`` next-of-kin alarms received
   through the journal (each queues one SMS in its unit), while the worker is not running —
   the backlog an SMSC outage leaves.
2. The node's ``MessageWorker`` with a real SMPP session to the local SMS centre (node-smpp's
   server side, tools/message-peers) sends them all and records each answer; then every
   delivery receipt is recorded. Wall time to all *sent* and to all *delivered*, and this
   process's CPU time per message from /proc (the SMSC's is its own).
3. Reference in the same run: the journal alone committing the same number of one-row units
   (``SELECT 1`` then nothing): what the bookkeeping of one unit costs, so the ratio says how
   much of a message is SMPP and records rather than the journal.

Usage: ``.venv/bin/python bench/messages.py [--count 500]``; figures to
``bench/results/messages-<UTC>.json``. Needs scripts/ensure-message-peers.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from sqlalchemy import func, insert, select, text, update  # noqa: E402

from bench.intake_http import process_cpu_seconds  # noqa: E402
from bench.ratios import write  # noqa: E402
from respons.clock import system_clock  # noqa: E402
from respons.domain.alarm_types import alarm_type  # noqa: E402
from respons.engine import receiving  # noqa: E402
from respons.messages.smpp import SmppProvider  # noqa: E402
from respons.messages.worker import MessageWorker  # noqa: E402
from respons.runtime import REACTIONS  # noqa: E402
from respons.store.db import make_engine  # noqa: E402
from respons.store.journal import Journal  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import contacts, messages, recipients  # noqa: E402
from tests.chaos.server import free_port  # noqa: E402
from tests.factories import seed_registry  # noqa: E402
from tests.message_peers import LocalSmsc  # noqa: E402

PEOPLE = 100


def backlog(engine, journal: Journal, count: int) -> None:
    registry = seed_registry(engine, municipalities_count=1, recipients_per=PEOPLE)
    municipality = registry.municipality_ids[0]
    with engine.begin() as conn:
        for i, recipient_id in enumerate(registry.recipient_ids[:PEOPLE]):
            conn.execute(update(recipients).where(recipients.c.id == recipient_id).values(kin_categories=["sensor"]))
            conn.execute(insert(contacts).values(municipality_id=municipality, recipient_id=recipient_id,
                                                 name=f"Pårørende {i}", relation="datter", phone=f"+47410{i:05d}",
                                                 priority=1, receives_alarms=True))
    now = system_clock()
    for n in range(count):
        new = receiving.NewAlarm(municipality, registry.recipient_ids[n % PEOPLE], None, alarm_type("door_opened"),
                                 "http", "bench", now)
        journal.run_sync(lambda c, a=new: receiving.receive(c, a, now=now, answer_deadline=timedelta(seconds=60)))


def counted(engine, *states: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(messages).where(messages.c.state.in_(states))).scalar_one()


async def send_all(engine, journal: Journal, smsc: LocalSmsc, count: int) -> dict:
    provider = SmppProvider(host="127.0.0.1", port=smsc.port, system_id=smsc.system_id, password=smsc.password,
                            sender="2222")
    worker = MessageWorker(journal, system_clock, node="bench", sms=provider, push=None, poll_seconds=0.05,
                           lease_seconds=30)
    await worker.start_providers()
    while not provider.bound:
        await asyncio.sleep(0.05)
    cpu0, t0 = process_cpu_seconds(os.getpid()), time.perf_counter()
    worker.start()
    sent_at = None
    while counted(engine, "delivered") < count:
        if sent_at is None and counted(engine, "sent", "delivered") == count:
            sent_at = time.perf_counter() - t0
        await asyncio.sleep(0.02)
    delivered_at = time.perf_counter() - t0
    cpu = process_cpu_seconds(os.getpid()) - cpu0
    await worker.stop()
    return {"seconds_to_all_sent": round(sent_at or delivered_at, 2), "seconds_to_all_delivered": round(delivered_at, 2),
            "sms_per_second": round(count / (sent_at or delivered_at), 1),
            "cpu_ms_per_sms": round(1000 * cpu / count, 2)}


def journal_reference(journal: Journal, count: int) -> float:
    cpu0 = process_cpu_seconds(os.getpid())
    for _ in range(count):
        journal.run_sync(lambda c: c.execute(text("SELECT 1")))
    return round(1000 * (process_cpu_seconds(os.getpid()) - cpu0) / count, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        journal = Journal(engine, window_ms=2, reactions=REACTIONS).start()
        smsc = LocalSmsc(free_port(), free_port(), Path(tmp) / "smsc.jsonl", Path(tmp) / "smsc.log").start()
        try:
            backlog(engine, journal, args.count)
            result = asyncio.run(send_all(engine, journal, smsc, args.count))
            at_smsc = len(smsc.messages())
            result["journal_unit_cpu_ms"] = journal_reference(journal, args.count)
            result["ratio_to_a_journal_unit"] = round(result["cpu_ms_per_sms"] / result["journal_unit_cpu_ms"], 1)
        finally:
            smsc.stop()
            journal.close()
            engine.dispose()
    result = {"count": args.count, "parts_at_smsc": at_smsc, **result}
    for key, value in result.items():
        console.print(f"{key:>28}: {value}")
    write(console, "messages", [result], when_utc=datetime.now(timezone.utc).isoformat())


if __name__ == "__main__":
    main()
