"""The timer backlog as monitoring sees it: how many timers are due and how late the oldest is.

(The timers themselves are claimed and fired by ``engine/timers.py``.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from respons.store.tables import timers


def backlog(conn: Connection, *, now: datetime) -> tuple[int, datetime | None]:
    """(timers past due and not yet fired, the earliest due time among them or None)."""
    count, first_due = conn.execute(
        select(func.count(), func.min(timers.c.due_at))
        .where(timers.c.state.in_(("pending", "claimed")), timers.c.due_at <= now)
    ).one()
    return count, first_due
