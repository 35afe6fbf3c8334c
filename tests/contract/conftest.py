"""Fixtures of the storage contract suite: each test runs once per backend.

* ``store`` — a fresh, empty Store: TinyStore on a file in tmp_path, or PgStore on a new
  migrated database (overrides tests/conftest.py's app-level ``store`` in this folder);
* ``second_store`` — another Store on the same database: another worker process or host;
* ``make_store()`` — more of them (all closed after the test);
* ``broken_writes(*tables)`` — a context manager inside which writes really fail: TinyDB's
  os.write and os.fsync raise ENOSPC; PostgreSQL gets triggers that RAISE on every write
  statement of the tables named (default: all), installed and removed through a connection
  of their own. Naming only ``table_versions`` fails a PostgreSQL write at its last step,
  after every other statement of its transaction succeeded. (A TinyDB write is one record:
  it fails whole whatever the tables named.)
"""
import errno
import os
from contextlib import contextmanager

import pytest

from storage import TinyStore

BACKENDS = ["tinydb", "postgresql"]
PG_TABLES = ("forms", "orgs", "users", "sessions", "login_failures", "links", "submissions",
             "receipt_days", "photos", "table_versions", "settings", "rate_counters",
             "audit_log", "drafts", "form_states", "projects", "api_tokens", "rubrics",
             "scores", "cases")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def database(backend, request, tmp_path):
    """Where the test's stores live: a TinyDB file path or a PostgreSQL URL."""
    if backend == "tinydb":
        return tmp_path / "data" / "taizhang.db"
    return request.getfixturevalue("pg_url")


def open_store(backend, database, **options):
    if backend == "tinydb":
        return TinyStore(database, **options)
    from storage.pg import PgStore

    options.setdefault("timeout", 5.0)
    return PgStore(database, **options)


@pytest.fixture
def make_store(backend, database):
    opened = []

    def make(**options):
        store = open_store(backend, database, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store):
    return make_store()


@pytest.fixture
def second_store(make_store):
    return make_store()


def _fail(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def broken_writes(backend, database, monkeypatch):
    if backend == "tinydb":
        @contextmanager
        def broken(*tables):
            with monkeypatch.context() as m:
                m.setattr(os, "write", _fail)
                m.setattr(os, "fsync", _fail)
                yield
        return broken

    import psycopg

    def execute(sql):
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(sql)

    @contextmanager
    def broken(*tables):
        statements = ["CREATE FUNCTION test_refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN RAISE EXCEPTION 'test: could not extend file: No space left "
                      "on device' USING ERRCODE = 'disk_full'; END $$"]
        statements += [f"CREATE TRIGGER test_refuse_write BEFORE INSERT OR UPDATE OR DELETE "
                       f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION test_refuse_write()" for table in tables or PG_TABLES]
        execute("; ".join(statements))
        try:
            yield
        finally:
            execute("DROP FUNCTION test_refuse_write() CASCADE")
    return broken
