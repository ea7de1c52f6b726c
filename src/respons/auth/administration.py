"""What an administrator does to users, roles and API tokens, checked before it is written.

Units of work for the journal, each audited (through ``auth.accounts``). The checks here
turn what would reach the database as a foreign-key or unique violation (a user or
municipality that does not exist, a role granted twice) into a refusal that names the
problem (``AdminRefused``), which the API answers as 404 or 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from respons.auth import accounts, audit
from respons.domain.access import Role, Scope
from respons.store.tables import api_tokens, municipalities, role_grants, users

NOT_FOUND = "not_found"
GRANT_EXISTS = "grant_exists"


class AdminRefused(Exception):
    """A grant or token that names something missing (``NOT_FOUND``) or repeats a grant
    (``GRANT_EXISTS``); ``code`` is the API's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def create_user(conn: Connection, *, username: str, display_name: str, password: str, actor: str, now: datetime) -> int:
    """A new user, audited; ``accounts.AccountError`` if the user name is taken."""
    user_id = accounts.create_user(conn, username=username, display_name=display_name, password=password, now=now)
    audit.append(conn, now=now, actor=actor, action=audit.CREATE, details={"user_id": user_id, "username": username.lower()})
    return user_id


def require_municipality(conn: Connection, municipality_id: int) -> None:
    if conn.execute(select(municipalities.c.id).where(municipalities.c.id == municipality_id)).first() is None:
        raise AdminRefused(NOT_FOUND, "No such municipality.")


def grant_role_once(conn: Connection, *, user_id: int, role: Role, municipality_id: int | None, actor: str,
                    now: datetime) -> None:
    """Check what the grant names before writing it: a missing user or municipality would
    otherwise reach the database as a foreign-key violation (500), and a repeated grant as a
    unique violation (500) or, for a centre-level role (municipality NULL, which the unique
    constraint does not compare), as a second identical row."""
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise AdminRefused(NOT_FOUND, "No such user.")
    if municipality_id is not None:
        require_municipality(conn, municipality_id)
    same = and_(role_grants.c.user_id == user_id, role_grants.c.role == role.value,
                role_grants.c.municipality_id.is_(None) if municipality_id is None
                else role_grants.c.municipality_id == municipality_id)
    if conn.execute(select(role_grants.c.id).where(same)).first() is not None:
        raise AdminRefused(GRANT_EXISTS, "The user already holds this role here.")
    accounts.grant_role(conn, user_id=user_id, role=role, municipality_id=municipality_id, actor=actor, now=now)


def issue_token(conn: Connection, *, name: str, municipality_id: int, purpose: str, actor: str,
                created_by: int | None, now: datetime) -> tuple[int, str]:
    """(id, token) for a municipality that exists: the host administrator's scope is "every
    municipality", not a list, so the caller's scope alone does not prove it."""
    require_municipality(conn, municipality_id)
    return accounts.create_token(conn, name=name, municipality_id=municipality_id, purpose=purpose, actor=actor,
                                 created_by=created_by, now=now)


def revoke_token_in_scope(conn: Connection, token_id: int, *, scope: Scope, actor: str, now: datetime) -> bool:
    """Revoke a token of a municipality the administrator manages; False (not found) for one
    outside it, so another municipality's tokens cannot be probed."""
    row = conn.execute(select(api_tokens.c.municipality_id).where(api_tokens.c.id == token_id)).first()
    if row is None or not (scope.all_municipalities or row.municipality_id in scope.registry):
        return False
    return accounts.revoke_token(conn, token_id, actor=actor, now=now)


def unlock_user(conn: Connection, user_id: int, *, actor: str, now: datetime) -> int | None:
    """Forget the user's failed log-ins from every address; None if there is no such user."""
    username = conn.execute(select(users.c.username).where(users.c.id == user_id)).scalar()
    if username is None:
        return None
    return accounts.unlock(conn, username, actor=actor, now=now)
