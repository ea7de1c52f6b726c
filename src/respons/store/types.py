"""Column types shared by the tables."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so the value is stored
    as naive UTC text and given its zone back on the way out. Naive input is refused:
    a naive datetime is a bug waiting for the next DST change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        value = _to_utc(value)
        if value is not None and dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            if self.impl_instance.dialect_impl(dialect).bind_processor(dialect) is not None:
                return super().bind_processor(dialect)
            # The driver takes the aware datetime itself; only the UTC conversion is left, done
            # without TypeDecorator's wrapping (a batch of heartbeats binds two times a device).
            return _to_utc

        # The value straight to the text SQLite stores, in one step: the same text as
        # SQLAlchemy's SQLite DATETIME writes ("2026-12-04 10:00:00.000000", so text
        # comparisons keep ordering by time), for a sixth of the CPU (a batch of alarms
        # formats a dozen datetimes per alarm).
        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not timezone.utc:
                return _to_utc(value).isoformat(" ", "microseconds")[:26]  # without its "+00:00"
            text = _TEXTS.get(value)
            if text is None:
                if len(_TEXTS) >= _TEXTS_KEPT:
                    _TEXTS.clear()
                text = _TEXTS[value] = value.isoformat(" ", "microseconds")[:26]
            return text

        return to_text

    def result_processor(self, dialect, coltype):
        if dialect.name != "sqlite":
            if self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype) is not None:
                return super().result_processor(dialect, coltype)
            # The driver gives aware datetimes in the session's zone (the server's default,
            # often Etc/UTC as a ZoneInfo): the same instant in timezone.utc, in one step
            # (reading 300 devices' three times through TypeDecorator was a sixth of a
            # heartbeat batch's Python).
            return _from_stored
        theirs = super().result_processor(dialect, coltype)

        # The text read back in one step (SQLAlchemy's path, its SQLite DATETIME's parsing
        # and then process_result_value, was a tenth of a heartbeat's CPU for three columns).
        def from_text(value):
            if value is None:
                return None
            if isinstance(value, str):
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    pass
                else:
                    # Text this type wrote is naive UTC; text with an offset (written by hand
                    # or another tool) means what it says.
                    return _from_stored(moment)
            return theirs(value) if theirs else value

        return from_text

    def process_result_value(self, value: datetime | None, dialect):
        return _from_stored(value)


# The SQLite text of UTC times written lately, for every UTCDateTime column: an alarm writes
# the same instant five times (received and queued on its row, two events, its deadline's
# creation), each text made once. A dict's reads and writes are atomic, so the journal and the
# web threads share it. Only UTC times are kept: two Oslo times of the autumn's repeated hour
# compare equal (same zone: the wall clock is compared, ``fold`` ignored) but are an hour apart.
_TEXTS: dict[datetime, str] = {}
_TEXTS_KEPT = 4096


def _to_utc(value: datetime | None) -> datetime | None:
    """A time on its way in, in timezone.utc; a naive one is refused."""
    if value is None or value.tzinfo is timezone.utc:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
    return value.astimezone(timezone.utc)


def _from_stored(value: datetime | None) -> datetime | None:
    """A time on its way out, in timezone.utc; a naive one is UTC (SQLite keeps no zone)."""
    if value is None or value.tzinfo is timezone.utc:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
