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

from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Connection

from respons.intake import devices as device_intake
from respons.intake.batches import AGAIN, Batcher
from respons.store.journal import Journal, Lane

# Heartbeats per unit: a unit this long (a few milliseconds) is the longest an alarm arriving
# meanwhile waits behind it.
MAX_BATCH = 300
# Devices coming back from silence per unit: each clears its lost-contact alarm (an event, a
# patient-record document), so a network coming back after an outage is taken in slices.
RETURNS_PER_UNIT = 50


class Heartbeats:
    """Signs of life of one protocol's devices, committed in batches (intake/batches.py)."""

    def __init__(self, journal: Journal, protocol: str, *, max_batch: int = MAX_BATCH):
        self._protocol = protocol
        self._batcher: Batcher[tuple[str, datetime], bool] = Batcher(journal, self._unit, lane=Lane.TECHNICAL,
                                                                      max_batch=max_batch)

    @property
    def batches(self) -> int:
        return self._batcher.batches

    async def heard(self, identity: str, now: datetime) -> bool:
        """Record a sign of life; True once committed for a known device, False for an
        identity that is no active device of this protocol. Raises what the journal raised
        (``JournalUnavailable``: nothing was written, say nothing)."""
        return await self._batcher.add((identity, now))

    def submit(self, identity: str, now: datetime, then: Callable[[bool | BaseException], None]) -> None:
        """``heard`` for a caller with a callback: ``then`` gets its result (or the exception)
        on the event loop once committed."""
        self._batcher.submit((identity, now), then)

    def _unit(self, conn: Connection, items: list[tuple[str, datetime]]) -> list[bool | object]:
        heard_at: dict[str, datetime] = {}
        for identity, now in items:
            if identity not in heard_at or now > heard_at[identity]:
                heard_at[identity] = now
        known, later = device_intake.heard_many(conn, self._protocol, heard_at, returns=RETURNS_PER_UNIT)
        return [AGAIN if identity in later else identity in known for identity, _now in items]
