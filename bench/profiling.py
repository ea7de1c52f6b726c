"""Sampling a benchmark's server with py-spy (the ``bench`` extra) and summarising where its
time goes: the profile docs/benchmarks.md quotes next to each figure."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def record(pid: int, seconds: float, output: Path, *, gil_only: bool = False) -> subprocess.Popen:
    """py-spy on ``pid`` for ``seconds`` (every thread, 200 samples a second, collapsed
    stacks to ``output``), without stopping the process it samples. ``gil_only``: only the
    thread holding the GIL is sampled, so the shares are of Python's own CPU (a thread
    waiting for the GIL, or for the database, is not counted; C code that releases the GIL,
    such as SQLite's, is not either)."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
                             "--duration", str(int(seconds)), "--rate", "200", "--format", "raw", "--threads",
                             "--output", str(output), "--nonblocking", *(["--gil"] if gil_only else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kept(out_dir: Path, name: str) -> Path:
    """Where the sampled stacks are kept, next to the result (py-spy's collapsed format, for
    a flame graph)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.txt"


def summary(collapsed: Path, top: int = 40) -> dict[str, Any]:
    """The samples as the share in which each function is on the stack (inclusive) and on
    top (self), the biggest first. A thread waiting (the journal's queue, a socket) is sampled
    too: read "self" of ``Condition.wait`` and ``Connection.wait`` as waiting, not work."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue  # not a sample line (py-spy may note an idle or gone thread)
        n = int(count)
        total += n
        frames = [_name(frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n

    def share(n: int) -> float:
        return round(100.0 * n / max(1, total), 1)

    return {"samples": total,
            "inclusive_percent": {f: share(n) for f, n in inclusive.most_common(top)},
            "self_percent": {f: share(n) for f, n in own.most_common(top)}}


def _name(frame: str) -> str:
    """"function (path/file.py:line)" → "function (file.py)"."""
    if " (" not in frame:
        return frame
    function, where = frame.split(" (", 1)
    return f"{function} ({where.split(':')[0].split('/')[-1]})"
