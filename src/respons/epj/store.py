"""Reads for the patient record: everything a document says about one alarm, in one place.

Only reads; the alarm's rows belong to store/alarms.py. The record is read inside the unit
of work that closes the alarm, so the document matches the timeline it was built from.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from respons.domain.alarm_types import alarm_type
from respons.clock import OSLO
from respons.epj.document import AlarmRecord, DoseRecord, LookinRecord, NotDocumentable, Organisation, Person
from respons.epj import mapping as vkp
from respons.epj.profiles import code_systems
from respons.store.alarms import timeline
from respons.store.tables import (alarms, centres, devices, medication_doses, municipalities, recipients, staff,
                                  supervision_lookins, users)


def alarm_record(conn: Connection, alarm_id: str) -> AlarmRecord:
    row = conn.execute(
        select(alarms.c.type, alarms.c.recipient_id, recipients.c.national_id, recipients.c.given_name,
               recipients.c.family_name, municipalities.c.name.label("municipality_name"),
               municipalities.c.number.label("municipality_number"),
               municipalities.c.organisation_number.label("municipality_organisation_number"),
               centres.c.name.label("centre_name"), centres.c.organisation_number.label("centre_organisation_number"),
               devices.c.identity.label("device_identity"), devices.c.kind.label("device_kind"))
        .select_from(alarms.join(municipalities, municipalities.c.id == alarms.c.municipality_id)
                     .join(centres, centres.c.id == municipalities.c.centre_id)
                     .outerjoin(recipients, recipients.c.id == alarms.c.recipient_id)
                     .outerjoin(devices, devices.c.id == alarms.c.device_id))
        .where(alarms.c.id == alarm_id)
    ).first()
    if row is None:
        raise LookupError(alarm_id)
    if row.national_id is None:
        raise NotDocumentable("no_recipient", "The alarm belongs to no service recipient, so to no patient record.")
    events = tuple(timeline(conn, alarm_id))
    return AlarmRecord(
        alarm_id=alarm_id, alarm_type=alarm_type(row.type), recipient_national_id=row.national_id,
        recipient_name=f"{row.given_name} {row.family_name}",
        municipality=Organisation(row.municipality_name, row.municipality_organisation_number, row.municipality_number),
        centre=Organisation(row.centre_name, row.centre_organisation_number), events=events,
        people=_people(conn, {e.actor for e in events}), device_identity=row.device_identity,
        device_kind=row.device_kind, device_display=row.device_identity,
    )


def _people(conn: Connection, actors: set[str]) -> dict[str, Person]:
    """The users among the actors ("user:7"), with the HPR number of the staff member they are."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a.startswith("user:") and a.split(":", 1)[1].isdigit()}
    if not ids:
        return {}
    rows = conn.execute(select(users.c.id, users.c.display_name, staff.c.hpr_number)
                        .select_from(users.outerjoin(staff, staff.c.id == users.c.staff_id))
                        .where(users.c.id.in_(ids))).all()
    return {f"user:{r.id}": Person(r.display_name, r.hpr_number) for r in rows}


def national_id_of(conn: Connection, recipient_id: int) -> str:
    return conn.execute(select(recipients.c.national_id).where(recipients.c.id == recipient_id)).scalar_one()


def dose_record(conn: Connection, dose_id: str) -> DoseRecord:
    row = conn.execute(
        select(medication_doses, recipients.c.national_id, recipients.c.given_name, recipients.c.family_name,
               devices.c.identity.label("device_identity"), municipalities.c.name.label("municipality_name"),
               municipalities.c.number.label("municipality_number"),
               municipalities.c.organisation_number.label("municipality_organisation_number"))
        .select_from(medication_doses.join(recipients, recipients.c.id == medication_doses.c.recipient_id)
                     .join(devices, devices.c.id == medication_doses.c.device_id)
                     .join(municipalities, municipalities.c.id == medication_doses.c.municipality_id))
        .where(medication_doses.c.id == dose_id)).one()
    return DoseRecord(
        dose_id=dose_id, recipient_national_id=row.national_id, recipient_name=f"{row.given_name} {row.family_name}",
        device_identity=row.device_identity, event=row.event,
        event_display=code_systems()[vkp.MEDICATION_DISPENSE_EVENTS].get(row.event, row.event),
        medication=row.medication, dispensed_at=row.dispensed_at,
        municipality=Organisation(row.municipality_name, row.municipality_organisation_number, row.municipality_number))


def lookin_record(conn: Connection, lookin_id: int) -> LookinRecord:
    """A finished look-in as its document says it (read in the unit that records its outcome)."""
    row = conn.execute(
        select(supervision_lookins, recipients.c.national_id, recipients.c.given_name, recipients.c.family_name,
               municipalities.c.name.label("municipality_name"), municipalities.c.number.label("municipality_number"),
               municipalities.c.organisation_number.label("municipality_organisation_number"),
               centres.c.name.label("centre_name"), centres.c.organisation_number.label("centre_organisation_number"))
        .select_from(supervision_lookins.join(recipients, recipients.c.id == supervision_lookins.c.recipient_id)
                     .join(municipalities, municipalities.c.id == supervision_lookins.c.municipality_id)
                     .join(centres, centres.c.id == municipalities.c.centre_id))
        .where(supervision_lookins.c.id == lookin_id)).one()
    first, alarm_id = row, row.alarm_id
    while first.previous_id is not None:  # a look again or a phone call keeps the first look-in's reason
        first = conn.execute(select(supervision_lookins).where(supervision_lookins.c.id == first.previous_id)).one()
        alarm_id = alarm_id or first.alarm_id
    followed = []
    for later in conn.execute(select(supervision_lookins.c.reason, supervision_lookins.c.due_at)
                              .where(supervision_lookins.c.previous_id == lookin_id)):
        followed.append(f"Ny sjekk kl. {later.due_at.astimezone(OSLO):%H:%M}." if later.reason == "recheck"
                        else "Brukeren ringes i stedet for kameratilsyn.")
    if row.raised_alarm_id is not None:
        followed.append("Alarm sendt videre.")
    return LookinRecord(
        uid=row.uid, method=row.method, event_based=first.reason == "event", reason=row.reason, outcome=row.outcome,
        note=row.note, planned_local=first.planned_local, started_by=row.started_by, started_at=row.started_at,
        finished_at=row.finished_at, recipient_national_id=row.national_id,
        recipient_name=f"{row.given_name} {row.family_name}",
        municipality=Organisation(row.municipality_name, row.municipality_organisation_number, row.municipality_number),
        centre=Organisation(row.centre_name, row.centre_organisation_number),
        people=_people(conn, {row.started_by}), alarm_id=alarm_id, followed=tuple(followed))
