"""Start and kill real ``respons serve`` processes for chaos tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, database_url: str, port: int, log_path, **settings: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._env = {**os.environ, "RESPONS_DATABASE_URL": database_url, "RESPONS_PORT": str(port)}
        self._env.update({f"RESPONS_{k.upper()}": str(v) for k, v in settings.items()})
        self._log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = open(self._log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "respons.cli", "serve"], env=self._env, stdout=log, stderr=subprocess.STDOUT
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
