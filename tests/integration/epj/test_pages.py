"""The host administrator's EPJ page on both databases: what has not been delivered and why,
a re-send that is audited, and nobody else may see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from respons.auth import audit
from respons.domain.access import Role
from respons.settings import Settings
from respons.epj import watch
from respons.store.tables import audit_log, devices, epj_delivery_faults, epj_documents
from respons.store.journal import Journal
from respons.runtime import REACTIONS
from respons.web.app import create_app
from tests.factories import T0, add_user, closed_alarms, log_in

HX = {"HX-Request": "true"}


@pytest.fixture
def app(migrated_url, clock):
    return create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)


@pytest.fixture
def documents(engine, registry):
    """Three closed alarms: one delivered, one refused by the EPJ, one that failed to send."""
    municipality = registry.municipality_ids[0]
    with engine.begin() as conn:
        device_id = conn.execute(insert(devices).values(municipality_id=municipality, recipient_id=registry.recipient_ids[0],
                                                        kind="safety_alarm", protocol="http", identity="SA-P",
                                                        created_at=T0)).inserted_primary_key[0]
    journal = Journal(engine, window_ms=1, reactions=REACTIONS).start()
    try:
        ids = closed_alarms(journal, municipality_id=municipality, recipient_id=registry.recipient_ids[0],
                            device_id=device_id, device_identity="SA-P", operator="user:999", count=3)
    finally:
        journal.close()
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                              "diagnostics": "Pasienten finnes ikke i journalen"}]}
    with engine.begin() as conn:
        for alarm_id, values in zip(ids, [
                {"state": "delivered", "due_at": None, "delivered_at": T0 + timedelta(minutes=2), "attempts": 1},
                {"state": "refused", "due_at": None, "attempts": 1, "status_code": 422, "outcome": outcome},
                {"attempts": 2, "last_error": "ConnectError: [Errno 111] Connection refused"}]):
            conn.execute(update(epj_documents).where(epj_documents.c.alarm_id == alarm_id).values(**values))
    return ids


def document_of(engine, alarm_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(epj_documents.c.id).where(epj_documents.c.alarm_id == alarm_id)).scalar_one()


def client_as(app, engine, clock, name, role, municipality=None):
    client = TestClient(app, base_url="https://testserver")
    client.__enter__()
    headers = log_in(client, add_user(engine, name, [(role, municipality)]), clock)
    return client, {**headers, **HX}


def test_the_host_administrator_sees_what_is_not_delivered_and_why_and_sends_it_again(app, engine, clock, documents):
    delivered, refused, failing = documents
    client, headers = client_as(app, engine, clock, "hanne", Role.HOST_ADMIN)
    page = client.get("/epj")
    assert page.status_code == 200
    assert f'data-alarm-id="{delivered}"' not in page.text
    assert f'data-alarm-id="{refused}" data-state="refused"' in page.text
    assert "HTTP 422" in page.text and "Pasienten finnes ikke i journalen" in page.text
    assert f'data-alarm-id="{failing}" data-state="waiting"' in page.text and "Connection refused" in page.text

    sent = client.post(f"/epj/documents/{document_of(engine, refused)}/resend", headers=headers)
    assert sent.status_code == 200 and sent.headers["HX-Redirect"] == "/epj?resent=1"
    assert "Dokumentet sendes på nytt." in client.get("/epj?resent=1").text
    with engine.connect() as conn:
        row = conn.execute(select(epj_documents).where(epj_documents.c.alarm_id == refused)).one()
        record = conn.execute(select(audit_log).where(audit_log.c.alarm_id == refused,
                                                      audit_log.c.action == audit.UPDATE)).one()
        assert audit.verify(conn).ok
    assert (row.state, row.due_at is not None) == ("waiting", True)
    assert record.details == {"entity": "epj_document", "document_id": row.id, "resend": True, "was": "refused"}
    assert record.municipality_id == row.municipality_id
    assert client.post(f"/epj/documents/{document_of(engine, delivered)}/resend", headers=headers).status_code == 404, \
        "a delivered one is not resent"
    client.cookies.set("respons_lang", "en")
    assert "Patient record (EPJ): delivery" in client.get("/epj").text
    client.__exit__(None, None, None)


def test_nobody_but_the_host_administrator_sees_the_page(app, engine, clock, registry, documents):
    operator, headers = client_as(app, engine, clock, "olga", Role.OPERATOR)
    assert operator.get("/epj").status_code == 403
    assert operator.post(f"/epj/documents/{document_of(engine, documents[1])}/resend", headers=headers).status_code == 403
    admin, _ = client_as(app, engine, clock, "kari", Role.MUNICIPALITY_ADMIN, registry.municipality_ids[0])
    assert admin.get("/epj").status_code == 403
    operator.__exit__(None, None, None)
    admin.__exit__(None, None, None)


def test_a_municipality_whose_deliveries_fail_is_on_the_page_and_its_alarm_tells_the_operator_what_to_do(
        app, engine, clock, registry, journal):
    municipality = registry.municipality_ids[0]
    journal.run_sync(lambda c: watch.failed(c, municipality, now=T0, error="HTTP 503 <b>", alarm_after=timedelta(minutes=15)))
    journal.run_sync(lambda c: watch.sweep(c, T0 + timedelta(minutes=15), answer_deadline=timedelta(seconds=60)))
    with engine.connect() as conn:
        [alarm_id] = conn.execute(select(epj_delivery_faults.c.alarm_id)).scalars().all()

    admin, _ = client_as(app, engine, clock, "hanne", Role.HOST_ADMIN)
    page = admin.get("/epj").text
    assert f'class="alert alert-error epj-failing" role="alert" data-municipality-id="{municipality}"' in page
    assert f'href="/console/alarms/{alarm_id}"' in page and "HTTP 503 &lt;b&gt;" in page

    operator, _ = client_as(app, engine, clock, "olav", Role.OPERATOR)
    card = operator.get(f"/console/alarms/{alarm_id}", headers=HX)
    assert card.status_code == 200
    assert 'id="system-fault"' in card.text and "Varsle vertsadministrator" in card.text
    assert "HTTP 503 &lt;b&gt;" in card.text
