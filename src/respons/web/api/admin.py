"""Administration: the quarantine of input that did not become an alarm."""

from __future__ import annotations

import base64
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from respons.domain.access import Role
from respons.store import quarantine
from respons.web.access import access
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class QuarantinedOut(BaseModel):
    id: str
    received_at: datetime
    source: str
    remote_addr: str | None
    reason: str
    message: str
    content_type: str | None
    body: str
    body_encoding: str


@router.get(
    "/quarantine",
    response_model=list[QuarantinedOut],
    summary="Input kept in quarantine",
    # Quarantined input may hold personal data of any municipality: host administrators only.
    dependencies=[Depends(access(Role.HOST_ADMIN))],
)
def list_quarantine(request: Request, limit: int = Query(100, ge=1, le=1000)):
    """Requests that could not become an alarm, newest first, with the reason and the raw body."""
    with runtime(request).engine.connect() as conn:
        rows = quarantine.list_unhandled(conn, limit)
    return [_out(r) for r in rows]


def _out(row) -> QuarantinedOut:
    try:
        body, encoding = row.body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(row.body).decode("ascii"), "base64"
    return QuarantinedOut(
        id=row.id,
        received_at=row.received_at,
        source=row.source,
        remote_addr=row.remote_addr,
        reason=row.reason,
        message=row.message,
        content_type=row.content_type,
        body=body,
        body_encoding=encoding,
    )
