"""Users, role grants, log-in with lockout, sessions and API tokens.

Each function is a unit of work on a Connection (run through the journal for writes).
Secrets (session cookies, API tokens) are random, shown once, and stored only as SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from respons.auth import audit, passwords, totp
from respons.domain.access import CENTRE_ROLES, Grant, Role
from respons.store.tables import api_tokens, login_failures, role_grants, sessions, users

# Lockout: after this many consecutive failures the account is locked for a while;
# an address that fails this often within the window is refused for every account.
ACCOUNT_FAILURE_LIMIT = 5
ACCOUNT_LOCK = timedelta(minutes=15)
ADDRESS_FAILURE_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)

TOKEN_PREFIX = "rsp_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- users and grants ----------------------------------------------------------------------


class AccountError(ValueError):
    pass


def create_user(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    password: str,
    now: datetime,
    totp_secret: str | None = None,
    staff_id: int | None = None,
) -> int:
    username = username.strip().lower()
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AccountError(f"The user name {username!r} is taken.")
    return conn.execute(
        insert(users).values(
            username=username,
            display_name=display_name,
            password_hash=passwords.hash_password(password),
            totp_secret=totp_secret,
            staff_id=staff_id,
            created_at=now,
        )
    ).inserted_primary_key[0]


def grant_role(conn: Connection, *, user_id: int, role: Role, municipality_id: int | None, actor: str, now: datetime) -> None:
    if role in CENTRE_ROLES and role is not Role.AUDITOR and municipality_id is not None:
        raise AccountError(f"The {role.value} role is held at the response centre, not in a municipality.")
    if role not in CENTRE_ROLES and municipality_id is None:
        raise AccountError(f"The {role.value} role must be granted in a municipality.")
    conn.execute(insert(role_grants).values(user_id=user_id, role=role.value, municipality_id=municipality_id, granted_at=now))
    audit.append(
        conn, now=now, actor=actor, action=audit.ROLE_GRANT, municipality_id=municipality_id,
        details={"user_id": user_id, "role": role.value},
    )


def grants_of(conn: Connection, user_id: int) -> frozenset[Grant]:
    rows = conn.execute(select(role_grants.c.role, role_grants.c.municipality_id).where(role_grants.c.user_id == user_id))
    return frozenset(Grant(Role(r.role), r.municipality_id) for r in rows)


# --- log-in --------------------------------------------------------------------------------


class LoginRefused(Exception):
    """Log-in refused; ``message`` is safe to show (it never says whether the user exists)."""

    def __init__(self, reason: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoggedIn:
    user_id: int
    grants: frozenset[Grant]
    session_token: str  # the cookie value, shown once
    csrf_token: str
    expires_at: datetime


def log_in(
    conn: Connection,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    remote_addr: str,
    user_agent: str | None,
    now: datetime,
    session_ttl: timedelta,
) -> LoggedIn | LoginRefused:
    """Check the credentials and open a session, or return why not.

    A refusal is *returned*, not raised, so that the failure counters and the audit record
    commit together with the refusal (a raised error would roll them back).
    """
    username = username.strip().lower()
    recent = conn.execute(
        select(func.count()).select_from(login_failures).where(
            login_failures.c.remote_addr == remote_addr, login_failures.c.at > now - ADDRESS_WINDOW
        )
    ).scalar_one()
    if recent >= ADDRESS_FAILURE_LIMIT:
        return _refuse(conn, username, remote_addr, now, LoginRefused(
            "address_limited", "Too many failed log-ins from this address. Wait 15 minutes and try again.",
            retry_after=int(ADDRESS_WINDOW.total_seconds()),
        ), count=False)

    user = conn.execute(select(users).where(users.c.username == username)).first()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        return _refuse(conn, username, remote_addr, now, LoginRefused(
            "locked", f"The account is locked after repeated failed log-ins. Try again in {wait // 60 + 1} minutes, "
            "or ask an administrator.", retry_after=wait,
        ), user=user, count=False)

    password_ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not user.active or not password_ok:
        return _refuse(conn, username, remote_addr, now, LoginRefused("bad_credentials", "Wrong user name or password."), user=user)

    grants = grants_of(conn, user.id)
    needs_second_factor = user.totp_secret is not None or any(g.role.is_admin for g in grants)
    if needs_second_factor:
        if user.totp_secret is None:
            return _refuse(conn, username, remote_addr, now, LoginRefused(
                "totp_enrolment_required",
                "Administrators must use two-factor log-in, and this account has none set up. "
                "Ask the host administrator to enrol it (`respons user totp <name>`).",
            ), user=user, count=False)
        if not totp_code:
            return LoginRefused("totp_required", "Enter the six-digit code from your authenticator app.")
        if not totp.verify_code(user.totp_secret, totp_code, now=now):
            return _refuse(conn, username, remote_addr, now, LoginRefused("bad_totp", "Wrong or expired two-factor code."), user=user)

    values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if passwords.needs_rehash(user.password_hash):
        # The only moment we hold the password: bring its hash up to today's argon2 parameters.
        values["password_hash"] = passwords.hash_password(password)
    conn.execute(update(users).where(users.c.id == user.id).values(**values))
    _purge_stale(conn, now=now)
    session_token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = now + session_ttl
    conn.execute(
        insert(sessions).values(
            id=_sha256(session_token), user_id=user.id, csrf_token=csrf_token, created_at=now, expires_at=expires_at,
            remote_addr=remote_addr, user_agent=(user_agent or "")[:300],
        )
    )
    audit.append(conn, now=now, actor=f"user:{user.id}", action=audit.LOGIN, details={"remote_addr": remote_addr})
    return LoggedIn(user.id, grants, session_token, csrf_token, expires_at)


def _refuse(conn, username, remote_addr, now, refusal: LoginRefused, *, user=None, count: bool = True) -> LoginRefused:
    if count:
        conn.execute(insert(login_failures).values(at=now, username=username, remote_addr=remote_addr))
        if user is not None:
            failures = user.failed_logins + 1
            values = {"failed_logins": failures}
            if failures >= ACCOUNT_FAILURE_LIMIT:
                values.update(failed_logins=0, locked_until=now + ACCOUNT_LOCK)
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
    # The audit log can never be edited, and people do type their password into the user
    # name field: a name that matches no account is kept only as a hash (enough to tell
    # one guessed name from another in an investigation).
    who = {"username": username} if user is not None else {"username_sha256": _sha256(username)[:16]}
    audit.append(
        conn, now=now, actor=f"user:{user.id}" if user is not None else "anonymous", action=audit.LOGIN_FAILED,
        details={**who, "remote_addr": remote_addr, "reason": refusal.reason},
    )
    return refusal


# --- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    user_id: int
    csrf_token: str
    expires_at: datetime
    display_name: str = ""  # for the pages' top bar; read in the same query


def session_for(conn: Connection, token: str, *, now: datetime) -> SessionInfo | None:
    row = conn.execute(
        select(sessions.c.id, sessions.c.user_id, sessions.c.csrf_token, sessions.c.expires_at, users.c.display_name)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.id == _sha256(token),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
            users.c.active.is_(True),
        )
    ).first()
    return SessionInfo(row.id, row.user_id, row.csrf_token, row.expires_at, row.display_name) if row else None


def log_out(conn: Connection, session_id: str, *, user_id: int, now: datetime) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(revoked_at=now))
    audit.append(conn, now=now, actor=f"user:{user_id}", action=audit.LOGOUT, details={})


def _purge_stale(conn: Connection, *, now: datetime) -> None:
    # Done at each successful log-in, which is rare enough to be free and frequent enough
    # to keep both tables small, without another background job.
    conn.execute(delete(sessions).where(sessions.c.expires_at < now - timedelta(days=30)))
    conn.execute(delete(login_failures).where(login_failures.c.at < now - timedelta(days=1)))


# --- API tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    municipality_id: int
    purpose: str


def create_token(
    conn: Connection, *, name: str, municipality_id: int, purpose: str, actor: str, created_by: int | None, now: datetime
) -> tuple[int, str]:
    """Return (id, token). The token is shown once; only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    token = f"{TOKEN_PREFIX}{secret}"
    token_id = conn.execute(
        insert(api_tokens).values(
            token_hash=_sha256(token), prefix=token[:12], name=name, municipality_id=municipality_id, purpose=purpose,
            created_by=created_by, created_at=now,
        )
    ).inserted_primary_key[0]
    audit.append(
        conn, now=now, actor=actor, action=audit.TOKEN_CREATE, municipality_id=municipality_id,
        details={"token_id": token_id, "name": name, "purpose": purpose},
    )
    return token_id, token


def revoke_token(conn: Connection, token_id: int, *, actor: str, now: datetime) -> bool:
    row = conn.execute(select(api_tokens.c.municipality_id).where(api_tokens.c.id == token_id)).first()
    if row is None:
        return False
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
    audit.append(conn, now=now, actor=actor, action=audit.TOKEN_REVOKE, municipality_id=row.municipality_id, details={"token_id": token_id})
    return True


def token_for(conn: Connection, token: str) -> TokenInfo | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(
        select(api_tokens.c.id, api_tokens.c.municipality_id, api_tokens.c.purpose).where(
            and_(api_tokens.c.token_hash == _sha256(token), api_tokens.c.revoked_at.is_(None))
        )
    ).first()
    return TokenInfo(row.id, row.municipality_id, row.purpose) if row else None
