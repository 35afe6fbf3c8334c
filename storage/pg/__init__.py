"""The PostgreSQL backend of the storage contract (storage.contract): ``PgStore``, and the
schema it needs, created and upgraded by ``migrate(url)`` (Alembic revisions in migrations/),
inspected by ``schema_status(url)``. Only this package imports psycopg, psycopg_pool, Alembic
and SQLAlchemy.
"""
from .schema import HEAD_REVISION, migrate, schema_status
from .store import PgStore

__all__ = ["PgStore", "migrate", "schema_status", "HEAD_REVISION"]
