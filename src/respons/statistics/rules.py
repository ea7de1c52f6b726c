"""Key figures for a municipality's response service, computed from alarm facts.

Pure: ``AlarmFact`` is what the store reads off each alarm and its timeline (one fact per
alarm, so an alarm handed back and answered again is still one alarm), ``key_figures``
computes the figures for any set of facts, and ``breakdown`` splits facts by a key
(municipality, zone, category, period) and computes the figures for each part. Because
every count is a sum over facts, the parts of a breakdown always add up to the whole
(tested with Hypothesis); shares and times are recomputed per part, never averaged.

Periods are Oslo calendar periods (``period_of``): an alarm belongs to the day, ISO week,
month, half year and year in which it was *received*, in Oslo time, so an alarm at 23:59
on 31 March counts in March however long it takes to close, and the DST nights (23 and 25
hours) are one day each.

The figures and where their definitions come from (DOMAIN.md "Quality figures", seeds 000,
001 and 004):

- *answered within 60 s*: of the alarms the centre had to answer (they reached its queue),
  the share answered within 60 s of reaching it (Helsedirektoratet: at least 95 %); answer
  times as median, 90th percentile and maximum. An alarm still unanswered when the figures
  are taken counts as not answered in time once 60 s have passed, and is left out (pending)
  before that, so a live dashboard does not count a ten-second-old alarm as late.
- *clearance rate* (avklaringsrate): of the alarms the centre answered and gave an outcome,
  the share it resolved itself (``resolved_at_centre`` or ``false_alarm``), without sending
  anyone (observed 50–70 %).
- *who answered*: the centre (an operator at the console) or home care (a responder who took
  the alarm in the app). The centre's answer-time figures count only the centre's answers; an
  alarm home care took out of the centre's queue counts as late for the centre if it had
  waited there longer than the target, and is left out otherwise (as a pending one is).
- *dispatches*: outcomes that sent somebody — home care, emergency services, next of kin,
  technician — of the alarms home care did not take itself; *handled by home care* counts
  those it did (routed to it and taken in the app), so the two are never mixed.
- *escalations*: alarms first routed away from the centre (to a zone, technicians, next of
  kin) that came to the centre after all; their share of the directly routed ones (the
  Farsund pilot: about 10 %).
- *hours saved for home care*: alarms cleared at the centre × the minutes a home-care call-out
  would have taken (``minutes_per_cleared_alarm``; configurable per municipality, because the
  drive differs; Kongsberg's 1,668 hours in half a year correspond to their own estimate).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Callable, Hashable, Iterable
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
ANSWER_TARGET_SECONDS = 60.0
CLEARED_AT_CENTRE = frozenset({"resolved_at_centre", "false_alarm"})
DISPATCH_OUTCOMES = ("home_care_dispatched", "emergency_services", "next_of_kin", "technician")
DEFAULT_MINUTES_PER_CLEARED_ALARM = 30.0


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    HALF_YEAR = "half_year"
    YEAR = "year"


@dataclass(frozen=True)
class AlarmFact:
    """One alarm as the figures see it (all times UTC, aware)."""

    alarm_id: str
    municipality_id: int
    zone_id: int | None
    recipient_id: int | None
    type: str
    category: str
    received_at: datetime
    queued_at: datetime | None = None  # first reached the centre's queue (None: never did)
    answered_at: datetime | None = None  # the centre (or the responder who took it) answered
    answered_by_centre: bool = False  # the standing answer is an operator's at the centre
    answered_by_home_care: bool = False  # ... or a responder's, who took it in the app
    outcome: str | None = None
    closed_at: datetime | None = None
    routed_direct: bool = False  # the plan's first step was not the centre
    escalated: bool = False  # ... and it came to the centre after all
    home_care_asked_at: datetime | None = None  # offered to the zone, or dispatched by the centre
    mission_accepted_at: datetime | None = None  # a home-care worker took it
    arrived_at: datetime | None = None  # ... and reported arriving
    missing_response: bool = False

    @property
    def answer_seconds(self) -> float | None:
        """From reaching the centre's queue to the centre's answer; None if it did not answer."""
        if self.queued_at is None or self.answered_at is None or not self.answered_by_centre:
            return None
        return max(0.0, (self.answered_at - self.queued_at).total_seconds())

    def answer_status(self, now: datetime) -> str | None:
        """``in_time``, ``late``, ``pending`` (waiting, still within the target) or None
        (never reached the centre's queue, or taken from it by home care within the target)."""
        if self.queued_at is None:
            return None
        if self.answer_seconds is not None:
            return "in_time" if self.answer_seconds <= ANSWER_TARGET_SECONDS else "late"
        if self.answered_at is not None:
            # Taken out of the queue by someone else (home care): the centre was late only if
            # it had let the alarm wait past the target; otherwise it is not the centre's answer
            # to count either way.
            waited = (self.answered_at - self.queued_at).total_seconds()
            return "late" if waited > ANSWER_TARGET_SECONDS else None
        return "late" if (now - self.queued_at).total_seconds() > ANSWER_TARGET_SECONDS else "pending"


@dataclass(frozen=True)
class Distribution:
    count: int
    median: float | None
    p90: float | None
    max: float | None
    # Centres publish the mean answer time (30–33 s at Værnes and Gjøvik), so it is reported
    # beside the median for comparison, although one long wait moves it.
    mean: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> "Distribution":
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None, None, None)
        return cls(len(ordered), _percentile(ordered, 0.5), _percentile(ordered, 0.9), ordered[-1],
                   sum(ordered) / len(ordered))


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a sorted list."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class KeyFigures:
    received: int
    by_type: dict[str, int]
    by_category: dict[str, int]
    by_hour: dict[int, int]  # Oslo hour of day, 0–23
    by_weekday: dict[int, int]  # Oslo ISO weekday, 1 (Monday) – 7
    to_centre: int  # alarms the centre had to answer (and that are answered, or late)
    answered_within_target: int
    pending_answer: int  # waiting in the queue for less than the target when the figures were taken
    answer_seconds: Distribution
    resolved_by_centre: int  # answered by the centre and given an outcome
    cleared_at_centre: int
    dispatches: dict[str, int]  # outcomes that sent somebody, of the alarms home care did not take itself
    routed_direct: int
    escalated: int
    accept_seconds: Distribution  # home care: from being asked (offer or dispatch) to accepting
    arrival_seconds: Distribution  # home care: from receipt to arrival
    missing_responses: int
    technical: int
    devices_lost: int
    hours_saved: float
    frequent_recipients: list[tuple[int, int]] = field(default_factory=list)  # (recipient, alarms), most first
    handled_by_home_care: int = 0  # answered by a responder in the app (routed to home care, or taken there)

    @property
    def share_answered_within_target(self) -> float | None:
        return self.answered_within_target / self.to_centre if self.to_centre else None

    @property
    def clearance_rate(self) -> float | None:
        return self.cleared_at_centre / self.resolved_by_centre if self.resolved_by_centre else None

    @property
    def escalation_share(self) -> float | None:
        return self.escalated / self.routed_direct if self.routed_direct else None


@dataclass(frozen=True)
class Counts:
    """The additive part of the key figures, as a database can sum them for many alarms at
    once (``store/statistics.counts_by_municipality``): what the yearly table across the
    collaboration needs. Same names and meanings as in ``KeyFigures``."""

    received: int = 0
    to_centre: int = 0
    answered_within_target: int = 0
    pending_answer: int = 0
    resolved_by_centre: int = 0
    cleared_at_centre: int = 0
    routed_direct: int = 0
    escalated: int = 0
    missing_responses: int = 0
    minutes_per_cleared_alarm: float = DEFAULT_MINUTES_PER_CLEARED_ALARM

    share_answered_within_target = property(lambda self: self.answered_within_target / self.to_centre
                                            if self.to_centre else None)
    clearance_rate = property(lambda self: self.cleared_at_centre / self.resolved_by_centre
                              if self.resolved_by_centre else None)
    escalation_share = property(lambda self: self.escalated / self.routed_direct if self.routed_direct else None)

    @property
    def hours_saved(self) -> float:
        return hours_saved(self.cleared_at_centre, self.minutes_per_cleared_alarm)

    def __add__(self, other: "Counts") -> "Counts":
        fields = ("received", "to_centre", "answered_within_target", "pending_answer", "resolved_by_centre",
                  "cleared_at_centre", "routed_direct", "escalated", "missing_responses")
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in fields},
                      minutes_per_cleared_alarm=self.minutes_per_cleared_alarm)


def hours_saved(cleared_at_centre: int, minutes_per_cleared_alarm: float) -> float:
    """Home-care hours the centre saved: each alarm it cleared is a call-out not made."""
    return round(cleared_at_centre * minutes_per_cleared_alarm / 60.0, 1)


# The counts that must add up across any breakdown (tests use this list).
ADDITIVE = ("received", "to_centre", "answered_within_target", "pending_answer", "resolved_by_centre", "cleared_at_centre",
            "routed_direct", "escalated", "missing_responses", "technical", "devices_lost", "handled_by_home_care")


def key_figures(facts: Iterable[AlarmFact], *, now: datetime,
                minutes_per_cleared_alarm: float = DEFAULT_MINUTES_PER_CLEARED_ALARM,
                frequent_top: int = 10) -> KeyFigures:
    facts = list(facts)
    by_type: Counter = Counter()
    by_category: Counter = Counter()
    by_hour: Counter = Counter()
    by_weekday: Counter = Counter()
    dispatches: Counter = Counter({o: 0 for o in DISPATCH_OUTCOMES})
    per_recipient: Counter = Counter()
    answer_seconds, accept_seconds, arrival_seconds = [], [], []
    to_centre = within = pending = resolved = cleared = direct = escalated = missing = technical = lost = 0
    by_home_care = 0
    for f in facts:
        local = f.received_at.astimezone(OSLO)
        by_type[f.type] += 1
        by_category[f.category] += 1
        by_hour[local.hour] += 1
        by_weekday[local.isoweekday()] += 1
        if f.recipient_id is not None:
            per_recipient[f.recipient_id] += 1
        status = f.answer_status(now)
        if status == "pending":
            pending += 1  # waiting, still within the target: not counted either way yet
        elif status is not None:
            to_centre += 1
            within += status == "in_time"
        if f.answer_seconds is not None:
            answer_seconds.append(f.answer_seconds)
        if f.answered_by_centre and f.outcome is not None:
            resolved += 1
            cleared += f.outcome in CLEARED_AT_CENTRE
        if f.answered_by_home_care:
            by_home_care += 1
        elif f.outcome in dispatches:
            dispatches[f.outcome] += 1
        direct += f.routed_direct
        escalated += f.routed_direct and f.escalated
        if f.mission_accepted_at is not None and f.home_care_asked_at is not None:
            accept_seconds.append(max(0.0, (f.mission_accepted_at - f.home_care_asked_at).total_seconds()))
        if f.arrived_at is not None:
            arrival_seconds.append(max(0.0, (f.arrived_at - f.received_at).total_seconds()))
        missing += f.missing_response
        technical += f.category == "technical"
        lost += f.type == "device_silent"
    return KeyFigures(
        received=len(facts), by_type=dict(by_type), by_category=dict(by_category), by_hour=dict(by_hour),
        by_weekday=dict(by_weekday), to_centre=to_centre, answered_within_target=within, pending_answer=pending,
        answer_seconds=Distribution.of(answer_seconds), resolved_by_centre=resolved, cleared_at_centre=cleared,
        dispatches=dict(dispatches), routed_direct=direct, escalated=escalated,
        accept_seconds=Distribution.of(accept_seconds), arrival_seconds=Distribution.of(arrival_seconds),
        missing_responses=missing, technical=technical, devices_lost=lost,
        hours_saved=hours_saved(cleared, minutes_per_cleared_alarm),
        frequent_recipients=sorted(per_recipient.items(), key=lambda kv: (-kv[1], kv[0]))[:frequent_top],
        handled_by_home_care=by_home_care,
    )


def period_of(moment: datetime, period: Period) -> date:
    """The first day (Oslo calendar) of the period that contains ``moment``."""
    day = moment.astimezone(OSLO).date()
    match period:
        case Period.DAY:
            return day
        case Period.WEEK:
            return day - timedelta(days=day.isoweekday() - 1)
        case Period.MONTH:
            return day.replace(day=1)
        case Period.HALF_YEAR:
            return date(day.year, 1 if day.month <= 6 else 7, 1)
        case Period.YEAR:
            return date(day.year, 1, 1)
    raise ValueError(period)


def period_bounds(start: date, period: Period) -> tuple[datetime, datetime]:
    """UTC instants [from, to) of the Oslo period starting on ``start``: what a query needs.
    Midnight in Oslo is 23:00 or 22:00 UTC the day before, depending on DST."""
    match period:
        case Period.DAY:
            end = start + timedelta(days=1)
        case Period.WEEK:
            end = start + timedelta(days=7)
        case Period.MONTH:
            end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        case Period.HALF_YEAR:
            end = date(start.year, 7, 1) if start.month == 1 else date(start.year + 1, 1, 1)
        case Period.YEAR:
            end = date(start.year + 1, 1, 1)
        case _:
            raise ValueError(period)

    def oslo_midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=OSLO).astimezone(ZoneInfo("UTC"))

    return oslo_midnight(start), oslo_midnight(end)


def breakdown(facts: Iterable[AlarmFact], key: Callable[[AlarmFact], Hashable], *, now: datetime,
              minutes_per_cleared_alarm: float = DEFAULT_MINUTES_PER_CLEARED_ALARM) -> dict[Hashable, KeyFigures]:
    groups: dict[Hashable, list[AlarmFact]] = {}
    for f in facts:
        groups.setdefault(key(f), []).append(f)
    return {k: key_figures(v, now=now, minutes_per_cleared_alarm=minutes_per_cleared_alarm) for k, v in groups.items()}


def by_period(period: Period) -> Callable[[AlarmFact], date]:
    return lambda f: period_of(f.received_at, period)
