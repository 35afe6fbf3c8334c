"""PostgreSQL backend internals the contract suite cannot see: migrations, constraint names the
code relies on, index use of the admin filters, connection failures and server restarts."""
import json
import os
import socket
import subprocess
import sys
import time

import psycopg
import pytest

from storage import StorageError
from storage.pg import HEAD_REVISION, PgStore, migrate, schema_status
from storage.pg.schema import MIGRATION_LOCK_KEY, alembic_config
from storage.pg.store import (count_sql, counts_sql, page_sql, public_location, stream_sql,
                              submission_filters)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_head_revision_is_alembics_head(pg_url):
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config(pg_url)).get_current_head() == HEAD_REVISION
    assert schema_status(pg_url) == {"revision": HEAD_REVISION, "head": HEAD_REVISION,
                                     "current": True}


def test_migrate_creates_the_schema_once(pg_database):
    url = pg_database()
    assert schema_status(url)["revision"] is None
    with pytest.raises(StorageError) as exc:
        PgStore(url)
    assert "flask --app app init" in str(exc.value)
    assert migrate(url) == (None, HEAD_REVISION)
    assert migrate(url) == (HEAD_REVISION, HEAD_REVISION)  # nothing to do
    with PgStore(url) as store:
        assert store.check()["ok"]


def test_store_refuses_a_schema_that_is_not_the_latest(pg_url):
    from alembic import command

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(StorageError) as exc:
        PgStore(pg_url)
    assert "flask --app app init" in str(exc.value) and "0000" in str(exc.value)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = %s", (HEAD_REVISION,))
    command.downgrade(alembic_config(pg_url), "base")  # every revision can be undone...
    assert schema_status(pg_url)["revision"] is None
    assert migrate(pg_url) == (None, HEAD_REVISION)  # ...and applied again


def test_two_hosts_migrating_at_once_take_turns(pg_database):
    """Both wait on the advisory lock (held here first), then one creates the schema and the
    other finds it done."""
    url = pg_database()
    code = ("import json, sys; from storage.pg import migrate; "
            "print(json.dumps(migrate(sys.argv[1])))")
    hosts = []
    try:
        with psycopg.connect(url, autocommit=True) as holder:  # advisory locks are per database
            holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
            hosts = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for _ in range(2)]
            deadline = time.monotonic() + 60
            while holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND NOT granted").fetchone()[0] < 2:
                assert all(h.poll() is None for h in hosts), "a host did not wait for the lock"
                assert time.monotonic() < deadline
                time.sleep(0.05)
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        results = []
        for host in hosts:
            out, err = host.communicate(timeout=60)
            assert host.returncode == 0, err
            results.append(tuple(json.loads(out)))
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
            host.communicate()
    assert sorted(results, key=str) == [(HEAD_REVISION, HEAD_REVISION), (None, HEAD_REVISION)]


def test_constraints_the_code_relies_on(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        names = {row[0] for row in conn.execute(
            "SELECT conname FROM pg_constraint UNION SELECT indexname FROM pg_indexes")}
        assert {"submissions_submission_id_key", "submissions_receipt_key",
                "links_one_active_key", "forms_pkey", "orgs_pkey", "users_pkey",
                "receipt_days_pkey", "photos_pkey", "submissions_form_idx",
                "submissions_form_org_idx", "submissions_form_day_idx"} <= names
        insert = ("INSERT INTO links (token, form_id, org_code, created_at) "
                  "VALUES (%s, 'dev', 'v1', now())")
        conn.execute(insert, ("t1",))
        with pytest.raises(psycopg.errors.UniqueViolation) as exc:
            conn.execute(insert, ("t2",))  # a second active link for (dev, v1)
        assert exc.value.diag.constraint_name == "links_one_active_key"


def plan(conn, sql, params):
    return json.dumps(conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0])


def test_admin_filters_use_indexes(pg_url):
    """On a table large enough for the planner to care, every filter the admin pages use is
    answered from an index, never by reading the whole table."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO submissions (form_id, form_version, org_code, receipt, submission_id,
                                     submitted_at, submitted_on, answers)
            SELECT 'form' || (i % 10), 1, 'org' || (i % 300), 'r' || i, 's' || i,
                   timestamptz '2025-01-01' + i * interval '10 minutes',
                   date '2025-01-01' + i / 144, jsonb_build_object('note', repeat('x', 300))
            FROM generate_series(1, 60000) i""")
        conn.execute("VACUUM ANALYZE submissions")
        township = [f"org{i}" for i in range(20)]
        cases = [("form3", None, None, None), ("form3", township, None, None),
                 ("form3", None, "2025-03-01", "2025-03-31"),
                 ("form3", township, "2025-03-01", "2025-03-31"),
                 ("form3", ["org7"], "2025-02-01", None)]
        for form_id, orgs, low, high in cases:
            clause, params = submission_filters(form_id, orgs, low, high)
            for sql, extra in ((count_sql(clause), []), (page_sql(clause), [0, 20]),
                               (counts_sql(clause), []), (stream_sql(clause), [])):
                explained = plan(conn, sql, [*params, *extra])
                assert "Seq Scan" not in explained, (sql, params, explained)
                assert "Index" in explained


def test_connection_failures_are_storage_errors(pg_url, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StorageError) as exc:
        PgStore(f"postgresql://postgres:secret@127.0.0.1:{port}/taizhang", timeout=2)
    assert str(exc.value) == "数据库连接失败,请稍后重试"
    assert isinstance(exc.value.__cause__, psycopg.OperationalError)
    assert public_location("postgresql://u:secret@db.example:5432/tz?password=x&sslmode=require"
                           ) == "postgresql://u@db.example:5432/tz?sslmode=require"
    with PgStore(pg_url) as store:
        assert "@" in store.location and store.location.startswith("postgresql://")
    with pytest.raises(StorageError):
        store.count_submissions()  # closed


def test_store_keeps_working_across_a_server_restart(pg_url, pg_server):
    with PgStore(pg_url, pool_size=2) as store:
        store.add_user("admin", "h", "admin")
        pg_server.restart(mode="fast")  # every pooled connection is now broken
        assert store.get_user("admin")["username"] == "admin"
        store.add_user("clerk", "h", "viewer")
        assert len(store.list_users()) == 2


def test_photos_in_a_shared_folder(pg_url, tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    with PgStore(pg_url, photos_dir=str(tmp_path / "shared")) as store:
        name = store.put_photo(png, "image/png")
        assert (tmp_path / "shared" / name).read_bytes() == png
        assert store.get_photo(name)["data"] == png
        with store.snapshot() as snap:
            assert list(snap.photo_names()) == [name] and snap.counts()["photos"] == 1
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 0


def test_only_storage_imports_the_database_drivers():
    offenders = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".venv", ".git", "tests", "storage", "bench",
                                                "node_modules", "__pycache__")]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if any(f"import {m}" in text or f"from {m}" in text
                       for m in ("psycopg", "sqlalchemy", "alembic", "tinydb")):
                    offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []


def test_the_lifecycle_migration_keeps_what_was_stored(pg_database):
    """0005 -> 0006 on a database with data: every stored submission reads as 待审核 with no
    period, history or versions, and the lifecycle works on it at once."""
    from alembic import command

    url = pg_database()
    command.upgrade(alembic_config(url), "0005")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO submissions (form_id, form_version, org_code, receipt, submission_id, "
            "submitted_at, submitted_on, answers) VALUES ('dev', 1, 'v1', '261101-0001', "
            "'sid-old', '2026-11-01T09:00:00+08:00', '2026-11-01', '{\"title\": \"旧\"}')")
    assert migrate(url) == ("0005", HEAD_REVISION)
    with PgStore(url) as store:
        doc = store.get_submission("261101-0001")
        assert (doc["status"], doc["period"], doc["history"], doc["versions"]) == (
            "待审核", None, [], [])
        assert doc["updated_at"] == doc["submitted_at"] and doc["answers"] == {"title": "旧"}
        new, _ = store.update_submission("261101-0001", 1, {"status": "已通过"})
        assert new["revision"] == 2
    with psycopg.connect(url, autocommit=True) as conn:
        names = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
        assert {"submissions_one_per_slot_key", "submissions_form_period_idx"} <= names
