"""Every VKP code Respons sends exists in the published code systems, and every alarm type,
event and action is either mapped or a stated gap."""

from __future__ import annotations

import pytest

from respons.domain.alarm_types import ALARM_TYPES, Category, Priority
from respons.domain.lifecycle import Action, EventKind, Outcome
from respons.epj import mapping as vkp
from respons.epj import profiles

DEVICE_KINDS = ["safety_alarm", "fall_sensor", "door_sensor", "smoke_detector", "bed_sensor", "gps_tracker",
                "medication_dispenser", "base_unit"]


def _all_codes() -> list[vkp.Code]:
    codes = [c for c in vars(vkp).values() if isinstance(c, vkp.Code)]
    for table in (vkp.ALERT_BY_TYPE, vkp.DISPENSER_TECHNICAL, vkp.TECHNOLOGY_BY_DEVICE_KIND, vkp.EVENT_BY_KIND,
                  vkp.EVENT_BY_ACTION):
        codes.extend(table.values())
    return [c for c in codes if c.system.startswith(vkp.VKP)]  # not the base FHIR and LOINC ones


@pytest.mark.parametrize("code", _all_codes(), ids=lambda c: f"{c.system.rsplit('/', 1)[-1]}|{c.code}")
def test_every_vkp_code_is_in_its_published_code_system_with_its_published_display(code):
    systems = profiles.code_systems()
    assert code.system in systems, f"{code.system} is not a vendored VKP code system"
    assert code.code in systems[code.system], f"{code.code} is not in {code.system}"
    assert systems[code.system][code.code].replace("&#230;", "æ") == code.display


def test_the_alert_code_system_is_the_whole_published_one():
    assert len(profiles.code_systems()[vkp.ALERT_CODES]) == 65


@pytest.mark.parametrize("alarm_type", sorted(t for t, a in ALARM_TYPES.items() if a.category is not Category.SYSTEM))
@pytest.mark.parametrize("device_kind", DEVICE_KINDS)
def test_every_alarm_type_from_every_known_device_kind_has_an_alert_code(alarm_type, device_kind):
    assert vkp.alert_code(alarm_type, device_kind) is not None


def test_technical_alarms_get_the_dispenser_codes_only_from_a_dispenser_and_no_code_from_an_unknown_device():
    assert vkp.alert_code("battery_low", "medication_dispenser").code == "1.17"
    assert vkp.alert_code("device_silent", "medication_dispenser").code == "1.20"
    assert vkp.alert_code("battery_low", "safety_alarm").code == "3"
    assert vkp.alert_code("power_lost", "door_sensor").code == "4"
    assert vkp.alert_code("device_fault", "gps_tracker").code == "2"
    assert vkp.alert_code("device_fault", "a_kind_nobody_knows") is None
    assert vkp.alert_code("device_fault", None) is None


def test_the_alarm_codes_named_in_the_source_documents_are_kept():
    assert {t: vkp.alert_code(t, "safety_alarm").code for t in ("fall", "fire", "button_press", "door_opened")} == {
        "fall": "4.1", "fire": "4.11", "button_press": "4.13", "door_opened": "4.15"}
    # And the intake's own table (the MQTT and HTTP intake accept these codes) agrees.
    for alarm_type in ALARM_TYPES.values():
        if alarm_type.vkp_code:
            assert vkp.alert_code(alarm_type.code, "safety_alarm").code == alarm_type.vkp_code


def test_every_priority_has_a_base_severity_and_every_category_a_composition_category():
    assert set(vkp.SEVERITY_BY_PRIORITY) == set(Priority)
    assert vkp.composition_category(Category.MEASUREMENT).code == "2"
    assert {vkp.composition_category(c).code for c in Category if c is not Category.MEASUREMENT} == {"1"}


def test_every_action_and_every_care_event_has_a_composition_event_and_routing_is_a_stated_gap():
    assert all(vkp.composition_event(EventKind.ACTION, a.value) is not None for a in Action)
    routing = {EventKind.QUEUED, EventKind.OFFERED, EventKind.DECLINED, EventKind.ESCALATED, EventKind.HANDED_BACK,
               EventKind.ANSWER_TIME_EXCEEDED, EventKind.MISSING_RESPONSE, EventKind.NOTE, EventKind.ACTION,
               EventKind.MESSAGE}
    for kind in set(EventKind) - {EventKind.CALL, EventKind.LOOK_IN}:
        assert (vkp.composition_event(kind) is None) == (kind in routing), kind
    # A call through the gateway is one conversation, counted when it was answered.
    assert [vkp.composition_event(EventKind.CALL, phase) for phase in ("ringing", "answered", "ended")] == [
        None, vkp.CONVERSATION, None]
    # A look-in after the alarm is a measure, once its outcome is recorded.
    assert [vkp.composition_event(EventKind.LOOK_IN, phase) for phase in ("started", "finished")] == [
        None, vkp.MEASURE]
    assert "routing" in vkp.GAPS
    assert vkp.composition_event(EventKind.ACTION, "something_new") is None


def test_every_outcome_has_words():
    assert set(vkp.OUTCOME_TEXT) == set(Outcome)


@pytest.mark.parametrize(("number", "system"), [("10813516506", vkp.FNR), ("50813516506", vkp.DNR),
                                                ("71010112345", vkp.DNR), ("31120012345", vkp.FNR)])
def test_a_d_number_is_told_from_a_birth_number_by_its_first_digit(number, system):
    assert vkp.national_id_system(number) == system
