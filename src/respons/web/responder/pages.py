"""The responder app: the phone that home-care workers and technicians carry.

Mobile-first pages (installable as a PWA: ``/static/app.webmanifest`` and ``/app/sw.js``).
A worker logs in to one or more zones (a night shift covers merged zones) and sees the
alarms offered there, live (``/app/events``, server-sent events with ids only), with a loud
alert and vibration that repeats until they look. The first to accept gets the alarm
(``engine.routing.accept``); the others see at once who took it. Then: call the recipient,
report en route / arrived / done, write what was done, or hand the alarm back to the centre.
Every step is a timeline event the centre sees live in its console.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from respons import maps
from respons.auth import recipient_reads
from respons.domain.access import Role
from respons.domain.alarm_types import ALARM_TYPES
from respons.domain.lifecycle import Action, CallResult, Outcome
from respons.engine import alarms as alarm_service
from respons.engine import duty as duty_service
from respons.engine import missions
from respons.engine import routing
from respons.store import queries
from respons.web import i18n
from respons.web.access import Principal, public
from respons.web.alarm_actions import run_action
from respons.web.responder import words  # noqa: F401  (registers the app's words)
from respons.web.pages import STATIC_DIR, page_access, render
from respons.web.refusals import refusal_text
from respons.web.runtime import runtime
from respons.web.sse import change_stream

router = APIRouter(prefix="/app", include_in_schema=False)

responder_page = page_access(Role.RESPONDER, Role.TECHNICIAN)


def _municipalities(principal: Principal) -> frozenset[int]:
    return frozenset(g.municipality_id for g in principal.grants
                     if g.role in (Role.RESPONDER, Role.TECHNICIAN) and g.municipality_id is not None)


def _is_technician(principal: Principal) -> bool:
    return any(g.role is Role.TECHNICIAN for g in principal.grants)


def _offers_and_mine(conn, principal: Principal, now) -> tuple[list[dict], list[dict]]:
    """Alarms offered where I am on duty, and alarms I have taken."""
    allowed = _municipalities(principal)
    offered_ids, mine_ids = routing.field_lists(conn, user_id=principal.id, municipalities=allowed)
    return _summaries(conn, offered_ids, now, allowed), _summaries(conn, mine_ids, now, allowed)


def _summaries(conn, ids: list[str], now, allowed: frozenset[int]) -> list[dict]:
    items = [i for i in (queries.queue_item(conn, a, now=now, in_municipalities=allowed) for a in ids) if i]
    items.sort(key=lambda i: (i["priority"], i["received_at"]))
    return queries.with_taker_names(conn, items)


def _context(request: Request) -> dict:
    lang = i18n.language_of(request)
    return {"type_label": lambda code: getattr(ALARM_TYPES[code], "label_nb" if lang == "nb" else "label_en"),
            "call_results": [r.value for r in CallResult],
            "heartbeat_seconds": runtime(request).settings.sse_heartbeat_seconds,
            "map_link": partial(maps.card_link, runtime(request).settings.map_url)}


def _home_data(request: Request, principal: Principal) -> dict:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        duty = duty_service.on_duty(conn, principal.id)
        offers, mine = _offers_and_mine(conn, principal, rt.clock())
        zone_ids = [d["zone_id"] for d in duty if d["zone_id"] is not None]
        team = routing.colleagues(conn, zone_ids) if zone_ids else []
        choices = duty_service.zone_choices(conn, _municipalities(principal))
    return dict(duty=duty, offers=offers, mine=mine, team=[c for c in team if c["user_id"] != principal.id],
                zone_choices=choices, technician=_is_technician(principal),
                **_context(request))


@router.get("")
def home(request: Request, principal: Principal = Depends(responder_page)):
    return render(request, "responder/home.html", **_home_data(request, principal))


@router.get("/offers")
def offers(request: Request, principal: Principal = Depends(responder_page)):
    """The live part of the home screen, refetched on every event."""
    return render(request, "responder/_lists.html", **_home_data(request, principal))


@router.post("/duty")
async def go_on_duty(request: Request, principal: Principal = Depends(responder_page)):
    form = await request.form()
    zone_ids = [int(z) for z in form.getlist("zone_id") if str(z).isdigit()]
    rt = runtime(request)
    allowed = _municipalities(principal)
    try:
        if form.get("technician") and _is_technician(principal):
            await rt.journal.run(lambda conn: routing.log_in_as_technician(
                conn, user_id=principal.id, municipality_id=min(allowed), now=rt.clock()))
        else:
            await rt.journal.run(lambda conn: routing.log_in_to_zones(
                conn, user_id=principal.id, zone_ids=zone_ids, role="responder", now=rt.clock(), municipality_ids=allowed))
    except alarm_service.AlarmNotFound:
        return render(request, "error.html", status_code=404, message_key="error.404")
    return _back_home(request)


@router.post("/duty/off")
async def go_off_duty(request: Request, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    await rt.journal.run(lambda conn: routing.log_out(conn, user_id=principal.id, now=rt.clock()))
    return _back_home(request)


def _back_home(request: Request) -> Response:
    if request.headers.get("HX-Request"):
        return HTMLResponse("", headers={"HX-Redirect": "/app"})
    return RedirectResponse("/app", status_code=303)


@router.get("/alarms/{alarm_id}")
async def alarm_page(request: Request, alarm_id: str, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    allowed = _municipalities(principal)
    with rt.engine.connect() as conn:
        detail = queries.alarm_detail(conn, alarm_id, now=rt.clock(), in_municipalities=allowed)
        if detail is not None:
            queries.with_taker_names(conn, [detail])
            visible = routing.in_hand_of(conn, alarm_id, user_id=principal.id, visible_to=allowed)
    if detail is None or not visible:
        return render(request, "error.html", status_code=404, message_key="error.404")
    # The worker is about to go to this person: the read is audited like the centre's.
    person = await recipient_reads.read_for_alarm(rt.journal, rt.engine, rt.clock, actor=principal.actor, alarm=detail,
                                                  via="responder_app")
    return render(request, "responder/alarm.html", alarm=detail, person=person, error=None,
                  **_work_context(detail, principal), **_context(request))


def _work_context(detail: dict, principal: Principal) -> dict:
    mission = detail.get("mission") or {}
    return {
        "mine": detail.get("answered_by") == principal.actor,
        "mission_open": bool(mission) and not mission.get("accepted_by") and not mission.get("done_at"),
        "mission_mine": bool(mission) and mission.get("accepted_by") == principal.actor and not mission.get("done_at"),
    }


@router.post("/alarms/{alarm_id}/accept")
async def accept(request: Request, alarm_id: str, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    return await _act(request, alarm_id, principal, lambda conn: routing.accept(
        conn, alarm_id, user_id=principal.id, now=rt.clock(), visible_to=_municipalities(principal)))


@router.post("/alarms/{alarm_id}/mission/accept")
async def accept_mission(request: Request, alarm_id: str, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    return await _act(request, alarm_id, principal, lambda conn: missions.accept(
        conn, alarm_id, user_id=principal.id, now=rt.clock(), visible_to=_municipalities(principal)))


@router.post("/alarms/{alarm_id}/decline")
async def decline(request: Request, alarm_id: str, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    refusal = await _act(request, alarm_id, principal, lambda conn: routing.decline(
        conn, alarm_id, user_id=principal.id, now=rt.clock(), visible_to=_municipalities(principal), reason=None))
    return refusal if refusal.status_code != 200 else _back_home(request)


@router.post("/alarms/{alarm_id}/hand-back")
async def hand_back(request: Request, alarm_id: str, reason: str = Form("", max_length=400),
                    principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    refusal = await _act(request, alarm_id, principal, lambda conn: routing.hand_back(
        conn, alarm_id, user_id=principal.id, now=rt.clock(), visible_to=_municipalities(principal), reason=reason or None))
    return refusal if refusal.status_code != 200 else _back_home(request)


@router.post("/alarms/{alarm_id}/status")
async def status(request: Request, alarm_id: str, status: str = Form(...), note: str = Form("", max_length=4000),
                 principal: Principal = Depends(responder_page)):
    """En route, arrived, done. Done resolves and closes the alarm with what was done."""
    rt = runtime(request)
    try:
        action = Action(status)
    except ValueError:
        action = None
    if action not in (Action.EN_ROUTE, Action.ARRIVED, Action.DONE):
        return render(request, "error.html", status_code=422, message_key="app.error.unknown")
    visible = _municipalities(principal)

    def work(conn):
        now = rt.clock()
        routing.require_in_hand(conn, alarm_id, user_id=principal.id, visible_to=visible)
        if queries.alarm_holder(conn, alarm_id) != principal.actor:
            # A mission the centre dispatched: report on it; the centre closes the alarm.
            missions.report(conn, alarm_id, user_id=principal.id, action=action, now=now, visible_to=visible,
                            text=note.strip() or None)
            return
        alarm_service.record_action(conn, alarm_id, action=action, actor=principal.actor, visible_to=visible, now=now,
                                    text=note.strip() or None)
        if action is Action.DONE:
            alarm_service.resolve(conn, alarm_id, actor=principal.actor, visible_to=visible,
                                  outcome=Outcome.HOME_CARE_DISPATCHED, note=note.strip() or None, now=now)
            alarm_service.close(conn, alarm_id, actor=principal.actor, visible_to=visible, now=now)

    refusal = await _act(request, alarm_id, principal, work)
    if refusal.status_code == 200 and action is Action.DONE:
        return _back_home(request)
    return refusal


@router.post("/alarms/{alarm_id}/notes")
async def note(request: Request, alarm_id: str, text: str = Form("", max_length=4000),
               principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    return await _act(request, alarm_id, principal, lambda conn: _in_field(conn, alarm_id, principal) and alarm_service.add_note(
        conn, alarm_id, actor=principal.actor, visible_to=_municipalities(principal), text=text.strip(), now=rt.clock()))


@router.post("/alarms/{alarm_id}/call")
async def call(request: Request, alarm_id: str, result: str = Form(...), principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    try:
        outcome = CallResult(result)
    except ValueError:
        return render(request, "error.html", status_code=422, message_key="app.error.unknown")
    return await _act(request, alarm_id, principal, lambda conn: _in_field(conn, alarm_id, principal) and alarm_service.record_action(
        conn, alarm_id, action=Action.CALL_RECIPIENT, result=outcome, actor=principal.actor,
        visible_to=_municipalities(principal), now=rt.clock()))


def _in_field(conn, alarm_id: str, principal: Principal) -> bool:
    """404 (AlarmNotFound) unless the alarm is on offer to me, dispatched to my zone or held by me now."""
    routing.require_in_hand(conn, alarm_id, user_id=principal.id, visible_to=_municipalities(principal))
    return True


async def _act(request: Request, alarm_id: str, principal: Principal, work) -> HTMLResponse:
    """Run the unit of work, then show the alarm again (with the refusal, if any): on a
    phone the worker's next step is on the same screen."""
    rt = runtime(request)
    error = None
    outcome = await run_action(rt.journal, work)
    if outcome.not_found is not None:
        return render(request, "error.html", status_code=404, message_key="error.404")
    refused = outcome.refused
    status_code = 200 if refused is None else 409
    with rt.engine.connect() as conn:
        detail = queries.alarm_detail(conn, alarm_id, now=rt.clock(), in_municipalities=_municipalities(principal))
        if detail is None:
            return render(request, "error.html", status_code=404, message_key="error.404")
        queries.with_taker_names(conn, [detail])
        t = i18n.translator(i18n.language_of(request))
        # Refused because someone else has it (the alarm, or the centre's mission): say who.
        # (A holder in the app cannot take over: the centre does that, so no "take over" hint.)
        taker = (detail.get("mission") or {}).get("accepted_by") or detail.get("answered_by")
        if refused is not None:
            error = refusal_text(t, refused)
            if taker and taker != principal.actor:
                error = t("app.taken_by", name=queries.actor_names(conn, {taker}).get(taker, taker))
    return render(request, "responder/_work.html", status_code=status_code, alarm=detail, error=error,
                  **_work_context(detail, principal), **_context(request))


@router.get("/events")
async def events(request: Request, principal: Principal = Depends(responder_page)):
    """Changes to the alarms offered or dispatched to my duty, or held by me (ids and states
    only); the page refetches. Going on or off duty reloads the page, and with it the stream."""
    rt = runtime(request)
    with rt.engine.connect() as conn:
        tags = routing.field_tags(conn, principal.id)
    mine = _municipalities(principal)

    def duty_changed(change: dict) -> bool:
        return change.get("event") == routing.DUTY_CHANGED and principal.actor in change.get("audience", ())

    # On a duty change (from this phone or another) the stream ends with a reload, and the
    # new stream filters by the new duty.
    return change_stream(request, lambda change: duty_changed(change) or (
        change.get("municipality_id") in mine and not tags.isdisjoint(change.get("audience", ()))),
        ends_on=duty_changed)


@router.get("/sw.js", dependencies=[Depends(public())])
def service_worker():
    # Served from /app/ so its scope is the app; it caches nothing an alarm depends on. Its
    # scope is "/app" (the home screen itself, not only what is under "/app/"): wider than the
    # script's folder, which the browser allows only with this header.
    return FileResponse(Path(STATIC_DIR) / "app-sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/app"})
