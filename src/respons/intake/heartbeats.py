"""Heartbeats written together: many devices' signs of life in one unit of work.

A link test says only "I am here". Alone, each would be a unit of its own in the journal: a
query for the device and, when its deadline moves, an update, for each of tens of thousands
of panels. Here the heartbeats a listener reads while the previous batch is being committed
wait for the next one, and a batch is one unit: one query for all its devices
(``intake/devices.heard_many``) and one batched update of the deadlines that move
(``engine/supervision.seen_many``; a heartbeat that changes nothing writes nothing).

Each sender still gets its answer only after the commit that holds its heartbeat (DESIGN.md
invariant 1), and learns whether the device is known: an unknown account is the caller's to
refuse (the DC-09 receiver then runs its whole unit, which keeps the frame for an
administrator). A batch goes in the journal's technical lane, behind every alarm.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from datetime import datetime

from respons.intake import devices as device_intake
from respons.store.journal import Journal, Lane

# Heartbeats per unit: a unit this long (a few milliseconds) is the longest an alarm arriving
# meanwhile waits behind it.
MAX_BATCH = 1000


class Heartbeats:
    """Signs of life of one protocol's devices, committed in batches (one batch in flight)."""

    def __init__(self, journal: Journal, protocol: str, *, max_batch: int = MAX_BATCH):
        self._journal = journal
        self._protocol = protocol
        self._max_batch = max_batch
        self._waiting: list[tuple[str, datetime, asyncio.Future]] = []
        self._in_flight = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    async def heard(self, identity: str, now: datetime) -> bool:
        """Record a sign of life; True once committed for a known device, False for an
        identity that is no active device of this protocol. Raises what the journal raised
        (``JournalUnavailable``: nothing was written, say nothing)."""
        self._loop = asyncio.get_running_loop()
        waiter = self._loop.create_future()
        self._waiting.append((identity, now, waiter))
        if not self._in_flight:
            self._in_flight = True
            # After the callbacks already queued: the frames read in this turn of the loop
            # join the batch.
            self._loop.call_soon(self._flush)
        return await waiter

    def _flush(self) -> None:
        batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
        heard_at: dict[str, datetime] = {}
        for identity, now, _waiter in batch:
            if identity not in heard_at or now > heard_at[identity]:
                heard_at[identity] = now
        try:
            future = self._journal.submit(lambda conn: device_intake.heard_many(conn, self._protocol, heard_at),
                                          lane=Lane.TECHNICAL)
        except Exception as exc:  # the journal is closed: the node is stopping
            self._settle(batch, None, exc)
            return
        loop = self._loop
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(self._committed, batch, done))

    def _committed(self, batch: list, done: Future) -> None:
        error = done.exception()
        self._settle(batch, None if error else done.result(), error)

    def _settle(self, batch: list, known: set[str] | None, error: BaseException | None) -> None:
        self.batches += 1
        for identity, _now, waiter in batch:
            if waiter.done():
                continue  # the connection went away meanwhile
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(identity in known)
        if self._waiting:
            self._flush()
        else:
            self._in_flight = False
