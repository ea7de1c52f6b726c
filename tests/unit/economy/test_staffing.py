"""Staffing: Erlang C against published examples and against the factorial formula computed
exactly with fractions, its monotonicity and the operator search (Hypothesis); shifts, hours
and FTE; and seed 001's two salary examples ("Responssenter 1" and "2") to the krone."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.economy.staffing import (
    SEED_BASE_SALARY,
    SEED_SUPPLEMENT_SHARE,
    SHIFT_HOURS,
    SalaryModel,
    Shift,
    ShiftPlan,
    StaffingRules,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    exact_full_time_equivalents,
    full_time_equivalents,
    offered_load,
    operator_cost,
    operators_needed,
    plan,
    round_kroner,
    service_level,
    shift_of_hour,
    social_costs,
    staff_needed,
    staffing_cost,
    supplement,
    supplemented_share,
    yearly_cost,
)

# --------------------------------------------------------------------------------------
# An independent Erlang C: the textbook formula with factorials, exact in fractions.
#
#   C(c, A) = (A^c/c! · c/(c−A)) / (Σ_{k<c} A^k/k! + A^c/c! · c/(c−A))
#
# The module uses the Erlang B recursion instead; agreeing with this for small c is what
# shows the recursion is the same formula.
# --------------------------------------------------------------------------------------


def erlang_b_by_factorials(c: int, load: Fraction) -> Fraction:
    terms = [load**k / math.factorial(k) for k in range(c + 1)]
    return terms[c] / sum(terms)


def erlang_c_by_factorials(c: int, load: Fraction) -> Fraction:
    queued = load**c / math.factorial(c) * Fraction(c) / (c - load)
    return queued / (sum(load**k / math.factorial(k) for k in range(c)) + queued)


def service_level_by_factorials(c: int, load: Fraction, handling: float, target: float) -> float:
    return 1 - float(erlang_c_by_factorials(c, load)) * math.exp(-float(c - load) * target / handling)


# --------------------------------------------------------------------------------------
# Erlang C against published values
# --------------------------------------------------------------------------------------


def test_published_example_100_calls_per_half_hour_needs_14_agents():
    # Published in the README of pyworkforce (https://pypi.org/project/pyworkforce/0.2.1/:
    # ErlangC(transactions=100, aht=3, asa=20/60, interval=30) → raw_positions 14,
    # service_level 0.8883500191794669, waiting_probability 0.1741319335950498) and in the
    # README of the R package ErlangC (https://rdocumentation.org/packages/ErlangC/versions/0.1.0:
    # 100 calls per 30 min, 180 s, 20 s → traffic intensity 10, wait probability 0.1741319,
    # service level 0.88835, average speed of answer 7.83593701177724 s, 14 agents for 80 %).
    load = offered_load(arrivals_per_hour=200, handling_seconds=180)
    assert load == 10

    assert erlang_c(14, load) == pytest.approx(0.1741319335950498, rel=1e-12)
    assert service_level(14, load, 180, 20) == pytest.approx(0.8883500191794669, rel=1e-12)
    assert average_speed_of_answer(14, load, 180) == pytest.approx(7.83593701177724, rel=1e-12)
    assert operators_needed(200, 180, target_share=0.80, target_seconds=20, minimum=1) == 14

    # The same by the other method: 14 reaches 80 % within 20 s and 13 does not.
    assert float(erlang_c_by_factorials(14, Fraction(10))) == pytest.approx(0.1741319335950498, rel=1e-12)
    assert service_level_by_factorials(14, Fraction(10), 180, 20) == pytest.approx(0.88835, abs=5e-6)
    assert service_level_by_factorials(13, Fraction(10), 180, 20) < 0.80


def test_published_example_20_erlangs_26_agents_for_15_percent_delay():
    # Published with the Erlang C calculator at
    # http://personal.telefonica.terra.es/web/vr/erlang/eng/mcerlc.htm: 600 calls in an hour
    # of 120 s are 20 erlangs; for a delay probability of 15 % 26 agents are needed, with an
    # average delay of about 3 s per call; with 30 agents the delay probability is 2.5 %.
    load = offered_load(600, 120)
    assert load == 20

    assert erlang_c(25, load) > 0.15 >= erlang_c(26, load)
    assert round(average_speed_of_answer(26, load, 120)) == 3
    assert round(erlang_c(30, load) * 100, 1) == 2.5

    # The same by the other method.
    for agents in (25, 26, 30):
        assert erlang_c(agents, load) == pytest.approx(float(erlang_c_by_factorials(agents, Fraction(20))), rel=1e-12)
    assert erlang_c_by_factorials(25, Fraction(20)) > Fraction(15, 100) >= erlang_c_by_factorials(26, Fraction(20))


def test_the_step_by_step_example_of_48_erlangs_and_55_agents():
    # The set-up of a much-copied step-by-step page on the Erlang C formula (Mitan Ltd,
    # "The Erlang-C formula": 360 calls per half hour, 4 minutes each, 55 agents, 15 s).
    # Its published results were not at hand, so the values are checked against the
    # factorial formula only; beyond c = 30 that also shows the recursion holding up.
    load = offered_load(720, 240)
    assert load == 48
    exact = erlang_c_by_factorials(55, Fraction(48))
    assert erlang_c(55, load) == pytest.approx(float(exact), rel=1e-12)
    assert erlang_c(55, load) == pytest.approx(0.2387, abs=5e-5)
    assert service_level(55, load, 240, 15) == pytest.approx(service_level_by_factorials(55, Fraction(48), 240, 15),
                                                             rel=1e-12)
    assert average_speed_of_answer(55, load, 240) == pytest.approx(float(exact) * 240 / 7, rel=1e-12)


def test_a_large_centre_needs_no_large_factorials():
    # 10,000 alarms an hour of 5 minutes: 833 erlangs. A^c/c! in floats would overflow long
    # before c = 833; the recursion stays between 0 and 1.
    load = offered_load(10_000, 300)
    needed = operators_needed(10_000, 300)
    assert needed > load
    assert 0 < erlang_c(needed, load) < 1
    assert service_level(needed, load, 300) >= 0.95 > service_level(needed - 1, load, 300)
    # ... and still agrees with the exact formula.
    assert erlang_c(850, 800.0) == pytest.approx(float(erlang_c_by_factorials(850, Fraction(800))), rel=1e-9)


def test_erlang_b_table_value():
    # 1 erlang on 1 server blocks half the calls: A / (1 + A).
    assert erlang_b(1, 1.0) == 0.5
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(5, 2.0) == pytest.approx(float(erlang_b_by_factorials(5, Fraction(2))), rel=1e-12)


def test_an_unstable_queue_waits_always_and_answers_none_in_time():
    assert erlang_c(5, 5.0) == 1.0
    assert erlang_c(4, 5.0) == 1.0
    assert service_level(5, 5.0, 120) == 0.0
    assert average_speed_of_answer(5, 5.0, 120) == math.inf


def test_no_alarms_means_no_waiting_and_the_minimum():
    assert erlang_c(3, 0.0) == 0.0
    assert service_level(1, 0.0, 120) == 1.0
    assert average_speed_of_answer(1, 0.0, 120) == 0.0
    assert operators_needed(0, 120) == 2
    assert operators_needed(0, 120, minimum=0) == 1  # nobody on duty answers nothing


def test_more_than_the_load_even_when_the_minimum_is_lower():
    # 3.5 erlangs: 4 operators at least, whatever the minimum and however lax the target.
    assert operators_needed(105, 120, target_share=0.01, minimum=1) == 4


@pytest.mark.parametrize("bad", [
    dict(target_share=1.0), dict(target_share=0.0), dict(minimum=-1), dict(handling_seconds=0),
    dict(arrivals_per_hour=-1), dict(arrivals_per_hour=math.nan), dict(arrivals_per_hour=math.inf),
])
def test_operators_needed_refuses_what_it_cannot_answer(bad):
    arguments = dict(arrivals_per_hour=30.0, handling_seconds=120.0) | bad
    with pytest.raises(ValueError):
        operators_needed(**arguments)


def test_servers_must_be_whole_and_not_negative():
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError):
            erlang_c(bad, 1.0)
        with pytest.raises(ValueError):
            service_level(bad, 1.0, 120)


# --------------------------------------------------------------------------------------
# Erlang C properties
# --------------------------------------------------------------------------------------

loads = st.floats(min_value=0.0, max_value=200.0, allow_nan=False)
handling_times = st.floats(min_value=5.0, max_value=1800.0)
target_times = st.floats(min_value=0.0, max_value=300.0)


@st.composite
def servers_and_exact_load(draw, max_servers: int = 30):
    servers = draw(st.integers(min_value=1, max_value=max_servers))
    hundredths = draw(st.integers(min_value=0, max_value=servers * 100 - 1))  # a stable load
    return servers, Fraction(hundredths, 100)


@settings(max_examples=200, deadline=None)
@given(servers_and_exact_load())
def test_the_recursion_equals_the_factorial_formula(case):
    servers, load = case
    assert erlang_b(servers, float(load)) == pytest.approx(float(erlang_b_by_factorials(servers, load)),
                                                           rel=1e-9, abs=1e-15)
    assert erlang_c(servers, float(load)) == pytest.approx(float(erlang_c_by_factorials(servers, load)),
                                                           rel=1e-9, abs=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=250), loads, handling_times, target_times)
def test_more_operators_answer_more_in_time_and_sooner(servers, load, handling, target):
    fewer = service_level(servers, load, handling, target)
    more = service_level(servers + 1, load, handling, target)
    assert 0.0 <= fewer <= more <= 1.0
    if load > 0 and servers > load and fewer < 0.999:
        assert more > fewer
    assert erlang_c(servers + 1, load) <= erlang_c(servers, load)
    assert average_speed_of_answer(servers + 1, load, handling) <= average_speed_of_answer(servers, load, handling)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=2000.0), handling_times,
       st.floats(min_value=0.5, max_value=0.999), target_times, st.integers(min_value=0, max_value=5))
def test_operators_needed_is_the_fewest_meeting_the_target(arrivals, handling, share, target, minimum):
    needed = operators_needed(arrivals, handling, share, target, minimum)
    load = offered_load(arrivals, handling)
    assert needed >= minimum and needed > load
    assert service_level(needed, load, handling, target) >= share
    if needed > minimum:
        # One fewer misses the target (an unstable queue answers a share of 0 in time).
        assert service_level(needed - 1, load, handling, target) < share


# --------------------------------------------------------------------------------------
# Shifts, hours, FTE and staff
# --------------------------------------------------------------------------------------


def test_the_shifts_cover_each_hour_of_the_day_once():
    hours = sorted(hour for shift_hours in SHIFT_HOURS.values() for hour in shift_hours)
    assert hours == list(range(24))
    assert all(len(shift_hours) == 8 for shift_hours in SHIFT_HOURS.values())
    assert [shift_of_hour(hour) for hour in (6, 7, 14, 15, 22, 23, 0)] == [
        Shift.NIGHT, Shift.DAY, Shift.DAY, Shift.EVENING, Shift.EVENING, Shift.NIGHT, Shift.NIGHT]
    with pytest.raises(ValueError):
        shift_of_hour(24)


def test_a_shift_plan_reads_and_writes_the_seed_notation():
    assert ShiftPlan.parse("3-3-2") == ShiftPlan(day=3, evening=3, night=2)
    assert str(ShiftPlan(2, 1, 1)) == "2-1-1"
    for bad in ("2-1", "2-1-1-1", "a-1-1", "-1-1-1", ""):
        with pytest.raises(ValueError):
            ShiftPlan.parse(bad)
    with pytest.raises(ValueError):
        ShiftPlan(2, -1, 1)


@pytest.mark.parametrize("text, hours, exact_fte, fte, staff", [
    ("2-1-1", 224, Decimal("5.973333333333333333333333333"), 6, 8),  # 7.2 → 8
    ("3-3-2", 448, Decimal("11.94666666666666666666666667"), 12, 15),  # 14.4 → 15
])
def test_hours_fte_and_staff_of_the_seed_examples(text, hours, exact_fte, fte, staff):
    shift_plan = ShiftPlan.parse(text)
    assert shift_plan.weekly_hours == hours
    assert exact_full_time_equivalents(hours) == exact_fte
    assert full_time_equivalents(hours) == fte
    assert staff_needed(fte) == staff


def test_fte_round_to_the_nearest_by_default_and_up_when_asked():
    hours = ShiftPlan(1, 1, 1).weekly_hours  # 168 h = 4.48 FTE
    assert full_time_equivalents(hours) == 4
    assert full_time_equivalents(hours, StaffingRules(fte_rounding=ROUND_CEILING)) == 5
    # A 35.5-hour week (shift workers' in many agreements) is a parameter, not a constant.
    assert full_time_equivalents(224, StaffingRules(full_time_hours=Decimal("35.5"))) == 6  # 6.31


def test_the_buffer_rounds_up_but_never_a_whole_person_too_many():
    assert staff_needed(5) == 6  # 5 × 1.2 is exactly 6, not 6.000000000000001 → 7
    assert staff_needed(10) == 12
    assert staff_needed(1) == 2  # 1.2 → 2
    assert staff_needed(6, StaffingRules(absence_buffer=Decimal("0"))) == 6
    assert staff_needed(0) == 0


# --------------------------------------------------------------------------------------
# Salary: seed 001's table
# --------------------------------------------------------------------------------------


def test_social_costs_and_supplement_of_the_seed():
    seed = SalaryModel()
    assert seed.base_salary == Decimal("569592")
    assert social_costs(seed) == Decimal("97400.232")  # 569,592 × (14.1 + 2 + 1) %
    assert round_kroner(social_costs(seed)) == 97400
    assert SEED_SUPPLEMENT_SHARE == Fraction(11, 14)
    exact_supplement = Fraction(569592) * Fraction(1, 4) * Fraction(11, 14)  # 111,884.142857…
    assert abs(Fraction(supplement(seed)) - exact_supplement) < Fraction(1, 10**20)
    assert round_kroner(supplement(seed)) == 111884


def test_the_seed_table_follows_from_569592_not_the_texts_569692():
    assert round_kroner(social_costs(SalaryModel(base_salary=Decimal("569692")))) == 97417
    assert round_kroner(supplement(SalaryModel(base_salary=Decimal("569692")))) == 111904
    assert SEED_BASE_SALARY == Decimal("569592")


def test_cost_per_operator_is_shown_rounded_but_kept_exact():
    cost = operator_cost()
    assert cost.total == Decimal("778876.3748571428571428571429")
    assert round_kroner(cost.total) == 778876


@pytest.mark.parametrize("text, hours, fte, staff, total", [
    ("2-1-1", 224, 6, 8, Decimal("6231011")),  # "Responssenter 1"
    ("3-3-2", 448, 12, 15, Decimal("11683146")),  # "Responssenter 2"
])
def test_the_seed_examples_to_the_krone(text, hours, fte, staff, total):
    cost = staffing_cost(ShiftPlan.parse(text))
    assert (cost.weekly_hours, cost.full_time_equivalents, cost.staff) == (hours, fte, staff)
    assert round_kroner(cost.operator_cost.base_salary) == 569592
    assert round_kroner(cost.operator_cost.social_costs) == 97400
    assert round_kroner(cost.operator_cost.supplement) == 111884
    assert cost.cost_per_operator == 778876
    assert cost.yearly_cost == total
    assert cost.supplement_share == Fraction(11, 14)


def test_the_total_is_rounded_once_at_the_end_as_the_seed_does():
    assert yearly_cost(8) == 6231011
    assert 8 * round_kroner(operator_cost().total) == 6231008  # what rounding first would give


def test_social_costs_on_the_supplement_too_when_asked():
    both = SalaryModel(social_costs_on_supplement=True)
    assert social_costs(both) == (both.base_salary + supplement(both)) * Decimal("0.171")
    assert round_kroner(social_costs(both)) == 116532  # 681,476.14 × 17.1 %


# --------------------------------------------------------------------------------------
# The share of supplemented hours from a shift plan
# --------------------------------------------------------------------------------------


def supplemented_share_by_counting(shift_plan: ShiftPlan) -> Fraction:
    """Walk the week shift by shift: weekend days are Saturday and Sunday (5 and 6)."""
    supplemented = total = 0
    for weekday in range(7):
        for shift in Shift:
            operators = shift_plan.on(shift)
            total += operators
            if weekday >= 5 or shift is not Shift.DAY:
                supplemented += operators
    return Fraction(supplemented, total) if total else Fraction(0)


def test_supplemented_share_of_the_seed_plans():
    # 2-1-1: 1/2 evening and night + 2/7 weekend − 1/7 weekend evenings and nights = 9/14,
    # where the seed counts 11/14.
    assert supplemented_share(ShiftPlan(2, 1, 1)) == Fraction(9, 14)
    assert supplemented_share(ShiftPlan(3, 3, 2)) == Fraction(41, 56)  # (5·5 + 2·8) / (7·8)
    assert supplemented_share(ShiftPlan(0, 0, 0)) == 0


@given(st.builds(ShiftPlan, st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)))
def test_supplemented_share_counts_the_week(shift_plan):
    share = supplemented_share(shift_plan)
    assert share == supplemented_share_by_counting(shift_plan)
    assert 0 <= share <= 1


def test_the_supplement_from_the_plan_instead_of_11_14():
    cost = staffing_cost(ShiftPlan(2, 1, 1), supplement_from_plan=True)
    assert cost.supplement_share == Fraction(9, 14)
    assert round_kroner(cost.operator_cost.supplement) == 91542  # 569,592 × 25 % × 9/14 = 91,541.57
    assert cost.yearly_cost == round_kroner(8 * cost.operator_cost.total)


# --------------------------------------------------------------------------------------
# Planner
# --------------------------------------------------------------------------------------


def test_plan_of_a_small_day_by_hand():
    # 120 s per alarm; 60 alarms at 10:00, 30 at 06:00 and at 22:00, none otherwise.
    #
    # 10:00: A = 60 × 120 / 3600 = 2 erlangs. Erlang B: B1 = 2/3, B2 = 2/5, B3 = 4/19,
    #   B4 = 2/21, B5 = 4/109; C = c·B / (c − A(1 − B)): C(3) = 4/9, C(4) = 4/23, C(5) = 4/67.
    #   Within 60 s: 1 − C·e^(−(c − 2)/2): c = 3 → 0.730, c = 4 → 0.936, c = 5 → 0.987: 5.
    # 06:00 and 22:00: A = 1. B1 = 1/2, B2 = 1/5, B3 = 1/16; C(2) = 1/3, C(3) = 1/11.
    #   c = 2 → 1 − e^(−1/2)/3 = 0.798, c = 3 → 1 − e^(−1)/11 = 0.967: 3.
    # Other hours: no alarms, the minimum of 2.
    result = plan({6: 30.0, 10: 60.0, 22: 30.0}, handling_seconds=120)

    expected_by_hour = [2] * 24
    expected_by_hour[6] = expected_by_hour[22] = 3
    expected_by_hour[10] = 5
    assert list(result.operators_by_hour) == expected_by_hour
    assert result.offered_load_by_hour[10] == 2.0
    assert result.service_level_by_hour[10] == pytest.approx(1 - 4 / 67 * math.exp(-1.5), rel=1e-12)
    assert result.service_level_by_hour[6] == pytest.approx(1 - math.exp(-1) / 11, rel=1e-12)
    assert all(level >= 0.95 for level in result.service_level_by_hour)

    # Each shift takes its busiest hour: day 5 (10:00), evening 3 (22:00), night 3 (06:00).
    assert result.shift_plan == ShiftPlan(day=5, evening=3, night=3)
    assert result.operators_by_shift == {Shift.DAY: 5, Shift.EVENING: 3, Shift.NIGHT: 3}
    # 11 × 8 × 7 = 616 h; 616 / 37.5 = 16.43 → 16 FTE; 16 × 1.2 = 19.2 → 20 staff;
    # 20 × 778,876.3749 = 15,577,527.497 → 15,577,527 NOK.
    assert result.weekly_hours == 616
    assert result.full_time_equivalents == 16
    assert result.staff == 20
    assert result.cost_per_operator == 778876
    assert result.yearly_cost == 15577527


@pytest.mark.parametrize("hour, shift", [
    (6, Shift.NIGHT), (7, Shift.DAY), (14, Shift.DAY), (15, Shift.EVENING), (22, Shift.EVENING),
    (23, Shift.NIGHT), (0, Shift.NIGHT),
])
def test_plan_puts_a_busy_hour_on_its_shift(hour, shift):
    result = plan({hour: 60.0}, handling_seconds=120)
    assert result.operators_by_shift == {other: 5 if other is shift else 2 for other in Shift}


def test_plan_without_alarms_is_the_minimum_around_the_clock():
    result = plan({}, handling_seconds=120)
    assert result.shift_plan == ShiftPlan(2, 2, 2)
    assert (result.weekly_hours, result.full_time_equivalents, result.staff) == (336, 9, 11)  # 8.96, 10.8
    assert plan({}, handling_seconds=120, minimum=1).shift_plan == ShiftPlan(1, 1, 1)


def test_plan_passes_its_parameters_on():
    result = plan({10: 60.0}, handling_seconds=120, target_share=0.80, target_seconds=20, minimum=1,
                  rules=StaffingRules(fte_rounding=ROUND_CEILING), supplement_from_plan=True)
    assert result.operators_by_hour[10] == operators_needed(60, 120, 0.80, 20, 1)
    assert result.operators_by_hour[3] == 1
    assert result.cost.supplement_share == supplemented_share(result.shift_plan)
    assert result.full_time_equivalents == math.ceil(result.weekly_hours / 37.5)


def test_plan_refuses_hours_outside_the_day():
    with pytest.raises(ValueError):
        plan({24: 1.0}, handling_seconds=120)
