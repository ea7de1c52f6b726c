"""What happens to a message after the commit that queued it, as units of work: the
provider's answer, receipts, replies and confirmations, push acknowledgements, expiry
(docs/messages.md). Every state change of a message about an alarm is on the alarm's
timeline (``message`` events, written by the system), and a next-of-kin request that can no
longer be answered moves the alarm on (engine/routing.kin_unavailable).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from respons.domain.lifecycle import Event, EventKind
from respons.domain.phones import InvalidPhoneNumber, normalise_phone
from respons.engine import routing, timeline
from respons.messages import push, rules, store, texts
from respons.store.queries import actor_names

log = logging.getLogger(__name__)

SYSTEM = "system:messages"
# A reply is matched to a request sent to the same number within this long.
REPLY_WINDOW = timedelta(hours=24)
REPLY_TEXT_KEPT = 160  # characters of a reply kept on the timeline
# Two requests to one person within this long: a reply without a code confirms neither.
AMBIGUOUS_WITHIN = timedelta(minutes=30)


def _on_timeline(conn: Connection, row: Any, phase: str, now: datetime, **extra: Any) -> None:
    if row.alarm_id is None:
        return
    data: dict[str, Any] = {"message_id": row.id, "channel": row.channel, "purpose": row.purpose, "phase": phase}
    if row.contact_id is not None:
        data["to_name"] = store.contact_name(conn, row.contact_id)
    elif row.user_id is not None:
        data["to_name"] = actor_names(conn, {f"user:{row.user_id}"}).get(f"user:{row.user_id}")
    data.update({k: v for k, v in extra.items() if v is not None})
    timeline.append_event(conn, row.alarm_id, Event(EventKind.MESSAGE, now, SYSTEM, data))


MOVED_ON = "not sent: the alarm had moved on"
MOVED_ON_MAYBE_SENT = "not sent again: the alarm had moved on (it may have reached the phone before)"


def claim(conn: Connection, *, now: datetime, node: str, lease: timedelta, limit: int,
          link_base: str | None = None, channel: str | None = None) -> list[store.Claim]:
    """Messages due now, for this node to send; one whose alarm has moved on since it was
    queued (its next of kin confirmed or the centre has it, the offer was taken or escalated)
    is not sent at all, and its timeline says so."""
    claims = store.claim_due(conn, now=now, node=node, lease=lease, limit=limit, link_base=link_base, channel=channel)
    gone = store.moved_on(conn, claims)
    for c in claims:
        why = MOVED_ON_MAYBE_SENT if c.resumed else MOVED_ON
        if c.message_id in gone and (row := store.cancel(conn, c, now=now, why=why)) is not None:
            _on_timeline(conn, row, rules.EXPIRED, now, error=why)
    return [c for c in claims if c.message_id not in gone]


def recorded(conn: Connection, claim: store.Claim, result: rules.Result, *, provider: str, now: datetime) -> Any | None:
    """The provider's answer to one send (None: the claim was lost; another node's counts)."""
    row = store.record(conn, claim, result, provider=provider, now=now)
    if row is None:
        return None
    if row.state in (rules.SENT, rules.DELIVERED):
        _on_timeline(conn, row, row.state, now, resent=True if claim.resumed else None)
    elif row.state == rules.FAILED:
        _on_timeline(conn, row, rules.FAILED, now, error=result.error)
        _kin_check(conn, row.alarm_id, now)
    elif row.attempts == 1:
        # The first failed try only: a provider that is down would otherwise fill the timeline.
        _on_timeline(conn, row, "retrying", now, error=result.error)
    return row


def recovered(conn: Connection, claim: store.Claim, *, provider: str, now: datetime) -> Any | None:
    """A message claimed again after its node died: sent after all, as its receipts show
    (store.recover_interrupted)? Then it is on the timeline as sent, and not sent again."""
    row = store.recover_interrupted(conn, claim, provider=provider, now=now)
    if row is not None:
        _on_timeline(conn, row, rules.SENT, now, recovered=True)
        if row.state in rules.FINAL:
            _on_timeline(conn, row, row.state, now)
    return row


def expire(conn: Connection, now: datetime) -> int:
    """Messages not sent in time are expired (never sent late); the alarms they were for move
    on. Receipts that found no message in a day are dropped."""
    store.forget_unmatched(conn, before=now - timedelta(days=1))
    rows = store.expire_due(conn, now)
    for row in rows:
        _on_timeline(conn, row, rules.EXPIRED, now, error=row.last_error)
    for alarm_id in {r.alarm_id for r in rows if r.purpose == rules.KIN_REQUEST and r.alarm_id}:
        _kin_check(conn, alarm_id, now)
    return len(rows)


def receipt(conn: Connection, *, provider: str, ref: str, stat: str, number: str | None, text_start: str,
            now: datetime) -> Any | None:
    """A delivery receipt. Logged and ignored when it names nothing Respons sent."""
    state = rules.receipt_state(stat)
    if state is None:
        return None  # on its way (ENROUTE, ACCEPTD): the final receipt follows
    number = _phone(number)
    found = store.receipt(conn, provider=provider, ref=ref, state=state, now=now, number=number,
                          text_start=text_start)
    if found is None:
        # Its send may be being recorded right now (a fast SMSC), or its node died before
        # recording it (store.recover_interrupted); otherwise nothing Respons sent.
        log.warning("a delivery receipt from %s for %s, which no recorded message has (yet): kept a day, else ignored",
                    provider, ref)
        return None
    row, changed = found
    if changed:
        _on_timeline(conn, row, row.state, now)
        if row.state != rules.DELIVERED:
            _kin_check(conn, row.alarm_id, now)
    return row


def reply(conn: Connection, *, number: str, text: str, now: datetime) -> str | None:
    """An SMS from a phone (mobile originated). A reply to a next-of-kin request confirms
    ("OK", "JA") or declines ("NEI") it; anything else is kept on the alarm's timeline for the
    operator. Which request: the one whose short code the reply names; else the one still
    waiting for this person; with two or more waiting and no code, none is confirmed — the
    reply is put on each alarm (the centre gets them at the end of the time, and sees it).
    What happened ("confirmed", "late", "used", "declined", "noted", "unclear"), or None when
    the number was sent no request (logged without the text, which may be personal)."""
    phone = _phone(number)
    said = texts.read_reply(text)
    asked = store.asked_from(conn, phone, since=now - REPLY_WINDOW)
    if not asked:
        log.warning("an SMS from a number with no request sent to it: ignored")
        return None
    kept = texts.printable(text)[:REPLY_TEXT_KEPT]
    named = [r for r in asked if said.code and r.code == said.code]
    if named:
        request = named[0]
    else:
        waiting = [r for r in asked if routing.waiting_for_kin(conn, r.alarm_id) and r.confirmed_at is None]
        recent = [r for r in asked if r.created_at >= now - AMBIGUOUS_WITHIN]
        if said.intent is not None and len(recent) > 1:
            # "OK" to which? Two requests to this person lately (both parents; or a second "OK"
            # meant for the first): never guess for someone's safety. Every alarm it may be
            # for hears it, and the one still waiting goes to the centre at the end of its time.
            for r in (waiting or recent[:1]):
                _on_timeline(conn, store.by_uid(conn, r.uid), "reply", now, text=kept, unclear=True)
            return "unclear"
        request = waiting[0] if waiting else asked[0]
    row = store.by_uid(conn, request.uid)
    if said.intent == texts.CONFIRM:
        return _confirmed(conn, request, row, now, via="sms", text=kept)
    if said.intent == texts.DECLINE:
        if store.mark_declined(conn, request.id, now=now):
            _on_timeline(conn, row, "declined", now, text=kept)
            _kin_check(conn, request.alarm_id, now)
        return "declined"
    _on_timeline(conn, row, "reply", now, text=kept)
    return "noted"


def _phone(number: str | None) -> str | None:
    """A number from a provider as the registry stores phones (E.164), if it is one."""
    if not number:
        return number
    try:
        return normalise_phone(number)
    except InvalidPhoneNumber:
        return number


def confirm_link(conn: Connection, token: str, *, now: datetime) -> str | None:
    """The one-time link in a next-of-kin request: "confirmed", "late" (the centre has it),
    "used" (confirmed before), or None for a link that is not one of ours."""
    request = store.by_link(conn, token)
    if request is None:
        return None
    if request.confirmed_at is not None:
        return "used"
    return _confirmed(conn, request, store.by_uid(conn, request.uid), now, via="link")


def _confirmed(conn: Connection, request: Any, row: Any, now: datetime, *, via: str, text: str | None = None) -> str:
    # The alarm's row first (locked on PostgreSQL), then the message's: the order the other
    # units that touch both keep.
    waiting = routing.waiting_for_kin(conn, request.alarm_id)
    if not store.mark_confirmed(conn, request.id, now=now):
        return "used"  # this person confirmed before (a second "OK", or the link after the SMS)
    if not waiting:
        # The alarm has moved on (another next of kin confirmed, the time ran out, an operator
        # took it): that this person goes is still news for whoever has it.
        _on_timeline(conn, row, "confirmed", now, text=text, via=via, late=True)
        return "late"
    _on_timeline(conn, row, "confirmed", now, text=text, via=via)
    routing.kin_confirmed(conn, request.alarm_id, contact_id=request.contact_id,
                          name=store.contact_name(conn, request.contact_id), via=via, now=now)
    return "confirmed"


def link_facts(conn: Connection, token: str) -> Any | None:
    """What the confirmation page may show before the person presses: nothing personal."""
    return store.by_link(conn, token)


def subscribe(conn: Connection, *, user_id: int, endpoint: str, p256dh: str, auth: str, extra_services: tuple[str, ...],
              now: datetime) -> int | None:
    """A phone's Web Push subscription for this user; None when its push service is not one
    Respons sends to (push.service_allowed: a user must not make Respons post anywhere)."""
    if not push.service_allowed(endpoint, extra_services):
        return None
    return store.subscribe(conn, user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, now=now)


def unsubscribe(conn: Connection, *, user_id: int, endpoint: str, now: datetime) -> bool:
    return store.unsubscribe(conn, user_id=user_id, endpoint=endpoint, now=now)


def push_shown(conn: Connection, uid: str, *, now: datetime) -> bool:
    """The phone's service worker showed the push: delivered."""
    row = store.by_uid(conn, uid)
    if row is None or row.channel != rules.PUSH:
        return False
    done = store.mark_delivered(conn, row.id, now=now)
    if done is not None:
        _on_timeline(conn, done, rules.DELIVERED, now)
    return done is not None


def _kin_check(conn: Connection, alarm_id: str | None, now: datetime) -> None:
    """Every next of kin asked has failed, expired or said no: nobody will confirm, so the
    alarm goes on to its next step now instead of at the end of the time."""
    if alarm_id is None or not routing.waiting_for_kin(conn, alarm_id):
        # (waiting_for_kin locks the alarm's row on PostgreSQL first: two contacts' failures
        # or "no"s on two nodes are then counted one after the other, and the last one sees both.)
        return
    requests = store.kin_requests_of(conn, alarm_id)
    if not requests or any(r.confirmed_at is not None for r in requests):
        return
    declined = {r.id for r in requests if r.declined_at is not None}
    unreachable = {r.id for r in requests if r.state in (rules.FAILED, rules.EXPIRED)} - declined
    if len(declined) + len(unreachable) == len(requests):
        reason = (routing.KIN_DECLINED if not unreachable else routing.KIN_UNREACHABLE if not declined
                  else routing.KIN_NONE)
        routing.kin_unavailable(conn, alarm_id, reason=reason, now=now)
