"""Test databases: PostgreSQL's whereabouts, fresh databases, and the migrated templates.

Running every Alembic migration for each test costs about half a second on SQLite and more
on PostgreSQL, a thousand times over. So each pytest process (each xdist worker) migrates
once into a template and every test that wants a migrated database gets a copy of it:
PostgreSQL copies it server-side (``CREATE DATABASE ... TEMPLATE``), SQLite copies the file.
The template is built by the real migrations at the start of the run, so a copy is exactly
what ``respons migrate`` would have made; tests/integration/test_migrations.py still runs
the migrations themselves (marker ``migrations``).

PostgreSQL is found at RESPONS_TEST_POSTGRES_URL (default: the local server with trust
auth). When none answers, its tests skip with a message, except when
RESPONS_REQUIRE_POSTGRES=1 (set by .ci/run): then they fail, so CI cannot go green without
having tested the production database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "RESPONS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("RESPONS_REQUIRE_POSTGRES") == "1"

_postgres_error: str | None = None
_postgres_checked = False


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None; asked once per process."""
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


def require_postgres() -> None:
    """Skip the test without PostgreSQL, or fail it when RESPONS_REQUIRE_POSTGRES=1."""
    problem = postgres_unavailable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem + " (RESPONS_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)


def wait_for_lock_waiter(engine, timeout: float = 10.0) -> bool:
    """Until a session of this PostgreSQL database waits for a lock another holds (a unit that
    has reached the row or table another unit is writing); False if none does in ``timeout``."""
    deadline = time.monotonic() + timeout
    with engine.connect() as watch:
        while True:
            waiting = watch.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            if waiting or time.monotonic() >= deadline:
                return bool(waiting)
            watch.rollback()  # pg_stat_activity is read once per transaction
            time.sleep(0.05)


def postgres_url_of(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _admin():
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of ``template``), dropped afterwards."""
    require_postgres()
    name = f"respons_test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield postgres_url_of(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _upgrade(url: str) -> None:
    from respons.store.migrate import upgrade

    upgrade(url)


class Templates:
    """This process's migrated templates, each made on first use and removed at the end.

    One per process, not one per run: xdist workers start at the same time and would
    otherwise wait for each other; the worker id in the name keeps them apart, and the
    random part keeps two runs on one machine (or one PostgreSQL) apart.
    """

    def __init__(self, directory: Path, worker: str):
        self._directory = directory
        self._tag = f"{worker}_{uuid.uuid4().hex[:8]}"
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    def sqlite_copy(self, path: Path) -> str:
        """A migrated SQLite database at ``path``: a copy of the template file."""
        if self._sqlite is None:
            template = self._directory / f"template-{self._tag}.db"
            _upgrade(f"sqlite:///{template}")
            # The server's engine puts SQLite in WAL mode; fold the log into the file so the
            # one file is the whole database (the copies start with no -wal of their own).
            with sqlite3.connect(template) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._sqlite = template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def postgres_template(self) -> str:
        """The name of the migrated PostgreSQL template database."""
        if self._postgres is None:
            require_postgres()
            name = f"respons_template_{self._tag}"
            with _admin().connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            # Every connection of the migration is closed by now (env.py disposes its engine):
            # PostgreSQL copies a template only while nobody is connected to it.
            _upgrade(postgres_url_of(name))
            self._postgres = name
        return self._postgres

    def close(self) -> None:
        if self._postgres is not None:
            admin = _admin()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)'))
            admin.dispose()
            self._postgres = None
