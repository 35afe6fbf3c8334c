"""Storage: the one door to the database.

``open_store(database_url, data_dir)`` returns a ``Store`` (the contract in storage.contract):
``TinyStore`` on DATA_DIR/taizhang.db when no database URL is configured (the embedded
default), ``PgStore`` for ``postgresql://…``. Nothing outside this package imports tinydb or
psycopg; callers get plain dicts and the exceptions of storage.errors.
"""
from __future__ import annotations

import os

from .contract import KINDS, TABLES, Snapshot, Store
from .errors import (DraftConflict, DuplicateError, RestoreRefused, StorageError,
                     SubmissionConflict)
from .tiny import DB_FILENAME, TinyStore

__all__ = [
    "Store", "Snapshot", "KINDS", "TABLES", "TinyStore", "open_store", "is_postgres_url", "migrate",
    "StorageError", "SubmissionConflict", "DuplicateError", "RestoreRefused", "DB_FILENAME",
    "FORMS", "ORGS",
]

FORMS, ORGS = "forms", "orgs"


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[0] in ("postgresql", "postgres")


def migrate(database_url: str) -> tuple[str | None, str]:
    """Create or upgrade the schema of a PostgreSQL database ((revision before, after)); the
    TinyDB file needs none."""
    if not is_postgres_url(database_url):
        raise ValueError("TAIZHANG_DATABASE_URL must start with postgresql://")
    from .pg import migrate as pg_migrate

    return pg_migrate(database_url)


def open_store(database_url: str | None, data_dir: str, photos_dir: str | None = None,
               pool_size: int = 4) -> Store:
    """The Store for a deployment: PostgreSQL when database_url is a postgresql:// URL (photos
    in the database, or in ``photos_dir`` when given: a folder every host mounts), else the
    TinyDB file DATA_DIR/taizhang.db (photos in ``photos_dir``, default DATA_DIR/uploads)."""
    if database_url:
        if not is_postgres_url(database_url):
            raise ValueError("TAIZHANG_DATABASE_URL must start with postgresql://")
        from .pg import PgStore  # psycopg is only imported when PostgreSQL is used

        return PgStore(database_url, pool_size=pool_size, photos_dir=photos_dir)
    return TinyStore(os.path.join(data_dir, DB_FILENAME), photos_dir=photos_dir)
