"""HTTP intake for vendor platforms: ``POST /api/v1/alarms``.

The pure part (the request model and its fingerprint) is separate from the unit of work
that runs in the journal, which identifies the device, stores the alarm or keeps the
request in quarantine, all in one commit.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.domain import clock_check
from respons.domain.alarm_types import REPORTABLE_TYPES, UnknownAlarmType, alarm_type, reported_type
from respons.engine import receiving
from respons.engine.routing import RulesCache
from respons.epj import doses
from respons.intake import devices as device_intake
from respons.store import quarantine
from respons.store.quarantine import RawInput
from respons.intake.batches import Batcher
from respons.store.journal import Journal, Lane
from respons.store.tables import recipients

SOURCE = "http"

# Column widths and ranges (store/tables.py): beyond them a value is refused here with a
# message instead of by the database with a 500.
DEVICE_MAX = 100  # devices.identity
ID_MAX = 2**31 - 1  # INTEGER primary keys

_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


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

    device: str | None = Field(
        None, min_length=1, max_length=DEVICE_MAX,
        description="The device's identity (serial number) as registered in Respons.",
    )
    recipient_id: int | None = Field(
        None, ge=1, le=ID_MAX, description="The service recipient, for platforms that know them instead of a device."
    )
    type: str = Field(
        max_length=40,
        description="Alarm type code (e.g. `button_press`, `fall`, `door_opened`) or a VKP alert code (e.g. `4.1`).",
    )
    occurred_at: AwareDatetime = Field(
        description="When it happened at the recipient's: ISO 8601 text with a time zone (`Z` or an offset). "
        "A time far from when Respons receives the alarm is accepted and marked *clock suspect*; "
        "the answer clock always runs from the receive time."
    )
    idempotency_key: str | None = Field(
        None,
        max_length=200,
        description="Sender's unique id for this alarm. A retry with the same key returns the same alarm id. "
        "The `Idempotency-Key` header does the same.",
    )
    payload: dict[str, Any] | None = Field(None, description="Anything else the device reported; stored as is.")

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        # Pydantic would read a number as seconds (or milliseconds) since 1970, guessing
        # which by its size: an alarm's time must not rest on a guess. (A datetime is a time
        # already read, by a caller in this process; only text comes off the wire.)
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
            raise ValueError(
                'give the date and time as ISO 8601 text with a time zone, e.g. "2026-11-23T02:14:07Z" '
                "(a number is not accepted)"
            )
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            return reported_type(value).code
        except UnknownAlarmType:
            raise ValueError(
                f"unknown alarm type {value!r}; known types are {', '.join(sorted(REPORTABLE_TYPES))}"
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
            "occurred_at": self.occurred_at_utc().isoformat(),
            "payload": self.payload,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def occurred_at_utc(self) -> datetime:
        """``occurred_at`` in UTC, clamped where UTC has no such year (9999-12-31T23:59:59-14:00)."""
        return clock_check.to_utc(self.occurred_at)[0]


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
    clock_future: timedelta = clock_check.DEFAULT_FUTURE,
    clock_past: timedelta = clock_check.DEFAULT_PAST,
    rules_cache: RulesCache | None = None,
) -> receiving.Received | Rejected:
    target = _identify(conn, alarm, municipality_id, now)
    if isinstance(target, str):
        qid = quarantine.keep(conn, raw, reason="unknown_device", message=target, now=now)
        return Rejected(422, "unknown_device", target, qid)
    new = _new_alarm(alarm, target, idempotency_key, now, clock_future=clock_future, clock_past=clock_past)
    try:
        return receiving.receive(conn, new, now=now, answer_deadline=answer_deadline, rules_cache=rules_cache)
    except receiving.IdempotencyConflict as exc:
        return _conflict(conn, raw, exc, now)


def _new_alarm(alarm: AlarmIn, target: tuple[int, int | None, int | None], idempotency_key: str | None,
               now: datetime, *, clock_future: timedelta, clock_past: timedelta) -> receiving.NewAlarm:
    municipality_id, recipient_id, device_id = target
    # Still an alarm when the device's clock is wrong: marked on its timeline, never refused.
    suspect = clock_check.check(alarm.occurred_at, now, future=clock_future, past=clock_past)
    return receiving.NewAlarm(
        municipality_id=municipality_id,
        recipient_id=recipient_id,
        device_id=device_id,
        alarm_type=alarm_type(alarm.type),
        source=SOURCE,
        actor=f"device:{alarm.device}" if alarm.device else f"http:recipient:{alarm.recipient_id}",
        occurred_at=alarm.occurred_at_utc(),
        payload=alarm.payload,
        idempotency_scope=_scope(alarm) if idempotency_key else None,
        idempotency_key=idempotency_key,
        fingerprint=alarm.fingerprint(),
        clock_suspect=suspect.as_data() if suspect else None,
    )


def _conflict(conn: Connection, raw: RawInput, exc: receiving.IdempotencyConflict, now: datetime) -> Rejected:
    qid = quarantine.keep(conn, raw, reason="idempotency_conflict", message=str(exc), now=now)
    return Rejected(409, "idempotency_conflict", str(exc), qid)


@dataclass(frozen=True)
class HttpAlarm:
    """One ``POST /api/v1/alarms``, parsed, waiting for its batch."""

    alarm: AlarmIn
    raw: RawInput
    municipality_id: int  # the sender's, from its API token
    idempotency_key: str | None
    now: datetime


def receive_http_alarms(conn: Connection, requests: list[HttpAlarm], *, answer_deadline: timedelta,
                        clock_future: timedelta = clock_check.DEFAULT_FUTURE,
                        clock_past: timedelta = clock_check.DEFAULT_PAST,
                        rules_cache: RulesCache | None = None) -> list[receiving.Received | Rejected]:
    """``receive_http_alarm`` for a batch of requests (intake/batches.py): the devices found in
    one query and heard in one update, the alarms written by ``receiving.receive_many``. An
    alarm for a recipient (no device) takes ``receive_http_alarm`` alone."""
    results: list[receiving.Received | Rejected | None] = [None] * len(requests)
    found = device_intake.identify_many_anywhere(conn, {r.alarm.device for r in requests if r.alarm.device})
    heard, arrivals, indexes = [], [], []
    for index, request in enumerate(requests):
        alarm = request.alarm
        if alarm.device is None:
            results[index] = receive_http_alarm(
                conn, alarm, request.raw, municipality_id=request.municipality_id,
                idempotency_key=request.idempotency_key, now=request.now, answer_deadline=answer_deadline,
                clock_future=clock_future, clock_past=clock_past, rules_cache=rules_cache)
            continue
        row = found.get(alarm.device)
        if row is None or row.municipality_id != request.municipality_id:
            message = _unknown_device(alarm.device)
            qid = quarantine.keep(conn, request.raw, reason="unknown_device", message=message, now=request.now)
            results[index] = Rejected(422, "unknown_device", message, qid)
            continue
        heard.append((row, request.now))
        arrivals.append((_new_alarm(alarm, (row.municipality_id, row.recipient_id, row.id), request.idempotency_key,
                                    request.now, clock_future=clock_future, clock_past=clock_past), request.now))
        indexes.append(index)
    device_intake.heard_all(conn, heard)
    for index, result in zip(indexes, receiving.receive_many(conn, arrivals, answer_deadline=answer_deadline,
                                                             rules_cache=rules_cache)):
        request = requests[index]
        results[index] = (_conflict(conn, request.raw, result, request.now)
                          if isinstance(result, receiving.IdempotencyConflict) else result)
    return results  # type: ignore[return-value]


class HttpAlarms:
    """The node's ``POST /api/v1/alarms`` intake in batches, one ``Batcher`` per lane (an
    assistance alarm never waits in a batch of technical ones)."""

    MAX_BATCH = 200

    def __init__(self, journal: Journal, *, answer_deadline: timedelta, clock_future: timedelta,
                 clock_past: timedelta, rules_cache: RulesCache | None):
        unit = partial(receive_http_alarms, answer_deadline=answer_deadline, clock_future=clock_future,
                       clock_past=clock_past, rules_cache=rules_cache)
        self._batches = {lane: Batcher(journal, unit, lane=lane, max_batch=self.MAX_BATCH,
                                       in_flight=2 if lane is Lane.LIFE else 1)
                         for lane in (Lane.LIFE, Lane.TECHNICAL)}

    async def receive(self, request: HttpAlarm) -> receiving.Received | Rejected:
        """Once committed: the alarm (new or found again), or why it was refused."""
        return await self._batches[Lane.for_alarm(alarm_type(request.alarm.type))].add(request)


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
        row = device_intake.identify_in_municipality(conn, alarm.device, municipality_id)
        if row is None:
            return _unknown_device(alarm.device)
        # An alarm is a sign of life, as a heartbeat is on the other protocols: it pushes the
        # device's deadline on and clears a lost-contact alarm (engine/supervision.py).
        device_intake.heard(conn, row, now)
        return row.municipality_id, row.recipient_id, row.id
    row = conn.execute(
        select(recipients.c.id, recipients.c.municipality_id).where(
            recipients.c.id == alarm.recipient_id, recipients.c.municipality_id == municipality_id
        )
    ).first()
    if row is None:
        return f"Unknown recipient_id {alarm.recipient_id}: no service recipient with this id in the municipality of your API token."
    return row.municipality_id, row.id, None


def _unknown_device(identity: str) -> str:
    return (f"Unknown device {identity!r}: no device with this identity is registered for the "
            "municipality of your API token. Register it (with its recipient) in Respons, or check the identity "
            "the platform sends and the token it uses.")


def describe_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's errors, phrased for a vendor's developer (never quoting the input itself:
    it may be personal data, or a string that cannot even be encoded in the answer)."""
    problems = []
    for error in errors[:MAX_PROBLEMS]:
        if error.get("type") == "json_invalid":
            position = error.get("loc", ("body", "?"))[-1]
            reason = error.get("ctx", {}).get("error", "malformed")
            problems.append({"field": "(body)", "problem": f"not valid JSON ({reason} at character {position})"})
            continue
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": _field_name(location), "problem": quarantine.safe_text(message)})
    return problems


# --- reading the body ----------------------------------------------------------------------
#
# The body is checked before it is parsed into an AlarmIn, for what the model cannot see
# and the databases cannot store: bytes that are not UTF-8, NUL characters (PostgreSQL
# refuses them in text and JSON), lone surrogates (no driver can encode them; JSON allows
# "\ud800"), NaN and infinities (not JSON, and refused by PostgreSQL's jsonb) and nesting
# deep enough to exhaust a parser's stack. Each is a 422 naming the field, and the request
# is kept in quarantine like any other invalid alarm.

MAX_PROBLEMS = 20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class ParsedBody:
    value: Any = None
    problems: tuple[dict[str, str], ...] = ()


def parse_body(body: bytes, *, max_depth: int) -> ParsedBody:
    """The JSON value of ``body``, or the problems that keep it from being one we can store."""
    if not body.strip():
        return _problem("(body)", "the body is empty; send the alarm as a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = body[exc.start:exc.end].hex(" ").upper()
        return _problem("(body)", f"not valid UTF-8: byte(s) {bad} at byte offset {exc.start}; send the body encoded as UTF-8")
    text = text.removeprefix("\ufeff")  # a byte order mark is harmless; tolerate it
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        return _problem("(body)", f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except RecursionError:
        return _problem("(body)", f"JSON nested deeper than {max_depth} levels")
    except ValueError as exc:  # NaN, Infinity, a float beyond range, an integer of 4,300+ digits
        return _problem("(body)", f"not valid JSON ({exc})")
    problems = _unstorable(value, max_depth)
    return ParsedBody(problems=tuple(problems)) if problems else ParsedBody(value=value)


def _problem(field: str, problem: str) -> ParsedBody:
    return ParsedBody(problems=({"field": field, "problem": problem},))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is beyond the range of a double")
    return number


def _unstorable(value: Any, max_depth: int) -> list[dict[str, str]]:
    """Every string (keys too) that cannot be stored, and nesting beyond ``max_depth``.

    Iterative, so the walk itself cannot run out of stack."""
    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, tuple[str, ...], int]] = [(value, (), 1)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                problems.append({"field": _field_name(path), "problem": f"JSON nested deeper than {max_depth} levels"})
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    problems.append({"field": _field_name(path), "problem": f"the key {_describe_unstorable(key)}"})
                stack.append((child, (*path, str(key)), depth + 1))
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            problems.append({"field": _field_name(path), "problem": _describe_unstorable(item)})
    problems.sort(key=lambda p: p["field"])
    return problems


def _describe_unstorable(text: str) -> str:
    found = _UNSTORABLE.search(text)
    assert found is not None
    at = found.start()
    if found.group() == "\x00":
        return f"contains a NUL character (\\u0000) at position {at}, which cannot be stored; leave it out"
    code = ord(found.group())
    return (f"contains a lone surrogate (\\u{code:04x}) at position {at}, which is not a character; "
            "send the text as UTF-8 or as a valid surrogate pair")


def _field_name(path: tuple[str, ...] | list[str]) -> str:
    name = ".".join(quarantine.safe_text(part) for part in path) or "(body)"
    return name if len(name) <= 200 else name[:200] + "…"


# --- a medication dispenser's dose (docs/epj.md, "Medication dispensers") ----------------------


class DoseIn(BaseModel):
    """A dose a medication dispenser reports as given (a missed dose is an alarm:
    ``medication_missed`` on ``POST /api/v1/alarms``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"device": "MD-0001042", "id": "md-7f3c9a12-0412", "event": "1.1",
                                         "dispensed_at": "2026-12-03T08:00:12+01:00", "medication": "Multidose morgen"}]},
    )

    device: str = Field(min_length=1, max_length=DEVICE_MAX, description="The dispenser's identity as registered.")
    id: str = Field(min_length=1, max_length=200, description="The sender's id of this dose: a retry repeats it and "
                                                               "is the same dose.")
    dispensed_at: AwareDatetime = Field(description="When the dose was handed out, ISO 8601 with a time zone.")
    event: str | None = Field(None, max_length=10, description="VKP's dose event (vkp-medicationdispense-events): "
                              "`1` dispensed (default), `1.1` unassisted, `1.2` assisted, `1.3` as needed, `2` for "
                              "travel …")
    medication: str | None = Field(None, max_length=200, description="What was dispensed, as the dispenser names it.")


def receive_http_dose(conn: Connection, dose: DoseIn, raw: RawInput, *, municipality_id: int,
                      now: datetime) -> doses.Recorded | Rejected:
    """A dose of a dispenser of the sender's municipality, stored with its document, or why not
    (kept in quarantine: a dispenser's report is health information, not to be lost)."""
    device = device_intake.identify_in_municipality(conn, dose.device, municipality_id)
    if device is None:
        message = (f"Unknown device {dose.device!r}: no device with this identity is registered for the "
                   "municipality of your API token.")
        return Rejected(422, "unknown_device", message, quarantine.keep(conn, raw, reason="unknown_device",
                                                                          message=message, now=now))
    device_intake.heard(conn, device, now)
    try:
        return doses.record(conn, device, message_id=dose.id, event=dose.event, medication=dose.medication,
                            dispensed_at=clock_check.to_utc(dose.dispensed_at)[0], source=SOURCE, now=now)
    except doses.DoseRefused as exc:
        return Rejected(422, exc.reason, str(exc), quarantine.keep(conn, raw, reason=exc.reason, message=str(exc),
                                                                   now=now))
