"""The register look-ups the commands need, from the numbers people type.

They belong in registry/service.py; kept in this one module until it offers them, so that
they move in one piece and no command holds SQL of its own.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.store.tables import municipalities


def municipality_id_by_number(conn: Connection, number: str) -> int | None:
    return conn.execute(select(municipalities.c.id).where(municipalities.c.number == number)).scalar()


def every_municipality_id(conn: Connection) -> frozenset[int]:
    return frozenset(conn.execute(select(municipalities.c.id)).scalars())
