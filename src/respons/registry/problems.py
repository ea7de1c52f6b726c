"""The registry engine's refusals in the reader's language.

The engine (``registry/service.py``) writes each problem in bokmål for the API, which answers
in bokmål whatever the language (docs/registry.md), and names it: a ``Problem``'s key and
parameters, a ``Conflict``'s code. The pages say the name with the words in
``registry/words.py`` (``admin.problem.<key>``, ``admin.conflict.<code>``); a unit test
(tests/unit/registry/test_problems.py) holds every name the engine gives to having both
languages, and the bokmål to being the engine's own text.

A problem the engine has not named (or named without words here) is shown as the engine
wrote it: better a bokmål sentence than a key, and the language scan catches it.
"""

from __future__ import annotations

from typing import Callable

from respons.registry import service
from respons.web import i18n, labels
from respons.registry import words# noqa: F401  (registers admin.problem.* and admin.conflict.*)

# Keys whose text names the field ("{label} må fylles ut"): the field's label on the form.
_LABELLED = {"required", "too_long"}


def _choice(t: Callable[..., str], key: str, code: str) -> str:
    """A valid choice by its name, never its code (the page has a select for these)."""
    match key:
        case "unknown_protocol":
            return labels.protocol(t, code)
        case "unknown_role":
            return t(f"admin.staff_role.{code}")
        case "municipality_role":
            return t(f"admin.municipality_role.{code}")
        case "categories":
            return t(f"category.{code}")
    return code


def problem_text(t: Callable[..., str], problem: service.Problem) -> str:
    key = f"admin.problem.{problem.key}"
    if problem.key is None or key not in i18n.CATALOGUE:
        return problem.text
    params = dict(problem.params)
    if "choices" in params:
        params["choices"] = ", ".join(_choice(t, problem.key, c) for c in params["choices"])
    if problem.key in _LABELLED:
        params["label"] = t(f"admin.field.{problem.field_name}")
    return t(key, **params)


def conflict_text(t: Callable[..., str], conflict: service.Conflict) -> str:
    key = f"admin.conflict.{conflict.code}"
    return t(key) if key in i18n.CATALOGUE else conflict.message
