"""The person's supervision plans in the registry's pages: the plans, and a form for the
municipality's administrator to record one (docs/supervision.md). The same unit of work as the
API (service.add_plan); this module only turns the form's text into values and back."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request

from respons.digital_supervision import service, words  # noqa: F401  (words: the page's i18n keys)
from respons.clock import OSLO
from respons.domain.access import Role
from respons.registry.pages import Form
from respons.registry.service import Invalid, NotFound, recipient_municipality
from respons.web import i18n
from respons.web.access import Principal
from respons.web.bounds import DbId
from respons.web.pages import PageRefused, done, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/admin/registry", include_in_schema=False)
municipality_admin = page_access(Role.MUNICIPALITY_ADMIN)

FIELDS = ("kind", "times", "max_seconds", "event_based", "fallback", "checklist", "instructions", "consent_by", "consent_on",
          "valid_from", "valid_to")
# "03:00 1-5" or "03:00 1,3,5": a time and, optionally, its ISO weekdays.
_TIME_LINE = re.compile(r"^\s*([0-9]{1,2}:[0-9]{2})(?:\s+([1-7](?:\s*[-,]\s*[1-7])*))?\s*$")


def _in_scope(request: Request, recipient_id: int, principal: Principal) -> None:
    """404 for a person outside the caller's municipality (before a form is read)."""
    with runtime(request).engine.connect() as conn:
        try:
            recipient_municipality(conn, recipient_id, principal.scope.registry)
        except NotFound:
            raise PageRefused(404, "error.404") from None


async def _page(request: Request, recipient_id: int, principal: Principal, form: Form | None = None, *,
                status: int = 200, saved: bool = False, ended: bool = False, end_problem: dict | None = None):
    now = runtime(request).clock()
    try:
        plans, looked = await runtime(request).journal.run(lambda conn: service.read_plans(
            conn, recipient_id, allowed=principal.scope.registry, now=now, actor=principal.actor))
    except NotFound:
        raise PageRefused(404, "error.404") from None
    return render(request, "supervision/plans.html", status_code=status, recipient_id=recipient_id,
                  plans=plans, history=looked, form=form or _empty_form(), saved=saved,
                  ended=ended, end_problem=end_problem)


def _empty_form() -> Form:
    return Form("s", FIELDS, {"kind": "camera", "max_seconds": "30", "fallback": "phone"})


@router.get("/recipients/{recipient_id}/supervision")
async def plans(request: Request, recipient_id: DbId, saved: str = "", ended: str = "",
                principal: Principal = Depends(municipality_admin)):
    return await _page(request, recipient_id, principal, saved=bool(saved), ended=bool(ended))


@router.post("/recipients/{recipient_id}/supervision")
async def add_plan(request: Request, recipient_id: DbId, principal: Principal = Depends(municipality_admin)):
    _in_scope(request, recipient_id, principal)
    posted = await request.form()
    typed = {name: str(posted.get(name, "")) for name in FIELDS}
    t = i18n.translator(i18n.language_of(request))
    values, problems = _values(typed, t)
    if not problems:
        now = runtime(request).clock()
        try:
            plan_id = await runtime(request).journal.run(lambda conn: service.add_plan(
                conn, recipient_id, values, allowed=principal.scope.registry, now=now, actor=principal.actor))
        except NotFound:
            raise PageRefused(404, "error.404") from None
        except Invalid as refused:
            problems = [{"field": p.field_name, "problem": t(p.key, **p.params) if p.key else p.text}
                        for p in refused.named]
        else:
            return done(request, f"/admin/registry/recipients/{recipient_id}/supervision?saved={plan_id}")
    return await _page(request, recipient_id, principal, Form("s", FIELDS, typed, problems), status=422)


@router.post("/recipients/{recipient_id}/supervision/{plan_id}/end")
async def end_plan(request: Request, recipient_id: DbId, plan_id: DbId, principal: Principal = Depends(municipality_admin)):
    _in_scope(request, recipient_id, principal)
    typed = str((await request.form()).get("valid_to", ""))
    t = i18n.translator(i18n.language_of(request))
    now = runtime(request).clock()
    try:
        valid_to = date.fromisoformat(typed.strip())
    except ValueError:
        problem = t("supervision.date")
    else:
        try:
            await runtime(request).journal.run(lambda conn: service.end_plan(
                conn, recipient_id, plan_id, valid_to, allowed=principal.scope.registry,
                today=now.astimezone(OSLO).date(), now=now, actor=principal.actor))
        except NotFound:
            raise PageRefused(404, "error.404") from None
        except Invalid as refused:
            problem = " ".join(t(p.key, **p.params) for p in refused.named)
        else:
            return done(request, f"/admin/registry/recipients/{recipient_id}/supervision?ended={plan_id}")
    return await _page(request, recipient_id, principal, status=422,
                 end_problem={"plan_id": plan_id, "text": problem, "typed": typed})


def _values(typed: dict[str, str], t) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The form's text as the service's values, or what cannot be read, per field."""
    problems: list[dict[str, str]] = []
    values: dict[str, Any] = {"kind": typed["kind"], "event_based": typed["event_based"] in ("1", "on"),
                              "fallback": typed["fallback"] or "phone",
                              "consent_by": typed["consent_by"].strip(), "instructions": typed["instructions"].strip(),
                              "checklist": [line.strip() for line in typed["checklist"].splitlines() if line.strip()]}
    times = []
    for line in (line for line in typed["times"].splitlines() if line.strip()):
        found = _TIME_LINE.match(line)
        if found is None:
            problems.append({"field": "times", "problem": t("supervision.time", at=line.strip()[:10])})
            continue
        times.append({"at": found.group(1), "weekdays": _weekdays(found.group(2))})
    values["times"] = times
    try:
        values["max_seconds"] = int(typed["max_seconds"])
    except ValueError:
        problems.append({"field": "max_seconds", "problem": t("supervision.number")})
    for name in ("consent_on", "valid_from", "valid_to"):
        text = typed[name].strip()
        if not text and name == "valid_to":
            values[name] = None
            continue
        try:
            values[name] = date.fromisoformat(text)
        except ValueError:
            problems.append({"field": name, "problem": t("supervision.date")})
    return values, problems


def _weekdays(spec: str | None) -> list[int]:
    if not spec:
        return list(range(1, 8))
    days: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return sorted(days)
