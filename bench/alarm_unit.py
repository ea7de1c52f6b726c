#!/usr/bin/env python
"""Benchmark the DC-09 alarm batch unit alone (issue 21, goal 1): CPU per alarm of the journal
writing batches of alarm frames, in this process, without sockets or an event loop.

The receiver benchmark (``bench/dc09_receiver.py``) measures the whole server against
pysiaalarm, but on a shared 2-core machine its ratio moves ±15 % from run to run; a change of
3 % in the batch unit cannot be seen there. This one measures only the unit every alarm frame
ends in (``intake/dc09/receiver.handle_many`` through the journal: panels, retransmits, routing,
the alarm, its events and timer, the commit), so two checkouts can be compared by alternating
them (docs/benchmarks.md, "Issue 21", fourth round):

    for i in 1 2 3; do
      PYTHONPATH=/path/to/old/src .venv/bin/python bench/alarm_unit.py --db sqlite
      .venv/bin/python bench/alarm_unit.py --db sqlite
    done

Method: a fresh database with the receiver benchmark's 200 panels (``insert_fixture``), a
journal with the node's reactions, then ``--rounds`` rounds of ``--batches`` units of
``--batch`` alarm frames (one per panel, Contact ID 1101/1100, read and decoded beforehand).
CPU is this process's (``time.process_time``) and the journal thread's own (``/proc``), per
alarm. ``--busy`` runs a thread beside it that takes the GIL the way an event loop does (Python
work, then a socket call), to show what the GIL's hand-overs add.

Usage: ``.venv/bin/python bench/alarm_unit.py [--db sqlite|postgresql|both] [--busy]``;
figures to ``bench/results/alarm_unit-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.dc09_receiver import insert_fixture, make_frame  # noqa: E402
from bench.intake_http import DEFAULT_PG_ADMIN_URL, fresh_engine  # noqa: E402
from bench.ratios import write  # noqa: E402
from respons.engine.routing import RulesCache  # noqa: E402
from respons.intake.dc09 import receiver  # noqa: E402
from respons.intake.dc09.frames import open_envelope, read  # noqa: E402
from respons.runtime import REACTIONS  # noqa: E402
from respons.store.journal import Journal  # noqa: E402

console = Console()


def frames(accounts: list[str], sequence: itertools.count) -> list[receiver.Incoming]:
    """One alarm frame per panel, read and decoded as the listener hands them to the unit."""
    now = datetime.now(timezone.utc)
    batch = []
    for account in accounts:
        n = next(sequence)
        raw = make_frame("cid_1101" if n % 2 else "cid_1100", account, f"{n % 9999 + 1:04d}", n, now)
        frame = open_envelope(read(raw), now=now)
        batch.append(receiver.Incoming(frame, raw, receiver.interpret(frame), now, "127.0.0.1"))
    return batch


def journal_cpu_seconds() -> float:
    """CPU time of the journal's writer thread so far (utime + stime, from /proc)."""
    [writer] = [thread for thread in threading.enumerate() if thread.name == "respons-journal"]
    fields = Path(f"/proc/self/task/{writer.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Busy:
    """A thread that wants the GIL as an event loop does: some Python, then a socket call."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._a, self._b = socket.socketpair()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        total = 0
        while not self._stop.is_set():
            for i in range(100):
                total += len(str(i))
            self._a.send(b"x")
            self._b.recv(1)
            time.sleep(0.00005)

    def __enter__(self) -> "Busy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._a.close()
        self._b.close()


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> dict:
    with ExitStack() as cleanup:
        engine, where = fresh_engine(kind, cleanup, pg_admin_url=args.pg_admin_url, sqlite_path=workdir / f"{kind}.db")
        accounts = insert_fixture(engine, args.batch)
        journal = Journal(engine, window_ms=2, reactions=REACTIONS).start()
        cleanup.callback(journal.close)
        rules, sequence = RulesCache(), itertools.count(1)

        def unit(batch):
            return lambda conn: receiver.handle_many(conn, batch, answer_deadline_seconds=86400, rules_cache=rules)

        for _ in range(20):  # warm: statements prepared, caches filled
            journal.run_sync(unit(frames(accounts, sequence)))
        rounds = []
        with Busy() if args.busy else ExitStack():
            for _ in range(args.rounds):
                batches = [frames(accounts, sequence) for _ in range(args.batches)]
                alarms = args.batches * len(accounts)
                process, own = time.process_time(), journal_cpu_seconds()
                for batch in batches:
                    answers = journal.run_sync(unit(batch))
                    assert all(answer is receiver.Answer.ACK for answer in answers), answers
                rounds.append({
                    "process_us_per_alarm": round((time.process_time() - process) / alarms * 1e6, 1),
                    "journal_thread_us_per_alarm": round((journal_cpu_seconds() - own) / alarms * 1e6, 1)})
        result = {"db": kind, "where": where, "batch": len(accounts), "batches_per_round": args.batches,
                  "busy_thread_beside": args.busy, "rounds": rounds}
        console.print(result)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--batch", type=int, default=78, help="alarm frames per unit (one per panel; "
                        "the receiver benchmark's units average 78)")
    parser.add_argument("--batches", type=int, default=150, help="units per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="a thread beside the journal wanting the GIL")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench(kind, args, Path(tmp)) for kind in kinds]
    write(console, "alarm_unit", results)


if __name__ == "__main__":
    main()
