"""The migrations build exactly the schema that store/tables.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from respons.store.tables import metadata


def test_migrated_schema_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
