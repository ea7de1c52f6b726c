"""Index changes on the tables the intake writes, made without stopping it (PostgreSQL).

A plain ``CREATE INDEX`` holds a SHARE lock on its table until the index is built, and
``DROP INDEX`` an ACCESS EXCLUSIVE one, which also waits behind any long transaction with
every new write queued behind it: on ``alarms`` that is every alarm of a rolling upgrade
(docs/operations.md, "Upgrades") waiting for the migration. ``CONCURRENTLY`` lets the writes
go on, and must run outside a transaction, so what the migration did before it is committed
first (env.py gives each migration a transaction of its own).

A migration that fails half-way is then not rolled back as a whole: run again, it must pass
over what is already done. So on PostgreSQL these helpers can be repeated — an index is
built after dropping whatever a failed build left under its name (PostgreSQL keeps it,
marked invalid), and dropped only if it exists — and an index is replaced by building the
new one first, so that the table is never without one (a storm's members are looked up
through it while the upgrade runs). SQLite has one writer: its migration is one
transaction, and the helpers are plain CREATE and DROP INDEX.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from alembic import op


def postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


@contextmanager
def _outside_transaction() -> Iterator[None]:
    with op.get_context().autocommit_block():
        yield


def build_index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    """CREATE INDEX, concurrently on PostgreSQL (after dropping a failed build's leftover)."""
    if not postgres():
        op.create_index(name, table, columns, **kw)
        return
    with _outside_transaction():
        op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)
        op.create_index(name, table, columns, postgresql_concurrently=True, **kw)


def drop_index(name: str, table: str) -> None:
    """DROP INDEX, concurrently on PostgreSQL and only if it is still there."""
    if not postgres():
        op.drop_index(name, table_name=table)
        return
    with _outside_transaction():
        op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)


def rebuild_index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    """Replace the index ``name`` by a new definition: on PostgreSQL built under another name,
    then the old one dropped and the new one renamed (a rename takes only a brief lock that
    lets writes go on)."""
    if not postgres():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, **kw)
        return
    building = f"{name}_new"
    build_index(building, table, columns, **kw)
    drop_index(name, table)
    with _outside_transaction():
        op.execute(f"ALTER INDEX {building} RENAME TO {name}")
