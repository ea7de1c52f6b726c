"""The round's clock (open, due now, late, missed) and the shift, across daylight saving time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from respons.digital_supervision.rounds import Clock, Window, clock, in_window, next_shift, shift_at
from respons.economy.staffing import Shift

UTC = timezone.utc
DUE = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)  # 23:00 in Oslo
WINDOW = Window(window=timedelta(minutes=10), late_after=timedelta(minutes=5))


@pytest.mark.parametrize("minutes, expected", [
    (-11, Clock.LATER), (-10, Clock.OPEN), (-1, Clock.OPEN), (0, Clock.DUE_NOW), (4, Clock.DUE_NOW),
    (5, Clock.LATE), (9, Clock.LATE), (10, Clock.MISSED), (60, Clock.MISSED),
])
def test_a_look_in_is_open_due_late_and_missed_by_its_window(minutes, expected):
    now = DUE + timedelta(minutes=minutes)
    assert clock(DUE, now, WINDOW) is expected
    assert in_window(DUE, now, WINDOW) == (expected in (Clock.OPEN, Clock.DUE_NOW, Clock.LATE))


def test_late_must_come_before_the_window_closes():
    with pytest.raises(ValueError):
        Window(window=timedelta(minutes=5), late_after=timedelta(minutes=5))
    with pytest.raises(ValueError):
        Window(window=timedelta(minutes=5), late_after=timedelta(0))


def test_the_night_shift_runs_from_23_to_07_oslo_time_over_midnight():
    at_half_past_midnight = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # 00:30 on the 5th in Oslo
    night = shift_at(at_half_past_midnight)
    assert night.shift is Shift.NIGHT
    assert (night.starts, night.ends) == (datetime(2026, 12, 4, 22, tzinfo=UTC), datetime(2026, 12, 5, 6, tzinfo=UTC))
    assert shift_at(night.starts) == night and shift_at(night.ends - timedelta(seconds=1)) == night
    day = next_shift(night)
    assert (day.shift, day.starts, day.ends) == (Shift.DAY, night.ends, datetime(2026, 12, 5, 14, tzinfo=UTC))


def test_the_evening_shift_is_found_from_its_own_hours():
    evening = shift_at(datetime(2026, 12, 4, 15, 0, tzinfo=UTC))  # 16:00 in Oslo
    assert (evening.shift, evening.starts, evening.ends) == (
        Shift.EVENING, datetime(2026, 12, 4, 14, tzinfo=UTC), datetime(2026, 12, 4, 22, tzinfo=UTC))


def test_a_night_with_a_daylight_saving_change_is_seven_or_nine_hours_long():
    spring = shift_at(datetime(2027, 3, 28, 1, 30, tzinfo=UTC))  # the clocks go forward at 02:00
    autumn = shift_at(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # and back at 03:00
    assert spring.shift is autumn.shift is Shift.NIGHT
    assert spring.ends - spring.starts == timedelta(hours=7)
    assert autumn.ends - autumn.starts == timedelta(hours=9)
