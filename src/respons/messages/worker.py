"""Delivers the outbox's messages after the commit that queued them (docs/messages.md).

Each round: expire what was not sent in time, claim a few due messages (safe across nodes),
hand each to its channel's provider, and record the answer in a unit of its own. The worker
wakes at once when a commit queued a message (``messages_queued`` on the live bus, from any
node), and otherwise every ``poll_seconds``. Receipts and replies arrive on the provider's
connection and become units of work here too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from respons.clock import Clock
from respons.engine.periodic import PeriodicWorker
from respons.messages import rules, service, store
from respons.messages.outbox import QUEUED_EVENT
from respons.store.journal import Lane

log = logging.getLogger(__name__)

EXPIRE_EVERY = timedelta(seconds=5)


class MessageWorker(PeriodicWorker):
    name = "respons-messages"

    def __init__(self, journal, clock: Clock, *, node: str, sms, push, poll_seconds: float, lease_seconds: float,
                 link_base: str | None = None, allow_list: tuple[str, ...] | None = None, concurrency: int = 8,
                 renew_seconds: float | None = None):
        super().__init__(poll_seconds=poll_seconds)
        self._journal, self._clock, self._node = journal, clock, node
        self.sms, self.push = sms, push
        self._lease = timedelta(seconds=lease_seconds)
        # A send under way keeps its claim: an SMS of several parts to a slow SMSC (each part
        # may wait its answer for seconds) can outlast the lease, and a claim whose lease ran
        # out is taken — by another node, or by this one — and sent again. A node that dies
        # stops renewing, and its claims are taken after the lease, as before.
        self._renew_seconds = renew_seconds if renew_seconds is not None else lease_seconds / 3
        self._link_base, self._allow_list = link_base, allow_list
        # Each channel sends up to ``concurrency`` at once, and a round claims only what frees
        # up: a claim never waits its turn while its lease (another node may take it) or its
        # time (never sent late) runs out, and a slow SMSC never holds up home care's pushes.
        self._concurrency = max(1, concurrency)
        self._busy = {rules.SMS: 0, rules.PUSH: 0}
        self._sending: set[asyncio.Task] = set()
        self._next_expiry = None
        self.sent = 0

    # As an observer of the live bus (engine/live.py): a commit queued a message.
    def changes(self, changes: list[dict]) -> None:
        if any(change.get("event") == QUEUED_EVENT for change in changes):
            self.wake()

    def resync(self) -> None:
        self.wake()

    async def start_providers(self) -> None:
        if self.sms is not None:
            await self.sms.start(on_receipt=self.on_receipt, on_reply=self.on_reply)

    async def stop(self) -> None:
        await super().stop()
        if self._sending:
            # Sends under way end with their answer recorded, or are left to the lease.
            await asyncio.wait(list(self._sending), timeout=15)
            for task in self._sending:
                task.cancel()
        if self.sms is not None:
            await self.sms.stop()

    async def run_once(self) -> int:
        now = self._clock()
        if self._next_expiry is None or now >= self._next_expiry:
            self._next_expiry = now + EXPIRE_EVERY
            await self._journal.run(lambda conn: service.expire(conn, now), lane=Lane.TECHNICAL)
        claimed = 0
        for channel in (rules.PUSH, rules.SMS):
            free = self._concurrency - self._busy[channel]
            if free <= 0:
                continue
            claims = await self._journal.run(lambda conn, c=channel, n=free: service.claim(
                conn, now=self._clock(), node=self._node, lease=self._lease, limit=n, link_base=self._link_base,
                channel=c))
            for claim in claims:
                self._busy[channel] += 1
                task = asyncio.get_running_loop().create_task(self._deliver(claim))
                self._sending.add(task)
                task.add_done_callback(lambda t, c=channel: self._done(t, c))
            claimed += len(claims)
        return claimed

    def _done(self, task: asyncio.Task, channel: str) -> None:
        self._sending.discard(task)
        self._busy[channel] -= 1
        self.wake()  # a slot is free: more may be due

    async def _deliver(self, claim: store.Claim) -> None:
        keeper = asyncio.get_running_loop().create_task(self._keep_claim(claim))
        try:
            await self._deliver_claimed(claim)
        finally:
            keeper.cancel()

    async def _keep_claim(self, claim: store.Claim) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            try:
                kept = await self._journal.run(lambda conn: store.extend_lease(
                    conn, claim, until=self._clock() + self._lease))  # the default lane: before the lease ends in a storm
            except Exception as exc:  # noqa: BLE001 - no database: the lease decides, as for a dead node
                log.warning("message %s: its claim could not be renewed (%s)", claim.uid, exc)
                continue
            if not kept:
                return  # answered meanwhile, or no longer this claim's

    async def _deliver_claimed(self, claim: store.Claim) -> None:
        try:
            if claim.resumed and claim.channel == rules.SMS and self.sms is not None:
                if not getattr(self.sms, "receipts_settled", True):
                    # It may be at the SMSC already; its receipts come only on a session bound a
                    # while: wait for them, keeping the mark (never sent again blind).
                    result = rules.Result(rules.RETRY, error="waiting for the SMSC's receipts after a new session",
                                          again_in=rules.FIRST_RETRY, uncertain=True)
                    await self._journal.run(lambda conn: service.recorded(conn, claim, result, provider=self.sms.name,
                                                                          now=self._clock()))
                    return
                if await self._journal.run(lambda conn: service.recovered(conn, claim, provider=self.sms.name,
                                                                          now=self._clock())) is not None:
                    return  # the SMSC took it before: sent once, not twice
            provider, result = await self._send(claim)
            await self._journal.run(lambda conn: service.recorded(conn, claim, result, provider=provider,
                                                                  now=self._clock()))
            if result.verdict == rules.SENT_OK:
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the claim's lease gives it to the next round
            log.exception("sending message %s failed", claim.uid)

    async def _send(self, claim: store.Claim) -> tuple[str, rules.Result]:
        if claim.channel == rules.PUSH:
            if self.push is None:
                return "none", rules.Result(rules.REFUSED, error="Web Push is not configured (RESPONS_VAPID_PRIVATE_KEY)")
            # The push service keeps it for the phone only as long as it is of use.
            ttl = int((claim.expires_at - self._clock()).total_seconds()) if claim.expires_at else 600
            return self.push.name, await self.push.send(claim.uid, claim.subscription, claim.body, claim.alarm_id,
                                                        max(0, ttl))
        if self.sms is None:
            return "none", rules.Result(rules.REFUSED, error="no SMS provider is configured (RESPONS_SMS_PROVIDER)")
        if not rules.allowed(claim.to_address or "", self._allow_list):
            return self.sms.name, rules.Result(rules.REFUSED, error="the number is not on this installation's allow-list "
                                                                    "(RESPONS_SMS_ALLOW)")
        return self.sms.name, await self.sms.send(claim.uid, claim.to_address, claim.body, claim.reference,
                                                  claim.attempts)

    # --- from the provider's connection ---------------------------------------------------------

    async def on_receipt(self, ref: str, stat: str, number: str, text_start: str) -> None:
        provider = self.sms.name if self.sms is not None else "smpp"
        await self._journal.run(lambda conn: service.receipt(conn, provider=provider, ref=ref, stat=stat, number=number,
                                                             text_start=text_start, now=self._clock()))

    async def on_reply(self, number: str, text: str) -> Any:
        return await self._journal.run(lambda conn: service.reply(conn, number=number, text=text, now=self._clock()))
