"""Norwegian national identity numbers (fødselsnummer, D-number) and synthetic ones.

python-stdnum knows the check digits and the century rules, but rejects *synthetic*
numbers: the test numbers that the Norwegian Tax Administration hands out have
month + 80, so they can never belong to a real person. Respons must accept them (all
demo and test people use them) and must be able to tell them apart, so that a demo
database can be shown to be free of real people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from stdnum.exceptions import ValidationError
from stdnum.no import fodselsnummer as fnr

SYNTHETIC_MONTH_OFFSET = 80


class InvalidNationalId(ValueError):
    """``reason`` is stable (length, check_digits, birth_date, future) for translated messages."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NationalId:
    number: str
    birth_date: date
    synthetic: bool


def parse_national_id(raw: str, *, today: date) -> NationalId:
    """Validate a national identity number; ``today`` rules out birth dates in the future."""
    number = fnr.compact(raw)
    # ASCII digits only: "²" or Arabic-Indic digits pass str.isdigit(), and then either fail in
    # the check-digit arithmetic or are stored as a second "number" for the same person.
    if len(number) != 11 or not (number.isascii() and number.isdigit()):
        raise InvalidNationalId("length", "A national identity number has exactly 11 digits.")
    if number[9] != fnr.calc_check_digit1(number) or number[10] != fnr.calc_check_digit2(number):
        raise InvalidNationalId("check_digits", "The check digits of the national identity number do not match.")
    month = int(number[2:4])
    synthetic = month > SYNTHETIC_MONTH_OFFSET
    as_real = number[:2] + f"{month - SYNTHETIC_MONTH_OFFSET:02d}" + number[4:] if synthetic else number
    try:
        birth_date = fnr.get_birth_date(as_real)
    except ValidationError as exc:
        raise InvalidNationalId("birth_date", f"The national identity number holds no valid birth date ({exc}).") from None
    if birth_date > today:
        raise InvalidNationalId("future", "The birth date in the national identity number is in the future.")
    return NationalId(number=number, birth_date=birth_date, synthetic=synthetic)


def synthetic_national_id(birth_date: date, rng: random.Random) -> str:
    """A valid synthetic number (month + 80) for someone born on ``birth_date``.

    Individual digits are drawn from the range the century rules assign to the
    birth year, and draws whose check digit would be 10 are skipped (no such number exists).
    """
    if 1900 <= birth_date.year <= 1999:
        low, high = 0, 499
    elif 2000 <= birth_date.year <= 2039:
        low, high = 500, 999
    else:
        raise ValueError("Synthetic numbers are generated for people born 1900–2039 only.")
    stem = f"{birth_date.day:02d}{birth_date.month + SYNTHETIC_MONTH_OFFSET:02d}{birth_date.year % 100:02d}"
    while True:
        nine = stem + f"{rng.randint(low, high):03d}"
        first = fnr.calc_check_digit1(nine)
        if len(first) != 1:
            continue
        second = fnr.calc_check_digit2(nine + first)
        if len(second) != 1:
            continue
        return nine + first + second
