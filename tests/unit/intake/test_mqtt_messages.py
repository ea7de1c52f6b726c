"""The MQTT intake without a broker or a database: topics, the message schema, lanes, the
order of acknowledgements, broker URLs; and Hypothesis on the topic and JSON reader."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.intake.mqtt.messages import (
    MAX_BODY_BYTES, Kind, Reading, SensorMessage, Topic, TopicError, Unreadable, json_schema, lane_of, parse_topic, read,
)
from respons.intake.mqtt.receiver import AckLedger, Broker
from respons.store.journal import Lane

SCHEMA_FILE = Path(__file__).parents[3] / "docs" / "mqtt-sensor-message.schema.json"
EVENT = "respons/4204/sensors/FS-7731/event"


def body(**fields) -> bytes:
    return json.dumps({"type": "fall", "id": "m-1", "occurred_at": "2026-11-23T03:14:07+01:00", **fields}).encode()


# --- topics -------------------------------------------------------------------------------


@pytest.mark.parametrize("topic, expected", [
    (EVENT, Topic("4204", "FS-7731", Kind.EVENT)),
    ("respons/4204/sensors/FS-7731/heartbeat", Topic("4204", "FS-7731", Kind.HEARTBEAT)),
    # The prefix is the subscription's business: a bridged broker may add levels in front.
    ("kommune/agder/4204/sensors/dør 1/event", Topic("4204", "dør 1", Kind.EVENT)),
])
def test_topics_name_municipality_device_and_kind(topic, expected):
    assert parse_topic(topic) == expected


@pytest.mark.parametrize("topic, complaint", [
    ("respons/4204/sensors/FS-7731/status", "'status'"),
    ("respons/4204/sensor/FS-7731/event", "layout"),
    ("4204/sensors/FS-7731/event", "layout"),
    ("respons/4204/sensors//event", "empty"),
    ("respons//sensors/FS-7731/event", "empty"),
    ("$SYS/4204/sensors/FS-7731/event", "broker topic"),
    ("", "layout"),
])
def test_other_topics_are_refused_with_a_reason(topic, complaint):
    with pytest.raises(TopicError, match=complaint):
        parse_topic(topic)
    assert read(topic, body()).reason == "unknown_topic"


# --- messages -----------------------------------------------------------------------------


def test_an_event_reads_as_an_alarm_with_type_codes_and_vkp_codes_normalised():
    reading = read(EVENT, body(payload={"battery": 81}))
    assert isinstance(reading, Reading) and not reading.heartbeat
    assert reading.message.type == "fall" and reading.message.id == "m-1" and reading.message.state == "alarm"
    assert reading.message.occurred_at == datetime(2026, 11, 23, 2, 14, 7, tzinfo=timezone.utc)
    assert reading.message.payload == {"battery": 81}
    assert read(EVENT, body(type="4.15")).message.type == "door_opened"
    assert read(EVENT, body(type="4.1")).message.type == "fall"


def test_heartbeats_on_either_topic():
    for topic, raw in [("r/4204/sensors/D/heartbeat", b""), ("r/4204/sensors/D/heartbeat", b"  \n"),
                       ("r/4204/sensors/D/heartbeat", b'{"payload": {"battery": 12}}'),
                       ("r/4204/sensors/D/event", b'{"type": "heartbeat"}')]:
        reading = read(topic, raw)
        assert isinstance(reading, Reading) and reading.heartbeat, (topic, raw)


@pytest.mark.parametrize("raw, reason, complaint", [
    (b'{"type": "fall", ', "invalid_json", "not valid JSON"),
    (b"\xff\xfe", "invalid_json", "not valid JSON"),
    (b"[1, 2]", "invalid_message", "JSON object, not list"),
    (b'"fall"', "invalid_message", "JSON object, not str"),
    (b'{"id": "m-1", "occurred_at": "2026-11-23T02:14:07Z"}', "invalid_message", "type: Field required"),
    (b'{"type": "fall", "occurred_at": "2026-11-23T02:14:07Z"}', "invalid_message", "needs `id`"),
    (b'{"type": "fall", "id": "m-1"}', "invalid_message", "needs `occurred_at`"),
    (b'{"type": "fall", "id": "m-1", "occurred_at": "2026-11-23T02:14:07"}', "invalid_message", "occurred_at: Input should have timezone"),
    (b'{"type": "meteor", "id": "m-1", "occurred_at": "2026-11-23T02:14:07Z"}', "invalid_message", "unknown type 'meteor'"),
    (b'{"type": "9.99", "id": "m-1", "occurred_at": "2026-11-23T02:14:07Z"}', "invalid_message", "unknown type '9.99'"),
    (b'{"type": "fall", "id": "m-1", "occurred_at": "2026-11-23T02:14:07Z", "state": "over"}', "invalid_message", "state:"),
    (b'{"type": "heartbeat", "state": "restored"}', "invalid_message", "heartbeat cannot be `restored`"),
    (b'{"type": "fall", "id": "", "occurred_at": "2026-11-23T02:14:07Z"}', "invalid_message", "id:"),
    (b'{"type": "fall", "id": "m-1", "occurred_at": "2026-11-23T02:14:07Z", "payload": [1]}', "invalid_message", "payload:"),
])
def test_schema_violations_say_what_is_wrong(raw, reason, complaint):
    reading = read(EVENT, raw)
    assert isinstance(reading, Unreadable) and reading.reason == reason
    assert complaint in reading.message
    assert reading.topic == parse_topic(EVENT), "the device is still known for the quarantine"


def test_an_event_on_the_heartbeat_topic_is_refused_rather_than_taken_as_a_heartbeat():
    reading = read("respons/4204/sensors/FS-7731/heartbeat", body())
    assert isinstance(reading, Unreadable) and "heartbeat topic" in reading.message


def test_unknown_fields_are_kept_not_refused_and_count_in_the_content():
    reading = read(EVENT, body(battery=80))
    assert isinstance(reading, Reading) and reading.message.extra_fields == {"battery": 80}
    assert reading.message.content_hash() != read(EVENT, body(battery=79)).message.content_hash()


def test_the_content_hash_ignores_how_time_and_keys_are_written_but_not_what_they_say():
    a = read(EVENT, body(occurred_at="2026-11-23T03:14:07+01:00", payload={"a": 1, "b": 2})).message
    b = read(EVENT, json.dumps({"payload": {"b": 2, "a": 1}, "occurred_at": "2026-11-23T02:14:07Z", "id": "m-1",
                                "type": "4.1"}).encode()).message
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != read(EVENT, body(occurred_at="2026-11-23T02:14:08Z")).message.content_hash()


def test_a_message_too_large_is_refused_before_it_is_parsed():
    reading = read(EVENT, b" " * (MAX_BODY_BYTES + 1))
    assert isinstance(reading, Unreadable) and reading.reason == "too_large"


def test_deeply_nested_json_is_unreadable_not_a_crash():
    assert read(EVENT, b"[" * 50_000 + b"]" * 50_000).reason in ("too_large", "invalid_json")
    assert read(EVENT, b"[" * 30_000).reason == "invalid_json"


# --- lanes --------------------------------------------------------------------------------


def test_lanes_put_people_before_heartbeats_and_technical_events():
    assert lane_of(read(EVENT, body())) is Lane.LIFE
    assert lane_of(read(EVENT, body(type="door_opened"))) is Lane.LIFE
    assert lane_of(read(EVENT, body(type="battery_low"))) is Lane.TECHNICAL
    assert lane_of(read("r/4204/sensors/D/heartbeat", b"")) is Lane.TECHNICAL
    assert lane_of(read(EVENT, b"not json")) is Lane.LIFE, "unreadable could be an alarm"
    assert lane_of(read("r/x/event", body())) is Lane.LIFE


# --- the published schema -----------------------------------------------------------------


def test_the_published_json_schema_is_the_models():
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        "docs/mqtt-sensor-message.schema.json is stale: regenerate it from respons.intake.mqtt.messages.json_schema()")


def test_every_example_in_the_schema_is_accepted():
    for example in json_schema()["examples"]:
        SensorMessage.model_validate(example)


# --- acknowledgements in arrival order ------------------------------------------------------


def test_acks_leave_in_arrival_order_whatever_order_the_commits_come_in():
    ledger = AckLedger()
    heartbeat, fall, door = ledger.received(11), ledger.received(12), ledger.received(13)
    assert ledger.committed(fall) == [], "the heartbeat that came first is not committed yet"
    assert ledger.committed(door) == []
    assert ledger.committed(heartbeat) == [11, 12, 13]
    assert len(ledger) == 0


def test_after_a_new_connection_old_tickets_ack_nothing():
    ledger = AckLedger()
    old = ledger.received(5)
    ledger.reset()
    fresh = ledger.received(5)  # the broker may reuse the packet id on the new connection
    assert ledger.committed(old) == []
    assert ledger.committed(fresh) == [5]


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(12)), st.integers(0, 12))
def test_acks_are_a_prefix_of_arrivals_whatever_the_commit_order(order, failed_at):
    ledger = AckLedger()
    tickets = [ledger.received(1000 + n) for n in range(12)]
    acked: list[int] = []
    for n in order:
        if n == failed_at:
            continue  # this one never commits
        acked += ledger.committed(tickets[n])
    assert acked == [1000 + n for n in range(len(acked))], "in order, without gaps"
    assert len(acked) == (failed_at if failed_at < 12 else 12), "nothing after an uncommitted message"


# --- broker addresses -----------------------------------------------------------------------


def test_broker_urls():
    assert Broker.from_url("mqtt://127.0.0.1:1883") == Broker("127.0.0.1", 1883)
    assert Broker.from_url("mqtts://broker.kommune.no") == Broker("broker.kommune.no", 8883, tls=True)
    assert Broker.from_url("mqtt://respons:p%40ss@mq") == Broker("mq", 1883, False, "respons", "p@ss")
    assert Broker.from_url("mqtt://u:p@mq", username="other", password="x").username == "other"
    for bad in ("http://mq:1883", "mq:1883", "mqtt://"):
        with pytest.raises(ValueError):
            Broker.from_url(bad)


# --- fuzzing --------------------------------------------------------------------------------

LEVEL = st.text(st.characters(blacklist_characters="/+#\x00", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(LEVEL, min_size=0, max_size=8).map("/".join), st.binary(max_size=300))
def test_any_topic_and_body_reads_as_something_never_raises(topic, raw):
    reading = read(topic, raw)
    assert isinstance(reading, (Reading, Unreadable))
    assert isinstance(lane_of(reading), Lane)
    if isinstance(reading, Unreadable):
        assert reading.reason in {"unknown_topic", "too_large", "invalid_json", "invalid_message"} and reading.message


@settings(max_examples=300, deadline=None)
@given(LEVEL.filter(bool), LEVEL.filter(bool), st.sampled_from(list(Kind)), LEVEL)
def test_a_well_formed_topic_parses_back_to_its_parts(municipality, device, kind, prefix):
    topic = f"{prefix or 'respons'}/{municipality}/sensors/{device}/{kind.value}"
    if topic.startswith("$"):
        return
    assert parse_topic(topic) == Topic(municipality, device, kind)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "id", "occurred_at", "state", "payload", "extra"]), JSON_VALUES,
                       max_size=6))
def test_any_json_object_is_either_a_valid_message_or_a_schema_complaint(data):
    reading = read(EVENT, json.dumps(data).encode())
    if isinstance(reading, Unreadable):
        assert reading.reason == "invalid_message" and reading.problems
    else:
        message = reading.message
        assert message.type == "heartbeat" or (message.id and message.occurred_at and message.occurred_at.tzinfo)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["fall", "4.1", "door_opened", "fire", "battery_low", "bed_exit"]), st.text(min_size=1, max_size=120),
       st.datetimes(timezones=st.just(timezone.utc)), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3))
def test_valid_events_round_trip(type_code, message_id, occurred_at, payload):
    raw = json.dumps({"type": type_code, "id": message_id, "occurred_at": occurred_at.isoformat(), "payload": payload})
    reading = read(EVENT, raw.encode())
    assert isinstance(reading, Reading)
    assert reading.message.id == message_id and reading.message.occurred_at == occurred_at
    assert reading.message.payload == payload
