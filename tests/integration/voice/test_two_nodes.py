"""Two nodes, one call: the operator's browser may reach either node. The node that set the
call up speaks to the gateway for it; a hang-up, hold or transfer asked of the other node
travels in the call's row and is done by the first (real gateway, baresip as the unit, both
databases)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from respons.auth import accounts
from respons.domain.access import Role
from respons.engine import alarms as alarm_work, receiving
from respons.store.tables import alarm_events, alarms, devices
from respons.voice import janus, store
from respons.voice.service import Voice, VoiceSettings
from tests.factories import PASSWORD, add_user, new_alarm
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


def test_a_transfer_asked_of_another_node_is_sent_and_finished_by_the_node_with_the_call(engine, journal, registry,
                                                                                        tmp_path):
    """Anne's browser asks node B to hand her call (set up on node A) to Bjørn: node A sees the
    row and sends the unit the REFER; when Bjørn's call from the unit is answered (on whichever
    node: here only its row), node A records the transfer and ends Anne's call."""
    require_voice()
    gateway = Gateway(tmp_path / "janus").start()
    unit = Unit(tmp_path / "unit", microphone=tone(tmp_path / "unit.wav", UNIT_TONE, seconds=30, channels=2))
    centre = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where the unit is sent: the centre's SIP address
    centre.bind(("127.0.0.1", 0))
    centre.settimeout(15)
    try:
        anne, bjorn = (add_user(engine, name, [(Role.OPERATOR, None)]) for name in ("anne", "bjorn"))
        with engine.begin() as conn:  # Bjørn is logged in: he is a colleague to hand a call to
            logged_in = accounts.log_in(conn, username="bjorn", password=PASSWORD, totp_code=None,
                                        remote_addr="127.0.0.1", user_agent=None, now=datetime.now(timezone.utc),
                                        session_ttl=timedelta(hours=1))
        assert isinstance(logged_in, accounts.LoggedIn)
        anne_actor, bjorn_actor = f"user:{anne.id}", f"user:{bjorn.id}"
        identity = registry.device_identities[0]
        with engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.identity == identity).values(voice_uri=unit.uri))
            device_id = conn.execute(select(devices.c.id).where(devices.c.identity == identity)).scalar_one()
        alarm_id = journal.run_sync(lambda conn: receiving.receive(
            conn, dataclasses.replace(new_alarm(registry), device_id=device_id), now=datetime.now(timezone.utc),
            answer_deadline=timedelta(seconds=60))).alarm_id
        journal.run_sync(lambda conn: alarm_work.answer(conn, alarm_id, actor=anne_actor, visible_to=None,
                                                        now=datetime.now(timezone.utc)))
        settings = VoiceSettings(gateway_url=gateway.config.url, gateway_secret=gateway.config.api_secret, trunk=None,
                                 caller_id="responssenter", ring_seconds=10, probe_seconds=60,
                                 centre_address=f"127.0.0.1:{centre.getsockname()[1]}")

        def now():
            return datetime.now(timezone.utc)

        async def until(node: Voice, call_id: str, ready, timeout: float = 15.0) -> dict:
            deadline, version = time.monotonic() + timeout, 0
            while time.monotonic() < deadline:
                row = await node.wait(call_id, version, actor=anne_actor, timeout=1.0)
                if ready(row):
                    return row
                version = row["version"]
            raise AssertionError(f"the call never got there: {row}")

        async def scenario() -> str:
            first, second = (Voice(settings, journal, engine, now, name) for name in ("node-a", "node-b"))
            await first.start()
            await second.start()
            try:
                call_id = await first.call(alarm_id, "unit", offer_sdp(janus.lan_address() or "127.0.0.1"),
                                           actor=anne_actor, visible_to=None)
                await until(second, call_id, lambda row: row["state"] == "answered")
                # Only Anne may hand over her call, and only to a colleague logged in.
                assert await second.transfer(call_id, to=bjorn_actor, actor=bjorn_actor) is None
                assert await second.transfer(call_id, to="user:999", actor=anne_actor) is False
                assert await second.transfer(call_id, to=bjorn_actor, actor=anne_actor)
                # Node A sent the REFER: the unit calls the centre at the address naming the call.
                invite = (await asyncio.to_thread(centre.recv, 65535)).decode()
                assert invite.startswith(f"INVITE sip:xfer-{call_id}@"), invite[:200]
                # Bjørn's call from the unit is answered (its row is all node A needs to see).
                with engine.begin() as conn:
                    store.add(conn, call_id="bjorns", alarm_id=alarm_id, municipality_id=registry.municipality_ids[0],
                              direction="inbound", target_kind="unit", target_label="unit", address=unit.uri,
                              operator=bjorn_actor, node="node-b", now=now(), transfer_to=None,
                              transferred_from=call_id)
                    store.change(conn, "bjorns", state="answered", answered_at=now(), accepted_by=bjorn_actor)
                ended = await until(second, call_id, lambda row: row["state"] in ("ended", "failed", "lost"))
                assert (ended["state"], ended["transfer_to"]) == ("ended", None)
                return call_id
            finally:
                await first.stop()
                await second.stop()

        call_id = asyncio.run(scenario())
        with engine.connect() as conn:
            events = [(kind, data) for kind, data in conn.execute(select(alarm_events.c.kind, alarm_events.c.data).where(
                alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq))]
            holder = conn.execute(select(alarms.c.answered_by).where(alarms.c.id == alarm_id)).scalar_one()
        anne_call = [d["phase"] for kind, d in events if kind == "call" and d["call_id"] == call_id]
        assert anne_call == ["ringing", "answered", "transferred", "ended"]
        assert holder == bjorn_actor and [kind for kind, _ in events].count("taken_over") == 1
    finally:
        centre.close()
        unit.stop()
        gateway.stop()
