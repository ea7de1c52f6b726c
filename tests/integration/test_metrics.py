"""/metrics is scraped and each figure moves when its cause happens; the access log and the
request id; no personal data in labels."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from respons.domain.access import Role
from respons.intake.dc09.frames import build, parse
from respons.observability.logs import JsonFormatter, accept_request_id, request_id
from respons.settings import Settings
from respons.store.tables import devices, municipalities
from respons.web.app import create_app
from tests.chaos.server import free_port
from tests.factories import T0, add_user, log_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def alarm(registry, key: str, device: str | None = None, **extra) -> dict:
    return {"device": device or registry.device_identities[0], "type": "fall", "occurred_at": T0.isoformat(),
            "idempotency_key": key, **extra}


@pytest.fixture
def app(migrated_url, clock):
    return create_app(Settings(database_url=migrated_url, journal_window_ms=1, readiness_probe_seconds=0.2,
                               sse_max_seconds=2, sse_heartbeat_seconds=0.5, cookie_secure=False),
                      clock, run_timers=False)


def test_each_metric_moves_when_its_cause_happens(app, registry, engine, clock):
    intake = {"Authorization": f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"}
    with engine.connect() as conn:
        number = conn.execute(select(municipalities.c.number).where(
            municipalities.c.id == registry.municipality_ids[0])).scalar_one()
    with TestClient(app, base_url="https://testserver") as client:
        before = scrape(client)
        assert value(before, "respons_ready") in (0.0, 1.0)
        assert value(before, "respons_database_up") == 1.0

        # An alarm: received (by source and type), a journal batch, the ACK time, waiting.
        first = client.post("/api/v1/alarms", json=alarm(registry, "m-1"), headers=intake)
        assert first.status_code == 202
        again = client.post("/api/v1/alarms", json=alarm(registry, "m-1"), headers=intake)
        assert again.json()["duplicate"] is True
        clock.advance(seconds=30)
        after = scrape(client)
        received = ("respons_alarms_received_total", {"source": "http", "type": "fall"})
        assert value(after, received[0], **received[1]) - value(before, received[0], **received[1]) == 1, \
            "one alarm, counted once: the retransmit is not a new alarm"
        assert value(after, "respons_journal_batch_units_count") > value(before, "respons_journal_batch_units_count")
        assert value(after, "respons_journal_commit_seconds_count") > value(before, "respons_journal_commit_seconds_count")
        assert value(after, "respons_ack_seconds_count", protocol="http") - value(
            before, "respons_ack_seconds_count", protocol="http") == 2, "both 202s"
        assert value(after, "respons_unanswered_alarms", municipality=number, state="queued") == 1
        assert value(after, "respons_oldest_unanswered_seconds", municipality=number) == pytest.approx(30, abs=1)

        # Its answer deadline (60 s) passes: a timer is due; fired, its lag is observed.
        clock.advance(seconds=45)
        overdue = scrape(client)
        assert value(overdue, "respons_timers_due") == 1
        assert value(overdue, "respons_timers_oldest_due_seconds") == pytest.approx(15, abs=1)
        fired = client.portal.call(app.state.runtime.timers.run_once)
        assert fired == 1
        lag = ("respons_timer_fire_lag_seconds_count", {"kind": "answer_deadline"})
        after_fire = scrape(client)
        assert value(after_fire, lag[0], **lag[1]) - value(overdue, lag[0], **lag[1]) == 1
        assert value(after_fire, "respons_timers_due") == 0

        # Input that cannot become an alarm is kept in quarantine.
        refused = client.post("/api/v1/alarms", json=alarm(registry, "m-2", device="NO-SUCH-DEVICE"), headers=intake)
        assert refused.status_code == 422
        assert value(scrape(client), "respons_quarantine_items", handled="false") == value(
            after_fire, "respons_quarantine_items", handled="false") + 1

        # An open event stream, for as long as it is open.
        operator = add_user(engine, "olga", [(Role.OPERATOR, None)])
        viewer = TestClient(app, base_url="https://testserver")
        log_in(viewer, operator, clock)
        opened, done = threading.Event(), threading.Event()

        def watch():
            with viewer.stream("GET", "/api/v1/queue/events") as stream:
                opened.set()
                for _ in stream.iter_bytes():
                    if done.is_set():
                        break

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert opened.wait(10)
        deadline = time.monotonic() + 5
        while value(scrape(client), "respons_live_streams") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert value(scrape(client), "respons_live_streams") == 1
        done.set()
        watcher.join(10)
        deadline = time.monotonic() + 5
        while value(scrape(client), "respons_live_streams") > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert value(scrape(client), "respons_live_streams") == 0

        # HTTP requests by route template, never the raw path.
        alarm_id = first.json()["alarm_id"]
        client.get(f"/api/v1/alarms/{alarm_id}")
        text = client.get("/metrics").text
        assert 'route="/api/v1/alarms/{alarm_id}"' in text
        assert alarm_id not in text and registry.device_identities[0] not in text, "no ids in labels"


def test_dc09_answers_are_timed(migrated_url, registry, engine, clock):
    port = free_port()
    with engine.begin() as conn:
        conn.execute(insert(devices).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                                            kind="safety_alarm", protocol="sia_dc09", identity="5C4", created_at=T0))
    app = create_app(Settings(database_url=migrated_url, dc09_port=port, readiness_probe_seconds=5), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        before = value(scrape(client), "respons_ack_seconds_count", protocol="dc09")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(build("ADM-CID", sequence="0007", account="5C4", prefix="0", data="#5C4|1101 01 001", timestamp=T0))
            reply = sock.recv(4096)
        assert parse(reply, now=T0).token == "ACK"
        after = scrape(client)
        assert value(after, "respons_ack_seconds_count", protocol="dc09") == before + 1
        assert value(after, "respons_alarms_received_total", source="sia_dc09", type="button_press") >= 1


def test_metrics_token_when_set(migrated_url, clock):
    app = create_app(Settings(database_url=migrated_url, metrics_token="s3cret"), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_access_log_and_request_id(app, registry, caplog):
    caplog.set_level(logging.INFO, logger="respons.access")
    with TestClient(app, base_url="https://testserver") as client:
        given = client.get("/api/v1/alarms/some-id-123", headers={"X-Request-ID": "lb-42"})
        assert given.headers["X-Request-ID"] == "lb-42"
        made = client.get("/livez")
        assert len(made.headers["X-Request-ID"]) == 32
        hostile = client.get("/livez", headers={"X-Request-ID": "a b\tc" + "x" * 200})
        assert hostile.headers["X-Request-ID"] != "a b\tc" + "x" * 200, "not echoed into headers and logs"
        client.get("/no/such/path/4204")
        client.get("/docs")  # a plain route (not FastAPI's): still named by its path
    lines = [r for r in caplog.records if r.name == "respons.access"]
    messages = [r.getMessage() for r in lines]
    assert any(m.startswith("GET /api/v1/alarms/{alarm_id} 401 ") and "request_id=lb-42" in m for m in messages), messages
    # The path part only: a random request id is hex and may hold "4204" by chance.
    logged_paths = [m.split(" request_id=")[0] for m in messages]
    assert not any("some-id-123" in m or "4204" in m for m in logged_paths), "templates, not raw paths"
    assert any(m.startswith("GET (unmatched) 404 ") for m in messages)
    assert any(m.startswith("GET /docs 200 ") for m in messages), messages
    assert all(hasattr(r, "duration_ms") and hasattr(r, "route") for r in lines)


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("respons.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    token = request_id.set(accept_request_id("abc-123"))
    try:
        from respons.observability.logs import _RequestIdFilter

        _RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    record.route = "/livez"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert (entry["message"], entry["level"], entry["request_id"], entry["route"]) == (
        "hello world", "WARNING", "abc-123", "/livez")
    assert "\n" not in line


def test_scaip_answers_are_timed(migrated_url, registry, engine, clock):
    """A SIP MESSAGE with an alarm (SCAIP mrq) over UDP: its 200 is counted as a SCAIP ACK."""
    from respons.intake.scaip.messages import Mrq, build_mrq
    from respons.intake.scaip.sip import build_request, parse_response

    port = free_port()
    with engine.begin() as conn:
        conn.execute(insert(devices).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                                            kind="safety_alarm", protocol="scaip", identity="0047100001", created_at=T0))
    body = build_mrq(Mrq(ref="M1", cid="0047100001", dty="0003", stc="0010"))
    message = build_request("MESSAGE", "sip:arc@respons.example", [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-metrics-1;rport"), ("Max-Forwards", "70"),
        ("From", "<sip:0047100001@alarm.example>;tag=dev1"), ("To", "<sip:arc@respons.example>"),
        ("Call-ID", "metrics-1@device"), ("CSeq", "1 MESSAGE"), ("Content-Type", "application/scaip+xml")], body)
    app = create_app(Settings(database_url=migrated_url, scaip_port=port, readiness_probe_seconds=5), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        before = value(scrape(client), "respons_ack_seconds_count", protocol="scaip")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(10)
            sock.sendto(message, ("127.0.0.1", port))
            reply, _ = sock.recvfrom(65536)
        assert parse_response(reply).status == 200
        after = scrape(client)
        assert value(after, "respons_ack_seconds_count", protocol="scaip") == before + 1
        assert sum(v for (name, labels), v in after.items()
                   if name == "respons_alarms_received_total" and ("source", "scaip") in labels) >= 1


def test_mqtt_acknowledgements_are_timed(migrated_url, registry, engine, clock):
    """A sensor alarm published to the real Mosquitto: its PUBACK (after the commit) is counted."""
    from tests.mqtt_broker import BROKER_URL, broker_or_skip, mosquitto_pub, unique

    broker = broker_or_skip()
    root = unique("metrics")
    with engine.begin() as conn:
        conn.execute(insert(devices).values(municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[0],
                                            kind="fall_sensor", protocol="mqtt", identity="FS-M", created_at=T0))
        number = conn.execute(select(municipalities.c.number).where(
            municipalities.c.id == registry.municipality_ids[0])).scalar_one()
    app = create_app(Settings(database_url=migrated_url, mqtt_url=BROKER_URL, mqtt_client_id=unique("respons-metrics"),
                              mqtt_topics=[f"{root}/+/sensors/+/+"], readiness_probe_seconds=5), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        before = value(scrape(client), "respons_ack_seconds_count", protocol="mqtt")
        mosquitto_pub(broker, f"{root}/{number}/sensors/FS-M/event",
                      json.dumps({"type": "fall", "id": "m-metrics", "occurred_at": T0.isoformat()}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and value(scrape(client), "respons_ack_seconds_count", protocol="mqtt") == before:
            time.sleep(0.1)
        assert value(scrape(client), "respons_ack_seconds_count", protocol="mqtt") == before + 1


def test_messages_by_channel_and_state_and_their_median_times(app, registry, engine, clock):
    """A next-of-kin request queued, sent, delivered and confirmed moves its gauges."""
    from datetime import timedelta

    from sqlalchemy import update

    from respons.messages import rules, service, store
    from respons.store.tables import agreements, contacts, recipients

    municipality, recipient = registry.municipality_ids[0], registry.recipient_ids[0]
    with engine.begin() as conn:
        number = conn.execute(select(municipalities.c.number).where(municipalities.c.id == municipality)).scalar_one()
        conn.execute(update(recipients).where(recipients.c.id == recipient).values(kin_categories=["fall"]))
        conn.execute(update(agreements).where(agreements.c.municipality_id == municipality).values(kin_confirm_minutes=5))
        conn.execute(insert(contacts).values(municipality_id=municipality, recipient_id=recipient, name="Kari",
                                             relation="datter", phone="+4741000001", priority=1, receives_alarms=True))
    intake = {"Authorization": f"Bearer {registry.intake_tokens[municipality]}"}
    with TestClient(app, base_url="https://testserver") as client:
        assert client.post("/api/v1/alarms", json=alarm(registry, "k-1"), headers=intake).status_code == 202
        assert value(scrape(client), "respons_messages", municipality=number, channel="sms", state="queued") == 1
        journal = app.state.runtime.journal
        [claim] = journal.run_sync(lambda c: store.claim_due(c, now=clock(), node="n1", lease=timedelta(seconds=30)))
        journal.run_sync(lambda c: service.recorded(c, claim, rules.Result(rules.SENT_OK, ("s-1",)), provider="smpp",
                                                    now=clock()))
        clock.advance(seconds=4)
        journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="s-1", stat="DELIVRD", number=None,
                                                   text_start="", now=clock()))
        clock.advance(seconds=56)
        journal.run_sync(lambda c: service.reply(c, number="+4741000001", text="OK", now=clock()))
        after = scrape(client)
    assert value(after, "respons_messages", municipality=number, channel="sms", state="queued") == 0
    assert value(after, "respons_messages", municipality=number, channel="sms", state="delivered") == 1
    assert value(after, "respons_message_median_seconds", municipality=number, channel="sms", to="delivery") == 4
    assert value(after, "respons_message_median_seconds", municipality=number, channel="sms", to="confirmation") == 60
