"""Next of kin asked by SMS must confirm: the outbox, the provider's answers, receipts and
replies as units of work with an injected clock, on SQLite and PostgreSQL (docs/messages.md).

The provider's answers are given as the provider would give them (``rules.Result``); the
real SMSC is in test_smsc.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from respons.domain.lifecycle import State
from respons.messages import rules, service, store
from respons.store.tables import contacts, messages, recipients
from tests.factories import full_day

SENT = rules.Result(rules.SENT_OK, ("smsc-1",))


@pytest.fixture
def world(routing_world):
    routing_world.windows(full_day(1), kin_confirm_minutes=5)
    with routing_world.engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == routing_world.recipient)
                     .values(kin_categories=["sensor"]))
    return routing_world


def add_kin(world, name: str, phone: str, priority: int = 1, receives: bool = True) -> int:
    with world.engine.begin() as conn:
        return conn.execute(insert(contacts).values(
            municipality_id=world.municipality, recipient_id=world.recipient, name=name, relation="datter",
            phone=phone, priority=priority, receives_alarms=receives)).inserted_primary_key[0]


def queued(world) -> list:
    with world.engine.connect() as conn:
        return conn.execute(select(messages).order_by(messages.c.id)).all()


def claim_now(world, node: str = "n1", **options) -> list[store.Claim]:
    """What a node's worker claims now (lease 30 s)."""
    return world.journal.run_sync(lambda c: store.claim_due(c, now=world.clock(), node=node,
                                                            lease=timedelta(seconds=30), **options))


def send_all(world, result: rules.Result = SENT, provider: str = "smpp") -> list:
    """What the worker does with everything due: claim, then record the provider's answer."""
    claims = claim_now(world)
    for i, claimed in enumerate(claims):
        answer = rules.Result(result.verdict, (f"{claimed.uid}-{i}",) if result.refs else (), error=result.error)
        world.journal.run_sync(lambda c: service.recorded(c, claimed, answer, provider=provider, now=world.clock()))
    return claims


def phases(world, alarm_id: str) -> list[str]:
    return [d["phase"] for k, d in world.events(alarm_id) if k == "message"]


def test_a_next_of_kin_alarm_queues_an_sms_in_its_own_unit_and_waits_for_confirmation(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    add_kin(world, "Ola Nordmann", "+4740000002", priority=2)
    add_kin(world, "Per Nabo", "+4740000003", priority=3, receives=False)
    alarm_id = world.alarm("door_opened")
    assert world.state(alarm_id) is State.OFFERED, "handled only when confirmed"
    assert world.kinds(alarm_id) == ["received", "kin_asked"]
    rows = queued(world)
    assert [(r.to_address, r.state, r.channel) for r in rows] == [("+4740000001", "queued", "sms"),
                                                                 ("+4740000002", "queued", "sms")]
    assert rows[0].body.startswith(f"Respons {rows[0].code}: Dør åpnet hos ") and "Svar OK innen 5 min" in rows[0].body
    asked = world.events(alarm_id)[1][1]
    assert [c["name"] for c in asked["contacts"]] == ["Kari Nordmann", "Ola Nordmann"]


def test_sent_delivered_and_an_ok_reply_closes_the_alarm_as_handled_by_next_of_kin(world):
    kari = add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    send_all(world)
    uid = queued(world)[0].uid
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref=f"{uid}-0", stat="DELIVRD",
                                                     number="+4740000001", text_start="", now=world.clock()))
    assert queued(world)[0].state == "delivered"
    assert world.state(alarm_id) is State.OFFERED, "delivered is not confirmed"
    world.clock.now += timedelta(seconds=40)
    outcome = world.journal.run_sync(lambda c: service.reply(c, number="4740000001", text="OK", now=world.clock()))
    assert outcome == "confirmed"
    assert world.state(alarm_id) is State.CLOSED
    kinds = world.kinds(alarm_id)
    assert kinds[-4:] == ["message", "kin_confirmed", "resolved", "closed"]
    assert phases(world, alarm_id) == ["sent", "delivered", "confirmed"]
    confirmed = next(e for e in world.events(alarm_id) if e[0] == "kin_confirmed")[1]
    assert confirmed["name"] == "Kari Nordmann" and confirmed["via"] == "sms"
    with world.engine.connect() as conn:
        from respons.store.tables import alarms
        row = conn.execute(select(alarms.c.outcome, alarms.c.answered_by).where(alarms.c.id == alarm_id)).one()
    assert (row.outcome, row.answered_by) == ("next_of_kin", f"contact:{kari}")
    # The escalation timer was cancelled: nothing happens at the end of the time.
    world.advance(600)
    assert world.state(alarm_id) is State.CLOSED
    # The patient record gets the alarm's document, valid, with who went and how they were asked.
    from respons.store.tables import epj_documents
    with world.engine.connect() as conn:
        document = conn.execute(select(epj_documents.c.state, epj_documents.c.bundle, epj_documents.c.problems)
                                .where(epj_documents.c.alarm_id == alarm_id)).one()
    assert document.state == "waiting", document.problems
    assert "Pårørende Kari Nordmann bekreftet at de drar dit" in str(document.bundle)
    assert "SMS til Kari Nordmann: levert" in str(document.bundle)


def test_no_confirmation_within_the_time_escalates_to_the_centre_with_the_reason(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    send_all(world)
    world.advance(299)
    assert world.state(alarm_id) is State.OFFERED
    world.advance(1)
    assert world.state(alarm_id) is State.QUEUED
    escalated = [d for k, d in world.events(alarm_id) if k == "escalated"]
    assert escalated == [{"to": "response_centre", "step": 1, "reason": "kin_not_confirmed"}]
    # A late "OK" is news for the operator, and never closes the alarm as handled.
    outcome = world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="ok", now=world.clock()))
    assert outcome == "late" and world.state(alarm_id) is State.QUEUED
    late = [d for k, d in world.events(alarm_id) if k == "message" and d["phase"] == "confirmed"]
    assert late and late[0]["late"] is True


def test_every_message_failing_escalates_at_once_not_at_the_end_of_the_time(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    add_kin(world, "Ola Nordmann", "+4740000002", priority=2)
    alarm_id = world.alarm("door_opened")
    claims = claim_now(world, "n1")
    refused = rules.Result(rules.REFUSED, error="SMSC answered ESME_RINVDSTADR")
    world.journal.run_sync(lambda c: service.recorded(c, claims[0], refused, provider="smpp", now=world.clock()))
    assert world.state(alarm_id) is State.OFFERED, "Ola may still confirm"
    world.journal.run_sync(lambda c: service.recorded(c, claims[1], SENT, provider="smpp", now=world.clock()))
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="smsc-1", stat="UNDELIV",
                                                     number="+4740000002", text_start="", now=world.clock()))
    assert world.state(alarm_id) is State.QUEUED
    assert [d.get("reason") for k, d in world.events(alarm_id) if k == "escalated"] == ["kin_unreachable"]
    assert phases(world, alarm_id) == ["failed", "sent", "failed"]


def test_every_contact_saying_no_escalates_at_once(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    add_kin(world, "Ola Nordmann", "+4740000002", priority=2)
    alarm_id = world.alarm("door_opened")
    send_all(world)
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="Nei, er på jobb", now=world.clock()))
    assert world.state(alarm_id) is State.OFFERED
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000002", text="Hvem er dette?", now=world.clock()))
    assert world.state(alarm_id) is State.OFFERED, "an answer that is neither yes nor no decides nothing"
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000002", text="nei", now=world.clock()))
    assert world.state(alarm_id) is State.QUEUED
    assert [d.get("reason") for k, d in world.events(alarm_id) if k == "escalated"] == ["kin_declined"]
    texts_kept = [d.get("text") for k, d in world.events(alarm_id) if k == "message" and d["phase"] == "reply"]
    assert texts_kept == ["Hvem er dette?"]
    # What a phone sends is kept as text a screen and both databases can hold.
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000002", text="Hei\x00\x1b der",
                                                   now=world.clock()))
    assert [d.get("text") for k, d in world.events(alarm_id) if k == "message" and d["phase"] == "reply"][-1] == "Hei der"


def test_a_reply_naming_a_code_answers_that_request_and_one_from_a_stranger_is_ignored(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    first = world.alarm("door_opened")
    world.clock.now += timedelta(seconds=5)
    second = world.alarm("door_opened")
    send_all(world)
    code_of_first = queued(world)[0].code
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text=f"OK {code_of_first}",
                                                   now=world.clock()))
    assert world.state(first) is State.CLOSED and world.state(second) is State.OFFERED
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4799999999", text="OK",
                                                          now=world.clock())) is None
    assert world.state(second) is State.OFFERED


def test_a_message_not_sent_in_time_expires_and_is_never_sent_late(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    world.clock.now += timedelta(seconds=301)
    expired = world.journal.run_sync(lambda c: service.expire(c, world.clock()))
    assert expired == 1 and queued(world)[0].state == "expired"
    assert send_all(world) == []
    assert "expired" in phases(world, alarm_id)


def test_a_provider_that_is_down_is_tried_again_with_backoff_and_said_once_on_the_timeline(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    down = rules.Result(rules.RETRY, error="the SMSC is not connected")
    send_all(world, down)
    row = queued(world)[0]
    assert (row.state, row.attempts, row.due_at - world.clock()) == ("queued", 1, timedelta(seconds=2))
    assert send_all(world, down) == [], "not due before its time"
    world.clock.now += timedelta(seconds=2)
    send_all(world, down)
    assert queued(world)[0].due_at - world.clock() == timedelta(seconds=4)
    world.clock.now += timedelta(seconds=4)
    send_all(world)
    assert queued(world)[0].state == "sent" and queued(world)[0].attempts == 3
    assert phases(world, alarm_id) == ["retrying", "sent"]


def test_a_claim_whose_node_died_is_taken_after_its_lease_and_its_answer_is_the_new_nodes(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    dead = claim_now(world, "dead")
    assert len(dead) == 1 and not dead[0].resumed
    assert claim_now(world, "n2") == []
    world.clock.now += timedelta(seconds=31)
    taken = claim_now(world, "n2")
    assert len(taken) == 1 and taken[0].resumed, "it may have reached the SMSC before the node died"
    assert world.journal.run_sync(lambda c: service.recorded(c, dead[0], SENT, provider="smpp",
                                                             now=world.clock())) is None, "the dead claim's answer is void"
    world.journal.run_sync(lambda c: service.recorded(c, taken[0], SENT, provider="smpp", now=world.clock()))
    sent = [d for k, d in world.events(alarm_id) if k == "message" and d["phase"] == "sent"]
    assert len(sent) == 1 and sent[0]["resent"] is True


def test_a_receipt_recognises_a_send_interrupted_before_its_answer_was_recorded(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    claim_now(world, "dead")
    body = queued(world)[0].body
    # The node died after the SMSC took the message: its receipt comes with the SMSC's id
    # (never recorded) and the message's first 20 characters, and waits.
    assert world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="smsc-77", stat="DELIVRD",
                                                            number="+4740000001", text_start=body[:20],
                                                            now=world.clock())) is None
    world.clock.now += timedelta(seconds=31)
    [again] = claim_now(world, "n2")
    assert again.resumed
    row = world.journal.run_sync(lambda c: service.recovered(c, again, provider="smpp", now=world.clock()))
    assert row is not None and row.state == "delivered", "recognised: not sent a second time"
    assert phases(world, alarm_id) == ["sent", "delivered"]
    sent = next(d for k, d in world.events(alarm_id) if k == "message")
    assert sent["recovered"] is True


def test_a_receipt_that_comes_before_its_send_is_recorded_is_kept_for_it(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    [claim] = claim_now(world, "n1")
    # A fast SMSC: both parts' receipts arrive while the node is still recording its answer.
    for ref in ("p1", "p2"):
        world.journal.run_sync(lambda c, r=ref: service.receipt(c, provider="smpp", ref=r, stat="DELIVRD",
                                                                number="+4740000001", text_start="x",
                                                                now=world.clock()))
    world.journal.run_sync(lambda c: service.recorded(c, claim, rules.Result(rules.SENT_OK, ("p1", "p2")),
                                                      provider="smpp", now=world.clock()))
    assert (queued(world)[0].state, queued(world)[0].segments) == ("delivered", 2)
    assert phases(world, alarm_id) == ["delivered"]


def test_a_receipt_for_an_unknown_message_is_ignored(world):
    assert world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="nobody", stat="DELIVRD",
                                                            number="+4740000009", text_start="Respons ABC1: Fall h",
                                                            now=world.clock())) is None


def test_the_one_time_link_confirms_once(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    claims = claim_now(world, "n1", link_base="https://respons.example")
    body = claims[0].body
    token = body.split("/k/")[1].split()[0]
    assert queued(world)[0].body == body, "what is sent is what is kept"
    assert world.journal.run_sync(lambda c: service.confirm_link(c, token, now=world.clock())) == "confirmed"
    assert world.state(alarm_id) is State.CLOSED
    assert world.journal.run_sync(lambda c: service.confirm_link(c, token, now=world.clock())) == "used"
    assert world.journal.run_sync(lambda c: service.confirm_link(c, "x" * 24, now=world.clock())) is None


def test_without_next_of_kin_who_take_alarms_the_centre_has_it_at_once(world):
    add_kin(world, "Per Nabo", "+4740000003", receives=False)
    alarm_id = world.alarm("door_opened")
    assert world.state(alarm_id) is State.QUEUED
    assert [d.get("reason") for k, d in world.events(alarm_id) if k == "escalated"] == ["no_kin"]
    assert queued(world) == []


def test_the_statistics_count_the_days_messages_by_channel(world):
    from respons.statistics import service as statistics
    from respons.statistics.rules import Period

    add_kin(world, "Kari Nordmann", "+4740000001")
    add_kin(world, "Ola Nordmann", "+4740000002", priority=2)
    world.alarm("door_opened")
    claims = claim_now(world, "n1")
    world.journal.run_sync(lambda c: service.recorded(c, claims[0], rules.Result(rules.SENT_OK, ("a",)),
                                                      provider="smpp", now=world.clock()))
    world.journal.run_sync(lambda c: service.recorded(c, claims[1], rules.Result(rules.REFUSED, error="no"),
                                                      provider="smpp", now=world.clock()))
    world.clock.now += timedelta(seconds=8)
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="a", stat="DELIVRD", number=None,
                                                     text_start="", now=world.clock()))
    world.clock.now += timedelta(seconds=30)
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="ok", now=world.clock()))
    request = statistics.PeriodRequest.containing(world.municipality, Period.DAY, world.clock().date())
    with world.engine.connect() as conn:
        sms = statistics.messages(conn, request)["sms"]
    assert (sms.queued, sms.sent, sms.delivered, sms.failed, sms.confirmed) == (2, 1, 1, 1, 1)
    assert (sms.median_seconds_to_delivery, sms.median_seconds_to_confirmation) == (8.0, 38.0)


def test_an_ok_to_one_of_two_waiting_requests_without_a_code_confirms_neither(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    first = world.alarm("door_opened")
    world.clock.now += timedelta(seconds=5)
    second = world.alarm("door_opened")
    send_all(world)
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK",
                                                          now=world.clock())) == "unclear"
    assert world.state(first) is State.OFFERED and world.state(second) is State.OFFERED
    for alarm_id in (first, second):
        [noted] = [d for k, d in world.events(alarm_id) if k == "message" and d["phase"] == "reply"]
        assert noted["unclear"] is True and noted["text"] == "OK"
    # The code decides.
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text=f"OK {queued(world)[0].code}",
                                                   now=world.clock()))
    assert world.state(first) is State.CLOSED and world.state(second) is State.OFFERED
    # With one left waiting, a codeless (or wrongly coded) "OK" could still be meant for the
    # first — a second "OK" for it — and must not close the second.
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="ok 2222",
                                                          now=world.clock())) == "unclear"
    assert world.state(second) is State.OFFERED
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text=f"ja {queued(world)[1].code}",
                                                   now=world.clock()))
    assert world.state(second) is State.CLOSED


def test_a_reply_before_the_request_was_sent_answers_nothing(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK",
                                                          now=world.clock())) is None
    assert world.state(alarm_id) is State.OFFERED


def test_a_second_ok_and_the_link_after_it_change_nothing(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    claims = claim_now(world, "n1", link_base="https://respons.example")
    world.journal.run_sync(lambda c: service.recorded(c, claims[0], SENT, provider="smpp", now=world.clock()))
    token = claims[0].body.split("/k/")[1].split()[0]
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK",
                                                          now=world.clock())) == "confirmed"
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK!",
                                                          now=world.clock())) == "used"
    assert world.journal.run_sync(lambda c: service.confirm_link(c, token, now=world.clock())) == "used"
    assert phases(world, alarm_id) == ["sent", "confirmed"]


def test_a_request_for_an_alarm_that_moved_on_is_not_sent(world):
    from respons.engine import alarms as operator

    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    # The operator answers it before the SMSC could be reached.
    world.journal.run_sync(lambda c: operator.answer(c, alarm_id, actor="user:999", visible_to=None,
                                                     now=world.clock()))
    claims = world.journal.run_sync(lambda c: service.claim(c, now=world.clock(), node="n1",
                                                            lease=timedelta(seconds=30), limit=8))
    assert claims == [] and queued(world)[0].state == "expired"
    assert [d["error"] for k, d in world.events(alarm_id) if k == "message"] == [service.MOVED_ON]


def test_an_answer_that_never_came_waits_for_the_receipts_before_sending_again(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    [claim] = claim_now(world, "n1")
    # The part left for the SMSC; its answer did not come in time (a dropped session).
    lost = rules.Result(rules.RETRY, error="the SMSC did not answer part 1 of 1 in 10 s", uncertain=True)
    world.journal.run_sync(lambda c: service.recorded(c, claim, lost, provider="smpp", now=world.clock()))
    row = queued(world)[0]
    assert row.state == "queued" and row.due_at - world.clock() == store.UNCERTAIN_WAIT
    # Its receipt comes on the new session: it was sent after all, and is not sent again.
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="smsc-9", stat="DELIVRD",
                                                     number="4740000001", text_start=row.body[:20], now=world.clock()))
    world.clock.now += store.UNCERTAIN_WAIT
    [again] = claim_now(world, "n1")
    assert again.resumed
    assert world.journal.run_sync(lambda c: service.recovered(c, again, provider="smpp",
                                                              now=world.clock())).state == "delivered"
    # Without a receipt it would have been sent again.
    add_kin(world, "Ola Nordmann", "+4740000002", priority=2)
    other = world.alarm("door_opened")
    [claim] = [c for c in claim_now(world, "n1") if c.to_address == "+4740000002"]
    world.journal.run_sync(lambda c: service.recorded(c, claim, lost, provider="smpp", now=world.clock()))
    world.clock.now += store.UNCERTAIN_WAIT
    [again] = [c for c in claim_now(world, "n1") if c.to_address == "+4740000002"]
    assert world.journal.run_sync(lambda c: service.recovered(c, again, provider="smpp", now=world.clock())) is None
    assert world.state(alarm_id) is State.OFFERED and world.state(other) is State.OFFERED


def _two_part_request(world):
    """A request long enough for two SMS parts (the link makes it so)."""
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    [claim] = claim_now(world, "n1", link_base="https://respons.kommune.example")
    from respons.messages import texts
    assert len(texts.split(claim.body)[1]) == 2
    return alarm_id, claim


def test_a_part_refused_twice_is_never_counted_as_sent_by_the_first_parts_receipts(world):
    alarm_id, claim = _two_part_request(world)
    # Part 1 taken (A), part 2 throttled: the person may have half of it.
    half = rules.Result(rules.RETRY, ("A",), error="SMSC answered ESME_RTHROTTLED to part 2", uncertain=True)
    world.journal.run_sync(lambda c: service.recorded(c, claim, half, provider="smpp", now=world.clock()))
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="A", stat="DELIVRD", number=None,
                                                     text_start="", now=world.clock()))
    assert queued(world)[0].state == "queued", "part 1 delivered is not the message delivered"
    world.clock.now += store.UNCERTAIN_WAIT
    [again] = claim_now(world, "n1")
    assert again.resumed
    assert world.journal.run_sync(lambda c: service.recovered(c, again, provider="smpp", now=world.clock())) is None
    # Sent again, and again only part 1 goes (B): still not sent, still not delivered.
    half_again = rules.Result(rules.RETRY, ("B",), error="SMSC answered ESME_RTHROTTLED to part 2", uncertain=True)
    world.journal.run_sync(lambda c: service.recorded(c, again, half_again, provider="smpp", now=world.clock()))
    world.journal.run_sync(lambda c: service.receipt(c, provider="smpp", ref="B", stat="DELIVRD", number=None,
                                                     text_start="", now=world.clock()))
    world.clock.now += store.UNCERTAIN_WAIT
    [third] = claim_now(world, "n1")
    assert world.journal.run_sync(lambda c: service.recovered(c, third, provider="smpp", now=world.clock())) is None
    assert queued(world)[0].state == "sending" and world.state(alarm_id) is State.OFFERED


def test_receipts_with_the_raw_concatenation_header_recognise_a_split_message(world):
    alarm_id, claim = _two_part_request(world)
    from respons.messages import texts
    _, parts = texts.split(claim.body)
    # The node died after the SMSC took both parts; this SMSC's receipts carry the raw octets.
    for ref, n, part in (("p1", 1, parts[0]), ("p2", 2, parts[1])):
        header = bytes((5, 0, 3, 7, 2, n)).decode("latin-1")
        world.journal.run_sync(lambda c, r=ref, t=header + part[:14]: service.receipt(
            c, provider="smpp", ref=r, stat="DELIVRD", number="+4740000001", text_start=t, now=world.clock()))
    world.clock.now += timedelta(seconds=31)
    [again] = claim_now(world, "n2")
    row = world.journal.run_sync(lambda c: service.recovered(c, again, provider="smpp", now=world.clock()))
    assert row is not None and row.state == "delivered"
    assert world.state(alarm_id) is State.OFFERED


def test_an_ok_to_a_request_whose_answer_was_never_recorded_counts(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    alarm_id = world.alarm("door_opened")
    claim_now(world, "n1")
    # Handed to the SMSC; the answer lost; the person read it and answers.
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK",
                                                          now=world.clock())) == "confirmed"
    assert world.state(alarm_id) is State.CLOSED


def test_a_request_whose_sender_died_keeps_its_mark_when_it_expires_and_the_ok_is_heard(world):
    add_kin(world, "Kari Nordmann", "+4740000001")
    world.alarm("door_opened")
    claim_now(world, "n1")  # handed to the SMSC; the node died before the answer was recorded
    world.clock.now += timedelta(minutes=6)  # past the lease and the request's time
    [expired] = world.journal.run_sync(lambda c: store.expire_due(c, world.clock()))
    assert expired.last_error.startswith(store.INTERRUPTED), "it may have reached the phone"
    # The relative did get it, and answers while the alarm still waits for them: it counts
    # (before, the expired row no longer said it may have been sent, and the OK was ignored).
    assert world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text="OK",
                                                          now=world.clock())) == "confirmed"


def test_a_resumed_request_waits_for_the_new_sessions_receipts_before_anything_is_sent(world):
    import asyncio

    from respons.messages.worker import MessageWorker

    class NewSession:
        name = "smpp"
        receipts_settled = False  # bound a moment ago: the SMSC's kept receipts may still come

        async def send(self, *args):
            raise AssertionError("sent blind: it may be at the SMSC already")

    add_kin(world, "Kari Nordmann", "+4740000001")
    world.alarm("door_opened")
    claim_now(world, "dead")
    world.clock.now += timedelta(seconds=31)
    [again] = claim_now(world, "n2")
    worker = MessageWorker(world.journal, world.clock, node="n2", sms=NewSession(), push=None, poll_seconds=1,
                           lease_seconds=30)
    asyncio.run(worker._deliver(again))
    row = queued(world)[0]
    assert row.state == "queued" and row.last_error.startswith(store.UNCERTAIN)
    assert row.due_at - world.clock() == rules.FIRST_RETRY
    world.clock.now += rules.FIRST_RETRY
    [later] = claim_now(world, "n2")
    assert later.resumed, "the mark stays until its receipts could have come"


def test_a_send_slower_than_the_lease_keeps_its_claim_and_is_sent_once(world):
    # Four UCS-2 parts to an SMSC that takes 8-9 s for each: longer than the 30 s lease. The
    # claim is renewed while the send is under way, so no node takes it and sends it again.
    import asyncio

    from respons.messages.worker import MessageWorker

    taken_meanwhile = []

    class SlowSmsc:
        name = "smpp"
        sends = 0

        async def send(self, uid, to, body, reference, attempt):
            SlowSmsc.sends += 1
            for _part in range(4):
                world.clock.now += timedelta(seconds=9)
                await asyncio.sleep(0.2)  # the claim's keeper runs meanwhile
            taken_meanwhile.extend(claim_now(world, "n2"))  # 36 s after the claim
            return rules.Result(rules.SENT_OK, ("m1", "m2", "m3", "m4"))

    add_kin(world, "Kari Nordmann", "+4740000001")
    world.alarm("door_opened")
    [claim] = claim_now(world, "n1")
    worker = MessageWorker(world.journal, world.clock, node="n1", sms=SlowSmsc(), push=None, poll_seconds=1,
                           lease_seconds=30, renew_seconds=0.05)
    asyncio.run(worker._deliver(claim))
    assert taken_meanwhile == [] and SlowSmsc.sends == 1
    row = queued(world)[0]
    assert (row.state, row.claimed_by, row.lease_until) == ("sent", None, None)


def test_a_phone_told_twice_at_once_is_one_subscription_of_its_latest_user(world):
    hilde, per = world.responder("hilde"), world.responder("per")
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    first = world.journal.run_sync(lambda c: store.subscribe(c, user_id=hilde, endpoint=endpoint, p256dh="B" * 40,
                                                             auth="A" * 16, now=world.clock()))
    second = world.journal.run_sync(lambda c: store.subscribe(c, user_id=per, endpoint=endpoint, p256dh="C" * 40,
                                                              auth="D" * 16, now=world.clock()))
    assert first == second
    with world.engine.connect() as conn:
        assert [s.user_id for s in store.subscriptions_of(conn, [hilde, per])] == [per]
