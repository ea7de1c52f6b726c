"""The HTTP API end to end through the FastAPI app, on both databases."""

from __future__ import annotations

import json
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from respons.settings import Settings
from respons.store.tables import alarms, quarantine
from respons.web.app import create_app
from respons.domain.access import Role
from tests.factories import T0, add_user, log_in, people_logged_in


@pytest.fixture
def client(migrated_url, registry, clock):
    app = create_app(Settings(database_url=migrated_url, journal_window_ms=1), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as c:
        c.headers["Authorization"] = f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"
        yield c


@pytest.fixture
def operator_headers(client, engine, clock):
    """Log the client in as an operator; bearer auth is dropped so the session is used."""
    del client.headers["Authorization"]
    user = add_user(engine, "olga", [(Role.OPERATOR, None)])
    return log_in(client, user, clock)


def post_alarm(client, registry, **body):
    return client.post(
        "/api/v1/alarms", json=alarm_body(registry, **body), headers={"Authorization": f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"}
    )


def alarm_body(registry, **overrides):
    body = {"device": registry.device_identities[0], "type": "button_press", "occurred_at": "2026-11-23T01:59:58Z"}
    body.update(overrides)
    return body


def quarantined(engine):
    with engine.connect() as conn:
        return conn.execute(select(quarantine).order_by(quarantine.c.received_at)).all()


def alarm_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(alarms)).scalar_one()


def test_valid_alarm_is_accepted_and_queued(client, registry, engine):
    response = client.post("/api/v1/alarms", json=alarm_body(registry, type="4.1"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "queued" and body["duplicate"] is False
    del client.headers["Authorization"]
    operator = add_user(engine, "olga", [(Role.OPERATOR, None)])
    log_in(client, operator, lambda: T0)
    queue = client.get("/api/v1/queue").json()
    assert [item["id"] for item in queue] == [body["alarm_id"]]
    assert queue[0]["type"] == "fall" and queue[0]["priority"] == 1
    assert alarm_count(engine) == 1


@pytest.mark.parametrize("where", ["body", "header"])
def test_retry_with_the_same_key_returns_the_same_alarm(client, registry, engine, where):
    kwargs = (
        {"json": alarm_body(registry, idempotency_key="v-1")}
        if where == "body"
        else {"json": alarm_body(registry), "headers": {"Idempotency-Key": "v-1"}}
    )
    first = client.post("/api/v1/alarms", **kwargs).json()
    second = client.post("/api/v1/alarms", **kwargs).json()
    assert second["alarm_id"] == first["alarm_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert alarm_count(engine) == 1


def test_reused_key_for_another_alarm_is_409_and_kept(client, registry, engine):
    client.post("/api/v1/alarms", json=alarm_body(registry, idempotency_key="v-2"))
    response = client.post("/api/v1/alarms", json=alarm_body(registry, idempotency_key="v-2", type="fall"))
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    kept = quarantined(engine)
    assert [q.reason for q in kept] == ["idempotency_conflict"]
    assert json.loads(kept[0].body)["type"] == "fall"
    assert alarm_count(engine) == 1


def test_unknown_device_is_422_with_a_clear_message_and_kept(client, registry, engine):
    response = client.post("/api/v1/alarms", json=alarm_body(registry, device="TA-NOPE"))
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "unknown_device"
    assert "Unknown device 'TA-NOPE'" in error["message"]
    kept = quarantined(engine)
    assert [q.id for q in kept] == [error["quarantine_id"]]
    assert json.loads(kept[0].body)["device"] == "TA-NOPE"
    assert alarm_count(engine) == 0


@pytest.mark.parametrize(
    "body, field, problem",
    [
        ('{"device": "TA-000000", "type": "fall"', "(body)", "JSON"),
        ('{"device": "TA-000000", "type": "panic", "occurred_at": "2026-11-23T01:00:00Z"}', "type", "unknown alarm type 'panic'"),
        ('{"device": "TA-000000", "type": "fall", "occurred_at": "2026-11-23T01:00:00"}', "occurred_at", "timezone"),
        ('{"type": "fall", "occurred_at": "2026-11-23T01:00:00Z"}', "(body)", "exactly one of `device` or `recipient_id`"),
    ],
)
def test_bad_payload_is_422_naming_the_problem_and_kept(client, engine, clock, body, field, problem):
    response = client.post("/api/v1/alarms", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "invalid_payload"
    assert any(p["field"] == field and problem in p["problem"] for p in error["problems"]), error
    kept = quarantined(engine)
    assert len(kept) == 1 and kept[0].body == body.encode() and kept[0].reason == "invalid_payload"
    del client.headers["Authorization"]
    log_in(client, add_user(engine, "hanne", [(Role.HOST_ADMIN, None)]), clock)
    listed = client.get("/api/v1/admin/quarantine").json()
    assert listed[0]["id"] == error["quarantine_id"] and listed[0]["body"] == body


def test_recipient_id_instead_of_device(client, registry):
    response = client.post(
        "/api/v1/alarms", json={"recipient_id": registry.recipient_ids[1], "type": "voice_call", "occurred_at": "2026-11-23T02:00:00+01:00"}
    )
    assert response.status_code == 202, response.text


def test_operator_flow_over_http(client, registry, clock, operator_headers):
    alarm_id = post_alarm(client, registry).json()["alarm_id"]
    h = operator_headers
    clock.advance(seconds=12)
    assert client.post(f"/api/v1/alarms/{alarm_id}/answer", headers=h).json()["state"] == "answered"
    assert client.post(f"/api/v1/alarms/{alarm_id}/notes", json={"text": "Ringte datter"}, headers=h).status_code == 200
    refused = client.post(f"/api/v1/alarms/{alarm_id}/close", headers=h)
    assert refused.status_code == 409 and refused.json()["error"] == "illegal_transition"
    assert "record an outcome" in refused.json()["message"]
    resolved = client.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"outcome": "next_of_kin"}, headers=h)
    assert resolved.json() == {"alarm_id": alarm_id, "state": "resolved", "seq": 5}
    assert client.post(f"/api/v1/alarms/{alarm_id}/close", headers=h).json()["state"] == "closed"

    detail = client.get(f"/api/v1/alarms/{alarm_id}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["received", "queued", "answered", "note", "resolved", "closed"]
    me = client.get("/api/v1/auth/me").json()["user_id"]
    assert {e["actor"] for e in detail["timeline"][2:]} == {f"user:{me}"}
    assert detail["answer_seconds"] == 12.0 and detail["outcome"] == "next_of_kin"
    assert client.get("/api/v1/queue").json() == [], "a closed alarm leaves the queue"


def test_operator_errors_are_specific(client, registry, operator_headers):
    alarm_id = post_alarm(client, registry).json()["alarm_id"]
    assert client.post("/api/v1/alarms/nope/answer", headers=operator_headers).status_code == 404
    assert client.get("/api/v1/alarms/nope").json()["error"] == "alarm_not_found"
    without_csrf = client.post(f"/api/v1/alarms/{alarm_id}/answer")
    assert without_csrf.status_code == 403 and "X-CSRF-Token" in without_csrf.json()["message"]
    bad_outcome = client.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"outcome": "shrug"}, headers=operator_headers)
    assert bad_outcome.status_code == 422


def test_openapi_documents_intake_and_operator_endpoints_with_examples(client):
    spec = client.get("/openapi.json").json()
    for path in ["/api/v1/alarms", "/api/v1/queue", "/api/v1/alarms/{alarm_id}", "/api/v1/alarms/{alarm_id}/answer",
                 "/api/v1/alarms/{alarm_id}/notes", "/api/v1/alarms/{alarm_id}/resolve", "/api/v1/alarms/{alarm_id}/close"]:
        assert path in spec["paths"], path
    intake = spec["paths"]["/api/v1/alarms"]["post"]
    assert {"202", "409", "422", "503"} <= set(intake["responses"])
    # What the intake's own reading of the request checks is what the document declares.
    header = next(p for p in intake["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["schema"]["anyOf"][0]["maxLength"] == 200
    assert intake["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AlarmIn")
    assert intake["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/AlarmAccepted")
    assert spec["components"]["schemas"]["AlarmIn"]["examples"][0]["type"] == "fall"
    assert client.get("/docs").status_code == 200


def test_a_colleague_must_take_over_before_finishing_and_the_take_over_is_on_the_timeline(migrated_url, registry, engine, clock):
    app = create_app(Settings(database_url=migrated_url, journal_window_ms=1), clock, run_timers=False)
    with people_logged_in(app, engine, clock) as as_user:
        first, second = as_user("olga", [(Role.OPERATOR, None)]), as_user("per", [(Role.OPERATOR, None)])
        alarm_id = post_alarm(first, registry).json()["alarm_id"]
        assert first.post(f"/api/v1/alarms/{alarm_id}/answer").json()["state"] == "answered"
        first_id = first.get("/api/v1/auth/me").json()["user_id"]

        refused = second.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"outcome": "false_alarm"})
        assert refused.status_code == 409
        assert refused.json()["error"] == "held_by_colleague" and refused.json()["holder"] == f"user:{first_id}"
        assert second.post(f"/api/v1/alarms/{alarm_id}/notes", json={"text": "Overtar etter vaktskifte"}).status_code == 200
        assert second.post(f"/api/v1/alarms/{alarm_id}/take-over").json()["state"] == "answered"
        assert second.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"outcome": "false_alarm"}).status_code == 200
        assert first.post(f"/api/v1/alarms/{alarm_id}/close").json()["error"] == "held_by_colleague"

        timeline = second.get(f"/api/v1/alarms/{alarm_id}").json()["timeline"]
        assert [e["kind"] for e in timeline] == ["received", "queued", "answered", "note", "taken_over", "resolved"]
        assert timeline[4]["data"] == {"from": f"user:{first_id}"}
