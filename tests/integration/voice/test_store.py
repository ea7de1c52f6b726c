"""voice_calls on both databases: which open alarm a caller's call belongs to, two operators
taking the same ringing call at the same moment (one gets it), a call handed to a colleague
(it rings for them alone, and taking it takes the alarm over), and the calls of a node that
stopped mid-call (lost, on the timeline, after its restart, or by the others once it stops
beating)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from respons.engine import alarms as alarm_work, receiving
from respons.store import heartbeats
from respons.store.db import is_postgres
from respons.store.tables import alarm_events, alarms, devices
from respons.voice import service as voice_service, store
from respons.voice.service import NODE_SILENT, SilentNodeCalls, Voice, VoiceSettings, lose_calls_of_silent_nodes
from tests.databases import wait_for_lock_waiter
from tests.factories import T0, new_alarm

WINDOW = timedelta(minutes=15)
NO_GATEWAY = VoiceSettings(gateway_url=None, gateway_secret=None, trunk=None, caller_id="c", ring_seconds=30,
                           probe_seconds=2)


def a_call(conn, registry, alarm_id: str, call_id: str, *, node: str = "n1", state: str = "ringing",
           direction: str = "outbound", operator: str | None = "user:1", address: str = "sip:unit@10.0.0.5") -> None:
    """A call's row as the node speaking for it would have written it, in ``state``."""
    store.add(conn, call_id=call_id, alarm_id=alarm_id, municipality_id=registry.municipality_ids[0],
              direction=direction, target_kind="unit", target_label="unit", address=address, operator=operator,
              node=node, now=T0)
    if state != "ringing":
        store.change(conn, call_id, state=state, answered_at=T0 if state == "answered" else None)


def alarm_from(engine, journal, registry, identity: str, *, key: str, payload=None, source="http", at=T0) -> str:
    with engine.connect() as conn:
        device_id = conn.execute(select(devices.c.id).where(devices.c.identity == identity)).scalar_one()
    new = dataclasses.replace(new_alarm(registry, key=key, fingerprint=key), device_id=device_id, payload=payload,
                              source=source)
    return journal.run_sync(lambda conn: receiving.receive(conn, new, now=at, answer_deadline=timedelta(seconds=60))
                            ).alarm_id


def test_a_call_belongs_to_the_newest_open_alarm_of_its_unit_by_identity_voice_address_or_crd(engine, journal,
                                                                                             registry):
    first, second = registry.device_identities[:2]
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.identity == second).values(voice_uri="sip:unit_1@10.0.0.5"))
    by_identity = alarm_from(engine, journal, registry, first, key="k1")
    by_voice_address = alarm_from(engine, journal, registry, second, key="k2", at=T0 + timedelta(seconds=1))
    by_crd = alarm_from(engine, journal, registry, first, key="k3", source="scaip", at=T0 + timedelta(seconds=2),
                        payload={"call": {"caller_id": "4790001234", "voice_call_expected": True}})
    with engine.connect() as conn:
        since = T0 - WINDOW
        # The newest of the unit's open alarms (k3 is newer than k1 and also the unit's).
        assert store.alarm_for_caller(conn, first, since=since)["id"] == by_crd
        assert store.alarm_for_caller(conn, "unit_1", since=since)["id"] == by_voice_address
        # "_" is a character, not a LIKE wildcard.
        assert store.alarm_for_caller(conn, "unitX1", since=since) is None
        assert store.alarm_for_caller(conn, "4790001234", since=since)["id"] == by_crd
        assert store.alarm_for_caller(conn, None, since=since) is None
        # Too old for the window, or closed: no alarm (the call rings as an unknown caller).
        assert store.alarm_for_caller(conn, "unit_1", since=T0 + timedelta(seconds=2)) is None
    with engine.begin() as conn:
        conn.execute(update(alarms).where(alarms.c.id.in_([by_identity, by_crd])).values(state="closed"))
        assert store.alarm_for_caller(conn, first, since=T0 - WINDOW) is None


def test_two_operators_taking_one_ringing_call_at_once_one_gets_it(engine, journal, registry):
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    with engine.begin() as conn:
        a_call(conn, registry, alarm_id, "c1", direction="inbound", operator=None)
    results: dict[str, bool] = {}
    anne = engine.connect()
    anne_tx = anne.begin()
    results["anne"] = store.take(anne, "c1", "user:1")  # holds the row until it commits

    def bjorn() -> None:
        with engine.begin() as conn:
            results["bjorn"] = store.take(conn, "c1", "user:2")

    thread = threading.Thread(target=bjorn)
    if is_postgres(engine):
        thread.start()  # waits for Anne's row lock, then sees the call taken
    anne_tx.commit()
    anne.close()
    if not is_postgres(engine):
        thread.start()  # SQLite has one writer: Bjørn's unit comes after Anne's
    thread.join(10)
    assert results == {"anne": True, "bjorn": False}
    with engine.connect() as conn:
        call = store.get(conn, "c1")
    assert (call["accepted_by"], call["operator"], call["state"]) == ("user:1", "user:1", "ringing")
    # An outbound call, or one that no longer rings, is never taken.
    with engine.begin() as conn:
        store.change(conn, "c1", state="ended")
        assert not store.take(conn, "c1", "user:3")


def test_calls_a_node_was_speaking_for_when_it_stopped_are_lost_on_its_timeline_after_the_restart(engine, journal,
                                                                                                  registry):
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    with engine.begin() as conn:
        for call_id, state in (("talking", "answered"), ("ringing", "ringing"), ("other-node", "answered")):
            a_call(conn, registry, alarm_id, call_id, node="n2" if call_id == "other-node" else "n1", state=state)
    voice = Voice(NO_GATEWAY, journal, engine, lambda: T0 + timedelta(seconds=42), "n1")
    asyncio.run(voice.start())
    with engine.connect() as conn:
        states = {c: store.get(conn, c)["state"] for c in ("talking", "ringing", "other-node")}
        phases = [e.data for e in conn.execute(select(alarm_events.c.data).where(
            alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call").order_by(alarm_events.c.seq))]
    assert states == {"talking": "lost", "ringing": "failed", "other-node": "answered"}  # another node's are its own
    assert sorted((p["phase"], p.get("seconds"), p.get("reason")) for p in phases) == [
        ("failed", None, "node_restarted"), ("lost", 42, "node_restarted")]
    assert voice.problem == "not_configured"


def test_a_node_stops_in_bounded_time_while_a_units_call_rings_untaken_and_says_so(engine, journal, registry,
                                                                                      monkeypatch):
    """A unit's own call rings until someone takes it; stopping the node must not wait for that
    (it held the journal and every worker open until the service manager killed the node)."""
    monkeypatch.setattr(voice_service, "STOP_SECONDS", 0.2)
    identity = registry.device_identities[0]
    alarm_id = alarm_from(engine, journal, registry, identity, key="k1")
    voice = Voice(NO_GATEWAY, journal, engine, lambda: T0 + timedelta(seconds=5), "n1")

    async def ring_then_stop() -> str:
        await voice.start()
        call_id = await voice.incoming(caller=f"sip:{identity}@10.0.0.5", caller_user=identity, sip_call_id="sip-1")
        await asyncio.wait_for(voice.stop(), timeout=30)  # a guard against the hang, not a timing
        return call_id

    call_id = asyncio.run(ring_then_stop())
    with engine.connect() as conn:
        call = store.get(conn, call_id)
        phases = [e.data for e in conn.execute(select(alarm_events.c.data).where(
            alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call").order_by(alarm_events.c.seq))]
    assert call["state"] == "failed"
    assert [(p["phase"], p.get("reason")) for p in phases] == [("ringing", None), ("failed", "node_stopping")]


def test_calls_of_a_node_that_stopped_beating_are_ended_by_the_others_once(engine, journal, registry):
    """A node named hostname:pid comes back under another name and never finds its old calls:
    the nodes still beating end them, each once, however many sweep."""
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    now = T0 + timedelta(minutes=5)
    with engine.begin() as conn:
        heartbeats.beat(conn, node="host:4711", now=now - NODE_SILENT - timedelta(seconds=1), started_at=T0)
        heartbeats.beat(conn, node="alive", now=now - timedelta(seconds=5), started_at=T0)
        for call_id, node, state in (("old-talking", "host:4711", "answered"), ("old-ringing", "host:4711", "ringing"),
                                     ("no-beat-ever", "n9", "answered"), ("alive", "alive", "answered"),
                                     ("mine", "sweeper", "ringing"), ("old-ended", "host:4711", "ended")):
            a_call(conn, registry, alarm_id, call_id, node=node, state=state)
    for _ in range(2):  # a second sweep, or a second node's, ends nothing twice
        journal.run_sync(lambda conn: lose_calls_of_silent_nodes(conn, now=now, node="sweeper"))
    with engine.connect() as conn:
        states = {c: store.get(conn, c)["state"] for c in ("old-talking", "old-ringing", "no-beat-ever", "alive",
                                                            "mine", "old-ended")}
        phases = [e.data for e in conn.execute(select(alarm_events.c.data).where(
            alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call").order_by(alarm_events.c.seq))]
    assert states == {"old-talking": "lost", "old-ringing": "failed", "no-beat-ever": "lost", "alive": "answered",
                      "mine": "ringing", "old-ended": "ended"}
    assert sorted((p["call_id"], p["phase"], p.get("reason")) for p in phases) == [
        ("no-beat-ever", "lost", "node_gone"), ("old-ringing", "failed", "node_gone"),
        ("old-talking", "lost", "node_gone")]


def test_a_node_ends_a_silent_nodes_calls_only_once_it_has_itself_read_the_database_for_as_long(engine, journal,
                                                                                                  registry):
    """After a database outage every heartbeat is old: a node that has just reached the database
    again must not take the others' live calls for lost before they have had time to beat."""
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    with engine.begin() as conn:
        a_call(conn, registry, alarm_id, "talking", node="gone", state="answered")
    worker = SilentNodeCalls(journal, engine, lambda: T0 + timedelta(minutes=5), node="sweeper",
                             silent_for=timedelta(seconds=0.5))

    async def twice() -> tuple[int, int]:
        first = await worker.run_once()  # reads only now: not yet
        await asyncio.sleep(0.6)
        return first, await worker.run_once()

    assert asyncio.run(twice()) == (0, 1)
    with engine.connect() as conn:
        assert store.get(conn, "talking")["state"] == "lost"


def test_two_nodes_seeing_the_colleagues_answer_at_once_record_the_transfer_once(engine, journal, registry):
    """Node A records the transfer and has not committed; node B saw the handed call before
    A's change and must not record it a second time once A commits."""
    if not is_postgres(engine):
        pytest.skip("one writer on SQLite: B's unit reads after A's commit")
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    with engine.begin() as conn:
        a_call(conn, registry, alarm_id, "handed", state="answered", address="sip:alarm@10.0.0.5")
        store.begin_transfer(conn, "handed", to="user:2", operator="user:1")
    node_b = Voice(NO_GATEWAY, journal, engine, lambda: T0 + timedelta(seconds=30), "n2")
    node_a = engine.connect()
    a_tx = node_a.begin()
    assert store.end_transfer(node_a, "handed", to="user:2")  # holds the row until A commits
    b = threading.Thread(target=lambda: asyncio.run(node_b.transfer_answered("handed", "user:2")))
    b.start()
    assert wait_for_lock_waiter(engine), "B should have read the call and wait for A's row lock"
    a_tx.commit()
    node_a.close()
    b.join(10)
    with engine.connect() as conn:
        phases = [d.get("phase") for (d,) in conn.execute(select(alarm_events.c.data).where(
            alarm_events.c.alarm_id == alarm_id, alarm_events.c.kind == "call"))]
    assert "transferred" not in phases, "B recorded the transfer A had recorded"


def test_a_call_handed_to_a_colleague_rings_for_them_alone_and_once_answered_they_hold_the_alarm(engine, journal,
                                                                                                registry):
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    journal.run_sync(lambda conn: alarm_work.answer(conn, alarm_id, actor="user:1", visible_to=None, now=T0))
    with engine.begin() as conn:
        a_call(conn, registry, alarm_id, "handed", state="answered", address="sip:alarm@10.0.0.5")
        # Two clicks on "Sett over", or another operator's: one transfer is begun, by its operator.
        assert store.begin_transfer(conn, "handed", to="user:2", operator="user:3") is None
        assert store.begin_transfer(conn, "handed", to="user:2", operator="user:1") is not None
        assert store.begin_transfer(conn, "handed", to="user:4", operator="user:1") is None
    voice = Voice(NO_GATEWAY, journal, engine, lambda: T0 + timedelta(seconds=30), "n1")

    async def scenario() -> tuple[str, bool | None, bool | None]:
        # The unit calls again at the address that names the handed call (its From says nothing).
        call_id = await voice.incoming(caller="sip:someone@10.0.0.9", caller_user="someone", sip_call_id="sip-1",
                                       request_user="xfer-handed")
        by_another = await voice.take(call_id, actor="user:3", visible_to=None)
        by_colleague = await voice.take(call_id, actor="user:2", visible_to=None)
        tasks = [session.task for session in voice._sessions.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The colleague's browser answered: the transfer is recorded once, whoever sees it first.
        await voice.transfer_answered("handed", "user:2")
        await voice.transfer_answered("handed", "user:2")
        return call_id, by_another, by_colleague

    call_id, by_another, by_colleague = asyncio.run(scenario())
    assert (by_another, by_colleague) == (False, True)
    with engine.connect() as conn:
        call, handed = store.get(conn, call_id), store.get(conn, "handed")
        holder = conn.execute(select(alarms.c.answered_by).where(alarms.c.id == alarm_id)).scalar_one()
        events = [(kind, data) for kind, data in conn.execute(select(alarm_events.c.kind, alarm_events.c.data).where(
            alarm_events.c.alarm_id == alarm_id).order_by(alarm_events.c.seq))]
    assert (call["alarm_id"], call["transferred_from"], call["accepted_by"], call["transfer_to"]) == (
        alarm_id, "handed", "user:2", None)
    assert handed["transfer_to"] is None
    assert holder == "user:2"
    phases = [(kind, data.get("phase"), data.get("for") or data.get("to")) for kind, data in events
              if kind in ("call", "taken_over")]
    assert phases == [("call", "ringing", "user:2"), ("call", "transferred", "user:2"), ("taken_over", None, None)]


def test_a_ringing_call_given_up_and_taken_at_the_same_moment_is_one_or_the_other(engine, journal, registry):
    alarm_id = alarm_from(engine, journal, registry, registry.device_identities[0], key="k1")
    with engine.begin() as conn:
        for call_id in ("given-up-first", "taken-first"):
            a_call(conn, registry, alarm_id, call_id, direction="inbound", operator=None)
        assert store.end_if_untaken(conn, "given-up-first", now=T0, failure="no_answer")
        assert not store.take(conn, "given-up-first", "user:1")
        assert store.take(conn, "taken-first", "user:1")
        assert not store.end_if_untaken(conn, "taken-first", now=T0, failure="no_answer")
        states = {c: store.get(conn, c)["state"] for c in ("given-up-first", "taken-first")}
    assert states == {"given-up-first": "failed", "taken-first": "ringing"}
