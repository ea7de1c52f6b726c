"""Supervision plans: what is refused, and when look-ins are due, across daylight saving time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from respons.digital_supervision.plans import (AgreedTime, Due, Kind, Plan, check, due_between, end_problems,
                                               look_allowed)

UTC = timezone.utc


def plan(*times: AgreedTime, **changes) -> Plan:
    fields = {"kind": Kind.CAMERA, "times": times, "max_seconds": 30, "consent_by": "Brukeren selv",
              "consent_on": date(2026, 1, 5), "valid_from": date(2026, 1, 5), **changes}
    return Plan(**fields)


def codes(p: Plan) -> list[str]:
    return [problem.code for problem in check(p)]


def test_a_plan_with_two_night_look_ins_and_consent_is_accepted():
    assert check(plan(AgreedTime(time(23, 0)), AgreedTime(time(3, 0)))) == []


def test_a_plan_is_refused_for_each_thing_wrong_with_it():
    assert codes(plan()) == ["no_times"]
    assert codes(plan(event_based=True)) == []  # look-ins after alarms only: no agreed times needed
    assert codes(plan(AgreedTime(time(23, 0)), max_seconds=5)) == ["max_seconds"]
    assert codes(plan(AgreedTime(time(23, 0)), max_seconds=301)) == ["max_seconds"]
    assert codes(plan(AgreedTime(time(23, 0)), valid_to=date(2026, 1, 4))) == ["valid_period"]
    assert codes(plan(AgreedTime(time(23, 0)), consent_by="  ")) == ["consent_missing"]
    assert codes(plan(AgreedTime(time(23, 0)), consent_on=date(2026, 2, 1))) == ["consent_after_start"]
    assert codes(plan(AgreedTime(time(23, 0)), checklist=("Ligger i sengen", ""))) == ["checklist"]
    assert codes(plan(AgreedTime(time(23, 0)), checklist=("x" * 121,))) == ["checklist"]
    assert codes(plan(AgreedTime(time(23, 0), frozenset({8})))) == ["weekdays"]


def test_times_closer_than_the_recheck_collide_also_across_midnight_and_only_on_shared_days():
    [clash] = check(plan(AgreedTime(time(22, 0)), AgreedTime(time(22, 10))))
    assert clash.code == "times_collide" and clash.params == {"first": "22:00", "second": "22:10",
                                                              "weekdays": [1, 2, 3, 4, 5, 6, 7]}
    # Sunday 23:55 and Monday 00:05 are ten minutes apart.
    [midnight] = check(plan(AgreedTime(time(23, 55), frozenset({7})), AgreedTime(time(0, 5), frozenset({1}))))
    assert midnight.params == {"first": "23:55", "second": "00:05", "weekdays": [7]}
    # The same times on different days do not meet; 15 minutes apart is no collision.
    assert check(plan(AgreedTime(time(22, 0), frozenset({1})), AgreedTime(time(22, 5), frozenset({2})))) == []
    assert check(plan(AgreedTime(time(22, 0)), AgreedTime(time(22, 15)))) == []


def test_look_ins_are_due_at_the_agreed_oslo_time_on_the_agreed_days_within_the_plans_validity():
    weekdays = plan(AgreedTime(time(23, 0), frozenset({1, 2, 3, 4, 5})), valid_to=date(2026, 1, 16))
    # Monday 5 January to Monday 19 January 2026 (winter: Oslo is UTC+1).
    due = due_between(weekdays, datetime(2026, 1, 4, 23, tzinfo=UTC), datetime(2026, 1, 19, 23, tzinfo=UTC))
    assert [d.at for d in due] == [datetime(2026, 1, day, 22, 0, tzinfo=UTC) for day in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16)]
    assert not any(d.shifted for d in due)


def test_a_look_in_in_the_spring_gap_is_due_an_hour_later_by_the_wall_clock_and_in_summer_time_after():
    night = plan(AgreedTime(time(2, 30)), AgreedTime(time(23, 0)), valid_from=date(2027, 3, 1), consent_on=date(2027, 3, 1))
    due = due_between(night, datetime(2027, 3, 27, 12, tzinfo=UTC), datetime(2027, 3, 29, 12, tzinfo=UTC))
    assert due == [
        Due(datetime(2027, 3, 27, 22, 0, tzinfo=UTC), datetime(2027, 3, 27, 23, 0)),  # 23:00 CET
        # 28 March 2027: 02:30 does not exist; 01:30 UTC is 03:30 summer time.
        Due(datetime(2027, 3, 28, 1, 30, tzinfo=UTC), datetime(2027, 3, 28, 2, 30), shifted=True),
        Due(datetime(2027, 3, 28, 21, 0, tzinfo=UTC), datetime(2027, 3, 28, 23, 0)),  # 23:00 CEST
        Due(datetime(2027, 3, 29, 0, 30, tzinfo=UTC), datetime(2027, 3, 29, 2, 30)),
    ]


def test_a_look_in_in_the_autumn_hour_that_happens_twice_is_due_once_at_the_first():
    night = plan(AgreedTime(time(2, 30)), valid_from=date(2026, 10, 1), consent_on=date(2026, 10, 1))
    due = due_between(night, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC))
    # 25 October 2026: 02:30 CEST (00:30 UTC) and 02:30 CET (01:30 UTC); one look-in, the first.
    assert [d.at for d in due] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]


def test_the_camera_may_open_only_within_the_window_around_an_agreed_time():
    night = plan(AgreedTime(time(23, 0)))
    due_at = datetime(2026, 1, 7, 22, 0, tzinfo=UTC)
    tolerance = timedelta(minutes=10)
    assert look_allowed(night, due_at, tolerance).at == due_at
    assert look_allowed(night, due_at - tolerance, tolerance).at == due_at
    assert look_allowed(night, due_at + tolerance, tolerance).at == due_at
    assert look_allowed(night, due_at + tolerance + timedelta(seconds=1), tolerance) is None
    assert look_allowed(night, due_at - timedelta(hours=3), tolerance) is None
    # Before the plan is valid, never.
    assert look_allowed(night, datetime(2026, 1, 1, 22, 0, tzinfo=UTC), tolerance) is None


def test_a_plan_ends_today_or_later_never_before_it_began_and_an_ended_plan_is_not_lengthened():
    running = plan(AgreedTime(time(23, 0)))
    today = date(2026, 3, 10)
    assert end_problems(running, today, today=today) == []
    assert [p.code for p in end_problems(running, date(2026, 3, 9), today=today)] == ["end_in_past"]
    future = plan(AgreedTime(time(23, 0)), valid_from=date(2026, 4, 1))
    assert [p.code for p in end_problems(future, date(2026, 3, 20), today=today)] == ["valid_period"]
    ended = plan(AgreedTime(time(23, 0)), valid_to=date(2026, 3, 31))
    assert end_problems(ended, date(2026, 3, 20), today=today) == []  # sooner: yes
    [later] = end_problems(ended, date(2026, 4, 30), today=today)
    assert (later.code, later.params) == ("end_later", {"valid_to": "2026-03-31"})
