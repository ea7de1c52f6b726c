"""SCAIP device types (``dty``), status codes (``stc``) and message types (``mty``), and
what they mean for Respons.

The code lists are the enumerations published in caruhome/scaip-gateway
(``scaip_gateway/spec.py``: ``DeviceType``, ``StatusCode``), transcribed there from the
SCAIP standard's tables; docs/scaip.md lists them with their source. Codes are four digits,
compared zero-padded (a device may send ``10`` for ``0010``).

How a message is read:

1. ``mty=PI`` (ping) is a heartbeat, whatever else it says; so are the status codes for a
   test transmission (0102, 0103) and "normal state" (0070).
2. ``mty=RE`` (reset) and the restore status codes (restoral, cancel, reset, battery OK,
   power restored, link re-established, …) are restores: a note on the device's open alarm.
3. A status code that names the problem (battery low, power failure, malfunction, pill not
   taken, door open too long, …) gives the alarm type by itself.
4. A generic alarm status (none sent, activated, active, automatic alarm, manual alarm,
   alert, assistance, time out) takes the alarm type from the device type: a fall detector's
   alarm is a fall, a smoke detector's a fire. A *manual* alarm (0010) from a device type
   we do not map is still a person asking for help: ``button_press``.
5. Anything else has no meaning in Respons yet: kept in quarantine for an administrator (it
   could be a real alarm) and answered "wrong data content" so the device knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from respons.intake.scaip.messages import MessageType, Mrq


class Meaning(StrEnum):
    ALARM = "alarm"
    RESTORE = "restore"  # annotates the open alarm of the same kind
    HEARTBEAT = "heartbeat"  # proof of life, no alarm


# dty -> alarm type, for the generic alarm statuses (rule 4).
DEVICE_TYPES: dict[str, str] = {
    "0002": "button_press",  # local unit and controller (the base unit's own button)
    "0003": "button_press",  # personal trigger (pendant, wrist button)
    "0004": "button_press",  # fixed trigger (pull cord, wall button)
    "0006": "button_press",  # personal attack trigger
    "0007": "button_press",  # panic button
    "0027": "button_press",  # bogus caller switch: the recipient asks for help at the door
    "0045": "button_press",  # controller
    "0048": "button_press",  # local unit
    "0051": "button_press",  # tracking device (mobile alarm with a button)
    "0005": "fall",  # fall detector
    "0030": "fall",  # automatic man-down detector
    "0023": "fire",  # smoke detector
    "0025": "fire",  # heat detector
    "0047": "fire",  # fire alarm system
    "0014": "door_opened",  # door sensor
    "0015": "door_opened",  # wandering sensor (leaving the home)
    "0012": "bed_exit",  # bed monitor
    "0013": "bed_exit",  # mat sensor
    "0044": "bed_exit",  # chair monitor (out of the chair)
    "0010": "inactivity",  # activity detector: its alarm is "no activity"
    "0011": "medication_missed",  # pill dispenser
    "0029": "geofence_exit",  # boundary detector
    "0041": "power_lost",  # power supply
    "0031": "device_fault",  # system monitor
    "0032": "device_fault",  # communication link monitor
    "0038": "device_fault",  # tamper
}
# Not mapped on purpose (no alarm type in respons.domain.alarm_types yet; quarantined):
# 0016 enuresis, 0017 epilepsy, 0019 heart rate, 0020 environmental, 0021 gas, 0026 carbon
# monoxide, 0028 intruder, 0033 flood, 0034 bath sensor, … — see docs/scaip.md.

# Generic alarm statuses (rule 4); None: the message carried no stc.
GENERIC_ALARM: frozenset[str | None] = frozenset({
    None,
    "0006",  # activated
    "0007",  # active
    "0009",  # automatic alarm
    "0010",  # manual alarm
    "0011",  # alert
    "0104",  # time out (activity detector: no activity; pill dispenser: not taken in time)
    "0110",  # assistance
})
MANUAL_ALARM = "0010"

# stc -> alarm type whatever the device type (rule 3).
STATUS_ALARMS: dict[str, str] = {
    "0014": "battery_low",  # battery failure
    "0016": "battery_low",  # battery low
    "0085": "power_lost",  # power failure
    "0023": "device_fault",  # IP connection failure
    "0024": "device_fault",  # mobile network connection failure
    "0025": "device_fault",  # POTS connection failure
    "0026": "device_fault",  # primary communication link failure
    "0027": "device_fault",  # redundant communication link failure
    "0042": "device_fault",  # failure
    "0052": "device_fault",  # jammed
    "0065": "device_fault",  # maintenance needed
    "0066": "device_fault",  # urgent maintenance needed
    "0067": "device_fault",  # malfunction
    "0068": "device_fault",  # memory full
    "0095": "device_fault",  # RF interference
    "0105": "device_fault",  # trouble
    "0122": "device_fault",  # radio interference
    "0123": "device_fault",  # radio test transmission missing
    "0125": "device_fault",  # tamper alarm
    "0081": "medication_missed",  # pill not taken
    "0076": "door_opened",  # open
    "0077": "door_opened",  # open too long
}

# stc -> the alarm type it restores; None: the type of the device (or any open alarm of it).
RESTORES: dict[str, str | None] = {
    "0015": "battery_low",  # battery OK
    "0020": "battery_low",  # charged
    "0086": "power_lost",  # power restored
    "0091": "device_fault",  # re-established
    "0112": "device_fault",  # IP connection re-established
    "0113": "device_fault",  # mobile network connection re-established
    "0114": "device_fault",  # POTS connection re-established
    "0115": "device_fault",  # primary communication link re-established
    "0116": "device_fault",  # redundant communication link re-established
    "0124": "device_fault",  # radio test transmission re-established
    "0019": None,  # cancel
    "0092": None,  # automatic reset
    "0093": None,  # manual reset
    "0094": None,  # restoral
    "0111": None,  # intervention complete
}

HEARTBEATS = frozenset({
    "0070",  # normal state
    "0102",  # test transmission over primary channel
    "0103",  # test transmission over redundant channel
})


@dataclass(frozen=True)
class Event:
    meaning: Meaning
    alarm_type: str | None  # None: a heartbeat, a restore of any kind, or a code we do not know
    device_type: str
    status_code: str | None

    @property
    def code(self) -> str:
        """"dty/stc" as an administrator reads it in the quarantine and the timeline."""
        return f"{self.device_type}/{self.status_code or '-'}"


def classify(mrq: Mrq) -> Event:
    """What an ``mrq`` means (rules 1–5 above). Never raises for a parsed ``Mrq``."""
    dty, stc, mty = mrq.device_type, mrq.status_code, mrq.message_type

    def event(meaning: Meaning, alarm_type: str | None) -> Event:
        return Event(meaning, alarm_type, dty, stc)

    if mty == MessageType.PING or stc in HEARTBEATS:
        return event(Meaning.HEARTBEAT, None)
    if mty == MessageType.RESET or stc in RESTORES:
        # "reset" of a named problem (mty=RE, stc=battery low) restores that problem's type.
        restored = RESTORES.get(stc) or STATUS_ALARMS.get(stc or "")
        return event(Meaning.RESTORE, restored or DEVICE_TYPES.get(dty))
    if stc in STATUS_ALARMS:
        return event(Meaning.ALARM, STATUS_ALARMS[stc])
    if stc in GENERIC_ALARM:
        alarm_type = DEVICE_TYPES.get(dty)
        if alarm_type is None and stc == MANUAL_ALARM:
            alarm_type = "button_press"  # a person raised it by hand
        return event(Meaning.ALARM, alarm_type)
    return event(Meaning.ALARM, None)  # unknown: kept for an administrator
