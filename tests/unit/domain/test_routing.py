"""The routing plan: each service model, special rules, and Oslo wall-clock windows across DST."""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respons.domain.routing import (
    AgreementRules,
    AlarmFacts,
    Reason,
    RoutingPlan,
    ServiceModel,
    Step,
    Target,
    Window,
    plan_route,
    taken_by,
)

CARE = frozenset({"assistance", "fall", "sensor"})
ALL_DAY = (time(0), time(0))
ZONE = 7


def at(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)


def rules(*windows: Window, **kwargs) -> AgreementRules:
    return AgreementRules(windows=windows, **kwargs)


def alarm(category="assistance", zone=ZONE, recipient=1) -> AlarmFacts:
    return AlarmFacts(category=category, recipient_id=recipient, zone_id=zone)


NOON = at(2026, 11, 23, 11)


def test_full_response_goes_to_the_centre():
    plan = plan_route(alarm(), rules(Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, CARE)), NOON)
    assert plan.steps == (Step(Target.CENTRE),)
    assert plan.reason is Reason.SERVICE_MODEL


def test_routing_with_backup_offers_the_zone_then_the_centre_after_the_backup_time():
    plan = plan_route(alarm(), rules(Window(ServiceModel.ROUTING_WITH_BACKUP, *ALL_DAY, CARE)), NOON)
    assert plan.steps == (Step(Target.ZONE, 240, 60, ZONE), Step(Target.CENTRE))
    configured = plan_route(alarm(), rules(Window(ServiceModel.ROUTING_WITH_BACKUP, *ALL_DAY, CARE, escalation_minutes=2),
                                           resend_seconds=30), NOON)
    assert configured.steps[0] == Step(Target.ZONE, 120, 30, ZONE)


def test_routing_without_backup_goes_round_the_zone_until_someone_accepts():
    plan = plan_route(alarm(), rules(Window(ServiceModel.ROUTING_ONLY, *ALL_DAY, CARE)), NOON)
    assert plan.steps == (Step(Target.ZONE, None, 60, ZONE),)
    last_resort = plan_route(alarm(), rules(Window(ServiceModel.ROUTING_ONLY, *ALL_DAY, CARE, escalation_minutes=15)), NOON)
    assert last_resort.steps == (Step(Target.ZONE, 900, 60, ZONE), Step(Target.CENTRE))


@pytest.mark.parametrize("model", list(ServiceModel))
def test_fire_always_reaches_the_centre(model):
    plan = plan_route(alarm("fire"), rules(Window(model, *ALL_DAY, CARE | {"fire"})), NOON)
    assert plan.steps == (Step(Target.CENTRE),) and plan.reason is Reason.EMERGENCY


def test_an_alarm_no_window_covers_reaches_the_centre():
    by_day = rules(Window(ServiceModel.ROUTING_ONLY, time(8), time(16), CARE))
    assert plan_route(alarm("medication"), by_day, NOON).reason is Reason.UNMATCHED
    assert plan_route(alarm(), by_day, at(2026, 11, 23, 20)).steps == (Step(Target.CENTRE),)
    assert plan_route(alarm(), None, NOON).reason is Reason.UNMATCHED


def test_a_recipient_without_a_zone_is_the_centres():
    plan = plan_route(alarm(zone=None), rules(Window(ServiceModel.ROUTING_ONLY, *ALL_DAY, CARE)), NOON)
    assert plan.steps == (Step(Target.CENTRE),) and plan.reason is Reason.NO_ZONE


def test_staffed_housing_goes_to_its_own_staff_with_the_centre_as_backup_even_under_full_response():
    plan = plan_route(alarm(zone=99), rules(Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, CARE),
                                            staffed_housing_zones=frozenset({99})), NOON)
    assert plan.steps == (Step(Target.ZONE, 240, 60, 99), Step(Target.CENTRE))
    assert plan.reason is Reason.STAFFED_HOUSING


def test_chosen_alarms_of_chosen_recipients_go_to_next_of_kin_with_the_centre_behind():
    kin = rules(Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, CARE), next_of_kin={1: frozenset({"sensor"})})
    assert plan_route(alarm("sensor", recipient=1), kin, NOON).steps == (Step(Target.NEXT_OF_KIN, 300), Step(Target.CENTRE))
    assert plan_route(alarm("assistance", recipient=1), kin, NOON).steps == (Step(Target.CENTRE),)
    assert plan_route(alarm("sensor", recipient=2), kin, NOON).steps == (Step(Target.CENTRE),)


def test_next_of_kin_have_the_agreements_time_to_confirm():
    kin = rules(Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, CARE), next_of_kin={1: frozenset({"sensor"})},
                kin_confirm_seconds=120)
    assert plan_route(alarm("sensor", recipient=1), kin, NOON).first == Step(Target.NEXT_OF_KIN, 120)


def test_technical_alarms_routed_away_from_the_centre_go_to_technicians():
    plan = plan_route(alarm("technical"), rules(Window(ServiceModel.ROUTING_WITH_BACKUP, *ALL_DAY, frozenset({"technical"}),
                                                       escalation_minutes=30)), NOON)
    assert plan.steps == (Step(Target.TECHNICIANS, 1800, 60), Step(Target.CENTRE)) and plan.reason is Reason.TECHNICAL
    # Under full response the centre takes technical alarms too.
    assert plan_route(alarm("technical"), rules(Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, frozenset({"technical"}))),
                      NOON).steps == (Step(Target.CENTRE),)


# --- a hybrid agreement across the DST changes ----------------------------------------------
# Backup by day (07–23 Oslo time), full response at night (23–07).
HYBRID = rules(
    Window(ServiceModel.ROUTING_WITH_BACKUP, time(7), time(23), CARE),
    Window(ServiceModel.FULL_RESPONSE, time(23), time(7), CARE),
)


@pytest.mark.parametrize(
    "moment, expected, why",
    [
        # Spring forward: 29 March 2026, 02:00 CET -> 03:00 CEST (UTC+2 from then on).
        (at(2026, 3, 28, 5, 30), ServiceModel.FULL_RESPONSE, "06:30 CET, the morning before the change"),
        (at(2026, 3, 29, 5, 30), ServiceModel.ROUTING_WITH_BACKUP, "07:30 CEST: a fixed UTC+1 would say 06:30, night"),
        (at(2026, 3, 29, 4, 59), ServiceModel.FULL_RESPONSE, "06:59 CEST"),
        (at(2026, 3, 29, 21, 0), ServiceModel.FULL_RESPONSE, "23:00 CEST: a fixed UTC+1 would say 22:00, day"),
        # Fall back: 25 October 2026, 03:00 CEST -> 02:00 CET.
        (at(2026, 10, 25, 0, 30), ServiceModel.FULL_RESPONSE, "02:30 CEST, the first 02:30"),
        (at(2026, 10, 25, 1, 30), ServiceModel.FULL_RESPONSE, "02:30 CET, the second 02:30"),
        (at(2026, 10, 25, 5, 30), ServiceModel.FULL_RESPONSE, "06:30 CET: a fixed UTC+2 would say 07:30, day"),
        (at(2026, 10, 25, 6, 0), ServiceModel.ROUTING_WITH_BACKUP, "07:00 CET"),
        (at(2026, 10, 24, 20, 30), ServiceModel.ROUTING_WITH_BACKUP, "22:30 CEST, the evening before"),
        (at(2026, 10, 24, 21, 30), ServiceModel.FULL_RESPONSE, "23:30 CEST: a fixed UTC+1 would say 22:30, day"),
    ],
)
def test_hybrid_agreement_follows_oslo_wall_clock_across_dst(moment, expected, why):
    assert plan_route(alarm(), HYBRID, moment).service_model is expected, why


def test_a_night_window_belongs_to_the_weekday_it_starts_on():
    # Friday night only (starts Friday 22:00, ends Saturday 06:00).
    friday_night = rules(Window(ServiceModel.ROUTING_ONLY, time(22), time(6), CARE, weekdays="5"))
    assert plan_route(alarm(), friday_night, at(2026, 11, 27, 22)).service_model is ServiceModel.ROUTING_ONLY  # Fri 23:00
    assert plan_route(alarm(), friday_night, at(2026, 11, 28, 3)).service_model is ServiceModel.ROUTING_ONLY  # Sat 04:00
    assert plan_route(alarm(), friday_night, at(2026, 11, 28, 22)).reason is Reason.UNMATCHED  # Sat 23:00


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc)))
def test_every_moment_of_the_hybrid_day_has_exactly_one_model_and_the_plan_survives_json(moment):
    plan = plan_route(alarm(), HYBRID, moment)
    assert plan.service_model in (ServiceModel.FULL_RESPONSE, ServiceModel.ROUTING_WITH_BACKUP)
    assert plan.steps[-1].target in (Target.CENTRE, Target.ZONE)
    assert RoutingPlan.from_json(plan.to_json()) == plan


def test_now_must_carry_its_timezone():
    with pytest.raises(ValueError):
        plan_route(alarm(), HYBRID, datetime(2026, 3, 29, 5, 30))


def test_a_window_can_be_limited_to_device_kinds():
    # Fall sensors go to home care; a fall reported from the button goes to the centre.
    by_device = rules(Window(ServiceModel.ROUTING_WITH_BACKUP, *ALL_DAY, CARE, device_kinds=frozenset({"fall_sensor"})),
                      Window(ServiceModel.FULL_RESPONSE, *ALL_DAY, CARE))
    from_sensor = AlarmFacts("fall", 1, ZONE, device_kind="fall_sensor")
    from_button = AlarmFacts("fall", 1, ZONE, device_kind="safety_alarm")
    assert plan_route(from_sensor, by_device, NOON).first.target is Target.ZONE
    assert plan_route(from_button, by_device, NOON).steps == (Step(Target.CENTRE),)


def test_a_system_alarm_goes_to_the_centre_whatever_the_agreement_says():
    # Even a window that names the category (the registry never offers it) sends it nowhere else.
    routed = rules(Window(ServiceModel.ROUTING_ONLY, *ALL_DAY, frozenset({"system", "technical"})))
    plan = plan_route(alarm("system", zone=None, recipient=None), routed, NOON)
    assert [s.target for s in plan.steps] == [Target.CENTRE] and plan.reason is Reason.SYSTEM


def test_an_alarm_is_taken_by_its_holder_or_by_whoever_accepted_its_mission_until_it_is_done():
    assert taken_by(answered_by="user:7", mission=None, actor="user:7")
    assert not taken_by(answered_by="user:8", mission=None, actor="user:7")
    assert taken_by(answered_by="user:1", mission={"accepted_by": "user:7"}, actor="user:7")
    assert not taken_by(answered_by="user:1", mission={"accepted_by": "user:7", "done_at": "2026-12-04T01:00:00"},
                                actor="user:7")
    assert not taken_by(answered_by=None, mission={"accepted_by": None}, actor="user:7")


@pytest.mark.parametrize("facts, agreement, reason", [
    (alarm("fire"), None, Reason.EMERGENCY), (alarm("system"), None, Reason.SYSTEM), (alarm(), None, Reason.UNMATCHED)])
def test_the_plans_that_need_no_agreement_are_shared_and_stay_as_they_are(facts, agreement, reason):
    # Made once and handed to every such alarm: immutable, and its JSON a fresh dict each time.
    first, second = plan_route(facts, agreement, NOON), plan_route(facts, agreement, at(2027, 6, 1, 3))
    assert first == second == RoutingPlan((Step(Target.CENTRE),), reason)
    routed = first.to_json()
    routed["steps"].append({"target": "zone"})
    assert second.to_json() == RoutingPlan((Step(Target.CENTRE),), reason).to_json()
    with pytest.raises(AttributeError):
        first.reason = Reason.NO_ZONE
