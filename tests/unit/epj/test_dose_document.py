"""A dispenser's dose as a VkpMedicationDispense: valid against base R4 and the VKP profile,
stable identity, and a broken one refused by the validator (pure)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from respons.epj import document, validation
from respons.epj import mapping as vkp
from respons.epj.document import DoseRecord, Organisation

DOSE = DoseRecord(
    dose_id="5b0c2a77-1f0e-4a55-9c1d-3f1e9a0b7c11", recipient_national_id="10813516506", recipient_name="Test Person",
    device_identity="MD-0001", event="1.1", event_display="medisin utlevert uassistert", medication=None,
    dispensed_at=datetime(2026, 12, 3, 7, 0, 12, tzinfo=UTC), municipality=Organisation("Testby", None, "9000"))


def dispense(bundle: dict) -> dict:
    [entry] = bundle["entry"]
    return entry["resource"]


def test_a_dose_validates_against_base_r4_and_the_vkp_profile():
    bundle = document.build_dose(DOSE)
    assert validation.validate(bundle) == []
    resource = dispense(bundle)
    assert resource["category"]["coding"][0] == {"system": vkp.MEDICATION_DISPENSE_EVENTS, "code": "1.1",
                                                 "display": "medisin utlevert uassistert"}
    assert resource["subject"]["identifier"] == {"system": vkp.FNR, "value": "10813516506"}
    assert resource["whenHandedOver"] == "2026-12-03T08:00:12+01:00", "Oslo's offset, as VKP's examples write it"
    assert resource["performer"][0]["actor"]["identifier"]["value"] == "MD-0001"


def test_the_same_dose_builds_the_same_document_with_a_conditional_update_on_its_identifier():
    first, again = document.build_dose(DOSE), document.build_dose(DOSE)
    assert first == again
    [entry] = first["entry"]
    value = dispense(first)["identifier"][0]["value"]
    assert entry["request"] == {"method": "PUT", "url": f"MedicationDispense?identifier={vkp.UUID_SYSTEM}|{value}"}


@pytest.mark.parametrize("break_it, where", [
    (lambda r: r["subject"].pop("identifier"), "subject.identifier"),
    (lambda r: r["category"]["coding"][0].update(code="9.9"), "category"),
    (lambda r: r.pop("performer"), "performer"),
    (lambda r: r.update(status="given"), "status"),
])
def test_a_broken_dose_is_refused_by_the_validator(break_it, where):
    bundle = copy.deepcopy(document.build_dose(DOSE))
    break_it(dispense(bundle))
    findings = [str(f) for f in validation.validate(bundle)]
    assert findings and any(where in f for f in findings), findings
