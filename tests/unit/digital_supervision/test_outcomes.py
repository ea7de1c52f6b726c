"""What follows a look-in: done, look again after 15 minutes, or an alarm."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from respons.digital_supervision.outcomes import Done, LookAgain, Outcome, RaiseAlarm, after

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)


def test_seen_and_well_is_done_and_seen_in_need_of_help_is_an_alarm():
    assert after(Outcome.SEEN_WELL, recheck=False, now=NOW).steps == (Done(),)
    assert after(Outcome.SEEN_NEEDS_HELP, recheck=False, now=NOW).steps == (
        RaiseAlarm("supervision_due", "seen_needs_help"),)


def test_not_seen_is_looked_for_again_after_the_recheck_and_not_seen_again_is_an_alarm():
    assert after(Outcome.NOT_SEEN, recheck=False, now=NOW).steps == (LookAgain(NOW + timedelta(minutes=15)),)
    assert after(Outcome.NOT_SEEN, recheck=False, now=NOW, recheck_after=timedelta(minutes=5)).steps == (
        LookAgain(NOW + timedelta(minutes=5)),)
    assert after(Outcome.NOT_SEEN, recheck=True, now=NOW).steps == (RaiseAlarm("supervision_due", "not_seen_twice"),)


def test_a_camera_that_is_unavailable_raises_a_technician_alarm_and_falls_back_to_a_call():
    then = after(Outcome.CAMERA_UNAVAILABLE, recheck=False, now=NOW)
    assert then.steps == (RaiseAlarm("device_fault", "camera_unavailable"),) and then.fallback_call


def test_a_camera_that_shows_nothing_falls_back_as_the_plan_says():
    from datetime import datetime, timezone

    from respons.digital_supervision.outcomes import Outcome, RaiseAlarm, after
    from respons.digital_supervision.plans import Fallback

    now = datetime(2026, 12, 4, 22, tzinfo=timezone.utc)
    phone = after(Outcome.CAMERA_UNAVAILABLE, recheck=False, now=now)
    assert phone.fallback_call and phone.steps == (RaiseAlarm("device_fault", "camera_unavailable"),)
    visit = after(Outcome.CAMERA_UNAVAILABLE, recheck=False, now=now, fallback=Fallback.VISIT)
    assert not visit.fallback_call
    assert visit.steps == (RaiseAlarm("device_fault", "camera_unavailable"),
                           RaiseAlarm("supervision_due", "camera_unavailable"))


def test_after_the_consent_is_withdrawn_nothing_more_is_started_under_the_plan_but_what_was_seen_counts():
    from respons.digital_supervision.plans import Fallback

    for outcome in (Outcome.SEEN_WELL, Outcome.NOT_SEEN):
        assert after(outcome, recheck=False, now=NOW, withdrawn=True).steps == (Done(),)
    assert after(Outcome.SEEN_NEEDS_HELP, recheck=False, now=NOW, withdrawn=True).steps == (
        RaiseAlarm("supervision_due", "seen_needs_help"),)
    for fallback in Fallback:
        then = after(Outcome.CAMERA_UNAVAILABLE, recheck=False, now=NOW, fallback=fallback, withdrawn=True)
        assert then.steps == (RaiseAlarm("device_fault", "camera_unavailable"),) and not then.fallback_call
