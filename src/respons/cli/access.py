"""``respons user …`` and ``respons token …``: who may log in, and what may call the API."""

from __future__ import annotations

from typing import Optional

import typer

from respons.auth import accounts, totp
from respons.cli.common import SYSTEM_ACTOR, console, municipality_id, refuse, transaction
from respons.domain.access import Role

user_app = typer.Typer(help="People who log in: create users, grant roles, enrol two-factor log-in.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for vendor platforms and integrations.", no_args_is_help=True)


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
    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}") from None
    with transaction() as (conn, now):
        held_in = municipality_id(conn, municipality)
        try:
            _, secret = accounts.create_user_with_role(conn, username=username, display_name=name, password=password,
                                                       role=role_value, municipality_id=held_in, actor=SYSTEM_ACTOR,
                                                       now=now)
        except ValueError as exc:
            refuse(str(exc))
    console.print(f"[green]Created user {username} ({role_value.value}).[/green]")
    if secret:
        _print_totp(username, secret)


@user_app.command("totp")
def user_totp(username: str = typer.Argument(..., help="The user to enrol (or re-enrol) in two-factor log-in.")) -> None:
    """Give a user a new two-factor secret; the old one stops working."""
    with transaction() as (conn, now):
        secret = accounts.renew_totp_secret(conn, username, actor=SYSTEM_ACTOR, now=now)
        if secret is None:
            refuse(f"No user named {username!r}.")
    _print_totp(username, secret)


@user_app.command("unlock")
def user_unlock(
    username: str = typer.Argument(..., help="The user whose failed log-ins are forgotten."),
    address: Optional[str] = typer.Option(None, "--address", help="Only the failures from this address."),
) -> None:
    """End a user's log-in backoff at once (failed log-ins only slow; see docs/access.md)."""
    with transaction() as (conn, now):
        cleared = accounts.unlock(conn, username, actor=SYSTEM_ACTOR, now=now, remote_addr=address)
        if cleared is None:
            refuse(f"No user named {username!r}.")
    console.print(f"[green]Unlocked {username.lower()}: {cleared} failed log-in(s) forgotten.[/green]")


@token_app.command("create")
def token_create(
    municipality: str = typer.Option(..., "--municipality", help="Kommunenummer the token may send alarms for."),
    name: str = typer.Option(..., "--name", help="Who holds it, e.g. the vendor and product."),
    purpose: str = typer.Option("intake", "--purpose", help="intake (alarms) or integration."),
) -> None:
    """Issue an API token. It is shown once; only its hash is stored."""
    with transaction() as (conn, now):
        token_id, token = accounts.create_token(
            conn, name=name, municipality_id=municipality_id(conn, municipality), purpose=purpose,
            actor=SYSTEM_ACTOR, created_by=None, now=now,
        )
    console.print(f"Token {token_id} for kommune {municipality} ({purpose}). Shown once — store it now:")
    console.print(token, highlight=False, soft_wrap=True)


def _print_totp(username: str, secret: str) -> None:
    console.print(f"Two-factor secret for {username}: [bold]{secret}[/bold]")
    console.print(f"Authenticator app URI: {totp.provisioning_uri(secret, username)}", highlight=False, soft_wrap=True)
