"""`respons serve` starts the SCAIP receiver on RESPONS_SCAIP_PORT, and an independent SIP
peer — SIPp, with the scenario in tests/chaos/sipp/ — gets its alarm answered over UDP and TCP.

Without sipp on the machine the test skips and says how to get it; with RESPONS_REQUIRE_SIPP=1
(set by .ci/run, which installs it with scripts/ensure-sipp.sh) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from respons.store.migrate import upgrade
from respons.store.tables import alarms, devices
from tests.chaos.server import ServerProcess, free_port
from tests.factories import seed_registry

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parent / "sipp" / "scaip_message.xml"
CID = "4790000077"


def _sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        problem = "SIPp is not installed (bash scripts/ensure-sipp.sh, or apt-get install sip-tester)"
        if os.environ.get("RESPONS_REQUIRE_SIPP") == "1":
            pytest.fail(f"{problem} (RESPONS_REQUIRE_SIPP=1)")
        pytest.skip(problem)
    return path


def sipp(binary: str, port: int, transport: str, ref: str, workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, f"127.0.0.1:{port}", "-sf", str(SCENARIO), "-m", "1", "-t", transport,
         "-i", "127.0.0.1", "-p", str(free_port()), "-key", "cid", CID, "-key", "ref", ref,
         "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"],
        cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )


def test_sipp_sends_a_scaip_alarm_over_udp_and_tcp_and_gets_snu_0_after_it_is_stored(tmp_path):
    binary = _sipp()
    url = f"sqlite:///{tmp_path / 'scaip.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    registry = seed_registry(engine, now=now)
    with engine.begin() as conn:
        device_id = conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0], kind="safety_alarm",
            protocol="scaip", identity=CID, created_at=now)).inserted_primary_key[0]
    port = free_port()
    server = ServerProcess(url, free_port(), tmp_path / "server.log", scaip_port=str(port))
    server.start()
    try:
        results = {transport: sipp(binary, port, transport, ref, tmp_path)
                   for transport, ref in (("u1", "SIPPUDP1"), ("t1", "SIPPTCP1"))}
    finally:
        server.stop()
    for transport, result in results.items():
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
        assert result.returncode == 0, f"sipp -t {transport} exited {result.returncode}:\n{result.stderr.decode()}\n{logs}"
    with engine.connect() as conn:
        stored = conn.execute(select(alarms.c.type, alarms.c.source, alarms.c.device_id, alarms.c.recipient_id,
                                     alarms.c.payload).order_by(alarms.c.received_at)).all()
    assert [(a.type, a.source, a.device_id, a.recipient_id) for a in stored] == [
        ("button_press", "scaip", device_id, registry.recipient_ids[0])] * 2
    assert sorted(a.payload["scaip"]["ref"] for a in stored) == ["SIPPTCP1", "SIPPUDP1"]
    assert all(a.payload["position"] == {"lat": 58.1467, "lon": 7.9956} for a in stored)
