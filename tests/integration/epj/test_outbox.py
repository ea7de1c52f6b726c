"""The EPJ outbox on a real database (SQLite and PostgreSQL): the document is written in the
unit of work that ends the alarm, through the node's journal reactions, and never stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import Action, CallResult, Outcome, State
from respons.engine import alarms as service
from respons.engine import receiving
from respons.epj import delivery, document, outbox, validation
from respons.epj.store import alarm_record
from respons.store.tables import alarms, devices, epj_documents, recipients
from tests.factories import T0, add_user

DEADLINE = timedelta(seconds=60)


@pytest.fixture
def operator(engine):
    return f"user:{add_user(engine, 'anne', [(Role.OPERATOR, None)]).id}"


def device(engine, registry, kind="safety_alarm", recipient_index=0, identity=None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(devices).values(
            municipality_id=registry.municipality_ids[0], recipient_id=registry.recipient_ids[recipient_index], kind=kind,
            protocol="http", identity=identity or f"{kind}-{recipient_index}", created_at=T0)).inserted_primary_key[0]


def receive(journal, registry, type_code="fall", device_id=None, at=T0, recipient_index=0) -> str:
    new = receiving.NewAlarm(registry.municipality_ids[0], registry.recipient_ids[recipient_index], device_id,
                             alarm_type(type_code), "http", f"device:{device_id}", at)
    return journal.run_sync(lambda c: receiving.receive(c, new, now=at, answer_deadline=DEADLINE)).alarm_id


def handle(journal, alarm_id, actor, *, close=True) -> None:
    journal.run_sync(lambda c: service.answer(c, alarm_id, actor=actor, visible_to=None, now=T0 + timedelta(seconds=20)))
    journal.run_sync(lambda c: service.record_action(c, alarm_id, action=Action.CALL_RECIPIENT, actor=actor, visible_to=None,
                                                     now=T0 + timedelta(seconds=30), result=CallResult.ANSWERED))
    journal.run_sync(lambda c: service.resolve(c, alarm_id, actor=actor, visible_to=None,
                                               outcome=Outcome.RESOLVED_AT_CENTRE, note=None,
                                               now=T0 + timedelta(seconds=60)))
    if close:
        journal.run_sync(lambda c: service.close(c, alarm_id, actor=actor, visible_to=None, now=T0 + timedelta(seconds=70)))


def documents(engine, alarm_id):
    with engine.connect() as conn:
        return outbox.documents_of(conn, alarm_id)


def test_closing_an_alarm_queues_its_valid_document_in_the_same_transaction(engine, journal, registry, operator):
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator, close=False)
    assert documents(engine, alarm_id) == [], "nothing is documented before the alarm ends"
    journal.run_sync(lambda c: service.close(c, alarm_id, actor=operator, visible_to=None, now=T0 + timedelta(seconds=70)))
    [row] = documents(engine, alarm_id)
    assert (row["state"], row["version"], row["problems"]) == ("waiting", 6, None)
    assert row["due_at"] == T0 + timedelta(seconds=70) and row["municipality_id"] == registry.municipality_ids[0]
    assert validation.validate(row["bundle"]) == []
    with engine.connect() as conn:
        assert row["bundle"] == document.build(alarm_record(conn, alarm_id))


def test_an_addendum_after_close_is_a_new_version_that_supersedes_one_not_yet_delivered(engine, journal, registry,
                                                                                          operator):
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator)
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor=operator, visible_to=None,
                                                text="Datter ringt i ettertid.", now=T0 + timedelta(minutes=5)))
    newer, older = documents(engine, alarm_id)
    assert (newer["version"], newer["state"], older["version"], older["state"]) == (7, "waiting", 6, "superseded")
    composition = [e["resource"] for e in newer["bundle"]["entry"] if e["resource"]["resourceType"] == "Composition"][0]
    assert composition["status"] == "amended"
    assert newer["bundle"]["entry"][0]["request"] == older["bundle"]["entry"][0]["request"], "the same EPJ entries"


def test_a_delivered_version_is_not_superseded_by_an_addendum(engine, journal, registry, operator):
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator)
    with engine.begin() as conn:
        conn.execute(update(epj_documents).where(epj_documents.c.alarm_id == alarm_id)
                     .values(state="delivered", due_at=None, delivered_at=T0 + timedelta(seconds=80)))
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor=operator, visible_to=None, text="Tillegg.",
                                                now=T0 + timedelta(minutes=5)))
    assert [(d["version"], d["state"]) for d in documents(engine, alarm_id)] == [(7, "waiting"), (6, "delivered")]


def test_an_older_version_is_neither_listed_nor_sent_again_once_a_newer_exists(engine, journal, registry, operator):
    # The EPJ keeps whichever version reached it last: a refused version 6 sent again after
    # version 7 would take the addendum back out of the patient record.
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator)
    with engine.begin() as conn:
        [claim] = outbox.claim_due(conn, now=T0 + timedelta(minutes=2), node="n1", lease=timedelta(minutes=2))
        outbox.record(conn, claim, delivery.Result(delivery.REFUSED, 422, error="refused"), now=T0 + timedelta(minutes=2))
        assert [row["version"] for row in outbox.undelivered(conn)] == [6]
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor=operator, visible_to=None, text="Tillegg.",
                                                now=T0 + timedelta(minutes=5)))
    newer, older = documents(engine, alarm_id)
    assert (newer["version"], newer["state"], older["version"], older["state"]) == (7, "waiting", 6, "refused")
    with engine.begin() as conn:
        assert outbox.undelivered(conn) == [], "version 7 is on its way; version 6 is history"
        assert outbox.resend_document(conn, older["id"], now=T0 + timedelta(minutes=6), actor="user:1") is None
    assert documents(engine, alarm_id)[1]["state"] == "refused"


def test_a_claim_superseded_while_it_waited_is_not_sent(engine, journal, registry, operator):
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator)
    with engine.begin() as conn:
        [claim] = outbox.claim_due(conn, now=T0 + timedelta(minutes=2), node="n1", lease=timedelta(minutes=2))
        assert outbox.still_claimed(conn, claim)
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor=operator, visible_to=None, text="Tillegg.",
                                                now=T0 + timedelta(minutes=3)))
    with engine.connect() as conn:
        assert not outbox.still_claimed(conn, claim)


def test_a_newer_version_waits_while_an_older_ones_send_may_be_under_way(engine, journal, registry, operator):
    # Node n1 is sending version 6 when the addendum writes version 7: n2 must not deliver 7
    # before 6 lands (the EPJ keeps the last), so 7 waits for 6's claim to end or run out.
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator)
    at = T0 + timedelta(minutes=2)
    with engine.begin() as conn:
        [sending] = outbox.claim_due(conn, now=at, node="n1", lease=timedelta(minutes=2))
    journal.run_sync(lambda c: service.add_note(c, alarm_id, actor=operator, visible_to=None, text="Tillegg.",
                                                now=at + timedelta(seconds=1)))
    with engine.begin() as conn:
        assert outbox.claim_due(conn, now=at + timedelta(seconds=2), node="n2", lease=timedelta(minutes=2)) == []
        # n1's send ends (its answer does not count: superseded); 7 goes at once, not after the lease.
        assert not outbox.record(conn, sending, delivery.Result(delivery.DELIVERED, 200), now=at + timedelta(seconds=3))
        [newer] = outbox.claim_due(conn, now=at + timedelta(seconds=4), node="n2", lease=timedelta(minutes=2))
    assert newer.document_id == documents(engine, alarm_id)[0]["id"]
    assert documents(engine, alarm_id)[1]["state"] == "superseded"


def test_an_alarm_vkp_cannot_code_is_kept_as_not_documented_and_closes_all_the_same(engine, journal, registry, operator):
    alarm_id = receive(journal, registry, "device_fault", device_id=device(engine, registry, kind="door_lock_2000"))
    handle(journal, alarm_id, operator)
    [row] = documents(engine, alarm_id)
    assert row["state"] == "not_documented" and row["bundle"] is None and row["due_at"] is None
    assert row["problems"] == ["no_alert_code: VKP has no alert code for 'device_fault' from a device of kind "
                               "'door_lock_2000'."]
    with engine.connect() as conn:
        assert conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar_one() == State.CLOSED.value


def test_a_document_the_validator_refuses_is_kept_with_the_findings_and_never_waits(engine, journal, registry, operator):
    # A national identity number that was registered wrongly (a check digit off, written
    # straight to the table) reaches the validator, not the EPJ.
    with engine.begin() as conn:
        number = conn.execute(select(recipients.c.national_id).where(recipients.c.id == registry.recipient_ids[1])).scalar_one()
        broken = number[:10] + str((int(number[10]) + 1) % 10)
        conn.execute(update(recipients).where(recipients.c.id == registry.recipient_ids[1]).values(national_id=broken))
    alarm_id = receive(journal, registry, device_id=device(engine, registry, recipient_index=1), recipient_index=1)
    handle(journal, alarm_id, operator)
    [row] = documents(engine, alarm_id)
    assert row["state"] == "not_documented" and row["bundle"] is None
    assert any("patient.identifier.value" in p and "check digits" in p for p in row["problems"])


def test_a_fault_while_building_never_undoes_the_close(engine, journal, registry, operator, monkeypatch):
    alarm_id = receive(journal, registry, device_id=device(engine, registry))
    handle(journal, alarm_id, operator, close=False)

    def broken_builder(record):
        raise KeyError("a bug")

    monkeypatch.setattr(document, "build", broken_builder)
    journal.run_sync(lambda c: service.close(c, alarm_id, actor=operator, visible_to=None, now=T0 + timedelta(seconds=70)))
    [row] = documents(engine, alarm_id)
    assert row["state"] == "not_documented" and row["problems"] == ["internal: KeyError: 'a bug'"]
    with engine.connect() as conn:
        assert conn.execute(select(alarms.c.state).where(alarms.c.id == alarm_id)).scalar_one() == State.CLOSED.value


def test_a_storm_documents_each_member_once_and_not_the_group(engine, journal, registry, operator):
    panels = [device(engine, registry, recipient_index=i % 3, identity=f"P{i}") for i in range(6)]
    members = [receive(journal, registry, "power_lost", p, at=T0 + timedelta(seconds=n), recipient_index=n % 3)
               for n, p in enumerate(panels)]
    with engine.connect() as conn:
        group = conn.execute(select(alarms.c.group_id).where(alarms.c.id == members[-1])).scalar_one()
    journal.run_sync(lambda c: service.answer(c, group, actor=operator, visible_to=None, now=T0 + timedelta(minutes=1)))
    journal.run_sync(lambda c: service.resolve(c, group, actor=operator, visible_to=None, outcome=Outcome.TECHNICIAN,
                                               note=None, now=T0 + timedelta(minutes=2)))
    journal.run_sync(lambda c: service.close(c, group, actor=operator, visible_to=None, now=T0 + timedelta(minutes=3)))
    with engine.connect() as conn:
        per_alarm = dict(conn.execute(select(epj_documents.c.alarm_id, func.count())
                                      .group_by(epj_documents.c.alarm_id)).all())
        states = set(conn.execute(select(epj_documents.c.state)).scalars())
    assert group not in per_alarm
    grouped = [m for m in members if m in per_alarm]
    assert len(grouped) >= 5 and all(per_alarm[m] == 1 for m in grouped) and states == {"waiting"}
