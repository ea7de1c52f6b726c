"""An alarm's refusals (``IllegalTransition``) in the person's language.

The domain refuses in English for the API and names the refusal (``reason``) or, for a
step the alarm's state does not allow, the step (``kind``). Screens say it with these words;
a test (tests/unit/web/test_refusals.py) holds every reason and every kind to having both
languages, so no English sentence reaches the bokmål screen.
"""

from __future__ import annotations

from typing import Callable

from respons.domain.lifecycle import EventKind, IllegalTransition
from respons.web import i18n

# A refused step: why it cannot be taken now (mirrors the domain's hints).
_KIND = {
    EventKind.QUEUED: ("bare en nylig mottatt alarm kan settes i kø", "only a newly received alarm can be queued"),
    EventKind.OFFERED: ("bare en ny eller fortsatt tilbudt alarm kan tilbys", "only a new or still offered alarm can be offered"),
    EventKind.DECLINED: ("bare en tilbudt alarm kan avslås", "only an offered alarm can be declined"),
    EventKind.ESCALATED: ("bare en alarm ingen har tatt, eskaleres", "only an alarm nobody has accepted escalates"),
    EventKind.HANDED_BACK: ("bare en alarm noen har tatt, kan gis tilbake", "only an alarm someone has taken can be handed back"),
    EventKind.KIN_NOTIFIED: ("pårørende varsles når alarmen kommer inn", "next of kin are notified when the alarm arrives"),
    EventKind.KIN_ASKED: ("pårørende spørres når alarmen når deres trinn", "next of kin are asked when the alarm reaches their step"),
    EventKind.KIN_CONFIRMED: ("bare en alarm som venter på pårørende kan bekreftes av dem",
                              "only an alarm waiting for next of kin can be confirmed by them"),
    EventKind.MISSION_ACCEPTED: ("bare et oppdrag på en åpen alarm kan tas", "only a dispatched mission of an open alarm can be accepted"),
    EventKind.MISSING_RESPONSE: ("manglende respons gjelder bare oppdrag på åpne alarmer",
                                 "missing response only concerns a mission of an open alarm"),
    EventKind.ANSWERED: ("bare en ventende eller tilbudt alarm kan besvares", "only a waiting or offered alarm can be answered"),
    EventKind.TAKEN_OVER: ("bare en alarm noen har tatt, kan overtas", "only an alarm someone holds can be taken over"),
    EventKind.NOTE: ("notatet kunne ikke lagres", "the note could not be saved"),
    EventKind.ACTION: ("besvar alarmen før du handler; en lukket alarm kan ikke endres",
                       "answer the alarm before acting on it; a closed alarm cannot be changed"),
    EventKind.ANSWER_TIME_EXCEEDED: ("svarfristen gjelder bare mens alarmen venter", "the answer deadline only applies while the alarm waits"),
    EventKind.RESOLVED: ("besvar alarmen før du registrerer utfall", "answer the alarm before recording an outcome"),
    EventKind.CLOSED: ("registrer utfall før du lukker", "record an outcome before closing"),
    EventKind.CLEARED: ("alarmen er allerede lukket", "the alarm is already closed"),
    EventKind.CALL: ("samtalen kan ikke registreres", "the call cannot be recorded"),
    EventKind.LOOK_IN: ("innsynet kan ikke registreres", "the look-in cannot be recorded"),
    EventKind.MESSAGE: ("meldingen kan ikke registreres", "the message cannot be recorded"),
    EventKind.RECEIVED: ("alarmen er allerede mottatt", "the alarm has already been received"),
}

# A refusal the domain or an engine named.
_REASON = {
    "held_by_colleague": ("{holder} har alarmen. Trykk Overta for å ta den over.",
                          "{holder} holds the alarm. Press Take over to take it."),
    "no_events": ("alarmen har ingen hendelser", "the alarm has no events"),
    "already_received": ("alarmen er allerede mottatt", "the alarm has already been received"),
    "already_holder": ("du har allerede alarmen", "you already hold the alarm"),
    "note_empty": ("notatet er tomt", "the note is empty"),
    "note_after_close": ("alarmen er lukket; et notat nå lagres som tillegg", "the alarm is closed; a note now is kept as an addendum"),
    "unknown_outcome": ("velg et utfall fra listen", "choose an outcome from the list"),
    "cleared_is_system": ("dette utfallet settes av systemet; velg hva som ble gjort",
                          "this outcome is set by the system; choose what was done"),
    "unknown_action": ("ukjent handling", "unknown action"),
    "call_needs_result": ("velg resultatet av samtalen", "choose the result of the call"),
    "call_needs_contact": ("velg hvem som ble ringt", "choose who was called"),
    "no_open_mission": ("det er ikke noe åpent oppdrag på denne alarmen", "there is no open mission for this alarm"),
    "mission_taken": ("oppdraget er allerede tatt", "the mission has already been taken"),
    "mission_not_yours": ("bare den som tok oppdraget, kan melde status", "only the one who took the mission can report on it"),
    "no_longer_offered": ("alarmen er ikke lenger tilbudt deg", "the alarm is no longer offered to you"),
    "hand_back_not_yours": ("bare den som har alarmen, kan gi den tilbake", "only the one who holds the alarm can hand it back"),
    "no_zone": ("brukeren har ingen sone å sende hjemmetjenesten til", "the recipient has no zone to send home care to"),
    "contact_not_recipients": ("kontakten hører ikke til denne brukeren", "the contact is not one of this recipient's contacts"),
}

REASONS = frozenset(_REASON)

i18n.register({f"refusal.kind.{kind.value}": words for kind, words in _KIND.items()})
i18n.register({f"refusal.{reason}": words for reason, words in _REASON.items()})
i18n.register({"refusal.not_now": ("Ikke mulig nå: {reason}.", "Not possible now: {reason}.")})


def refusal_text(t: Callable[..., str], exc: IllegalTransition, *, holder_name: str | None = None) -> str:
    """The refusal as a sentence in the language of ``t`` (an i18n translator)."""
    if exc.reason == "held_by_colleague":
        return t("refusal.held_by_colleague", holder=holder_name or getattr(exc, "holder", ""))
    reason = t(f"refusal.{exc.reason}") if exc.reason else t(f"refusal.kind.{exc.kind.value}")
    return t("refusal.not_now", reason=reason)
