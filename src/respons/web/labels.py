"""Names for the codes the system stores, in the reader's language.

The database keeps codes (``safety_alarm``, ``system:routing``, ``nb``) because programs,
agreements and exports rely on them; a person should never have to read one (issue 14: the
console showed "safety_alarm" and "system:routing"). Every page gets these lookups from
``pages.render``; the language scan (tests/integration/web/test_language_scan.py) fails when
a code reaches a page.

A code with no name here (a device kind a registry administrator typed) is shown as typed:
it is their word, not ours.
"""

from __future__ import annotations

from typing import Callable

from respons.web import i18n

DEVICE_KINDS = {
    "safety_alarm": ("Trygghetsalarm", "Safety alarm"),
    "fall_sensor": ("Fallsensor", "Fall sensor"),
    "door_sensor": ("Dørsensor", "Door sensor"),
    "smoke_detector": ("Røykvarsler", "Smoke detector"),
    "bed_sensor": ("Sengesensor", "Bed sensor"),
    "gps_tracker": ("GPS-sporer", "GPS tracker"),
    "medication_dispenser": ("Medisindispenser", "Medication dispenser"),
    "base_unit": ("Basestasjon", "Base unit"),
    "camera": ("Tilsynskamera", "Supervision camera"),
}

# Device protocols are names of standards, the same in both languages.
PROTOCOLS = {
    "http": ("HTTP", "HTTP"),
    "sia_dc09": ("SIA DC-09", "SIA DC-09"),
    "scaip": ("SCAIP", "SCAIP"),
    "mqtt": ("MQTT", "MQTT"),
}

# The recipient's language (ISO 639-1 in the register).
LANGUAGE_NAMES = {
    "nb": ("Norsk", "Norwegian"),
    "nn": ("Nynorsk", "Norwegian (Nynorsk)"),
    "se": ("Nordsamisk", "Northern Sami"),
    "en": ("Engelsk", "English"),
    "ar": ("Arabisk", "Arabic"),
    "pl": ("Polsk", "Polish"),
    "so": ("Somali", "Somali"),
    "sv": ("Svensk", "Swedish"),
    "da": ("Dansk", "Danish"),
    "de": ("Tysk", "German"),
    "uk": ("Ukrainsk", "Ukrainian"),
    "ti": ("Tigrinja", "Tigrinya"),
}

# Staff competence as the demo and most registers write it.
COMPETENCES = {
    "nurse": ("Sykepleier", "Nurse"),
    "health_worker": ("Helsefagarbeider", "Health worker"),
    "assistant": ("Assistent", "Assistant"),
    "technician": ("Tekniker", "Technician"),
}

# Who did something on a timeline, when it was not a person: the part before the colon.
SYSTEM_ACTORS = {
    "routing": ("Ruting", "Routing"),
    "timer": ("Tidsfrist", "Deadline"),
    "supervision": ("Overvåking av enheter", "Device supervision"),
    "storm": ("Strømbruddsgruppering", "Power failure grouping"),
    "deviations": ("Avvikssystemet", "Deviation system"),
}

i18n.register({f"device_kind.{code}": words for code, words in DEVICE_KINDS.items()})
i18n.register({f"protocol.{code}": words for code, words in PROTOCOLS.items()})
i18n.register({f"language_name.{code}": words for code, words in LANGUAGE_NAMES.items()})
i18n.register({f"competence.{code}": words for code, words in COMPETENCES.items()})
i18n.register({f"actor.system.{name}": words for name, words in SYSTEM_ACTORS.items()})
i18n.register({
    "actor.system": ("Systemet", "The system"),
    "actor.device": ("Enhet {identity}", "Device {identity}"),
    "actor.intake": ("Alarmmottak fra leverandør", "Vendor intake"),
    "actor.unknown_user": ("Ukjent bruker", "Unknown user"),
})


def _lookup(t: Callable[..., str], prefix: str, table: dict, code: str | None) -> str:
    if not code:
        return ""
    return t(f"{prefix}.{code}") if code in table else code


def device_kind(t: Callable[..., str], code: str | None) -> str:
    return _lookup(t, "device_kind", DEVICE_KINDS, code)


def protocol(t: Callable[..., str], code: str | None) -> str:
    return _lookup(t, "protocol", PROTOCOLS, code)


def language_name(t: Callable[..., str], code: str | None) -> str:
    return _lookup(t, "language_name", LANGUAGE_NAMES, code)


def competence(t: Callable[..., str], code: str | None) -> str:
    return _lookup(t, "competence", COMPETENCES, code)


def actor(t: Callable[..., str], who: str | None, names: dict[str, str] | None = None) -> str:
    """A timeline's actor as a reader names it: a person by name (``names``, from
    ``queries.actor_names``), a device by its identity, the system by what it did."""
    if not who:
        return ""
    if names and who in names:
        return names[who]
    kind, _, rest = who.partition(":")
    if kind == "user":
        return t("actor.unknown_user")
    if kind == "device":
        return t("actor.device", identity=rest)
    if kind == "system":
        return t(f"actor.system.{rest}") if rest in SYSTEM_ACTORS else t("actor.system")
    if kind == "http":
        return t("actor.intake")
    return who


def helpers(t: Callable[..., str]) -> dict[str, Callable]:
    """The lookups bound to one language, for templates."""
    return {
        "device_kind": lambda code: device_kind(t, code),
        "protocol_name": lambda code: protocol(t, code),
        "language_name": lambda code: language_name(t, code),
        "competence_name": lambda code: competence(t, code),
        "actor_name": lambda who, names=None: actor(t, who, names),
    }
