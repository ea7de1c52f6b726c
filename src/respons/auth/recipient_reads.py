"""Looking at a recipient's record (Normen): the look is written to the hash-chained audit
log, and committed, before the record is shown.

The console's alarm card, the responder app's alarm page and the operator API's alarm all
read a recipient this way, so the rule lives in one place.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Engine

from respons.auth import audit
from respons.clock import Clock
from respons.store import queries
from respons.store.journal import Journal

PURPOSE = "alarm"


async def read_for_alarm(journal: Journal, engine: Engine, clock: Clock, *, actor: str, alarm: Mapping[str, Any],
                         via: str | None = None, card: bool = True) -> dict | None:
    """Audit ``actor``'s look at the recipient of ``alarm`` (an ``alarm_detail``), then return
    the recipient's card (``queries.recipient_card``, the alarm itself left out of its recent
    alarms). ``via`` names the screen in the audit record. ``card=False``: the caller shows
    what the alarm already carries (name, address); only the look is audited. None when the
    alarm has no recipient (nothing is audited) or without ``card``.

    If the audit record does not commit (``JournalUnavailable``), nothing is returned."""
    recipient_id = alarm["recipient_id"]
    if recipient_id is None:
        return None
    await journal.run(lambda conn: audit.append(
        conn, now=clock(), actor=actor, action=audit.READ_RECIPIENT, municipality_id=alarm["municipality_id"],
        recipient_id=recipient_id, alarm_id=alarm["id"], purpose=PURPOSE, details={"via": via} if via else {}))
    if not card:
        return None
    with engine.connect() as conn:
        return queries.recipient_card(conn, recipient_id, now=clock(), exclude_alarm=alarm["id"])
