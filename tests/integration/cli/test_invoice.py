"""`respons invoice …` against a real database: a January run, its exports read back, approval,
and an approved period computed again (docs/economy.md)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select, update

from respons.cli import app
from respons.economy.invoice_files import CSV_COLUMNS
from respons.store.tables import invoice_runs, service_periods


def test_a_run_is_computed_exported_approved_and_compared_again(cli, engine, economy_world, tmp_path):
    import openpyxl
    from pypdf import PdfReader

    _, a, b, people = economy_world
    result = cli.invoke(app, ["invoice", "run", "--from", "2026-01"])
    assert result.exit_code == 0, result.output
    run_id = int(re.search(r"Draft run (\d+): 6 lines, 194,296.47 NOK", result.output).group(1))

    shown = cli.invoke(app, ["invoice", "show", str(run_id), "--municipality", "9001"])
    assert shown.exit_code == 0 and "Kun backup" in shown.output and "Full responstjeneste" not in shown.output

    target = tmp_path / "januar.csv"
    assert cli.invoke(app, ["invoice", "export", str(run_id), "--format", "csv", "--out", str(target)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["municipality_number"], r["description"], r["amount_nok"]) for r in rows][:2] == [
        ("9000", "Full responstjeneste", "259.13"), ("9000", "GPS og digitalt tilsyn", "39.12")]
    assert sum(float(r["amount_nok"]) for r in rows) == pytest.approx(194296.47)

    sheet = tmp_path / "januar.xlsx"
    assert cli.invoke(app, ["invoice", "export", str(run_id), "--format", "xlsx", "--out", str(sheet)]).exit_code == 0
    summary = {r[1]: r[2] for r in openpyxl.load_workbook(sheet)["Sammendrag"].iter_rows(min_row=4, values_only=True)}
    assert summary == {"Testkommune 0": pytest.approx(158948.25), "Testkommune 1": pytest.approx(35348.22),
                       "Samlet": pytest.approx(194296.47)}

    pdf = tmp_path / "januar.pdf"
    assert cli.invoke(app, ["invoice", "export", str(run_id), "--out", str(pdf)]).exit_code == 0
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    assert len(pages) == 2, "one page per municipality"
    assert "Faktura for responstjenesten: januar 2026 (utkast)" in pages[0] and "Testkommune 0" in pages[0]
    assert "158 948,25" in pages[0] and "forfall 15.01.2026" in pages[0]

    assert cli.invoke(app, ["invoice", "approve", str(run_id)]).exit_code == 0
    assert "allerede godkjent" in cli.invoke(app, ["invoice", "approve", str(run_id)]).output
    same = cli.invoke(app, ["invoice", "run", "--from", "2026-01"])
    assert same.exit_code == 0 and "every line is the same" in same.output

    with engine.begin() as conn:  # found out late: one of B's recipients left on 16 January
        conn.execute(update(service_periods).where(service_periods.c.recipient_id == people[b][0])
                     .values(ends_on=date(2026, 1, 16)))
    changed = cli.invoke(app, ["invoice", "run", "--from", "2026-01"])
    # (31 + 31 + 15) / 31 months × 32.74 = 81.32, where 98.22 was approved.
    assert "nothing was stored" in changed.output and "Kun backup" in changed.output
    assert "98.22" in changed.output and "81.32" in changed.output
    with engine.connect() as conn:
        assert conn.execute(select(invoice_runs.c.id)).scalars().all() == [run_id]

    refused = cli.invoke(app, ["invoice", "run", "--from", "2026-12", "--months", "2"])
    assert refused.exit_code == 1 and "ett kalenderår" in refused.output
