"""Engines for SQLite (WAL) and PostgreSQL with the same transactional behaviour."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from respons.settings import ensure_sqlite_directory

# Connections opened with this execution option begin with BEGIN IMMEDIATE on SQLite:
# the journal writer takes the write lock up front instead of upgrading a read lock
# half-way through a batch (which can fail with SQLITE_BUSY and no retry).
WRITE = {"respons_write": True}


def make_engine(database_url: str, **kwargs) -> Engine:
    if database_url.startswith("sqlite"):
        ensure_sqlite_directory(database_url)
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Take transaction control away from the sqlite3 module (it would otherwise
        # begin lazily and break SAVEPOINTs); SQLAlchemy's "begin" event emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an ACK survives power loss,
        # not only a crash of the process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection):
        if connection.get_execution_options().get("respons_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction(engine: Engine):
    """A write transaction outside the journal (CLI tools, seeding): BEGIN IMMEDIATE on SQLite,
    so a second process never fails half-way when it upgrades a read lock."""
    with engine.connect().execution_options(**WRITE) as conn:
        with conn.begin():
            yield conn


def is_postgres(engine_or_connection) -> bool:
    return engine_or_connection.dialect.name == "postgresql"
