"""When a municipality's EPJ deliveries keep failing, the host is told by a technical alarm.

One failed document is the outbox's business (it retries, or keeps a refusal for the
administrator). A municipality whose deliveries have *all* failed for longer than
``RESPONS_EPJ_ALARM_AFTER_SECONDS`` is a fault of the centre's own: every alarm it handles
there is written in the response platform only, and the home-care nurse's record lacks it. So
the watch raises a system alarm, ``epj_delivery_failing``, which routing always gives to the
centre — the people awake at 03:00 — and whose card tells them to call the host
administrator (docs/epj.md, "When deliveries keep failing").

The same deadline pattern as device supervision (engine/supervision.py): the first failure
after a delivery sets ``failing_since`` and ``alert_after``; every delivery clears both (and
clears the alarm, if one was raised); the sweep finds the rows past ``alert_after`` by their
index. A document that waits because the municipality has no endpoint is not a failure: a
centre whose VKP agreement is not in place yet is not broken. This module owns
``epj_delivery_faults``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from respons.domain.alarm_types import SYSTEM_SOURCE, alarm_type
from respons.domain.lifecycle import IllegalTransition
from respons.engine import alarms as alarm_actions
from respons.engine import receiving
from respons.engine.routing import RulesCache
from respons.store.db import is_postgres
from respons.store.tables import epj_delivery_faults

ACTOR = "system:epj"
FAILING = alarm_type("epj_delivery_failing")
RESUMED = "epj_deliveries_resumed"


def failed(conn: Connection, municipality_id: int, *, now: datetime, error: str | None, alarm_after: timedelta) -> None:
    """A delivery to the municipality's EPJ failed (refused, or no answer): start the clock if
    it is not running. One UPSERT: two nodes failing at once count twice and start it once."""
    dialect = postgresql if is_postgres(conn) else sqlite
    statement = dialect.insert(epj_delivery_faults).values(
        municipality_id=municipality_id, failing_since=now, alert_after=now + alarm_after, failures=1,
        last_error=(error or "")[:500])
    fault = epj_delivery_faults.c
    conn.execute(statement.on_conflict_do_update(index_elements=[fault.municipality_id], set_={
        "failures": fault.failures + 1, "last_error": statement.excluded.last_error,
        "failing_since": func.coalesce(fault.failing_since, statement.excluded.failing_since),
        # A new outage gets a deadline; a running one keeps its own (NULL once its alarm is
        # raised: one alarm per outage, standing until a delivery succeeds).
        "alert_after": case((fault.failing_since.is_(None), statement.excluded.alert_after), else_=fault.alert_after),
    }))


def delivered(conn: Connection, municipality_id: int, *, now: datetime) -> None:
    """A delivery succeeded: the municipality is not failing, and its technical alarm, if any,
    is cleared (its cause went away, like a device heard again)."""
    fault = epj_delivery_faults.c
    # The common case (nothing was failing) is this one read; RETURNING would give the
    # values after the update, and the alarm id is what the update removes.
    ended = conn.execute(select(fault.alarm_id).where(fault.municipality_id == municipality_id,
                                                      fault.failing_since.is_not(None))).first()
    if ended is None:
        return
    conn.execute(update(epj_delivery_faults).where(fault.municipality_id == municipality_id)
                 .values(failing_since=None, alert_after=None, alarm_id=None, failures=0, last_error=None))
    if ended.alarm_id is not None:
        try:
            alarm_actions.clear(conn, ended.alarm_id, actor=ACTOR, now=now, reason=RESUMED)
        except IllegalTransition:
            pass  # closed by the centre already


def sweep(conn: Connection, now: datetime, *, answer_deadline: timedelta, rules_cache: RulesCache | None = None) -> int:
    """Raise the technical alarm for every municipality failing past its deadline."""
    fault = epj_delivery_faults.c
    query = select(epj_delivery_faults).where(fault.alert_after <= now)
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)  # nodes sweeping together (the key stops a second alarm anyway)
    due = conn.execute(query).all()
    for row in due:
        received = receiving.receive(conn, receiving.NewAlarm(
            municipality_id=row.municipality_id, recipient_id=None, device_id=None, alarm_type=FAILING,
            source=SYSTEM_SOURCE, actor=ACTOR, occurred_at=row.failing_since,
            payload={"epj_delivery": {"failing_since": row.failing_since.isoformat(), "failures": row.failures,
                                      "last_error": row.last_error}},
            idempotency_scope=f"{ACTOR}:{row.municipality_id}", idempotency_key=row.failing_since.isoformat(),
        ), now=now, answer_deadline=answer_deadline, rules_cache=rules_cache)
        conn.execute(update(epj_delivery_faults).where(fault.municipality_id == row.municipality_id)
                     .values(alert_after=None, alarm_id=received.alarm_id))
    return len(due)


def failing(conn: Connection) -> list[dict]:
    """The municipalities whose deliveries fail now (the administrator's page)."""
    fault = epj_delivery_faults.c
    rows = conn.execute(select(epj_delivery_faults).where(fault.failing_since.is_not(None))
                        .order_by(fault.failing_since))
    return [dict(r._mapping) for r in rows]
