"""The migrations build exactly the schema that store/tables.py describes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from respons.store.tables import metadata

# These tests are about the migrations, so they run them: no copy of the migrated template.
pytestmark = pytest.mark.migrations


def test_migrated_schema_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_0007_fills_in_the_first_arrival_from_existing_timelines(database_url):
    """Alarms handled before 0007 get their arrival time from their timelines: the first
    'arrived' action, not a later one, and nothing for alarms without one."""
    from datetime import timedelta

    from sqlalchemy import insert, select

    from respons.store.db import make_engine
    from respons.store.migrate import upgrade
    from respons.store.tables import alarm_events, alarms
    from tests.factories import T0, seed_registry

    upgrade(database_url, "0006")
    engine = make_engine(database_url)
    try:
        registry = seed_registry(engine)
        municipality = registry.municipality_ids[0]
        with engine.begin() as conn:
            for alarm_id in ("a-arrived", "a-none"):
                conn.execute(insert(alarms).values(
                    id=alarm_id, municipality_id=municipality, type="button_press", category="assistance", priority=2,
                    source="test", occurred_at=T0, received_at=T0, state="closed", seq=4))
            conn.execute(insert(alarm_events), [
                dict(alarm_id="a-arrived", seq=1, kind="received", at=T0, actor="device", data={}),
                dict(alarm_id="a-arrived", seq=2, kind="action", at=T0 + timedelta(minutes=5), actor="user:1",
                     data={"action": "en_route"}),
                dict(alarm_id="a-arrived", seq=3, kind="action", at=T0 + timedelta(minutes=12), actor="user:1",
                     data={"action": "arrived"}),
                dict(alarm_id="a-arrived", seq=4, kind="action", at=T0 + timedelta(minutes=40), actor="user:1",
                     data={"action": "arrived"}),
                dict(alarm_id="a-none", seq=1, kind="received", at=T0, actor="device", data={}),
                dict(alarm_id="a-none", seq=2, kind="action", at=T0 + timedelta(minutes=1), actor="user:1",
                     data={"action": "call_recipient", "result": "answered"}),
            ])
        engine.dispose()
        upgrade(database_url)
        with engine.connect() as conn:
            arrived = dict(conn.execute(select(alarms.c.id, alarms.c.arrived_at)).all())
    finally:
        engine.dispose()
    assert arrived == {"a-arrived": T0 + timedelta(minutes=12), "a-none": None}
