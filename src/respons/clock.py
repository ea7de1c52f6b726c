"""The only place outside tests that reads the wall clock.

The domain never calls this; application services receive a ``Clock`` and pass ``now``
into the domain (DESIGN.md invariant 3).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

OSLO = ZoneInfo("Europe/Oslo")


def system_clock() -> datetime:
    return datetime.now(timezone.utc)
