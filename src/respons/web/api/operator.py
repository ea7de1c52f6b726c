"""The response centre's API: the queue, one alarm, and the operator's actions.

Only operators; each sees the municipalities whose agreement sends alarms to the centre
(``Scope.alarms``). The actor on every event is the logged-in user. Opening an alarm shows
recipient data and is therefore written to the audit log before the data is returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from respons.auth import recipient_reads
from respons.domain.access import Role
from respons.domain.lifecycle import NotHolder, Outcome, State
from respons.engine import alarms as alarm_service
from respons.store import queries
from respons.web.errors import ErrorOut, error_response
from respons.web.access import Principal, access
from respons.web.alarm_actions import run_action
from respons.web.bounds import Text
from respons.web.runtime import runtime
from respons.web.unavailable import NOTHING_CHANGED, answers_unavailable

router = APIRouter(prefix="/api/v1", tags=["operator"])

# Annotated, not "= Path(...)": a default of Path() would drop the type's own checks.
AlarmId = Annotated[Text, Path(max_length=64, description="The alarm's id, as returned by the intake.")]


class QueueItem(BaseModel):
    id: str
    municipality_id: int
    recipient_id: int | None
    type: str
    label: str
    category: str
    priority: int
    state: State
    municipality: str
    recipient: str | None
    address: str | None
    zone: str | None
    occurred_at: datetime
    received_at: datetime
    answered_at: datetime | None
    answer_seconds: float = Field(description="The answer clock: seconds from receipt to answer, or to now while waiting.")
    answer_time_exceeded: bool


class TimelineEvent(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class AlarmDetail(QueueItem):
    outcome: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    payload: dict[str, Any] | None
    timeline: list[TimelineEvent]


class NoteIn(BaseModel):
    text: Text = Field(min_length=1, max_length=4000, examples=["Bruker sier hun har falt, men er ikke skadet."])


class ResolveIn(BaseModel):
    outcome: Outcome = Field(examples=["resolved_at_centre"])
    note: Text | None = Field(None, max_length=4000, examples=["Snakket med bruker; trenger ikke hjelp."])


class StateOut(BaseModel):
    alarm_id: str
    state: State
    seq: int = Field(description="Number of events in the alarm's timeline.")


_ERRORS = {
    404: {"model": ErrorOut, "description": "No such alarm."},
    409: {"model": ErrorOut, "description": "Not allowed in the alarm's current state."},
    422: {"model": ErrorOut, "description": "Invalid request."},
    503: {"model": ErrorOut, "description": "The database did not commit; nothing changed. Retry."},
}


operator_only = access(Role.OPERATOR)


@router.get("/queue", response_model=list[QueueItem], summary="The response centre's queue")
def get_queue(
    request: Request,
    principal: Principal = Depends(operator_only),
    state: list[State] | None = Query(None, description="Only these states (default: all open)."),
    limit: int = Query(200, ge=1, le=1000),
):
    """Open alarms: unanswered first, then by priority (1 is most urgent), then oldest first."""
    rt = runtime(request)
    with rt.engine.connect() as conn:
        return queries.queue(
            conn, now=rt.clock(), in_municipalities=principal.scope.alarms, states=set(state) if state else None, limit=limit
        )


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail, responses={404: _ERRORS[404]}, summary="One alarm with its timeline")
async def get_alarm(request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    rt = runtime(request)
    with rt.engine.connect() as conn:
        detail = queries.alarm_detail(conn, alarm_id, now=rt.clock(), in_municipalities=principal.scope.alarms)
    if detail is None:
        return error_response(404, "alarm_not_found", f"No alarm with id {alarm_id!r}.")
    # The alarm carries the recipient's name and address: the look is audited before it is shown.
    await recipient_reads.read_for_alarm(rt.journal, rt.engine, rt.clock, actor=principal.actor, alarm=detail, card=False)
    return detail


@router.post("/alarms/{alarm_id}/answer", response_model=StateOut, responses=_ERRORS, summary="Answer an alarm")
@answers_unavailable(NOTHING_CHANGED)
async def answer(request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    return await _act(request, alarm_id, principal, lambda conn, now, who: alarm_service.answer(conn, alarm_id, now=now, **who))


@router.post("/alarms/{alarm_id}/notes", response_model=StateOut, responses=_ERRORS, summary="Add a note to the timeline")
@answers_unavailable(NOTHING_CHANGED)
async def note(body: NoteIn, request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    return await _act(
        request, alarm_id, principal, lambda conn, now, who: alarm_service.add_note(conn, alarm_id, text=body.text, now=now, **who)
    )


@router.post("/alarms/{alarm_id}/resolve", response_model=StateOut, responses=_ERRORS, summary="Record the outcome")
@answers_unavailable(NOTHING_CHANGED)
async def resolve(body: ResolveIn, request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    return await _act(
        request,
        alarm_id,
        principal,
        lambda conn, now, who: alarm_service.resolve(conn, alarm_id, outcome=body.outcome, note=body.note, now=now, **who),
    )


@router.post("/alarms/{alarm_id}/take-over", response_model=StateOut, responses=_ERRORS,
             summary="Take over an alarm a colleague holds (recorded on the timeline)")
@answers_unavailable(NOTHING_CHANGED)
async def take_over(request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    return await _act(request, alarm_id, principal,
                      lambda conn, now, who: alarm_service.take_over(conn, alarm_id, now=now, **who))


@router.post("/alarms/{alarm_id}/close", response_model=StateOut, responses=_ERRORS, summary="Close a resolved alarm")
@answers_unavailable(NOTHING_CHANGED)
async def close(request: Request, alarm_id: AlarmId, principal: Principal = Depends(operator_only)):
    return await _act(request, alarm_id, principal, lambda conn, now, who: alarm_service.close(conn, alarm_id, now=now, **who))


async def _act(request: Request, alarm_id: str, principal: Principal, action: Callable):
    """Programs branch on the codes: a colleague's hold has its own, with who holds it."""
    rt = runtime(request)
    who = {"actor": principal.actor, "visible_to": principal.scope.alarms}
    outcome = await run_action(rt.journal, lambda conn: action(conn, rt.clock(), who))
    if outcome.not_found is not None:
        return error_response(404, "alarm_not_found", str(outcome.not_found))
    refused = outcome.refused
    if isinstance(refused, NotHolder):
        return error_response(409, "held_by_colleague", str(refused), state=refused.state.value, holder=refused.holder)
    if refused is not None:
        return error_response(409, "illegal_transition", str(refused), state=refused.state.value if refused.state else None)
    projection = outcome.result
    return StateOut(alarm_id=alarm_id, state=projection.state, seq=projection.seq)
