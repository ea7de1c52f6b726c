"""What a centre costs per unit and per incoming alarm (seed 001's comparison of real centres).

Pure: a year's costs (salaries with social costs, goods and services, standardised costs)
divided by the measured volumes — units (safety alarms connected, here active recipients)
and incoming alarms. Seed 001's table (2023): Værnes Respons 10,840,000 NOK for 4,634 units
and about 125,000 alarms = 2,339.23 NOK per unit and 86.72 NOK per alarm; Kristiansand
22,115,859 NOK (without IT and systems) for 17,529 units and about 460,000 alarms = 1,261.67
and 48.08 NOK.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from respons.economy.pricing import round_nok


@dataclass(frozen=True)
class CentreCosts:
    salaries: Decimal  # operators' salaries with social costs and taxes
    goods_and_services: Decimal = Decimal(0)
    standardised: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.salaries + self.goods_and_services + self.standardised


@dataclass(frozen=True)
class CostFigures:
    total: Decimal
    units: int
    alarms: int
    per_unit: Decimal | None  # None without units
    per_alarm: Decimal | None  # None without alarms


def cost_figures(costs: CentreCosts, *, units: int, alarms: int) -> CostFigures:
    """Cost per unit and per incoming alarm, to the øre (half up)."""
    if units < 0 or alarms < 0:
        raise ValueError("volumes cannot be negative")
    return CostFigures(
        total=costs.total, units=units, alarms=alarms,
        per_unit=round_nok(costs.total / units) if units else None,
        per_alarm=round_nok(costs.total / alarms) if alarms else None,
    )
