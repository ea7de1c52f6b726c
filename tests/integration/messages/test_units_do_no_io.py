"""Units of work do no I/O outside their connection (DESIGN.md, "Nothing acknowledged is lost";
docs/messages.md): every message to the outside is a row in the outbox, sent after the commit.

Python's audit hooks see every socket the process opens or sends on and every process it
starts; the database driver's own connection (sqlite3, libpq) is C and invisible to them. So
while the journal's writer thread runs the units that queue, record and answer messages, the
hook must see nothing — and it does see a unit that opens a socket (the control test)."""

from __future__ import annotations

import socket
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from respons.engine import routing
from respons.messages import rules, service, store
from respons.store.tables import contacts, recipients
from tests.factories import full_day

WATCHED = ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "subprocess.Popen",
           "os.system", "os.exec", "os.posix_spawn", "http.client.connect", "urllib.Request", "smtplib.connect")


class Watch:
    """What the journal's thread did outside its connection while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.seen: list[tuple[str, str]] = []

    def __call__(self, event: str, args) -> None:
        if self.on and event in WATCHED and threading.current_thread().name == "respons-journal":
            self.seen.append((event, repr(args)[:200]))


_WATCH = Watch()
sys.addaudithook(_WATCH)  # hooks cannot be removed: one for the process, switched on and off


@pytest.fixture
def watch():
    _WATCH.seen.clear()
    _WATCH.on = True
    yield _WATCH
    _WATCH.on = False


def test_the_watch_sees_a_unit_that_opens_a_socket(routing_world, watch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        routing_world.journal.run_sync(lambda conn: socket.create_connection(listener.getsockname(), timeout=2).close())
    finally:
        listener.close()
    assert [event for event, _ in watch.seen if event == "socket.connect"], watch.seen


def test_queuing_sending_answering_and_escalating_messages_do_no_io_in_a_unit(routing_world, watch):
    world = routing_world
    world.windows(full_day(2, ["assistance", "fall"], escalation_minutes=4), full_day(1, ["sensor"]),
                  kin_confirm_minutes=5)
    with world.engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == world.recipient).values(kin_categories=["sensor"]))
        conn.execute(insert(contacts).values(municipality_id=world.municipality, recipient_id=world.recipient,
                                             name="Kari", relation="datter", phone="+4740000001", priority=1,
                                             receives_alarms=True))
    hilde = world.responder("hilde")
    world.journal.run_sync(lambda c: store.subscribe(c, user_id=hilde, endpoint="https://fcm.googleapis.com/fcm/send/x",
                                                     p256dh="B" * 40, auth="A" * 16, now=world.clock()))
    # Every unit that touches a message: a next-of-kin request, an offer with a push, the
    # claims, the providers' answers, a receipt, replies, the link, expiry and escalation.
    confirmed = world.alarm("door_opened")
    offered = world.alarm("fall")
    unanswered = world.alarm("door_opened")
    claims = world.journal.run_sync(lambda c: store.claim_due(c, now=world.clock(), node="n1",
                                                              lease=timedelta(seconds=30),
                                                              link_base="https://respons.example"))
    assert {c.channel for c in claims} == {"sms", "push"}, "the test covers both channels"
    for claim in claims:
        world.journal.run_sync(lambda c, cl=claim: service.recorded(c, cl, rules.Result(rules.SENT_OK, (cl.uid,)),
                                                                    provider="p", now=world.clock()))
    sms = [c for c in claims if c.channel == "sms"]
    world.journal.run_sync(lambda c: service.receipt(c, provider="p", ref=sms[0].uid, stat="DELIVRD",
                                                     number="+4740000001", text_start="", now=world.clock()))
    push = next(c for c in claims if c.channel == "push")
    world.journal.run_sync(lambda c: service.push_shown(c, push.uid, now=world.clock()))
    code = next(c for c in sms if c.alarm_id == confirmed).body.split(":")[0].split()[-1]
    world.journal.run_sync(lambda c: service.reply(c, number="+4740000001", text=f"OK {code}", now=world.clock()))
    token = next(c for c in sms if c.alarm_id == unanswered).body.split("/k/")[1].split()[0]
    world.journal.run_sync(lambda c: service.confirm_link(c, "x" * 24, now=world.clock()))
    world.journal.run_sync(lambda c: routing.accept(c, offered, user_id=hilde, now=world.clock(), visible_to=world.scope))
    world.advance(301)
    world.journal.run_sync(lambda c: service.expire(c, world.clock()))
    world.journal.run_sync(lambda c: service.confirm_link(c, token, now=world.clock()))

    assert world.kinds(confirmed)[-1] == "closed" and "escalated" in world.kinds(unanswered)
    assert watch.seen == [], "a unit of work did I/O outside its connection"
