"""Key figures against hand-computed expectations on a small fixed timeline, Oslo periods
across month ends and DST, and the additivity of every breakdown (Hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respons.statistics.rules import (
    ADDITIVE,
    AlarmFact,
    Period,
    breakdown,
    by_period,
    key_figures,
    period_bounds,
    period_of,
)

UTC = timezone.utc
T = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 in Oslo (CET), a Tuesday


def fact(n: int, **kwargs) -> AlarmFact:
    base = dict(alarm_id=f"a{n}", municipality_id=1, zone_id=10, recipient_id=100 + n, type="button_press",
                category="assistance", received_at=T + timedelta(minutes=n))
    return AlarmFact(**{**base, **kwargs})


def at(n: int, seconds: float) -> datetime:
    return T + timedelta(minutes=n, seconds=seconds)


# A morning in one municipality, every figure worked out by hand below.
TIMELINE = [
    # 1. answered by the centre after 20 s, cleared at the centre
    fact(1, queued_at=at(1, 0), answered_at=at(1, 20), answered_by_centre=True, outcome="resolved_at_centre"),
    # 2. answered after 50 s, home care dispatched, accepted 2 min after the answer, arrived after 20 min
    fact(2, queued_at=at(2, 0), answered_at=at(2, 50), answered_by_centre=True, outcome="home_care_dispatched",
         home_care_asked_at=at(2, 50), mission_accepted_at=at(2, 170), arrived_at=at(22, 0)),
    # 3. answered after 90 s (late), false alarm (cleared)
    fact(3, queued_at=at(3, 0), answered_at=at(3, 90), answered_by_centre=True, outcome="false_alarm"),
    # 4. routed to the zone, accepted there after 30 s (never at the centre)
    fact(4, routed_direct=True, answered_at=at(4, 30), answered_by_home_care=True, outcome="home_care_dispatched",
         home_care_asked_at=at(4, 0), mission_accepted_at=at(4, 30), arrived_at=at(19, 0)),
    # 5. routed to the zone, nobody accepted: escalated, the centre answered 30 s after it arrived
    fact(5, routed_direct=True, escalated=True, queued_at=at(9, 0), answered_at=at(9, 30), answered_by_centre=True,
         outcome="emergency_services", recipient_id=101),  # the same person as alarm 1
    # 6. a lost-contact alarm, technician, answered after 40 s
    fact(6, type="device_silent", category="technical", queued_at=at(6, 0), answered_at=at(6, 40),
         answered_by_centre=True, outcome="technician"),
    # 7. in the queue for 10 s when the figures are taken: pending, not late yet
    fact(7, queued_at=at(59, 50)),
    # 8. in the queue unanswered for 5 minutes: late
    fact(8, queued_at=at(55, 0), missing_response=True),
]
NOW = at(60, 0)


def test_every_figure_of_a_fixed_morning_by_hand():
    k = key_figures(TIMELINE, now=NOW, minutes_per_cleared_alarm=30)
    assert k.received == 8
    assert k.by_type == {"button_press": 7, "device_silent": 1}
    assert k.by_category == {"assistance": 7, "technical": 1}
    assert k.by_hour == {9: 8} and k.by_weekday == {2: 8}, "Oslo time: 09:xx on a Tuesday"
    # To the centre: 1, 2, 3, 5, 6 answered + 8 late = 6; 7 pending; 4 never at the centre.
    assert (k.to_centre, k.pending_answer) == (6, 1)
    # Within 60 s: 1 (20 s), 2 (50 s), 5 (30 s), 6 (40 s) = 4 of 6.
    assert k.answered_within_target == 4 and k.share_answered_within_target == pytest.approx(4 / 6)
    # Answer times 20, 30, 40, 50, 90: median 40, p90 = 50 + 0.6 × 40 = 74, max 90, mean 46.
    assert (k.answer_seconds.count, k.answer_seconds.median, k.answer_seconds.p90, k.answer_seconds.max,
            k.answer_seconds.mean) == (5, 40, pytest.approx(74), 90, 46)
    # The centre gave 5 outcomes (1, 2, 3, 5, 6); it cleared 1 and 3 itself.
    assert (k.resolved_by_centre, k.cleared_at_centre) == (5, 2) and k.clearance_rate == pytest.approx(0.4)
    # The centre dispatched home care to alarm 2; alarm 4 home care took itself: not mixed.
    assert k.dispatches == {"home_care_dispatched": 1, "emergency_services": 1, "next_of_kin": 0, "technician": 1}
    assert k.handled_by_home_care == 1
    assert (k.routed_direct, k.escalated, k.escalation_share) == (2, 1, 0.5)
    # Accept: alarm 2 120 s after the dispatch, alarm 4 30 s after the offer; arrival 20 and 15 minutes after receipt.
    assert (k.accept_seconds.median, k.accept_seconds.max) == (75, 120)
    assert (k.arrival_seconds.count, k.arrival_seconds.median) == (2, pytest.approx((20 * 60 + 15 * 60) / 2))
    assert (k.missing_responses, k.technical, k.devices_lost) == (1, 1, 1)
    assert k.hours_saved == 1.0, "2 alarms cleared × 30 minutes"
    assert k.frequent_recipients[0] == (101, 2), "the person behind alarms 1 and 5 first"


def test_the_centres_answer_times_count_only_the_centres_answers():
    """A responder who took an alarm out of the centre's queue in the app (possible before
    issue 14) answered it for home care: not the centre in 0.4 s. If it had waited past the
    target first, the centre was late all the same."""
    taken_early = fact(1, queued_at=at(1, 0), answered_at=at(1, 0.4), answered_by_home_care=True,
                       outcome="home_care_dispatched")
    taken_late = fact(2, queued_at=at(2, 0), answered_at=at(2, 90), answered_by_home_care=True)
    centre = fact(3, queued_at=at(3, 0), answered_at=at(3, 30), answered_by_centre=True, outcome="resolved_at_centre")
    k = key_figures([taken_early, taken_late, centre], now=NOW)
    assert taken_early.answer_seconds is None and taken_early.answer_status(NOW) is None
    assert taken_late.answer_status(NOW) == "late"
    assert (k.to_centre, k.answered_within_target, k.pending_answer) == (2, 1, 0)
    assert (k.answer_seconds.count, k.answer_seconds.mean) == (1, 30)
    assert (k.resolved_by_centre, k.handled_by_home_care) == (1, 2)
    assert k.dispatches["home_care_dispatched"] == 0, "home care's own alarms are not dispatches"


def test_empty_figures_have_no_shares():
    k = key_figures([], now=NOW)
    assert k.received == 0 and k.share_answered_within_target is None and k.clearance_rate is None
    assert k.answer_seconds.median is None and k.escalation_share is None


@pytest.mark.parametrize("moment, period, first_day", [
    # 23:59:59 on 31 March in Oslo (summer time, UTC+2) is still March …
    (datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC), Period.MONTH, date(2026, 3, 1)),
    # … one second later it is April, though UTC still says 31 March.
    (datetime(2026, 3, 31, 22, 0, 0, tzinfo=UTC), Period.MONTH, date(2026, 4, 1)),
    # New Year in Oslo (winter, UTC+1) starts at 23:00 UTC.
    (datetime(2026, 12, 31, 23, 0, 0, tzinfo=UTC), Period.YEAR, date(2027, 1, 1)),
    (datetime(2026, 6, 30, 21, 59, 0, tzinfo=UTC), Period.HALF_YEAR, date(2026, 1, 1)),
    (datetime(2026, 6, 30, 22, 0, 0, tzinfo=UTC), Period.HALF_YEAR, date(2026, 7, 1)),
    # ISO weeks start on Monday: Sunday 29 March 2026 belongs to the week of Monday 23 March.
    (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), Period.WEEK, date(2026, 3, 23)),
])
def test_an_alarm_counts_in_the_oslo_period_it_was_received_in(moment, period, first_day):
    assert period_of(moment, period) == first_day


def test_the_dst_days_are_23_and_25_hours_long_and_periods_tile_the_year():
    spring = period_bounds(date(2026, 3, 29), Period.DAY)
    autumn = period_bounds(date(2026, 10, 25), Period.DAY)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert period_bounds(date(2026, 3, 1), Period.MONTH) == (
        datetime(2026, 2, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    months = [period_bounds(date(2026, m, 1), Period.MONTH) for m in range(1, 13)]
    assert all(a[1] == b[0] for a, b in zip(months, months[1:]))
    assert (months[0][0], months[-1][1]) == period_bounds(date(2026, 1, 1), Period.YEAR)


def test_an_alarm_over_midnight_counts_on_the_day_it_came_in():
    late = fact(1, received_at=datetime(2026, 10, 24, 21, 58, tzinfo=UTC),  # 23:58 Oslo on the 24th
                queued_at=datetime(2026, 10, 24, 21, 58, tzinfo=UTC),
                answered_at=datetime(2026, 10, 24, 22, 3, tzinfo=UTC), answered_by_centre=True)
    days = breakdown([late], by_period(Period.DAY), now=NOW)
    assert list(days) == [date(2026, 10, 24)]


# --- every breakdown adds up to the whole ------------------------------------------------

_moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@st.composite
def facts(draw, n: int):
    received = draw(_moments)
    queued = draw(st.one_of(st.none(), st.just(received + timedelta(seconds=draw(st.integers(0, 600))))))
    answered = None
    if draw(st.booleans()):
        answered = (queued or received) + timedelta(seconds=draw(st.integers(0, 900)))
    return AlarmFact(
        alarm_id=f"a{n}", municipality_id=draw(st.integers(1, 4)), zone_id=draw(st.sampled_from([None, 1, 2, 3])),
        recipient_id=draw(st.sampled_from([None, 1, 2, 3, 4])),
        type=draw(st.sampled_from(["button_press", "fall", "power_lost", "device_silent"])),
        category=draw(st.sampled_from(["assistance", "fall", "technical"])), received_at=received, queued_at=queued,
        answered_at=answered, answered_by_centre=(by := draw(st.sampled_from(["centre", "home_care", None]))) == "centre"
        and answered is not None, answered_by_home_care=by == "home_care" and answered is not None,
        outcome=draw(st.sampled_from([None, "resolved_at_centre", "false_alarm", "home_care_dispatched", "technician"])),
        routed_direct=draw(st.booleans()), escalated=draw(st.booleans()), missing_response=draw(st.booleans()),
    )


KEYS = {
    "municipality": lambda f: f.municipality_id,
    "zone": lambda f: f.zone_id,
    "category": lambda f: f.category,
    **{f"period:{p.value}": by_period(p) for p in Period},
}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.integers(0, 40), key=st.sampled_from(sorted(KEYS)))
def test_the_parts_of_any_breakdown_add_up_to_the_whole(data, size, key):
    timeline = [data.draw(facts(i)) for i in range(size)]
    now = datetime(2028, 1, 1, tzinfo=UTC)
    whole = key_figures(timeline, now=now)
    parts = breakdown(timeline, KEYS[key], now=now).values()
    for name in ADDITIVE:
        assert sum(getattr(p, name) for p in parts) == getattr(whole, name), name
    assert sum(p.answer_seconds.count for p in parts) == whole.answer_seconds.count
    for table in ("by_type", "by_category", "by_hour", "by_weekday", "dispatches"):
        total: dict = {}
        for p in parts:
            for k, v in getattr(p, table).items():
                total[k] = total.get(k, 0) + v
        assert {k: v for k, v in total.items() if v} == {k: v for k, v in getattr(whole, table).items() if v}, table
