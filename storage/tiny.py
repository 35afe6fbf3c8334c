"""The embedded backend: the storage contract (storage.contract) on TinyDB, in one file.

``TinyStore`` keeps everything in DATA_DIR/taizhang.db (TinyDB over the append-only, fsync'd
log of ``storage.logdb``) and photos as files in DATA_DIR/uploads. Any number of processes of
one machine may open the same file: each sees the others' writes on its next call. Meant for
one county (see README "How big"); a larger deployment runs on PostgreSQL (storage.pg).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice

from tinydb import Query

from . import common
from .common import json_copy, stamp, text_arg
from .errors import DuplicateError, RestoreRefused, StorageError, SubmissionConflict
from .indexes import LINKS, SUBMISSIONS, Indexes
from .logdb import LogDB, LogStorage, RawJSON, _NotPlain, _plain_copy
from .logdb import check as check_log
from .photofiles import FilePhotos

FORMS, ORGS, USERS, SESSIONS, FAILURES = "forms", "orgs", "users", "sessions", "login_failures"
SETTINGS = "settings"
DB_FILENAME = "taizhang.db"
FAILURE_KEEP = timedelta(days=1)

Q = Query()


def _submission_out(doc_id: int, doc: Mapping) -> dict:
    out = {k: (v if k == "answers" else json_copy(v)) for k, v in doc.items()}
    out["answers"] = doc["answers"].load()
    out["id"] = doc_id
    return out


class TinyStore:
    """The storage contract over one database file (see storage.contract.Store)."""

    backend = "tinydb"

    def __init__(self, path, photos_dir: str | None = None):
        self.path = os.path.abspath(os.fspath(path))
        self.photos = FilePhotos(photos_dir or os.path.join(os.path.dirname(self.path),
                                                            "uploads"))
        self._idx = Indexes()
        self._db = LogDB(self.path, listeners=[self._idx])  # follows the first load too
        self._storage = self._db.storage
        self._forms = self._db.table(FORMS)
        self._orgs = self._db.table(ORGS)
        self._users = self._db.table(USERS)
        self._sessions = self._db.table(SESSIONS)
        self._failures = self._db.table(FAILURES)
        self._settings = self._db.table(SETTINGS)
        self._links = self._db.table(LINKS)
        self._submissions = self._db.table(SUBMISSIONS)

    @property
    def location(self) -> str:
        return self.path

    def warm_up(self) -> None:
        """Build the lazily built submission indexes now (~0.1 s at 100k) — for a server
        worker right after it opens the Store, so its first submission does not pay for it."""
        with self._storage.reading():
            self._idx.sub_by_sid.get("")
            self._idx.sub_by_receipt.get("")

    def version_of(self, table: str) -> tuple:
        engine = self._storage
        with engine.reading():  # caught up: a change by another process is seen
            return (id(self), engine.reloads, engine.table_generation.get(table, 0))

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- forms ----------------------------------------------------------------------------------

    def add_form_version(self, schema: Mapping, source: str, user: str | None = None) -> dict:
        if not isinstance(schema, Mapping):
            raise ValueError("schema must be a mapping")
        form_id = text_arg(schema.get("id"), "schema id")
        schema = json_copy(dict(schema))
        common.json_text(schema)
        with self._db.transaction():
            versions = [d["version"] for d in self._forms.search(Q.id == form_id)]
            schema["version"] = max(versions, default=0) + 1
            doc = {"id": form_id, "version": schema["version"], "schema": schema,
                   "created_at": stamp(common.now()), "source": source, "user": user}
            self._forms.insert(doc)
        return json_copy(doc)

    def get_form(self, form_id: str, version: int | None = None) -> dict | None:
        docs = self._forms.search(Q.id == form_id)
        if version is not None:
            docs = [d for d in docs if d["version"] == version]
        if not docs:
            return None
        return json_copy(dict(max(docs, key=lambda d: d["version"])))

    def list_forms(self) -> list[dict]:
        latest: dict[str, Mapping] = {}
        for doc in self._forms:
            if doc["id"] not in latest or doc["version"] > latest[doc["id"]]["version"]:
                latest[doc["id"]] = doc
        return [json_copy(dict(latest[k])) for k in sorted(latest)]

    def form_versions(self, form_id: str) -> list[dict]:
        docs = sorted(self._forms.search(Q.id == form_id), key=lambda d: d["version"])
        return [json_copy(dict(d)) for d in docs]

    # ---- organizations --------------------------------------------------------------------------

    def replace_orgs(self, rows: Iterable[Mapping]) -> int:
        rows = common.org_rows(rows)
        with self._db.transaction():
            self._orgs.truncate()
            self._orgs.insert_multiple(rows)
        return len(rows)

    def upsert_orgs(self, rows: Iterable[Mapping]) -> int:
        rows = common.org_rows(rows)
        with self._db.transaction() as txn:
            existing = {doc["code"]: doc_id for doc_id, doc in txn.items(ORGS).items()}
            for row in rows:
                doc_id = existing.get(row["code"])
                if doc_id is None:
                    self._orgs.insert(row)
                else:
                    txn.put(ORGS, doc_id, row)
        return len(rows)

    def get_org(self, code: str) -> dict | None:
        doc = self._orgs.get(Q.code == code)
        return None if doc is None else json_copy(dict(doc))

    def list_orgs(self) -> list[dict]:
        with self._storage.reading():
            table = self._storage.tables.get(ORGS, {})
            return [json_copy(table[i]) for i in sorted(table)]

    def delete_org(self, code: str) -> bool:
        return bool(self._orgs.remove(Q.code == code))

    # ---- users and sessions ---------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str) -> dict:
        username = text_arg(username, "username")
        with self._db.transaction():
            if self._users.contains(Q.username == username):
                raise DuplicateError(f"用户名已存在:{username}")
            doc = {"username": username, "password_hash": password_hash, "role": role,
                   "created_at": stamp(common.now())}
            self._users.insert(doc)
        return dict(doc)

    def get_user(self, username: str) -> dict | None:
        doc = self._users.get(Q.username == username)
        return None if doc is None else json_copy(dict(doc))

    def list_users(self) -> list[dict]:
        return sorted((json_copy(dict(d)) for d in self._users), key=lambda d: d["username"])

    def set_password(self, username: str, password_hash: str) -> dict | None:
        with self._db.transaction():
            if not self._users.update({"password_hash": password_hash}, Q.username == username):
                return None
            self._sessions.remove(Q.username == username)
        return self.get_user(username)

    def create_session(self, username: str, lifetime: timedelta) -> dict:
        text_arg(username, "username")
        created = common.now()
        expires = common.session_expiry(created, lifetime)
        doc = {"id": secrets.token_urlsafe(32), "username": username,
               "created_at": stamp(created), "expires_at": stamp(expires)}
        with self._db.transaction():
            self._sessions.remove(lambda d: common.parse_stamp(d["expires_at"]) <= created)
            self._sessions.insert(doc)
        return dict(doc)

    def get_session(self, session_id: str) -> dict | None:
        if not isinstance(session_id, str) or not session_id:
            return None
        doc = self._sessions.get(Q.id == session_id)
        if doc is None or common.parse_stamp(doc["expires_at"]) <= common.now():
            return None
        return dict(doc)

    def end_session(self, session_id: str) -> bool:
        with self._db.transaction():
            doc = self._sessions.get(Q.id == session_id)
            if doc is None:
                return False
            self._sessions.remove(Q.id == session_id)
            return common.parse_stamp(doc["expires_at"]) > common.now()

    def end_user_sessions(self, username: str) -> int:
        with self._db.transaction():
            now = common.now()
            active = self._sessions.count(
                (Q.username == username)
                & Q.expires_at.test(lambda t: common.parse_stamp(t) > now))
            self._sessions.remove(Q.username == username)
        return active

    # ---- login throttling -----------------------------------------------------------------------

    def record_login_failure(self, key: str, at: datetime) -> None:
        text_arg(key, "key")
        horizon = at - FAILURE_KEEP
        with self._db.transaction():
            self._failures.remove(lambda d: common.parse_stamp(d["at"]) < horizon)
            self._failures.insert({"key": key, "at": at.isoformat()})

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        times = [common.parse_stamp(d["at"]) for d in self._failures.search(Q.key == key)]
        return sorted(t for t in times if t >= since)

    # ---- links ----------------------------------------------------------------------------------

    def _link_doc(self, doc_id: int | None) -> dict | None:
        if doc_id is None:
            return None
        return dict(self._storage.tables[LINKS][doc_id])

    def get_link(self, token: str) -> dict | None:
        with self._storage.reading():
            return self._link_doc(self._idx.link_by_token.get(token))

    def active_link(self, form_id: str, org_code: str) -> dict | None:
        with self._storage.reading():
            return self._link_doc(self._idx.active_link.get((form_id, org_code)))

    def create_link(self, form_id: str, org_code: str) -> dict:
        text_arg(form_id, "form id")
        text_arg(org_code, "organization code")
        with self._db.transaction():
            now = stamp(common.now())
            current = self._idx.active_link.get((form_id, org_code))
            if current is not None:
                self._links.update({"revoked_at": now}, doc_ids=[current])
            doc = {"token": secrets.token_urlsafe(24), "form_id": form_id,
                   "org_code": org_code, "created_at": now, "revoked_at": None}
            self._links.insert(doc)
        return dict(doc)

    def revoke_link(self, token: str) -> dict | None:
        with self._db.transaction():
            doc_id = self._idx.link_by_token.get(token)
            if doc_id is None:
                return None
            if not self._storage.tables[LINKS][doc_id].get("revoked_at"):
                self._links.update({"revoked_at": stamp(common.now())}, doc_ids=[doc_id])
        return self.get_link(token)

    def list_links(self, form_id: str, active_only: bool = False) -> list[dict]:
        docs = self._links.search(Q.form_id == form_id)
        docs.sort(key=lambda d: d.doc_id)
        return [dict(d) for d in docs if not (active_only and d.get("revoked_at"))]

    # ---- submissions ----------------------------------------------------------------------------

    def add_submission(self, form_id: str, form_version: int, org_code: str, answers: Mapping,
                       submission_id: str, token: str | None = None,
                       files=None) -> tuple[dict, bool]:
        common.check_submission_args(form_id, form_version, org_code, answers, submission_id)
        raw = RawJSON(common.json_text(dict(answers)).encode("utf-8"))  # outside the lock
        with self._storage.reading():
            # Build the lazy indexes this needs (~0.1 s at 100k, once per process) before
            # taking the file lock, so other workers' writes never wait for it.
            self._idx.sub_by_sid.get(submission_id)
            self._idx.sub_by_receipt.get("")
        with self._db.transaction():
            existing = self._idx.sub_by_sid.get(submission_id)
            if existing is not None:
                doc = _submission_out(existing, self._storage.tables[SUBMISSIONS][existing])
                if common.same_submission(doc, form_id, org_code, answers):
                    return doc, False
                raise SubmissionConflict(submission_id, doc["receipt"])
            moment = common.now()
            day = moment.strftime("%y%m%d")
            doc = {
                "form_id": form_id, "form_version": form_version, "org_code": org_code,
                "receipt": common.make_receipt(day, self._idx.last_seq(day) + 1),
                "submitted_at": stamp(moment), "submission_id": submission_id,
                "token": token, "files": list(files or []), "answers": raw,
            }
            doc_id = self._submissions.insert(doc)
        out = {k: json_copy(v) for k, v in doc.items()}
        try:
            # What decoding raw would give (exact JSON types only), without decoding it.
            out["answers"] = _plain_copy(dict(answers))
        except _NotPlain:
            out["answers"] = raw.load()
        out["id"] = doc_id
        return out, True

    def import_submissions(self, docs: Iterable[Mapping], batch: int = 2000) -> int:
        count = 0
        docs = iter(docs)
        while chunk := list(islice(docs, batch)):
            count += self._import_batch(chunk)
        return count

    def _import_batch(self, docs: list) -> int:
        prepared = []
        for doc in docs:
            common.check_submission_args(doc["form_id"], doc["form_version"], doc["org_code"],
                                         doc["answers"], doc.get("submission_id") or "x")
            common.parse_stamp(doc["submitted_at"])  # ValueError on a malformed time
            prepared.append((doc, RawJSON(common.json_text(dict(doc["answers"])).encode())))
        with self._db.transaction():
            sequence, seen = {}, set()
            for doc, raw in prepared:
                day = common.receipt_day(doc["submitted_at"])
                number = (sequence[day] if day in sequence else self._idx.last_seq(day)) + 1
                sequence[day] = number
                sid = doc.get("submission_id") or secrets.token_hex(16)
                if sid in self._idx.sub_by_sid or sid in seen:
                    raise DuplicateError(f"submission id {sid} already stored")
                seen.add(sid)
                self._submissions.insert({
                    "form_id": doc["form_id"], "form_version": doc["form_version"],
                    "org_code": doc["org_code"], "receipt": common.make_receipt(day, number),
                    "submitted_at": doc["submitted_at"], "submission_id": sid, "token": None,
                    "files": list(doc.get("files") or []), "answers": raw,
                })
        return len(prepared)

    def get_submission(self, receipt: str) -> dict | None:
        with self._storage.reading():
            doc_id = self._idx.sub_by_receipt.get(receipt)
            doc = None if doc_id is None else self._storage.tables[SUBMISSIONS][doc_id]
        return None if doc is None else _submission_out(doc_id, doc)

    def find_submission(self, submission_id: str) -> dict | None:
        with self._storage.reading():
            doc_id = self._idx.sub_by_sid.get(submission_id)
            doc = None if doc_id is None else self._storage.tables[SUBMISSIONS][doc_id]
        return None if doc is None else _submission_out(doc_id, doc)

    def _matching(self, form_id, org_codes, date_from, date_to) -> list[int]:
        """Ids of the matching submissions, newest first. Call inside ``reading()``."""
        low, high = common.day_of(date_from), common.day_of(date_to)
        return self._idx.matching(form_id, None if org_codes is None else set(org_codes),
                                  low, high)

    def query_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                          date_from=None, date_to=None, offset: int = 0,
                          limit: int | None = None) -> tuple[int, list[dict]]:
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("offset and limit must be >= 0")
        stop = None if limit is None else offset + limit
        with self._storage.reading():
            candidates = self._matching(form_id, org_codes, date_from, date_to)
            table = self._storage.tables.get(SUBMISSIONS, {})
            page = [(i, table[i]) for i in islice(candidates, offset, stop)]
        return len(candidates), [_submission_out(i, doc) for i, doc in page]

    def iter_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                         date_from=None, date_to=None) -> tuple[int, Iterator[dict]]:
        # Documents in memory are never mutated, so holding them outside the lock is safe;
        # their answers are read from the file one at a time.
        with self._storage.reading():
            candidates = self._matching(form_id, org_codes, date_from, date_to)
            table = self._storage.tables.get(SUBMISSIONS, {})
            docs = [(i, table[i]) for i in reversed(candidates)]
        return len(docs), (_submission_out(i, doc) for i, doc in docs)

    def submission_versions(self, form_id: str) -> set[int]:
        with self._storage.reading():
            table = self._storage.tables.get(SUBMISSIONS, {})
            return {table[i]["form_version"] for i in self._idx.sub_by_form.get(form_id, ())}

    def submission_counts(self, form_id: str, date_from=None, date_to=None,
                          org_codes: Iterable[str] | None = None) -> dict[str, int]:
        low, high = common.day_of(date_from), common.day_of(date_to)
        wanted = None if org_codes is None else set(org_codes)
        with self._storage.reading():
            return self._idx.counts_by_org(form_id, wanted, low, high)

    def count_submissions(self, form_id: str | None = None) -> int:
        with self._storage.reading():
            if form_id is None:
                return len(self._storage.tables.get(SUBMISSIONS, {}))
            return len(self._idx.sub_by_form.get(form_id, ()))

    # ---- photos ---------------------------------------------------------------------------------

    def put_photo(self, data: bytes, content_type: str) -> str:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("a photo must be non-empty bytes")
        return self.photos.put(bytes(data), content_type)

    def get_photo(self, name: str) -> dict | None:
        return self.photos.get(name)

    # ---- deployment settings --------------------------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        text_arg(key, "key")
        common.json_text(default)
        with self._db.transaction():
            doc = self._settings.get(Q.key == key)
            if doc is not None:
                return doc["value"]
            self._settings.insert({"key": key, "value": default})
        return default

    # ---- the whole database ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self):
        with self._storage.reading():
            tables = {name: dict(table) for name, table in self._storage.tables.items()}
        yield _TinySnapshot(tables, self.photos)

    def load(self, source, force: bool = False) -> dict[str, int]:
        counts = {kind: 0 for kind in ("forms", "orgs", "users", "links", "submissions")}

        def records():  # consumed under the write lock
            for kind in counts:
                for doc_id, doc in enumerate(source.records(kind), start=1):
                    counts[kind] = doc_id
                    yield kind, doc_id, _stored_form(kind, doc)
            settings = self._storage.tables.get(SETTINGS, {})  # the deployment's own: kept
            for doc_id in sorted(settings):
                yield SETTINGS, doc_id, settings[doc_id]

        def refuse(tables):
            if not force and any(tables.get(kind) for kind in counts):
                raise RestoreRefused(f"数据库 {self.path} 中已有数据;确认覆盖请加 --force")

        with self._storage.reading():
            refuse(self._storage.tables)  # before copying photos: a refusal writes nothing
        photos = 0
        for name in source.photo_names():
            photo = source.photo(name)
            if photo is None:
                raise StorageError(f"备份中缺少照片 {name}")
            if self.photos.put(photo["data"], photo["content_type"]) != name:
                raise StorageError(f"照片 {name} 的内容与名称不符")
            photos += 1
        self._storage.replace(records(), refuse)
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
        tables = engine.snapshot()
        yield _TinySnapshot(tables, _NoPhotos())
    finally:
        engine.close()


class _NoPhotos:
    def names(self):
        return iter(())

    def get(self, name):
        return None


def _stored_form(kind: str, doc: Mapping) -> dict:
    """A snapshot document as this backend stores it (answers kept raw, files filled in)."""
    doc = dict(doc)
    if kind == "submissions":
        doc.pop("id", None)
        doc["files"] = list(doc.get("files") or common.photo_refs(doc.get("answers")))
        doc["answers"] = RawJSON(common.json_text(doc["answers"]).encode("utf-8"))
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
              "submissions": SUBMISSIONS}

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
                doc = {k: (v.load() if k == "answers" else json_copy(v)) for k, v in doc.items()}
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
