"""The planner's measured volumes on both databases: alarms received as the statistics count
them (a storm's group alarm and the centre's own system alarms are no alarm received)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert

from respons.economy import staffing_plans
from respons.store.tables import alarms
from tests.factories import seed_registry

JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


def test_a_storm_is_counted_by_its_members_and_system_alarms_not_at_all(engine):
    municipality = seed_registry(engine).municipality_ids[0]
    with engine.begin() as conn:
        conn.execute(insert(alarms), [dict(
            id=f"a-{source}-{n}", municipality_id=municipality, type="button_press", category="assistance",
            priority=2, source=source, occurred_at=JUNE, received_at=JUNE, state="queued", seq=1)
            for source, count in (("dc09", 3), ("storm", 1), ("system", 2)) for n in range(count)])
    with engine.connect() as conn:
        _, received = staffing_plans.measured_volumes(conn, year=2026)
    assert received == 3
