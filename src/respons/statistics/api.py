"""Key figures and the per-alarm export for municipalities, their administrators and the
host (docs/statistics.md). Each request is an export of a municipality's data and is written
to the audit log before the answer is sent."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from respons.domain.access import Role
from respons.statistics.rules import OSLO, Period
from respons.statistics import service
from respons.statistics import report_model as model
from respons.statistics import report_pdf as pdf
from respons.statistics import report_xlsx as xlsx
from respons.web.access import Principal, access, not_found
from respons.web.errors import ErrorOut
from respons.web.bounds import FIRST_REPORT_YEAR, LAST_REPORT_YEAR, DbId, ReportDate, Text
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/statistics", tags=["statistics"])
STATISTICS_ROLES = (Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN, Role.AUDITOR)
MINUTES_PER_CLEARED_ALARM = 30.0
ERRORS = {404: {"model": ErrorOut, "description": "No such municipality in your statistics scope."}}
DAY = f"A day in the period (Oslo calendar, {FIRST_REPORT_YEAR}–{LAST_REPORT_YEAR}); default today."
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _request(request: Request, principal: Principal, municipality_id: int, period: Period, on: date | None,
                   what: str) -> service.PeriodRequest:
    if municipality_id not in principal.scope.statistics:
        raise not_found("municipality")
    rt = runtime(request)
    wanted = service.PeriodRequest.containing(municipality_id, period, on or rt.clock().astimezone(OSLO).date())
    await rt.journal.run(lambda conn: service.record_export(conn, wanted, actor=principal.actor, what=what, now=rt.clock()))
    return wanted


@router.get("/key-figures", summary="Key figures of one municipality for one Oslo period", responses=ERRORS)
async def key_figures(
    request: Request,
    municipality_id: Annotated[DbId, Query()],
    period: Period = Query(Period.MONTH),
    on: ReportDate | None = Query(None, alias="date", description=DAY),
    principal: Principal = Depends(access(*STATISTICS_ROLES)),
) -> dict[str, Any]:
    wanted = await _request(request, principal, municipality_id, period, on, "key_figures")
    rt = runtime(request)
    with rt.engine.connect() as conn:
        k = service.figures(conn, wanted, now=rt.clock(), minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
        documented = service.documentation(conn, wanted)
        talked = service.voice_calls(conn, wanted)
        supervised = service.supervision(conn, wanted, now=rt.clock(), minutes_per_visit=rt.settings.supervision_visit_minutes)
        messaged = service.messages(conn, wanted)
    body = asdict(k)
    body.pop("frequent_recipients")  # who calls most is for the municipality's own follow-up, not an export
    return {"municipality_id": municipality_id, "period": period.value, "from": wanted.first_day.isoformat(),
            **body, "share_answered_within_target": k.share_answered_within_target, "clearance_rate": k.clearance_rate,
            "escalation_share": k.escalation_share,
            "documentation": {**asdict(documented), "share_within_target": documented.share_within_target},
            "calls": {**asdict(talked), "calls_per_alarm": talked.calls_per_alarm,
                      "talk_seconds_per_alarm": talked.talk_seconds_per_alarm},
            "supervision": {**asdict(supervised), "share_on_time": supervised.share_on_time,
                            "minutes_per_visit": rt.settings.supervision_visit_minutes},
            "messages": {channel: {**asdict(c), "share_delivered": c.share_delivered} for channel, c in messaged.items()}}


@router.get("/alarms.csv", summary="One row per alarm of one municipality and Oslo period (for Power BI)",
            responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
async def alarms_csv(
    request: Request,
    municipality_id: Annotated[DbId, Query()],
    period: Period = Query(Period.MONTH),
    on: ReportDate | None = Query(None, alias="date", description=DAY),
    principal: Principal = Depends(access(*STATISTICS_ROLES)),
) -> Response:
    wanted = await _request(request, principal, municipality_id, period, on, "alarms_csv")
    rt = runtime(request)
    with rt.engine.connect() as conn:
        rows = service.facts(conn, wanted)
        number = service.municipality_names(conn, frozenset({municipality_id}))[municipality_id][0]
    name = f"respons-{number}-{period.value}-{wanted.first_day.isoformat()}.csv"
    return Response(service.facts_csv(rows, number), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/report.{file_format}", summary="The period's report as PDF or XLSX",
            responses={**ERRORS, 200: {"content": {"application/pdf": {}, XLSX: {}}}})
async def report_file(
    request: Request,
    file_format: Annotated[Text, Path(description="`pdf` or `xlsx`.")],
    municipality_id: Annotated[DbId, Query()],
    period: Period = Query(Period.MONTH),
    on: ReportDate | None = Query(None, alias="date", description=DAY),
    principal: Principal = Depends(access(*STATISTICS_ROLES)),
) -> Response:
    if file_format not in ("pdf", "xlsx"):
        raise not_found("report format")
    wanted = await _request(request, principal, municipality_id, period, on, f"report_{file_format}")
    rt = runtime(request)
    with rt.engine.connect() as conn:
        report = model.build(conn, wanted, now=rt.clock(), minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM,
                             per_alarm=file_format == "xlsx")
    body, media = (pdf.render(report), "application/pdf") if file_format == "pdf" else (xlsx.render(report), XLSX)
    name = f"respons-{report.municipality_number}-{period.value}-{wanted.first_day.isoformat()}.{file_format}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/yearly-report.{file_format}", summary="The year across every municipality in scope, PDF or XLSX",
            responses={404: {"model": ErrorOut, "description": "No such report format (pdf or xlsx)."}, 200: {"content": {"application/pdf": {}, XLSX: {}}}})
async def yearly_report(
    request: Request,
    file_format: Annotated[Text, Path(description="`pdf` or `xlsx`.")],
    year: int = Query(..., ge=FIRST_REPORT_YEAR, le=LAST_REPORT_YEAR),
    principal: Principal = Depends(access(*STATISTICS_ROLES)),
) -> Response:
    if file_format not in ("pdf", "xlsx"):
        raise not_found("report format")
    rt = runtime(request)
    scope = principal.scope.statistics

    def record(conn):
        for municipality_id in sorted(scope):
            service.record_export(conn, service.PeriodRequest(municipality_id, Period.YEAR, date(year, 1, 1)),
                                  actor=principal.actor, what=f"yearly_report_{file_format}", now=rt.clock())

    await rt.journal.run(record)
    with rt.engine.connect() as conn:
        report = model.build_year(conn, scope, year, now=rt.clock(), minutes_per_cleared_alarm=MINUTES_PER_CLEARED_ALARM)
    body, media = (pdf.render_year(report), "application/pdf") if file_format == "pdf" else (xlsx.render_year(report), XLSX)
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="respons-{year}.{file_format}"'})
