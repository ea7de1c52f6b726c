"""`respons report figures` against a real database: the figures of one Oslo month, audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from respons.auth import audit
from respons.cli import app
from respons.domain.alarm_types import alarm_type
from respons.engine import alarms as service
from respons.engine import receiving
from respons.store.tables import audit_log
from tests.factories import seed_registry


def receive(engine, municipality_id, recipient_id, at, kind="button_press"):
    with engine.begin() as conn:
        return receiving.receive(conn, receiving.NewAlarm(municipality_id, recipient_id, None, alarm_type(kind), "http", "test", at),
                               now=at, answer_deadline=timedelta(seconds=60)).alarm_id


def test_the_figures_of_one_oslo_month_are_printed_and_the_export_audited(cli, engine):
    registry = seed_registry(engine)
    mid, other = registry.municipality_ids[:2]
    rid = registry.recipient_ids[0]
    # 31 October 23:30 in Oslo is 22:30 UTC: October. 1 November 00:30 Oslo is 31 October 23:30 UTC: November.
    receive(engine, mid, rid, datetime(2026, 10, 31, 22, 30, tzinfo=timezone.utc))
    november = [receive(engine, mid, rid, datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc)),
                receive(engine, mid, rid, datetime(2026, 11, 12, 8, 0, tzinfo=timezone.utc), "fall")]
    answered_at = datetime(2026, 11, 12, 8, 0, 45, tzinfo=timezone.utc)
    with engine.begin() as conn:
        service.answer(conn, november[1], actor="user:1", visible_to=None, now=answered_at)
    receive(engine, other, registry.recipient_ids[-1], datetime(2026, 11, 12, 9, 0, tzinfo=timezone.utc))

    result = cli.invoke(app, ["report", "figures", "--municipality", "9000", "--period", "month", "--date", "2026-11-15",
                              "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["from"] == "2026-11-01" and figures["received"] == 2
    assert figures["by_type"] == {"button_press": 1, "fall": 1}
    assert figures["answered_within_target"] == 1 and figures["to_centre"] == 2, "45 s in time; the other never answered"
    assert figures["answer_seconds"]["median"] == 45
    with engine.connect() as conn:
        exported = conn.execute(select(audit_log).where(audit_log.c.action == audit.EXPORT)).all()
    assert [(e.actor, e.municipality_id, e.purpose) for e in exported] == [("cli", mid, "statistics")]

    table = cli.invoke(app, ["report", "figures", "--municipality", "9000", "--date", "2026-11-15"])
    assert table.exit_code == 0 and "Answered within 60 s" in table.output and "50.0 %" in table.output
    assert cli.invoke(app, ["report", "figures", "--municipality", "9000", "--period", "fortnight"]).exit_code == 2


def test_a_yearly_report_file_is_written_and_reads_back(cli, engine, tmp_path):
    import openpyxl
    from pypdf import PdfReader

    registry = seed_registry(engine)
    receive(engine, registry.municipality_ids[0], registry.recipient_ids[0], datetime(2026, 3, 3, 8, 0, tzinfo=timezone.utc))
    target = tmp_path / "aar.pdf"
    result = cli.invoke(app, ["report", "file", "--municipality", "9000", "--period", "year", "--date", "2026-05-01",
                              "--out", str(target)])
    assert result.exit_code == 0, result.output
    text = PdfReader(target).pages[0].extract_text()
    assert "Responstjenesten for Testkommune 0: 2026" in text and "Alarmer mottatt" in text
    sheet = tmp_path / "aar.xlsx"
    assert cli.invoke(app, ["report", "file", "--municipality", "9000", "--period", "year", "--date", "2026-05-01",
                            "--format", "xlsx", "--out", str(sheet)]).exit_code == 0
    months = [r[:2] for r in openpyxl.load_workbook(sheet)["Måneder"].iter_rows(min_row=2, values_only=True)]
    assert months == [("mars 2026", 1)]
    assert cli.invoke(app, ["report", "file", "--municipality", "9000", "--format", "docx"]).exit_code == 2


def test_the_yearly_report_across_the_collaboration_is_written_and_every_municipality_audited(cli, engine, tmp_path):
    import openpyxl
    from pypdf import PdfReader

    registry = seed_registry(engine)
    first, second = registry.municipality_ids[:2]
    receive(engine, first, registry.recipient_ids[0], datetime(2026, 3, 3, 8, 0, tzinfo=timezone.utc))
    receive(engine, second, registry.recipient_ids[-1], datetime(2026, 6, 3, 8, 0, tzinfo=timezone.utc))
    receive(engine, second, registry.recipient_ids[-1], datetime(2025, 12, 31, 22, 30, tzinfo=timezone.utc))  # 23:30 in Oslo: 2025
    sheet = tmp_path / "samarbeid.xlsx"
    result = cli.invoke(app, ["report", "collaboration", "--year", "2026", "--format", "xlsx", "--out", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "2 municipalities, 2 alarms" in result.output
    rows = {r[1]: r[2] for r in openpyxl.load_workbook(sheet)["2026"].iter_rows(min_row=2, values_only=True)}
    assert rows == {"Testkommune 0": 1, "Testkommune 1": 1, "Samlet": 2}
    with engine.connect() as conn:
        exported = conn.execute(select(audit_log.c.municipality_id, audit_log.c.details)
                                .where(audit_log.c.action == audit.EXPORT)).all()
    assert sorted((e.municipality_id, e.details["report"]) for e in exported) == [
        (first, "yearly_report_xlsx"), (second, "yearly_report_xlsx")]

    target = tmp_path / "samarbeid.pdf"
    only = cli.invoke(app, ["report", "collaboration", "--year", "2026", "--municipality", "9001", "--out", str(target)])
    assert only.exit_code == 0, only.output
    text = PdfReader(target).pages[0].extract_text()
    assert "Testkommune 1 (9001)" in text and "Testkommune 0" not in text
    assert cli.invoke(app, ["report", "collaboration", "--year", "2026", "--municipality", "0000"]).exit_code == 1
