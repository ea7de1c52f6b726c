"""The statistics pages on both databases: a municipality's dashboard in both languages,
the drill-down to the alarms behind "not answered within 60 s", scope, and the audit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import alarms as service
from respons.engine import receiving
from respons.settings import Settings
from respons.store.tables import audit_log
from respons.web import i18n
from respons.web.app import create_app
from tests.factories import FakeClock, people_logged_in, seed_registry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
NB = i18n.translator("nb", strict=True)


@pytest.fixture
def world(engine):
    registry = seed_registry(engine)
    own, foreign = registry.municipality_ids[:2]
    ids = []
    for minutes, answered_after, kind in ((10, 20, "button_press"), (20, 95, "fall"), (30, None, "button_press")):
        at = NOW - timedelta(hours=2, minutes=-minutes)
        with engine.begin() as conn:
            alarm_id = receiving.receive(conn, receiving.NewAlarm(own, registry.recipient_ids[0], None, alarm_type(kind), "http",
                                                              "test", at), now=at, answer_deadline=timedelta(seconds=60)).alarm_id
            if answered_after is not None:
                service.answer(conn, alarm_id, actor="user:1", visible_to=None, now=at + timedelta(seconds=answered_after))
        ids.append(alarm_id)
    return own, foreign, ids


@pytest.fixture
def browser(migrated_url, engine):
    clock = FakeClock(NOW)
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with people_logged_in(app, engine, clock) as as_user:
        yield as_user


def test_the_dashboard_shows_the_municipalitys_figures_and_drills_down_to_the_late_alarms(world, browser, engine):
    own, foreign, (quick, slow, waiting) = world
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    page = marit.get("/stats")  # the own municipality, this month
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-figure="received">3<', html)
    assert NB("stats.within.value", share="33,3 %", total=3) in html, "20 s in time; 95 s and an unanswered one late"
    assert "/stats/alarms?municipality_id=" in html and "show=late" in html
    assert '<a href="/stats" aria-current="page">' in html, "the main navigation names the page"

    late = marit.get(f"/stats/alarms?municipality_id={own}&period=month&date=2026-11-23&show=late")
    assert late.status_code == 200
    listed = re.findall(r'data-alarm-id="([^"]+)"', late.text)
    assert listed == [slow, waiting]
    assert "Test0" not in late.text, "the drill-down shows no names"

    marit.cookies.set("respons_lang", "en")
    assert "Answered within 60 seconds" in marit.get("/stats").text

    assert marit.get(f"/stats?municipality_id={foreign}").status_code == 404
    with engine.connect() as conn:
        reports = [r.details["report"] for r in conn.execute(select(audit_log.c.details)
                                                             .where(audit_log.c.action == audit.EXPORT)
                                                             .order_by(audit_log.c.seq))]
    assert reports == ["dashboard", "drill_down:late", "dashboard"], "every page shown is logged; the refused one is not"


def test_the_host_chooses_among_every_municipality(world, browser):
    own, foreign, _ = world
    hanne = browser("hanne", [(Role.HOST_ADMIN, None)])
    page = hanne.get(f"/stats?municipality_id={foreign}&period=year&date=2026-06-01")
    assert page.status_code == 200
    options = re.findall(r'<option value="(\d+)"', page.text)
    assert {int(o) for o in options} >= {own, foreign}
    assert re.search(r'data-figure="received">0<', page.text)


def test_the_report_page_explains_every_figure(world, browser):
    own, _, _ = world
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    page = marit.get(f"/stats/report?municipality_id={own}&period=half_year&date=2026-11-23")
    assert page.status_code == 200
    assert "Responstjenesten for Testkommune 0: 2. halvår 2026" in page.text
    assert "Hva tallene betyr" in page.text and "Helsedirektoratet anbefaler minst 95 %" in page.text
    assert re.findall(r"<tr><td>(\w+ 2026)</td><td>(\d+)</td>", page.text) == [("november 2026", "3")]


def test_the_dashboard_breaks_the_figures_down_by_zone_and_category_and_drills_into_each(world, browser, engine):
    from respons.store.tables import recipients, zones

    own, _, (quick, slow, waiting) = world
    with engine.connect() as conn:
        zone_id, zone_name = conn.execute(select(zones.c.id, zones.c.name).join(recipients, recipients.c.zone_id == zones.c.id)
                                          .where(recipients.c.municipality_id == own)).first()
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    html = marit.get("/stats").text

    def part(table: str, name: str) -> tuple[str, str]:
        section = html[html.index(f'id="{table}"'):]
        section = section[:section.index("</table>")]
        row = re.search(rf'<th scope="row">{re.escape(name)}</th>\s*<td><a href="([^"]+)">(\d+)</a>', section)
        assert row, (table, name)
        return row.group(1).replace("&amp;", "&"), row.group(2)

    link, received = part("by-zone", zone_name)
    assert received == "3" and f"zone={zone_id}" in link
    assert re.findall(r'data-alarm-id="([^"]+)"', marit.get(link).text) == [quick, slow, waiting]
    assert part("by-category", NB("category.assistance"))[1] == "2"
    link, received = part("by-category", NB(f"category.{alarm_type('fall').category.value}"))
    assert received == "1"
    drilled = marit.get(link).text
    assert re.findall(r'data-alarm-id="([^"]+)"', drilled) == [slow]
    assert "/stats/alarms" in link and NB("stats.alarms.category", category=NB("category.fall")) in drilled
    assert marit.get(f"/stats/alarms?municipality_id={own}&zone=none").status_code == 200
    assert marit.get(f"/stats/alarms?municipality_id={own}&zone=DROP").status_code == 422


# --- issue 14: language and figures, bad parameters, links to the alarms -----------------


def test_one_decimal_separator_per_language_and_the_mean_answer_time(world, browser):
    own, _, _ = world
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    html = marit.get("/stats").text
    assert "33,3 %" in html and "33.3 %" not in html
    assert re.search(r'data-figure="mean">' + re.escape(NB("stats.mean.value", mean="58 s", n=2)), html), "(20 + 95) / 2"
    assert re.search(r'data-figure="hours-saved">0,0', html)
    report = marit.get(f"/stats/report?municipality_id={own}&period=month&date=2026-11-23").text
    assert "33,3 %" in report and "snitt 58 s" in report

    marit.cookies.set("respons_lang", "en")
    html = marit.get("/stats").text
    assert "33.3 %" in html and "33,3 %" not in html
    assert re.search(r'data-figure="hours-saved">0\.0', html)


def test_durations_over_two_minutes_are_shown_in_minutes(engine, browser):
    registry = seed_registry(engine)
    own = registry.municipality_ids[0]
    at = NOW - timedelta(hours=3)
    with engine.begin() as conn:
        alarm_id = receiving.receive(conn, receiving.NewAlarm(own, registry.recipient_ids[0], None, alarm_type("fall"), "http",
                                                          "test", at), now=at, answer_deadline=timedelta(seconds=60)).alarm_id
        service.answer(conn, alarm_id, actor="user:1", visible_to=None, now=at + timedelta(seconds=1550))
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    drilled = marit.get(f"/stats/alarms?municipality_id={own}&show=all").text
    assert "25 min 50 s" in drilled and "1550 s" not in drilled
    assert "25 min 50 s" in marit.get("/stats").text


def test_bad_report_parameters_answer_with_the_page_in_the_readers_language(world, browser):
    own, _, _ = world
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    bad = marit.get(f"/stats/report?municipality_id={own}&period=month&date=2026-13-45")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert NB("stats.bad.date", value="2026-13-45") in bad.text
    assert "detail" not in bad.text and 'lang="nb"' in bad.text
    missing = marit.get("/stats/report?period=month&date=2026-11-23")
    assert missing.status_code == 422 and NB("stats.bad.municipality_missing") in missing.text
    assert marit.get(f"/stats/report?municipality_id={own}&period=decade").status_code == 422
    assert marit.get(f"/stats/report?municipality_id={own}&period=month&date=").status_code == 200, "empty: today"

    marit.cookies.set("respons_lang", "en")
    english = marit.get(f"/stats/report?municipality_id={own}&period=month&date=tomorrow")
    assert english.status_code == 422
    assert i18n.translator("en", strict=True)("stats.bad.date", value="tomorrow") in english.text
    assert NB("stats.bad.title") not in english.text
    assert marit.get("/stats?date=31.12.2026").status_code == 422
    # The calendar's edges and ids beyond the column's range: the page says so, never a 500.
    for query in ("/stats?date=0001-01-01", "/stats/report?municipality_id={own}&date=9999-12-31",
                  "/stats/alarms?municipality_id={own}&date=0001-01-01", "/stats?municipality_id=100000000000000000000"):
        edge = marit.get(query.format(own=own))
        assert edge.status_code == 422 and edge.headers["content-type"].startswith("text/html"), query


def test_drill_down_rows_link_to_the_alarm_for_those_who_may_open_it(world, browser):
    own, _, (quick, slow, waiting) = world
    query = f"/stats/alarms?municipality_id={own}&period=month&date=2026-11-23&show=all"
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    assert "/console/alarms/" not in marit.get(query).text, "no console for an administrator: no dead links"
    olav = browser("olav", [(Role.OPERATOR, None), (Role.AUDITOR, None)])
    links = re.findall(r'href="/console/alarms/([^"]+)"', olav.get(query).text)
    assert links == [quick, slow, waiting]


def test_the_report_chart_is_drawn_like_the_dashboards(world, browser):
    own, _, _ = world
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    html = marit.get(f"/stats/report?municipality_id={own}&period=month&date=2026-11-23").text
    chart = html[html.index('<section class="stats-chart"'):]
    chart = chart[:chart.index("</section>")]
    assert 'viewBox="0 0 480 150"' in chart and chart.count('class="bar"') == 24
    assert re.findall(r'class="axis">(\d\d)<', chart) == ["00", "03", "06", "09", "12", "15", "18", "21"]
