"""Medication dispensers on both databases: a dose over HTTP or MQTT is stored with its
VkpMedicationDispense in one commit, delivered to the real FHIR server and read back; a
retransmission is the same dose; what cannot be a documented dose is kept and refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from respons.epj import endpoints
from respons.epj import mapping as vkp
from respons.intake.mqtt import messages as mqtt_messages
from respons.intake.mqtt import receiver as mqtt
from respons.settings import Settings
from respons.store.db import write_transaction
from respons.store.tables import devices, epj_documents, medication_doses, quarantine
from respons.web.app import create_app
from tests.factories import T0, FakeClock, drain_deliveries as drain

DISPENSER = "MD-EPJ-1"


@pytest.fixture
def dispenser(engine, registry):
    municipality, recipient = registry.municipality_ids[0], registry.recipient_ids[0]
    with write_transaction(engine) as conn:
        for identity, kind, protocol, owner in ((DISPENSER, "medication_dispenser", "mqtt", recipient),
                                                ("MD-SPARE", "medication_dispenser", "mqtt", None),
                                                ("SA-NOT-MD", "safety_alarm", "mqtt", recipient)):
            conn.execute(insert(devices).values(municipality_id=municipality, recipient_id=owner, kind=kind,
                                                protocol=protocol, identity=identity, created_at=T0))
    return municipality


@pytest.fixture
def client(migrated_url, registry, clock, dispenser):
    app = create_app(Settings(database_url=migrated_url, journal_window_ms=1), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as c:
        c.headers["Authorization"] = f"Bearer {registry.intake_tokens[dispenser]}"
        yield c


def dose(**overrides):
    return {"device": DISPENSER, "id": "md-0001", "dispensed_at": "2026-11-23T08:00:12+01:00", "event": "1.1",
            "medication": "Multidose morgen", **overrides}


def test_a_dose_over_http_is_delivered_to_the_epj_once_as_a_medication_dispense(
        client, engine, journal, epj_down, make_worker, dispenser):
    first = client.post("/api/v1/doses", json=dose())
    again = client.post("/api/v1/doses", json=dose())
    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == {**first.json(), "duplicate": True} and first.json()["duplicate"] is False
    with engine.connect() as conn:
        row = conn.execute(select(medication_doses)).one()
        document = conn.execute(select(epj_documents)).one()
    assert (row.event, row.medication, row.source, row.dispensed_at) == (
        "1.1", "Multidose morgen", "http", T0 + timedelta(hours=5, seconds=12))
    assert (document.dose_id, document.alarm_id, document.state) == (row.id, None, "waiting")

    with write_transaction(engine) as conn:
        endpoints.set_endpoint(conn, dispenser, base_url=epj_down.base_url, auth="none", now=T0, actor="test")
    epj_down.start()
    drain(make_worker(FakeClock(T0 + timedelta(hours=7))))
    value = document.bundle["entry"][0]["resource"]["identifier"][0]["value"]
    [stored] = epj_down.search("MedicationDispense", identifier=f"{vkp.UUID_SYSTEM}|{value}")
    assert stored["category"]["coding"][0]["code"] == "1.1"
    assert stored["whenHandedOver"] == "2026-11-23T08:00:12+01:00"
    assert stored["performer"][0]["actor"]["identifier"]["value"] == DISPENSER
    with engine.connect() as conn:
        assert conn.execute(select(epj_documents.c.state)).scalar_one() == "delivered"


@pytest.mark.parametrize("body, reason", [
    (dose(device="MD-SPARE"), "no_recipient"),
    (dose(device="SA-NOT-MD"), "not_a_dispenser"),
    (dose(event="9.9"), "unknown_event"),
    (dose(device="NOBODY"), "unknown_device"),
    (dose(medication="Multi\u0000dose"), "invalid_payload"),  # PostgreSQL cannot store NUL: refused before
])
def test_what_cannot_be_a_documented_dose_is_kept_and_refused_saying_why(client, engine, body, reason):
    response = client.post("/api/v1/doses", json=body)
    assert response.status_code == 422 and response.json()["error"] == reason, response.text
    with engine.connect() as conn:
        kept = conn.execute(select(quarantine.c.reason)).scalars().all()
        assert conn.execute(select(func.count()).select_from(medication_doses)).scalar_one() == 0
    assert kept == [reason]


def test_a_dose_over_mqtt_is_stored_once_with_its_document(engine, journal, dispenser):
    topic = f"respons/9000/sensors/{DISPENSER}/event"
    body = (b'{"type": "dose_dispensed", "id": "md-77", "occurred_at": "2026-11-23T20:00:00+01:00",'
            b' "payload": {"event": "1.2", "medication": "Multidose kveld"}}')
    reading = mqtt_messages.read(topic, body)
    assert mqtt_messages.lane_of(reading).name == "DEFAULT"
    outcomes = [journal.run_sync(lambda c: mqtt.handle(c, reading, topic=topic, body=body, now=T0)) for _ in range(2)]
    assert outcomes == ["dose", "duplicate"]
    with engine.connect() as conn:
        row = conn.execute(select(medication_doses)).one()
        assert conn.execute(select(epj_documents.c.state, epj_documents.c.dose_id)).one() == ("waiting", row.id)
    assert (row.event, row.medication, row.source) == ("1.2", "Multidose kveld", "mqtt")

    spare = mqtt_messages.read(topic.replace(DISPENSER, "MD-SPARE"), body)
    assert journal.run_sync(lambda c: mqtt.handle(c, spare, topic=topic, body=body, now=T0)) == "quarantine:no_recipient"
