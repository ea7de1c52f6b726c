"""The audit log for auditors: who looked at whom, when, and why.

Reading the audit log is itself personal data about staff and recipients, so it is limited
to auditors and host administrators, each within their audit scope.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from respons.auth import audit
from respons.clock import OSLO
from respons.domain.access import Role
from respons.web.access import Principal, access
from respons.web.bounds import DbId, Text
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditRecordOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    municipality_id: int | None
    recipient_id: int | None
    alarm_id: str | None
    purpose: str | None
    details: dict[str, Any]


@router.get("/audit", response_model=list[AuditRecordOut], summary="Search the audit log")
def search_audit(
    request: Request,
    principal: Principal = Depends(access(Role.AUDITOR, Role.HOST_ADMIN)),
    recipient_id: DbId | None = Query(None, description="Everything that concerns this service recipient."),
    actor: Text | None = Query(None, description="e.g. `user:12` or `token:3`.", max_length=100),
    action: Text | None = Query(None, description="e.g. `read_recipient`, `login_failed`.", max_length=40),
    since: date | None = Query(None, description="First day, Oslo calendar date (inclusive)."),
    until: date | None = Query(None, description="Last day, Oslo calendar date (inclusive)."),
    limit: int = Query(500, ge=1, le=5000),
):
    """Newest first. Days are Oslo calendar days, so a report period matches the centre's own day."""
    with runtime(request).engine.connect() as conn:
        return audit.search(
            conn,
            actor=actor,
            recipient_id=recipient_id,
            action=action,
            start=_oslo_midnight(since) if since else None,
            end=_oslo_midnight(until + timedelta(days=1)) if until and until < date.max else None,
            municipality_ids=principal.scope.audit,
            limit=limit,
        )


def _oslo_midnight(day: date) -> datetime | None:
    """Midnight in Oslo, in UTC (23:00 or 22:00 the day before, depending on DST; zoneinfo
    knows which). None at the calendar's first day, whose midnight in UTC falls before year 1:
    "since 0001-01-01" means no lower bound, not an overflow (500)."""
    try:
        return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(timezone.utc)
    except OverflowError:
        return None
