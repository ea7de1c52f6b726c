"""``respons audit …``: check and search the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from respons.auth import audit
from respons.cli.common import console, database
from respons.settings import get_settings

audit_app = typer.Typer(
    help="Check and search the audit log (access logging required by Normen).",
    no_args_is_help=True,
)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 and name the first broken record if it is not intact."""
    with database() as engine:
        result = audit.verify_engine(engine)
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
    zone = ZoneInfo(get_settings().timezone)
    start, end = audit.whole_days(since.date() if since else None, until.date() if until else None, zone)
    with database() as engine, engine.connect() as conn:
        records = audit.search(conn, actor=actor, recipient_id=recipient, start=start, end=end, action=action,
                               limit=limit)
    console.print(_audit_table(records, zone))
    more = " (the limit; there may be more)" if len(records) == limit else ""
    console.print(f"{len(records)} audit records, newest first{more}", markup=False)


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
