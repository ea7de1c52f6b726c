"""The OpenAPI document promises what the API answers: every error in the one shape, and
every integer it takes bounded by the column it ends up in (web/errors.py, web/bounds.py)."""

from __future__ import annotations

from typing import Any

import pytest

from respons.settings import Settings
from respons.web.app import create_app
from respons.web.bounds import INT_MAX


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    # openapi() needs no database: the app is never started.
    return create_app(Settings(database_url="sqlite:///unused.db"), run_timers=False).openapi()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def integers(schema, node, where, seen=()):
    """Every integer schema reachable from ``node``, with where it was found."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen = (*seen, name)
        node = resolve(schema, node)
    if node.get("type") == "integer":
        yield where, node
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            yield from integers(schema, option, where, seen)
    for name, child in node.get("properties", {}).items():
        yield from integers(schema, child, f"{where}.{name}", seen)
    if isinstance(node.get("items"), dict):
        yield from integers(schema, node["items"], f"{where}[]", seen)


def test_every_error_response_is_documented_in_the_one_shape(schema):
    wrong = []
    for name, operation in operations(schema):
        responses = operation["responses"]
        for code in ("500", "503"):
            if code not in responses:
                wrong.append(f"{name}: {code} not documented")
        if operation.get("security") and not {"401", "403"} <= set(responses):
            wrong.append(f"{name}: 401/403 not documented")
        if operation.get("requestBody") and not {"400", "422"} <= set(responses):
            wrong.append(f"{name}: 400/422 not documented")
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
                if not ref.endswith("/ErrorOut"):
                    wrong.append(f"{name}: {code} is not ErrorOut")
    assert wrong == []
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert {"error", "message"} <= set(schema["components"]["schemas"]["ErrorOut"]["required"])


def test_every_integer_the_api_takes_is_bounded(schema):
    unbounded = []
    for name, operation in operations(schema):
        found = [(f"{p['in']} {p['name']}", s) for p in operation.get("parameters", [])
                 for _, s in integers(schema, p["schema"], p["name"])]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            found += [(f"body {where}", s) for where, s in integers(schema, body, "")]
        for where, node in found:
            if node.get("maximum", INT_MAX + 1) > INT_MAX or "minimum" not in node:
                unbounded.append(f"{name}: {where}")
    assert unbounded == []


def strings(schema, node, where, seen=()):
    """Every free-text string schema reachable from ``node`` (not enums, dates or binary)."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen = (*seen, name)
        node = resolve(schema, node)
    if node.get("type") == "string" and "enum" not in node and "format" not in node and "const" not in node:
        yield where, node
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            yield from strings(schema, option, where, seen)
    for name, child in node.get("properties", {}).items():
        yield from strings(schema, child, f"{where}.{name}", seen)
    if isinstance(node.get("items"), dict):
        yield from strings(schema, node["items"], f"{where}[]", seen)


# The intake is hardened on its own terms (it quarantines what it refuses, docs/protocols.md).
OWN_TEXT_RULES = {"POST /api/v1/alarms", "POST /api/v1/doses"}


def test_every_text_the_api_takes_refuses_nul(schema):
    """PostgreSQL cannot store NUL in text: each string the API takes says it refuses it
    (``bounds.Text``, or a pattern of its own that cannot match NUL)."""
    loose = []
    for name, operation in operations(schema):
        if name in OWN_TEXT_RULES:
            continue
        found = [(f"{p['in']} {p['name']}", s) for p in operation.get("parameters", [])
                 for _, s in strings(schema, p["schema"], p["name"])]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            found += [(f"body {where}", s) for where, s in strings(schema, body, "")]
        loose += [f"{name}: {where}" for where, node in found if "pattern" not in node]
    assert loose == []
