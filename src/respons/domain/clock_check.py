"""Is a device's clock believable? (pure)

An alarm's ``occurred_at`` comes from the device or the vendor's platform; the centre's
own clock decides when the alarm was *received*, and the answer clock always runs from
that. A time far from the receive time does not make an alarm less real (a safety alarm
with a flat clock battery still means someone needs help), so it is accepted and marked
*clock suspect*, for the operator and for whoever later reads the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# What a device may be ahead of us: clocks drift and NTP may be missing, but a few minutes
# ahead is already wrong.
DEFAULT_FUTURE = timedelta(minutes=10)
# What an alarm may be late: a platform that buffered it through an outage delivers it late
# but true; beyond a day the time is more likely wrong than the alarm that old.
DEFAULT_PAST = timedelta(hours=24)

_UTC_MAX = datetime.max.replace(tzinfo=timezone.utc)
_UTC_MIN = datetime.min.replace(tzinfo=timezone.utc)


def to_utc(value: datetime) -> tuple[datetime, bool]:
    """``value`` in UTC, and whether it had to be clamped to the range a datetime holds.

    ``9999-12-31T23:59:59-14:00`` is a valid ISO 8601 time whose UTC is in year 10000, and
    ``0001-01-01T00:00:00+14:00`` one whose UTC is in year 0: Python cannot represent either,
    so they become the last or first representable instant (and are clock suspect anyway).
    """
    try:
        return value.astimezone(timezone.utc), False
    except OverflowError:
        offset = value.utcoffset() or timedelta(0)
        return (_UTC_MIN if offset > timedelta(0) else _UTC_MAX), True


@dataclass(frozen=True)
class ClockSuspect:
    """Why ``occurred_at`` is not believed: ``ahead`` of or ``behind`` the receive time."""

    direction: str  # "ahead" | "behind"
    sent: str  # what the sender said, as ISO 8601 with its own offset
    seconds: int  # how far from the receive time (capped: years 1 and 9999 are just "far")

    def as_data(self) -> dict:
        return {"direction": self.direction, "sent": self.sent, "seconds": self.seconds}


# Differences beyond this are stored as this: nobody needs the exact distance to year 9999.
_CAP_SECONDS = 100 * 365 * 24 * 3600


def check(occurred_at: datetime, received_at: datetime, *, future: timedelta = DEFAULT_FUTURE,
          past: timedelta = DEFAULT_PAST) -> ClockSuspect | None:
    """None if ``occurred_at`` is within ``future`` ahead of / ``past`` behind ``received_at``."""
    if occurred_at.tzinfo is None or received_at.tzinfo is None:
        raise ValueError("clock_check needs aware datetimes")
    utc, clamped = to_utc(occurred_at)
    sent = occurred_at.isoformat()
    if clamped:
        return ClockSuspect("ahead" if utc > received_at else "behind", sent, _CAP_SECONDS)
    difference = utc - received_at
    seconds = min(int(abs(difference.total_seconds())), _CAP_SECONDS)
    if difference > future:
        return ClockSuspect("ahead", sent, seconds)
    if -difference > past:
        return ClockSuspect("behind", sent, seconds)
    return None
