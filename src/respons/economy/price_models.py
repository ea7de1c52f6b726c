"""Price models, budgets and deflators as the host administrator keeps them (docs/economy.md).

A new model for an agreement starts on the first day of a month and ends the model before it
(its ``valid_to`` becomes the new ``valid_from``), so an agreement never has two models for
the same day; a model cannot start in a month that an approved invoice run has already
covered. Budgets and deflators are one row per (centre, year, name) and per year; entering
one again replaces it until an approved run has used that year. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from respons.auth import audit
from respons.economy.pricing import (Component, PriceModelError, component_to_data, model_from_data,
                                     refuse_unstorable)
from respons.store.tables import agreements, budgets, deflators, invoice_runs, municipalities, price_models

PURPOSE = "invoicing"


@dataclass(frozen=True)
class ModelRow:
    id: int
    municipality_id: int
    municipality: str
    valid_from: date
    valid_to: date | None
    base_year: int
    components: tuple[Component, ...]


def listing(conn: Connection) -> list[ModelRow]:
    rows = conn.execute(
        select(price_models, agreements.c.municipality_id, municipalities.c.name)
        .join(agreements, agreements.c.id == price_models.c.agreement_id)
        .join(municipalities, municipalities.c.id == agreements.c.municipality_id)
        .order_by(municipalities.c.name, price_models.c.valid_from)
    ).all()
    return [ModelRow(r.id, r.municipality_id, r.name, r.valid_from, r.valid_to, r.base_year,
                     model_from_data(r.components, r.base_year).components) for r in rows]


def add_model(conn: Connection, *, municipality_id: int, valid_from: date, base_year: int, components: list[dict],
              actor: str, now: datetime) -> int:
    if valid_from.day != 1:
        raise PriceModelError("En prismodell gjelder fra den første dagen i en måned.", "first_day")
    refuse_unstorable(components)
    model = model_from_data(components, base_year)  # refuses what it cannot use, with the reason
    agreement = conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == municipality_id)
                             .order_by(agreements.c.valid_from.desc())).first()
    if agreement is None:
        raise PriceModelError("Kommunen har ingen avtale med responssenteret.", "no_agreement")
    approved_until = _approved_through(conn)
    if approved_until is not None and valid_from < approved_until:
        raise PriceModelError(f"Månedene til og med {_last_month(approved_until)} er fakturert og godkjent; en ny "
                              f"prismodell kan gjelde fra {approved_until:%m.%Y}.", "months_approved",
                              last=_last_month(approved_until), first=f"{approved_until:%m.%Y}")
    later = conn.execute(select(price_models.c.id).where(price_models.c.agreement_id == agreement.id,
                                                         price_models.c.valid_from >= valid_from)).first()
    if later is not None:
        raise PriceModelError("Avtalen har allerede en prismodell fra samme eller en senere måned.", "later_model")
    conn.execute(update(price_models).where(price_models.c.agreement_id == agreement.id,
                                            price_models.c.valid_to.is_(None)).values(valid_to=valid_from))
    model_id = conn.execute(insert(price_models).values(
        agreement_id=agreement.id, valid_from=valid_from, base_year=base_year,
        components=[component_to_data(c) for c in model.components], created_at=now, created_by=actor,
    )).inserted_primary_key[0]
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, municipality_id=municipality_id, purpose=PURPOSE,
                 details={"entity": "price_model", "id": model_id, "from": valid_from.isoformat()})
    return model_id


def _approved_through(conn: Connection) -> date | None:
    """The end (exclusive) of the last approved run, if any."""
    from respons.economy.pricing import InvoicePeriod

    rows = conn.execute(select(invoice_runs.c.period_first, invoice_runs.c.months)
                        .where(invoice_runs.c.state == "approved")).all()
    return max((InvoicePeriod(r.period_first, r.months).end for r in rows), default=None)


def _last_month(end: date) -> str:
    return f"{12 if end.month == 1 else end.month - 1:02d}.{end.year - (end.month == 1)}"


BUDGET_NAME_MAX = 60  # budgets.name
BUDGET_MAX = Decimal(10) ** 12  # kroner


def set_budget(conn: Connection, *, centre_id: int, year: int, name: str, amount: str, fixed_share: str, actor: str,
               now: datetime) -> None:
    name = name.strip()
    if not name or len(name) > BUDGET_NAME_MAX:
        raise PriceModelError("Budsjettet trenger et navn (det prismodellene viser til).", "budget_name")
    try:
        kroner = Decimal(amount.replace(" ", "").replace(",", "."))
        share = Decimal(fixed_share.replace(",", "."))
    except InvalidOperation:
        raise PriceModelError("Beløpet skrives i kroner (med øre), den faste andelen som et tall mellom 0 og 1.",
                              "budget_amount") from None
    # NaN and infinity parse, and then make every comparison raise; a budget beyond a trillion
    # kroner is a typing error, and beyond the column's range an overflow.
    if (not kroner.is_finite() or not share.is_finite() or kroner < 0 or kroner > BUDGET_MAX
            or kroner != kroner.quantize(Decimal("0.01")) or not 0 <= share <= 1):
        raise PriceModelError("Beløpet skrives i kroner (med øre), den faste andelen som et tall mellom 0 og 1.",
                              "budget_amount")
    _refuse_if_year_approved(conn, year)
    conn.execute(delete(budgets).where(budgets.c.centre_id == centre_id, budgets.c.year == year, budgets.c.name == name))
    conn.execute(insert(budgets).values(centre_id=centre_id, year=year, name=name, amount_ore=int(kroner * 100),
                                        fixed_share=str(share)))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, purpose=PURPOSE,
                 details={"entity": "budget", "year": year, "name": name, "amount": str(kroner), "fixed_share": str(share)})


def set_deflator(conn: Connection, *, year: int, percent: str, source: str | None, actor: str, now: datetime) -> None:
    try:
        rate = Decimal(percent.replace(",", ".").rstrip("% ")) / 100
    except InvalidOperation:
        raise PriceModelError("Deflatoren skrives i prosent, for eksempel 4,3.", "deflator") from None
    if not rate.is_finite() or not Decimal("-0.2") < rate < Decimal("0.5"):
        raise PriceModelError("Deflatoren skrives i prosent, for eksempel 4,3.", "deflator")
    _refuse_if_year_approved(conn, year)
    conn.execute(delete(deflators).where(deflators.c.year == year))
    conn.execute(insert(deflators).values(year=year, rate=str(rate.normalize()), source=source or None))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, purpose=PURPOSE,
                 details={"entity": "deflator", "year": year, "rate": str(rate)})


def _refuse_if_year_approved(conn: Connection, year: int) -> None:
    used = conn.execute(select(invoice_runs.c.id).where(invoice_runs.c.state == "approved",
                                                        invoice_runs.c.period_first >= date(year, 1, 1),
                                                        invoice_runs.c.period_first < date(year + 1, 1, 1))).first()
    if used is not None:
        raise PriceModelError(f"Et godkjent fakturagrunnlag for {year} bruker allerede dette; det kan ikke endres.",
                              "year_approved", year=year)


def year_rows(conn: Connection):
    return (conn.execute(select(budgets).order_by(budgets.c.year.desc(), budgets.c.name)).all(),
            conn.execute(select(deflators).order_by(deflators.c.year.desc())).all())
