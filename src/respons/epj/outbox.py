"""The outbox of VKP documents: written in the unit of work that ends an alarm, delivered
after the commit (docs/epj.md, "Delivery states"). This module owns ``epj_documents``.

A journal reaction (respons/runtime.py) calls ``react`` with each committed change of the
unit: a close, a clear (the cause went away, or the storm group closed) or an addendum to a
closed alarm puts a new version of the alarm's document here, in the same transaction — so
the document exists if and only if the change does. Building it never stops the change: a
document that cannot be built or does not validate is kept as *not documented*, with why.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, insert, select, update

from respons.domain.lifecycle import EventKind, State
from respons.epj import document, validation
from respons.epj.store import alarm_record
from respons.store.alarms import municipality_of
from respons.store.tables import epj_documents

log = logging.getLogger(__name__)

WAITING, DELIVERED, REFUSED, FAILED = "waiting", "delivered", "refused", "failed"
NOT_DOCUMENTED, SUPERSEDED = "not_documented", "superseded"


def react(conn: Connection, change: dict[str, Any]) -> None:
    """A journal reaction: a new version of the document when the alarm ends or is amended."""
    kind, state = change.get("event"), change.get("state")
    ends = kind in (EventKind.CLOSED.value, EventKind.CLEARED.value)
    addendum = kind == EventKind.NOTE.value and state == State.CLOSED.value
    if ends or addendum:
        enqueue(conn, change["alarm_id"])


def enqueue(conn: Connection, alarm_id: str) -> int | None:
    """Build, validate and queue the alarm's document as its timeline stands; the row's id, or
    None for an alarm that belongs to no patient record (a storm's group alarm, a spare device)."""
    try:
        record = alarm_record(conn, alarm_id)
    except document.NotDocumentable as exc:
        if exc.reason == "no_recipient":
            return None
        raise
    version, now = len(record.events), max(e.at for e in record.events)
    bundle, problems = None, None
    try:
        bundle = document.build(record)
        findings = validation.validate(bundle)
        if findings:
            problems = [str(f) for f in findings]
    except document.NotDocumentable as exc:
        problems = [f"{exc.reason}: {exc}"]
    except Exception as exc:  # noqa: BLE001 - a fault in building must never undo the close
        log.exception("could not build the VKP document of alarm %s", alarm_id)
        problems = [f"internal: {type(exc).__name__}: {exc}"]
    conn.execute(update(epj_documents)
                 .where(epj_documents.c.alarm_id == alarm_id, epj_documents.c.state == WAITING,
                        epj_documents.c.version < version)
                 .values(state=SUPERSEDED, due_at=None))
    existing = conn.execute(select(epj_documents.c.id).where(epj_documents.c.alarm_id == alarm_id,
                                                              epj_documents.c.version == version)).scalar()
    if existing is not None:
        return existing  # the same version again (a unit written twice): one row
    valid = problems is None
    return conn.execute(insert(epj_documents).values(
        alarm_id=alarm_id, municipality_id=municipality_of(conn, alarm_id), version=version,
        state=WAITING if valid else NOT_DOCUMENTED, bundle=bundle if valid else None, problems=problems,
        due_at=now if valid else None, created_at=now,
    )).inserted_primary_key[0]


def documents_of(conn: Connection, alarm_id: str) -> list[dict[str, Any]]:
    """The alarm's documents, newest version first (the card and the administrator's list)."""
    rows = conn.execute(select(epj_documents).where(epj_documents.c.alarm_id == alarm_id)
                        .order_by(epj_documents.c.version.desc()))
    return [dict(r._mapping) for r in rows]


