#!/usr/bin/env python
"""Benchmark voice: how long from a unit's INVITE to "ringing" on the console, and how many
calls per second Respons sets up through the gateway, on this machine.

One real ``respons serve`` node (SQLite) with its SCAIP port and the real gateway (Janus,
configured by ``respons.voice.janus``); ``--devices`` SCAIP units in the registry.

1. **INVITE → ringing.** For each unit: its SCAIP alarm (MESSAGE, waited for its 200), then
   its INVITE over UDP. Timed from the INVITE's send to the listener's 180 Ringing, and to the
   call's event on an operator's live stream (``/api/v1/queue/events``: what makes the
   console ring). The unit then CANCELs. Reference in the same run: the SCAIP alarm's own
   round trip (MESSAGE → 200, one durable commit), which an INVITE also needs.
2. **Calls set up per second through the gateway.** ``--concurrency`` operators' sessions
   call a unit back (``POST /console/alarms/{id}/calls`` with a WebRTC offer) for ``--calls``
   calls in all; the unit is SIPp's built-in UAS (200 OK at once). A call counts when Respons
   reports it answered (SIP 200 through the gateway); each is then hung up. The browser's
   media is not set up (the offer is synthetic): this is signalling. Reference in the same
   run: SIPp calling the same SIPp UAS directly (``-sn uac``), without Respons or the gateway.
   CPU seconds per call of the node and of the gateway are read from /proc.

Everything shares the machine's cores; figures go to ``bench/results/voice_calls-<UTC>.json``.

    .venv/bin/python bench/voice_calls.py --devices 200 --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake_http import percentile, process_cpu_seconds  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402

from respons.domain.access import Role  # noqa: E402
from respons.intake.scaip.messages import Mrq, build_mrq  # noqa: E402
from respons.intake.scaip.sip import build_request, parse_response  # noqa: E402
from respons.store.db import make_engine  # noqa: E402
from respons.store.migrate import upgrade  # noqa: E402
from respons.store.tables import devices  # noqa: E402
from respons.voice import janus  # noqa: E402
from tests.chaos.server import ServerProcess, free_port  # noqa: E402
from tests.voice_stack import offer_sdp  # noqa: E402
from tests.factories import PASSWORD, add_user, seed_registry  # noqa: E402


class Udp:
    """A SIP unit's UDP socket: send a request, read answers by Call-ID."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.target = ("127.0.0.1", port)
        self.local = self.sock.getsockname()[1]

    def request(self, method: str, cid: str, call_id: str, body: bytes = b"", content_type: str | None = None,
                cseq: int = 1) -> None:
        headers = [("Via", f"SIP/2.0/UDP 127.0.0.1:{self.local};branch=z9hG4bK-{call_id}-{method};rport"),
                   ("Max-Forwards", "70"), ("From", f"<sip:{cid}@127.0.0.1:{self.local}>;tag=u{cid}"),
                   ("To", "<sip:centre@127.0.0.1>"), ("Call-ID", call_id), ("CSeq", f"{cseq} {method}")]
        if content_type:
            headers.append(("Content-Type", content_type))
        self.sock.sendto(build_request(method, "sip:centre@127.0.0.1", headers, body), self.target)

    def until(self, status: int) -> float:
        while True:
            answer = parse_response(self.sock.recv(65536))
            if answer.status == status:
                return time.perf_counter()


async def ringing(args, node: ServerProcess, scaip_port: int, cids: list[str], operator: str) -> dict:
    events: dict[str, float] = {}

    async def stream(client: httpx.AsyncClient, opened: asyncio.Event) -> None:
        async with client.stream("GET", "/api/v1/queue/events") as response:
            response.raise_for_status()
            event = None
            async for line in response.aiter_lines():
                opened.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "alarm":
                    change = json.loads(line[6:])
                    if change.get("event") == "call":
                        events.setdefault(change["alarm_id"], time.perf_counter())

    async with httpx.AsyncClient(base_url=node.url, timeout=30) as client:
        (await client.post("/api/v1/auth/login", json={"username": operator, "password": PASSWORD})).raise_for_status()
        opened = asyncio.Event()
        task = asyncio.create_task(stream(client, opened))
        await asyncio.wait_for(opened.wait(), 10)
        unit = Udp(scaip_port)
        alarm_rtt, to_180, to_console = [], [], []
        for n, cid in enumerate(cids):
            call_id = f"bench-{n}-{secrets.token_hex(4)}"
            body = build_mrq(Mrq(ref=f"r{n}", cid=cid, dty="0003", stc="0010", cha="0"))
            sent = time.perf_counter()
            unit.request("MESSAGE", cid, f"m-{call_id}", body, "application/scaip+xml")
            alarm_rtt.append(await asyncio.to_thread(unit.until, 200) - sent)
            sent = time.perf_counter()
            unit.request("INVITE", cid, call_id)
            to_180.append(await asyncio.to_thread(unit.until, 180) - sent)
            deadline = time.monotonic() + 10
            while len(events) <= n and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            arrived = sorted(events.values())[-1] if len(events) > n else None
            if arrived is not None:
                to_console.append(arrived - sent)
            unit.request("CANCEL", cid, call_id)
            await asyncio.to_thread(unit.until, 200)
        task.cancel()
    return {"invites": len(cids), "alarm_round_trip_ms": summary(alarm_rtt), "invite_to_180_ms": summary(to_180),
            "invite_to_console_ms": summary(to_console),
            "console_p50_over_alarm_p50": ratio(to_console, alarm_rtt)}


async def setups(args, node: ServerProcess, gateway_pid: int, alarm_id: str, operators: list[str]) -> dict:
    lan = janus.lan_address() or "127.0.0.1"
    done: list[float] = []
    failed = 0
    queue: asyncio.Queue = asyncio.Queue()
    for _ in range(args.calls):
        queue.put_nowait(None)

    async def caller(username: str) -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=node.url, timeout=60) as client:
            login = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            login.raise_for_status()
            headers = {"X-CSRF-Token": login.json()["csrf_token"]}
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                made = await client.post(f"/console/alarms/{alarm_id}/calls", headers=headers,
                                         json={"target": "unit", "sdp": offer_sdp(lan)})
                if made.status_code != 201:
                    failed += 1
                    continue
                call_id, version, state = made.json()["call_id"], 0, "ringing"
                while state == "ringing":
                    row = (await client.get(f"/console/calls/{call_id}", params={"after": version})).json()
                    version, state = row["version"], row["state"]
                if state != "answered":
                    failed += 1
                    continue
                done.append(time.perf_counter() - started)
                await client.post(f"/console/calls/{call_id}/hangup", headers=headers)
                while state == "answered":
                    row = (await client.get(f"/console/calls/{call_id}", params={"after": version})).json()
                    version, state = row["version"], row["state"]

    node_cpu, gateway_cpu = process_cpu_seconds(node.process.pid), process_cpu_seconds(gateway_pid)
    started = time.perf_counter()
    await asyncio.gather(*(caller(operators[i % len(operators)]) for i in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    node_cpu = process_cpu_seconds(node.process.pid) - node_cpu
    gateway_cpu = process_cpu_seconds(gateway_pid) - gateway_cpu
    return {"calls": args.calls, "answered": len(done), "failed": failed, "concurrency": args.concurrency,
            "seconds": round(elapsed, 2), "calls_per_second": round(len(done) / elapsed, 2),
            "setup_ms": summary(done),
            "node_cpu_ms_per_call": round(1000 * node_cpu / max(1, len(done)), 2),
            "gateway_cpu_ms_per_call": round(1000 * gateway_cpu / max(1, len(done)), 2)}


def sipp_reference(uas_port: int, calls: int, concurrency: int) -> dict:
    """SIPp calling SIPp's UAS directly: the same calls without Respons or the gateway."""
    started = time.perf_counter()
    subprocess.run([shutil.which("sipp") or "sipp", "-sn", "uac", f"127.0.0.1:{uas_port}", "-i", "127.0.0.1",
                    "-p", str(free_port()), "-m", str(calls), "-l", str(concurrency), "-r", "10000", "-nostdin",
                    "-timeout", "60s", "-d", "0"], check=False, capture_output=True, cwd=tempfile.gettempdir())
    elapsed = time.perf_counter() - started
    return {"calls": calls, "seconds": round(elapsed, 2), "calls_per_second": round(calls / elapsed, 2)}


def summary(values: list[float]) -> dict:
    ms = sorted(v * 1000 for v in values)
    return {"n": len(ms), "p50": round(percentile(ms, 50), 2) if ms else None,
            "p99": round(percentile(ms, 99), 2) if ms else None, "mean": round(statistics.fmean(ms), 2) if ms else None}


def ratio(a: list[float], b: list[float]) -> float | None:
    return round(statistics.median(a) / statistics.median(b), 2) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    problem = janus.available() or (None if shutil.which("sipp") else "sipp is not installed")
    if problem:
        sys.exit(f"voice bench: {problem} (scripts/ensure-voice.sh)")

    with tempfile.TemporaryDirectory(prefix="respons-voice-bench-") as scratch:
        folder = Path(scratch)
        database_url = f"sqlite:///{folder / 'bench.db'}"
        upgrade(database_url)
        engine = make_engine(database_url)
        now = datetime.now(timezone.utc)
        registry = seed_registry(engine, now=now)
        uas_port = free_port()
        cids = [f"47{n:08d}" for n in range(args.devices)]
        with engine.begin() as conn:
            conn.execute(insert(devices), [dict(
                municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                kind="safety_alarm", protocol="scaip", identity=cid, created_at=now) for cid in cids])
            conn.execute(update(devices).where(devices.c.identity == registry.device_identities[0])
                         .values(voice_uri=f"sip:service@127.0.0.1:{uas_port}"))
        operators = [add_user(engine, f"op{i}", [(Role.OPERATOR, None)], now=now).username
                     for i in range(args.concurrency)]
        engine.dispose()

        gateway_config = janus.GatewayConfig(folder=folder / "janus", http_port=free_port(),
                                             api_secret=secrets.token_hex(16),
                                             media_ip=janus.lan_address() or "127.0.0.1",
                                             webrtc_ports=(61000, 61999), sip_rtp_ports=(62000, 62999))
        gateway = janus.start(gateway_config, folder / "janus.log")
        uas = subprocess.Popen([shutil.which("sipp") or "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port),
                                "-nostdin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch)
        scaip_port = free_port()
        node = ServerProcess(database_url, free_port(), folder / "server.log", scaip_port=str(scaip_port),
                             voice_gateway_url=gateway_config.url, voice_gateway_secret=gateway_config.api_secret,
                             voice_ring_seconds="30", answer_deadline_seconds="3600", cookie_secure="false")
        try:
            time.sleep(0.5)
            node.start()
            alarm = httpx.post(node.url + "/api/v1/alarms", json={
                "device": registry.device_identities[0], "type": "button_press", "occurred_at": now.isoformat()},
                headers={"Authorization": f"Bearer {registry.token_for_device(registry.device_identities[0])}"})
            alarm.raise_for_status()
            result = {
                "benchmark": "voice_calls", "at": datetime.now(timezone.utc).isoformat(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "ringing": asyncio.run(ringing(args, node, scaip_port, cids, operators[0])),
                "setup": asyncio.run(setups(args, node, gateway.pid, alarm.json()["alarm_id"], operators)),
            }
            result["setup_reference_sipp_direct"] = sipp_reference(uas_port, args.calls, args.concurrency)
            result["setup"]["rate_over_sipp_direct"] = round(
                result["setup"]["calls_per_second"] / result["setup_reference_sipp_direct"]["calls_per_second"], 3)
        finally:
            node.stop()
            uas.terminate()
            gateway.terminate()
    out = ROOT / "bench" / "results" / f"voice_calls-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
