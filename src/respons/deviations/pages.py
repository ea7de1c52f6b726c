"""Deviation reports in the browser: the list, registering one, and handling it to a
conclusion. The same units of work, scope and audit as the API (``deviations/api.py``,
``deviations/service.py``); a refused form comes back with the reason (422/409) and the typed
values kept; a saved one answers with ``HX-Redirect``."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Query, Request

from respons.domain.alarm_types import ALARM_TYPES
from respons.deviations.rules import DeviationCategory, DeviationState, IllegalDeviationChange, Severity
from respons.deviations import service
from respons.statistics import service as statistics
from respons.engine.missions import MISSING_TITLES
from respons.formatting import duration
from respons.store.journal import JournalUnavailable
from respons.web import i18n
from respons.web.access import Principal
from respons.deviations.api import HANDLERS, READERS, REGISTRARS, deviation_scope, handling_scope, registering_scope
from respons.deviations import words  # noqa: F401  (registers the pages' words)
from respons.web.bounds import DbId
from respons.web.pages import PageRefused, done, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/deviations", include_in_schema=False)
readers = page_access(*READERS)


# The titles the system writes when it proposes a deviation (engine/alarms.py, engine/missions.py)
# are stored in bokmål; the pages say them in the reader's language instead.
_ANSWER_TIME_TITLE = re.compile(r"^Alarmen ble besvart etter (\d+) sekunder$")
_MISSING_BY_TITLE = {title: missing for missing, title in MISSING_TITLES.items()}


def shown_title(row: dict, language: str) -> str:
    """A deviation's title as the reader sees it: a person's title as they typed it, the
    system's own proposals in the reader's language, durations over two minutes in minutes."""
    title = row["title"]
    if not row.get("proposed_by_system"):
        return title
    t = i18n.translator(language)
    if (late := _ANSWER_TIME_TITLE.match(title)) is not None:
        return t("dev.proposal.answer_time", duration=duration(int(late.group(1)), language))
    if title in _MISSING_BY_TITLE:
        return t(f"dev.proposal.{_MISSING_BY_TITLE[title]}")
    return title


def _context(request: Request, principal: Principal) -> dict:
    with runtime(request).engine.connect() as conn:
        names = statistics.municipality_names(conn, deviation_scope(principal))
    language = i18n.language_of(request)
    # The form offers only where the caller may register (not every municipality they read).
    may_register = registering_scope(principal)
    registrable = {mid: name for mid, name in names.items() if mid in may_register}
    return {"title_of": lambda row: shown_title(row, language), "names": names, "registrable": registrable,
            "categories": list(DeviationCategory), "severities": list(Severity),
            "can_register": any(principal.has(r) for r in REGISTRARS), "can_handle": any(principal.has(r) for r in HANDLERS)}



@router.get("")
def listing(request: Request, show: str = Query("open", pattern="^(open|all)$"), principal: Principal = Depends(readers)):
    with runtime(request).engine.connect() as conn:
        rows = service.listing(conn, municipality_ids=deviation_scope(principal), open_only=show == "open")
    return render(request, "deviations/list.html", rows=rows, show=show, typed={}, error=None,
                  **_context(request, principal))


@router.post("")
async def register(request: Request, principal: Principal = Depends(readers)):
    if not any(principal.has(r) for r in REGISTRARS):
        raise PageRefused(403, "error.403")
    form = await request.form()
    typed = {k: str(form.get(k, "")).strip() for k in ("municipality_id", "category", "severity", "title", "description",
                                                      "alarm_id")}
    context = _context(request, principal)
    try:
        municipality_id = int(typed["municipality_id"])
    except ValueError:
        municipality_id = -1
    if municipality_id not in registering_scope(principal):
        raise PageRefused(404, "error.404")
    rt = runtime(request)
    try:
        deviation_id = await rt.journal.run(lambda conn: service.register(
            conn, municipality_id=municipality_id, category=typed["category"], severity=typed["severity"] or "medium",
            title=typed["title"], description=typed["description"] or None, alarm_id=typed["alarm_id"] or None,
            actor=principal.actor, now=rt.clock()))
    except (IllegalDeviationChange, JournalUnavailable) as exc:
        # An outage is shown in the form like a refusal, not on the app's error page
        # (web/unavailable.py): what the person typed is kept for another try.
        error = _refusal(request, exc)
        with rt.engine.connect() as conn:
            alarm = (service.alarm_for_deviation(conn, typed["alarm_id"], municipality_ids=frozenset(context["names"]))
                     if typed["alarm_id"] else None)
            if alarm is not None:  # registered from the alarm's card: back to that form, the alarm still shown
                return render(request, "deviations/new.html", status_code=422, typed=typed, error=error, alarm=alarm,
                              type_label=_type_label(request), **context)
            rows = service.listing(conn, municipality_ids=deviation_scope(principal), open_only=True)
        return render(request, "deviations/list.html", status_code=422, rows=rows, show="open", typed=typed,
                      error=error, **context)
    return done(request, f"/deviations/{deviation_id}")


@router.get("/new")
def new(request: Request, alarm_id: str | None = Query(None), principal: Principal = Depends(readers)):
    """The form on its own page, opened from an alarm's card (``?alarm_id=``): the alarm is
    filled in and shown (type, time, municipality), so nobody copies an id by hand. An alarm
    outside the caller's municipalities is not found, like any other."""
    if not any(principal.has(r) for r in REGISTRARS):
        raise PageRefused(403, "error.403")
    context = _context(request, principal)
    alarm = None
    typed: dict[str, str] = {}
    if alarm_id:
        with runtime(request).engine.connect() as conn:
            alarm = service.alarm_for_deviation(conn, alarm_id, municipality_ids=frozenset(context["registrable"]))
        if alarm is None:
            raise PageRefused(404, "error.404")
        typed = {"alarm_id": alarm["id"], "municipality_id": str(alarm["municipality_id"])}
    return render(request, "deviations/new.html", typed=typed, error=None, alarm=alarm,
                  type_label=_type_label(request), **context)


def _t(request: Request):
    return i18n.translator(i18n.language_of(request))


def _refusal(request: Request, exc: Exception) -> str:
    """The reason in the reader's language (the domain's message is the API's English)."""
    key = "unavailable" if isinstance(exc, JournalUnavailable) else getattr(exc, "key", "not_now")
    return _t(request)(f"dev.error.{key}")


def _type_label(request: Request):
    english = i18n.language_of(request) == "en"
    return lambda code: (ALARM_TYPES[code].label_en if english else ALARM_TYPES[code].label_nb) if code in ALARM_TYPES else code


@router.get("/{deviation_id}")
def detail(request: Request, deviation_id: DbId, principal: Principal = Depends(readers)):
    return _detail(request, principal, deviation_id)


def _detail(request: Request, principal: Principal, deviation_id: int, *, error: str | None = None, status_code: int = 200):
    with runtime(request).engine.connect() as conn:
        found = service.detail(conn, deviation_id, municipality_ids=deviation_scope(principal))
    if found is None:
        raise PageRefused(404, "error.404")
    handles = found["municipality_id"] in handling_scope(principal)
    return render(request, "deviations/detail.html", status_code=status_code, d=found, error=error, handles=handles,
                  State=DeviationState, **_context(request, principal))


@router.post("/{deviation_id}/events")
async def change(request: Request, deviation_id: DbId, principal: Principal = Depends(page_access(*HANDLERS))):
    form = await request.form()
    kind = str(form.get("kind", ""))
    if kind not in service.CHANGES:
        return _detail(request, principal, deviation_id, error=_t(request)("dev.error.unknown_change"), status_code=422)
    data = {k: str(form[k]).strip() for k in ("to", "text", "conclusion", "reason", "severity") if form.get(k)}
    rt = runtime(request)
    try:
        await rt.journal.run(lambda conn: service.change(conn, deviation_id, service.CHANGES[kind], actor=principal.actor,
                                                         data=data, now=rt.clock(), allowed=handling_scope(principal)))
    except service.DeviationNotFound:
        raise PageRefused(404, "error.404") from None
    except IllegalDeviationChange as exc:
        return _detail(request, principal, deviation_id, error=_refusal(request, exc), status_code=409)
    return done(request, f"/deviations/{deviation_id}")
