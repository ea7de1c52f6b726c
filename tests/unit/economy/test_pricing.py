"""Price models against the seed's figures (seed 001, DOMAIN.md "Money") and hand counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respons.economy.pricing import (
    Budget,
    BudgetShare,
    Deflators,
    InvoicePeriod,
    PerEvent,
    PerSupervision,
    PerInhabitant,
    PerUserMonth,
    PriceModel,
    Usage,
    allocate,
    days_in_month,
    lines_for,
    round_nok,
    split_budget,
)

D = Decimal
YEAR_2025 = InvoicePeriod(date(2025, 1, 1), 12)


def every_day(users: int, period: InvoicePeriod) -> dict[date, int]:
    return {month: users * days_in_month(month) for month in period.month_starts()}


def usage(users: int = 0, period: InvoicePeriod = YEAR_2025, *, population: int = 0, events=None, kinds=None) -> Usage:
    return Usage(population=population, user_days={kinds: every_day(users, period)}, events=events or {})


def test_farsund_backup_only_against_full_response_as_the_seed_counts_it():
    """Seed 001, Farsund: 32.74 NOK per user per month for 120 units is 47,146 NOK a year for
    the backup service, against 154,037 NOK for full 24/7 response: 106,891 NOK saved. The
    seed's figures are whole kroner of 47,145.60 and 154,036.80 (full: 106.97 NOK per user per
    month), and its "30 % of the full price" is rounded: 32.74 of 106.97 is 30.6 %."""
    backup = lines_for(PriceModel((PerUserMonth(D("32.74")),), base_year=2025), usage(120), YEAR_2025)
    full = lines_for(PriceModel((PerUserMonth(D("106.97")),), base_year=2025), usage(120), YEAR_2025)
    assert (backup[0].quantity, backup[0].amount) == (D("1440.00"), D("47145.60"))
    assert full[0].amount == D("154036.80")
    whole = lambda amount: amount.quantize(D(1), rounding="ROUND_HALF_UP")  # noqa: E731  (the seed shows kroner)
    assert (whole(backup[0].amount), whole(full[0].amount), whole(full[0].amount - backup[0].amount)) == (
        D(47146), D(154037), D(106891))
    assert round(D("32.74") / D("106.97"), 3) == D("0.306")
    thirty_percent = lines_for(PriceModel((PerUserMonth(D("106.97"), share=D("0.30")),), base_year=2025), usage(120),
                               YEAR_2025)
    assert thirty_percent[0].unit_price == D("32.09"), "exactly 30 % of 106.97 would be 32.09, not the seed's 32.74"


def test_vaernes_splits_answering_41_59_and_systems_15_85_to_the_ore():
    populations = {"A": 20_000, "B": 15_000, "C": 5_000}
    answering = split_budget(Budget("svartjeneste", 2025, D("1000000.00"), D("0.41")), populations)
    # 410,000 in three equal parts of 136,666.67 (rounded), 590,000 by population: 295,000,
    # 221,250 and 73,750. The three thirds leave two øre over: the first two get one each.
    assert answering == {"A": D("431666.67"), "B": D("357916.67"), "C": D("210416.66")}
    systems = split_budget(Budget("systemer", 2025, D("400000.00"), D("0.15")), populations)
    # 60,000 equally (20,000 each), 340,000 by population: 170,000, 127,500 and 42,500.
    assert systems == {"A": D("190000.00"), "B": D("147500.00"), "C": D("62500.00")}


def test_kongsberg_splits_20_80():
    shares = split_budget(Budget("respons", 2025, D("2000000.00"), D("0.20")), {"Kongsberg": 30_000, "Flesberg": 10_000})
    assert shares == {"Kongsberg": D("1400000.00"), "Flesberg": D("600000.00")}


def test_a_quarter_of_the_budget_for_a_quarterly_run():
    shares = split_budget(Budget("respons", 2025, D("1000000.00"), D("0.20")), {"X": 1, "Y": 1},
                          fraction_of_year=Fraction(3, 12))
    assert shares == {"X": D("125000.00"), "Y": D("125000.00")}


@given(st.integers(min_value=0, max_value=10**11), st.lists(st.integers(min_value=0, max_value=10**6), min_size=1,
                                                             max_size=40).filter(lambda ws: sum(ws) > 0))
def test_shares_add_up_to_the_total_to_the_ore_and_none_is_off_by_more_than_one_ore(ore, weights):
    total = D(ore) / 100
    shares = allocate(total, dict(enumerate(weights)))
    assert sum(shares.values()) == total
    for i, w in enumerate(weights):
        exact = Fraction(ore, 100) * Fraction(w, sum(weights))
        assert abs(Fraction(shares[i]) - exact) < Fraction(1, 100)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
       st.decimals(min_value=0, max_value=1, places=2, allow_nan=False, allow_infinity=False),
       st.lists(st.integers(min_value=0, max_value=700_000), min_size=1, max_size=60))
def test_every_municipalitys_share_of_a_split_budget_adds_up_to_the_budget(amount, fixed, populations):
    shares = split_budget(Budget("b", 2025, amount, fixed), dict(enumerate(populations)))
    assert sum(shares.values()) == amount


def test_prices_are_indexed_by_the_deflator_year_by_year_to_the_ore():
    deflators = Deflators({2025: D("0.043"), 2026: D("0.035")})
    assert deflators.index(D("100.00"), base_year=2024, year=2024) == D("100.00")
    assert deflators.index(D("100.00"), base_year=2024, year=2025) == D("104.30")
    assert deflators.index(D("100.00"), base_year=2024, year=2026) == D("107.95"), "104.30 × 1.035 = 107.9505"
    with pytest.raises(ValueError, match="Mangler kommunal deflator for 2027"):
        deflators.index(D("100.00"), base_year=2024, year=2027)
    with pytest.raises(ValueError, match="kan ikke brukes for 2023"):
        deflators.index(D("100.00"), base_year=2024, year=2023)


def test_a_user_active_ten_days_of_april_pays_a_third_of_a_month():
    april = InvoicePeriod(date(2026, 4, 1), 1)
    lines = lines_for(PriceModel((PerUserMonth(D("300.00")),), base_year=2026),
                      Usage(population=0, user_days={None: {date(2026, 4, 1): 10}}, events={}), april)
    assert (lines[0].quantity, lines[0].amount) == (D("0.33"), D("100.00")), "from the exact third, not from 0.33"


def test_events_follow_up_patients_and_the_fee_per_inhabitant_in_one_model():
    model = PriceModel((
        PerEvent(D("12.50"), frozenset({"gps_alarm", "supervision_event"}), label="GPS og digitalt tilsyn"),
        PerUserMonth(D("450.00"), label="Digital hjemmeoppfølging", device_kinds=frozenset({"measurement_kit"})),
        PerInhabitant(D("3.00")),
    ), base_year=2026)
    used = Usage(population=10_250, events={"gps_alarm": 7, "supervision_event": 3, "button_press": 100},
                 user_days={frozenset({"measurement_kit"}): {date(2026, 1, 1): 31 * 4, date(2026, 2, 1): 28 * 4,
                                                             date(2026, 3, 1): 31 * 4}})
    first_quarter = lines_for(model, used, InvoicePeriod(date(2026, 1, 1), 3))
    assert [(line.description, line.quantity, line.amount, line.due_on) for line in first_quarter] == [
        ("GPS og digitalt tilsyn", D(10), D("125.00"), None),
        ("Digital hjemmeoppfølging", D("12.00"), D("5400.00"), None),
        ("Samarbeidsavgift per innbygger", D(10_250), D("30750.00"), date(2026, 1, 15)),
    ]
    second_quarter = lines_for(model, used, InvoicePeriod(date(2026, 4, 1), 3))
    assert [line.description for line in second_quarter] == ["GPS og digitalt tilsyn", "Digital hjemmeoppfølging"], \
        "the fee per inhabitant is invoiced once a year, in the period of its due date"


def test_completed_supervisions_are_priced_per_look_in_and_indexed_like_any_price():
    model = PriceModel((PerSupervision(D("45.00")),), base_year=2025)
    used = Usage(population=0, user_days={}, events={"supervision_due": 4}, supervisions=93)
    [line] = lines_for(model, used, InvoicePeriod(date(2026, 1, 1), 1), deflators=Deflators({2026: D("0.043")}))
    # 45.00 indexed by 4.3 % is 46.94 (to the øre) a look-in; the alarms missed look-ins raised are not look-ins.
    assert (line.kind, line.quantity, line.unit, line.amount) == ("per_supervision", D(93), "tilsyn", D("4365.42"))


def test_a_budget_share_line_needs_its_allocation():
    model = PriceModel((BudgetShare("svartjeneste"),), base_year=2026)
    period = InvoicePeriod(date(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="no budget share"):
        lines_for(model, usage(0, period), period)
    line, = lines_for(model, usage(0, period), period, budget_shares={0: D("1234.56")})
    assert (line.kind, line.amount) == ("budget_share", D("1234.56"))


def test_an_invoice_period_is_whole_months():
    with pytest.raises(ValueError):
        InvoicePeriod(date(2026, 1, 15), 1)
    assert InvoicePeriod(date(2026, 11, 1), 3).end == date(2027, 2, 1)
    assert round_nok(D("0.005")) == D("0.01")


def test_a_stored_price_model_reads_back_as_it_was_written():
    from respons.economy.pricing import component_from_data, component_to_data

    components = (PerUserMonth(D("106.97"), label="Full", share=D("0.30"), device_kinds=frozenset({"safety_alarm"})),
                  PerEvent(D("12.50"), frozenset({"geofence_exit"})), BudgetShare("systemer"),
                  PerInhabitant(D("3.00"), due_month=1, due_day=15), PerSupervision(D("45.00")))
    assert tuple(component_from_data(component_to_data(c)) for c in components) == components


@pytest.mark.parametrize("data, message", [
    ({"kind": "per_hour"}, "Ukjent priskomponent 'per_hour'"),
    ({"kind": "per_user_month", "price": "abc"}, "kroner og øre, ikke 'abc'"),
    ({"kind": "per_user_month", "price": "1.234"}, "kroner og øre"),
    ({"kind": "per_user_month", "price": "-1"}, "ikke-negativt"),
    ({"kind": "per_user_month", "price": "10", "share": "1.5"}, "mellom 0 og 1"),
    ({"kind": "per_event", "price": "10"}, "hvilke alarmtyper"),
    ({"kind": "budget_share"}, "hvilket budsjett"),
    ({"kind": "per_inhabitant", "price": "3", "due": "02-30"}, "MM-DD"),
])
def test_a_price_model_that_cannot_be_used_is_refused_with_what_is_wrong(data, message):
    from respons.economy.pricing import PriceModelError, component_from_data, model_from_data

    with pytest.raises(PriceModelError, match=message):
        component_from_data(data)
    with pytest.raises(PriceModelError, match="minst én komponent"):
        model_from_data([], 2026)
