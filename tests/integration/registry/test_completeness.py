"""The completeness report's queries, on both databases: the facts it gathers, its scope, and
that it costs the same few queries for any number of recipients."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import event, insert, select, update

from respons.registry.completeness import Gap
from respons.domain.identity import synthetic_national_id
from respons.registry import service
from respons.store.tables import contacts, devices, recipients, zones
from tests.factories import T0, seed_registry


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=3)


def report(engine, municipality_id, allowed=None):
    with engine.connect() as conn:
        return {r["id"]: r["gaps"] for r in service.completeness(conn, municipality_id=municipality_id, allowed=allowed)}


def add_recipients(engine, municipality_id: int, count: int, rng: random.Random) -> list[int]:
    ids = []
    with engine.begin() as conn:
        for i in range(count):
            born = date(1930 + i % 40, 1 + i % 12, 1 + i % 28)
            ids.append(conn.execute(insert(recipients).values(
                municipality_id=municipality_id, national_id=synthetic_national_id(born, rng), given_name=f"Ny{i}",
                family_name="Mottaker", birth_date=born, address="Vei 1", postal_code="4600", city="By", created_at=T0,
                updated_at=T0)).inserted_primary_key[0])
    return ids


def test_the_facts_come_from_the_registry(engine, registry):
    own = registry.municipality_ids[0]
    first, second, third = registry.recipient_ids[:3]
    # The seed registers a zone and a device, nothing else.
    assert report(engine, own) == {rid: [Gap.NO_KEY_BOX, Gap.NO_CONTACT, Gap.NO_COORDINATES, Gap.NO_PHONE]
                                   for rid in (first, second, third)}
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == first).values(
            key_box="Ved døra", latitude=58.1, longitude=8.0, phone="+4791234567"))
        conn.execute(insert(contacts).values(municipality_id=own, recipient_id=first, name="Ola", relation="sønn",
                                             phone="+4791234568", priority=1))
        # A blank key box says nothing; an inactive device cannot raise an alarm.
        conn.execute(update(recipients).where(recipients.c.id == second).values(key_box="   "))
        conn.execute(update(devices).where(devices.c.recipient_id == second).values(active=False))
        conn.execute(update(recipients).where(recipients.c.id == third).values(active=False))
    found = report(engine, own)
    assert first not in found and third not in found
    assert found[second] == [Gap.NO_ACTIVE_DEVICE, Gap.NO_KEY_BOX, Gap.NO_CONTACT, Gap.NO_COORDINATES, Gap.NO_PHONE]


def test_one_record_and_the_report_agree(engine, registry):
    own = registry.municipality_ids[0]
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == registry.recipient_ids[0]).values(zone_id=None, key_box="Boks"))
    found = report(engine, own)
    with engine.begin() as conn:
        for rid in registry.recipient_ids[:3]:
            record = service.read_recipient(conn, rid, allowed=None, now=T0, actor="test")
            assert service.record_gaps(record) == found.get(rid, [])


def test_another_municipality_is_neither_listed_nor_reachable(engine, registry):
    own, other = registry.municipality_ids
    assert set(report(engine, own)) == set(registry.recipient_ids[:3])
    with pytest.raises(service.NotFound):
        report(engine, other, allowed=frozenset({own}))


def test_the_number_of_queries_does_not_grow_with_the_recipients(engine, registry):
    own = registry.municipality_ids[0]
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def queries_for_report() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            report(engine, own)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    few = queries_for_report()
    add_recipients(engine, own, 40, random.Random(3))
    assert len(report(engine, own)) == 43
    assert queries_for_report() == few


def test_counts(engine, registry):
    own = registry.municipality_ids[0]
    with engine.begin() as conn:
        conn.execute(update(recipients).where(recipients.c.id == registry.recipient_ids[0]).values(active=False))
        zone_count = len(conn.execute(select(zones.c.id).where(zones.c.municipality_id == own)).all())
        counts = service.registry_counts(conn, municipality_id=own, allowed=frozenset({own}))
    assert counts == {"recipients": 2, "inactive_recipients": 1, "contacts": 0, "devices": 3, "zones": zone_count, "staff": 2}
