"""The console's voice: the card's voice section, and the calls its browser sets up; and the
same for a responder in the app, for an alarm in hand (``/app``: call and hang up only).

The browser sends its WebRTC offer and the key of whom to call; everything else (the address,
the gateway, the record) is the server's (voice/service.py). Answers are JSON for voice.js,
except the section itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from respons.domain.access import Role
from respons.store.alarms import AlarmNotFound
from respons.voice import words  # noqa: F401  (registers the section's words)
from respons.voice.calls import TargetKind
from respons.voice.service import UnknownTarget, VoiceUnavailable
from respons.web import i18n
from respons.web.access import Principal
from respons.web.pages import PageRefused, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/console", include_in_schema=False)
app_router = APIRouter(prefix="/app", include_in_schema=False)
operator_page = page_access(Role.OPERATOR)
responder_page = page_access(Role.RESPONDER, Role.TECHNICIAN)

# An SDP offer from a browser is a few kilobytes; this bounds what a request may make us keep.
MAX_SDP = 20_000


class CallRequest(BaseModel):
    target: str = Field(min_length=1, max_length=60)
    sdp: str = Field(min_length=10, max_length=MAX_SDP)


@router.get("/voice")
def status(request: Request, principal: Principal = Depends(operator_page)):
    voice = runtime(request).voice
    return {"available": voice.available, "problem": voice.problem}


@router.get("/alarms/{alarm_id}/voice")
def section(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    voice = runtime(request).voice
    try:
        targets = voice.targets(alarm_id, principal.scope.alarms)
    except AlarmNotFound:
        raise PageRefused(404, "error.404") from None
    t = i18n.translator(i18n.language_of(request))
    shown = [_labelled(target, t) for target in targets]
    numbers = [target for target in shown if target.phone]
    ringing = voice.ringing_for(alarm_id, principal.actor) if voice.available else None
    overdue_at = voice.call_overdue_at(alarm_id)
    return render(request, "voice/_panel.html", targets=shown, numbers=numbers, available=voice.available,
                  incoming=ringing, overdue_ms=int(overdue_at.timestamp() * 1000) if overdue_at else None,
                  colleagues=voice.colleagues(principal.actor) if voice.available else [], keys=True,
                  callback=voice.callback_wanted(alarm_id))


def _labelled(target, t):
    if target.kind in (TargetKind.UNIT, TargetKind.PERSON):
        return type(target)(target.key, target.kind, t(f"voice.target.{target.kind.value}"), target.address,
                            target.callable)
    return target


@router.post("/alarms/{alarm_id}/calls")
async def call(request: Request, alarm_id: str, body: Annotated[CallRequest, Body()],
               principal: Principal = Depends(operator_page)):
    return await _start(request, alarm_id, body, principal)


async def _start(request: Request, alarm_id: str, body: CallRequest, principal: Principal, *,
                 responder: int | None = None):
    voice = runtime(request).voice
    try:
        call_id = await voice.call(alarm_id, body.target, body.sdp, actor=principal.actor,
                                   visible_to=principal.scope.alarms, responder=responder)
    except AlarmNotFound:
        return _error(404, "not_found")
    except UnknownTarget:
        return _error(422, "unknown_target")
    except VoiceUnavailable as e:
        return _error(503, "voice_unavailable", problem=str(e))
    return JSONResponse({"call_id": call_id}, status_code=201)


@router.get("/calls/{call_id}")
async def call_state(request: Request, call_id: str, after: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                     principal: Principal = Depends(operator_page)):
    """The call once it has changed past version ``after`` (a long poll of up to 20 s)."""
    return await _state(request, call_id, after, principal)


async def _state(request: Request, call_id: str, after: int, principal: Principal):
    row = await runtime(request).voice.wait(call_id, after, actor=principal.actor)
    if row is None:
        return _error(404, "not_found")
    return {"id": row["id"], "state": row["state"], "failure": row["failure"], "version": row["version"],
            "direction": row["direction"], "sdp": row["remote_sdp"], "on_hold": row["on_hold"],
            "answered_at": row["answered_at"].isoformat() if row["answered_at"] else None,
            "label": row["target_label"], "target": row["target_kind"], "transferring": row["transfer_to"] is not None}


class Answer(BaseModel):
    sdp: str = Field(min_length=10, max_length=MAX_SDP)


@router.post("/calls/{call_id}/take")
async def take(request: Request, call_id: str, principal: Principal = Depends(operator_page)):
    """The operator takes a ringing inbound call (A); 409 if a colleague was first or it stopped ringing."""
    taken = await runtime(request).voice.take(call_id, actor=principal.actor, visible_to=principal.scope.alarms)
    if taken is None:
        return _error(404, "not_found")
    if not taken:
        return _error(409, "not_ringing")
    return Response(status_code=204)


@router.post("/calls/{call_id}/answer")
async def answer(request: Request, call_id: str, body: Annotated[Answer, Body()],
                 principal: Principal = Depends(operator_page)):
    """The browser's answer to the gateway's offer, for an inbound call this operator took."""
    if not await runtime(request).voice.answer_offer(call_id, body.sdp, actor=principal.actor):
        return _error(404, "not_found")
    return Response(status_code=204)


@router.post("/calls/{call_id}/hold")
async def hold(request: Request, call_id: str, principal: Principal = Depends(operator_page)):
    """Put the operator's call on hold (they take another); 409 if it cannot be held here."""
    return await _hold(request, call_id, principal, on=True)


@router.post("/calls/{call_id}/resume")
async def resume(request: Request, call_id: str, principal: Principal = Depends(operator_page)):
    """Take a held call back."""
    return await _hold(request, call_id, principal, on=False)


async def _hold(request: Request, call_id: str, principal: Principal, *, on: bool):
    held = await runtime(request).voice.hold(call_id, actor=principal.actor, on=on)
    if held is None:
        return _error(404, "not_found")
    if not held:
        return _error(409, "not_held" if not on else "cannot_hold")
    return Response(status_code=204)


class Transfer(BaseModel):
    to: str = Field(min_length=1, max_length=100)


@router.post("/calls/{call_id}/transfer")
async def transfer(request: Request, call_id: str, body: Annotated[Transfer, Body()],
                   principal: Principal = Depends(operator_page)):
    """Hand the operator's call with a unit to a colleague logged in ("Sett over"); 409 if
    this call cannot be handed over now (docs/voice.md, "Transfer")."""
    version = await runtime(request).voice.transfer(call_id, to=body.to, actor=principal.actor)
    if version is None:
        return _error(404, "not_found")
    if version is False:
        return _error(409, "cannot_transfer")
    # Asked; the call's state says when it has gone over. Its version from here on tells
    # voice.js which answers already know of the transfer.
    return JSONResponse({"version": version}, status_code=202)


@router.post("/calls/{call_id}/hangup")
async def hang_up(request: Request, call_id: str, principal: Principal = Depends(operator_page)):
    return await _hang_up(request, call_id, principal)


async def _hang_up(request: Request, call_id: str, principal: Principal):
    if await runtime(request).voice.hang_up(call_id, actor=principal.actor) is None:
        return _error(404, "not_found")
    return Response(status_code=204)  # asked; the call's state says when it has ended


# --- the responder app: call (the alarm unit first) for an alarm in hand, and hang up ------


@app_router.get("/alarms/{alarm_id}/voice")
def app_section(request: Request, alarm_id: str, principal: Principal = Depends(responder_page)):
    voice = runtime(request).voice
    try:
        targets = voice.targets(alarm_id, principal.scope.alarms, responder=principal.id)
    except AlarmNotFound:
        raise PageRefused(404, "error.404") from None
    t = i18n.translator(i18n.language_of(request))
    shown = [_labelled(target, t) for target in targets]
    # The person's and contacts' numbers are tel: links on the page already (the phone's dialer).
    return render(request, "voice/_panel.html", targets=[s for s in shown if s.callable], numbers=[],
                  available=voice.available, incoming=None, overdue_ms=None, colleagues=[], keys=False,
                  callback=False)


@app_router.post("/alarms/{alarm_id}/calls")
async def app_call(request: Request, alarm_id: str, body: Annotated[CallRequest, Body()],
                   principal: Principal = Depends(responder_page)):
    return await _start(request, alarm_id, body, principal, responder=principal.id)


@app_router.get("/calls/{call_id}")
async def app_call_state(request: Request, call_id: str, after: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                         principal: Principal = Depends(responder_page)):
    return await _state(request, call_id, after, principal)


@app_router.post("/calls/{call_id}/hangup")
async def app_hang_up(request: Request, call_id: str, principal: Principal = Depends(responder_page)):
    return await _hang_up(request, call_id, principal)


def _error(status: int, code: str, **extra) -> JSONResponse:
    return JSONResponse({"error": code, **extra}, status_code=status)
