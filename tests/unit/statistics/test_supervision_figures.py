"""The supervision figures from look-in facts (pure)."""

from __future__ import annotations

from respons.statistics.supervision import LookinFact, supervision


def fact(reason="planned", state="done", late=False, outcome="seen_well", escalated=False) -> LookinFact:
    return LookinFact(reason, state, late, outcome, escalated)


def test_look_ins_are_counted_as_planned_on_time_late_missed_and_escalated():
    figures = supervision([
        fact(), fact(late=True), fact(state="missed", outcome=None, escalated=True),
        fact(outcome="not_seen"), fact(reason="recheck", outcome="not_seen", escalated=True),
        fact(reason="event", outcome="seen_needs_help", escalated=True), fact(reason="fallback", outcome="seen_well"),
        fact(state="due", outcome=None),
    ], minutes_per_visit=30)
    assert (figures.planned, figures.done, figures.on_time, figures.late, figures.missed) == (5, 6, 5, 1, 1)
    assert (figures.rechecks, figures.after_alarms, figures.escalations) == (1, 1, 3)
    # Planned look-ins that found the person well: two (the phone call instead is no visit saved).
    assert (figures.visits_replaced, figures.hours_saved) == (2, 1.0)
    assert figures.share_on_time == round(5 / 7, 3)


def test_no_look_ins_no_share():
    assert supervision([], minutes_per_visit=30).share_on_time is None
