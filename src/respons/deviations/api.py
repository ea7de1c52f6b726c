"""Deviation reports (avvik) over HTTP: register, see, handle and summarise for the
collaboration committee (docs/deviations.md).

Who: operators register deviations in the municipalities they serve (they notice them at
work) and see those; a municipality's administrator registers, handles and reads their own;
the host administrator all; auditors read. Outside one's municipalities a deviation is 404.
Registering and every change are written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from respons.domain.access import Role
from respons.deviations.rules import DeviationCategory, IllegalDeviationChange, Severity
from respons.deviations import service
from respons.web.access import Principal, access, not_found
from respons.web.errors import ErrorOut, error_response
from respons.web.bounds import DbId, Text
from respons.web.runtime import runtime
from respons.web.unavailable import DEVIATION_NOT_SAVED, answers_unavailable

router = APIRouter(prefix="/api/v1/deviations", tags=["deviations"])
READERS = (Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN, Role.AUDITOR, Role.OPERATOR)
REGISTRARS = (Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN, Role.OPERATOR)
HANDLERS = (Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)
ERRORS = {404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "Not possible in the deviation's state."},
          422: {"model": ErrorOut}}
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such municipality among yours."}}


def deviation_scope(principal: Principal) -> frozenset[int]:
    """Whose deviations the caller reads: municipality roles and the host, their statistics
    scope; operators, the municipalities they serve."""
    return principal.scope.statistics | (principal.scope.alarms if principal.has(Role.OPERATOR) else frozenset())


def registering_scope(principal: Principal) -> frozenset[int]:
    """Where the caller registers one: the municipalities they administer (the host: every
    one), and an operator's served ones. Not the statistics scope: a centre auditor reads
    every municipality's deviations and registers none."""
    return principal.scope.registry | (principal.scope.alarms if principal.has(Role.OPERATOR) else frozenset())


def handling_scope(principal: Principal) -> frozenset[int]:
    """Whose deviations the caller handles (confirm, assign, close): the municipalities they
    administer, never by another grant's reach (an administrator who is also the centre's
    auditor handles their own municipality's only)."""
    return principal.scope.registry


class DeviationIn(BaseModel):
    municipality_id: DbId
    category: DeviationCategory
    severity: Severity = Severity.MEDIUM
    title: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(None, max_length=10_000)
    alarm_id: Text | None = None


class ChangeIn(BaseModel):
    kind: Literal["confirm", "dismiss", "assign", "action", "close"]
    to: Text | None = Field(None, description="assign: who handles it (a name or user:ID).", max_length=100)
    text: Text | None = Field(None, description="action: what was done.", max_length=10_000)
    conclusion: Text | None = Field(None, description="close: what was learned or changed.", max_length=10_000)
    reason: Text | None = Field(None, description="dismiss: why it is not a deviation.", max_length=2_000)
    severity: Severity | None = Field(None, description="confirm: a corrected severity.")


@router.get("", summary="Deviations of the caller's municipalities, newest first", responses=NOT_FOUND)
def list_deviations(request: Request, municipality_id: DbId | None = Query(None), open_only: bool = Query(False, alias="open"),
                    principal: Principal = Depends(access(*READERS))) -> list[dict[str, Any]]:
    scope = deviation_scope(principal)
    if municipality_id is not None:
        if municipality_id not in scope:
            raise not_found("municipality")
        scope = frozenset({municipality_id})
    with runtime(request).engine.connect() as conn:
        return service.listing(conn, municipality_ids=scope, open_only=open_only)


@router.get("/summary", summary="The year's deviations for the collaboration committee", responses=NOT_FOUND)
def summary(request: Request, year: int = Query(..., ge=2000, le=2100), municipality_id: DbId | None = Query(None),
            principal: Principal = Depends(access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN, Role.AUDITOR))) -> dict[str, Any]:
    scope = principal.scope.statistics
    if municipality_id is not None:
        if municipality_id not in scope:
            raise not_found("municipality")
        scope = frozenset({municipality_id})
    with runtime(request).engine.connect() as conn:
        return {"year": year, **vars(service.year_summary(conn, municipality_ids=scope, year=year))}


@router.post("", status_code=201, summary="Register a deviation", responses=ERRORS)
@answers_unavailable(DEVIATION_NOT_SAVED)
async def register(body: DeviationIn, request: Request, principal: Principal = Depends(access(*REGISTRARS))):
    if body.municipality_id not in registering_scope(principal):
        raise not_found("municipality")
    rt = runtime(request)

    def work(conn):
        return service.register(conn, municipality_id=body.municipality_id, category=body.category.value,
                                severity=body.severity.value, title=body.title, description=body.description,
                                alarm_id=body.alarm_id, actor=principal.actor, now=rt.clock())

    try:
        return {"id": await rt.journal.run(work)}
    except IllegalDeviationChange as exc:
        if exc.key == "already_registered":
            return error_response(409, "already_registered", str(exc))
        return error_response(422, "invalid_deviation", str(exc))


@router.get("/{deviation_id}", summary="One deviation with its timeline", responses={404: ERRORS[404]})
def read(deviation_id: Annotated[DbId, Path()], request: Request, principal: Principal = Depends(access(*READERS))) -> dict[str, Any]:
    with runtime(request).engine.connect() as conn:
        found = service.detail(conn, deviation_id, municipality_ids=deviation_scope(principal))
    if found is None:
        raise not_found("deviation")
    return found


@router.post("/{deviation_id}/events", summary="Confirm, dismiss, assign, act on or close a deviation", responses=ERRORS)
@answers_unavailable(DEVIATION_NOT_SAVED)
async def change(deviation_id: Annotated[DbId, Path()], body: ChangeIn, request: Request, principal: Principal = Depends(access(*HANDLERS))):
    rt = runtime(request)
    data = {k: v for k, v in {"to": body.to, "text": body.text, "conclusion": body.conclusion, "reason": body.reason,
                              "severity": body.severity.value if body.severity else None}.items() if v is not None}

    def work(conn):
        return service.change(conn, deviation_id, service.CHANGES[body.kind], actor=principal.actor, data=data,
                              now=rt.clock(), allowed=handling_scope(principal))

    try:
        after = await rt.journal.run(work)
    except service.DeviationNotFound:
        raise not_found("deviation") from None
    except IllegalDeviationChange as exc:
        return error_response(409, "illegal_change", str(exc))
    return {"id": deviation_id, "state": after.state.value, "seq": after.seq, "assigned_to": after.assigned_to,
            "closed_at": after.closed_at, "conclusion": after.conclusion}


