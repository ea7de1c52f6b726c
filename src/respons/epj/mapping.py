"""How Respons's alarms, events and people are said in VKP's codes (FHIR R4, version 0.9.0).

Pure: no database, no clock. Every code here is checked against the vendored code systems
(``vkp_r4/CodeSystem``) by the tests, so a typo or a code VKP does not define fails there,
not in a municipality's EPJ. Where VKP has no code for something Respons does, the answer is
``None`` and the reason is in ``GAPS`` (and in docs/epj.md) — never a guessed code.
"""

from __future__ import annotations

from dataclasses import dataclass

from respons.domain.alarm_types import Category, Priority
from respons.domain.lifecycle import Action, CallResult, EventKind, Outcome

# --- systems -------------------------------------------------------------------------------

VKP = "http://ehelse.no/fhir"
ALERT_CODES = f"{VKP}/CodeSystem/vkp-alert-code-v090"
COMPOSITION_CATEGORIES = f"{VKP}/CodeSystem/vkp-composition-category-v090"
COMPOSITION_EVENTS = f"{VKP}/CodeSystem/vkp-composition-event-v090"
COMPOSITION_SECTIONS = f"{VKP}/CodeSystem/vkp-composition-section-v090"
ENCOUNTER_MODES = f"{VKP}/CodeSystem/vkp-encounter-mode-v090"
ENCOUNTER_REASONS = f"{VKP}/CodeSystem/vkp-encounter-reason-v090"
MEDICATION_DISPENSE_EVENTS = f"{VKP}/CodeSystem/vkp-medicationdispense-events-v090"

PROFILE = {
    "DetectedIssue": f"{VKP}/StructureDefinition/vkp-DetectedIssue-v090",
    "Encounter": f"{VKP}/StructureDefinition/vkp-Encounter-v090",
    "Composition": f"{VKP}/StructureDefinition/vkp-Composition-v090",
    "MedicationDispense": f"{VKP}/StructureDefinition/vkp-MedicationDispense-v090",
    "CarePlan": f"{VKP}/StructureDefinition/vkp-CarePlan-v090",
    "Patient": f"{VKP}/StructureDefinition/vkp-Patient-v090",
}

# Norwegian identifier systems (Volven OIDs, as the VKP profiles name them).
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"  # fødselsnummer
DNR = "urn:oid:2.16.578.1.12.4.1.4.2"  # D-nummer
HPR = "urn:oid:2.16.578.1.12.4.1.4.4"  # Helsepersonellregisteret
ORGANISATION_NUMBER = "urn:oid:2.16.578.1.12.4.1.4.101"  # Enhetsregisteret
MUNICIPALITY_NUMBER = "urn:oid:2.16.578.1.12.4.1.1.3402"  # kommunenummer (Volven 3402)
UUID_SYSTEM = "urn:ietf:rfc:3986"  # VKP identifies its resources by UUID in this system

# Base FHIR R4 systems used beside VKP's.
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict:
        return {"system": self.system, "code": self.code, "display": self.display}

    def concept(self) -> dict:
        return {"coding": [self.coding()]}


def _alert(code: str, display: str) -> Code:
    return Code(ALERT_CODES, code, display)


# --- the alarm: DetectedIssue.code ---------------------------------------------------------

# One VKP alert code per alarm type, where VKP has one. VKP's codes are per technology: 4.x
# are digital supervision and sensors, 1.x medication dispensers, 3 the safety alarm itself.
ALERT_BY_TYPE: dict[str, Code] = {
    "button_press": _alert("4.13", "Knappetrykk"),
    "fall": _alert("4.1", "Fall"),
    "door_opened": _alert("4.15", "Dør åpnet"),
    "bed_exit": _alert("4.2", "Forlatt sengen"),
    "inactivity": _alert("4.9", "Inaktivitet"),
    "fire": _alert("4.11", "Brannalarm"),
    "medication_missed": _alert("1.1", "Ikke utlevert"),
    "geofence_exit": _alert("2", "Lokaliseringsteknologi"),
    # A call from the safety alarm's speaker: VKP has the technology (3), no finer code.
    "voice_call": _alert("3", "Trygghetsalarm"),
    "measurement_deviation": _alert("5", "Digital hjemmeoppfølging"),
    "supervision_due": _alert("4", "Digitalt tilsyn"),
}

# Technical alarms have codes only for medication dispensers (1.17–1.20, 1.5). From any other
# device the technology's own code is the most VKP can say.
DISPENSER_TECHNICAL: dict[str, Code] = {
    "battery_low": _alert("1.17", "Batteri lavt"),
    "power_lost": _alert("1.19", "Ikke tilkoblet strøm"),
    "device_silent": _alert("1.20", "Ingen kontakt"),
    "device_fault": _alert("1.5", "Teknisk feil"),
}
TECHNOLOGY_BY_DEVICE_KIND: dict[str, Code] = {
    "safety_alarm": _alert("3", "Trygghetsalarm"),
    "base_unit": _alert("3", "Trygghetsalarm"),
    "gps_tracker": _alert("2", "Lokaliseringsteknologi"),
    "medication_dispenser": _alert("1", "Elektronisk medisineringsstøtte"),
    # Sensors in the home are digital supervision in VKP's terms.
    "fall_sensor": _alert("4", "Digitalt tilsyn"),
    "door_sensor": _alert("4", "Digitalt tilsyn"),
    "smoke_detector": _alert("4", "Digitalt tilsyn"),
    "bed_sensor": _alert("4", "Digitalt tilsyn"),
}
DISPENSER_KINDS = frozenset({"medication_dispenser"})

GAPS: dict[str, str] = {
    "sensor_look_in": "A look at the home's sensors in a supervision round has no participant mode in VKP "
                      "(vkp-encounter-mode: picture, two-way voice, listening in), which the Encounter requires; "
                      "such look-ins get no document (the round and the statistics keep them).",
    "severity": "VKP's severity level (vkp-severity-level) is an extension whose context is Flag, which the R4 "
                "set has no profile for, and its coding system is fixed to the value set's URL; DetectedIssue "
                "carries the base R4 severity (high, moderate, low) instead.",
    "technical": "Battery, power, lost contact and device faults have VKP codes only for medication dispensers "
                 "(1.5, 1.17–1.20); from other devices the code is the device's technology (3, 2, 4); a "
                 "device kind VKP has no technology for gets no code, and the alarm is not documented in the "
                 "EPJ (the administrator sees why).",
    "physical_visit": "vkp-Encounter's participant modes are all remote (camera, two-way voice, listening in); a "
                      "home-care visit is therefore documented in the Composition (events 4 and 5), not as an "
                      "Encounter participant.",
    "practitioner_identity": "VKP identifies practitioners by national identity number; Respons does not hold "
                             "its staff's numbers and sends the HPR number where the registry has it, else the "
                             "name only.",
    "routing": "Offers to home care, declines, escalations, hand-backs and the states of messages (SMS, push) have "
               "no composition event code; they are in the compiled text (section 2) with their times.",
    "digital_encounter_type": "vkp-digital-Encounter binds participant.type to vkp-encounter-type-v090, which "
                              "the published set does not contain; Respons uses vkp-Encounter.",
}


def alert_code(alarm_type: str, device_kind: str | None) -> Code | None:
    """The VKP alert code for an alarm of ``alarm_type`` from a device of ``device_kind``."""
    if alarm_type in DISPENSER_TECHNICAL:
        if device_kind in DISPENSER_KINDS:
            return DISPENSER_TECHNICAL[alarm_type]
        # An alarm raised without a device (a silent device is raised by Respons itself, but
        # always for a device) has no technology to name: no code.
        return TECHNOLOGY_BY_DEVICE_KIND.get(device_kind) if device_kind else None
    return ALERT_BY_TYPE.get(alarm_type)


# --- severity: DetectedIssue.severity (base R4: high | moderate | low) ---------------------

SEVERITY_BY_PRIORITY: dict[Priority, str] = {
    Priority.CRITICAL: "high",
    Priority.HIGH: "high",
    Priority.NORMAL: "moderate",
    Priority.LOW: "low",
}


# --- the document: Composition -------------------------------------------------------------

CATEGORY_SAFETY = Code(COMPOSITION_CATEGORIES, "1", "Trygghet og mestring")
CATEGORY_REMOTE_FOLLOW_UP = Code(COMPOSITION_CATEGORIES, "2", "Digital hjemmeoppfølging")


def composition_category(category: Category) -> Code:
    return CATEGORY_REMOTE_FOLLOW_UP if category is Category.MEASUREMENT else CATEGORY_SAFETY


def _event(code: str, display: str) -> Code:
    return Code(COMPOSITION_EVENTS, code, display)


REPORTED = _event("0", "hendelse meldt")
HANDLED = _event("1", "hendelse behandles")
ACKNOWLEDGED = _event("3", "hendelse kvittert")
CALL_OUT = _event("4", "hendelse til utrykning")
CALL_OUT_DONE = _event("5", "hendelse ok utrykning")
MEASURE = _event("7", "tiltak")
CONVERSATION = _event("8", "samtale")
OTHER_ACTOR = _event("10", "annen aktør")

EVENT_BY_KIND: dict[EventKind, Code] = {
    EventKind.RECEIVED: REPORTED,
    EventKind.ANSWERED: HANDLED,
    EventKind.TAKEN_OVER: HANDLED,
    EventKind.KIN_NOTIFIED: OTHER_ACTOR,
    EventKind.KIN_ASKED: OTHER_ACTOR,
    EventKind.KIN_CONFIRMED: OTHER_ACTOR,
    EventKind.MISSION_ACCEPTED: CALL_OUT,
    EventKind.RESOLVED: MEASURE,
    EventKind.CLOSED: ACKNOWLEDGED,
    EventKind.CLEARED: ACKNOWLEDGED,
}
EVENT_BY_ACTION: dict[Action, Code] = {
    Action.CALL_RECIPIENT: CONVERSATION,
    Action.CALL_CONTACT: CONVERSATION,
    Action.DISPATCH_HOME_CARE: CALL_OUT,
    Action.CALL_EMERGENCY_SERVICES: OTHER_ACTOR,
    Action.NOTIFY_TECHNICIAN: OTHER_ACTOR,
    Action.EN_ROUTE: CALL_OUT,
    Action.ARRIVED: CALL_OUT_DONE,
    Action.DONE: CALL_OUT_DONE,
}


def composition_event(kind: EventKind, detail: str | None = None) -> Code | None:
    """The composition event code of one timeline event (``None``: routing, not care).

    ``detail``: an action's ``action``, a call's ``phase``. A call through the gateway is a
    conversation once answered (its ringing and ending are the same conversation)."""
    if kind is EventKind.ACTION:
        return EVENT_BY_ACTION.get(Action(detail)) if detail in Action._value2member_map_ else None
    if kind is EventKind.CALL:
        return CONVERSATION if detail == "answered" else None
    if kind is EventKind.LOOK_IN:
        # A look-in after the alarm is a measure taken, counted once its outcome is recorded
        # (the look-in's own document is digital_supervision's).
        return MEASURE if detail == "finished" else None
    return EVENT_BY_KIND.get(kind)


SECTION_EVENT = Code(COMPOSITION_SECTIONS, "1.2", "beskrivelse av hendelse")
SECTION_FOLLOW_UP = Code(COMPOSITION_SECTIONS, "1.1", "beskrivelse av oppfølging")
SECTION_COMMENT = Code(COMPOSITION_SECTIONS, "1.3", "kommentar")
SECTION_COMPILED = Code(COMPOSITION_SECTIONS, "2", "sammenstilt tekst")

# Composition.type has a preferred (not required) binding to LOINC document codes.
DOCUMENT_TYPE = Code(LOINC, "34109-9", "Note")


# --- the conversation: Encounter ------------------------------------------------------------

TWO_WAY_VOICE = Code(ENCOUNTER_MODES, "2", "toveis tale")
PICTURE_SUPERVISION = Code(ENCOUNTER_MODES, "1", "bildetilsyn")
EVENT_BASED = Code(ENCOUNTER_REASONS, "2", "hendelsesbasert tilsyn")
PLANNED = Code(ENCOUNTER_REASONS, "1", "planlagt tilsyn")
VIRTUAL = Code(ACT_CODE, "VR", "virtual")


# --- a digital supervision look-in (digital_supervision/, docs/supervision.md) --------------------

# The supervision's own code (Encounter.type; VKP binds no value set there): camera look-ins
# have their own codes, a phone look-in only the technology's.
PLANNED_CAMERA = _alert("4.26", "Planlagt kameratilsyn")
EVENT_CAMERA = _alert("4.25", "Hendelsesbasert kameratilsyn")
DIGITAL_SUPERVISION = _alert("4", "Digitalt tilsyn")
# How the operator looked in (Encounter.participant.type, required binding vkp-encounter-mode).
LOOK_IN_MODE = {"camera": PICTURE_SUPERVISION, "phone": TWO_WAY_VOICE}


def look_in_codes(method: str, event_based: bool) -> tuple[Code, Code, Code] | None:
    """(the supervision's code, the reason, the mode) of a look-in, or None: VKP has no mode
    for a look at the home's sensors (``GAPS["sensor_look_in"]``)."""
    mode = LOOK_IN_MODE.get(method)
    if mode is None:
        return None
    code = (EVENT_CAMERA if event_based else PLANNED_CAMERA) if method == "camera" else DIGITAL_SUPERVISION
    return code, EVENT_BASED if event_based else PLANNED, mode


def spoke_with_recipient(action: str | None, result: str | None) -> bool:
    """Whether a recorded action is a conversation with the person: what makes an Encounter."""
    return action == Action.CALL_RECIPIENT.value and result == CallResult.ANSWERED.value


def call_with_recipient(phase: str | None, target: str | None) -> bool:
    """Whether a call through the gateway was a conversation with the person (through the
    alarm unit's loudspeaker or their own phone)."""
    return phase == "answered" and target in ("unit", "person")


# --- outcomes, in words for the compiled text ----------------------------------------------

OUTCOME_TEXT: dict[Outcome, str] = {
    Outcome.RESOLVED_AT_CENTRE: "Løst av responssenteret",
    Outcome.HOME_CARE_DISPATCHED: "Hjemmetjenesten sendt",
    Outcome.EMERGENCY_SERVICES: "Overlatt til AMK/113",
    Outcome.NEXT_OF_KIN: "Overlatt til pårørende",
    Outcome.TECHNICIAN: "Overlatt til tekniker",
    Outcome.FALSE_ALARM: "Falsk alarm",
    Outcome.CLEARED: "Årsaken opphørte av seg selv",
}


def national_id_system(number: str) -> str:
    """Fødselsnummer or D-nummer: a D-number's first digit is the day's tens plus 4."""
    return DNR if number[:1] in {"4", "5", "6", "7"} else FNR

