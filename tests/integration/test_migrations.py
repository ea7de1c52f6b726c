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


def _at_0025_with_a_municipality(database_url):
    from sqlalchemy import insert

    from respons.store.db import make_engine
    from respons.store.migrate import upgrade
    from respons.store.tables import centres, municipalities
    from tests.factories import T0

    upgrade(database_url, "0025")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        centre = conn.execute(insert(centres).values(name="Testsenteret", created_at=T0)).inserted_primary_key[0]
        municipality = conn.execute(insert(municipalities).values(
            number="9000", name="Testkommune", population=1, role="host", centre_id=centre,
            created_at=T0)).inserted_primary_key[0]
    return engine, municipality


def _write_alarm(conn, alarm_id, municipality):
    from sqlalchemy import insert

    from respons.store.tables import alarms
    from tests.factories import T0

    conn.execute(insert(alarms).values(
        id=alarm_id, municipality_id=municipality, type="button_press", category="assistance", priority=2,
        source="test", occurred_at=T0, received_at=T0, state="queued", seq=1))


def _at_head_with_valid_indexes(engine, database_url):
    from sqlalchemy import text

    from respons.store.migrate import current_revision, head_revision

    assert current_revision(database_url) == head_revision()
    with engine.connect() as conn:
        invalid = conn.execute(text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'alarms' AND NOT i.indisvalid")).scalars().all()
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert invalid == [] and differences == []


def test_the_alarms_indexes_change_while_alarms_are_still_written(database_url):
    """A rolling upgrade (docs/operations.md): the nodes keep writing alarms while another
    migrates. The migrations that change `alarms`' indexes (0026–0028) do it CONCURRENTLY on
    PostgreSQL, so while one waits for an open transaction an alarm is still written; a plain
    DROP/CREATE INDEX would queue every alarm behind it."""
    import threading

    from sqlalchemy import text

    from respons.store.migrate import upgrade
    from tests.databases import wait_for_lock_waiter

    if not database_url.startswith("postgresql"):
        pytest.skip("one writer on SQLite: a migration and an alarm never write at the same time")
    engine, municipality = _at_0025_with_a_municipality(database_url)
    migrating = threading.Thread(target=upgrade, args=(database_url,), daemon=True)
    try:
        with engine.connect() as open_unit:  # a node's unit of work, still open when the migration starts
            open_unit.begin()
            _write_alarm(open_unit, "in-flight", municipality)
            try:
                migrating.start()
                assert wait_for_lock_waiter(engine), "the migration should be waiting for the open unit"
                with engine.begin() as conn:  # another node's alarm, meanwhile
                    conn.execute(text("SET LOCAL lock_timeout = '3s'"))
                    _write_alarm(conn, "during-the-migration", municipality)
            finally:
                open_unit.commit()
        migrating.join(timeout=60)
        assert not migrating.is_alive()
        _at_head_with_valid_indexes(engine, database_url)
    finally:
        engine.dispose()


def test_a_migration_that_failed_half_way_is_simply_run_again(database_url):
    """On PostgreSQL a migration with a concurrent index build commits in steps: one that
    failed half-way (0026 after adding its column; 0028's new index left invalid by a failed
    build) is finished by running `respons migrate` again."""
    from sqlalchemy import text

    from respons.store.migrate import upgrade

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs each migration in one transaction: a failure leaves nothing behind")
    engine, municipality = _at_0025_with_a_municipality(database_url)
    try:
        with engine.begin() as conn:
            for n in range(2):
                _write_alarm(conn, f"a-{n}", municipality)
            # What a 0026 that failed at its index build has committed.
            conn.execute(text("ALTER TABLE devices ADD COLUMN network VARCHAR(100)"))
        # What a failed concurrent build leaves: the index, marked invalid (here: not unique).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            with pytest.raises(Exception, match="could not create unique index"):
                conn.execute(text("CREATE UNIQUE INDEX CONCURRENTLY ix_alarms_group_state_new ON alarms (municipality_id)"))
        upgrade(database_url)
        _at_head_with_valid_indexes(engine, database_url)
    finally:
        engine.dispose()
