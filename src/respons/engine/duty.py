"""Who is on duty where, as the responder app shows it: a worker's zones (or technician
duty) and the zones they may log in to.

Reads only; going on and off duty are units of work in ``engine/routing.py``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.store.tables import responder_presence, zones


def on_duty(conn: Connection, user_id: int) -> list[dict]:
    """The worker's open presence rows: ``zone_id`` and ``zone`` (None for technician duty),
    ``role`` and ``municipality_id``."""
    rows = conn.execute(
        select(responder_presence.c.zone_id, responder_presence.c.role, responder_presence.c.municipality_id,
               zones.c.name.label("zone"))
        .outerjoin(zones, zones.c.id == responder_presence.c.zone_id)
        .where(responder_presence.c.user_id == user_id, responder_presence.c.logged_out_at.is_(None))
    ).all()
    return [dict(r._mapping) for r in rows]


def zone_choices(conn: Connection, municipality_ids: frozenset[int]) -> list[dict]:
    """The zones of these municipalities by name (``id``, ``name``, ``municipality_id``)."""
    rows = conn.execute(select(zones.c.id, zones.c.name, zones.c.municipality_id)
                        .where(zones.c.municipality_id.in_(sorted(municipality_ids)))
                        .order_by(zones.c.name)).all()
    return [dict(z._mapping) for z in rows]
