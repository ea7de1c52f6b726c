"""A power-failure storm over DC-09 with SIGKILL in the middle: a thousand panels report AC
loss while a few send assistance alarms; the server is killed and started again, the panels
send again what was not acknowledged (as panels do). Afterwards every frame that was ACKed is
an alarm exactly once, the AC losses are grouped, and no assistance alarm is."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select

from respons.domain import storms
from respons.intake.dc09.frames import build
from respons.store.tables import alarms, devices
from tests.chaos.server import ServerProcess, free_port
from tests.factories import seed_registry

pytestmark = pytest.mark.slow

AC_LOSS_PANELS = 1000
ASSISTANCE_PANELS = 10
AC_LOSS, ASSISTANCE = "1301", "1101"


class Panels:
    """Panels on their own connections: each sends a frame, waits for its ACK, and sends the
    same event again (new timestamp, same sequence) until it is ACKed, reconnecting when the
    receiver is gone."""

    def __init__(self, port: int):
        self.port = port
        self.acked: set[tuple[str, str, str]] = set()  # (account, sequence, code)
        self.sending = True  # new events; once False, each panel finishes the one it has

    async def panel(self, account: str, code: str, pause: float) -> None:
        reader = writer = None
        n = 0
        while self.sending:
            n += 1
            sequence = f"{n:04d}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 2)
                    writer.write(build("ADM-CID", sequence=sequence, account=account, prefix="0",
                                       data=f"#{account}|{code} 01 001", timestamp=datetime.now(timezone.utc)))
                    reply = await asyncio.wait_for(reader.readuntil(b"\r"), 10)
                    if b'"ACK"' + sequence.encode() in reply:
                        self.acked.add((account, sequence, code))
                        break
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.3)
            await asyncio.sleep(pause)
        if writer is not None:
            writer.close()


def test_a_storm_killed_midway_loses_no_acknowledged_frame_and_stores_none_twice(migrated_url, engine, tmp_path):
    now = datetime.now(timezone.utc)
    registry = seed_registry(engine, municipalities_count=1, recipients_per=ASSISTANCE_PANELS)
    municipality = registry.municipality_ids[0]
    ac_accounts = [f"{0xA0000 + i:05X}" for i in range(AC_LOSS_PANELS)]
    assist_accounts = [f"{0xB0000 + i:05X}" for i in range(ASSISTANCE_PANELS)]
    with engine.begin() as conn:
        conn.execute(insert(devices), [
            {"municipality_id": municipality, "recipient_id": None, "kind": "safety_alarm", "protocol": "sia_dc09",
             "identity": account, "created_at": now} for account in ac_accounts])
        conn.execute(insert(devices), [
            {"municipality_id": municipality, "recipient_id": recipient, "kind": "safety_alarm", "protocol": "sia_dc09",
             "identity": account, "created_at": now} for account, recipient in zip(assist_accounts, registry.recipient_ids)])
    port = free_port()
    server = ServerProcess(migrated_url, free_port(), tmp_path / "server.log", dc09_port=str(port))
    panels = Panels(port)

    async def storm() -> None:
        tasks = [asyncio.create_task(panels.panel(a, AC_LOSS, pause=1.0)) for a in ac_accounts]
        tasks += [asyncio.create_task(panels.panel(a, ASSISTANCE, pause=0.5)) for a in assist_accounts]
        await asyncio.sleep(4)
        acked_before_kill = len(panels.acked)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(1)
        await asyncio.to_thread(server.start, 60)
        await asyncio.sleep(4)
        panels.sending = False
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        assert acked_before_kill > 100, "the kill came in the middle of the storm"

    server.start()
    try:
        asyncio.run(storm())
    finally:
        server.stop()

    with engine.connect() as conn:
        stored = conn.execute(select(alarms.c.idempotency_scope, alarms.c.payload, alarms.c.type, alarms.c.group_id,
                                     alarms.c.source)).all()
    # Contact ID "1301": qualifier 1 (new event), code 301 (AC loss).
    frames = Counter((row.idempotency_scope.removeprefix("sia_dc09:"), row.payload["dc09"]["sequence"],
                      "1" + row.payload["dc09"]["code"]) for row in stored if row.source == "sia_dc09")
    missing = panels.acked - set(frames)
    twice = {frame: n for frame, n in frames.items() if n > 1}
    assert not missing, f"{len(missing)} ACKed frames are not stored, e.g. {sorted(missing)[:3]}"
    assert not twice, f"{len(twice)} frames stored more than once, e.g. {sorted(twice.items())[:3]}"
    assert sum(1 for f in panels.acked if f[2] == ASSISTANCE) >= ASSISTANCE_PANELS

    leaders = [row for row in stored if row.source == storms.SOURCE]
    ac_losses = [row for row in stored if row.source == "sia_dc09" and row.type == "power_lost"]
    assistance = [row for row in stored if row.source == "sia_dc09" and row.type != "power_lost"]
    assert [row.type for row in leaders] == ["power_lost"], "one group alarm for the municipality's storm"
    assert sum(1 for row in ac_losses if row.group_id is None) < storms.POWER.threshold, "all but the first few grouped"
    assert all(row.group_id is None for row in assistance), "an assistance alarm is never hidden in a group"
