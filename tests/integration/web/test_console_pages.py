"""The console's pages on both databases: queue order, the audited card, refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from respons.auth import audit
from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.engine import receiving
from respons.settings import Settings
from respons.store.tables import alarm_events, audit_log, contacts, epj_documents, planned_visits, recipients
from respons.web.app import create_app
from tests.factories import T0, add_user, log_in

HX = {"HX-Request": "true"}


@pytest.fixture
def app(migrated_url, clock):
    return create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)


@pytest.fixture
def alarms(engine, registry, clock):
    """Three waiting alarms of different priority and age, oldest first."""
    made = {}
    with engine.begin() as conn:
        for n, (code, rid) in enumerate([("door_opened", 0), ("fall", 1), ("button_press", 2)]):
            new = receiving.NewAlarm(registry.municipality_ids[0], registry.recipient_ids[rid], None, alarm_type(code), "http",
                                   "test", T0)
            made[code] = receiving.receive(conn, new, now=T0 + timedelta(seconds=n), answer_deadline=timedelta(seconds=60)).alarm_id
    clock.advance(seconds=50)
    return made


def operator(app, engine, clock, name):
    client = TestClient(app, base_url="https://testserver")
    client.__enter__()
    user = add_user(engine, name, [(Role.OPERATOR, None)])
    headers = log_in(client, user, clock)
    return client, {**headers, **HX}, user


def reads(engine, alarm_id):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.action == audit.READ_RECIPIENT, audit_log.c.alarm_id == alarm_id)).scalar_one()


def test_queue_shows_waiting_alarms_by_priority_then_age_with_a_running_clock(app, engine, clock, alarms):
    client, headers, _ = operator(app, engine, clock, "anne")
    page = client.get("/console")
    assert page.status_code == 200
    order = re.findall(r'id="row-([0-9a-f-]+)"', page.text)
    assert order == [alarms["fall"], alarms["button_press"], alarms["door_opened"]]
    # The clock as the server saw it at render time; the browser counts on from there.
    assert 'data-answer-seconds="50.0"' in page.text  # the oldest waited 50 s
    client.post(f"/console/alarms/{alarms['door_opened']}/answer", headers=headers)
    order = re.findall(r'id="row-([0-9a-f-]+)"', client.get("/console").text)
    assert order[-1] == alarms["door_opened"], "an alarm someone holds goes below the waiting ones"
    client.__exit__(None, None, None)


def test_opening_the_card_is_an_audited_read_and_the_live_work_refresh_is_not(app, engine, clock, registry, alarms):
    alarm_id = alarms["fall"]
    with engine.begin() as conn:
        conn.execute(insert(contacts).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[1],
                                             name="Kari Nordmann", relation="datter", phone="+4740000001", priority=1))
        conn.execute(insert(planned_visits).values(municipality_id=registry.municipality_ids[0],
                                                   recipient_id=registry.recipient_ids[1], starts_at=T0 + timedelta(hours=3),
                                                   service="Trygghetsbesøk"))
    client, headers, user = operator(app, engine, clock, "anne")
    assert reads(engine, alarm_id) == 0
    card = client.get(f"/console/alarms/{alarm_id}", headers=HX)
    assert card.status_code == 200
    assert "Kari Nordmann" in card.text and "Trygghetsbesøk" in card.text and "Testveien 2" in card.text
    assert reads(engine, alarm_id) == 1
    with engine.connect() as conn:
        actor = conn.execute(select(audit_log.c.actor).where(audit_log.c.alarm_id == alarm_id)).scalar_one()
    assert actor == f"user:{user.id}"

    work = client.get(f"/console/alarms/{alarm_id}/work", headers=HX)
    assert work.status_code == 200 and 'id="timeline"' in work.text
    assert "Testveien" not in work.text, "the live refresh carries no record"
    assert reads(engine, alarm_id) == 1
    # Without htmx (a link, a reload): the whole console with that card open, audited too.
    full = client.get(f"/console/alarms/{alarm_id}")
    assert 'id="queue"' in full.text and 'id="card"' in full.text
    assert reads(engine, alarm_id) == 2
    client.__exit__(None, None, None)


def test_the_cards_map_link_goes_to_the_configured_map_service_or_else_to_the_workstations_map(
        migrated_url, engine, clock, registry, alarms):
    # Closed network: never a public map site; the municipality's own service when configured.
    by_position = create_app(Settings(database_url=migrated_url, cookie_secure=False,
                                      map_url="https://kart.example.no/?lat={lat}&lon={lon}"), clock, run_timers=False)
    client, _headers, _user = operator(by_position, engine, clock, "anne")
    card = client.get(f"/console/alarms/{alarms['fall']}", headers=HX).text
    assert 'href="geo:0,0?q=Testveien%202%2C' in card, "no coordinates: the template cannot be filled"
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == registry.recipient_ids[1])
                     .values(latitude=58.146, longitude=7.995))
    card = client.get(f"/console/alarms/{alarms['fall']}", headers=HX).text
    assert 'href="https://kart.example.no/?lat=58.14600&amp;lon=7.99500"' in card
    assert "openstreetmap" not in card
    client.__exit__(None, None, None)

    default = create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)
    client, _headers, _user = operator(default, engine, clock, "bjorn")
    assert 'href="geo:58.14600,7.99500"' in client.get(f"/console/alarms/{alarms['fall']}", headers=HX).text
    client.__exit__(None, None, None)


def test_a_second_operator_is_told_who_has_the_alarm(app, engine, clock, alarms):
    anne, anne_headers, _ = operator(app, engine, clock, "anne")
    bjorn, bjorn_headers, _ = operator(app, engine, clock, "bjorn")
    assert anne.post(f"/console/alarms/{alarms['fall']}/answer", headers=anne_headers).status_code == 200
    refused = bjorn.post(f"/console/alarms/{alarms['fall']}/answer", headers=bjorn_headers)
    assert refused.status_code == 409
    assert "Alarmen er allerede tatt av Anne." in refused.text
    row = bjorn.get(f"/console/queue/rows/{alarms['fall']}")
    assert "Tatt av Anne" in row.text
    anne.__exit__(None, None, None)
    bjorn.__exit__(None, None, None)


def test_actions_are_validated_and_recorded_on_the_timeline(app, engine, clock, registry, alarms):
    alarm_id = alarms["fall"]
    with engine.begin() as conn:
        own = conn.execute(insert(contacts).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[1], name="Kari Nordmann",
            relation="datter", phone="+4740000001", priority=1)).inserted_primary_key[0]
        stranger = conn.execute(insert(contacts).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0], name="Fremmed Person",
            relation="sønn", phone="+4740000009", priority=1)).inserted_primary_key[0]
    client, headers, _ = operator(app, engine, clock, "anne")
    url = f"/console/alarms/{alarm_id}"

    early = client.post(url + "/actions", data={"action": "dispatch_home_care"}, headers=headers)
    assert early.status_code == 409, "act only on an alarm you have answered"
    client.post(url + "/answer", headers=headers)

    wrong = client.post(url + "/actions", data={"action": "call", "whom": f"contact:{stranger}", "result": "answered"},
                        headers=headers)
    assert wrong.status_code == 409 and "Fremmed" not in wrong.text
    assert client.post(url + "/notes", data={"text": "   "}, headers=headers).status_code == 422
    no_outcome = client.post(url + "/resolve", data={"outcome": ""}, headers=headers)
    assert no_outcome.status_code == 422 and "Velg et utfall." in no_outcome.text

    called = client.post(url + "/actions", data={"action": "call", "whom": f"contact:{own}", "result": "no_answer"},
                         headers=headers)
    assert called.status_code == 200 and "Ringte Kari Nordmann (+4740000001) – Svarte ikke" in called.text
    assert client.post(url + "/actions", data={"action": "call_emergency_services"}, headers=headers).status_code == 200
    assert client.post(url + "/resolve", data={"outcome": "emergency_services", "note": "AMK sendte ambulanse"},
                       headers=headers).status_code == 200
    closed = client.post(url + "/close", headers=headers)
    assert closed.status_code == 200 and "Alarmen er lukket." in closed.text
    assert client.get(f"/console/queue/rows/{alarm_id}").status_code == 204

    with engine.connect() as conn:
        events = conn.execute(select(alarm_events.c.kind, alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id)
                              .order_by(alarm_events.c.seq)).all()
    assert [e.kind for e in events] == ["received", "queued", "answered", "action", "action", "resolved", "closed"]
    assert events[3].data == {"action": "call_contact", "result": "no_answer", "contact_id": own,
                              "contact_name": "Kari Nordmann", "phone": "+4740000001"}
    client.__exit__(None, None, None)


def test_the_console_speaks_english_when_chosen(app, engine, clock, alarms):
    client, headers, _ = operator(app, engine, clock, "anne")
    client.cookies.set("respons_lang", "en")
    page = client.get("/console")
    assert "Alarm queue" in page.text and "Fall detected" in page.text and 'lang="en"' in page.text
    assert "Alarmkø" not in page.text
    client.__exit__(None, None, None)


def test_finishing_a_colleagues_alarm_needs_an_explicit_take_over_in_both_languages(app, engine, clock, alarms):
    alarm_id = alarms["fall"]
    anne, anne_headers, _ = operator(app, engine, clock, "anne")
    bjorn, bjorn_headers, _ = operator(app, engine, clock, "bjorn")
    url = f"/console/alarms/{alarm_id}"
    anne.post(url + "/answer", headers=anne_headers)

    work = bjorn.get(url + "/work", headers=HX)
    assert 'id="take-over-button"' in work.text and "Anne har alarmen." in work.text
    refused = bjorn.post(url + "/resolve", data={"outcome": "resolved_at_centre"}, headers=bjorn_headers)
    assert refused.status_code == 409
    assert "Anne har alarmen. Trykk Overta for å ta den over." in refused.text
    bjorn.cookies.set("respons_lang", "en")
    refused = bjorn.post(url + "/resolve", data={"outcome": "resolved_at_centre"}, headers=bjorn_headers)
    assert "Anne holds the alarm. Press Take over to take it." in refused.text and "Overta" not in refused.text
    bjorn.cookies.set("respons_lang", "nb")
    # A colleague's note is fine (handover).
    assert bjorn.post(url + "/notes", data={"text": "Ringte naboen"}, headers=bjorn_headers).status_code == 200

    taken = bjorn.post(url + "/take-over", headers=bjorn_headers)
    assert taken.status_code == 200
    assert "Tatt av deg" in taken.text and "Overtatt" in taken.text and "fra Anne" in taken.text
    assert 'id="take-over-button"' not in taken.text
    # The former holder is told, not "taken by you".
    former = anne.get(url + "/work", headers=HX)
    assert "Overtatt av Bjorn" in former.text and "Tatt av deg" not in former.text
    assert 'id="take-over-button"' in former.text
    anne.cookies.set("respons_lang", "en")
    assert "Taken over by Bjorn" in anne.get(url + "/work", headers=HX).text
    assert bjorn.post(url + "/resolve", data={"outcome": "resolved_at_centre"}, headers=bjorn_headers).status_code == 200
    anne.__exit__(None, None, None)
    bjorn.__exit__(None, None, None)


def test_a_note_after_a_colleague_closed_the_alarm_is_kept_as_an_addendum_and_the_operator_told(app, engine, clock, alarms):
    alarm_id = alarms["button_press"]
    client, headers, _ = operator(app, engine, clock, "anne")
    url = f"/console/alarms/{alarm_id}"
    client.post(url + "/answer", headers=headers)
    client.post(url + "/resolve", data={"outcome": "resolved_at_centre"}, headers=headers)
    client.post(url + "/close", headers=headers)

    saved = client.post(url + "/notes", data={"text": "Datter ringte tilbake"}, headers=headers)
    assert saved.status_code == 200
    assert "Notatet ble lagret som tillegg – alarmen var allerede lukket." in saved.text
    assert "Tillegg etter lukking" in saved.text and "Datter ringte tilbake" in saved.text
    client.cookies.set("respons_lang", "en")
    saved = client.post(url + "/notes", data={"text": "Second addendum"}, headers=headers)
    assert "The note was saved as an addendum – the alarm was already closed." in saved.text
    assert "Tillegg" not in saved.text
    with engine.connect() as conn:
        notes = conn.execute(select(alarm_events.c.data).where(alarm_events.c.alarm_id == alarm_id,
                                                              alarm_events.c.kind == "note")).scalars().all()
    assert [n.get("addendum") for n in notes] == [True, True]
    client.__exit__(None, None, None)


def test_a_call_is_not_recorded_without_a_chosen_result(app, engine, clock, alarms):
    client, headers, _ = operator(app, engine, clock, "anne")
    url = f"/console/alarms/{alarms['fall']}"
    work = client.post(url + "/answer", headers=headers)
    assert '<option value="">Velg resultat</option>' in work.text and 'name="result" required' in work.text
    refused = client.post(url + "/actions", data={"action": "call", "whom": "recipient", "result": ""}, headers=headers)
    assert refused.status_code == 422 and "Velg resultatet av samtalen." in refused.text
    with engine.connect() as conn:
        kinds = conn.execute(select(alarm_events.c.kind).where(alarm_events.c.alarm_id == alarms["fall"])).scalars().all()
    assert "action" not in kinds
    client.__exit__(None, None, None)


def test_the_page_carries_the_heartbeat_mute_and_reminder_settings(app, engine, clock, alarms):
    client, _, user = operator(app, engine, clock, "anne")
    page = client.get("/console").text
    assert 'data-heartbeat-seconds="3' in page and 'data-mute-seconds="120"' in page
    assert 'data-repeat-seconds="10"' in page and f'data-user="user:{user.id}"' in page
    assert "Demp lyd (2 min)" in page and 'sse-swap="alarm,reload,heartbeat"' in page
    card = client.get(f"/console/alarms/{alarms['fall']}", headers=HX).text
    assert f'href="/deviations/new?alarm_id={alarms["fall"]}"' in card and "Registrer avvik" in card
    client.__exit__(None, None, None)


def test_a_closed_alarm_says_how_its_patient_record_document_stands(app, engine, clock, alarms):
    alarm_id = alarms["button_press"]
    client, headers, _ = operator(app, engine, clock, "anne")
    url = f"/console/alarms/{alarm_id}"
    answered = client.post(url + "/answer", headers=headers)
    assert 'id="epj-status"' not in answered.text, "an open alarm has no document yet"
    client.post(url + "/resolve", data={"outcome": "resolved_at_centre"}, headers=headers)
    closed = client.post(url + "/close", headers=headers)
    assert "Journal (EPJ): venter på sending." in closed.text

    def shown(**values) -> str:
        with engine.begin() as conn:
            conn.execute(update(epj_documents).where(epj_documents.c.alarm_id == alarm_id).values(**values))
        return re.search(r'<p class="muted" id="epj-status"[^>]*>(.*?)</p>', client.get(url + "/work", headers=HX).text,
                         re.S).group(1).strip()

    assert shown(attempts=3) == "Journal (EPJ): sendingen feiler, prøver igjen (3 forsøk)."
    assert shown(state="delivered", delivered_at=T0 + timedelta(hours=1)) == "Journal (EPJ): dokumentert kl. 04:00:00."
    assert shown(state="refused") == "Journal (EPJ): avvist av journalsystemet – administrator ser hvorfor."
    client.cookies.set("respons_lang", "en")
    assert shown(state="not_documented") == "Patient record (EPJ): not documented – the administrator sees why."
    client.__exit__(None, None, None)
