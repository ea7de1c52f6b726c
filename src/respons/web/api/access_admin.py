"""Administration of users, roles and API tokens.

Host administrators manage users and roles everywhere. API tokens can be issued by the host
administrator or by the municipality's own administrator, for that municipality only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from respons.auth import accounts, audit
from respons.domain.access import Role
from respons.store.tables import api_tokens, municipalities, role_grants, users
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


@router.post("/users", status_code=201, responses={409: {"model": ErrorOut, "description": "The user name is taken."}},
             summary="Create a user")
async def create_user(body: UserIn, request: Request, principal: Principal = Depends(host_admin)):
    rt = runtime(request)
    try:
        user_id = await rt.journal.run(
            lambda conn: _create_user_audited(conn, body, principal.actor, rt.clock())
        )
    except accounts.AccountError as exc:
        return error_response(409, "user_exists", str(exc))
    return {"id": user_id, "username": body.username.lower()}


def _create_user_audited(conn, body: UserIn, actor: str, now: datetime) -> int:
    user_id = accounts.create_user(conn, username=body.username, display_name=body.display_name, password=body.password, now=now)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, details={"user_id": user_id, "username": body.username.lower()})
    return user_id


class _Refused(Exception):
    """A grant or token that names something missing (404) or repeats a grant (409)."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _require_municipality(conn, municipality_id: int) -> None:
    if conn.execute(select(municipalities.c.id).where(municipalities.c.id == municipality_id)).first() is None:
        raise _Refused(404, "not_found", "No such municipality.")


def _grant_once(conn, *, user_id: int, body: GrantIn, actor: str, now: datetime) -> None:
    """Check what the grant names before writing it: a missing user or municipality would
    otherwise reach the database as a foreign-key violation (500), and a repeated grant as a
    unique violation (500) or, for a centre-level role (municipality NULL, which the unique
    constraint does not compare), as a second identical row."""
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise _Refused(404, "not_found", "No such user.")
    if body.municipality_id is not None:
        _require_municipality(conn, body.municipality_id)
    same = and_(role_grants.c.user_id == user_id, role_grants.c.role == body.role.value,
                role_grants.c.municipality_id.is_(None) if body.municipality_id is None
                else role_grants.c.municipality_id == body.municipality_id)
    if conn.execute(select(role_grants.c.id).where(same)).first() is not None:
        raise _Refused(409, "grant_exists", "The user already holds this role here.")
    accounts.grant_role(conn, user_id=user_id, role=body.role, municipality_id=body.municipality_id, actor=actor, now=now)


@router.post(
    "/users/{user_id}/roles", status_code=201, summary="Grant a role",
    responses={404: {"model": ErrorOut, "description": "No such user or municipality."},
               409: {"model": ErrorOut, "description": "The user already holds this role there."},
               422: {"model": ErrorOut, "description": "Invalid request, or a role that is not held there."}},
)
async def grant_role(body: GrantIn, request: Request, user_id: Annotated[DbId, Path()], principal: Principal = Depends(host_admin)):
    rt = runtime(request)
    try:
        await rt.journal.run(lambda conn: _grant_once(conn, user_id=user_id, body=body, actor=principal.actor, now=rt.clock()))
    except accounts.AccountError as exc:
        return error_response(422, "invalid_grant", str(exc))
    except _Refused as exc:
        return error_response(exc.status, exc.error, exc.message)
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

    def issue(conn):
        # The host administrator's scope is "every municipality", not a list: check that it exists.
        _require_municipality(conn, body.municipality_id)
        return accounts.create_token(conn, name=body.name, municipality_id=body.municipality_id, purpose=body.purpose,
                                     actor=principal.actor, created_by=creator, now=now)

    try:
        token_id, token = await rt.journal.run(issue)
    except _Refused as exc:
        return error_response(exc.status, exc.error, exc.message)
    return TokenOut(id=token_id, token=token, municipality_id=body.municipality_id, purpose=body.purpose, created_at=now)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke an API token",
               responses={404: {"model": ErrorOut, "description": "No such token in your scope."}})
async def revoke_token(request: Request, token_id: Annotated[DbId, Path()], principal: Principal = Depends(token_admin)):
    rt = runtime(request)

    def revoke(conn):
        row = conn.execute(select(api_tokens.c.municipality_id).where(api_tokens.c.id == token_id)).first()
        if row is None or not (principal.scope.all_municipalities or row.municipality_id in principal.scope.registry):
            return False
        return accounts.revoke_token(conn, token_id, actor=principal.actor, now=rt.clock())

    if not await rt.journal.run(revoke):
        raise not_found("token")
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

    def unlock(conn):
        username = conn.execute(select(users.c.username).where(users.c.id == user_id)).scalar()
        if username is None:
            return None
        return accounts.unlock(conn, username, actor=principal.actor, now=rt.clock())

    cleared = await rt.journal.run(unlock)
    if cleared is None:
        raise not_found("user")
    return UnlockOut(user_id=user_id, failures_cleared=cleared)
