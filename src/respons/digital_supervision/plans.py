"""Supervision plans: when a person is looked in on, how, and for how long (pure).

A municipality decides, as a vedtak, that a person is supervised digitally: at agreed times
(Oslo wall-clock time, per weekday), by camera look-in, sensor check or phone call, each
look-in at most so long, with what the operator should check, with the person's consent (and
who gave it), valid from and to. This module checks a plan and turns it into the look-ins due
in a span of time, and says whether a camera may be opened now. It knows no database and is
given ``now`` by its caller (docs/supervision.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from respons.clock import OSLO

# A look-in lasts about half a minute; longer than five is no look-in but surveillance.
MIN_LOOK_SECONDS, MAX_LOOK_SECONDS = 10, 300
# Not seen: look again after this long (issue and public practice: about 15 minutes).
DEFAULT_RECHECK = timedelta(minutes=15)
MAX_CHECKLIST_ITEMS, MAX_CHECKLIST_TEXT = 10, 120


class Kind(StrEnum):
    CAMERA = "camera"  # a camera look-in (VKP 4.26 planned, 4.25 event-based)
    SENSOR = "sensor"  # a look at the home's sensors
    PHONE = "phone"  # a phone call to the person


class Fallback(StrEnum):
    """What replaces a camera look-in when the camera shows nothing (the plan decides)."""

    PHONE = "phone"  # the operator phones the person, now, as a look-in of its own
    VISIT = "visit"  # the person cannot take a call: the night patrol goes (an alarm)


@dataclass(frozen=True)
class AgreedTime:
    """A time of day (Oslo wall clock) on some weekdays (ISO: 1 Monday … 7 Sunday)."""

    at: time
    weekdays: frozenset[int] = frozenset(range(1, 8))


@dataclass(frozen=True)
class Plan:
    kind: Kind
    times: tuple[AgreedTime, ...]
    max_seconds: int
    consent_by: str  # who consented: the person, or whoever may consent for them
    consent_on: date
    valid_from: date
    valid_to: date | None = None
    event_based: bool = False  # look-ins after an alarm of the person's are allowed too
    checklist: tuple[str, ...] = ()
    instructions: str = ""
    fallback: Fallback = Fallback.PHONE


@dataclass(frozen=True)
class Problem:
    """Why a plan is refused: a code the pages put into words, and what the words need."""

    code: str
    params: dict = field(default_factory=dict)


def check(plan: Plan, *, recheck: timedelta = DEFAULT_RECHECK) -> list[Problem]:
    """Everything wrong with a plan (empty: it may be saved).

    Two agreed times on the same weekday closer than the recheck interval collide: a person
    not seen at the first would be looked for again when the second is due, and the round
    would count one look-in twice."""
    problems = []
    if not plan.times and not plan.event_based:
        problems.append(Problem("no_times"))
    if not MIN_LOOK_SECONDS <= plan.max_seconds <= MAX_LOOK_SECONDS:
        problems.append(Problem("max_seconds", {"min": MIN_LOOK_SECONDS, "max": MAX_LOOK_SECONDS}))
    if plan.valid_to is not None and plan.valid_to < plan.valid_from:
        problems.append(Problem("valid_period"))
    if not plan.consent_by.strip():
        problems.append(Problem("consent_missing"))
    elif plan.consent_on > plan.valid_from:
        problems.append(Problem("consent_after_start"))
    if len(plan.checklist) > MAX_CHECKLIST_ITEMS or any(len(i) > MAX_CHECKLIST_TEXT or not i.strip()
                                                        for i in plan.checklist):
        problems.append(Problem("checklist", {"items": MAX_CHECKLIST_ITEMS, "chars": MAX_CHECKLIST_TEXT}))
    for agreed in plan.times:
        if not agreed.weekdays or not agreed.weekdays <= set(range(1, 8)):
            problems.append(Problem("weekdays", {"at": agreed.at.strftime("%H:%M")}))
    problems.extend(_collisions(plan.times, recheck))
    return problems


def end_problems(plan: Plan, valid_to: date, *, today: date) -> list[Problem]:
    """Why a plan cannot end on ``valid_to`` (consent withdrawn, the decision ended): never
    before today (the look-ins already done were done under it), never before it began, and
    an ended plan is not lengthened: a longer one is a new decision."""
    if valid_to < today:
        return [Problem("end_in_past")]
    if valid_to < plan.valid_from:
        return [Problem("valid_period")]
    if plan.valid_to is not None and valid_to > plan.valid_to:
        return [Problem("end_later", {"valid_to": plan.valid_to.isoformat()})]
    return []


def _collisions(times: tuple[AgreedTime, ...], recheck: timedelta) -> list[Problem]:
    """Each pair of times too close, once, with the weekdays (of the first) it happens on."""
    clashes: dict[tuple[str, str], list[int]] = {}
    for weekday in range(1, 8):
        # Wall-clock minutes of the day; a time just before midnight and one just after
        # collide across the day's end too (Sunday 23:55 and Monday 00:05).
        on_day = sorted(_minutes(t.at) for t in times if weekday in t.weekdays)
        next_day = sorted(_minutes(t.at) + 24 * 60 for t in times if weekday % 7 + 1 in t.weekdays)
        pairs = list(zip(on_day, on_day[1:])) + ([(on_day[-1], next_day[0])] if on_day and next_day else [])
        for first, second in pairs:
            if second - first < recheck.total_seconds() / 60:
                clashes.setdefault((_clock(first), _clock(second)), []).append(weekday)
    return [Problem("times_collide", {"first": first, "second": second, "weekdays": days})
            for (first, second), days in clashes.items()]


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Due:
    """One look-in the plan asks for."""

    at: datetime  # UTC
    planned: datetime  # the agreed Oslo wall-clock time on that day (naive)
    shifted: bool = False  # that time does not exist that day (spring forward): moved on an hour


def due_between(plan: Plan, start: datetime, end: datetime) -> list[Due]:
    """The planned look-ins due in [start, end) (UTC), in time order.

    Daylight saving time (docs/supervision.md): on the last Sunday of March, 02:00–02:59 does
    not exist in Oslo; a look-in agreed in that hour is due one hour later by the wall clock
    (02:30 → 03:30), as the clock on the person's wall shows it. On the last Sunday of
    October, 02:00–02:59 happens twice; the look-in is due once, at the first."""
    found = []
    day = start.astimezone(OSLO).date() - timedelta(days=1)
    last = end.astimezone(OSLO).date() + timedelta(days=1)
    while day <= last:
        if day >= plan.valid_from and (plan.valid_to is None or day <= plan.valid_to):
            for agreed in plan.times:
                if day.isoweekday() in agreed.weekdays:
                    due = _on(day, agreed.at)
                    if start <= due.at < end:
                        found.append(due)
        day += timedelta(days=1)
    return sorted(found, key=lambda d: d.at)


def _on(day: date, at: time) -> Due:
    planned = datetime.combine(day, at)
    local = planned.replace(tzinfo=OSLO, fold=0)
    utc = local.astimezone(timezone.utc)
    # A wall time in the spring gap comes back as another wall time: it did not exist.
    shifted = utc.astimezone(OSLO).replace(tzinfo=None) != planned
    return Due(utc, planned, shifted)


def window_of(due: Due, tolerance: timedelta) -> tuple[datetime, datetime]:
    """When a planned look-in may open the camera: its time ± the tolerance."""
    return due.at - tolerance, due.at + tolerance


def look_allowed(plan: Plan, now: datetime, tolerance: timedelta) -> Due | None:
    """The planned look-in whose window holds ``now`` (None: the camera stays closed, unless
    the look-in is event-based and tied to an open alarm: that is the caller's check)."""
    for due in due_between(plan, now - tolerance, now + tolerance + timedelta(seconds=1)):
        start, end = window_of(due, tolerance)
        if start <= now <= end:
            return due
    return None
