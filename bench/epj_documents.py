#!/usr/bin/env python
"""Benchmark the patient record's documents (issue 17): how many VKP Bundles per second are
built, validated and delivered, and what share of the cost is the validator?

Method (docs/benchmarks.md, "EPJ documents"):

1. **Build and validate**, in this process, no database: ``--documents`` alarm records of
   three shapes (handled at the centre with a conversation; handed to home care; a storm
   member cleared), each built (``epj.document.build``) and validated
   (``epj.validation.validate``: base FHIR by fhir.resources, then the VKP profiles and the
   national-id rule), timed separately with ``time.process_time`` (CPU). Reference in the same
   run: ``json.dumps`` of each finished Bundle, the least any sender must spend on a document.
2. **Deliver**: a fresh SQLite database with the test registry, ``--deliveries`` alarms
   received, answered, called, resolved and closed through the journal (the outbox reaction
   writes each document), then the node's ``DeliveryWorker`` sends them to the FHIR server the
   tests use (Medplum's engine, tools/fhir-server) until all are delivered: wall time, and CPU
   time of this process per document (the FHIR server's own CPU is its, not Respons's).

Usage: ``.venv/bin/python bench/epj_documents.py [--documents 2000] [--deliveries 200]``;
figures to ``bench/results/epj_documents-<UTC>.json``. Needs scripts/ensure-fhir-server.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from respons.domain.alarm_types import alarm_type  # noqa: E402
from respons.domain.lifecycle import Event, EventKind as K  # noqa: E402
from respons.epj import document, validation  # noqa: E402
from respons.epj.document import AlarmRecord, Organisation, Person  # noqa: E402
from respons.epj.worker import DeliveryWorker  # noqa: E402
from respons.runtime import REACTIONS  # noqa: E402
from respons.store.db import make_engine  # noqa: E402
from respons.store.journal import Journal  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import epj_documents  # noqa: E402
from tests.chaos.server import free_port  # noqa: E402
from tests.factories import T0, FakeClock, epj_centre, seed_registry  # noqa: E402
from tests.fhir_server import NODE, FhirServer  # noqa: E402

T = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)


def shapes(n: int) -> AlarmRecord:
    at = T + timedelta(minutes=n)

    def s(seconds):
        return at + timedelta(seconds=seconds)

    kind = n % 3
    if kind == 0:
        events = [Event(K.RECEIVED, at, "device:A", {}), Event(K.QUEUED, at, "system"),
                  Event(K.ANSWERED, s(20), "user:1"),
                  Event(K.ACTION, s(30), "user:1", {"action": "call_recipient", "result": "answered"}),
                  Event(K.NOTE, s(60), "user:1", {"text": "Falt på badet, ikke skadet."}),
                  Event(K.RESOLVED, s(90), "user:1", {"outcome": "resolved_at_centre"}), Event(K.CLOSED, s(95), "user:1")]
        code = "fall"
    elif kind == 1:
        events = [Event(K.RECEIVED, at, "device:A", {}), Event(K.QUEUED, at, "system"),
                  Event(K.ANSWERED, s(15), "user:1"),
                  Event(K.ACTION, s(30), "user:1", {"action": "call_recipient", "result": "answered"}),
                  Event(K.ACTION, s(60), "user:1", {"action": "dispatch_home_care"}),
                  Event(K.MISSION_ACCEPTED, s(120), "user:2"), Event(K.ACTION, s(900), "user:2", {"action": "arrived"}),
                  Event(K.ACTION, s(1500), "user:2", {"action": "done"}),
                  Event(K.RESOLVED, s(1510), "user:1", {"outcome": "home_care_dispatched"}),
                  Event(K.CLOSED, s(1520), "user:1")]
        code = "button_press"
    else:
        events = [Event(K.RECEIVED, at, "device:A", {}), Event(K.CLEARED, s(300), "system", {"reason": "storm_group_closed",
                                                                                           "outcome": "technician"})]
        code = "power_lost"
    return AlarmRecord(str(uuid.UUID(int=n + 1)), alarm_type(code), "10813516506", "Test Person",
                       Organisation("Testkommune", "964965226", "4204"), Organisation("Responssenteret"), tuple(events),
                       {"user:1": Person("Anne Operatør", "9144889"), "user:2": Person("Kim")}, "A", "safety_alarm", "A")


def build_and_validate(count: int) -> dict:
    records = [shapes(n) for n in range(count)]
    t0 = time.process_time()
    bundles = [document.build(r) for r in records]
    t1 = time.process_time()
    base = [validation.base_fhir_findings(b) for b in bundles]
    t2 = time.process_time()
    full = [validation.validate(b) for b in bundles]
    t3 = time.process_time()
    texts = [json.dumps(b) for b in bundles]
    t4 = time.process_time()
    assert all(not f for f in full) and all(not f for f in base)
    build_ms, validate_ms, base_ms, dumps_ms = ((t1 - t0) / count * 1000, (t3 - t2) / count * 1000,
                                               (t2 - t1) / count * 1000, (t4 - t3) / count * 1000)
    return {"documents": count, "build_cpu_ms": round(build_ms, 3), "validate_cpu_ms": round(validate_ms, 3),
            "of_which_base_fhir_cpu_ms": round(base_ms, 3), "reference_json_dumps_cpu_ms": round(dumps_ms, 3),
            "validator_share": round(validate_ms / (build_ms + validate_ms), 3),
            "documents_per_cpu_second": round(1000 / (build_ms + validate_ms), 1),
            "mean_bundle_bytes": round(sum(len(t) for t in texts) / count)}


def deliver(count: int, workdir: Path) -> dict:
    server = FhirServer(free_port(), workdir / "fhir.log").start()
    url = f"sqlite:///{workdir / 'epj.db'}"
    upgrade(url)
    engine = make_engine(url)
    centre = epj_centre(engine, seed_registry(engine), server.base_url)
    journal = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    try:
        centre.close(journal, count)
        # Rounds of 50 as when the figures in docs/benchmarks.md were measured: a round claims
        # only what fits in half its lease, four at a time (epj/worker.py), so the lease covers
        # 13 waves of 30 s here; the CPU per document is what is measured, not the round size.
        worker = DeliveryWorker(journal, engine, FakeClock(T0 + timedelta(hours=1)), node="bench", poll_seconds=1,
                                lease_seconds=13 * 2 * 30, timeout_seconds=30, alarm_after=timedelta(minutes=15),
                                answer_deadline=timedelta(seconds=60), batch=50)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while asyncio.run(worker.run_once()):
            pass
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        with engine.connect() as conn:
            states = [r.state for r in conn.execute(select(epj_documents.c.state))]
    finally:
        journal.close()
        engine.dispose()
        server.stop()
    assert states.count("delivered") == count, states
    return {"deliveries": count, "wall_s": round(wall, 3), "delivered_per_second": round(count / wall, 1),
            "respons_cpu_ms_per_document": round(cpu / count * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args()
    if not NODE.exists():
        sys.exit("The FHIR server is not installed: bash scripts/ensure-fhir-server.sh")
    result = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
              "build_and_validate": build_and_validate(args.documents)}
    with tempfile.TemporaryDirectory() as workdir:
        result["deliver"] = deliver(args.deliveries, Path(workdir))
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"epj_documents-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
