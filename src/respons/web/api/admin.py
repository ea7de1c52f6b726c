"""Administration: the quarantine of input that did not become an alarm."""

from __future__ import annotations

import base64
from typing import Annotated
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from respons.domain.access import Role
from respons.store import quarantine
from respons.web.access import access
from respons.web.errors import ErrorOut, error_response
from respons.web.bounds import Text
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

# Quarantined input may hold personal data of any municipality: host administrators only.
host_admin = access(Role.HOST_ADMIN)

# A page is at most this many items, each with at most this much of its body: a list of
# a thousand 64 KiB bodies (or, before the intake had a limit, 10 MB ones) is not a page.
PAGE_MAX = 200
BODY_BYTES_DEFAULT = 4096
BODY_BYTES_MAX = 65536


class QuarantinedOut(BaseModel):
    id: str
    received_at: datetime
    source: str
    remote_addr: str | None
    reason: str
    message: str
    content_type: str | None
    body: str = Field(description="The body as received (or its first `body_bytes` bytes, see `body_truncated`).")
    body_encoding: str = Field(description="`utf-8` when the bytes returned are UTF-8 text, else `base64`.")
    body_size: int = Field(description="The size of the whole body as kept, in bytes.")
    body_truncated: bool = Field(
        description="True when `body` is only the start; `GET /api/v1/admin/quarantine/{id}` returns it whole."
    )


@router.get(
    "/quarantine",
    response_model=list[QuarantinedOut],
    summary="Input kept in quarantine",
    description=(
        "Requests that could not become an alarm and are not yet handled, newest first, with the reason and the "
        f"start of the raw body. At most `limit` items (≤ {PAGE_MAX}) with at most `body_bytes` bytes of body each "
        f"(≤ {BODY_BYTES_MAX}). When there are more, the `Link` header names the next page "
        '(`<…?after=ID…>; rel="next"`): pass the last item\'s id as `after`.'
    ),
    dependencies=[Depends(host_admin)],
    responses={404: {"model": ErrorOut, "description": "`after` names no unhandled quarantine item."}},
)
def list_quarantine(
    request: Request,
    response: Response,
    limit: int = Query(50, ge=1, le=PAGE_MAX, description="Items on this page."),
    after: Text | None = Query(None, max_length=36, description="The id of the last item of the previous page."),
    body_bytes: int = Query(BODY_BYTES_DEFAULT, ge=0, le=BODY_BYTES_MAX, description="Bytes of each body returned."),
):
    with runtime(request).engine.connect() as conn:
        try:
            rows, more = quarantine.page(conn, limit=limit, after=after, body_bytes=body_bytes)
        except quarantine.UnknownCursor:
            return error_response(
                404, "not_found", f"No unhandled quarantine item {after!r} to continue after; start from the first page."
            )
    if more and rows:
        query = urlencode({"limit": limit, "after": rows[-1].id, "body_bytes": body_bytes})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return [_out(r) for r in rows]


@router.get(
    "/quarantine/{quarantine_id}",
    response_model=QuarantinedOut,
    summary="One quarantine item with its whole body",
    dependencies=[Depends(host_admin)],
    responses={404: {"model": ErrorOut, "description": "No such quarantine item."}},
)
def get_quarantined(request: Request, quarantine_id: Annotated[Text, Path(max_length=36)]):
    with runtime(request).engine.connect() as conn:
        row = quarantine.one(conn, quarantine_id)
    if row is None:
        return error_response(404, "not_found", f"No quarantine item {quarantine_id!r}.")
    return _out(row)


def _out(row) -> QuarantinedOut:
    data = bytes(row.body)
    truncated = len(data) < row.body_size
    text = _utf8(data, cut=truncated)
    body, encoding = (text, "utf-8") if text is not None else (base64.b64encode(data).decode("ascii"), "base64")
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
        body_size=row.body_size,
        body_truncated=truncated,
    )


def _utf8(data: bytes, *, cut: bool) -> str | None:
    """The bytes as text if they are UTF-8; a character split by the cut is left out."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only an incomplete last character (at most 3 bytes) is the cut's doing.
        if cut and exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            try:
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None
