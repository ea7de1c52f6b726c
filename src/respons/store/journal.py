"""The journal writer: group commit for every write that answers somebody.

Senders hand the journal a unit of work (a function of a Connection). One thread collects
the units that arrive within a short window, runs them in one transaction, commits once,
and only then resolves each sender's future. So a 202 or an ACK is never sent before its
event is on disk (DESIGN.md invariant 1), and concurrent senders share the cost of one
fsync instead of paying one each.

A unit that raises (an illegal transition, a unique violation) is rolled back alone and its
sender gets the exception, while the rest of the batch commits: the batch is written without
savepoints first and, only when a unit raises, written again with each unit in its own
SAVEPOINT (see "A unit must have no effect outside its connection" below). If the commit itself fails, every sender in the batch gets
``JournalUnavailable`` and no ACK. So does every sender of a batch in which a statement
failed because of the *database* (unreachable, read-only, disk full, busy: see
``store.db.unavailability``): that is no unit's fault, the whole batch is given up, and the
senders are told to retry (503, no ACK) rather than handed the raw driver error.

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

Units announce what they changed with ``announce(conn, change)``, and may leave a function
to run after their COMMIT with ``after_commit(conn, fn)`` (metrics count only what is
durable, once, even if the unit ran twice). The journal hands the
changes of the units that committed to ``on_commit`` *after* the COMMIT, so a live view can
never show an alarm that is not durable, nor one whose unit was rolled back; and to
``before_commit`` inside the transaction, for the other nodes (store/live_relay.py).

**Reactions.** Follow-on work that must commit with its cause (a late answer proposed as a
deviation) is a *reaction*: a function ``(conn, change)`` given to the journal, which offers
it every change a unit announced, inside that unit, after the unit's own work, so a reaction
commits or rolls back with the change it reacts to; changes a reaction announces are
offered too. The alarm core thereby knows nothing of the features that follow it up; the
runtime (respons/runtime.py) names the reactions. Outside the journal (seeding, tools) no
reaction runs.
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
from respons.observability import metrics
from respons.store.db import BUSY, WRITE, DatabaseUnavailable, lost_a_conflict, unavailability

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
        return cls.TECHNICAL if alarm_type.category in (Category.TECHNICAL, Category.SYSTEM) else cls.LIFE




class JournalUnavailable(DatabaseUnavailable):
    """The batch could not be committed; nothing in it was acknowledged.

    ``reason`` says why (``store.db``: ``database_unreachable``, ``read_only``, ``disk_full``,
    …, or ``commit_failed`` when COMMIT refused the batch for another reason). The message
    names the reason only: driver errors carry SQL and host names, which are for the log,
    not for the sender."""

    def __init__(self, reason: str):
        super().__init__(reason, f"the database did not commit ({reason})")


COMMIT_FAILED = "commit_failed"
CONFLICT_RETRIES = 2


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
    conflict_retries: int = 0  # written again after losing a deadlock to another node


Reaction = Callable[[Connection, dict[str, Any]], None]

_CHANGES = "respons_changes"
_AFTER = "respons_after_commit"


def announce(conn: Connection, change: dict[str, Any]) -> None:
    """Record a change for the live feed; published only if this unit commits. Outside the
    journal (seeding, tools) nothing is recorded: no screen waits for that commit, and the
    list would outlive the connection's checkout in the pool."""
    pending = conn.info.get(_CHANGES)
    if pending is not None:
        pending.append(change)


def after_commit(conn: Connection, fn: Callable[[], None]) -> None:
    """Run ``fn`` after this unit's COMMIT (never if it is rolled back). Outside the journal
    (seeding, tools) nothing runs: there is no commit of ours to wait for."""
    pending = conn.info.get(_AFTER)
    if pending is not None:
        pending.append(fn)


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
        reactions: tuple[Reaction, ...] = (),
    ):
        self._engine = engine
        self._reactions = tuple(reactions)
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
        # Told after every batch: None when it committed, else the reason (web/health.py).
        self.on_outcome: Callable[[str | None], None] | None = None
        self._failing_since: float | None = None  # monotonic; for one log line per outage
        self._failed_batches = 0

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def queued(self) -> int:
        """Units waiting for the writer (approximate; for metrics)."""
        return self._queue.qsize()

    @property
    def alive(self) -> bool:
        """The writer thread runs (or has not been started yet); False after a crash or close."""
        return self._thread.is_alive() or (self._thread.ident is None and not self._closed)

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
        started = time.perf_counter()
        try:
            outcomes, changes, afters = self._write_retrying(batch)
        except Exception as exc:
            metrics.JOURNAL_COMMIT_SECONDS.observe(time.perf_counter() - started)
            reason = unavailability(exc)
            metrics.JOURNAL_FAILED_BATCHES.labels(reason or COMMIT_FAILED).inc()
            self._failed(len(batch), reason, exc)
            failure = JournalUnavailable(reason or COMMIT_FAILED)
            for item in batch:
                _settle(item.future, None, failure)
            self._tell(reason or COMMIT_FAILED)
            return
        if self._failing_since is not None:
            log.warning("journal: the database commits again, after %d failed batches in %.1f s",
                        self._failed_batches, time.monotonic() - self._failing_since)
            self._failing_since, self._failed_batches = None, 0
            # Connections that readers opened during the outage are still in the pool: a
            # SQLite one opened while the file was read-only stays read-only, and the next
            # batch could draw it. Fresh ones from here on.
            self.engine.dispose()
        metrics.JOURNAL_COMMIT_SECONDS.observe(time.perf_counter() - started)
        metrics.JOURNAL_BATCH_UNITS.observe(len(batch))
        self._tell(None)
        for fn in afters:
            try:
                fn()
            except Exception:  # counting must never break the write path
                log.exception("an after-commit function failed")
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

    def _write_retrying(self, batch: list[_Item]):
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                try:
                    return self._write(batch, isolated=len(batch) == 1)
                except _UnitFailed:
                    self.stats.rewritten_batches += 1
                    return self._write(batch, isolated=True)
            except Exception as exc:
                # PostgreSQL chose this batch as a deadlock's victim (two nodes' batches each
                # holding rows the other wants): nothing of it was written, and written again
                # it goes through, so nobody is told "try again later" for it.
                if attempt == CONFLICT_RETRIES or not lost_a_conflict(exc):
                    raise
                self.stats.conflict_retries += 1
        raise AssertionError("unreachable")

    def _failed(self, units: int, reason: str | None, exc: Exception) -> None:
        if reason is None:
            # Not an outage: COMMIT refused the batch (a deferred constraint) or a bug. Worth
            # a traceback each time.
            log.exception("journal commit of %d units failed; none is acknowledged", units)
            return
        # An outage fails every batch until it ends (timers, supervision, probes, alarms at
        # 20/s): one line when it starts and one when it ends, not a traceback per batch.
        self._failed_batches += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.error("journal: the database does not commit (%s: %s: %s); nothing is acknowledged until it does",
                      reason, exc.__class__.__name__, _first_line(exc))

    def _tell(self, outcome: str | None) -> None:
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:  # health reporting must never break the write path
                log.exception("reporting the journal's outcome failed")

    def _write(self, batch: list[_Item], *, isolated: bool) -> tuple[list[tuple[_Item, Any, BaseException | None]], list, list]:
        """One transaction for the batch. ``isolated``: each unit in its own SAVEPOINT, so a
        unit that raises is rolled back alone (a batch of one needs none: the transaction is
        the unit). Not isolated: the first unit that raises aborts the batch (``_UnitFailed``)."""
        outcomes: list[tuple[_Item, Any, BaseException | None]] = []
        changes: list[dict[str, Any]] = []
        afters: list[Callable[[], None]] = []
        single = len(batch) == 1
        with self._engine.connect().execution_options(**WRITE) as conn:
            conn.info[_CHANGES] = changes
            conn.info[_AFTER] = afters
            failure: BaseException | None = None
            try:
                with conn.begin() as transaction:
                    for item in batch:
                        announced, left = len(changes), len(afters)
                        try:
                            if isolated and not single:
                                with conn.begin_nested():
                                    result = item.work(conn)
                                    self._react(conn, changes, announced)
                            else:
                                result = item.work(conn)
                                self._react(conn, changes, announced)
                            outcomes.append((item, result, None))
                        except Exception as exc:
                            if unavailability(exc) is not None:
                                # The database failed, not the unit: the batch cannot commit
                                # and no unit is to blame (the senders get JournalUnavailable).
                                raise
                            # The unit's own failure.
                            if not isolated:
                                raise _UnitFailed() from exc
                            del changes[announced:]  # rolled back alone, and so are its announcements
                            del afters[left:]
                            outcomes.append((item, None, exc))
                            if single:
                                transaction.rollback()
                    if changes and self._before_commit is not None:
                        # In the committing transaction (other nodes hear of it only if it
                        # commits), after the failed units' announcements were dropped.
                        self._before_commit(conn, changes)
            except BaseException as exc:
                failure = exc
                raise
            finally:
                conn.info.pop(_CHANGES, None)  # the pooled connection outlives the batch
                conn.info.pop(_AFTER, None)
                if failure is not None and unavailability(failure) not in (None, BUSY):
                    # Not back into the pool: a SQLite connection opened while the file was
                    # read-only stays read-only after the file is fixed, and a PostgreSQL one
                    # may be half-dead. The next batch opens a fresh one: recovery without
                    # a restart.
                    conn.invalidate()
        return outcomes, changes, afters


    def _react(self, conn: Connection, changes: list[dict[str, Any]], start: int) -> None:
        """Offer the unit's changes (from ``start``) to every reaction, in order, including
        the changes the reactions announce themselves."""
        if not self._reactions:
            return
        index = start
        while index < len(changes):
            change = changes[index]
            index += 1
            for reaction in self._reactions:
                reaction(conn, change)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]


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
