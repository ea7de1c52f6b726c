"""The VKP Bundle of an alarm, built from its timeline: what it says, that it validates, that
it is the same every time, and that the validator refuses a broken one."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from respons.domain.alarm_types import alarm_type
from respons.domain.lifecycle import Event, EventKind as K
from respons.epj import document, validation
from respons.epj import mapping as vkp
from respons.epj.document import AlarmRecord, NotDocumentable, Organisation, Person

T = datetime(2026, 7, 1, 22, 5, tzinfo=timezone.utc)  # 00:05 in Oslo (summer time)
ALARM_ID = "6f1c2b9e-0c51-4d8e-9f3a-3f3c2f5d7a10"
ANNE = Person("Anne Operatør", hpr_number="9144889")
KIM = Person("Kim Hjemmesykepleier")


def at(seconds: int) -> datetime:
    return T + timedelta(seconds=seconds)


def record(type_code="fall", events=None, device_kind="fall_sensor", national_id="10813516506", **overrides):
    events = events or handled_at_centre()
    fields = dict(alarm_id=ALARM_ID, alarm_type=alarm_type(type_code), recipient_national_id=national_id,
                  recipient_name="Test0 Person0",
                  municipality=Organisation("Testkommune", organisation_number="964965226", municipality_number="4204"),
                  centre=Organisation("Responssenteret"), events=tuple(events),
                  people={"user:1": ANNE, "user:2": KIM}, device_identity="SA-1001", device_kind=device_kind,
                  device_display="Fallsensor")
    fields.update(overrides)
    return AlarmRecord(**fields)


def handled_at_centre(call_result="answered"):
    return [
        Event(K.RECEIVED, at(0), "device:SA-1001", {"source": "http"}),
        Event(K.QUEUED, at(0), "system"),
        Event(K.ANSWERED, at(20), "user:1"),
        Event(K.ACTION, at(35), "user:1", {"action": "call_recipient", "result": call_result}),
        Event(K.NOTE, at(60), "user:1", {"text": "Falt i gangen, ikke skadet. <Trenger> tilsyn i morgen."}),
        Event(K.RESOLVED, at(90), "user:1", {"outcome": "resolved_at_centre"}),
        Event(K.CLOSED, at(95), "user:1"),
    ]


def handed_to_home_care():
    return [
        Event(K.RECEIVED, at(0), "device:SA-1001", {"source": "http"}),
        Event(K.QUEUED, at(0), "system"),
        Event(K.ANSWERED, at(15), "user:1"),
        Event(K.ACTION, at(30), "user:1", {"action": "call_recipient", "result": "answered"}),
        Event(K.ACTION, at(60), "user:1", {"action": "dispatch_home_care"}),
        Event(K.MISSION_ACCEPTED, at(120), "user:2"),
        Event(K.ACTION, at(900), "user:2", {"action": "arrived"}),
        Event(K.ACTION, at(1500), "user:2", {"action": "done", "text": "Hjalp opp, satt i stolen."}),
        Event(K.RESOLVED, at(1510), "user:1", {"outcome": "home_care_dispatched"}),
        Event(K.CLOSED, at(1520), "user:1"),
    ]


def resources(bundle):
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in bundle["entry"]}


def test_a_fall_handled_at_the_centre_is_a_valid_vkp_bundle_that_says_what_happened():
    bundle = document.build(record())
    assert validation.validate(bundle) == []
    found = resources(bundle)
    assert list(found) == ["DetectedIssue", "Encounter", "Composition"]
    issue, encounter, composition = found["DetectedIssue"], found["Encounter"], found["Composition"]
    assert issue["code"]["coding"][0] == {"system": vkp.ALERT_CODES, "code": "4.1", "display": "Fall"}
    assert issue["severity"] == "high"
    assert issue["patient"]["identifier"] == {"system": vkp.FNR, "value": "10813516506"}
    assert issue["identifiedDateTime"] == "2026-07-02T00:05:00+02:00"  # Oslo's offset, summer time
    assert encounter["participant"][0]["individual"]["identifier"] == {"system": vkp.HPR, "value": "9144889"}
    assert encounter["participant"][0]["type"][0]["coding"][0]["code"] == "2"  # two-way voice
    assert encounter["period"] == {"start": "2026-07-02T00:05:35+02:00", "end": "2026-07-02T00:06:35+02:00"}
    encounter_entry = next(e for e in bundle["entry"] if e["resource"] is encounter)
    assert composition["encounter"] == {"reference": encounter_entry["fullUrl"]}
    assert composition["status"] == "final"
    assert [e["code"][0]["coding"][0]["code"] for e in composition["event"]] == ["0", "1", "8", "7", "3"]
    text = json.dumps(composition["section"], ensure_ascii=False)
    assert "Falt i gangen, ikke skadet. &lt;Trenger&gt; tilsyn i morgen." in text  # escaped, never markup
    assert "Utfall: Løst av responssenteret (Anne Operatør)" in text
    assert composition["author"][-1] == {"type": "Organization", "display": "Responssenteret"}
    assert composition["custodian"]["identifier"] == {"system": vkp.ORGANISATION_NUMBER, "value": "964965226"}


def test_without_a_conversation_there_is_no_encounter_and_the_bundle_still_validates():
    bundle = document.build(record(events=handled_at_centre(call_result="no_answer")))
    assert validation.validate(bundle) == []
    assert list(resources(bundle)) == ["DetectedIssue", "Composition"]
    assert "encounter" not in resources(bundle)["Composition"]


def test_a_call_through_the_gateway_is_the_conversation_and_its_length_is_in_the_follow_up():
    call = {"call_id": "c1", "direction": "outbound", "target": "unit", "label": "unit"}
    events = [
        Event(K.RECEIVED, at(0), "device:SA-1001", {"source": "http"}),
        Event(K.QUEUED, at(0), "system"),
        Event(K.ANSWERED, at(20), "user:1"),
        Event(K.CALL, at(25), "user:1", {**call, "phase": "ringing"}),
        Event(K.CALL, at(30), "user:1", {**call, "phase": "answered"}),
        Event(K.CALL, at(95), "system", {**call, "phase": "ended", "operator": "user:1", "seconds": 65}),
        Event(K.CALL, at(100), "user:1", {"call_id": "c2", "target": "contact", "label": "Kari Nordmann",
                                          "phase": "ringing"}),
        Event(K.CALL, at(104), "system", {"call_id": "c2", "target": "contact", "label": "Kari Nordmann",
                                          "phase": "failed", "failure": "busy", "operator": "user:1"}),
        Event(K.RESOLVED, at(110), "user:1", {"outcome": "resolved_at_centre"}),
        Event(K.CLOSED, at(115), "user:1"),
    ]
    bundle = document.build(record(events=events))
    assert validation.validate(bundle) == []
    found = resources(bundle)
    assert found["Encounter"]["period"]["start"] == document.fhir_time(at(30))
    assert [p["individual"]["display"] for p in found["Encounter"]["participant"]] == [ANNE.display]
    text = json.dumps(found["Composition"]["section"], ensure_ascii=False)
    assert "Samtale med alarmenheten, 1 min 5 s (Anne Operatør)" in text
    assert "Ringte Kari Nordmann – opptatt (Anne Operatør)" in text
    conversations = [e for e in found["Composition"]["event"] if e["code"][0]["coding"][0]["code"] == "8"]
    assert len(conversations) == 1


def test_handed_to_home_care_documents_the_call_out_and_the_visit_with_the_home_care_worker():
    bundle = document.build(record(events=handed_to_home_care()))
    assert validation.validate(bundle) == []
    composition = resources(bundle)["Composition"]
    assert [e["code"][0]["coding"][0]["code"] for e in composition["event"]] == ["0", "1", "8", "4", "4", "5", "5", "7", "3"]
    text = json.dumps(composition["section"], ensure_ascii=False)
    assert "Hjemmetjenesten fremme (Kim Hjemmesykepleier)" in text
    assert "Hjemmetjenesten ferdig: Hjalp opp, satt i stolen. (Kim Hjemmesykepleier)" in text
    assert [a["display"] for a in composition["author"]] == ["Anne Operatør", "Kim Hjemmesykepleier", "Responssenteret"]


@pytest.mark.parametrize(("type_code", "device_kind", "code"), [
    ("button_press", "safety_alarm", "4.13"), ("fire", "smoke_detector", "4.11"), ("door_opened", "door_sensor", "4.15"),
    ("battery_low", "safety_alarm", "3"), ("device_silent", "medication_dispenser", "1.20"),
    ("medication_missed", "medication_dispenser", "1.1"), ("measurement_deviation", "safety_alarm", "5"),
])
def test_each_alarm_kind_validates_with_its_code(type_code, device_kind, code):
    bundle = document.build(record(type_code, device_kind=device_kind))
    assert validation.validate(bundle) == []
    assert resources(bundle)["DetectedIssue"]["code"]["coding"][0]["code"] == code


def test_a_storm_member_cleared_with_its_group_is_documented_as_cleared():
    events = [Event(K.RECEIVED, at(0), "device:SA-1001", {"source": "sia_dc09"}),
              Event(K.CLEARED, at(300), "system", {"storm": "7"})]
    bundle = document.build(record("power_lost", events=events, device_kind="safety_alarm"))
    assert validation.validate(bundle) == []
    composition = resources(bundle)["Composition"]
    assert [e["code"][0]["coding"][0]["code"] for e in composition["event"]] == ["0", "3"]
    assert composition["author"] == [{"type": "Organization", "display": "Responssenteret"}]


def test_the_same_timeline_gives_the_same_bundle_and_the_identities_are_named_by_the_alarm():
    first, again = document.build(record()), document.build(record())
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    issue = resources(first)["DetectedIssue"]
    expected = f"urn:uuid:{uuid.uuid5(uuid.UUID(ALARM_ID), 'DetectedIssue')}"
    assert issue["identifier"] == [{"system": vkp.UUID_SYSTEM, "value": expected}] and "id" not in issue
    assert first["entry"][0]["fullUrl"] != expected  # a server rewrites every occurrence of a fullUrl
    assert first["entry"][0]["request"] == {"method": "PUT", "url": f"DetectedIssue?identifier={vkp.UUID_SYSTEM}|{expected}"}
    other = document.build(record(alarm_id=str(uuid.uuid4())))
    assert {e["fullUrl"] for e in other["entry"]}.isdisjoint({e["fullUrl"] for e in first["entry"]})


def test_an_addendum_after_close_amends_the_same_composition():
    closed = document.build(record())
    events = handled_at_centre() + [Event(K.NOTE, at(400), "user:1", {"text": "Datter ringt i ettertid.", "addendum": True})]
    amended = document.build(record(events=events))
    before, after = resources(closed)["Composition"], resources(amended)["Composition"]
    assert after["identifier"] == before["identifier"]
    assert (before["status"], after["status"]) == ("final", "amended")
    assert "Tillegg etter lukking" in json.dumps(after["section"], ensure_ascii=False)
    assert validation.validate(amended) == []


def test_a_d_number_is_sent_with_the_d_number_system():
    bundle = document.build(record(national_id="50813516506"))
    assert resources(bundle)["DetectedIssue"]["patient"]["identifier"]["system"] == vkp.DNR


def test_an_alarm_without_a_vkp_code_or_a_receipt_is_not_documentable():
    with pytest.raises(NotDocumentable) as refused:
        document.build(record("device_fault", device_kind="a_kind_nobody_knows"))
    assert refused.value.reason == "no_alert_code"
    with pytest.raises(NotDocumentable) as refused:
        document.build(record(events=handled_at_centre()[1:]))
    assert refused.value.reason == "no_timeline"


# --- the validator refuses what is broken ------------------------------------------------------

def broken(change):
    bundle = copy.deepcopy(document.build(record()))
    change(resources(bundle))
    return [str(issue) for issue in validation.validate(bundle)]


def test_a_missing_patient_identifier_is_refused():
    def drop(found):
        del found["DetectedIssue"]["patient"]["identifier"]
    assert any("patient.identifier: the patient must be identified" in i for i in broken(drop))


def test_a_national_id_with_wrong_check_digits_is_refused():
    def wrong(found):
        found["Composition"]["subject"]["identifier"]["value"] = "10813516507"
    assert any("subject.identifier.value" in i and "check digits" in i for i in broken(wrong))


def test_a_code_outside_the_vkp_value_set_is_refused():
    def outside(found):
        found["DetectedIssue"]["code"]["coding"][0]["code"] = "4.99"
    assert any("vkp-alert-code-v090|4.99 is not in http://ehelse.no/fhir/ValueSet/vkp-alert-code-v090" in i
               for i in broken(outside))


def test_a_wrong_cardinality_is_refused():
    def two_reasons(found):
        found["Encounter"]["reasonCode"].append(vkp.PLANNED.concept())
    assert any("Encounter.reasonCode: at most 1 allowed, found 2" in i for i in broken(two_reasons))

    def no_participant(found):
        found["Encounter"]["participant"] = []
    assert any("Encounter.participant: at least 1 required" in i for i in broken(no_participant))


def test_a_wrong_fixed_value_is_refused():
    def other_system(found):
        found["Encounter"]["identifier"][0]["system"] = "urn:example"
    assert any("must be 'urn:ietf:rfc:3986'" in i for i in broken(other_system))


def test_base_fhir_is_checked_too_structure_types_and_closed_codes():
    def not_a_date(found):
        found["Encounter"]["period"]["start"] = "yesterday"

    def unknown_element(found):
        found["Composition"]["mood"] = "good"

    def bad_severity(found):
        found["DetectedIssue"]["severity"] = "extreme"

    def no_title(found):
        del found["Composition"]["title"]

    assert any("period.start" in i for i in broken(not_a_date))
    assert any("mood" in i for i in broken(unknown_element))
    assert any("'extreme' is not one of high, moderate, low" in i for i in broken(bad_severity))
    assert any("title" in i for i in broken(no_title))


def test_a_resource_that_does_not_claim_its_vkp_profile_is_refused():
    def unclaimed(found):
        del found["DetectedIssue"]["meta"]
    assert any("must claim http://ehelse.no/fhir/StructureDefinition/vkp-DetectedIssue-v090" in i
               for i in broken(unclaimed))
