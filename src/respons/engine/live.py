"""The live bus: committed changes fanned out to the screens that watch them.

The journal calls ``publish`` from its writer thread after each COMMIT; subscribers are
asyncio consumers (the console's and the responder app's server-sent events, issue 4/5).
Each subscriber has a bounded queue: a screen that stops reading loses its oldest updates
and is told so (``overflowed``), and must reload its view, instead of slowing the writer.

One node only: with several nodes on one PostgreSQL, LISTEN/NOTIFY will carry the same
changes between nodes (DESIGN.md); ``publish`` is the single place to add that.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

Change = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    wants: Callable[[Change], bool]
    queue: asyncio.Queue
    loop: asyncio.AbstractEventLoop
    overflowed: bool = field(default=False)

    async def next(self, timeout: float | None = None) -> Change | None:
        """The next change, or None when ``timeout`` passes first."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def _offer(self, change: Change) -> None:  # runs on the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.overflowed = True
        self.queue.put_nowait(change)


class LiveBus:
    def __init__(self, queue_size: int = 1000):
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, wants: Callable[[Change], bool] = lambda change: True) -> Subscription:
        """Call from the event loop that will read the subscription."""
        subscription = Subscription(wants, asyncio.Queue(self._queue_size), asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self, changes: list[Change]) -> None:
        """Thread-safe; called by the journal after a commit."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            for change in changes:
                if subscription.wants(change):
                    try:
                        subscription.loop.call_soon_threadsafe(subscription._offer, change)
                    except RuntimeError:  # its loop has closed: the screen is gone
                        self.unsubscribe(subscription)
                        break

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)
