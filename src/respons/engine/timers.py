"""Timers that live in the database (DESIGN.md invariant 4).

A timer is a row with ``due_at``. The worker works in two steps, each its own commit:

1. *claim*: due timers (and claims whose lease ran out because a node died) are marked
   ``claimed`` with a fresh ``fence`` value. On PostgreSQL the candidates are locked with
   ``FOR UPDATE SKIP LOCKED`` so nodes sharing the database never claim the same row; on
   SQLite the journal is the only writer, so the conditional UPDATE is enough.
2. *fire*: ``UPDATE … SET state='fired' WHERE id=? AND fence=? AND state='claimed'``.
   Only if that changed a row does the handler run, in the same transaction. A worker
   with a stale fence (the timer was cancelled, rescheduled or re-claimed by another
   node after its lease ran out) changes nothing and does nothing.

Because timers are rows, a timer that fell due while the server was down is simply
found by the first poll after restart.

**Batches.** After a restart hundreds of timers can be overdue at once, and a firing that
waits for its own COMMIT costs a flush each (issue 15: 500 overdue timers, the last fired
3.3 s after the server was ready). So the worker claims up to ``batch`` timers in one
statement, submits every firing of the claim to the journal at once as units of their own
(the journal's group commit writes them in one transaction with one COMMIT), and claims
again at once while a claim came back full instead of waiting for the next poll. Each
firing stays its own unit on purpose: the fence check is per timer, and if one handler
raises, the journal writes the batch again with each unit in a SAVEPOINT, so only that
timer fails (its claim stays and is retried after its lease) and the others fire.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from respons.clock import Clock
from respons.engine.periodic import PeriodicWorker
from respons.store.db import claimable_ids, insert_rows
from respons.observability import metrics
from respons.store.journal import JournalUnavailable, after_commit
from respons.store.tables import timers

log = logging.getLogger(__name__)

Handler = Callable[[Connection, str, datetime], None]
# What runs when a timer of each kind fires: built by the runtime (respons/runtime.py,
# TIMER_HANDLERS), which names every kind, so no module registers itself on import.
Handlers = Mapping[str, Handler]

LIVE = ("pending", "claimed")


def schedule(conn: Connection, kind: str, *, alarm_id: str | None, due_at: datetime, now: datetime) -> int:
    result = conn.execute(
        _INSERT_TIMER, dict(kind=kind, alarm_id=alarm_id, due_at=due_at, state="pending", fence=0, created_at=now)
    )
    return result.inserted_primary_key[0]


_INSERT_TIMER = insert(timers)


def schedule_many(conn: Connection, kind: str, due: list[tuple[str, datetime]], *, now: datetime) -> None:
    """``schedule`` for many alarms at once (alarm id, due at), as one batched insert."""
    insert_rows(conn, timers, [dict(kind=kind, alarm_id=alarm_id, due_at=due_at, state="pending", fence=0,
                                    created_at=now) for alarm_id, due_at in due])


def cancel(conn: Connection, kind: str, *, alarm_id: str) -> int:
    """Cancel live timers of ``kind`` for the alarm; bumping the fence voids any claim."""
    result = conn.execute(
        update(timers)
        .where(timers.c.kind == kind, timers.c.alarm_id == alarm_id, timers.c.state.in_(LIVE))
        .values(state="cancelled", fence=timers.c.fence + 1)
    )
    return result.rowcount


def cancel_all(conn: Connection, *, alarm_id: str) -> int:
    """Cancel every live timer of the alarm (it ended): answer clock, routing, missions."""
    result = conn.execute(
        update(timers)
        .where(timers.c.alarm_id == alarm_id, timers.c.state.in_(LIVE))
        .values(state="cancelled", fence=timers.c.fence + 1)
    )
    return result.rowcount


@dataclass(frozen=True)
class Claim:
    timer_id: int
    fence: int
    kind: str
    alarm_id: str | None
    due_at: datetime | None = None  # for the fire-lag metric


def claim_due(conn: Connection, *, now: datetime, node: str, lease: timedelta, limit: int = 100) -> list[Claim]:
    due = or_(
        and_(timers.c.state == "pending", timers.c.due_at <= now),
        and_(timers.c.state == "claimed", timers.c.lease_until < now),
    )
    candidates = select(timers.c.id).where(due).order_by(timers.c.due_at, timers.c.id).limit(limit)
    ids = claimable_ids(conn, candidates, "due_timers")
    token = str(uuid.uuid4())
    rows = conn.execute(
        update(timers)
        .where(timers.c.id.in_(ids), due)
        .values(state="claimed", fence=timers.c.fence + 1, claim_token=token, claimed_by=node, lease_until=now + lease)
        .returning(timers.c.id, timers.c.fence, timers.c.kind, timers.c.alarm_id, timers.c.due_at)
    ).all()
    # RETURNING follows neither database's promise of order; fired in due order, an earlier
    # timer's effect (an escalation answering, cancelling) comes before a later one's check.
    rows.sort(key=lambda r: (r.due_at, r.id))
    return [Claim(r.id, r.fence, r.kind, r.alarm_id, r.due_at) for r in rows]


# Built once: a backlog fires hundreds in a row, and building the statement per firing cost
# about a tenth of a firing's CPU (the handler's own statements are the rest).
_FIRE = (
    update(timers)
    .where(timers.c.id == bindparam("claimed_id"), timers.c.fence == bindparam("claimed_fence"),
           timers.c.state == "claimed")
    .values(state="fired", fired_at=bindparam("fired_now"))
)


def fire(conn: Connection, claim: Claim, *, now: datetime, handlers: Handlers) -> bool:
    """Run the claimed timer's handler once; return False if the claim went stale."""
    result = conn.execute(_FIRE, {"claimed_id": claim.timer_id, "claimed_fence": claim.fence, "fired_now": now})
    if result.rowcount != 1:
        return False
    handler = handlers.get(claim.kind)
    if handler is None:
        raise LookupError(f"no handler registered for timer kind {claim.kind!r}")
    handler(conn, claim.alarm_id, now)
    if claim.due_at is not None:
        lag = max(0.0, (now - claim.due_at).total_seconds())
        after_commit(conn, lambda: metrics.TIMER_FIRE_LAG_SECONDS.labels(claim.kind).observe(lag))
    return True


class TimerWorker(PeriodicWorker):
    """Polls for due timers and fires them through the journal, a claimed batch at a time."""

    name = "respons-timers"

    def __init__(self, journal, clock: Clock, *, handlers: Handlers, node: str, poll_seconds: float,
                 lease_seconds: float, batch: int = 100):
        super().__init__(poll_seconds=poll_seconds)
        self._journal = journal
        self._handlers = handlers
        self._clock = clock
        self._node = node
        self._lease = timedelta(seconds=lease_seconds)
        # A claim's firings become one journal batch; RESPONS_JOURNAL_MAX_BATCH bounds how long
        # an alarm arriving meanwhile waits, and this keeps a backlog from filling it alone.
        self._batch = max(1, batch)
        self.fired = 0

    async def run_once(self) -> int:
        """Claim and fire until a claim comes back short: a backlog is drained in one round."""
        fired = 0
        while True:
            claims = await self._journal.run(
                lambda conn: claim_due(conn, now=self._clock(), node=self._node, lease=self._lease, limit=self._batch)
            )
            if not claims:
                break
            batch_fired = await self._fire_all(claims)
            fired += batch_fired
            self.fired += batch_fired
            if len(claims) < self._batch:
                break
        return fired

    async def _fire_all(self, claims: list[Claim]) -> int:
        # Submitted before any is awaited, so they reach the journal together and share a
        # COMMIT; a unit reads the clock when it runs, as a lone firing would.
        futures = [
            asyncio.wrap_future(self._journal.submit(lambda conn, c=claim: fire(conn, c, now=self._clock(), handlers=self._handlers)))
            for claim in claims
        ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        fired = 0
        unavailable = 0
        for claim, outcome in zip(claims, outcomes):
            if outcome is True:
                fired += 1
            elif isinstance(outcome, JournalUnavailable):
                unavailable += 1
            elif isinstance(outcome, BaseException):
                # The claim stays; another poll retries it when the lease runs out.
                log.error("timer %s (%s) failed to fire", claim.timer_id, claim.kind, exc_info=outcome)
        if unavailable:
            # One line for the batch, not one traceback per timer: the claims stay and are
            # retried after their lease.
            log.warning("%d timers not fired: the journal did not commit", unavailable)
        return fired
