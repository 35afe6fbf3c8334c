"""Schema migrations of the PostgreSQL backend: ``migrate(url)`` and ``schema_status(url)``.

Why Alembic: the schema will change after deployments hold data (new columns, new indexes), on
several hosts against one server, and each change must be applied exactly once, in order, and
be recorded in the database itself. Alembic is the maintained tool for that (SQLAlchemy's
authors): numbered revisions in files under review, the applied revision stored in the
database (``alembic_version``), a programmatic API, and transactional DDL on PostgreSQL. It
does not make us use an ORM: migrations are raw SQL through ``op.execute``, and SQLAlchemy is
only Alembic's connection layer (``postgresql+psycopg://``). Nothing at run time imports it:
``PgStore`` compares ``alembic_version`` with ``HEAD_REVISION`` (a test keeps the two equal).

Two hosts may run ``flask --app app init`` at once: the migration holds a PostgreSQL advisory
lock (migrations/env.py), so the second waits and then finds nothing to do.
"""
from __future__ import annotations

import os

from ..errors import StorageError

# The newest revision in migrations/versions (tests/engine/test_pg.py checks it is Alembic's
# head). PgStore refuses a database at any other revision.
HEAD_REVISION = "0007"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
# The pg_advisory_xact_lock key held while migrating: any constant, the same on every host.
MIGRATION_LOCK_KEY = 7_273_265_301

MSG_CONNECT = "数据库连接失败,请稍后重试"
MSG_MIGRATE = "数据库结构升级失败"


def sqlalchemy_url(url: str) -> str:
    """postgresql://… (or postgres://…) as SQLAlchemy names the psycopg 3 driver."""
    scheme, rest = url.split("://", 1)
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError("a PostgreSQL URL must start with postgresql://")
    return f"postgresql+psycopg://{rest}"


def alembic_config(url: str):
    """An Alembic Config for ``url`` without any .ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["url"] = sqlalchemy_url(url)  # not in the ini options: no % escaping
    config.attributes["lock_key"] = MIGRATION_LOCK_KEY
    return config


def migrate(url: str) -> tuple[str | None, str]:
    """Bring the database at ``url`` to the latest schema: create every table on an empty
    database, apply the missing revisions to an older one, nothing when it is current.

    Returns (revision found, revision reached); the first is None on an empty database.
    Safe to run from several hosts at once. StorageError when the server cannot be reached
    or a migration fails (which then changed nothing)."""
    from alembic import command
    from sqlalchemy.exc import SQLAlchemyError

    import psycopg

    config = alembic_config(url)
    try:
        command.upgrade(config, "head")
    except (SQLAlchemyError, psycopg.Error) as exc:
        orig = getattr(exc, "orig", exc)
        if isinstance(orig, psycopg.OperationalError) and orig.sqlstate is None:
            raise StorageError(MSG_CONNECT) from exc
        raise StorageError(f"{MSG_MIGRATE}:{orig}") from exc
    return config.attributes.get("from_revision"), config.attributes["to_revision"]


def current_revision(conn) -> str | None:
    """The revision recorded in the database of a psycopg connection (None: no schema)."""
    from psycopg.rows import tuple_row

    cur = conn.cursor(row_factory=tuple_row)
    if not cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]:
        return None
    row = cur.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def schema_status(url: str) -> dict:
    """{"revision": the database's (None when empty), "head": HEAD_REVISION,
    "current": whether they are equal}. StorageError when the server cannot be reached."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            revision = current_revision(conn)
    except psycopg.Error as exc:
        raise StorageError(MSG_CONNECT) from exc
    return {"revision": revision, "head": HEAD_REVISION, "current": revision == HEAD_REVISION}
