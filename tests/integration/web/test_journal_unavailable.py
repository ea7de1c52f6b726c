"""A journal that did not commit is answered by one handler (web/unavailable.py), and each
route answers as it always has: the status, the ``error`` code and the headers clients
branch on."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from fastapi.testclient import TestClient

from respons.domain.access import Role
from respons.settings import Settings
from respons.store.journal import JournalUnavailable
from respons.web.app import create_app
from tests.factories import add_user, log_in

FAILURE = "the database did not commit (read_only)"


@pytest.fixture
def client(migrated_url, clock):
    app = create_app(Settings(database_url=migrated_url, cookie_secure=False), clock, run_timers=False)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def _journal_fails(client) -> None:
    """Every unit of work from now on gets what a failed COMMIT gives its sender."""

    async def run(work, **_):
        raise JournalUnavailable("read_only")

    def submit(work, **_):  # the batch-aware intake (intake/batches.py) submits and waits
        failed: Future = Future()
        failed.set_exception(JournalUnavailable("read_only"))
        return failed

    client.app.state.runtime.journal.run = run
    client.app.state.runtime.journal.submit = submit


def _operator(client, engine, clock) -> dict[str, str]:
    return log_in(client, add_user(engine, "olga", [(Role.OPERATOR, None)]), clock)


def test_intake_says_nothing_was_stored_with_retry_after(client, registry):
    _journal_fails(client)
    token = registry.intake_tokens[registry.municipality_ids[0]]
    answer = client.post("/api/v1/alarms", headers={"Authorization": f"Bearer {token}"},
                         json={"device": registry.device_identities[0], "type": "button_press",
                               "occurred_at": "2026-11-23T01:59:58Z"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json() == {"error": "journal_unavailable",
                             "message": f"Nothing was stored; retry the same request. ({FAILURE})"}


def test_intake_keeping_a_refused_body_says_the_same(client, registry):
    _journal_fails(client)
    token = registry.intake_tokens[registry.municipality_ids[0]]
    answer = client.post("/api/v1/alarms", headers={"Authorization": f"Bearer {token}"}, content=b"{not json")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json()["error"] == "journal_unavailable"


def test_an_operators_action_says_nothing_changed(client, engine, registry, clock):
    headers = _operator(client, engine, clock)
    _journal_fails(client)
    answer = client.post("/api/v1/alarms/some-alarm/answer", headers=headers)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json() == {"error": "journal_unavailable", "message": f"Nothing changed; retry. ({FAILURE})"}


def test_log_in_over_the_api_says_it_is_not_possible_now(client, engine, clock):
    add_user(engine, "olga", [(Role.OPERATOR, None)])
    _journal_fails(client)
    answer = client.post("/api/v1/auth/login", json={"username": "olga", "password": "x" * 12})
    assert answer.status_code == 503 and "Retry-After" not in answer.headers
    assert answer.json() == {"error": "journal_unavailable",
                             "message": f"Log-in is not possible right now; retry. ({FAILURE})"}


def test_a_deviation_report_keeps_its_own_code(client, engine, registry, clock):
    headers = _operator(client, engine, clock)
    _journal_fails(client)
    answer = client.post("/api/v1/deviations", headers=headers,
                         json={"municipality_id": registry.municipality_ids[0], "category": "technical_failure",
                               "title": "Alarm kom ikke fram"})
    assert answer.status_code == 503 and "Retry-After" not in answer.headers
    assert answer.json() == {"error": "unavailable", "message": FAILURE}


def test_a_route_without_its_own_answer_answers_as_for_any_outage(client, engine, registry, clock):
    headers = _operator(client, engine, clock)
    _journal_fails(client)
    answer = client.post("/api/v1/auth/logout", headers=headers)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.json()["error"] == "database_unavailable" and answer.json()["reason"] == "read_only"


def test_a_person_gets_the_error_page_in_their_language(client, engine, registry, clock):
    headers = _operator(client, engine, clock)
    client.cookies.set("respons_lang", "en")
    _journal_fails(client)
    page = client.post("/console/alarms/some-alarm/answer", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert "text/html" in page.headers["content-type"]
    assert "The database did not answer" in page.text
