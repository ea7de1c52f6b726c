"""The deviation pages on both databases: an operator registers one, the municipality's
administrator confirms a system proposal and handles a deviation to its conclusion; refusals
are shown with their reason; scope."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.domain.deviations import DeviationCategory
from respons.engine import alarms as service
from respons.engine import deviations
from respons.settings import Settings
from respons.store.tables import deviations as deviation_table
from respons.web.app import create_app
from tests.factories import FakeClock, people_logged_in, seed_registry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(migrated_url, engine):
    registry = seed_registry(engine)
    own = registry.municipality_ids[0]
    with engine.begin() as conn:
        alarm_id = service.receive(conn, service.NewAlarm(own, registry.recipient_ids[0], None, alarm_type("fall"), "http",
                                                          "t", NOW), now=NOW, answer_deadline=timedelta(seconds=60)).alarm_id
        proposal = deviations.propose(conn, alarm_id=alarm_id, category=DeviationCategory.ANSWER_TIME, now=NOW,
                                      title="Alarmen ble besvart etter 140 sekunder")
    app = create_app(Settings(database_url=migrated_url), FakeClock(NOW), run_timers=False)
    with people_logged_in(app, engine, FakeClock(NOW)) as as_user:
        yield registry, as_user, proposal


def test_register_confirm_and_handle_deviations_in_the_browser(world, engine):
    registry, as_user, proposal = world
    own, foreign = registry.municipality_ids[:2]
    olga = as_user("olga", [(Role.OPERATOR, None)])
    page = olga.get("/deviations")
    assert page.status_code == 200 and "Alarmen ble besvart etter 140 sekunder" in page.text
    refused = olga.post("/deviations", data={"municipality_id": own, "category": "other", "title": " "}, headers=HTMX)
    assert refused.status_code == 422 and "title" in refused.text and 'id="form-error"' in refused.text
    saved = olga.post("/deviations", data={"municipality_id": own, "category": "technical_failure", "severity": "high",
                                           "title": "Telefonlinjen falt ut 02:10–02:40"}, headers=HTMX)
    assert saved.status_code == 200 and re.fullmatch(r"/deviations/\d+", saved.headers["HX-Redirect"])
    new_id = int(saved.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert 'id="close-form"' not in olga.get(f"/deviations/{new_id}").text, "operators register; they do not handle"

    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    proposed_page = marit.get(f"/deviations/{proposal}").text
    assert "Foreslått av systemet – bekreft eller avvis" in proposed_page
    assert marit.post(f"/deviations/{proposal}/events", data={"kind": "confirm", "severity": "low"}, headers=HTMX).status_code == 200
    early = marit.post(f"/deviations/{new_id}/events", data={"kind": "close"}, headers=HTMX)
    assert early.status_code == 409 and "conclusion" in early.text
    for step in ({"kind": "assign", "to": "IKT-ansvarlig"}, {"kind": "action", "text": "Byttet ruter"},
                 {"kind": "close", "conclusion": "Reservelinje via mobilnett"}):
        assert marit.post(f"/deviations/{new_id}/events", data=step, headers=HTMX).status_code == 200
    closed = marit.get(f"/deviations/{new_id}").text
    assert re.search(r'id="deviation-state">Lukket<', closed) and "Reservelinje via mobilnett" in closed
    with engine.connect() as conn:
        states = dict(conn.execute(select(deviation_table.c.id, deviation_table.c.state)).all())
    assert (states[proposal], states[new_id]) == ("registered", "closed")

    other_admin = as_user("frida", [(Role.MUNICIPALITY_ADMIN, foreign)])
    assert other_admin.get(f"/deviations/{new_id}").status_code == 404
    assert "Telefonlinjen" not in other_admin.get("/deviations?show=all").text
