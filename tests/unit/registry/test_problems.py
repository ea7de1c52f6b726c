"""Every refusal the registry engine names has words in both languages, and the bokmål words
are the engine's own text (the API answers with that text; the pages with the words)."""

from __future__ import annotations

import ast
import inspect

import pytest

from respons.domain.identity import InvalidNationalId
from respons.registry import service
from respons.domain.dc09_keys import BadKey, parse_key
from respons.web import i18n
from respons.registry.problems import conflict_text, problem_text

NB, EN = i18n.translator("nb"), i18n.translator("en")


def _named_calls() -> list[tuple[str, ast.expr]]:
    """(key, the bokmål text's expression) of every ``problems.add(field, text, key, …)``."""
    found = []
    for node in ast.walk(ast.parse(inspect.getsource(service))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "problems"):
            assert len(node.args) >= 3, f"a problem without a name, line {node.lineno}: {ast.unparse(node)}"
            key = node.args[2]
            keys = [key] if not isinstance(key, ast.IfExp) else [key.body, key.orelse]
            for k in keys:
                if isinstance(k, ast.Constant):
                    found.append((k.value, node.args[1]))
    return found


def _conflict_codes() -> set[str]:
    codes = set()
    for node in ast.walk(ast.parse(inspect.getsource(service))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Conflict":
            codes.add(node.args[0].value)
    return codes


def test_every_problem_the_engine_gives_is_named_and_has_words():
    calls = _named_calls()
    assert len(calls) > 30
    keys = {key for key, _ in calls} | {f"national_id.{r}" for r in service._NATIONAL_ID_PROBLEMS}
    missing = sorted(k for k in keys if f"admin.problem.{k}" not in i18n.CATALOGUE)
    assert not missing, f"registry problems without words: {missing}"
    codes = _conflict_codes()
    assert codes and all(f"admin.conflict.{code}" in i18n.CATALOGUE for code in codes)


def test_the_bokmal_words_are_the_engines_text():
    """Where the engine writes a fixed sentence (or one with the field's label), the page's
    bokmål is the same sentence: a bokmål reader sees what the API says."""
    for key, text in _named_calls():
        nb = i18n.CATALOGUE[f"admin.problem.{key}"][0]
        if "{choices}" in nb:
            continue  # the engine lists codes ("operator, responder"); a page names them
        if isinstance(text, ast.Constant):
            assert nb == text.value, key
        elif isinstance(text, ast.JoinedStr):  # f"{label} må fylles ut"
            assert nb == ast.unparse(text)[2:-1], key
    for reason, text in service._NATIONAL_ID_PROBLEMS.items():
        assert NB(f"admin.problem.national_id.{reason}") == text
    assert NB("admin.problem.national_id") == service.national_id_problem(InvalidNationalId("other", "x"))
    for key, bad in (("dc09_key_length", "00"), ("dc09_key_hex", "Z" * 32)):
        with pytest.raises(BadKey) as refused:
            parse_key(bad)
        assert NB(f"admin.problem.{key}") == str(refused.value)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_a_problem_is_said_in_the_readers_language(language):
    t = i18n.translator(language)
    required = problem_text(t, service.Problem("family_name", "Etternavn må fylles ut", "required"))
    assert required == {"nb": "Etternavn må fylles ut", "en": "Family name must be filled in"}[language]
    too_long = problem_text(t, service.Problem("code", "Kode kan ha høyst 20 tegn", "too_long", {"max_length": 20}))
    assert too_long == {"nb": "Kode kan ha høyst 20 tegn", "en": "Code can have at most 20 characters"}[language]
    # Choices by their names, never their codes.
    role = problem_text(t, service.Problem("role", "Ukjent rolle; gyldige er operator, responder, technician",
                                           "unknown_role", {"choices": service.STAFF_ROLES}))
    assert "responder" not in role and t("admin.staff_role.responder") in role
    protocol = problem_text(t, service.Problem("protocol", "…", "unknown_protocol", {"choices": service.DEVICE_PROTOCOLS}))
    assert "sia_dc09" not in protocol and "SIA DC-09" in protocol
    duplicate = conflict_text(t, service.Conflict("duplicate_zone", "Kommunen har allerede en sone med denne koden."))
    assert duplicate == {"nb": "Kommunen har allerede en sone med denne koden.",
                         "en": "The municipality already has a zone with this code."}[language]


def test_an_unnamed_problem_is_shown_as_the_engine_wrote_it():
    assert problem_text(EN, service.Problem("x", "Noe er galt")) == "Noe er galt"
    assert problem_text(EN, service.Problem("x", "Noe er galt", "no_such_key")) == "Noe er galt"
    assert conflict_text(EN, service.Conflict("no_such_code", "Kolliderer")) == "Kolliderer"
