"""The response centre's API: the queue, one alarm, and the operator's actions.

Until the access issue lands, the operator names themself with ``operator_id`` (a staff
member with the operator role); the actor on every event is that staff member.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from respons.domain.lifecycle import IllegalTransition, Outcome, State
from respons.engine import alarms as alarm_service
from respons.store import queries
from respons.store.journal import JournalUnavailable
from respons.web.errors import ErrorOut, error_response
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1", tags=["operator"])

AlarmId = Path(description="The alarm's id, as returned by the intake.")


class QueueItem(BaseModel):
    id: str
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


class OperatorAction(BaseModel):
    operator_id: int = Field(description="Staff id of the operator doing this.", examples=[1])


class NoteIn(OperatorAction):
    text: str = Field(min_length=1, max_length=4000, examples=["Bruker sier hun har falt, men er ikke skadet."])


class ResolveIn(OperatorAction):
    outcome: Outcome = Field(examples=["resolved_at_centre"])
    note: str | None = Field(None, max_length=4000, examples=["Snakket med bruker; trenger ikke hjelp."])


class StateOut(BaseModel):
    alarm_id: str
    state: State
    seq: int = Field(description="Number of events in the alarm's timeline.")


_ERRORS = {
    404: {"model": ErrorOut, "description": "No such alarm."},
    409: {"model": ErrorOut, "description": "Not allowed in the alarm's current state."},
    422: {"model": ErrorOut, "description": "Invalid request or unknown operator."},
    503: {"model": ErrorOut, "description": "The database did not commit; nothing changed. Retry."},
}


@router.get("/queue", response_model=list[QueueItem], summary="The response centre's queue")
def get_queue(
    request: Request,
    state: list[State] | None = Query(None, description="Only these states (default: all open)."),
    limit: int = Query(200, ge=1, le=1000),
):
    """Open alarms: unanswered first, then by priority (1 is most urgent), then oldest first."""
    rt = runtime(request)
    with rt.engine.connect() as conn:
        return queries.queue(conn, now=rt.clock(), states=set(state) if state else None, limit=limit)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail, responses={404: _ERRORS[404]}, summary="One alarm with its timeline")
def get_alarm(request: Request, alarm_id: str = AlarmId):
    rt = runtime(request)
    with rt.engine.connect() as conn:
        detail = queries.alarm_detail(conn, alarm_id, now=rt.clock())
    if detail is None:
        return error_response(404, "alarm_not_found", f"No alarm with id {alarm_id!r}.")
    return detail


@router.post("/alarms/{alarm_id}/answer", response_model=StateOut, responses=_ERRORS, summary="Answer an alarm")
async def answer(body: OperatorAction, request: Request, alarm_id: str = AlarmId):
    return await _act(request, alarm_id, lambda conn, now: alarm_service.answer(conn, alarm_id, staff_id=body.operator_id, now=now))


@router.post("/alarms/{alarm_id}/notes", response_model=StateOut, responses=_ERRORS, summary="Add a note to the timeline")
async def note(body: NoteIn, request: Request, alarm_id: str = AlarmId):
    return await _act(
        request, alarm_id, lambda conn, now: alarm_service.add_note(conn, alarm_id, staff_id=body.operator_id, text=body.text, now=now)
    )


@router.post("/alarms/{alarm_id}/resolve", response_model=StateOut, responses=_ERRORS, summary="Record the outcome")
async def resolve(body: ResolveIn, request: Request, alarm_id: str = AlarmId):
    return await _act(
        request,
        alarm_id,
        lambda conn, now: alarm_service.resolve(
            conn, alarm_id, staff_id=body.operator_id, outcome=body.outcome, note=body.note, now=now
        ),
    )


@router.post("/alarms/{alarm_id}/close", response_model=StateOut, responses=_ERRORS, summary="Close a resolved alarm")
async def close(body: OperatorAction, request: Request, alarm_id: str = AlarmId):
    return await _act(request, alarm_id, lambda conn, now: alarm_service.close(conn, alarm_id, staff_id=body.operator_id, now=now))


async def _act(request: Request, alarm_id: str, action: Callable):
    rt = runtime(request)
    try:
        projection = await rt.journal.run(lambda conn: action(conn, rt.clock()))
    except alarm_service.AlarmNotFound as exc:
        return error_response(404, "alarm_not_found", str(exc))
    except IllegalTransition as exc:
        return error_response(409, "illegal_transition", str(exc), state=exc.state.value if exc.state else None)
    except alarm_service.UnknownStaff as exc:
        return error_response(422, "unknown_operator", str(exc))
    except JournalUnavailable as exc:
        return error_response(503, "journal_unavailable", f"Nothing changed; retry. ({exc})", headers={"Retry-After": "1"})
    return StateOut(alarm_id=alarm_id, state=projection.state, seq=projection.seq)
