"""The journal writer: group commit for every write that answers somebody.

Senders hand the journal a unit of work (a function of a Connection). One thread collects
the units that arrive within a short window, runs them in one transaction, commits once,
and only then resolves each sender's future. So a 202 or an ACK is never sent before its
event is on disk (DESIGN.md invariant 1), and concurrent senders share the cost of one
fsync instead of paying one each.

Each unit runs in its own SAVEPOINT: a unit that raises (an illegal transition, a unique
violation) is rolled back alone and its sender gets the exception, while the rest of the
batch commits. If the commit itself fails, every sender in the batch gets
``JournalUnavailable`` and no ACK.

On SQLite this thread is also the only writer of the process, which removes
"database is locked" errors between our own writers.

Units wait in **lanes** (``Lane``): life-safety alarms first, then everything else, then
technical traffic (heartbeats, AC loss, lost contact). A batch is filled in lane order, so
under a power-failure storm a fall alarm is committed in the next batch, never behind
thousands of "mains lost" frames (issue 6, priority under load). Within a lane, first come
first served.

A unit must have no effect outside its connection (anything for the outside world goes to an
outbox table and leaves after the commit): a batch is first written without a savepoint per
unit and, if one unit raises, rolled back and written again with each unit isolated, so a
unit can run twice.

Units announce what they changed with ``announce(conn, change)``. The journal hands the
changes of the units that committed to ``on_commit`` *after* the COMMIT, so a live view can
never show an alarm that is not durable, nor one whose unit was rolled back; and to
``before_commit`` inside the transaction, for the other nodes (store/live_relay.py).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import itertools
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import AlarmType, Category
from respons.store.db import WRITE

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[Connection], T]



class Lane(IntEnum):
    """Which units the writer takes first; lower goes first."""

    LIFE = 0  # an alarm where somebody may need help now: assistance, fall, fire, sensors …
    DEFAULT = 1  # operators' actions, timers, log-ins
    TECHNICAL = 2  # heartbeats, battery, power, lost contact: never ahead of a person

    @classmethod
    def for_alarm(cls, alarm_type: AlarmType) -> "Lane":
        return cls.TECHNICAL if alarm_type.category is Category.TECHNICAL else cls.LIFE




class JournalUnavailable(RuntimeError):
    """The batch could not be committed; nothing in it was acknowledged."""


class JournalClosed(RuntimeError):
    pass


def _stop(conn: Connection) -> None:
    """The marker close() queues; never run."""


@dataclass(order=True)
class _Item:
    lane: int
    arrival: int
    work: Work = field(compare=False)
    future: Future = field(default_factory=Future, compare=False)


@dataclass
class JournalStats:
    batches: int = 0
    units: int = 0
    largest_batch: int = 0
    rewritten_batches: int = 0  # written again with each unit isolated because one failed


_CHANGES = "respons_changes"


def announce(conn: Connection, change: dict[str, Any]) -> None:
    """Record a change for the live feed; published only if this unit commits."""
    conn.info.setdefault(_CHANGES, []).append(change)


class Journal:
    def __init__(
        self,
        engine: Engine,
        *,
        window_ms: float = 2.0,
        max_batch: int = 500,
        max_technical: int | None = None,
        on_commit: Callable[[list[dict[str, Any]]], None] | None = None,
        before_commit: Callable[[Connection, list[dict[str, Any]]], None] | None = None,
    ):
        self._engine = engine
        self._on_commit = on_commit
        self._before_commit = before_commit
        self._window = window_ms / 1000.0
        self._max_batch = max_batch
        self._max_technical = max_technical or max(1, max_batch // 5)
        self._queue: queue.PriorityQueue[Any] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._thread = threading.Thread(target=self._run, name="respons-journal", daemon=True)
        self._closed = False
        self.stats = JournalStats()

    @property
    def engine(self) -> Engine:
        return self._engine

    def start(self) -> "Journal":
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop."""
        if self._closed:
            return
        self._closed = True
        # Sorts after every unit in every lane: what was queued before close() is committed.
        self._queue.put(_Item(len(Lane), 0, _stop))
        self._thread.join(timeout)

    def submit(self, work: Work[T], *, lane: Lane = Lane.DEFAULT) -> "Future[T]":
        if self._closed:
            raise JournalClosed("the journal is closed")
        item = _Item(int(lane), next(self._arrivals), work)
        self._queue.put(item)
        return item.future

    async def run(self, work: Work[T], *, lane: Lane = Lane.DEFAULT) -> T:
        # The unit is written even if the awaiting request is cancelled (the client hung
        # up): it may be an alarm, and the sender will retry with its idempotency key.
        return await asyncio.wrap_future(self.submit(work, lane=lane))

    def run_sync(self, work: Work[T], timeout: float | None = 30.0, *, lane: Lane = Lane.DEFAULT) -> T:
        return self.submit(work, lane=lane).result(timeout)

    # --- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        previous_batch = 0
        while not stopping:
            first = self._queue.get()
            if first.work is _stop:
                break
            batch = [first]
            # Wait for company only under load: a lone alarm at 03:00 is committed at once
            # (the window would be pure delay), while concurrent senders, recognised by the
            # previous batch having several units, share one commit. Items that arrive
            # during a commit are batched anyway.
            window = self._window if previous_batch > 1 else 0.0
            deadline = time.monotonic() + window
            technical = int(first.lane == Lane.TECHNICAL)
            while len(batch) < self._max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item.work is _stop:
                    stopping = True
                    break
                if item.lane == Lane.TECHNICAL:
                    if technical >= self._max_technical:
                        # Keep batches of technical traffic short: an alarm arriving now waits
                        # only for this batch, so its length is the alarm's worst wait.
                        self._queue.put(item)
                        break
                    technical += 1
                batch.append(item)
            self._commit(batch)
            previous_batch = len(batch)
        # Anything submitted after the stop marker still gets written.
        leftovers = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item.work is not _stop:
                leftovers.append(item)
        if leftovers:
            self._commit(leftovers)

    def _commit(self, batch: list[_Item]) -> None:
        # First without a savepoint per unit (they cost a sixth of an alarm's CPU); only if a
        # unit fails is the batch rolled back and written again with each unit isolated. A
        # unit is a function of the connection, so running it a second time is safe.
        try:
            try:
                outcomes, changes = self._write(batch, isolated=len(batch) == 1)
            except _UnitFailed:
                self.stats.rewritten_batches += 1
                outcomes, changes = self._write(batch, isolated=True)
        except Exception as exc:
            log.exception("journal commit of %d units failed; none is acknowledged", len(batch))
            failure = JournalUnavailable(f"the database did not commit: {exc.__class__.__name__}: {exc}")
            for item in batch:
                _settle(item.future, None, failure)
            return
        self.stats.batches += 1
        self.stats.units += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for item, result, error in outcomes:
            _settle(item.future, result, error)
        if changes and self._on_commit is not None:
            try:
                self._on_commit(changes)
            except Exception:  # a live view must never break the write path
                log.exception("publishing %d committed changes failed", len(changes))

    def _write(self, batch: list[_Item], *, isolated: bool) -> tuple[list[tuple[_Item, Any, BaseException | None]], list]:
        """One transaction for the batch. ``isolated``: each unit in its own SAVEPOINT, so a
        unit that raises is rolled back alone (a batch of one needs none: the transaction is
        the unit). Not isolated: the first unit that raises aborts the batch (``_UnitFailed``)."""
        outcomes: list[tuple[_Item, Any, BaseException | None]] = []
        changes: list[dict[str, Any]] = []
        single = len(batch) == 1
        with self._engine.connect().execution_options(**WRITE) as conn:
            conn.info[_CHANGES] = changes
            try:
                with conn.begin() as transaction:
                    for item in batch:
                        announced = len(changes)
                        try:
                            if isolated and not single:
                                with conn.begin_nested():
                                    result = item.work(conn)
                            else:
                                result = item.work(conn)
                            outcomes.append((item, result, None))
                        except Exception as exc:  # the unit's own failure
                            if not isolated:
                                raise _UnitFailed() from exc
                            del changes[announced:]  # rolled back alone, and so are its announcements
                            outcomes.append((item, None, exc))
                            if single:
                                transaction.rollback()
                    if changes and self._before_commit is not None:
                        # In the committing transaction (other nodes hear of it only if it
                        # commits), after the failed units' announcements were dropped.
                        self._before_commit(conn, changes)
            finally:
                conn.info.pop(_CHANGES, None)  # the pooled connection outlives the batch
        return outcomes, changes


class _UnitFailed(Exception):
    """A unit raised in a batch written without savepoints: write it again, isolated."""


def _settle(future: Future, result: Any, error: BaseException | None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass  # the sender cancelled; the work is committed regardless
