"""Staffing and salary cost of a response centre: how many operators the alarms need, and
what that staffing costs a year.

Pure (no database, no I/O, no clock). Three parts, usable on their own or together through
``plan``:

- **Erlang C** (the M/M/c queue): ``erlang_c`` (the probability that an alarm has to wait),
  ``service_level`` (the share answered within a target time), ``average_speed_of_answer``
  and ``operators_needed`` (the fewest operators meeting a target such as Helsedirektoratet's
  95 % within 60 s).
- **Shifts and hours**: a ``ShiftPlan`` of operators on the day, evening and night shift
  (the seed's "2-1-1"), its weekly hours, full-time equivalents (årsverk) and staff with a
  buffer for absence (``StaffingRules``).
- **Salary** (``SalaryModel``, all money ``Decimal`` NOK): base salary, social costs and the
  supplement for evenings, nights and weekends, reproducing seed 001's worked example
  ("Responssenter 1" and "2") to the krone by default.

The defaults are the seed's, including its simplifications (FTE rounded to the nearest whole,
social costs on the base salary only, a supplement share of 11/14); docs/staffing.md lists
each one and the parameter that changes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Mapping

SECONDS_PER_HOUR = 3600.0
HOURS_PER_SHIFT = 8
DAYS_PER_WEEK = 7
WEEKDAYS_PER_WEEK = 5
WEEKEND_DAYS_PER_WEEK = DAYS_PER_WEEK - WEEKDAYS_PER_WEEK

# Helsedirektoratet's answer target for response centres (DOMAIN.md "Quality figures").
DEFAULT_TARGET_SHARE = 0.95
DEFAULT_TARGET_SECONDS = 60.0
# Helsedirektoratet: at least two people on duty (DOMAIN.md "Quality figures"). The seed's
# minimum staffing, 2-1-1, has one operator on evening and night because that centre shares
# premises with services whose staff can step in; pass minimum=1 to plan such a centre.
DEFAULT_MINIMUM_OPERATORS = 2


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def _require_servers(value: int, name: str = "servers") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number ≥ 0, not {value!r}")


def _require_non_negative(name: str, value: float | Decimal) -> None:
    # Infinity and NaN are refused too: a search for operators would never finish.
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, not {value!r}")


def _require_positive(name: str, value: float | Decimal) -> None:
    _require_non_negative(name, value)
    if value == 0:
        raise ValueError(f"{name} must be more than 0, not {value!r}")


# --------------------------------------------------------------------------------------
# Erlang C
# --------------------------------------------------------------------------------------


def offered_load(arrivals_per_hour: float, handling_seconds: float) -> float:
    """The offered load in erlangs: how many operators would be busy on average."""
    _require_non_negative("arrivals_per_hour", arrivals_per_hour)
    _require_positive("handling_seconds", handling_seconds)
    return arrivals_per_hour * handling_seconds / SECONDS_PER_HOUR


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B, the blocking probability of a loss system, by the recursion
    B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)).

    The recursion is used instead of A^c/c! over a sum of such terms because every step
    stays between 0 and 1: no factorial or power ever overflows, however many servers.
    """
    _require_servers(servers)
    _require_non_negative("offered_load", offered_load)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def is_stable(servers: int, offered_load: float) -> bool:
    """Whether the queue settles: with no more operators than the load it grows forever."""
    return servers > offered_load


def erlang_c(servers: int, offered_load: float) -> float:
    """The probability that an arriving alarm has to wait (all operators busy).

    From Erlang B: C = c·B / (c − A·(1 − B)). An unstable queue (c ≤ A) gives 1: in the long
    run every alarm waits.
    """
    _require_servers(servers)
    _require_non_negative("offered_load", offered_load)
    if not is_stable(servers, offered_load):
        return 1.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def service_level(servers: int, offered_load: float, handling_seconds: float,
                  target_seconds: float = DEFAULT_TARGET_SECONDS) -> float:
    """The share of alarms answered within ``target_seconds``:
    1 − C·exp(−(c − A)·t / h). An unstable queue answers no share in time (0)."""
    _require_servers(servers)
    _require_non_negative("offered_load", offered_load)
    _require_positive("handling_seconds", handling_seconds)
    _require_non_negative("target_seconds", target_seconds)
    if not is_stable(servers, offered_load):
        return 0.0
    waiting = erlang_c(servers, offered_load)
    return 1.0 - waiting * math.exp(-(servers - offered_load) * target_seconds / handling_seconds)


def average_speed_of_answer(servers: int, offered_load: float, handling_seconds: float) -> float:
    """The mean wait in seconds over all alarms (those answered at once count as 0):
    C·h / (c − A). Infinite for an unstable queue."""
    _require_servers(servers)
    _require_non_negative("offered_load", offered_load)
    _require_positive("handling_seconds", handling_seconds)
    if not is_stable(servers, offered_load):
        return math.inf
    return erlang_c(servers, offered_load) * handling_seconds / (servers - offered_load)


def operators_needed(arrivals_per_hour: float, handling_seconds: float,
                     target_share: float = DEFAULT_TARGET_SHARE,
                     target_seconds: float = DEFAULT_TARGET_SECONDS,
                     minimum: int = DEFAULT_MINIMUM_OPERATORS) -> int:
    """The fewest operators (at least ``minimum``, and more than the load so the queue is
    stable) answering ``target_share`` of the alarms within ``target_seconds``."""
    if not 0.0 < target_share < 1.0:
        # Exactly 1 is never reached with any load at all (the waiting time is unbounded).
        raise ValueError(f"target_share must be between 0 and 1 (exclusive), not {target_share}")
    _require_servers(minimum, name="minimum")
    load = offered_load(arrivals_per_hour, handling_seconds)
    servers = max(minimum, math.floor(load) + 1)
    while service_level(servers, load, handling_seconds, target_seconds) < target_share:
        servers += 1
    return servers


# --------------------------------------------------------------------------------------
# Shifts and hours
# --------------------------------------------------------------------------------------


class Shift(StrEnum):
    DAY = "day"
    EVENING = "evening"
    NIGHT = "night"


# Oslo hours of each 8-hour shift; the night shift runs over midnight (23–07).
SHIFT_HOURS: dict[Shift, tuple[int, ...]] = {
    Shift.DAY: tuple(range(7, 15)),
    Shift.EVENING: tuple(range(15, 23)),
    Shift.NIGHT: (23, *range(0, 7)),
}


def shift_of_hour(hour: int) -> Shift:
    """The shift an Oslo hour (0–23) belongs to."""
    for shift, hours in SHIFT_HOURS.items():
        if hour in hours:
            return shift
    raise ValueError(f"hour must be 0–23, not {hour}")


@dataclass(frozen=True)
class ShiftPlan:
    """Operators on duty on each shift, the same every day of the week ("2-1-1")."""

    day: int
    evening: int
    night: int

    def __post_init__(self) -> None:
        for shift in Shift:
            _require_servers(self.on(shift), name=f"{shift} operators")

    @classmethod
    def parse(cls, text: str) -> ShiftPlan:
        """From the seed's notation, day-evening-night: ``"3-3-2"``."""
        parts = text.split("-")
        if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
            raise ValueError(f"expected day-evening-night such as '2-1-1', not {text!r}")
        day, evening, night = (int(part) for part in parts)
        return cls(day=day, evening=evening, night=night)

    def __str__(self) -> str:
        return f"{self.day}-{self.evening}-{self.night}"

    def on(self, shift: Shift) -> int:
        return {Shift.DAY: self.day, Shift.EVENING: self.evening, Shift.NIGHT: self.night}[shift]

    @property
    def operator_shifts_per_day(self) -> int:
        return self.day + self.evening + self.night

    @property
    def weekly_hours(self) -> int:
        """Hours staffed in a week: 2-1-1 → 4 × 8 × 7 = 224."""
        return self.operator_shifts_per_day * HOURS_PER_SHIFT * DAYS_PER_WEEK


def supplemented_share(plan: ShiftPlan) -> Fraction:
    """The share of a plan's hours that earn the evening/night/weekend supplement, counted
    by shift: every evening and night shift on the five weekdays, and every shift on
    Saturday and Sunday (a shift belongs to the day it starts).

    The more exact alternative to the seed's 11/14: that adds "half the hours are evenings
    and nights" (true of 2-1-1) to "2 of 7 days are weekend" without taking out the weekend
    evenings and nights counted twice. For 2-1-1 this gives 1/2 + 2/7 − 1/7 = 9/14.
    """
    per_week = plan.operator_shifts_per_day * DAYS_PER_WEEK
    if per_week == 0:
        return Fraction(0)
    weekday_evenings_and_nights = (plan.evening + plan.night) * WEEKDAYS_PER_WEEK
    weekend_shifts = plan.operator_shifts_per_day * WEEKEND_DAYS_PER_WEEK
    return Fraction(weekday_evenings_and_nights + weekend_shifts, per_week)


@dataclass(frozen=True)
class StaffingRules:
    """How staffed hours become people, with the seed's choices as defaults.

    - ``full_time_hours``: a full-time week (37.5 h, the usual Norwegian working week).
    - ``fte_rounding``: how FTE (årsverk) are rounded to whole ones, a ``decimal`` rounding
      mode. The seed rounds to the nearest (5.97 → 6, 11.95 → 12; ``ROUND_HALF_UP``), which
      can round *down* (1-1-1: 4.48 → 4 FTE for 4.48 FTE of hours); ``ROUND_CEILING`` never
      does.
    - ``absence_buffer``: extra staff for sickness, holidays and courses (20 %); staff are
      always rounded up, since a fraction of a person cannot be hired.
    """

    full_time_hours: Decimal = Decimal("37.5")
    absence_buffer: Decimal = Decimal("0.20")
    fte_rounding: str = ROUND_HALF_UP

    def __post_init__(self) -> None:
        _require_positive("full_time_hours", self.full_time_hours)
        _require_non_negative("absence_buffer", self.absence_buffer)


def exact_full_time_equivalents(weekly_hours: int, rules: StaffingRules = StaffingRules()) -> Decimal:
    return Decimal(weekly_hours) / rules.full_time_hours


def full_time_equivalents(weekly_hours: int, rules: StaffingRules = StaffingRules()) -> int:
    """Whole FTE (årsverk) for the weekly hours: 224 h / 37.5 = 5.97 → 6."""
    exact = exact_full_time_equivalents(weekly_hours, rules)
    return int(exact.to_integral_value(rounding=rules.fte_rounding))


def staff_needed(full_time_equivalents: int, rules: StaffingRules = StaffingRules()) -> int:
    """People to employ: FTE plus the absence buffer, rounded up (6 × 1.2 = 7.2 → 8).

    In ``Decimal`` so that 5 × 1.2 is exactly 6 and not one person more, as a float's
    6.000000000000001 would be after rounding up.
    """
    with_buffer = Decimal(full_time_equivalents) * (1 + rules.absence_buffer)
    return int(with_buffer.to_integral_value(rounding=ROUND_CEILING))


# --------------------------------------------------------------------------------------
# Salary
# --------------------------------------------------------------------------------------

# Seed 001's worked table; its text says 569,692 NOK, but every figure of the table
# (97,400, 111,884, 778,876, the totals) follows from 569,592.
SEED_BASE_SALARY = Decimal("569592")
# The seed's supplement share: 1/2 (evenings and nights) + 2/7 (weekends), overlap kept.
SEED_SUPPLEMENT_SHARE = Fraction(1, 2) + Fraction(2, 7)


@dataclass(frozen=True)
class SalaryModel:
    """A year's cost of one operator, with seed 001's figures as defaults (NOK).

    - ``base_salary``: a nurse's yearly base salary.
    - ``employer_tax``, ``pension``, ``insurance``: social costs as shares of pay
      (arbeidsgiveravgift 14.1 %, the minimum pension rate 2 %, insurance etc. 1 %).
    - ``supplement_rate``: the supplement on supplemented hours (25 %).
    - ``supplement_share``: the share of hours that are supplemented. The seed's 11/14 by
      default; ``supplemented_share(plan)`` computes it from a shift plan.
    - ``social_costs_on_supplement``: the seed computes social costs on the base salary
      only; employer's tax and pension are in fact due on the supplement too (True).
    """

    base_salary: Decimal = SEED_BASE_SALARY
    employer_tax: Decimal = Decimal("0.141")
    pension: Decimal = Decimal("0.02")
    insurance: Decimal = Decimal("0.01")
    supplement_rate: Decimal = Decimal("0.25")
    supplement_share: Fraction | Decimal = SEED_SUPPLEMENT_SHARE
    social_costs_on_supplement: bool = False

    def __post_init__(self) -> None:
        for name in ("base_salary", "employer_tax", "pension", "insurance", "supplement_rate"):
            _require_non_negative(name, getattr(self, name))
        if not 0 <= Fraction(self.supplement_share) <= 1:
            raise ValueError(f"supplement_share must be between 0 and 1, not {self.supplement_share}")

    @property
    def social_cost_rate(self) -> Decimal:
        return self.employer_tax + self.pension + self.insurance


@dataclass(frozen=True)
class OperatorCost:
    """One operator's yearly cost, unrounded: the seed rounds only what it shows."""

    base_salary: Decimal
    social_costs: Decimal
    supplement: Decimal

    @property
    def total(self) -> Decimal:
        return self.base_salary + self.social_costs + self.supplement


def round_kroner(amount: Decimal) -> Decimal:
    """To whole kroner, halves up, as a spreadsheet rounds."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def supplement(model: SalaryModel) -> Decimal:
    """The evening/night/weekend supplement: 569,592 × 25 % × 11/14 = 111,884.14."""
    share = Fraction(model.supplement_share)
    # Multiply before dividing so an exact share such as 11/14 loses nothing until the
    # division, which Decimal carries to 28 significant digits.
    return model.base_salary * model.supplement_rate * share.numerator / share.denominator


def social_costs(model: SalaryModel) -> Decimal:
    """Employer's tax, pension and insurance: 569,592 × 17.1 % = 97,400.23 (seed)."""
    pay = model.base_salary + (supplement(model) if model.social_costs_on_supplement else 0)
    return pay * model.social_cost_rate


def operator_cost(model: SalaryModel = SalaryModel()) -> OperatorCost:
    return OperatorCost(base_salary=model.base_salary, social_costs=social_costs(model),
                        supplement=supplement(model))


def yearly_cost(staff: int, model: SalaryModel = SalaryModel()) -> Decimal:
    """Staff × the *unrounded* cost per operator, rounded to whole kroner at the end, as the
    seed does: 8 × 778,876.37 = 6,231,011 (8 × the shown 778,876 would be 6,231,008)."""
    _require_servers(staff, name="staff")
    return round_kroner(staff * operator_cost(model).total)


@dataclass(frozen=True)
class StaffingCost:
    """A shift plan turned into hours, people and kroner."""

    shift_plan: ShiftPlan
    weekly_hours: int
    exact_full_time_equivalents: Decimal
    full_time_equivalents: int
    staff: int
    supplement_share: Fraction
    operator_cost: OperatorCost  # unrounded parts
    cost_per_operator: Decimal  # rounded for display
    yearly_cost: Decimal  # rounded, from the unrounded cost per operator


def staffing_cost(shift_plan: ShiftPlan, salary: SalaryModel = SalaryModel(),
                  rules: StaffingRules = StaffingRules(),
                  supplement_from_plan: bool = False) -> StaffingCost:
    """What a shift plan costs a year. 2-1-1 with the defaults: 224 h, 6 FTE, 8 staff,
    778,876 NOK per operator, 6,231,011 NOK.

    ``supplement_from_plan`` replaces the model's supplement share with the plan's own
    (``supplemented_share``) instead of the seed's 11/14.
    """
    if supplement_from_plan:
        salary = replace(salary, supplement_share=supplemented_share(shift_plan))
    hours = shift_plan.weekly_hours
    fte = full_time_equivalents(hours, rules)
    staff = staff_needed(fte, rules)
    per_operator = operator_cost(salary)
    return StaffingCost(
        shift_plan=shift_plan,
        weekly_hours=hours,
        exact_full_time_equivalents=exact_full_time_equivalents(hours, rules),
        full_time_equivalents=fte,
        staff=staff,
        supplement_share=Fraction(salary.supplement_share),
        operator_cost=per_operator,
        cost_per_operator=round_kroner(per_operator.total),
        yearly_cost=yearly_cost(staff, salary),
    )


# --------------------------------------------------------------------------------------
# Planner: alarms per hour → operators → shifts → cost
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffingPlan:
    """Everything a staffing page shows, from the alarms per hour to the yearly cost.

    The per-hour tuples have 24 entries, indexed by Oslo hour.
    """

    handling_seconds: float
    target_share: float
    target_seconds: float
    minimum: int
    arrivals_by_hour: tuple[float, ...]
    offered_load_by_hour: tuple[float, ...]
    operators_by_hour: tuple[int, ...]
    service_level_by_hour: tuple[float, ...]  # achieved with the hour's own operators
    cost: StaffingCost

    @property
    def shift_plan(self) -> ShiftPlan:
        return self.cost.shift_plan

    @property
    def operators_by_shift(self) -> dict[Shift, int]:
        return {shift: self.shift_plan.on(shift) for shift in Shift}

    @property
    def weekly_hours(self) -> int:
        return self.cost.weekly_hours

    @property
    def full_time_equivalents(self) -> int:
        return self.cost.full_time_equivalents

    @property
    def staff(self) -> int:
        return self.cost.staff

    @property
    def cost_per_operator(self) -> Decimal:
        return self.cost.cost_per_operator

    @property
    def yearly_cost(self) -> Decimal:
        return self.cost.yearly_cost


def shift_plan_for(operators_by_hour: Mapping[int, int] | tuple[int, ...]) -> ShiftPlan:
    """Each shift staffed for its busiest hour: an operator cannot come for one hour only."""
    return ShiftPlan(**{shift.value: max(operators_by_hour[hour] for hour in hours)
                        for shift, hours in SHIFT_HOURS.items()})


def plan(arrivals_by_hour: Mapping[int, float], handling_seconds: float,
         target_share: float = DEFAULT_TARGET_SHARE,
         target_seconds: float = DEFAULT_TARGET_SECONDS,
         minimum: int = DEFAULT_MINIMUM_OPERATORS,
         salary: SalaryModel = SalaryModel(),
         rules: StaffingRules = StaffingRules(),
         supplement_from_plan: bool = False) -> StaffingPlan:
    """Operators per hour by Erlang C, per shift by the busiest hour, then hours, people and
    cost.

    ``arrivals_by_hour`` maps an Oslo hour (0–23) to the average alarms in that hour (for
    the busiest day of the week, say, or a typical one); hours left out have none and get
    the minimum.
    """
    arrivals = _arrivals_for_every_hour(arrivals_by_hour)
    loads = tuple(offered_load(count, handling_seconds) for count in arrivals)
    operators = tuple(operators_needed(count, handling_seconds, target_share, target_seconds, minimum)
                      for count in arrivals)
    levels = tuple(service_level(servers, load, handling_seconds, target_seconds)
                   for servers, load in zip(operators, loads))
    return StaffingPlan(
        handling_seconds=handling_seconds,
        target_share=target_share,
        target_seconds=target_seconds,
        minimum=minimum,
        arrivals_by_hour=arrivals,
        offered_load_by_hour=loads,
        operators_by_hour=operators,
        service_level_by_hour=levels,
        cost=staffing_cost(shift_plan_for(operators), salary, rules, supplement_from_plan),
    )


def _arrivals_for_every_hour(arrivals_by_hour: Mapping[int, float]) -> tuple[float, ...]:
    unknown = sorted(hour for hour in arrivals_by_hour if hour not in range(24))
    if unknown:
        raise ValueError(f"hours must be 0–23, not {unknown}")
    return tuple(float(arrivals_by_hour.get(hour, 0.0)) for hour in range(24))
