"""The VKP R4 package as data: its code systems, value sets and profile constraints, read from
the vendored files in ``vkp_r4/`` (never retyped), and a check of a resource against them.

The check covers what VKP's profiles constrain in the resources Respons sends: cardinality
(``min``/``max``) along each element path, fixed and pattern values, and required bindings
to VKP's value sets. It does not generate snapshots, follow slices (VKP's only slices are on
MedicationDispense's patient identifier, whose systems are checked by the document builder's
tests) or evaluate FHIRPath invariants; base FHIR R4 structure and types are checked
separately (validation.py). Why a small reader of our own: see docs/epj.md, "Validation".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).parent / "vkp_r4"
_NS = {"f": "http://hl7.org/fhir"}


@dataclass(frozen=True)
class Constraint:
    """One element of a profile's differential, as far as the check needs it."""

    path: str  # "Encounter.participant.type"
    min: int | None
    max: str | None  # "1", "*", "0"
    fixed: tuple[str, Any] | None  # ("Uri", "urn:ietf:rfc:3986"), from fixed[x] or pattern[x]
    required_value_set: str | None


@dataclass(frozen=True)
class Profile:
    url: str
    type: str
    constraints: tuple[Constraint, ...]


@dataclass(frozen=True)
class Issue:
    """A finding, worded for an administrator (English: it is a technical log)."""

    resource: str  # "Encounter/4f…"
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource} {self.path}: {self.message}"


def _value(element: ET.Element | None, name: str) -> str | None:
    found = element.find(f"f:{name}", _NS) if element is not None else None
    return found.get("value") if found is not None else None


@cache
def code_systems() -> dict[str, dict[str, str]]:
    """Code system URL -> {code: display}, for every vendored code system (nested codes too)."""
    systems: dict[str, dict[str, str]] = {}
    for path in sorted((PACKAGE / "CodeSystem").glob("*.xml")):
        root = ET.parse(path).getroot()
        codes: dict[str, str] = {}
        for concept in root.iter(f"{{{_NS['f']}}}concept"):
            codes[_value(concept, "code") or ""] = _value(concept, "display") or ""
        systems[_value(root, "url") or path.name] = codes
    return systems


@cache
def value_sets() -> dict[str, frozenset[tuple[str, str]]]:
    """Value set URL -> the (system, code) pairs it contains (whole systems expanded)."""
    systems = code_systems()
    sets: dict[str, frozenset[tuple[str, str]]] = {}
    for path in sorted((PACKAGE / "ValueSet").glob("*.xml")):
        root = ET.parse(path).getroot()
        members: set[tuple[str, str]] = set()
        for include in root.iterfind("f:compose/f:include", _NS):
            system = _value(include, "system") or ""
            listed = [_value(c, "code") or "" for c in include.iterfind("f:concept", _NS)]
            members.update((system, code) for code in (listed or systems.get(system, {})))
        sets[_value(root, "url") or path.name] = frozenset(members)
    return sets


@cache
def profiles() -> dict[str, Profile]:
    """Profile URL -> its constraints, for the vendored resource profiles."""
    found: dict[str, Profile] = {}
    for path in sorted((PACKAGE / "StructureDefinition").glob("*.xml")):
        root = ET.parse(path).getroot()
        if _value(root, "kind") != "resource":
            continue
        constraints = []
        for element in root.iterfind("f:differential/f:element", _NS):
            element_id = element.get("id") or _value(element, "path") or ""
            if ":" in element_id:  # a slice: see the module docstring
                continue
            fixed = None
            for child in element:
                tag = child.tag.split("}")[1]
                if tag.startswith(("fixed", "pattern")) and child.get("value") is not None:
                    fixed = (tag, child.get("value"))
            binding = element.find("f:binding", _NS)
            required = (_value(binding, "valueSet") if binding is not None
                        and _value(binding, "strength") == "required" else None)
            min_raw = _value(element, "min")
            constraints.append(Constraint(_value(element, "path") or element_id,
                                          int(min_raw) if min_raw is not None else None,
                                          _value(element, "max"), fixed, required))
        url = _value(root, "url") or path.name
        found[url] = Profile(url, _value(root, "type") or "", tuple(constraints))
    return found


def check(resource: dict, profile_url: str) -> list[Issue]:
    """Every way ``resource`` breaks the profile at ``profile_url`` (empty: it conforms)."""
    profile = profiles().get(profile_url)
    label = label_of(resource)
    if profile is None:
        return [Issue(label, "meta.profile", f"unknown profile {profile_url}")]
    if resource.get("resourceType") != profile.type:
        return [Issue(label, "resourceType", f"the profile is for {profile.type}")]
    issues: list[Issue] = []
    for constraint in profile.constraints:
        steps = constraint.path.split(".")[1:]
        if not steps or any(step.endswith("[x]") for step in steps):
            continue  # the resource itself, or a choice type: nothing the check can say
        for parent_path, parent in _parents(resource, steps[:-1], profile.type):
            issues.extend(_check_element(label, f"{parent_path}.{steps[-1]}", parent.get(steps[-1]), constraint))
    return issues


def label_of(resource: dict) -> str:
    """"Encounter urn:uuid:…": the resource type and its VKP identifier, which outlive any server id."""
    identifiers = resource.get("identifier")
    first = identifiers[0] if isinstance(identifiers, list) and identifiers else identifiers
    value = first.get("value") if isinstance(first, dict) else None
    return f"{resource.get('resourceType')} {value or resource.get('id', '?')}"


def _parents(node: Any, steps: list[str], path: str):
    """Each instance of the element at ``steps`` below ``node``, with its path."""
    if not steps:
        yield path, node
        return
    value = node.get(steps[0]) if isinstance(node, dict) else None
    items = value if isinstance(value, list) else [value] if value is not None else []
    for n, item in enumerate(items):
        if isinstance(item, dict):
            yield from _parents(item, steps[1:], f"{path}.{steps[0]}" + (f"[{n}]" if isinstance(value, list) else ""))


def _check_element(label: str, path: str, value: Any, constraint: Constraint) -> list[Issue]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    issues = []
    if constraint.min is not None and len(items) < constraint.min:
        issues.append(Issue(label, path, f"at least {constraint.min} required, found {len(items)}"))
    if constraint.max not in (None, "*") and len(items) > int(constraint.max):
        issues.append(Issue(label, path, f"at most {constraint.max} allowed, found {len(items)}"))
    if constraint.fixed is not None:
        for item in items:
            if item != constraint.fixed[1]:
                issues.append(Issue(label, path, f"must be {constraint.fixed[1]!r} ({constraint.fixed[0]}), is {item!r}"))
    if constraint.required_value_set is not None:
        members = value_sets().get(constraint.required_value_set)
        for item in items:
            codings = _codings(item)
            if members is None or isinstance(item, str):
                continue  # a value set the package lacks (docs/epj.md), or a bare code without its system
            if not any((c.get("system"), c.get("code")) in members for c in codings):
                shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or repr(item)
                issues.append(Issue(label, path, f"{shown} is not in {constraint.required_value_set}"))
    return issues


def _codings(item: Any) -> list[dict]:
    if isinstance(item, dict) and "coding" in item:
        return [c for c in item["coding"] if isinstance(c, dict)]
    if isinstance(item, dict) and "code" in item:
        return [item]
    return []
