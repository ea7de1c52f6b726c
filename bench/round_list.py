#!/usr/bin/env python
"""Benchmark the supervision round with a big night: does the round list stay fluid at 300
look-ins in a shift (issue 19)?

For each size (default: 10 look-ins as the reference, then 300), in one process, against a
real ``respons serve`` on SQLite and a real Chromium:

* **server render**: ``GET /round`` (the whole page with every look-in of the shift), median of 7;
* **page load**: navigation start to ``load`` in the browser (Navigation Timing);
* **live refresh**: a colleague starts and records look-ins over HTTP one by one; for each
  change, the time from the server-sent event arriving in the watching browser to its row
  being fetched and in place (``window.respons.round.rowUpdates``, measured by round.js), and
  the whole way from the colleague's answer to the row showing it (from Python: an upper
  bound, it includes Playwright's polling);
* **clock tick**: the main-thread time of the once-a-second repaint of every row's clock;
* **full reload**: the path after a reconnect (fetch and swap the whole list);
* **long tasks**: main-thread tasks over 50 ms while the changes arrive;
* **server CPU** per change (the server process's user+system time from /proc, over the
  refresh phase, divided by the look-ins changed: each is a start and an outcome).

The result is a table with ratios to the 10-look-in reference and
``bench/results/round_list-<UTC>.json``. This is a benchmark, not a test.

    .venv/bin/python bench/round_list.py --sizes 10,300 --changes 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from respons.demo.seed import seed_demo  # noqa: E402
from respons.digital_supervision import lookins, store  # noqa: E402
from respons.digital_supervision.plans import AgreedTime, Kind, Plan  # noqa: E402
from respons.digital_supervision.rounds import Reason, Window, shift_at  # noqa: E402
from respons.store.db import write_transaction  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import recipients  # noqa: E402
from tests.browser.harness import VIEWPORT, Account, find_chromium, launch, log_in  # noqa: E402
from tests.chaos.server import ServerProcess, free_port  # noqa: E402
from intake_http import percentile, process_cpu_seconds  # noqa: E402
import ratios  # noqa: E402

LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
  .observe({type: 'longtask', buffered: true});
"""
OPERATOR = Account("operator", "demo-operator-2026")


def build(database_url: str, size: int, startable: int) -> list[int]:
    """A demo centre whose current shift holds ``size`` look-ins, one person each: the first
    ``startable`` are due within two minutes of now (in their window), the rest spread over the
    shift. Returns the startable look-ins' ids."""
    upgrade(database_url)
    engine = create_engine(database_url)
    now = datetime.now(timezone.utc)
    seed_demo(engine, now=now, recipients=max(600, size + 50))
    shift, window = shift_at(now), Window()
    with write_transaction(engine) as conn:
        people = conn.execute(select(recipients.c.id, recipients.c.municipality_id).order_by(recipients.c.id)
                              .limit(size)).all()
        rows = []
        for n, person in enumerate(people):
            plan = Plan(kind=Kind.CAMERA, times=(AgreedTime(datetime(2026, 1, 1, 23).time()),), max_seconds=30,
                        consent_by="Brukeren selv", consent_on=date(2026, 1, 1), valid_from=now.date() + timedelta(days=30))
            plan_id = store.add(conn, municipality_id=person.municipality_id, recipient_id=person.id, plan=plan,
                                now=now, actor="bench")
            due = (now + timedelta(seconds=n * 4) if n < startable else
                   shift.starts + (shift.ends - shift.starts) * n / size)
            rows.append(lookins.new_lookin({"id": plan_id, "municipality_id": person.municipality_id,
                                            "recipient_id": person.id}, Reason.PLANNED, Kind.CAMERA, due, now, window))
        ids = store.add_lookins(conn, rows)
    engine.dispose()
    return ids[:startable]


def measure(browser, size: int, changes: int, workdir: Path) -> dict:
    database_url = f"sqlite:///{workdir / f'round-{size}.db'}"
    startable = build(database_url, size, changes)
    server = ServerProcess(database_url, free_port(), workdir / f"server-{size}.log")
    server.start()
    try:
        context = browser.new_context(viewport=VIEWPORT, locale="nb-NO")
        page = context.new_page()
        page.add_init_script(LONG_TASKS)
        log_in(page, server.url, OPERATOR)
        page.goto(server.url + "/round")
        expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=30_000)
        rows = page.locator("tr.lookin-row").count()
        navigation = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                   " return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()")
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        render = []
        with httpx.Client(base_url=server.url, cookies=cookies) as client:
            for _ in range(7):
                started = time.perf_counter()
                assert client.get("/round").status_code == 200
                render.append((time.perf_counter() - started) * 1000)

        # A colleague in another browser session does the look-ins; this page watches.
        colleague = browser.new_context(viewport=VIEWPORT, locale="nb-NO")
        other = colleague.new_page()
        log_in(other, server.url, OPERATOR)
        csrf = other.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
        their_cookies = {c["name"]: c["value"] for c in colleague.cookies()}
        page.evaluate("window.__longTasks = []; window.respons.round.rowUpdates = [];"
                      " window.respons.round.tick = {count: 0, totalMs: 0, maxMs: 0}")
        end_to_end = []
        cpu_before = process_cpu_seconds(server.process.pid)
        with httpx.Client(base_url=server.url, cookies=their_cookies, headers={"X-CSRF-Token": csrf}) as them:
            for lookin in startable:
                assert them.post(f"/round/lookins/{lookin}/start").status_code == 200
                answer = them.post(f"/round/lookins/{lookin}/finish", data={"outcome": "seen_well"})
                assert answer.status_code == 200, answer.text
                done = time.perf_counter()
                expect(page.locator(f"#lookin-{lookin}")).to_have_attribute("data-state", "done", timeout=15_000)
                end_to_end.append((time.perf_counter() - done) * 1000)
        cpu_used = process_cpu_seconds(server.process.pid) - cpu_before
        page.wait_for_timeout(3000)  # a few more clock ticks
        updates = [u["ms"] for u in page.evaluate("window.respons.round.rowUpdates")]
        tick = page.evaluate("window.respons.round.tick")
        long_tasks = page.evaluate("window.__longTasks")
        reload_ms = page.evaluate("(async () => { const t = performance.now(); await window.respons.round.reloadList();"
                                  " return performance.now() - t; })()")
        colleague.close()
        context.close()
    finally:
        server.stop()
    return {
        "lookins": size,
        "rows_rendered": rows,
        "server_render_ms_median": round(statistics.median(render), 1),
        "page_load_ms": round(navigation["load"], 1),
        "row_refresh_ms_p50": round(statistics.median(updates), 1),
        "row_refresh_ms_p95": round(percentile(sorted(updates), 95), 1),
        "answer_to_row_ms_p50": round(statistics.median(end_to_end), 1),
        "answer_to_row_ms_p95": round(percentile(sorted(end_to_end), 95), 1),
        "clock_tick_ms_mean": round(tick["totalMs"] / max(1, tick["count"]), 2),
        "clock_tick_ms_max": round(tick["maxMs"], 2),
        "full_reload_ms": round(reload_ms, 1),
        "long_tasks_during_changes": len(long_tasks),
        "longest_task_ms": round(max(long_tasks), 1) if long_tasks else 0,
        "server_cpu_ms_per_lookin": round(cpu_used * 1000 / len(startable), 1),
        "changes": len(startable),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,300", help="look-ins in the shift; the first is the reference")
    parser.add_argument("--changes", type=int, default=10, help="look-ins started and recorded while watched")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console()
    chromium, reason = find_chromium()
    if chromium is None:
        sys.exit(reason)
    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = launch(p)
        version = browser.version
        for size in sizes:
            console.print(f"[bold]{size} look-ins[/]")
            results.append(measure(browser, size, min(args.changes, size), Path(tmp)))
        browser.close()

    ratios.print_table(console, "The supervision round with a big night (SQLite, real Chromium)", results,
                       "lookins", "look-ins", skip=("changes",))
    ratios.write(console, "round_list", results, machine={"chromium": version})


if __name__ == "__main__":
    main()
