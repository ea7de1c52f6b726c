"""``respons epj …``: where each municipality's EPJ receives documents, and how delivery goes."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from respons.cli.common import SYSTEM_ACTOR, console, database, municipality_id, refuse, transaction
from respons.epj import endpoints, outbox
from respons.registry.service import list_municipalities

epj_app = typer.Typer(help="The patient record (EPJ) through VKP: endpoints and delivery.", no_args_is_help=True)


@epj_app.command("endpoint")
def epj_endpoint(
    municipality: str = typer.Argument(..., help="The municipality's number (kommunenummer), e.g. 4204."),
    base_url: str = typer.Option(..., "--base-url", help="The EPJ's FHIR base URL (VKP), e.g. https://vkp.example/fhir."),
    auth: str = typer.Option("mtls", "--auth", help="none (a test server only), mtls or helseid."),
    cert: Optional[str] = typer.Option(None, "--cert", help="Client certificate file (PEM) for mutual TLS."),
    key: Optional[str] = typer.Option(None, "--key", help="Client key file: PEM for mutual TLS; for HelseID the "
                                                          "signing key, the private JWK from HelseID or a PEM key."),
    client_id: Optional[str] = typer.Option(None, "--client-id", help="HelseID: the client id."),
    token_url: Optional[str] = typer.Option(None, "--token-url", help="HelseID: the token endpoint, e.g. "
                                                                      "https://helseid-sts.test.nhn.no/connect/token."),
    scope: Optional[str] = typer.Option(None, "--scope", help="HelseID: the scopes to ask for (space-separated)."),
    ca: Optional[str] = typer.Option(None, "--ca", help="CA bundle that signs the EPJ's certificate (default: the system's)."),
    disable: bool = typer.Option(False, "--disable", help="Keep the endpoint but deliver nothing (documents wait)."),
) -> None:
    """Set where the municipality's EPJ receives documents (replaces what was set)."""
    with transaction() as (conn, now):
        target = municipality_id(conn, municipality)
        try:
            endpoints.set_endpoint(conn, target, base_url=base_url, auth=auth, now=now, actor=SYSTEM_ACTOR,
                                   key_file=key, cert_file=cert, ca_file=ca, enabled=not disable,
                                   client_id=client_id, token_url=token_url, scope=scope)
        except endpoints.BadEndpoint as exc:
            refuse(str(exc), 2)
    console.print(f"EPJ endpoint of {municipality}: {base_url} ({auth}{', disabled' if disable else ''})",
                  style="green", markup=False)


@epj_app.command("status")
def epj_status() -> None:
    """Documents per municipality and delivery state."""
    with database() as engine, engine.connect() as conn:
        names = {m["id"]: f"{m['number']} {m['name']}" for m in list_municipalities(conn)}
        rows = outbox.counts(conn)
    table = Table("Municipality", "State", "Documents")
    for municipality, state, count in rows:
        table.add_row(names.get(municipality, str(municipality)), state, str(count))
    console.print(table)


@epj_app.command("resend")
def epj_resend(alarm_id: str = typer.Argument(..., help="The alarm whose document to send again.")) -> None:
    """Send an alarm's newest document again now (after a refusal's cause is fixed)."""
    with transaction() as (conn, now):
        if outbox.resend(conn, alarm_id, now=now, actor=SYSTEM_ACTOR) is None:
            refuse(f"Alarm {alarm_id} has no document waiting, refused or failed.")
    console.print(f"The document of alarm {alarm_id} is due now.", style="green", markup=False)
