"""Assertions shared by several test modules (a test module never imports another)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from respons.statistics.rules import (
    Distribution,
    KeyFigures,
    Period,
    breakdown,
    by_period,
    key_figures,
)
from respons.statistics.store import alarm_facts, key_figures_by

KEYS = {
    None: lambda f: None,
    "municipality": lambda f: f.municipality_id,
    "zone": lambda f: f.zone_id,
    "category": lambda f: f.category,
    **{p: by_period(p) for p in Period},
}


def assert_same_figures(got: KeyFigures, expected: KeyFigures, where) -> None:
    for field in fields(KeyFigures):
        a, b = getattr(got, field.name), getattr(expected, field.name)
        if isinstance(b, Distribution):
            # SQLite's date arithmetic works in milliseconds.
            assert a.count == b.count, (where, field.name)
            for part in ("median", "p90", "max", "mean"):
                assert getattr(a, part) == pytest.approx(getattr(b, part), abs=0.002), (where, field.name, part)
        else:
            assert a == b, (where, field.name)


def assert_database_agrees(conn, scope, start, end, now) -> list:
    facts = alarm_facts(conn, municipality_ids=scope, start=start, end=end)
    for by, key in KEYS.items():
        got = key_figures_by(conn, municipality_ids=scope, start=start, end=end, now=now, by=by,
                             minutes_per_cleared_alarm=25)
        expected = ({None: key_figures(facts, now=now, minutes_per_cleared_alarm=25)} if by is None
                    else breakdown(facts, key, now=now, minutes_per_cleared_alarm=25))
        assert got.keys() == expected.keys(), by
        for part in expected:
            assert_same_figures(got[part], expected[part], (by, part))
    return facts
