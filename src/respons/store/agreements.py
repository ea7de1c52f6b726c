"""The agreements between the centre and its municipalities, as access control reads them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.domain.access import AgreementPeriod
from respons.store.tables import agreements


def periods(conn: Connection) -> list[AgreementPeriod]:
    """Every agreement's period; ``domain.access.derive_scope`` decides which are in force."""
    return [
        AgreementPeriod(r.municipality_id, r.valid_from, r.valid_to)
        for r in conn.execute(select(agreements.c.municipality_id, agreements.c.valid_from, agreements.c.valid_to))
    ]
