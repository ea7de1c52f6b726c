"""The group index on ``alarms`` (migration 0028) holds storm members only, and the lookups of a
group's members still go through it on both databases."""

from __future__ import annotations

from sqlalchemy import func, select, text

from respons.store.alarms import _OPEN
from respons.store.tables import alarms


def _plan(conn, query) -> str:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table: ask whether it can
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    return "\n".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_the_group_index_is_partial_and_serves_the_member_lookups(engine):
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_alarms_group_state'")).scalar()
        else:
            definition = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_alarms_group_state'")).scalar()
        assert "group_id IS NOT NULL" in definition
        members = select(alarms.c.id).where(alarms.c.group_id == "leader", alarms.c.state.in_(_OPEN))
        counts = select(alarms.c.group_id, func.count()).where(alarms.c.group_id.in_(["a", "b"])).group_by(alarms.c.group_id)
        assert "ix_alarms_group_state" in _plan(conn, members)
        assert "ix_alarms_group_state" in _plan(conn, counts)
