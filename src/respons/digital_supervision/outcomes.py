"""What follows a look-in's outcome (pure): done, look again, or an alarm (docs/supervision.md).

Seen and well: done. Seen and in need of help: an alarm, routed like any other (home care,
the night patrol). Not seen: look again after the recheck interval; not seen again: an alarm
to the night patrol, who go to the door. Camera unavailable: a technician alarm, and the
plan's fallback in its place: a phone call, or (for a person who cannot take one) a visit by
the night patrol, raised as an alarm.

A look-in whose plan's consent was withdrawn while it went on starts nothing more under that
plan: no look again, no fallback call or visit. What the operator saw still counts (seen and in
need of help is an alarm), and a camera that showed nothing is still the technician's alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from respons.digital_supervision.plans import DEFAULT_RECHECK, Fallback


class Outcome(StrEnum):
    SEEN_WELL = "seen_well"
    SEEN_NEEDS_HELP = "seen_needs_help"
    NOT_SEEN = "not_seen"
    CAMERA_UNAVAILABLE = "camera_unavailable"


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class LookAgain:
    at: datetime


@dataclass(frozen=True)
class RaiseAlarm:
    """An alarm for the person: ``alarm_type`` from the alarm-type table, and why."""

    alarm_type: str
    reason: str


@dataclass(frozen=True)
class Then:
    """What follows: the steps, in order (an unavailable camera raises an alarm *and* falls back)."""

    steps: tuple[Done | LookAgain | RaiseAlarm, ...]
    fallback_call: bool = False  # the plan's fallback: phone the person instead


def after(outcome: Outcome, *, recheck: bool, now: datetime, recheck_after: timedelta = DEFAULT_RECHECK,
          fallback: Fallback = Fallback.PHONE, withdrawn: bool = False) -> Then:
    """What follows ``outcome`` of a look-in (``recheck``: it was itself the look-again;
    ``fallback``: the plan's replacement for a camera that shows nothing; ``withdrawn``: the
    plan's consent was withdrawn meanwhile)."""
    if withdrawn:
        match outcome:
            case Outcome.SEEN_NEEDS_HELP:
                return Then((RaiseAlarm("supervision_due", "seen_needs_help"),))
            case Outcome.CAMERA_UNAVAILABLE:
                return Then((RaiseAlarm("device_fault", "camera_unavailable"),))
            case Outcome.SEEN_WELL | Outcome.NOT_SEEN:
                return Then((Done(),))
    match outcome:
        case Outcome.SEEN_WELL:
            return Then((Done(),))
        case Outcome.SEEN_NEEDS_HELP:
            return Then((RaiseAlarm("supervision_due", "seen_needs_help"),))
        case Outcome.NOT_SEEN if not recheck:
            return Then((LookAgain(now + recheck_after),))
        case Outcome.NOT_SEEN:
            return Then((RaiseAlarm("supervision_due", "not_seen_twice"),))
        case Outcome.CAMERA_UNAVAILABLE if fallback is Fallback.VISIT:
            return Then((RaiseAlarm("device_fault", "camera_unavailable"),
                         RaiseAlarm("supervision_due", "camera_unavailable")))
        case Outcome.CAMERA_UNAVAILABLE:
            return Then((RaiseAlarm("device_fault", "camera_unavailable"),), fallback_call=True)
    raise ValueError(f"unknown outcome {outcome!r}")
