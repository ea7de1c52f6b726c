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
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, or_, select, update

from respons.auth import audit
from respons.domain.alarm_types import NOT_A_SERVICE
from respons.domain.lifecycle import EventKind, State
from respons.epj import delivery, document, validation
from respons.epj import mapping as vkp
from respons.epj.store import alarm_record, dose_record, lookin_record
from respons.store.alarms import municipality_of
from respons.store.db import claimable_ids
from respons.store.tables import alarms, epj_documents, medication_doses, supervision_lookins

log = logging.getLogger(__name__)

WAITING, DELIVERED, REFUSED, FAILED = "waiting", "delivered", "refused", "failed"
NOT_DOCUMENTED, SUPERSEDED = "not_documented", "superseded"


def react(conn: Connection, change: dict[str, Any]) -> None:
    """A journal reaction: a new version of the document when the alarm ends or is amended."""
    kind, state = change.get("event"), change.get("state")
    # The members, not .value (StrEnum: equal to their text), for every change of every alarm.
    ends = kind == EventKind.CLOSED or kind == EventKind.CLEARED
    addendum = kind == EventKind.NOTE and state == State.CLOSED
    if ends or addendum:
        enqueue(conn, change["alarm_id"])
    elif kind == "lookin" and change.get("what") == "finished":
        # A supervision look-in's outcome was recorded (digital_supervision/lookins.finish).
        enqueue_lookin(conn, change["lookin_id"])


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
    conn.execute(update(epj_documents)
                 .where(epj_documents.c.alarm_id == alarm_id, epj_documents.c.state == WAITING,
                        epj_documents.c.version < version)
                 .values(state=SUPERSEDED, due_at=None))
    existing = conn.execute(select(epj_documents.c.id).where(epj_documents.c.alarm_id == alarm_id,
                                                              epj_documents.c.version == version)).scalar()
    if existing is not None:
        return existing  # the same version again (a unit written twice): one row
    return _queue(conn, lambda: document.build(record), alarm_id=alarm_id, version=version,
                  municipality_id=municipality_of(conn, alarm_id), now=now)


def enqueue_dose(conn: Connection, dose_id: str, *, now: datetime) -> int:
    """Build, validate and queue a dispenser's dose (epj/doses.py) as a VkpMedicationDispense."""
    dose = dose_record(conn, dose_id)
    municipality_id = conn.execute(select(medication_doses.c.municipality_id)
                                   .where(medication_doses.c.id == dose_id)).scalar_one()
    return _queue(conn, lambda: document.build_dose(dose), dose_id=dose_id, version=1,
                  municipality_id=municipality_id, now=now)


def enqueue_lookin(conn: Connection, lookin_id: int) -> int | None:
    """Build, validate and queue a finished look-in's document (a VkpEncounter and a
    VkpComposition); None for a look at the home's sensors, which VKP has no way to say
    (mapping.GAPS["sensor_look_in"]: left out, not listed night after night as undelivered)."""
    existing = conn.execute(select(epj_documents.c.id).where(epj_documents.c.lookin_id == lookin_id)).scalar()
    if existing is not None:
        return existing  # the same unit written twice: one row
    record = lookin_record(conn, lookin_id)
    if vkp.look_in_codes(record.method, record.event_based) is None:
        return None
    municipality_id = conn.execute(select(supervision_lookins.c.municipality_id)
                                   .where(supervision_lookins.c.id == lookin_id)).scalar_one()
    return _queue(conn, lambda: document.build_lookin(record), lookin_id=lookin_id, version=1,
                  municipality_id=municipality_id, now=record.finished_at)


def _queue(conn: Connection, build, *, version: int, municipality_id: int, now: datetime, alarm_id: str | None = None,
           dose_id: str | None = None, lookin_id: int | None = None) -> int:
    """The document as ``waiting`` when it builds and validates, else ``not_documented`` with why."""
    bundle, problems = None, None
    try:
        bundle = build()
        findings = validation.validate(bundle)
        if findings:
            problems = [str(f) for f in findings]
    except document.NotDocumentable as exc:
        problems = [f"{exc.reason}: {exc}"]
    except Exception as exc:  # noqa: BLE001 - a fault in building must never undo the close
        log.exception("could not build the VKP document of %s",
                      alarm_id or (f"dose {dose_id}" if dose_id else f"look-in {lookin_id}"))
        problems = [f"internal: {type(exc).__name__}: {exc}"]
    valid = problems is None
    return conn.execute(insert(epj_documents).values(
        alarm_id=alarm_id, dose_id=dose_id, lookin_id=lookin_id, municipality_id=municipality_id, version=version,
        state=WAITING if valid else NOT_DOCUMENTED, bundle=bundle if valid else None, problems=problems,
        due_at=now if valid else None, created_at=now,
    )).inserted_primary_key[0]


def latest(conn: Connection, alarm_id: str) -> dict[str, Any] | None:
    """The newest version of the alarm's document (the card shows its state), or None."""
    row = conn.execute(select(epj_documents.c.state, epj_documents.c.attempts, epj_documents.c.delivered_at)
                       .where(epj_documents.c.alarm_id == alarm_id)
                       .order_by(epj_documents.c.version.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def documents_of(conn: Connection, alarm_id: str) -> list[dict[str, Any]]:
    """The alarm's documents, newest version first (the card and the administrator's list)."""
    rows = conn.execute(select(epj_documents).where(epj_documents.c.alarm_id == alarm_id)
                        .order_by(epj_documents.c.version.desc()))
    return [dict(r._mapping) for r in rows]




# --- delivery: claimed by a node's worker, answered, recorded --------------------------------

@dataclass(frozen=True)
class Claim:
    document_id: int
    alarm_id: str | None  # None: a dispenser's dose (dose_id) or a look-in (lookin_id)
    municipality_id: int
    bundle: dict
    attempts: int
    token: str  # the claim's fence: only this claim may record the answer
    dose_id: str | None = None
    lookin_id: int | None = None

    @property
    def subject(self) -> str:
        """What the document records, for the logs."""
        if self.alarm_id:
            return f"alarm {self.alarm_id}"
        return f"dose {self.dose_id}" if self.dose_id else f"look-in {self.lookin_id}"


def claim_due(conn: Connection, *, now: datetime, node: str, lease: timedelta, limit: int = 20) -> list[Claim]:
    """Documents due for delivery, claimed for ``lease`` (like the timers, engine/timers.py: a
    claim another node holds is skipped, one whose node died is taken after its lease)."""
    older = epj_documents.alias("older")
    # A version an addendum superseded while a node was sending it keeps that claim's lease:
    # the newer waits for it, so that it reaches the EPJ last (the EPJ keeps the last one).
    older_in_flight = exists().where(older.c.alarm_id == epj_documents.c.alarm_id,
                                     older.c.version < epj_documents.c.version, older.c.lease_until >= now)
    due = and_(epj_documents.c.state == WAITING, epj_documents.c.due_at <= now,
               or_(epj_documents.c.lease_until.is_(None), epj_documents.c.lease_until < now), ~older_in_flight)
    candidates = select(epj_documents.c.id).where(due).order_by(epj_documents.c.due_at, epj_documents.c.id).limit(limit)
    ids = claimable_ids(conn, candidates, "due_documents")
    token = f"{node}/{uuid.uuid4()}"
    rows = conn.execute(
        update(epj_documents).where(epj_documents.c.id.in_(ids), due)
        .values(claimed_by=token, lease_until=now + lease)
        .returning(epj_documents.c.id, epj_documents.c.alarm_id, epj_documents.c.municipality_id,
                   epj_documents.c.bundle, epj_documents.c.attempts, epj_documents.c.due_at, epj_documents.c.dose_id,
                   epj_documents.c.lookin_id)
    ).all()
    rows.sort(key=lambda r: (r.due_at, r.id))
    return [Claim(r.id, r.alarm_id, r.municipality_id, r.bundle, r.attempts, token, r.dose_id, r.lookin_id)
            for r in rows]


def record(conn: Connection, claim: Claim, result: delivery.Result, *, now: datetime) -> bool:
    """The EPJ's answer, if the claim still holds (False: its lease ran out and another node
    took it, or a newer version superseded it; that node's answer counts)."""
    attempts = claim.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "lease_until": None,
                              "status_code": result.status_code, "outcome": result.outcome, "last_error": result.error}
    if result.verdict == delivery.DELIVERED:
        values.update(state=DELIVERED, due_at=None, delivered_at=now, last_error=None)
    elif result.verdict == delivery.REFUSED:
        values.update(state=REFUSED, due_at=None)
    else:
        values.update(due_at=now + delivery.next_attempt_in(attempts))
    done = conn.execute(update(epj_documents)
                        .where(epj_documents.c.id == claim.document_id, epj_documents.c.claimed_by == claim.token,
                               epj_documents.c.state == WAITING)
                        .values(**values))
    if done.rowcount == 1:
        return True
    # Superseded while it was sent: its send is over, so the newer version need not wait
    # for this claim's lease to run out (claim_due).
    conn.execute(update(epj_documents).where(epj_documents.c.id == claim.document_id,
                                             epj_documents.c.claimed_by == claim.token,
                                             epj_documents.c.state == SUPERSEDED)
                 .values(claimed_by=None, lease_until=None))
    return False


def still_claimed(conn: Connection, claim: Claim) -> bool:
    """Whether the claim still holds, read just before sending: a version an addendum
    superseded meanwhile must not reach the EPJ after the newer one (the EPJ keeps whichever
    came last)."""
    return conn.execute(select(epj_documents.c.id).where(
        epj_documents.c.id == claim.document_id, epj_documents.c.claimed_by == claim.token,
        epj_documents.c.state == WAITING)).first() is not None


def _newest():
    """No newer version of the same alarm's document (doses and look-ins have one each)."""
    newer = epj_documents.alias("newer")
    return ~exists().where(newer.c.alarm_id == epj_documents.c.alarm_id, newer.c.version > epj_documents.c.version)


def resend(conn: Connection, alarm_id: str, *, now: datetime, actor: str) -> int | None:
    """An administrator's re-send of the alarm's newest document (see ``resend_document``)."""
    newest = conn.execute(select(epj_documents.c.id).where(epj_documents.c.alarm_id == alarm_id)
                          .order_by(epj_documents.c.version.desc()).limit(1)).scalar()
    return None if newest is None else resend_document(conn, newest, now=now, actor=actor)


def resend_document(conn: Connection, document_id: int, *, now: datetime, actor: str) -> int | None:
    """An administrator's re-send: the document, refused or not yet delivered, is due now (a
    refusal is only worth sending again once its cause is fixed at the EPJ). Only the newest
    version of an alarm's document. In the audit log."""
    row = conn.execute(select(epj_documents.c.id, epj_documents.c.state, epj_documents.c.alarm_id,
                              epj_documents.c.dose_id, epj_documents.c.lookin_id, epj_documents.c.municipality_id)
                       .where(epj_documents.c.id == document_id, _newest())).first()
    if row is None or row.state not in (WAITING, REFUSED, FAILED):
        return None  # unknown, on its way or done, or an older version: sent now, it would undo the newer
    conn.execute(update(epj_documents).where(epj_documents.c.id == row.id)
                 .values(state=WAITING, due_at=now, claimed_by=None, lease_until=None))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, alarm_id=row.alarm_id,
                 municipality_id=row.municipality_id,
                 details={"entity": "epj_document", "document_id": row.id, "resend": True, "was": row.state,
                          **({"dose_id": row.dose_id} if row.dose_id else {}),
                          **({"lookin_id": row.lookin_id} if row.lookin_id else {})})
    return row.id


def undelivered(conn: Connection, *, limit: int = 500) -> list[dict[str, Any]]:
    """The newest version of each document that has not reached the EPJ and is not on its way
    without trouble: refused, not documented, or waiting after a failed try (the
    administrator's list), newest first."""
    rows = conn.execute(
        select(epj_documents.c.id, epj_documents.c.alarm_id, epj_documents.c.dose_id, epj_documents.c.lookin_id,
               epj_documents.c.municipality_id, epj_documents.c.version, epj_documents.c.state,
               epj_documents.c.attempts, epj_documents.c.due_at, epj_documents.c.problems, epj_documents.c.outcome,
               epj_documents.c.last_error, epj_documents.c.status_code, epj_documents.c.created_at)
        .where(or_(epj_documents.c.state.in_((REFUSED, FAILED, NOT_DOCUMENTED)),
                   and_(epj_documents.c.state == WAITING, epj_documents.c.attempts > 0)), _newest())
        .order_by(epj_documents.c.created_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def documentation_rows(conn: Connection, *, municipality_id: int, start: datetime, end: datetime) -> list:
    """For the statistics (statistics/documentation.py): each closed alarm of the municipality
    received in [start, end) that belongs in a patient record — (closed_at, first delivered_at
    of any version, the newest document's state and attempts; None without a document)."""
    doc = epj_documents.c
    first_delivered = (select(func.min(doc.delivered_at)).where(doc.alarm_id == alarms.c.id)
                       .correlate(alarms).scalar_subquery())
    newest = (select(doc.state, doc.attempts).where(doc.alarm_id == alarms.c.id).order_by(doc.version.desc()).limit(1)
              .correlate(alarms))
    rows = conn.execute(select(alarms.c.closed_at, first_delivered.label("first_delivered"),
                               newest.with_only_columns(doc.state).scalar_subquery().label("state"),
                               newest.with_only_columns(doc.attempts).scalar_subquery().label("attempts"))
                        .where(alarms.c.municipality_id == municipality_id, alarms.c.received_at >= start,
                               alarms.c.received_at < end, alarms.c.closed_at.is_not(None),
                               alarms.c.recipient_id.is_not(None), alarms.c.source.not_in(NOT_A_SERVICE)))
    return [tuple(r) for r in rows]


def counts(conn: Connection) -> list[tuple[int, str, int]]:
    """(municipality id, state, documents) for the status overview."""
    return [tuple(r) for r in conn.execute(
        select(epj_documents.c.municipality_id, epj_documents.c.state, func.count())
        .group_by(epj_documents.c.municipality_id, epj_documents.c.state)
        .order_by(epj_documents.c.municipality_id, epj_documents.c.state))]
