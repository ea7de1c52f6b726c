"""Integers the API takes, bounded by the columns they end up in.

Python integers have no upper bound; the database's do. An id of 10^20 reached SQLite and
PostgreSQL and came back as an overflow (500). Every integer in a path, query or body is
therefore one of these types, so it is refused by validation (422 ``invalid_request``,
naming the field and its range) before any query runs, and the range is in the OpenAPI
document for clients to see.

- ``DbId``: a row id (``Integer`` primary key): 1 .. 2^31 - 1. Ids start at 1, so 0 and
  negative ids are refused too — they can never name a row.
- ``DbInt``: any other ``Integer`` column: -2^31 .. 2^31 - 1 (callers narrow it further
  where the domain knows better, e.g. a population is never negative).
- ``DbSmallInt``: a ``SmallInteger`` column: -2^15 .. 2^15 - 1.

The metadata is ``annotated_types`` constraints rather than ``Field``/``Path``/``Query``, so
one type works in a path, a query and a body alike.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, Field

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
SMALLINT_MAX = 2**15 - 1
SMALLINT_MIN = -(2**15)

DbId = Annotated[int, Ge(1), Le(INT_MAX)]
DbInt = Annotated[int, Ge(INT_MIN), Le(INT_MAX)]
DbSmallInt = Annotated[int, Ge(SMALLINT_MIN), Le(SMALLINT_MAX)]

# Statistics and reports cover the years the yearly report accepts. A day at the calendar's
# edge (0001-01-01, 9999-12-31) has a period whose start or end is not a datetime at all.
FIRST_REPORT_YEAR, LAST_REPORT_YEAR = 2000, 2100
ReportDate = Annotated[date, Ge(date(FIRST_REPORT_YEAR, 1, 1)), Le(date(LAST_REPORT_YEAR, 12, 31))]


# --- text ------------------------------------------------------------------------------------
#
# PostgreSQL refuses NUL in text ("text fields cannot contain NUL"), which reached the API as a
# 500; SQLite stores it, so the two databases would not even agree. A lone surrogate (JSON can
# carry "\ud800") cannot be encoded as UTF-8 for either. Every free-text input is therefore
# ``Text``: both are refused by validation (422 naming the field), and the OpenAPI document
# carries the rule as a pattern, so clients and schemathesis know it.

NO_NUL = "^[^\\x00]*$"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": NO_NUL})]
