import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respons.domain.identity import InvalidNationalId, parse_national_id, synthetic_national_id
from respons.domain.phones import InvalidPhoneNumber, normalise_phone

TODAY = date(2026, 11, 23)


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY), st.integers(0, 2**32))
def test_synthetic_numbers_are_valid_synthetic_and_keep_the_birth_date(birth, seed):
    number = synthetic_national_id(birth, random.Random(seed))
    parsed = parse_national_id(number, today=TODAY)
    assert parsed.synthetic
    assert parsed.birth_date == birth
    assert 81 <= int(number[2:4]) <= 92  # month + 80: never a real person's number


def test_real_number_is_accepted_and_not_synthetic():
    # The example number from python-stdnum's documentation.
    parsed = parse_national_id("151086 95088", today=TODAY)
    assert not parsed.synthetic
    assert parsed.birth_date == date(1986, 10, 15)


@pytest.mark.parametrize(
    "number, problem",
    [
        ("1510869508", "exactly 11 digits"),
        ("15108695077", "check digits"),
        ("abcdefghijk", "exactly 11 digits"),
        # Digits to str.isdigit() but not numbers anyone can use: refused, not a 500 or a
        # second registration of the same person under another spelling.
        ("²7854006843", "exactly 11 digits"),
        ("\u0661\u0667\u0668\u0665\u0664\u0660\u0660\u0666\u0668\u0664\u0663", "exactly 11 digits"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(number, problem):
    with pytest.raises(InvalidNationalId, match=problem):
        parse_national_id(number, today=TODAY)


def test_birth_date_in_the_future_is_refused():
    number = synthetic_national_id(date(2026, 12, 24), random.Random(1))
    with pytest.raises(InvalidNationalId, match="future"):
        parse_national_id(number, today=TODAY)
    assert parse_national_id(number, today=date(2027, 1, 1)).synthetic


def test_phone_numbers_are_stored_as_e164():
    assert normalise_phone("912 34 567") == "+4791234567"
    assert normalise_phone("+46 70 123 45 67") == "+46701234567"


@pytest.mark.parametrize("raw", ["123", "not a number", "+47 000"])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(raw)
