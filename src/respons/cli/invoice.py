"""``respons invoice …``: invoice runs from the command line (docs/economy.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import typer
from rich.table import Table

from respons.cli.common import CLI_ACTOR, console, municipality_id, output_path, refuse, transaction
from respons.economy.pricing import InvoicePeriod
from respons.economy import invoicing
from respons.economy import invoice_files as invoices

invoice_app = typer.Typer(help="Invoice runs: compute, approve, show and export (docs/economy.md).",
                          no_args_is_help=True)


@invoice_app.command("run")
def invoice_run(
    start: datetime = typer.Option(..., "--from", formats=["%Y-%m"], help="The first month, e.g. 2026-01."),
    months: int = typer.Option(1, "--months", min=1, max=12, help="How many whole months (within one year)."),
    centre: Optional[int] = typer.Option(None, "--centre", help="The centre's id; default: the only centre."),
) -> None:
    """Compute every municipality's invoice for the months and store it as a draft. If the
    period is already approved, nothing is stored and the differences are shown."""
    period = InvoicePeriod(start.date().replace(day=1), months)
    with console.status("Counting active users and events …"), transaction() as (conn, now):
        try:
            outcome = invoicing.run(conn, invoicing.centre_to_invoice(conn, centre), period, actor=CLI_ACTOR, now=now)
        except invoicing.CentreNotChosen as unclear:
            refuse(f"No centre {unclear.requested}." if unclear.requested is not None
                   else f"There are {unclear.count} centres; say which with --centre.")
        except invoicing.InvoiceRefused as refused:
            refuse(str(refused))
    if outcome.run_id is None:
        console.print(f"The period is approved (run {outcome.approved_run_id}); nothing was stored.", markup=False)
        if not outcome.differences:
            console.print("Computed again, every line is the same.")
            return
        table = Table(title="Differences from the approved run")
        for column in ("Municipality id", "Line", "Approved (NOK)", "Now (NOK)"):
            table.add_column(column)
        for d in outcome.differences:
            table.add_row(str(d.municipality_id), d.description, "–" if d.approved is None else f"{d.approved:.2f}",
                          "–" if d.now is None else f"{d.now:.2f}")
        console.print(table)
        return
    console.print(f"Draft run {outcome.run_id}: {outcome.lines} lines, {outcome.total:,.2f} NOK. "
                  f"Check it with `respons invoice show {outcome.run_id}`, then approve it.", markup=False)


@invoice_app.command("approve")
def invoice_approve(run_id: int = typer.Argument(..., help="The draft run to approve.")) -> None:
    """Approve a draft run. An approved run can never be changed."""
    with transaction() as (conn, now):
        try:
            invoicing.approve(conn, run_id, actor=CLI_ACTOR, now=now)
        except invoicing.InvoiceRefused as refused:
            refuse(str(refused))
    console.print(f"Run {run_id} is approved.")


@invoice_app.command("show")
def invoice_show(run_id: int = typer.Argument(...),
                 municipality: Optional[str] = typer.Option(None, "--municipality", help="Kommunenummer.")) -> None:
    """Print a run's lines, per municipality."""
    document = _read(run_id, municipality)
    if document is None:
        refuse(f"No invoice run {run_id}.")
    table = Table(title=document.title)
    for column in ("Municipality", "Line", "Quantity", "Unit", "Price", "Amount (NOK)"):
        table.add_column(column, justify="right" if column in ("Quantity", "Price", "Amount (NOK)") else "left")
    for mid, lines, subtotal in document.by_municipality():
        name = document.names[mid][1]
        for line in lines:
            table.add_row(name, line.description, str(line.quantity), line.unit,
                          "" if line.unit_price is None else f"{line.unit_price:.2f}", f"{line.amount:,.2f}")
        table.add_row(name, "Sum", "", "", "", f"{subtotal:,.2f}", end_section=True)
    console.print(table)
    console.print(f"Total {document.total:,.2f} NOK", markup=False)


RENDERERS = {"pdf": invoices.to_pdf, "xlsx": invoices.to_xlsx, "csv": lambda d: invoices.to_csv(d).encode()}


@invoice_app.command("export")
def invoice_export(
    run_id: int = typer.Argument(...),
    file_format: str = typer.Option("pdf", "--format", help="pdf, xlsx or csv."),
    municipality: Optional[str] = typer.Option(None, "--municipality", help="Only this kommunenummer."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write; default respons-invoice-<run>.<format> in RESPONS_OUTPUT_DIR."),
) -> None:
    """Write a run (or one municipality's part of it) as PDF, XLSX or CSV."""
    if file_format not in RENDERERS:
        refuse(f"Unknown format {file_format!r}; use pdf, xlsx or csv.", 2)
    with console.status("Reading the run …"):
        document = _read(run_id, municipality)
    if document is None:
        refuse(f"No invoice run {run_id}.")
    with console.status(f"Writing the {file_format.upper()} …"):
        body = RENDERERS[file_format](document)
    path = output_path(out, f"respons-invoice-{run_id}.{file_format}")
    path.write_bytes(body)
    console.print(f"Wrote {path} ({len(body):,} bytes): {document.title}, {len(document.lines)} lines.", markup=False)


def _read(run_id: int, municipality: Optional[str]) -> Optional[invoices.InvoiceDocument]:
    """The run, or only the named municipality's part of it; None if there is no such run."""
    with transaction() as (conn, _):
        scope = None if municipality is None else frozenset({municipality_id(conn, municipality)})
        return invoices.load(conn, run_id, scope)
