"""``POST /api/v1/alarms``: the HTTP intake."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from respons.domain.lifecycle import State
from respons.intake.http import AlarmIn, Rejected, describe_validation_errors, receive_http_alarm
from respons.store import quarantine
from respons.domain.alarm_types import alarm_type
from respons.store.journal import JournalUnavailable, Lane
from respons.store.quarantine import RawInput
from respons.web.access import Principal, access
from respons.web.errors import ErrorOut, error_response
from respons.web.runtime import runtime

# Vendor platforms and gateways use an API token with purpose "intake".
intake_access = access(token_purpose="intake")


class QuarantiningRoute(APIRoute):
    """Keeps a request that fails validation in quarantine before answering 422.

    FastAPI validates the body before our handler runs, so the handler alone could not
    keep a malformed alarm. This route reads (and caches) the raw body first.
    """

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def keep_invalid(request: Request):
            body = await request.body()
            try:
                return await handler(request)
            except RequestValidationError as exc:
                # FastAPI parses JSON before it runs dependencies; check the sender first,
                # so that nobody without a token can fill the quarantine.
                await intake_access(request, None)
                problems = describe_validation_errors(exc.errors())
                message = "The alarm was not accepted: " + "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
                rt = runtime(request)
                raw = _raw_input(request, body)
                try:
                    qid = await rt.journal.run(
                        lambda conn: quarantine.keep(conn, raw, reason="invalid_payload", message=message, now=rt.clock())
                    )
                except JournalUnavailable as unavailable:
                    return _unavailable(unavailable)
                return error_response(422, "invalid_payload", message, quarantine_id=qid, problems=problems)

        return keep_invalid


router = APIRouter(prefix="/api/v1", tags=["intake"], route_class=QuarantiningRoute)


class AlarmAccepted(BaseModel):
    alarm_id: str
    duplicate: bool
    state: State
    received_at: datetime


@router.post(
    "/alarms",
    status_code=202,
    response_model=AlarmAccepted,
    summary="Deliver an alarm",
    description=(
        "Answers **202 only after the alarm is durably committed**. Retrying with the same idempotency key "
        "(body field or `Idempotency-Key` header) returns the same `alarm_id` with `duplicate: true`. "
        "Needs an API token with purpose `intake` (`Authorization: Bearer rsp_…`); only devices of the "
        "token's municipality are accepted. "
        "A request that cannot become an alarm is kept in quarantine for an administrator and answered "
        "with 4xx, a message, and the `quarantine_id`. 503 means nothing was stored: retry."
    ),
    responses={
        401: {"model": ErrorOut, "description": "No valid API token (`Authorization: Bearer rsp_…`)."},
        409: {"model": ErrorOut, "description": "The idempotency key was used before for a different alarm."},
        422: {"model": ErrorOut, "description": "Invalid payload or unknown device; kept in quarantine."},
        503: {"model": ErrorOut, "description": "The database did not commit; nothing was stored. Retry."},
    },
)
async def post_alarm(
    alarm: AlarmIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
    principal: Principal = Depends(intake_access),
):
    rt = runtime(request)
    raw = _raw_input(request, await request.body())
    if idempotency_key and alarm.idempotency_key and idempotency_key != alarm.idempotency_key:
        message = "The Idempotency-Key header and the idempotency_key field differ; send one, or the same in both."
        try:
            qid = await rt.journal.run(
                lambda conn: quarantine.keep(conn, raw, reason="invalid_payload", message=message, now=rt.clock())
            )
        except JournalUnavailable as exc:
            return _unavailable(exc)
        return error_response(422, "invalid_payload", message, quarantine_id=qid)
    key = idempotency_key or alarm.idempotency_key
    try:
        result = await rt.journal.run(
            lambda conn: receive_http_alarm(
                conn,
                alarm,
                raw,
                municipality_id=principal.token.municipality_id,
                idempotency_key=key,
                now=rt.clock(),
                answer_deadline=rt.answer_deadline,
            ),
            lane=Lane.for_alarm(alarm_type(alarm.type)),
        )
    except JournalUnavailable as exc:
        return _unavailable(exc)
    if isinstance(result, Rejected):
        return error_response(result.status, result.reason, result.message, quarantine_id=result.quarantine_id)
    return AlarmAccepted(
        alarm_id=result.alarm_id, duplicate=result.duplicate, state=result.state, received_at=result.received_at
    )


def _raw_input(request: Request, body: bytes) -> RawInput:
    return RawInput(
        source="http",
        body=body,
        content_type=request.headers.get("content-type"),
        headers=dict(request.headers),
        remote_addr=request.client.host if request.client else None,
    )


def _unavailable(exc: Exception):
    return error_response(
        503, "journal_unavailable", f"Nothing was stored; retry the same request. ({exc})", headers={"Retry-After": "1"}
    )
