"""Is a recipient registered well enough for the centre to respond? (pure, no database)

The agreement makes correct registration the cooperating municipality's duty: "Sørge for at
brukerne er korrekt registrert med relevante og oppdaterte opplysninger i teknisk plattform"
(seed 000, section 2). The registry engine already refuses a recipient without a valid
national identity number, name or address. What it cannot refuse, because it is added
later or separately, is what the operator and the home-care worker need when an alarm
comes in (DOMAIN.md, "The work"): a device that can raise an alarm, a zone to route it
to, a way in, where the home is on the map, and people to call.

The gaps, most serious first:

- ``no_active_device``: no active device is assigned, so the person cannot raise an alarm.
- ``no_zone``: no zone, so alarms cannot be routed to the home-care workers of the zone
  (service models 2 and 3 route by zone).
- ``no_key_box``: nothing about the key box, so whoever is dispatched cannot get in.
- ``no_contact``: no next of kin or other contact person to call.
- ``no_reachable_contact``: contacts are registered, but none has a phone number.
- ``no_coordinates``: no latitude/longitude, so the home is not on the map and cannot be
  used for position-based routing.
- ``no_phone``: no phone number for the person, so the operator cannot call back when the
  alarm's voice connection fails.

An inactive recipient has no gaps: the centre no longer serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Gap(StrEnum):
    NO_ACTIVE_DEVICE = "no_active_device"
    NO_ZONE = "no_zone"
    NO_KEY_BOX = "no_key_box"
    NO_CONTACT = "no_contact"
    NO_REACHABLE_CONTACT = "no_reachable_contact"
    NO_COORDINATES = "no_coordinates"
    NO_PHONE = "no_phone"


@dataclass(frozen=True)
class RecipientFacts:
    """Plain facts about one recipient's registration."""

    active: bool = True
    has_phone: bool = False
    contacts: int = 0
    contacts_with_phone: int = 0
    has_key_box: bool = False
    active_devices: int = 0
    has_zone: bool = False
    has_coordinates: bool = False


def gaps(facts: RecipientFacts) -> list[Gap]:
    """What the centre lacks to respond to this recipient, most serious first."""
    if not facts.active:
        return []
    found: list[Gap] = []
    if facts.active_devices < 1:
        found.append(Gap.NO_ACTIVE_DEVICE)
    if not facts.has_zone:
        found.append(Gap.NO_ZONE)
    if not facts.has_key_box:
        found.append(Gap.NO_KEY_BOX)
    if facts.contacts < 1:
        found.append(Gap.NO_CONTACT)
    elif facts.contacts_with_phone < 1:
        found.append(Gap.NO_REACHABLE_CONTACT)
    if not facts.has_coordinates:
        found.append(Gap.NO_COORDINATES)
    if not facts.has_phone:
        found.append(Gap.NO_PHONE)
    return found


def is_blank(text: str | None) -> bool:
    """A text field that says nothing (None, empty or only spaces)."""
    return text is None or not text.strip()
