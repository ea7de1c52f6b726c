import pytest

from respons.domain.alarm_types import (ALARM_TYPES, REPORTABLE_TYPES, Category, Priority, UnknownAlarmType, alarm_type,
                                        by_vkp_code, reported_type)


def test_every_category_has_at_least_one_type():
    assert {t.category for t in ALARM_TYPES.values()} == set(Category)


@pytest.mark.parametrize("vkp, code", [("4.1", "fall"), ("4.13", "button_press"), ("4.15", "door_opened"), ("4.11", "fire")])
def test_vkp_alert_codes_map_to_types(vkp, code):
    assert by_vkp_code(vkp).code == code


def test_vkp_codes_are_unique():
    codes = [t.vkp_code for t in ALARM_TYPES.values() if t.vkp_code]
    assert len(codes) == len(set(codes))


def test_life_threatening_types_outrank_technical_ones():
    assert alarm_type("fall").priority < alarm_type("button_press").priority < alarm_type("battery_low").priority
    assert alarm_type("fire").priority is Priority.CRITICAL
    assert all(t.priority is Priority.LOW for t in ALARM_TYPES.values() if t.category is Category.TECHNICAL)


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(UnknownAlarmType, match="Known types: .*button_press"):
        alarm_type("panic")


def test_severity_follows_vkp_traffic_light():
    assert Priority.CRITICAL.vkp_severity == 3
    assert Priority.NORMAL.vkp_severity == 2
    assert Priority.LOW.vkp_severity == 1


def test_a_sender_may_report_every_type_but_the_centres_own_system_alarms():
    assert reported_type("fall").code == "fall" and reported_type("4.1").code == "fall"
    with pytest.raises(UnknownAlarmType) as refused:
        reported_type("epj_delivery_failing")
    assert "epj_delivery_failing" not in str(refused.value).split("Known types:")[1]
    assert set(REPORTABLE_TYPES) == {t.code for t in ALARM_TYPES.values() if t.category is not Category.SYSTEM}
