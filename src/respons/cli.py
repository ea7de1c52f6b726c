"""The ``respons`` command."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from respons.cli_invoice import invoice_app
from respons.settings import get_settings

app = typer.Typer(
    help="Respons: an open platform for municipal response services (responstjenester).\n\n"
    "Configuration comes from RESPONS_* environment variables; see README.md.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
# Problems go to standard error, so a script that reads a command's output never takes an
# error message for a result.
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from respons import __version__

        typer.echo(f"respons {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


@contextmanager
def _database_problems(database_url: str):
    """Commands run by hand say why the database is out of reach in one line and exit 1."""
    from sqlalchemy.exc import OperationalError

    from respons.store.diagnose import explain

    try:
        yield
    except (OperationalError, OSError) as exc:
        err_console.print(explain(exc, database_url), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    from respons.store.migrate import current_revision, upgrade

    settings = get_settings()
    with _database_problems(settings.database_url):
        upgrade(settings.database_url)
        revision = current_revision(settings.database_url)
    console.print(f"[green]Database is at schema revision {revision}[/green] ({_safe_url(settings.database_url)})")


@app.command()
def backup(
    path: Path = typer.Argument(..., help="File to write, or an existing folder (the file is then named "
                                          "respons-<UTC time>.db or .dump)."),
) -> None:
    """Copy the whole database to a file while servers keep running (docs/operations.md).

    SQLite: a consistent snapshot through SQLite's online backup. PostgreSQL: pg_dump's
    custom format (pg_dump must be on PATH). The backup is recorded in the audit log.
    """
    from respons.auth import audit
    from respons.clock import system_clock
    from respons.store import backup as backups

    settings = get_settings()
    now = system_clock()
    target = path / backups.default_name(settings.database_url, now) if path.is_dir() else path
    with _database_problems(settings.database_url):
        try:
            backups.preflight(settings.database_url, target)
        except backups.BackupError as exc:
            err_console.print(str(exc), style="red", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        # Recorded first, so the copy holds the record of its own making. A database that
        # cannot be written (full disk) must still be copyable: then the record is skipped.
        try:
            with _write() as (conn, _):
                audit.append(conn, now=now, actor="system:cli", action=audit.EXPORT, purpose="backup",
                             details={"what": "backup", "file": str(target.resolve())})
        except Exception as exc:  # noqa: BLE001 - the backup matters more than its record
            err_console.print(f"Warning: the backup is not recorded in the audit log ({type(exc).__name__}).",
                              style="yellow", markup=False)
        try:
            done = backups.backup(settings.database_url, target)
        except backups.BackupError as exc:
            err_console.print(str(exc), style="red", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
    console.print(f"Wrote {done.path} ({done.size:,} bytes, schema revision {done.revision}).", markup=False,
                  highlight=False)


@app.command()
def restore(
    path: Path = typer.Argument(..., help="A file written by `respons backup`."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a database that already holds data."),
) -> None:
    """Load a backup into RESPONS_DATABASE_URL, then check the audit chain.

    Stop every server on that database first. Exits 1 if the chain is broken.
    """
    from respons.store import backup as backups

    settings = get_settings()
    with _database_problems(settings.database_url):
        try:
            done = backups.restore(settings.database_url, path, replace=replace)
        except backups.BackupError as exc:
            err_console.print(str(exc), style="red", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
    console.print(f"Restored {path} into {_safe_url(settings.database_url)} (schema revision {done.revision}).",
                  markup=False, highlight=False)
    if not done.audit_ok:
        err_console.print(f"Audit log NOT intact: {done.audit_problem}", style="bold red", markup=False)
        raise typer.Exit(1)
    console.print(f"Audit log intact: {done.audit_checked} records.", style="green", markup=False)
    if done.needs_migrate:
        console.print(f"The backup's schema is older than this version's ({done.head_revision}): "
                      "run `respons migrate` before starting the servers.", markup=False)


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default RESPONS_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default RESPONS_PORT, 8080)."),
    simulate: bool = typer.Option(False, "--simulate", help="Also send simulated alarm traffic to this server."),
    speed: float = typer.Option(60.0, help="With --simulate: how many times faster than real time."),
) -> None:
    """Run the server: HTTP API, journal writer and timer worker."""
    from respons.web import server
    from respons.web.app import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    from respons.observability import logs

    # Text, or one JSON object per line (RESPONS_LOG_FORMAT=json), with the request id.
    logs.configure(settings.log_format)
    if settings.log_format == "json":  # every line a JSON object, the banner too
        logging.getLogger("respons").info("Respons on http://%s:%s (database: %s)", host, port,
                                          _safe_url(settings.database_url))
    else:
        console.print(f"Respons on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs, database: {_safe_url(settings.database_url)})")
    if simulate:
        from respons.demo.simulate import start_background_simulator

        start_background_simulator(f"http://{host}:{port}", speed=speed, database_url=settings.database_url)
    server.run(create_app(settings), host=host, port=port)


@app.command()
def demo(
    recipients: int = typer.Option(3000, help="How many synthetic service recipients to create."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same people."),
    reset: bool = typer.Option(False, "--reset", help="Delete all existing data first."),
    history_days: int = typer.Option(120, "--history-days", help="Days of invented, handled alarms before today "
                                     "(for the statistics); 0 for none."),
) -> None:
    """Fill the database with a demo response centre: municipalities, people, devices, staff.

    Every person is invented; national identity numbers are synthetic (month + 80).
    """
    from respons.clock import system_clock
    from respons.demo.seed import seed_demo
    from respons.store.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        summary = seed_demo(engine, now=system_clock(), seed=seed, recipients=recipients, reset=reset, console=console,
                            history_days=history_days)
    finally:
        engine.dispose()
    console.print(summary, soft_wrap=True, highlight=False)


@app.command()
def simulate(
    url: str = typer.Option("http://127.0.0.1:8080", help="The Respons server to send to."),
    speed: float = typer.Option(60.0, help="How many times faster than real time (1 = real time)."),
    duration: Optional[float] = typer.Option(None, help="Stop after this many real seconds (default: run until Ctrl-C)."),
    seed: int = typer.Option(1, help="Random seed for the traffic."),
) -> None:
    """Send a realistic mix of alarms to a running server over its HTTP intake.

    The rate follows seed 001: Kristiansand gets about 1,000 alarms a day for 18,000
    users, busiest 08–11, with a sizeable share of technical alarms.
    """
    from respons.demo.simulate import run_simulator

    settings = get_settings()
    run_simulator(url, speed=speed, duration=duration, seed=seed, database_url=settings.database_url, console=console)


audit_app = typer.Typer(
    help="Check and search the audit log (access logging required by Normen).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 and name the first broken record if it is not intact."""
    from respons.auth.audit import verify_engine
    from respons.store.db import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        result = verify_engine(engine)
    finally:
        engine.dispose()
    if not result.ok:
        # style= rather than markup: the message is data and must print as written.
        console.print(f"Audit log NOT intact: {result.problem}", style="bold red", markup=False)
        raise typer.Exit(1)
    head = result.head_hash or ""
    console.print(f"Audit log intact: {result.checked} records, head {head[:16]}…", style="green", markup=False)


@audit_app.command("search")
def audit_search(
    recipient: Optional[int] = typer.Option(None, "--recipient", help="Service recipient id."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who acted, e.g. user:12 or token:4."),
    since: Optional[datetime] = typer.Option(None, "--since", formats=["%Y-%m-%d"], help="First day (local time), YYYY-MM-DD."),
    until: Optional[datetime] = typer.Option(None, "--until", formats=["%Y-%m-%d"], help="Last day, included (local time), YYYY-MM-DD."),
    action: Optional[str] = typer.Option(None, "--action", help="e.g. read_recipient, login_failed."),
    limit: int = typer.Option(500, help="At most this many records, newest first."),
) -> None:
    """List audit records, newest first. Days are calendar days in RESPONS_TIMEZONE."""
    from respons.auth.audit import search
    from respons.store.db import make_engine

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    # An auditor asking for "until 23 November" means the whole of that day.
    start = _local_midnight(since, zone) if since else None
    end = _local_midnight(until + timedelta(days=1), zone) if until else None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            records = search(conn, actor=actor, recipient_id=recipient, start=start, end=end, action=action, limit=limit)
    finally:
        engine.dispose()
    console.print(_audit_table(records, zone))
    more = " (the limit; there may be more)" if len(records) == limit else ""
    console.print(f"{len(records)} audit records, newest first{more}", markup=False)


report_app = typer.Typer(help="Statistics and reports for municipalities (key figures from the alarm timeline).",
                         no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(invoice_app, name="invoice")


@report_app.command("figures")
def report_figures(
    municipality: str = typer.Option(..., "--municipality", help="Kommunenummer, e.g. 4206."),
    period: str = typer.Option("month", "--period", help="day, week, month, half_year or year."),
    on: Optional[datetime] = typer.Option(None, "--date", formats=["%Y-%m-%d"],
                                          help="A day in the period (Oslo calendar); default today."),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm",
                                              help="Home-care minutes an alarm cleared at the centre saves."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Key figures of one municipality for one Oslo calendar period. The export is audited."""
    from dataclasses import asdict

    from respons.clock import system_clock
    from respons.domain.statistics import OSLO, Period
    from respons.engine import statistics

    try:
        chosen = Period(period)
    except ValueError:
        console.print(f"[red]Unknown period {period!r}; use one of {', '.join(p.value for p in Period)}.[/red]")
        raise typer.Exit(2)
    now = system_clock()
    with _write() as (conn, _):
        wanted = statistics.PeriodRequest.containing(_municipality_id(conn, municipality), chosen,
                                                     on.date() if on else now.astimezone(OSLO).date())
        statistics.record_export(conn, wanted, actor="cli", what="key_figures", now=now)
        figures = statistics.figures(conn, wanted, now=now, minutes_per_cleared_alarm=minutes_per_cleared)
    first = wanted.first_day
    if as_json:
        document = {"municipality": municipality, "period": chosen.value, "from": first.isoformat(), **asdict(figures),
                    "share_answered_within_target": figures.share_answered_within_target,
                    "clearance_rate": figures.clearance_rate, "escalation_share": figures.escalation_share}
        typer.echo(json.dumps(document, default=str, ensure_ascii=False, indent=2))
        return
    console.print(_figures_table(figures, title=f"Kommune {municipality}, {chosen.value} from {first.isoformat()}"))


@report_app.command("file")
def report_file(
    municipality: str = typer.Option(..., "--municipality", help="Kommunenummer, e.g. 4206."),
    period: str = typer.Option("month", "--period", help="month, half_year or year (also day, week)."),
    on: Optional[datetime] = typer.Option(None, "--date", formats=["%Y-%m-%d"],
                                          help="A day in the period (Oslo calendar); default today."),
    file_format: str = typer.Option("pdf", "--format", help="pdf or xlsx."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write; default respons-<number>-<period>-<from>.<format> in RESPONS_OUTPUT_DIR."),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm"),
) -> None:
    """Write one municipality's report for one Oslo period as PDF or XLSX. The export is audited."""

    from respons.clock import system_clock
    from respons.domain.statistics import OSLO, Period
    from respons.engine import statistics
    from respons.reports import model, pdf, xlsx

    if file_format not in ("pdf", "xlsx"):
        console.print(f"[red]Unknown format {file_format!r}; use pdf or xlsx.[/red]")
        raise typer.Exit(2)
    try:
        chosen = Period(period)
    except ValueError:
        console.print(f"[red]Unknown period {period!r}; use one of {', '.join(p.value for p in Period)}.[/red]")
        raise typer.Exit(2)
    now = system_clock()
    with console.status("Reading the period's alarms …"), _write() as (conn, _):
        wanted = statistics.PeriodRequest.containing(_municipality_id(conn, municipality), chosen,
                                                     on.date() if on else now.astimezone(OSLO).date())
        statistics.record_export(conn, wanted, actor="cli", what=f"report_{file_format}", now=now)
        report = model.build(conn, wanted, now=now, minutes_per_cleared_alarm=minutes_per_cleared,
                             per_alarm=file_format == "xlsx")
    with console.status(f"Writing the {file_format.upper()} …"):
        body = pdf.render(report) if file_format == "pdf" else xlsx.render(report)
    path = _output_path(out, f"respons-{report.municipality_number}-{chosen.value}-{wanted.first_day.isoformat()}.{file_format}")
    path.write_bytes(body)
    console.print(f"Wrote {path} ({len(body):,} bytes): {report.title}, {report.figures.received} alarms.", markup=False)


@report_app.command("collaboration")
def report_collaboration(
    year: int = typer.Option(..., "--year", min=2000, max=2100, help="The calendar year (Oslo)."),
    municipality: Optional[list[str]] = typer.Option(None, "--municipality",
                                                     help="Kommunenummer; repeat for several. Default: every one."),
    file_format: str = typer.Option("pdf", "--format", help="pdf or xlsx."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write; default respons-<year>.<format> in RESPONS_OUTPUT_DIR."),
    minutes_per_cleared: float = typer.Option(30.0, "--minutes-per-cleared-alarm"),
) -> None:
    """Write the yearly report across the collaboration (one row per municipality, the totals
    and the year's deviations) as PDF or XLSX. Audited as an export of every municipality in it."""
    from datetime import date

    from sqlalchemy import select

    from respons.clock import system_clock
    from respons.domain.statistics import Period
    from respons.engine import statistics
    from respons.reports import model, pdf, xlsx
    from respons.store.tables import municipalities

    if file_format not in ("pdf", "xlsx"):
        console.print(f"[red]Unknown format {file_format!r}; use pdf or xlsx.[/red]")
        raise typer.Exit(2)
    now = system_clock()
    with console.status(f"Summing {year} …") as status, _write() as (conn, _):
        if municipality:
            scope = frozenset(_municipality_id(conn, number) for number in municipality)
        else:
            scope = frozenset(conn.execute(select(municipalities.c.id)).scalars())
        for municipality_id in sorted(scope):
            statistics.record_export(conn, statistics.PeriodRequest(municipality_id, Period.YEAR, date(year, 1, 1)),
                                     actor="cli", what=f"yearly_report_{file_format}", now=now)
        status.update(f"Summing {year} for {len(scope)} municipalities …")
        report = model.build_year(conn, scope, year, now=now, minutes_per_cleared_alarm=minutes_per_cleared)
    with console.status(f"Writing the {file_format.upper()} …"):
        body = pdf.render_year(report) if file_format == "pdf" else xlsx.render_year(report)
    path = _output_path(out, f"respons-{year}.{file_format}")
    path.write_bytes(body)
    console.print(f"Wrote {path} ({len(body):,} bytes): {report.title}, {len(report.rows)} municipalities, "
                  f"{report.total.received} alarms, {report.deviations.total} deviations.", markup=False)


def _figures_table(k, *, title: str) -> Table:
    def share(value) -> str:
        return "–" if value is None else f"{value * 100:.1f} %"

    def seconds(d) -> str:
        if not d.count:
            return "–"
        return f"median {d.median:.0f} s, p90 {d.p90:.0f} s, max {d.max:.0f} s ({d.count})"

    table = Table(title=title, show_header=False)
    rows = [
        ("Alarms received", str(k.received)),
        ("Answered within 60 s (target 95 %)", f"{share(k.share_answered_within_target)} of {k.to_centre}"
                                               + (f" ({k.pending_answer} waiting)" if k.pending_answer else "")),
        ("Answer time", seconds(k.answer_seconds)),
        ("Cleared at the centre (avklaringsrate)", f"{share(k.clearance_rate)} of {k.resolved_by_centre}"),
        ("Dispatches", ", ".join(f"{name}: {n}" for name, n in k.dispatches.items())),
        ("Routed directly / escalated to the centre", f"{k.routed_direct} / {k.escalated} ({share(k.escalation_share)})"),
        ("Home care: accepted after", seconds(k.accept_seconds)),
        ("Home care: arrived after", seconds(k.arrival_seconds)),
        ("Missing responses", str(k.missing_responses)),
        ("Technical alarms / devices lost", f"{k.technical} / {k.devices_lost}"),
        ("Hours saved for home care", f"{k.hours_saved:.1f}"),
        ("By category", ", ".join(f"{c}: {n}" for c, n in sorted(k.by_category.items()))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


user_app = typer.Typer(help="People who log in: create users, grant roles, enrol two-factor log-in.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for vendor platforms and integrations.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@user_app.command("create")
def user_create(
    username: str = typer.Argument(..., help="Log-in name (letters, digits, . _ @ -)."),
    name: str = typer.Option(..., "--name", help="Full name, as colleagues know it."),
    role: str = typer.Option(..., "--role", help="host_admin, operator, responder, technician, municipality_admin or auditor."),
    municipality: Optional[str] = typer.Option(None, "--municipality", help="Kommunenummer, for roles held in a municipality."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True, envvar="RESPONS_NEW_PASSWORD",
                                 help="At least 12 characters (prompted if not given)."),
) -> None:
    """Create a user with one role. Administrators are enrolled in two-factor log-in at once."""
    from respons.auth import accounts, totp
    from respons.domain.access import Role

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}") from None
    with _write() as (conn, now):
        municipality_id = _municipality_id(conn, municipality)
        secret = totp.new_secret() if role_value.is_admin else None
        try:
            user_id = accounts.create_user(conn, username=username, display_name=name, password=password, now=now, totp_secret=secret)
            accounts.grant_role(conn, user_id=user_id, role=role_value, municipality_id=municipality_id, actor="system:cli", now=now)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"[green]Created user {username} ({role_value.value}).[/green]")
    if secret:
        _print_totp(username, secret)


@user_app.command("totp")
def user_totp(username: str = typer.Argument(..., help="The user to enrol (or re-enrol) in two-factor log-in.")) -> None:
    """Give a user a new two-factor secret; the old one stops working."""
    from sqlalchemy import update

    from respons.auth import audit, totp
    from respons.store.tables import users

    secret = totp.new_secret()
    with _write() as (conn, now):
        changed = conn.execute(update(users).where(users.c.username == username.lower()).values(totp_secret=secret))
        if changed.rowcount != 1:
            console.print(f"[red]No user named {username!r}.[/red]")
            raise typer.Exit(1)
        audit.append(conn, now=now, actor="system:cli", action=audit.UPDATE, details={"username": username.lower(), "fields": ["totp_secret"]})
    _print_totp(username, secret)


@user_app.command("unlock")
def user_unlock(
    username: str = typer.Argument(..., help="The user whose failed log-ins are forgotten."),
    address: Optional[str] = typer.Option(None, "--address", help="Only the failures from this address."),
) -> None:
    """End a user's log-in backoff at once (failed log-ins only slow; see docs/access.md)."""
    from respons.auth import accounts

    with _write() as (conn, now):
        cleared = accounts.unlock(conn, username, actor="system:cli", now=now, remote_addr=address)
        if cleared is None:
            console.print(f"[red]No user named {username!r}.[/red]")
            raise typer.Exit(1)
    console.print(f"[green]Unlocked {username.lower()}: {cleared} failed log-in(s) forgotten.[/green]")


@token_app.command("create")
def token_create(
    municipality: str = typer.Option(..., "--municipality", help="Kommunenummer the token may send alarms for."),
    name: str = typer.Option(..., "--name", help="Who holds it, e.g. the vendor and product."),
    purpose: str = typer.Option("intake", "--purpose", help="intake (alarms) or integration."),
) -> None:
    """Issue an API token. It is shown once; only its hash is stored."""
    from respons.auth import accounts

    with _write() as (conn, now):
        municipality_id = _municipality_id(conn, municipality)
        token_id, token = accounts.create_token(
            conn, name=name, municipality_id=municipality_id, purpose=purpose, actor="system:cli", created_by=None, now=now
        )
    console.print(f"Token {token_id} for kommune {municipality} ({purpose}). Shown once — store it now:")
    console.print(token, highlight=False, soft_wrap=True)


def _write():
    """A write transaction for CLI commands, with ``now`` from the clock."""
    from contextlib import contextmanager

    from respons.clock import system_clock
    from respons.store.db import make_engine, write_transaction

    @contextmanager
    def transaction():
        engine = make_engine(get_settings().database_url)
        try:
            with write_transaction(engine) as conn:
                yield conn, system_clock()
        finally:
            engine.dispose()

    return transaction()


def _output_path(out: Optional[str], default_name: str) -> Path:
    """--out as given; otherwise a file in RESPONS_OUTPUT_DIR, never wherever the command
    happened to be started (a service's working directory, or a folder nobody backs up)."""
    if out:
        return Path(out)
    folder = Path(get_settings().output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / default_name


def _municipality_id(conn, number: Optional[str]) -> Optional[int]:
    from sqlalchemy import select

    from respons.store.tables import municipalities

    if number is None:
        return None
    found = conn.execute(select(municipalities.c.id).where(municipalities.c.number == number)).scalar()
    if found is None:
        console.print(f"[red]No municipality with kommunenummer {number}.[/red]")
        raise typer.Exit(1)
    return found


def _print_totp(username: str, secret: str) -> None:
    from respons.auth import totp

    console.print(f"Two-factor secret for {username}: [bold]{secret}[/bold]")
    console.print(f"Authenticator app URI: {totp.provisioning_uri(secret, username)}", highlight=False, soft_wrap=True)


def _local_midnight(day: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(day.date(), time(0), tzinfo=zone).astimezone(timezone.utc)


def _audit_table(records: list[dict], zone: ZoneInfo) -> Table:
    table = Table()
    for header in ("#", "Time", "Actor", "Action", "Mun.", "Recip.", "Alarm", "Purpose", "Details"):
        # fold, not the default ellipsis: an auditor must see every character of a record.
        table.add_column(header, overflow="fold")
    for r in records:
        cells = (
            r["seq"], r["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), r["actor"], r["action"],
            r["municipality_id"], r["recipient_id"], r["alarm_id"], r["purpose"],
            json.dumps(r["details"], ensure_ascii=False, sort_keys=True),
        )
        # Text, not str: a cell holding "[red]" is data, not Rich markup.
        table.add_row(*(Text("" if c is None else str(c)) for c in cells))
    return table


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
