"""Registry administration over HTTP, on both databases: scope, validation, audit."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.identity import synthetic_national_id
from respons.settings import Settings
from respons.store.tables import agreement_windows, audit_log, devices, municipalities, recipients, staff
from respons.web.app import create_app
from tests.factories import add_user, log_in, seed_registry

RECIPIENTS = "/api/v1/registry/recipients"


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=2)


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url), clock, run_timers=False)


@pytest.fixture
def own(registry):
    return registry.municipality_ids[0]


@pytest.fixture
def foreign(registry):
    return registry.municipality_ids[1]


@pytest.fixture
def municipality_admin(app, engine, clock, own):
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update(log_in(client, add_user(engine, "marit", [(Role.MUNICIPALITY_ADMIN, own)]), clock))
        yield client


@pytest.fixture
def host_admin(app, engine, clock):
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update(log_in(client, add_user(engine, "hanne", [(Role.HOST_ADMIN, None)]), clock))
        yield client


def new_id(seed: int = 1, born: date = date(1941, 5, 17)) -> str:
    return synthetic_national_id(born, random.Random(seed))


def recipient_body(municipality_id: int, national_id: str, **overrides):
    body = {
        "municipality_id": municipality_id,
        "national_id": national_id,
        "given_name": "Astrid",
        "family_name": "Testesen",
        "phone": "912 34 567",
        "address": "Storgata 1",
        "postal_code": "4610",
        "city": "Kristiansand",
        "response_notes": "Hører dårlig",
    }
    body.update(overrides)
    return body


def audit_records(engine, **where):
    with engine.connect() as conn:
        query = select(audit_log).order_by(audit_log.c.seq)
        for name, value in where.items():
            query = query.where(audit_log.c[name] == value)
        return list(conn.execute(query))


def test_municipality_admin_creates_reads_and_updates_own_recipient(municipality_admin, engine, own):
    national_id = new_id()
    created = municipality_admin.post(RECIPIENTS, json=recipient_body(own, national_id))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]

    with engine.connect() as conn:
        row = conn.execute(select(recipients).where(recipients.c.id == rid)).one()
    assert row.phone == "+4791234567", "the phone is stored normalised (E.164)"
    assert row.birth_date == date(1941, 5, 17), "the birth date comes from the national id"

    before = len(audit_records(engine, action=audit.READ_RECIPIENT, recipient_id=rid))
    record = municipality_admin.get(f"{RECIPIENTS}/{rid}")
    assert record.status_code == 200, record.text
    assert record.json()["national_id"] == national_id and record.json()["contacts"] == [] and record.json()["devices"] == []
    reads = audit_records(engine, action=audit.READ_RECIPIENT, recipient_id=rid)
    assert len(reads) == before + 1 and reads[-1].purpose == "administration" and reads[-1].municipality_id == own

    patched = municipality_admin.patch(f"{RECIPIENTS}/{rid}", json={"city": "Vennesla", "phone": "+47 41 23 45 67"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["changed"] == ["city", "phone"]
    with engine.connect() as conn:
        row = conn.execute(select(recipients).where(recipients.c.id == rid)).one()
    assert (row.city, row.phone, row.given_name) == ("Vennesla", "+4741234567", "Astrid"), "a PATCH leaves the rest alone"

    created_audit = audit_records(engine, action=audit.CREATE, recipient_id=rid)
    updated_audit = audit_records(engine, action=audit.UPDATE, recipient_id=rid)
    assert len(created_audit) == 1 and "national_id" in created_audit[0].details["fields"]
    assert updated_audit[-1].details["fields"] == ["city", "phone"]
    everything = json.dumps([dict(r._mapping) for r in audit_records(engine, recipient_id=rid)], default=str)
    for value in (national_id, "Vennesla", "41234567", "Storgata", "Hører dårlig"):
        assert value not in everything, f"the audit log holds a value ({value!r}), not only field names"


def test_list_shows_no_national_id_address_or_notes(municipality_admin, engine, own):
    national_id = new_id()
    assert municipality_admin.post(RECIPIENTS, json=recipient_body(own, national_id)).status_code == 201
    listed = municipality_admin.get(f"{RECIPIENTS}?municipality_id={own}")
    assert listed.status_code == 200
    names = [item["name"] for item in listed.json()]
    assert "Astrid Testesen" in names and all(set(item) == {"id", "municipality_id", "name", "zone", "active"} for item in listed.json())
    assert national_id not in listed.text and "Storgata" not in listed.text and "Hører" not in listed.text
    assert municipality_admin.get(RECIPIENTS).status_code == 200, "without municipality_id: everything the caller administers"


def test_another_municipalitys_recipient_is_not_found(municipality_admin, registry, engine, foreign):
    with engine.connect() as conn:
        foreign_rid = conn.execute(select(recipients.c.id).where(recipients.c.municipality_id == foreign)).scalars().first()
    missing = municipality_admin.get(f"{RECIPIENTS}/999999")
    read = municipality_admin.get(f"{RECIPIENTS}/{foreign_rid}")
    update = municipality_admin.patch(f"{RECIPIENTS}/{foreign_rid}", json={"city": "Nyby"})
    assert read.status_code == update.status_code == missing.status_code == 404
    assert read.json() == missing.json() == update.json(), "foreign looks exactly like missing"
    assert municipality_admin.post(RECIPIENTS, json=recipient_body(foreign, new_id())).status_code == 404
    assert municipality_admin.get(f"{RECIPIENTS}?municipality_id={foreign}").status_code == 404
    assert municipality_admin.post(
        f"{RECIPIENTS}/{foreign_rid}/contacts", json={"name": "X", "relation": "sønn", "phone": "91234567", "priority": 1}
    ).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(recipients.c.city).where(recipients.c.id == foreign_rid)).scalar() == "Testby"
    assert audit_records(engine, action=audit.READ_RECIPIENT, recipient_id=foreign_rid) == []


def test_invalid_national_id_and_phone_are_refused_in_norwegian(municipality_admin, own):
    valid = new_id()
    broken = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    response = municipality_admin.post(RECIPIENTS, json=recipient_body(own, broken, phone="12"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_registry_data"
    problems = {p["field"]: p["problem"] for p in body["details"]}
    assert problems["national_id"] == "Ugyldig fødselsnummer: kontrollsifrene stemmer ikke"
    assert problems["phone"] == "Ugyldig telefonnummer"
    assert "Ugyldig fødselsnummer" in body["message"]

    short = municipality_admin.post(RECIPIENTS, json=recipient_body(own, "1234"))
    assert short.status_code == 422 and short.json()["details"][0]["problem"].startswith("Ugyldig fødselsnummer")

    created = municipality_admin.post(RECIPIENTS, json=recipient_body(own, valid)).json()["id"]
    patched = municipality_admin.patch(f"{RECIPIENTS}/{created}", json={"phone": "abc"})
    assert patched.status_code == 422 and patched.json()["details"] == [{"field": "phone", "problem": "Ugyldig telefonnummer"}]

    malformed = municipality_admin.post(RECIPIENTS, json={"national_id": valid})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"
    assert malformed.json()["details"][0]["field"] == "municipality_id"


def test_duplicate_national_id_is_a_conflict_that_names_no_municipality(municipality_admin, host_admin, own, foreign):
    national_id = new_id()
    assert host_admin.post(RECIPIENTS, json=recipient_body(foreign, national_id)).status_code == 201
    duplicate = municipality_admin.post(RECIPIENTS, json=recipient_body(own, national_id))
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "duplicate_national_id"
    assert "Testkommune" not in duplicate.text and str(foreign) not in duplicate.json()["message"]

    other = municipality_admin.post(RECIPIENTS, json=recipient_body(own, new_id(2))).json()["id"]
    assert municipality_admin.patch(f"{RECIPIENTS}/{other}", json={"national_id": national_id}).status_code == 409


def test_host_admin_administers_any_municipality(host_admin, engine, registry, foreign):
    created = host_admin.post(RECIPIENTS, json=recipient_body(foreign, new_id()))
    assert created.status_code == 201
    rid = created.json()["id"]
    assert host_admin.get(f"{RECIPIENTS}/{rid}").status_code == 200
    assert host_admin.patch(f"{RECIPIENTS}/{rid}", json={"given_name": "Berit"}).json()["changed"] == ["given_name"]
    assert rid in {item["id"] for item in host_admin.get(f"{RECIPIENTS}?municipality_id={foreign}").json()}
    assert host_admin.get(f"{RECIPIENTS}?municipality_id=999999").status_code == 404


def test_contacts_and_devices(municipality_admin, engine, own, foreign, registry):
    rid = municipality_admin.post(RECIPIENTS, json=recipient_body(own, new_id())).json()["id"]
    contact = {"name": "Kari Testesen", "relation": "datter", "phone": "41 23 45 67", "priority": 1, "receives_alarms": True}
    assert municipality_admin.post(f"{RECIPIENTS}/{rid}/contacts", json=contact).status_code == 201
    bad = municipality_admin.post(f"{RECIPIENTS}/{rid}/contacts", json={**contact, "phone": "nei", "priority": 0})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["details"]} == {"phone", "priority"}
    # Alarms reach next of kin by SMS: a landline cannot take them, and the registrar is told why.
    landline = municipality_admin.post(f"{RECIPIENTS}/{rid}/contacts", json={**contact, "phone": "22 00 00 00"})
    assert landline.status_code == 422
    assert [(p["field"], p["problem"]) for p in landline.json()["details"]] == [
        ("phone", "Den som skal få alarmer på SMS, må ha et mobilnummer")]
    assert municipality_admin.post(f"{RECIPIENTS}/{rid}/contacts",
                                   json={**contact, "phone": "22 00 00 00", "receives_alarms": False}).status_code == 201

    device = {"municipality_id": own, "recipient_id": rid, "kind": "safety_alarm", "protocol": "http", "identity": "TA-NEW-1"}
    assert municipality_admin.post("/api/v1/registry/devices", json=device).status_code == 201
    duplicate = municipality_admin.post("/api/v1/registry/devices", json=device)
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "duplicate_device"
    with engine.connect() as conn:
        foreign_rid = conn.execute(select(recipients.c.id).where(recipients.c.municipality_id == foreign)).scalars().first()
    cross = municipality_admin.post("/api/v1/registry/devices", json={**device, "identity": "TA-NEW-2", "recipient_id": foreign_rid})
    assert cross.status_code == 422 and cross.json()["details"][0]["field"] == "recipient_id"

    record = municipality_admin.get(f"{RECIPIENTS}/{rid}").json()
    assert [c["phone"] for c in record["contacts"]] == ["+4741234567", "+4722000000"]
    assert [d["identity"] for d in record["devices"]] == ["TA-NEW-1"]
    listed = municipality_admin.get(f"/api/v1/registry/devices?municipality_id={own}").json()
    assert "TA-NEW-1" in {d["identity"] for d in listed} and all(d["municipality_id"] == own for d in listed)
    assert municipality_admin.get(f"/api/v1/registry/devices?municipality_id={foreign}").status_code == 404
    assert {r.details["entity"] for r in audit_records(engine, action=audit.CREATE, recipient_id=rid)} == {"recipient", "contact", "device"}


def test_protocol_identities_are_checked_and_a_dc09_key_is_never_read_back(municipality_admin, own, engine):
    devices_url = "/api/v1/registry/devices"
    rid = municipality_admin.post(RECIPIENTS, json=recipient_body(own, new_id())).json()["id"]
    key = "8e0f6a3d2c1b4a5968778695a4b3c2d1"
    panel = {"municipality_id": own, "recipient_id": rid, "kind": "safety_alarm", "protocol": "sia_dc09",
             "identity": "5c4a", "dc09_key": key, "heartbeat_interval_s": 3600, "heartbeat_grace_s": 300}
    created = municipality_admin.post(devices_url, json=panel)
    assert created.status_code == 201
    sensor = {"municipality_id": own, "recipient_id": rid, "kind": "fall_sensor", "protocol": "mqtt",
              "identity": "fall-77", "base_unit_id": created.json()["id"]}
    assert municipality_admin.post(devices_url, json=sensor).status_code == 201
    bad = municipality_admin.post(devices_url, json={**panel, "identity": "XYZ", "dc09_key": "1234"})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["details"]} == {"identity", "dc09_key"}
    bad_mqtt = municipality_admin.post(devices_url, json={**sensor, "identity": "a/b", "dc09_key": key, "base_unit_id": 999999})
    assert {p["field"] for p in bad_mqtt.json()["details"]} == {"identity", "dc09_key", "base_unit_id"}
    listed = {d["identity"]: d for d in municipality_admin.get(f"{devices_url}?municipality_id={own}").json()}
    assert listed["5C4A"]["encrypted"] is True and "dc09_key" not in listed["5C4A"], "the account is stored as the panel sends it"
    assert listed["fall-77"]["encrypted"] is False and listed["fall-77"]["base_unit_id"] == listed["5C4A"]["id"]
    record = municipality_admin.get(f"{RECIPIENTS}/{rid}").json()
    assert all("dc09_key" not in d for d in record["devices"]) and key not in str(record)
    with engine.connect() as conn:
        stored = conn.execute(select(devices.c.dc09_key, devices.c.alert_after).where(devices.c.identity == "5C4A")).one()
    assert stored.dc09_key == key.upper() and stored.alert_after is not None, "supervision starts at registration"


def test_zones_and_staff(municipality_admin, own, engine):
    zone = municipality_admin.post("/api/v1/registry/zones", json={"municipality_id": own, "code": "NORD", "name": "Nord"})
    assert zone.status_code == 201
    assert municipality_admin.post("/api/v1/registry/zones", json={"municipality_id": own, "code": "NORD", "name": "x"}).status_code == 409
    zid = zone.json()["id"]
    assert zid in {z["id"] for z in municipality_admin.get(f"/api/v1/registry/zones?municipality_id={own}").json()}
    member = {"municipality_id": own, "name": "Rita Responder", "role": "responder", "competence": "nurse", "zone_id": zid,
              "phone": "91234567"}
    assert municipality_admin.post("/api/v1/registry/staff", json=member).status_code == 201
    assert municipality_admin.post("/api/v1/registry/staff", json={**member, "role": "boss"}).status_code == 422
    names = {s["name"] for s in municipality_admin.get("/api/v1/registry/staff").json()}
    assert "Rita Responder" in names
    rid = municipality_admin.post(RECIPIENTS, json=recipient_body(own, new_id(), zone_id=zid)).json()["id"]
    listed = {r["id"]: r for r in municipality_admin.get(RECIPIENTS).json()}
    assert listed[rid]["zone"] == {"id": zid, "code": "NORD", "name": "Nord"}


def test_municipalities_and_agreements_are_for_the_host_admin(host_admin, municipality_admin, engine):
    body = {"number": "4299", "name": "Nykommune", "population": 3100}
    assert municipality_admin.post("/api/v1/registry/municipalities", json=body).status_code == 403
    created = host_admin.post("/api/v1/registry/municipalities", json=body)
    assert created.status_code == 201
    mid = created.json()["id"]
    assert host_admin.post("/api/v1/registry/municipalities", json=body).status_code == 409
    assert "4299" in {m["number"] for m in host_admin.get("/api/v1/registry/municipalities").json()}

    window = {"service_model": 2, "weekdays": "1234567", "starts": "22:00", "ends": "07:00", "categories": ["assistance", "fall"]}
    agreement = {"municipality_id": mid, "valid_from": "2027-01-01", "windows": [window]}
    missing_escalation = host_admin.post("/api/v1/registry/agreements", json=agreement)
    assert missing_escalation.status_code == 422
    assert missing_escalation.json()["details"][0]["field"] == "windows.0.escalation_minutes"
    agreement["windows"] = [{**window, "escalation_minutes": 5}, {**window, "service_model": 1, "starts": "07:00", "ends": "22:00"}]
    done = host_admin.post("/api/v1/registry/agreements", json=agreement)
    assert done.status_code == 201, done.text
    assert municipality_admin.post("/api/v1/registry/agreements", json=agreement).status_code == 403
    assert host_admin.post("/api/v1/registry/agreements", json={**agreement, "municipality_id": 999999}).status_code == 404
    with engine.connect() as conn:
        models = sorted(r.service_model for r in conn.execute(select(agreement_windows).where(agreement_windows.c.agreement_id == done.json()["id"])))
    assert models == [1, 2]
    # Routing without backup may name a last resort; full response never escalates; equal
    # times are the whole day.
    whole_day = {"service_model": 3, "weekdays": "1234567", "starts": "00:00", "ends": "00:00", "categories": ["sensor"]}
    last_resort = host_admin.post("/api/v1/registry/agreements", json={
        **agreement, "valid_from": "2027-06-01", "windows": [{**whole_day, "escalation_minutes": 15}]})
    assert last_resort.status_code == 201, last_resort.text
    refused = host_admin.post("/api/v1/registry/agreements", json={
        **agreement, "valid_from": "2027-07-01", "windows": [{**whole_day, "service_model": 1, "escalation_minutes": 15}]})
    assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "windows.0.escalation_minutes"
    assert {r.details["entity"] for r in audit_records(engine, action=audit.CREATE, municipality_id=mid)} == {"municipality", "agreement"}



def test_the_patient_records_identities_hpr_and_organisation_number_are_checked_and_kept(host_admin, municipality_admin,
                                                                                          own, engine):
    member = {"municipality_id": own, "name": "Hanne HPR", "role": "operator", "competence": "nurse"}
    kept = municipality_admin.post("/api/v1/registry/staff", json={**member, "hpr_number": "9144 889"})
    assert kept.status_code == 201
    refused = municipality_admin.post("/api/v1/registry/staff", json={**member, "hpr_number": "91448A9"})
    assert refused.status_code == 422
    assert refused.json()["details"][0] == {"field": "hpr_number", "problem": "HPR-nummeret består av inntil ni sifre"}
    with engine.connect() as conn:
        assert conn.execute(select(staff.c.hpr_number).where(staff.c.name == "Hanne HPR")).scalar_one() == "9144889"

    body = {"number": "4298", "name": "Orgkommune", "population": 1200}
    wrong = host_admin.post("/api/v1/registry/municipalities", json={**body, "organisation_number": "963296747"})
    assert wrong.status_code == 422 and wrong.json()["details"][0]["field"] == "organisation_number"
    created = host_admin.post("/api/v1/registry/municipalities", json={**body, "organisation_number": "963 296 746"})
    assert created.status_code == 201
    with engine.connect() as conn:
        number = conn.execute(select(municipalities.c.organisation_number)
                              .where(municipalities.c.id == created.json()["id"])).scalar_one()
    assert number == "963296746"


def test_a_device_identity_fits_the_timelines_actor_column(municipality_admin, own):
    """A device's events are written as "device:<identity>" in a 100-character column: an
    identity of 94 characters would be a 500 on PostgreSQL at its first alarm."""
    body = {"municipality_id": own, "kind": "safety_alarm", "protocol": "http", "identity": "X" * 94}
    refused = municipality_admin.post("/api/v1/registry/devices", json=body)
    assert refused.status_code == 422, refused.text
    assert municipality_admin.post("/api/v1/registry/devices", json={**body, "identity": "X" * 93}).status_code == 201


def test_a_units_voice_address_is_a_sip_uri_kept_with_the_device(municipality_admin, own, engine):
    body = {"municipality_id": own, "kind": "safety_alarm", "protocol": "scaip", "identity": "unit-4711"}
    refused = municipality_admin.post("/api/v1/registry/devices", json={**body, "voice_uri": "+4790000001"})
    assert refused.status_code == 422, refused.text
    assert "voice_uri" in refused.text
    created = municipality_admin.post("/api/v1/registry/devices", json={**body, "voice_uri": "sip:unit-4711@10.20.0.15"})
    assert created.status_code == 201, created.text
    with engine.connect() as conn:
        stored = conn.execute(select(devices.c.voice_uri).where(devices.c.id == created.json()["id"])).scalar_one()
    assert stored == "sip:unit-4711@10.20.0.15"
