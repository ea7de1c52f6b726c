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


def test_the_alarms_indexes_change_while_alarms_are_still_written(database_url):
    """A rolling upgrade (docs/operations.md): the nodes keep writing alarms while another
    migrates. The migrations that change `alarms`' indexes (0026–0028) do it CONCURRENTLY on
    PostgreSQL, so while one waits for an open transaction an alarm is still written; a plain
    DROP/CREATE INDEX would queue every alarm behind it."""
    import threading
    import time

    from sqlalchemy import insert, text

    from respons.store.db import make_engine
    from respons.store.migrate import current_revision, head_revision, upgrade
    from respons.store.tables import alarms, centres, municipalities
    from tests.factories import T0

    if not database_url.startswith("postgresql"):
        pytest.skip("one writer on SQLite: a migration and an alarm never write at the same time")
    upgrade(database_url, "0025")
    engine = make_engine(database_url)

    def alarm(conn, alarm_id):
        conn.execute(insert(alarms).values(
            id=alarm_id, municipality_id=municipality, type="button_press", category="assistance", priority=2,
            source="test", occurred_at=T0, received_at=T0, state="queued", seq=1))

    try:
        with engine.begin() as conn:
            centre = conn.execute(insert(centres).values(name="Testsenteret", created_at=T0)).inserted_primary_key[0]
            municipality = conn.execute(insert(municipalities).values(
                number="9000", name="Testkommune", population=1, role="host", centre_id=centre,
                created_at=T0)).inserted_primary_key[0]
        # A node's unit of work, still open when the migration starts.
        open_unit = engine.connect()
        open_unit.begin()
        alarm(open_unit, "in-flight")
        migrating = threading.Thread(target=upgrade, args=(database_url,))
        migrating.start()
        with engine.connect() as watch:  # until the migration waits for that unit
            for _ in range(200):
                waiting = watch.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar_one()
                if waiting:
                    break
                time.sleep(0.05)
        assert waiting, "the migration should be waiting for the open unit"
        with engine.begin() as conn:  # another node's alarm, meanwhile
            conn.execute(text("SET LOCAL lock_timeout = '3s'"))
            alarm(conn, "during-the-migration")
        open_unit.commit()
        open_unit.close()
        migrating.join(timeout=60)
        assert not migrating.is_alive()
        assert current_revision(database_url) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = 'ix_alarms_group_state' AND i.indisvalid")).scalar_one() == 1
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
    finally:
        engine.dispose()
