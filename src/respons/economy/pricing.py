"""Price models as data, and what a municipality owes for a period (pure).

The host municipality runs the centre on money from the cooperating municipalities by an
agreed price model, indexed every year by the municipal deflator (seed 000 section 3; the
models below are all seen in seed 001 and DOMAIN.md "Money"). A ``PriceModel`` is a list of
components; each turns what a municipality used in a period (``Usage``) into invoice lines:

- ``PerUserMonth``: per active service recipient per month, pro rata by day (a user active 10
  of 30 days counts a third of a month). ``share`` gives a price as a share of another (backup
  only: 30 % of full in Farsund); ``device_kinds`` limits it to recipients with such devices
  (a per-patient price for follow-up kits); without it, it is per active user regardless of
  technology (Fredrikstad).
- ``PerEvent``: per alarm of some types (GPS, sensors).
- ``PerSupervision``: per completed digital supervision (a look-in whose outcome was recorded:
  seed 001's "aktivitetsbasert pris per hendelse/gjennomført tilsyn").
- ``BudgetShare``: a share of a centre budget, split between the participating municipalities
  by a fixed part in equal shares and the rest by population (Værnes 41/59 for answering and
  15/85 for systems, Kongsberg 20/80).
- ``PerInhabitant``: a yearly fee per inhabitant with a due date (KHS: 3 NOK, 15 January),
  invoiced in the run whose period holds the due date.

**Money** is ``Decimal`` NOK. Every line is rounded to the øre, half up, once, from the
unrounded quantity × price; a split budget is shared to the øre by the largest remainder, so
the shares add up to the budget exactly. **Indexation**: a price set in its base year is
multiplied by (1 + the deflator) for each following year and rounded to the øre each year, as
a published price list would be.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Hashable, Mapping

ORE = Decimal("0.01")
LABEL_MAX = 200  # invoice_lines.description
ONE = Decimal(1)


def round_nok(amount: Decimal | Fraction) -> Decimal:
    """To the øre, half up (kroner and øre as on an invoice)."""
    if isinstance(amount, Fraction):
        amount = Decimal(amount.numerator) / Decimal(amount.denominator)
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)


def allocate(total: Decimal, weights: Mapping[Hashable, Fraction | int]) -> dict[Hashable, Decimal]:
    """Share ``total`` (whole øre) by ``weights`` so that the shares add up to it to the øre:
    each gets the øre its exact share holds, and the øre left over go one each to the largest
    remainders (ties in the order the weights are given, so every run shares alike)."""
    ore = int((total / ORE).to_integral_value(rounding=ROUND_HALF_UP))
    if (Decimal(ore) * ORE) != total:
        raise ValueError(f"{total} is not a whole number of øre")
    weight_sum = sum(Fraction(w) for w in weights.values())
    if weight_sum <= 0:
        raise ValueError("the weights must add up to more than zero")
    exact = {key: Fraction(ore) * Fraction(w) / weight_sum for key, w in weights.items()}
    floors = {key: share.numerator // share.denominator for key, share in exact.items()}
    left = ore - sum(floors.values())
    position = {key: i for i, key in enumerate(weights)}
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - floors[key]), position[key]))
    for key in by_remainder[:left]:
        floors[key] += 1
    return {key: Decimal(floors[key]) * ORE for key in weights}


class PriceModelError(ValueError):
    """A stored or submitted price model that cannot be used, with a message for a person:
    in bokmål (the CLI prints it), and named by ``key`` and ``params`` so a page can say it in
    its reader's language (economy/words.py, ``economy.refusal.<key>``)."""

    def __init__(self, message: str, key: str | None = None, **params):
        super().__init__(message)
        self.key = key  # None: not named, a page can only show the message
        self.params = params


# --- indexation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deflators:
    """The municipal deflator (kommunal deflator) by year, as a fraction (0.043 for 4.3 %)."""

    rates: Mapping[int, Decimal]

    def index(self, price: Decimal, *, base_year: int, year: int) -> Decimal:
        # Norwegian messages: they reach the host administrator who must enter the missing year.
        if year < base_year:
            raise PriceModelError(f"En pris fra {base_year} kan ikke brukes for {year}.", "before_base_year",
                                  base_year=base_year, year=year)
        for y in range(base_year + 1, year + 1):
            if y not in self.rates:
                raise PriceModelError(f"Mangler kommunal deflator for {y}; legg den inn før du fakturerer {year}.",
                                      "missing_deflator", missing=y, year=year)
            price = round_nok(price * (ONE + self.rates[y]))
        return price


NO_INDEXATION = Deflators({})


# --- components -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PerUserMonth:
    price: Decimal  # NOK per user per month, in the model's base year
    label: str = "Brukere"
    share: Decimal = ONE  # e.g. 0.30: backup only at 30 % of the full price
    device_kinds: frozenset[str] | None = None  # only recipients with an active device of these kinds
    kind: str = field(default="per_user_month", init=False)

    @property
    def filter_key(self) -> frozenset[str] | None:
        return self.device_kinds


@dataclass(frozen=True)
class PerEvent:
    price: Decimal  # NOK per alarm
    alarm_types: frozenset[str]
    label: str = "Hendelser"
    kind: str = field(default="per_event", init=False)


@dataclass(frozen=True)
class PerSupervision:
    price: Decimal  # NOK per completed look-in (planned, look again, by phone instead, after an alarm)
    label: str = "Digitalt tilsyn"
    kind: str = field(default="per_supervision", init=False)


@dataclass(frozen=True)
class BudgetShare:
    budget: str  # the name of a centre budget for the year ("svartjeneste", "systemer")
    label: str = "Andel av budsjett"
    kind: str = field(default="budget_share", init=False)


@dataclass(frozen=True)
class PerInhabitant:
    price: Decimal  # NOK per inhabitant per year
    due_month: int = 1
    due_day: int = 15
    label: str = "Samarbeidsavgift per innbygger"
    kind: str = field(default="per_inhabitant", init=False)


Component = PerUserMonth | PerEvent | PerSupervision | BudgetShare | PerInhabitant


@dataclass(frozen=True)
class PriceModel:
    components: tuple[Component, ...]
    base_year: int  # the year the prices are given in; later years are indexed


@dataclass(frozen=True)
class Budget:
    """A centre budget for a year, split between the municipalities that take part."""

    name: str
    year: int
    amount: Decimal
    fixed_share: Decimal  # shared equally; the rest by population (Værnes answering: 0.41)


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoicePeriod:
    """Whole Oslo calendar months, [first, end): invoices are monthly, quarterly or yearly."""

    first: date  # the first day of the first month
    months: int

    def __post_init__(self):
        # Invoices are monthly, quarterly or yearly; a period of 100,000 months ran past the
        # calendar's end inside the computation (a 500, not a refusal).
        if self.first.day != 1 or not 1 <= self.months <= 12:
            raise ValueError("an invoice period is one to twelve whole months")

    @property
    def end(self) -> date:
        month = self.first.month - 1 + self.months
        return date(self.first.year + month // 12, month % 12 + 1, 1)

    def month_starts(self) -> list[date]:
        starts = []
        for i in range(self.months):
            month = self.first.month - 1 + i
            starts.append(date(self.first.year + month // 12, month % 12 + 1, 1))
        return starts

    def contains(self, day: date) -> bool:
        return self.first <= day < self.end


def days_in_month(first: date) -> int:
    return calendar.monthrange(first.year, first.month)[1]


# --- usage and lines ------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What one municipality used in the period, as the store counts it."""

    population: int
    # Active user-days per month, per user filter (None: every active recipient).
    user_days: Mapping[frozenset[str] | None, Mapping[date, int]]
    events: Mapping[str, int]  # alarms received in the period by type
    supervisions: int = 0  # look-ins with a recorded outcome in the period


@dataclass(frozen=True)
class Line:
    component: int  # index of the component in the price model
    kind: str
    description: str
    quantity: Decimal  # user-months, events, inhabitants or the municipality's share (0–1)
    unit: str
    unit_price: Decimal | None  # None for a budget share
    amount: Decimal
    due_on: date | None = None


def user_months(days_by_month: Mapping[date, int]) -> Fraction:
    """Active user-days as months: each month's days over that month's length."""
    return sum((Fraction(days, days_in_month(month)) for month, days in days_by_month.items()), Fraction(0))


def lines_for(model: PriceModel, usage: Usage, period: InvoicePeriod, *, deflators: Deflators = NO_INDEXATION,
              budget_shares: Mapping[int, Decimal] | None = None) -> list[Line]:
    """The invoice lines of one municipality for one period. ``budget_shares`` are the
    municipality's already allocated shares by component index (``split_budget`` needs every
    participant at once, so the caller splits first)."""
    year = period.first.year
    lines: list[Line] = []
    for index, component in enumerate(model.components):
        match component:
            case PerUserMonth():
                unit_price = round_nok(deflators.index(component.price, base_year=model.base_year, year=year)
                                       * component.share)
                months = user_months(usage.user_days.get(component.device_kinds, {}))
                quantity = round_nok(months)  # shown to two decimals; the amount uses the exact months
                lines.append(Line(index, component.kind, component.label, quantity, "brukermåneder", unit_price,
                                  round_nok(Fraction(unit_price) * months)))
            case PerEvent():
                unit_price = deflators.index(component.price, base_year=model.base_year, year=year)
                count = sum(usage.events.get(t, 0) for t in component.alarm_types)
                lines.append(Line(index, component.kind, component.label, Decimal(count), "hendelser", unit_price,
                                  round_nok(unit_price * count)))
            case PerSupervision():
                unit_price = deflators.index(component.price, base_year=model.base_year, year=year)
                lines.append(Line(index, component.kind, component.label, Decimal(usage.supervisions), "tilsyn",
                                  unit_price, round_nok(unit_price * usage.supervisions)))
            case BudgetShare():
                amount = (budget_shares or {}).get(index)
                if amount is None:
                    raise ValueError(f"no budget share allocated for component {index} ({component.budget})")
                lines.append(Line(index, component.kind, component.label, Decimal(0), "andel", None, amount))
            case PerInhabitant():
                due = date(year, component.due_month, component.due_day)
                if period.contains(due):
                    unit_price = deflators.index(component.price, base_year=model.base_year, year=year)
                    lines.append(Line(index, component.kind, component.label, Decimal(usage.population), "innbyggere",
                                      unit_price, round_nok(unit_price * usage.population), due_on=due))
    return lines


def split_budget(budget: Budget, populations: Mapping[Hashable, int], *, fraction_of_year: Fraction = Fraction(1)
                 ) -> dict[Hashable, Decimal]:
    """Each participant's share of (a part of) a year's budget: ``fixed_share`` in equal parts,
    the rest by population, to the øre, adding up to the budget (or its part) exactly."""
    if not populations:
        return {}
    if not 0 <= budget.fixed_share <= 1:
        raise ValueError("the fixed share is between 0 and 1")
    total_population = sum(populations.values())
    fixed = Fraction(budget.fixed_share)
    weights = {
        key: fixed / len(populations) + (1 - fixed) * (Fraction(pop, total_population) if total_population else
                                                          Fraction(1, len(populations)))
        for key, pop in populations.items()
    }
    return allocate(round_nok(Fraction(budget.amount) * fraction_of_year), weights)


# --- price models as stored data ------------------------------------------------------------


def component_to_data(component: Component) -> dict:
    match component:
        case PerUserMonth():
            data = {"kind": component.kind, "price": str(component.price), "label": component.label,
                    "share": str(component.share)}
            if component.device_kinds is not None:
                data["device_kinds"] = sorted(component.device_kinds)
            return data
        case PerEvent():
            return {"kind": component.kind, "price": str(component.price), "label": component.label,
                    "alarm_types": sorted(component.alarm_types)}
        case PerSupervision():
            return {"kind": component.kind, "price": str(component.price), "label": component.label}
        case BudgetShare():
            return {"kind": component.kind, "budget": component.budget, "label": component.label}
        case PerInhabitant():
            return {"kind": component.kind, "price": str(component.price), "label": component.label,
                    "due": f"{component.due_month:02d}-{component.due_day:02d}"}
    raise TypeError(component)


def component_from_data(data: dict) -> Component:
    """A component from its stored form; refuses what it does not understand (Norwegian
    messages: an administrator enters these)."""
    kind = data.get("kind")
    label = data.get("label")
    try:
        match kind:
            case "per_user_month":
                kinds = data.get("device_kinds")
                return PerUserMonth(_price(data), label=label or "Brukere", share=_share(data.get("share", "1")),
                                    device_kinds=frozenset(kinds) if kinds else None)
            case "per_event":
                types = data.get("alarm_types") or []
                if not types:
                    raise PriceModelError("Pris per hendelse må si hvilke alarmtyper den gjelder.", "event_types")
                return PerEvent(_price(data), frozenset(types), label=label or "Hendelser")
            case "per_supervision":
                return PerSupervision(_price(data), label=label or "Digitalt tilsyn")
            case "budget_share":
                if not data.get("budget"):
                    raise PriceModelError("Andel av budsjett må si hvilket budsjett.", "share_budget")
                return BudgetShare(str(data["budget"]), label=label or "Andel av budsjett")
            case "per_inhabitant":
                try:
                    month, day = (int(part) for part in str(data.get("due", "01-15")).split("-"))
                    date(2001, month, day)  # a real day of the year
                except ValueError:
                    raise PriceModelError(f"Forfallsdagen skrives MM-DD, for eksempel 01-15, ikke "
                                          f"{data.get('due')!r}.", "due_day", value=data.get("due")) from None
                return PerInhabitant(_price(data), due_month=month, due_day=day,
                                     label=label or "Samarbeidsavgift per innbygger")
    except (ValueError, ArithmeticError) as error:
        if isinstance(error, PriceModelError):
            raise
        raise PriceModelError(f"Ugyldig priskomponent {kind!r}: {error}", "invalid_component", kind=kind,
                              error=error) from None
    raise PriceModelError(f"Ukjent priskomponent {kind!r}; kjente er per_user_month, per_event, per_supervision, "
                          f"budget_share og per_inhabitant.", "unknown_component", kind=kind)


def refuse_unstorable(components: list[dict]) -> None:
    """What a new model must not hold though a component would read it: a label that is not
    text or is longer than an invoice line's description (it saved, and then failed every run
    that used the model), a string where a list of names belongs ("gps" is not ["g", "p",
    "s"]). Checked when a model is added, not when a stored one is read: an older model that
    breaks the rule is still shown and used as before."""
    for data in components:
        label = data.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > LABEL_MAX):
            raise PriceModelError(f"Navnet på en priskomponent er tekst på høyst {LABEL_MAX} tegn.", "label",
                                  most=LABEL_MAX)
        for listed in ("alarm_types", "device_kinds"):
            value = data.get(listed)
            if value is not None and (not isinstance(value, list) or not all(isinstance(n, str) for n in value)):
                raise PriceModelError(f"{listed} skrives som en liste med navn, for eksempel [\"gps\"].", "names",
                                      field=listed)


def model_from_data(components: list[dict], base_year: int) -> PriceModel:
    if not components:
        raise PriceModelError("En prismodell trenger minst én komponent.", "no_components")
    return PriceModel(tuple(component_from_data(c) for c in components), base_year=base_year)


def _price(data: dict) -> Decimal:
    try:
        price = Decimal(str(data.get("price")))
    except ArithmeticError:
        price = Decimal("NaN")
    if not price.is_finite() or price < 0 or price != price.quantize(ORE):
        raise PriceModelError(f"Prisen må være et ikke-negativt beløp i kroner og øre, ikke {data.get('price')!r}.",
                              "price", value=data.get("price"))
    return price


def _share(value) -> Decimal:
    try:
        share = Decimal(str(value))
    except ArithmeticError:
        share = Decimal("NaN")
    if not share.is_finite() or not 0 <= share <= 1:
        raise PriceModelError(f"Andelen må være mellom 0 og 1, ikke {value!r}.", "share", value=value)
    return share
