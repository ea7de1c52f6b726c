"""The responder app's pages on both databases: duty, offers by zone, missions, first wins."""

from __future__ import annotations

import threading
import time as time_module
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


def listening(app, client) -> tuple[threading.Thread, list[str]]:
    """The app's event stream read on a thread, once the bus has the subscription: (the
    thread, the lines it read). The stream ends by itself (its limit, or a reload)."""
    lines: list[str] = []
    # The journal settles a unit's request before it publishes the unit's changes: a duty just
    # changed could reach this new stream and end it (a reload). A unit of nothing, written
    # after it, returns only once that publishing is done.
    app.state.runtime.journal.run_sync(lambda conn: None)

    def listen():
        with client.stream("GET", "/app/events") as response:
            lines.extend(response.iter_lines())

    listener = threading.Thread(target=listen)
    listener.start()
    deadline = time_module.monotonic() + 5
    while not app.state.runtime.live.subscribers and time_module.monotonic() < deadline:
        time_module.sleep(0.01)
    return listener, lines


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
    # The phone's own map application finds the address (no public map site: docs/console.md).
    assert 'id="map-link"' in page.text and 'href="geo:0,0?q=Testveien%201%2C' in page.text
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
    municipality, home, other = place
    app = create_app(Settings(database_url=migrated_url, cookie_secure=False, sse_max_seconds=1.5,
                              sse_heartbeat_seconds=0.2), clock, run_timers=False)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    listener, received = listening(app, hilde)
    centre_alarm = send(operator, registry, municipality, "fire")
    offered = send(operator, registry, municipality)
    listener.join(10)
    text = "\n".join(received)
    assert offered in text, text
    assert centre_alarm not in text, "the centre's alarm must not reach a responder's phone"
    assert "event: heartbeat" in text
    for client in (operator, hilde):
        client.__exit__(None, None, None)


def test_having_once_been_offered_an_alarm_gives_no_access_to_it(app, engine, clock, registry, place):
    """Per is on duty in the zone the alarm was offered to. It escalated to the centre and an
    operator holds it: Per may no longer open the person's card, call, note or see it."""
    from respons.engine import routing

    municipality, home, _ = place
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    per, per_h = person(app, engine, clock, "per", Role.RESPONDER, municipality)
    per.post("/app/duty", data={"zone_id": [str(home)]}, headers=per_h)
    alarm_id = send(operator, registry, municipality)  # offered to the home zone
    assert per.get(f"/app/alarms/{alarm_id}").status_code == 200, "on offer to Per: Per may look"
    with engine.begin() as conn:
        routing.on_escalate(conn, alarm_id, clock.advance(minutes=5))  # the escalation timer
    assert operator.post(f"/api/v1/alarms/{alarm_id}/answer", headers=operator_h).json()["state"] == "answered"
    assert per.get(f"/app/alarms/{alarm_id}").status_code == 404
    assert per.post(f"/app/alarms/{alarm_id}/call", data={"result": "answered"}, headers=per_h).status_code == 404
    refused = per.post(f"/app/alarms/{alarm_id}/accept", headers=per_h)
    assert refused.status_code == 409, "it was Per's to see once: say why, not 404"
    operator.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"outcome": "false_alarm"}, headers=operator_h)
    assert operator.post(f"/api/v1/alarms/{alarm_id}/close", headers=operator_h).json()["state"] == "closed"
    assert per.post(f"/app/alarms/{alarm_id}/notes", data={"text": "x"}, headers=per_h).status_code == 404
    assert per.get(f"/app/alarms/{alarm_id}").status_code == 404
    for client in (operator, per):
        client.__exit__(None, None, None)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_escalation_on_another_node_waits_for_an_accept_in_progress(app, engine, clock, registry, place):
    """Two nodes: the accept holds the alarm's row from its check to its commit, so an
    escalation committing in between cannot turn the accept into taking a centre alarm."""
    from respons.domain.lifecycle import Event, EventKind
    from respons.engine import timeline as alarm_timeline
    from respons.engine import routing
    from respons.store.tables import alarm_events, alarms

    municipality, home, _ = place
    operator, _ = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    user_id = hilde.get("/api/v1/auth/me").json()["user_id"]
    alarm_id = send(operator, registry, municipality)
    now = clock.advance(minutes=5)
    node_a = engine.connect()
    transaction = node_a.begin()
    # Node A has checked that the alarm is on offer to Hilde, and has not written yet.
    routing._require_offered(node_a, alarm_id, EventKind.ANSWERED, user_id=user_id, visible_to=frozenset({municipality}))

    failures: list[BaseException] = []

    def escalate_on_node_b():
        try:
            with engine.begin() as node_b:
                routing.on_escalate(node_b, alarm_id, now)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    node_b = threading.Thread(target=escalate_on_node_b)
    node_b.start()
    node_b.join(0.5)
    assert node_b.is_alive(), "node B waits for the row node A holds"
    alarm_timeline.append_event(node_a, alarm_id, Event(EventKind.ANSWERED, now, f"user:{user_id}", {"via": "responder_app"}))
    transaction.commit()
    node_a.close()
    node_b.join(5)
    with engine.connect() as conn:
        row = conn.execute(select(alarms.c.state, alarms.c.answered_by).where(alarms.c.id == alarm_id)).one()
        kinds = conn.execute(select(alarm_events.c.kind).where(alarm_events.c.alarm_id == alarm_id)).scalars().all()
    assert (row.state, row.answered_by) == ("answered", f"user:{user_id}")
    assert "escalated" not in kinds and not failures, "the escalation found the alarm taken and did nothing"
    for client in (operator, hilde):
        client.__exit__(None, None, None)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_responders_on_two_nodes_cannot_both_accept_a_mission(app, engine, clock, registry, place):

    from respons.domain.lifecycle import IllegalTransition
    from respons.engine import missions

    municipality, home, _ = place
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    per, per_h = person(app, engine, clock, "per", Role.RESPONDER, municipality)
    for client, headers in ((hilde, hilde_h), (per, per_h)):
        client.post("/app/duty", data={"zone_id": [str(home)]}, headers=headers)
    ids = {name: c.get("/api/v1/auth/me").json()["user_id"] for name, c in (("hilde", hilde), ("per", per))}
    alarm_id = send(operator, registry, municipality, "fire")
    operator.post(f"/console/alarms/{alarm_id}/answer", headers=operator_h)
    operator.post(f"/console/alarms/{alarm_id}/actions", data={"action": "dispatch_home_care"}, headers=operator_h)
    visible = frozenset({municipality})
    node_a = engine.connect()
    transaction = node_a.begin()
    missions.accept(node_a, alarm_id, user_id=ids["hilde"], now=clock(), visible_to=visible)
    outcome: list = []

    def accept_on_node_b():
        try:
            with engine.begin() as node_b:
                missions.accept(node_b, alarm_id, user_id=ids["per"], now=clock(), visible_to=visible)
            outcome.append("accepted")
        except IllegalTransition as exc:
            outcome.append(exc.reason)

    node_b = threading.Thread(target=accept_on_node_b)
    node_b.start()
    node_b.join(0.5)
    assert node_b.is_alive(), "Per's accept waits for Hilde's"
    transaction.commit()
    node_a.close()
    node_b.join(5)
    assert outcome == ["mission_taken"]
    for client in (operator, hilde, per):
        client.__exit__(None, None, None)


def test_home_care_cannot_be_dispatched_for_an_alarm_with_no_zone(app, engine, clock, registry, place):
    from sqlalchemy import update

    from respons.store.tables import recipients

    municipality, _, _ = place
    operator, operator_h = person(app, engine, clock, "olga", Role.OPERATOR, None)
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.municipality_id == municipality).values(zone_id=None))
    alarm_id = send(operator, registry, municipality, "fire")
    operator.post(f"/console/alarms/{alarm_id}/answer", headers=operator_h)
    refused = operator.post(f"/console/alarms/{alarm_id}/actions", data={"action": "dispatch_home_care"},
                            headers=operator_h)
    assert refused.status_code == 409 and "ingen sone" in refused.text
    operator.__exit__(None, None, None)


def test_a_duty_change_ends_the_app_stream_so_the_new_one_filters_by_the_new_duty(migrated_url, engine, clock,
                                                                                   registry, place):
    municipality, home, other = place
    app = create_app(Settings(database_url=migrated_url, cookie_secure=False, sse_max_seconds=30,
                              sse_heartbeat_seconds=0.2), clock, run_timers=False)
    hilde, hilde_h = person(app, engine, clock, "hilde", Role.RESPONDER, municipality)
    hilde.post("/app/duty", data={"zone_id": [str(home)]}, headers=hilde_h)
    listener, lines = listening(app, hilde)
    # The same person goes on duty elsewhere (from this phone or another: the same user).
    hilde.post("/app/duty", data={"zone_id": [str(other)]}, headers=hilde_h)
    listener.join(10)
    assert not listener.is_alive(), "the stream ended instead of running to its 30 s limit"
    assert "event: reload" in lines
    hilde.__exit__(None, None, None)
