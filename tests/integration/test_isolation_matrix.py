"""Isolation matrix, generated from the application's own route table.

For every API route, every role (plus an anonymous caller and an intake API token), and a
resource of a municipality outside the caller's scope, the answer must be as specified:
401 without credentials, 403 for a role the route does not admit, 404 for a foreign
resource (no existence oracle), and no personal data of the foreign municipality in any
response. Every route must also be listed in ``ROUTES`` with the policy it declares, so
adding a route without deciding its access makes this test fail.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from respons.domain.access import Role
from respons.domain.alarm_types import alarm_type
from respons.domain.identity import synthetic_national_id
from respons.engine import receiving
from respons.settings import Settings
from respons.store.tables import agreements, recipients
from respons.web.app import create_app
from tests.factories import T0, FakeClock, add_user, log_in, seed_registry


@dataclass(frozen=True)
class Route:
    policy: str
    call: Callable  # (client, world, principal) -> response
    # Status a permitted caller gets with a foreign resource (default: 404), per role name.
    permitted: dict[str, set[int]] = field(default_factory=dict)
    default_permitted: frozenset[int] = frozenset({404})
    # What a caller without credentials gets: 401 from the API, a redirect to /login from pages.
    anonymous: frozenset[int] = frozenset({401})


def _page(path: str | Callable, *, method: str = "GET", data: dict | None = None, json: dict | None = None,
          **kwargs) -> Callable:
    """A call to a browser page: redirects are answers here, not something to follow."""

    def call(c, w, p):
        url = path(w, p) if callable(path) else path
        headers = p.headers
        if method == "GET":
            return c.get(url, headers=headers, follow_redirects=False)
        if json is not None:
            return c.post(url, json=json, headers=headers, follow_redirects=False)
        return c.post(url, data=data(w, p) if callable(data) else data, headers=headers, follow_redirects=False)

    return call


def PageRoute(policy: str, call: Callable, **kwargs) -> Route:
    return Route(policy, call, anonymous=frozenset({303}), **kwargs)


def _alarm_action(action: str, body: dict | None = None):
    return lambda c, w, p: c.post(f"/api/v1/alarms/{w.foreign_alarm(p)}/{action}", json=body, headers=p.headers)


_REGISTRY = "roles: host_admin, municipality_admin"
_RESPONDER = "roles: responder, technician"
_STATISTICS = "roles: auditor, host_admin, municipality_admin"
_DEVIATION_READERS = "roles: auditor, host_admin, municipality_admin, operator"


def _fresh_national_id() -> str:
    """A valid synthetic national id nobody in the world has, so the answer reflects access."""
    rng = random.Random()
    return synthetic_national_id(date(1930, 1, 1) + timedelta(days=rng.randrange(25000)), rng)


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/v1/alarms"): Route(
        "API token (intake)",
        lambda c, w, p: c.post(
            "/api/v1/alarms",
            json={"device": w.foreign_device, "type": "fall", "occurred_at": "2026-11-23T01:59:00Z"},
            headers=p.headers,
        ),
        default_permitted=frozenset({422}),  # unknown_device: a foreign device does not exist for this token
    ),
    ("POST", "/api/v1/doses"): Route(
        "API token (intake)",
        lambda c, w, p: c.post(
            "/api/v1/doses",
            json={"device": w.foreign_device, "id": "md-1", "dispensed_at": "2026-11-23T01:59:00Z"},
            headers=p.headers,
        ),
        default_permitted=frozenset({422}),  # unknown_device: a foreign dispenser does not exist for this token
    ),
    # The stream ends after sse_max_seconds (set short below); events carry no personal data,
    # and the leak check reads whatever arrived meanwhile.
    ("GET", "/api/v1/queue/events"): Route(
        "roles: operator", lambda c, w, p: c.get("/api/v1/queue/events", headers=p.headers), default_permitted=frozenset({200})
    ),
    ("GET", "/api/v1/queue"): Route("roles: operator", lambda c, w, p: c.get("/api/v1/queue", headers=p.headers),
                                    default_permitted=frozenset({200})),
    ("GET", "/api/v1/alarms/{alarm_id}"): Route(
        "roles: operator", lambda c, w, p: c.get(f"/api/v1/alarms/{w.foreign_alarm(p)}", headers=p.headers)
    ),
    ("POST", "/api/v1/alarms/{alarm_id}/answer"): Route("roles: operator", _alarm_action("answer")),
    ("POST", "/api/v1/alarms/{alarm_id}/notes"): Route("roles: operator", _alarm_action("notes", {"text": "x"})),
    ("POST", "/api/v1/alarms/{alarm_id}/resolve"): Route("roles: operator", _alarm_action("resolve", {"outcome": "false_alarm"})),
    ("POST", "/api/v1/alarms/{alarm_id}/close"): Route("roles: operator", _alarm_action("close")),
    ("POST", "/api/v1/alarms/{alarm_id}/take-over"): Route("roles: operator", _alarm_action("take-over")),
    ("GET", "/api/v1/admin/quarantine"): Route(
        "roles: host_admin", lambda c, w, p: c.get("/api/v1/admin/quarantine", headers=p.headers),
        default_permitted=frozenset({200}),
    ),
    ("GET", "/api/v1/admin/quarantine/{quarantine_id}"): Route(
        "roles: host_admin",
        lambda c, w, p: c.get("/api/v1/admin/quarantine/00000000-0000-0000-0000-000000000000", headers=p.headers),
    ),
    ("POST", "/api/v1/admin/users"): Route(
        "roles: host_admin",
        lambda c, w, p: c.post(
            "/api/v1/admin/users",
            json={"username": f"new-{p.name}", "display_name": "Ny", "password": "a long enough password"},
            headers=p.headers,
        ),
        default_permitted=frozenset({201}),
    ),
    ("POST", "/api/v1/admin/users/{user_id}/roles"): Route(
        "roles: host_admin",
        lambda c, w, p: c.post(
            f"/api/v1/admin/users/{w.plain_user_id}/roles",
            json={"role": "responder", "municipality_id": w.foreign_municipality(p)},
            headers=p.headers,
        ),
        default_permitted=frozenset({201}),  # the host administrator manages every municipality
    ),
    ("POST", "/api/v1/admin/users/{user_id}/unlock"): Route(
        "roles: host_admin",
        lambda c, w, p: c.post(f"/api/v1/admin/users/{w.plain_user_id}/unlock", headers=p.headers),
        default_permitted=frozenset({200}),  # users are not held in a municipality's scope
    ),
    ("POST", "/api/v1/admin/tokens"): Route(
        "roles: host_admin, municipality_admin",
        lambda c, w, p: c.post(
            "/api/v1/admin/tokens", json={"name": "x", "municipality_id": w.foreign_municipality(p)}, headers=p.headers
        ),
        permitted={"host_admin": {201}},
    ),
    ("DELETE", "/api/v1/admin/tokens/{token_id}"): Route(
        "roles: host_admin, municipality_admin",
        lambda c, w, p: c.delete(f"/api/v1/admin/tokens/{w.foreign_token_id(p)}", headers=p.headers),
        permitted={"host_admin": {204}},
    ),
    ("GET", "/api/v1/audit"): Route(
        "roles: auditor, host_admin",
        lambda c, w, p: c.get(f"/api/v1/audit?recipient_id={w.foreign_recipient(p)}", headers=p.headers),
        default_permitted=frozenset({200}),
    ),
    # Statistics: the host and the centre's auditor see every municipality that has or had an
    # agreement (the ended one too: yearly reports cover it); municipality roles see their own.
    ("GET", "/api/v1/statistics/key-figures"): Route(
        _STATISTICS,
        lambda c, w, p: c.get(f"/api/v1/statistics/key-figures?municipality_id={w.foreign_municipality(p)}",
                              headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/api/v1/statistics/report.{file_format}"): Route(
        _STATISTICS,
        lambda c, w, p: c.get(f"/api/v1/statistics/report.pdf?municipality_id={w.foreign_municipality(p)}",
                              headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    # Each caller's yearly report covers their own statistics scope: nothing foreign to ask for.
    ("GET", "/api/v1/statistics/yearly-report.{file_format}"): Route(
        _STATISTICS, lambda c, w, p: c.get("/api/v1/statistics/yearly-report.xlsx?year=2026", headers=p.headers),
        default_permitted=frozenset({200}),
    ),
    ("GET", "/api/v1/statistics/alarms.csv"): Route(
        _STATISTICS,
        lambda c, w, p: c.get(f"/api/v1/statistics/alarms.csv?municipality_id={w.foreign_municipality(p)}",
                              headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    # Deviations: operators see and register them where they serve (the ended agreement is
    # foreign to them); the host sees every municipality; handling is for administrators.
    ("GET", "/api/v1/deviations"): Route(
        _DEVIATION_READERS,
        lambda c, w, p: c.get(f"/api/v1/deviations?municipality_id={w.foreign_municipality(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/api/v1/deviations/summary"): Route(
        _STATISTICS,
        lambda c, w, p: c.get(f"/api/v1/deviations/summary?year=2026&municipality_id={w.foreign_municipality(p)}",
                              headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/deviations"): Route(
        "roles: host_admin, municipality_admin, operator",
        lambda c, w, p: c.post("/api/v1/deviations", json={"municipality_id": w.foreign_municipality(p), "category": "other",
                                                           "title": "x"}, headers=p.headers),
        permitted={"host_admin": {201}},
    ),
    ("GET", "/api/v1/deviations/{deviation_id}"): Route(
        _DEVIATION_READERS,
        lambda c, w, p: c.get(f"/api/v1/deviations/{w.foreign_deviation(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/deviations/{deviation_id}/events"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(f"/api/v1/deviations/{w.foreign_deviation(p)}/events", json={"kind": "action", "text": "x"},
                               headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    # Registry administration: a municipality administrator gets 404 for a foreign
    # municipality or recipient (lists included); the host administrator manages them all.
    ("GET", "/api/v1/registry/recipients"): Route(
        _REGISTRY,
        lambda c, w, p: c.get(f"/api/v1/registry/recipients?municipality_id={w.foreign_municipality(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/api/v1/registry/recipients/{recipient_id}"): Route(
        _REGISTRY,
        lambda c, w, p: c.get(f"/api/v1/registry/recipients/{w.foreign_recipient(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/registry/recipients"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(
            "/api/v1/registry/recipients",
            json={"municipality_id": w.foreign_municipality(p), "national_id": _fresh_national_id(), "given_name": "Ny",
                  "family_name": "Mottaker", "address": "Nyveien 1", "postal_code": "4600", "city": "Testby",
                  "phone": "912 34 567"},
            headers=p.headers,
        ),
        permitted={"host_admin": {201}},
    ),
    ("PATCH", "/api/v1/registry/recipients/{recipient_id}"): Route(
        _REGISTRY,
        lambda c, w, p: c.patch(f"/api/v1/registry/recipients/{w.foreign_recipient(p)}", json={"city": "Nyby"}, headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/registry/recipients/{recipient_id}/contacts"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(
            f"/api/v1/registry/recipients/{w.foreign_recipient(p)}/contacts",
            json={"name": "Kari Nordmann", "relation": "datter", "phone": "912 34 567", "priority": 1},
            headers=p.headers,
        ),
        permitted={"host_admin": {201}},
    ),
    # Supervision plans (digital_supervision/api.py): the municipality's own administrator only.
    ("POST", "/api/v1/registry/recipients/{recipient_id}/supervision-plans"): Route(
        "roles: municipality_admin",
        lambda c, w, p: c.post(
            f"/api/v1/registry/recipients/{w.foreign_recipient(p)}/supervision-plans",
            json={"kind": "camera", "times": [{"at": "23:00"}], "max_seconds": 30, "consent_by": "Brukeren selv",
                  "consent_on": "2026-11-30", "valid_from": "2026-12-01"},
            headers=p.headers,
        ),
    ),
    ("POST", "/api/v1/registry/recipients/{recipient_id}/supervision-plans/{plan_id}/end"): Route(
        "roles: municipality_admin",
        lambda c, w, p: c.post(f"/api/v1/registry/recipients/{w.foreign_recipient(p)}/supervision-plans/1/end",
                               json={"valid_to": "2099-01-01"}, headers=p.headers),
    ),
    ("GET", "/api/v1/registry/recipients/{recipient_id}/supervision-plans"): Route(
        "roles: municipality_admin",
        lambda c, w, p: c.get(f"/api/v1/registry/recipients/{w.foreign_recipient(p)}/supervision-plans",
                              headers=p.headers),
    ),
    ("POST", "/api/v1/registry/devices"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(
            "/api/v1/registry/devices",
            json={"municipality_id": w.foreign_municipality(p), "recipient_id": w.foreign_recipient(p), "kind": "safety_alarm",
                  "protocol": "http", "identity": f"NEW-{p.name}"},
            headers=p.headers,
        ),
        permitted={"host_admin": {201}},
    ),
    ("GET", "/api/v1/registry/devices"): Route(
        _REGISTRY,
        lambda c, w, p: c.get(f"/api/v1/registry/devices?municipality_id={w.foreign_municipality(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/registry/zones"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(
            "/api/v1/registry/zones", json={"municipality_id": w.foreign_municipality(p), "code": f"N-{p.name}", "name": "Ny sone"},
            headers=p.headers,
        ),
        permitted={"host_admin": {201}},
    ),
    ("GET", "/api/v1/registry/zones"): Route(
        _REGISTRY,
        lambda c, w, p: c.get(f"/api/v1/registry/zones?municipality_id={w.foreign_municipality(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/registry/staff"): Route(
        _REGISTRY,
        lambda c, w, p: c.post(
            "/api/v1/registry/staff",
            json={"municipality_id": w.foreign_municipality(p), "name": "Nils Nattevakt", "role": "responder", "competence": "nurse"},
            headers=p.headers,
        ),
        permitted={"host_admin": {201}},
    ),
    ("GET", "/api/v1/registry/staff"): Route(
        _REGISTRY,
        lambda c, w, p: c.get(f"/api/v1/registry/staff?municipality_id={w.foreign_municipality(p)}", headers=p.headers),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/api/v1/registry/municipalities"): Route(
        "roles: host_admin",
        lambda c, w, p: c.post(
            "/api/v1/registry/municipalities",
            json={"number": f"{8000 + len(p.name)}", "name": f"Ny kommune {p.name}", "population": 1200},
            headers=p.headers,
        ),
        default_permitted=frozenset({201}),
    ),
    ("GET", "/api/v1/registry/municipalities"): Route(
        "roles: host_admin", lambda c, w, p: c.get("/api/v1/registry/municipalities", headers=p.headers),
        default_permitted=frozenset({200}),
    ),
    ("POST", "/api/v1/registry/agreements"): Route(
        "roles: host_admin",
        lambda c, w, p: c.post(
            "/api/v1/registry/agreements",
            json={"municipality_id": w.foreign_municipality(p), "valid_from": "2027-01-01",
                  "windows": [{"service_model": 2, "weekdays": "12345", "starts": "08:00", "ends": "16:00",
                               "categories": ["assistance", "fall"], "escalation_minutes": 5}]},
            headers=p.headers,
        ),
        default_permitted=frozenset({201}),  # the host administrator manages every municipality
    ),
    ("GET", "/api/v1/auth/me"): Route("any logged-in user", lambda c, w, p: c.get("/api/v1/auth/me", headers=p.headers),
                                      default_permitted=frozenset({200})),
    ("POST", "/api/v1/auth/login"): Route(
        "public", lambda c, w, p: c.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong"}),
        # Every principal fails from the same address: after three failures the name is held back there.
        default_permitted=frozenset({401, 429}),
    ),
    ("GET", "/healthz"): Route("public", lambda c, w, p: c.get("/healthz"), default_permitted=frozenset({200})),
    ("GET", "/livez"): Route("public", lambda c, w, p: c.get("/livez"), default_permitted=frozenset({200})),
    ("GET", "/readyz"): Route("public", lambda c, w, p: c.get("/readyz"), default_permitted=frozenset({200})),
    # Open by default (no personal data; RESPONS_METRICS_TOKEN closes it: test_metrics.py).
    ("GET", "/metrics"): Route("public", lambda c, w, p: c.get("/metrics"), default_permitted=frozenset({200})),
    # ---- Pages shared by everyone (web/login.py) ----
    ("GET", "/"): Route("public", _page("/"), default_permitted=frozenset({303})),
    ("GET", "/login"): Route("public", _page("/login"), default_permitted=frozenset({200})),
    # Without the log-in form's double-submit cookie the form is refused (cross-site post).
    ("POST", "/login"): Route("public", _page("/login", method="POST", data={"username": "x", "password": "y"}),
                              default_permitted=frozenset({403})),
    ("POST", "/language"): Route("public", _page("/language", method="POST", data={"lang": "en", "next": "/"}),
                                 default_permitted=frozenset({303})),
    # A wrong CSRF token: refused for everyone logged in, so the session survives for the rows below.
    ("POST", "/logout"): PageRoute(
        "any logged-in user",
        lambda c, w, p: c.post("/logout", headers={**p.headers, "X-CSRF-Token": "wrong"}, follow_redirects=False),
        default_permitted=frozenset({403}),
    ),
    # ---- Operator console pages (web/console) ----
    ("GET", "/stats"): PageRoute(
        _STATISTICS, _page(lambda w, p: f"/stats?municipality_id={w.foreign_municipality(p)}"),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/stats/report"): PageRoute(
        _STATISTICS, _page(lambda w, p: f"/stats/report?municipality_id={w.foreign_municipality(p)}&period=year"),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/stats/alarms"): PageRoute(
        _STATISTICS, _page(lambda w, p: f"/stats/alarms?municipality_id={w.foreign_municipality(p)}&show=all"),
        permitted={"host_admin": {200}},
    ),
    ("GET", "/deviations"): PageRoute(_DEVIATION_READERS, _page("/deviations?show=all"), default_permitted=frozenset({200})),
    ("POST", "/deviations"): PageRoute(
        _DEVIATION_READERS,
        _page("/deviations", method="POST",
              data=lambda w, p: {"municipality_id": w.foreign_municipality(p), "category": "other", "title": "x"}),
        default_permitted=frozenset({404}), permitted={"auditor": {403}, "host_admin": {200, 303}},
    ),
    # The form opened from an alarm's card: a foreign alarm is not found; auditors register nothing.
    ("GET", "/deviations/new"): PageRoute(
        _DEVIATION_READERS, _page(lambda w, p: f"/deviations/new?alarm_id={w.foreign_alarm(p)}"),
        default_permitted=frozenset({404}), permitted={"auditor": {403}, "host_admin": {200}},
    ),
    ("GET", "/deviations/{deviation_id}"): PageRoute(
        _DEVIATION_READERS, _page(lambda w, p: f"/deviations/{w.foreign_deviation(p)}"), permitted={"host_admin": {200}},
    ),
    ("POST", "/deviations/{deviation_id}/events"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/deviations/{w.foreign_deviation(p)}/events", method="POST"),
        permitted={"host_admin": {200, 303, 409, 422}},
    ),
    ("GET", "/console"): PageRoute("roles: operator", _page("/console"), default_permitted=frozenset({200})),
    # ---- The supervision round (digital_supervision/round_pages.py) ----
    ("GET", "/round"): PageRoute("roles: operator", _page("/round"), default_permitted=frozenset({200})),
    ("GET", "/round/list"): PageRoute("roles: operator", _page("/round/list"), default_permitted=frozenset({200})),
    ("GET", "/round/events"): PageRoute("roles: operator", _page("/round/events"), default_permitted=frozenset({200})),
    ("GET", "/round/rows/{lookin_id}"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/rows/{w.foreign_lookin(p)}")),
    ("GET", "/round/lookins/{lookin_id}"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}")),
    ("POST", "/round/lookins/{lookin_id}/start"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}/start", method="POST", data={})),
    ("POST", "/round/after-alarm/{alarm_id}"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/after-alarm/{w.foreign_alarm(p)}", method="POST", data={})),
    ("POST", "/round/lookins/{lookin_id}/camera"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}/camera", method="POST", data={})),
    ("POST", "/round/lookins/{lookin_id}/camera/answer"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}/camera/answer", method="POST",
                                 json={"sdp": "v=0 an answer"})),
    ("POST", "/round/lookins/{lookin_id}/camera/close"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}/camera/close", method="POST",
                                 data={})),
    ("POST", "/round/lookins/{lookin_id}/finish"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/round/lookins/{w.foreign_lookin(p)}/finish", method="POST",
                                 data={"outcome": "seen_well"})),
    ("GET", "/console/queue"): PageRoute("roles: operator", _page("/console/queue"), default_permitted=frozenset({200})),
    ("GET", "/console/queue/rows/{alarm_id}"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/queue/rows/{w.foreign_alarm(p)}")),
    ("GET", "/console/alarms/{alarm_id}"): PageRoute("roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}")),
    ("GET", "/console/alarms/{alarm_id}/work"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/work")),
    ("GET", "/console/alarms/{alarm_id}/care"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/care")),
    ("POST", "/console/alarms/{alarm_id}/answer"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/answer", method="POST")),
    ("POST", "/console/alarms/{alarm_id}/notes"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/notes", method="POST", data={"text": "x"})),
    ("POST", "/console/alarms/{alarm_id}/actions"): PageRoute(
        "roles: operator",
        _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/actions", method="POST", data={"action": "notify_technician"})),
    ("POST", "/console/alarms/{alarm_id}/resolve"): PageRoute(
        "roles: operator",
        _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/resolve", method="POST", data={"outcome": "false_alarm"})),
    ("POST", "/console/alarms/{alarm_id}/close"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/close", method="POST")),
    ("POST", "/console/alarms/{alarm_id}/take-over"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/take-over", method="POST")),
    # ---- Voice (voice/pages.py): a foreign alarm is not found; another operator's call neither ----
    ("GET", "/console/voice"): PageRoute("roles: operator", _page("/console/voice"), default_permitted=frozenset({200})),
    ("GET", "/console/alarms/{alarm_id}/voice"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/voice")),
    ("POST", "/console/alarms/{alarm_id}/calls"): PageRoute(
        "roles: operator", _page(lambda w, p: f"/console/alarms/{w.foreign_alarm(p)}/calls", method="POST",
                                 json={"target": "unit", "sdp": "v=0 an offer"})),
    ("GET", "/console/calls/{call_id}"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000")),
    ("POST", "/console/calls/{call_id}/take"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/take", method="POST")),
    ("POST", "/console/calls/{call_id}/answer"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/answer", method="POST",
                                 json={"sdp": "v=0 an answer"})),
    ("POST", "/console/calls/{call_id}/hold"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/hold", method="POST")),
    ("POST", "/console/calls/{call_id}/resume"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/resume", method="POST")),
    ("POST", "/console/calls/{call_id}/hangup"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/hangup", method="POST")),
    ("POST", "/console/calls/{call_id}/transfer"): PageRoute(
        "roles: operator", _page("/console/calls/00000000-0000-0000-0000-000000000000/transfer", method="POST",
                                 json={"to": "user:1"})),
    # ---- Voice in the responder app (voice/pages.py): only for an alarm in hand ----
    ("GET", "/app/alarms/{alarm_id}/voice"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/voice")),
    ("POST", "/app/alarms/{alarm_id}/calls"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/calls", method="POST",
                          json={"target": "unit", "sdp": "v=0 an offer"})),
    ("GET", "/app/calls/{call_id}"): PageRoute(_RESPONDER, _page("/app/calls/00000000-0000-0000-0000-000000000000")),
    ("POST", "/app/calls/{call_id}/hangup"): PageRoute(
        _RESPONDER, _page("/app/calls/00000000-0000-0000-0000-000000000000/hangup", method="POST")),
    # ---- Responder app (web/responder) ----
    ("GET", "/app"): PageRoute(_RESPONDER, _page("/app"), default_permitted=frozenset({200})),
    ("GET", "/app/offers"): PageRoute(_RESPONDER, _page("/app/offers"), default_permitted=frozenset({200})),
    ("POST", "/app/duty"): PageRoute(_RESPONDER, _page("/app/duty", method="POST", data={}), default_permitted=frozenset({303})),
    ("POST", "/app/duty/off"): PageRoute(_RESPONDER, _page("/app/duty/off", method="POST"), default_permitted=frozenset({303})),
    ("GET", "/app/events"): PageRoute(_RESPONDER, _page("/app/events"), default_permitted=frozenset({200})),
    ("GET", "/app/sw.js"): Route("public", _page("/app/sw.js"), default_permitted=frozenset({200})),
    # ---- Messages (messages/pages.py, messages/api.py) ----
    # Web Push is off on this installation (no VAPID key): the phone is told so.
    ("GET", "/app/push/key"): PageRoute(_RESPONDER, _page("/app/push/key")),
    ("POST", "/app/push/subscriptions"): PageRoute(
        _RESPONDER, _page("/app/push/subscriptions", method="POST",
                          json={"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                                "keys": {"p256dh": "B" * 40, "auth": "A" * 16}})),
    ("POST", "/app/push/unsubscribe"): PageRoute(
        _RESPONDER, _page("/app/push/unsubscribe", method="POST",
                          json={"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                                "keys": {"p256dh": "B" * 40, "auth": "A" * 16}}), default_permitted=frozenset({200})),
    # The service worker's acknowledgement: the message's random id is the key; an unknown one changes nothing.
    ("POST", "/app/push/{uid}/shown"): Route(
        "public", _page("/app/push/00000000-0000-0000-0000-000000000000/shown", method="POST"),
        default_permitted=frozenset({204})),
    # Next of kin's one-time link: a token that is not one of ours is 404 for everyone.
    ("GET", "/k/{token}"): Route("public", _page("/k/" + "x" * 24)),
    ("POST", "/k/{token}"): Route("public", _page("/k/" + "x" * 24, method="POST")),
    # The HTTP SMS provider's callbacks: none on an installation without a callback token.
    ("POST", "/api/v1/messages/receipts"): Route(
        "public", lambda c, w, p: c.post("/api/v1/messages/receipts", json={"id": "1", "status": "delivered"})),
    ("POST", "/api/v1/messages/inbound"): Route(
        "public", lambda c, w, p: c.post("/api/v1/messages/inbound", json={"from": "+4741234567", "text": "OK"})),
    ("GET", "/app/alarms/{alarm_id}"): PageRoute(_RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}")),
    ("POST", "/app/alarms/{alarm_id}/accept"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/accept", method="POST")),
    ("POST", "/app/alarms/{alarm_id}/mission/accept"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/mission/accept", method="POST")),
    ("POST", "/app/alarms/{alarm_id}/decline"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/decline", method="POST")),
    ("POST", "/app/alarms/{alarm_id}/hand-back"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/hand-back", method="POST")),
    ("POST", "/app/alarms/{alarm_id}/status"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/status", method="POST", data={"status": "en_route"})),
    ("POST", "/app/alarms/{alarm_id}/notes"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/notes", method="POST", data={"text": "x"})),
    ("POST", "/app/alarms/{alarm_id}/call"): PageRoute(
        _RESPONDER, _page(lambda w, p: f"/app/alarms/{w.foreign_alarm(p)}/call", method="POST", data={"result": "answered"})),
    # ---- Registry pages (web/admin) ----
    ("GET", "/admin/registry"): PageRoute(_REGISTRY, _page("/admin/registry"), default_permitted=frozenset({200})),
    # A foreign municipality's pages and records: 404 for its administrator, shown to the host administrator.
    ("GET", "/admin/registry/{municipality_id}"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}"), permitted={"host_admin": {200}},
    ),
    ("GET", "/admin/registry/{municipality_id}/recipients"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/recipients"), permitted={"host_admin": {200}},
    ),
    ("GET", "/admin/registry/{municipality_id}/recipients/new"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/recipients/new"),
        permitted={"host_admin": {200}},
    ),
    ("POST", "/admin/registry/{municipality_id}/recipients"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(
            f"/admin/registry/{w.foreign_municipality(p)}/recipients",
            data={"national_id": _fresh_national_id(), "given_name": "Ny", "family_name": "Mottaker", "address": "Nyveien 1",
                  "postal_code": "4600", "city": "Testby", "phone": "912 34 567", "language": "nb"},
            headers=p.headers, follow_redirects=False,
        ),
        permitted={"host_admin": {303}},
    ),
    ("GET", "/admin/registry/recipients/{recipient_id}/supervision"): PageRoute(
        "roles: municipality_admin", _page(lambda w, p: f"/admin/registry/recipients/{w.foreign_recipient(p)}/supervision")),
    ("POST", "/admin/registry/recipients/{recipient_id}/supervision"): PageRoute(
        "roles: municipality_admin",
        _page(lambda w, p: f"/admin/registry/recipients/{w.foreign_recipient(p)}/supervision", method="POST",
              data={"kind": "camera", "times": "23:00", "max_seconds": "30", "consent_by": "Brukeren selv",
                    "consent_on": "2026-11-30", "valid_from": "2026-12-01"})),
    ("POST", "/admin/registry/recipients/{recipient_id}/supervision/{plan_id}/end"): PageRoute(
        "roles: municipality_admin",
        _page(lambda w, p: f"/admin/registry/recipients/{w.foreign_recipient(p)}/supervision/1/end", method="POST",
              data={"valid_to": "2099-01-01"})),
    ("GET", "/admin/registry/recipients/{recipient_id}"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/recipients/{w.foreign_recipient(p)}"), permitted={"host_admin": {200}},
    ),
    ("POST", "/admin/registry/recipients/{recipient_id}"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(f"/admin/registry/recipients/{w.foreign_recipient(p)}", data={"city": "Nyby"}, headers=p.headers,
                               follow_redirects=False),
        permitted={"host_admin": {303}},
    ),
    ("POST", "/admin/registry/recipients/{recipient_id}/contacts"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(
            f"/admin/registry/recipients/{w.foreign_recipient(p)}/contacts",
            data={"name": "Kari Nordmann", "relation": "datter", "phone": "912 34 567", "priority": "1"},
            headers=p.headers, follow_redirects=False,
        ),
        permitted={"host_admin": {303}},
    ),
    ("GET", "/admin/registry/{municipality_id}/devices"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/devices"), permitted={"host_admin": {200}},
    ),
    ("POST", "/admin/registry/{municipality_id}/devices"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(
            f"/admin/registry/{w.foreign_municipality(p)}/devices",
            data={"kind": "safety_alarm", "protocol": "http", "identity": f"PAGE-{p.name}",
                  "recipient_id": str(w.foreign_recipient(p))},
            headers=p.headers, follow_redirects=False,
        ),
        permitted={"host_admin": {303}},
    ),
    ("GET", "/admin/registry/{municipality_id}/zones"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/zones"), permitted={"host_admin": {200}},
    ),
    ("POST", "/admin/registry/{municipality_id}/zones"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(f"/admin/registry/{w.foreign_municipality(p)}/zones", data={"code": f"P-{p.name}", "name": "Ny sone"},
                               headers=p.headers, follow_redirects=False),
        permitted={"host_admin": {303}},
    ),
    ("GET", "/admin/registry/{municipality_id}/staff"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/staff"), permitted={"host_admin": {200}},
    ),
    ("POST", "/admin/registry/{municipality_id}/staff"): PageRoute(
        _REGISTRY,
        lambda c, w, p: c.post(
            f"/admin/registry/{w.foreign_municipality(p)}/staff",
            data={"name": "Nils Nattevakt", "role": "responder", "competence": "nurse"},
            headers=p.headers, follow_redirects=False,
        ),
        permitted={"host_admin": {303}},
    ),
    ("GET", "/admin/registry/{municipality_id}/completeness"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/admin/registry/{w.foreign_municipality(p)}/completeness"), permitted={"host_admin": {200}},
    ),
    # ---- The patient record's delivery (epj/pages.py): the host administrator's alone ----
    ("GET", "/epj"): PageRoute("roles: host_admin", _page("/epj"), default_permitted=frozenset({200})),
    # The world has no document (no alarm is closed): the host is told so, nobody else may ask.
    ("POST", "/epj/documents/{document_id}/resend"): PageRoute(
        "roles: host_admin", _page("/epj/documents/987654/resend", method="POST"),
        default_permitted=frozenset({404}),
    ),
    # ---- Economy pages (web/economy): the host's runs; a municipality's approved, own lines ----
    ("GET", "/economy"): PageRoute(_REGISTRY, _page("/economy"), default_permitted=frozenset({200})),
    ("POST", "/economy/runs"): PageRoute(
        "roles: host_admin", _page("/economy/runs", method="POST", data={"from": "2026-13", "months": "1"}),
        default_permitted=frozenset({422}),
    ),
    ("GET", "/economy/runs/{run_id}"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/economy/runs/{w.foreign_invoice_run(p)}"), permitted={"host_admin": {200}},
    ),
    ("GET", "/economy/runs/{run_id}/export.{file_format}"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/economy/runs/{w.foreign_invoice_run(p)}/export.csv"), permitted={"host_admin": {200}},
    ),
    # Approved already: the host is refused with the reason, everyone else may not try.
    ("POST", "/economy/runs/{run_id}/approve"): PageRoute(
        "roles: host_admin", _page(lambda w, p: f"/economy/runs/{w.foreign_invoice_run(p)}/approve", method="POST"),
        default_permitted=frozenset({409}),
    ),
    ("POST", "/economy/runs/{run_id}/discard"): PageRoute(
        "roles: host_admin", _page(lambda w, p: f"/economy/runs/{w.foreign_invoice_run(p)}/discard", method="POST"),
        default_permitted=frozenset({409}),
    ),
    ("GET", "/economy/lines/{line_id}"): PageRoute(
        _REGISTRY, _page(lambda w, p: f"/economy/lines/{w.foreign_invoice_line(p)}"), permitted={"host_admin": {200}},
    ),
    ("GET", "/economy/planner"): PageRoute("roles: host_admin", _page("/economy/planner"), default_permitted=frozenset({200})),
    ("GET", "/economy/prices"): PageRoute("roles: host_admin", _page("/economy/prices"), default_permitted=frozenset({200})),
    ("POST", "/economy/prices"): PageRoute("roles: host_admin", _page("/economy/prices", method="POST", data={}),
                                           default_permitted=frozenset({422})),
    ("POST", "/economy/budgets"): PageRoute("roles: host_admin", _page("/economy/budgets", method="POST", data={}),
                                            default_permitted=frozenset({422})),
    ("POST", "/economy/deflators"): PageRoute("roles: host_admin", _page("/economy/deflators", method="POST", data={}),
                                              default_permitted=frozenset({422})),
    # Last: it ends the caller's session.
    ("POST", "/api/v1/auth/logout"): Route("any logged-in user", lambda c, w, p: c.post("/api/v1/auth/logout", headers=p.headers),
                                           default_permitted=frozenset({204})),
}


def api_routes(routes):
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x wraps those lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from api_routes(route.routes)


def declared_policies(app) -> dict[tuple[str, str], str]:
    found = {}
    for route in api_routes(app.routes):
        policies = [d.call.respons_policy for d in route.dependant.dependencies if hasattr(d.call, "respons_policy")]
        assert len(policies) == 1, f"{route.methods} {route.path} declares {len(policies)} access policies; it needs exactly one"
        for method in route.methods:
            found[(method, route.path)] = policies[0].describe()
    # Cross-check with the published contract, so a route the walk above missed still fails.
    published = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert published <= set(found), f"routes not inspected: {sorted(published - set(found))}"
    return found


@dataclass
class Principal:
    name: str
    role: Role | None  # None: anonymous or an API token
    headers: dict[str, str]
    centre_level: bool


@dataclass
class World:
    registry: object
    served: int  # municipality A: the principals' own
    other: int  # municipality B: served by the centre, not A
    unserved: int  # municipality F: agreement ended, foreign to the centre
    alarms: dict[int, str]
    tokens: dict[int, int]
    plain_user_id: int
    secrets: dict[int, list[str]]
    recipient_of: dict[int, int]  # municipality -> personal data that must not leak
    deviations: dict[int, int]
    invoice_runs: dict[int, int]  # municipality -> an approved run with only its lines
    invoice_lines: dict[int, int]
    lookins: dict[int, int] = field(default_factory=dict)  # municipality -> a look-in of its person

    @property
    def foreign_device(self) -> str:
        return self.registry.devices_by_municipality[self.other][0]

    def foreign_municipality(self, p: Principal) -> int:
        return self.unserved if p.centre_level else self.other

    def foreign_alarm(self, p: Principal) -> str:
        return self.alarms[self.foreign_municipality(p)]

    def foreign_recipient(self, p: Principal) -> int:
        return self.recipient_of[self.foreign_municipality(p)]

    def foreign_token_id(self, p: Principal) -> int:
        return self.tokens[self.foreign_municipality(p)]

    def foreign_deviation(self, p: Principal) -> int:
        return self.deviations[self.foreign_municipality(p)]

    def foreign_invoice_run(self, p: Principal) -> int:
        return self.invoice_runs[self.foreign_municipality(p)]

    def foreign_invoice_line(self, p: Principal) -> int:
        return self.invoice_lines[self.foreign_municipality(p)]

    def foreign_lookin(self, p: Principal) -> int:
        return self.lookins[self.foreign_municipality(p)]


@pytest.fixture
def world(engine):
    registry = seed_registry(engine, municipalities_count=3, recipients_per=2)
    a, b, f = registry.municipality_ids
    with engine.begin() as conn:
        conn.execute(update(agreements).where(agreements.c.municipality_id == f).values(valid_to=date(2025, 6, 30)))
        alarms = {}
        for mid, rid in zip(registry.municipality_ids, registry.recipient_ids[::2]):
            new = receiving.NewAlarm(mid, rid, None, alarm_type("fall"), "http", "test", T0)
            alarms[mid] = receiving.receive(conn, new, now=T0, answer_deadline=timedelta(seconds=60)).alarm_id
        secrets = {
            mid: [v for r in conn.execute(select(recipients).where(recipients.c.municipality_id == mid))
                  for v in (r.national_id, r.family_name, r.address)]
            for mid in registry.municipality_ids
        }
        from respons.store.tables import api_tokens

        tokens = {r.municipality_id: r.id for r in conn.execute(select(api_tokens.c.id, api_tokens.c.municipality_id))}
        # Every municipality has had its recipient's record read, so an audit search that
        # ignored scope would show foreign records (checked in the matrix).
        from respons.auth import audit

        recipient_of = dict(zip(registry.municipality_ids, registry.recipient_ids[::2]))
        for mid, rid in recipient_of.items():
            audit.append(conn, now=T0, actor="user:999", action=audit.READ_RECIPIENT, municipality_id=mid, recipient_id=rid,
                         alarm_id=alarms[mid], purpose="alarm", details={"secret": f"audit-secret-{mid}"})
            secrets[mid].append(f"audit-secret-{mid}")
        from respons.deviations import service as deviation_service

        deviations = {mid: deviation_service.register(conn, municipality_id=mid, category="other", actor="user:999",
                                                      title=f"deviation-secret-{mid}", now=T0)
                      for mid in registry.municipality_ids}
        for mid in registry.municipality_ids:
            secrets[mid].append(f"deviation-secret-{mid}")
        invoice_runs, invoice_lines = _approved_invoices(conn, registry, recipient_of)
        lookins = _lookins(conn, recipient_of)
    plain = add_user(engine, "plain", [])
    return World(registry, a, b, f, alarms, tokens, plain.id, secrets, recipient_of, deviations, invoice_runs,
                 invoice_lines, lookins)


def _lookins(conn, recipient_of) -> dict[int, int]:
    """Per municipality a look-in of its person, due now (so a start would be in its window)."""
    from respons.digital_supervision import lookins, store
    from respons.digital_supervision.plans import AgreedTime, Kind, Plan

    made = {}
    for mid, rid in recipient_of.items():
        plan = Plan(kind=Kind.CAMERA, times=(AgreedTime((T0 + timedelta(hours=1)).time()),), max_seconds=30,
                    consent_by="Brukeren selv", consent_on=date(2026, 1, 1), valid_from=date(2026, 1, 1))
        store.add(conn, municipality_id=mid, recipient_id=rid, plan=plan, now=T0, actor="test")
        lookins.schedule(conn, T0, lookins.Rules())
        made[mid] = store.round_of(conn, municipality_ids=[mid], starts=T0 - timedelta(hours=1),
                                   ends=T0 + timedelta(hours=24))[0]["id"]
    return made


def _approved_invoices(conn, registry, recipient_of) -> tuple[dict[int, int], dict[int, int]]:
    """Per municipality an approved run whose one line counts its recipient (by name on the
    line's page: personal data that must not reach another municipality)."""
    from sqlalchemy import insert

    from respons.store.tables import invoice_lines, invoice_runs, municipalities, price_models

    runs, lines = {}, {}
    for index, mid in enumerate(registry.municipality_ids):
        agreement = conn.execute(select(agreements.c.id).where(agreements.c.municipality_id == mid)).scalar_one()
        centre = conn.execute(select(municipalities.c.centre_id).where(municipalities.c.id == mid)).scalar_one()
        model = conn.execute(insert(price_models).values(
            agreement_id=agreement, valid_from=date(2025, 1, 1), base_year=2025, created_at=T0, created_by="test",
            components=[{"kind": "per_user_month", "price": "100.00"}])).inserted_primary_key[0]
        run = conn.execute(insert(invoice_runs).values(
            centre_id=centre, period_first=date(2025, index + 1, 1), months=1, state="draft", total_ore=10000,
            created_at=T0, created_by="test")).inserted_primary_key[0]
        line = conn.execute(insert(invoice_lines).values(
            run_id=run, municipality_id=mid, price_model_id=model, component=0, kind="per_user_month",
            description="Brukere", quantity="1.00", unit="brukermåneder", unit_price_ore=10000, amount_ore=10000,
            basis={"kind": "per_user_month"}, recipients=[[recipient_of[mid], 31]])).inserted_primary_key[0]
        conn.execute(update(invoice_runs).where(invoice_runs.c.id == run).values(state="approved", approved_at=T0,
                                                                                 approved_by="test"))
        runs[mid], lines[mid] = run, line
    return runs, lines


ROLE_GRANTS = {
    Role.HOST_ADMIN: None,
    Role.OPERATOR: None,
    Role.AUDITOR: "a",
    Role.MUNICIPALITY_ADMIN: "a",
    Role.RESPONDER: "a",
    Role.TECHNICIAN: "a",
}


def test_every_route_declares_the_access_that_was_decided_for_it(migrated_url):
    app = create_app(Settings(database_url=migrated_url), run_timers=False)
    declared = declared_policies(app)
    assert set(declared) == set(ROUTES), (
        f"routes without a decision: {sorted(set(declared) - set(ROUTES))}; "
        f"decided but gone: {sorted(set(ROUTES) - set(declared))}"
    )
    for key, route in ROUTES.items():
        assert declared[key] == route.policy, f"{key}: declares {declared[key]!r}, decided {route.policy!r}"


def test_isolation_matrix(migrated_url, engine, world):
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=migrated_url, sse_max_seconds=0.2), clock, run_timers=False)
    declared = declared_policies(app)
    with TestClient(app, base_url="https://testserver") as anonymous_client:
        principals: list[tuple[Principal, TestClient]] = [
            (Principal("anonymous", None, {}, centre_level=True), anonymous_client),
            (
                Principal("intake-token-A", None, {"Authorization": f"Bearer {world.registry.intake_tokens[world.served]}"}, centre_level=False),
                anonymous_client,
            ),
        ]
        extra_clients = []
        for role, where in ROLE_GRANTS.items():
            client = TestClient(app, base_url="https://testserver")
            extra_clients.append(client)
            user = add_user(engine, role.value, [(role, world.served if where else None)])
            headers = log_in(client, user, clock)
            principals.append((Principal(role.value, role, headers, centre_level=where is None), client))

        failures = []
        for key, route in ROUTES.items():
            policy = declared[key]
            for principal, client in principals:
                response = route.call(client, world, principal)
                expected = _expected(policy, route, principal)
                if response.status_code not in expected:
                    failures.append(f"{key[0]} {key[1]} as {principal.name}: {response.status_code} not in {sorted(expected)}: {response.text[:160]}")
                leaked = [s for s in world.secrets[world.foreign_municipality(principal)] if s in response.text]
                if leaked and principal.role is not Role.HOST_ADMIN:
                    failures.append(f"{key[0]} {key[1]} as {principal.name}: foreign personal data in the response: {leaked}")
        for client in extra_clients:
            client.close()
    assert not failures, "\n".join(failures)


def _expected(policy: str, route: Route, principal: Principal) -> set[int]:
    if policy == "public":
        return set(route.default_permitted)
    if principal.name == "anonymous":
        return set(route.anonymous)
    if principal.role is None:  # the intake token
        return set(route.default_permitted) if policy.startswith("API token") else {403}
    if policy.startswith("API token"):
        return {401}  # a person's session is not an API token
    admitted = policy == "any logged-in user" or principal.role.value in policy.removeprefix("roles: ").split(", ")
    if not admitted:
        return {403}
    return route.permitted.get(principal.role.value, set(route.default_permitted))


def test_operator_sees_served_municipalities_and_not_an_ended_agreement(migrated_url, engine, world):
    clock = FakeClock(T0)
    app = create_app(Settings(database_url=migrated_url), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as client:
        log_in(client, add_user(engine, "olga", [(Role.OPERATOR, None)]), clock)
        queue_ids = {item["id"] for item in client.get("/api/v1/queue").json()}
        assert queue_ids == {world.alarms[world.served], world.alarms[world.other]}
        assert client.get(f"/api/v1/alarms/{world.alarms[world.served]}").status_code == 200
        assert client.get(f"/api/v1/alarms/{world.alarms[world.unserved]}").status_code == 404
