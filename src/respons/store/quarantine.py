"""Quarantine: input that could not become an alarm, kept for an administrator.

The raw body is kept as bytes (``bytea`` / ``BLOB``), so anything a sender can put on the
wire is stored as it came: invalid UTF-8, NUL characters, encoded surrogates. The text
columns (message, headers, content type) may quote the sender's input, so they are made
safe first: PostgreSQL refuses NUL in text and JSON, and no database driver can encode a
lone surrogate, and a refusal to store what we refuse would turn a 422 into a 500.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, and_, func, insert, or_, select
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

# Column widths (store/tables.py): a longer value would be refused by PostgreSQL.
_CONTENT_TYPE_MAX = 100
_REMOTE_ADDR_MAX = 64
_REASON_MAX = 40


def safe_text(value: str) -> str:
    """``value`` with what no database column can hold written as escapes: a lone surrogate
    as ``\\udc80``, NUL as ``\\x00``. Everything else is unchanged."""
    if value.isascii() and "\x00" not in value:
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def keep(conn: Connection, raw: RawInput, *, reason: str, message: str, now: datetime) -> str:
    quarantine_id = str(uuid.uuid4())
    conn.execute(
        insert(quarantine).values(
            id=quarantine_id,
            received_at=now,
            source=raw.source,
            remote_addr=safe_text(raw.remote_addr)[:_REMOTE_ADDR_MAX] if raw.remote_addr else None,
            reason=reason[:_REASON_MAX],
            message=safe_text(message),
            content_type=safe_text(raw.content_type)[:_CONTENT_TYPE_MAX] if raw.content_type else None,
            headers={
                safe_text(k): safe_text(v) for k, v in raw.headers.items() if k.lower() not in _SECRET_HEADERS
            },
            body=bytes(raw.body),
        )
    )
    return quarantine_id


def list_unhandled(conn: Connection, limit: int = 100) -> list:
    """Whole rows, newest first (the receivers' tests read them; the API pages with ``page``)."""
    return conn.execute(
        select(quarantine)
        .where(quarantine.c.handled_at.is_(None))
        .order_by(quarantine.c.received_at.desc(), quarantine.c.id.desc())
        .limit(limit)
    ).all()


class UnknownCursor(LookupError):
    """The cursor names no unhandled quarantine item (handled since, or never existed)."""


def _columns(body_bytes: int | None) -> list[Any]:
    """The row without ``body``, plus at most ``body_bytes`` of it and its full size.

    The database cuts the body, so a page of items that were each sent as 10 MB costs the
    server no more memory than the page returns."""
    # coalesce: SQLite's substr() of an empty blob is NULL, not an empty blob (a quarantined
    # empty body made the list answer 500; found by tests/chaos/test_schemathesis.py).
    body = quarantine.c.body if body_bytes is None else func.coalesce(
        func.substr(quarantine.c.body, 1, body_bytes, type_=LargeBinary), quarantine.c.body, type_=LargeBinary)
    others = [c for c in quarantine.c if c.name != "body"]
    return [*others, body.label("body"), func.length(quarantine.c.body).label("body_size")]


def page(conn: Connection, *, limit: int, after: str | None, body_bytes: int) -> tuple[list, bool]:
    """Unhandled items newest first, ``limit`` at a time, each body cut to ``body_bytes``.

    ``after`` is the id of the last item of the previous page (a keyset cursor: items that
    arrive while an administrator pages do not shift the pages). Returns the rows and
    whether there are more.
    """
    query = select(*_columns(body_bytes)).where(quarantine.c.handled_at.is_(None))
    if after is not None:
        last = conn.execute(
            select(quarantine.c.received_at, quarantine.c.id).where(
                quarantine.c.id == after, quarantine.c.handled_at.is_(None)
            )
        ).first()
        if last is None:
            raise UnknownCursor(after)
        query = query.where(
            or_(
                quarantine.c.received_at < last.received_at,
                and_(quarantine.c.received_at == last.received_at, quarantine.c.id < last.id),
            )
        )
    rows = conn.execute(
        query.order_by(quarantine.c.received_at.desc(), quarantine.c.id.desc()).limit(limit + 1)
    ).all()
    return rows[:limit], len(rows) > limit


def one(conn: Connection, quarantine_id: str):
    """One item with its whole body (handled or not), or None."""
    return conn.execute(select(*_columns(None)).where(quarantine.c.id == quarantine_id)).first()


def counts_by_handled(conn: Connection) -> dict[bool, int]:
    """How many items are kept, by whether an administrator has handled them (for the metrics)."""
    counts = dict(conn.execute(
        select(quarantine.c.handled_at.is_not(None), func.count()).group_by(quarantine.c.handled_at.is_not(None))
    ).all())
    # PostgreSQL says True/False, SQLite 1/0: equal keys in a dict either way.
    return {False: counts.get(False, 0), True: counts.get(True, 0)}
