"""Log-in, log-out and who am I.

Log-in sits behind ``accounts.log_in`` so an OpenID Connect provider (HelseID) can be added
later as another way to reach the same session creation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from respons.auth import accounts
from respons.web.access import SESSION_COOKIE, Principal, access, public
from respons.web.client_address import client_address
from respons.web.errors import ErrorOut, error_response
from respons.web.bounds import Text
from respons.web.runtime import runtime
from respons.web.unavailable import LOGIN_NOT_POSSIBLE, answers_unavailable

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: Text = Field(min_length=1, max_length=100, examples=["operator"])
    password: Text = Field(min_length=1, max_length=200)
    totp: Text | None = Field(
        None, max_length=10,
        description="Six-digit code; required for administrators, each code accepted once. Without it an administrator "
        "gets `bad_credentials`, the same answer as for a wrong password.",
    )


class GrantOut(BaseModel):
    role: str
    municipality_id: int | None


class MeOut(BaseModel):
    user_id: int
    grants: list[GrantOut]
    csrf_token: str = Field(description="Send as `X-CSRF-Token` with every request that changes something.")
    expires_at: datetime


@router.post(
    "/login",
    response_model=MeOut,
    dependencies=[Depends(public())],
    responses={
        401: {"model": ErrorOut, "description": "`bad_credentials`: wrong user name, password or code (or a missing or "
              "already used code); one answer for all, so none of them can be probed alone."},
        429: {"model": ErrorOut, "description": "`throttled` (this user name from this address) or `address_limited` "
              "(this address); wait `Retry-After` seconds."},
    },
    summary="Log in and get a session cookie",
)
@answers_unavailable(LOGIN_NOT_POSSIBLE)
async def login(body: LoginIn, request: Request, response: Response):
    rt = runtime(request)
    address = client_address(request, rt.settings.trusted_proxies)
    result = await accounts.log_in_through(
        rt.journal, rt.engine, username=body.username, password=body.password, totp_code=body.totp,
        remote_addr=address, user_agent=request.headers.get("user-agent"), now=rt.clock(),
        session_ttl=timedelta(hours=rt.settings.session_hours))
    if isinstance(result, accounts.LoginRefused):
        status = 429 if result.reason in ("throttled", "address_limited") else 401
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else None
        return error_response(status, result.reason, result.message, headers=headers)
    response.set_cookie(
        SESSION_COOKIE, result.session_token, max_age=int(rt.settings.session_hours * 3600), httponly=True,
        secure=rt.settings.cookie_secure, samesite="strict", path="/",
    )
    return MeOut(
        user_id=result.user_id, grants=[GrantOut(role=g.role.value, municipality_id=g.municipality_id) for g in result.grants],
        csrf_token=result.csrf_token, expires_at=result.expires_at,
    )


@router.post("/logout", status_code=204, summary="End this session")
async def logout(request: Request, principal: Principal = Depends(access(any_user=True))):
    rt = runtime(request)
    session = principal.session
    await rt.journal.run(lambda conn: accounts.log_out(conn, session.session_id, user_id=principal.id, now=rt.clock()))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeOut, summary="The logged-in user and their roles")
def me(principal: Principal = Depends(access(any_user=True))):
    return MeOut(
        user_id=principal.id, grants=[GrantOut(role=g.role.value, municipality_id=g.municipality_id) for g in principal.grants],
        csrf_token=principal.session.csrf_token, expires_at=principal.session.expires_at,
    )
