"""The password hashing the suite makes cheap (tests/passwords.py) cannot become what an
installation runs: nothing in Respons switches the parameters, and a hash made at other
parameters is upgraded at its next log-in."""

from __future__ import annotations

import ast
from pathlib import Path

import respons
from respons.auth import passwords
from tests.passwords import CHEAP

SOURCE = Path(respons.__file__).parent


def test_nothing_in_respons_switches_the_hashing_parameters():
    callers = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name == "use_hasher":
                    callers.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert callers == []


def test_a_cheap_hash_is_upgraded_under_the_production_parameters(production_password_hashing):
    cheap = CHEAP.hash("correct horse battery")
    assert passwords.verify_password(cheap, "correct horse battery")
    assert passwords.needs_rehash(cheap)
    upgraded = passwords.hash_password("correct horse battery")
    assert not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, "correct horse battery")
    assert not passwords.verify_password(upgraded, "wrong horse battery")


def test_the_suite_hashes_cheaply_outside_that_fixture():
    assert not passwords.needs_rehash(CHEAP.hash("correct horse battery"))
