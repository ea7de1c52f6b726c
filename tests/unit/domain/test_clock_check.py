"""domain/clock_check.py: when a device's time is not believed (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from respons.domain import clock_check

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "sent, expected",
    [
        ("2026-11-23T02:00:00Z", None),
        ("2026-11-23T02:10:00Z", None),  # exactly 10 minutes ahead: believed
        ("2026-11-23T02:10:01Z", "ahead"),
        ("2026-11-22T02:00:00Z", None),  # exactly a day behind: believed
        ("2026-11-22T01:59:59Z", "behind"),
        ("2026-11-23T03:05:00+01:00", None),  # an offset is not a wrong clock
        ("2999-01-01T00:00:00Z", "ahead"),
        ("0001-01-01T00:00:00Z", "behind"),
        ("9999-12-31T23:59:59-14:00", "ahead"),
        ("0001-01-01T00:00:00+14:00", "behind"),
    ],
)
def test_default_window(sent, expected):
    suspect = clock_check.check(at(sent), NOW)
    assert (suspect.direction if suspect else None) == expected
    if suspect:
        assert suspect.sent == at(sent).isoformat() and suspect.seconds > 0


def test_times_beyond_utc_are_clamped_not_an_error():
    assert clock_check.to_utc(at("9999-12-31T23:59:59-14:00")) == (datetime.max.replace(tzinfo=timezone.utc), True)
    assert clock_check.to_utc(at("0001-01-01T00:00:00+14:00")) == (datetime.min.replace(tzinfo=timezone.utc), True)
    assert clock_check.to_utc(at("2026-11-23T03:00:00+01:00")) == (NOW, False)


def test_the_window_is_a_parameter():
    assert clock_check.check(NOW + timedelta(seconds=6), NOW, future=timedelta(seconds=5)).direction == "ahead"
    assert clock_check.check(NOW - timedelta(seconds=6), NOW, past=timedelta(seconds=5)).direction == "behind"


def test_naive_times_are_a_bug():
    with pytest.raises(ValueError):
        clock_check.check(datetime(2026, 11, 23), NOW)


@given(st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=h)) for h in (-14, -3, 0, 5, 14)])))
def test_any_aware_time_gets_an_answer(value):
    suspect = clock_check.check(value, NOW)
    assert suspect is None or (suspect.direction in ("ahead", "behind") and 0 <= suspect.seconds)
