"""Delivers the outbox's documents to the municipalities' EPJ, after the commit that wrote
them: claim a few due documents (safe across nodes), send each as a FHIR transaction, record
the answer through the journal (docs/epj.md, "Delivery states")."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from respons.clock import Clock
from respons.engine.periodic import PeriodicWorker
from respons.engine.routing import RulesCache
from respons.epj import delivery, helseid, outbox, watch
from respons.epj.endpoints import AUTH_METHODS, Endpoint, endpoints_for, tls_context, tls_files
from respons.store.journal import Lane

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
SWEEP_EVERY = timedelta(seconds=10)


class DeliveryWorker(PeriodicWorker):
    name = "respons-epj"

    def __init__(self, journal, engine: Engine, clock: Clock, *, node: str, poll_seconds: float, lease_seconds: float,
                 timeout_seconds: float, alarm_after: timedelta, answer_deadline: timedelta,
                 rules_cache: RulesCache | None = None, tokens: helseid.Tokens | None = None, batch: int = 20,
                 concurrency: int = 4):
        super().__init__(poll_seconds=poll_seconds)
        self._journal, self._engine, self._clock, self._node = journal, engine, clock, node
        self._lease = timedelta(seconds=lease_seconds)
        self._timeout = timeout_seconds
        # No more claimed than can be sent within half the lease, `concurrency` at a time, if
        # every send takes its whole timeout (an EPJ that hangs): a claim still waiting for its
        # turn when its lease ran out would be taken and sent by another node as well.
        waves = max(1, int(lease_seconds // (2 * timeout_seconds)))
        self._batch = max(1, min(batch, max(1, concurrency) * waves))
        self._full = False  # the last round claimed a whole batch
        self._alarm_after, self._answer_deadline, self._rules_cache = alarm_after, answer_deadline, rules_cache
        self._next_sweep: datetime | None = None
        self._tokens = tokens or helseid.Tokens()
        # A few at a time: an EPJ is a shared service, and a backlog after an outage must not
        # arrive as one burst (nor time out in its own queue).
        self._concurrency = max(1, concurrency)
        self._unconfigured_told: set[int] = set()  # municipalities whose missing endpoint was logged
        self.delivered = 0

    async def run_once(self) -> int:
        now = self._clock()
        if self._next_sweep is None or now >= self._next_sweep:
            # Whether or not anything is due for it this round, a municipality past its
            # deadline is told about (at most SWEEP_EVERY late, on a deadline of minutes).
            self._next_sweep = now + SWEEP_EVERY
            await self._journal.run(lambda conn: watch.sweep(
                conn, now, answer_deadline=self._answer_deadline, rules_cache=self._rules_cache), lane=Lane.TECHNICAL)
        self._full = False
        claims = await self._journal.run(lambda conn: outbox.claim_due(
            conn, now=self._clock(), node=self._node, lease=self._lease, limit=self._batch))
        if not claims:
            return 0
        endpoints = await asyncio.to_thread(self._endpoints, {c.municipality_id for c in claims})
        for municipality_id in {c.municipality_id for c in claims} - set(endpoints) - self._unconfigured_told:
            # Once per municipality and node: the documents wait, nothing is lost (a demo, or a
            # centre whose VKP contract is not in place yet).
            self._unconfigured_told.add(municipality_id)
            log.warning("municipality %s has no EPJ endpoint: its documents wait (respons epj endpoint)", municipality_id)
        gate = asyncio.Semaphore(self._concurrency)
        clients: dict[int, httpx.AsyncClient] = {}  # one per endpoint and round: connections are reused

        async def deliver(claim: outbox.Claim) -> None:
            async with gate:
                result = await self._send_one(claim, endpoints.get(claim.municipality_id), clients)
            # Recorded as soon as it is known, not when the whole round has been sent: a round
            # slower than the lease would otherwise find its claims taken and its answers void.
            recorded = await self._journal.run(lambda conn: self._record(conn, claim, result))
            if recorded and result.verdict == delivery.DELIVERED:
                self.delivered += 1
            elif recorded and result.verdict == delivery.REFUSED:
                log.warning("the EPJ refused the document of %s: %s", claim.subject, result.error)

        try:
            # Every claim runs to its end before the clients close, whatever another's fate.
            outcomes = await asyncio.gather(*(deliver(claim) for claim in claims), return_exceptions=True)
        finally:
            for client in clients.values():
                await client.aclose()
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for failure in failures[1:]:
            log.warning("an EPJ answer was not recorded: %s", failure)
        if failures:
            raise failures[0]  # answers not recorded (the journal did not commit): retried after the lease
        self._full = len(claims) == self._batch
        return len(claims)

    def _wait_seconds(self) -> float:
        # A full round leaves more due (a backlog after an outage): the next goes at once.
        return 0.0 if self._full else super()._wait_seconds()

    def _record(self, conn, claim: outbox.Claim, result: delivery.Result) -> bool:
        """The answer, and what it says about the municipality's EPJ, in one unit."""
        now = self._clock()
        if not outbox.record(conn, claim, result, now=now):
            return False
        if result.verdict == delivery.DELIVERED:
            watch.delivered(conn, claim.municipality_id, now=now)
        elif not result.unconfigured:
            watch.failed(conn, claim.municipality_id, now=now, error=result.error, alarm_after=self._alarm_after)
        return True

    def _still_claimed(self, claim: outbox.Claim) -> bool:
        with self._engine.connect() as conn:
            return outbox.still_claimed(conn, claim)

    def _endpoints(self, municipality_ids: set[int]) -> dict[int, Endpoint]:
        with self._engine.connect() as conn:
            return endpoints_for(conn, municipality_ids)

    async def _send_one(self, claim: outbox.Claim, endpoint: Endpoint | None,
                        clients: dict[int, httpx.AsyncClient]) -> delivery.Result:
        """``_send``, within the timeout as a whole (httpx's applies to each step: connecting,
        each chunk read, the token fetch before it — a trickling server would never end), and
        where anything unforeseen is this document's retry, not the round's end."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send(claim, endpoint, clients)
        except TimeoutError:
            return delivery.Result(delivery.RETRY, error=f"no answer within {self._timeout:g} s")
        except Exception as exc:
            log.exception("sending the document of %s failed", claim.subject)
            return delivery.Result(delivery.RETRY, error=f"{type(exc).__name__}: {exc}"[:500])

    async def _send(self, claim: outbox.Claim, endpoint: Endpoint | None,
                    clients: dict[int, httpx.AsyncClient]) -> delivery.Result:
        if endpoint is None or not endpoint.enabled:
            return delivery.Result(delivery.RETRY, error="no EPJ endpoint configured for the municipality", unconfigured=True)
        if endpoint.auth not in AUTH_METHODS:
            return delivery.Result(delivery.RETRY, error=f"authentication {endpoint.auth!r} is not available")
        authorization: dict[str, str] = {}
        if endpoint.auth == "helseid":
            try:
                # In a thread: a token fetch is a blocking HTTP call, shared with the card's reads.
                authorization = await asyncio.to_thread(self._tokens.authorization, endpoint, self._clock())
            except helseid.TokenUnavailable as exc:
                return delivery.Result(delivery.RETRY, error=str(exc)[:500])
        client = clients.get(endpoint.municipality_id)
        if client is None:
            try:
                client = clients[endpoint.municipality_id] = httpx.AsyncClient(timeout=self._timeout,
                                                                                verify=tls_context(endpoint))
            except OSError as exc:  # missing, unreadable, or a certificate and key that do not match (ssl.SSLError)
                # ssl names no file: the administrator is told which ones were tried.
                return delivery.Result(delivery.RETRY, error=f"the endpoint's TLS files cannot be used "
                                                             f"({tls_files(endpoint)}): {type(exc).__name__}: {exc}"[:500])
        if not await asyncio.to_thread(self._still_claimed, claim):
            # Superseded by an addendum (or taken after the lease) while it waited: not sent,
            # and recording this fails the claim's fence (the newer version waits for this
            # claim in outbox.claim_due, so it still reaches the EPJ last).
            return delivery.Result(delivery.RETRY, error="no longer this claim's to send")
        try:
            response = await client.post(endpoint.base_url, json=claim.bundle,
                                         headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **authorization})
        except (httpx.HTTPError, OSError) as exc:
            return delivery.Result(delivery.RETRY, error=f"{type(exc).__name__}: {exc}"[:500])
        if response.status_code == 401:
            self._tokens.forget(endpoint.municipality_id)  # expired or revoked early: a new one next time
        try:
            body = response.json()
        except ValueError:
            body = None
        return delivery.classify(response.status_code, body)
