"""``respons report …``: key figures and report files for municipalities."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Optional

import typer
from rich.table import Table

from respons.cli.common import (
    CLI_ACTOR,
    console,
    date_option,
    municipality_id,
    municipality_option,
    output_path,
    parse_period,
    period_option,
    period_request,
    refuse,
    transaction,
)
from respons.registry.service import every_municipality_id
from respons.clock import system_clock
from respons.statistics.rules import KeyFigures
from respons.statistics import service as statistics
from respons.statistics import report_model as model

report_app = typer.Typer(help="Statistics and reports for municipalities (key figures from the alarm timeline).",
                         no_args_is_help=True)

FILE_FORMATS = ("pdf", "xlsx")


@report_app.command("figures")
def report_figures(
    municipality: str = municipality_option(),
    period: str = period_option("day, week, month, half_year or year."),
    on: Optional[datetime] = date_option(),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm",
                                              help="Home-care minutes an alarm cleared at the centre saves."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Key figures of one municipality for one Oslo calendar period. The export is audited."""
    chosen = parse_period(period)
    now = system_clock()
    with transaction() as (conn, _):
        wanted = period_request(conn, municipality, chosen, on, now)
        statistics.record_export(conn, wanted, actor=CLI_ACTOR, what="key_figures", now=now)
        figures = statistics.figures(conn, wanted, now=now, minutes_per_cleared_alarm=minutes_per_cleared)
    first = wanted.first_day
    if as_json:
        document = {"municipality": municipality, "period": chosen.value, "from": first.isoformat(), **asdict(figures),
                    "share_answered_within_target": figures.share_answered_within_target,
                    "clearance_rate": figures.clearance_rate, "escalation_share": figures.escalation_share}
        typer.echo(json.dumps(document, default=str, ensure_ascii=False, indent=2))
        return
    console.print(_figures_table(figures, title=f"Kommune {municipality}, {chosen.value} from {first.isoformat()}"))


@report_app.command("file")
def report_file(
    municipality: str = municipality_option(),
    period: str = period_option("month, half_year or year (also day, week)."),
    on: Optional[datetime] = date_option(),
    file_format: str = typer.Option("pdf", "--format", help="pdf or xlsx."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write; default respons-<number>-<period>-<from>.<format> in RESPONS_OUTPUT_DIR."),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm"),
) -> None:
    """Write one municipality's report for one Oslo period as PDF or XLSX. The export is audited."""
    from respons.statistics import report_pdf as pdf# see _check_format
    from respons.statistics import report_xlsx as xlsx

    _check_format(file_format)
    chosen = parse_period(period)
    now = system_clock()
    with console.status("Reading the period's alarms …"), transaction() as (conn, _):
        wanted = period_request(conn, municipality, chosen, on, now)
        statistics.record_export(conn, wanted, actor=CLI_ACTOR, what=f"report_{file_format}", now=now)
        report = model.build(conn, wanted, now=now, minutes_per_cleared_alarm=minutes_per_cleared,
                             per_alarm=file_format == "xlsx")
    with console.status(f"Writing the {file_format.upper()} …"):
        body = pdf.render(report) if file_format == "pdf" else xlsx.render(report)
    path = output_path(out, f"respons-{report.municipality_number}-{chosen.value}-{wanted.first_day.isoformat()}.{file_format}")
    path.write_bytes(body)
    console.print(f"Wrote {path} ({len(body):,} bytes): {report.title}, {report.figures.received} alarms.", markup=False)


@report_app.command("collaboration")
def report_collaboration(
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="The calendar year (Oslo)."),
    municipality: Optional[list[str]] = typer.Option(None, "--municipality",
                                                     help="Kommunenummer; repeat for several. Default: every one."),
    file_format: str = typer.Option("pdf", "--format", help="pdf or xlsx."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write; default respons-<year>.<format> in RESPONS_OUTPUT_DIR."),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm"),
) -> None:
    """Write the yearly report across the collaboration (one row per municipality, the totals
    and the year's deviations) as PDF or XLSX. Audited as an export of every municipality in it."""
    from respons.statistics import report_pdf as pdf# see _check_format
    from respons.statistics import report_xlsx as xlsx

    _check_format(file_format)
    now = system_clock()
    with console.status(f"Summing {year} …") as status, transaction() as (conn, _):
        if municipality:
            scope = frozenset(municipality_id(conn, number) for number in municipality)
        else:
            scope = every_municipality_id(conn)
        model.record_year_export(conn, scope, year, actor=CLI_ACTOR, what=f"yearly_report_{file_format}", now=now)
        status.update(f"Summing {year} for {len(scope)} municipalities …")
        report = model.build_year(conn, scope, year, now=now, minutes_per_cleared_alarm=minutes_per_cleared)
    with console.status(f"Writing the {file_format.upper()} …"):
        body = pdf.render_year(report) if file_format == "pdf" else xlsx.render_year(report)
    path = output_path(out, f"respons-{year}.{file_format}")
    path.write_bytes(body)
    console.print(f"Wrote {path} ({len(body):,} bytes): {report.title}, {len(report.rows)} municipalities, "
                  f"{report.total.received} alarms, {report.deviations.total} deviations.", markup=False)


def _check_format(file_format: str) -> None:
    # The renderers (reportlab, openpyxl) are imported in the commands that write files, not at
    # the top: they take long to import, and every other command would wait for them.
    if file_format not in FILE_FORMATS:
        refuse(f"Unknown format {file_format!r}; use pdf or xlsx.", 2)


def _figures_table(k: KeyFigures, *, title: str) -> Table:
    def share(value) -> str:
        return "–" if value is None else f"{value * 100:.1f} %"

    def seconds(d) -> str:
        if not d.count:
            return "–"
        return f"median {d.median:.0f} s, p90 {d.p90:.0f} s, max {d.max:.0f} s ({d.count})"

    table = Table(title=title, show_header=False)
    rows = [
        ("Alarms received", str(k.received)),
        ("Answered within 60 s (target 95 %)", f"{share(k.share_answered_within_target)} of {k.to_centre}"
                                               + (f" ({k.pending_answer} waiting)" if k.pending_answer else "")),
        ("Answer time", seconds(k.answer_seconds)),
        ("Cleared at the centre (avklaringsrate)", f"{share(k.clearance_rate)} of {k.resolved_by_centre}"),
        ("Dispatches", ", ".join(f"{name}: {n}" for name, n in k.dispatches.items())),
        ("Routed directly / escalated to the centre", f"{k.routed_direct} / {k.escalated} ({share(k.escalation_share)})"),
        ("Home care: accepted after", seconds(k.accept_seconds)),
        ("Home care: arrived after", seconds(k.arrival_seconds)),
        ("Missing responses", str(k.missing_responses)),
        ("Technical alarms / devices lost", f"{k.technical} / {k.devices_lost}"),
        ("Hours saved for home care", f"{k.hours_saved:.1f}"),
        ("By category", ", ".join(f"{c}: {n}" for c, n in sorted(k.by_category.items()))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
