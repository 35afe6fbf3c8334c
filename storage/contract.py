"""The storage contract: every operation Taizhang needs from a database, defined once.

``Store`` is a ``typing.Protocol`` with two implementations:

* ``storage.tiny.TinyStore`` — the embedded default: TinyDB over an append-only, fsync'd log
  file under DATA_DIR (one machine, any number of worker processes);
* ``storage.pg.PgStore`` — PostgreSQL through a psycopg 3 connection pool (several hosts on one
  database server).

``storage.open_store(...)`` picks one from the configuration. The contract test suite
(tests/contract/) runs unchanged against both: a behaviour documented here is a behaviour both
backends have. Adding an operation means adding it here, to both backends and to that suite in
the same change.

Rules that hold for every method:

* Documents come back as plain dicts and lists (JSON types only), copies that the caller may
  change. Times are ISO 8601 strings in local time with their offset, to the second
  ("2026-12-04T17:18:04+08:00").
* A write is durable before the method returns: once it returned, a crash of the process, of
  the host or of the database server does not lose it.
* Any I/O failure raises ``StorageError`` (message safe to show, Chinese); a write that raised
  changed nothing, now or after a restart. Malformed arguments raise ``ValueError`` before
  anything is written. Every process or host sees a write as soon as it returned.
* Strings in documents must be valid Unicode without U+0000 (ValueError otherwise), so what one
  backend stores the other can hold.

Document shapes (keys always present unless marked optional):

* form version: ``{"id", "version", "schema", "created_at", "source", "user"}``; ``schema`` is
  the form definition with ``schema["version"] == version``.
* organization: ``{"code", "name", "parent_code", "kind", ...}`` — any further keys given are
  kept (contact fields and the like).
* user: ``{"username", "password_hash", "role", "org_code", "created_at", ...}`` (optional
  ``active``, ``name``, ``phone``); ``org_code`` is the organization a scoped role works under
  (None: the whole deployment).
* session: ``{"id", "username", "created_at", "expires_at"}``.
* link: ``{"token", "form_id", "org_code", "created_at", "revoked_at"}`` (revoked_at None while
  active).
* submission: ``{"id", "form_id", "form_version", "org_code", "receipt", "submitted_at",
  "submission_id", "token", "files", "answers"}``. ``id`` is a positive integer that grows with
  every submission stored (the order of "newest first"); ``receipt`` is "YYMMDD-NNNN", the
  NNNN-th submission of that local day in the whole deployment. Lifecycle keys (always
  present; a submission stored before they existed reads with the defaults): ``status`` (one
  of common.REVIEW_STATUSES, "待审核" at first), ``period`` (the period it reports on, or
  None), ``slot`` (the key of one-per-period forms: at most one submission that is not
  "已作废" holds a (form, organization, slot); None: no such rule), ``project_id`` (int or
  None), ``revision`` (1 at first, +1 at each update), ``history`` (entries ``{"at", "user",
  "action", "from", "to", "comment"}``, oldest first), ``versions`` (the answers each
  correction replaced, oldest first: ``{"n", "at", "user", "reason", "answers", "files",
  "form_version"}``), ``edit`` (``{"n", "at", "user", "reason"}`` of the current answers)
  and ``updated_at`` (submitted_at until the first update).
* project: ``{"id", "title", "category", "kind", "org_code", "secretary", "year", "steps",
  "status", "application", "history", "created_at", "updated_at", "revision", ...}``: ``id``
  a positive integer, ``application`` the receipt of the application that opened it (one
  project per application), ``history`` as a submission's; any further keys are kept.
* API token: ``{"id", "username", "label", "token_hash", "created_at", "expires_at",
  "revoked_at"}`` (only a hash of the secret is stored).
* photo: ``{"name", "content_type", "size", "data"}`` (data: bytes).
* audit entry: ``{"id", "at", "user", "action", "target", "detail", "address"}``: who (a
  username, or None) did what (``action``, a short code such as "login" or "org.delete") to
  what (``target``, text), with what (``detail``: any JSON value, or None), from where
  (``address``, or None), when (``at``). ``id`` grows with every entry (the order of "newest
  first").
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from .errors import (DuplicateError, PeriodTaken, RecordChanged, RestoreRefused, StorageError,
                     SubmissionConflict)

__all__ = ["Store", "Snapshot", "KINDS", "TABLES",
           "StorageError", "SubmissionConflict", "DuplicateError", "RestoreRefused",
           "RecordChanged", "PeriodTaken"]

Doc = dict[str, Any]
DateArg = date | str | None

# What a snapshot holds, in the order a restore loads it (photos are separate: see Snapshot).
KINDS = ("forms", "orgs", "users", "links", "submissions", "audit", "drafts", "form_states",
         "projects", "api_tokens", "rubrics", "scores", "cases")
# Names accepted by Store.version_of.
TABLES = ("forms", "orgs", "users", "links", "submissions")


@runtime_checkable
class Snapshot(Protocol):
    """A consistent, read-only view of a whole database (Store.snapshot) or of a backup file.

    ``records(kind)`` yields the documents of one kind (see KINDS) in the order they were
    stored: forms by (id, version), orgs in the order added, submissions and audit entries by
    ``id``. Each is the document as the Store returns it (submissions and audit entries without
    their ``id``, which a restore assigns anew in the same order). ``photo_names()`` yields every stored photo's name; ``photo(name)``
    gives that photo (or None). ``counts()``: {kind: number of documents, "photos": n}.
    """

    def records(self, kind: str) -> Iterator[Doc]: ...

    def photo_names(self) -> Iterator[str]: ...

    def photo(self, name: str) -> Doc | None: ...

    def counts(self) -> dict[str, int]: ...


@runtime_checkable
class Store(Protocol):
    """Everything the application stores. Safe to share between the threads of a process."""

    backend: str  # "tinydb" or "postgresql"

    # ---- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release files, connections and locks. The Store is unusable afterwards."""

    def warm_up(self) -> None:
        """Do now the one-time work a worker would otherwise do on its first request."""

    def version_of(self, table: str) -> Hashable:
        """A value that changes whenever ``table`` (one of TABLES) changes, by this process or
        any other host: the key for per-process caches of derived data (form classes, the
        organization tree). Cheap: one call per request is fine."""

    # ---- forms ----------------------------------------------------------------------------------

    def add_form_version(self, schema: Mapping, source: str, user: str | None = None) -> Doc:
        """Store ``schema`` as the next version of the form ``schema["id"]`` (1 for a new form,
        else the highest version + 1, never reused); return the stored form version."""

    def get_form(self, form_id: str, version: int | None = None) -> Doc | None:
        """That version of the form (the highest when version is None), or None."""

    def list_forms(self) -> list[Doc]:
        """The latest version of every form, ordered by form id."""

    # ---- drafts and form states (the builder) ---------------------------------------------------
    # A draft is what an admin is editing: {"form_id", "text" (the definition's JSON text as
    # typed, valid or not), "revision" (1 for a new draft, +1 at each save), "saved_at",
    # "user"}; at most one per form id. A form state: {"form_id", "closed", "changed_at",
    # "user"}; a form without one is open.

    def get_draft(self, form_id: str) -> Doc | None: ...

    def list_drafts(self) -> list[Doc]:
        """Every draft, ordered by form id."""

    def save_draft(self, form_id: str, text: str, user: str | None,
                   base_revision: int | None) -> Doc:
        """Store ``text`` as the draft of ``form_id``; the stored draft. ``base_revision``: the
        revision the caller edited (0: it saw no draft) — DraftConflict, and nothing changes,
        when the draft is not at that revision any more (another admin saved meanwhile); None
        replaces whatever is there. Atomic across processes and hosts."""

    def delete_draft(self, form_id: str) -> bool:
        """Drop the draft of ``form_id``; whether there was one."""

    def set_form_closed(self, form_id: str, closed: bool, user: str | None) -> Doc:
        """Close (or reopen) a form; its state. Changes version_of("forms"): every process
        sees it at its next request."""

    def form_states(self) -> dict[str, Doc]:
        """{form id: state} of every form that has one (a form without one is open)."""

    def form_versions(self, form_id: str) -> list[Doc]:
        """Every version of a form, oldest first ([] for an unknown form)."""

    # ---- organizations --------------------------------------------------------------------------

    def replace_orgs(self, rows: Iterable[Mapping]) -> int:
        """Replace every organization with ``rows`` (all or nothing); the count stored.
        DuplicateError for a code given twice."""

    def upsert_orgs(self, rows: Iterable[Mapping]) -> int:
        """Insert each row, or replace the organization with its code (keeping its place in
        the order); all or nothing. DuplicateError for a code given twice."""

    def get_org(self, code: str) -> Doc | None: ...

    def list_orgs(self) -> list[Doc]:
        """Every organization, in the order they were first added."""

    def delete_org(self, code: str) -> bool:
        """Delete one organization; False if there was none. (Callers check that it has no
        children and no submissions first: organizations.delete_org.)"""

    # ---- users and sessions ---------------------------------------------------------------------

    def add_user(self, username: str, password_hash: str, role: str,
                 org_code: str | None = None) -> Doc:
        """Create a user; DuplicateError if the username is taken."""

    def update_user(self, username: str, changes: Mapping) -> Doc | None:
        """Change a user's ``role``, ``org_code``, ``active``, ``name`` or ``phone``
        (ValueError for any other key); the updated user, or None if there is none. Setting
        active to False, or changing the role or the organization, ends every session of that
        user in the same write (what they may see changed)."""

    def get_user(self, username: str) -> Doc | None: ...

    def list_users(self) -> list[Doc]:
        """Every user, ordered by username."""

    def set_password(self, username: str, password_hash: str) -> Doc | None:
        """Replace a user's password hash and end every session of that user, in one write;
        the updated user, or None if there is no such user."""

    def create_session(self, username: str, lifetime: timedelta) -> Doc:
        """A new login session of ``username`` (an unguessable ``id`` of at least 256 bits),
        valid for ``lifetime`` from now. Sessions that have expired are purged on the way."""

    def get_session(self, session_id: str) -> Doc | None:
        """The session, or None if it never existed, was ended, or has expired."""

    def end_session(self, session_id: str) -> bool:
        """End one session (logout); False if it was not active."""

    def end_user_sessions(self, username: str) -> int:
        """End every session of a user; how many were active."""

    # ---- login throttling -----------------------------------------------------------------------

    def record_login_failure(self, key: str, at: datetime) -> None:
        """Count one failed login for ``key`` at ``at`` (aware). Failures older than a day are
        purged on the way."""

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        """The times (aware, ascending) of the failures of ``key`` at or after ``since``,
        counted over every process and host."""

    # ---- rate-limit counters --------------------------------------------------------------------

    def hit_counter(self, key: str, window: float, amount: int = 1) -> tuple[int, float]:
        """Add ``amount`` to the counter ``key``; (its count, the end of its window as a POSIX
        timestamp).

        A counter that does not exist, or whose window has ended, starts again at ``amount``
        with a window ending ``window`` seconds from now; later hits within that window do not
        move its end (a fixed window). Atomic across processes and hosts: concurrent hits on
        one key from anywhere are all counted, and each sees a count of its own. Times are the
        database's clock (the PostgreSQL server's on that backend). Counters are not durable (a
        crash of the machine may lose them), not part of snapshots and not replaced by a load;
        those of ended windows are purged on the way, so the space they take follows the
        counters of the current windows. ValueError for an empty key, a window <= 0 or an
        amount < 0."""

    def get_counter(self, key: str) -> tuple[int, float] | None:
        """(count, end of window) of the counter ``key`` while its window lasts, else None."""

    def clear_counter(self, key: str) -> None:
        """Remove one counter (nothing happens when there is none)."""

    def drop_counters(self, expired_only: bool = True) -> int:
        """Remove the counters whose window has ended (every counter when ``expired_only`` is
        False); how many were removed."""

    # ---- audit log ------------------------------------------------------------------------------

    def add_audit(self, entry: Mapping) -> Doc:
        """Store one audit entry: ``action`` (required), ``user``, ``target``, ``detail``,
        ``address``, and ``at`` (an ISO 8601 time; now when absent or None). Missing keys are
        stored as None ("" for target). The stored entry, with its ``id``. ValueError for a
        missing action or a value a JSON database cannot hold."""

    def query_audit(self, action: str | None = None, user: str | None = None,
                    date_from: DateArg = None, date_to: DateArg = None, offset: int = 0,
                    limit: int | None = None) -> tuple[list[Doc], int]:
        """(one page of the matching audit entries newest first: ``id`` descending, how many
        match). action and user (None: any) must be equal; date_from/date_to (date or
        "YYYY-MM-DD", inclusive) compare with the local date of ``at``. ValueError for a
        negative offset or limit or a malformed date."""

    # ---- links ----------------------------------------------------------------------------------

    def get_link(self, token: str) -> Doc | None:
        """The link with this token, revoked or not (check ``revoked_at``), or None."""

    def active_link(self, form_id: str, org_code: str) -> Doc | None: ...

    def create_link(self, form_id: str, org_code: str) -> Doc:
        """A new active link for (form, organization), with a fresh unguessable token
        (secrets.token_urlsafe(24), 192 bits); the previous active one is revoked in the same
        write. At most one link per (form, organization) is ever active, whatever the number
        of concurrent callers."""

    def revoke_link(self, token: str) -> Doc | None:
        """Revoke a link (a no-op if already revoked); the link, or None for an unknown token."""

    def list_links(self, form_id: str, active_only: bool = False) -> list[Doc]:
        """The links of a form, oldest first."""

    # ---- submissions ----------------------------------------------------------------------------

    def add_submission(self, form_id: str, form_version: int, org_code: str, answers: Mapping,
                       submission_id: str, token: str | None = None,
                       files: list | None = None, period: str | None = None,
                       slot: str | None = None, project_id: int | None = None
                       ) -> tuple[Doc, bool]:
        """Store a submission, idempotently on ``submission_id``.

        ``period``, ``slot`` and ``project_id`` are stored as given (status "待审核");
        ``PeriodTaken`` (with the holder's receipt), and nothing stored, when ``slot`` is
        given and a submission of the form and organization that is not "已作废" holds it —
        checked atomically, across processes and hosts (a retry of the same submission id is
        answered as a retry first).

        (doc, True) for a new submission, which gets the next receipt of today and
        ``submitted_at`` = now; (the stored doc, False) when ``submission_id`` was already
        stored with the same form, organization and answers (the retry of a fill, from any
        process or host); ``SubmissionConflict`` when it was stored with different ones. Ten
        concurrent calls with one submission id store one submission and all get its receipt.
        """

    def import_submissions(self, docs: Iterable[Mapping], batch: int = 2000) -> int:
        """Bulk-load submissions that carry their own ``submitted_at`` (seed-demo, migrations);
        the number stored. Each doc: form_id, form_version, org_code, answers, submitted_at,
        optional submission_id (else a random one), optional period, slot and project_id (as
        add_submission; status "待审核"). Receipts continue the sequence of each submission's
        day. Durable per batch; DuplicateError (and nothing of that batch stored) for a
        submission id already stored, or a slot held (by a stored submission or one of the
        batch). Give them in time order."""

    def get_submission(self, receipt: str) -> Doc | None: ...

    def find_submission(self, submission_id: str) -> Doc | None:
        """The submission stored under a client submission id, or None."""

    def update_submission(self, receipt: str, revision: int, changes: Mapping,
                          project: tuple | None = None) -> tuple[Doc, Doc | None]:
        """Change a submission (and, in the same transaction, a project): (the submission, the
        project or None) as stored afterwards.

        ``changes`` may hold ``status``, ``period``, ``slot``, ``project_id``; ``answers``
        (optionally with ``files`` and ``form_version``: the answers replaced become the last
        entry of ``versions``, ``edit`` describes the new ones with ``user`` and ``reason``);
        ``event`` (a history entry: ``action`` required, ``from``, ``to``, ``comment``; ``at``
        is now and ``user`` is changes["user"]). ``project`` is (project id, its revision,
        changes as in update_project). ``revision`` is the submission's revision the caller
        read: ``RecordChanged`` when either record changed since; ``LookupError`` for an
        unknown receipt or project; ``PeriodTaken`` when the submission would hold a slot
        another holds (changing its slot, or restoring a voided one); ``ValueError`` for
        malformed changes. All or nothing."""

    def reported_periods(self, form_id: str, org_codes: Iterable[str] | None = None,
                         periods: Iterable[str] | None = None) -> list[Doc]:
        """``{"org_code", "period", "slot", "project_id", "receipt", "submitted_at",
        "status"}`` of every submission of the form that has a period and is not "已作废",
        oldest first (among org_codes and for one of ``periods`` when given): what 催报
        needs, without the answers."""

    def query_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                          date_from: DateArg = None, date_to: DateArg = None, offset: int = 0,
                          limit: int | None = None, *, statuses: Iterable[str] | None = None,
                          changed_since: datetime | str | None = None,
                          after_id: int | None = None) -> tuple[int, list[Doc]]:
        """(how many match, one page of them newest first: ``id`` descending).

        statuses: only those review statuses (None: any); changed_since: only submissions
        whose ``updated_at`` is at or after that time; after_id: only ids above it, and the
        page is then in ``id`` ASCENDING order (cursor paging for incremental sync).

        form_id None = every form; org_codes None = every organization (an empty collection
        matches nothing); date_from/date_to (date or "YYYY-MM-DD", inclusive) compare with the
        local date of ``submitted_at``. ValueError for a negative offset or limit or a
        malformed date. Uses indexes: the cost follows the page and the matching count, not
        the size of the database."""

    def iter_submissions(self, form_id: str | None, org_codes: Iterable[str] | None = None,
                         date_from: DateArg = None, date_to: DateArg = None, *,
                         statuses: Iterable[str] | None = None
                         ) -> tuple[int, Iterator[Doc]]:
        """(how many match, the matching submissions oldest first), for exports of any size
        (statuses as in query_submissions).

        Memory stays flat whatever the count (the iterator fetches in batches). The selection
        is fixed when this is called: later writes are not included. Consume the iterator to
        the end or close() it (it may hold a database connection until then)."""

    def submission_versions(self, form_id: str) -> set[int]:
        """The form versions that stored submissions of ``form_id`` were made with."""

    def submission_counts(self, form_id: str, date_from: DateArg = None,
                          date_to: DateArg = None,
                          org_codes: Iterable[str] | None = None, *,
                          statuses: Iterable[str] | None = None) -> dict[str, int]:
        """org code -> number of submissions of the form (within the dates, inclusive, among
        org_codes and with one of statuses when given). Organizations with none are absent."""

    def count_submissions(self, form_id: str | None = None) -> int: ...

    # ---- projects -------------------------------------------------------------------------------

    def add_project(self, doc: Mapping) -> tuple[Doc, bool]:
        """Open a project (common.new_project: ids grow from 1, never reused); (project, True).
        Idempotent on ``doc["application"]``: (the project that application opened, False)
        when there is one, from any process or host."""

    def get_project(self, project_id: int) -> Doc | None: ...

    def list_projects(self, org_codes: Iterable[str] | None = None, year: int | None = None,
                      statuses: Iterable[str] | None = None) -> list[Doc]:
        """The matching projects ordered by id (org_codes/statuses None: any)."""

    def update_project(self, project_id: int, revision: int, changes: Mapping) -> Doc:
        """Change a project (common.changed_project); the stored project. RecordChanged for a
        stale revision, LookupError for an unknown id."""

    # ---- API tokens -----------------------------------------------------------------------------

    def add_api_token(self, username: str, token_hash: str, label: str,
                      expires_at: datetime | str | None) -> Doc:
        """Store a token (only the hash of its secret); DuplicateError for a hash stored."""

    def find_api_token(self, token_hash: str) -> Doc | None:
        """The token with that hash (revoked and expired ones too: the caller checks)."""

    def list_api_tokens(self, username: str | None = None) -> list[Doc]:
        """Tokens (of one user, or all) oldest first."""

    def revoke_api_token(self, token_id: str) -> Doc | None:
        """Revoke a token (a no-op when already revoked); the token, or None if unknown."""

    # ---- year end: rubrics, scores, 群众诉求 cases (issue 11) --------------------------------------

    def get_rubric(self, year: int) -> Doc | None:
        """The year's rubric (common.rubric_doc), or None."""

    def put_rubric(self, year: int, criteria: list[Mapping], user: str | None) -> Doc:
        """Set (replace) the year's rubric; the stored rubric. ValueError when malformed."""

    def list_rubrics(self) -> list[Doc]:
        """Every year's rubric, by year."""

    def add_scores(self, rows: Iterable[Mapping]) -> int:
        """Store scores (common.score_doc) all or nothing; how many. DuplicateError (nothing
        stored) when a (project, judge, criterion) is already stored or repeated in ``rows``:
        its message names the key. Concurrent calls never store one key twice."""

    def set_scores(self, year: int, project_id: int, judge: str,
                   scores: Mapping[str, Any]) -> list[Doc]:
        """Replace ``judge``'s scores of one project by ``scores`` ({criterion: score}; empty:
        delete them) in one write; the judge's stored scores of the project."""

    def list_scores(self, year: int, project_id: int | None = None,
                    judge: str | None = None) -> list[Doc]:
        """The year's scores (of a project, of a judge), by (project, judge, criterion)."""

    def open_case(self, doc: Mapping) -> tuple[Doc, bool]:
        """Open the 群众诉求 case of a submission (common.new_case); (case, True). Idempotent on
        ``doc["receipt"]``: (the stored case, False) when there is one."""

    def get_case(self, receipt: str) -> Doc | None: ...

    def update_case(self, receipt: str, revision: int, changes: Mapping) -> Doc:
        """Change a case (common.changed_case); the stored case. RecordChanged for a stale
        revision, LookupError for an unknown receipt."""

    def list_cases(self, form_id: str | None = None, org_codes: Iterable[str] | None = None,
                   stages: Iterable[str] | None = None) -> list[Doc]:
        """The matching cases by receipt (None: any)."""

    def case_groups(self, form_id: str, org_codes: Iterable[str] | None = None) -> list[Doc]:
        """Counts of the form's cases whose submission is not voided, as
        ``{"org_code", "stage", "deadline", "count"}`` per distinct (org, stage, deadline):
        what the 诉求 counts and the dashboard read without loading every case."""

    # ---- photos ---------------------------------------------------------------------------------

    def put_photo(self, data: bytes, content_type: str) -> str:
        """Store a photo (already checked to be an image) durably; its name
        (storage.common.photo_name: the same bytes always get the same name, stored once)."""

    def get_photo(self, name: str) -> Doc | None:
        """The photo with that name, or None (also for a name put_photo never makes)."""

    def prune_photos(self, stored_before: datetime) -> int:
        """Delete every photo that no stored submission refers to (in its ``files``) and that
        was last put before ``stored_before`` (putting the same bytes again counts as a put);
        the number deleted. Safe while photos are put and submissions added: a photo put after
        ``stored_before`` is kept whatever happens meanwhile. What it finds are photos a page
        uploaded for a fill never sent; callers pass a time older than any photo reference
        still accepted (services.photos.REF_MAX_AGE), so no fill can still send one."""

    # ---- deployment settings --------------------------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        """The value stored under ``key``; when there is none, ``default`` is stored first and
        returned. Atomic across processes and hosts: the first caller's default wins, every
        later caller gets it (how several hosts agree on one secret key)."""

    # ---- the whole database ---------------------------------------------------------------------

    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """A consistent read-only view of everything (forms with every version, orgs, users,
        links, submissions with their receipts and times, the audit log, photos), for backups,
        while the service keeps serving. Sessions, login failures, rate-limit counters and
        settings are not part of it."""

    def load(self, source: Snapshot, force: bool = False) -> dict[str, int]:
        """Replace everything with the content of ``source`` (a snapshot of any backend, or a
        backup file read by storage.portable), keeping receipts, times, tokens and versions;
        receipts issued afterwards continue each day's sequence. A submission whose ``files``
        is empty gets the names of the photos its answers refer to (common.photo_refs), so
        that check() and backups find them. The audit log is replaced too (a backup of an
        earlier version has none: it leaves the log empty). All or nothing.
        ``RestoreRefused`` if this database holds any form version, organization, user, link
        or submission and force is False. Returns the counts loaded. Sessions end."""

    def check(self) -> dict:
        """Check the database without changing it: {"ok": bool, "backend", "location",
        "counts": {kind: n, "photos": n}, "problems": [Chinese text, ...]} — problems such as
        corrupt records, a schema that needs `flask init`, or photos that submissions refer to
        but that are missing."""
