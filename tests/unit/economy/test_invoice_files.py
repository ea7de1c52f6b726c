"""The invoice's files as a spreadsheet opens them: text that would start a formula stays text
(a price model's label and a municipality's name are typed by people, and the invoice goes to
other municipalities)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from respons.economy.invoice_files import CSV_COLUMNS, InvoiceDocument, spreadsheet_text, to_csv, to_xlsx
from respons.economy.invoicing import StoredLine

HOSTILE = '=HYPERLINK("http://example.invalid","Betal her")'


def document() -> InvoiceDocument:
    line = StoredLine(id=1, municipality_id=7, component=0, kind="per_event", description=HOSTILE,
                      quantity=Decimal(3), unit="-alarm", unit_price=Decimal("-13.04"), amount=Decimal("-39.12"),
                      due_on=None, basis={})
    return InvoiceDocument(run_id=5, state="draft", first=date(2026, 1, 1), months=1,
                           names={7: ("4206", "@Farsund")}, lines=[line])


def test_text_that_would_start_a_formula_is_marked_as_text_and_numbers_stay_numbers():
    assert [spreadsheet_text(t) for t in ("=1+1", "+47", "-x", "@sum", "\tx", "Farsund", "")] == [
        "'=1+1", "'+47", "'-x", "'@sum", "'\tx", "Farsund", ""]
    [row] = list(csv.DictReader(io.StringIO(to_csv(document()))))
    assert (row["description"], row["municipality"], row["unit"]) == ("'" + HOSTILE, "'@Farsund", "'-alarm")
    assert (row["amount_nok"], row["unit_price_nok"]) == ("-39.12", "-13.04")  # negative amounts are numbers


def test_the_spreadsheet_holds_the_labels_as_text_not_as_formulas():
    book = load_workbook(io.BytesIO(to_xlsx(document())))
    lines = book["Linjer"]
    cells = {column: cell for column, cell in zip(CSV_COLUMNS, lines[2])}
    assert (cells["description"].value, cells["description"].data_type) == (HOSTILE, "s")
    assert cells["amount_nok"].value == -39.12
    summary = book["Sammendrag"]
    assert (summary["B4"].value, summary["B4"].data_type) == ("@Farsund", "s")
