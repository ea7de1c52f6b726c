"""An invoice run as CSV, XLSX and PDF: one row per line, grouped by municipality, with the
run's period, state and totals. The CSV's columns are a contract like the statistics CSV
(docs/economy.md): add new ones at the end, never rename. The documents are in bokmål,
whatever the language of whoever downloads them: they are the invoices sent to municipalities
(as the statistics reports are, docs/statistics.md); the pages show a run in their reader's
language."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.economy.pricing import InvoicePeriod
from respons.economy.invoicing import StoredLine, stored_lines
from respons.statistics.report_model import MONTHS_NB
from respons.store.tables import invoice_runs, municipalities

CSV_COLUMNS = ("run_id", "run_state", "period_from", "period_to", "municipality_number", "municipality", "line_id",
               "description", "kind", "quantity", "unit", "unit_price_nok", "amount_nok", "due_on")


@dataclass(frozen=True)
class InvoiceDocument:
    run_id: int
    state: str
    first: date
    months: int
    names: dict[int, tuple[str, str]]  # municipality id -> (number, name)
    lines: list[StoredLine]

    @property
    def end(self) -> date:
        return InvoicePeriod(self.first, self.months).end

    def span(self, month_names: tuple[str, ...] = MONTHS_NB) -> str:
        """The months covered ("november 2026", "januar–mars 2026"), in the names given."""
        last = InvoicePeriod(self.first, self.months).month_starts()[-1]
        return (f"{month_names[self.first.month - 1]} {self.first.year}" if self.months == 1 else
                f"{month_names[self.first.month - 1]}–{month_names[last.month - 1]} {last.year}")

    @property
    def title(self) -> str:
        """The documents' title, in bokmål: they are sent to municipalities (a page says it in
        its reader's language, economy/pages.py)."""
        state = "godkjent" if self.state == "approved" else "utkast"
        return f"Faktura for responstjenesten: {self.span()} ({state})"

    def by_municipality(self) -> list[tuple[int, list[StoredLine], Decimal]]:
        grouped: dict[int, list[StoredLine]] = {}
        for line in self.lines:
            grouped.setdefault(line.municipality_id, []).append(line)
        return [(mid, lines, sum((line.amount for line in lines), Decimal(0)))
                for mid, lines in sorted(grouped.items(), key=lambda kv: self.names[kv[0]][1])]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def load(conn: Connection, run_id: int, municipality_ids: frozenset[int] | None = None) -> InvoiceDocument | None:
    """The run as a document, limited to ``municipality_ids`` (a municipality sees its own)."""
    run = conn.execute(select(invoice_runs).where(invoice_runs.c.id == run_id)).first()
    if run is None:
        return None
    lines = stored_lines(conn, run_id, municipality_ids)
    ids = {line.municipality_id for line in lines}
    names = {r.id: (r.number, r.name) for r in conn.execute(
        select(municipalities.c.id, municipalities.c.number, municipalities.c.name)
        .where(municipalities.c.id.in_(sorted(ids))))}
    return InvoiceDocument(run.id, run.state, run.period_first, run.months, names, lines)


def _nok(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


# Cells a spreadsheet would take for a formula (OWASP's CSV injection): a price model's label
# and a municipality's name are typed by people, and the invoice goes to other municipalities.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = frozenset({"run_state", "municipality", "description", "kind", "unit"})


def spreadsheet_text(value: str) -> str:
    """Text a spreadsheet shows as text: one that would start a formula gets a leading '."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _rows(document: InvoiceDocument) -> list[list]:
    rows = []
    for mid, lines, _ in document.by_municipality():
        number, name = document.names[mid]
        for line in lines:
            rows.append([document.run_id, document.state, document.first.isoformat(), document.end.isoformat(),
                         number, name, line.id, line.description, line.kind, str(line.quantity), line.unit,
                         _nok(line.unit_price), _nok(line.amount), line.due_on.isoformat() if line.due_on else ""])
    return rows


def to_csv(document: InvoiceDocument) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(document):
        writer.writerow([spreadsheet_text(value) if column in TEXT_COLUMNS else value
                         for value, column in zip(row, CSV_COLUMNS)])
    return out.getvalue()


def to_xlsx(document: InvoiceDocument) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    summary = book.active
    summary.title = "Sammendrag"
    summary.append([document.title])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([])
    summary.append(["Kommunenummer", "Kommune", "Beløp (NOK)"])
    for mid, _, subtotal in document.by_municipality():
        summary.append([*document.names[mid], float(subtotal)])
        _as_text(summary[summary.max_row][1])
    summary.append(["", "Samlet", float(document.total)])
    for row in summary.iter_rows(min_row=4, min_col=3, max_col=3):
        row[0].number_format = "#,##0.00"
    lines = book.create_sheet("Linjer")
    lines.append(list(CSV_COLUMNS))
    for row in _rows(document):
        lines.append([_typed(str(value), column) for value, column in zip(row, CSV_COLUMNS)])
        for cell, column in zip(lines[lines.max_row], CSV_COLUMNS):
            if column in TEXT_COLUMNS:
                _as_text(cell)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _as_text(cell) -> None:
    """A text cell stays text: openpyxl makes any string that starts with = a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"


def _typed(value: str, column: str):
    if value == "":
        return None
    if column in ("run_id", "line_id"):
        return int(value)
    if column in ("quantity", "unit_price_nok", "amount_nok"):
        return float(value)  # a spreadsheet's number; the CSV keeps the exact decimal text
    return value


def to_pdf(document: InvoiceDocument) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=document.title, author="Respons", leftMargin=2 * cm,
                            rightMargin=2 * cm, topMargin=2 * cm, bottomMargin=2 * cm)
    styles = getSampleStyleSheet()
    story = []
    for index, (mid, lines, subtotal) in enumerate(document.by_municipality()):
        number, name = document.names[mid]
        if index:
            story.append(PageBreak())
        story += [Paragraph(document.title, styles["Title"]),
                  Paragraph(f"{name} (kommunenummer {number}). Fakturakjøring {document.run_id}, "
                            f"periode {document.first:%d.%m.%Y}–{document.end:%d.%m.%Y} (til og med dagen før).",
                            styles["Normal"]), Spacer(1, 0.5 * cm)]
        rows = [["Linje", "Mengde", "Enhet", "Pris", "Beløp (NOK)"]]
        for line in lines:
            due = f" (forfall {line.due_on:%d.%m.%Y})" if line.due_on else ""
            rows.append([line.description + due, _quantity_text(line.quantity), line.unit,
                         _amount_text(line.unit_price), _amount_text(line.amount)])
        rows.append(["Sum", "", "", "", _amount_text(subtotal)])
        table = Table(rows, colWidths=[6.5 * cm, 2.5 * cm, 2.6 * cm, 2.2 * cm, 3.2 * cm])
        table.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"), ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
            ("FONTSIZE", (0, 0), (-1, -1), 9), ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
        ]))
        story.append(table)
    if not story:
        story.append(Paragraph(document.title + ": ingen linjer.", styles["Normal"]))
    doc.build(story)
    return out.getvalue()


def _amount_text(value: Decimal | None) -> str:
    """Norwegian style: a space between thousands, a comma before the øre."""
    if value is None:
        return "–"
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def _quantity_text(value: Decimal) -> str:
    return f"{value:,}".replace(",", " ").replace(".", ",")
