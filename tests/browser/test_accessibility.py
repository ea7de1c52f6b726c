"""Accessibility of the main pages, checked in real Chromium.

- axe-core (vendored, the de facto standard engine) finds no WCAG 2.1 A/AA violations:
  labels, contrast, names of controls, language of the page, landmarks, …
- Keyboard: pressing Tab reaches every visible control on the page, and each one shows
  where focus is (the operator at 03:00 must never lose the focus).
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.harness import interactive_elements, keyboard_walk, log_in, run_axe

LIVE = 10_000


def assert_accessible(page, what: str) -> None:
    violations = run_axe(page)
    assert violations == [], f"{what}: axe-core found WCAG violations: {violations}"
    stops = keyboard_walk(page)
    reached = {(s["tag"], s["id"], s["name"], s["text"]) for s in stops}
    controls = interactive_elements(page)
    missing = [c for c in controls if (c["tag"], c["id"], c["name"], c["text"]) not in reached]
    assert missing == [], f"{what}: not reachable with Tab: {missing}"
    hidden_focus = [s for s in stops if not s["visible"]]
    assert hidden_focus == [], f"{what}: focus not visible on: {hidden_focus}"


def test_log_in_page(new_page, world):
    page = new_page()
    page.goto(world.url + "/login")
    assert_accessible(page, "log-in page")
    # A refused log-in is announced (role=alert) and still passes.
    page.fill("#username", "nobody")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_be_visible()
    assert_accessible(page, "log-in page with an error")


def console_with_alarms(page, world):
    log_in(page, world.url, world.operators[0])
    expect(page.locator("#live-status")).to_have_attribute("data-live", "up", timeout=LIVE)
    waiting = world.send_alarm(type="button_press", device=world.registry.device_identities[1])
    taken = world.send_alarm(type="fall")
    expect(page.locator(f"#row-{waiting}")).to_be_visible(timeout=LIVE)
    expect(page.locator(f"#row-{taken}")).to_be_visible(timeout=LIVE)
    page.locator(f"#row-{taken}").click()
    page.keyboard.press("a")
    expect(page.locator("#work-state")).to_have_text("Besvart", timeout=LIVE)
    # Let the clocks reach warning and red (the page's own clock), so their colours are checked too.
    page.evaluate("window.respons.advance(61000)")
    expect(page.locator(f"#row-{waiting} .clock")).to_have_class(re.compile("is-late"), timeout=3000)
    return waiting, taken


def test_console_with_the_queue_and_an_answered_alarms_card(new_page, world):
    page = new_page()
    console_with_alarms(page, world)
    assert_accessible(page, "console")

    page.keyboard.press("Escape")  # back to the queue
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    assert run_axe(page) == []


def test_console_in_the_dark_theme_by_system_and_by_choice(new_page, world):
    """Night work: the dark theme follows the system, and a person's own choice wins and is
    remembered for them; axe passes in both themes, with the not-connected banner too."""
    page = new_page(color_scheme="dark")
    console_with_alarms(page, world)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")  # dark by the system
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 25)"
    assert_accessible(page, "console, dark theme")
    page.evaluate("""() => { document.querySelector('#live-banner').hidden = false; }""")
    assert run_axe(page) == [], "the not-connected banner in the dark theme"

    toggle.click()  # the person prefers light, even at night
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 245, 247)"
    assert run_axe(page) == [], "the light theme"
    page.reload()
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"

    page.locator("#theme-toggle").click()  # and dark by choice in a light system
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    page.click("#help-open")
    expect(page.locator("#help")).to_be_visible()
    assert run_axe(page) == [], "the help dialog, dark theme"


def test_registry_pages(new_page, world):
    page = new_page()
    log_in(page, world.url, world.municipality_admin)
    expect(page).to_have_url(re.compile(r"/admin/"))
    start = page.url
    assert_accessible(page, "registry overview")
    links = page.evaluate(
        "Array.from(document.querySelectorAll('main a[href^=\"/admin/\"]')).map(a => a.getAttribute('href'))"
    )
    visited = {start}
    for href in dict.fromkeys(links):
        url = world.url + href
        if url in visited:
            continue
        visited.add(url)
        page.goto(url)
        assert_accessible(page, href)
    assert len(visited) >= 5, f"expected the registry's pages to be linked from the overview, found {sorted(visited)}"


def test_statistics_dashboard_and_its_drill_down(new_page, world):
    """A municipality administrator opens the dashboard, sees this month's alarms counted,
    follows the drill-down to the alarms behind the figures and comes back."""
    world.send_alarm(type="fall")
    page = new_page()
    log_in(page, world.url, world.municipality_admin)
    page.goto(world.url + "/stats")
    expect(page.locator("[data-figure=received]")).not_to_have_text("0")
    assert_accessible(page, "statistics dashboard")
    page.get_by_role("link", name="Se alarmene", exact=True).click()
    expect(page).to_have_url(re.compile(r"/stats/alarms\?.*show=all"))
    expect(page.locator("#drill-down tbody tr").first).to_be_visible()
    assert_accessible(page, "statistics drill-down")
    page.get_by_role("link", name="Tilbake til statistikken").click()
    expect(page.locator("#key-figures")).to_be_visible()
    page.get_by_role("link", name="Rapport", exact=True).click()
    expect(page.locator("#report-figures")).to_be_visible()
    assert_accessible(page, "statistics report page")
    page.goto(world.url + "/stats")
    page.locator("#by-category tbody tr", has_text="Fall").get_by_role("link").click()  # drill into the fall
    expect(page).to_have_url(re.compile(r"/stats/alarms\?.*category=fall"))
    expect(page.locator("#drill-down tbody tr")).to_have_count(1)


def test_deviation_pages(new_page, world):
    """A municipality administrator registers a deviation in the form and handles it."""
    page = new_page()
    log_in(page, world.url, world.municipality_admin)
    page.goto(world.url + "/deviations")
    assert_accessible(page, "deviation list with the form")
    page.fill("#dev-title", "Nøkkelboks med feil kode")
    page.select_option("#dev-category", "documentation")
    page.click("#new-deviation button[type=submit]")
    expect(page).to_have_url(re.compile(r"/deviations/\d+$"))
    expect(page.locator("#deviation-state")).to_have_text("Registrert")
    assert_accessible(page, "deviation page")
    page.fill("#close-conclusion", "Koden rettet i registeret")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#deviation-state")).to_have_text("Lukket")


def test_economy_pages(new_page, world):
    """The host administrator computes last month's invoices in the form, opens a line to
    see whom it counted, approves the run, and the planner shows shifts and cost."""
    from datetime import date, datetime, timezone

    from sqlalchemy import insert, select

    from respons.store.db import make_engine, write_transaction
    from respons.store.tables import agreements, price_models, service_periods

    # BEGIN IMMEDIATE: the running server writes too (timers, probes), and a transaction that
    # reads first and then writes would fail at once on SQLite when it lost that race.
    engine = make_engine(world.database_url)
    with write_transaction(engine) as conn:
        for agreement in conn.execute(select(agreements.c.id)).scalars():
            conn.execute(insert(price_models).values(
                agreement_id=agreement, valid_from=date(2025, 1, 1), base_year=2026, created_by="test",
                created_at=datetime.now(timezone.utc), components=[{"kind": "per_user_month", "price": "100.00",
                                                                   "label": "Full responstjeneste"}]))
        conn.execute(insert(service_periods), [dict(recipient_id=r, starts_on=date(2025, 1, 1))
                                               for r in world.registry.recipient_ids])
    engine.dispose()
    page = new_page()
    log_in(page, world.url, world.admin)
    page.goto(world.url + "/economy")
    assert_accessible(page, "economy overview")
    page.get_by_label("Første måned").fill("2026-01")
    page.get_by_role("button", name="Beregn").click()
    expect(page).to_have_url(re.compile(r"/economy/runs/\d+$"))
    expect(page.locator("#run-total")).to_have_text("600,00")  # two municipalities × three users × 100 NOK
    assert_accessible(page, "invoice run")
    page.locator("table.invoice-lines").first.get_by_role("link", name="Full responstjeneste").click()
    expect(page.locator("#line-recipients tbody tr")).to_have_count(3)
    assert_accessible(page, "invoice line")
    page.get_by_role("link", name="Tilbake til kjøringen").click()
    page.get_by_role("button", name="Godkjenn").click()
    expect(page.locator("h1")).to_contain_text("(godkjent)")
    page.goto(world.url + "/economy/planner")
    expect(page.locator("[data-figure=staff]")).to_have_text("11")
    assert_accessible(page, "staffing planner")
