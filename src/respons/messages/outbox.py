"""Messages queued by the alarm's own unit of work (docs/messages.md, "Outbox after commit").

The engine calls these inside a unit: they only write rows. Nothing here opens a socket —
the worker (messages/worker.py) delivers after the commit, so a rolled-back alarm sends
nothing and a committed one cannot lose its message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from respons.domain.alarm_types import ALARM_TYPES
from respons.messages import rules, store, texts
from respons.store import alarms as alarm_rows
from respons.store.journal import announce

# Announced with the commit that queued messages: every node's worker wakes (messages/worker.py).
QUEUED_EVENT = "messages_queued"

# An offer's push is no use once the offer has moved on; a next-of-kin request none after
# its time to confirm (the centre has the alarm then).
OFFER_PUSH_LIFETIME = timedelta(minutes=10)


def ask_next_of_kin(conn: Connection, alarm_id: str, *, municipality_id: int, recipient_id: int,
                    seconds: int, now: datetime) -> list[dict]:
    """One SMS to each contact who takes alarms, asking them to go and to confirm; the
    contacts asked (empty: nobody to ask)."""
    kin = store.kin_to_ask(conn, recipient_id)
    if not kin:
        return []
    facts = alarm_rows.kin_message_facts(conn, alarm_id)
    minutes = max(1, round(seconds / 60))
    asked = []
    for contact in kin:
        code = texts.new_code()
        body = texts.kin_request(code=code, alarm_label=ALARM_TYPES[facts.type].label_nb, given_name=facts.given_name,
                                 address=facts.address, minutes=minutes)
        message_id, _, _ = store.queue(
            conn, dedupe_key=f"kin:{alarm_id}:{contact.id}", channel=rules.SMS, purpose=rules.KIN_REQUEST,
            municipality_id=municipality_id, body=body, now=now, expires_at=now + timedelta(seconds=seconds),
            alarm_id=alarm_id, contact_id=contact.id, to_address=contact.phone, code=code)
        asked.append({"contact_id": contact.id, "name": contact.name, "phone": contact.phone,
                      "message_id": message_id})
    _wake_workers(conn)
    return asked


def push_offer(conn: Connection, alarm_id: str, *, municipality_id: int, user_ids: list[int], step: int,
               label: str, now: datetime, step_seconds: int | None = None) -> int:
    """A Web Push to each phone of the responders an offer goes to (once per step: the
    app's own alert repeats while it is open), kept by the push service no longer than the
    step lasts. The number queued."""
    lifetime = min(OFFER_PUSH_LIFETIME, timedelta(seconds=step_seconds)) if step_seconds else OFFER_PUSH_LIFETIME
    queued = 0
    for subscription in store.subscriptions_of(conn, user_ids):
        _, _, new = store.queue(
            conn, dedupe_key=f"offer:{alarm_id}:{step}:{subscription.id}", channel=rules.PUSH, purpose=rules.OFFER,
            municipality_id=municipality_id, body=label, now=now, expires_at=now + lifetime,
            alarm_id=alarm_id, user_id=subscription.user_id, subscription_id=subscription.id)
        queued += new
    if queued:
        _wake_workers(conn)
    return queued


def _wake_workers(conn: Connection) -> None:
    announce(conn, {"event": QUEUED_EVENT, "municipality_id": None})
