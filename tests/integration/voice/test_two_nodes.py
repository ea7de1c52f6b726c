"""Two nodes, one call: the operator's browser may reach either node. The node that set the
call up speaks to the gateway for it; a hang-up or hold asked of the other node travels in
the call's row and is done by the first (real gateway, baresip as the unit, both databases)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from respons.engine import receiving
from respons.store.tables import alarm_events, devices
from respons.voice import janus
from respons.voice.service import Voice, VoiceSettings
from tests.factories import new_alarm
from tests.voice_stack import UNIT_TONE, Gateway, Unit, offer_sdp, require_voice, tone


def test_a_hang_up_or_hold_asked_of_another_node_is_done_by_the_node_with_the_call(engine, journal, registry,
                                                                                   tmp_path):
    require_voice()
    gateway = Gateway(tmp_path / "janus").start()
    unit = Unit(tmp_path / "unit", microphone=tone(tmp_path / "unit.wav", UNIT_TONE, seconds=30, channels=2))
    try:
        identity = registry.device_identities[0]
        with engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.identity == identity).values(voice_uri=unit.uri))
            device_id = conn.execute(select(devices.c.id).where(devices.c.identity == identity)).scalar_one()
        new = new_alarm(registry)
        alarm_id = journal.run_sync(lambda conn: receiving.receive(
            conn, dataclasses.replace(new, device_id=device_id), now=datetime.now(timezone.utc),
            answer_deadline=timedelta(seconds=60))).alarm_id
        settings = VoiceSettings(gateway_url=gateway.config.url, gateway_secret=gateway.config.api_secret, trunk=None,
                                 caller_id="responssenter", ring_seconds=10, probe_seconds=60)

        def now():
            return datetime.now(timezone.utc)

        async def until(node: Voice, call_id: str, ready, timeout: float = 15.0) -> dict:
            deadline, version = time.monotonic() + timeout, 0
            while time.monotonic() < deadline:
                row = await node.wait(call_id, version, actor="user:1", timeout=1.0)
                if ready(row):
                    return row
                version = row["version"]
            raise AssertionError(f"the call never got there: {row}")

        async def scenario() -> None:
            first, second = (Voice(settings, journal, engine, now, name) for name in ("node-a", "node-b"))
            await first.start()
            await second.start()
            try:
                call_id = await first.call(alarm_id, "unit", offer_sdp(janus.lan_address() or "127.0.0.1"),
                                           actor="user:1", visible_to=None)
                await until(second, call_id, lambda row: row["state"] == "answered")
                assert await second.hold(call_id, actor="user:1", on=True)
                await until(second, call_id, lambda row: row["on_hold"])
                # Not that operator's call, on either node: nothing happens.
                assert await second.hang_up(call_id, actor="user:2") is None
                assert await first.hang_up(call_id, actor="user:2") is None
                assert await first.hold(call_id, actor="user:2", on=False) is None
                assert await second.hang_up(call_id, actor="user:1")
                ended = await until(second, call_id, lambda row: row["state"] in ("ended", "failed", "lost"))
                assert ended["state"] == "ended" and ended["request"] is None
            finally:
                await first.stop()
                await second.stop()

        asyncio.run(scenario())
        with engine.connect() as conn:
            phases = [d["phase"] for d in conn.execute(select(alarm_events.c.data).where(
                alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call").order_by(alarm_events.c.seq))
                .scalars()]
        assert phases == ["ringing", "answered", "held", "ended"]
    finally:
        unit.stop()
        gateway.stop()
