"""A background task that does one round of work every ``poll_seconds`` (the timer worker,
device supervision). A failing round is logged and tried again next time: the work lives in
the database, so nothing is lost by waiting.

Logged by state change, not by round: while the database is down (or read-only, or its disk
full) every round fails, twice a second for the timers, and a traceback each time would bury
the one line that matters. So: one line when rounds start failing (a traceback only if it is
not a database outage, which is a bug worth reading), a reminder every ``REMIND_SECONDS``
while they keep failing the same way, and one line when they succeed again."""

from __future__ import annotations

import asyncio
import logging
import time

from respons.store.db import DatabaseUnavailable

log = logging.getLogger(__name__)

REMIND_SECONDS = 600.0


class PeriodicWorker:
    name = "respons-worker"

    def __init__(self, *, poll_seconds: float):
        self._poll = poll_seconds
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._loop_ref: asyncio.AbstractEventLoop | None = None

    async def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop_ref.create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        """Do the next round now instead of after the poll (safe from any thread: the live
        bus calls it from the journal's thread after a commit that queued work)."""
        if self._loop_ref is not None and self._wake is not None and not self._loop_ref.is_closed():
            self._loop_ref.call_soon_threadsafe(self._wake.set)

    def _wait_seconds(self) -> float:
        """How long to sleep after a round (a worker that knows its next due time says less)."""
        return self._poll

    async def _sleep(self) -> None:
        wait = self._wait_seconds()
        if self._wake is None:
            await asyncio.sleep(wait)
            return
        try:
            await asyncio.wait_for(self._wake.wait(), wait)
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        failing: str | None = None  # what the current run of failures looks like
        failures = 0
        logged_at = 0.0
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                signature = f"{exc.__class__.__name__}: {exc}"[:300]
                if signature != failing:
                    failing, logged_at = signature, time.monotonic()
                    if isinstance(exc, DatabaseUnavailable):
                        log.warning("%s: rounds fail (%s); trying again every %s s", self.name, exc, self._poll)
                    else:
                        log.exception("%s: a round failed; trying again", self.name)
                elif time.monotonic() - logged_at > REMIND_SECONDS:
                    logged_at = time.monotonic()
                    log.warning("%s: still failing after %d rounds (%s)", self.name, failures, signature)
            else:
                if failing is not None:
                    log.warning("%s: rounds succeed again after %d failures", self.name, failures)
                    failing, failures = None, 0
            await self._sleep()
