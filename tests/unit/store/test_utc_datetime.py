"""UTCDateTime's own way to SQLite's text and back (store/types.py): the very text SQLAlchemy's
SQLite DATETIME would write, so stored times and the times a query compares them to stay
ordered, and the same aware UTC datetimes read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import DateTime, create_engine

from respons.store import types
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


@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                             timezones=st.sampled_from([timezone.utc, ZoneInfo("Europe/Oslo")])), max_size=30))
def test_a_time_written_again_gets_its_own_text(moments):
    # The texts of times already written are kept: a later time, equal or not, in any zone,
    # must still get the text of its own instant.
    writer = UTCDateTime().bind_processor(SQLITE)
    for moment in moments + moments[::-1]:
        assert writer(moment) == _SQLALCHEMYS(UTCDateTime().process_bind_param(moment, SQLITE))


def test_the_repeated_autumn_hour_in_oslo_is_two_hours_of_text():
    # Same zone, same wall clock: Python calls these equal (fold is ignored), an hour apart.
    oslo = ZoneInfo("Europe/Oslo")
    first, second = datetime(2026, 10, 25, 2, 30, tzinfo=oslo), datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=oslo)
    writer = UTCDateTime().bind_processor(SQLITE)
    assert first == second
    assert (writer(first), writer(second), writer(first)) == (
        "2026-10-25 00:30:00.000000", "2026-10-25 01:30:00.000000", "2026-10-25 00:30:00.000000")


def test_the_kept_texts_are_shared_by_every_column_and_stay_few():
    # One table for all processors: the instant written as received_at is found again for
    # the events' "at".
    types._TEXTS.clear()
    moment = datetime(2026, 12, 5, 6, 0, 0, 1, tzinfo=timezone.utc)
    UTCDateTime().bind_processor(SQLITE)(moment)
    assert types._TEXTS == {moment: "2026-12-05 06:00:00.000001"}
    assert UTCDateTime().bind_processor(SQLITE)(moment) == "2026-12-05 06:00:00.000001"
    writer = UTCDateTime().bind_processor(SQLITE)
    start = datetime(2026, 12, 5, tzinfo=timezone.utc)
    texts = [writer(start + timedelta(seconds=i)) for i in range(3 * types._TEXTS_KEPT)]
    assert texts[-1] == "2026-12-05 03:24:47.000000" and len(set(texts)) == 3 * types._TEXTS_KEPT
    assert len(types._TEXTS) <= types._TEXTS_KEPT


def test_none_stays_none_and_naive_is_refused():
    assert ours(None) is None and ours_back(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 4, 10, 0))


from sqlalchemy.dialects import postgresql  # noqa: E402  (the psycopg dialect, no connection)

POSTGRESQL = postgresql.dialect()
pg_in = UTCDateTime().bind_processor(POSTGRESQL)
pg_out = UTCDateTime().result_processor(POSTGRESQL, None)
driver_zones = st.one_of(zones, st.sampled_from([ZoneInfo("Etc/UTC"), ZoneInfo("Europe/Oslo")]))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=driver_zones))
def test_postgresql_values_are_sqlalchemys_both_ways(moment):
    theirs_in = UTCDateTime().process_bind_param(moment, POSTGRESQL)
    theirs_out = UTCDateTime().process_result_value(moment, POSTGRESQL)
    # The same instant (compared as timestamps: an aware time in a DST fold compares unequal
    # across zones by Python's rules, PEP 495), in timezone.utc.
    assert pg_in(moment) == theirs_in and pg_in(moment).timestamp() == moment.timestamp()
    assert pg_out(moment) == theirs_out and pg_out(moment).timestamp() == moment.timestamp()
    assert pg_in(moment).tzinfo is timezone.utc and pg_out(moment).tzinfo is timezone.utc


def test_postgresql_none_stays_none_and_naive_is_refused_in_and_read_as_utc_out():
    assert pg_in(None) is None and pg_out(None) is None
    with pytest.raises(ValueError, match="naive"):
        pg_in(datetime(2026, 12, 4, 10, 0))
    assert pg_out(datetime(2026, 12, 4, 10, 0)) == datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)
