"""The operator's round (``/round``): every look-in of the shift by municipality and time, and the
look-in itself in a panel beside it (docs/supervision.md, "The operator's round").

The browser keeps the list current from ``/round/events`` (committed look-in changes in the
operator's municipalities, as the console's queue does for alarms) and fetches the one row
that changed; ``round.js`` paints each row's clock every second and warns for a late one.
Routes parse, call ``lookins`` through the journal and render.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from respons.digital_supervision import lookins, store, viewing, words  # noqa: F401  (words: the pages' i18n keys)
from respons.digital_supervision.outcomes import Outcome
from respons.digital_supervision.rounds import ShiftSpan, next_shift, shift_at
from respons.domain.access import Role
from respons.store import queries
from respons.web.access import Principal
from respons.web.pages import PageRefused, page_access, render
from respons.web.runtime import runtime
from respons.web.sse import change_stream

router = APIRouter(prefix="/round", include_in_schema=False)
# A database id: larger numbers are refused before they reach the database (SQLite's integers
# end at 2^63, and a number beyond is a 500 there).
LookinId = Annotated[int, Path(ge=1, le=2**31 - 1)]
operator_page = page_access(Role.OPERATOR)


def _shift(request: Request, which: str) -> ShiftSpan:
    span = shift_at(runtime(request).clock())
    return next_shift(span) if which == "next" else span


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "lookins": list(items)} for name, items in groupby(rows, key=lambda r: r["municipality"])]


def _names(request: Request, rows: list[dict[str, Any]]) -> dict[str, str]:
    with runtime(request).engine.connect() as conn:
        return queries.actor_names(conn, {r[who] for r in rows for who in ("started_by", "finished_by") if r.get(who)})


def _context(request: Request, principal: Principal, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rules = runtime(request).rounds
    return {"window_ms": int(rules.window.window.total_seconds() * 1000),
            "late_after_ms": int(rules.window.late_after.total_seconds() * 1000), "me": principal.actor,
            "names": _names(request, rows), "epoch_ms": _epoch_ms}


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _round(request: Request, principal: Principal, span: ShiftSpan) -> list[dict[str, Any]]:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        return store.round_of(conn, municipality_ids=principal.scope.alarms, starts=span.starts, ends=span.ends,
                              window=rt.rounds.window.window)


@router.get("")
def round_page(request: Request, shift: str = "now", lookin: str = "",
               principal: Principal = Depends(operator_page)):
    span = _shift(request, shift)
    rows = _round(request, principal, span)
    settings = runtime(request).settings
    return render(request, "supervision/round.html", span=span, which=shift, groups=_groups(rows), count=len(rows),
                  open_lookin=next((r["id"] for r in rows if str(r["id"]) == lookin), None),
                  heartbeat_seconds=settings.sse_heartbeat_seconds, **_context(request, principal, rows))


@router.post("/after-alarm/{alarm_id}")
async def after_alarm(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """The alarm card's "Innsyn": a look-in after this alarm, started at once, shown in the round."""
    rt = runtime(request)
    result = await _run(request, lambda conn: lookins.after_alarm(
        conn, alarm_id, actor=principal.actor, visible_to=principal.scope.alarms, now=rt.clock(), rules=rt.rounds))
    if isinstance(result, lookins.Refusal):
        return render(request, "supervision/_look_in_refusal.html", status_code=409, refusal=result)
    # The round opens in a window of its own: the console stays where it is (the operator may
    # be on a call with the person whose alarm this is).
    target = f"/round?lookin={result.lookin['id']}"
    return Response(status_code=204, headers={"HX-Trigger": json.dumps({"respons:open-round": {"url": target}})})


@router.get("/list")
def round_list(request: Request, shift: str = "now", principal: Principal = Depends(operator_page)):
    rows = _round(request, principal, _shift(request, shift))
    return render(request, "supervision/_round_list.html", groups=_groups(rows), count=len(rows),
                  **_context(request, principal, rows))


@router.get("/rows/{lookin_id}")
def round_row(request: Request, lookin_id: LookinId, principal: Principal = Depends(operator_page)):
    row = _lookin(request, lookin_id, principal)
    return render(request, "supervision/_round_row.html", lookin=row, **_context(request, principal, [row]))


@router.get("/events")
async def round_events(request: Request, principal: Principal = Depends(operator_page)):
    in_scope = principal.scope.alarms
    return change_stream(request, lambda change: change.get("event") == lookins.LOOKIN_CHANGED
                         and change.get("round") in in_scope, event_name="lookin")


def _lookin(request: Request, lookin_id: int, principal: Principal) -> dict[str, Any]:
    with runtime(request).engine.connect() as conn:
        try:
            return lookins.visible(conn, lookin_id, principal.scope.alarms)
        except lookins.LookinNotFound:
            raise PageRefused(404, "error.404") from None


def _panel(request: Request, principal: Principal, row: dict[str, Any], *, status_code: int = 200,
           refusal: lookins.Refusal | None = None) -> HTMLResponse:
    with runtime(request).engine.connect() as conn:
        followed = store.followed_by(conn, row["id"])
    return render(request, "supervision/_lookin.html", status_code=status_code, lookin=row, refusal=refusal,
                  followed=followed, outcomes=[o.value for o in Outcome], **_context(request, principal, [row]))


@router.get("/lookins/{lookin_id}")
def lookin_panel(request: Request, lookin_id: LookinId, principal: Principal = Depends(operator_page)):
    return _panel(request, principal, _lookin(request, lookin_id, principal))


@router.post("/lookins/{lookin_id}/start")
async def start(request: Request, lookin_id: LookinId, principal: Principal = Depends(operator_page)):
    rt = runtime(request)
    result = await _run(request, lambda conn: lookins.start(
        conn, lookin_id, actor=principal.actor, visible_to=principal.scope.alarms, now=rt.clock(), rules=rt.rounds,
        open_alarm=False))
    if isinstance(result, lookins.Refusal):
        return _panel(request, principal, _lookin(request, lookin_id, principal), status_code=409, refusal=result)
    return _panel(request, principal, result.lookin)


@router.post("/lookins/{lookin_id}/finish")
async def finish(request: Request, lookin_id: LookinId, outcome: str = Form(""), note: str = Form("", max_length=2000),
                 principal: Principal = Depends(operator_page)):
    rt = runtime(request)
    try:
        chosen = Outcome(outcome)
    except ValueError:
        return _panel(request, principal, _lookin(request, lookin_id, principal), status_code=422,
                      refusal=lookins.Refusal("no_outcome"))
    result = await _run(request, lambda conn: lookins.finish(
        conn, lookin_id, chosen, note=note.strip() or None, actor=principal.actor, visible_to=principal.scope.alarms,
        now=rt.clock(), rules=rt.rounds))
    if isinstance(result, lookins.Refusal):
        return _panel(request, principal, _lookin(request, lookin_id, principal), status_code=409, refusal=result)
    await rt.cameras.close(lookin_id)  # recorded before its length ran out: the picture ends now
    return _panel(request, principal, result)


# --- the camera's picture (round.js; digital_supervision/viewing.py) --------------------------------

@router.post("/lookins/{lookin_id}/camera")
async def camera(request: Request, lookin_id: LookinId, principal: Principal = Depends(operator_page)):
    """The gateway's offer of the camera's picture, for the operator who started the look-in,
    until its length runs out; 409 with why when there is none to show."""
    rt = runtime(request)
    result = await _run(request, viewing.open_picture(rt.journal, rt.cameras, rt.clock, lookin_id,
                                                      actor=principal.actor, visible_to=principal.scope.alarms))
    if isinstance(result, lookins.Refusal):
        return JSONResponse({"error": result.code, **result.params}, status_code=409)
    return {"offer": result}


class CameraAnswer(BaseModel):
    sdp: str = Field(min_length=10, max_length=20000)


@router.post("/lookins/{lookin_id}/camera/answer")
async def camera_answer(request: Request, lookin_id: LookinId, body: CameraAnswer,
                        principal: Principal = Depends(operator_page)):
    rt = runtime(request)
    refusal = await _run(request, viewing.answer_picture(rt.journal, rt.cameras, rt.clock, lookin_id, body.sdp,
                                                         actor=principal.actor, visible_to=principal.scope.alarms))
    if refusal is not None:
        return JSONResponse({"error": refusal.code, **refusal.params}, status_code=409)
    return Response(status_code=204)


@router.post("/lookins/{lookin_id}/camera/close")
async def camera_close(request: Request, lookin_id: LookinId, principal: Principal = Depends(operator_page)):
    rt = runtime(request)
    refusal = await _run(request, viewing.close_picture(rt.engine, rt.cameras, lookin_id, actor=principal.actor,
                                                        visible_to=principal.scope.alarms))
    if refusal is not None:
        return JSONResponse({"error": refusal.code}, status_code=409)
    return Response(status_code=204)


async def _run(request: Request, work):
    """A unit of work (a function of the connection) through the journal, or a coroutine of a
    service; a look-in or alarm outside the operator's reach is 404."""
    try:
        return await (work if inspect.isawaitable(work) else runtime(request).journal.run(work))
    except lookins.LookinNotFound:
        raise PageRefused(404, "error.404") from None
