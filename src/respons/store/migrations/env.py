"""Alembic environment: migrations run through the same engine setup as the server."""

from alembic import context

from respons.store.db import make_engine
from respons.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            # Each migration commits on its own: an index built CONCURRENTLY (migrations/online.py)
            # commits what came before it anyway, so the migrations before it are done for good.
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `respons migrate`.")
run_migrations_online()
