"""Deviation reports on both databases: registered over HTTP and handled to the end, scope and
audit, proposals from a late answer and a missing response (once each), the year's summary."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import alarms as service
from respons.engine import receiving
from respons.settings import Settings
from respons.store.tables import audit_log, deviations
from respons.web.app import create_app
from tests.factories import FakeClock, dispatched, people_logged_in, seed_registry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def people(migrated_url, engine):
    registry = seed_registry(engine)
    clock = FakeClock(NOW)
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with people_logged_in(app, engine, clock) as as_user:
        yield registry, as_user


@pytest.fixture
def world(routing_world):
    """The routing scenario driver (tests/factories.py Scenario) from tests/integration/conftest.py."""
    return routing_world


def test_an_operator_registers_and_the_municipality_handles_it_to_a_conclusion(people, engine):
    registry, as_user = people
    own, foreign = registry.municipality_ids[:2]
    olga = as_user("olga", [(Role.OPERATOR, None)])
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, own)])
    created = olga.post("/api/v1/deviations", json={"municipality_id": own, "category": "cooperation", "severity": "high",
                                                    "title": "Nattevakt svarte ikke på telefon",
                                                    "description": "Tre forsøk mellom 02:10 og 02:25."})
    assert created.status_code == 201
    deviation_id = created.json()["id"]
    assert olga.post(f"/api/v1/deviations/{deviation_id}/events", json={"kind": "close", "conclusion": "x"}).status_code == 403, \
        "operators register; the municipality handles"
    steps = [{"kind": "assign", "to": "Enhetsleder hjemmetjenesten"},
             {"kind": "action", "text": "Gjennomgått telefonrutiner med nattevakt"},
             {"kind": "close", "conclusion": "Reservetelefon innført"}]
    for step in steps:
        response = marit.post(f"/api/v1/deviations/{deviation_id}/events", json=step)
        assert response.status_code == 200, response.text
    assert response.json()["state"] == "closed"
    again = marit.post(f"/api/v1/deviations/{deviation_id}/events", json={"kind": "action", "text": "etterpå"})
    assert again.status_code == 409 and "closed" in again.json()["message"]
    one = marit.get(f"/api/v1/deviations/{deviation_id}").json()
    assert [e["kind"] for e in one["timeline"]] == ["registered", "assigned", "action", "closed"]
    assert (one["severity"], one["conclusion"]) == ("high", "Reservetelefon innført")

    assert marit.post("/api/v1/deviations", json={"municipality_id": foreign, "category": "other", "title": "x"}).status_code == 404
    assert marit.get(f"/api/v1/deviations?municipality_id={foreign}").status_code == 404
    refused = marit.post("/api/v1/deviations", json={"municipality_id": own, "category": "weather", "title": "x"})
    assert refused.status_code == 422
    with engine.connect() as conn:
        audited = conn.execute(select(audit_log.c.action, audit_log.c.details).where(
            audit_log.c.action.in_([audit.CREATE, audit.UPDATE]))).all()
    changes = [(a.action, a.details.get("change")) for a in audited if a.details.get("entity") == "deviation"]
    assert changes == [("create", None), ("update", "assign"), ("update", "action"), ("update", "close")]

    summary = as_user("rita", [(Role.AUDITOR, None)]).get("/api/v1/deviations/summary?year=2026").json()
    assert (summary["total"], summary["by_category"], summary["by_state"]) == (1, {"cooperation": 1}, {"closed": 1})


def test_an_administrator_who_is_also_the_centres_auditor_handles_only_their_own_municipality(people):
    """The auditor's grant lets them read every municipality's deviations; it must not let the
    administrator of one handle, or register, another's."""
    registry, as_user = people
    own, foreign = registry.municipality_ids[:2]
    olga = as_user("olga", [(Role.OPERATOR, None)])
    theirs = olga.post("/api/v1/deviations", json={"municipality_id": foreign, "category": "cooperation",
                                                   "title": "Nattevakt svarte ikke"}).json()["id"]
    both = as_user("anita", [(Role.MUNICIPALITY_ADMIN, own), (Role.AUDITOR, None)])
    assert both.get(f"/api/v1/deviations/{theirs}").status_code == 200  # read, as the auditor
    assert both.post(f"/api/v1/deviations/{theirs}/events", json={"kind": "assign", "to": "x"}).status_code == 404
    assert both.post("/api/v1/deviations", json={"municipality_id": foreign, "category": "other",
                                                 "title": "x"}).status_code == 404
    assert both.post("/api/v1/deviations", json={"municipality_id": own, "category": "other",
                                                 "title": "x"}).status_code == 201


def test_an_answer_over_two_minutes_is_proposed_once(engine, registry, journal):
    at = NOW

    def answer_one_in_time_and_one_late(conn):
        quick = receiving.receive(conn, receiving.NewAlarm(registry.municipality_ids[0], registry.recipient_ids[0], None,
                                                       alarm_type("fall"), "http", "t", at),
                                now=at, answer_deadline=timedelta(seconds=60)).alarm_id
        late = receiving.receive(conn, receiving.NewAlarm(registry.municipality_ids[0], registry.recipient_ids[0], None,
                                                      alarm_type("button_press"), "http", "t", at),
                               now=at, answer_deadline=timedelta(seconds=60)).alarm_id
        service.answer(conn, quick, actor="user:1", visible_to=None, now=at + timedelta(seconds=119))
        service.answer(conn, late, actor="user:1", visible_to=None, now=at + timedelta(seconds=121))
        return late

    # Through the journal, as on a node: the proposal is its reaction to the answer.
    late = journal.run_sync(answer_one_in_time_and_one_late)
    with engine.connect() as conn:
        rows = conn.execute(select(deviations)).all()
    assert [(r.alarm_id, r.category, r.state, r.proposed_by_system) for r in rows] == [(late, "answer_time", "proposed", True)]
    assert rows[0].title == "Alarmen ble besvart etter 121 sekunder"


def test_a_deviation_registered_by_a_person_and_one_proposed_for_the_same_alarm_and_category_are_one(engine, registry,
                                                                                                      journal):
    """One per alarm and category: a person's second registration is refused by name (it was a
    500), and the system's proposal after a person's registration proposes nothing, without
    failing the alarm's own unit."""
    from respons.deviations import service as deviations_service
    from respons.deviations.rules import DeviationCategory, IllegalDeviationChange

    alarm_id = journal.run_sync(lambda conn: receiving.receive(conn, receiving.NewAlarm(
        registry.municipality_ids[0], registry.recipient_ids[0], None, alarm_type("fall"), "http", "t", NOW),
        now=NOW, answer_deadline=timedelta(seconds=60)).alarm_id)

    def register(conn):
        return deviations_service.register(conn, municipality_id=registry.municipality_ids[0], category="answer_time",
                                           title="Svarte sent", alarm_id=alarm_id, actor="user:1", now=NOW)

    first = journal.run_sync(register)
    with pytest.raises(IllegalDeviationChange) as refused:
        journal.run_sync(register)
    assert refused.value.key == "already_registered"
    proposed = journal.run_sync(lambda conn: deviations_service.propose(
        conn, alarm_id=alarm_id, category=DeviationCategory.ANSWER_TIME, title="Besvart sent", now=NOW))
    assert proposed is None
    with engine.connect() as conn:
        assert conn.execute(select(deviations.c.id)).scalars().all() == [first]


def test_a_missing_response_is_proposed_once_for_a_person_to_confirm(world):
    world.responder("hilde")
    alarm_id = dispatched(world)
    world.advance(60 * 60 * 2)  # not accepted in 5 minutes (the completion deadline finds no accepted mission)
    with world.engine.connect() as conn:
        rows = conn.execute(select(deviations.c.alarm_id, deviations.c.category, deviations.c.state)).all()
    assert rows == [(alarm_id, "missing_response", "proposed")]
