"""The audit log: append-only and hash-chained (Normen requires access logging).

Every record carries the SHA-256 of its own content, and its content includes the hash of
the record before it. Changing, deleting or reordering a record therefore breaks the chain
at that point, and ``verify`` names the record. The ``audit_head`` row holds the newest
record's number and hash, so deleting the newest records shows too.

``append`` is a unit-of-work step: it runs in the caller's transaction (normally a journal
unit), so an action and the record of it commit together or not at all.

The canonical form and the chain are specified in ``canonical`` and in docs/audit.md, so
that an auditor can check an exported log with their own tools.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection, Row

from respons.store.db import is_postgres
from respons.store.tables import audit_head, audit_log

GENESIS_HASH = "0" * 64
HEAD_ID = 1  # the single audit_head row, inserted by migration 0002

# The vocabulary of actions. Other strings are allowed (up to 40 characters), but these
# are the ones auditors search for, so callers should use the constants.
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
READ_RECIPIENT = "read_recipient"
CREATE = "create"
UPDATE = "update"
DELETE = "delete"
ROLE_GRANT = "role_grant"
ROLE_REVOKE = "role_revoke"
TOKEN_CREATE = "token_create"
TOKEN_REVOKE = "token_revoke"
EXPORT = "export"
LOGIN_UNLOCK = "login_unlock"  # an administrator cleared an account's failed log-ins
# Digital supervision (docs/supervision.md): a look-in begun (who, why, for how long at most),
# one asked for outside its window (refused), and its end (how long it lasted).
LOOK_IN = "look_in"
LOOK_IN_REFUSED = "look_in_refused"
LOOK_IN_ENDED = "look_in_ended"

ACTIONS = frozenset(
    {LOGIN, LOGIN_FAILED, LOGOUT, READ_RECIPIENT, CREATE, UPDATE, DELETE,
     ROLE_GRANT, ROLE_REVOKE, TOKEN_CREATE, TOKEN_REVOKE, EXPORT, LOGIN_UNLOCK,
     LOOK_IN, LOOK_IN_REFUSED, LOOK_IN_ENDED}
)

# The content fields: everything in a record except its own hash.
CONTENT_FIELDS = (
    "seq", "at", "actor", "action", "municipality_id", "recipient_id",
    "alarm_id", "purpose", "details", "prev_hash",
)

AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# --- canonical form and hash -----------------------------------------------------------------


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is computed over.

    A JSON object with exactly the ten content fields, and nothing else (in particular
    not ``hash``; other keys in ``record`` are ignored):

    ==================  ==========================================================
    ``seq``             integer, 1 for the first record, then 2, 3, …
    ``at``              string ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the time in UTC,
                        always six fraction digits, always a literal ``Z``
    ``actor``           string, e.g. ``user:12``, ``token:4``, ``system``
    ``action``          string, e.g. ``login``, ``read_recipient``
    ``municipality_id`` integer or ``null``
    ``recipient_id``    integer or ``null``
    ``alarm_id``        string or ``null``
    ``purpose``         string or ``null``
    ``details``         JSON object (as stored)
    ``prev_hash``       string, 64 lowercase hex digits: the previous record's
                        ``hash``, or 64 zeros (``GENESIS_HASH``) for record 1
    ==================  ==========================================================

    Serialisation (Python: ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False).encode("utf-8")``):

    * object keys sorted by Unicode code point, at every level (also inside ``details``);
    * no whitespace between tokens: separators are exactly ``,`` and ``:``;
    * strings are written as their characters (not ``\\u`` escapes), except ``"`` → ``\\"``,
      ``\\`` → ``\\\\``, and the control characters U+0000–U+001F: ``\\b \\f \\n \\r \\t`` for
      those five, ``\\u00xx`` (lowercase hex) for the rest;
    * integers in plain decimal; ``true``, ``false``, ``null``; NaN and infinities refused;
      floats (best avoided in ``details``) as Python's shortest round-trip ``repr``;
    * the whole text encoded as UTF-8, no byte-order mark.

    The record's ``hash`` is the lowercase hex SHA-256 of these bytes (``record_hash``).
    Because ``prev_hash`` is part of the content, each hash covers the whole chain before it.
    """
    content = {name: record[name] for name in CONTENT_FIELDS}
    content["at"] = format_at(content["at"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def format_at(at: datetime) -> str:
    return _utc(at).strftime(AT_FORMAT)


def _utc(at: datetime) -> datetime:
    # A naive time would be hashed as whatever zone the writer happened to be in.
    if at.tzinfo is None:
        raise ValueError("naive datetime in an audit record; pass an aware datetime")
    return at.astimezone(timezone.utc)


def _normalised_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as it will read back from the database.

    The hash is computed before the insert, so it must be over the value the database
    will return: a JSON round trip turns tuples into lists and integer keys into strings,
    and refuses what JSON cannot hold (NaN, datetimes, sets) here instead of half-way.
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise TypeError(f"audit details must be a mapping, not {type(details).__name__}")
    return json.loads(json.dumps(dict(details), allow_nan=False))


# --- appending -------------------------------------------------------------------------------


def append(
    conn: Connection,
    *,
    now: datetime,
    actor: str,
    action: str,
    municipality_id: int | None = None,
    recipient_id: int | None = None,
    alarm_id: str | None = None,
    purpose: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one record in the caller's transaction and return its ``seq``.

    No truncation of ``now`` is needed: Python datetimes have microsecond resolution,
    the same as PostgreSQL ``timestamptz`` and SQLite's stored text (six fraction digits),
    so the value read back formats exactly like the value hashed here.
    """
    head_seq, head_hash = _lock_head(conn)
    record = {
        "seq": head_seq + 1,
        "at": _utc(now),
        "actor": actor,
        "action": action,
        "municipality_id": municipality_id,
        "recipient_id": recipient_id,
        "alarm_id": None if alarm_id is None else str(alarm_id),
        "purpose": purpose,
        "details": _normalised_details(details),
        "prev_hash": head_hash,
    }
    digest = record_hash(record)
    conn.execute(insert(audit_log).values(**record, hash=digest))
    conn.execute(update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=record["seq"], hash=digest))
    return record["seq"]


def _lock_head(conn: Connection) -> tuple[int, str]:
    # FOR UPDATE makes a second node wait here until the first commits, and then read the
    # new head, so two nodes never extend the chain from the same record. SQLite has no
    # FOR UPDATE (SQLAlchemy leaves it out): there the database's single write lock, which
    # the journal takes up front with BEGIN IMMEDIATE, serialises appenders.
    stmt = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID).with_for_update()
    head = conn.execute(stmt).first()
    if head is None:
        raise RuntimeError("the audit_head row is missing; run `respons migrate`")
    return head.seq, head.hash


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # records verified before the first problem (all of them when ok)
    first_broken_seq: int | None
    problem: str | None
    head_hash: str | None = None  # the head's hash as read, for printing and exporting


def verify_engine(engine: Engine, *, chunk_size: int = 1000) -> VerifyResult:
    """``verify`` in a read-only snapshot, so appends by running servers cause no false alarm.

    The head and the records must be read from one snapshot: otherwise a record committed
    between the two reads looks like a head that was rolled back. SQLite's read transaction
    is a snapshot already; PostgreSQL needs REPEATABLE READ for that.
    """
    options: dict[str, Any] = {}
    if is_postgres(engine):
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        return verify(conn, chunk_size=chunk_size)


def verify(conn: Connection, *, chunk_size: int = 1000) -> VerifyResult:
    """Check the whole chain, streaming records in ``seq`` order ``chunk_size`` at a time.

    Checks, record by record: the numbers run 1, 2, 3, … without gaps; each ``prev_hash``
    equals the previous record's hash (the genesis hash for record 1); each hash recomputes
    from the stored content. Then the head must name the last record (number and hash).
    Stops at the first problem. The connection should see one snapshot (``verify_engine``).
    """
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)).first()
    if head is None:
        return VerifyResult(False, 0, None, "the audit head row is missing (deleted?)")
    last_seq, last_hash = 0, GENESIS_HASH
    result = conn.execute(select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=chunk_size))
    try:
        for row in result:
            problem = _record_problem(row, last_seq, last_hash)
            if problem is not None:
                return VerifyResult(False, last_seq, *problem, head.hash)
            last_seq, last_hash = row.seq, row.hash
    except (ValueError, TypeError) as exc:
        # A stored value the driver cannot even parse, e.g. a hand-edited timestamp or
        # broken JSON text on SQLite: report it as tampering instead of crashing.
        problem = f"record {last_seq + 1}: cannot be read ({exc}) (changed after it was written)"
        return VerifyResult(False, last_seq, last_seq + 1, problem, head.hash)
    finally:
        result.close()
    # A gapless chain from 1 has as many records as its last number.
    problem = _head_problem(head.seq, head.hash, last_seq, last_hash)
    if problem is not None:
        return VerifyResult(False, last_seq, *problem, head.hash)
    return VerifyResult(True, last_seq, None, None, head.hash)


def _record_problem(row: Row, prev_seq: int, prev_hash: str) -> tuple[int, str] | None:
    expected = prev_seq + 1
    if row.seq != expected:
        return expected, _gap_message(prev_seq, row.seq)
    if row.prev_hash != prev_hash:
        if row.seq == 1:
            return 1, "record 1: prev_hash is not the genesis hash (reordered or replaced)"
        return row.seq, f"record {row.seq}: prev_hash does not match record {prev_seq} (reordered or replaced)"
    if record_hash(row._mapping) != row.hash:
        return row.seq, f"record {row.seq}: content does not match its hash (changed after it was written)"
    return None


def _gap_message(prev_seq: int, seq: int) -> str:
    expected = prev_seq + 1
    if seq < expected:  # only possible for numbers below 1, since seq is the primary key
        return f"record {seq}: unexpected sequence number after {prev_seq} (inserted)"
    missing = f"record {expected}" if seq == expected + 1 else f"records {expected}–{seq - 1}"
    if prev_seq == 0:
        return f"{missing} missing: the log starts at record {seq} (deleted)"
    return f"{missing} missing: sequence jumps from {prev_seq} to {seq} (deleted)"


def _head_problem(head_seq: int, head_hash: str, last_seq: int, last_hash: str) -> tuple[int | None, str] | None:
    if head_seq > last_seq:
        ends = "the log is empty" if last_seq == 0 else f"the log ends at {last_seq}"
        return last_seq + 1, f"head says {head_seq} records but {ends} (newest records deleted)"
    if head_seq < last_seq:
        return head_seq + 1, (
            f"head says {head_seq} records but the log continues to {last_seq} "
            "(head rolled back, or records added without it)"
        )
    if head_hash != last_hash:
        if last_seq == 0:
            return None, "head hash of the empty log is not the genesis hash (head replaced)"
        return last_seq, f"head hash does not match record {last_seq} (newest record or head replaced)"
    return None


# --- searching -------------------------------------------------------------------------------


def whole_days(first: date | None, last: date | None, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """``search``'s ``start`` and ``end`` for calendar days in ``zone``, the last one included:
    an auditor asking for records "until 23 November" means the whole of that day."""
    start = _midnight(first, zone) if first else None
    end = _midnight(last + timedelta(days=1), zone) if last else None
    return start, end


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def search(
    conn: Connection,
    *,
    actor: str | None = None,
    recipient_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    action: str | None = None,
    municipality_ids: Collection[int] | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Records matching every given filter, newest (highest ``seq``) first.

    The period is half-open: ``start <= at < end``. ``municipality_ids`` restricts the
    result to those municipalities, for auditors whose scope is not the whole log.
    """
    stmt = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if actor is not None:
        stmt = stmt.where(audit_log.c.actor == actor)
    if recipient_id is not None:
        stmt = stmt.where(audit_log.c.recipient_id == recipient_id)
    if start is not None:
        stmt = stmt.where(audit_log.c.at >= start)
    if end is not None:
        stmt = stmt.where(audit_log.c.at < end)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    if municipality_ids is not None:
        stmt = stmt.where(audit_log.c.municipality_id.in_(list(municipality_ids)))
    return [dict(row._mapping) for row in conn.execute(stmt)]

