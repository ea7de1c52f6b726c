"""The serving process settles its heap once its node is up (runtime.settle_heap): what exists
then is frozen out of the cycle collector's walks, and young collections come less often."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

import uvicorn
from fastapi import FastAPI

from respons.web import server


def test_settle_heap_freezes_what_exists_and_collects_the_young_less_often():
    # In a process of its own: freezing this test process would keep other tests' cycles.
    script = ("import gc; from respons.runtime import settle_heap, YOUNG_COLLECTION_EVERY\n"
              "before = gc.get_threshold()\n"
              "settle_heap()\n"
              "frozen = gc.get_freeze_count()\n"
              "cycle = []; cycle.append(cycle); del cycle\n"  # a cycle made afterwards is still collected
              "print(frozen > 10_000, gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *before[1:]), gc.collect() >= 1)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]


def test_the_server_settles_the_heap_after_the_app_has_started(monkeypatch):
    steps = []

    async def started(self, sockets=None):
        steps.append("lifespan and sockets")

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    monkeypatch.setattr(server, "settle_heap", lambda: steps.append("settled"))
    app = FastAPI()
    asyncio.run(server._Server(server.config(app, host="127.0.0.1", port=0), app).startup())
    assert steps == ["lifespan and sockets", "settled"]


def _never_settled():
    raise AssertionError("settled")


def test_a_server_that_fails_to_start_is_not_settled(monkeypatch):
    async def failed(self, sockets=None):
        raise SystemExit(3)  # uvicorn's way when the lifespan or the bind fails

    monkeypatch.setattr(uvicorn.Server, "startup", failed)
    monkeypatch.setattr(server, "settle_heap", _never_settled)
    app = FastAPI()
    with pytest.raises(SystemExit):
        asyncio.run(server._Server(server.config(app, host="127.0.0.1", port=0), app).startup())


def test_a_server_told_to_stop_while_starting_is_not_settled(monkeypatch):
    async def interrupted(self, sockets=None):
        self.handle_exit(signal.SIGTERM, None)  # SIGTERM arrived during the start

    monkeypatch.setattr(uvicorn.Server, "startup", interrupted)
    monkeypatch.setattr(server, "settle_heap", _never_settled)
    app = FastAPI()
    started = server._Server(server.config(app, host="127.0.0.1", port=0), app)
    asyncio.run(started.startup())
    assert started.should_exit
