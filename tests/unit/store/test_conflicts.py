"""Which database errors the journal writes its batch again for: a deadlock's victim or a
serialisation conflict (nothing was written, and written again it goes through), nothing else."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from respons.store.db import lost_a_conflict


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _error(cls, sqlstate: str | None) -> DBAPIError:
    return cls("UPDATE devices …", None, _DriverError(sqlstate))


def test_a_deadlock_and_a_serialisation_failure_are_conflicts_to_write_again():
    assert lost_a_conflict(_error(OperationalError, "40P01"))
    assert lost_a_conflict(_error(OperationalError, "40001"))


def test_a_conflict_wrapped_by_a_unit_is_still_recognised():
    try:
        try:
            raise _error(OperationalError, "40P01")
        except DBAPIError as exc:
            raise RuntimeError("the unit failed") from exc
    except RuntimeError as wrapped:
        assert lost_a_conflict(wrapped)


def test_other_errors_are_not_written_again():
    assert not lost_a_conflict(_error(IntegrityError, "23505"))  # a unique violation: the unit's own
    assert not lost_a_conflict(_error(OperationalError, "57P01"))  # the server went away
    assert not lost_a_conflict(_error(OperationalError, None))  # SQLite
    assert not lost_a_conflict(ValueError("not a database error"))
