"""The economy pages on both databases: the host computes, checks, drills into and approves a
January; a municipality's administrator sees only approved runs and only its own lines;
computing an approved period shows differences; the staffing planner."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from respons.auth import audit

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import audit_log
from respons.web import i18n
from respons.web.app import create_app
from tests.factories import ECONOMY_NOW as NOW
from tests.factories import FakeClock, people_logged_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def browser(migrated_url, engine, economy_world):
    app = create_app(Settings(database_url=migrated_url), FakeClock(NOW), run_timers=False)
    with people_logged_in(app, engine, FakeClock(NOW)) as as_user:
        yield as_user


def test_the_host_computes_checks_and_approves_and_a_municipality_sees_its_own_approved_invoice(browser, economy_world,
                                                                                              engine):
    _, a, b, people = economy_world
    hanne = browser("hanne", [(Role.HOST_ADMIN, None)])
    overview = hanne.get("/economy")
    assert overview.status_code == 200 and 'id="new-run"' in overview.text and 'value="2026-01"' in overview.text
    refused = hanne.post("/economy/runs", data={"from": "januar", "months": "1"}, headers=HTMX)
    assert refused.status_code == 422 and "ÅÅÅÅ-MM" in refused.text
    too_long = hanne.post("/economy/runs", data={"from": "2026-12", "months": "2"}, headers=HTMX)
    assert too_long.status_code == 422 and "ett kalenderår" in too_long.text

    made = hanne.post("/economy/runs", data={"from": "2026-01", "months": "1"}, headers=HTMX)
    run_url = made.headers["HX-Redirect"]
    run_id = int(re.fullmatch(r"/economy/runs/(\d+)", run_url).group(1))
    page = hanne.get(run_url).text
    assert "Faktura for responstjenesten: januar 2026 (utkast)" in page
    assert re.search(r'id="run-total">194 296,47<', page)
    assert page.count('class="data invoice-lines"') == 2 and 'id="approve-run"' in page
    # A component without a label of its own is named in the reader's language (the documents
    # keep bokmål); a label the host wrote is shown as written.
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "en")
    english = hanne.get(run_url).text
    assert "Share of the budget" in english and "Andel av budsjett" not in english
    assert "Full responstjeneste" in english
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "nb")

    line_ids = [int(i) for i in re.findall(r'data-line-id="(\d+)"', page)]
    users = hanne.get(f"/economy/lines/{line_ids[0]}").text
    counted = dict(re.findall(r'data-recipient-id="(\d+)"><td>[^<]+</td><td class="number">(\d+)<', users))
    assert counted == {str(people[a][0]): "31", str(people[a][1]): "21", str(people[a][2]): "20"}
    events = hanne.get(f"/economy/lines/{line_ids[1]}").text
    assert re.findall(r'data-alarm-id="([^"]+)"', events) == ["e-0", "e-1", "e-2"]
    with engine.connect() as conn:  # the names behind a line are personal data: the look is logged
        looks = conn.execute(select(audit_log.c.municipality_id, audit_log.c.details)
                             .where(audit_log.c.action == audit.EXPORT)).all()
    assert [(m, d["line"], d["recipients"]) for m, d in looks] == [(a, line_ids[0], 3), (a, line_ids[1], 0)]

    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, b)])
    assert "Ingen godkjente fakturaer" in marit.get("/economy").text, "a draft is the host's"
    assert marit.get(run_url).status_code == 404
    assert marit.post(f"/economy/runs/{run_id}/approve", headers=HTMX).status_code == 403

    approved = hanne.post(f"/economy/runs/{run_id}/approve", headers=HTMX)
    assert approved.headers["HX-Redirect"] == run_url
    assert "(godkjent)" in hanne.get(run_url).text and 'id="approve-run"' not in hanne.get(run_url).text
    again = hanne.post(f"/economy/runs/{run_id}/approve", headers=HTMX)
    assert again.status_code == 409 and "allerede godkjent" in again.text

    # In English the page says the run, its units and the engine's refusals in English; the
    # documents stay the bokmål invoice the municipality receives.
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "en")
    english = hanne.get(run_url).text
    assert "Invoice for the response service: January 2026 (approved)" in english
    assert "<td>user-months</td>" in english and "<td>events</td>" in english and "brukermåneder" not in english
    assert re.search(r'id="run-total">194,296.47<', english), "amounts with the English marks"
    assert "January 2026" in hanne.get("/economy").text
    refused_en = hanne.post(f"/economy/runs/{run_id}/discard", headers=HTMX)
    assert refused_en.status_code == 409 and "An approved invoice run cannot be deleted." in refused_en.text
    too_long_en = hanne.post("/economy/runs", data={"from": "2026-12", "months": "2"}, headers=HTMX)
    assert too_long_en.status_code == 422 and "An invoice period must lie within one calendar year" in too_long_en.text
    document = hanne.get(f"/economy/runs/{run_id}/export.csv").text
    assert "brukermåneder" in document and "user-months" not in document
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "nb")

    own = marit.get(run_url).text
    assert "Testkommune 1" in own and "Testkommune 0" not in own and "Full responstjeneste" not in own
    assert re.search(r'id="run-total">35 348,22<', own)
    assert marit.get(f"/economy/lines/{line_ids[0]}").status_code == 404, "another municipality's line"
    exported = marit.get(f"/economy/runs/{run_id}/export.csv")
    assert {r["municipality_number"] for r in csv.DictReader(io.StringIO(exported.text))} == {"9001"}
    assert marit.get(f"/economy/runs/{run_id}/export.doc").status_code == 404

    same = hanne.post("/economy/runs", data={"from": "2026-01", "months": "1"}, headers=HTMX)
    assert same.status_code == 200 and "alle linjene like" in same.text


def test_the_staffing_planner_turns_measured_alarms_into_shifts_staff_and_cost(browser, economy_world):
    hanne = browser("hanne", [(Role.HOST_ADMIN, None)])
    page = hanne.get("/economy/planner?days=30&minimum=2").text
    # No alarm reached the centre in the 30 days: every hour gets the minimum of two, so
    # 2-2-2: 336 h a week, 336 / 37.5 = 8.96 → 9 FTE, 9 × 1.2 = 10.8 → 11 staff.
    assert re.findall(r'data-shift="(\w+)">(\d+)<', page) == [("day", "2"), ("evening", "2"), ("night", "2")]
    assert re.search(r'data-figure="staff">11<', page)
    assert re.search(r'data-figure="yearly-cost">8 567 640 NOK<', page), "11 × 778,876.37"
    assert "antatt" in page, "no handling time measured: the assumed one is said"
    # Cost per unit and alarm: five recipients with the service on 31 December 2026 (one left
    # on 21 January), and the five alarms received in 2026 in Oslo (one at 00:30 on 1 January);
    # in 2025, none of either.
    costs = hanne.get("/economy/planner?days=30&year=2026&other_costs=432360").text
    assert re.search(r'data-figure="per-unit">1 800 000,00 NOK<', costs), "(8,567,640 + 432,360) / 5"
    assert re.search(r'data-figure="per-alarm">1 800 000,00 NOK<', costs)
    assert re.search(r'data-figure="per-alarm">–<', hanne.get("/economy/planner?year=2024").text)
    marit = browser("marit", [(Role.MUNICIPALITY_ADMIN, economy_world[2])])
    assert marit.get("/economy/planner").status_code == 403


def test_the_host_keeps_price_models_budgets_and_deflators(browser, economy_world, engine):
    from respons.store.tables import budgets, deflators, price_models

    _, a, b, _ = economy_world
    hanne = browser("hanne", [(Role.HOST_ADMIN, None)])
    page = hanne.get("/economy/prices").text
    assert "Full responstjeneste: 106.97 kr per bruker per måned" in page
    assert "GPS og digitalt tilsyn: 12.50 kr per hendelse (Digitalt tilsyn, Utenfor trygg sone)" in page, "alarm types by name"
    assert "Samarbeidsavgift per innbygger: 3.00 kr per innbygger, forfall 15.01" in page

    def add(components: str, valid_from: str = "2026-03"):
        return hanne.post("/economy/prices", data={"municipality_id": b, "valid_from": valid_from, "base_year": "2026",
                                                   "components": components}, headers=HTMX)

    assert "JSON-liste" in add("not json").text
    assert "Ukjent priskomponent &#39;per_hour&#39;" in add('[{"kind": "per_hour", "price": "1"}]').text
    assert add('[{"kind": "per_user_month", "price": "35.00", "label": "Kun backup"}]').headers["HX-Redirect"] == "/economy/prices"
    with engine.connect() as conn:
        b_models = conn.execute(select(price_models.c.valid_from, price_models.c.valid_to)
                                .order_by(price_models.c.valid_from)).all()[-2:]
    assert [tuple(m) for m in b_models] == [(date(2026, 1, 1), date(2026, 3, 1)), (date(2026, 3, 1), None)], \
        "the new model ends the one before"

    saved = hanne.post("/economy/budgets", data={"year": "2027", "name": "systemer", "amount": "400 000,00",
                                                 "fixed_share": "0,15"}, headers=HTMX)
    assert saved.headers["HX-Redirect"] == "/economy/prices"
    assert hanne.post("/economy/deflators", data={"deflator_year": "2027", "percent": "3,5"}, headers=HTMX).status_code == 200
    assert "i prosent" in hanne.post("/economy/deflators", data={"deflator_year": "2027", "percent": "mye"},
                                     headers=HTMX).text
    with engine.connect() as conn:
        assert conn.execute(select(budgets.c.amount_ore, budgets.c.fixed_share).where(budgets.c.year == 2027)).one() == (
            40_000_000, "0.15")
        assert conn.execute(select(deflators.c.rate).where(deflators.c.year == 2027)).scalar_one() == "0.035"

    # Once January is approved, its prices and its year's budgets and deflator stay as they were.
    run_id = int(hanne.post("/economy/runs", data={"from": "2026-01", "months": "1"}, headers=HTMX)
                 .headers["HX-Redirect"].rsplit("/", 1)[1])
    hanne.post(f"/economy/runs/{run_id}/approve", headers=HTMX)
    late = hanne.post("/economy/prices", data={"municipality_id": a, "valid_from": "2026-01", "base_year": "2026",
                                               "components": '[{"kind": "per_user_month", "price": "1.00"}]'}, headers=HTMX)
    assert late.status_code == 422 and "til og med 01.2026 er fakturert og godkjent" in late.text
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "en")
    late_en = hanne.post("/economy/prices", data={"municipality_id": a, "valid_from": "2026-01", "base_year": "2026",
                                                  "components": '[{"kind": "per_hour", "price": "1.00"}]'}, headers=HTMX)
    assert late_en.status_code == 422 and "Unknown price component &#39;per_hour&#39;" in late_en.text
    assert "Write the year with four digits." in hanne.post("/economy/budgets", data={"year": "next"}, headers=HTMX).text
    hanne.cookies.set(i18n.LANGUAGE_COOKIE, "nb")
    refused = hanne.post("/economy/deflators", data={"deflator_year": "2026", "percent": "9"}, headers=HTMX)
    assert refused.status_code == 422 and "godkjent" in refused.text
