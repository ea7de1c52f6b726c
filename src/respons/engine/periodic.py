"""A background task that does one round of work every ``poll_seconds`` (the timer worker,
device supervision). A failing round is logged and tried again next time: the work lives in
the database, so nothing is lost by waiting."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class PeriodicWorker:
    name = "respons-worker"

    def __init__(self, *, poll_seconds: float):
        self._poll = poll_seconds
        self._task: asyncio.Task | None = None

    async def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a round failed; trying again", self.name)
            await asyncio.sleep(self._poll)
