"""Supervision plans over the API, beside the registry's: only a municipality administrator,
for a person of their own municipality, records one (docs/supervision.md). Outside their
scope a person answers 404, as in the registry."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from respons.digital_supervision import service
from respons.domain.access import Role
from respons.registry.api import ERRORS, Failure, run_unit
from respons.web.access import Principal, access
from respons.web.bounds import DbId, DbInt, Text
from respons.clock import OSLO
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
municipality_admin = access(Role.MUNICIPALITY_ADMIN)


class AgreedTimeIn(BaseModel):
    at: str = Field(pattern=r"^[0-9]{1,2}:[0-9]{2}$", examples=["23:00"], description="Oslo wall-clock time, HH:MM.")
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(default=[1, 2, 3, 4, 5, 6, 7], max_length=7,
                                                               description="ISO weekdays: 1 Monday … 7 Sunday.")


class PlanIn(BaseModel):
    kind: Text = Field(examples=["camera"], description="camera, sensor or phone.")
    times: list[AgreedTimeIn] = Field(default=[], max_length=24)
    max_seconds: DbInt = Field(30, description="The longest a look-in may last: 10–300 s.")
    event_based: bool = Field(False, description="Look-ins after one of the person's alarms are allowed too.")
    checklist: list[Text] = Field(default=[], max_length=20)
    instructions: Text | None = None
    fallback: Text = Field("phone", pattern=r"^(phone|visit)$",
                           description="When the camera shows nothing: phone the person, or send a visit (an alarm).")
    consent_by: Text = Field(description="Who consented: the person, or whoever may consent for them.")
    consent_on: date
    valid_from: date
    valid_to: date | None = None


def _scope(principal: Principal) -> frozenset[int]:
    return principal.scope.registry


@router.post("/recipients/{recipient_id}/supervision-plans", status_code=201, summary="Record a supervision plan",
             responses=ERRORS)
async def add_plan(body: PlanIn, request: Request, recipient_id: Annotated[DbId, Path()],
                   principal: Principal = Depends(municipality_admin)):
    now = runtime(request).clock()
    values = body.model_dump()
    result = await run_unit(request, lambda conn: service.add_plan(conn, recipient_id, values, allowed=_scope(principal),
                                                               now=now, actor=principal.actor))
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "recipient_id": recipient_id}


@router.get("/recipients/{recipient_id}/supervision-plans", summary="A person's supervision plans (audited read)",
            responses=ERRORS)
async def list_plans(request: Request, recipient_id: Annotated[DbId, Path()],
                     principal: Principal = Depends(municipality_admin)):
    now = runtime(request).clock()
    read = await run_unit(request, lambda conn: service.read_plans(conn, recipient_id, allowed=_scope(principal),
                                                                   now=now, actor=principal.actor))
    return read.response if isinstance(read, Failure) else read[0]


class EndIn(BaseModel):
    valid_to: date = Field(description="The last day the plan applies: today or later.")


@router.post("/recipients/{recipient_id}/supervision-plans/{plan_id}/end", summary="End a supervision plan",
             responses=ERRORS)
async def end_plan(body: EndIn, request: Request, recipient_id: Annotated[DbId, Path()], plan_id: Annotated[DbId, Path()],
                   principal: Principal = Depends(municipality_admin)):
    now = runtime(request).clock()
    result = await run_unit(request, lambda conn: service.end_plan(
        conn, recipient_id, plan_id, body.valid_to, allowed=_scope(principal), today=now.astimezone(OSLO).date(),
        now=now, actor=principal.actor))
    if isinstance(result, Failure):
        return result.response
    return {"id": plan_id, "valid_to": body.valid_to.isoformat()}
