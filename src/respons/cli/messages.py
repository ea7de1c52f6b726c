"""``respons push-keys``: a VAPID key pair for Web Push to the responder app (docs/messages.md)."""

from __future__ import annotations

import typer

from respons.messages import push


def push_keys() -> None:
    """Make a VAPID key pair for Web Push. Put the private key in RESPONS_VAPID_PRIVATE_KEY on
    every node (the same on all: phones subscribe with the public key), and keep it secret."""
    private, public = push.new_keys()
    typer.echo(f"RESPONS_VAPID_PRIVATE_KEY={private}")
    typer.echo(f"# public key (phones subscribe with it; Respons serves it at /app/push/key): {public}")
