"""Supervision plans over HTTP, on both databases: who may record one, what is refused and
how it says so, and the audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import audit_log, supervision_plans
from respons.web.app import create_app
from tests.factories import people_logged_in, seed_registry

NIGHT = {"kind": "camera", "times": [{"at": "23:00"}, {"at": "03:00", "weekdays": [1, 2, 3, 4, 5]}],
         "max_seconds": 30, "checklist": ["Ligger i sengen", "Puster rolig"], "consent_by": "Brukeren selv",
         "consent_on": "2026-11-30", "valid_from": "2026-12-01", "event_based": True}


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=1)


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url), clock, run_timers=False)


@pytest.fixture
def as_user(app, engine, clock):
    with people_logged_in(app, engine, clock) as as_user:
        yield as_user


def plans_url(recipient_id: int) -> str:
    return f"/api/v1/registry/recipients/{recipient_id}/supervision-plans"


def test_the_municipalitys_administrator_records_a_plan_that_is_stored_audited_and_read_back(as_user, engine, registry):
    own_person = registry.recipient_ids[0]
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])])
    made = marit.post(plans_url(own_person), json=NIGHT)
    assert made.status_code == 201, made.text
    [plan] = marit.get(plans_url(own_person)).json()
    assert (plan["kind"], plan["times"], plan["event_based"], plan["valid_from"], plan["consent_by"]) == (
        "camera", [{"at": "23:00", "weekdays": [1, 2, 3, 4, 5, 6, 7]}, {"at": "03:00", "weekdays": [1, 2, 3, 4, 5]}],
        True, "2026-12-01", "Brukeren selv")
    with engine.connect() as conn:
        stored = conn.execute(select(supervision_plans.c.municipality_id, supervision_plans.c.created_by)).one()
        logged = conn.execute(select(audit_log.c.actor, audit_log.c.details).where(
            audit_log.c.action == "create")).all()
    assert stored.municipality_id == registry.municipality_ids[0] and stored.created_by.startswith("user:")
    assert any(d.get("entity") == "supervision_plan" and d["supervision_plan_id"] == made.json()["id"]
               for _, d in logged)
    # Consent, instructions and the look-ins are the person's record: reading them is audited.
    with engine.connect() as conn:
        reads = conn.execute(select(audit_log.c.recipient_id, audit_log.c.details).where(
            audit_log.c.action == "read_recipient")).all()
    assert [(r.recipient_id, r.details) for r in reads] == [(own_person, {"entity": "supervision_plans"})]


def test_a_plan_that_cannot_be_followed_is_refused_with_every_reason_in_norwegian(as_user, engine, registry):
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])])
    refused = marit.post(plans_url(registry.recipient_ids[0]), json={
        **NIGHT, "times": [{"at": "22:00"}, {"at": "22:10"}], "max_seconds": 900, "consent_on": "2026-12-05"})
    assert refused.status_code == 422
    problems = {(p["field"], p["problem"]) for p in refused.json()["details"]}
    assert problems == {
        ("max_seconds", "Et innsyn må vare mellom 10 og 300 sekunder"),
        ("consent_on", "Samtykket må være gitt før planen begynner"),
        ("times", "Tidspunktene 22:00 og 22:10 ligger for tett: minst 15 minutter mellom innsyn"),
    }
    bad_time = marit.post(plans_url(registry.recipient_ids[0]), json={**NIGHT, "times": [{"at": "25:61"}]})
    assert bad_time.status_code == 422 and "Ugyldig klokkeslett «25:61»" in bad_time.text
    # No days is a mistake, not every night.
    no_days = marit.post(plans_url(registry.recipient_ids[0]), json={**NIGHT, "times": [{"at": "23:00", "weekdays": []}]})
    assert no_days.status_code == 422 and {p["field"] for p in no_days.json()["details"]} == {"times"}
    with engine.connect() as conn:
        assert conn.execute(select(supervision_plans.c.id)).first() is None


def test_only_the_persons_own_municipalitys_administrator_may_record_or_read_a_plan(as_user, engine, registry):
    own_person, foreign_person = registry.recipient_ids[0], registry.recipient_ids[1]
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])])
    assert marit.post(plans_url(foreign_person), json=NIGHT).status_code == 404
    assert marit.get(plans_url(foreign_person)).status_code == 404
    # The host administrator and operators do not decide a municipality's vedtak.
    for name, grants in (("hanne", [(Role.HOST_ADMIN, None)]), ("olga", [(Role.OPERATOR, None)])):
        other = as_user(name, grants)
        assert other.post(plans_url(own_person), json=NIGHT).status_code == 403, name


def test_a_plan_is_ended_from_today_on_audited_and_never_backwards_or_for_another_person(as_user, engine, registry):
    own_person, foreign_person = registry.recipient_ids[0], registry.recipient_ids[1]
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])])
    plan_id = marit.post(plans_url(own_person), json=NIGHT).json()["id"]
    first_day = NIGHT["valid_from"]  # later than the test clock's today: a plan may end on its first day
    end = f"{plans_url(own_person)}/{plan_id}/end"
    backwards = marit.post(end, json={"valid_to": "2020-01-01"})
    assert backwards.status_code == 422 and "kan ikke avsluttes tilbake i tid" in backwards.text
    assert marit.post(f"{plans_url(foreign_person)}/{plan_id}/end", json={"valid_to": first_day}).status_code == 404
    assert marit.post(end, json={"valid_to": "2026-11-30"}).status_code == 422  # before it begins
    ended = marit.post(end, json={"valid_to": first_day})
    assert ended.status_code == 200, ended.text
    [plan] = marit.get(plans_url(own_person)).json()
    assert plan["valid_to"] == first_day
    # Lengthening it again is a new decision, not an end.
    later = marit.post(end, json={"valid_to": "2099-01-01"})
    assert later.status_code == 422 and "et nytt vedtak" in later.text
    with engine.connect() as conn:
        updates = [d for (d,) in conn.execute(select(audit_log.c.details).where(audit_log.c.action == "update"))
                   if d.get("entity") == "supervision_plan"]
    assert updates == [{"entity": "supervision_plan", "supervision_plan_id": plan_id, "fields": ["valid_to"]}]



def test_a_camera_plan_says_what_replaces_a_camera_that_shows_nothing(as_user, registry):
    marit = as_user("marit", [(Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])])
    person = registry.recipient_ids[0]
    assert marit.post(plans_url(person), json={**NIGHT, "fallback": "visit"}).status_code == 201
    assert [p["fallback"] for p in marit.get(plans_url(person)).json()] == ["visit"]
    assert marit.post(plans_url(person), json={**NIGHT, "fallback": "carrier pigeon"}).status_code == 422
