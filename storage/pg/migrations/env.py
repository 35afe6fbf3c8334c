"""Alembic environment of the PostgreSQL backend, configured by storage.pg.schema (no .ini).

Runs online only, on the URL in ``config.attributes["url"]``, in one transaction (PostgreSQL
has transactional DDL: a migration that fails leaves the previous schema) that first takes a
transaction-scoped advisory lock, so two hosts running ``flask init`` at once take turns: the
second one finds the schema already at the head and does nothing. The revision found before
and the one reached are left in ``config.attributes`` for storage.pg.migrate to report.
"""
from alembic import context
from sqlalchemy import create_engine, pool, text

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.attributes["url"], poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=None)
            with context.begin_transaction():
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": config.attributes["lock_key"]})
                migration = context.get_context()
                config.attributes["from_revision"] = migration.get_current_revision()
                context.run_migrations()
                config.attributes["to_revision"] = migration.get_current_revision()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("Taizhang migrations run online only (storage.pg.migrate)")
run_migrations_online()
