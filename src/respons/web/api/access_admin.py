"""Administration of users, roles and API tokens.

Host administrators manage users and roles everywhere. API tokens can be issued by the host
administrator or by the municipality's own administrator, for that municipality only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from respons.auth import accounts, administration
from respons.domain.access import Role
from respons.web.access import Principal, access, not_found
from respons.web.errors import ErrorOut, error_response
from respons.web.bounds import DbId, Text
from respons.web.runtime import runtime

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

host_admin = access(Role.HOST_ADMIN)
token_admin = access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    display_name: Text = Field(min_length=1, max_length=200)
    password: Text = Field(min_length=12, max_length=200)


class GrantIn(BaseModel):
    role: Role
    municipality_id: DbId | None = None


class TokenIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200, examples=["Leverandør X – trygghetsalarmer"])
    municipality_id: DbId
    purpose: str = Field("intake", pattern="^(intake|integration)$")


class TokenOut(BaseModel):
    id: int
    token: str = Field(description="Shown once. Store it in the integration's secret store.")
    municipality_id: int
    purpose: str
    created_at: datetime


# The API's answer to each of the administration's refusals.
REFUSAL_STATUS = {administration.NOT_FOUND: 404, administration.GRANT_EXISTS: 409}


def _refused(exc: administration.AdminRefused):
    return error_response(REFUSAL_STATUS[exc.code], exc.code, exc.message)


@router.post("/users", status_code=201, responses={409: {"model": ErrorOut, "description": "The user name is taken."}},
             summary="Create a user")
async def create_user(body: UserIn, request: Request, principal: Principal = Depends(host_admin)):
    rt = runtime(request)
    try:
        user_id = await rt.journal.run(
            lambda conn: administration.create_user(conn, username=body.username, display_name=body.display_name,
                                                    password=body.password, actor=principal.actor, now=rt.clock())
        )
    except accounts.AccountError as exc:
        return error_response(409, "user_exists", str(exc))
    except IntegrityError:
        # Another node (or a retried request) created the same user name in the same instant.
        return error_response(409, "user_exists", f"The user name {body.username.strip().lower()!r} is taken.")
    return {"id": user_id, "username": body.username.lower()}


@router.post(
    "/users/{user_id}/roles", status_code=201, summary="Grant a role",
    responses={404: {"model": ErrorOut, "description": "No such user or municipality."},
               409: {"model": ErrorOut, "description": "The user already holds this role there."},
               422: {"model": ErrorOut, "description": "Invalid request, or a role that is not held there."}},
)
async def grant_role(body: GrantIn, request: Request, user_id: Annotated[DbId, Path()], principal: Principal = Depends(host_admin)):
    rt = runtime(request)
    try:
        await rt.journal.run(lambda conn: administration.grant_role_once(
            conn, user_id=user_id, role=body.role, municipality_id=body.municipality_id, actor=principal.actor,
            now=rt.clock()))
    except accounts.AccountError as exc:
        return error_response(422, "invalid_grant", str(exc))
    except administration.AdminRefused as exc:
        return _refused(exc)
    except IntegrityError:
        # Another node granted the same role in the same instant.
        return error_response(409, "grant_exists", "The user already holds this role here.")
    return {"user_id": user_id, "role": body.role.value, "municipality_id": body.municipality_id}


@router.post("/tokens", status_code=201, response_model=TokenOut, summary="Issue an API token",
             responses={404: {"model": ErrorOut, "description": "No such municipality in your scope."}})
async def create_token(body: TokenIn, request: Request, principal: Principal = Depends(token_admin)):
    if not (principal.scope.all_municipalities or body.municipality_id in principal.scope.registry):
        raise not_found("municipality")
    rt = runtime(request)
    now = rt.clock()
    creator = principal.id if principal.kind == "user" else None
    try:
        token_id, token = await rt.journal.run(lambda conn: administration.issue_token(
            conn, name=body.name, municipality_id=body.municipality_id, purpose=body.purpose, actor=principal.actor,
            created_by=creator, now=now))
    except administration.AdminRefused as exc:
        return _refused(exc)
    return TokenOut(id=token_id, token=token, municipality_id=body.municipality_id, purpose=body.purpose, created_at=now)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke an API token",
               responses={404: {"model": ErrorOut, "description": "No such token in your scope."}})
async def revoke_token(request: Request, token_id: Annotated[DbId, Path()], principal: Principal = Depends(token_admin)):
    rt = runtime(request)
    if not await rt.journal.run(lambda conn: administration.revoke_token_in_scope(
            conn, token_id, scope=principal.scope, actor=principal.actor, now=rt.clock())):
        raise not_found("token")
    # Before the answer: the live bus tells this node's cache too, but only after the journal
    # has answered (auth/token_cache.py).
    rt.tokens.forget()
    return Response(status_code=204)


class UnlockOut(BaseModel):
    user_id: int
    failures_cleared: int = Field(description="Failed log-ins forgotten (from every address).")


@router.post(
    "/users/{user_id}/unlock", response_model=UnlockOut, responses={404: {"model": ErrorOut}},
    summary="Unlock a user's log-in: forget its failed log-ins",
)
async def unlock_user(request: Request, user_id: Annotated[DbId, Path()], principal: Principal = Depends(host_admin)):
    """Failed log-ins make the next attempt from the same address wait (docs/access.md); this
    ends the wait at once, for every address. Audited as ``login_unlock``."""
    rt = runtime(request)
    cleared = await rt.journal.run(lambda conn: administration.unlock_user(conn, user_id, actor=principal.actor,
                                                                           now=rt.clock()))
    if cleared is None:
        raise not_found("user")
    return UnlockOut(user_id=user_id, failures_cleared=cleared)
