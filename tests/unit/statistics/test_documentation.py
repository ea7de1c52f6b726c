"""Documentation completeness from the outbox's facts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from respons.statistics.documentation import TARGET, DocumentFact, Documentation, documentation

CLOSED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def fact(delivered_after: timedelta | None = None, state: str | None = "delivered", failed: bool = False):
    return DocumentFact(CLOSED, None if delivered_after is None else CLOSED + delivered_after, state, failed)


def test_each_closed_alarm_is_counted_once_by_how_it_reached_the_record():
    figures = documentation([
        fact(timedelta(seconds=3)), fact(TARGET),  # on time (the target included)
        fact(TARGET + timedelta(seconds=1)),  # later
        # An addendum's newer version still waiting: the record was reached when the first came.
        fact(timedelta(seconds=20), state="waiting", failed=True),
        fact(None, "refused"), fact(None, "waiting", failed=True), fact(None, "waiting"),
        fact(None, "not_documented"), fact(None, None),
    ])
    assert figures == Documentation(closed=9, delivered_within_target=3, delivered_later=1, refused=1, failing=1,
                                    waiting=1, not_documented=2)
    assert figures.share_within_target == 3 / 9


def test_no_closed_alarm_has_no_share():
    assert documentation([]).share_within_target is None
