"""Medication dispensers: a dose the dispenser reports as given is documented in the patient
record as a VkpMedicationDispense (docs/epj.md, "Medication dispensers"). A missed or failed
dose is an alarm (``medication_missed``, technical faults) and documented as alarms are.

``record`` is the unit of work both intakes end in (HTTP ``POST /api/v1/doses``, MQTT
``type: dose_dispensed``): the dose and its document are written in one transaction, so the
sender's acknowledgement means both are stored; the outbox delivers the document after the
commit. The sender's message id makes a retransmission the same dose. This module owns
``medication_doses``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Row

from respons.epj import mapping as vkp
from respons.epj import outbox
from respons.epj.profiles import code_systems
from respons.store.tables import medication_doses

DISPENSER = "medication_dispenser"
DEFAULT_EVENT = "1"  # medisin utlevert


class DoseRefused(ValueError):
    """Not a dose Respons can document; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def event_codes() -> dict[str, str]:
    """The dose events VKP defines (vkp-medicationdispense-events), code → display."""
    return dict(code_systems()[vkp.MEDICATION_DISPENSE_EVENTS])


@dataclass(frozen=True)
class Recorded:
    dose_id: str
    duplicate: bool


def record(conn: Connection, device: Row, *, message_id: str, event: str | None, medication: str | None,
           dispensed_at: datetime, source: str, now: datetime) -> Recorded:
    """Store a dose from ``device`` (a row of ``devices``) and queue its document, or recognise
    a retransmission. DoseRefused when it cannot be a documented dose."""
    if device.kind != DISPENSER:
        raise DoseRefused("not_a_dispenser", f"Device {device.identity!r} is a {device.kind}, not a medication "
                                             "dispenser: only a dispenser reports doses.")
    if device.recipient_id is None:
        raise DoseRefused("no_recipient", f"Dispenser {device.identity!r} is not given to a service recipient, so "
                                          "the dose belongs to no patient record. Register whose it is.")
    event = event or DEFAULT_EVENT
    known = event_codes()
    if event not in known:
        raise DoseRefused("unknown_event", f"Unknown dose event {event!r}; VKP's are "
                                           + ", ".join(f"{c} ({d})" for c, d in sorted(known.items())) + ".")
    existing = conn.execute(select(medication_doses.c.id).where(medication_doses.c.device_id == device.id,
                                                                medication_doses.c.message_id == message_id)).scalar()
    if existing is not None:
        return Recorded(existing, duplicate=True)
    dose_id = str(uuid.uuid4())
    conn.execute(insert(medication_doses).values(
        id=dose_id, municipality_id=device.municipality_id, recipient_id=device.recipient_id, device_id=device.id,
        message_id=message_id, event=event, medication=medication, dispensed_at=dispensed_at, received_at=now,
        source=source))
    outbox.enqueue_dose(conn, dose_id, now=now)
    return Recorded(dose_id, duplicate=False)
