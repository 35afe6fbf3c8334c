"""The embedded backend: the storage contract (storage.contract) on TinyDB, in one file.

``TinyStore`` keeps everything in DATA_DIR/taizhang.db (TinyDB over the append-only, fsync'd
log of ``storage.logdb``) and photos as files in DATA_DIR/uploads. Any number of processes of
one machine may open the same file: each sees the others' writes on its next call. Meant for
one county (see README "How big"); a larger deployment runs on PostgreSQL (storage.pg).
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from tinydb import Query, TinyDB

from . import common
from .common import json_copy, stamp, text_arg
from .contract import KINDS
from .errors import (DraftConflict, DuplicateError, PeriodTaken, RecordChanged, RestoreRefused,
                     StorageError, SubmissionConflict)
from .indexes import LINKS, SUBMISSIONS, Indexes
from .logdb import LogStorage, RawJSON
from .logdb import check as check_log
from .photofiles import FilePhotos

FORMS, ORGS, USERS, SESSIONS, FAILURES = "forms", "orgs", "users", "sessions", "login_failures"
SETTINGS = "settings"
DRAFTS = "drafts"
FORM_STATES = "form_states"
AUDIT = "audit"
COUNTERS = "counters"
PROJECTS = "projects"
TOKENS = "api_tokens"
RUBRICS = "rubrics"
SCORES = "scores"
CASES = "cases"
DB_FILENAME = "taizhang.db"
FAILURE_KEEP = timedelta(days=1)
# The counters file is rewritten with only the live counters once more lines were appended
# to it than twice the lines it was last rewritten with, plus this: it stays small, and each
# rewrite costs less than the hits that made it needed.
COUNTER_SLACK = 1000

log = logging.getLogger(__name__)

Q = Query()


def _submission_out(doc_id: int, doc: Mapping) -> dict:
    out = {k: json_copy(v) for k, v in doc.items() if k != "answers"}
    out["answers"] = doc["answers"].load()
    out["id"] = doc_id
    return common.with_lifecycle(out)


def _submission_stored(doc: Mapping) -> dict:
    """A submission as this backend keeps it: answers raw (read when asked for), and the
    lifecycle keys only where they differ from what common.with_lifecycle fills in, so that a
    submission nobody reviewed costs no more than before."""
    out = {k: v for k, v in doc.items() if k != "id"}
    out["answers"] = RawJSON(common.json_text(doc["answers"]).encode("utf-8"))
    defaults = common.with_lifecycle({"submitted_at": doc.get("submitted_at")})
    for key, value in defaults.items():
        if key in out and key != "submitted_at" and out[key] == value:
            del out[key]
    return out


class TinyStore:
    """The storage contract over one database file (see storage.contract.Store).

    Small tables (forms, organizations, users, sessions, login failures, links, settings) are
    read with TinyDB queries; submissions and links through the indexes of storage.indexes.
    Every write is one ``LogStorage.transaction()``: one durable line in the file.

    Rate-limit counters are in a file of their own beside it (``<name>.counters.db``, the same
    engine without fsync): one line per hit would otherwise make the database file, which
    every worker replays when it starts, grow with every public request. That file is
    rewritten with only the live counters when it grows (``_compact_counters``)."""

    backend = "tinydb"

    def __init__(self, path, photos_dir: str | None = None):
        self.path = os.path.abspath(os.fspath(path))
        self.photos = FilePhotos(photos_dir or os.path.join(os.path.dirname(self.path),
                                                            "uploads"))
        self._indexes = Indexes()
        self._db = TinyDB(self.path, storage=LogStorage, listener=self._indexes,
                          shared_values=("form_id", "org_code"))
        self._engine: LogStorage = self._db.storage
        # cache_size=0: no query cache, which could not see other processes' writes.
        self._tables = {name: self._db.table(name, cache_size=0)
                        for name in (FORMS, ORGS, USERS, SESSIONS, FAILURES, LINKS, SETTINGS,
                                     DRAFTS, FORM_STATES, PROJECTS, TOKENS, RUBRICS, SCORES,
                                     CASES)}
        self.counters_path = os.path.splitext(self.path)[0] + ".counters.db"
        self._counter_log: LogStorage | None = None  # opened on first use
        self._counter_keys = _CounterKeys()
        self._counter_lock = threading.Lock()

    @property
    def location(self) -> str:
        return self.path

    def warm_up(self) -> None:
        """Build the indexes a submit needs now (~0.1 s per 100k submissions), so that a
        server worker's first submit does not wait for them. (The admin lists' indexes are
        built by the first admin query of the worker: most workers only serve cadres.)"""
        with self._engine.reading():
            self._indexes.keys

    def version_of(self, table: str) -> tuple:
        with self._engine.reading():  # caught up: a change by another process is seen
            changes = self._engine.changes
            if table == FORMS:  # a form's state is part of what its pages are built from
                return (id(self), self._engine.loads, changes.get(FORMS, 0),
                        changes.get(FORM_STATES, 0))
            return (id(self), self._engine.loads, changes.get(table, 0))

    def close(self) -> None:
        self._db.close()
        if self._counter_log is not None:
            self._counter_log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- reading the small tables with TinyDB ---------------------------------------------------

    def _search(self, table: str, cond) -> list:
        """The documents of table matching a TinyDB query (read under the engine's lock: no
        thread of this process changes the table while TinyDB iterates over it)."""
        with self._engine.reading():
            return self._tables[table].search(cond)

    def _get(self, table: str, cond):
        with self._engine.reading():
            return self._tables[table].get(cond)

    def _all(self, table: str) -> list:
        """Every document of table, in id order."""
        with self._engine.reading():
            return sorted(self._tables[table].all(), key=lambda doc: doc.doc_id)

    # ---- forms ----------------------------------------------------------------------------------

    def add_form_version(self, schema: Mapping, source: str, user: str | None = None) -> dict:
        if not isinstance(schema, Mapping):
            raise ValueError("schema must be a mapping")
        form_id = text_arg(schema.get("id"), "schema id")
        schema = json_copy(dict(schema))
        common.json_text(schema)
        with self._engine.transaction() as txn:
            versions = [d["version"] for d in self._search(FORMS, Q.id == form_id)]
            schema["version"] = max(versions, default=0) + 1
            doc = {"id": form_id, "version": schema["version"], "schema": schema,
                   "created_at": stamp(common.now()), "source": source, "user": user}
            txn.insert(FORMS, doc)
        return json_copy(doc)

    def get_draft(self, form_id: str) -> dict | None:
        doc = self._get(DRAFTS, Q.form_id == form_id)
        return None if doc is None else dict(doc)

    def list_drafts(self) -> list[dict]:
        return sorted((dict(d) for d in self._all(DRAFTS)), key=lambda d: d["form_id"])

    def save_draft(self, form_id: str, text: str, user: str | None,
                   base_revision: int | None) -> dict:
        text_arg(form_id, "form id")
        common.check_draft_args(text, base_revision)
        with self._engine.transaction() as txn:
            old = self._get(DRAFTS, Q.form_id == form_id)
            revision = old["revision"] if old is not None else 0
            if base_revision is not None and base_revision != revision:
                raise DraftConflict(f"draft {form_id} is at revision {revision}")
            doc = {"form_id": form_id, "text": text, "revision": revision + 1,
                   "saved_at": stamp(common.now()), "user": user}
            if old is None:
                txn.insert(DRAFTS, doc)
            else:
                txn.put(DRAFTS, old.doc_id, doc)
        return dict(doc)

    def delete_draft(self, form_id: str) -> bool:
        with self._engine.transaction() as txn:
            old = self._get(DRAFTS, Q.form_id == form_id)
            if old is None:
                return False
            txn.delete(DRAFTS, old.doc_id)
        return True

    def set_form_closed(self, form_id: str, closed: bool, user: str | None) -> dict:
        text_arg(form_id, "form id")
        if not isinstance(closed, bool):
            raise ValueError("closed must be a bool")
        doc = {"form_id": form_id, "closed": closed, "changed_at": stamp(common.now()),
               "user": user}
        with self._engine.transaction() as txn:
            old = self._get(FORM_STATES, Q.form_id == form_id)
            if old is None:
                txn.insert(FORM_STATES, doc)
            else:
                txn.put(FORM_STATES, old.doc_id, doc)
        return dict(doc)

    def form_states(self) -> dict[str, dict]:
        return {d["form_id"]: dict(d) for d in self._all(FORM_STATES)}

    def get_form(self, form_id: str, version: int | None = None) -> dict | None:
        docs = self._search(FORMS, Q.id == form_id)
        if version is not None:
            docs = [d for d in docs if d["version"] == version]
        if not docs:
            return None
        return json_copy(dict(max(docs, key=lambda d: d["version"])))

    def list_forms(self) -> list[dict]:
        latest: dict[str, Mapping] = {}
        for doc in self._all(FORMS):
            if doc["id"] not in latest or doc["version"] > latest[doc["id"]]["version"]:
                latest[doc["id"]] = doc
        return [json_copy(dict(latest[k])) for k in sorted(latest)]

    def form_versions(self, form_id: str) -> list[dict]:
        docs = sorted(self._search(FORMS, Q.id == form_id), key=lambda d: d["version"])
        return [json_copy(dict(d)) for d in docs]

    # ---- organizations --------------------------------------------------------------------------

    def replace_orgs(self, rows: Iterable[Mapping]) -> int:
        rows = common.org_rows(rows)
        with self._engine.transaction() as txn:
            txn.drop(ORGS)
            for row in rows:
                txn.insert(ORGS, row)
        return len(rows)

    def upsert_orgs(self, rows: Iterable[Mapping]) -> int:
        rows = common.org_rows(rows)
        with self._engine.transaction() as txn:
            existing = {doc["code"]: doc.doc_id for doc in self._all(ORGS)}
            for row in rows:
                if row["code"] in existing:
                    txn.put(ORGS, existing[row["code"]], row)  # keeps its place in the order
                else:
                    txn.insert(ORGS, row)
        return len(rows)

    def get_org(self, code: str) -> dict | None:
        doc = self._get(ORGS, Q.code == code)
        return None if doc is None else json_copy(dict(doc))

    def list_orgs(self) -> list[dict]:
        return [json_copy(dict(doc)) for doc in self._all(ORGS)]

    def delete_org(self, code: str) -> bool:
        with self._engine.transaction() as txn:
            docs = self._search(ORGS, Q.code == code)
            for doc in docs:
                txn.delete(ORGS, doc.doc_id)
        return bool(docs)

    # ---- users and sessions ---------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str,
                 org_code: str | None = None) -> dict:
        username = text_arg(username, "username")
        if org_code is not None:
            text_arg(org_code, "organization code")
        with self._engine.transaction() as txn:
            if self._get(USERS, Q.username == username) is not None:
                raise DuplicateError(f"用户名已存在:{username}")
            doc = {"username": username, "password_hash": password_hash, "role": role,
                   "org_code": org_code, "created_at": stamp(common.now())}
            txn.insert(USERS, doc)
        return dict(doc)

    def update_user(self, username: str, changes: Mapping) -> dict | None:
        changes = common.user_changes(changes)
        with self._engine.transaction() as txn:
            user = self._get(USERS, Q.username == username)
            if user is None:
                return None
            new = {"org_code": None, **user, **changes}
            txn.put(USERS, user.doc_id, new)
            if (not new.get("active", True) or new["role"] != user["role"]
                    or new["org_code"] != user.get("org_code")):
                for session in self._search(SESSIONS, Q.username == username):
                    txn.delete(SESSIONS, session.doc_id)
        return self.get_user(username)

    def get_user(self, username: str) -> dict | None:
        doc = self._get(USERS, Q.username == username)
        return None if doc is None else {"org_code": None, **json_copy(dict(doc))}

    def list_users(self) -> list[dict]:
        return sorted(({"org_code": None, **json_copy(dict(d))} for d in self._all(USERS)),
                      key=lambda d: d["username"])

    def set_password(self, username: str, password_hash: str) -> dict | None:
        with self._engine.transaction() as txn:
            user = self._get(USERS, Q.username == username)
            if user is None:
                return None
            txn.put(USERS, user.doc_id, {**user, "password_hash": password_hash})
            for session in self._search(SESSIONS, Q.username == username):
                txn.delete(SESSIONS, session.doc_id)
        return self.get_user(username)

    def create_session(self, username: str, lifetime: timedelta) -> dict:
        text_arg(username, "username")
        created = common.now()
        expires = common.session_expiry(created, lifetime)
        doc = {"id": secrets.token_urlsafe(32), "username": username,
               "created_at": stamp(created), "expires_at": stamp(expires)}
        with self._engine.transaction() as txn:
            for old in self._search(SESSIONS, Q.expires_at.test(
                    lambda t: common.parse_stamp(t) <= created)):
                txn.delete(SESSIONS, old.doc_id)
            txn.insert(SESSIONS, doc)
        return dict(doc)

    def get_session(self, session_id: str) -> dict | None:
        if not isinstance(session_id, str) or not session_id:
            return None
        doc = self._get(SESSIONS, Q.id == session_id)
        if doc is None or common.parse_stamp(doc["expires_at"]) <= common.now():
            return None
        return dict(doc)

    def end_session(self, session_id: str) -> bool:
        with self._engine.transaction() as txn:
            doc = self._get(SESSIONS, Q.id == session_id)
            if doc is None:
                return False
            txn.delete(SESSIONS, doc.doc_id)
        return common.parse_stamp(doc["expires_at"]) > common.now()

    def end_user_sessions(self, username: str) -> int:
        with self._engine.transaction() as txn:
            now = common.now()
            sessions = self._search(SESSIONS, Q.username == username)
            for session in sessions:
                txn.delete(SESSIONS, session.doc_id)
        return sum(common.parse_stamp(s["expires_at"]) > now for s in sessions)

    # ---- login throttling -----------------------------------------------------------------------

    def record_login_failure(self, key: str, at: datetime) -> None:
        text_arg(key, "key")
        horizon = at - FAILURE_KEEP
        with self._engine.transaction() as txn:
            for old in self._search(FAILURES, Q.at.test(
                    lambda t: common.parse_stamp(t) < horizon)):
                txn.delete(FAILURES, old.doc_id)
            txn.insert(FAILURES, {"key": key, "at": at.isoformat()})

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        times = [common.parse_stamp(d["at"]) for d in self._search(FAILURES, Q.key == key)]
        return sorted(t for t in times if t >= since)

    # ---- rate-limit counters --------------------------------------------------------------------

    def _counters(self) -> LogStorage:
        """The counters file (opened on first use: most commands never count anything)."""
        if self._counter_log is None:
            with self._counter_lock:
                if self._counter_log is None:
                    self._counter_log = LogStorage(self.counters_path, durable=False,
                                                   listener=self._counter_keys)
        return self._counter_log

    def hit_counter(self, key: str, window: float, amount: int = 1) -> tuple[int, float]:
        common.counter_args(key, window, amount)
        counters = self._counters()
        with counters.transaction() as txn:
            now = time.time()
            doc_id = self._counter_keys.get(key)
            doc = None if doc_id is None else counters.tables[COUNTERS][doc_id]
            if doc is None or doc["expires_at"] <= now:
                doc = {"key": key, "count": amount, "expires_at": now + window}
            else:
                doc = {**doc, "count": doc["count"] + amount}
            if doc_id is None:
                txn.insert(COUNTERS, doc)
            else:
                txn.put(COUNTERS, doc_id, doc)
        appended = counters.records - counters.loaded_records
        if appended > 2 * counters.loaded_records + COUNTER_SLACK:
            try:
                self._compact_counters(expired_only=True)
            except StorageError:  # the hit is counted; the next one tries again
                log.exception("%s: could not compact the counters", self.counters_path)
        return doc["count"], doc["expires_at"]

    def get_counter(self, key: str) -> tuple[int, float] | None:
        text_arg(key, "key")
        counters = self._counters()
        with counters.reading():
            doc_id = self._counter_keys.get(key)
            doc = None if doc_id is None else counters.tables[COUNTERS][doc_id]
        if doc is None or doc["expires_at"] <= time.time():
            return None
        return doc["count"], doc["expires_at"]

    def clear_counter(self, key: str) -> None:
        text_arg(key, "key")
        counters = self._counters()
        with counters.transaction() as txn:
            doc_id = self._counter_keys.get(key)
            if doc_id is not None:
                txn.delete(COUNTERS, doc_id)

    def drop_counters(self, expired_only: bool = True) -> int:
        return self._compact_counters(expired_only)

    def _compact_counters(self, expired_only: bool) -> int:
        """Rewrite the counters file with the live counters only (none unless expired_only);
        how many counters were dropped."""
        now, dropped = time.time(), 0

        def keep(_table, doc):
            nonlocal dropped
            kept = expired_only and doc["expires_at"] > now
            dropped += not kept
            return kept

        # Counters may be lost (README): a damaged line, which a crash of the machine can
        # leave in a file written without fsync, never stops the file from being rewritten.
        self._counters().compact(keep, lose_corrupt=True)
        return dropped

    # ---- audit log ------------------------------------------------------------------------------

    def add_audit(self, entry) -> dict:
        doc = common.audit_entry(entry)
        with self._engine.transaction() as txn:
            doc_id = txn.insert(AUDIT, doc)
        return {**json_copy(doc), "id": doc_id}

    def query_audit(self, action=None, user=None, date_from=None, date_to=None, offset: int = 0,
                    limit: int | None = None) -> tuple[list[dict], int]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        low, high = common.day_of(date_from), common.day_of(date_to)
        with self._engine.reading():
            table = self._engine.tables.get(AUDIT, {})
            matching = [doc_id for doc_id in sorted(table, reverse=True)
                        if _audit_matches(table[doc_id], action, user, low, high)]
            stop = None if limit is None else offset + limit
            page = [{**json_copy(table[i]), "id": i} for i in matching[offset:stop]]
        return page, len(matching)

    # ---- links ----------------------------------------------------------------------------------

    def _link(self, doc_id: int | None) -> dict | None:
        return None if doc_id is None else dict(self._engine.tables[LINKS][doc_id])

    def get_link(self, token: str) -> dict | None:
        with self._engine.reading():
            return self._link(self._indexes.link_by_token.get(token))

    def active_link(self, form_id: str, org_code: str) -> dict | None:
        with self._engine.reading():
            return self._link(self._indexes.active_link.get((form_id, org_code)))

    def create_link(self, form_id: str, org_code: str) -> dict:
        text_arg(form_id, "form id")
        text_arg(org_code, "organization code")
        with self._engine.transaction() as txn:
            now = stamp(common.now())
            current = self._link(self._indexes.active_link.get((form_id, org_code)))
            if current is not None:
                txn.put(LINKS, self._indexes.active_link[(form_id, org_code)],
                        {**current, "revoked_at": now})
            doc = {"token": secrets.token_urlsafe(24), "form_id": form_id,
                   "org_code": org_code, "created_at": now, "revoked_at": None}
            txn.insert(LINKS, doc)
        return dict(doc)

    def revoke_link(self, token: str) -> dict | None:
        with self._engine.transaction() as txn:
            doc_id = self._indexes.link_by_token.get(token)
            if doc_id is None:
                return None
            doc = self._link(doc_id)
            if not doc.get("revoked_at"):
                txn.put(LINKS, doc_id, {**doc, "revoked_at": stamp(common.now())})
        return self.get_link(token)

    def list_links(self, form_id: str, active_only: bool = False) -> list[dict]:
        docs = sorted(self._search(LINKS, Q.form_id == form_id), key=lambda d: d.doc_id)
        return [dict(d) for d in docs if not (active_only and d.get("revoked_at"))]

    # ---- submissions ----------------------------------------------------------------------------

    def add_submission(self, form_id: str, form_version: int, org_code: str, answers: Mapping,
                       submission_id: str, token: str | None = None,
                       files=None, period: str | None = None, slot: str | None = None,
                       project_id: int | None = None) -> tuple[dict, bool]:
        common.check_submission_args(form_id, form_version, org_code, answers, submission_id)
        common.lifecycle_args(common.PENDING, period, slot, project_id)
        raw = RawJSON(common.json_text(dict(answers)).encode("utf-8"))
        self.warm_up()  # the first time: outside the file lock, other writers do not wait
        with self._engine.transaction() as txn:
            existing = self._indexes.keys.by_sid.get(submission_id)
            if existing is not None:
                doc = _submission_out(existing, self._engine.tables[SUBMISSIONS][existing])
                if common.same_submission(doc, form_id, org_code, answers):
                    return doc, False
                raise SubmissionConflict(submission_id, doc["receipt"])
            holder = slot and self._indexes.keys.by_slot.get((form_id, org_code, slot))
            if holder:
                raise PeriodTaken(self._engine.tables[SUBMISSIONS][holder]["receipt"])
            moment = common.now()
            day = moment.strftime("%y%m%d")
            number = self._indexes.keys.last_number.get(day, 0) + 1
            doc = {
                "form_id": form_id, "form_version": form_version, "org_code": org_code,
                "receipt": common.make_receipt(day, number),
                "submitted_at": stamp(moment), "submission_id": submission_id,
                "token": token, "files": list(files or []), "answers": raw,
            }
            for key, value in (("period", period), ("slot", slot), ("project_id", project_id)):
                if value is not None:
                    doc[key] = value
            doc_id = txn.insert(SUBMISSIONS, doc)
        return _submission_out(doc_id, doc), True

    def import_submissions(self, docs: Iterable[Mapping], batch: int = 2000) -> int:
        return sum(self._import_batch(chunk) for chunk in common.in_batches(docs, batch))

    def _import_batch(self, docs: list) -> int:
        prepared = []
        for doc in docs:
            common.check_submission_args(doc["form_id"], doc["form_version"], doc["org_code"],
                                         doc["answers"], doc.get("submission_id") or "x")
            common.parse_stamp(doc["submitted_at"])  # ValueError on a malformed time
            common.lifecycle_args(common.PENDING, doc.get("period"), doc.get("slot"),
                                  doc.get("project_id"))
            prepared.append((doc, RawJSON(common.json_text(dict(doc["answers"])).encode())))
        with self._engine.transaction() as txn:
            numbers, seen, slots = {}, set(), set()
            for doc, raw in prepared:
                day = common.receipt_day(doc["submitted_at"])
                if day not in numbers:
                    numbers[day] = self._indexes.keys.last_number.get(day, 0)
                numbers[day] += 1
                sid = doc.get("submission_id") or secrets.token_hex(16)
                if sid in self._indexes.keys.by_sid or sid in seen:
                    raise DuplicateError(f"submission id {sid} already stored")
                seen.add(sid)
                stored = {
                    "form_id": doc["form_id"], "form_version": doc["form_version"],
                    "org_code": doc["org_code"], "receipt": common.make_receipt(day, numbers[day]),
                    "submitted_at": doc["submitted_at"], "submission_id": sid, "token": None,
                    "files": list(doc.get("files") or []), "answers": raw,
                }
                for key in ("period", "slot", "project_id"):
                    if doc.get(key) is not None:
                        stored[key] = doc[key]
                slot = common.holds_slot(stored)
                if slot is not None and (slot in slots or slot in self._indexes.keys.by_slot):
                    raise DuplicateError(f"slot {slot} already held")
                slots.add(slot)
                txn.insert(SUBMISSIONS, stored)
        return len(prepared)

    def update_submission(self, receipt: str, revision: int, changes: Mapping,
                          project: tuple | None = None) -> tuple[dict, dict | None]:
        self.warm_up()
        with self._engine.transaction() as txn:
            doc_id = self._indexes.keys.by_receipt.get(receipt)
            if doc_id is None:
                raise LookupError(receipt)
            old = _submission_out(doc_id, self._engine.tables[SUBMISSIONS][doc_id])
            new = common.changed_submission(old, revision, changes, common.now())
            key = common.holds_slot(new)
            holder = key and self._indexes.keys.by_slot.get(key)
            if holder and holder != doc_id:
                raise PeriodTaken(self._engine.tables[SUBMISSIONS][holder]["receipt"])
            stored_project = None
            if project is not None:
                project_id, project_revision, project_changes = project
                found = self._get(PROJECTS, Q.id == project_id)
                if found is None:
                    raise LookupError(project_id)
                stored_project = common.changed_project(dict(found), project_revision,
                                                        project_changes, common.now())
                txn.put(PROJECTS, found.doc_id, stored_project)
            txn.put(SUBMISSIONS, doc_id, _submission_stored(new))
        return new, None if stored_project is None else json_copy(stored_project)

    def reported_periods(self, form_id: str, org_codes: Iterable[str] | None = None,
                         periods: Iterable[str] | None = None) -> list[dict]:
        wanted = None if org_codes is None else set(org_codes)
        asked = None if periods is None else set(common.periods_arg(periods))
        found = []
        with self._engine.reading():
            for doc_id in self._indexes.lists.by_form.get(form_id, []):
                doc = self._submission(doc_id)
                if doc.get("period") is None or doc.get("status") == common.VOID \
                        or (wanted is not None and doc["org_code"] not in wanted) \
                        or (asked is not None and doc["period"] not in asked):
                    continue
                found.append({"org_code": doc["org_code"], "period": doc["period"],
                              "slot": doc.get("slot"), "project_id": doc.get("project_id"),
                              "receipt": doc["receipt"], "submitted_at": doc["submitted_at"],
                              "status": doc.get("status", common.PENDING)})
        return found

    def _submission(self, doc_id: int | None) -> dict | None:
        """The stored document (not a copy: never changed in place), or None."""
        return None if doc_id is None else self._engine.tables[SUBMISSIONS][doc_id]

    def get_submission(self, receipt: str) -> dict | None:
        with self._engine.reading():
            doc_id = self._indexes.keys.by_receipt.get(receipt)
            doc = self._submission(doc_id)
        return None if doc is None else _submission_out(doc_id, doc)

    def find_submission(self, submission_id: str) -> dict | None:
        with self._engine.reading():
            doc_id = self._indexes.keys.by_sid.get(submission_id)
            doc = self._submission(doc_id)
        return None if doc is None else _submission_out(doc_id, doc)

    def _matching(self, form_id, org_codes, date_from, date_to, statuses=None,
                  changed_since=None, after_id=None) -> list[int]:
        """Ids of the matching submissions, newest first (oldest first when after_id is
        given). Call inside ``reading()``."""
        wanted = None if org_codes is None else set(org_codes)
        statuses = common.statuses_arg(statuses)
        since = common.since_arg(changed_since)
        if after_id is not None and (isinstance(after_id, bool) or not isinstance(after_id, int)):
            raise ValueError("after_id must be an integer")
        ids = self._indexes.lists.matching(form_id, wanted, common.day_of(date_from),
                                           common.day_of(date_to))
        if after_id is not None:
            ids = [i for i in reversed(ids) if i > after_id]
        if statuses is not None:
            keep, chosen = self._indexes.lists.status_filter(form_id, statuses)
            if keep:
                ids = [i for i in ids if i in chosen]
            elif chosen:
                ids = [i for i in ids if i not in chosen]
        if since is not None:
            ids = [i for i in ids if common.parse_stamp(
                self._submission(i).get("updated_at") or self._submission(i)["submitted_at"]
            ) >= since]
        return ids

    def query_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                          date_from=None, date_to=None, offset: int = 0,
                          limit: int | None = None, *, statuses=None, changed_since=None,
                          after_id=None) -> tuple[int, list[dict]]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        stop = None if limit is None else offset + limit
        with self._engine.reading():
            ids = self._matching(form_id, org_codes, date_from, date_to, statuses,
                                 changed_since, after_id)
            page = [(i, self._submission(i)) for i in ids[offset:stop]]
        return len(ids), [_submission_out(i, doc) for i, doc in page]

    def iter_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                         date_from=None, date_to=None, *, statuses=None
                         ) -> tuple[int, Iterator[dict]]:
        # The documents are taken now (never changed in place: safe to hold outside the
        # lock); their answers are read from the file one at a time as the caller iterates.
        with self._engine.reading():
            ids = self._matching(form_id, org_codes, date_from, date_to, statuses)
            docs = [(i, self._submission(i)) for i in reversed(ids)]
        return len(docs), (_submission_out(i, doc) for i, doc in docs)

    def submission_versions(self, form_id: str) -> set[int]:
        with self._engine.reading():
            return {self._submission(i)["form_version"]
                    for i in self._indexes.lists.by_form.get(form_id, [])}

    def submission_counts(self, form_id: str, date_from=None, date_to=None,
                          org_codes: Iterable[str] | None = None, *,
                          statuses=None) -> dict[str, int]:
        low, high = common.day_of(date_from), common.day_of(date_to)
        wanted = None if org_codes is None else set(org_codes)
        statuses = common.statuses_arg(statuses)
        with self._engine.reading():
            if statuses is None:
                return self._indexes.lists.counts_by_org(form_id, wanted, low, high)
            keep, chosen = self._indexes.lists.status_filter(form_id, statuses)
            if not keep:  # every submission but a few: count all, then take those out
                counts = self._indexes.lists.counts_by_org(form_id, wanted, low, high)
                for doc_id in chosen:
                    doc = self._submission(doc_id)
                    day = common.local_day(doc["submitted_at"])
                    if (doc["org_code"] in counts and (low is None or day >= low)
                            and (high is None or day <= high)):
                        counts[doc["org_code"]] -= 1
                        if not counts[doc["org_code"]]:
                            del counts[doc["org_code"]]
                return counts
            counts: dict[str, int] = {}
            for doc_id in self._matching(form_id, wanted, low, high, statuses):
                code = self._submission(doc_id)["org_code"]
                counts[code] = counts.get(code, 0) + 1
            return counts

    def count_submissions(self, form_id: str | None = None) -> int:
        with self._engine.reading():
            if form_id is None:
                return len(self._engine.tables.get(SUBMISSIONS, {}))
            return len(self._indexes.lists.by_form.get(form_id, []))

    # ---- projects -------------------------------------------------------------------------------

    def add_project(self, doc: Mapping) -> tuple[dict, bool]:
        common.new_project(doc, 1, common.now())  # ValueError before anything is written
        with self._engine.transaction() as txn:
            found = self._get(PROJECTS, Q.application == doc["application"])
            if found is not None:
                return json_copy(dict(found)), False
            ids = [d["id"] for d in self._engine.tables.get(PROJECTS, {}).values()]
            project = common.new_project(doc, max(ids, default=0) + 1, common.now())
            txn.insert(PROJECTS, project)
        return json_copy(project), True

    def get_project(self, project_id: int) -> dict | None:
        if isinstance(project_id, bool) or not isinstance(project_id, int):
            return None
        doc = self._get(PROJECTS, Q.id == project_id)
        return None if doc is None else json_copy(dict(doc))

    def list_projects(self, org_codes: Iterable[str] | None = None, year: int | None = None,
                      statuses: Iterable[str] | None = None) -> list[dict]:
        wanted = None if org_codes is None else set(org_codes)
        if isinstance(statuses, str):
            raise ValueError("statuses must be a collection, not a string")
        statuses = None if statuses is None else set(statuses)
        found = [json_copy(dict(d)) for d in self._all(PROJECTS)
                 if (wanted is None or d["org_code"] in wanted)
                 and (year is None or d["year"] == year)
                 and (statuses is None or d["status"] in statuses)]
        return sorted(found, key=lambda d: d["id"])

    def update_project(self, project_id: int, revision: int, changes: Mapping) -> dict:
        with self._engine.transaction() as txn:
            found = self._get(PROJECTS, Q.id == project_id)
            if found is None:
                raise LookupError(project_id)
            new = common.changed_project(dict(found), revision, changes, common.now())
            txn.put(PROJECTS, found.doc_id, new)
        return json_copy(new)

    # ---- year end: rubrics, scores, cases ----------------------------------------------------------

    def get_rubric(self, year: int) -> dict | None:
        doc = self._get(RUBRICS, Q.year == year)
        return None if doc is None else json_copy(dict(doc))

    def put_rubric(self, year: int, criteria, user: str | None) -> dict:
        doc = common.rubric_doc(year, criteria, user, common.now())
        with self._engine.transaction() as txn:
            old = self._get(RUBRICS, Q.year == year)
            if old is None:
                txn.insert(RUBRICS, doc)
            else:
                txn.put(RUBRICS, old.doc_id, doc)
        return json_copy(doc)

    def list_rubrics(self) -> list[dict]:
        return sorted((json_copy(dict(d)) for d in self._all(RUBRICS)), key=lambda d: d["year"])

    def add_scores(self, rows) -> int:
        moment = common.now()
        docs = [common.score_doc(row, moment) for row in rows]
        with self._engine.transaction() as txn:
            taken = {common.score_key(d) for d in self._all(SCORES)}
            for doc in docs:
                key = common.score_key(doc)
                if key in taken:
                    raise DuplicateError(f"score already stored: {key}")
                taken.add(key)
            for doc in docs:
                txn.insert(SCORES, doc)
        return len(docs)

    def set_scores(self, year: int, project_id: int, judge: str, scores) -> list[dict]:
        moment = common.now()
        docs = [common.score_doc({"year": year, "project": project_id, "judge": judge,
                                  "criterion": criterion, "score": score}, moment)
                for criterion, score in scores.items()]
        with self._engine.transaction() as txn:
            for old in self._all(SCORES):
                if old["project"] == project_id and old["judge"] == judge:
                    txn.delete(SCORES, old.doc_id)
            for doc in docs:
                txn.insert(SCORES, doc)
        return self.list_scores(year, project_id, judge)

    def list_scores(self, year: int, project_id: int | None = None,
                    judge: str | None = None) -> list[dict]:
        found = [json_copy(dict(d)) for d in self._all(SCORES)
                 if d["year"] == year and (project_id is None or d["project"] == project_id)
                 and (judge is None or d["judge"] == judge)]
        return sorted(found, key=common.score_key)

    def open_case(self, doc) -> tuple[dict, bool]:
        common.new_case(doc, common.now())  # ValueError before anything is written
        with self._engine.transaction() as txn:
            _, found = self._case(doc["receipt"])
            if found is not None:
                return json_copy(dict(found)), False
            case = common.new_case(doc, common.now())
            txn.insert(CASES, case)
        return json_copy(case), True

    def _case(self, receipt) -> tuple[int | None, dict | None]:
        """(doc id, stored case) by receipt, or (None, None): a scan of the raw table under
        the read lock (~50x faster than a TinyDB query: no Document per case)."""
        for doc_id, doc in self._engine.tables.get(CASES, {}).items():
            if doc["receipt"] == receipt:
                return doc_id, doc
        return None, None

    def get_case(self, receipt: str) -> dict | None:
        if not isinstance(receipt, str):
            return None
        with self._engine.reading():
            _, doc = self._case(receipt)
        return None if doc is None else json_copy(dict(doc))

    def update_case(self, receipt: str, revision: int, changes) -> dict:
        with self._engine.transaction() as txn:
            doc_id, found = self._case(receipt)
            if found is None:
                raise LookupError(receipt)
            new = common.changed_case(dict(found), revision, changes, common.now())
            txn.put(CASES, doc_id, new)
        return json_copy(new)

    def _cases(self, form_id, org_codes, stages):
        wanted = None if org_codes is None else set(org_codes)
        if isinstance(stages, str):
            raise ValueError("stages must be a collection, not a string")
        stages = None if stages is None else set(stages)
        with self._engine.reading():
            table = self._engine.tables.get(CASES, {})
            docs = [table[doc_id] for doc_id in sorted(table)]
        return [d for d in docs
                if (form_id is None or d["form_id"] == form_id)
                and (wanted is None or d["org_code"] in wanted)
                and (stages is None or d["stage"] in stages)]

    def list_cases(self, form_id: str | None = None, org_codes=None, stages=None) -> list[dict]:
        return sorted((json_copy(dict(d)) for d in self._cases(form_id, org_codes, stages)),
                      key=lambda d: d["receipt"])

    def case_groups(self, form_id: str, org_codes=None) -> list[dict]:
        groups: dict[tuple, int] = {}
        with self._engine.reading():
            for doc in self._cases(form_id, org_codes, None):
                sub = self._submission(self._indexes.keys.by_receipt.get(doc["receipt"]))
                if sub is None or sub.get("status") == common.VOID:
                    continue
                key = (doc["org_code"], doc["stage"], doc.get("deadline"))
                groups[key] = groups.get(key, 0) + 1
        return [{"org_code": o, "stage": s, "deadline": d, "count": n}
                for (o, s, d), n in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                            kv[0][2] or ""))]

    # ---- API tokens -----------------------------------------------------------------------------

    def add_api_token(self, username: str, token_hash: str, label: str, expires_at) -> dict:
        doc = common.token_doc(username, token_hash, label, expires_at, common.now())
        with self._engine.transaction() as txn:
            if self._get(TOKENS, Q.token_hash == token_hash) is not None:
                raise DuplicateError("token already stored")
            txn.insert(TOKENS, doc)
        return dict(doc)

    def find_api_token(self, token_hash: str) -> dict | None:
        if not isinstance(token_hash, str):
            return None
        doc = self._get(TOKENS, Q.token_hash == token_hash)
        return None if doc is None else dict(doc)

    def list_api_tokens(self, username: str | None = None) -> list[dict]:
        return [dict(d) for d in self._all(TOKENS)
                if username is None or d["username"] == username]

    def revoke_api_token(self, token_id: str) -> dict | None:
        with self._engine.transaction() as txn:
            doc = self._get(TOKENS, Q.id == token_id)
            if doc is None:
                return None
            if doc["revoked_at"] is None:
                doc = {**doc, "revoked_at": stamp(common.now())}
                txn.put(TOKENS, self._get(TOKENS, Q.id == token_id).doc_id, doc)
        return dict(doc)

    # ---- photos ---------------------------------------------------------------------------------

    def put_photo(self, data: bytes, content_type: str) -> str:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("a photo must be non-empty bytes")
        return self.photos.put(bytes(data), content_type)

    def get_photo(self, name: str) -> dict | None:
        return self.photos.get(name)

    def prune_photos(self, stored_before: datetime) -> int:
        with self._engine.reading():
            keep = {name for doc in self._engine.tables.get(SUBMISSIONS, {}).values()
                    for name in (doc.get("files") or common.photo_refs(doc.get("answers")))}
            # ... and those of the answer versions corrections replaced
            keep.update(name for doc in self._engine.tables.get(SUBMISSIONS, {}).values()
                        for version in doc.get("versions") or ()
                        for name in version.get("files") or ())
        return self.photos.prune(keep, stored_before.timestamp())

    # ---- deployment settings --------------------------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        text_arg(key, "key")
        common.json_text(default)
        with self._engine.transaction() as txn:
            doc = self._get(SETTINGS, Q.key == key)
            if doc is not None:
                return doc["value"]
            txn.insert(SETTINGS, {"key": key, "value": default})
        return default

    # ---- the whole database ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self):
        with self._engine.reading():
            tables = {name: dict(table) for name, table in self._engine.tables.items()}
        yield _TinySnapshot(tables, self.photos)

    def load(self, source, force: bool = False) -> dict[str, int]:
        counts = {kind: 0 for kind in KINDS}

        def records():  # consumed under the write lock
            for kind in counts:
                for doc_id, doc in enumerate(source.records(kind), start=1):
                    counts[kind] = doc_id
                    yield kind, doc_id, _stored_form(kind, doc)
            settings = self._engine.tables.get(SETTINGS, {})  # the deployment's own: kept
            for doc_id in sorted(settings):
                yield SETTINGS, doc_id, settings[doc_id]

        def refuse(tables):
            if not force and any(tables.get(kind) for kind in KINDS if kind != AUDIT):
                raise RestoreRefused(f"数据库 {self.path} 中已有数据;确认覆盖请加 --force")

        with self._engine.reading():
            refuse(self._engine.tables)  # before copying photos: a refusal writes nothing
        photos = 0
        for name in source.photo_names():
            photo = source.photo(name)
            if photo is None:
                raise StorageError(f"备份中缺少照片 {name}")
            if self.photos.put(photo["data"], photo["content_type"]) != name:
                raise StorageError(f"照片 {name} 的内容与名称不符")
            photos += 1
        self._engine.replace(records(), refuse)
        return {**counts, "photos": photos}

    def check(self) -> dict:
        report = check_log(self.path)
        problems = [f"第 {c['offset']} 字节处的记录已损坏:{c['reason']}"
                    for c in report["corrupt"]]
        if report["bad_raw_values"]:
            problems.append(f"{report['bad_raw_values']} 份提交的答案无法解析")
        with self.snapshot() as snap:
            missing = _missing_photos(snap)
            counts = snap.counts()
        problems += [f"提交 {receipt} 引用的照片 {name} 不存在" for receipt, name in missing[:20]]
        if len(missing) > 20:
            problems.append(f"另有 {len(missing) - 20} 张照片缺失")
        return {"ok": not problems, "backend": self.backend, "location": self.path,
                "counts": counts, "problems": problems,
                "bytes": report["bytes"], "records": report["records"],
                "torn_tail_bytes": report["torn_tail_bytes"]}


@contextmanager
def open_log_backup(path):
    """A backup file of the log format (a TinyDB database file) as a Snapshot; no photos."""
    engine = LogStorage(path, readonly=True)
    try:
        yield _TinySnapshot(engine.tables, _NoPhotos())
    finally:
        engine.close()


class _CounterKeys:
    """The index of the counters file: counter key -> document id (a LogStorage listener)."""

    def __init__(self):
        self._ids: dict[str, int] = {}

    def get(self, key: str) -> int | None:
        return self._ids.get(key)

    def loaded(self, tables) -> None:
        self._ids = {doc["key"]: doc_id for doc_id, doc in tables.get(COUNTERS, {}).items()}

    def changed(self, table, doc_id, old, new) -> None:
        if old is not None and self._ids.get(old["key"]) == doc_id:
            del self._ids[old["key"]]
        if new is not None:
            self._ids[new["key"]] = doc_id


class _NoPhotos:
    def names(self):
        return iter(())

    def get(self, name):
        return None


def _audit_matches(doc, action, user, low, high) -> bool:
    day = common.local_day(doc["at"])
    return ((action is None or doc["action"] == action) and (user is None or doc["user"] == user)
            and (low is None or day >= low) and (high is None or day <= high))


def _stored_form(kind: str, doc: Mapping) -> dict:
    """A snapshot document as this backend stores it (answers kept raw, files filled in)."""
    doc = dict(doc)
    if kind == AUDIT:
        doc.pop("id", None)
    if kind == "submissions":
        doc.pop("id", None)
        doc["files"] = list(doc.get("files") or common.photo_refs(doc.get("answers")))
        doc = _submission_stored(doc)
    return doc


def _missing_photos(snap) -> list[tuple[str, str]]:
    """(receipt, photo name) of every photo a submission refers to that is not stored."""
    stored = set(snap.photo_names())
    return [(doc["receipt"], name) for doc in snap.records("submissions")
            for name in doc.get("files") or common.photo_refs(doc["answers"])
            if name not in stored]


class _TinySnapshot:
    """Storage.contract.Snapshot over a copy of the in-memory tables (documents are never
    mutated, so the copy is cheap) and the photo folder."""

    _KINDS = {"forms": FORMS, "orgs": ORGS, "users": USERS, "links": LINKS,
              "submissions": SUBMISSIONS, "audit": AUDIT, "drafts": DRAFTS,
              "form_states": FORM_STATES, "projects": PROJECTS, "api_tokens": TOKENS,
              "rubrics": RUBRICS, "scores": SCORES, "cases": CASES}

    def __init__(self, tables, photos: FilePhotos):
        self._tables = tables
        self._photos = photos

    def _table(self, kind):
        return self._tables.get(self._KINDS[kind], {})

    def records(self, kind: str):
        table = self._table(kind)
        ids = sorted(table)
        if kind == "forms":
            ids.sort(key=lambda i: (table[i]["id"], table[i]["version"]))
        for doc_id in ids:
            doc = table[doc_id]
            if kind == "submissions":
                doc = common.with_lifecycle(
                    {k: (v.load() if k == "answers" else json_copy(v)) for k, v in doc.items()})
            else:
                doc = json_copy(doc)
            yield doc

    def photo_names(self):
        return self._photos.names()

    def photo(self, name):
        return self._photos.get(name)

    def counts(self):
        counts = {kind: len(self._table(kind)) for kind in self._KINDS}
        counts["photos"] = sum(1 for _ in self._photos.names())
        return counts
