"""Sampling a benchmark's server with py-spy (the ``bench`` extra) and summarising where its
time goes: the profile docs/benchmarks.md quotes next to each figure."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """py-spy on ``pid`` for ``seconds`` (every thread, 200 samples a second, collapsed
    stacks to ``output``), without stopping the process it samples."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
                             "--duration", str(int(seconds)), "--rate", "200", "--format", "raw", "--threads",
                             "--output", str(output), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
