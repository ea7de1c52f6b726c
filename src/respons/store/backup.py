"""Backups and restores of the whole database (``respons backup`` / ``respons restore``).

SQLite: SQLite's online backup API copies one consistent snapshot (the committed contents
of the WAL included) while servers keep writing; in WAL mode a reader does not stop a
writer, so the copy is taken in one step and never restarts under load. The copy is checked
(``PRAGMA integrity_check``) and renamed into place only when complete.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot, also while nodes write)
and ``pg_restore``, the tools that match the server. They must be on PATH (Debian:
``postgresql-client``); a missing tool is reported, never silently skipped.

A restore goes into an empty database unless ``replace`` is given, and is followed by a check
of the audit chain, so a restored copy that lost or changed a record says so at once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from respons.auth import audit
from respons.settings import ensure_sqlite_directory
from respons.store.db import make_engine, write_transaction
from respons.store.migrate import current_revision, head_revision

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


class BackupError(Exception):
    """Said to the operator as one line; nothing half-written is left behind."""


@dataclass(frozen=True)
class BackupDone:
    path: Path
    size: int
    revision: str | None


@dataclass(frozen=True)
class RestoreDone:
    revision: str | None
    audit_ok: bool
    audit_checked: int
    audit_problem: str | None
    head_revision: str | None

    @property
    def needs_migrate(self) -> bool:
        return self.revision != self.head_revision


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def default_name(database_url: str, now: datetime) -> str:
    suffix = "db" if is_sqlite(database_url) else "dump"
    return f"respons-{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}.{suffix}"


def target_for(database_url: str, path: Path, now: datetime) -> Path:
    """``path`` itself, or a file named for ``now`` in it when it is a folder."""
    return path / default_name(database_url, now) if path.is_dir() else path


def record(database_url: str, target: Path, *, now: datetime, actor: str) -> str | None:
    """Record the backup in the audit log before it is taken, so the copy holds the record of
    its own making. A database that cannot be written (a full disk) must still be copyable:
    then nothing is recorded and the failure's name is returned for a warning."""
    try:
        engine = make_engine(database_url)
        try:
            with write_transaction(engine) as conn:
                audit.append(conn, now=now, actor=actor, action=audit.EXPORT, purpose="backup",
                             details={"what": "backup", "file": str(target.resolve())})
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the backup matters more than its record
        return type(exc).__name__
    return None


def preflight(database_url: str, target: Path) -> None:
    """Refuse early what would fail: before the backup is recorded in the audit log, and
    before anything opens (and so creates) an empty SQLite file."""
    if is_sqlite(database_url) and not _sqlite_path(database_url).is_file():
        raise BackupError(f"No SQLite database at {_sqlite_path(database_url)}.")
    if not Path(target).parent.is_dir():
        raise BackupError(f"The folder {Path(target).parent} does not exist.")


def backup(database_url: str, target: Path) -> BackupDone:
    """Write a complete, consistent copy of the database to ``target`` (an existing file is
    replaced only once the new copy is complete)."""
    target = Path(target)
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist.")
    partial = target.with_name(target.name + ".partial")
    try:
        if is_sqlite(database_url):
            revision = _sqlite_backup(_sqlite_path(database_url), partial)
        else:
            revision = _pg_dump(database_url, partial)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(target, target.stat().st_size, revision)


def restore(database_url: str, source: Path, *, replace: bool = False) -> RestoreDone:
    """Load a backup made by ``backup`` into the database at ``database_url``. Stop every
    server on that database first."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No backup file {source}.")
    with open(source, "rb") as f:
        magic = f.read(16)
    if is_sqlite(database_url):
        if not magic.startswith(SQLITE_MAGIC):
            raise BackupError(f"{source} is not an SQLite backup; RESPONS_DATABASE_URL is an SQLite database.")
        _sqlite_restore(source, _sqlite_path(database_url), replace=replace)
    else:
        if not magic.startswith(PG_CUSTOM_MAGIC):
            raise BackupError(f"{source} is not a PostgreSQL backup (pg_dump --format=custom); "
                              "RESPONS_DATABASE_URL is a PostgreSQL database.")
        _pg_restore(database_url, source, replace=replace)

    engine = make_engine(database_url)
    try:
        checked = audit.verify_engine(engine)
    finally:
        engine.dispose()
    return RestoreDone(revision=current_revision(database_url), audit_ok=checked.ok, audit_checked=checked.checked,
                       audit_problem=checked.problem, head_revision=head_revision())


# SQLite ---------------------------------------------------------------------------------

def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def _sqlite_backup(source: Path, partial: Path) -> str | None:
    if not source.is_file():
        # sqlite3.connect would create an empty database and back that up.
        raise BackupError(f"No SQLite database at {source}.")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database under one read snapshot. Copied in steps, every
            # commit by a running server would restart the copy from the first page.
            src.backup(dst, pages=-1)
            # A self-contained file: no -wal beside it, readable from a read-only medium.
            dst.execute("PRAGMA journal_mode=DELETE")
            return _check_sqlite(dst, partial)
        finally:
            dst.close()
    finally:
        src.close()


def _sqlite_restore(source: Path, target: Path, *, replace: bool) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check_sqlite(src, source)
        ensure_sqlite_directory(f"sqlite:///{target}")
        dst = sqlite3.connect(target, timeout=30)
        try:
            tables = dst.execute("select count(*) from sqlite_master where type = 'table'").fetchone()[0]
            if tables and not replace:
                raise BackupError(f"{target} already holds a database ({tables} tables); "
                                  "restore into an empty one, or give --replace.")
            # Through the backup API rather than a file copy: the target's own WAL and
            # shared-memory files are taken into account, so no stale -wal survives.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    finally:
        src.close()


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> str | None:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise BackupError(f"{path} failed SQLite's integrity check: {problems[0]}")
    try:
        return conn.execute("select version_num from alembic_version").fetchone()[0]
    except sqlite3.DatabaseError:
        raise BackupError(f"{path} is not a Respons database (no schema revision).") from None


# PostgreSQL -----------------------------------------------------------------------------

def _pg_connection(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client tools, with the password in the environment rather than on
    the command line (where every user of the machine could read it)."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH; install PostgreSQL's client tools of the server's version "
                          "(Debian: apt-get install postgresql-client).")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {done.returncode}"
        raise BackupError(f"{Path(command[0]).name} failed: {reason}")


def _pg_dump(database_url: str, partial: Path) -> str | None:
    from respons.store.migrate import current_revision

    tool = _pg_tool("pg_dump")
    uri, env = _pg_connection(database_url)
    _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}", f"--dbname={uri}"], env)
    return current_revision(database_url)


def _pg_restore(database_url: str, source: Path, *, replace: bool) -> None:
    from respons.store.db import make_engine

    tool = _pg_tool("pg_restore")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "select count(*) from information_schema.tables where table_schema = current_schema()")).scalar()
    finally:
        engine.dispose()
    if tables and not replace:
        raise BackupError(f"The database already holds {tables} tables; restore into an empty one "
                          "(createdb), or give --replace.")
    uri, env = _pg_connection(database_url)
    command = [tool, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", f"--dbname={uri}"]
    if replace:
        command += ["--clean", "--if-exists"]
    _run(command + [str(source)], env)


def _fsync(path: Path) -> None:
    # The copy must be on disk before it is called complete, and its name with it.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
