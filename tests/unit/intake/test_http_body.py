"""intake/http.parse_body: whatever it accepts, every database can store and give back."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from respons.intake.http import parse_body

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=30,
)


def storable(value) -> bool:
    """What PostgreSQL's jsonb and a UTF-8 answer need: no NUL, no lone surrogate, finite numbers."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    return "\x00" not in text and "\\u0000" not in text


@settings(max_examples=300)
@given(json_values)
def test_accepted_json_is_storable_and_refused_json_says_why(value):
    body = json.dumps(value).encode()  # ensure_ascii: surrogates and NUL arrive as escapes
    parsed = parse_body(body, max_depth=32)
    if parsed.problems:
        assert all(p["field"] and p["problem"] for p in parsed.problems)
        for p in parsed.problems:  # the answer itself must be encodable
            (p["field"] + p["problem"]).encode("utf-8")
            assert "\x00" not in p["field"] + p["problem"]
    else:
        assert parsed.value == value and storable(parsed.value)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_get_a_value_or_problems_never_an_exception(body):
    parsed = parse_body(body, max_depth=32)
    assert (parsed.value is not None) or parsed.problems or body.strip() in (b"null",)


def test_depth_is_counted_from_the_outer_object():
    assert not parse_body(b"[" * 32 + b"]" * 32, max_depth=32).problems
    assert parse_body(b"[" * 33 + b"]" * 33, max_depth=32).problems[0]["problem"] == "JSON nested deeper than 32 levels"
    assert parse_body(b"[" * 100000 + b"]" * 100000, max_depth=32).problems[0]["problem"].startswith("JSON nested deeper")


def test_a_valid_surrogate_pair_is_one_character_and_fine():
    assert parse_body(b'{"a": "\\ud83d\\ude00"}', max_depth=32).value == {"a": "\U0001F600"}
