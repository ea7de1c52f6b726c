"""The operator console: the live queue, the alarm card and the operator's actions.

One page (``/console``) holds the queue and the card. The browser keeps it current from
the server-sent events of ``/api/v1/queue/events``: each event names one alarm, and
``console.js`` fetches just that row (``/console/queue/rows/{id}``) and puts it where the
queue order says, so a queue of thousands stays quick (bench/console_queue.py).

The card has two parts. The recipient's record is rendered once when the card is opened,
and that read is written to the audit log before it is shown. The alarm's own work (state,
actions, timeline: ``#alarm-work``) is re-rendered after each action and when another
operator changes the alarm, without re-reading the record.

Every action goes through the same alarm services as the JSON API; refusals (409: already
taken, 404: outside your municipalities) come back as the work section with a message.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Callable

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse

from respons import maps
from respons.auth import recipient_reads
from respons.domain.access import Role
from respons.domain.alarm_types import ALARM_TYPES
from respons.domain.lifecycle import (
    OPEN_STATES, OPERATOR_OUTCOMES, Action, CallResult, IllegalTransition, NotHolder, Outcome, State,
)
from respons.engine import alarms as alarm_service
from respons.engine import missions
from respons.epj import care as epj_care
from respons.clock import OSLO
from respons.digital_supervision import lookins, service as supervision
from respons.epj import outbox
from respons.store import queries
from respons.web import i18n
from respons.web.access import Principal
from respons.web.alarm_actions import run_action
from respons.web.console import words  # noqa: F401  (registers the console's i18n keys)
from respons.voice import words as _voice_words  # noqa: F401  (the card's voice section and timeline)
from respons.web.pages import page_access, render
from respons.web.refusals import refusal_text
from respons.web.runtime import runtime

router = APIRouter(prefix="/console", include_in_schema=False)

operator_page = page_access(Role.OPERATOR)

# The console shows every open alarm; above this the oldest low-priority ones are cut and
# the page says so (a centre with this many open alarms has a bigger problem).
QUEUE_LIMIT = 5000


# How often a new alarm's sound repeats until someone answers it (console.js).
ALERT_REPEAT_SECONDS = 10
# A mute lasts this long unless the node's settings say otherwise.
# The server's heartbeat interval on the live stream, unless the settings say otherwise.


def _context(request: Request) -> dict:
    lang = i18n.language_of(request)
    settings = runtime(request).settings
    context = {
        "type_label": lambda code: getattr(ALARM_TYPES[code], "label_nb" if lang == "nb" else "label_en"),
        "outcomes": [o.value for o in OPERATOR_OUTCOMES],
        "call_results": [r.value for r in CallResult],
        "answer_warning_seconds": 45,
        "answer_deadline_seconds": settings.answer_deadline_seconds,
        "heartbeat_seconds": settings.sse_heartbeat_seconds,
        "mute_seconds": settings.console_mute_seconds,
        "alert_repeat_seconds": ALERT_REPEAT_SECONDS,
        "map_link": partial(maps.card_link, settings.map_url),
    }
    mute = context["mute_seconds"]
    # "2" or "1,5" (minutes on the mute button), in the page's language.
    context["mute_minutes"] = f"{mute / 60:g}".replace(".", "," if lang == "nb" else ".")
    return context


def _queue(request: Request, principal: Principal, *, alarm_id: str | None = None) -> list[dict]:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        if alarm_id is None:
            items = queries.queue(conn, now=rt.clock(), in_municipalities=principal.scope.alarms, limit=QUEUE_LIMIT)
        else:
            item = queries.queue_item(conn, alarm_id, now=rt.clock(), in_municipalities=principal.scope.alarms)
            items = [item] if item else []
        return queries.with_taker_names(conn, items)


@router.get("")
def console(request: Request, principal: Principal = Depends(operator_page)):
    items = _queue(request, principal)
    return render(request, "console/console.html", items=items, limit=QUEUE_LIMIT, **_context(request))


@router.get("/queue")
def queue_rows(request: Request, principal: Principal = Depends(operator_page)):
    """The whole queue body: after a reconnect or a ``reload`` event (missed updates)."""
    items = _queue(request, principal)
    return render(request, "console/_queue_body.html", items=items, **_context(request))


@router.get("/queue/rows/{alarm_id}")
def queue_row(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """One row, or 204 when the alarm has left the queue (closed)."""
    items = _queue(request, principal, alarm_id=alarm_id)
    if not items:
        return _not_found(request)
    if State(items[0]["state"]) not in OPEN_STATES or items[0]["group_id"]:
        return Response(status_code=204)  # closed, or now shown through its storm group
    return render(request, "console/_row.html", item=items[0], **_context(request))


@router.get("/alarms/{alarm_id}")
async def card(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """The alarm card (an audited read of the recipient's record). Without htmx: the
    whole console with this card open, so a link to an alarm works."""
    return await _card_response(request, alarm_id, principal)


@router.get("/alarms/{alarm_id}/care")
async def care(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """The recipient's care plan from the municipality's EPJ (an audited read)."""
    alarm = _load_work(request, alarm_id, principal)
    if alarm is None:
        return _not_found(request)
    rt = runtime(request)
    view = await epj_care.read_for_alarm(rt.journal, rt.engine, rt.clock, rt.care, actor=principal.actor, alarm=alarm,
                                         via="console")
    return render(request, "console/_care.html", care=view)


@router.get("/alarms/{alarm_id}/work")
def work(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """State, actions and timeline only: refreshed live, no personal record in it."""
    return _work_response(request, alarm_id, principal)


@router.post("/alarms/{alarm_id}/answer")
async def answer(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    refusal = await _act(request, alarm_id, principal, lambda conn, now, who: alarm_service.answer(conn, alarm_id, now=now, **who))
    if refusal is not None:
        return refusal
    # Taking an alarm opens its card: that is the moment the operator needs the record.
    return await _card_response(request, alarm_id, principal)


@router.post("/alarms/{alarm_id}/notes")
async def note(request: Request, alarm_id: str, text: str = Form("", max_length=4000),
               principal: Principal = Depends(operator_page)):
    if not text.strip():
        return _work_response(request, alarm_id, principal, status_code=422, error_key="console.error.note_empty")
    saved: dict = {}

    def add(conn, now, who):
        saved["alarm"] = alarm_service.add_note(conn, alarm_id, text=text.strip(), now=now, **who)

    refusal = await _act(request, alarm_id, principal, add)
    if refusal is not None:
        return refusal
    # A colleague may have closed the alarm while this note was being written: the engine
    # keeps it as an addendum, and the operator must be told it did not land on an open alarm.
    closed = _state_of(saved.get("alarm")) == State.CLOSED.value
    return _work_response(request, alarm_id, principal, notice_key="console.notice.addendum" if closed else None)


@router.post("/alarms/{alarm_id}/actions")
async def act(
    request: Request,
    alarm_id: str,
    action: str = Form(...),
    whom: str = Form(""),
    result: str = Form(""),
    text: str = Form("", max_length=4000),
    principal: Principal = Depends(operator_page),
):
    """``action=call`` with ``whom`` = ``recipient`` or ``contact:<id>`` records a call."""
    try:
        contact = None
        if action == "call":
            chosen = Action.CALL_CONTACT if whom.startswith("contact:") else Action.CALL_RECIPIENT
            contact = int(whom.removeprefix("contact:")) if chosen is Action.CALL_CONTACT else None
        else:
            chosen = Action(action)
        call_result = CallResult(result) if result else None
    except ValueError:
        return _work_response(request, alarm_id, principal, status_code=422, error_key="console.error.action_invalid")
    if action == "call" and call_result is None:
        # The form has no preselected result, so a stray Ctrl+Enter cannot record a call
        # that never happened; without a choice the call is not recorded.
        return _work_response(request, alarm_id, principal, status_code=422, error_key="console.error.call_result_missing")
    if chosen is Action.DISPATCH_HOME_CARE:
        # A mission for the recipient's zone, with deadlines: the centre is told if home
        # care does not accept or finish in time (engine/missions.py).
        settings = runtime(request).settings
        return await _act_then_work(
            request, alarm_id, principal,
            lambda conn, now, who: missions.dispatch(
                conn, alarm_id, now=now, text=text.strip() or None,
                accept_within=timedelta(minutes=settings.mission_accept_minutes),
                complete_within=timedelta(minutes=settings.mission_complete_minutes), **who),
        )
    return await _act_then_work(
        request, alarm_id, principal,
        lambda conn, now, who: alarm_service.record_action(
            conn, alarm_id, action=chosen, result=call_result, contact_id=contact, text=text.strip() or None, now=now, **who
        ),
    )


@router.post("/alarms/{alarm_id}/resolve")
async def resolve(request: Request, alarm_id: str, outcome: str = Form(""), note: str = Form("", max_length=4000),
                  principal: Principal = Depends(operator_page)):
    try:
        chosen = Outcome(outcome)
    except ValueError:
        return _work_response(request, alarm_id, principal, status_code=422, error_key="console.error.outcome_missing")
    return await _act_then_work(
        request, alarm_id, principal,
        lambda conn, now, who: alarm_service.resolve(conn, alarm_id, outcome=chosen, note=note.strip() or None, now=now, **who),
    )


@router.post("/alarms/{alarm_id}/close")
async def close(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    return await _act_then_work(request, alarm_id, principal,
                                lambda conn, now, who: alarm_service.close(conn, alarm_id, now=now, **who))


@router.post("/alarms/{alarm_id}/take-over")
async def take_over(request: Request, alarm_id: str, principal: Principal = Depends(operator_page)):
    """An explicit take-over of an alarm a colleague holds: only then may this operator
    resolve or close it. Recorded on the timeline, and the former holder sees it live."""
    return await _act_then_work(request, alarm_id, principal,
                                lambda conn, now, who: alarm_service.take_over(conn, alarm_id, now=now, **who))


# --- helpers ----------------------------------------------------------------------------------


async def _act(request: Request, alarm_id: str, principal: Principal, action: Callable) -> HTMLResponse | None:
    """Run ``action`` as a unit of work; on refusal return the work section saying why, in
    place, so the operator keeps the alarm in front of them."""
    rt = runtime(request)
    who = {"actor": principal.actor, "visible_to": principal.scope.alarms}
    outcome = await run_action(rt.journal, lambda conn: action(conn, rt.clock(), who))
    if outcome.not_found is not None:
        return _not_found(request)
    if outcome.refused is not None:
        return _work_response(request, alarm_id, principal, status_code=409, error_text=str(outcome.refused),
                              refused=outcome.refused)
    return None


async def _act_then_work(request: Request, alarm_id: str, principal: Principal, action: Callable) -> HTMLResponse:
    refusal = await _act(request, alarm_id, principal, action)
    return refusal or _work_response(request, alarm_id, principal)


def _load_work(request: Request, alarm_id: str, principal: Principal) -> dict | None:
    rt = runtime(request)
    with rt.engine.connect() as conn:
        detail = queries.alarm_detail(conn, alarm_id, now=rt.clock(), in_municipalities=principal.scope.alarms)
        if detail is None:
            return None
        names = queries.actor_names(conn, {e["actor"] for e in detail["timeline"]} | {detail.get("answered_by")})
        # The person's plan allows a look-in after an alarm (digital supervision): the card offers one.
        detail["look_in_allowed"] = lookins.event_allowed(conn, detail, today=rt.clock().astimezone(OSLO).date())
    detail["actor_names"] = names
    detail["answered_by_name"] = names.get(detail.get("answered_by") or "", detail.get("answered_by"))
    detail["mine"] = detail.get("answered_by") == principal.actor
    # Taken over from me: the former holder's header says so instead of "taken by you"
    # (or only "taken by X"), so nobody believes they still hold the alarm.
    last_take_over = next((e for e in reversed(detail["timeline"]) if e["kind"] == "taken_over"), None)
    detail["taken_from_me"] = bool(
        last_take_over and not detail["mine"] and (last_take_over["data"] or {}).get("from") == principal.actor
    )
    return detail


def _state_of(alarm) -> str | None:
    """The state of what an engine service returned (a projection object or a dict)."""
    if alarm is None:
        return None
    state = alarm.get("state") if isinstance(alarm, dict) else getattr(alarm, "state", None)
    return getattr(state, "value", state)


def _work_response(request: Request, alarm_id: str, principal: Principal, *, status_code: int = 200,
                   error_key: str | None = None, error_text: str | None = None, refused=None,
                   notice_key: str | None = None) -> HTMLResponse:
    alarm = _load_work(request, alarm_id, principal)
    if alarm is None:
        return _not_found(request)
    t = i18n.translator(i18n.language_of(request))
    error = _refusal_text(request, alarm, refused) if refused is not None else error_text
    if error_key:
        error = t(error_key)
    return render(request, "console/_work.html", status_code=status_code, alarm=alarm, error=error,
                  notice=t(notice_key) if notice_key else None,
                  contacts=_contacts_for_work(request, alarm), epj=_epj_status(request, alarm), **_context(request))


def _epj_status(request: Request, alarm: dict) -> dict | None:
    """The newest version of a closed alarm's document for the patient record (docs/epj.md)."""
    if alarm["state"] != State.CLOSED.value:
        return None
    with runtime(request).engine.connect() as conn:
        return outbox.latest(conn, alarm["id"])


def _contacts_for_work(request: Request, alarm: dict) -> list[dict]:
    # The call form lists the contacts by name; names only, the record itself is on the card.
    if alarm["recipient_id"] is None:
        return []
    with runtime(request).engine.connect() as conn:
        return queries.contacts_of(conn, alarm["recipient_id"])


def _refusal_text(request: Request, alarm: dict, exc: IllegalTransition) -> str:
    t = i18n.translator(i18n.language_of(request))
    if isinstance(exc, NotHolder):
        # Resolving or closing a colleague's alarm needs an explicit take-over first.
        name = alarm["actor_names"].get(exc.holder) or alarm.get("answered_by_name") or exc.holder
        return t("console.error.not_holder", name=name)
    if alarm["state"] != State.QUEUED.value and alarm.get("answered_by_name") and not alarm["mine"]:
        return t("console.error.taken_by", name=alarm["answered_by_name"])
    return refusal_text(t, exc)


async def _card_response(request: Request, alarm_id: str, principal: Principal, status_code: int = 200) -> HTMLResponse:
    rt = runtime(request)
    alarm = _load_work(request, alarm_id, principal)
    if alarm is None:
        return _not_found(request)
    person = await recipient_reads.read_for_alarm(rt.journal, rt.engine, rt.clock, actor=principal.actor, alarm=alarm,
                                                  via="console")
    looked = []
    if person and alarm.get("recipient_id") is not None:
        # The person's latest look-ins (digital supervision), read with the record just audited.
        with rt.engine.connect() as conn:
            looked = supervision.history(conn, alarm["recipient_id"], allowed=None)[:5]
    context = dict(alarm=alarm, person=person, contacts=person["contacts"] if person else [], error=None, notice=None,
                   epj=_epj_status(request, alarm), looked=looked, **_context(request))
    if request.headers.get("HX-Request"):
        return render(request, "console/_card.html", status_code=status_code, **context)
    items = _queue(request, principal)
    return render(request, "console/console.html", status_code=status_code, items=items, limit=QUEUE_LIMIT,
                  open_card=True, **context)


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "console/_gone.html", status_code=404)
