"""Storage: the one door to the database (the only package that imports tinydb).

``Store`` is the domain API the rest of Taizhang uses: forms (every version kept),
organizations, users, QR links and submissions. It returns plain dicts (copies), makes every
write durable (fsync) before returning, and raises ``StorageError`` (message safe to show,
in Chinese) for any I/O failure, after which nothing has changed on disk or in memory.
The engine underneath (append-only log, locking, recovery) is in ``storage.logdb``.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from itertools import chain, islice

from tinydb import Query

from .indexes import LINKS, SUBMISSIONS, Indexes
from .logdb import (LogDB, RawJSON, RestoreRefused, StorageError, _json_copy, _NotPlain,
                    _plain_copy, backup, backup_storage, check, compact, restore)

__all__ = [
    "Store", "StorageError", "SubmissionConflict", "DuplicateError", "RestoreRefused",
    "backup", "restore", "check", "compact", "DB_FILENAME", "FORMS", "ORGS",
]

DB_FILENAME = "taizhang.db"
FORMS, ORGS, USERS = "forms", "orgs", "users"
ORG_FIELDS = ("code", "name", "parent_code", "kind")
_IMAGE_KEYS = frozenset({"file", "name", "size", "content_type"})

Q = Query()


class SubmissionConflict(Exception):
    """The submission id was already used for different answers (HTTP 409)."""

    def __init__(self, submission_id: str, receipt: str):
        super().__init__(f"提交编号 {submission_id} 已用于另一份不同的内容(回执号 {receipt})")
        self.submission_id = submission_id
        self.receipt = receipt


class DuplicateError(ValueError):
    """A unique key (username, organization code) is already taken or repeated."""


def _now() -> datetime:
    return datetime.now().astimezone()


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _day(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()  # ValueError on a malformed date


def _text(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _comparable(value):
    """Answers as compared for idempotency: a stored photo's file name differs between a
    submission and its retry (each upload is saved anew), its original name/size do not."""
    if type(value) is dict:
        keys = value.keys()
        return {k: _comparable(v) for k, v in value.items()
                if not (k == "file" and keys >= _IMAGE_KEYS)}
    if type(value) is list:
        return [_comparable(v) for v in value]
    return value


def _submission_out(doc_id: int, doc: Mapping) -> dict:
    out = {k: (v if k == "answers" else _json_copy(v)) for k, v in doc.items()}
    out["answers"] = doc["answers"].load()
    out["doc_id"] = doc_id
    return out


class Store:
    """The domain API over one database file. Safe to share between threads; any number of
    processes may open the same file (each sees the others' writes on its next call)."""

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        self._idx = Indexes()
        self._db = LogDB(self.path, listeners=[self._idx])  # follows the first load too
        self._storage = self._db.storage
        self._forms = self._db.table(FORMS)
        self._orgs = self._db.table(ORGS)
        self._users = self._db.table(USERS)
        self._links = self._db.table(LINKS)
        self._submissions = self._db.table(SUBMISSIONS)

    def warm_up(self) -> None:
        """Build the lazily built submission indexes now (~0.1 s at 100k) — for a server
        worker right after it opens the Store, so its first submission does not pay for it."""
        with self._storage.reading():
            self._idx.sub_by_sid.get("")
            self._idx.sub_by_receipt.get("")

    def version_of(self, table: str) -> tuple:
        """A value that changes whenever ``table`` changes (in this process or, once caught up,
        in any other) or the file is replaced: a cheap key for caches of derived data."""
        engine = self._storage
        return (id(self), engine.reloads, engine.table_generation.get(table, 0))

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- forms ----------------------------------------------------------------------------------

    def add_form_version(self, schema: Mapping, source: str, user: str | None = None) -> dict:
        """Store schema as the next version of its form (version = last + 1)."""
        if not isinstance(schema, Mapping):
            raise ValueError("schema must be a mapping")
        form_id = _text(schema.get("id"), "schema id")
        schema = _json_copy(dict(schema))
        with self._db.transaction():
            versions = [d["version"] for d in self._forms.search(Q.id == form_id)]
            schema["version"] = max(versions, default=0) + 1
            doc = {"id": form_id, "version": schema["version"], "schema": schema,
                   "created_at": _stamp(_now()), "source": source, "user": user}
            self._forms.insert(doc)
        return _json_copy(doc)

    def get_form(self, form_id: str, version: int | None = None) -> dict | None:
        """A version of a form (the latest when version is None), or None."""
        docs = self._forms.search(Q.id == form_id)
        if version is not None:
            docs = [d for d in docs if d["version"] == version]
        if not docs:
            return None
        return _json_copy(dict(max(docs, key=lambda d: d["version"])))

    def list_forms(self) -> list[dict]:
        """The latest version of every form, by form id."""
        latest: dict[str, Mapping] = {}
        for doc in self._forms:
            if doc["id"] not in latest or doc["version"] > latest[doc["id"]]["version"]:
                latest[doc["id"]] = doc
        return [_json_copy(dict(latest[k])) for k in sorted(latest)]

    def form_versions(self, form_id: str) -> list[dict]:
        """Every version of a form, oldest first."""
        docs = sorted(self._forms.search(Q.id == form_id), key=lambda d: d["version"])
        return [_json_copy(dict(d)) for d in docs]

    # ---- organizations --------------------------------------------------------------------------

    @staticmethod
    def _org_rows(rows: Iterable[Mapping]) -> list[dict]:
        out, seen = [], set()
        for row in rows:
            code = _text(row.get("code"), "organization code")
            if code in seen:
                raise DuplicateError(f"组织代码重复:{code}")
            seen.add(code)
            out.append({**{k: row.get(k) for k in ORG_FIELDS}, **dict(row)})
        return out

    def replace_orgs(self, rows: Iterable[Mapping]) -> int:
        """Replace the whole organization list with rows, in one atomic record."""
        rows = self._org_rows(rows)
        with self._db.transaction():
            self._orgs.truncate()
            self._orgs.insert_multiple(rows)
        return len(rows)

    def upsert_orgs(self, rows: Iterable[Mapping]) -> int:
        """Insert or replace (by code) each row, all in one atomic record."""
        rows = self._org_rows(rows)
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
        return None if doc is None else _json_copy(dict(doc))

    def list_orgs(self) -> list[dict]:
        """Every organization, in the order they were added."""
        return [_json_copy(dict(d)) for d in self._orgs]

    def delete_org(self, code: str) -> bool:
        return bool(self._orgs.remove(Q.code == code))

    # ---- users ----------------------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str) -> dict:
        """Create a user; DuplicateError if the username is taken."""
        username = _text(username, "username")
        with self._db.transaction():
            if self._users.contains(Q.username == username):
                raise DuplicateError(f"用户名已存在:{username}")
            doc = {"username": username, "password_hash": password_hash, "role": role,
                   "created_at": _stamp(_now())}
            self._users.insert(doc)
        return dict(doc)

    def get_user(self, username: str) -> dict | None:
        doc = self._users.get(Q.username == username)
        return None if doc is None else dict(doc)

    def list_users(self) -> list[dict]:
        return sorted((dict(d) for d in self._users), key=lambda d: d["username"])

    def set_password(self, username: str, password_hash: str) -> dict | None:
        """Replace a user's password hash; None if there is no such user."""
        with self._db.transaction():
            if not self._users.update({"password_hash": password_hash}, Q.username == username):
                return None
        return self.get_user(username)

    # ---- links ----------------------------------------------------------------------------------

    def _link_doc(self, doc_id: int | None) -> dict | None:
        if doc_id is None:
            return None
        return dict(self._storage.tables[LINKS][doc_id])

    def get_link(self, token: str) -> dict | None:
        """The link with this token, revoked or not (check ``revoked_at``), or None."""
        with self._storage.reading():
            return self._link_doc(self._idx.link_by_token.get(token))

    def active_link(self, form_id: str, org_code: str) -> dict | None:
        with self._storage.reading():
            return self._link_doc(self._idx.active_link.get((form_id, org_code)))

    def create_link(self, form_id: str, org_code: str) -> dict:
        """A new link for (form, organization); the active one, if any, is revoked with it."""
        _text(form_id, "form id")
        _text(org_code, "organization code")
        with self._db.transaction():
            now = _stamp(_now())
            current = self._idx.active_link.get((form_id, org_code))
            if current is not None:
                self._links.update({"revoked_at": now}, doc_ids=[current])
            doc = {"token": secrets.token_urlsafe(24), "form_id": form_id,
                   "org_code": org_code, "created_at": now, "revoked_at": None}
            self._links.insert(doc)
        return dict(doc)

    def revoke_link(self, token: str) -> dict | None:
        """Revoke a link (no-op if already revoked); None for an unknown token."""
        with self._db.transaction():
            doc_id = self._idx.link_by_token.get(token)
            if doc_id is None:
                return None
            if not self._storage.tables[LINKS][doc_id].get("revoked_at"):
                self._links.update({"revoked_at": _stamp(_now())}, doc_ids=[doc_id])
        return self.get_link(token)

    def list_links(self, form_id: str, active_only: bool = False) -> list[dict]:
        """The links of a form, oldest first."""
        docs = self._links.search(Q.form_id == form_id)
        docs.sort(key=lambda d: d.doc_id)
        return [dict(d) for d in docs if not (active_only and d.get("revoked_at"))]

    # ---- submissions ----------------------------------------------------------------------------

    def add_submission(self, form_id: str, form_version: int, org_code: str, answers: Mapping,
                       submission_id: str, token: str | None = None,
                       files=None) -> tuple[dict, bool]:
        """Store a submission, idempotently on submission_id.

        Returns (doc, True) for a new one; (original doc, False) if submission_id was already
        stored with the same form, organization and answers; raises SubmissionConflict if it was
        stored with different ones. The receipt ("YYMMDD-NNNN", per-day sequence) and
        submitted_at are assigned under the write lock, so they are unique across processes.
        """
        _text(form_id, "form id")
        _text(org_code, "organization code")
        if not isinstance(submission_id, str) or not 0 < len(submission_id) <= 128:
            raise ValueError("submission_id must be a string of 1 to 128 characters")
        if not isinstance(answers, Mapping):
            raise ValueError("answers must be a mapping")
        raw = RawJSON.dump(dict(answers))  # encoded outside the lock
        with self._storage.reading():
            # Build the lazy indexes this needs (~0.1 s at 100k, once per process) before
            # taking the file lock, so other workers' writes never wait for it.
            self._idx.sub_by_sid.get(submission_id)
            self._idx.sub_by_receipt.get("")
        with self._db.transaction():
            existing = self._idx.sub_by_sid.get(submission_id)
            if existing is not None:
                doc = self._storage.tables[SUBMISSIONS][existing]
                if self._same_submission(doc, form_id, org_code, raw):
                    return _submission_out(existing, doc), False
                raise SubmissionConflict(submission_id, doc["receipt"])
            moment = _now()
            day = moment.strftime("%y%m%d")
            doc = {
                "form_id": form_id, "form_version": form_version, "org_code": org_code,
                "receipt": f"{day}-{self._idx.last_seq(day) + 1:04d}",
                "submitted_at": _stamp(moment), "submission_id": submission_id,
                "token": token, "files": files if files is not None else [], "answers": raw,
            }
            doc_id = self._submissions.insert(doc)
        out = {k: _json_copy(v) for k, v in doc.items()}
        try:
            # What decoding raw would give (exact JSON types only), without decoding it.
            out["answers"] = _plain_copy(dict(answers))
        except _NotPlain:
            out["answers"] = raw.load()
        out["doc_id"] = doc_id
        return out, True

    def import_submissions(self, docs: Iterable[Mapping], batch: int = 2000) -> int:
        """Bulk-load submissions that carry their own ``submitted_at`` (seed-demo, migrations).

        Each doc: form_id, form_version, org_code, answers, submitted_at (ISO 8601), optional
        submission_id. Receipts follow the per-day sequence of each submitted_at day. One
        durable record per ``batch`` documents instead of one fsync each; give them in time
        order so that "newest first" listings stay in time order.
        """
        count, pending = 0, []
        for doc in docs:
            pending.append(doc)
            if len(pending) >= batch:
                count += self._import_batch(pending)
                pending = []
        if pending:
            count += self._import_batch(pending)
        return count

    def _import_batch(self, docs: list) -> int:
        prepared = [(doc, RawJSON.dump(dict(doc["answers"]))) for doc in docs]
        with self._db.transaction():
            sequence = {}
            for doc, raw in prepared:
                day = doc["submitted_at"][2:10].replace("-", "")
                number = (sequence[day] if day in sequence else self._idx.last_seq(day)) + 1
                sequence[day] = number
                sid = doc.get("submission_id") or secrets.token_hex(16)
                if sid in self._idx.sub_by_sid:
                    raise DuplicateError(f"submission id {sid} already stored")
                self._submissions.insert({
                    "form_id": _text(doc["form_id"], "form id"),
                    "form_version": doc["form_version"],
                    "org_code": _text(doc["org_code"], "organization code"),
                    "receipt": f"{day}-{number:04d}", "submitted_at": doc["submitted_at"],
                    "submission_id": sid, "token": None, "files": [], "answers": raw,
                })
        return len(prepared)

    @staticmethod
    def _same_submission(doc, form_id, org_code, raw: RawJSON) -> bool:
        if doc["form_id"] != form_id or doc["org_code"] != org_code:
            return False
        if raw == bytes(doc["answers"]):  # stored answers are read from the file (RawRef)
            return True
        return _comparable(raw.load()) == _comparable(doc["answers"].load())

    def get_submission(self, receipt: str) -> dict | None:
        with self._storage.reading():
            doc_id = self._idx.sub_by_receipt.get(receipt)
            doc = None if doc_id is None else self._storage.tables[SUBMISSIONS][doc_id]
        return None if doc is None else _submission_out(doc_id, doc)

    def find_submission(self, submission_id: str) -> dict | None:
        """The submission stored under a client submission id, or None."""
        with self._storage.reading():
            doc_id = self._idx.sub_by_sid.get(submission_id)
            doc = None if doc_id is None else self._storage.tables[SUBMISSIONS][doc_id]
        return None if doc is None else _submission_out(doc_id, doc)

    def _matching(self, form_id, org_codes, date_from, date_to) -> list[int]:
        """Ids of the matching submissions, newest first. Call inside ``reading()``."""
        low, high = _day(date_from), _day(date_to)
        table = self._storage.tables.get(SUBMISSIONS, {})
        if org_codes is None and form_id is None:
            candidates = sorted(table, reverse=True)
        elif org_codes is None:
            candidates = list(reversed(self._idx.sub_by_form.get(form_id, ())))
        else:
            codes, by_org = set(org_codes), self._idx.sub_by_form_org
            if form_id is None:
                groups = [ids for key, ids in by_org.items() if key[1] in codes]
            else:
                groups = [by_org.get((form_id, code)) for code in codes]
            candidates = sorted(chain.from_iterable(g for g in groups if g), reverse=True)
        if low is not None or high is not None:
            low, high = low or "0000-00-00", high or "9999-99-99"
            candidates = [i for i in candidates if low <= table[i]["submitted_at"][:10] <= high]
        return candidates

    def query_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                          date_from=None, date_to=None, offset: int = 0,
                          limit: int | None = None) -> tuple[int, list[dict]]:
        """(total matching, one page of them newest first).

        form_id None = every form; org_codes None = every organization; dates (date or
        "YYYY-MM-DD", inclusive) compare with the local date of submitted_at.
        """
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
        """(count, the matching submissions oldest first, decoded one at a time).

        For exports of any size: the selection is fixed when this is called (later writes are
        not included) and only one decoded submission is alive at a time. Documents in memory
        are never mutated, so holding references outside the lock is safe.
        """
        with self._storage.reading():
            candidates = self._matching(form_id, org_codes, date_from, date_to)
            table = self._storage.tables.get(SUBMISSIONS, {})
            docs = [(i, table[i]) for i in reversed(candidates)]
        return len(docs), (_submission_out(i, doc) for i, doc in docs)

    def submission_versions(self, form_id: str) -> set[int]:
        """The form versions that stored submissions of form_id were made with."""
        with self._storage.reading():
            table = self._storage.tables.get(SUBMISSIONS, {})
            return {table[i]["form_version"] for i in self._idx.sub_by_form.get(form_id, ())}

    def submission_counts(self, form_id: str, date_from=None, date_to=None) -> dict[str, int]:
        """org code -> number of submissions of form_id (within the dates, inclusive).

        Organizations with none are absent. Uses the (form, org) index; answers are not read.
        """
        low, high = _day(date_from), _day(date_to)
        counts = {}
        with self._storage.reading():
            table = self._storage.tables.get(SUBMISSIONS, {})
            for (fid, code), ids in self._idx.sub_by_form_org.items():
                if fid != form_id or not ids:
                    continue
                if low is None and high is None:
                    counts[code] = len(ids)
                    continue
                lo, hi = low or "0000-00-00", high or "9999-99-99"
                n = sum(1 for i in ids if lo <= table[i]["submitted_at"][:10] <= hi)
                if n:
                    counts[code] = n
        return counts

    def count_submissions(self, form_id: str | None = None) -> int:
        with self._storage.reading():
            if form_id is None:
                return len(self._storage.tables.get(SUBMISSIONS, {}))
            return len(self._idx.sub_by_form.get(form_id, ()))

    # ---- maintenance ----------------------------------------------------------------------------

    def backup(self, dest) -> dict:
        """Write a consistent snapshot to dest (a file, or a directory for a dated name)."""
        return backup_storage(self._storage, dest)

    def compact(self, force: bool = False) -> dict:
        """Rewrite the log with one record per live document (crash-safe)."""
        return self._storage.compact(force=force)
