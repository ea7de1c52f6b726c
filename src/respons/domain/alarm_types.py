"""The alarm taxonomy: what can happen to a service recipient, and how urgent it is.

Each alarm type belongs to a category (the categories that agreements cover and that
statistics count) and has a default priority. Where the Norwegian welfare-technology hub
(VKP) defines an alert code for the type, it is recorded so that an EPJ/FHIR export can
use it. The codes given here are the ones named in the project's own documents
(4.1 fall, 4.11 fire, 4.13 button press, 4.15 door opened); the other types carry no
code until they are checked against the published VKP code system, rather than a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Category(StrEnum):
    ASSISTANCE = "assistance"
    FALL = "fall"
    SENSOR = "sensor"
    FIRE = "fire"
    MEDICATION = "medication"
    LOCATION = "location"
    TECHNICAL = "technical"
    MEASUREMENT = "measurement"
    SUPERVISION = "supervision"
    # A fault in the centre's own systems (an integration), for the host to fix: always the
    # centre's, never in an agreement, and not a service to anybody.
    SYSTEM = "system"


class Priority(IntEnum):
    """Lower number is more urgent; the queue sorts on it first."""

    CRITICAL = 1  # life or property at risk now: fall, fire
    HIGH = 2  # the recipient asks for help
    NORMAL = 3  # sensor events that need a look
    LOW = 4  # technical and planned work

    @property
    def vkp_severity(self) -> int:
        """VKP severity: 3 red, 2 yellow, 1 green."""
        return {Priority.CRITICAL: 3, Priority.HIGH: 3, Priority.NORMAL: 2, Priority.LOW: 1}[self]


@dataclass(frozen=True)
class AlarmType:
    code: str
    category: Category
    priority: Priority
    label_nb: str
    label_en: str
    vkp_code: str | None = None


_TYPES = [
    AlarmType("button_press", Category.ASSISTANCE, Priority.HIGH, "Alarmknapp trykket", "Alarm button pressed", "4.13"),
    AlarmType("voice_call", Category.ASSISTANCE, Priority.HIGH, "Taleoppringning", "Voice call from recipient"),
    AlarmType("fall", Category.FALL, Priority.CRITICAL, "Fall", "Fall detected", "4.1"),
    AlarmType("door_opened", Category.SENSOR, Priority.NORMAL, "Dør åpnet", "Door opened", "4.15"),
    AlarmType("bed_exit", Category.SENSOR, Priority.NORMAL, "Ute av seng", "Out of bed"),
    AlarmType("inactivity", Category.SENSOR, Priority.HIGH, "Manglende aktivitet", "No activity"),
    AlarmType("fire", Category.FIRE, Priority.CRITICAL, "Brann/røyk", "Fire or smoke", "4.11"),
    AlarmType("medication_missed", Category.MEDICATION, Priority.NORMAL, "Medisin ikke tatt", "Medication missed"),
    AlarmType("geofence_exit", Category.LOCATION, Priority.HIGH, "Utenfor trygg sone", "Left safe zone"),
    AlarmType("battery_low", Category.TECHNICAL, Priority.LOW, "Lavt batteri", "Battery low"),
    AlarmType("power_lost", Category.TECHNICAL, Priority.LOW, "Strømbrudd", "Mains power lost"),
    AlarmType("device_silent", Category.TECHNICAL, Priority.LOW, "Mistet kontakt", "Device silent (lost contact)"),
    AlarmType("device_fault", Category.TECHNICAL, Priority.LOW, "Teknisk feil", "Device fault"),
    AlarmType("measurement_deviation", Category.MEASUREMENT, Priority.NORMAL, "Avvik i måling", "Measurement out of range"),
    AlarmType("supervision_due", Category.SUPERVISION, Priority.NORMAL, "Digitalt tilsyn", "Digital supervision due"),
    AlarmType("epj_delivery_failing", Category.SYSTEM, Priority.LOW, "EPJ-levering feiler", "EPJ delivery failing"),
    # A call to the centre that no alarm explains (voice/service.py): it could be a person in
    # need, so it rings at the centre like an alarm, high in the queue.
    AlarmType("unknown_caller", Category.SYSTEM, Priority.HIGH, "Ukjent innringer", "Unknown caller"),
]

# Where an alarm came from, when that makes it something other than a service to a person: a
# power-failure storm's group alarm only groups its members (domain/storms.py), and a system
# alarm is the centre's own fault (epj/watch.py). Statistics, invoices and the staffing
# planner leave both out.
STORM_SOURCE = "storm"
SYSTEM_SOURCE = "system"
NOT_A_SERVICE = (STORM_SOURCE, SYSTEM_SOURCE)

ALARM_TYPES: dict[str, AlarmType] = {t.code: t for t in _TYPES}
# What a device or a sender's API may report: every type except the centre's own system
# alarms, which only Respons raises (a sender claiming one would be routed past the agreement).
REPORTABLE_TYPES: dict[str, AlarmType] = {t.code: t for t in _TYPES if t.category is not Category.SYSTEM}


class UnknownAlarmType(ValueError):
    def __init__(self, code: str):
        known = ", ".join(sorted(REPORTABLE_TYPES))
        super().__init__(f"Unknown alarm type {code!r}. Known types: {known}.")
        self.code = code


def alarm_type(code: str) -> AlarmType:
    try:
        return ALARM_TYPES[code]
    except KeyError:
        raise UnknownAlarmType(code) from None


def reported_type(value: str) -> AlarmType:
    """The type a sender names, by Respons's code or by VKP alert code (``4.1``)."""
    found = by_vkp_code(value) if value[:1].isdigit() else REPORTABLE_TYPES.get(value)
    if found is None:
        raise UnknownAlarmType(value)
    return found


def by_vkp_code(vkp_code: str) -> AlarmType:
    for t in _TYPES:
        if t.vkp_code == vkp_code:
            return t
    raise UnknownAlarmType(vkp_code)
