"""The care plan read back from a real FHIR server onto the alarm card (both databases): what
the EPJ holds is shown, the read is audited, and an EPJ that does not answer or is not
connected is said so."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import receiving
from respons.epj import endpoints
from respons.epj import mapping as vkp
from respons.settings import Settings
from respons.store.tables import audit_log, recipients
from respons.web.app import create_app
from tests.chaos.server import free_port
from tests.factories import T0, add_user, log_in
from tests.fhir_server import fhir_server_or_skip

HX = {"HX-Request": "true"}


@pytest.fixture
def epj(tmp_path):
    server = fhir_server_or_skip(free_port(), tmp_path / "fhir.log").start()
    yield server
    server.stop()


@pytest.fixture
def app(migrated_url, clock):
    return create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)


def seed_care_plan(epj, national_id: str) -> None:
    """The EPJ's patient and a visit plan with two measures, as VKP describes them."""
    patient = httpx.post(f"{epj.base_url}/Patient", json={
        "resourceType": "Patient", "identifier": [{"system": vkp.FNR, "value": national_id}],
        "name": [{"family": "Person0", "given": ["Test1"]}]}, timeout=10).json()
    plan = {"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "category": [{"coding": [{"system": "http://ehelse.no/fhir/CodeSystem/vkp-careplan-category-v090", "code": "3"}]}],
            "subject": {"reference": f"Patient/{patient['id']}"},
            "activity": [{"detail": {"status": "scheduled", "description": "Tilsyn kl. 22 og kl. 07"}},
                         {"detail": {"status": "scheduled", "description": "Hjelp med medisiner morgen og kveld"}}]}
    assert httpx.post(f"{epj.base_url}/CarePlan", json=plan, timeout=10).status_code == 201


def open_care(app, engine, clock, registry):
    with engine.begin() as conn:
        new = receiving.NewAlarm(registry.municipality_ids[0], registry.recipient_ids[1], None, alarm_type("fall"), "http",
                                 "test", T0)
        alarm_id = receiving.receive(conn, new, now=T0, answer_deadline=timedelta(seconds=60)).alarm_id
    client = TestClient(app, base_url="https://testserver")
    client.__enter__()
    log_in(client, add_user(engine, "anne", [(Role.OPERATOR, None)]), clock)
    card = client.get(f"/console/alarms/{alarm_id}", headers=HX)
    assert card.status_code == 200 and f'hx-get="/console/alarms/{alarm_id}/care" hx-trigger="load"' in card.text
    return client, alarm_id


def care_reads(engine, alarm_id) -> list[dict]:
    with engine.connect() as conn:
        return [r for r in conn.execute(select(audit_log.c.details).where(
            audit_log.c.alarm_id == alarm_id, audit_log.c.action == audit.READ_RECIPIENT)).scalars()
            if r.get("source") == "epj_care_plan"]


def test_the_card_shows_the_care_plan_from_the_epj_and_the_read_is_audited(app, engine, clock, registry, epj):
    with engine.begin() as conn:
        national_id = conn.execute(select(recipients.c.national_id)
                                   .where(recipients.c.id == registry.recipient_ids[1])).scalar_one()
        endpoints.set_endpoint(conn, registry.municipality_ids[0], base_url=epj.base_url, auth="none", now=T0, actor="test")
    seed_care_plan(epj, national_id)
    client, alarm_id = open_care(app, engine, clock, registry)
    care = client.get(f"/console/alarms/{alarm_id}/care", headers=HX)
    assert care.status_code == 200 and 'data-state="plans"' in care.text
    assert "besoksplan" in care.text  # the plan's category, as VKP's code system names it
    assert "Tilsyn kl. 22 og kl. 07" in care.text and "Hjelp med medisiner morgen og kveld" in care.text
    assert care_reads(engine, alarm_id) == [{"via": "console", "source": "epj_care_plan"}]

    # Kept briefly: the EPJ going down just now does not empty a card opened again.
    epj.stop()
    again = client.get(f"/console/alarms/{alarm_id}/care", headers=HX)
    assert "Tilsyn kl. 22 og kl. 07" in again.text
    assert len(care_reads(engine, alarm_id)) == 2, "every look is audited, kept or not"
    client.__exit__(None, None, None)


def test_an_epj_that_does_not_answer_or_is_not_connected_is_said_so(app, engine, clock, registry, epj):
    client, alarm_id = open_care(app, engine, clock, registry)
    not_connected = client.get(f"/console/alarms/{alarm_id}/care", headers=HX)
    assert 'data-state="not_configured"' in not_connected.text
    assert "Kommunens journal er ikke koblet til." in not_connected.text
    assert care_reads(engine, alarm_id) == [], "nothing was read from an EPJ"
    with engine.begin() as conn:
        endpoints.set_endpoint(conn, registry.municipality_ids[0], base_url=f"http://127.0.0.1:{free_port()}/fhir",
                               auth="none", now=T0, actor="test")
    down = client.get(f"/console/alarms/{alarm_id}/care", headers=HX)
    assert 'data-state="unreachable"' in down.text and "Journalen svarer ikke nå" in down.text
    with engine.begin() as conn:
        endpoints.set_endpoint(conn, registry.municipality_ids[0], base_url=epj.base_url, auth="none", now=T0, actor="test")
    unknown = client.get(f"/console/alarms/{alarm_id}/care", headers=HX)
    assert 'data-state="unknown_patient"' in unknown.text
    client.__exit__(None, None, None)
