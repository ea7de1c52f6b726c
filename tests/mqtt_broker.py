"""The real Mosquitto broker for MQTT tests, and its own publisher ``mosquitto_pub``.

The broker is found at RESPONS_TEST_MQTT_URL (default mqtt://127.0.0.1:1883, anonymous).
When none answers, the tests skip with a message, except when RESPONS_REQUIRE_MQTT=1 (set
by .ci/run, which starts Mosquitto with scripts/ensure-mosquitto.sh): then they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from respons.intake.mqtt.receiver import Broker

BROKER_URL = os.environ.get("RESPONS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
REQUIRE_MQTT = os.environ.get("RESPONS_REQUIRE_MQTT") == "1"


def broker_or_skip() -> Broker:
    broker = Broker.from_url(BROKER_URL)
    problem = None
    if shutil.which("mosquitto_pub") is None or shutil.which("mosquitto_sub") is None:
        problem = "mosquitto_pub/mosquitto_sub not installed (Debian: apt-get install mosquitto-clients)"
    else:
        try:
            socket.create_connection((broker.host, broker.port), timeout=2).close()
        except OSError as exc:
            problem = f"no MQTT broker at {BROKER_URL}: {exc} (start one: bash scripts/ensure-mosquitto.sh)"
    if problem:
        if REQUIRE_MQTT:
            pytest.fail(problem + " (RESPONS_REQUIRE_MQTT=1)")
        pytest.skip(problem)
    return broker


def unique(prefix: str) -> str:
    """Topic roots and client ids of their own, so tests never see each other's sessions."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def mosquitto_pub(broker: Broker, topic: str, body: str | bytes | None, *, qos: int = 1) -> None:
    """Publish with Mosquitto's own client (a publisher nobody here wrote)."""
    args = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", str(qos), "-t", topic]
    if body is None or body in (b"", ""):
        args.append("-n")  # a zero-length message
        data = None
    else:
        args.append("-s")  # the whole of stdin is the message, bytes as they are
        data = body.encode() if isinstance(body, str) else body
    subprocess.run(args, input=data, check=True, timeout=10, capture_output=True)


def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
