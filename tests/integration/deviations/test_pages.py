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
from respons.deviations.rules import DeviationCategory
from respons.engine import receiving
from respons.deviations import service as deviations
from respons.settings import Settings
from respons.store.tables import deviations as deviation_table
from respons.web import i18n
from respons.web.app import create_app
from tests.factories import FakeClock, people_logged_in, seed_registry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
HTMX = {"HX-Request": "true"}
NB = i18n.translator("nb", strict=True)


@pytest.fixture
def world(migrated_url, engine):
    registry = seed_registry(engine)
    own = registry.municipality_ids[0]
    with engine.begin() as conn:
        alarm_id = receiving.receive(conn, receiving.NewAlarm(own, registry.recipient_ids[0], None, alarm_type("fall"), "http",
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
    assert page.status_code == 200 and "Alarmen ble besvart etter 2 min 20 s" in page.text, "over two minutes in minutes"
    refused = olga.post("/deviations", data={"municipality_id": own, "category": "other", "title": " "}, headers=HTMX)
    assert refused.status_code == 422 and 'id="form-error"' in refused.text
    assert NB("dev.error.title_missing") in refused.text and "A deviation needs" not in refused.text, "in bokmål"
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
    assert early.status_code == 409 and NB("dev.error.conclusion_missing") in early.text
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


def test_a_deviation_is_registered_from_the_alarms_card(world, engine):
    """Issue 14: the card links to /deviations/new?alarm_id=…; the form shows the alarm's type,
    time and municipality and carries its id; outside the caller's scope it is not found."""
    from respons.store.tables import alarms

    registry, as_user, _ = world
    own, foreign = registry.municipality_ids[:2]
    with engine.connect() as conn:
        alarm_id = conn.execute(select(alarms.c.id)).scalar_one()
    olga = as_user("olga", [(Role.OPERATOR, None)])
    page = olga.get(f"/deviations/new?alarm_id={alarm_id}")
    assert page.status_code == 200
    assert f'data-field="type">{alarm_type("fall").label_nb}<' in page.text
    assert re.search(r'data-field="received">[^<]*10:00', page.text), "09:00 UTC is 10:00 in Oslo"
    assert re.search(r'data-field="municipality">Testkommune 0<', page.text)
    assert f'name="alarm_id" value="{alarm_id}"' in page.text
    assert re.findall(r'<option value="(\d+)"[^>]*>Testkommune', page.text) == [str(own)], "only the alarm's municipality"

    saved = olga.post("/deviations", data={"municipality_id": own, "category": "other", "title": "Feil adresse i kortet",
                                           "alarm_id": alarm_id}, headers=HTMX)
    assert saved.status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(deviation_table.c.alarm_id).where(
            deviation_table.c.title == "Feil adresse i kortet")).scalar_one() == alarm_id
    refused = olga.post("/deviations", data={"municipality_id": own, "category": "other", "title": " ",
                                             "alarm_id": alarm_id}, headers=HTMX)
    assert refused.status_code == 422 and 'id="deviation-alarm"' in refused.text, "the refused form keeps the alarm"

    olga.cookies.set("respons_lang", "en")
    english = olga.get(f"/deviations/new?alarm_id={alarm_id}").text
    assert f'data-field="type">{alarm_type("fall").label_en}<' in english
    frida = as_user("frida", [(Role.MUNICIPALITY_ADMIN, foreign)])
    assert frida.get(f"/deviations/new?alarm_id={alarm_id}").status_code == 404
    assert olga.get("/deviations/new?alarm_id=no-such-alarm").status_code == 404
    assert as_user("aud", [(Role.AUDITOR, own)]).get(f"/deviations/new?alarm_id={alarm_id}").status_code == 403
    assert olga.get("/deviations/new").status_code == 200, "without an alarm: the plain form"
