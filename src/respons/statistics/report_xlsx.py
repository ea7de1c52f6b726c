"""The report as an XLSX workbook: a sheet of key figures, one of months (for half years and
years) and, when the report was built ``per_alarm``, one row per alarm with the CSV's columns
(``engine/statistics.CSV_COLUMNS``)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from openpyxl import Workbook
from openpyxl.styles import Font

from respons.statistics.rules import Period
from respons.statistics.service import CSV_COLUMNS, fact_values
from respons.statistics.report_model import Report, category_nb, key_rows, period_title


def render(report: Report) -> bytes:
    book = Workbook()
    figures = book.active
    figures.title = "Nøkkeltall"
    figures.append([report.title])
    figures["A1"].font = Font(bold=True, size=14)
    figures.append([])
    for name, value in key_rows(report.figures):
        figures.append([name, value])
    figures.column_dimensions["A"].width = 42
    figures.column_dimensions["B"].width = 70

    # Month by month: a half year's or year's months, or a month's own row, so every report
    # from a month up has the same sheet for a spreadsheet to pick up (docs/statistics.md).
    months_of = report.months or ([(report.first_day, report.figures)] if report.period is Period.MONTH else [])
    if months_of:
        months = book.create_sheet("Måneder")
        months.append(["Måned", "Alarmer mottatt", "Til responssenteret", "Besvart innen 60 s", "Andel innen 60 s",
                       "Svartid, snitt (s)", "Svartid, median (s)", "Avklart av senteret", "Avklaringsrate",
                       "Hjemmetjenesten sendt av senteret", "Håndtert direkte av hjemmetjenesten", "Timer spart"])
        for first_day, k in months_of:
            months.append([period_title(Period.MONTH, first_day), k.received, k.to_centre,
                           k.answered_within_target, k.share_answered_within_target, _round(k.answer_seconds.mean),
                           _round(k.answer_seconds.median), k.cleared_at_centre, k.clearance_rate,
                           k.dispatches.get("home_care_dispatched", 0), k.handled_by_home_care, k.hours_saved])
        for column in (5, 9):
            for row in months.iter_rows(min_row=2, min_col=column, max_col=column):
                row[0].number_format = "0.0%"

    if report.alarms is not None:
        alarms = book.create_sheet("Alarmer")
        alarms.append(list(CSV_COLUMNS))
        for f in report.alarms:
            alarms.append([_naive_utc(v) if isinstance(v, datetime) else v
                           for v in fact_values(f, report.municipality_number)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _naive_utc(moment):
    # Spreadsheets have no time zones: UTC, as the column names say.
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment else None



def render_year(report) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = str(report.year)
    sheet.append(["Kommunenummer", "Kommune", "Alarmer mottatt", "Til responssenteret", "Besvart innen 60 s",
                  "Andel innen 60 s", "Avklart av senteret", "Avklaringsrate", "Direkterutet", "Eskalert",
                  "Manglende respons", "Timer spart"])
    for number, name, k in [*report.rows, ("", "Samlet", report.total)]:
        sheet.append([number, name, k.received, k.to_centre, k.answered_within_target, k.share_answered_within_target,
                      k.cleared_at_centre, k.clearance_rate, k.routed_direct, k.escalated, k.missing_responses,
                      k.hours_saved])
    deviations = book.create_sheet("Avvik")
    d = report.deviations
    deviations.append(["Avvik", d.total])
    deviations.append(["Foreslått av systemet", d.proposed_by_system])
    deviations.append(["Forslag avvist", d.dismissed])
    for category, n in sorted(d.by_category.items()):
        deviations.append([f"Kategori: {category_nb(category)}", n])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
