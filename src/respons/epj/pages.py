"""The host administrator's view of the patient record's delivery: what has not reached the
municipalities' EPJ and why, and a re-send (docs/epj.md, "Delivery states")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from respons.domain.access import Role
from respons.epj import outbox, watch
from respons.epj import words  # noqa: F401  (registers the pages' words)
from respons.registry.service import list_municipalities
from respons.web import i18n
from respons.web.access import Principal
from respons.web.bounds import DbId
from respons.web.pages import PageRefused, done, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/epj", include_in_schema=False)
host_admin = page_access(Role.HOST_ADMIN)


@router.get("")
def documents(request: Request, resent: int = Query(0), principal: Principal = Depends(host_admin)):
    with runtime(request).engine.connect() as conn:
        rows = outbox.undelivered(conn)
        counts = outbox.counts(conn)
        failing = watch.failing(conn)
        names = {m["id"]: m["name"] for m in list_municipalities(conn)}
    for row in rows:
        row["why"] = _why(row)
    notice = i18n.translator(i18n.language_of(request))("epj.resent") if resent else None
    return render(request, "epj/documents.html", rows=rows, counts=counts, names=names, notice=notice,
                  failing=failing)


@router.post("/documents/{document_id}/resend")
async def resend(request: Request, document_id: Annotated[DbId, Path()], principal: Principal = Depends(host_admin)):
    rt = runtime(request)
    found = await rt.journal.run(lambda conn: outbox.resend_document(conn, document_id, now=rt.clock(),
                                                                     actor=principal.actor))
    if found is None:
        raise PageRefused(404, "error.404")
    return done(request, "/epj?resent=1")


def _why(row: dict) -> list[str]:
    """What the administrator needs to act on: the validator's findings, the EPJ's own words
    (its OperationOutcome), or the last error. Technical, and shown as the system said it."""
    if row["problems"]:
        return list(row["problems"])
    issues = (row["outcome"] or {}).get("issue") or []
    said = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code", "") for i in issues]
    status = [f"HTTP {row['status_code']}"] if row["status_code"] else []
    return status + [s for s in said if s] + ([row["last_error"]] if row["last_error"] and not said else [])
