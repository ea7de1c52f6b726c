"""SMS through an HTTP SMS API of the usual shape (the local SMS centre's, tests/message_peers.py)
and the provider's callbacks to Respons (receipts, replies), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from respons.domain.alarm_types import alarm_type
from respons.engine import receiving
from respons.messages import rules, service, store
from respons.messages.http_sms import HttpSmsProvider
from respons.settings import Settings
from respons.store.tables import agreements, contacts, messages, recipients
from respons.web.app import create_app
from tests.chaos.server import free_port
from tests.factories import T0, FakeClock
from tests.message_peers import smsc_or_skip

CALLBACK_TOKEN = "callback-secret"


@pytest.fixture
def smsc(tmp_path):
    server = smsc_or_skip(free_port(), free_port(), tmp_path / "smsc.jsonl", tmp_path / "smsc.log").start()
    yield server
    server.stop()


def provider(smsc, token: str | None = None) -> HttpSmsProvider:
    return HttpSmsProvider(url=smsc.http_url, token=token or smsc.http_token, sender="2222",
                           callback_url=None, callback_token=None)


def send(p: HttpSmsProvider, uid: str, to: str, body: str) -> rules.Result:
    async def once():
        try:
            return await p.send(uid, to, body, 1)
        finally:
            await p.stop()
    return asyncio.run(once())


def test_a_message_sent_again_with_its_reference_is_the_same_message_at_the_provider(smsc):
    body = "Respons K7Q2: Fall hos Åse, Ørnevegen 3. Svar OK innen 5 min hvis du drar dit. " * 3
    first = send(provider(smsc), "6f0c8a4e-0000-4000-8000-000000000001", "+4741000001", body)
    again = send(provider(smsc), "6f0c8a4e-0000-4000-8000-000000000001", "+4741000001", body)
    assert first.verdict == again.verdict == rules.SENT_OK and first.refs == again.refs
    [kept] = smsc.messages()
    assert (kept["text"], kept["reference"], kept["parts"]) == (body, "6f0c8a4e-0000-4000-8000-000000000001", 2)


def test_refusals_and_throttling_are_told_apart(smsc):
    assert send(provider(smsc, token="wrong"), "u-1" + "0" * 33, "+4741000001", "x").verdict == rules.REFUSED
    smsc.throttle(1)
    throttled = send(provider(smsc), "u-2" + "0" * 33, "+4741000001", "x")
    assert throttled.verdict == rules.RETRY and "429" in throttled.error
    assert send(provider(smsc), "u-3" + "0" * 33, "+4741000001", "x").verdict == rules.SENT_OK


@pytest.fixture
def app_world(migrated_url, engine, registry):
    clock = FakeClock(T0)
    municipality, recipient = registry.municipality_ids[0], registry.recipient_ids[0]
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == recipient).values(kin_categories=["sensor"]))
        conn.execute(update(agreements).where(agreements.c.municipality_id == municipality).values(kin_confirm_minutes=5))
        conn.execute(insert(contacts).values(municipality_id=municipality, recipient_id=recipient, name="Kari",
                                             relation="datter", phone="+4741000001", priority=1, receives_alarms=True))
    app = create_app(Settings(database_url=migrated_url, sms_callback_token=CALLBACK_TOKEN), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        rt = app.state.runtime
        new = receiving.NewAlarm(municipality, recipient, None, alarm_type("door_opened"), "http", "test", clock())
        alarm_id = rt.journal.run_sync(lambda c: receiving.receive(c, new, now=clock(),
                                                                   answer_deadline=timedelta(seconds=60))).alarm_id
        [claim] = rt.journal.run_sync(lambda c: store.claim_due(c, now=clock(), node="n1", lease=timedelta(seconds=30)))
        rt.journal.run_sync(lambda c: service.recorded(c, claim, rules.Result(rules.SENT_OK, ("prov-1",)),
                                                       provider="http", now=clock()))
        yield client, engine, alarm_id


def test_the_providers_receipt_and_a_reply_reach_the_alarm(app_world):
    client, engine, alarm_id = app_world
    auth = {"Authorization": f"Bearer {CALLBACK_TOKEN}"}
    assert client.post("/api/v1/messages/receipts", json={"id": "prov-1", "status": "delivered"}).status_code == 401
    assert client.post("/api/v1/messages/receipts", json={"id": "prov-1", "status": "delivered"},
                       headers={"Authorization": "Bearer nope"}).status_code == 401
    answer = client.post("/api/v1/messages/receipts", json={"id": "prov-1", "status": "delivered"}, headers=auth)
    assert answer.status_code == 200 and answer.json() == {"known": True}
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.state)).scalar_one() == "delivered"
    unknown = client.post("/api/v1/messages/receipts", json={"id": "nobody", "status": "delivered"}, headers=auth)
    assert unknown.status_code == 200 and unknown.json() == {"known": False}
    bad = client.post("/api/v1/messages/inbound", json={"from": "not a number", "text": "OK"}, headers=auth)
    assert bad.status_code == 422
    answer = client.post("/api/v1/messages/inbound", json={"from": "+4741000001", "to": "2222", "text": "Ja"},
                         headers=auth)
    assert answer.json() == {"outcome": "confirmed"}
    detail = client.app.state.runtime
    with detail.engine.connect() as conn:
        from respons.store.tables import alarms
        assert conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar_one() == "closed"
