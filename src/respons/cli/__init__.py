"""The ``respons`` command: this builds the app; each command group lives in its own module."""

from __future__ import annotations

import typer

from respons import __version__
from respons.cli import access, audit, backup, demo, epj, invoice, messages, report, server

app = typer.Typer(
    help="Respons: an open platform for municipal response services (responstjenester).\n\n"
    "Configuration comes from RESPONS_* environment variables; see README.md.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"respons {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


# `respons --help` lists commands in the order they are registered here.
app.command()(server.migrate)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(server.serve)
app.command()(demo.demo)
app.command()(demo.simulate)
app.command("push-keys")(messages.push_keys)
app.add_typer(audit.audit_app, name="audit")
app.add_typer(report.report_app, name="report")
app.add_typer(invoice.invoice_app, name="invoice")
app.add_typer(access.user_app, name="user")
app.add_typer(access.token_app, name="token")
app.add_typer(epj.epj_app, name="epj")
