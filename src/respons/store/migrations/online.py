"""Index changes on the tables the intake writes, made without stopping it (PostgreSQL).

A plain ``CREATE INDEX`` holds a SHARE lock on its table until the index is built, and
``DROP INDEX`` an ACCESS EXCLUSIVE one, which also waits behind any long transaction with
every new write queued behind it: on ``alarms`` that is every alarm of a rolling upgrade
(docs/operations.md, "Upgrades") waiting for the migration. ``CONCURRENTLY`` lets the writes
go on, and must run outside a transaction: the migrations before it are committed first
(env.py runs each migration in a transaction of its own). SQLite has one writer and changes
the index inside the migration's transaction, as before.

If a concurrent build fails half-way, PostgreSQL keeps the index marked invalid and the next
``respons migrate`` stops at "already exists": drop that index and migrate again.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from alembic import op


@contextmanager
def outside_transaction() -> Iterator[None]:
    """Autocommit on PostgreSQL, for ``postgresql_concurrently=True``; nothing on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            yield
    else:
        yield
