"""supervision_plans: the one owner of the table (docs/architecture.md, "Owners")."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from respons.digital_supervision.plans import AgreedTime, Kind, Plan
from respons.store.tables import supervision_plans


def add(conn: Connection, *, municipality_id: int, recipient_id: int, plan: Plan, now: datetime, actor: str) -> int:
    return conn.execute(insert(supervision_plans).values(
        municipality_id=municipality_id, recipient_id=recipient_id, kind=plan.kind.value,
        times=[{"at": t.at.strftime("%H:%M"), "weekdays": sorted(t.weekdays)} for t in plan.times],
        max_seconds=plan.max_seconds, event_based=plan.event_based, checklist=list(plan.checklist),
        instructions=plan.instructions or None, consent_by=plan.consent_by, consent_on=plan.consent_on,
        valid_from=plan.valid_from, valid_to=plan.valid_to, created_at=now, created_by=actor,
    )).inserted_primary_key[0]


def of_recipient(conn: Connection, recipient_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(supervision_plans).where(supervision_plans.c.recipient_id == recipient_id)
                        .order_by(supervision_plans.c.valid_from, supervision_plans.c.id)).mappings()
    return [dict(r) for r in rows]


def plan_of(row: dict[str, Any]) -> Plan:
    return Plan(kind=Kind(row["kind"]),
                times=tuple(AgreedTime(time.fromisoformat(t["at"]), frozenset(t["weekdays"])) for t in row["times"]),
                max_seconds=row["max_seconds"], consent_by=row["consent_by"], consent_on=row["consent_on"],
                valid_from=row["valid_from"], valid_to=row["valid_to"], event_based=row["event_based"],
                checklist=tuple(row["checklist"]), instructions=row["instructions"] or "")


def get(conn: Connection, plan_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(supervision_plans).where(supervision_plans.c.id == plan_id)).mappings().first()
    return dict(row) if row else None


def end(conn: Connection, plan_id: int, valid_to) -> None:
    conn.execute(update(supervision_plans).where(supervision_plans.c.id == plan_id).values(valid_to=valid_to))
