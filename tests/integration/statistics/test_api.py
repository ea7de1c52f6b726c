"""Statistics over HTTP on both databases: the figures of an Oslo period, the CSV read back,
scope, and the audit record of every export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import alarms as service
from respons.engine import receiving
from respons.statistics.service import CSV_COLUMNS
from respons.settings import Settings
from respons.store.tables import audit_log
from respons.web.app import create_app
from tests.factories import FakeClock, people_logged_in, seed_registry

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(engine):
    registry = seed_registry(engine)
    own, foreign = registry.municipality_ids[:2]

    def alarm(municipality, at, kind="button_press", answered_after=None):
        with engine.begin() as conn:
            alarm_id = receiving.receive(conn, receiving.NewAlarm(municipality, None, None, alarm_type(kind), "http", "test", at),
                                       now=at, answer_deadline=timedelta(seconds=60)).alarm_id
            if answered_after is not None:
                service.answer(conn, alarm_id, actor="user:1", visible_to=None, now=at + timedelta(seconds=answered_after))
        return alarm_id

    alarm(own, datetime(2026, 10, 31, 22, 59, tzinfo=timezone.utc))  # 23:59 on 31 October in Oslo
    november = [alarm(own, datetime(2026, 10, 31, 23, 1, tzinfo=timezone.utc), answered_after=12),  # 00:01 on 1 November
                alarm(own, datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc), "fall", answered_after=75)]
    alarm(foreign, datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc))
    return own, foreign, november


@pytest.fixture
def client(migrated_url, engine):
    clock = FakeClock(NOW)
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)

    with people_logged_in(app, engine, clock) as as_user:
        yield as_user


def test_a_municipality_reads_its_own_month_and_exports_it_for_power_bi(world, client, engine):
    own, foreign, november = world
    marit = client("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    figures = marit.get(f"/api/v1/statistics/key-figures?municipality_id={own}&period=month&date=2026-11-15").json()
    assert (figures["from"], figures["received"], figures["by_type"]) == ("2026-11-01", 2, {"button_press": 1, "fall": 1})
    assert (figures["to_centre"], figures["answered_within_target"], figures["share_answered_within_target"]) == (2, 1, 0.5)
    assert "frequent_recipients" not in figures

    response = marit.get(f"/api/v1/statistics/alarms.csv?municipality_id={own}&period=month&date=2026-11-15")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="respons-9000-month-2026-11-01.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["alarm_id"], r["received_at_oslo"], r["answer_seconds"], r["answered_within_60s"]) for r in rows] == [
        (november[0], "2026-11-01T00:01:00+0100", "12.0", "true"),
        (november[1], "2026-11-20T15:00:00+0100", "75.0", "false"),
    ]

    assert marit.get(f"/api/v1/statistics/key-figures?municipality_id={foreign}").status_code == 404
    with engine.connect() as conn:
        exports = conn.execute(select(audit_log.c.actor, audit_log.c.municipality_id, audit_log.c.details)
                               .where(audit_log.c.action == audit.EXPORT)).all()
    assert [(e.municipality_id, e.details["report"]) for e in exports] == [(own, "key_figures"), (own, "alarms_csv")], \
        "both exports audited; the refused one is not an export"


def test_the_host_sees_every_municipality(world, client):
    own, foreign, _ = world
    hanne = client("hanne", [(Role.HOST_ADMIN, None)])
    for municipality in (own, foreign):
        figures = hanne.get(f"/api/v1/statistics/key-figures?municipality_id={municipality}&date=2026-11-15").json()
        assert figures["received"] == (2 if municipality == own else 1)


def test_the_half_year_report_as_pdf_and_xlsx_read_back(world, client, engine):
    import openpyxl
    from pypdf import PdfReader

    own, _, november = world
    marit = client("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    query = f"municipality_id={own}&period=half_year&date=2026-11-15"
    pdf = marit.get(f"/api/v1/statistics/report.pdf?{query}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="respons-9000-half_year-2026-07-01.pdf"'
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Responstjenesten for Testkommune 0: 2. halvår 2026" in text
    assert "Besvart innen 60 sekunder" in text and "33,3 % av 3" in text, "October's unanswered alarm is in the half year too"
    assert "Alarmer per måned" in text and "Hva tallene betyr" in text

    workbook = openpyxl.load_workbook(io.BytesIO(marit.get(f"/api/v1/statistics/report.xlsx?{query}").content))
    assert workbook.sheetnames == ["Nøkkeltall", "Måneder", "Alarmer"]
    figures = {row[0]: row[1] for row in workbook["Nøkkeltall"].iter_rows(min_row=3, values_only=True)}
    assert figures["Alarmer mottatt"] == "3"
    months = list(workbook["Måneder"].iter_rows(min_row=2, values_only=True))
    assert [(m[0], m[1]) for m in months] == [("oktober 2026", 1), ("november 2026", 2)]
    alarms = list(workbook["Alarmer"].iter_rows(values_only=True))
    assert tuple(alarms[0]) == CSV_COLUMNS and {r[0] for r in alarms[1:]} >= set(november)
    assert marit.get(f"/api/v1/statistics/report.doc?{query}").status_code == 404


def test_the_yearly_report_across_municipalities_covers_the_callers_scope(world, client, engine):
    import openpyxl
    from pypdf import PdfReader

    from respons.deviations import service as deviations

    own, foreign, _ = world
    with engine.begin() as conn:
        deviations.register(conn, municipality_id=own, category="cooperation", title="Avtale ikke fulgt", actor="user:1",
                            now=datetime(2026, 5, 5, tzinfo=timezone.utc))
    hanne = client("hanne", [(Role.HOST_ADMIN, None)])
    book = openpyxl.load_workbook(io.BytesIO(hanne.get("/api/v1/statistics/yearly-report.xlsx?year=2026").content))
    rows = {r[1]: r for r in book["2026"].iter_rows(min_row=2, values_only=True)}
    assert (rows["Testkommune 0"][2], rows["Testkommune 1"][2], rows["Samlet"][2]) == (3, 1, 4)
    assert [tuple(r) for r in book["Avvik"].iter_rows(max_row=1, values_only=True)] == [("Avvik", 1)]
    # The category by its bokmål name, never its code.
    assert ("Kategori: Samarbeid/avtale", 1) in [tuple(r) for r in book["Avvik"].iter_rows(values_only=True)]
    text = PdfReader(io.BytesIO(hanne.get("/api/v1/statistics/yearly-report.pdf?year=2026").content)).pages[0].extract_text()
    assert "Responstjenesten i samarbeidet: 2026" in text and "Testkommune 1 (9001)" in text and "Samlet" in text

    marit = client("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    book = openpyxl.load_workbook(io.BytesIO(marit.get("/api/v1/statistics/yearly-report.xlsx?year=2026").content))
    assert {r[1] for r in book["2026"].iter_rows(min_row=2, values_only=True)} == {"Testkommune 0", "Samlet"}


def test_a_months_report_has_its_month_sheet_and_the_mean_answer_time(world, client):
    """Issue 14: the month XLSX has the *Måneder* sheet the docs list; the mean answer time is
    published in the API, the PDF and the workbook; the figures use decimal commas in Norwegian."""
    import openpyxl
    from pypdf import PdfReader

    own, _, _ = world
    marit = client("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    query = f"municipality_id={own}&period=month&date=2026-11-15"
    figures = marit.get(f"/api/v1/statistics/key-figures?{query}").json()
    assert figures["answer_seconds"]["mean"] == pytest.approx(43.5), "(12 + 75) / 2"
    assert figures["handled_by_home_care"] == 0

    workbook = openpyxl.load_workbook(io.BytesIO(marit.get(f"/api/v1/statistics/report.xlsx?{query}").content))
    assert workbook.sheetnames == ["Nøkkeltall", "Måneder", "Alarmer"]
    header, *months = list(workbook["Måneder"].iter_rows(values_only=True))
    row = dict(zip(header, months[0]))
    assert len(months) == 1 and (row["Måned"], row["Alarmer mottatt"]) == ("november 2026", 2)
    assert (row["Svartid, snitt (s)"], row["Andel innen 60 s"]) == (43.5, 0.5)

    pdf = marit.get(f"/api/v1/statistics/report.pdf?{query}")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "snitt 44 s, median 44 s" in text and "50,0 % av 2" in text
    assert "Håndtert direkte av hjemmetjenesten" in text
