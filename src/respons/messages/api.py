"""The HTTP SMS provider's callbacks: delivery receipts and replies (docs/messages.md,
"HTTP SMS API"). The provider authenticates with RESPONS_SMS_CALLBACK_TOKEN; without one set,
the callbacks do not exist (404)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from respons.messages import service
from respons.web.access import public
from respons.web.bounds import Text
from respons.web.errors import ErrorOut
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])


class ReceiptIn(BaseModel):
    id: Text = Field(min_length=1, max_length=100, description="The provider's id of the message.")
    reference: Text | None = Field(default=None, max_length=100, description="Respons's reference, as sent.")
    status: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z_]+$",
                        description="delivered, failed, expired, … (SMPP's DELIVRD, UNDELIV, … too)")
    error: Text | None = Field(default=None, max_length=500)


class InboundIn(BaseModel):
    from_: str = Field(alias="from", min_length=3, max_length=20, pattern=r"^\+?[0-9]{3,19}$",
                       description="The sender's phone number.")
    to: str | None = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9+]{1,20}$")
    text: Text = Field(max_length=2000)


class ReceiptOut(BaseModel):
    known: bool = Field(description="False: no message of ours has this id (logged and ignored).")


class InboundOut(BaseModel):
    outcome: str | None = Field(description="confirmed, late, used, declined, noted, unclear; null: the number "
                                            "was sent no request")


CALLBACK_ERRORS = {401: {"model": ErrorOut, "description": "Wrong or missing callback token."},
                   404: {"model": ErrorOut, "description": "No SMS callbacks on this installation "
                                                           "(RESPONS_SMS_CALLBACK_TOKEN is not set)."}}


def _refused(request: Request) -> JSONResponse | None:
    expected = runtime(request).settings.sms_callback_token
    if not expected:
        return JSONResponse({"error": "not_found", "message": "No SMS callbacks on this installation."}, status_code=404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        return JSONResponse({"error": "unauthorized", "message": "Wrong or missing callback token."}, status_code=401)
    return None


@router.post("/receipts", dependencies=[Depends(public())], response_model=ReceiptOut, responses=CALLBACK_ERRORS,
             summary="A delivery receipt from the HTTP SMS provider")
async def receipt(request: Request, body: ReceiptIn):
    """A delivery receipt. One for a message Respons did not send is logged and ignored (200,
    so the provider stops sending it)."""
    if (refusal := _refused(request)) is not None:
        return refusal
    rt = runtime(request)
    row = await rt.journal.run(lambda conn: service.receipt(conn, provider="http", ref=body.id, stat=body.status,
                                                            number=None, text_start="", now=rt.clock()))
    return {"known": row is not None}


@router.post("/inbound", dependencies=[Depends(public())], response_model=InboundOut, responses=CALLBACK_ERRORS,
             summary="An SMS to the centre's number, from the HTTP SMS provider")
async def inbound(request: Request, body: InboundIn):
    """An SMS to the centre's number: a reply to a next-of-kin request confirms or declines it."""
    if (refusal := _refused(request)) is not None:
        return refusal
    rt = runtime(request)
    outcome = await rt.journal.run(lambda conn: service.reply(conn, number=body.from_, text=body.text, now=rt.clock()))
    return {"outcome": outcome}
