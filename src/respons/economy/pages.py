"""Economy in the browser (docs/economy.md): invoice runs for the host administrator (compute,
check, approve, export, drill down to the users and events behind a line), read-only invoices
for each municipality's administrator (approved runs, their own lines only), and the staffing
planner. The same units of work as the CLI (``economy/invoicing.py``); every action is audited
there."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from respons.clock import OSLO
from respons.domain.access import Role
from respons.economy.costs import CentreCosts, cost_figures
from respons.economy.pricing import (
    BudgetShare,
    InvoicePeriod,
    PerEvent,
    PerSupervision,
    PerInhabitant,
    PerUserMonth,
    PriceModelError,
)
from respons.economy import invoicing
from respons.economy import staffing_plans
from respons.economy import price_models as prices
from respons.statistics.service import all_municipality_names
from respons.economy import invoice_files as invoices
from respons.statistics.report_model import MONTHS
from respons.store.journal import JournalUnavailable
from respons.domain.alarm_types import ALARM_TYPES
from respons.formatting import duration
from respons.web import i18n, labels
from respons.web.access import Principal
from respons.economy import words  # noqa: F401  (registers the pages' words)
from respons.web.bounds import INT_MAX, DbId
from respons.web.pages import PageRefused, done, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/economy", include_in_schema=False)
host = page_access(Role.HOST_ADMIN)
readers = page_access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)


def invoice_scope(principal: Principal) -> frozenset[int] | None:
    """None: every municipality (the host administrator); else the administrator's own."""
    return None if principal.has(Role.HOST_ADMIN) else principal.scope.registry


@router.get("")
def overview(request: Request, principal: Principal = Depends(readers)):
    return _overview_page(request, invoice_scope(principal))


def _overview_page(request: Request, scope: frozenset[int] | None, *, typed: dict | None = None,
                   error: str | None = None, status_code: int = 200):
    """The host's runs (drafts too) and the form for a new one; a municipality's approved
    invoices with its own totals."""
    today = runtime(request).clock().astimezone(OSLO).date()
    with runtime(request).engine.connect() as conn:
        rows = []
        for run in invoicing.runs(conn, approved_only=scope is not None):
            document = invoices.load(conn, run.id, scope)
            if invoicing.visible(document, scope):  # not an approved run without this municipality's lines
                rows.append((run, document))
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    typed = typed or {"from": last_month.strftime("%Y-%m"), "months": "1"}
    return render(request, "economy/overview.html", status_code=status_code, rows=rows, host=scope is None,
                  error=error, typed=typed, **_invoice_words(request))


@router.post("/runs")
async def create_run(request: Request, principal: Principal = Depends(host)):
    form = await request.form()
    typed = {"from": str(form.get("from", "")).strip(), "months": str(form.get("months", "1")).strip()}
    rt = runtime(request)
    try:
        year, month = (int(part) for part in typed["from"].split("-"))
        period = InvoicePeriod(date(year, month, 1), int(typed["months"]))
    except ValueError:
        return _overview_with_error(request, typed, _t(request)("economy.error.period"))
    try:
        outcome = await run_in_threadpool(invoicing.compute_and_store, rt.engine, period, actor=principal.actor,
                                          clock=rt.clock)
    except invoicing.InvoiceRefused as refused:
        return _overview_with_error(request, typed, _refusal(request, refused))
    if outcome.run_id is None:
        with rt.engine.connect() as conn:
            document = invoices.load(conn, outcome.approved_run_id)
        return render(request, "economy/differences.html", outcome=outcome, document=document,
                      **_invoice_words(request))
    return done(request, f"/economy/runs/{outcome.run_id}")


def _overview_with_error(request: Request, typed: dict, error: str):
    return _overview_page(request, None, typed=typed, error=error, status_code=422)


def _t(request: Request):
    return i18n.translator(i18n.language_of(request))


def _refusal(request: Request, refused: Exception) -> str:
    """An engine's refusal in the reader's language, by the name the engine gave it; one it
    has not named, as it wrote it (bokmål). A database outage says so, not its reason code:
    the forms catch ``JournalUnavailable`` themselves, rather than leave it to the app's
    error page (web/unavailable.py), so that what the person typed is kept for another try."""
    t = _t(request)
    if isinstance(refused, JournalUnavailable):
        return t("error.503")
    key = f"economy.refusal.{getattr(refused, 'key', None)}"
    return t(key, **refused.params) if key in i18n.CATALOGUE else str(refused)


def _invoice_words(request: Request) -> dict:
    """The invoice as a page shows it: title, months and units in the reader's language (the
    exported documents keep bokmål, economy/invoice_files.py)."""
    language = i18n.language_of(request)
    t = i18n.translator(language)

    def run_title(document) -> str:
        return t("economy.run_title", span=document.span(MONTHS[language]), state=t(f"economy.run_state.{document.state}"))

    def unit(line) -> str:
        key = f"economy.unit.{line.kind}"
        return t(key) if key in i18n.CATALOGUE else line.unit

    def line_label(description: str) -> str:
        # A component the host gave no label stored the domain's bokmål default on its lines
        # (the documents keep it): a page says it in the reader's language, as ``describe`` does.
        default = _DEFAULT_LABELS.get(description)
        return t(f"economy.component.label.{default}") if default else description

    return {"run_title": run_title, "unit": unit, "month_names": MONTHS[language], "line_label": line_label}


_DEFAULT_LABELS = {cls.__dataclass_fields__["label"].default: cls.__name__
                   for cls in (PerUserMonth, PerEvent, PerSupervision, BudgetShare, PerInhabitant)}


def _visible_run(conn, run_id: int, scope: frozenset[int] | None):
    """The run as this caller may see it (``invoicing.visible``), or 404."""
    document = invoices.load(conn, run_id, scope)
    if not invoicing.visible(document, scope):
        raise PageRefused(404, "error.404")
    return document


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: DbId, principal: Principal = Depends(readers)):
    scope = invoice_scope(principal)
    with runtime(request).engine.connect() as conn:
        document = _visible_run(conn, run_id, scope)
    return render(request, "economy/run.html", document=document, host=scope is None, error=None,
                  **_invoice_words(request))


@router.post("/runs/{run_id}/approve")
async def approve(request: Request, run_id: DbId, principal: Principal = Depends(host)):
    return await _change(request, principal, run_id, invoicing.approve, f"/economy/runs/{run_id}")


@router.post("/runs/{run_id}/discard")
async def discard(request: Request, run_id: DbId, principal: Principal = Depends(host)):
    return await _change(request, principal, run_id, invoicing.discard, "/economy")


async def _change(request: Request, principal: Principal, run_id: int, unit, done_url: str):
    rt = runtime(request)
    with rt.engine.connect() as conn:
        _visible_run(conn, run_id, None)
    try:
        await run_in_threadpool(invoicing.change_in_own_transaction, rt.engine, unit, run_id, actor=principal.actor,
                                now=rt.clock())
    except invoicing.InvoiceRefused as refused:
        with rt.engine.connect() as conn:
            document = _visible_run(conn, run_id, None)
        return render(request, "economy/run.html", status_code=409, document=document, host=True,
                      error=_refusal(request, refused), **_invoice_words(request))
    return done(request, done_url)


@router.get("/runs/{run_id}/export.{file_format}")
def export(request: Request, run_id: DbId, file_format: str, principal: Principal = Depends(readers)):
    renderers = {"pdf": ("application/pdf", invoices.to_pdf),
                 "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", invoices.to_xlsx),
                 "csv": ("text/csv; charset=utf-8", invoices.to_csv)}
    if file_format not in renderers:
        raise PageRefused(404, "error.404")
    with runtime(request).engine.connect() as conn:
        document = _visible_run(conn, run_id, invoice_scope(principal))
    media, renderer = renderers[file_format]
    return Response(renderer(document), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="respons-faktura-{run_id}.{file_format}"'})


@router.get("/lines/{line_id}")
async def line_page(request: Request, line_id: DbId, principal: Principal = Depends(readers)):
    """What a line counted: the recipients (by name) and their active days, or the alarms.
    Names are personal data: the look is written to the audit log before it is shown."""
    scope = invoice_scope(principal)
    rt = runtime(request)
    with rt.engine.connect() as conn:
        found = invoicing.line_owner(conn, line_id)
        if found is None or (scope is not None and found.municipality_id not in scope):
            raise PageRefused(404, "error.404")
        document = _visible_run(conn, found.run_id, scope)
        line = next(line for line in document.lines if line.id == line_id)
        people, events = invoicing.line_contents(conn, line, InvoicePeriod(document.first, document.months))
    await rt.journal.run(lambda conn: invoicing.record_line_look(conn, line, recipients=len(people),
                                                                 actor=principal.actor, now=rt.clock()))
    return render(request, "economy/line.html", document=document, line=line, people=people, events=events,
                  **_invoice_words(request))


@router.get("/planner")
def planner(request: Request, days: int = Query(90, ge=7, le=366), target_share: float = Query(0.95, gt=0, lt=1),
            target_seconds: int = Query(60, ge=5, le=600), minimum: int = Query(2, ge=1, le=10),
            year: int | None = Query(None, ge=2000, le=2100), other_costs: Decimal = Query(Decimal(0), ge=0, le=10**12),
            principal: Principal = Depends(host)):
    """Operators per hour and shift from the measured alarms, what the staff costs, and the
    cost per unit and per alarm that gives with the year's measured volumes (seed 001's
    comparison of real centres)."""
    rt = runtime(request)
    year = year or rt.clock().astimezone(OSLO).year
    with rt.engine.connect() as conn:
        measured = staffing_plans.measured(conn, now=rt.clock(), days=days)
        units, alarms_in_year = staffing_plans.measured_volumes(conn, year=year)
    plan = staffing_plans.plan(measured, target_share=target_share, target_seconds=target_seconds, minimum=minimum)
    costs = cost_figures(CentreCosts(plan.yearly_cost, goods_and_services=other_costs), units=units, alarms=alarms_in_year)
    return render(request, "economy/planner.html", duration=lambda s: duration(s, i18n.language_of(request)),
                  measured=measured, plan=plan, days=days, target_share=target_share,
                  target_seconds=target_seconds, minimum=minimum, peak=max(plan.operators_by_hour, default=0),
                  year=year, other_costs=other_costs, costs=costs)


# --- price models, budgets and deflators ------------------------------------------------------

EXAMPLE_COMPONENTS = ('[{"kind": "per_user_month", "price": "106.97", "label": "Full responstjeneste"},\n'
                      ' {"kind": "per_event", "price": "12.50", "alarm_types": ["geofence_exit"], "label": "GPS"},\n'
                      ' {"kind": "budget_share", "budget": "svartjeneste"},\n'
                      ' {"kind": "per_inhabitant", "price": "3.00", "due": "01-15"}]')


def describe(component, language: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A component in a sentence in ``language``, for the price model list: device kinds and
    alarm types by name, never by code (the JSON the host types has the codes)."""
    t = i18n.translator(language)
    # A component the host gave no label has the domain's bokmål default: named in the
    # reader's language instead (the invoice document keeps the default).
    default = getattr(type(component), "__dataclass_fields__", {}).get("label")
    label = component.label
    if default is not None and label == default.default:
        label = t(f"economy.component.label.{type(component).__name__}")
    match component:
        case PerUserMonth():
            share = f" × {component.share * 100:.0f} %" if component.share != 1 else ""
            kinds = (t("economy.component.with_devices", kinds=", ".join(labels.device_kind(t, k) for k in
                                                                         sorted(component.device_kinds)))
                     if component.device_kinds else "")
            return t("economy.component.per_user_month", label=label, price=component.price, share=share,
                     kinds=kinds)
        case PerEvent():
            types = ", ".join(sorted((ALARM_TYPES[a].label_en if language == "en" else ALARM_TYPES[a].label_nb)
                                     if a in ALARM_TYPES else a for a in component.alarm_types))
            return t("economy.component.per_event", label=label, price=component.price, types=types)
        case PerSupervision():
            return t("economy.component.per_supervision", label=label, price=component.price)
        case BudgetShare():
            return t("economy.component.budget_share", label=label, budget=component.budget)
        case PerInhabitant():
            return t("economy.component.per_inhabitant", label=label, price=component.price,
                     due=f"{component.due_day:02d}.{component.due_month:02d}")
    return str(component)


def _prices_page(request: Request, *, status_code: int = 200, error: str | None = None, typed: dict | None = None):
    with runtime(request).engine.connect() as conn:
        models = prices.listing(conn)
        budget_rows, deflator_rows = prices.year_rows(conn)
        names = all_municipality_names(conn)
    year = runtime(request).clock().astimezone(OSLO).year
    typed = {"valid_from": f"{year + 1}-01", "base_year": str(year + 1), "components": EXAMPLE_COMPONENTS,
             "year": str(year + 1), **(typed or {})}
    return render(request, "economy/prices.html", status_code=status_code, models=models,
                  describe=lambda component: describe(component, i18n.language_of(request)),
                  budgets=budget_rows, deflators=deflator_rows, names=names, error=error, typed=typed)


@router.get("/prices")
def prices_page(request: Request, principal: Principal = Depends(host)):
    return _prices_page(request)


@router.post("/prices")
async def add_price_model(request: Request, principal: Principal = Depends(host)):
    form = await request.form()
    typed = {k: str(form.get(k, "")).strip() for k in ("municipality_id", "valid_from", "base_year", "components")}
    rt = runtime(request)
    try:
        year, month = (int(part) for part in typed["valid_from"].split("-"))
        valid_from = date(year, month, 1)
        components = json.loads(typed["components"])
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise ValueError
        municipality_id, base_year = int(typed["municipality_id"]), int(typed["base_year"])
        if not (2000 <= year <= 2100 and 2000 <= base_year <= 2100 and 1 <= municipality_id <= INT_MAX):
            raise ValueError
    except ValueError:
        return _prices_page(request, status_code=422, typed=typed, error=_t(request)("economy.error.model_form"))
    try:
        await rt.journal.run(lambda conn: prices.add_model(
            conn, municipality_id=municipality_id, valid_from=valid_from, base_year=base_year,
            components=components, actor=principal.actor, now=rt.clock()))
    except (PriceModelError, JournalUnavailable) as refused:
        return _prices_page(request, status_code=422, typed=typed, error=_refusal(request, refused))
    return done(request, "/economy/prices")


@router.post("/budgets")
async def set_budget(request: Request, principal: Principal = Depends(host)):
    form = await request.form()
    typed = {k: str(form.get(k, "")).strip() for k in ("year", "name", "amount", "fixed_share")}
    rt = runtime(request)
    try:
        year = int(typed["year"])
        if not 2000 <= year <= 2100:
            raise ValueError
        await rt.journal.run(lambda conn: prices.set_budget(
            conn, centre_id=invoicing.only_centre_id(conn), year=year, name=typed["name"], amount=typed["amount"],
            fixed_share=typed["fixed_share"], actor=principal.actor, now=rt.clock()))
    except ValueError as refused:  # PriceModelError is one
        message = _refusal(request, refused) if isinstance(refused, PriceModelError) else _t(request)("economy.error.year")
        return _prices_page(request, status_code=422, typed=typed, error=message)
    except (invoicing.InvoiceRefused, JournalUnavailable) as refused:
        return _prices_page(request, status_code=422, typed=typed, error=_refusal(request, refused))
    return done(request, "/economy/prices")


@router.post("/deflators")
async def set_deflator(request: Request, principal: Principal = Depends(host)):
    form = await request.form()
    typed = {k: str(form.get(k, "")).strip() for k in ("deflator_year", "percent", "source")}
    rt = runtime(request)
    try:
        year = int(typed["deflator_year"])
        if not 2000 <= year <= 2100:
            raise ValueError
        await rt.journal.run(lambda conn: prices.set_deflator(
            conn, year=year, percent=typed["percent"], source=typed["source"], actor=principal.actor, now=rt.clock()))
    except ValueError as refused:
        message = _refusal(request, refused) if isinstance(refused, PriceModelError) else _t(request)("economy.error.year")
        return _prices_page(request, status_code=422, typed=typed, error=message)
    except JournalUnavailable as refused:
        return _prices_page(request, status_code=422, typed=typed, error=_refusal(request, refused))
    return done(request, "/economy/prices")
