"""Delivery to a real FHIR server (Medplum's engine, tests/fhir_server.py) from the outbox, on
SQLite and PostgreSQL: an EPJ that is down, then up; a refusal; the answer of a claim that
lost its lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from respons.engine import alarms as service
from respons.epj import delivery, endpoints, outbox
from respons.epj import mapping as vkp
from respons.store.tables import epj_delivery_faults, epj_documents
from tests.factories import T0, FakeClock, drain_deliveries as drain

def states(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(epj_documents.c.state, epj_documents.c.attempts)).all()
    found: dict[str, int] = {}
    for row in rows:
        found[row.state] = found.get(row.state, 0) + 1
    return found


# On PostgreSQL only, the production database and the one with SKIP LOCKED: the test server
# stores in memory and searches linearly, so this takes half a minute, and the other delivery
# tests run on both databases.
@pytest.mark.slow
@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_hundred_alarms_closed_while_the_epj_is_down_are_each_delivered_once_when_it_is_up(
        engine, journal, world, epj_down, make_worker):
    clock = FakeClock(T0 + timedelta(minutes=5))
    alarm_ids = world(100)
    w = make_worker(clock)
    drain(w)  # the EPJ is down: every delivery fails and waits
    with engine.connect() as conn:
        rows = conn.execute(select(epj_documents)).all()
    assert len(rows) == 100 and {r.state for r in rows} == {"waiting"} and {r.attempts for r in rows} == {1}
    assert all(r.due_at == clock() + delivery.FIRST_RETRY for r in rows)
    assert all("ConnectError" in r.last_error for r in rows)

    epj_down.start()
    drain(w)
    assert states(engine) == {"waiting": 100}, "nothing is tried again before it is due"
    clock.advance(seconds=11)
    drain(w)
    assert states(engine) == {"delivered": 100}
    assert w.delivered == 100

    # Exactly once each, and what the EPJ holds is what the timeline says.
    with engine.connect() as conn:
        bundles = {r.alarm_id: r.bundle for r in conn.execute(select(epj_documents.c.alarm_id, epj_documents.c.bundle))}
    assert set(bundles) == set(alarm_ids)
    for alarm_id in alarm_ids[::10]:
        sent = {e["resource"]["resourceType"]: e["resource"] for e in bundles[alarm_id]["entry"]}
        for kind in ("DetectedIssue", "Encounter", "Composition"):
            identifier = sent[kind]["identifier"]
            value = (identifier[0] if isinstance(identifier, list) else identifier)["value"]
            stored = epj_down.search(kind, identifier=f"{vkp.UUID_SYSTEM}|{value}")
            assert len(stored) == 1, f"{kind} of {alarm_id} stored {len(stored)} times"
        issue = epj_down.search("DetectedIssue", identifier=f"{vkp.UUID_SYSTEM}|{sent['DetectedIssue']['identifier'][0]['value']}")[0]
        assert issue["code"] == sent["DetectedIssue"]["code"] and issue["patient"] == sent["DetectedIssue"]["patient"]
        composition = epj_down.search("Composition", identifier=f"{vkp.UUID_SYSTEM}|{sent['Composition']['identifier']['value']}")[0]
        assert composition["section"] == sent["Composition"]["section"]
        assert composition["encounter"]["reference"].startswith("Encounter/"), "the server resolved the Bundle's reference"


def test_delivering_again_updates_the_same_entries_in_the_epj(engine, journal, world, epj_down, make_worker):
    clock = FakeClock(T0 + timedelta(minutes=5))
    epj_down.start()
    [alarm_id] = world(1)
    drain(make_worker(clock))
    # An addendum: a new version of the same document, delivered over the first.
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor="user:1", visible_to=None, text="Tillegg.",
                                                now=T0 + timedelta(minutes=6)))
    clock.advance(minutes=2)
    drain(make_worker(clock))
    with engine.connect() as conn:
        rows = conn.execute(select(epj_documents.c.version, epj_documents.c.state, epj_documents.c.bundle)
                            .order_by(epj_documents.c.version)).all()
    assert [(r.version, r.state) for r in rows] == [(6, "delivered"), (7, "delivered")]
    value = rows[-1].bundle["entry"][-1]["resource"]["identifier"]["value"]
    [stored] = epj_down.search("Composition", identifier=f"{vkp.UUID_SYSTEM}|{value}")
    assert stored["status"] == "amended"


def test_a_document_the_epj_refuses_is_kept_with_its_outcome_and_not_tried_again(engine, journal, world, epj_down, make_worker):
    clock = FakeClock(T0 + timedelta(minutes=5))
    epj_down.start()
    [alarm_id] = world(1)
    # A document the server's own validation refuses (written straight to the outbox: ours
    # would never pass our validator): an unknown element.
    with engine.begin() as conn:
        bundle = conn.execute(select(epj_documents.c.bundle)).scalar_one()
        bundle["entry"][0]["resource"]["mood"] = "good"
        conn.execute(update(epj_documents).values(bundle=bundle))
    w = make_worker(clock)
    drain(w)
    with engine.connect() as conn:
        row = conn.execute(select(epj_documents)).one()
    assert (row.state, row.status_code, row.attempts, row.due_at) == ("refused", 400, 1, None)
    assert row.outcome["resourceType"] == "OperationOutcome" and "mood" in str(row.outcome)
    clock.advance(hours=2)
    drain(w)
    assert states(engine) == {"refused": 1}


def test_the_answer_of_a_claim_whose_lease_ran_out_does_not_count(engine, journal, world, epj_down):
    clock = FakeClock(T0 + timedelta(minutes=5))
    world(1)
    with engine.begin() as conn:
        [first] = outbox.claim_due(conn, now=clock(), node="n1", lease=timedelta(seconds=30))
    clock.advance(seconds=31)  # n1 hangs; its lease runs out and n2 takes the document
    with engine.begin() as conn:
        [second] = outbox.claim_due(conn, now=clock(), node="n2", lease=timedelta(seconds=30))
        assert outbox.record(conn, second, delivery.Result(delivery.DELIVERED, 200), now=clock())
    with engine.begin() as conn:
        assert not outbox.record(conn, first, delivery.Result(delivery.RETRY, error="late"), now=clock())
    assert states(engine) == {"delivered": 1}


def test_without_an_endpoint_the_document_waits_and_says_why_once(engine, journal, world, registry, caplog, make_worker):
    clock = FakeClock(T0 + timedelta(minutes=5))
    world(1)
    with engine.begin() as conn:
        conn.execute(update(epj_documents).values(municipality_id=registry.municipality_ids[1]))
    w = make_worker(clock)
    drain(w)
    clock.advance(minutes=1)
    drain(w)
    with engine.connect() as conn:
        row = conn.execute(select(epj_documents)).one()
    assert (row.state, row.attempts, row.last_error) == ("waiting", 2, "no EPJ endpoint configured for the municipality")
    told = [r.getMessage() for r in caplog.records if "has no EPJ endpoint" in r.getMessage()]
    assert told == [f"municipality {registry.municipality_ids[1]} has no EPJ endpoint: its documents wait "
                    "(respons epj endpoint)"]


def test_a_municipality_whose_tls_files_cannot_be_used_waits_counted_as_failing_and_the_others_go(
        engine, journal, world, registry, epj_down, make_worker, tmp_path):
    # A renewed certificate not yet in place: the client cannot be made. That document waits
    # with the reason (and starts the watch's clock toward the system alarm); the same round's
    # other documents are sent and recorded.
    clock = FakeClock(T0 + timedelta(minutes=5))
    epj_down.start()
    world(2)
    elsewhere = registry.municipality_ids[1]
    with engine.begin() as conn:
        endpoints.set_endpoint(conn, elsewhere, base_url=epj_down.base_url, auth="mtls", now=T0, actor="test",
                               cert_file=str(tmp_path / "missing.crt"), key_file=str(tmp_path / "missing.key"))
        first = conn.execute(select(epj_documents.c.id).order_by(epj_documents.c.id)).scalars().first()
        conn.execute(update(epj_documents).where(epj_documents.c.id == first).values(municipality_id=elsewhere))
    drain(make_worker(clock))
    with engine.connect() as conn:
        rows = {r.municipality_id: r for r in conn.execute(select(epj_documents))}
        fault = conn.execute(select(epj_delivery_faults).where(epj_delivery_faults.c.municipality_id == elsewhere)).one()
    assert rows[registry.municipality_ids[0]].state == "delivered"
    waiting = rows[elsewhere]
    assert (waiting.state, waiting.attempts) == ("waiting", 1)
    assert "TLS files cannot be used" in waiting.last_error and "missing.crt" in waiting.last_error
    assert fault.failing_since == clock() and fault.failures == 1


def test_a_round_claims_no_more_than_it_can_send_within_half_its_lease(engine, journal, world, epj_down, make_worker):
    # Four at a time, each allowed 30 s: with a 60 s lease, four; with 240 s, sixteen. More
    # would wait behind the others past their lease, and another node would send them too.
    clock = FakeClock(T0 + timedelta(minutes=5))
    epj_down.start()
    world(20)
    assert asyncio.run(make_worker(clock, lease_seconds=60).run_once()) == 4
    assert asyncio.run(make_worker(clock, lease_seconds=240).run_once()) == 16
    assert states(engine) == {"delivered": 20}
