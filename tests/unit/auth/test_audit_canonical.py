"""The canonical form the audit hash chain is computed over (no database)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from respons.auth.audit import GENESIS_HASH, canonical, record_hash

AT = datetime(2026, 11, 23, 2, 0, 5, 123456, tzinfo=timezone.utc)


def a_record(**changes) -> dict:
    record = {
        "seq": 7,
        "at": AT,
        "actor": "user:12",
        "action": "read_recipient",
        "municipality_id": 3,
        "recipient_id": 41,
        "alarm_id": None,
        "purpose": "alarm follow-up",
        "details": {"b": 1, "a": [1, "x"]},
        "prev_hash": "ab" * 32,
    }
    record.update(changes)
    return record


def test_the_exact_bytes_an_auditor_must_reproduce():
    # Pinned byte for byte: docs/audit.md promises this form to outside auditors.
    expected = (
        '{"action":"read_recipient","actor":"user:12","alarm_id":null,'
        '"at":"2026-11-23T02:00:05.123456Z","details":{"a":[1,"x"],"b":1},'
        '"municipality_id":3,"prev_hash":"' + "ab" * 32 + '","purpose":"alarm follow-up",'
        '"recipient_id":41,"seq":7}'
    ).encode("utf-8")
    assert canonical(a_record()) == expected
    assert record_hash(a_record()) == hashlib.sha256(expected).hexdigest()


def test_deterministic_and_independent_of_key_order():
    record = a_record()
    reversed_record = dict(reversed(list(record.items())))
    reversed_record["details"] = {"a": [1, "x"], "b": 1}
    assert canonical(record) == canonical(a_record())
    assert canonical(reversed_record) == canonical(record)


def test_the_stored_hash_and_other_keys_are_not_part_of_the_content():
    record = a_record()
    assert canonical({**record, "hash": "f" * 64, "extra": 1}) == canonical(record)


def test_prev_hash_is_part_of_the_content_so_the_records_are_chained():
    assert record_hash(a_record(prev_hash=GENESIS_HASH)) != record_hash(a_record(prev_hash="ab" * 32))


@pytest.mark.parametrize("field, value", [
    ("seq", 8), ("actor", "user:13"), ("action", "export"), ("municipality_id", None),
    ("recipient_id", 42), ("alarm_id", "a1"), ("purpose", None), ("details", {"b": 2, "a": [1, "x"]}),
    ("at", AT + timedelta(microseconds=1)),
])
def test_every_content_field_changes_the_hash(field, value):
    assert record_hash(a_record(**{field: value})) != record_hash(a_record())


def test_norwegian_letters_are_written_as_utf8_not_escapes():
    record = a_record(actor="user:Bjørn", purpose="Tilsyn på Ærøy", details={"merknad": "Åse fikk besøk"})
    first = canonical(record)
    assert "Tilsyn på Ærøy".encode("utf-8") in first
    assert b"\\u" not in first
    assert canonical(dict(record)) == first
    assert record_hash(record) == hashlib.sha256(first).hexdigest()


def test_time_is_utc_with_six_fraction_digits_and_z():
    oslo = AT.astimezone(ZoneInfo("Europe/Oslo"))  # same instant, +01:00
    assert b'"at":"2026-11-23T02:00:05.123456Z"' in canonical(a_record(at=oslo))
    assert b'"at":"2026-11-23T02:00:05.000000Z"' in canonical(a_record(at=AT.replace(microsecond=0)))


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="naive"):
        canonical(a_record(at=AT.replace(tzinfo=None)))


def test_nan_is_refused_because_json_has_no_such_value():
    with pytest.raises(ValueError):
        canonical(a_record(details={"x": float("nan")}))
