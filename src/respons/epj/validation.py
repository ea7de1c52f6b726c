"""Is a Bundle fit to send? Three checks, each from a published source, none retyped here:

1. **Base FHIR**: structure, types, required elements and closed code lists, by the
   ``fhir.resources`` models. The library publishes R4B (4.3.0) models, not R4 (4.0.1); for
   the resources Respons sends (Bundle, DetectedIssue, Encounter, Composition,
   MedicationDispense) R4B changed nothing, so its models are R4's.
2. **The VKP profiles**: cardinality, fixed values and required bindings, read from the
   vendored StructureDefinitions and value sets (profiles.py).
3. **VKP's identification rule**: "VKP always references a Patient Resource using a
   norwegian national id number (Fødselsnummer or DNR)" — written in the profiles' element
   definitions rather than as a constraint, so checked here: the right system and a number
   whose check digits hold.

A Bundle with any finding is never sent (docs/epj.md, "Delivery states").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel, ValidationError

from respons.domain.identity import InvalidNationalId, parse_national_id
from respons.epj import mapping as vkp
from respons.epj import profiles
from respons.epj.profiles import Issue

# Where each resource names its patient.
PATIENT_FIELD = {"DetectedIssue": "patient", "Encounter": "subject", "Composition": "subject",
                 "MedicationDispense": "subject", "CarePlan": "subject"}


def validate(bundle: dict) -> list[Issue]:
    """Every finding; an empty list means the Bundle may be sent."""
    issues = base_fhir_findings(bundle)
    for n, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            issues.append(Issue("Bundle", f"entry[{n}].resource", "missing"))
            continue
        kind = resource.get("resourceType")
        claimed = (resource.get("meta") or {}).get("profile") or []
        if kind in vkp.PROFILE and vkp.PROFILE[kind] not in claimed:
            issues.append(Issue(_label(resource), "meta.profile", f"must claim {vkp.PROFILE[kind]}"))
        for url in claimed:
            issues.extend(profiles.check(resource, url))
        if kind in PATIENT_FIELD:
            issues.extend(_patient_identified(resource, PATIENT_FIELD[kind]))
    return issues


def base_fhir_findings(bundle: dict) -> list[Issue]:
    """Check 1 alone (the benchmark times it apart from the rest)."""
    try:
        model = Bundle.model_validate(bundle)
    except ValidationError as exc:
        return [Issue("Bundle", ".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()]
    return list(_closed_codes(model, "Bundle"))


def _closed_codes(model: BaseModel, path: str):
    """The models know each code element's values but do not enforce them; where the list is
    complete (no "+": more codes allowed), a value outside it is a finding."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        if allowed and "+" not in allowed and isinstance(value, str) and value not in allowed:
            yield Issue("Bundle", f"{path}.{name}", f"{value!r} is not one of {', '.join(allowed)}")
        for n, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                yield from _closed_codes(item, f"{path}.{name}" + (f"[{n}]" if isinstance(value, list) else ""))


def _patient_identified(resource: dict, field: str) -> list[Issue]:
    reference: Any = resource.get(field)
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    if not isinstance(identifier, dict):
        return [Issue(_label(resource), f"{field}.identifier", "the patient must be identified by national identity number")]
    system, value = identifier.get("system"), str(identifier.get("value") or "")
    if system not in (vkp.FNR, vkp.DNR):
        return [Issue(_label(resource), f"{field}.identifier.system", f"must be {vkp.FNR} or {vkp.DNR}, is {system!r}")]
    try:
        # The birth date's plausibility was checked at registration; here only the number.
        parse_national_id(value, today=date.max)
    except InvalidNationalId as exc:
        return [Issue(_label(resource), f"{field}.identifier.value", str(exc))]
    if system != vkp.national_id_system(value):
        return [Issue(_label(resource), f"{field}.identifier.system", "a D-number's system is the D-number OID, and the other way round")]
    return []


def _label(resource: dict) -> str:
    return profiles.label_of(resource)
