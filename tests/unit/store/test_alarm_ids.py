"""New alarms' ids (store/alarms.new_id): UUIDs of version 7, ordered by the time they were
made, so that inserting alarms appends to the indexes that lead with the id."""

from __future__ import annotations

import uuid

from respons.store.alarms import new_id


def test_ids_are_uuid7_in_canonical_text():
    made = new_id()
    parsed = uuid.UUID(made)
    assert parsed.version == 7 and str(parsed) == made


def test_ids_made_one_after_another_sort_in_that_order_and_never_repeat():
    made = [new_id() for _ in range(10_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
