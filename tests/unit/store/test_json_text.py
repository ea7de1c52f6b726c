"""The JSON columns' text (store/db.json_text, orjson): the same JSON as json.dumps writes, for
every value json.dumps takes."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from respons.store.db import json_text

scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False), st.text())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(), st.integers(-1000, 1000)), inner, max_size=5)), max_leaves=20)


@given(values)
def test_reads_back_as_what_json_dumps_wrote(value):
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_text_is_compact_utf8_and_integer_keys_become_text():
    assert json_text({"sted": "Tromsø", 7: [1, 2.5, None, True]}) == '{"sted":"Tromsø","7":[1,2.5,null,true]}'


def test_an_integer_beyond_64_bits_is_written_as_json_dumps_writes_it():
    assert json_text({"big": 10**30}) == json.dumps({"big": 10**30})
