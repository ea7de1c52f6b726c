"""Each node's heartbeat row (``node_heartbeats``): the readiness probe's write.

The probe (web/health.py) proves that the node can commit by writing this row through the
journal; a read would pass on a read-only database or a full disk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from respons import __version__
from respons.store.db import is_postgres
from respons.store.tables import node_heartbeats


def beat(conn: Connection, *, node: str, now: datetime, started_at: datetime) -> None:
    """One UPSERT of this node's row, a real write and a real COMMIT."""
    dialect = postgresql if is_postgres(conn) else sqlite
    statement = dialect.insert(node_heartbeats).values(node=node, started_at=started_at, beat_at=now,
                                                       version=__version__, beats=1)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[node_heartbeats.c.node],
        # ``beats`` changes every time: SQLite writes nothing for an unchanged row, and a
        # probe that writes nothing proves nothing.
        set_={"beat_at": statement.excluded.beat_at, "started_at": statement.excluded.started_at,
              "version": statement.excluded.version, "beats": node_heartbeats.c.beats + 1}))
