"""HTTP intake for vendor platforms: ``POST /api/v1/alarms``.

The pure part (the request model and its fingerprint) is separate from the unit of work
that runs in the journal, which identifies the device, stores the alarm or keeps the
request in quarantine, all in one commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import ALARM_TYPES, UnknownAlarmType, alarm_type, by_vkp_code
from respons.engine import alarms as alarm_service
from respons.engine import supervision
from respons.store import quarantine
from respons.store.quarantine import RawInput
from respons.store.tables import devices, recipients

SOURCE = "http"


class AlarmIn(BaseModel):
    """An alarm from a vendor platform or a device gateway."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device": "TA-0001042",
                    "type": "fall",
                    "occurred_at": "2026-11-23T02:14:07Z",
                    "idempotency_key": "vendor-7f3c9a12-0001",
                    "payload": {"battery": 81, "signal": -71},
                }
            ]
        },
    )

    device: str | None = Field(None, description="The device's identity (serial number) as registered in Respons.")
    recipient_id: int | None = Field(None, description="The service recipient, for platforms that know them instead of a device.")
    type: str = Field(
        description="Alarm type code (e.g. `button_press`, `fall`, `door_opened`) or a VKP alert code (e.g. `4.1`).",
    )
    occurred_at: AwareDatetime = Field(description="When it happened at the recipient's, with a time zone (`Z` or an offset).")
    idempotency_key: str | None = Field(
        None,
        max_length=200,
        description="Sender's unique id for this alarm. A retry with the same key returns the same alarm id. "
        "The `Idempotency-Key` header does the same.",
    )
    payload: dict[str, Any] | None = Field(None, description="Anything else the device reported; stored as is.")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            return (by_vkp_code(value) if value[:1].isdigit() else alarm_type(value)).code
        except UnknownAlarmType:
            raise ValueError(
                f"unknown alarm type {value!r}; known types are {', '.join(sorted(ALARM_TYPES))}"
            ) from None

    @model_validator(mode="after")
    def _one_identity(self) -> "AlarmIn":
        if (self.device is None) == (self.recipient_id is None):
            raise ValueError("give exactly one of `device` or `recipient_id`")
        return self

    def fingerprint(self) -> str:
        """Same alarm, same fingerprint: used to tell a retry from a reused key."""
        canonical = {
            "device": self.device,
            "recipient_id": self.recipient_id,
            "type": self.type,
            "occurred_at": self.occurred_at.astimezone(timezone.utc).isoformat(),
            "payload": self.payload,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Rejected:
    status: int
    reason: str
    message: str
    quarantine_id: str


def receive_http_alarm(
    conn: Connection,
    alarm: AlarmIn,
    raw: RawInput,
    *,
    municipality_id: int,
    idempotency_key: str | None,
    now: datetime,
    answer_deadline: timedelta,
) -> alarm_service.Received | Rejected:
    target = _identify(conn, alarm, municipality_id, now)
    if isinstance(target, str):
        qid = quarantine.keep(conn, raw, reason="unknown_device", message=target, now=now)
        return Rejected(422, "unknown_device", target, qid)
    municipality_id, recipient_id, device_id = target
    new = alarm_service.NewAlarm(
        municipality_id=municipality_id,
        recipient_id=recipient_id,
        device_id=device_id,
        alarm_type=alarm_type(alarm.type),
        source=SOURCE,
        actor=f"device:{alarm.device}" if alarm.device else f"http:recipient:{alarm.recipient_id}",
        occurred_at=alarm.occurred_at,
        payload=alarm.payload,
        idempotency_scope=_scope(alarm) if idempotency_key else None,
        idempotency_key=idempotency_key,
        fingerprint=alarm.fingerprint(),
    )
    try:
        return alarm_service.receive(conn, new, now=now, answer_deadline=answer_deadline)
    except alarm_service.IdempotencyConflict as exc:
        qid = quarantine.keep(conn, raw, reason="idempotency_conflict", message=str(exc), now=now)
        return Rejected(409, "idempotency_conflict", str(exc), qid)


def _scope(alarm: AlarmIn) -> str:
    # Keys are unique per device (or recipient), so two vendors cannot collide.
    return f"http:device:{alarm.device}" if alarm.device else f"http:recipient:{alarm.recipient_id}"


def _identify(conn: Connection, alarm: AlarmIn, municipality_id: int, now: datetime
              ) -> tuple[int, int | None, int | None] | str:
    """Return (municipality, recipient, device), or a message saying why not.

    Only devices and recipients of the sender's municipality (its API token's) count: a
    device of another municipality is "unknown" to this sender, so a token cannot be used
    to raise alarms elsewhere, nor to learn which identities exist there.
    """
    if alarm.device is not None:
        row = conn.execute(
            select(devices).where(devices.c.identity == alarm.device, devices.c.municipality_id == municipality_id)
        ).first()
        if row is None:
            return (
                f"Unknown device {alarm.device!r}: no device with this identity is registered for the "
                "municipality of your API token. Register it (with its recipient) in Respons, or check the identity "
                "the platform sends and the token it uses."
            )
        # An alarm is a sign of life, as a heartbeat is on the other protocols: it pushes the
        # device's deadline on and clears a lost-contact alarm (engine/supervision.py).
        supervision.seen(conn, row, now)
        return row.municipality_id, row.recipient_id, row.id
    row = conn.execute(
        select(recipients.c.id, recipients.c.municipality_id).where(
            recipients.c.id == alarm.recipient_id, recipients.c.municipality_id == municipality_id
        )
    ).first()
    if row is None:
        return f"Unknown recipient_id {alarm.recipient_id}: no service recipient with this id in the municipality of your API token."
    return row.municipality_id, row.id, None


def describe_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's errors, phrased for a vendor's developer."""
    problems = []
    for error in errors:
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            reason = error.get("ctx", {}).get("error", "malformed")
            problems.append({"field": "(body)", "problem": f"not valid JSON ({reason} at character {position})"})
            continue
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": ".".join(location) or "(body)", "problem": message})
    return problems
