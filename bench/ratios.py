"""What the browser-side benchmarks print and keep: a table of each measure per size with the
ratio of the largest to the first (the reference of the same run), and the results as
``bench/results/<name>-<UTC>.json`` with the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"


def print_table(console: Console, title: str, results: list[dict], size_key: str, unit: str,
                skip: tuple[str, ...] = ()) -> None:
    reference = results[0]
    table = Table(title=title)
    table.add_column("measure")
    for r in results:
        table.add_column(f"{r[size_key]} {unit}", justify="right")
    if len(results) > 1:
        table.add_column(f"ratio {results[-1][size_key]}/{reference[size_key]}", justify="right")
    for key in [k for k in reference if k != size_key and k not in skip]:
        cells = [str(r[key]) for r in results]
        ratio = f"{results[-1][key] / reference[key]:.2f}×" if len(results) > 1 and reference[key] else ""
        table.add_row(key, *cells, *([ratio] if len(results) > 1 else []))
    console.print(table)


def write(console: Console, name: str, results: list[dict], **extra) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{name}-{stamp}.json"
    out.write_text(json.dumps({
        "benchmark": name, "when": stamp, **{k: v for k, v in extra.items() if k != "machine"},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    **extra.get("machine", {})},
        "results": results,
    }, indent=2) + "\n")
    console.print(f"wrote {out.relative_to(RESULTS.parent.parent)}")
    return out
