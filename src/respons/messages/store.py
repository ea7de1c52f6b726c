"""The outbox of messages and the phones that asked for push. Owns ``messages``,
``message_parts`` and ``push_subscriptions``; reads ``contacts`` (who next of kin are).

Writing a message is part of the unit of work that sends it (``queue``): the message exists
exactly when its cause commits. Delivering is the worker's, after the commit: ``claim_due``
takes a few due messages for one node (safe across nodes, like the timers), ``record``
writes the provider's answer only while that claim still holds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from respons.messages import rules, texts
from respons.store.db import claimable_ids, is_postgres
from respons.store.tables import alarms, contacts, message_parts, messages, municipalities, push_subscriptions

m = messages.c
# A message that may have reached the provider without Respons knowing: its last_error says
# so, and the next claim looks for its receipts before sending it again.
INTERRUPTED = "interrupted: the node sending it stopped before the provider's answer was recorded"
UNCERTAIN = "uncertain: "
UNCERTAIN_WAIT = timedelta(seconds=30)
MATCH_AT_LEAST = 12  # characters of a receipt's text that must match to recognise a part
RECORDED = "recorded"  # the local recorder's rows from before 2026-12 (migration 0025): never sent


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def queue(conn: Connection, *, dedupe_key: str, channel: str, purpose: str, municipality_id: int, body: str,
          now: datetime, expires_at: datetime, alarm_id: str | None = None, contact_id: int | None = None,
          user_id: int | None = None, subscription_id: int | None = None, to_address: str | None = None,
          code: str | None = None, link_hash: str | None = None) -> tuple[int, str, bool]:
    """(id, uid, new): the message, queued now; the same ``dedupe_key`` again is the message
    already queued (a change written twice sends once)."""
    existing = conn.execute(select(m.id, m.uid).where(m.dedupe_key == dedupe_key)).first()
    if existing is not None:
        return existing.id, existing.uid, False
    uid = str(uuid.uuid4())
    message_id = conn.execute(insert(messages).values(
        uid=uid, dedupe_key=dedupe_key, channel=channel, purpose=purpose, alarm_id=alarm_id,
        municipality_id=municipality_id, contact_id=contact_id, user_id=user_id, subscription_id=subscription_id,
        to_address=to_address, body=body, code=code, link_hash=link_hash, state=rules.QUEUED, attempts=0,
        due_at=now, expires_at=expires_at, created_at=now,
    )).inserted_primary_key[0]
    return message_id, uid, True


def kin_to_ask(conn: Connection, recipient_id: int) -> list[Any]:
    """The recipient's contacts who take alarms, in their order."""
    return conn.execute(select(contacts.c.id, contacts.c.name, contacts.c.phone)
                        .where(contacts.c.recipient_id == recipient_id, contacts.c.receives_alarms.is_(True))
                        .order_by(contacts.c.priority, contacts.c.id)).all()


# --- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    message_id: int
    uid: str
    channel: str
    purpose: str
    alarm_id: str | None
    municipality_id: int
    to_address: str | None
    body: str
    attempts: int
    token: str  # the claim's fence: only this claim may record the answer
    resumed: bool  # claimed before by a node that never answered: it may have been sent
    expires_at: datetime | None = None
    subscription: dict[str, Any] | None = None  # push: endpoint and keys
    step: int | None = None  # an offer's push: the routing step it was queued for

    @property
    def reference(self) -> int:
        """The SMS's concatenation reference (one octet), from the message's id."""
        return self.message_id % 256


def expire_due(conn: Connection, now: datetime) -> list[Any]:
    """Messages not sent by their ``expires_at``: expired, never sent late. Their rows."""
    late = and_(m.state.in_(rules.OPEN), m.expires_at <= now,
                or_(m.lease_until.is_(None), m.lease_until < now))
    # One still "sending" was handed to the provider by a node that stopped before its answer
    # was recorded: it may have reached the phone, so it keeps that mark (asked_from counts
    # it, and the relative's "OK" is still heard).
    why = case((and_(m.state == rules.SENDING, m.last_error.is_(None)), f"{INTERRUPTED}; not tried again in time"),
               else_=func.coalesce(m.last_error, "not sent in time"))
    return conn.execute(update(messages).where(late)
                        .values(state=rules.EXPIRED, due_at=None, claimed_by=None, lease_until=None, failed_at=now,
                                last_error=why)
                        .returning(m.id, m.uid, m.alarm_id, m.channel, m.purpose, m.contact_id, m.user_id,
                                   m.last_error)).all()


def _offer_step(dedupe_key: str) -> int | None:
    parts = dedupe_key.split(":")  # offer:<alarm>:<step>:<subscription> (messages/outbox.py)
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None


def moved_on(conn: Connection, claims: list[Claim]) -> set[int]:
    """The claimed messages whose alarm no longer waits for them: a next-of-kin request for an
    alarm not offered to next of kin any more (confirmed, escalated, answered, cleared), an
    offer's push for an alarm not on offer any more. Their ids."""
    alarm_ids = {c.alarm_id for c in claims if c.alarm_id}
    if not alarm_ids:
        return set()
    now_at = {r.id: r for r in conn.execute(select(alarms.c.id, alarms.c.state, alarms.c.route, alarms.c.route_step)
                                            .where(alarms.c.id.in_(sorted(alarm_ids))))}
    gone = set()
    for claim in claims:
        row = now_at.get(claim.alarm_id)
        if row is None:
            continue
        steps = (row.route or {}).get("steps") or []
        index = row.route_step or 0
        target = steps[index].get("target") if 0 <= index < len(steps) else None
        waiting = row.state == "offered" and (target == "next_of_kin") == (claim.purpose == rules.KIN_REQUEST)
        if waiting and claim.purpose == rules.OFFER and claim.step is not None:
            waiting = claim.step == index  # an offer's push belongs to its step
        if not waiting:
            gone.add(claim.message_id)
    return gone


def cancel(conn: Connection, claim: Claim, *, now: datetime, why: str) -> Any | None:
    """A claimed message that is not to be sent after all: expired, with why; its row."""
    return conn.execute(update(messages).where(m.id == claim.message_id, m.claimed_by == claim.token)
                        .values(state=rules.EXPIRED, due_at=None, claimed_by=None, lease_until=None, failed_at=now,
                                last_error=why)
                        .returning(m.id, m.uid, m.alarm_id, m.channel, m.purpose, m.contact_id, m.user_id,
                                   m.last_error)).first()


def claim_due(conn: Connection, *, now: datetime, node: str, lease: timedelta, limit: int = 50,
              link_base: str | None = None, channel: str | None = None) -> list[Claim]:
    """Messages due now, claimed for ``lease``: queued ones whose time came, and ones a node
    claimed and never answered for (its lease ran out: it died, or lost its database).
    With ``link_base`` (the installation's public address), a next-of-kin request gets its
    one-time confirmation link the first time it is claimed."""
    due = and_(or_(and_(m.state == rules.QUEUED, m.due_at <= now),
                   and_(m.state == rules.SENDING, m.lease_until < now)),
               m.expires_at > now)
    if channel is not None:
        due = and_(due, m.channel == channel)
    candidates = select(m.id).where(due).order_by(m.due_at, m.id).limit(limit)
    ids = claimable_ids(conn, candidates, "due_messages")
    token = f"{node}/{uuid.uuid4()}"
    rows = conn.execute(
        update(messages).where(m.id.in_(ids), due)
        .values(state=rules.SENDING, claimed_by=token, lease_until=now + lease,
                # Still "sending" from an earlier claim: that node never recorded an answer.
                last_error=case((m.state == rules.SENDING, INTERRUPTED), else_=m.last_error))
        .returning(m.id, m.uid, m.channel, m.purpose, m.alarm_id, m.municipality_id, m.to_address, m.body,
                   m.attempts, m.subscription_id, m.due_at, m.last_error, m.link_hash, m.expires_at,
                   m.dedupe_key)).all()
    bodies = {r.id: r.body for r in rows}
    if link_base:
        for r in rows:
            if r.purpose == rules.KIN_REQUEST and r.link_hash is None:
                link = secrets.token_urlsafe(18)
                bodies[r.id] = texts.with_link(r.body, f"{link_base.rstrip('/')}/k/{link}")
                conn.execute(update(messages).where(m.id == r.id).values(body=bodies[r.id], link_hash=sha256(link)))
    subscriptions = {}
    wanted = {r.subscription_id for r in rows if r.subscription_id is not None}
    if wanted:
        subscriptions = {s.id: {"endpoint": s.endpoint, "keys": {"p256dh": s.p256dh, "auth": s.auth}}
                         for s in conn.execute(select(push_subscriptions).where(push_subscriptions.c.id.in_(wanted),
                                                                                 push_subscriptions.c.gone_at.is_(None)))}
    rows = sorted(rows, key=lambda r: (r.due_at, r.id))
    return [Claim(r.id, r.uid, r.channel, r.purpose, r.alarm_id, r.municipality_id, r.to_address, bodies[r.id], r.attempts,
                  token, resumed=bool(r.last_error) and r.last_error.startswith((INTERRUPTED, UNCERTAIN)),
                  expires_at=r.expires_at, subscription=subscriptions.get(r.subscription_id),
                  step=_offer_step(r.dedupe_key) if r.purpose == rules.OFFER else None)
            for r in rows]


def extend_lease(conn: Connection, claim: Claim, *, until: datetime) -> bool:
    """Keep a claim whose send is still under way (False: it is no longer this claim's)."""
    return conn.execute(update(messages).where(m.id == claim.message_id, m.claimed_by == claim.token,
                                               m.state == rules.SENDING)
                        .values(lease_until=until)).rowcount == 1


def record(conn: Connection, claim: Claim, result: rules.Result, *, provider: str, now: datetime) -> Any | None:
    """The provider's answer, if the claim still holds: the message's row as it is now, or
    None (the lease ran out and another node took it; that node's answer counts)."""
    attempts = claim.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "lease_until": None, "provider": provider}
    if result.verdict == rules.SENT_OK:
        values.update(state=rules.SENT, due_at=None, sent_at=now, last_error=None,
                      segments=max(1, len(result.refs)))
    elif result.verdict == rules.REFUSED:
        values.update(state=rules.FAILED, due_at=None, failed_at=now, last_error=result.error)
    elif result.uncertain:
        # The provider may have it: tried again only after its receipts had time to come,
        # and then only if they did not (recover_interrupted). The mark stays until then.
        wait = result.again_in if result.again_in is not None else max(rules.next_attempt_in(attempts), UNCERTAIN_WAIT)
        values.update(state=rules.QUEUED, due_at=now + wait, last_error=f"{UNCERTAIN}{result.error}",
                      segments=len(texts.split(claim.body)[1]))
    else:
        wait = result.again_in if result.again_in is not None else rules.next_attempt_in(attempts)
        values.update(state=rules.QUEUED, due_at=now + wait, last_error=result.error)
    row = conn.execute(update(messages)
                       .where(m.id == claim.message_id, m.claimed_by == claim.token, m.state == rules.SENDING)
                       .values(**values)
                       .returning(m.id, m.uid, m.state, m.alarm_id, m.channel, m.purpose, m.contact_id, m.user_id,
                                  m.attempts, m.due_at, m.last_error, m.subscription_id)).first()
    if row is not None and result.gone and row.subscription_id is not None:
        conn.execute(update(push_subscriptions).where(push_subscriptions.c.id == row.subscription_id)
                     .values(gone_at=now))
    if row is not None and result.refs and (result.verdict == rules.SENT_OK or result.uncertain):
        # A fast SMSC's receipts may have come before this answer was recorded: they waited.
        early = attach(conn, claim.message_id, provider, result.refs)
        if early:
            settled, _ = settle(conn, claim.message_id, now=now)
            return settled
    return row


def _part_if_absent(conn: Connection, **values: Any) -> None:
    """A part's row unless the provider's id has one already. On the unique key, not by a
    look first: a receipt on one node and the send's record on another may race for it."""
    dialect = postgresql if is_postgres(conn) else sqlite
    conn.execute(dialect.insert(message_parts).values(**values).on_conflict_do_nothing(
        index_elements=[message_parts.c.provider, message_parts.c.ref]))


def attach(conn: Connection, message_id: int, provider: str, refs, first_part: int = 1) -> int:
    """The provider's ids for the message's parts (``refs[0]`` is part ``first_part``); how
    many had a receipt waiting."""
    waiting = 0
    for seq, ref in enumerate(refs, start=first_part):
        _part_if_absent(conn, message_id=message_id, provider=provider, ref=ref, seq=seq)
        adopted = conn.execute(update(message_parts)
                               .where(message_parts.c.provider == provider, message_parts.c.ref == ref,
                                      message_parts.c.message_id.is_(None))
                               .values(message_id=message_id, seq=seq).returning(message_parts.c.state)).first()
        waiting += adopted is not None and adopted.state is not None
    return waiting


# --- receipts ------------------------------------------------------------------------------------


def receipt(conn: Connection, *, provider: str, ref: str, state: str, now: datetime, number: str | None = None,
            text_start: str | None = None) -> tuple[Any, bool] | None:
    """A part's receipt: (the message's row, whether this receipt settled its state — every
    part delivered, or one failed), or None when no message has this id (yet): the receipt
    waits with its number and first characters (``attach``, ``recover_interrupted``)."""
    _part_if_absent(conn, provider=provider, ref=ref, number=number, text_start=receipt_text(text_start)[:40] or None)
    part = conn.execute(update(message_parts).where(message_parts.c.provider == provider, message_parts.c.ref == ref)
                        .values(state=state, receipt_at=now).returning(message_parts.c.message_id)).one()
    if part.message_id is None:
        return None
    return settle(conn, part.message_id, now=now)


def settle(conn: Connection, message_id: int, *, now: datetime) -> tuple[Any, bool]:
    """The message's state from its parts' receipts (rules.combined, by part number: a part
    sent twice counts once): its row after, and whether it changed now."""
    row = conn.execute(select(m.id, m.state, m.segments).where(m.id == message_id)).one()
    by_part: dict[int, set[str]] = {}
    for p in conn.execute(select(message_parts.c.seq, message_parts.c.state)
                          .where(message_parts.c.message_id == message_id, message_parts.c.state.is_not(None))):
        by_part.setdefault(p.seq or 1, set()).add(p.state)
    final = rules.combined(by_part, row.segments or 1)
    changed = final is not None and row.state in (rules.SENT, rules.SENDING, rules.QUEUED)
    if changed:
        values: dict[str, Any] = {"state": final, "due_at": None, "claimed_by": None, "lease_until": None}
        values["delivered_at" if final == rules.DELIVERED else "failed_at"] = now
        if final != rules.DELIVERED:
            values["last_error"] = "the delivery receipt says " + final
        conn.execute(update(messages).where(m.id == message_id).values(**values))
    return _row(conn, message_id), changed


# A concatenation header (TS 23.040: IEI 00 with an 8-bit reference, or 08 with 16 bits) as
# some SMSCs leave it at the start of a receipt's text.
_HEADER = re.compile(r"^(\x05\x00\x03[\s\S]{3}|\x06\x08\x04[\s\S]{4})")


_UNSTORABLE = re.compile(r"[\x00-\x09\x0b-\x1f]")


def receipt_text(text_start: str | None) -> str:
    """A receipt's first characters as comparable text: some SMSCs put the part's first raw
    octets there, concatenation header included (and PostgreSQL stores no NUL)."""
    return _UNSTORABLE.sub("", _HEADER.sub("", text_start or ""))


def recover_interrupted(conn: Connection, claim: Claim, *, provider: str, now: datetime) -> Any | None:
    """A message that may have reached the SMSC without Respons recording it (its node died
    between handing it over and recording the answer, or the answer never came): if the SMSC
    took every part, their receipts have come meanwhile — recorded for the parts whose ids
    Respons has, and waiting here for the others, recognised by the number and the first
    characters of each part (the message starts with its own short code). Then it was sent,
    and is not sent again: its row. None: some part is not accounted for; send it again."""
    if claim.channel != rules.SMS or not claim.to_address:
        return None
    _, parts = texts.split(claim.body)
    accounted = {p.seq for p in conn.execute(select(message_parts.c.seq).where(
        message_parts.c.message_id == claim.message_id, message_parts.c.provider == provider))}
    waiting = conn.execute(select(message_parts.c.ref, message_parts.c.text_start)
                           .where(message_parts.c.message_id.is_(None), message_parts.c.provider == provider,
                                  message_parts.c.number == claim.to_address)).all()
    found: dict[int, str] = {}
    for receipt in waiting:
        text = receipt_text(receipt.text_start)
        if len(text) < MATCH_AT_LEAST:
            continue
        seq = next((n for n, part in enumerate(parts, start=1) if part.startswith(text[:20]) and n not in found), None)
        if seq is not None:
            found[seq] = receipt.ref
    if not set(range(1, len(parts) + 1)) <= accounted | set(found):
        return None
    conn.execute(update(messages).where(m.id == claim.message_id, m.claimed_by == claim.token)
                 .values(state=rules.SENT, sent_at=func.coalesce(m.sent_at, now), due_at=None, claimed_by=None,
                         lease_until=None, provider=provider, segments=len(parts), last_error=None))
    for seq, ref in found.items():
        attach(conn, claim.message_id, provider, [ref], first_part=seq)
    settled, _ = settle(conn, claim.message_id, now=now)
    return settled


def forget_unmatched(conn: Connection, *, before: datetime) -> int:
    """Receipts that never found their message (logged when they came): dropped after a day."""
    done = conn.execute(delete(message_parts).where(message_parts.c.message_id.is_(None),
                                                    message_parts.c.receipt_at < before))
    return done.rowcount


def _row(conn: Connection, message_id: int) -> Any:
    return conn.execute(select(m.id, m.uid, m.state, m.alarm_id, m.channel, m.purpose, m.contact_id, m.user_id,
                               m.attempts, m.due_at, m.last_error, m.sent_at, m.delivered_at, m.created_at)
                        .where(m.id == message_id)).one()


def by_uid(conn: Connection, uid: str) -> Any | None:
    row = conn.execute(select(m.id).where(m.uid == uid)).first()
    return None if row is None else _row(conn, row.id)


def mark_delivered(conn: Connection, message_id: int, *, now: datetime) -> Any | None:
    """A push the phone's service worker says it showed: delivered (once)."""
    done = conn.execute(update(messages).where(m.id == message_id, m.state.in_((rules.SENT, rules.SENDING)))
                        .values(state=rules.DELIVERED, delivered_at=now, due_at=None, claimed_by=None,
                                lease_until=None,
                                # Shown before the sending node recorded the push service's answer.
                                sent_at=func.coalesce(m.sent_at, now)))
    return _row(conn, message_id) if done.rowcount else None


# --- replies and confirmations -----------------------------------------------------------------------


def asked_from(conn: Connection, phone: str, *, since: datetime) -> list[Any]:
    """The next-of-kin requests to ``phone`` since ``since`` that may have reached it — sent,
    or handed to the SMSC with the answer unrecorded (a request still queued cannot have been
    read) — newest first."""
    may_have_reached = or_(m.sent_at.is_not(None), m.state == rules.SENDING, m.last_error.like(f"{INTERRUPTED}%"),
                           m.last_error.like(f"{UNCERTAIN}%"))
    return conn.execute(select(m.id, m.uid, m.alarm_id, m.contact_id, m.code, m.confirmed_at, m.declined_at,
                               m.created_at)
                        .where(m.to_address == phone, m.purpose == rules.KIN_REQUEST, m.created_at >= since,
                               may_have_reached)
                        .order_by(m.created_at.desc(), m.id.desc()).limit(20)).all()


def by_link(conn: Connection, token: str) -> Any | None:
    return conn.execute(select(m.id, m.uid, m.alarm_id, m.contact_id, m.confirmed_at, m.created_at, m.state)
                        .where(m.link_hash == sha256(token))).first()


def mark_confirmed(conn: Connection, message_id: int, *, now: datetime) -> bool:
    done = conn.execute(update(messages).where(m.id == message_id, m.confirmed_at.is_(None)).values(confirmed_at=now))
    return done.rowcount == 1


def mark_declined(conn: Connection, message_id: int, *, now: datetime) -> bool:
    done = conn.execute(update(messages).where(m.id == message_id, m.declined_at.is_(None), m.confirmed_at.is_(None))
                        .values(declined_at=now))
    return done.rowcount == 1


def kin_requests_of(conn: Connection, alarm_id: str) -> list[Any]:
    """The alarm's next-of-kin requests and their states (is anyone still reachable?)."""
    return conn.execute(select(m.id, m.state, m.contact_id, m.confirmed_at, m.declined_at)
                        .where(m.alarm_id == alarm_id, m.purpose == rules.KIN_REQUEST)).all()


def contact_name(conn: Connection, contact_id: int | None) -> str | None:
    if contact_id is None:
        return None
    return conn.execute(select(contacts.c.name).where(contacts.c.id == contact_id)).scalar()


# --- push subscriptions ------------------------------------------------------------------------------


def subscribe(conn: Connection, *, user_id: int, endpoint: str, p256dh: str, auth: str, now: datetime) -> int:
    """The phone's subscription, for this user (a phone handed to a colleague becomes theirs).
    On the endpoint's unique key: two nodes told at once make one row."""
    dialect = postgresql if is_postgres(conn) else sqlite
    statement = dialect.insert(push_subscriptions).values(user_id=user_id, endpoint=endpoint,
                                                          endpoint_hash=sha256(endpoint), p256dh=p256dh, auth=auth,
                                                          created_at=now)
    return conn.execute(statement.on_conflict_do_update(
        index_elements=[push_subscriptions.c.endpoint_hash],
        set_={"user_id": user_id, "p256dh": p256dh, "auth": auth, "gone_at": None},
    ).returning(push_subscriptions.c.id)).scalar_one()


def unsubscribe(conn: Connection, *, user_id: int, endpoint: str, now: datetime) -> bool:
    done = conn.execute(update(push_subscriptions)
                        .where(push_subscriptions.c.endpoint_hash == sha256(endpoint),
                               push_subscriptions.c.user_id == user_id, push_subscriptions.c.gone_at.is_(None))
                        .values(gone_at=now))
    return done.rowcount == 1


def subscriptions_of(conn: Connection, user_ids: list[int]) -> list[Any]:
    if not user_ids:
        return []
    return conn.execute(select(push_subscriptions.c.id, push_subscriptions.c.user_id)
                        .where(push_subscriptions.c.user_id.in_(user_ids), push_subscriptions.c.gone_at.is_(None))
                        .order_by(push_subscriptions.c.id)).all()


# --- lists and figures -------------------------------------------------------------------------------


def counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(municipality number, channel, state, messages) for /metrics."""
    return [tuple(r) for r in conn.execute(
        select(municipalities.c.number, m.channel, m.state, func.count())
        .join(municipalities, municipalities.c.id == m.municipality_id)
        .group_by(municipalities.c.number, m.channel, m.state)
        .order_by(municipalities.c.number, m.channel, m.state))]


def recent_times(conn: Connection, *, since: datetime) -> list[tuple[str, str, datetime, datetime | None,
                                                                       datetime | None]]:
    """(municipality number, channel, created, delivered, confirmed) of the messages queued
    since ``since``, for /metrics' medians."""
    return [tuple(r) for r in conn.execute(
        select(municipalities.c.number, m.channel, m.created_at, m.delivered_at, m.confirmed_at)
        .join(municipalities, municipalities.c.id == m.municipality_id)
        .where(m.created_at >= since))]


def figure_rows(conn: Connection, *, municipality_id: int, start: datetime, end: datetime) -> list[Any]:
    """Each message of the municipality queued in [start, end), for the statistics."""
    return conn.execute(select(m.channel, m.purpose, m.state, m.created_at, m.sent_at, m.delivered_at,
                               m.confirmed_at)
                        .where(m.municipality_id == municipality_id, m.created_at >= start, m.created_at < end,
                               m.purpose != RECORDED)).all()
