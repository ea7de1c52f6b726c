"""Calls per municipality and period (statistics/voice.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from respons.statistics.voice import CallFact, Calls, calls

T = datetime(2026, 3, 29, 0, 59, 30, tzinfo=timezone.utc)  # the night summer time begins in Oslo


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_talk_time_and_calls_are_per_alarm_that_had_calls():
    figures = calls([
        CallFact("a1", "failed", None, None),  # busy first
        CallFact("a1", "ended", at(10), at(75)),  # then 65 s
        CallFact("a2", "lost", at(0), at(30)),  # dropped after 30 s (across the DST change: UTC counts)
        CallFact("a3", "failed", None, None),
    ])
    assert figures == Calls(calls=4, answered=2, failed=2, lost=1, alarms_with_calls=3, talk_seconds=95)
    assert figures.calls_per_alarm == 1.33
    assert figures.talk_seconds_per_alarm == 31.7


def test_no_calls_give_no_ratios_rather_than_zero():
    assert calls([]) == Calls()
    assert Calls().calls_per_alarm is None and Calls().talk_seconds_per_alarm is None


def test_a_call_still_going_counts_as_answered_without_talk_time_yet():
    figures = calls([CallFact("a1", "answered", at(0), None), CallFact(None, "failed", None, None)])
    assert (figures.answered, figures.talk_seconds, figures.alarms_with_calls, figures.calls) == (1, 0, 1, 2)
