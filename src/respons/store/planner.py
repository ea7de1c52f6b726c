"""Keeping PostgreSQL's planner informed after bulk changes.

After a bulk registration (an import of a municipality's devices, a restore, the demo's
seed) PostgreSQL knows nothing of the new rows until autovacuum's next ANALYZE, up to a
minute or more later, and meanwhile plans the supervision sweep as a sequential scan of a
million rows every round (measured: 79 ms instead of 1 ms, bench/supervision.py). So the
node asks the statistics collector, at start and then every ``CHECK_EVERY``, whether a hot
table has changed by more than ``STALE_FRACTION`` since it was last analysed, and analyses
it then — the autovacuum rule, without waiting for autovacuum.

SQLite's planner needs no statistics for these queries (it prefers an index it can use), so
this is PostgreSQL's only. It runs on its own connection, never in the journal: ANALYZE of a
large table takes a second, and the journal's writer must not wait for it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine, text

from respons.store.db import is_postgres

log = logging.getLogger(__name__)

# The tables whose plans matter on the hot path and that grow in bulk.
HOT_TABLES = ("devices", "alarms", "timers")
STALE_FRACTION = 0.1
STALE_MINIMUM = 1000  # rows changed, below which the old statistics are good enough
CHECK_EVERY = timedelta(seconds=30)

_STALE = text("""
    SELECT relname FROM pg_stat_user_tables
    WHERE relname = ANY(:tables)
      AND n_mod_since_analyze > :minimum + :fraction * GREATEST(n_live_tup, 0)
""")


def stale_tables(engine: Engine) -> list[str]:
    if not is_postgres(engine):
        return []
    with engine.connect() as conn:
        return list(conn.execute(_STALE, {"tables": list(HOT_TABLES), "minimum": STALE_MINIMUM,
                                          "fraction": STALE_FRACTION}).scalars())


_warned: set[str] = set()


def keep_informed(engine: Engine) -> list[str]:
    """ANALYZE the hot tables that changed in bulk since their statistics; returns their names."""
    stale = stale_tables(engine)
    for table in stale:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ANALYZE "{table}"'))  # a name from HOT_TABLES, never from input
        log.info("planner: analysed %s after a bulk change", table)
    still = set(stale) & set(stale_tables(engine)) - _warned
    for table in still:
        # ANALYZE by a role that does not own the table only warns (and analyses nothing).
        log.warning("planner: %s could not be analysed (is the node's database role its owner?)", table)
        _warned.add(table)
    return stale
