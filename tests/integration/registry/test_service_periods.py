"""A recipient's service periods (what the invoice counts) when the same change reaches two
nodes at once, on both databases."""

from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import insert, select, update

from respons.registry import service
from respons.store.db import is_postgres
from respons.store.tables import recipients, service_periods
from tests.databases import wait_for_lock_waiter

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)
TODAY = date(2026, 12, 5)


def reactivate(conn, recipient_id: int) -> list[str]:
    return service.update_recipient(conn, recipient_id, {"active": True}, allowed=None, now=NOW, today=TODAY,
                                    actor="user:1")


def test_a_reactivation_saved_twice_through_two_nodes_opens_one_service_period(engine, registry):
    if not is_postgres(engine):
        pytest.skip("one writer on SQLite: the second save reads after the first has committed")
    person = registry.recipient_ids[0]
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == person).values(active=False))
        conn.execute(update(service_periods).where(service_periods.c.recipient_id == person).values(ends_on=TODAY))
    saved = {}
    with engine.connect() as node_a:
        a_tx = node_a.begin()
        saved["a"] = reactivate(node_a, person)
        node_b = threading.Thread(target=lambda: saved.setdefault("b", _in_own_transaction(engine, person)))
        node_b.start()
        assert wait_for_lock_waiter(engine), "node B's save should wait for node A's"
        a_tx.commit()
    node_b.join(10)
    assert (saved["a"], saved["b"]) == (["active"], [])
    with engine.connect() as conn:
        still_open = conn.execute(select(service_periods.c.id).where(
            service_periods.c.recipient_id == person, service_periods.c.ends_on.is_(None))).all()
    assert len(still_open) == 1


def _in_own_transaction(engine, person: int) -> list[str]:
    with engine.begin() as conn:
        return reactivate(conn, person)


def test_ending_the_service_ends_every_open_period(engine, registry):
    """An older race may have left two open periods: deactivating ends both, or the person
    stays on every later invoice."""
    person = registry.recipient_ids[0]
    with engine.begin() as conn:
        conn.execute(update(service_periods).where(service_periods.c.recipient_id == person).values(ends_on=TODAY))
        conn.execute(insert(service_periods), [dict(recipient_id=person, starts_on=date(2026, 11, 1)),
                                               dict(recipient_id=person, starts_on=date(2026, 11, 2))])
        service.update_recipient(conn, person, {"active": False}, allowed=None, now=NOW, today=TODAY, actor="user:1")
        still_open = conn.execute(select(service_periods.c.id).where(
            service_periods.c.recipient_id == person, service_periods.c.ends_on.is_(None))).all()
    assert still_open == []
