"""What an EPJ's answer means for a document, and when to try again (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from respons.epj import delivery

OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}


def test_a_transaction_with_every_entry_stored_is_delivered():
    body = {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": "201 Created"}}, {"response": {"status": "200 OK"}}]}
    assert delivery.classify(200, body).verdict == delivery.DELIVERED


def test_an_answer_200_with_a_refused_entry_is_a_refusal_with_that_entrys_outcome():
    body = {"resourceType": "Bundle", "entry": [{"response": {"status": "201"}},
                                                {"response": {"status": "422", "outcome": OUTCOME}}]}
    result = delivery.classify(200, body)
    assert (result.verdict, result.outcome, result.error) == (delivery.REFUSED, OUTCOME, "an entry was refused with 422")


@pytest.mark.parametrize("status", [401, 408, 429, 500, 502, 503, 504])
def test_a_token_to_renew_a_busy_or_broken_server_is_tried_again(status):
    assert delivery.classify(status, OUTCOME).verdict == delivery.RETRY


@pytest.mark.parametrize("status", [400, 403, 404, 409, 412, 422])
def test_any_other_4xx_is_a_refusal_kept_with_the_servers_outcome(status):
    result = delivery.classify(status, OUTCOME)
    assert (result.verdict, result.outcome, result.status_code) == (delivery.REFUSED, OUTCOME, status)


def test_no_answer_is_tried_again_and_says_why():
    result = delivery.classify(None, None, "ConnectError: refused")
    assert (result.verdict, result.error) == (delivery.RETRY, "ConnectError: refused")


def test_tries_come_ten_seconds_after_the_first_failure_doubling_to_at_most_an_hour():
    waits = [delivery.next_attempt_in(n) for n in range(1, 12)]
    assert waits[:4] == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert waits[-1] == timedelta(hours=1) and waits == sorted(waits)
