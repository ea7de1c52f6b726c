"""The round: when a look-in may start, when it is late, when it is missed, and the shift (pure).

A look-in is due at a moment (UTC). It may be started from ``window`` before that moment to
``window`` after it (the camera's privacy window, docs/supervision.md); from ``late_after``
past due it is *late* and the round list warns as the queue does for an alarm past its
answer time; when the window has closed unstarted it is *missed*, and the sweep raises an
alarm so a missed supervision is never silent. This module knows no database and is given
``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from respons.clock import OSLO
from respons.economy.staffing import SHIFT_HOURS, Shift, shift_of_hour


class Reason(StrEnum):
    PLANNED = "planned"  # an agreed time of the plan
    RECHECK = "recheck"  # not seen: look again
    FALLBACK = "fallback"  # the camera failed: the plan's fallback, a phone call
    EVENT = "event"  # after an alarm of the person's (event-based supervision)


class State(StrEnum):
    DUE = "due"
    STARTED = "started"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"  # the plan ended before it was due


class Clock(StrEnum):
    """What the round list shows for a look-in not yet started."""

    LATER = "later"  # before its window: cannot start yet
    OPEN = "open"  # in its window, before its time
    DUE_NOW = "due_now"
    LATE = "late"  # past due by ``late_after``: the warning
    MISSED = "missed"  # the window closed


@dataclass(frozen=True)
class Window:
    """``window``: how far from its time a look-in may be started (the camera opened);
    ``late_after``: past due this long, it is late (must be shorter than the window)."""

    window: timedelta = timedelta(minutes=10)
    late_after: timedelta = timedelta(minutes=5)

    def __post_init__(self):
        if not timedelta(0) < self.late_after < self.window:
            raise ValueError("late_after must be positive and shorter than the window")


def opens_at(due_at: datetime, window: Window) -> datetime:
    return due_at - window.window


def closes_at(due_at: datetime, window: Window) -> datetime:
    return due_at + window.window


def late_at(due_at: datetime, window: Window) -> datetime:
    return due_at + window.late_after


def clock(due_at: datetime, now: datetime, window: Window) -> Clock:
    if now < opens_at(due_at, window):
        return Clock.LATER
    if now < due_at:
        return Clock.OPEN
    if now < late_at(due_at, window):
        return Clock.DUE_NOW
    if now < closes_at(due_at, window):
        return Clock.LATE
    return Clock.MISSED


def in_window(due_at: datetime, now: datetime, window: Window) -> bool:
    return opens_at(due_at, window) <= now < closes_at(due_at, window)


# --- the shift ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShiftSpan:
    shift: Shift
    starts: datetime  # UTC
    ends: datetime  # UTC


def shift_at(now: datetime) -> ShiftSpan:
    """The centre's shift that holds ``now`` (economy/staffing.py's day, evening and night),
    from its first hour to the next shift's first, by the Oslo wall clock: a night with a
    daylight-saving change is seven or nine hours long, as the night shift works it."""
    local = now.astimezone(OSLO)
    shift = shift_of_hour(local.hour)
    first = SHIFT_HOURS[shift][0]
    start_day = local.date() - timedelta(days=1) if local.hour < first else local.date()
    starts = _utc(start_day, first)
    end_hour = (first + len(SHIFT_HOURS[shift])) % 24
    end_day = start_day + timedelta(days=1) if end_hour <= first else start_day
    return ShiftSpan(shift, starts, _utc(end_day, end_hour))


def next_shift(span: ShiftSpan) -> ShiftSpan:
    return shift_at(span.ends + timedelta(seconds=1))


def _utc(day: date, hour: int) -> datetime:
    # Shift changes are whole hours outside 02:00–03:00, so never in a DST gap or fold.
    return datetime.combine(day, time(hour), tzinfo=OSLO).astimezone(timezone.utc)
