"""A message's life and what providers' answers mean for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from respons.messages import rules


def test_retries_start_after_two_seconds_and_never_wait_more_than_a_minute():
    waits = [rules.next_attempt_in(n) for n in range(1, 10)]
    assert waits[:4] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert max(waits) == timedelta(seconds=60) and waits == sorted(waits)


@pytest.mark.parametrize("status, verdict", [
    (0x00, rules.SENT_OK), (0x58, rules.RETRY), (0x14, rules.RETRY), (0x08, rules.RETRY),
    (0x0B, rules.REFUSED), (0x0A, rules.REFUSED), (0x45, rules.RETRY),
])
def test_smpp_answers(status, verdict):
    assert rules.smpp_verdict(status) == verdict


@pytest.mark.parametrize("status, verdict", [
    (200, rules.SENT_OK), (201, rules.SENT_OK), (429, rules.RETRY), (503, rules.RETRY), (408, rules.RETRY),
    (None, rules.RETRY), (400, rules.REFUSED), (401, rules.REFUSED), (404, rules.REFUSED),
])
def test_http_answers(status, verdict):
    assert rules.http_verdict(status) == verdict


def test_receipts_name_final_states_and_pass_over_intermediate_ones():
    assert rules.receipt_state("DELIVRD") == rules.DELIVERED
    assert rules.receipt_state("delivered") == rules.DELIVERED
    assert rules.receipt_state("UNDELIV") == rules.FAILED
    assert rules.receipt_state("EXPIRED") == rules.EXPIRED
    assert rules.receipt_state("ENROUTE") is None and rules.receipt_state("ACCEPTD") is None


def test_a_split_sms_is_delivered_only_when_every_part_is_and_failed_when_one_part_fails():
    D, F, E = rules.DELIVERED, rules.FAILED, rules.EXPIRED
    assert rules.combined({1: {D}}, 2) is None
    assert rules.combined({1: {D}, 2: {D}}, 2) == D
    assert rules.combined({1: {D}, 2: {F}}, 2) == F
    assert rules.combined({1: {E}}, 3) == E
    # Part 1 sent twice (two receipts), part 2 never: not delivered.
    assert rules.combined({1: {D, D}}, 2) is None
    # A part that failed once and arrived when sent again is delivered.
    assert rules.combined({1: {F, D}, 2: {D}}, 2) == D


def test_the_allow_list_admits_only_its_prefixes():
    assert rules.allowed("+4791234567", None)
    assert rules.allowed("+4740000001", ("+4740000001",))
    assert rules.allowed("+4799123456", ("+4799",))
    assert not rules.allowed("+4791234567", ("+4740000001", "+4799"))
