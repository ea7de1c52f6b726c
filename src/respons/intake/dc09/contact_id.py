"""Contact ID (ADM-CID) and SIA event codes, and what they mean for Respons.

Contact ID data is ``#acct|QEEE GG ZZZ``: qualifier (1 new event or opening, 3 restore or
closing, 6 previous event still present), a three-digit event code, group/partition and
zone/user. SIA-DCS data carries two-letter event codes (``MA`` medical alarm …), optionally
after ``Nri<area>/``.

The mapping onto the alarm taxonomy covers the codes the issue names and their siblings;
a code not in it is answered (DUH is for frames we cannot read, not for codes we do not use)
and kept in quarantine for an administrator, because it could be a real alarm.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class Meaning(StrEnum):
    ALARM = "alarm"
    RESTORE = "restore"  # closes or annotates the open alarm of the same kind
    HEARTBEAT = "heartbeat"  # periodic test: proof of life, no alarm


# Contact ID event code -> alarm type (respons.domain.alarm_types), or None for a heartbeat.
CONTACT_ID: dict[str, str | None] = {
    "100": "button_press",  # medical
    "101": "button_press",  # personal emergency
    "102": "inactivity",  # fail to report in
    "110": "fire",
    "111": "fire",  # smoke
    "301": "power_lost",  # AC loss
    "302": "battery_low",  # low system battery
    "309": "battery_low",  # battery test failure
    "311": "battery_low",  # battery missing/dead
    "350": "device_fault",  # communication trouble
    "354": "device_fault",  # failure to communicate event
    "384": "battery_low",  # RF low battery (peripheral)
    "602": None,  # periodic test report
    "603": None,  # periodic RF transmission
}

# SIA-DCS two-letter code -> (alarm type or None, meaning)
SIA_CODES: dict[str, tuple[str | None, Meaning]] = {
    "MA": ("button_press", Meaning.ALARM),  # medical alarm
    "MH": ("button_press", Meaning.RESTORE),
    "QA": ("button_press", Meaning.ALARM),  # emergency alarm
    "QH": ("button_press", Meaning.RESTORE),
    "FA": ("fire", Meaning.ALARM),
    "FH": ("fire", Meaning.RESTORE),
    "AT": ("power_lost", Meaning.ALARM),  # AC trouble
    "AR": ("power_lost", Meaning.RESTORE),
    "YT": ("battery_low", Meaning.ALARM),  # system battery trouble
    "YR": ("battery_low", Meaning.RESTORE),
    "XT": ("battery_low", Meaning.ALARM),  # transmitter battery trouble
    "XR": ("battery_low", Meaning.RESTORE),
    "YC": ("device_fault", Meaning.ALARM),  # communications fail
    "YK": ("device_fault", Meaning.RESTORE),
    "RP": (None, Meaning.HEARTBEAT),  # automatic test
    "TX": (None, Meaning.HEARTBEAT),  # test report
}


class Event(NamedTuple):  # immutable, and read from every alarm frame (as frames.Frame)
    code: str  # "101" (Contact ID) or "MA" (SIA)
    alarm_type: str | None
    meaning: Meaning
    zone: str | None = None
    group: str | None = None


class Unreadable(ValueError):
    pass


_CID = re.compile(r"^(?:#(?P<account>[0-9A-Fa-f]{3,16})\|)?(?P<q>[136])(?P<code>\d{3}) (?P<group>\d{2}) (?P<zone>\d{3})$")
_SIA = re.compile(r"^(?:#(?P<account>[0-9A-Fa-f]{3,16})\|)?N?(?:(?:ri|id|ti)[0-9:]*/)*(?P<code>[A-Z]{2})(?P<zone>[0-9A-Za-z]*)")


def contact_id(data: str) -> Event:
    """``#1234|1101 01 015`` → Event; ``Unreadable`` if it is not Contact ID."""
    m = _CID.match(data)
    if m is None:
        raise Unreadable(f"not Contact ID data (#acct|QEEE GG ZZZ): {data[:40]!r}")
    code = m["code"]
    if code not in CONTACT_ID:
        return Event(code, None, Meaning.ALARM, m["zone"], m["group"])  # unknown: kept for an administrator
    alarm_type = CONTACT_ID[code]
    if alarm_type is None:
        meaning = Meaning.HEARTBEAT
    else:
        meaning = Meaning.RESTORE if m["q"] == "3" else Meaning.ALARM
    return Event(code, alarm_type, meaning, m["zone"], m["group"])


def sia_dcs(data: str) -> Event:
    m = _SIA.match(data)
    if m is None:
        raise Unreadable(f"not SIA-DCS data: {data[:40]!r}")
    code = m["code"]
    alarm_type, meaning = SIA_CODES.get(code, (None, Meaning.ALARM))
    return Event(code, alarm_type, meaning, m["zone"] or None)
