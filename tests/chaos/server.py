"""Start and kill real ``respons serve`` processes for chaos tests."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPOSITORY = Path(__file__).resolve().parents[2]

# Ports for the servers the tests start. Not port 0 (the kernel's choice): between choosing
# and the server's bind, any outgoing connection of this or another xdist worker (httpx,
# PostgreSQL) may take an ephemeral port. So each worker takes ports from a block of its own
# below the kernel's ephemeral range (32768 and up on Linux), at a random place in the block
# so that two runs on one machine rarely meet, and checks that each is free.
PORT_BASE = 20000
PORT_BLOCK = 500


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # "gw0", "gw1", ... under xdist
    return int(worker[2:]) if worker[2:].isdigit() else 0


_start = PORT_BASE + (_worker_index() % 24) * PORT_BLOCK
_ports = itertools.cycle(range(_start, _start + PORT_BLOCK))
for _ in range(random.randrange(PORT_BLOCK)):
    next(_ports)


def free_port() -> int:
    """A port nobody listens on, from this worker's block; never the same one twice in a row,
    so a server that has not bound its port yet does not have it handed out again."""
    for _ in range(PORT_BLOCK):
        port = next(_ports)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_start}..{_start + PORT_BLOCK - 1}")


class ServerProcess:
    def __init__(self, database_url: str, port: int, log_path, **settings: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._env = {**os.environ, "RESPONS_DATABASE_URL": database_url, "RESPONS_PORT": str(port),
                     # tests.serve is importable from the server whatever its working directory.
                     "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}
        self._env.update({f"RESPONS_{k.upper()}": str(v) for k, v in settings.items()})
        self._log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = open(self._log_path, "ab")
        self.process = subprocess.Popen(
            # respons serve, with the suite's cheap password hashing (tests/serve.py).
            [sys.executable, "-m", "tests.serve"], env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self._log_path}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server did not become healthy; see {self._log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed by us."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
