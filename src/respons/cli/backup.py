"""``respons backup`` and ``respons restore`` (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from respons.cli.common import SYSTEM_ACTOR, console, database_problems, err_console, refuse_on_stderr, safe_url
from respons.clock import system_clock
from respons.settings import get_settings
from respons.store import backup as backups


def backup(
    path: Path = typer.Argument(..., help="File to write, or an existing folder (the file is then named "
                                          "respons-<UTC time>.db or .dump)."),
) -> None:
    """Copy the whole database to a file while servers keep running (docs/operations.md).

    SQLite: a consistent snapshot through SQLite's online backup. PostgreSQL: pg_dump's
    custom format (pg_dump must be on PATH). The backup is recorded in the audit log.
    """
    settings = get_settings()
    now = system_clock()
    target = backups.target_for(settings.database_url, path, now)
    with database_problems(settings.database_url):
        try:
            backups.preflight(settings.database_url, target)
        except backups.BackupError as exc:
            refuse_on_stderr(str(exc))
        unrecorded = backups.record(settings.database_url, target, now=now, actor=SYSTEM_ACTOR)
        if unrecorded:
            err_console.print(f"Warning: the backup is not recorded in the audit log ({unrecorded}).",
                              style="yellow", markup=False)
        try:
            done = backups.backup(settings.database_url, target)
        except backups.BackupError as exc:
            refuse_on_stderr(str(exc))
    console.print(f"Wrote {done.path} ({done.size:,} bytes, schema revision {done.revision}).", markup=False,
                  highlight=False)


def restore(
    path: Path = typer.Argument(..., help="A file written by `respons backup`."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a database that already holds data."),
) -> None:
    """Load a backup into RESPONS_DATABASE_URL, then check the audit chain.

    Stop every server on that database first. Exits 1 if the chain is broken.
    """
    settings = get_settings()
    with database_problems(settings.database_url):
        try:
            done = backups.restore(settings.database_url, path, replace=replace)
        except backups.BackupError as exc:
            refuse_on_stderr(str(exc))
    console.print(f"Restored {path} into {safe_url(settings.database_url)} (schema revision {done.revision}).",
                  markup=False, highlight=False)
    if not done.audit_ok:
        err_console.print(f"Audit log NOT intact: {done.audit_problem}", style="bold red", markup=False)
        raise typer.Exit(1)
    console.print(f"Audit log intact: {done.audit_checked} records.", style="green", markup=False)
    if done.needs_migrate:
        console.print(f"The backup's schema is older than this version's ({done.head_revision}): "
                      "run `respons migrate` before starting the servers.", markup=False)
