"""Batch-aware units of work: what a listener reads while the previous batch is being
committed goes into the next one, and a batch is one unit for the journal.

Each message through the journal alone costs a handful of statements (find the device, look
for a retransmit, insert the alarm, its events, its answer deadline), and at a thousand panels
the statements' overhead, not the database, is most of the CPU (bench/dc09_receiver.py,
docs/benchmarks.md). A *batch unit* does the same work for many messages with one query per
kind of lookup and one batched insert per table (``intake/devices.heard_many``,
``engine/receiving.receive_many``).

The rules every message keeps (DESIGN.md invariant 1):

- a sender's answer waits for the commit that holds its message: ``add`` returns only then
  (``submit`` calls its callback only then: a listener without a coroutine per message);
- one batch is in flight at a time per ``Batcher`` (two for life-safety alarms); the messages
  that arrive meanwhile wait for the next (under load the batches grow by themselves; alone, a
  message is a batch of one and goes at once);
- a unit may leave an item for the next batch (``AGAIN``: a second frame of the same panel,
  a device coming back beyond what one unit clears); it goes first next time, within half a
  batch;
- a batch unit that raises is not retried as a batch: each of its messages is then written in
  a unit of its own, so one message that cannot be written (a bug, a race with another node)
  fails alone instead of failing every batch it lands in;
- when the database does not commit (``JournalUnavailable``), or the journal is closed, every
  message of the batch gets that error: nothing was written, the sender is told nothing and
  sends again.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Callable, Generic, TypeVar

from sqlalchemy.engine import Connection

from respons.store.db import DatabaseUnavailable
from respons.store.journal import Journal, JournalClosed, Lane

log = logging.getLogger(__name__)

# A batch unit's result for an item it left for the next batch (it had done enough for one
# unit): the item goes to the front of the next batch, and its sender keeps waiting.
AGAIN = object()

Item = TypeVar("Item")
Result = TypeVar("Result")

# A batch unit's results, one per item: a value, or an exception for that item alone.
BatchUnit = Callable[[Connection, list[Item]], list[Result | BaseException]]
# Told an item's result (or the exception for it) once the unit that wrote it has committed.
Then = Callable[[object], None]


class Batcher(Generic[Item, Result]):
    def __init__(self, journal: Journal, unit: BatchUnit, *, lane: Lane, max_batch: int, in_flight: int = 1):
        self._journal = journal
        self._unit = unit
        self._lane = lane
        self._max_batch = max_batch
        # Batches submitted and not yet committed. Two for life-safety alarms: the next batch
        # then waits in the journal's queue, not here, and goes in the journal's very next
        # transaction.
        self._max_in_flight = in_flight
        self._in_flight = 0
        self._waiting: list[tuple[Item, Then]] = []
        self._again: list[tuple[Item, Then]] = []  # left by a unit for the next batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    async def add(self, item: Item) -> Result:
        """The item's result, once the unit that wrote it has committed."""
        waiter = asyncio.get_running_loop().create_future()
        self.submit(item, lambda result: _settle(waiter, result))
        return await waiter

    def submit(self, item: Item, then: Then) -> None:
        """``then(result)`` on the event loop once the unit that wrote the item has committed;
        ``result`` is an exception if it failed. Called on the event loop."""
        self._loop = asyncio.get_running_loop()
        self._waiting.append((item, then))
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            # After the callbacks already queued: what was read in this turn of the loop joins.
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        # What a unit left for later goes first, but fills at most half a batch: the items that
        # keep arriving are not crowded out.
        again, self._again = self._again[:self._max_batch // 2], self._again[self._max_batch // 2:]
        room = self._max_batch - len(again)
        batch, self._waiting = again + self._waiting[:room], self._waiting[room:]
        if not batch:
            self._in_flight -= 1
            return
        items = [item for item, _then in batch]
        self._submit(lambda conn: self._checked(conn, items), lambda done: self._committed(batch, done))

    def _checked(self, conn: Connection, items: list[Item]) -> list:
        results = self._unit(conn, items)
        if len(results) != len(items):
            raise RuntimeError(f"a batch unit gave {len(results)} results for {len(items)} items")
        return results

    def _submit(self, work, then: Callable[[Future], None]) -> None:
        loop = self._loop
        try:
            future = self._journal.submit(work, lane=self._lane)
        except JournalClosed as exc:  # the node is stopping
            failed: Future = Future()
            failed.set_exception(exc)
            then(failed)
            return
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(then, done))

    def _committed(self, batch: list[tuple[Item, Then]], done: Future) -> None:
        try:
            self.batches += 1
            error = done.exception()
            if error is None:
                for (item, then), result in zip(batch, done.result()):
                    self._settle(item, then, result)
            elif isinstance(error, (DatabaseUnavailable, JournalClosed)) or len(batch) == 1:
                for _item, then in batch:
                    _tell(then, error)
            else:
                # One of them may be to blame: each in a unit of its own.
                for item, then in batch:
                    self._submit(lambda conn, item=item: self._checked(conn, [item])[0],
                                 lambda one, item=item, then=then: self._settle(
                                     item, then, one.exception() or one.result()))
        finally:
            self._next()

    def _settle(self, item: Item, then: Then, result) -> None:
        if result is AGAIN:
            self._again.append((item, then))
            self._wake()
        else:
            _tell(then, result)

    def _wake(self) -> None:
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            self._loop.call_soon(self._flush)

    def _next(self) -> None:
        self._in_flight -= 1
        if self._waiting or self._again:
            self._wake()


def _tell(then: Then, result) -> None:
    # One sender's callback failing must not keep the rest of its batch from their answers.
    try:
        then(result)
    except Exception:
        log.exception("a batch's result could not be handed on")


def _settle(waiter: asyncio.Future, result) -> None:
    if waiter.done():
        return  # the sender went away meanwhile
    if isinstance(result, BaseException):
        waiter.set_exception(result)
    else:
        waiter.set_result(result)
