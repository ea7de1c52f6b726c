"""The responder app's pages on both databases: duty, offers by zone, missions, first wins."""

from __future__ import annotations

from datetime import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import agreement_windows, agreements, audit_log, zones
from respons.web.app import create_app
from tests.factories import T0, add_user, log_in

HX = {"HX-Request": "true"}


@pytest.fixture
def app(migrated_url, clock):
    return create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)


@pytest.fixture
def place(engine, registry):
    """Municipality A routes with backup all day; it gets a second zone."""
    municipality = registry.municipality_ids[0]
    with engine.begin() as conn:
        agreement = conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == municipality)).scalar_one()
        conn.execute(insert(agreement_windows).values(agreement_id=agreement, service_model=2, weekdays="1234567",
                                                      starts=time(0), ends=time(0), categories=["assistance", "fall"],
                                                      escalation_minutes=4))
        home = conn.execute(select(zones.c.id).where(zones.c.municipality_id == municipality)).scalar_one()
        other = conn.execute(insert(zones).values(municipality_id=municipality, code="Z9", name="Sone ni")).inserted_primary_key[0]
    return municipality, home, other


def person(app, engine, clock, name, role, municipality):
    client = TestClient(app, base_url="https://testserver")
    client.__enter__()
    user = add_user(engine, name, [(role, municipality)])
    return client, {**log_in(client, user, clock), **HX}


def send(client, registry, municipality, type_="button_press") -> str:
    device = registry.devices_by_municipality[municipality][0]
    response = client.post("/api/v1/alarms", json={"device": device, "type": type_, "occurred_at": T0.isoformat()},
                           headers={"Authorization": f"Bearer {registry.token_for_device(device)}"})
    assert response.status_code == 202, response.text
    return response.json()["alarm_id"]


def test_offers_reach_the_zone_on_duty_and_the_first_to_accept_wins(app, engine, clock, registry, place):
    municipality, home, other = place
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    per, per_h = person(app, engine, clock, "per", Role.RESPONDER, municipality)
    elsewhere, elsewhere_h = person(app, engine, clock, "eva", Role.RESPONDER, municipality)
    assert "Start vakt" in hilde.get("/app").text
    for client, headers, zone in ((hilde, hilde_h, home), (per, per_h, home), (elsewhere, elsewhere_h, other)):
        assert client.post("/app/duty", data={"zone_id": [str(zone)]}, headers=headers).headers["HX-Redirect"] == "/app"

    alarm_id = send(hilde, registry, municipality)
    assert alarm_id in hilde.get("/app/offers").text and alarm_id in per.get("/app/offers").text
    assert alarm_id not in elsewhere.get("/app/offers").text, "another zone does not get the offer"
    assert "Per" in hilde.get("/app").text, "colleagues on duty in the zone are shown"

    page = hilde.get(f"/app/alarms/{alarm_id}")
    assert page.status_code == 200 and "Testveien 1" in page.text
    with engine.connect() as conn:
        assert conn.execute(select(audit_log.c.actor).where(audit_log.c.alarm_id == alarm_id)).scalars().all() == [
            f"user:{hilde.get('/api/v1/auth/me').json()['user_id']}"]
    assert hilde.post(f"/app/alarms/{alarm_id}/accept", headers=hilde_h).status_code == 200
    late = per.post(f"/app/alarms/{alarm_id}/accept", headers=per_h)
    assert late.status_code == 409 and "Tatt av Hilde." in late.text
    assert alarm_id not in per.get("/app/offers").text
    for client in (hilde, per, elsewhere):
        client.__exit__(None, None, None)


def test_a_mission_the_centre_dispatches_is_taken_and_reported_from_the_app(app, engine, clock, registry, place):
    municipality, home, _ = place
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    alarm_id = send(operator, registry, municipality, "fire")  # fire: always the centre's
    operator.post(f"/console/alarms/{alarm_id}/answer", headers=operator_h)
    assert operator.post(f"/console/alarms/{alarm_id}/actions", data={"action": "dispatch_home_care"},
                         headers=operator_h).status_code == 200

    assert alarm_id in hilde.get("/app/offers").text
    assert "Responssenteret ber hjemmetjenesten" in hilde.get(f"/app/alarms/{alarm_id}").text
    assert hilde.post(f"/app/alarms/{alarm_id}/mission/accept", headers=hilde_h).status_code == 200
    assert hilde.post(f"/app/alarms/{alarm_id}/status", data={"status": "arrived"}, headers=hilde_h).status_code == 200
    done = hilde.post(f"/app/alarms/{alarm_id}/status", data={"status": "done", "note": "Slukket komfyren"}, headers=hilde_h)
    assert done.headers["HX-Redirect"] == "/app"
    work = operator.get(f"/console/alarms/{alarm_id}/work", headers=HX).text
    assert "Oppdraget tatt av hjemmetjenesten" in work and "Fremme hos bruker" in work and "Slukket komfyren" in work
    assert "Besvart" in work, "the centre still holds the alarm and closes it"
    operator.__exit__(None, None, None)
    hilde.__exit__(None, None, None)


def test_a_responder_cannot_take_act_on_or_see_an_alarm_that_was_never_offered_to_them(app, engine, clock, registry, place):
    """Issue 14: a responder accepted an alarm in the centre's queue, and the operator's answer
    then got 409. An alarm not offered to their zone, nor dispatched to them, is 404."""
    municipality, home, other = place
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    eva, eva_h = person(app, engine, clock, "eva", Role.RESPONDER, municipality)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    eva.post("/app/duty", data={"zone_id": [str(other)]}, headers=eva_h)
    centre_alarm = send(operator, registry, municipality, "fire")  # fire: always the centre's queue
    offered = send(operator, registry, municipality)  # a button press: offered to the home zone

    for client, headers, alarm_id in ((hilde, hilde_h, centre_alarm), (eva, eva_h, centre_alarm), (eva, eva_h, offered)):
        assert client.get(f"/app/alarms/{alarm_id}").status_code == 404
        for path, data in (("accept", None), ("decline", None), ("mission/accept", None), ("hand-back", None),
                           ("status", {"status": "en_route"}), ("notes", {"text": "x"}), ("call", {"result": "answered"})):
            response = client.post(f"/app/alarms/{alarm_id}/{path}", data=data, headers=headers)
            assert response.status_code == 404, (path, alarm_id == centre_alarm, response.status_code)
        assert alarm_id not in client.get("/app/offers").text
    assert operator.post(f"/api/v1/alarms/{centre_alarm}/answer", headers=operator_h).json()["state"] == "answered"
    assert hilde.post(f"/app/alarms/{offered}/accept", headers=hilde_h).status_code == 200
    for client in (operator, hilde, eva):
        client.__exit__(None, None, None)


def test_the_app_stream_carries_only_my_offers_and_missions(migrated_url, engine, clock, registry, place):
    """The responder's event stream names no alarm of the centre's queue or of another zone."""
    import threading

    municipality, home, other = place
    app = create_app(Settings(database_url=migrated_url, cookie_secure=False, sse_max_seconds=1.5,
                              sse_heartbeat_seconds=0.2), clock, run_timers=False)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    received: list[str] = []

    def listen():
        with hilde.stream("GET", "/app/events") as response:
            received.extend(response.iter_lines())

    listener = threading.Thread(target=listen)
    listener.start()
    live = app.state.runtime.live
    for _ in range(200):
        if live.subscribers:
            break
        threading.Event().wait(0.01)
    centre_alarm = send(operator, registry, municipality, "fire")
    offered = send(operator, registry, municipality)
    listener.join(10)
    text = "\n".join(received)
    assert offered in text, text
    assert centre_alarm not in text, "the centre's alarm must not reach a responder's phone"
    assert "event: heartbeat" in text
    for client in (operator, hilde):
        client.__exit__(None, None, None)
