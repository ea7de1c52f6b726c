"""Fixtures shared by the whole suite.

Integration tests take ``database_url`` and run once on SQLite and once on PostgreSQL.
Each test gets a fresh database: a file under pytest's tmp_path, or a new PostgreSQL
database that is dropped afterwards.

PostgreSQL is found at RESPONS_TEST_POSTGRES_URL (default: the local server with trust
auth). When none answers, its tests skip with a message, except when
RESPONS_REQUIRE_POSTGRES=1 (set by .ci/run): then they fail, so CI cannot go green
without having tested the production database.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "RESPONS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("RESPONS_REQUIRE_POSTGRES") == "1"

_postgres_error: str | None = None
_postgres_checked = False


def _postgres_unavailable() -> str | None:
    global _postgres_checked, _postgres_error
    if not _postgres_checked:
        _postgres_checked = True
        try:
            engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _postgres_error = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}: {exc}"
    return _postgres_error


def _fresh_postgres_database():
    problem = _postgres_unavailable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem + " (RESPONS_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    name = f"respons_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database (no schema yet), once per database kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'respons.db'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def migrated_url(database_url):
    from respons.store.migrate import upgrade

    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url):
    from respons.store.db import make_engine

    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: they are the slowest, and Playwright's sync API holds an asyncio
    loop in the main thread while it runs (see tests/browser/conftest.py)."""
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath).replace("\\", "/"))


@pytest.fixture
def postgres_url():
    """A migrated PostgreSQL database only: for what only PostgreSQL does (several nodes)."""
    from respons.store.migrate import upgrade

    for url in _fresh_postgres_database():
        upgrade(url)
        yield url
