"""Authentication and access policy for every route.

Each API route declares its policy with ``Depends(access(...))`` or ``Depends(public())``.
The policy object is attached to the dependency so that the isolation test can read it off
the application's route table: a route without a declared policy fails that test.

Credentials:
- ``Authorization: Bearer rsp_…``: an API token, scoped to one municipality and one purpose.
  Tokens are for integrations (the intake), never for people's routes.
- the ``respons_session`` cookie: a server-side session. Requests that change something must
  also carry the session's CSRF token in ``X-CSRF-Token`` (a cross-site form cannot read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from respons.auth import accounts
from respons.clock import OSLO
from respons.domain.access import Grant, Role, Scope, derive_scope
from respons.store import agreements
from respons.store.db import DatabaseUnavailable, unavailability
from respons.web.runtime import runtime

SESSION_COOKIE = "respons_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Policy:
    roles: frozenset[Role] = frozenset()  # any of these (users)
    token_purpose: str | None = None  # API tokens with this purpose
    authenticated: bool = True  # False: public
    any_user: bool = False  # any logged-in user, whatever their roles

    def describe(self) -> str:
        if not self.authenticated:
            return "public"
        if self.token_purpose:
            return f"API token ({self.token_purpose})"
        if self.any_user:
            return "any logged-in user"
        return "roles: " + ", ".join(sorted(r.value for r in self.roles))


@dataclass(frozen=True)
class Principal:
    kind: str  # user | token
    id: int
    grants: frozenset[Grant]
    scope: Scope
    token: accounts.TokenInfo | None = None
    session: accounts.SessionInfo | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"

    def has(self, role: Role) -> bool:
        return any(g.role is role for g in self.grants)


_EMPTY_SCOPE = Scope(alarms=frozenset(), registry=frozenset(), audit=frozenset())

# Declared so that the OpenAPI document (and /docs) shows how each route authenticates;
# the checking itself is done by _authenticate.
_bearer = HTTPBearer(auto_error=False, scheme_name="apiToken", description="API token `rsp_…` (vendor platforms)")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session", description="Session cookie from POST /api/v1/auth/login"
)


def access(*roles: Role, token_purpose: str | None = None, any_user: bool = False) -> Callable:
    policy = Policy(roles=frozenset(roles), token_purpose=token_purpose, any_user=any_user)
    scheme = _bearer if token_purpose else _cookie

    async def dependency(request: Request, _credentials=Depends(scheme)) -> Principal:
        principal = _authenticate(request, policy)
        request.state.principal = principal
        return principal

    dependency.respons_policy = policy  # read by the isolation test
    return dependency


def public() -> Callable:
    async def dependency() -> None:
        return None

    dependency.respons_policy = Policy(authenticated=False)
    return dependency


def not_found(what: str = "resource") -> HTTPException:
    """Outside the caller's scope looks exactly like missing: no existence oracle."""
    return HTTPException(404, detail={"error": "not_found", "message": f"No such {what}."})


def _authenticate(request: Request, policy: Policy) -> Principal:
    """Who is calling, checked against ``policy``; 401/403 as HTTPException.

    The token and session lookups read the database outside the journal: if it cannot be
    reached, the caller gets ``DatabaseUnavailable`` (503 with Retry-After, web/health.py),
    never a 500 and never a 401 that would send a vendor's platform or an operator's
    browser to re-authenticate for nothing."""
    try:
        return _lookup(request, policy)
    except SQLAlchemyError as exc:
        reason = unavailability(exc)
        if reason is None:
            raise
        raise DatabaseUnavailable(reason) from exc


def _lookup(request: Request, policy: Policy) -> Principal:
    rt = runtime(request)
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        token = _token(rt, authorization[7:].strip())
        if token is None:
            raise _unauthorized("The API token is unknown or revoked.")
        if policy.token_purpose is None or token.purpose != policy.token_purpose:
            raise _forbidden("This API token cannot be used here.")
        return Principal("token", token.token_id, frozenset(), _EMPTY_SCOPE, token=token)
    with rt.engine.connect() as conn:
        if policy.token_purpose is not None:
            raise _unauthorized(f"Send an API token with purpose {policy.token_purpose!r}: Authorization: Bearer rsp_…")
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.session_for(conn, cookie, now=rt.clock()) if cookie else None
        if session is None:
            raise _unauthorized("Log in first (your session is missing or has expired).")
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != session.csrf_token:
            raise _forbidden(f"Missing or wrong {CSRF_HEADER} header for this session.")
        grants = accounts.grants_of(conn, session.user_id)
        periods = agreements.periods(conn)
    if not policy.any_user and not any(g.role in policy.roles for g in grants):
        raise _forbidden("Your roles do not give access to this.")
    today = rt.clock().astimezone(OSLO).date()
    return Principal("user", session.user_id, grants, derive_scope(grants, periods, today=today), session=session)


def _token(rt, secret: str) -> accounts.TokenInfo | None:
    """The token's info if it is valid: remembered for a few seconds (auth/token_cache.py,
    which also says when a revocation takes effect), else read."""
    token = rt.tokens.get(secret)
    if token is None:
        generation = rt.tokens.generation
        with rt.engine.connect() as conn:
            token = accounts.token_for(conn, secret)
        if token is not None:
            rt.tokens.remember(secret, token, generation)
    return token


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail={"error": "unauthenticated", "message": message}, headers={"WWW-Authenticate": "Bearer"})


def _forbidden(message: str) -> HTTPException:
    return HTTPException(403, detail={"error": "forbidden", "message": message})
