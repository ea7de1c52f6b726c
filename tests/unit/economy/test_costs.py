"""Cost per unit and per alarm against seed 001's table of real centres (2023)."""

from decimal import Decimal as D

import pytest

from respons.economy.costs import CentreCosts, cost_figures


def test_vaernes_respons_2023():
    # 9,464,000 salaries + 1,314,000 goods and services; the seed gives no standardised costs
    # for Værnes, but its total of 10,840,000 leaves 62,000 for them.
    figures = cost_figures(CentreCosts(D(9_464_000), D(1_314_000), D(62_000)), units=4_634, alarms=125_000)
    assert figures.total == D(10_840_000)
    assert (figures.per_unit, figures.per_alarm) == (D("2339.23"), D("86.72"))


def test_kristiansand_2023_without_it_and_systems():
    figures = cost_figures(CentreCosts(D(21_903_298), D(212_561)), units=17_529, alarms=460_000)
    assert figures.total == D(22_115_859)
    assert (figures.per_unit, figures.per_alarm) == (D("1261.67"), D("48.08"))


def test_no_volumes_no_figure():
    figures = cost_figures(CentreCosts(D(1000)), units=0, alarms=0)
    assert (figures.per_unit, figures.per_alarm) == (None, None)
    with pytest.raises(ValueError):
        cost_figures(CentreCosts(D(1000)), units=-1, alarms=0)
