"""Statistics dashboards in the browser: a municipality's key figures for an Oslo period,
with a bar chart by hour of day, the CSV for Power BI, and a drill-down to the alarms behind
a figure. The host and the centre's auditors choose any municipality; a municipality's
administrator or auditor sees their own (``Scope.statistics``). Every page is an export of
the municipality's data and is written to the audit log before it is shown.

The chart is SVG drawn on the server: no chart library, nothing to load, readable without
JavaScript, and each bar carries its number as text for screen readers.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from respons.domain.access import Role
from respons.domain.alarm_types import ALARM_TYPES
from respons.statistics.rules import OSLO, Period
from respons.statistics import service
from respons.statistics import report_model as model
from respons.web import i18n
from respons.web.bounds import FIRST_REPORT_YEAR, INT_MAX, LAST_REPORT_YEAR
from respons.web.access import Principal
from respons.statistics.api import MINUTES_PER_CLEARED_ALARM
from respons.web.pages import PageRefused, page_access, render
from respons.web.runtime import runtime
from respons.web.console import words as _console_words  # noqa: F401  (outcome names)
from respons.statistics import words# noqa: F401  (registers the pages' words)

router = APIRouter(prefix="/stats", include_in_schema=False)
statistics_page = page_access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN, Role.AUDITOR)


class BadParameter(Exception):
    """A page's query cannot be read: answered with the page in the reader's language and
    what to fix (422), not the framework's JSON."""

    def __init__(self, message_key: str, value: str = ""):
        self.message_key, self.value = message_key, value


def _bad(request: Request, exc: BadParameter):
    return render(request, "statistics/bad_request.html", status_code=422, message_key=exc.message_key,
                  value=exc.value)


def _parameters(municipality_id: str | None, period: str | None, on: str | None, *,
                municipality_required: bool) -> tuple[int | None, Period, date | None]:
    """The query as typed (a bookmark, a hand-edited link, an empty date field), read here
    rather than by FastAPI, whose refusal is JSON. A missing or empty date means today, as
    on the dashboard."""
    if not municipality_id:
        if municipality_required:
            raise BadParameter("stats.bad.municipality_missing")
        chosen = None
    else:
        try:
            chosen = int(municipality_id)
        except ValueError:
            raise BadParameter("stats.bad.municipality", municipality_id) from None
        if not 1 <= chosen <= INT_MAX:  # beyond the column's range the database itself would refuse (500)
            raise BadParameter("stats.bad.municipality", municipality_id)
    try:
        wanted_period = Period(period or Period.MONTH.value)
    except ValueError:
        raise BadParameter("stats.bad.period", period or "") from None
    day = None
    if on:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise BadParameter("stats.bad.date", on) from None
        if not FIRST_REPORT_YEAR <= day.year <= LAST_REPORT_YEAR:
            # A day at the calendar's edge has a period that is not a datetime at all (500).
            raise BadParameter("stats.bad.year", on)
    return chosen, wanted_period, day


async def _chosen(request: Request, principal: Principal, municipality_id: int | None, period: Period, on: date | None,
                  what: str) -> tuple[service.PeriodRequest, dict[int, tuple[str, str]]]:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        names = service.municipality_names(conn, principal.scope.statistics)
    if not names:
        raise PageRefused(403, "error.403")
    if municipality_id is None:
        municipality_id = next(iter(names))
    if municipality_id not in names:
        raise PageRefused(404, "error.404")
    wanted = service.PeriodRequest.containing(municipality_id, period, on or rt.clock().astimezone(OSLO).date())
    await rt.journal.run(lambda conn: service.record_export(conn, wanted, actor=principal.actor, what=what, now=rt.clock()))
    return wanted, names


def _query(wanted: service.PeriodRequest) -> str:
    return f"municipality_id={wanted.municipality_id}&period={wanted.period.value}&date={wanted.first_day.isoformat()}"


@router.get("")
async def dashboard(request: Request, municipality_id: str | None = Query(None), period: str | None = Query(None),
                    on: str | None = Query(None, alias="date"), principal: Principal = Depends(statistics_page)):
    try:
        chosen, wanted_period, day = _parameters(municipality_id, period, on, municipality_required=False)
    except BadParameter as exc:
        return _bad(request, exc)
    wanted, names = await _chosen(request, principal, chosen, wanted_period, day, "dashboard")
    rt = runtime(request)
    now = rt.clock()
    with rt.engine.connect() as conn:
        figures = service.figures(conn, wanted, now=now, minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
        by_zone = service.breakdown(conn, wanted, "zone", now=now, minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
        by_category = service.breakdown(conn, wanted, "category", now=now,
                                        minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
        zones = service.zone_names(conn, wanted.municipality_id)
        documented = service.documentation(conn, wanted)
        talked = service.voice_calls(conn, wanted)
        supervised = service.supervision(conn, wanted, now=now, minutes_per_visit=rt.settings.supervision_visit_minutes)
        messaged = service.messages(conn, wanted)
    peak = max(figures.by_hour.values(), default=0)
    t = i18n.translator(i18n.language_of(request))
    # (label, drill-down key, figures): zones by name with recipients without a zone last.
    zone_parts = [(zones.get(z, t("stats.no_zone")) if z is not None else t("stats.no_zone"), "none" if z is None else z,
                   part) for z, part in sorted(by_zone.items(), key=lambda kv: (kv[0] is None, zones.get(kv[0], "")))]
    category_parts = [(t(f"category.{c}"), c, part) for c, part in sorted(by_category.items())]
    return render(request, "statistics/dashboard.html", wanted=wanted, names=names, k=figures, peak=peak,
                  periods=list(Period), query=_query(wanted), minutes=MINUTES_PER_CLEARED_ALARM,
                  type_label=_type_label(request), zone_parts=zone_parts, category_parts=category_parts,
                  documented=documented, talked=talked, supervised=supervised, messaged=messaged,
                  visit_minutes=rt.settings.supervision_visit_minutes)


@router.get("/alarms")
async def alarms(request: Request, municipality_id: str | None = Query(None), period: str | None = Query(None),
                 on: str | None = Query(None, alias="date"), show: str = Query("all"),
                 zone: str | None = Query(None), category: str | None = Query(None),
                 principal: Principal = Depends(statistics_page)):
    """The alarms behind a figure (all, or those not answered in time; of one zone or
    category): times, types, answer times and outcomes; no names. A row links to the
    alarm's card in the console for those who may open it (operators in whose scope the
    alarm is); there is no read-only timeline page for the other statistics roles."""
    try:
        chosen, wanted_period, day = _parameters(municipality_id, period, on, municipality_required=True)
        if show not in ("all", "late"):
            raise BadParameter("stats.bad.show", show)
        if zone is not None and zone != "none" and not (zone.isascii() and zone.isdigit()):
            raise BadParameter("stats.bad.zone", zone)
    except BadParameter as exc:
        return _bad(request, exc)
    wanted, names = await _chosen(request, principal, chosen, wanted_period, day, f"drill_down:{show}")
    rt = runtime(request)
    now = rt.clock()
    with rt.engine.connect() as conn:
        rows = service.facts(conn, wanted)
        zones = service.zone_names(conn, wanted.municipality_id)
    if show == "late":
        rows = [f for f in rows if f.answer_status(now) == "late"]
    if zone is not None:
        zone_id = None if zone == "none" else int(zone)
        rows = [f for f in rows if f.zone_id == zone_id]
    if category is not None:
        rows = [f for f in rows if f.category == category]
    opens_console = principal.has(Role.OPERATOR) and wanted.municipality_id in principal.scope.alarms
    return render(request, "statistics/alarms.html", wanted=wanted, names=names, rows=rows, show=show,
                  query=_query(wanted), oslo=OSLO, type_label=_type_label(request), zone=zone, zones=zones,
                  category=category, opens_console=opens_console)


def _type_label(request: Request):
    english = i18n.language_of(request) == "en"
    return lambda code: (ALARM_TYPES[code].label_en if english else ALARM_TYPES[code].label_nb) if code in ALARM_TYPES else code


@router.get("/report")
async def report(request: Request, municipality_id: str | None = Query(None), period: str | None = Query(None),
                 on: str | None = Query(None, alias="date"), principal: Principal = Depends(statistics_page)):
    """The period's report as a page to read or print: the PDF's content, in the browser."""
    try:
        chosen, wanted_period, day = _parameters(municipality_id, period, on, municipality_required=True)
    except BadParameter as exc:
        return _bad(request, exc)
    wanted, names = await _chosen(request, principal, chosen, wanted_period, day, "report_html")
    rt = runtime(request)
    with rt.engine.connect() as conn:
        built = model.build(conn, wanted, now=rt.clock(), minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
    # The page follows the reader's language; the PDF and XLSX it links to stay in bokmål,
    # the documents sent to the municipality (docs/statistics.md).
    language = i18n.language_of(request)
    if built.months:
        bars = [(model.MONTHS[language][d.month - 1][:3], k.received) for d, k in built.months]
    else:
        bars = [(f"{h:02d}", built.figures.by_hour.get(h, 0)) for h in range(24)]
    return render(request, "statistics/report.html", report=built, rows=model.key_rows(built.figures, language),
                  title=model.report_title(built.municipality, built.period, built.first_day, language),
                  explanations=model.EXPLANATIONS_BY_LANGUAGE[language], bars=bars,
                  peak=max((n for _, n in bars), default=0), query=_query(wanted),
                  months=[(model.period_title(Period.MONTH, d, language), k) for d, k in built.months],
                  share=lambda value: model.share(value, language))
