"""What the commands share: where they print, how they open the database and read the clock,
the options several of them repeat, and how they refuse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

from respons.registry.service import municipality_id_by_number
from respons.clock import system_clock
from respons.statistics.rules import OSLO, Period
from respons.statistics import service as statistics
from respons.settings import get_settings
from respons.store import db
from respons.store.diagnose import explain

console = Console()
# Problems go to standard error, so a script that reads a command's output never takes an
# error message for a result.
err_console = Console(stderr=True)

# Who the audit log names for what was done at the command line: accounts, tokens and
# backups as "system:cli"; statistics exports and invoice runs as "cli", as the records
# already in the log do.
SYSTEM_ACTOR = "system:cli"
CLI_ACTOR = "cli"


# --- refusing ----------------------------------------------------------------------------------


def refuse(message: str, code: int = 1) -> NoReturn:
    """Say why in red and exit: 1 for a refusal, 2 for a value the command cannot use."""
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(code)


def refuse_on_stderr(message: str) -> NoReturn:
    """For the operator's commands (backup, restore), whose standard output a script may read.
    ``markup=False``: the message quotes paths and database errors, which are not Rich markup."""
    err_console.print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def database_problems(database_url: str) -> Iterator[None]:
    """Commands run by hand say why the database is out of reach in one line and exit 1."""
    try:
        yield
    except (OperationalError, OSError) as exc:
        err_console.print(explain(exc, database_url), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


# --- the database and the clock -------------------------------------------------------------------


def database_url() -> str:
    return get_settings().database_url


def safe_url(url: str) -> str:
    """The database URL as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def database() -> Iterator[Engine]:
    """An engine for one command, closed when it ends so no connection outlives it."""
    engine = db.make_engine(database_url())
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction() -> Iterator[tuple[Connection, datetime]]:
    """A write transaction for one command, with ``now`` from the clock."""
    with database() as engine, db.write_transaction(engine) as conn:
        yield conn, system_clock()


def municipality_id(conn: Connection, number: Optional[str]) -> Optional[int]:
    """The municipality a person named by kommunenummer (None for none named); exit 1 if
    there is no such municipality."""
    if number is None:
        return None
    found = municipality_id_by_number(conn, number)
    if found is None:
        refuse(f"No municipality with kommunenummer {number}.")
    return found


def output_path(out: Optional[str], default_name: str) -> Path:
    """--out as given; otherwise a file in RESPONS_OUTPUT_DIR, never wherever the command
    happened to be started (a service's working directory, or a folder nobody backs up)."""
    if out:
        return Path(out)
    folder = Path(get_settings().output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / default_name


# --- one municipality's period: --municipality, --period, --date -----------------------------------


def municipality_option() -> Any:
    return typer.Option(..., "--municipality", help="Kommunenummer, e.g. 4206.")


def period_option(help: str) -> Any:
    return typer.Option("month", "--period", help=help)


def date_option() -> Any:
    return typer.Option(None, "--date", formats=["%Y-%m-%d"], help="A day in the period (Oslo calendar); default today.")


def parse_period(period: str) -> Period:
    try:
        return Period(period)
    except ValueError:
        refuse(f"Unknown period {period!r}; use one of {', '.join(p.value for p in Period)}.", 2)


def period_request(conn: Connection, municipality: str, period: Period, on: Optional[datetime],
                   now: datetime) -> statistics.PeriodRequest:
    """The period of ``--date`` (today in Oslo when not given) in the named municipality."""
    day: date = on.date() if on else now.astimezone(OSLO).date()
    return statistics.PeriodRequest.containing(municipality_id(conn, municipality), period, day)
