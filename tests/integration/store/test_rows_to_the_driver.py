"""store/db.py's writes straight to the driver (``insert_rows``, ``update_rows``) and its
one-parameter lists (``in_list``), on both databases: what they write must be what
SQLAlchemy would have written, whatever order the caller's dicts list their columns in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, exc, insert, or_, select

from respons.store.db import ForEachDatabase, fetch_rows, in_list, insert_rows, list_value, update_rows
from respons.store.tables import devices

T = datetime(2026, 12, 4, 22, 0, 5, 123456, tzinfo=timezone.utc)
OSLO_WINTER = timezone(timedelta(hours=1))


def _device(registry, identity: str, **values) -> dict:
    return dict(municipality_id=registry.municipality_ids[0], kind="safety_alarm", protocol="http", identity=identity,
                created_at=T, **values)


def test_inserted_rows_read_back_as_sqlalchemy_wrote_them(engine, registry):
    with engine.begin() as conn:
        conn.execute(insert(devices), [_device(registry, "T-REF", last_seen_at=T, heartbeat_interval_s=60)])
        insert_rows(conn, devices, [
            # Columns in another order than the table's, and a time in another zone.
            dict(heartbeat_interval_s=60, last_seen_at=T.astimezone(OSLO_WINTER), identity="T-1",
                 **{k: v for k, v in _device(registry, "x").items() if k != "identity"}),
            dict(heartbeat_interval_s=None, last_seen_at=None, identity="T-2",
                 **{k: v for k, v in _device(registry, "x").items() if k != "identity"}),
        ])
    with engine.connect() as conn:
        rows = {r.identity: r for r in conn.execute(select(devices).where(devices.c.identity.like("T-%")))}
    assert rows["T-1"].last_seen_at == T == rows["T-REF"].last_seen_at
    assert rows["T-1"].heartbeat_interval_s == 60 and rows["T-1"].kind == "safety_alarm"
    assert rows["T-2"].last_seen_at is None and rows["T-2"].heartbeat_interval_s is None
    with engine.connect() as conn:  # compared by the database as times, not as text
        later = conn.execute(select(devices.c.identity).where(devices.c.last_seen_at > T - timedelta(microseconds=1),
                                                              devices.c.identity.like("T-%"))).scalars().all()
    assert sorted(later) == ["T-1", "T-REF"]


def test_updated_rows_are_found_by_their_key_whatever_the_order(engine, registry):
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, f"U-{i}") for i in range(3)])
        ids = dict(conn.execute(select(devices.c.identity, devices.c.id).where(devices.c.identity.like("U-%"))).all())
        update_rows(conn, devices, [
            {"last_seen_at": T, "id": ids["U-0"], "alert_after": T + timedelta(minutes=5)},
            {"last_seen_at": T.astimezone(OSLO_WINTER), "id": ids["U-2"], "alert_after": None},
        ])
    with engine.connect() as conn:
        rows = {r.identity: r for r in conn.execute(select(devices).where(devices.c.identity.like("U-%")))}
    assert (rows["U-0"].last_seen_at, rows["U-0"].alert_after) == (T, T + timedelta(minutes=5))
    assert (rows["U-1"].last_seen_at, rows["U-1"].alert_after) == (None, None)
    assert (rows["U-2"].last_seen_at, rows["U-2"].alert_after) == (T, None)


@pytest.mark.parametrize("awkward", ['a,"b"}', "back\\slash\\", "{NULL}", "NULL", "", " spaced ", "ø\nline"])
def test_updated_text_arrives_as_given_and_a_repeated_key_ends_as_its_last_row(engine, registry, awkward):
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, f"W-{i}", network="before") for i in range(3)])
        ids = dict(conn.execute(select(devices.c.identity, devices.c.id).where(devices.c.identity.like("W-%"))).all())
        update_rows(conn, devices, [
            {"id": ids["W-0"], "network": "first", "last_seen_at": T},
            {"id": ids["W-1"], "network": None, "last_seen_at": None},
            {"id": ids["W-0"], "network": awkward, "last_seen_at": T + timedelta(seconds=1)},
        ])
    with engine.connect() as conn:
        rows = {r.identity: r for r in conn.execute(select(devices).where(devices.c.identity.like("W-%")))}
    assert (rows["W-0"].network, rows["W-0"].last_seen_at) == (awkward, T + timedelta(seconds=1))
    assert (rows["W-1"].network, rows["W-1"].last_seen_at) == (None, None)
    assert rows["W-2"].network == "before"


def test_a_refused_row_raises_as_sqlalchemy_would(engine, registry):
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, "D-1")])
    with pytest.raises(exc.IntegrityError), engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, "D-1")])  # the identity is unique


_BY_IDENTITY = ForEachDatabase(lambda postgres: select(devices.c.identity).where(
    in_list(postgres, devices.c.identity, "identities")))
_BY_ID = ForEachDatabase(lambda postgres: select(devices.c.id).where(in_list(postgres, devices.c.id, "ids")))


@pytest.mark.parametrize("size", [1, 3, 1500])
def test_a_list_of_any_length_is_one_parameter(engine, registry, size):
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, f"L-{i}") for i in range(3)])
        wanted = {f"L-{i}" for i in range(3)} | {f"missing-{i}" for i in range(size)}
        found = set(conn.execute(_BY_IDENTITY(conn), {"identities": list_value(conn, wanted)}).scalars())
        ids = set(conn.execute(select(devices.c.id).where(devices.c.identity.in_(found))).scalars())
        by_id = set(conn.execute(_BY_ID(conn), {"ids": list_value(conn, ids | {-1})}).scalars())
    assert found == {"L-0", "L-1", "L-2"} and by_id == ids
    assert _BY_IDENTITY(conn) is _BY_IDENTITY(conn)  # built once per database


def test_rows_fetched_from_the_driver_are_what_sqlalchemy_reads(engine, registry):
    # A list parameter, a time parameter (its bind processor: text on SQLite) and a literal
    # (a bind of SQLAlchemy's own naming) together.
    query = ForEachDatabase(lambda postgres: select(
        devices.c.identity, devices.c.last_seen_at, devices.c.heartbeat_interval_s).where(
        in_list(postgres, devices.c.identity, "identities"), devices.c.kind == "safety_alarm",
        or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at <= bindparam("until"))))
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, "P-1", last_seen_at=T.astimezone(OSLO_WINTER),
                                            heartbeat_interval_s=60),
                                    _device(registry, "P-2", last_seen_at=None, heartbeat_interval_s=None),
                                    _device(registry, "P-3", last_seen_at=T + timedelta(hours=1), heartbeat_interval_s=None)])
        params = {"identities": list_value(conn, ["P-1", "P-2", "P-3", "P-none"]), "until": T.astimezone(OSLO_WINTER)}
        theirs = sorted(tuple(r) for r in conn.execute(query(conn), params))
        ours = sorted(tuple(r) for r in fetch_rows(conn, query(conn), params))
        # Past psycopg's prepare threshold (PostgreSQL): still planned each time, same rows.
        again = [sorted(tuple(r) for r in fetch_rows(conn, query(conn), params, plan_each_time=True)) for _ in range(7)]
        rows = {r.identity: r for r in fetch_rows(conn, query(conn), params)}
    assert ours == theirs == again[-1] and sorted(rows) == ["P-1", "P-2"]
    assert rows["P-1"].last_seen_at == T and rows["P-1"].last_seen_at.tzinfo is timezone.utc
    assert rows["P-2"].last_seen_at is None and rows["P-1"].heartbeat_interval_s == 60


def test_every_column_of_fetched_rows_is_what_sqlalchemy_reads_in_its_order(engine, registry):
    # All of a device's columns (booleans, times, awkward text, NULLs), in the statement's order.
    query = ForEachDatabase(lambda postgres: select(devices).where(in_list(postgres, devices.c.identity, "identities"))
                            .order_by(devices.c.identity.desc()))
    awkward = ['quote " and \\ backslash', "ÆØÅ æøå — ✓", "[1, 2]", '{"not": "json"}', "", "null"]
    with engine.begin() as conn:
        insert_rows(conn, devices, [_device(registry, f"O-{i}", network=text, active=i % 2 == 0, heartbeat_interval_s=i,
                                            last_seen_at=T + timedelta(microseconds=i) if i else None)
                                    for i, text in enumerate(awkward)])
        params = {"identities": list_value(conn, [f"O-{i}" for i in range(len(awkward))])}
        theirs = [tuple(r) for r in conn.execute(query(conn), params)]
        ours = [tuple(r) for r in fetch_rows(conn, query(conn), params)]
        nothing = fetch_rows(conn, query(conn), {"identities": list_value(conn, ["O-none"])})
    assert ours == theirs and [row[list(devices.c.keys()).index("identity")] for row in ours] == [
        f"O-{i}" for i in reversed(range(len(awkward)))]
    assert nothing == []
