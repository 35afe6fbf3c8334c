"""``PgStore``: the storage contract (storage.contract) on PostgreSQL, for several hosts.

Every operation takes a connection from a psycopg_pool pool and runs as one transaction:
committed (and so durable, with the server's default synchronous_commit) before the method
returns, rolled back whole when anything fails. Uniqueness is the database's job, never an
in-process counter's: receipts come from ``receipt_days`` rows bumped inside the submission's
transaction, idempotent submit rests on the unique ``submission_id``, "one active link per
(form, organization)" on a partial unique index. The schema is in migrations/ (Alembic).

Errors: every psycopg error that is not handled on purpose becomes a ``StorageError`` with a
Chinese message safe to show, the original chained. When the connection drops during COMMIT
the outcome is unknown to any client; a submission is then still safe, because the retry of
the same submission id returns what was stored.

Fork safety: the pool belongs to the process that opened it. A process forked from it (a
gunicorn worker of a preloading master) opens its own pool on first use and never touches the
parent's connections (psycopg does not close a connection made by another pid).
"""
from __future__ import annotations

import os
import secrets
import select
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .. import common
from ..common import json_copy, stamp, text_arg
from ..contract import KINDS, TABLES
from ..errors import (DraftConflict, DuplicateError, PeriodTaken, RestoreRefused,
                      StorageError, SubmissionConflict)
from ..photofiles import FilePhotos
from .schema import HEAD_REVISION, current_revision

MSG_CONNECT = "数据库连接失败,请稍后重试"
MSG_WRITE = "数据保存失败,请稍后重试"
MSG_READ = "数据读取失败,请稍后重试"
MSG_PHOTO_WRITE = "照片保存失败,请稍后重试"
# The photos submissions refer to: in their answers now, or in an answer version a
# correction replaced (the reviewer compares them).
USED_PHOTOS = ("SELECT jsonb_array_elements_text(files) AS name FROM submissions UNION "
               "SELECT jsonb_array_elements_text(v -> 'files') FROM submissions, "
               "jsonb_array_elements(versions) AS v WHERE versions <> '[]'::jsonb")
MSG_SCHEMA = ("数据库结构{state},请先运行 flask --app app init 创建或升级数据库结构"
              "(当前版本 {found},需要 {head})")
FAILURE_KEEP = timedelta(days=1)
COUNTER_PRUNE_EVERY = 60.0  # seconds between purges of ended counters, per process
STREAM_BATCH = 500  # rows fetched per round trip by iter_submissions and snapshots

# Pools inherited through a fork: kept referenced so that they are never finalized in the
# child (their connections are the parent's).
_INHERITED_POOLS: list = []

SUBMISSION_COLUMNS = ("id, form_id, form_version, org_code, receipt, submitted_at, "
                      "submission_id, token, files, answers, status, period, slot, project_id, "
                      "revision, history, versions, edit, updated_at")
# What update_submission writes back (answers, files and form_version only when corrected).
LIFECYCLE_UPDATE = ("status = %(status)s, period = %(period)s, slot = %(slot)s, "
                    "project_id = %(project_id)s, revision = %(revision)s, "
                    "history = %(history)s::jsonb, updated_at = %(updated_at)s")
CORRECTION_UPDATE = ("answers = %(answers)s::jsonb, files = %(files)s::jsonb, "
                     "form_version = %(form_version)s, versions = %(versions)s::jsonb, "
                     "edit = %(edit)s::jsonb")
# The partial unique index behind "one submission per (form, organization, slot)".
SLOT_KEY = "submissions_one_per_slot_key"
# How often a write that lost a race on a slot to a submission voided since is tried again.
SLOT_ATTEMPTS = 3
PROJECT_COLUMNS = "id, application, org_code, year, status, doc"
SCORE_COLUMNS = "year, project_id, judge, criterion, doc"
CASE_COLUMNS = "receipt, form_id, org_code, stage, deadline, doc"
TOKEN_COLUMNS = "id, username, label, token_hash, created_at, expires_at, revoked_at"
FORM_COLUMNS = "form_id, version, schema, created_at, source, username"
LINK_COLUMNS = "token, form_id, org_code, created_at, revoked_at"
AUDIT_COLUMNS = "id, at, username, action, target, detail, address"

# Bump the last receipt number of a day and get it; the row lock orders one day's receipts.
NEXT_RECEIPTS = """
    INSERT INTO receipt_days (day, last) VALUES (%s, %s)
    ON CONFLICT (day) DO UPDATE SET last = receipt_days.last + EXCLUDED.last
    RETURNING last"""

# A new submission in one statement, run on its own (autocommit): the day's next receipt
# number, the row and the bump of table_versions commit together, or - when any part fails,
# a duplicate submission id included - none of them, and the number is not spent. The two rows
# every submission updates (the day's counter, table_versions' "submissions") stay locked only
# while the server runs the statement and flushes its commit, never across a round trip to
# the application (several hosts submit at once: bench/two_hosts.py). The receipt is
# common.make_receipt's "YYMMDD-NNNN": the number zero-padded to at least 4 digits. Data-modifying
# WITH parts run in this order: the counter (the insert reads it), the insert, then the bump
# (read by nothing, run last), the lock order of every other writer.
INSERT_SUBMISSION = f"""
    WITH number AS (
        INSERT INTO receipt_days (day, last) VALUES (%(day)s, 1)
        ON CONFLICT (day) DO UPDATE SET last = receipt_days.last + 1
        RETURNING last),
    stored AS (
        INSERT INTO submissions (form_id, form_version, org_code, receipt, submission_id,
                                 submitted_at, submitted_on, token, files, answers, period,
                                 slot, project_id)
        SELECT %(form_id)s, %(form_version)s, %(org_code)s,
               %(day)s || '-' || lpad(last::text, greatest(length(last::text), 4), '0'),
               %(submission_id)s, %(submitted_at)s, %(submitted_on)s, %(token)s,
               %(files)s::jsonb, %(answers)s::jsonb, %(period)s, %(slot)s, %(project_id)s
        FROM number
        RETURNING {SUBMISSION_COLUMNS}),
    bumped AS (
        UPDATE table_versions SET version = version + 1 WHERE name = 'submissions')
    SELECT * FROM stored"""

COPY_SUBMISSIONS = """COPY submissions (form_id, form_version, org_code, receipt, submission_id,
    submitted_at, submitted_on, token, files, answers, period, slot, project_id) FROM STDIN"""
# A restore keeps the lifecycle of each submission too.
COPY_LOADED_SUBMISSIONS = """COPY submissions (form_id, form_version, org_code, receipt,
    submission_id, submitted_at, submitted_on, token, files, answers, status, period, slot,
    project_id, revision, history, versions, edit, updated_at) FROM STDIN"""

# One hit on a rate-limit counter, in one statement: the row lock of the upsert orders
# concurrent hits on a key from every host, and each gets the count after its own hit. A row
# whose window has ended starts again (the database's clock: one clock for every host).
HIT_COUNTER = """
    INSERT INTO rate_counters AS c (key, count, expires_at)
    VALUES (%(key)s, %(amount)s, now() + make_interval(secs => %(window)s))
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.expires_at <= now() THEN EXCLUDED.count
                     ELSE c.count + EXCLUDED.count END,
        expires_at = CASE WHEN c.expires_at <= now() THEN EXCLUDED.expires_at
                          ELSE c.expires_at END
    RETURNING count, extract(epoch FROM expires_at)::float8 AS expires_at"""

# receipt_days from the receipts present ("YYMMDD-NNNN"), after a restore.
RESET_RECEIPT_DAYS = r"""
    INSERT INTO receipt_days (day, last)
    SELECT split_part(receipt, '-', 1), max(split_part(receipt, '-', 2)::integer)
    FROM submissions WHERE receipt ~ '^\d{6}-\d{4,9}$'
    GROUP BY 1
    ON CONFLICT (day) DO UPDATE SET last = greatest(receipt_days.last, EXCLUDED.last)"""

SNAPSHOT_QUERIES = {
    "forms": f"SELECT {FORM_COLUMNS} FROM forms ORDER BY form_id, version",
    "orgs": "SELECT doc FROM orgs ORDER BY position",
    "users": "SELECT doc FROM users ORDER BY username",
    "links": f"SELECT {LINK_COLUMNS} FROM links ORDER BY position",
    "submissions": f"SELECT {SUBMISSION_COLUMNS} FROM submissions ORDER BY id",
    "audit": f"SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY id",
    "drafts": "SELECT doc FROM drafts ORDER BY form_id",
    "form_states": "SELECT doc FROM form_states ORDER BY form_id",
    "projects": "SELECT doc FROM projects ORDER BY id",
    "api_tokens": f"SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY position",
    "rubrics": "SELECT doc FROM rubrics ORDER BY year",
    "scores": "SELECT doc FROM scores ORDER BY id",
    "cases": "SELECT doc FROM cases ORDER BY receipt",
}


def public_location(url: str) -> str:
    """The URL without its password (safe to print in reports and logs)."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}@{host}")
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("password="))
    return urlunsplit(parts._replace(query=query))


def storage_error(message: str, exc: psycopg.Error) -> StorageError:
    """The StorageError for a psycopg error: "cannot reach the database" when the connection
    is the problem (refused, dropped, server shutting down, pool exhausted), else message."""
    connection_lost = (isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None) or \
        isinstance(exc, (pg_errors.AdminShutdown, pg_errors.CannotConnectNow,
                         pg_errors.CrashShutdown))
    return StorageError(MSG_CONNECT if connection_lost else message)


def _aware(moment: datetime) -> datetime:
    """An aware datetime (a naive one is read as local time, as common.parse_stamp does)."""
    return moment if moment.tzinfo else moment.astimezone()


def _stamp_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


def _form_doc(row) -> dict:
    return {"id": row["form_id"], "version": row["version"], "schema": row["schema"],
            "created_at": stamp(row["created_at"]), "source": row["source"],
            "user": row["username"]}


def _link_doc(row) -> dict | None:
    if row is None:
        return None
    return {"token": row["token"], "form_id": row["form_id"], "org_code": row["org_code"],
            "created_at": stamp(row["created_at"]),
            "revoked_at": _stamp_or_none(row["revoked_at"])}


def _submission_doc(row) -> dict | None:
    """A submission row as the contract shapes it: ``updated_at`` NULL is submitted_at, and
    ``edit`` NULL the description common.with_lifecycle gives answers never corrected."""
    if row is None:
        return None
    doc = dict(row)
    doc["submitted_at"] = stamp(row["submitted_at"])
    doc["updated_at"] = doc["submitted_at"] if row["updated_at"] is None \
        else stamp(row["updated_at"])
    if row["edit"] is None:
        del doc["edit"]
    return common.with_lifecycle(doc)


def _default_edit(doc: Mapping) -> dict:
    """The ``edit`` a submission reads with when its column is NULL (see _submission_doc)."""
    return common.with_lifecycle({"submitted_at": stamp(common.parse_stamp(doc["submitted_at"])),
                                  "versions": doc.get("versions") or []})["edit"]


def _token_doc(row) -> dict | None:
    if row is None:
        return None
    return {"id": row["id"], "username": row["username"], "label": row["label"],
            "token_hash": row["token_hash"], "created_at": stamp(row["created_at"]),
            "expires_at": _stamp_or_none(row["expires_at"]),
            "revoked_at": _stamp_or_none(row["revoked_at"])}


def _user_doc(row) -> dict | None:
    """A user document; one stored before users had a scope reads as county-wide."""
    return None if row is None else {"org_code": None, **row["doc"]}


def _project_params(doc: Mapping) -> tuple:
    """The columns of a project document (common.new_project/changed_project checked it,
    except the type of a changed year or organization)."""
    if isinstance(doc["year"], bool) or not isinstance(doc["year"], int):
        raise ValueError("year must be an integer")
    text_arg(doc["org_code"], "organization code")
    return (doc["id"], doc["application"], doc["org_code"], doc["year"], doc["status"],
            common.json_text(doc))


def _score_params(doc: Mapping) -> tuple:
    return (doc["year"], doc["project"], doc["judge"], doc["criterion"], common.json_text(doc))


def _case_params(doc: Mapping) -> tuple:
    """The columns of a case document (common.new_case/changed_case checked it)."""
    for key in ("receipt", "form_id", "org_code", "stage"):
        text_arg(doc.get(key), key)
    deadline = common.case_deadline(doc)
    return (doc["receipt"], doc["form_id"], doc["org_code"], doc["stage"],
            deadline and date.fromisoformat(deadline), common.json_text(doc))


def _audit_doc(row) -> dict:
    return {"id": row["id"], "at": stamp(row["at"]), "user": row["username"],
            "action": row["action"], "target": row["target"], "detail": row["detail"],
            "address": row["address"]}


def _session_doc(row) -> dict | None:
    if row is None:
        return None
    return {"id": row["id"], "username": row["username"],
            "created_at": stamp(row["created_at"]), "expires_at": stamp(row["expires_at"])}


ALL_STATUSES = frozenset(common.REVIEW_STATUSES)
ALL_BUT_VOID = ALL_STATUSES - {common.VOID}


def submission_filters(form_id, org_codes, date_from, date_to, statuses=None,
                       changed_since=None, after_id=None) -> tuple[str, list] | None:
    """(WHERE clause, parameters) of the submission filters; None when nothing can match
    (an empty org_codes or statuses). ValueError for a malformed date, status, time or id.

    The queries built on them run with ``prepare=False``: psycopg prepares a statement run
    five times on a connection, and PostgreSQL then switches a prepared statement to a generic
    plan, chosen without the values. Which index fits depends on the values (one village, a
    township, a month, a year), and the generic plan was 3x slower for a township's last 30
    days in 1M submissions (count + page 16 -> 45 ms; docs/BENCHMARKS.md, issue 7)."""
    low, high = common.day_of(date_from), common.day_of(date_to)
    statuses = common.statuses_arg(statuses)
    since = common.since_arg(changed_since)
    if after_id is not None and (isinstance(after_id, bool) or not isinstance(after_id, int)):
        raise ValueError("after_id must be an integer")
    clauses, params = [], []
    if form_id is not None:
        clauses.append("form_id = %s")
        params.append(form_id)
    if org_codes is not None:
        codes = sorted({str(code) for code in org_codes})
        if not codes:
            return None
        clauses.append("org_code = ANY(%s)")
        params.append(codes)
    if low is not None:
        clauses.append("submitted_on >= %s")
        params.append(date.fromisoformat(low))
    if high is not None:
        clauses.append("submitted_on <= %s")
        params.append(date.fromisoformat(high))
    if statuses is not None:
        if not statuses:
            return None
        if statuses == ALL_BUT_VOID:
            # The default of lists and exports: a plain exclusion keeps the planner on the
            # (form, org) and (form, day) indexes (status = ANY(...) sent it to the status
            # index and a township's page read every entry of the form: 28 ms vs 6 at 100k).
            clauses.append("status <> %s")
            params.append(common.VOID)
        elif statuses != ALL_STATUSES:
            clauses.append("status = ANY(%s)")
            params.append(sorted(statuses))
    if since is not None:
        clauses.append("coalesce(updated_at, submitted_at) >= %s")
        params.append(since)
    if after_id is not None:
        clauses.append("id > %s")
        params.append(after_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def count_sql(clause: str) -> str:
    return f"SELECT count(*) AS n FROM submissions{clause}"


def page_sql(clause: str, ascending: bool = False, changed: bool = False) -> str:
    """One page, newest first (oldest first when ``ascending``: the cursor paging of
    after_id); parameters: the filters', then offset and limit.

    The page's ids are chosen first, from the index entries alone (submissions_form_idx
    carries submitted_on, org_code and status), and only those rows are read. Asked for whole
    rows ordered by id, the planner walks the primary key down from the newest submission and
    reads every row until enough match: fine for recent dates, but 140-190 ms for a month a
    year back in a 1M-row table, where this takes 30 ms at worst (docs in migration 0001).

    ``changed`` (a changed_since filter): the matching ids are found first, through
    submissions_form_changed_idx, and then sorted. Left to itself the planner walks the ids
    in order expecting the changed ones to be spread evenly, but they are mostly the newest:
    480 ms instead of 2 ms for a day's changes in a 500k form (migration 0006)."""
    order = "ASC" if ascending else "DESC"
    if changed:
        return (f"WITH matching AS MATERIALIZED (SELECT id FROM submissions{clause}) "
                f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id IN ("
                f"SELECT id FROM matching ORDER BY id {order} OFFSET %s LIMIT %s) "
                f"ORDER BY id {order}")
    return (f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id IN ("
            f"SELECT id FROM submissions{clause} ORDER BY id {order} OFFSET %s LIMIT %s) "
            f"ORDER BY id {order}")


def stream_sql(clause: str) -> str:
    return f"SELECT {SUBMISSION_COLUMNS} FROM submissions{clause} ORDER BY id"


def counts_sql(clause: str) -> str:
    return f"SELECT org_code, count(*) AS n FROM submissions{clause} GROUP BY org_code"


REPORTED_PERIODS = """
    SELECT org_code, period, slot, project_id, receipt, submitted_at, status
    FROM submissions WHERE form_id = %s AND period IS NOT NULL AND status <> '已作废'{orgs}
    ORDER BY id"""


class _SlotTaken(Exception):
    """An update lost the (form, organization, slot) ``key`` to another submission: raised
    inside the transaction, which is rolled back before the holder is looked up."""

    def __init__(self, key: tuple):
        super().__init__(key)
        self.key = key


def check_connection(conn) -> None:
    """The pool's check of a connection before it is handed out (raises when it is broken).

    An idle connection's socket has nothing to read unless the server has said something:
    closed it (restart, shutdown, idle timeout) or sent a notice. Only then does this ask
    the server (psycopg_pool's check_connection, one round trip) - not on every checkout,
    where the round trip was a sixth of a submit's time in a gunicorn worker (py-spy)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def _start_repeatable_read(conn) -> None:
    """Make the transaction about to begin on ``conn`` one consistent read-only view."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


class PgStore:
    """The storage contract on a PostgreSQL database (see storage.contract.Store).

    ``PgStore(url, pool_size=4, photos_dir=None)``: at most ``pool_size`` connections per
    process; photos in the database (every host sees them) unless ``photos_dir`` names a
    folder shared by every host. StorageError when the server cannot be reached or when the
    database's schema is missing or not the latest (``flask --app app init`` migrates it).
    """

    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = 4, photos_dir: str | None = None,
                 timeout: float = 10.0):
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        self.url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self.photos = FilePhotos(photos_dir) if photos_dir else None
        self._lock = threading.Lock()
        self._next_counter_prune = 0.0  # time.monotonic() of the next purge of ended counters
        self._check_schema()
        self._pid = os.getpid()
        self._pool = self._open_pool()

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return public_location(self.url)

    def _check_schema(self) -> None:
        try:
            with psycopg.connect(self.url, connect_timeout=self.timeout) as conn:
                found = current_revision(conn)
        except psycopg.Error as exc:
            raise storage_error(MSG_READ, exc) from exc
        if found != HEAD_REVISION:
            state = "尚未创建" if found is None else "不是最新版本"
            raise StorageError(MSG_SCHEMA.format(state=state, found=found or "无",
                                                 head=HEAD_REVISION))

    def _open_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self.url, min_size=1, max_size=self.pool_size, timeout=self.timeout,
            kwargs={"row_factory": dict_row, "connect_timeout": self.timeout,
                    "application_name": "taizhang"},
            # A connection broken since its last use (server restart, network) is replaced
            # before it is handed out, instead of failing the request that gets it.
            check=check_connection,
            name=f"taizhang-{os.getpid()}", open=False)
        try:
            pool.open(wait=True, timeout=self.timeout)
        except psycopg.Error as exc:
            pool.close()
            raise storage_error(MSG_READ, exc) from exc
        return pool

    def _get_pool(self) -> ConnectionPool:
        """This process's pool (a forked child opens its own on first use)."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    _INHERITED_POOLS.append(self._pool)
                    self._pool = self._open_pool()
                    self._pid = os.getpid()
        return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def warm_up(self) -> None:
        """Open this process's first connection now rather than on its first request."""
        with self._connection(MSG_READ) as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def _connection(self, message: str, passthrough: tuple = ()):
        """A pooled connection, in a transaction committed when the block ends (rolled back
        when it raises). psycopg errors become StorageError(message), except ``passthrough``
        ones; the Store's own exceptions pass unchanged (after the rollback)."""
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except passthrough:
            raise
        except psycopg.Error as exc:
            raise storage_error(message, exc) from exc

    def _read(self):
        """A pooled connection in autocommit mode, for reads of one statement: the statement
        sees everything committed before it began, as in a transaction of its own, without
        the BEGIN and COMMIT round trips (two of the three a pooled read otherwise costs).
        Reads of several statements that must agree take a transaction (_connection)."""
        return self._autocommit(MSG_READ)

    @contextmanager
    def _autocommit(self, message: str, passthrough: tuple = ()):
        """A pooled connection in autocommit mode: each statement is a transaction of its own
        (committed, durably, when it returns). Errors as _connection."""
        with self._connection(message, passthrough) as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                try:
                    conn.autocommit = False
                except psycopg.Error:
                    pass  # a broken connection: the pool discards it

    def _write(self, passthrough: tuple = ()):
        return self._connection(MSG_WRITE, passthrough)

    @staticmethod
    def _bump(conn, *tables: str) -> None:
        """Mark tables changed, in the writing transaction (last, so that the row lock it takes
        is held for the shortest time)."""
        conn.execute("UPDATE table_versions SET version = version + 1 WHERE name = ANY(%s)",
                     (sorted(tables),))

    def version_of(self, table: str):
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        with self._read() as conn:
            row = conn.execute("SELECT version FROM table_versions WHERE name = %s",
                               (table,)).fetchone()
        return row["version"]

    # ---- forms ----------------------------------------------------------------------------------

    def add_form_version(self, schema: Mapping, source: str, user: str | None = None) -> dict:
        if not isinstance(schema, Mapping):
            raise ValueError("schema must be a mapping")
        form_id = text_arg(schema.get("id"), "schema id")
        schema = json_copy(dict(schema))
        common.json_text([schema, source, user])
        with self._write() as conn:
            # Writers of forms take turns (readers do not wait): max + 1 is never taken twice.
            conn.execute("LOCK TABLE forms IN SHARE ROW EXCLUSIVE MODE")
            version = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 AS next FROM forms WHERE form_id = %s",
                (form_id,)).fetchone()["next"]
            schema["version"] = version
            row = conn.execute(
                f"INSERT INTO forms ({FORM_COLUMNS}) VALUES (%s, %s, %s::jsonb, %s, %s, %s) "
                f"RETURNING {FORM_COLUMNS}",
                (form_id, version, common.json_text(schema), common.now(), source, user)
            ).fetchone()
            self._bump(conn, "forms")
        return _form_doc(row)

    def get_draft(self, form_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM drafts WHERE form_id = %s", (form_id,)).fetchone()
        return None if row is None else row["doc"]

    def list_drafts(self) -> list[dict]:
        with self._read() as conn:
            return [row["doc"] for row in conn.execute("SELECT doc FROM drafts ORDER BY form_id")]

    def save_draft(self, form_id: str, text: str, user: str | None,
                   base_revision: int | None) -> dict:
        text_arg(form_id, "form id")
        common.check_draft_args(text, base_revision)
        doc = {"form_id": form_id, "text": text, "revision": 1,
               "saved_at": common.stamp(common.now()), "user": user}
        with self._write() as conn:
            if base_revision is None:  # whatever is there: one statement, the row locked
                row = conn.execute(
                    "INSERT INTO drafts (form_id, doc) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (form_id) DO UPDATE SET doc = EXCLUDED.doc || "
                    "jsonb_build_object('revision', (drafts.doc->>'revision')::int + 1) "
                    "RETURNING doc", (form_id, common.json_text(doc))).fetchone()
            elif base_revision == 0:
                row = conn.execute(
                    "INSERT INTO drafts (form_id, doc) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (form_id) DO NOTHING RETURNING doc",
                    (form_id, common.json_text(doc))).fetchone()
            else:
                doc["revision"] = base_revision + 1
                row = conn.execute(
                    "UPDATE drafts SET doc = %s::jsonb WHERE form_id = %s "
                    "AND (doc->>'revision')::int = %s RETURNING doc",
                    (common.json_text(doc), form_id, base_revision)).fetchone()
            if row is None:
                raise DraftConflict(f"draft {form_id} is not at revision {base_revision}")
        return row["doc"]

    def delete_draft(self, form_id: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM drafts WHERE form_id = %s",
                                (form_id,)).rowcount > 0

    def set_form_closed(self, form_id: str, closed: bool, user: str | None) -> dict:
        text_arg(form_id, "form id")
        if not isinstance(closed, bool):
            raise ValueError("closed must be a bool")
        doc = {"form_id": form_id, "closed": closed,
               "changed_at": common.stamp(common.now()), "user": user}
        with self._write() as conn:
            conn.execute("INSERT INTO form_states (form_id, doc) VALUES (%s, %s::jsonb) "
                         "ON CONFLICT (form_id) DO UPDATE SET doc = EXCLUDED.doc",
                         (form_id, common.json_text(doc)))
            self._bump(conn, "forms")
        return doc

    def form_states(self) -> dict[str, dict]:
        with self._read() as conn:
            return {row["doc"]["form_id"]: row["doc"]
                    for row in conn.execute("SELECT doc FROM form_states")}

    def get_form(self, form_id: str, version: int | None = None) -> dict | None:
        with self._read() as conn:
            if version is None:
                row = conn.execute(
                    f"SELECT {FORM_COLUMNS} FROM forms WHERE form_id = %s "
                    "ORDER BY version DESC LIMIT 1", (form_id,)).fetchone()
            else:
                row = conn.execute(
                    f"SELECT {FORM_COLUMNS} FROM forms WHERE form_id = %s AND version = %s",
                    (form_id, version)).fetchone()
        return None if row is None else _form_doc(row)

    def list_forms(self) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT ON (form_id) {FORM_COLUMNS} FROM forms "
                "ORDER BY form_id, version DESC").fetchall()
        return [_form_doc(row) for row in rows]

    def form_versions(self, form_id: str) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(f"SELECT {FORM_COLUMNS} FROM forms WHERE form_id = %s "
                                "ORDER BY version", (form_id,)).fetchall()
        return [_form_doc(row) for row in rows]

    # ---- organizations --------------------------------------------------------------------------

    def _store_orgs(self, rows: list[dict], replace: bool) -> int:
        params = [(row["code"], common.json_text(row)) for row in rows]
        with self._write() as conn:
            conn.execute("LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE")
            if replace:
                conn.execute("DELETE FROM orgs")
            with conn.cursor() as cur:
                # position comes from the identity in row order; an update keeps the old one
                cur.executemany("INSERT INTO orgs (code, doc) VALUES (%s, %s::jsonb) "
                                "ON CONFLICT (code) DO UPDATE SET doc = EXCLUDED.doc", params)
            self._bump(conn, "orgs")
        return len(rows)

    def replace_orgs(self, rows: Iterable[Mapping]) -> int:
        return self._store_orgs(common.org_rows(rows), replace=True)

    def upsert_orgs(self, rows: Iterable[Mapping]) -> int:
        return self._store_orgs(common.org_rows(rows), replace=False)

    def get_org(self, code: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM orgs WHERE code = %s", (code,)).fetchone()
        return None if row is None else row["doc"]

    def list_orgs(self) -> list[dict]:
        with self._read() as conn:
            return [row["doc"] for row in conn.execute("SELECT doc FROM orgs ORDER BY position")]

    def delete_org(self, code: str) -> bool:
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM orgs WHERE code = %s", (code,)).rowcount
            if deleted:
                self._bump(conn, "orgs")
        return bool(deleted)

    # ---- users and sessions ---------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str,
                 org_code: str | None = None) -> dict:
        username = text_arg(username, "username")
        if org_code is not None:
            text_arg(org_code, "organization code")
        doc = {"username": username, "password_hash": password_hash, "role": role,
               "org_code": org_code, "created_at": stamp(common.now())}
        text = common.json_text(doc)
        with self._write() as conn:
            added = conn.execute("INSERT INTO users (username, doc) VALUES (%s, %s::jsonb) "
                                 "ON CONFLICT (username) DO NOTHING", (username, text)).rowcount
            if not added:
                raise DuplicateError(f"用户名已存在:{username}")
            self._bump(conn, "users")
        return doc

    def update_user(self, username: str, changes: Mapping) -> dict | None:
        changes = common.user_changes(changes)
        with self._write() as conn:
            old = _user_doc(conn.execute("SELECT doc FROM users WHERE username = %s FOR UPDATE",
                                         (username,)).fetchone())
            if old is None:
                return None
            new = {**old, **changes}
            conn.execute("UPDATE users SET doc = %s::jsonb WHERE username = %s",
                         (common.json_text(new), username))
            # What the user may see changed: every login of theirs ends in the same write.
            if (not new.get("active", True) or new["role"] != old["role"]
                    or new["org_code"] != old["org_code"]):
                conn.execute("DELETE FROM sessions WHERE username = %s", (username,))
            self._bump(conn, "users")
        return new

    def get_user(self, username: str) -> dict | None:
        with self._read() as conn:
            return _user_doc(conn.execute("SELECT doc FROM users WHERE username = %s",
                                          (username,)).fetchone())

    def list_users(self) -> list[dict]:
        with self._read() as conn:
            return [_user_doc(row)
                    for row in conn.execute("SELECT doc FROM users ORDER BY username")]

    def set_password(self, username: str, password_hash: str) -> dict | None:
        common.json_text(password_hash)
        with self._write() as conn:
            row = conn.execute(
                "UPDATE users SET doc = doc || jsonb_build_object('password_hash', %s::text) "
                "WHERE username = %s RETURNING doc", (password_hash, username)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM sessions WHERE username = %s", (username,))
            self._bump(conn, "users")
        return _user_doc(row)

    def create_session(self, username: str, lifetime: timedelta) -> dict:
        text_arg(username, "username")
        created = common.now()
        expires = common.session_expiry(created, lifetime)
        session_id = secrets.token_urlsafe(32)
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= %s", (created,))
            row = conn.execute(
                "INSERT INTO sessions (id, username, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s) RETURNING *",
                (session_id, username, created, expires)).fetchone()
        return _session_doc(row)

    def get_session(self, session_id: str) -> dict | None:
        if not isinstance(session_id, str) or not session_id or "\x00" in session_id:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE id = %s AND expires_at > %s",
                               (session_id, common.now())).fetchone()
        return _session_doc(row)

    def end_session(self, session_id: str) -> bool:
        if not isinstance(session_id, str) or "\x00" in session_id:
            return False
        with self._write() as conn:
            row = conn.execute("DELETE FROM sessions WHERE id = %s RETURNING expires_at",
                               (session_id,)).fetchone()
        return row is not None and row["expires_at"] > common.now()

    def end_user_sessions(self, username: str) -> int:
        with self._write() as conn:
            rows = conn.execute("DELETE FROM sessions WHERE username = %s RETURNING expires_at",
                                (username,)).fetchall()
        now = common.now()
        return sum(1 for row in rows if row["expires_at"] > now)

    # ---- login throttling -----------------------------------------------------------------------

    def record_login_failure(self, key: str, at: datetime) -> None:
        text_arg(key, "key")
        at = _aware(at)
        with self._write() as conn:
            conn.execute("DELETE FROM login_failures WHERE at < %s", (at - FAILURE_KEEP,))
            conn.execute("INSERT INTO login_failures (key, at) VALUES (%s, %s)", (key, at))

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        with self._read() as conn:
            rows = conn.execute("SELECT at FROM login_failures WHERE key = %s AND at >= %s "
                                "ORDER BY at", (key, _aware(since))).fetchall()
        return [row["at"] for row in rows]

    # ---- rate-limit counters --------------------------------------------------------------------

    def hit_counter(self, key: str, window: float, amount: int = 1) -> tuple[int, float]:
        common.counter_args(key, window, amount)
        with self._autocommit(MSG_WRITE) as conn:
            row = conn.execute(HIT_COUNTER, {"key": key, "amount": amount,
                                             "window": float(window)}).fetchone()
            if time.monotonic() >= self._next_counter_prune:
                self._next_counter_prune = time.monotonic() + COUNTER_PRUNE_EVERY
                conn.execute("DELETE FROM rate_counters WHERE expires_at <= now()")
        return row["count"], row["expires_at"]

    def get_counter(self, key: str) -> tuple[int, float] | None:
        text_arg(key, "key")
        with self._read() as conn:
            row = conn.execute(
                "SELECT count, extract(epoch FROM expires_at)::float8 AS expires_at "
                "FROM rate_counters WHERE key = %s AND expires_at > now()", (key,)).fetchone()
        return None if row is None else (row["count"], row["expires_at"])

    def clear_counter(self, key: str) -> None:
        text_arg(key, "key")
        with self._autocommit(MSG_WRITE) as conn:
            conn.execute("DELETE FROM rate_counters WHERE key = %s", (key,))

    def drop_counters(self, expired_only: bool = True) -> int:
        with self._autocommit(MSG_WRITE) as conn:
            return conn.execute("DELETE FROM rate_counters" + (
                " WHERE expires_at <= now()" if expired_only else "")).rowcount

    # ---- audit log ------------------------------------------------------------------------------

    def add_audit(self, entry: Mapping) -> dict:
        doc = common.audit_entry(entry)
        with self._autocommit(MSG_WRITE) as conn:
            row = conn.execute(
                f"INSERT INTO audit_log (at, day, username, action, target, detail, address) "
                f"VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s) RETURNING {AUDIT_COLUMNS}",
                (common.parse_stamp(doc["at"]), common.local_day(doc["at"]), doc["user"],
                 doc["action"], doc["target"],
                 None if doc["detail"] is None else common.json_text(doc["detail"]),
                 doc["address"])).fetchone()
        return _audit_doc(row)

    def query_audit(self, action=None, user=None, date_from=None, date_to=None, offset: int = 0,
                    limit: int | None = None) -> tuple[list[dict], int]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        low, high = common.day_of(date_from), common.day_of(date_to)
        clauses, params = [], []
        for clause, value in (("action = %s", action), ("username = %s", user),
                              ("day >= %s", low and date.fromisoformat(low)),
                              ("day <= %s", high and date.fromisoformat(high))):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._connection(MSG_READ) as conn:
            _start_repeatable_read(conn)  # the count and the page must agree
            total = conn.execute(f"SELECT count(*) AS n FROM audit_log{where}", params,
                                 prepare=False).fetchone()["n"]
            rows = conn.execute(f"SELECT {AUDIT_COLUMNS} FROM audit_log{where} "
                                "ORDER BY id DESC OFFSET %s LIMIT %s", [*params, offset, limit],
                                prepare=False).fetchall()
        return [_audit_doc(row) for row in rows], total

    # ---- links ----------------------------------------------------------------------------------

    def get_link(self, token: str) -> dict | None:
        if not isinstance(token, str) or "\x00" in token:
            return None
        with self._read() as conn:
            return _link_doc(conn.execute(f"SELECT {LINK_COLUMNS} FROM links WHERE token = %s",
                                          (token,)).fetchone())

    def active_link(self, form_id: str, org_code: str) -> dict | None:
        with self._read() as conn:
            return _link_doc(conn.execute(
                f"SELECT {LINK_COLUMNS} FROM links WHERE form_id = %s AND org_code = %s "
                "AND revoked_at IS NULL", (form_id, org_code)).fetchone())

    def create_link(self, form_id: str, org_code: str) -> dict:
        text_arg(form_id, "form id")
        text_arg(org_code, "organization code")
        now = common.now()
        with self._write() as conn:
            # Link writers take turns, so concurrent regenerations each revoke the previous
            # link instead of colliding on links_one_active_key (which still guards the rule).
            conn.execute("LOCK TABLE links IN SHARE ROW EXCLUSIVE MODE")
            conn.execute("UPDATE links SET revoked_at = %s WHERE form_id = %s "
                         "AND org_code = %s AND revoked_at IS NULL", (now, form_id, org_code))
            row = conn.execute(
                f"INSERT INTO links ({LINK_COLUMNS}) VALUES (%s, %s, %s, %s, NULL) "
                f"RETURNING {LINK_COLUMNS}",
                (secrets.token_urlsafe(24), form_id, org_code, now)).fetchone()
            self._bump(conn, "links")
        return _link_doc(row)

    def revoke_link(self, token: str) -> dict | None:
        if not isinstance(token, str) or "\x00" in token:
            return None
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE links SET revoked_at = %s WHERE token = %s AND revoked_at IS NULL "
                f"RETURNING {LINK_COLUMNS}", (common.now(), token)).fetchone()
            if row is not None:
                self._bump(conn, "links")
            else:
                row = conn.execute(f"SELECT {LINK_COLUMNS} FROM links WHERE token = %s",
                                   (token,)).fetchone()
        return _link_doc(row)

    def list_links(self, form_id: str, active_only: bool = False) -> list[dict]:
        active = " AND revoked_at IS NULL" if active_only else ""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {LINK_COLUMNS} FROM links WHERE form_id = %s{active} "
                                "ORDER BY position", (form_id,)).fetchall()
        return [_link_doc(row) for row in rows]

    # ---- submissions ----------------------------------------------------------------------------

    def _retried(self, stored: dict, form_id, org_code, answers, submission_id):
        if common.same_submission(stored, form_id, org_code, answers):
            return stored, False
        raise SubmissionConflict(submission_id, stored["receipt"])

    def add_submission(self, form_id: str, form_version: int, org_code: str, answers: Mapping,
                       submission_id: str, token: str | None = None, files=None,
                       period: str | None = None, slot: str | None = None,
                       project_id: int | None = None) -> tuple[dict, bool]:
        common.check_submission_args(form_id, form_version, org_code, answers, submission_id)
        common.lifecycle_args(common.PENDING, period, slot, project_id)
        answers_text = common.json_text(dict(answers))
        files_text = common.json_text(list(files or []))
        common.json_text(token)
        for attempt in range(SLOT_ATTEMPTS):
            stored = self.find_submission(submission_id)
            if stored is not None:
                return self._retried(stored, form_id, org_code, answers, submission_id)
            moment = common.now()
            submitted_at = stamp(moment)
            try:
                with self._autocommit(MSG_WRITE,
                                      passthrough=(pg_errors.UniqueViolation,)) as conn:
                    row = conn.execute(INSERT_SUBMISSION, {
                        "day": common.receipt_day(submitted_at), "form_id": form_id,
                        "form_version": form_version, "org_code": org_code,
                        "submission_id": submission_id, "submitted_at": moment,
                        "submitted_on": date.fromisoformat(common.local_day(submitted_at)),
                        "token": token, "files": files_text, "answers": answers_text,
                        "period": period, "slot": slot, "project_id": project_id}).fetchone()
                return _submission_doc(row), True
            except pg_errors.UniqueViolation as exc:
                # The transaction (and its receipt number) was rolled back. Another process or
                # host stored this submission id meanwhile: answer as a retry does; or a
                # submission holds the slot: point to it.
                constraint = exc.diag.constraint_name
                if constraint == "submissions_submission_id_key":
                    stored = self.find_submission(submission_id)
                    if stored is not None:
                        return self._retried(stored, form_id, org_code, answers, submission_id)
                elif constraint == SLOT_KEY:
                    stored = self.find_submission(submission_id)
                    if stored is not None:
                        return self._retried(stored, form_id, org_code, answers, submission_id)
                    holder = self._slot_holder(form_id, org_code, slot)
                    if holder is not None:
                        raise PeriodTaken(holder) from None
                    continue  # voided since: try again
                raise StorageError(MSG_WRITE) from exc
        raise StorageError(MSG_WRITE)

    def _slot_holder(self, form_id: str, org_code: str, slot: str) -> str | None:
        """The receipt of the submission holding (form, organization, slot), or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT receipt FROM submissions WHERE form_id = %s AND org_code = %s "
                "AND slot = %s AND status <> '已作废'", (form_id, org_code, slot)).fetchone()
        return None if row is None else row["receipt"]

    def import_submissions(self, docs: Iterable[Mapping], batch: int = 2000) -> int:
        return sum(self._import_batch(chunk) for chunk in common.in_batches(docs, batch))

    def _import_batch(self, docs: list) -> int:
        prepared, seen, per_day = [], set(), {}
        for doc in docs:
            sid = doc.get("submission_id") or secrets.token_hex(16)
            common.check_submission_args(doc["form_id"], doc["form_version"], doc["org_code"],
                                         doc["answers"], sid)
            moment = common.parse_stamp(doc["submitted_at"])  # ValueError when malformed
            common.lifecycle_args(common.PENDING, doc.get("period"), doc.get("slot"),
                                  doc.get("project_id"))
            if sid in seen:
                raise DuplicateError(f"submission id {sid} already stored")
            seen.add(sid)
            day = common.receipt_day(doc["submitted_at"])
            per_day[day] = per_day.get(day, 0) + 1
            prepared.append((doc, sid, moment, day,
                             common.json_text(list(doc.get("files") or [])),
                             common.json_text(dict(doc["answers"]))))
        try:
            with self._write(passthrough=(pg_errors.UniqueViolation,)) as conn:
                # Reserve each day's numbers at once: first = last - count + 1.
                next_number = {}
                for day, n in per_day.items():
                    last = conn.execute(NEXT_RECEIPTS, (day, n)).fetchone()["last"]
                    next_number[day] = last - n + 1
                with conn.cursor() as cur, cur.copy(COPY_SUBMISSIONS) as copy:
                    for doc, sid, moment, day, files_text, answers_text in prepared:
                        receipt = common.make_receipt(day, next_number[day])
                        next_number[day] += 1
                        copy.write_row((
                            doc["form_id"], doc["form_version"], doc["org_code"], receipt, sid,
                            moment, common.local_day(doc["submitted_at"]), None, files_text,
                            answers_text, doc.get("period"), doc.get("slot"),
                            doc.get("project_id")))
                self._bump(conn, "submissions")
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "submissions_submission_id_key":
                raise DuplicateError("导入的提交编号已存在(这一批未导入)") from exc
            if exc.diag.constraint_name == SLOT_KEY:
                raise DuplicateError("导入的提交所报期次已有提交(这一批未导入)") from exc
            raise StorageError(MSG_WRITE) from exc
        return len(prepared)

    def update_submission(self, receipt: str, revision: int, changes: Mapping,
                          project: tuple | None = None) -> tuple[dict, dict | None]:
        for attempt in range(SLOT_ATTEMPTS):
            try:
                return self._update_submission(receipt, revision, changes, project)
            except _SlotTaken as taken:  # rolled back: now name the holder
                holder = self._slot_holder(*taken.key)
                if holder is not None:
                    raise PeriodTaken(holder) from None
                # the holder was voided meanwhile: try again
        raise StorageError(MSG_WRITE)

    def _update_submission(self, receipt, revision, changes, project):
        """One attempt of update_submission: one transaction, the submission then the project
        locked (FOR UPDATE) while the new versions are computed by the shared rules;
        _SlotTaken when the slot index refuses the change."""
        with self._write() as conn:
            row = None
            if isinstance(receipt, str) and "\x00" not in receipt:
                row = conn.execute(f"SELECT {SUBMISSION_COLUMNS} FROM submissions "
                                   "WHERE receipt = %s FOR UPDATE", (receipt,)).fetchone()
            if row is None:
                raise LookupError(receipt)
            moment = common.now()
            old = _submission_doc(row)
            new = common.changed_submission(old, revision, changes, moment)
            params = {"id": row["id"], "status": new["status"], "period": new["period"],
                      "slot": new["slot"], "project_id": new["project_id"],
                      "revision": new["revision"], "history": common.json_text(new["history"]),
                      # to the second, as returned (changed_since compares with this)
                      "updated_at": common.parse_stamp(new["updated_at"])}
            sets = LIFECYCLE_UPDATE
            if "answers" in changes:
                sets += ", " + CORRECTION_UPDATE
                params.update(answers=common.json_text(new["answers"]),
                              files=common.json_text(new["files"]),
                              form_version=new["form_version"],
                              versions=common.json_text(new["versions"]),
                              edit=common.json_text(new["edit"]))
            stored_project = None
            if project is not None:
                project_id, project_revision, project_changes = project
                found = None
                if not isinstance(project_id, bool) and isinstance(project_id, int):
                    found = conn.execute("SELECT doc FROM projects WHERE id = %s FOR UPDATE",
                                         (project_id,)).fetchone()
                if found is None:
                    raise LookupError(project_id)
                stored_project = common.changed_project(found["doc"], project_revision,
                                                        project_changes, moment)
                project_params = _project_params(stored_project)
            try:
                conn.execute(f"UPDATE submissions SET {sets} WHERE id = %(id)s", params)
            except pg_errors.UniqueViolation as exc:
                if exc.diag.constraint_name == SLOT_KEY:
                    raise _SlotTaken(common.holds_slot(new)) from exc
                raise
            if stored_project is not None:
                conn.execute("UPDATE projects SET application = %s, org_code = %s, year = %s, "
                             "status = %s, doc = %s::jsonb WHERE id = %s",
                             (*project_params[1:], project_params[0]))
            self._bump(conn, "submissions")
        return new, stored_project

    def reported_periods(self, form_id: str, org_codes: Iterable[str] | None = None,
                         periods: Iterable[str] | None = None) -> list[dict]:
        params: list = [form_id]
        orgs = ""
        if periods is not None:
            wanted = common.periods_arg(periods)
            if not wanted:
                return []
            orgs += " AND period = ANY(%s)"
            params.append(wanted)
        if org_codes is not None:
            codes = sorted({str(code) for code in org_codes})
            if not codes:
                return []
            orgs += " AND org_code = ANY(%s)"
            params.append(codes)
        with self._read() as conn:
            rows = conn.execute(REPORTED_PERIODS.format(orgs=orgs), params,
                                prepare=False).fetchall()
        return [{**row, "submitted_at": stamp(row["submitted_at"])} for row in rows]

    def get_submission(self, receipt: str) -> dict | None:
        if not isinstance(receipt, str) or "\x00" in receipt:
            return None
        with self._read() as conn:
            return _submission_doc(conn.execute(
                f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE receipt = %s",
                (receipt,)).fetchone())

    def find_submission(self, submission_id: str) -> dict | None:
        if not isinstance(submission_id, str) or "\x00" in submission_id:
            return None
        with self._read() as conn:
            return _submission_doc(conn.execute(
                f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE submission_id = %s",
                (submission_id,)).fetchone())

    def query_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                          date_from=None, date_to=None, offset: int = 0,
                          limit: int | None = None, *, statuses=None, changed_since=None,
                          after_id=None) -> tuple[int, list[dict]]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        where = submission_filters(form_id, org_codes, date_from, date_to, statuses,
                                   changed_since, after_id)
        if where is None:
            return 0, []
        clause, params = where
        with self._connection(MSG_READ) as conn:
            _start_repeatable_read(conn)  # the count and the page see the same rows
            total = conn.execute(count_sql(clause), params, prepare=False).fetchone()["n"]
            if total <= offset:  # no page to read (a walk of the ids could find nothing)
                return total, []
            rows = conn.execute(page_sql(clause, ascending=after_id is not None,
                                         changed=changed_since not in (None, "")),
                                [*params, offset, limit], prepare=False).fetchall()
        return total, [_submission_doc(row) for row in rows]

    def iter_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                         date_from=None, date_to=None, *,
                         statuses=None) -> tuple[int, Iterator[dict]]:
        where = submission_filters(form_id, org_codes, date_from, date_to, statuses)
        if where is None:
            return 0, (doc for doc in ())  # (a generator: it has close(), as the contract says)
        clause, params = where
        try:
            stream = _Stream(self._get_pool(), self.timeout)
        except psycopg.Error as exc:
            raise storage_error(MSG_READ, exc) from exc
        try:
            conn = stream.conn
            _start_repeatable_read(conn)
            total = conn.execute(count_sql(clause), params, prepare=False).fetchone()["n"]
            stream.start(stream_sql(clause), params)
        except psycopg.Error as exc:
            stream.close()
            raise storage_error(MSG_READ, exc) from exc
        except BaseException:
            stream.close()
            raise
        return total, stream

    def submission_versions(self, form_id: str) -> set[int]:
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT form_version FROM submissions "
                                "WHERE form_id = %s", (form_id,)).fetchall()
        return {row["form_version"] for row in rows}

    def submission_counts(self, form_id: str, date_from=None, date_to=None,
                          org_codes: Iterable[str] | None = None, *,
                          statuses=None) -> dict[str, int]:
        where = submission_filters(form_id, org_codes, date_from, date_to, statuses)
        if where is None:
            return {}
        clause, params = where
        with self._read() as conn:
            rows = conn.execute(counts_sql(clause), params, prepare=False).fetchall()
        return {row["org_code"]: row["n"] for row in rows}

    def count_submissions(self, form_id: str | None = None) -> int:
        clause, params = submission_filters(form_id, None, None, None)
        with self._read() as conn:
            return conn.execute(count_sql(clause), params).fetchone()["n"]

    # ---- projects -------------------------------------------------------------------------------

    def add_project(self, doc: Mapping) -> tuple[dict, bool]:
        common.new_project(doc, 1, common.now())  # ValueError before anything is written
        application = doc["application"]
        with self._write() as conn:
            found = conn.execute("SELECT doc FROM projects WHERE application = %s",
                                 (application,)).fetchone()
            if found is not None:  # (a retry spends no id)
                return found["doc"], False
            project_id = conn.execute("SELECT nextval(pg_get_serial_sequence('projects', 'id')) "
                                      "AS id").fetchone()["id"]
            project = common.new_project(doc, project_id, common.now())
            added = conn.execute(
                f"INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, "
                "%s::jsonb) ON CONFLICT (application) DO NOTHING",
                _project_params(project)).rowcount
            if not added:  # opened by another process or host meanwhile
                found = conn.execute("SELECT doc FROM projects WHERE application = %s",
                                     (application,)).fetchone()
                return found["doc"], False
        return project, True

    def get_project(self, project_id: int) -> dict | None:
        if isinstance(project_id, bool) or not isinstance(project_id, int):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM projects WHERE id = %s",
                               (project_id,)).fetchone()
        return None if row is None else row["doc"]

    def list_projects(self, org_codes: Iterable[str] | None = None, year: int | None = None,
                      statuses: Iterable[str] | None = None) -> list[dict]:
        if isinstance(statuses, str):
            raise ValueError("statuses must be a collection, not a string")
        clauses, params = [], []
        for clause, values in (("org_code = ANY(%s)", org_codes), ("status = ANY(%s)", statuses)):
            if values is not None:
                values = sorted({str(value) for value in values})
                if not values:
                    return []
                clauses.append(clause)
                params.append(values)
        if year is not None:
            if isinstance(year, bool) or not isinstance(year, int):
                return []  # no project's year is anything but an integer
            clauses.append("year = %s")
            params.append(year)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._read() as conn:
            return [row["doc"] for row in conn.execute(
                f"SELECT doc FROM projects{where} ORDER BY id", params, prepare=False)]

    def update_project(self, project_id: int, revision: int, changes: Mapping) -> dict:
        with self._write() as conn:
            found = None
            if not isinstance(project_id, bool) and isinstance(project_id, int):
                found = conn.execute("SELECT doc FROM projects WHERE id = %s FOR UPDATE",
                                     (project_id,)).fetchone()
            if found is None:
                raise LookupError(project_id)
            new = common.changed_project(found["doc"], revision, changes, common.now())
            params = _project_params(new)
            conn.execute("UPDATE projects SET application = %s, org_code = %s, year = %s, "
                         "status = %s, doc = %s::jsonb WHERE id = %s", (*params[1:], params[0]))
        return new

    # ---- year end: rubrics, scores, cases ----------------------------------------------------------

    def get_rubric(self, year: int) -> dict | None:
        if isinstance(year, bool) or not isinstance(year, int):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM rubrics WHERE year = %s", (year,)).fetchone()
        return None if row is None else row["doc"]

    def put_rubric(self, year: int, criteria, user: str | None) -> dict:
        doc = common.rubric_doc(year, criteria, user, common.now())
        with self._write() as conn:
            conn.execute("INSERT INTO rubrics (year, doc) VALUES (%s, %s::jsonb) "
                         "ON CONFLICT (year) DO UPDATE SET doc = EXCLUDED.doc",
                         (year, common.json_text(doc)))
        return doc

    def list_rubrics(self) -> list[dict]:
        with self._read() as conn:
            return [row["doc"] for row in conn.execute("SELECT doc FROM rubrics ORDER BY year")]

    def add_scores(self, rows) -> int:
        moment = common.now()
        docs = [common.score_doc(row, moment) for row in rows]
        seen = set()
        for doc in docs:
            key = common.score_key(doc)
            if key in seen:
                raise DuplicateError(f"score already stored: {key}")
            seen.add(key)
        if not docs:
            return 0
        with self._write() as conn:
            with conn.cursor() as cur:
                try:
                    cur.executemany(
                        f"INSERT INTO scores ({SCORE_COLUMNS}) VALUES (%s, %s, %s, %s, %s::jsonb)",
                        [_score_params(doc) for doc in docs])
                except psycopg.errors.UniqueViolation:
                    raise DuplicateError("score already stored") from None
        return len(docs)

    def set_scores(self, year: int, project_id: int, judge: str, scores) -> list[dict]:
        moment = common.now()
        docs = [common.score_doc({"year": year, "project": project_id, "judge": judge,
                                  "criterion": criterion, "score": score}, moment)
                for criterion, score in scores.items()]
        text_arg(judge, "judge")
        with self._write() as conn:
            conn.execute("DELETE FROM scores WHERE project_id = %s AND judge = %s",
                         (project_id, judge))
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO scores ({SCORE_COLUMNS}) VALUES (%s, %s, %s, %s, %s::jsonb)",
                    [_score_params(doc) for doc in docs])
        return self.list_scores(year, project_id, judge)

    def list_scores(self, year: int, project_id: int | None = None,
                    judge: str | None = None) -> list[dict]:
        if isinstance(year, bool) or not isinstance(year, int):
            return []
        clauses, params = ["year = %s"], [year]
        if project_id is not None:
            clauses.append("project_id = %s")
            params.append(project_id)
        if judge is not None:
            clauses.append("judge = %s")
            params.append(str(judge))
        with self._read() as conn:
            return [row["doc"] for row in conn.execute(
                f"SELECT doc FROM scores WHERE {' AND '.join(clauses)} "
                "ORDER BY project_id, judge, criterion", params)]

    def open_case(self, doc) -> tuple[dict, bool]:
        case = common.new_case(doc, common.now())
        with self._write() as conn:
            added = conn.execute(
                f"INSERT INTO cases ({CASE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s::jsonb) "
                "ON CONFLICT (receipt) DO NOTHING", _case_params(case)).rowcount
            if not added:
                found = conn.execute("SELECT doc FROM cases WHERE receipt = %s",
                                     (case["receipt"],)).fetchone()
                return found["doc"], False
        return case, True

    def get_case(self, receipt: str) -> dict | None:
        if not isinstance(receipt, str) or "\x00" in receipt:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM cases WHERE receipt = %s", (receipt,)).fetchone()
        return None if row is None else row["doc"]

    def update_case(self, receipt: str, revision: int, changes) -> dict:
        with self._write() as conn:
            found = None
            if isinstance(receipt, str) and "\x00" not in receipt:
                found = conn.execute("SELECT doc FROM cases WHERE receipt = %s FOR UPDATE",
                                     (receipt,)).fetchone()
            if found is None:
                raise LookupError(receipt)
            new = common.changed_case(found["doc"], revision, changes, common.now())
            params = _case_params(new)
            conn.execute("UPDATE cases SET stage = %s, deadline = %s, doc = %s::jsonb "
                         "WHERE receipt = %s", (*params[3:], params[0]))
        return new

    @staticmethod
    def _case_filter(form_id, org_codes, stages, prefix=""):
        if isinstance(stages, str):
            raise ValueError("stages must be a collection, not a string")
        clauses, params = [], []
        if form_id is not None:
            clauses.append(f"{prefix}form_id = %s")
            params.append(str(form_id))
        for column, values in (("org_code", org_codes), ("stage", stages)):
            if values is not None:
                values = sorted({str(value) for value in values})
                if not values:
                    return None
                clauses.append(f"{prefix}{column} = ANY(%s)")
                params.append(values)
        return clauses, params

    def list_cases(self, form_id: str | None = None, org_codes=None, stages=None) -> list[dict]:
        found = self._case_filter(form_id, org_codes, stages)
        if found is None:
            return []
        clauses, params = found
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._read() as conn:
            return [row["doc"] for row in conn.execute(
                f"SELECT doc FROM cases{where} ORDER BY receipt", params)]

    def case_groups(self, form_id: str, org_codes=None) -> list[dict]:
        found = self._case_filter(form_id, org_codes, None, prefix="c.")
        if found is None:
            return []
        clauses, params = found
        with self._read() as conn:
            rows = conn.execute(
                "SELECT c.org_code, c.stage, c.deadline, count(*) AS count FROM cases c "
                "JOIN submissions s ON s.receipt = c.receipt AND s.status <> '已作废' "
                f"WHERE {' AND '.join(clauses)} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 NULLS FIRST",
                params).fetchall()
        return [{"org_code": r["org_code"], "stage": r["stage"],
                 "deadline": r["deadline"] and r["deadline"].isoformat(), "count": r["count"]}
                for r in rows]

    # ---- API tokens -----------------------------------------------------------------------------

    def add_api_token(self, username: str, token_hash: str, label: str, expires_at) -> dict:
        doc = common.token_doc(username, token_hash, label, expires_at, common.now())
        with self._write() as conn:
            row = conn.execute(
                f"INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, NULL) "
                f"ON CONFLICT (token_hash) DO NOTHING RETURNING {TOKEN_COLUMNS}",
                (doc["id"], doc["username"], doc["label"], doc["token_hash"],
                 common.parse_stamp(doc["created_at"]),
                 doc["expires_at"] and common.parse_stamp(doc["expires_at"]))).fetchone()
            if row is None:
                raise DuplicateError("token already stored")
        return _token_doc(row)

    def find_api_token(self, token_hash: str) -> dict | None:
        if not isinstance(token_hash, str) or "\x00" in token_hash:
            return None
        with self._read() as conn:
            return _token_doc(conn.execute(
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = %s",
                (token_hash,)).fetchone())

    def list_api_tokens(self, username: str | None = None) -> list[dict]:
        where, params = ("", []) if username is None else (" WHERE username = %s", [username])
        with self._read() as conn:
            return [_token_doc(row) for row in conn.execute(
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens{where} ORDER BY position", params)]

    def revoke_api_token(self, token_id: str) -> dict | None:
        if not isinstance(token_id, str) or "\x00" in token_id:
            return None
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL "
                f"RETURNING {TOKEN_COLUMNS}", (common.now(), token_id)).fetchone()
            if row is None:
                row = conn.execute(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = %s",
                                   (token_id,)).fetchone()
        return _token_doc(row)

    # ---- photos ---------------------------------------------------------------------------------

    def put_photo(self, data: bytes, content_type: str) -> str:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("a photo must be non-empty bytes")
        text_arg(content_type, "content type")
        if self.photos is not None:
            return self.photos.put(bytes(data), content_type)
        name = common.photo_name(bytes(data), content_type)
        with self._connection(MSG_PHOTO_WRITE) as conn:
            conn.execute("INSERT INTO photos (name, content_type, size, data) "
                         "VALUES (%s, %s, %s, %s) "
                         # stored already: now counts as its last put (see prune_photos)
                         "ON CONFLICT (name) DO UPDATE SET created_at = now()",
                         (name, content_type, len(data), bytes(data)))
        return name

    def prune_photos(self, stored_before: datetime) -> int:
        # One hash anti-join over the names every submission refers to. A put that races
        # the delete waits on the row: it either refreshed created_at first (the row no longer
        # matches and is kept) or inserts the photo anew after it.
        if self.photos is not None:
            with self._connection(MSG_READ) as conn:
                keep = {row["name"] for row in conn.execute(USED_PHOTOS)}
            return self.photos.prune(keep, stored_before.timestamp())
        with self._connection(MSG_PHOTO_WRITE) as conn:
            return conn.execute(
                f"WITH used AS ({USED_PHOTOS}) DELETE FROM photos p WHERE p.created_at < %s "
                "AND NOT EXISTS (SELECT 1 FROM used WHERE used.name = p.name)",
                (stored_before,)).rowcount

    def get_photo(self, name: str) -> dict | None:
        if self.photos is not None:
            return self.photos.get(name)
        if not common.is_photo_name(name):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT name, content_type, size, data FROM photos "
                               "WHERE name = %s", (name,)).fetchone()
        return None if row is None else {**row, "data": bytes(row["data"])}

    # ---- deployment settings --------------------------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        text_arg(key, "key")
        common.json_text(default)
        with self._write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES (%s, %s) "
                         "ON CONFLICT (key) DO NOTHING", (key, default))
            row = conn.execute("SELECT value FROM settings WHERE key = %s", (key,)).fetchone()
        return row["value"]

    # ---- the whole database ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self):
        """One REPEATABLE READ, READ ONLY transaction on its own connection for the whole
        block; records come through server-side cursors (memory stays flat)."""
        try:
            with self._get_pool().connection() as conn:
                _start_repeatable_read(conn)
                conn.execute("SELECT 1")  # the snapshot is taken here, at the start
                yield _PgSnapshot(conn, self.photos)
        except psycopg.Error as exc:
            raise storage_error(MSG_READ, exc) from exc

    def load(self, source, force: bool = False) -> dict[str, int]:
        counts = {kind: 0 for kind in KINDS}
        with self._write() as conn:
            # Every lock at once, in the order writers take them (receipt_days before
            # submissions), so that a restore never deadlocks with a submission; waiting at
            # most a minute for running exports and snapshots to finish.
            conn.execute("SET LOCAL lock_timeout = '60s'")
            conn.execute("LOCK TABLE receipt_days, submissions, forms, orgs, users, links, "
                         "sessions, audit_log, drafts, form_states, projects, api_tokens, "
                         "rubrics, scores, cases "
                         "IN ACCESS EXCLUSIVE MODE")
            if not force:
                held = conn.execute(
                    "SELECT EXISTS (SELECT FROM forms) OR EXISTS (SELECT FROM orgs) "
                    "OR EXISTS (SELECT FROM users) OR EXISTS (SELECT FROM links) "
                    "OR EXISTS (SELECT FROM submissions) AS held").fetchone()["held"]
                if held:
                    raise RestoreRefused(f"数据库 {self.location} 中已有数据;确认覆盖请加 --force")
            conn.execute("TRUNCATE forms, orgs, users, links, submissions, receipt_days, "
                         "sessions, audit_log, drafts, form_states, projects, api_tokens, "
                         "rubrics, scores, cases "
                         "RESTART IDENTITY")
            with conn.cursor() as cur:
                for kind in KINDS:
                    counts[kind] = _copy_records(cur, kind, source.records(kind))
            conn.execute(RESET_RECEIPT_DAYS)
            # Projects keep their ids: the next one opened follows the highest loaded.
            conn.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), "
                         "coalesce(max(id), 0) + 1, false) FROM projects")
            counts["photos"] = self._load_photos(conn, source)
            self._bump(conn, *TABLES)
        return counts

    def _load_photos(self, conn, source) -> int:
        count = 0
        for name in source.photo_names():
            photo = source.photo(name)
            if photo is None:
                raise StorageError(f"备份中缺少照片 {name}")
            data, content_type = bytes(photo["data"]), photo["content_type"]
            if common.photo_name(data, content_type) != name:
                raise StorageError(f"照片 {name} 的内容与名称不符")
            if self.photos is not None:
                self.photos.put(data, content_type)
            else:
                conn.execute("INSERT INTO photos (name, content_type, size, data) "
                             "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                             (name, content_type, len(data), data))
            count += 1
        return count

    def check(self) -> dict:
        problems = []
        with self._read() as conn:
            found = current_revision(conn)
            settings = {row["name"]: row["setting"] for row in conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('fsync', 'synchronous_commit')")}
        if found != HEAD_REVISION:
            problems.append(MSG_SCHEMA.format(state="不是最新版本", found=found or "无",
                                              head=HEAD_REVISION))
        for name, value in sorted(settings.items()):
            if value == "off":
                problems.append(f"PostgreSQL 设置 {name} = off:已确认的数据在断电或崩溃后"
                                "可能丢失")
        with self.snapshot() as snap:
            counts = snap.counts()
            missing = snap.missing_photos()
            behind = snap.receipt_days_behind()
        problems += [f"提交 {receipt} 引用的照片 {name} 不存在" for receipt, name in missing[:20]]
        if len(missing) > 20:
            problems.append(f"另有 {len(missing) - 20} 张照片缺失")
        problems += [f"回执计数 {day} 落后于已有回执(最后 {last},已有 {highest})"
                     for day, last, highest in behind[:20]]
        return {"ok": not problems, "backend": self.backend, "location": self.location,
                "counts": counts, "problems": problems, "schema_revision": found}


def _copy_records(cur, kind: str, docs: Iterable[Mapping]) -> int:
    """COPY one kind of snapshot documents into its (truncated) table; how many."""
    count = 0
    if kind == "forms":
        with cur.copy(f"COPY forms ({FORM_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                schema = {**doc["schema"], "version": doc["version"]}
                copy.write_row((doc["id"], doc["version"], common.json_text(schema),
                                common.parse_stamp(doc["created_at"]), doc.get("source"),
                                doc.get("user")))
                count += 1
    elif kind == "orgs":
        with cur.copy("COPY orgs (code, doc) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row((text_arg(doc.get("code"), "organization code"),
                                common.json_text(dict(doc))))
                count += 1
    elif kind == "users":
        with cur.copy("COPY users (username, doc) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row((text_arg(doc.get("username"), "username"),
                                common.json_text(dict(doc))))
                count += 1
    elif kind == "links":
        with cur.copy(f"COPY links ({LINK_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                revoked = doc.get("revoked_at")
                copy.write_row((doc["token"], doc["form_id"], doc["org_code"],
                                common.parse_stamp(doc["created_at"]),
                                common.parse_stamp(revoked) if revoked else None))
                count += 1
    elif kind == "submissions":
        with cur.copy(COPY_LOADED_SUBMISSIONS) as copy:
            for doc in docs:
                copy.write_row(_loaded_submission(doc))
                count += 1
    elif kind == "projects":
        with cur.copy(f"COPY projects ({PROJECT_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row(_project_params(doc))
                count += 1
    elif kind == "api_tokens":
        with cur.copy(f"COPY api_tokens ({TOKEN_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row((
                    text_arg(doc.get("id"), "token id"), doc["username"], doc.get("label") or "",
                    text_arg(doc.get("token_hash"), "token hash"),
                    common.parse_stamp(doc["created_at"]),
                    *(common.parse_stamp(doc[k]) if doc.get(k) else None
                      for k in ("expires_at", "revoked_at"))))
                count += 1
    elif kind == "rubrics":
        with cur.copy("COPY rubrics (year, doc) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row((common.year_arg(doc["year"]), common.json_text(doc)))
                count += 1
    elif kind == "scores":
        with cur.copy(f"COPY scores ({SCORE_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row(_score_params(common.score_doc(doc, common.now())))
                count += 1
    elif kind == "cases":
        with cur.copy(f"COPY cases ({CASE_COLUMNS}) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row(_case_params(doc))
                count += 1
    elif kind == "audit":
        with cur.copy("COPY audit_log (at, day, username, action, target, detail, address) "
                      "FROM STDIN") as copy:
            for doc in docs:
                detail = doc.get("detail")
                copy.write_row((common.parse_stamp(doc["at"]), common.local_day(doc["at"]),
                                doc.get("user"), text_arg(doc.get("action"), "action"),
                                doc.get("target") or "",
                                None if detail is None else common.json_text(detail),
                                doc.get("address")))
                count += 1
    elif kind in ("drafts", "form_states"):
        with cur.copy(f"COPY {kind} (form_id, doc) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row((text_arg(doc.get("form_id"), "form id"),
                                common.json_text(dict(doc))))
                count += 1
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return count


def _loaded_submission(doc: Mapping) -> tuple:
    """The COPY_LOADED_SUBMISSIONS row of a snapshot's submission (one of a backup made
    before the lifecycle reads with its defaults). ``edit`` and ``updated_at`` stay NULL when
    they are what a NULL reads as, so that a load stores what add_submission would."""
    doc = common.with_lifecycle(dict(doc))
    common.lifecycle_args(doc["status"], doc["period"], doc["slot"], doc["project_id"])
    submitted_at = doc["submitted_at"]
    submitted, updated = common.parse_stamp(submitted_at), common.parse_stamp(doc["updated_at"])
    edit = doc["edit"]
    files = list(doc.get("files") or common.photo_refs(doc.get("answers")))
    return (doc["form_id"], doc["form_version"], doc["org_code"], doc["receipt"],
            doc.get("submission_id") or secrets.token_hex(16), submitted,
            common.local_day(submitted_at), doc.get("token"), common.json_text(files),
            common.json_text(doc["answers"]), doc["status"], doc["period"], doc["slot"],
            doc["project_id"], doc["revision"], common.json_text(doc["history"]),
            common.json_text(doc["versions"]),
            None if edit == _default_edit(doc) else common.json_text(edit),
            None if updated == submitted else updated)


class _Stream:
    """The iterator of iter_submissions: a server-side cursor in a REPEATABLE READ transaction
    on a connection of its own, given back to the pool when the rows run out, on close(), or
    when the iterator is garbage collected. Rows come STREAM_BATCH at a time (one FETCH each:
    psycopg's ServerCursor.fetchone would make a round trip per row - 410k round trips, two
    thirds of the time of a 410k-row export)."""

    def __init__(self, pool: ConnectionPool, timeout: float):
        self._pool = pool
        self.conn = pool.getconn(timeout=timeout)
        self._cursor = None
        self._batch = []
        self._next = 0

    def start(self, query: str, params) -> None:
        self._cursor = self.conn.cursor(name=f"stream_{uuid.uuid4().hex}")
        self._cursor.execute(query, params)

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        if self._next == len(self._batch):
            if self.conn is None:
                raise StopIteration
            try:
                self._batch, self._next = self._cursor.fetchmany(STREAM_BATCH), 0
            except psycopg.Error as exc:
                self.close()
                raise storage_error(MSG_READ, exc) from exc
            if not self._batch:
                self.close()
                raise StopIteration
        row = self._batch[self._next]
        self._batch[self._next] = None  # the caller holds the one row it is given
        self._next += 1
        return _submission_doc(row)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        self._batch, self._next = [], 0
        if conn is None:
            return
        try:
            if self._cursor is not None:
                self._cursor.close()
            conn.rollback()
        except psycopg.Error:
            pass  # the pool discards a broken connection
        finally:
            self._pool.putconn(conn)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _PgSnapshot:
    """storage.contract.Snapshot over one open REPEATABLE READ transaction."""

    def __init__(self, conn, photos: FilePhotos | None):
        self._conn = conn
        self._photos = photos

    def _rows(self, query: str, params=()):
        with self._conn.cursor(name=f"snap_{uuid.uuid4().hex}") as cur:
            cur.itersize = STREAM_BATCH
            cur.execute(query, params)
            yield from cur

    def records(self, kind: str):
        if kind not in SNAPSHOT_QUERIES:
            raise ValueError(f"unknown kind {kind!r}")
        for row in self._rows(SNAPSHOT_QUERIES[kind]):
            if kind == "forms":
                yield _form_doc(row)
            elif kind == "links":
                yield _link_doc(row)
            elif kind == "api_tokens":
                yield _token_doc(row)
            elif kind == "submissions":
                doc = _submission_doc(row)
                del doc["id"]
                yield doc
            elif kind == "audit":
                doc = _audit_doc(row)
                del doc["id"]
                yield doc
            else:
                yield row["doc"]

    def photo_names(self):
        if self._photos is not None:
            yield from self._photos.names()
        else:
            for row in self._rows("SELECT name FROM photos ORDER BY name"):
                yield row["name"]

    def photo(self, name: str):
        if self._photos is not None:
            return self._photos.get(name)
        row = self._conn.execute("SELECT name, content_type, size, data FROM photos "
                                 "WHERE name = %s", (name,)).fetchone()
        return None if row is None else {**row, "data": bytes(row["data"])}

    def counts(self) -> dict[str, int]:
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM forms) AS forms, (SELECT count(*) FROM orgs) AS orgs, "
            "(SELECT count(*) FROM users) AS users, (SELECT count(*) FROM links) AS links, "
            "(SELECT count(*) FROM submissions) AS submissions, "
            "(SELECT count(*) FROM audit_log) AS audit, "
            "(SELECT count(*) FROM drafts) AS drafts, "
            "(SELECT count(*) FROM form_states) AS form_states, "
            "(SELECT count(*) FROM projects) AS projects, "
            "(SELECT count(*) FROM api_tokens) AS api_tokens, "
            "(SELECT count(*) FROM rubrics) AS rubrics, "
            "(SELECT count(*) FROM scores) AS scores, "
            "(SELECT count(*) FROM cases) AS cases, "
            "(SELECT count(*) FROM photos) AS photos").fetchone()
        counts = dict(row)
        if self._photos is not None:
            counts["photos"] = sum(1 for _ in self._photos.names())
        return counts

    def missing_photos(self) -> list[tuple[str, str]]:
        """(receipt, photo name) of every photo a submission refers to (its ``files``, else
        the image answers) that is not stored."""
        if self._photos is None:
            stored = {row["name"] for row in self._rows("SELECT name FROM photos")}
        else:
            stored = set(self._photos.names())
        missing = []
        # Only submissions that can refer to a photo at all are read.
        for row in self._rows("SELECT receipt, files, answers FROM submissions "
                              "WHERE files <> '[]' OR jsonb_path_exists(answers, "
                              "'$.**.file') ORDER BY id"):
            for name in row["files"] or common.photo_refs(row["answers"]):
                if name not in stored:
                    missing.append((row["receipt"], name))
        return missing

    def receipt_days_behind(self) -> list[tuple[str, int, int]]:
        """(day, last receipt number issued, highest one stored) where the counter is behind
        (the next submission of that day could not be stored)."""
        rows = self._conn.execute(r"""
            SELECT s.day, coalesce(d.last, 0) AS last, s.highest
            FROM (SELECT split_part(receipt, '-', 1) AS day,
                         max(split_part(receipt, '-', 2)::integer) AS highest
                  FROM submissions WHERE receipt ~ '^\d{6}-\d{4,9}$' GROUP BY 1) s
            LEFT JOIN receipt_days d ON d.day = s.day
            WHERE coalesce(d.last, 0) < s.highest ORDER BY s.day""").fetchall()
        return [(row["day"], row["last"], row["highest"]) for row in rows]
