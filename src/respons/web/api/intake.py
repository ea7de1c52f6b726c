"""``POST /api/v1/alarms``: the HTTP intake."""

from __future__ import annotations

import email.message
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect

from respons.auth import accounts
from respons.domain.lifecycle import State
from respons.intake.http import (AlarmIn, DoseIn, HttpAlarm, Rejected, describe_validation_errors, parse_body,
                                 receive_http_dose)
from respons.store import quarantine
from respons.store.journal import Lane
from respons.store.quarantine import RawInput
from respons.web.access import Principal, _bearer, access
from respons.web.errors import ErrorOut, error_response
from respons.web.runtime import runtime
from respons.web.unavailable import NOTHING_STORED, answers_unavailable

# Vendor platforms and gateways use an API token with purpose "intake".
intake_access = access(token_purpose="intake")

# What a too-large body leaves in quarantine: enough to see which device and platform sent it.
TOO_LARGE_HEAD = 4096


async def intake_sender(request: Request, credentials=Depends(_bearer)) -> Principal:
    """The intake's access policy. ``QuarantiningRoute`` has already authenticated the
    request (before reading its body); this hands its principal to the endpoint without
    a second token lookup on the hot path."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = await intake_access(request, credentials)
    return principal


intake_sender.respons_policy = intake_access.respons_policy  # read by the isolation test


class QuarantiningRoute(APIRoute):
    """Checks an alarm request in the order that lets every refusal be kept and explained.

    1. The sender: no token or an unknown one → 401, nothing kept (anybody could fill the
       quarantine). A revoked token, or a token for another purpose, was once given to a
       real sender, so what it sends could be a real alarm: kept, then 401/403.
    2. The size, while reading (``RESPONS_INTAKE_MAX_BYTES``): a larger body is never held
       in memory whole; its first bytes and its size are kept → 413.
    3. The bytes (parse_body): UTF-8, JSON, nesting, NUL and lone surrogates → 422, kept.
    4. The model (FastAPI/pydantic, from the body read here) → 422, kept.
    """

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            refusal = await _authenticate(request)
            if refusal is not None:
                return refusal
            rt = runtime(request)
            try:
                read = await _read_limited(request, rt.settings.intake_max_bytes)
            except ClientDisconnect:
                return _gone()
            if read.too_large:
                return await _keep_and_refuse(
                    request, read.body, 413, "too_large", _too_large_message(read, rt.settings.intake_max_bytes)
                )
            parsed = parse_body(read.body, max_depth=rt.settings.intake_max_depth)
            if parsed.problems:
                return await _refuse_payload(request, read.body, list(parsed.problems))
            # FastAPI reads the body through these (Starlette caches them on the request):
            # the body is read once, within the limit, and parsed once.
            request._body = read.body
            request._json = parsed.value
            try:
                return await self.endpoint_step(handler, request, parsed.value)
            except RequestValidationError as exc:
                return await _refuse_payload(request, read.body, describe_validation_errors(exc.errors()))

        return checked

    async def endpoint_step(self, handler: Callable, request: Request, body: Any) -> Response:
        """Step 4 and the endpoint: FastAPI's own handler (dependencies, model, response)."""
        return await handler(request)


class AlarmIntakeRoute(QuarantiningRoute):
    """``POST /api/v1/alarms``, the one route that takes a request every millisecond in a
    storm: step 4 and the answer without FastAPI's per-request machinery.

    FastAPI solves the endpoint's dependencies again for every request (cache keys, security
    schemes, parameter lists), then validates and encodes the response model: 20 % of the
    intake's CPU per alarm (docs/benchmarks.md, "Issue 21"). Here the same checks are made
    directly: the ``Idempotency-Key`` header and the body against the very types the
    endpoint declares (its signature stays what the OpenAPI document shows), errors in
    FastAPI's shape, the principal the route already authenticated, and ``AlarmAccepted``
    written as JSON. The endpoint itself (``post_alarm``) calls the same ``accept_alarm``."""

    async def endpoint_step(self, handler: Callable, request: Request, body: Any) -> Response:
        errors = []
        key = request.headers.get("idempotency-key")
        if key is not None:
            try:
                _IDEMPOTENCY_HEADER.validate_python(key)
            except ValidationError as exc:
                errors += [{**e, "loc": ("header", "Idempotency-Key", *e["loc"])} for e in exc.errors()]
        try:
            # As FastAPI reads a body: JSON only if the sender declared JSON.
            json_body = _declares_json(request, strict=_setting(self.strict_content_type))
            alarm = _ALARM_BODY.validate_python(body if json_body else await request.body(), from_attributes=True)
        except ValidationError as exc:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        if errors:
            raise RequestValidationError(errors)
        answer = await accept_alarm(request, alarm, key, request.state.principal)
        if isinstance(answer, Response):
            return answer
        return Response(answer.model_dump_json(), status_code=202, media_type="application/json")


router = APIRouter(prefix="/api/v1", tags=["intake"], route_class=QuarantiningRoute)


class AlarmAccepted(BaseModel):
    alarm_id: str
    duplicate: bool
    state: State
    received_at: datetime


IDEMPOTENCY_KEY_MAX = 200
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_MAX)]
# The same constraints, for AlarmIntakeRoute's direct reading of the request.
_IDEMPOTENCY_HEADER = TypeAdapter(Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX)])
_ALARM_BODY = TypeAdapter(AlarmIn)


@answers_unavailable(NOTHING_STORED)  # also for what the route keeps in quarantine before the endpoint
async def post_alarm(
    alarm: AlarmIn,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
    principal: Principal = Depends(intake_sender),
):
    return await accept_alarm(request, alarm, idempotency_key, principal)


async def accept_alarm(request: Request, alarm: AlarmIn, idempotency_key: str | None,
                       principal: Principal) -> AlarmAccepted | Response:
    rt = runtime(request)
    raw = _raw_input(request, await request.body())
    if idempotency_key and alarm.idempotency_key and idempotency_key != alarm.idempotency_key:
        message = "The Idempotency-Key header and the idempotency_key field differ; send one, or the same in both."
        qid = await rt.journal.run(
            lambda conn: quarantine.keep(conn, raw, reason="invalid_payload", message=message, now=rt.clock())
        )
        problems = [{"field": "idempotency_key", "problem": "differs from the Idempotency-Key header"}]
        return error_response(422, "invalid_payload", message, quarantine_id=qid, problems=problems, details=problems)
    key = idempotency_key or alarm.idempotency_key
    # Written in a batch with the alarms that arrive meanwhile, answered after its commit.
    result = await rt.http_alarms.receive(HttpAlarm(alarm, raw, principal.token.municipality_id, key, rt.clock()))
    if isinstance(result, Rejected):
        return error_response(result.status, result.reason, result.message, quarantine_id=result.quarantine_id)
    return AlarmAccepted(
        alarm_id=result.alarm_id, duplicate=result.duplicate, state=result.state, received_at=result.received_at
    )


router.add_api_route(
    "/alarms",
    post_alarm,
    methods=["POST"],
    route_class_override=AlarmIntakeRoute,
    status_code=202,
    response_model=AlarmAccepted,
    summary="Deliver an alarm",
    description=(
        "Answers **202 only after the alarm is durably committed**. Retrying with the same idempotency key "
        "(body field or `Idempotency-Key` header) returns the same `alarm_id` with `duplicate: true`. "
        "Needs an API token with purpose `intake` (`Authorization: Bearer rsp_…`); only devices of the "
        "token's municipality are accepted. "
        "A request that cannot become an alarm is kept in quarantine for an administrator and answered "
        "with 4xx, a message, and the `quarantine_id`: a body over `RESPONS_INTAKE_MAX_BYTES` (413); bytes "
        "that are not UTF-8, JSON that is malformed or nested too deep, NUL characters or lone surrogates in "
        "any string, or a field that fails validation (422). An `occurred_at` far from the time Respons "
        "receives the alarm is accepted and marked *clock suspect* on the timeline. "
        "503 means nothing was stored: retry."
    ),
    responses={
        401: {"model": ErrorOut, "description": "No valid API token. A revoked token's request is kept in quarantine."},
        403: {"model": ErrorOut, "description": "A token for another purpose; the request is kept in quarantine."},
        409: {"model": ErrorOut, "description": "The idempotency key was used before for a different alarm."},
        413: {"model": ErrorOut, "description": "The body is larger than the limit; its first bytes are kept in quarantine."},
        422: {"model": ErrorOut, "description": "Invalid payload or unknown device; kept in quarantine."},
        503: {"model": ErrorOut, "description": "The database did not commit; nothing was stored. Retry."},
    },
)


class DoseAccepted(BaseModel):
    dose_id: str
    duplicate: bool


@router.post(
    "/doses",
    status_code=202,
    response_model=DoseAccepted,
    summary="Report a dose a medication dispenser gave",
    description=(
        "Answers **202 only after the dose and its patient-record document (a VkpMedicationDispense) are durably "
        "committed**; the document is delivered to the municipality's EPJ after that. The same `id` again from "
        "the same dispenser is the same dose (`duplicate: true`). A missed or failed dose is an alarm "
        "(`POST /api/v1/alarms`, type `medication_missed`). Same token, limits and quarantine as the alarms: "
        "a device that is not a dispenser given to a recipient, or an unknown dose event, is kept and answered 422."
    ),
    responses={
        401: {"model": ErrorOut, "description": "No valid API token."},
        403: {"model": ErrorOut, "description": "A token for another purpose; the request is kept in quarantine."},
        413: {"model": ErrorOut, "description": "The body is larger than the limit."},
        422: {"model": ErrorOut, "description": "Invalid payload, unknown device, not a dispenser; kept in quarantine."},
        503: {"model": ErrorOut, "description": "The database did not commit; nothing was stored. Retry."},
    },
)
@answers_unavailable(NOTHING_STORED)
async def post_dose(dose: DoseIn, request: Request, principal: Principal = Depends(intake_sender)):
    rt = runtime(request)
    raw = _raw_input(request, await request.body())
    result = await rt.journal.run(lambda conn: receive_http_dose(
        conn, dose, raw, municipality_id=principal.token.municipality_id, now=rt.clock()))
    if isinstance(result, Rejected):
        return error_response(result.status, result.reason, result.message, quarantine_id=result.quarantine_id)
    return DoseAccepted(dose_id=result.dose_id, duplicate=result.duplicate)


# --- the checks before the endpoint ---------------------------------------------------------


async def _authenticate(request: Request) -> Response | None:
    """None when the sender may deliver alarms; else the refusal (raised when nothing is kept)."""
    try:
        await intake_access(request, None)  # sets request.state.principal
        return None
    except HTTPException as exc:
        if exc.status_code not in (401, 403) or not _once_given(request):
            raise
        refused = exc
    detail = refused.detail if isinstance(refused.detail, dict) else {"error": "unauthenticated", "message": str(refused.detail)}
    rt = runtime(request)
    try:
        read = await _read_limited(request, rt.settings.intake_max_bytes)
    except ClientDisconnect:
        return _gone()
    message = (
        f"{detail.get('message', '')} What was sent is kept in quarantine for an administrator, as it may be a "
        "real alarm; send it again with a current intake token."
    ).strip()
    return await _keep_and_refuse(
        request, read.body, refused.status_code, detail.get("error", "unauthenticated"), message,
        reason="token_refused", headers=refused.headers,
    )


def _once_given(request: Request) -> bool:
    """Whether the bearer token is one Respons issued (revoked, or for another purpose).

    A token nobody was ever given is refused without keeping anything; a read error here
    only means the request is refused as if the token were unknown (the sender retries)."""
    authorization = request.headers.get("authorization", "")
    if not authorization.lower().startswith("bearer "):
        return False
    try:
        with runtime(request).engine.connect() as conn:
            return accounts.was_issued(conn, authorization[7:].strip())
    except SQLAlchemyError:
        return False


@dataclass(frozen=True)
class _Read:
    body: bytes  # all of it, or (too_large) its first TOO_LARGE_HEAD bytes
    too_large: bool = False
    declared: int | None = None  # Content-Length, when the sender gave one


async def _read_limited(request: Request, limit: int) -> _Read:
    """The body, read chunk by chunk and given up as soon as it is over ``limit``: a 10 MB
    body costs at most ``limit`` plus one chunk of memory, not 10 MB."""
    declared = _content_length(request)
    if declared is not None and declared > limit:
        # The sender told us: no need to read more than what is kept.
        head = bytearray()
        async for chunk in request.stream():
            head += chunk
            if len(head) >= TOO_LARGE_HEAD:
                break
        return _Read(bytes(head[:TOO_LARGE_HEAD]), too_large=True, declared=declared)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _Read(bytes(body[:TOO_LARGE_HEAD]), too_large=True, declared=declared)
    return _Read(bytes(body), declared=declared)


def _declares_json(request: Request, *, strict: bool) -> bool:
    """Whether FastAPI would read the body as JSON (fastapi/routing.py, the request handler):
    ``application/json`` or ``application/…+json``; no Content-Type only when the route is
    not strict about it (FastAPI's default is strict)."""
    declared = request.headers.get("content-type")
    if not declared:
        return not strict
    if declared == "application/json":
        return True  # nearly every request: no need to parse the header
    message = email.message.Message()
    message["content-type"] = declared
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _setting(value):
    return value.value if isinstance(value, DefaultPlaceholder) else value


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _too_large_message(read: _Read, limit: int) -> str:
    size = f"{read.declared} bytes" if read.declared is not None else f"more than {limit} bytes"
    return (
        f"The body is {size}; an alarm may be at most {limit} bytes (RESPONS_INTAKE_MAX_BYTES). "
        f"Its first {len(read.body)} bytes are kept in quarantine. Send large attachments elsewhere and "
        "refer to them in the payload."
    )


async def _refuse_payload(request: Request, body: bytes, problems: list[dict[str, str]]) -> Response:
    message = "The alarm was not accepted: " + "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return await _keep_and_refuse(request, body, 422, "invalid_payload", message, problems=problems)


async def _keep_and_refuse(request: Request, body: bytes, status: int, error: str, message: str, *,
                           reason: str | None = None, problems: list[dict[str, str]] | None = None,
                           headers: dict[str, str] | None = None) -> Response:
    rt = runtime(request)
    raw = _raw_input(request, body)
    qid = await rt.journal.run(
        lambda conn: quarantine.keep(conn, raw, reason=reason or error, message=message, now=rt.clock()),
        lane=Lane.LIFE,  # it could be an alarm
    )
    return error_response(status, error, message, headers=headers, quarantine_id=qid, problems=problems,
                          details=problems)


def _raw_input(request: Request, body: bytes) -> RawInput:
    return RawInput(
        source="http",
        body=body,
        content_type=request.headers.get("content-type"),
        headers=dict(request.headers),
        remote_addr=request.client.host if request.client else None,
    )


def _gone() -> Response:
    # Nobody is left to read this; a sender that did not get its 202 sends the alarm again.
    return error_response(400, "client_disconnected", "The connection closed before the whole body arrived; nothing was stored.")
