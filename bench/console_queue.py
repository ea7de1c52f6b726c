#!/usr/bin/env python
"""Benchmark the operator console with a big queue: does it stay quick at 2,000 open alarms?

For each queue size (default: 20 as the reference, then 2,000), in one process, on one
machine, against a real ``respons serve`` on SQLite and a real Chromium:

* **server render**: ``GET /console`` (the whole page with every open alarm), median of 7;
* **first paint of the page**: navigation start to ``load`` in the browser (Navigation
  Timing), with every row in the DOM;
* **live update**: alarms sent one by one through the HTTP intake; for each, the time from
  the server-sent event arriving in the browser to its row being fetched and put in queue
  order (``window.respons.rowUpdates``, measured by console.js), and the whole way from the
  intake's 202 to the row being visible (measured from Python; includes Playwright's
  polling, so it is an upper bound);
* **answer clock**: the main-thread time of the once-a-second tick that repaints every
  waiting row's clock (``window.respons.tick``);
* **full refetch**: the ``reload`` path (after a reconnect): fetch and swap the whole queue;
* **long tasks**: main-thread tasks over 50 ms during the live-update phase (the browser's
  own Long Tasks API), i.e. moments where a key press would feel stuck.

The result is a table, ratios to the 20-alarm reference, and
``bench/results/console_queue-<UTC>.json``. This is a benchmark, not a test.

    .venv/bin/python bench/console_queue.py --sizes 20,2000 --updates 40
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from respons.auth import accounts  # noqa: E402
from respons.demo.seed import seed_demo  # noqa: E402
from respons.domain.alarm_types import ALARM_TYPES, alarm_type  # noqa: E402
from respons.engine import alarms as service  # noqa: E402
from respons.engine import receiving
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import devices  # noqa: E402
from tests.browser.harness import VIEWPORT, Account, find_chromium, launch, log_in  # noqa: E402
from tests.chaos.server import ServerProcess, free_port  # noqa: E402

LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
  .observe({type: 'longtask', buffered: true});
"""


def build(database_url: str, open_alarms: int) -> tuple[list[str], str]:
    """A demo centre with ``open_alarms`` open alarms (a fifth already taken); returns the
    devices to send new alarms from and an intake token for them."""
    upgrade(database_url)
    engine = create_engine(database_url)
    now = datetime.now(timezone.utc)
    seed_demo(engine, now=now, recipients=600)
    codes = sorted(ALARM_TYPES)
    with engine.begin() as conn:
        owned = conn.execute(select(devices.c.id, devices.c.municipality_id, devices.c.recipient_id, devices.c.identity)
                             .where(devices.c.recipient_id.is_not(None)).order_by(devices.c.id)).all()
        for n in range(open_alarms):
            device = owned[n % len(owned)]
            received = now - timedelta(seconds=3600 * n / max(1, open_alarms))
            new = receiving.NewAlarm(device.municipality_id, device.recipient_id, device.id, alarm_type(codes[n % len(codes)]),
                                   "http", f"device:{device.identity}", received)
            # A far deadline: thousands of answer-time events at start-up would be a
            # different benchmark (a backlog storm), not the steady queue measured here.
            alarm_id = receiving.receive(conn, new, now=received, answer_deadline=timedelta(days=1)).alarm_id
            if n % 5 == 0:
                service.answer(conn, alarm_id, actor="user:1", visible_to=None, now=received + timedelta(seconds=20))
        first = owned[0].municipality_id
        senders = [d.identity for d in owned if d.municipality_id == first][:50]
        token = accounts.create_token(conn, name="bench", municipality_id=first, purpose="intake", actor="bench",
                                      created_by=None, now=now)[1]
    engine.dispose()
    return senders, token


def measure(browser, size: int, updates: int, workdir: Path) -> dict:
    database_url = f"sqlite:///{workdir / f'console-{size}.db'}"
    senders, token = build(database_url, size)
    server = ServerProcess(database_url, free_port(), workdir / f"server-{size}.log")
    server.start()
    try:
        context = browser.new_context(viewport=VIEWPORT, locale="nb-NO")
        page = context.new_page()
        page.add_init_script(LONG_TASKS)
        log_in(page, server.url, Account("operator", "demo-operator-2026"))
        # Measure a plain load of the console (the log-in before it hashes a password).
        page.goto(server.url + "/console")
        expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=30_000)
        rows = page.locator("#queue-body tr").count()
        navigation = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                   " return {response: n.responseEnd, dom: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()")

        cookies = {c["name"]: c["value"] for c in context.cookies()}
        render = []
        with httpx.Client(base_url=server.url, cookies=cookies) as client:
            for _ in range(7):
                started = time.perf_counter()
                assert client.get("/console").status_code == 200
                render.append((time.perf_counter() - started) * 1000)

        page.evaluate("window.__longTasks = []; window.respons.rowUpdates = []; window.respons.tick = {count: 0, totalMs: 0, maxMs: 0}")
        end_to_end, acked_at = [], {}
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as intake:
            for n in range(updates):
                response = intake.post("/api/v1/alarms", json={
                    "device": senders[n % len(senders)], "type": "button_press",
                    "occurred_at": datetime.now(timezone.utc).isoformat()})
                assert response.status_code == 202, response.text
                acked = time.perf_counter()
                acked_at[response.json()["alarm_id"]] = time.time() * 1000
                page.wait_for_selector(f"#row-{response.json()['alarm_id']}", state="attached", timeout=15_000)
                end_to_end.append((time.perf_counter() - acked) * 1000)
                page.wait_for_timeout(150)
        page.wait_for_timeout(3000)  # a few more clock ticks
        updates_seen = page.evaluate("window.respons.rowUpdates")
        in_browser = [u["ms"] for u in updates_seen]
        # Wall clocks of one machine: the 202 read by Python to the event read by the page.
        to_event = [u["arrived"] - acked_at[u["id"]] for u in updates_seen if u["id"] in acked_at and u["event"] == "queued"]
        tick = page.evaluate("window.respons.tick")
        long_tasks = page.evaluate("window.__longTasks")
        reload_ms = page.evaluate("(async () => { const t = performance.now(); await window.respons.reloadQueue();"
                                  " return performance.now() - t; })()")
        context.close()
    finally:
        server.stop()
    return {
        "open_alarms": size,
        "rows_rendered": rows,
        "server_render_ms_median": round(statistics.median(render), 1),
        "page_load_ms": round(navigation["load"], 1),
        "page_dom_ready_ms": round(navigation["dom"], 1),
        "row_update_ms_p50": round(statistics.median(in_browser), 1),
        "row_update_ms_p95": round(_p95(in_browser), 1),
        "ack_to_event_ms_p50": round(statistics.median(to_event), 1),
        "ack_to_event_ms_p95": round(_p95(to_event), 1),
        "intake_to_row_ms_p50": round(statistics.median(end_to_end), 1),
        "intake_to_row_ms_p95": round(_p95(end_to_end), 1),
        "clock_tick_ms_mean": round(tick["totalMs"] / max(1, tick["count"]), 2),
        "clock_tick_ms_max": round(tick["maxMs"], 2),
        "full_refetch_ms": round(reload_ms, 1),
        "long_tasks_during_updates": len(long_tasks),
        "longest_task_ms": round(max(long_tasks), 1) if long_tasks else 0,
        "updates": updates,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,2000", help="queue sizes; the first is the reference")
    parser.add_argument("--updates", type=int, default=40)
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
            console.print(f"[bold]{size} open alarms[/]")
            results.append(measure(browser, size, args.updates, Path(tmp)))
        browser.close()

    reference = results[0]
    table = Table(title="Console with a big queue (SQLite, real Chromium)")
    table.add_column("measure")
    for r in results:
        table.add_column(f"{r['open_alarms']} alarms", justify="right")
    if len(results) > 1:
        table.add_column(f"ratio {results[-1]['open_alarms']}/{reference['open_alarms']}", justify="right")
    for key in [k for k in reference if k not in ("open_alarms", "updates")]:
        cells = [str(r[key]) for r in results]
        ratio = f"{results[-1][key] / reference[key]:.2f}×" if len(results) > 1 and reference[key] else ""
        table.add_row(key, *cells, *([ratio] if len(results) > 1 else []))
    console.print(table)

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"console_queue-{stamp}.json"
    out.write_text(json.dumps({
        "benchmark": "console_queue", "when": stamp, "machine": {"platform": platform.platform(), "python": platform.python_version(),
                                                               "cpus": __import__("os").cpu_count(), "chromium": version},
        "results": results,
    }, indent=2) + "\n")
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
