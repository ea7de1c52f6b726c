"""The simulated traffic: volume, daily profile in Oslo time, type mix, device choice."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.demo.traffic import HOURLY_WEIGHTS, TYPE_MIX, SimulatedAlarm, alarms_per_recipient_day, schedule
from respons.domain.alarm_types import ALARM_TYPES, Category

OSLO = ZoneInfo("Europe/Oslo")
KRISTIANSAND_USERS = 18_000
# The band this project chose for technical alarms (battery, power, lost contact, faults).
TECHNICAL_SHARE_BAND = (0.25, 0.35)
SUMMER = datetime(2026, 6, 1, tzinfo=timezone.utc)  # no DST change in the next 30 days


def fleet(safety_alarms: int = 1000, **sensors: int) -> list[tuple[str, str]]:
    devices = [(f"TA-{i:07d}", "safety_alarm") for i in range(safety_alarms)]
    for kind, count in sensors.items():
        devices += [(f"{kind}-{i:07d}", kind) for i in range(count)]
    return devices


EVERY_KIND = fleet(
    fall_sensor=100, door_sensor=60, smoke_detector=120, bed_sensor=40, gps_tracker=30, medication_dispenser=50
)


def simulate(days: float, *, n_recipients: int = KRISTIANSAND_USERS, start: datetime = SUMMER, seed: int = 1,
             devices=EVERY_KIND) -> list[SimulatedAlarm]:
    return list(
        schedule(random.Random(seed), start=start, end=start + timedelta(days=days), devices=devices, n_recipients=n_recipients)
    )


@pytest.fixture(scope="module")
def month() -> list[SimulatedAlarm]:
    """30 summer days for Kristiansand's 18,000 users: about 30,000 alarms."""
    return simulate(30)


def test_the_same_seed_gives_the_same_schedule_and_another_seed_does_not():
    assert simulate(1, seed=7) == simulate(1, seed=7)
    assert simulate(1, seed=7) != simulate(1, seed=8)


def test_kristiansand_gets_about_a_thousand_alarms_a_day(month):
    expected_per_day = alarms_per_recipient_day * KRISTIANSAND_USERS
    assert expected_per_day == pytest.approx(1000)
    # Poisson: 30,000 alarms have a standard deviation of about 173, i.e. 6 a day.
    assert 970 <= len(month) / 30 <= 1030


def test_the_rate_scales_with_the_number_of_recipients():
    alarms = simulate(30, n_recipients=1800)
    assert 90 <= len(alarms) / 30 <= 110


def test_the_morning_is_busier_than_the_night(month):
    by_hour = Counter(a.at.astimezone(OSLO).hour for a in month)
    morning = sum(by_hour[h] for h in range(8, 12)) / 4
    night = sum(by_hour[h] for h in range(2, 6)) / 4
    assert morning > 3 * night
    assert night > 0


def test_every_local_hour_follows_its_weight_in_oslo_time(month):
    # In June Oslo is UTC+2: a profile applied to UTC hours would miss these by far more
    # than the five standard deviations allowed here.
    by_hour = Counter(a.at.astimezone(OSLO).hour for a in month)
    total_weight = sum(HOURLY_WEIGHTS)
    for hour, weight in enumerate(HOURLY_WEIGHTS):
        expected = len(month) * weight / total_weight
        assert abs(by_hour[hour] - expected) < 5 * math.sqrt(expected), hour


def test_technical_alarms_are_a_sizeable_share(month):
    technical = sum(1 for a in month if ALARM_TYPES[a.type].category is Category.TECHNICAL)
    low, high = TECHNICAL_SHARE_BAND
    assert low <= technical / len(month) <= high


def test_button_press_is_the_most_common_type_and_fire_is_rare(month):
    counts = Counter(a.type for a in month)
    assert counts.most_common(1)[0][0] == "button_press"
    assert 0 < counts["fire"] < 0.02 * len(month)


def test_the_mix_only_names_known_types_and_every_alarm_has_one(month):
    assert set(TYPE_MIX) <= set(ALARM_TYPES)
    assert {a.type for a in month} <= set(ALARM_TYPES)


def test_times_are_utc_aware_and_inside_the_range(month):
    end = SUMMER + timedelta(days=30)
    assert all(a.at.utcoffset() == timedelta(0) for a in month)
    assert all(SUMMER <= a.at < end for a in month)


def test_sensor_alarms_come_from_the_matching_sensor(month):
    kind_of = dict(EVERY_KIND)
    expected_kind = {
        "fire": "smoke_detector",
        "door_opened": "door_sensor",
        "bed_exit": "bed_sensor",
        "fall": "fall_sensor",
        "medication_missed": "medication_dispenser",
        "geofence_exit": "gps_tracker",
        "button_press": "safety_alarm",
        "voice_call": "safety_alarm",
    }
    for alarm in month:
        if alarm.type in expected_kind:
            assert kind_of[alarm.device] == expected_kind[alarm.type], alarm
    technical_kinds = {kind_of[a.device] for a in month if ALARM_TYPES[a.type].category is Category.TECHNICAL}
    assert len(technical_kinds) > 1  # technical faults come from any kind of device


def test_without_sensors_falls_come_from_safety_alarms_and_sensor_types_do_not_occur():
    alarms = simulate(5, devices=fleet(200), n_recipients=KRISTIANSAND_USERS)
    types = Counter(a.type for a in alarms)
    assert types["fall"] > 0
    assert all(device.startswith("TA-") for device in (a.device for a in alarms))
    assert not {"fire", "door_opened", "bed_exit", "medication_missed", "geofence_exit"} & set(types)
    # Dropping the impossible types keeps the total volume.
    assert 950 <= len(alarms) / 5 <= 1050


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc),  # autumn: 02:00–03:00 happens twice
        datetime(2026, 3, 28, 22, 0, tzinfo=timezone.utc),  # spring: 02:00–03:00 never happens
    ],
)
def test_a_dst_change_neither_crashes_nor_duplicates(start):
    alarms = simulate(0.5, start=start, n_recipients=200_000)
    times = [a.at for a in alarms]
    assert len(set(times)) == len(times)
    assert times == sorted(times)
    assert len(alarms) > 1000


def test_the_repeated_autumn_hour_gets_alarms_in_both_of_its_passes():
    # 00:00–01:00 UTC is 02:00 CEST and 01:00–02:00 UTC is 02:00 CET on 25 October 2026.
    alarms = simulate(0.25, start=datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc), n_recipients=200_000)
    local_two = [a.at for a in alarms if a.at.astimezone(OSLO).hour == 2]
    assert {t.hour for t in local_two} == {0, 1}


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule(random.Random(1), start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), devices=EVERY_KIND, n_recipients=10)


def test_no_devices_is_an_error_with_a_reason():
    with pytest.raises(ValueError, match="No devices"):
        schedule(random.Random(1), start=SUMMER, end=SUMMER + timedelta(days=1), devices=[], n_recipients=10)


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.sampled_from([timezone.utc, OSLO])
    ),
    hours=st.floats(min_value=0, max_value=72),
    n_recipients=st.integers(min_value=0, max_value=50_000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_range_gives_strictly_increasing_times_inside_it(start, hours, n_recipients, seed):
    end = start + timedelta(hours=hours)
    alarms = list(schedule(random.Random(seed), start=start, end=end, devices=EVERY_KIND, n_recipients=n_recipients))
    times = [a.at for a in alarms]
    assert all(start <= t < end for t in times)
    assert all(a < b for a, b in zip(times, times[1:]))
    assert all(t.tzinfo is timezone.utc for t in times)
