"""The live bus: committed changes fanned out to the screens that watch them.

The journal calls ``publish`` from its writer thread after each COMMIT; subscribers are
asyncio consumers (the console's and the responder app's server-sent events, issue 4/5).
Each subscriber has a bounded queue: a screen that stops reading loses its oldest updates
and is told so (``overflowed``), and must reload its view, instead of slowing the writer.

With several nodes on one PostgreSQL, ``store/live_relay.py`` carries the changes every
other node committed into ``publish`` (LISTEN/NOTIFY), and says through ``live_source``
whether it still hears them: a node that cannot hear the others must not let its screens
claim to be live (``connected``). When it hears them again it calls ``resync``: every screen reloads, since changes
may have been missed meanwhile. ``close`` ends every stream at once (SIGTERM): an open
stream must not hold a stopping node for minutes.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

Change = dict[str, Any]

# Put on a subscriber's queue to wake it: the screen must reload, or the stream must end.
_WAKE: Change = {}


@dataclass(eq=False)
class Subscription:
    wants: Callable[[Change], bool]
    queue: asyncio.Queue
    loop: asyncio.AbstractEventLoop
    overflowed: bool = field(default=False)  # changes were lost: the screen must reload
    closed: bool = field(default=False)  # the node is stopping: end the stream

    async def next(self, timeout: float | None = None) -> Change | None:
        """The next change, or None when ``timeout`` passes first or the stream was woken
        (then check ``overflowed`` and ``closed``)."""
        try:
            change = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        return None if change is _WAKE else change

    def _offer(self, change: Change) -> None:  # runs on the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.overflowed = True
        self.queue.put_nowait(change)

    def _wake(self, *, reload: bool = False, close: bool = False) -> None:  # on the subscriber's loop
        self.overflowed = self.overflowed or reload
        self.closed = self.closed or close
        if self.queue.full():
            self.queue.get_nowait()
            self.overflowed = True
        self.queue.put_nowait(_WAKE)


class Observer(Protocol):
    def changes(self, changes: list[Change]) -> None: ...

    def resync(self) -> None: ...


class LiveBus:
    def __init__(self, queue_size: int = 1000):
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        # Re-entrant: SIGTERM's handler (``close``) runs on the event loop's thread, possibly
        # while that thread is inside ``subscribe`` or ``unsubscribe`` holding the lock.
        self._lock = threading.RLock()
        self._closed = False
        # Whether this node hears every node's changes: always on one node (SQLite); with
        # PostgreSQL the relay says (its LISTEN connection answered lately).
        self.live_source: Callable[[], bool] | None = None
        # In-process observers (the agreement-rules cache), told in the publishing thread.
        self._observers: list[Observer] = []

    def observe(self, observer: "Observer") -> None:
        """Tell ``observer`` every published change (``changes``) and every resync (``resync``),
        this node's and the other nodes'. It must be quick and must not block."""
        self._observers.append(observer)

    @property
    def connected(self) -> bool:
        """True while screens on this node may say they are live."""
        if self._closed:
            return False
        return True if self.live_source is None else self.live_source()

    def subscribe(self, wants: Callable[[Change], bool] = lambda change: True) -> Subscription:
        """Call from the event loop that will read the subscription."""
        subscription = Subscription(wants, asyncio.Queue(self._queue_size), asyncio.get_running_loop())
        with self._lock:  # with close(): a stream opened while the node stops still ends
            subscription.closed = self._closed
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self, changes: list[Change]) -> None:
        """Thread-safe; called by the journal after a commit, and by the relay."""
        for observer in self._observers:
            observer.changes(changes)
        for subscription in self._snapshot():
            for change in changes:
                if subscription.wants(change):
                    if not self._call(subscription, subscription._offer, change):
                        break

    def resync(self) -> None:
        """Tell every screen to reload: changes may have been missed (thread-safe)."""
        for observer in self._observers:
            observer.resync()
        for subscription in self._snapshot():
            self._call(subscription, lambda s=subscription: s._wake(reload=True))

    def close(self) -> None:
        """End every stream now and refuse to keep new ones open (thread-safe)."""
        with self._lock:
            self._closed = True
        for subscription in self._snapshot():
            self._call(subscription, lambda s=subscription: s._wake(close=True))

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _snapshot(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def _call(self, subscription: Subscription, fn: Callable, *args) -> bool:
        try:
            subscription.loop.call_soon_threadsafe(fn, *args)
            return True
        except RuntimeError:  # its loop has closed: the screen is gone
            self.unsubscribe(subscription)
            return False
