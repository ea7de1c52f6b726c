"""Engines for SQLite (WAL) and PostgreSQL with the same transactional behaviour."""

from __future__ import annotations

import hashlib
import json
from collections import namedtuple
from contextlib import closing, contextmanager
from datetime import date, datetime
from typing import Any, Callable, NamedTuple

import orjson

from sqlalchemy import Engine, Select, String, Table, TypeDecorator, any_, bindparam, create_engine, event, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from respons.settings import ensure_sqlite_directory

# Connections opened with this execution option begin with BEGIN IMMEDIATE on SQLite:
# the journal writer takes the write lock up front instead of upgrading a read lock
# half-way through a batch (which can fail with SQLITE_BUSY and no retry).
WRITE = {"respons_write": True}


def make_engine(database_url: str, **kwargs) -> Engine:
    kwargs.setdefault("json_serializer", json_text)
    if database_url.startswith("sqlite"):
        ensure_sqlite_directory(database_url)
        engine = create_engine(database_url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = kwargs.pop("connect_args", {})
    if "connect_timeout" not in make_url(database_url).query:
        # libpq waits for ever on a host that drops packets; a request should get its 503
        # (and the load balancer its failing /readyz) within seconds instead.
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    # pre_ping: a pooled connection whose backend was terminated (failover, restart,
    # pg_terminate_backend) is replaced at checkout, so the node recovers without a restart.
    return create_engine(database_url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


CONNECT_TIMEOUT_SECONDS = 5


def json_text(value: Any) -> str:
    """The text of a JSON column's value, written by orjson (native code): an alarm writes
    four JSON values (its payload, its route, two events' data), and json.dumps took 1.9 µs
    for a DC-09 payload where orjson takes 0.23. The same JSON for every value json.dumps
    writes (keys that are not text become text, as there); compact, and UTF-8 rather than
    \\u escapes, which only the raw text shows. What orjson refuses and json.dumps writes —
    an integer beyond 64 bits in a vendor's payload — goes the standard library's way. (NaN,
    which orjson writes as null, is not JSON: the intake refuses it, and nothing else makes it.)"""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


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


def lock_for_transaction(conn: Connection, name: str) -> None:
    """Serialise transactions on ``name`` until this one ends (PostgreSQL's advisory lock; on
    SQLite the journal is the only writer, so there is nothing to wait for)."""
    if is_postgres(conn):
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def in_list(postgres: bool, column, name: str):
    """``column IN :name`` (numbers or text), the list given at execution as one parameter
    (``list_value``), so the statement is the same for every list: built and compiled once
    (``ForEachDatabase``). On PostgreSQL ``= ANY(array)``: the driver does not parse a
    statement with a thousand placeholders each time (13 ms per thousand, measured in a
    supervision sweep). On SQLite ``IN (SELECT value FROM json_each(?))``, each value a probe
    of the column's index: an expanded ``IN (?, ?, …)`` was rendered again for every list,
    and building the statement anew for every batch cost the HTTP intake a tenth of its
    journal time per alarm."""
    if postgres:
        return column == any_(bindparam(name, type_=ArrayText(column.type)))
    listed = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


class ArrayText(TypeDecorator):
    """A PostgreSQL array parameter given as its text (``array_text``). The statement says
    ``$1::INTEGER[]``, so PostgreSQL reads the text once, when the parameter is bound; a cast
    written around the parameter (``CAST($1::VARCHAR AS INTEGER[])``) is an expression it
    evaluates again for every row a scan looks at: 0.41 ms instead of 0.015 ms for 75 ids
    against 200 rows (EXPLAIN ANALYZE), the routing plan's lookups in every alarm batch."""

    impl = ARRAY
    cache_ok = True

    def bind_processor(self, dialect):
        return None  # the text goes to the driver as it is


def list_value(conn: Connection, values) -> str:
    """The parameter of an ``in_list``: one text, an array's on PostgreSQL (``array_text``;
    psycopg's own adaptation of a list checks each element against regular expressions,
    a third of reading 300 devices by identity), JSON on SQLite."""
    return array_text(values) if is_postgres(conn) else json.dumps(list(values))


class ForEachDatabase:
    """A statement written differently for PostgreSQL and SQLite (``in_list``), built once for
    each by ``build(postgres)`` and then reused: a statement built anew for every unit costs
    SQLAlchemy a cache key each time, more than running it."""

    def __init__(self, build: Callable[[bool], Executable]):
        self._build = build
        self._built: dict[bool, Executable] = {}

    def __call__(self, conn: Connection) -> Executable:
        postgres = is_postgres(conn)
        statement = self._built.get(postgres)
        if statement is None:
            statement = self._built[postgres] = self._build(postgres)
        return statement


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Many rows of ``table`` (every dict with the same keys), inside the caller's transaction.

    Straight to the driver, each value through its column's own bind processor (so the types
    — UTC datetimes, JSON — are what an INSERT through SQLAlchemy would write), without
    SQLAlchemy's per-row parameter handling around it: on PostgreSQL through COPY (2.4×
    faster than pipelined INSERTs for 50,000 alarms and their events, bench/supervision.py),
    on SQLite as one ``executemany`` of tuples (that handling was a third of the HTTP
    intake's journal time per alarm, docs/benchmarks.md, "Issue 21")."""
    if not rows:
        return
    dialect = conn.dialect
    names = tuple(rows[0])
    values = _processed(rows, names, _processors(table, names, dialect))
    if is_postgres(conn):
        statement = f'COPY "{table.name}" ({", ".join(f"{chr(34)}{name}{chr(34)}" for name in names)}) FROM STDIN'
        with _raised_as_sqlalchemy_would(dialect, statement), conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    else:
        _executemany(conn, _insert_sql(table, names, dialect), values)


def update_rows(conn: Connection, table: Table, rows: list[dict], *, key: str = "id") -> None:
    """Many rows of ``table`` changed at once, each found by ``key`` (every dict with the same
    keys; scalar columns), each value through its column's bind processor as ``insert_rows``
    does. A key given twice ends as its last row says, as if the rows were written in turn.

    On SQLite one ``executemany`` of tuples. On PostgreSQL one ``UPDATE … FROM unnest(…)``
    with a text array per column: a pipelined ``executemany`` cost psycopg 7 µs of Python and
    the backend 15 µs per row (a Bind and an Execute each); one statement costs 2 and 11
    (measured for 300 heartbeat deadlines a batch, docs/benchmarks.md). The arrays go as
    text built here because psycopg's own list adaptation checks every element against
    regular expressions: as slow as the pipeline."""
    if not rows:
        return
    dialect = conn.dialect
    names = tuple(name for name in rows[0] if name != key) + (key,)  # the key's placeholder is last
    if not is_postgres(conn):
        _executemany(conn, _update_sql(table, names, dialect), _processed(rows, names, _processors(table, names, dialect)))
        return
    rows = list({row[key]: row for row in rows}.values())  # the last row of a key, as in turn
    columns = zip(*_processed(rows, names, _processors(table, names, dialect)))
    statement, texts = _update_from_arrays(table, names, dialect)
    with _raised_as_sqlalchemy_would(dialect, statement), conn.connection.driver_connection.cursor() as cursor:
        cursor.execute(statement, [array_text(column, text=text) for column, text in zip(columns, texts)])


def array_text(values, *, text: bool = True) -> str:
    """PostgreSQL's text form of an array of scalars; None is NULL. Text elements are quoted,
    so that no value (a comma, a brace, a quote) can end one early. ``text=False``: numbers,
    times and the like, whose text has none of those, go as they print (a third of the cost
    of quoting a heartbeat's two times)."""
    if not text:
        return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
    return "{" + ",".join("NULL" if value is None else
                          '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for value in values) + "}"


def _update_from_arrays(table: Table, names: tuple[str, ...], dialect) -> tuple[str, list[bool]]:
    """The ``UPDATE … FROM unnest(…)`` for these columns, and whether each column's array
    elements must be quoted as text (when unsure: yes)."""
    cache_key = ("update from arrays", table.name, names, dialect.name)
    found = _STATEMENTS.get(cache_key)
    if found is None:
        quote = dialect.identifier_preparer.quote
        *changed, key = names
        arrays = ", ".join(f"%s::text::{table.c[name].type.compile(dialect=dialect)}[]" for name in names)
        found = _STATEMENTS[cache_key] = (
            f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = v.{quote(n)}' for n in changed)}"
            f" FROM unnest({arrays}) AS v({', '.join(quote(n) for n in names)})"
            f" WHERE {quote(table.name)}.{quote(key)} = v.{quote(key)}",
            [not _prints_plainly(table.c[name].type) for name in names])
    return found


def _prints_plainly(column_type) -> bool:
    if isinstance(column_type, TypeDecorator):  # UTCDateTime: what it stores
        column_type = column_type.impl_instance
    try:
        return issubclass(column_type.python_type, (int, float, datetime, date))
    except NotImplementedError:
        return False


def _processed(rows: list[dict], names: tuple[str, ...], processors: list):
    """The rows as the driver takes them: values in ``names``' order, each through its processor."""
    return ([value if process is None else process(value) for process, value in zip(processors, map(row.__getitem__, names))]
            for row in rows)


def _executemany(conn: Connection, statement: str, values) -> None:
    cursor = conn.connection.driver_connection.cursor()
    try:
        with _raised_as_sqlalchemy_would(conn.dialect, statement):
            cursor.executemany(statement, values)
    finally:
        cursor.close()


@contextmanager
def _raised_as_sqlalchemy_would(dialect, statement: str, parameters=None):
    """A driver's error as SQLAlchemy raises it: ``unavailability`` then tells a dropped
    connection or a full disk from a fault of the unit, and the journal a lost deadlock."""
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, parameters, exc, dialect.loaded_dbapi.Error) from exc


def _update_sql(table: Table, names: tuple[str, ...], dialect) -> str:
    cache_key = ("update", table.name, names, dialect.name)
    found = _STATEMENTS.get(cache_key)
    if found is None:
        quote, marker = dialect.identifier_preparer.quote, "?" if dialect.paramstyle == "qmark" else "%s"
        *changed, key = names
        found = _STATEMENTS[cache_key] = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = {marker}' for n in changed)}"
                                          f" WHERE {quote(key)} = {marker}")
    return found


def fetch_rows(conn: Connection, statement: Select, parameters: dict, *, plan_each_time: bool = False) -> list:
    """The rows of ``statement`` as plain named tuples, straight from the driver: for the
    lookups a batch unit makes of hundreds of rows (the devices of a heartbeat batch). The
    values come through the columns' own result processors and the parameters through the
    binds' processors, as with SQLAlchemy; what is left out is its per-row machinery — a
    SQLAlchemy row cost 4.5 µs to read and 0.35 µs per attribute read, a named tuple 3.6 and
    0.01 (300 devices, 8 columns; docs/benchmarks.md).

    ``plan_each_time`` (PostgreSQL): plan the statement for these parameters every time.
    psycopg prepares a statement it has run five times, and PostgreSQL may then keep one
    generic plan for it, chosen for whatever the tables looked like at the time. For a lookup
    by a unique key joined to a list, a plan chosen while `alarms` was new and unanalysed was
    a scan of the whole table, kept as the table grew: 4 ms a batch at 26,000 alarms, where a
    plan for the actual list probes the index in 0.3 ms (measured with pg_stat_statements and
    EXPLAIN ANALYZE; docs/benchmarks.md). Switching that off for every statement
    (``plan_cache_mode``) made the heartbeats' batched updates plan each row, so only the
    statements that need it ask."""
    dialect = conn.dialect
    direct = _direct(statement, dialect)
    values = direct.compiled.construct_params(parameters)
    for name, process in direct.bind_processors:
        values[name] = process(values[name])
    if direct.positions is not None:  # SQLite: qmark, in the statement's order
        values = tuple(values[name] for name in direct.positions)
    with _raised_as_sqlalchemy_would(dialect, direct.sql, values), \
            closing(conn.connection.driver_connection.cursor()) as cursor:
        if plan_each_time and is_postgres(conn):
            cursor.execute(direct.sql, values, prepare=False)
        else:
            cursor.execute(direct.sql, values)
        rows = cursor.fetchall()
    make, processed = direct.row_type._make, direct.result_processors
    if not processed:
        return list(map(make, rows))
    # Only the columns that have a processor are touched (a generator per row over every
    # column cost more than the lookup itself on SQLite).
    made = []
    for row in rows:
        values = list(row)
        for index, process in processed:
            values[index] = process(values[index])
        made.append(make(values))
    return made


class _Direct(NamedTuple):
    compiled: Compiled
    sql: str
    positions: tuple[str, ...] | None
    bind_processors: list[tuple[str, Callable]]
    result_processors: list[tuple[int, Callable]]  # (column index, processor), for those that have one
    row_type: type
    statement: Select  # kept alive, so that its id is not reused


_DIRECT: dict[tuple, _Direct] = {}


def _direct(statement: Select, dialect) -> _Direct:
    key = (id(statement), dialect.name)
    found = _DIRECT.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("fetch_rows takes a list as one parameter (in_list), not an expanding IN")
        binds = ((name, bind.type.dialect_impl(dialect).bind_processor(dialect)) for name, bind in compiled.binds.items())
        columns = list(statement.selected_columns)
        found = _DIRECT[key] = _Direct(
            compiled, str(compiled), tuple(compiled.positiontup) if compiled.positional else None,
            [(name, process) for name, process in binds if process is not None],
            [(index, process) for index, process in enumerate(
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
             if process is not None],
            namedtuple("Row", [column.key for column in columns]), statement)
    return found


_PROCESSORS: dict[tuple, list] = {}
_STATEMENTS: dict[tuple, Any] = {}


def _processors(table: Table, names: tuple[str, ...], dialect) -> list:
    key = (table.name, names, dialect.name)
    found = _PROCESSORS.get(key)
    if found is None:
        found = _PROCESSORS[key] = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    return found


def _insert_sql(table: Table, names: tuple[str, ...], dialect) -> str:
    key = (table.name, names, dialect.name)
    found = _STATEMENTS.get(key)
    if found is None:
        quote = dialect.identifier_preparer.quote
        # Written here rather than compiled: the values are positional, in ``names``' order
        # (a compiled INSERT lists the columns in the table's order).
        found = _STATEMENTS[key] = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
                                 f"VALUES ({', '.join('?' * len(names))})")
    return found


def is_postgres(engine_or_connection) -> bool:
    return engine_or_connection.dialect.name == "postgresql"


def claimable_ids(conn: Connection, candidates: Select, name: str):
    """The ids among ``candidates`` (a SELECT of ``id`` with its order and LIMIT) that this
    claim may take, as a subquery for ``UPDATE … WHERE id IN (…)``: the work queues' claim
    (timers, the EPJ outbox), safe across nodes.

    On PostgreSQL a MATERIALIZED CTE locks and limits once, skipping rows another node holds.
    Written as ``id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``, PostgreSQL may plan a
    nested-loop semi join that rescans the subquery for every outer row; each rescan skips the
    rows this statement has already claimed and takes the next ones, so one node claimed all
    500 overdue timers with a limit of 100 (seen with EXPLAIN ANALYZE: loops=500), leaving
    none for the others. SQLite evaluates an uncorrelated IN (subquery) once, and the journal
    is its only writer."""
    if is_postgres(conn):
        chosen = candidates.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
        return select(chosen.c.id).scalar_subquery()
    return candidates.scalar_subquery()


# --- when the database cannot be reached or written ------------------------------------------
#
# A statement can fail for two kinds of reasons: its own (a unique violation, an illegal
# value: the caller's problem, answered 4xx or 500) or the database's (unreachable, read-only,
# disk full, busy: nobody's request is wrong, nothing was stored, and the same request will
# work later: 503 with Retry-After). ``unavailability`` tells them apart, so the journal does
# not blame a unit for an outage and the API never answers 500 for one.

UNREACHABLE = "database_unreachable"
READ_ONLY = "read_only"
DISK_FULL = "disk_full"
BUSY = "database_busy"
IO_ERROR = "io_error"
CORRUPT = "database_corrupt"

# SQLite primary result codes (extended code & 0xff): https://sqlite.org/rescode.html
_SQLITE = {5: BUSY, 6: BUSY, 7: BUSY, 8: READ_ONLY, 10: IO_ERROR, 11: CORRUPT, 13: DISK_FULL, 14: UNREACHABLE,
           15: BUSY, 26: CORRUPT}
# PostgreSQL SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
_PG_EXACT = {"53100": DISK_FULL, "25006": READ_ONLY, "57014": BUSY, "55P03": BUSY}
_PG_CLASS = {"08": UNREACHABLE, "57": UNREACHABLE, "53": BUSY, "58": IO_ERROR, "40": BUSY, "XX": CORRUPT}


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or written just now; nothing was stored. Retry."""

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(message or f"the database is unavailable ({reason})")
        self.reason = reason


def unavailability(exc: BaseException) -> str | None:
    """Why the database, not the statement, failed (``UNREACHABLE``, ``READ_ONLY``, …), or None.

    Follows ``__cause__`` a few steps, so an error a unit wrapped is still recognised.
    """
    for _ in range(4):
        if exc is None:
            return None
        if isinstance(exc, DatabaseUnavailable):
            return exc.reason
        if isinstance(exc, PoolTimeout):
            return BUSY  # every pooled connection is in use and none came back in time
        if isinstance(exc, DBAPIError):
            reason = _dbapi_reason(exc)
            if reason is not None:
                return reason
        exc = exc.__cause__
    return None


def lost_a_conflict(exc: BaseException) -> bool:
    """Was this transaction PostgreSQL's victim of a deadlock or a serialisation conflict
    (SQLSTATE 40P01, 40001)? Then nothing of it was written, and written again it succeeds."""
    for _ in range(4):
        if exc is None:
            return False
        if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in ("40P01", "40001"):
            return True
        exc = exc.__cause__
    return False


def _dbapi_reason(exc: DBAPIError) -> str | None:
    if exc.connection_invalidated:
        return UNREACHABLE
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE.get(code & 0xFF)
    state = getattr(orig, "sqlstate", None)
    if state:
        return _PG_EXACT.get(state) or _PG_CLASS.get(state[:2]) or (
            # Class 54 (program limit exceeded) and the like are the statement's own fault.
            UNREACHABLE if isinstance(exc, InterfaceError) else None)
    # No SQLSTATE: psycopg failed before the server said anything (refused, reset, timed
    # out, "the connection is closed").
    if isinstance(exc, (OperationalError, InterfaceError)):
        return UNREACHABLE
    return None
