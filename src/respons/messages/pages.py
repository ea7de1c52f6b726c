"""The pages of messages: the one-time link next of kin confirm with, and the responder
app's Web Push subscription (docs/messages.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from respons.domain.access import Role
from respons.messages import service
from respons.messages import words  # noqa: F401  (registers the pages' words)
from respons.web.access import Principal, public
from respons.web.pages import page_access, render
from respons.web.runtime import runtime

router = APIRouter(include_in_schema=False)
responder_page = page_access(Role.RESPONDER, Role.TECHNICIAN)

Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Uid = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]+$")]


@router.get("/k/{token}", dependencies=[Depends(public())])
def confirm_page(request: Request, token: Token):
    """Shows the question only: opening the link confirms nothing (a messaging app's link
    preview opens it too)."""
    with runtime(request).engine.connect() as conn:
        request_row = service.link_facts(conn, token)
    if request_row is None:
        return render(request, "messages/confirm.html", status_code=404, token=token, outcome="unknown")
    return render(request, "messages/confirm.html", token=token,
                  outcome="used" if request_row.confirmed_at is not None else None)


@router.post("/k/{token}", dependencies=[Depends(public())])
async def confirm(request: Request, token: Token):
    rt = runtime(request)
    outcome = await rt.journal.run(lambda conn: service.confirm_link(conn, token, now=rt.clock()))
    return render(request, "messages/confirm.html", status_code=404 if outcome is None else 200, token=token,
                  outcome=outcome or "unknown")


# --- Web Push for the responder app --------------------------------------------------------------


class Keys(BaseModel):
    p256dh: str = Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")
    auth: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_=-]+$")


class Subscription(BaseModel):
    endpoint: str = Field(min_length=10, max_length=2000)
    keys: Keys


@router.get("/app/push/key")
def push_key(request: Request, principal: Principal = Depends(responder_page)):
    key = runtime(request).push_key
    if key is None:
        return JSONResponse({"error": "push_unavailable"}, status_code=404)
    return {"key": key}


@router.post("/app/push/subscriptions", status_code=201)
async def subscribe(request: Request, subscription: Subscription, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    if rt.push_key is None:
        return JSONResponse({"error": "push_unavailable"}, status_code=404)
    saved = await rt.journal.run(lambda conn: service.subscribe(
        conn, user_id=principal.id, endpoint=subscription.endpoint, p256dh=subscription.keys.p256dh,
        auth=subscription.keys.auth, extra_services=tuple(rt.settings.push_services), now=rt.clock()))
    if saved is None:
        return JSONResponse({"error": "push_service_not_allowed",
                             "message": "The subscription's push service is not one Respons sends to."}, status_code=422)
    return {"subscribed": True}


@router.post("/app/push/unsubscribe")
async def unsubscribe(request: Request, subscription: Subscription, principal: Principal = Depends(responder_page)):
    rt = runtime(request)
    await rt.journal.run(lambda conn: service.unsubscribe(conn, user_id=principal.id, endpoint=subscription.endpoint,
                                                          now=rt.clock()))
    return {"subscribed": False}


@router.post("/app/push/{uid}/shown", dependencies=[Depends(public())], status_code=204)
async def shown(request: Request, uid: Uid):
    """The service worker showed the push (no session in a service worker's wake-up: the
    message's random uid, which only the phone received, is the key). Delivered."""
    rt = runtime(request)
    await rt.journal.run(lambda conn: service.push_shown(conn, uid, now=rt.clock()))
    return Response(status_code=204)
