"""UTCDateTime's own way to SQLite's text and back (store/types.py): the very text SQLAlchemy's
SQLite DATETIME would write, so stored times and the times a query compares them to stay
ordered, and the same aware UTC datetimes read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import DateTime, create_engine

from respons.store.types import UTCDateTime

SQLITE = create_engine("sqlite://").dialect
_SQLALCHEMYS = DateTime(timezone=True).dialect_impl(SQLITE).bind_processor(SQLITE)
ours = UTCDateTime().bind_processor(SQLITE)
_THEIRS_BACK = DateTime(timezone=True).dialect_impl(SQLITE).result_processor(SQLITE, None)
ours_back = UTCDateTime().result_processor(SQLITE, None)

zones = st.one_of(st.just(timezone.utc),
                  st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))))
moments = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones)


@given(moments)
def test_the_text_is_sqlalchemys(moment):
    assert ours(moment) == _SQLALCHEMYS(UTCDateTime().process_bind_param(moment, SQLITE))


@given(moments, moments)
def test_text_order_is_time_order(a, b):
    assert (ours(a) < ours(b)) == (a < b)


@given(moments)
def test_read_back_as_sqlalchemy_reads_it(moment):
    text = ours(moment)
    assert ours_back(text) == UTCDateTime().process_result_value(_THEIRS_BACK(text), SQLITE) == moment
    assert ours_back(text).tzinfo is timezone.utc


@pytest.mark.parametrize("text", ["2026-12-04 10:00:00", "2026-12-04", "2026-12-04T10:00:00.250000",
                                  "2026-12-04 10:00:00+02:00", "2026-12-04T10:00:00-05:30"])
def test_text_written_by_others_reads_as_sqlalchemy_reads_it(text):
    # CURRENT_TIMESTAMP's form, a date alone, an ISO "T", an offset (written by hand)
    assert ours_back(text) == UTCDateTime().process_result_value(_THEIRS_BACK(text), SQLITE)


def test_none_stays_none_and_naive_is_refused():
    assert ours(None) is None and ours_back(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 4, 10, 0))


def test_postgresql_keeps_sqlalchemys_processing():
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    moment = datetime(2026, 12, 4, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    processor = UTCDateTime().bind_processor(dialect)
    value = processor(moment) if processor else UTCDateTime().process_bind_param(moment, dialect)
    assert value == datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc) and value.tzinfo is timezone.utc
