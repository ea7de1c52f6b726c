"""Reading the care plan back from the EPJ (docs/epj.md, "Reading the care plan"): the
patient found by national identity number (VkpPatient), then their care plans (VkpCarePlan:
services, measures, the visit plan) — what the operator should know while handling the alarm.

``care_view`` is pure (FHIR JSON in, what the card shows out). ``CareReader`` does the two
GETs with a short timeout and keeps each answer briefly, so a card opened again, or by a
colleague, does not ask the EPJ again; a failure is kept for a shorter time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from respons.auth import audit
from respons.auth.recipient_reads import PURPOSE
from respons.epj import helseid
from respons.epj import mapping as vkp
from respons.epj.endpoints import Endpoint, endpoints_for, tls_context
from respons.epj.profiles import code_systems
from respons.epj.store import national_id_of

CAREPLAN_CATEGORIES = f"{vkp.VKP}/CodeSystem/vkp-careplan-category-v090"


@dataclass(frozen=True)
class Activity:
    header: str | None  # "Tiltak", "Mål", … (VKP's detail header extension), if given
    text: str
    status: str | None


@dataclass(frozen=True)
class Plan:
    title: str  # the plan's category or title, as the EPJ names it
    period_start: str | None
    activities: tuple[Activity, ...]


@dataclass(frozen=True)
class CareView:
    reachable: bool
    plans: tuple[Plan, ...] = ()
    known_patient: bool = True
    error: str | None = None


def care_view(patients: dict, plans: dict) -> CareView:
    """What the card shows, from the EPJ's two search answers (searchset Bundles)."""
    if not _resources(patients, "Patient"):
        return CareView(reachable=True, known_patient=False)
    found = []
    for plan in _resources(plans, "CarePlan"):
        if plan.get("status") not in (None, "active", "draft", "on-hold"):
            continue
        category = next((c for concept in plan.get("category") or [] for c in concept.get("coding") or []), {})
        title = plan.get("title") or category.get("display") or _category_display(category) or plan.get("description") or ""
        activities = []
        for activity in plan.get("activity") or []:
            detail = activity.get("detail") or {}
            text = detail.get("description") or (detail.get("code") or {}).get("text")
            if not text:
                continue
            header = next((e.get("valueString") for e in detail.get("extension") or [] if "detailheader" in e.get("url", "")),
                          None)
            activities.append(Activity(header, text, detail.get("status")))
        found.append(Plan(title, (plan.get("period") or {}).get("start"), tuple(activities)))
    return CareView(reachable=True, plans=tuple(found))


def _category_display(coding: dict) -> str | None:
    if coding.get("system") == CAREPLAN_CATEGORIES:
        return code_systems().get(CAREPLAN_CATEGORIES, {}).get(coding.get("code", ""))
    return None


def _resources(bundle: Any, kind: str) -> list[dict]:
    if not isinstance(bundle, dict):
        return []
    return [e["resource"] for e in bundle.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == kind]


@dataclass
class CareReader:
    """Reads and briefly keeps each patient's care view (one per node)."""

    timeout_seconds: float = 2.0
    keep_seconds: float = 60.0
    keep_failure_seconds: float = 10.0
    tokens: helseid.Tokens = field(default_factory=helseid.Tokens)  # shared with the node's delivery worker
    _kept: dict[tuple[str, str], tuple[float, CareView]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, endpoint: Endpoint, national_id: str, *, now: datetime) -> CareView:
        key = (endpoint.base_url, national_id)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        view = self._fetch(endpoint, national_id, now)
        keep = self.keep_seconds if view.reachable else self.keep_failure_seconds
        now = time.monotonic()
        with self._lock:
            # Expired answers go as new ones come, so a node's memory holds only the last
            # minute's patients, not everyone whose card was ever opened.
            for stale in [k for k, (until, _) in self._kept.items() if until <= now]:
                del self._kept[stale]
            self._kept[key] = (now + keep, view)
        return view

    def _fetch(self, endpoint: Endpoint, national_id: str, now: datetime) -> CareView:
        system = vkp.national_id_system(national_id)
        try:
            authorization = self.tokens.authorization(endpoint, now)
            with httpx.Client(timeout=self.timeout_seconds, verify=tls_context(endpoint),
                              headers={"Accept": "application/fhir+json", **authorization}) as client:
                patients = client.get(f"{endpoint.base_url}/Patient", params={"identifier": f"{system}|{national_id}"})
                patients.raise_for_status()
                found = _resources(patients.json(), "Patient")
                if not found:
                    return CareView(reachable=True, known_patient=False)
                plans = client.get(f"{endpoint.base_url}/CarePlan", params={"subject": f"Patient/{found[0]['id']}"})
                plans.raise_for_status()
                return care_view(patients.json(), plans.json())
        except helseid.TokenUnavailable as exc:
            return CareView(reachable=False, error=str(exc)[:300])
        except (httpx.HTTPError, OSError, ValueError) as exc:
            if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 401:
                self.tokens.forget(endpoint.municipality_id)
            return CareView(reachable=False, error=f"{type(exc).__name__}: {exc}"[:300])


NOT_CONFIGURED = CareView(reachable=False, error="not_configured")


async def read_for_alarm(journal, engine, clock, reader: CareReader, *, actor: str, alarm: dict,
                         via: str) -> CareView | None:
    """The care view of the alarm's recipient from their municipality's EPJ, the read audited
    like the card's own (before anything is shown). None: the alarm has no recipient."""
    if alarm["recipient_id"] is None:
        return None
    with engine.connect() as conn:
        endpoint = endpoints_for(conn, {alarm["municipality_id"]}).get(alarm["municipality_id"])
        national_id = national_id_of(conn, alarm["recipient_id"])
    if endpoint is None or not endpoint.enabled:
        return NOT_CONFIGURED
    await journal.run(lambda conn: audit.append(
        conn, now=clock(), actor=actor, action=audit.READ_RECIPIENT, municipality_id=alarm["municipality_id"],
        recipient_id=alarm["recipient_id"], alarm_id=alarm["id"], purpose=PURPOSE,
        details={"via": via, "source": "epj_care_plan"}))
    return await asyncio.to_thread(reader.read, endpoint, national_id, now=clock())
