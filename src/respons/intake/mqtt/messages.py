"""What a sensor says over MQTT, without a broker or a database (pure, fuzzed in the tests).

Topic layout (the last four levels; the first level(s) are whatever the subscription
names, ``respons`` by default)::

    respons/<municipality number>/sensors/<device id>/event
    respons/<municipality number>/sensors/<device id>/heartbeat

The body of an ``event`` is a JSON object described by ``SensorMessage``; a ``heartbeat``
may be empty. ``read`` turns a topic and body into a ``Reading`` (something Respons can
act on) or an ``Unreadable`` (kept in quarantine, with a message for the administrator).
See docs/mqtt.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from respons.domain.alarm_types import ALARM_TYPES, REPORTABLE_TYPES, UnknownAlarmType, alarm_type, reported_type
from respons.intake.http import describe_validation_errors
from respons.store.journal import Lane

HEARTBEAT = "heartbeat"
# A medication dispenser's dose given (epj/doses.py): documented, not an alarm. Its payload may
# name VKP's dose event ("event": "1.1") and the medication ("medication").
DOSE = "dose_dispensed"
# A sensor message is a few hundred bytes; anything far larger is not one, and the
# quarantine keeps at most this much of it.
MAX_BODY_BYTES = 64 * 1024


class Kind(StrEnum):
    EVENT = "event"
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class Topic:
    municipality: str  # the municipality number (kommunenummer) the device belongs to
    device: str  # devices.identity of a device registered with protocol "mqtt"
    kind: Kind


class TopicError(ValueError):
    pass


def parse_topic(topic: str) -> Topic:
    """``…/<municipality>/sensors/<device>/<event|heartbeat>``, or TopicError saying why not."""
    levels = topic.split("/")
    if len(levels) < 5 or levels[-3] != "sensors":
        raise TopicError(
            f"Topic {topic!r} does not follow the layout <prefix>/<municipality number>/sensors/<device id>/event "
            "(or …/heartbeat)."
        )
    municipality, device, kind = levels[-4], levels[-2], levels[-1]
    if not municipality or not device:
        raise TopicError(f"Topic {topic!r} has an empty municipality number or device id.")
    if topic.startswith("$"):
        raise TopicError(f"Topic {topic!r} is a broker topic, not a sensor's.")
    try:
        return Topic(municipality, device, Kind(kind))
    except ValueError:
        raise TopicError(f"Topic {topic!r} ends in {kind!r}; the last level must be 'event' or 'heartbeat'.") from None


class SensorMessage(BaseModel):
    """One message from a sensor or a sensor gateway, published with QoS 1.

    On the ``…/event`` topic: an alarm (``state`` "alarm", the default), the end of one
    (``state`` "restored"), or a heartbeat (``type`` "heartbeat"). On the ``…/heartbeat``
    topic the body may be empty; if it is not, it is this object with ``type`` "heartbeat".
    """

    model_config = ConfigDict(
        # A sensor cannot hear a refusal: a fall alarm must not wait in quarantine because a
        # firmware update added a field. Fields Respons does not know are kept with the alarm.
        extra="allow",
        title="Respons MQTT sensor message",
        json_schema_extra={
            "examples": [
                {
                    "type": "fall",
                    "id": "b1e0c6a2-0042",
                    "occurred_at": "2026-11-23T03:14:07+01:00",
                    "payload": {"battery": 81, "rssi": -71},
                },
                {"type": "4.15", "id": "door-000913", "occurred_at": "2026-11-23T02:14:07Z"},
                {"type": "door_opened", "id": "door-000914", "occurred_at": "2026-11-23T02:20:00Z", "state": "restored"},
                {"type": "heartbeat"},
                {"type": "dose_dispensed", "id": "md-000412", "occurred_at": "2026-12-03T08:00:12+01:00",
                 "payload": {"event": "1.1", "medication": "Multidose morgen"}},
            ]
        },
    )

    type: str = Field(
        description="Alarm type code (e.g. `fall`, `door_opened`, `bed_exit`, `fire`, `battery_low`), a VKP alert code "
        "(e.g. `4.1` fall, `4.15` door opened), `heartbeat`, or `dose_dispensed` (a medication dispenser's dose "
        "given; `payload.event` VKP's dose event, `payload.medication` what was given).",
    )
    id: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="The sender's id for this message; required except for heartbeats. A retransmission repeats it "
        "(with the same content) and never makes a second alarm.",
    )
    occurred_at: AwareDatetime | None = Field(
        None,
        description="When it happened, ISO 8601 with a time zone (`Z` or an offset); required except for heartbeats.",
    )
    state: Literal["alarm", "restored"] = Field(
        "alarm",
        description="`alarm`: something happened. `restored`: the condition ended (door closed, back in bed); "
        "written as a note on the device's open alarm of that type.",
    )
    payload: dict[str, Any] | None = Field(None, description="Anything else the sensor reports; stored with the alarm.")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in (HEARTBEAT, DOSE):
            return value
        try:
            return reported_type(value).code
        except UnknownAlarmType:
            known = ", ".join(sorted([*REPORTABLE_TYPES, HEARTBEAT, DOSE]))
            raise ValueError(f"unknown type {value!r}; known types are {known} (or a VKP alert code)") from None

    @model_validator(mode="after")
    def _complete(self) -> "SensorMessage":
        if self.type == HEARTBEAT:
            if self.state != "alarm":
                raise ValueError("a heartbeat cannot be `restored`")
            return self
        missing = [name for name in ("id", "occurred_at") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"an event needs {' and '.join(f'`{m}`' for m in missing)}")
        return self

    @property
    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def content_hash(self) -> str:
        """Same message, same hash: a retransmission is recognised, a reused id with new content is not."""
        canonical = {
            "type": self.type,
            "occurred_at": self.occurred_at.astimezone(timezone.utc).isoformat() if self.occurred_at else None,
            "state": self.state,
            "payload": self.payload,
            "extra": self.extra_fields,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Reading:
    topic: Topic
    message: SensorMessage

    @property
    def heartbeat(self) -> bool:
        return self.message.type == HEARTBEAT


@dataclass(frozen=True)
class Unreadable:
    reason: str  # quarantine reason: unknown_topic, too_large, invalid_json, invalid_message
    message: str
    topic: Topic | None = None
    problems: list[dict[str, str]] = field(default_factory=list)


def read(topic: str, body: bytes) -> Reading | Unreadable:
    """Topic and body of one MQTT message → what it means, or why it means nothing."""
    try:
        where = parse_topic(topic)
    except TopicError as exc:
        return Unreadable("unknown_topic", str(exc))
    if len(body) > MAX_BODY_BYTES:
        return Unreadable("too_large", f"The message has {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted.", where)
    if where.kind is Kind.HEARTBEAT and not body.strip():
        return Reading(where, SensorMessage(type=HEARTBEAT))
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return Unreadable("invalid_json", f"The message is not valid JSON (UTF-8): {exc}.", where)
    if not isinstance(data, dict):
        return Unreadable("invalid_message", f"The message must be a JSON object, not {type(data).__name__}.", where)
    if where.kind is Kind.HEARTBEAT:
        data.setdefault("type", HEARTBEAT)
        if data["type"] != HEARTBEAT:
            return Unreadable("invalid_message", "A message on the …/heartbeat topic must have type `heartbeat` "
                                                 "(publish events on …/event).", where)
    try:
        return Reading(where, SensorMessage.model_validate(data))
    except ValidationError as exc:
        problems = describe_validation_errors(exc.errors())
        text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return Unreadable("invalid_message", f"The message does not follow the sensor message schema: {text}.", where, problems)


def lane_of(reading: Reading | Unreadable) -> Lane:
    """Heartbeats and technical events wait behind alarms; anything unreadable could be one."""
    if isinstance(reading, Unreadable):
        return Lane.LIFE
    if reading.heartbeat:
        return Lane.TECHNICAL
    if reading.message.type == DOSE:
        return Lane.DEFAULT  # documentation: behind alarms, ahead of heartbeats
    return Lane.for_alarm(alarm_type(reading.message.type))


def json_schema() -> dict[str, Any]:
    """The published JSON Schema (docs/mqtt-sensor-message.schema.json is generated from it)."""
    schema = SensorMessage.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    # What the validators check, said in the schema too, for integrators' own validators.
    schema["properties"]["type"]["anyOf"] = [
        {"enum": sorted([*REPORTABLE_TYPES, HEARTBEAT, DOSE])},
        {"enum": sorted(t.vkp_code for t in ALARM_TYPES.values() if t.vkp_code)},
    ]
    schema["if"] = {"properties": {"type": {"not": {"const": HEARTBEAT}}}}
    schema["then"] = {"required": ["id", "occurred_at"],
                      "properties": {"id": {"type": "string"}, "occurred_at": {"type": "string"}}}
    return schema
