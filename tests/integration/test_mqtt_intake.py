"""The MQTT intake against the real Mosquitto broker, on SQLite and PostgreSQL.

Messages are published with Mosquitto's own ``mosquitto_pub``. Every test has its own topic
root and client id, so no test sees another's queued messages or session.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from respons.intake.mqtt.receiver import Receiver
from respons.store.journal import Journal, JournalUnavailable, Lane
from respons.store.tables import alarm_events, alarms, devices, quarantine
from tests.factories import FakeClock
from tests.mqtt_broker import broker_or_skip, mosquitto_pub, unique, wait_until

NOW = datetime(2026, 11, 23, 2, 14, 7, tzinfo=timezone.utc)
SENSOR = "FS-7731"  # a fall sensor, registered with protocol mqtt
MUNICIPALITY = "9000"  # seed_registry's first municipality number


@pytest.fixture
def broker():
    return broker_or_skip()


@pytest.fixture
def root():
    return unique("rt")


@pytest.fixture
def sensor(engine, registry) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[1], kind="fall_sensor",
            protocol="mqtt", identity=SENSOR, heartbeat_interval_s=900, heartbeat_grace_s=120, created_at=NOW,
        )).inserted_primary_key[0]


@contextmanager
def receiving(journal, broker, root, client_id, clock=None):
    receiver = Receiver(journal, clock or FakeClock(NOW), broker, client_id=client_id,
                        topics=[f"{root}/+/sensors/+/+"], session_expiry_seconds=120, max_backoff_seconds=2)
    receiver.start_thread()
    try:
        assert receiver.subscribed.wait(15), "the receiver did not subscribe"
        yield receiver
    finally:
        receiver.stop_thread()


def event(root, device=SENSOR, municipality=MUNICIPALITY) -> str:
    return f"{root}/{municipality}/sensors/{device}/event"


def fall(message_id="m-1", **extra) -> str:
    return json.dumps({"type": "fall", "id": message_id, "occurred_at": "2026-11-23T03:14:00+01:00",
                       "payload": {"battery": 81}, **extra})


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_an_alarm_published_with_mosquitto_pub_becomes_one_alarm_and_a_retransmission_none(
        engine, registry, journal, broker, root, sensor):
    with receiving(journal, broker, root, unique("respons")) as receiver:
        mosquitto_pub(broker, event(root), fall())
        mosquitto_pub(broker, event(root), fall())  # the sensor did not get its PUBACK and sends again
        mosquitto_pub(broker, event(root), json.dumps({"type": "4.15", "id": "m-2", "occurred_at": "2026-11-23T02:14:05Z"}))
        wait_until(lambda: receiver.stats.acked == 3, what="three acknowledgements")
    with engine.connect() as conn:
        rows = conn.execute(select(alarms).order_by(alarms.c.occurred_at)).all()
    assert [(r.type, r.source, r.device_id, r.recipient_id) for r in rows] == [
        ("fall", "mqtt", sensor, registry.recipient_ids[1]),
        ("door_opened", "mqtt", sensor, registry.recipient_ids[1]),
    ], "the retransmitted fall made no second alarm; the VKP code 4.15 is a door alarm"
    stored_fall = rows[0]
    assert stored_fall.occurred_at == datetime(2026, 11, 23, 2, 14, tzinfo=timezone.utc)
    assert stored_fall.received_at == NOW and stored_fall.municipality_id == registry.municipality_ids[0]
    assert stored_fall.payload["sensor"] == {"battery": 81} and stored_fall.payload["mqtt"]["id"] == "m-1"
    assert receiver.stats.outcomes == {"alarm": 2, "duplicate": 1}


def test_heartbeats_mark_the_device_seen_and_make_no_alarm(engine, registry, journal, broker, root, sensor):
    clock = FakeClock(NOW)
    with receiving(journal, broker, root, unique("respons"), clock) as receiver:
        mosquitto_pub(broker, f"{root}/{MUNICIPALITY}/sensors/{SENSOR}/heartbeat", None)
        wait_until(lambda: receiver.stats.acked == 1, what="the first heartbeat")
        with engine.connect() as conn:
            first = conn.execute(select(devices.c.last_seen_at, devices.c.alert_after).where(devices.c.id == sensor)).one()
        later = clock.advance(minutes=10)
        mosquitto_pub(broker, event(root), '{"type": "heartbeat", "payload": {"battery": 80}}')
        wait_until(lambda: receiver.stats.acked == 2, what="the second heartbeat")
    with engine.connect() as conn:
        second = conn.execute(select(devices.c.last_seen_at, devices.c.alert_after).where(devices.c.id == sensor)).one()
    assert first == (NOW, NOW + timedelta(seconds=900 + 120))
    assert second == (later, later + timedelta(seconds=1020))
    assert count(engine, alarms) == 0 and count(engine, quarantine) == 0


def test_a_restore_is_a_note_on_the_open_alarm(engine, registry, journal, broker, root, sensor):
    with receiving(journal, broker, root, unique("respons")) as receiver:
        mosquitto_pub(broker, event(root), json.dumps({"type": "bed_exit", "id": "b-1", "occurred_at": "2026-11-23T02:10:00Z"}))
        wait_until(lambda: receiver.stats.acked == 1, what="the alarm")
        restored = json.dumps({"type": "bed_exit", "id": "b-2", "state": "restored", "occurred_at": "2026-11-23T02:12:00Z"})
        mosquitto_pub(broker, event(root), restored)
        mosquitto_pub(broker, event(root), restored)  # sent again
        wait_until(lambda: receiver.stats.acked == 3, what="the restore and its retransmission")
    with engine.connect() as conn:
        alarm_id = conn.execute(select(alarms.c.id)).scalar_one()
        notes = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id,
                                                               alarm_events.c.kind == "note")).scalars().all()
    assert len(notes) == 1 and "Gjenopprettet" in notes[0]["text"] and "b-2" in notes[0]["text"]
    assert receiver.stats.outcomes == {"alarm": 1, "restore": 1, "duplicate": 1}


def test_unreadable_input_and_unknown_devices_are_kept_in_quarantine_and_acknowledged(
        engine, registry, journal, broker, root, sensor):
    client_id = unique("respons")
    bad = [
        (event(root), b'{"type": "fall", "id": "x", "occurred_at": '),  # cut off
        (event(root, device="NOBODY-1"), fall().encode()),
        (event(root, municipality="9001"), fall().encode()),  # the sensor is registered in 9000
        (event(root), json.dumps({"type": "fall", "id": "x"}).encode()),  # no occurred_at
        (event(root), json.dumps({"type": "meteor", "id": "x", "occurred_at": "2026-11-23T02:14:00Z"}).encode()),
        (f"{root}/{MUNICIPALITY}/sensors/{SENSOR}/status", b"{}"),
    ]
    with receiving(journal, broker, root, client_id) as receiver:
        for topic, body in bad:
            mosquitto_pub(broker, topic, body)
        wait_until(lambda: receiver.stats.acked == len(bad), what="every message acknowledged")
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine).order_by(quarantine.c.reason)).all()
    assert sorted(k.reason for k in kept) == ["invalid_json", "invalid_message", "invalid_message", "unknown_device",
                                              "unknown_device", "unknown_topic"]
    assert {k.source for k in kept} == {"mqtt"} and count(engine, alarms) == 0
    by_topic = {k.headers["mqtt-topic"]: k for k in kept}
    assert by_topic[event(root, device="NOBODY-1")].body == fall().encode()
    assert "NOBODY-1" in by_topic[event(root, device="NOBODY-1")].message
    assert "9001" in by_topic[event(root, municipality="9001")].message
    messages = " ".join(k.message for k in kept)
    assert "occurred_at" in messages and "meteor" in messages and "'status'" in messages
    # Acknowledged means the broker does not send them again to the same session.
    with receiving(journal, broker, root, client_id) as again:
        mosquitto_pub(broker, f"{root}/{MUNICIPALITY}/sensors/{SENSOR}/heartbeat", None)
        wait_until(lambda: again.stats.acked == 1, what="the marker heartbeat")
    assert again.stats.received == 1 and count(engine, quarantine) == len(bad)


def test_messages_published_while_respons_is_stopped_are_delivered_when_it_starts(
        engine, registry, journal, broker, root, sensor):
    client_id = unique("respons")
    with receiving(journal, broker, root, client_id):
        pass  # the session and its subscription now exist at the broker
    for n in range(3):
        mosquitto_pub(broker, event(root), fall(f"offline-{n}"))
    assert count(engine, alarms) == 0
    with receiving(journal, broker, root, client_id) as receiver:
        wait_until(lambda: receiver.stats.acked == 3, what="the three queued alarms")
    with engine.connect() as conn:
        ids = conn.execute(select(alarms.c.payload)).scalars().all()
    assert sorted(p["mqtt"]["id"] for p in ids) == ["offline-0", "offline-1", "offline-2"]


class FailsOnce(Journal):
    """A real journal whose first unit raises JournalUnavailable, as a failed commit does."""

    failed = False

    def submit(self, work, *, lane=Lane.DEFAULT):
        if not self.failed:
            self.failed = True

            def unavailable(conn):
                raise JournalUnavailable("simulated: the database did not commit")

            return super().submit(unavailable, lane=lane)
        return super().submit(work, lane=lane)


def test_a_message_whose_commit_failed_is_not_acknowledged_and_the_broker_sends_it_again(
        engine, registry, broker, root, sensor):
    journal = FailsOnce(engine, window_ms=1).start()
    client_id = unique("respons")
    try:
        with receiving(journal, broker, root, client_id) as receiver:
            mosquitto_pub(broker, event(root), fall("once"))
            wait_until(lambda: receiver.stats.acked == 1, what="the redelivered alarm acknowledged")
            assert receiver.stats.not_committed == 1
            assert receiver.stats.received == 2, "the broker sent the unacknowledged message again"
            assert receiver.stats.connects == 2, "the receiver reconnected to get it again"
        assert count(engine, alarms) == 1
        # Acknowledged after its commit: the session holds nothing more for us.
        with receiving(journal, broker, root, client_id) as again:
            mosquitto_pub(broker, f"{root}/{MUNICIPALITY}/sensors/{SENSOR}/heartbeat", None)
            wait_until(lambda: again.stats.acked == 1, what="the marker heartbeat")
        assert again.stats.received == 1 and count(engine, alarms) == 1
    finally:
        journal.close()


class RecordsLanes(Journal):
    lanes: list

    def submit(self, work, *, lane=Lane.DEFAULT):
        self.lanes.append((work.keywords["topic"].rsplit("/", 1)[-1], work.keywords["body"], lane))
        return super().submit(work, lane=lane)


def test_heartbeats_and_technical_events_go_in_the_technical_lane_alarms_and_garbage_in_the_life_lane(
        engine, registry, broker, root, sensor):
    journal = RecordsLanes(engine, window_ms=1).start()
    journal.lanes = []
    battery = json.dumps({"type": "battery_low", "id": "t-1", "occurred_at": "2026-11-23T02:14:00Z"})
    try:
        with receiving(journal, broker, root, unique("respons")) as receiver:
            for topic, body in [(f"{root}/{MUNICIPALITY}/sensors/{SENSOR}/heartbeat", None), (event(root), battery),
                                (event(root), fall()), (event(root), "garbage")]:
                mosquitto_pub(broker, topic, body)
            wait_until(lambda: receiver.stats.acked == 4, what="four messages")
    finally:
        journal.close()
    assert journal.lanes == [("heartbeat", b"", Lane.TECHNICAL), ("event", battery.encode(), Lane.TECHNICAL),
                             ("event", fall().encode(), Lane.LIFE), ("event", b"garbage", Lane.LIFE)]
