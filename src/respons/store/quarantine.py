"""Quarantine: input that could not become an alarm, kept for an administrator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from respons.store.tables import quarantine


@dataclass(frozen=True)
class RawInput:
    source: str
    body: bytes
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    remote_addr: str | None = None


# Headers that carry credentials are not kept: the quarantine is for reading payloads.
_SECRET_HEADERS = {"authorization", "cookie", "x-api-key", "proxy-authorization"}


def keep(conn: Connection, raw: RawInput, *, reason: str, message: str, now: datetime) -> str:
    quarantine_id = str(uuid.uuid4())
    conn.execute(
        insert(quarantine).values(
            id=quarantine_id,
            received_at=now,
            source=raw.source,
            remote_addr=raw.remote_addr,
            reason=reason,
            message=message,
            content_type=raw.content_type,
            headers={k: v for k, v in raw.headers.items() if k.lower() not in _SECRET_HEADERS},
            body=raw.body,
        )
    )
    return quarantine_id


def list_unhandled(conn: Connection, limit: int = 100) -> list:
    return conn.execute(
        select(quarantine)
        .where(quarantine.c.handled_at.is_(None))
        .order_by(quarantine.c.received_at.desc())
        .limit(limit)
    ).all()
