"""A supervision look-in as a VkpEncounter with the supervision's code and a VkpComposition:
valid against base R4 and the VKP profiles, planned (4.26) or after an alarm (4.25), and a
sensor look-in, which VKP has no mode for, not documentable (pure)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from respons.epj import document, validation
from respons.epj import mapping as vkp
from respons.epj.document import LookinRecord, NotDocumentable, Organisation, Person

LOOKIN = LookinRecord(
    uid="0d5e3f5a-7b55-4d7e-9a43-1c1f9b2f7a10", method="camera", event_based=False, reason="planned",
    outcome="seen_well", note="Sov rolig, dynen over", planned_local="2026-12-04T23:00", started_by="user:7",
    started_at=datetime(2026, 12, 4, 22, 0, 5, tzinfo=UTC), finished_at=datetime(2026, 12, 4, 22, 0, 35, tzinfo=UTC),
    recipient_national_id="10813516506", recipient_name="Test Person", municipality=Organisation("Testby", None, "9000"),
    centre=Organisation("Testsenteret", "999888777"), people={"user:7": Person("Anne Operatør", "1234567")})


def resources(bundle: dict) -> dict[str, dict]:
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def test_a_planned_camera_look_in_validates_with_its_code_reason_and_mode():
    bundle = document.build_lookin(LOOKIN)
    assert validation.validate(bundle) == []
    encounter, composition = resources(bundle)["Encounter"], resources(bundle)["Composition"]
    assert encounter["type"] == [vkp.PLANNED_CAMERA.concept()]
    assert encounter["reasonCode"] == [vkp.PLANNED.concept()]
    assert encounter["participant"][0]["type"] == [vkp.PICTURE_SUPERVISION.concept()]
    assert encounter["participant"][0]["individual"]["identifier"] == {"system": vkp.HPR, "value": "1234567"}
    assert encounter["period"] == {"start": "2026-12-04T23:00:05+01:00", "end": "2026-12-04T23:00:35+01:00"}
    assert composition["encounter"]["reference"] == bundle["entry"][0]["fullUrl"]
    text = str(composition["section"])
    assert "avtalt 23:00" in text and "Sett, alt vel (Anne Operatør)" in text and "Sov rolig, dynen over" in text


def test_a_look_in_after_an_alarm_has_the_event_code_and_names_the_alarm():
    alarm_id = "5b0c2a77-1f0e-4a55-9c1d-3f1e9a0b7c11"
    bundle = document.build_lookin(replace(LOOKIN, event_based=True, reason="event", planned_local=None,
                                           alarm_id=alarm_id))
    assert validation.validate(bundle) == []
    encounter, composition = resources(bundle)["Encounter"], resources(bundle)["Composition"]
    assert (encounter["type"], encounter["reasonCode"]) == ([vkp.EVENT_CAMERA.concept()], [vkp.EVENT_BASED.concept()])
    detail = composition["event"][0]["detail"][0]["identifier"]["value"]
    assert detail == f"urn:uuid:{document.resource_id(alarm_id, 'DetectedIssue')}"


def test_a_phone_look_in_is_two_way_voice_and_a_sensor_look_in_is_not_documentable():
    phone = resources(document.build_lookin(replace(LOOKIN, method="phone", reason="fallback")))["Encounter"]
    assert phone["type"] == [vkp.DIGITAL_SUPERVISION.concept()]
    assert phone["participant"][0]["type"] == [vkp.TWO_WAY_VOICE.concept()]
    with pytest.raises(NotDocumentable) as refused:
        document.build_lookin(replace(LOOKIN, method="sensor"))
    assert refused.value.reason == "sensor_look_in"


def test_the_same_look_in_builds_the_same_document_and_a_broken_one_is_refused():
    assert document.build_lookin(LOOKIN) == document.build_lookin(LOOKIN)
    bundle = copy.deepcopy(document.build_lookin(LOOKIN))
    resources(bundle)["Encounter"]["reasonCode"] = [vkp.PLANNED_CAMERA.concept()]  # an alert code is no reason
    assert any("reasonCode" in str(f) for f in validation.validate(bundle))
