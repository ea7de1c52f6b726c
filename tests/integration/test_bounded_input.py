"""Bounded input and one error shape, on both databases (issue 15, item 1).

Each case below answered 500 (or stored a duplicate) when schemathesis first probed the API:
integers beyond the database's range, references to rows that do not exist, and a role
granted twice. Each must now be a 4xx in the one documented shape, and nothing stored.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.tables import api_tokens, contacts, role_grants
from respons.web.app import create_app
from tests.factories import add_user, log_in, seed_registry

BIG = 10**20


@pytest.fixture
def registry(engine):
    return seed_registry(engine, municipalities_count=2, recipients_per=1)


@pytest.fixture
def app(migrated_url, registry, clock):
    return create_app(Settings(database_url=migrated_url), clock, run_timers=False)


@pytest.fixture
def someone(engine):
    """A user to grant roles to."""
    return add_user(engine, "rune", [])


@pytest.fixture
def host_admin(app, engine, clock, someone):
    # Users are written before the app starts: its background writers then have nothing to race.
    hanne = add_user(engine, "hanne", [(Role.HOST_ADMIN, None)])
    with TestClient(app, base_url="https://testserver") as client:
        client.headers.update(log_in(client, hanne, clock))
        yield client


def assert_error(response, status: int, error: str, field: str | None = None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["message"], body
    assert "detail" not in body, body
    if field is not None:
        assert field in {p["field"] for p in body["details"]}, body
        if not field.startswith("("):
            assert field in body["message"], body


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


# --- integers beyond the database's range: 422 naming the field, never 500 ---------------------

WINDOW = {"service_model": 1, "starts": "00:00", "ends": "00:00", "categories": ["safety"]}

OUT_OF_RANGE = [
    ("GET", f"/api/v1/deviations/{BIG}", None, "deviation_id"),
    ("GET", f"/api/v1/registry/recipients/{BIG}", None, "recipient_id"),
    ("PATCH", f"/api/v1/registry/recipients/{BIG}", {"city": "Mandal"}, "recipient_id"),
    ("GET", f"/api/v1/registry/recipients?municipality_id={BIG}", None, "municipality_id"),
    ("GET", f"/api/v1/registry/devices?municipality_id={BIG}", None, "municipality_id"),
    ("GET", f"/api/v1/audit?recipient_id={BIG}", None, "recipient_id"),
    ("DELETE", f"/api/v1/admin/tokens/{BIG}", None, "token_id"),
    ("POST", "/api/v1/registry/devices",
     {"municipality_id": BIG, "kind": "safety_alarm", "protocol": "http", "identity": "TA-BIG"}, "municipality_id"),
    ("POST", "/api/v1/registry/zones", {"municipality_id": BIG, "code": "Z9", "name": "Sone 9"}, "municipality_id"),
    ("POST", "/api/v1/registry/agreements",
     {"municipality_id": BIG, "valid_from": "2026-01-01", "windows": [WINDOW]}, "municipality_id"),
    ("POST", f"/api/v1/registry/recipients/{BIG}/contacts", {"name": "Kari", "phone": "41234567", "priority": 1},
     "recipient_id"),
    ("POST", "/api/v1/registry/municipalities", {"number": "4299", "name": "Stor", "population": BIG}, "population"),
    ("POST", f"/api/v1/admin/users/{BIG}/roles", {"role": "operator"}, "user_id"),
    # Ids start at 1: 0 can never name a row.
    ("POST", "/api/v1/admin/tokens", {"name": "x", "municipality_id": 0}, "municipality_id"),
    ("POST", "/api/v1/admin/users/0/roles", {"role": "operator"}, "user_id"),
]


def test_integers_beyond_the_column_range_are_refused_by_name(host_admin, engine, someone):
    """One test for all the cases (one app start per database); it names every case that fails."""
    tokens_before, grants_before = count(engine, api_tokens), count(engine, role_grants)
    wrong = []
    cases = [*OUT_OF_RANGE, ("POST", f"/api/v1/admin/users/{someone.id}/roles",
                             {"role": "responder", "municipality_id": 0}, "municipality_id")]
    for method, url, body, field in cases:
        try:
            assert_error(host_admin.request(method, url, json=body), 422, "invalid_request", field)
        except AssertionError as exc:
            wrong.append(f"{method} {url}: {exc}")
    assert wrong == []
    assert (count(engine, api_tokens), count(engine, role_grants)) == (tokens_before, grants_before)


# --- references to rows that do not exist: 404, nothing stored ---------------------------------


def test_references_to_missing_rows_are_404_and_store_nothing(host_admin, engine, someone):
    tokens_before = count(engine, api_tokens)
    assert_error(host_admin.post("/api/v1/admin/tokens", json={"name": "x", "municipality_id": 999_999}), 404, "not_found")
    assert count(engine, api_tokens) == tokens_before

    assert_error(host_admin.post("/api/v1/admin/users/999999/roles", json={"role": "operator"}), 404, "not_found")
    assert count(engine, role_grants, role_grants.c.user_id == 999_999) == 0

    response = host_admin.post(f"/api/v1/admin/users/{someone.id}/roles",
                               json={"role": "responder", "municipality_id": 999_999})
    assert_error(response, 404, "not_found")
    assert count(engine, role_grants, role_grants.c.user_id == someone.id) == 0

    # The guard is the column's range, not a narrower one: the largest id is a plain 404.
    assert_error(host_admin.get(f"/api/v1/registry/recipients/{2**31 - 1}"), 404, "not_found")


# --- duplicates: 409, one row ------------------------------------------------------------------


@pytest.mark.parametrize("scoped", [True, False], ids=["municipality role", "centre role"])
def test_a_role_granted_twice_is_409_and_stored_once(host_admin, engine, registry, someone, scoped):
    grant = {"role": "responder", "municipality_id": registry.municipality_ids[0]} if scoped else {"role": "operator"}
    url = f"/api/v1/admin/users/{someone.id}/roles"
    assert host_admin.post(url, json=grant).status_code == 201
    assert_error(host_admin.post(url, json=grant), 409, "grant_exists")
    assert count(engine, role_grants, role_grants.c.user_id == someone.id) == 1
    # The same role elsewhere is another grant, not a duplicate.
    if scoped:
        other = {"role": "responder", "municipality_id": registry.municipality_ids[1]}
        assert host_admin.post(url, json=other).status_code == 201
        assert count(engine, role_grants, role_grants.c.user_id == someone.id) == 2


def test_a_centre_role_is_held_once_even_when_two_nodes_grant_it_at_the_same_moment(engine, someone):
    """The check before the write cannot see another node's grant being written; the unique
    constraint treats the NULL municipality as different, so the database's own index stops
    the second (and the API answers 409 grant_exists for it)."""
    from datetime import datetime, timezone

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    grant = dict(user_id=someone.id, role="auditor", municipality_id=None, granted_at=datetime.now(timezone.utc))
    with engine.begin() as conn:
        conn.execute(insert(role_grants).values(**grant))
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(insert(role_grants).values(**grant))


# --- the framework's own errors in the one shape -------------------------------------------------


def test_the_frameworks_own_errors_answer_in_the_error_shape(host_admin):
    json_body = {"Content-Type": "application/json"}
    # Bytes that are not UTF-8 cannot even be parsed: 400.
    unreadable = host_admin.post("/api/v1/registry/zones", content=b'{"name": "\xff"}', headers=json_body)
    assert_error(unreadable, 400, "invalid_body")
    # UTF-8 that is not JSON: a validation error like any other.
    assert_error(host_admin.post("/api/v1/registry/zones", content=b'{"name": ', headers=json_body),
                 422, "invalid_request", "(body)")

    invalid = host_admin.post("/api/v1/registry/zones", json={"municipality_id": "one"})
    assert_error(invalid, 422, "invalid_request", "municipality_id")
    details = invalid.json()["details"]
    assert {(p["field"], p["in"]) for p in details} == {("municipality_id", "body"), ("code", "body"), ("name", "body")}
    assert all(set(p) == {"field", "in", "problem"} for p in details), details  # the refused input is not echoed

    assert_error(host_admin.get("/api/v1/no-such-thing"), 404, "not_found")
    wrong_method = host_admin.delete("/api/v1/queue")
    assert_error(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "GET"

    # A browser asking for a page that does not exist gets a page.
    page = host_admin.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text


def test_our_own_errors_keep_their_codes(app, registry):
    with TestClient(app, base_url="https://testserver") as anonymous:
        assert_error(anonymous.get("/api/v1/queue"), 401, "unauthenticated")
        # The intake still keeps what it refuses, with its own code.
        response = anonymous.post("/api/v1/alarms", json={"device": "TA-000000"},
                                  headers={"Authorization": f"Bearer {registry.intake_tokens[registry.municipality_ids[0]]}"})
        assert_error(response, 422, "invalid_payload")
        assert response.json()["quarantine_id"]


# --- found by schemathesis ---------------------------------------------------------------------


def test_days_at_the_edges_of_the_calendar_are_answered_not_500(host_admin, registry):
    """Oslo midnight of 0001-01-01 is in year 0 in UTC, and the day after 9999-12-31 does not
    exist: the audit search takes them as "no bound", statistics refuse days outside 2000-2100."""
    for query in ("since=0001-01-01", "until=9999-12-31", "since=0001-01-01&until=9999-12-31"):
        response = host_admin.get(f"/api/v1/audit?{query}")
        assert response.status_code == 200, (query, response.text)
        assert response.json(), query  # everything, not nothing: the log-in above is in it
    municipality_id = registry.municipality_ids[0]
    for day in ("0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"):
        for what in ("key-figures", "alarms.csv", "report.pdf"):
            response = host_admin.get(f"/api/v1/statistics/{what}?municipality_id={municipality_id}&date={day}&period=year")
            assert_error(response, 422, "invalid_request", "date")
    ok = host_admin.get(f"/api/v1/statistics/key-figures?municipality_id={municipality_id}&date=2100-12-31&period=year")
    assert ok.status_code == 200, ok.text


def test_text_with_nul_or_a_lone_surrogate_is_refused_by_name(host_admin, engine, registry):
    """PostgreSQL cannot store NUL in text (it answered 500); a lone surrogate cannot be
    encoded at all. Both databases now refuse both alike, before anything is written."""
    tokens_before = count(engine, api_tokens)
    municipality_id = registry.municipality_ids[0]
    json_body = {"Content-Type": "application/json"}
    cases = [
        (host_admin.post("/api/v1/admin/tokens", json={"name": "x\u0000", "municipality_id": municipality_id}), "name"),
        (host_admin.post("/api/v1/admin/tokens", headers=json_body,
                         content=b'{"name": "x\\ud800", "municipality_id": %d}' % municipality_id), "name"),
        (host_admin.get("/api/v1/audit?action=read%00"), "action"),
        (host_admin.patch(f"/api/v1/registry/recipients/{registry.recipient_ids[0]}", json={"city": "Man\u0000dal"}), "city"),
        (host_admin.post("/api/v1/registry/zones", json={"municipality_id": municipality_id, "code": "Z\u0000",
                                                         "name": "Sone"}), "code"),
    ]
    for response, field in cases:
        assert_error(response, 422, "invalid_request", field)
    assert count(engine, api_tokens) == tokens_before


def test_pages_refuse_nul_in_their_path_query_or_form_and_ids_beyond_the_column(host_admin, engine, registry):
    """The pages take forms and path segments, which the API's ``Text`` does not reach: a NUL
    there answered 500 on PostgreSQL (and was stored on SQLite), an id of 10^20 overflowed."""
    municipality_id = registry.municipality_ids[0]
    recipient_id = registry.recipient_ids[0]
    cases = [
        host_admin.get(f"/admin/registry/{municipality_id}/recipients?q=Ola%00"),
        host_admin.get("/console/alarms/a%00b/voice"),
        host_admin.post(f"/admin/registry/recipients/{recipient_id}/contacts",
                        data={"name": "Kari\x00 Nordmann", "phone": "+4740000009", "relation": "datter"}),
        host_admin.post(f"/admin/registry/recipients/{recipient_id}/contacts",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                        content=b"name=Kari\x00Nordmann&phone=%2B4740000009&relation=datter"),  # a raw NUL byte
        host_admin.post("/console/alarms/a/calls", json={"target": "unit", "sdp": "v=0\u0000 x x x x"}),
        # FastAPI reads a body without a content type as JSON too.
        host_admin.post("/console/alarms/a/calls", content=b'{"target": "unit", "sdp": "v=0\\u0000 x x x x"}',
                        headers={"Content-Type": ""}),
    ]
    for response in cases:
        assert_error(response, 422, "invalid_request")
    for path in (f"/admin/registry/{BIG}", f"/deviations/{BIG}", f"/economy/runs/{BIG}",
                 f"/admin/registry/recipients/{BIG}"):
        assert_error(host_admin.get(path), 422, "invalid_request")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts).where(contacts.c.name.like("Kari%"))).scalar() == 0
    # Read before the session is checked, so bounded.
    too_large = host_admin.post("/console/alarms/a/calls", json={"target": "unit", "sdp": "x" * (2 * 1024 * 1024)})
    assert_error(too_large, 413, "request_too_large")


def test_an_empty_body_in_quarantine_can_be_listed(host_admin, registry):
    """SQLite's substr() of an empty blob is NULL: the quarantine list answered 500 once an
    empty alarm body had been kept (schemathesis sent one)."""
    token = registry.intake_tokens[registry.municipality_ids[0]]
    refused = host_admin.post("/api/v1/alarms", content=b"", headers={"Authorization": f"Bearer {token}",
                                                                      "Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text
    listed = host_admin.get("/api/v1/admin/quarantine")
    assert listed.status_code == 200, listed.text
    assert [item["body"] for item in listed.json() if item["id"] == refused.json()["quarantine_id"]] == [""]
