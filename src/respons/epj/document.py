"""The VKP Bundle of one handled alarm, built from its timeline.

Pure: the alarm, its people and its events come in as values, the Bundle goes out as a dict
(FHIR JSON). The same timeline always gives the same Bundle, byte for byte, and every
resource in it has an identity derived from the alarm's id — so a retry, a rebuild after a
restart, or the new version after an addendum updates the same journal entries in the EPJ
instead of adding a second one (the Bundle is a transaction of conditional updates on those
identifiers).

What goes in (VKP's guide): the alarm as a **DetectedIssue**, the conversation with the
person as an **Encounter** (only when the centre spoke with them: see mapping.GAPS), and the
documentation as a **Composition** whose events and sections come from the timeline, so each
line in the EPJ can be traced to the event behind it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from respons.domain.alarm_types import AlarmType
from respons.domain.lifecycle import Event, EventKind, Outcome
from respons.epj import mapping as vkp

OSLO = ZoneInfo("Europe/Oslo")


class NotDocumentable(ValueError):
    """The alarm cannot be said in VKP's terms (no code for it): it is not sent, and the
    administrator sees ``reason``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Person:
    """Someone on the timeline: an operator, a home-care worker, a technician."""

    display: str
    hpr_number: str | None = None


@dataclass(frozen=True)
class Organisation:
    name: str
    organisation_number: str | None = None
    municipality_number: str | None = None


@dataclass(frozen=True)
class DoseRecord:
    """A dose a dispenser gave (epj/doses.py), with what its document says."""

    dose_id: str
    recipient_national_id: str
    recipient_name: str
    device_identity: str
    event: str
    event_display: str
    medication: str | None
    dispensed_at: datetime
    municipality: Organisation


@dataclass(frozen=True)
class AlarmRecord:
    """Everything the document says, read by the service; nothing is looked up later."""

    alarm_id: str
    alarm_type: AlarmType
    recipient_national_id: str
    recipient_name: str
    municipality: Organisation
    centre: Organisation
    events: tuple[Event, ...]
    people: dict[str, Person] = field(default_factory=dict)  # actor ("user:7") -> person
    device_identity: str | None = None
    device_kind: str | None = None
    device_display: str | None = None


@dataclass(frozen=True)
class LookinRecord:
    """A digital supervision look-in with its outcome (digital_supervision/), as its document says it."""

    uid: str  # the look-in's own UUID: its resources are named by it
    method: str  # camera, sensor, phone
    event_based: bool  # after an alarm (its first look-in's reason)
    reason: str  # planned, recheck, fallback, event
    outcome: str
    note: str | None
    planned_local: str | None  # the agreed wall-clock time of a planned look-in
    started_by: str
    started_at: datetime
    finished_at: datetime
    recipient_national_id: str
    recipient_name: str
    municipality: Organisation
    centre: Organisation
    people: dict[str, Person] = field(default_factory=dict)
    alarm_id: str | None = None  # the alarm an event-based look-in followed
    followed: tuple[str, ...] = ()  # what came of it, in words ("Ny sjekk kl. 23:15")


def resource_id(alarm_id: str, resource: str) -> str:
    """A stable UUID per alarm and resource type (RFC 4122 version 5, named by the alarm)."""
    return str(uuid.uuid5(uuid.UUID(alarm_id), resource))


def entry_url(rid: str) -> str:
    """The Bundle-local name of a resource (what references inside the Bundle point at). Not
    the identifier's value: servers rewrite every occurrence of an entry's fullUrl to the id
    they assign, and the identifier must reach the EPJ as it was sent."""
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(rid), 'entry')}"


def fhir_time(at: datetime) -> str:
    """An instant in Oslo's offset, as VKP's examples write it (stored UTC, shown local)."""
    return at.astimezone(OSLO).isoformat(timespec="seconds")


def build(record: AlarmRecord) -> dict:
    """The transaction Bundle for the alarm as its timeline stands now."""
    events = sorted(record.events, key=lambda e: e.at)
    if not events or events[0].kind is not EventKind.RECEIVED:
        raise NotDocumentable("no_timeline", "The alarm's timeline does not start with its receipt.")
    code = vkp.alert_code(record.alarm_type.code, record.device_kind)
    if code is None:
        raise NotDocumentable(
            "no_alert_code",
            f"VKP has no alert code for {record.alarm_type.code!r} from a device of kind {record.device_kind!r}.")
    patient = _patient_reference(record)
    ids = {kind: resource_id(record.alarm_id, kind) for kind in ("DetectedIssue", "Encounter", "Composition", "Bundle")}
    resources = [_detected_issue(record, code, events, patient, ids["DetectedIssue"])]
    encounter = _encounter(record, events, patient, ids["Encounter"])
    if encounter is not None:
        resources.append(encounter)
    resources.append(_composition(record, events, patient, ids, has_encounter=encounter is not None))
    return {
        "resourceType": "Bundle",
        "identifier": _uuid_identifier(ids["Bundle"]),
        "type": "transaction",
        "timestamp": fhir_time(events[-1].at),
        "entry": [_entry(resource, ids[resource["resourceType"]]) for resource in resources],
    }


# --- the resources ---------------------------------------------------------------------------

def _detected_issue(record: AlarmRecord, code: vkp.Code, events: list[Event], patient: dict, rid: str) -> dict:
    received = events[0]
    issue = {
        "resourceType": "DetectedIssue",
        "meta": {"profile": [vkp.PROFILE["DetectedIssue"]]},
        "identifier": [_uuid_identifier(rid)],
        "status": "final",
        "code": {**code.concept(), "text": record.alarm_type.label_nb},
        "severity": vkp.SEVERITY_BY_PRIORITY[record.alarm_type.priority],
        "patient": patient,
        "identifiedDateTime": fhir_time(received.at),
        "detail": record.alarm_type.label_nb,
    }
    if record.device_identity:
        issue["author"] = {"identifier": {"value": record.device_identity},
                           "display": record.device_display or record.device_identity}
    return issue


def _encounter(record: AlarmRecord, events: list[Event], patient: dict, rid: str) -> dict | None:
    talks = [e for e in events if (e.kind is EventKind.ACTION
                                   and vkp.spoke_with_recipient(e.data.get("action"), e.data.get("result")))
             or (e.kind is EventKind.CALL and vkp.call_with_recipient(e.data.get("phase"), e.data.get("target")))]
    if not talks:
        return None
    speakers: list[str] = []
    for event in talks:
        if event.actor not in speakers:
            speakers.append(event.actor)
    end = _last_of(events, {EventKind.CLOSED, EventKind.CLEARED}) or talks[-1].at
    encounter = {
        "resourceType": "Encounter",
        "meta": {"profile": [vkp.PROFILE["Encounter"]]},
        "identifier": [_uuid_identifier(rid)],
        "status": "finished",
        "class": vkp.VIRTUAL.coding(),
        "subject": patient,
        "participant": [{"type": [vkp.TWO_WAY_VOICE.concept()], "individual": _practitioner(record, actor)}
                        for actor in speakers],
        "period": {"start": fhir_time(talks[0].at), "end": fhir_time(max(end, talks[-1].at))},
        "reasonCode": [vkp.EVENT_BASED.concept()],
    }
    return encounter


def _composition(record: AlarmRecord, events: list[Event], patient: dict, ids: dict[str, str], *,
                 has_encounter: bool) -> dict:
    rid = ids["Composition"]
    amended = any(e.kind is EventKind.NOTE and e.data.get("addendum") for e in events)
    authors = _authors(record, events)
    composition = {
        "resourceType": "Composition",
        "meta": {"profile": [vkp.PROFILE["Composition"]]},
        "identifier": _uuid_identifier(rid),
        "status": "amended" if amended else "final",
        "type": {**vkp.DOCUMENT_TYPE.concept(), "text": "Dokumentasjon fra responssenteret"},
        "category": [vkp.composition_category(record.alarm_type.category).concept()],
        "subject": patient,
        "date": fhir_time(events[-1].at),
        "author": authors,
        "title": f"{record.alarm_type.label_nb} – {fhir_time(events[0].at)[:16].replace('T', ' ')}",
        "custodian": _organisation_reference(record.municipality),
        "event": _composition_events(events),
        "section": _sections(record, events),
    }
    if has_encounter:
        composition["encounter"] = {"reference": entry_url(ids["Encounter"])}
    return composition


def _composition_events(events: list[Event]) -> list[dict]:
    out = []
    for event in events:
        code = vkp.composition_event(event.kind, event.data.get("action") or event.data.get("phase"))
        if code is not None:
            out.append({"code": [code.concept()], "period": {"start": fhir_time(event.at), "end": fhir_time(event.at)}})
    return out


def _sections(record: AlarmRecord, events: list[Event]) -> list[dict]:
    received = events[0]
    what = [f"{record.alarm_type.label_nb} mottatt {_local(received.at)}"]
    if record.device_display or record.device_identity:
        what.append(f"fra {record.device_display or record.device_identity}")
    sections = [_section(vkp.SECTION_EVENT, "Hendelse", [" ".join(what) + "."])]
    follow_up = [line for e in events if e.kind is not EventKind.NOTE and (line := _line(record, e))]
    sections.append(_section(vkp.SECTION_FOLLOW_UP, "Oppfølging", follow_up or ["Ingen oppfølging registrert."]))
    for event in events:
        if event.kind is EventKind.NOTE:
            title = "Tillegg etter lukking" if event.data.get("addendum") else "Notat"
            sections.append(_section(vkp.SECTION_COMMENT, title,
                                     [f"{_local(event.at)} {_who(record, event.actor)}: {event.data.get('text', '')}"]))
    compiled = [f"{_local(e.at)} {_line(record, e) or e.kind.value}" for e in events]
    sections.append(_section(vkp.SECTION_COMPILED, "Tidslinje", compiled))
    return sections


_LINE_BY_KIND = {
    EventKind.QUEUED: "Til responssenterets kø",
    EventKind.OFFERED: "Tilbudt hjemmetjenesten",
    EventKind.DECLINED: "Avslått av {who}",
    EventKind.ESCALATED: "Sendt videre til responssenteret",
    EventKind.HANDED_BACK: "Levert tilbake til responssenteret av {who}",
    EventKind.KIN_NOTIFIED: "Pårørende varslet på SMS",
    EventKind.KIN_ASKED: "Pårørende spurt på SMS om å dra dit",
    EventKind.MISSION_ACCEPTED: "Oppdraget tatt av {who}",
    EventKind.MISSING_RESPONSE: "Hjemmetjenesten har ikke svart i tide",
    EventKind.ANSWERED: "Besvart av {who}",
    EventKind.TAKEN_OVER: "Overtatt av {who}",
    EventKind.ANSWER_TIME_EXCEEDED: "Svartiden overskredet",
    EventKind.CLOSED: "Lukket av {who}",
}
_ACTION_TEXT = {
    "call_recipient": "Ringte brukeren",
    "call_contact": "Ringte {contact}",
    "dispatch_home_care": "Sendte hjemmetjenesten",
    "call_emergency_services": "Ringte 113/AMK",
    "notify_technician": "Varslet tekniker",
    "en_route": "Hjemmetjenesten på vei",
    "arrived": "Hjemmetjenesten fremme",
    "done": "Hjemmetjenesten ferdig",
}
_RESULT_TEXT = {"answered": "svarte", "no_answer": "svarte ikke", "busy": "opptatt"}
_LOOK_IN_METHOD = {"camera": "Kameratilsyn", "sensor": "Sensorsjekk", "phone": "Telefontilsyn"}
_LOOK_IN_OUTCOME = {"seen_well": "sett, alt vel", "seen_needs_help": "sett, trenger hjelp", "not_seen": "ikke sett",
                    "camera_unavailable": "kamera utilgjengelig"}
_CALLED = {"unit": "alarmenheten", "person": "brukeren"}
_CALL_FAILURE = {"busy": "opptatt", "no_answer": "svarte ikke", "rejected": "avvist", "unreachable": "kom ikke fram",
                 "cancelled": "avbrutt", "gateway": "tale utilgjengelig"}


_ESCALATION_REASON = {"kin_not_confirmed": "ingen pårørende bekreftet i tide",
                      "kin_unreachable": "ingen melding til pårørende kom fram",
                      "kin_declined": "pårørende kunne ikke", "no_kin": "ingen pårørende tar alarmer",
                      "kin_none": "noen pårørende sa nei, de andre ble ikke nådd"}
_MESSAGE_PHASE = {"delivered": "levert", "failed": "kom ikke fram", "expired": "ikke sendt i tide",
                  "confirmed": "bekreftet", "declined": "svarte nei", "reply": "svarte"}


def _message_line(event: Event) -> str:
    """A message's outcome (sent and retried are routine; the compiled text keeps the rest)."""
    data = event.data
    phase = _MESSAGE_PHASE.get(data.get("phase", ""))
    if phase is None:
        return ""
    what = "SMS" if data.get("channel") == "sms" else "Varsel"
    to = f" til {data['to_name']}" if data.get("to_name") else ""
    text = f": «{data['text']}»" if data.get("phase") == "reply" and data.get("text") else ""
    return f"{what}{to}: {phase}{text}"


def _call_line(record: AlarmRecord, event: Event) -> str:
    """A call through the gateway, once, when it is over: with whom, how it went, how long."""
    data = event.data
    who = _who(record, data["operator"]) if data.get("operator") else ""
    by = f" ({who})" if who else ""
    whom = _CALLED.get(data.get("target"), data.get("label") or "kontaktperson")
    seconds = int(data.get("seconds") or 0)
    length = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
    if data.get("phase") == "ended":
        return f"Samtale med {whom}, {length}{by}"
    if data.get("phase") == "lost":
        return f"Samtale med {whom} brutt etter {length}{by}"
    if data.get("phase") == "failed":
        return f"Ringte {whom} – {_CALL_FAILURE.get(data.get('failure'), 'kom ikke fram')}{by}"
    if data.get("phase") == "transferred":
        return f"Samtalen med {whom} satt over til {data.get('to_name') or 'en kollega'}"
    return ""  # ringing and answered: the line at the end says it


def _line(record: AlarmRecord, event: Event) -> str:
    who = _who(record, event.actor)
    if event.kind is EventKind.RECEIVED:
        return f"{record.alarm_type.label_nb} mottatt"
    if event.kind in (EventKind.RESOLVED, EventKind.CLEARED):
        outcome = event.data.get("outcome")
        text = vkp.OUTCOME_TEXT[Outcome(outcome)] if outcome in Outcome._value2member_map_ else str(outcome)
        if event.kind is EventKind.CLEARED:
            grouped = " med gruppealarmen" if event.data.get("reason") == "storm_group_closed" else ""
            return f"Lukket{grouped}: {text}"
        note = f": {event.data['note']}" if event.data.get("note") else ""
        return f"Utfall: {text} ({who}){note}"
    if event.kind is EventKind.ACTION:
        action = event.data.get("action", "")
        text = _ACTION_TEXT.get(action, action).format(contact=event.data.get("contact_name", "kontaktperson"))
        result = _RESULT_TEXT.get(event.data.get("result", ""))
        extra = f": {event.data['text']}" if event.data.get("text") else ""
        return f"{text}{' – ' + result if result else ''}{extra} ({who})"
    if event.kind is EventKind.CALL:
        return _call_line(record, event)
    if event.kind is EventKind.ESCALATED and event.data.get("reason") in _ESCALATION_REASON:
        return f"Sendt videre til responssenteret: {_ESCALATION_REASON[event.data['reason']]}"
    if event.kind is EventKind.KIN_CONFIRMED:
        name = event.data.get("name")
        return f"Pårørende{' ' + name if name else ''} bekreftet at de drar dit"
    if event.kind is EventKind.MESSAGE:
        return _message_line(event)
    if event.kind is EventKind.LOOK_IN:
        how = _LOOK_IN_METHOD.get(event.data.get("method", ""), "Tilsyn")
        if event.data.get("phase") == "finished":
            return f"{how} etter alarmen: {_LOOK_IN_OUTCOME.get(event.data.get('outcome', ''), '')} ({who})"
        return f"{how} etter alarmen startet ({who})"
    template = _LINE_BY_KIND.get(event.kind)
    return template.format(who=who) if template else ""


def _section(code: vkp.Code, title: str, lines: list[str]) -> dict:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return {
        "title": title,
        "code": code.concept(),
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'},
    }


# --- references --------------------------------------------------------------------------------

def _patient_reference(record: AlarmRecord) -> dict:
    number = record.recipient_national_id
    return {"identifier": {"system": vkp.national_id_system(number), "value": number}, "display": record.recipient_name}


def _practitioner(record: AlarmRecord, actor: str) -> dict:
    person = record.people.get(actor)
    if person is None:
        return {"display": actor}
    reference: dict = {"type": "Practitioner", "display": person.display}
    if person.hpr_number:
        reference["identifier"] = {"system": vkp.HPR, "value": person.hpr_number}
    return reference


def _organisation_reference(organisation: Organisation) -> dict:
    reference: dict = {"type": "Organization", "display": organisation.name}
    if organisation.organisation_number:
        reference["identifier"] = {"system": vkp.ORGANISATION_NUMBER, "value": organisation.organisation_number}
    elif organisation.municipality_number:
        reference["identifier"] = {"system": vkp.MUNICIPALITY_NUMBER, "value": organisation.municipality_number}
    return reference


def _authors(record: AlarmRecord, events: list[Event]) -> list[dict]:
    """The people who documented (in timeline order), then the centre that is responsible."""
    writers: list[str] = []
    for event in events:
        if event.actor.startswith("user:") and event.actor not in writers and event.kind in {
                EventKind.ANSWERED, EventKind.TAKEN_OVER, EventKind.NOTE, EventKind.ACTION, EventKind.RESOLVED,
                EventKind.CLOSED}:
            writers.append(event.actor)
    return [_practitioner(record, actor) for actor in writers] + [_organisation_reference(record.centre)]


def _who(record: AlarmRecord, actor: str) -> str:
    person = record.people.get(actor)
    if person is not None:
        return person.display
    if actor.startswith("contact:"):
        return "pårørende"  # a next of kin who confirmed (named in the event's own line)
    return "systemet" if not actor.startswith("user:") else actor


def _uuid_identifier(rid: str) -> dict:
    return {"system": vkp.UUID_SYSTEM, "value": f"urn:uuid:{rid}"}


def _entry(resource: dict, rid: str) -> dict:
    """The resource carries no server id: the EPJ's server assigns its own, and VKP's UUID
    identifier is the identity (servers refuse or differ on a client's id in an update-as-create)."""
    kind = resource["resourceType"]
    return {
        "fullUrl": entry_url(rid),
        "resource": resource,
        # A conditional update on VKP's UUID identifier: created the first time, replaced
        # after that — a retry or an addendum never makes a second entry.
        "request": {"method": "PUT", "url": f"{kind}?identifier={vkp.UUID_SYSTEM}|urn:uuid:{rid}"},
    }


def _last_of(events: list[Event], kinds: set[EventKind]) -> datetime | None:
    times = [e.at for e in events if e.kind in kinds]
    return times[-1] if times else None


def _local(at: datetime) -> str:
    return at.astimezone(OSLO).strftime("%d.%m.%Y %H:%M:%S")


# --- a medication dispenser's dose ------------------------------------------------------------

# The dispenser as MedicationDispense.performer.actor.identifier (VKP requires an identifier,
# names no system for devices): its serial number in Respons's own namespace.
DEVICE_SYSTEM = "urn:respons:device-identity"


def build_dose(dose: DoseRecord) -> dict:
    """The transaction Bundle of one dose: a VkpMedicationDispense (VKP's MessageDefinition
    MedicationDispense-to-EPR: the dispense always, a Composition or Flag only when somebody
    documented more, which a dispenser's report does not)."""
    rid = resource_id(dose.dose_id, "MedicationDispense")
    dispense = {
        "resourceType": "MedicationDispense",
        "meta": {"profile": [vkp.PROFILE["MedicationDispense"]]},
        "identifier": [_uuid_identifier(rid)],
        "status": "completed",
        "category": {"coding": [{"system": vkp.MEDICATION_DISPENSE_EVENTS, "code": dose.event,
                                 "display": dose.event_display}]},
        # Base R4 requires the medication; a dispenser seldom knows more than its own label.
        "medicationCodeableConcept": {"text": dose.medication or "Legemidler fra multidosedispenser"},
        "subject": {"identifier": {"system": vkp.national_id_system(dose.recipient_national_id),
                                   "value": dose.recipient_national_id}, "display": dose.recipient_name},
        "performer": [{"actor": {"identifier": {"system": DEVICE_SYSTEM, "value": dose.device_identity},
                                 "display": f"Medisindispenser {dose.device_identity}"}}],
        "whenHandedOver": fhir_time(dose.dispensed_at),
    }
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(dispense, rid)]}


# --- a digital supervision look-in ------------------------------------------------------------------

_LOOK_IN_REASON = {"planned": "ved avtalt tid", "recheck": "ny sjekk etter ikke sett",
                   "fallback": "i stedet for kamera", "event": "etter alarm"}


def build_lookin(record: LookinRecord) -> dict:
    """The transaction Bundle of one look-in: a VkpEncounter with the supervision's code
    (4.26 planned, 4.25 event-based camera look-in; 4 for a phone look-in), its reason and how
    the operator looked in, and a VkpComposition with what was agreed, the outcome, what
    followed and the operator's note. A sensor look-in has no VKP mode: not documentable."""
    codes = vkp.look_in_codes(record.method, record.event_based)
    if codes is None:
        raise NotDocumentable("sensor_look_in", vkp.GAPS["sensor_look_in"])
    code, reason, mode = codes
    ids = {kind: resource_id(record.uid, kind) for kind in ("Encounter", "Composition")}
    patient = {"identifier": {"system": vkp.national_id_system(record.recipient_national_id),
                              "value": record.recipient_national_id}, "display": record.recipient_name}
    operator = _practitioner(record, record.started_by)
    encounter = {
        "resourceType": "Encounter",
        "meta": {"profile": [vkp.PROFILE["Encounter"]]},
        "identifier": [_uuid_identifier(ids["Encounter"])],
        "status": "finished",
        "class": vkp.VIRTUAL.coding(),
        "type": [code.concept()],
        "subject": patient,
        "participant": [{"type": [mode.concept()], "individual": operator}],
        "period": {"start": fhir_time(record.started_at), "end": fhir_time(record.finished_at)},
        "reasonCode": [reason.concept()],
    }
    how = {"camera": "Kameratilsyn", "phone": "Telefontilsyn"}[record.method]
    agreed = f" (avtalt {record.planned_local[11:16]})" if record.planned_local else ""
    what = f"{how} {_LOOK_IN_REASON.get(record.reason, '')}{agreed}, {_local(record.started_at)}."
    outcome = f"{_LOOK_IN_OUTCOME.get(record.outcome, record.outcome).capitalize()} ({_who(record, record.started_by)})."
    sections = [_section(vkp.SECTION_EVENT, "Hendelse", [what]),
                _section(vkp.SECTION_FOLLOW_UP, "Oppfølging", [outcome, *record.followed])]
    if record.note:
        sections.append(_section(vkp.SECTION_COMMENT, "Notat", [record.note]))
    handled = {"code": [vkp.HANDLED.concept()],
               "period": {"start": fhir_time(record.started_at), "end": fhir_time(record.started_at)}}
    if record.alarm_id:
        # The alarm it followed, named as that alarm's own document names its DetectedIssue.
        handled["detail"] = [{"identifier": _uuid_identifier(resource_id(record.alarm_id, "DetectedIssue"))}]
    composition = {
        "resourceType": "Composition",
        "meta": {"profile": [vkp.PROFILE["Composition"]]},
        "identifier": _uuid_identifier(ids["Composition"]),
        "status": "final",
        "type": {**vkp.DOCUMENT_TYPE.concept(), "text": "Dokumentasjon fra responssenteret"},
        "category": [vkp.CATEGORY_SAFETY.concept()],
        "subject": patient,
        "encounter": {"reference": entry_url(ids["Encounter"])},
        "date": fhir_time(record.finished_at),
        "author": [operator, _organisation_reference(record.centre)],
        "title": f"{code.display} – {fhir_time(record.started_at)[:16].replace('T', ' ')}",
        "custodian": _organisation_reference(record.municipality),
        "event": [handled, {"code": [vkp.MEASURE.concept()],
                            "period": {"start": fhir_time(record.finished_at), "end": fhir_time(record.finished_at)}}],
        "section": sections,
    }
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [_entry(encounter, ids["Encounter"]), _entry(composition, ids["Composition"])]}
