"""Users, role grants, log-in with lockout, sessions and API tokens.

Each function is a unit of work on a Connection (run through the journal for writes).
Secrets (session cookies, API tokens) are random, shown once, and stored only as SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from respons.auth import audit, passwords, totp
from respons.domain.access import CENTRE_ROLES, Grant, Role
from respons.store.journal import Journal, announce
from respons.store.tables import api_tokens, login_failures, role_grants, sessions, users

# Failed log-ins slow the attacker down; they never lock a person out from where they work
# (issue 15: five wrong passwords from anyone used to lock `operator` for 15 minutes, a
# denial of service against the centre at 03:00). Three limits, from login_failures; the
# design is in docs/access.md, "Failed log-ins".
#
# 1. Per (user name, address): a few failures are free, then each further failure makes
#    the next attempt from that address wait twice as long, up to a cap. The backoff is
#    forgotten at a successful log-in from that address, or after PAIR_MEMORY.
PAIR_FREE_FAILURES = 3
PAIR_FIRST_WAIT = timedelta(seconds=2)
PAIR_MAX_WAIT = timedelta(minutes=15)
PAIR_MEMORY = timedelta(hours=24)
# 2. Per address: this many failures within the window (any user names) refuse the address
#    for every account until the oldest of them leaves the window.
ADDRESS_FAILURE_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)
# 3. Per account: this many failures within the window from *other* addresses mean the
#    account is under a spread-out attack: the free failures are withdrawn, so every address
#    that has failed for it waits from its first failure on. An address that has not failed
#    for it is never held back.
ACCOUNT_UNDER_ATTACK = 10
ACCOUNT_WINDOW = timedelta(minutes=15)

TOKEN_PREFIX = "rsp_"

# Announced when a token stops being valid: every node's cache of valid tokens
# (auth/token_cache.py) forgets what it remembers.
TOKENS_CHANGED = "api_tokens_changed"


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


def create_user_with_role(conn: Connection, *, username: str, display_name: str, password: str, role: Role,
                          municipality_id: int | None, actor: str, now: datetime) -> tuple[int, str | None]:
    """A new user holding one role, and the two-factor secret to show once (None for roles
    without one). Administrators are enrolled at once: an administrator account never exists
    with only a password, not even until its first log-in."""
    secret = totp.new_secret() if role.is_admin else None
    user_id = create_user(conn, username=username, display_name=display_name, password=password, now=now,
                          totp_secret=secret)
    grant_role(conn, user_id=user_id, role=role, municipality_id=municipality_id, actor=actor, now=now)
    return user_id, secret


def renew_totp_secret(conn: Connection, username: str, *, actor: str, now: datetime) -> str | None:
    """Give a user a new two-factor secret, to show once; the old one stops working. None if
    there is no such user."""
    username = username.lower()
    secret = totp.new_secret()
    changed = conn.execute(update(users).where(users.c.username == username).values(totp_secret=secret))
    if changed.rowcount != 1:
        return None
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, details={"username": username, "fields": ["totp_secret"]})
    return secret


def grants_of(conn: Connection, user_id: int) -> frozenset[Grant]:
    rows = conn.execute(select(role_grants.c.role, role_grants.c.municipality_id).where(role_grants.c.user_id == user_id))
    return frozenset(Grant(Role(r.role), r.municipality_id) for r in rows)


# --- log-in --------------------------------------------------------------------------------


class LoginRefused(Exception):
    """Log-in refused; ``message`` is safe to show (it never says whether the user exists).

    ``reason`` is what the caller is told; ``audit_reason`` is what the audit log records.
    They differ for wrong credentials: the caller hears ``bad_credentials`` whether the user
    name, the password or the code was wrong (or the code missing), the auditor sees which.
    """

    def __init__(self, reason: str, message: str, retry_after: int | None = None, *, audit_reason: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.audit_reason = audit_reason or reason


BAD_CREDENTIALS_MESSAGE = (
    "Wrong user name, password or one-time code. Administrators must enter the code from "
    "their authenticator app together with the password."
)


def _bad_credentials(audit_reason: str) -> LoginRefused:
    return LoginRefused("bad_credentials", BAD_CREDENTIALS_MESSAGE, audit_reason=audit_reason)


@dataclass(frozen=True)
class LoggedIn:
    user_id: int
    grants: frozenset[Grant]
    session_token: str  # the cookie value, shown once
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class PasswordChecked:
    """A password checked against the hash the account had, outside the journal: argon2 takes
    a quarter of a second of CPU by design, and the journal's one writer thread commits every
    alarm. ``log_in`` uses the verdict only if the hash is still the one checked."""

    password_hash: str | None  # the hash checked against (None: no such user)
    ok: bool


# Password checks run here, two at a time: not on the journal's thread, and not in the default
# pool the calls, the EPJ and the pages' reads share (each check holds 64 MiB for its time).
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="respons-password")
_NOT_CHECKED = "not checked: held back"  # no hash is this: the unit refuses before it looks


def check_password(engine: Engine, username: str, password: str, *, remote_addr: str,
                   now: datetime) -> PasswordChecked:
    """The verdict ``log_in`` needs (call it in a worker thread): always verified, against a
    dummy hash for an unknown name, so the time taken says nothing; not at all for an attempt
    that is held back (the unit refuses it before the password counts). Verification only: a
    hash brought up to today's parameters is made after the whole log-in has succeeded, so
    the time taken cannot tell a right password before the code is checked."""
    username = username.strip().lower()
    with engine.connect() as conn:
        if _held_back(conn, username, throttle_key(remote_addr[:64]), now) is not None:
            return PasswordChecked(_NOT_CHECKED, False)
        stored = conn.execute(select(users.c.password_hash).where(users.c.username == username)).scalar()
    return PasswordChecked(stored, passwords.verify_password(stored, password))


async def log_in_through(journal: Journal, engine: Engine, **attempt: Any) -> "LoggedIn | LoginRefused":
    """``log_in`` as a unit of work, its password checked first (``check_password``)."""
    try:
        checked = await asyncio.get_running_loop().run_in_executor(_CHECKS, partial(
            check_password, engine, attempt["username"], attempt["password"], remote_addr=attempt["remote_addr"],
            now=attempt["now"]))
    except SQLAlchemyError:
        checked = None  # the unit checks it itself (and, if the database is down, says so)
    return await journal.run(lambda conn: log_in(conn, checked=checked, **attempt))


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
    checked: PasswordChecked | None = None,
) -> LoggedIn | LoginRefused:
    """Check the credentials and open a session, or return why not (``checked``: the password
    verified beforehand, outside the unit: ``log_in_through``).

    A refusal is *returned*, not raised, so that the failure counters and the audit record
    commit together with the refusal (a raised error would roll them back).

    Everything the caller can observe before a session opens (the answer, its status, and
    whether the attempt counts as a failure) depends only on the user name and address and
    on whether password *and* code were right together, never on the password alone: an
    administrator's right password without a code is answered and counted exactly like a
    wrong one, so the password cannot be probed without the second factor.
    """
    username = username.strip().lower()
    remote_addr = remote_addr[:64]
    held = _held_back(conn, username, throttle_key(remote_addr), now)
    if held is not None:
        return _refuse(conn, username, remote_addr, now, held, count=False)

    user = conn.execute(select(users).where(users.c.username == username)).first()
    if checked is not None and checked.password_hash == (user.password_hash if user else None):
        password_ok = checked.ok
    else:  # not checked beforehand, or the password changed meanwhile: checked here
        # Always verified (a dummy hash for an unknown name): the time taken says nothing.
        password_ok = passwords.verify_password(user.password_hash if user else None, password)
        checked = None
    if user is None or not user.active or not password_ok:
        return _refuse(conn, username, remote_addr, now, _bad_credentials("bad_credentials"), user=user)

    grants = grants_of(conn, user.id)
    needs_second_factor = user.totp_secret is not None or any(g.role.is_admin for g in grants)
    if needs_second_factor:
        if user.totp_secret is None:
            # Cannot log in until enrolled (`respons user totp NAME`); the audit log says why.
            return _refuse(conn, username, remote_addr, now, _bad_credentials("totp_enrolment_required"), user=user)
        if not totp_code:
            return _refuse(conn, username, remote_addr, now, _bad_credentials("totp_required"), user=user)
        step = totp.matching_step(user.totp_secret, totp_code, now=now, after=user.totp_last_step)
        if step is None:
            replayed = totp.matching_step(user.totp_secret, totp_code, now=now) is not None
            return _refuse(conn, username, remote_addr, now,
                           _bad_credentials("totp_replayed" if replayed else "bad_totp"), user=user)
        # RFC 6238 §5.2: a code is accepted once. The condition makes this hold across nodes
        # too: of two log-ins racing with the same code, the second updates no row.
        claimed = conn.execute(
            update(users)
            .where(users.c.id == user.id, (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step))
            .values(totp_last_step=step)
        ).rowcount
        if claimed != 1:
            return _refuse(conn, username, remote_addr, now, _bad_credentials("totp_replayed"), user=user)

    values = {"last_login_at": now}
    if passwords.needs_rehash(user.password_hash):
        # The only moment we hold the password: bring its hash up to today's argon2 parameters
        # (here, after the whole log-in succeeded; once per account after a parameter change).
        values["password_hash"] = passwords.hash_password(password)
    conn.execute(update(users).where(users.c.id == user.id).values(**values))
    # A success from this address ends its backoff for this account. Only this pair's
    # failures go: the address's failures for other names still count against it.
    conn.execute(delete(login_failures).where(login_failures.c.username == username,
                                              login_failures.c.remote_addr == throttle_key(remote_addr)))
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


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


def pair_wait(failures: int, *, free: int) -> timedelta:
    """How long the next attempt waits after ``failures`` failures of one (user name, address)."""
    if failures <= free:
        return timedelta(0)
    doublings = failures - free - 1
    if doublings >= 20:  # far past the cap; keeps the power small
        return PAIR_MAX_WAIT
    return min(PAIR_FIRST_WAIT * (2 ** doublings), PAIR_MAX_WAIT)


def _held_back(conn: Connection, username: str, remote_addr: str, now: datetime) -> LoginRefused | None:
    """The refusal for an attempt that must wait, before any credential is looked at.

    Decided from the user name *as typed* and the address only, so a name without an
    account is held back exactly like an existing one (no way to learn which names exist).
    """
    by_address = conn.execute(
        select(func.count(), func.min(login_failures.c.at)).where(
            login_failures.c.remote_addr == remote_addr, login_failures.c.at > now - ADDRESS_WINDOW
        )
    ).one()
    if by_address[0] >= ADDRESS_FAILURE_LIMIT:
        return LoginRefused(
            "address_limited", "Too many failed log-ins from this address. Wait and try again.",
            retry_after=_retry_after(by_address[1] + ADDRESS_WINDOW, now),
        )
    pair = conn.execute(
        select(func.count(), func.max(login_failures.c.at)).where(
            login_failures.c.username == username, login_failures.c.remote_addr == remote_addr,
            login_failures.c.at > now - PAIR_MEMORY,
        )
    ).one()
    if not pair[0]:
        return None  # this address has not failed for this account: never held back
    # Failures from *other* addresses: one address's own curve does not depend on itself, and
    # a spread-out attack (each address failing a little) is what this limit is for.
    elsewhere = conn.execute(
        select(func.count()).select_from(login_failures).where(
            login_failures.c.username == username, login_failures.c.remote_addr != remote_addr,
            login_failures.c.at > now - ACCOUNT_WINDOW,
        )
    ).scalar_one()
    free = 0 if elsewhere >= ACCOUNT_UNDER_ATTACK else PAIR_FREE_FAILURES
    until = pair[1] + pair_wait(pair[0], free=free)
    if until <= now:
        return None
    return LoginRefused(
        "throttled", "Too many failed log-ins for this user name from this address. Wait and try again, "
        "or ask an administrator to unlock the account.", retry_after=_retry_after(until, now),
    )


def throttle_key(remote_addr: str) -> str:
    """The address failures are counted against: a client on the internet's IPv6 by its /64,
    which one host (a home, a phone) holds whole — counted by the full address, each guess
    could come from a fresh one. A private, unique-local or link-local address (the centre's
    own network, where many consoles share a /64) is counted by itself. The audit record
    keeps the full address."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6 and address.is_global:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return remote_addr


def _refuse(conn, username, remote_addr, now, refusal: LoginRefused, *, user=None, count: bool = True) -> LoginRefused:
    if count:
        conn.execute(insert(login_failures).values(at=now, username=username[:100],
                                                   remote_addr=throttle_key(remote_addr)))
    # The audit log can never be edited, and people do type their password into the user
    # name field: a name that matches no account is kept only as a hash (enough to tell
    # one guessed name from another in an investigation).
    who = {"username": username} if user is not None else {"username_sha256": _sha256(username)[:16]}
    audit.append(
        conn, now=now, actor=f"user:{user.id}" if user is not None else "anonymous", action=audit.LOGIN_FAILED,
        details={**who, "remote_addr": remote_addr, "reason": refusal.audit_reason},
    )
    return refusal


def unlock(conn: Connection, username: str, *, actor: str, now: datetime, remote_addr: str | None = None) -> int | None:
    """Forget an account's failed log-ins (from one address, or from all): its backoff ends at
    once. Returns how many failures were forgotten, or None if there is no such user."""
    username = username.strip().lower()
    user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        return None
    condition = login_failures.c.username == username
    if remote_addr is not None:
        condition = and_(condition, login_failures.c.remote_addr == throttle_key(remote_addr))
    cleared = conn.execute(delete(login_failures).where(condition)).rowcount
    # Also clear the lock columns used before 0011, so an upgraded database holds no stale lock.
    conn.execute(update(users).where(users.c.id == user_id).values(failed_logins=0, locked_until=None))
    details = {"user_id": user_id, "username": username, "failures_cleared": cleared}
    if remote_addr is not None:
        details["remote_addr"] = remote_addr
    audit.append(conn, now=now, actor=actor, action=audit.LOGIN_UNLOCK, details=details)
    return cleared


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
    conn.execute(delete(login_failures).where(login_failures.c.at < now - PAIR_MEMORY))


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
    announce(conn, {"event": TOKENS_CHANGED})
    audit.append(conn, now=now, actor=actor, action=audit.TOKEN_REVOKE, municipality_id=row.municipality_id, details={"token_id": token_id})
    return True


_VALID_TOKEN = select(api_tokens.c.id, api_tokens.c.municipality_id, api_tokens.c.purpose).where(
    and_(api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None)))


def token_for(conn: Connection, token: str) -> TokenInfo | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = conn.execute(_VALID_TOKEN, {"token_hash": _sha256(token)}).first()
    return TokenInfo(row.id, row.municipality_id, row.purpose) if row else None


def was_issued(conn: Connection, token: str) -> bool:
    """Whether Respons ever issued this token, revoked or not (whatever it looks like): what
    a revoked token sends may still be a real alarm, what an unknown one sends is not."""
    return conn.execute(select(api_tokens.c.id).where(api_tokens.c.token_hash == _sha256(token))).first() is not None


# --- colleagues ----------------------------------------------------------------------------


def logged_in_with_role(conn: Connection, role: Role, *, now: datetime) -> list[tuple[str, str]]:
    """(actor, display name) of the active users holding ``role`` who are logged in now: whom
    an operator can hand a call to (voice/service.py)."""
    live = select(sessions.c.user_id).where(sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)
    rows = conn.execute(select(users.c.id, users.c.display_name)
                        .where(users.c.active.is_(True), users.c.id.in_(live),
                               users.c.id.in_(select(role_grants.c.user_id).where(role_grants.c.role == role.value)))
                        .order_by(users.c.display_name, users.c.id))
    return [(f"user:{r.id}", r.display_name) for r in rows]
