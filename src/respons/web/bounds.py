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

from typing import Annotated

from annotated_types import Ge, Le

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
SMALLINT_MAX = 2**15 - 1
SMALLINT_MIN = -(2**15)

DbId = Annotated[int, Ge(1), Le(INT_MAX)]
DbInt = Annotated[int, Ge(INT_MIN), Le(INT_MAX)]
DbSmallInt = Annotated[int, Ge(SMALLINT_MIN), Le(SMALLINT_MAX)]
