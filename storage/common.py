"""Rules every backend applies the same way: argument checks, clocks, receipts, photo names and
the comparison behind idempotent submit. Pure functions, no I/O.

Keeping them here (not in each backend) is what makes the two backends agree on the details
the contract suite checks: a receipt "YYMMDD-NNNN" on the local day, the same ValueError for
the same bad argument, the same photo name for the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from itertools import islice
from datetime import date, datetime, timedelta

from .errors import DuplicateError

ORG_FIELDS = ("code", "name", "parent_code", "kind")
PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
                    "image/gif": "gif"}
_IMAGE_KEYS = frozenset({"file", "name", "size", "content_type"})
_PHOTO_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.(jpg|png|webp|gif|bin)$")
MAX_SUBMISSION_ID = 128


def now() -> datetime:
    """The current moment in the host's local time zone (aware)."""
    return datetime.now().astimezone()


def stamp(moment: datetime) -> str:
    """ISO 8601 in local time with its offset, to the second: "2026-12-04T17:18:04+08:00"."""
    return moment.astimezone().isoformat(timespec="seconds")


def parse_stamp(text: str) -> datetime:
    """An ISO 8601 time stored by ``stamp`` (or given to an import) -> aware datetime.

    A time without an offset is read as local time. ValueError for anything else."""
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.astimezone()


def day_of(value) -> str | None:
    """A date filter argument (date, datetime, "YYYY-MM-DD", None or "") -> "YYYY-MM-DD"."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()  # ValueError on a malformed date


def local_day(submitted_at: str) -> str:
    """The "YYYY-MM-DD" a stored ``submitted_at`` falls on (its own local date, as written)."""
    return str(submitted_at)[:10]


def receipt_day(submitted_at: str) -> str:
    """"YYMMDD" of a submission time: the day part of its receipt."""
    return str(submitted_at)[2:10].replace("-", "")


def make_receipt(day: str, number: int) -> str:
    """The receipt of the number-th submission of day ("YYMMDD"): "261204-0007"."""
    return f"{day}-{number:04d}"


def in_batches(items, size: int):
    """Lists of up to ``size`` items of the iterable ``items``, in order (imports write in
    batches so that memory stays flat whatever the backup's size)."""
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


def check_draft_args(text, base_revision) -> None:
    """The ValueError every backend raises for a malformed save_draft call."""
    if not isinstance(text, str):
        raise ValueError("a draft's text must be a string")
    json_text(text)
    if base_revision is not None and (isinstance(base_revision, bool)
                                      or not isinstance(base_revision, int) or base_revision < 0):
        raise ValueError("base_revision must be None or an int >= 0")


def text_arg(value, what: str) -> str:
    """``value`` if it is a non-empty string that every backend can store (json_text's rule:
    no U+0000, no lone surrogate); ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    json_text(value)
    return value


def check_submission_args(form_id, form_version, org_code, answers, submission_id) -> None:
    """The ValueError every backend raises for a malformed add_submission call."""
    text_arg(form_id, "form id")
    text_arg(org_code, "organization code")
    if isinstance(form_version, bool) or not isinstance(form_version, int) or form_version < 1:
        raise ValueError("form_version must be an integer >= 1")
    if not isinstance(submission_id, str) or not 0 < len(submission_id) <= MAX_SUBMISSION_ID:
        raise ValueError("submission_id must be a string of 1 to 128 characters")
    if not isinstance(answers, Mapping):
        raise ValueError("answers must be a mapping")


def json_text(value) -> str:
    """Compact JSON of a document value; ValueError for what a JSON database cannot hold
    (NaN, non-string keys, other types, or U+0000, which PostgreSQL's jsonb refuses)."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not storable as JSON: {exc}") from None
    if "\\u0000" in text:
        raise ValueError("text must not contain the NUL character (U+0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must not contain unpaired surrogates") from None
    return text


def json_copy(value):
    """A deep copy of decoded JSON (lists and dicts copied, scalars shared)."""
    t = type(value)
    if t is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if t is list:
        return [json_copy(v) for v in value]
    return value


def comparable(value):
    """Answers as compared for idempotency. Photos are named by content, so a retry that sends
    the same photo again has the same answers; the stored name is still left out, in case two
    uploads of one photo were stored under different names (older data)."""
    if type(value) is dict:
        keys = value.keys()
        return {k: comparable(v) for k, v in value.items()
                if not (k == "file" and keys >= _IMAGE_KEYS)}
    if type(value) is list:
        return [comparable(v) for v in value]
    return value


def same_submission(doc: Mapping, form_id: str, org_code: str, answers: Mapping) -> bool:
    """Whether a stored submission is what (form_id, org_code, answers) would store."""
    return (doc["form_id"] == form_id and doc["org_code"] == org_code
            and comparable(json.loads(json_text(answers))) == comparable(doc["answers"]))


def org_rows(rows) -> list[dict]:
    """Organization rows as stored: the four ORG_FIELDS first (missing ones None), then any
    other keys; DuplicateError for a code given twice, ValueError for a missing code."""
    out, seen = [], set()
    for row in rows:
        code = text_arg(row.get("code"), "organization code")
        if code in seen:
            raise DuplicateError(f"组织代码重复:{code}")
        seen.add(code)
        doc = {**{k: row.get(k) for k in ORG_FIELDS}, **dict(row)}
        json_text(doc)
        out.append(doc)
    return out


def photo_name(data: bytes, content_type: str) -> str:
    """The stored name of a photo: "ab/<32 hex of its SHA-256>.jpg". The same bytes always get
    the same name, so a photo sent again by a retry is stored once and the answers match."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[:32]}.{PHOTO_EXTENSIONS.get(content_type, 'bin')}"


def is_photo_name(name) -> bool:
    return isinstance(name, str) and bool(_PHOTO_NAME.match(name))


def content_type_of(name: str) -> str:
    extension = name.rsplit(".", 1)[-1]
    return next((t for t, e in PHOTO_EXTENSIONS.items() if e == extension),
                "application/octet-stream")


def photo_refs(answers) -> list[str]:
    """The names of the stored photos an answers value refers to (image answers are dicts with
    file, name, size and content_type, and "thumb" when a thumbnail was made; inside repeat
    rows too), in order."""
    found = []
    if type(answers) is dict:
        if answers.keys() >= _IMAGE_KEYS and is_photo_name(answers.get("file")):
            thumb = answers.get("thumb")
            return [answers["file"]] + ([thumb] if is_photo_name(thumb) else [])
        for value in answers.values():
            found += photo_refs(value)
    elif type(answers) is list:
        for value in answers:
            found += photo_refs(value)
    return found


def counter_args(key, window, amount) -> None:
    """The ValueError every backend raises for a malformed hit_counter call."""
    text_arg(key, "key")
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:
        raise ValueError("a counter window must be a number of seconds > 0")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("a counter amount must be an integer >= 0")


AUDIT_KEYS = ("at", "user", "action", "target", "detail", "address")


def audit_entry(entry) -> dict:
    """An audit entry as every backend stores it (Store.add_audit): the keys of AUDIT_KEYS in
    that order, ``at`` a stamp (now when missing), ``target`` text; ValueError for a missing
    action, a malformed time or a value a JSON database cannot hold."""
    if not isinstance(entry, Mapping):
        raise ValueError("an audit entry must be a mapping")
    doc = {"at": stamp(parse_stamp(entry["at"]) if entry.get("at") else now()),
           "user": entry.get("user"), "action": text_arg(entry.get("action"), "action"),
           "target": entry.get("target") or "", "detail": entry.get("detail"),
           "address": entry.get("address")}
    for key in ("user", "target", "address"):
        if doc[key] is not None and not isinstance(doc[key], str):
            raise ValueError(f"audit {key} must be text")
    json_text(doc)
    return doc


def session_expiry(created: datetime, lifetime: timedelta) -> datetime:
    if lifetime <= timedelta(0):
        raise ValueError("a session lifetime must be positive")
    return created + lifetime


# ---- the lifecycle: review state of submissions, projects, API tokens (Store.update_*) -------

REVIEW_STATUSES = ("待审核", "已通过", "退回修改", "已作废")
PENDING, VOID = "待审核", "已作废"
# What a submission stored before the lifecycle existed reads as (see with_lifecycle).
_SUBMISSION_CHANGES = frozenset({"status", "answers", "files", "form_version", "period", "slot",
                                 "project_id", "event", "reason", "user"})
_PROJECT_FIXED = frozenset({"id", "application", "created_at", "updated_at", "revision",
                            "history"})
EVENT_KEYS = ("at", "user", "action", "from", "to", "comment")


def lifecycle_args(status=PENDING, period=None, slot=None, project_id=None) -> None:
    """The ValueError every backend raises for malformed lifecycle keys of a submission."""
    if status not in REVIEW_STATUSES:
        raise ValueError(f"status must be one of {REVIEW_STATUSES}")
    for name, value in (("period", period), ("slot", slot)):
        if value is not None:
            text_arg(value, name)
    if project_id is not None and (isinstance(project_id, bool)
                                   or not isinstance(project_id, int) or project_id < 1):
        raise ValueError("project_id must be an integer >= 1 or None")


def with_lifecycle(doc: dict) -> dict:
    """A stored submission with every lifecycle key present (older records have none): the
    shape Store methods return. Changes and returns ``doc``."""
    doc.setdefault("status", PENDING)
    doc.setdefault("period", None)
    doc.setdefault("slot", None)
    doc.setdefault("project_id", None)
    doc.setdefault("revision", 1)
    doc.setdefault("history", [])
    doc.setdefault("versions", [])
    doc.setdefault("updated_at", doc.get("submitted_at"))
    doc.setdefault("edit", {"n": len(doc["versions"]) + 1, "at": doc.get("submitted_at"),
                            "user": None, "reason": None})
    return doc


def event_entry(event: Mapping, moment: datetime) -> dict:
    """A history entry as stored: EVENT_KEYS in order, ``at`` now; ValueError when malformed."""
    if not isinstance(event, Mapping):
        raise ValueError("an event must be a mapping")
    doc = {"at": stamp(moment), "user": event.get("user"),
           "action": text_arg(event.get("action"), "event action"),
           "from": event.get("from"), "to": event.get("to"),
           "comment": event.get("comment") or ""}
    json_text(doc)
    return doc


def changed_submission(doc: Mapping, revision: int, changes: Mapping,
                       moment: datetime) -> dict:
    """The submission ``doc`` (as a Store returns it) after ``changes`` (Store.update_submission):
    a new dict. RecordChanged when ``revision`` is not the stored one; ValueError for malformed
    changes. Pure: each backend writes what this returns."""
    from .errors import RecordChanged

    if not isinstance(changes, Mapping) or not changes.keys() <= _SUBMISSION_CHANGES:
        raise ValueError(f"submission changes may only hold {sorted(_SUBMISSION_CHANGES)}")
    if doc["revision"] != revision:
        raise RecordChanged()
    new = json_copy(dict(doc))
    for key in ("status", "period", "slot", "project_id"):
        if key in changes:
            new[key] = changes[key]
    lifecycle_args(new["status"], new["period"], new["slot"], new["project_id"])
    at = stamp(moment)
    if "answers" in changes:
        if not isinstance(changes["answers"], Mapping):
            raise ValueError("answers must be a mapping")
        version = changes.get("form_version", doc["form_version"])
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("form_version must be an integer >= 1")
        new["versions"].append({**json_copy(doc["edit"]), "answers": json_copy(doc["answers"]),
                                "files": list(doc["files"]),
                                "form_version": doc["form_version"]})
        new["answers"] = json.loads(json_text(dict(changes["answers"])))
        new["files"] = list(changes.get("files", doc["files"]) or [])
        new["form_version"] = version
        new["edit"] = {"n": len(new["versions"]) + 1, "at": at, "user": changes.get("user"),
                       "reason": changes.get("reason")}
    elif "files" in changes or "form_version" in changes:
        raise ValueError("files and form_version change only with answers")
    if changes.get("event") is not None:
        new["history"].append(event_entry({"user": changes.get("user"), **changes["event"]},
                                          moment))
    new["revision"] = doc["revision"] + 1
    new["updated_at"] = at
    json_text(new)
    return new


def holds_slot(doc: Mapping) -> tuple | None:
    """The (form, organization, slot) key a submission holds, or None (no slot, or voided)."""
    if doc.get("slot") is None or doc.get("status", PENDING) == VOID:
        return None
    return doc["form_id"], doc["org_code"], doc["slot"]


PROJECT_KEYS = ("title", "category", "kind", "org_code", "secretary", "year", "steps",
                "status", "application")


def new_project(doc: Mapping, project_id: int, moment: datetime) -> dict:
    """A project as stored by add_project: ``doc`` (PROJECT_KEYS required, any further JSON
    keys kept) with id, history [], created_at/updated_at now, revision 1."""
    if not isinstance(doc, Mapping):
        raise ValueError("a project must be a mapping")
    missing = [k for k in PROJECT_KEYS if k not in doc]
    if missing:
        raise ValueError(f"a project needs {missing}")
    text_arg(doc["application"], "application receipt")
    text_arg(doc["org_code"], "organization code")
    text_arg(doc["status"], "status")
    if isinstance(doc["year"], bool) or not isinstance(doc["year"], int):
        raise ValueError("year must be an integer")
    at = stamp(moment)
    out = {"id": project_id, **json_copy(dict(doc)), "history": list(doc.get("history") or []),
           "created_at": at, "updated_at": at, "revision": 1}
    out["id"] = project_id
    json_text(out)
    return out


def _changed_record(doc: Mapping, revision: int, changes: Mapping, fixed: frozenset,
                    what: str, check, moment: datetime) -> dict:
    """``doc`` after ``changes`` (any keys but ``fixed``; ``event`` appends to the history,
    ``user`` is its author; ``check(new)`` validates the result): a new dict with the revision
    bumped. RecordChanged for a stale revision; ValueError when malformed. The one mechanism of
    changed_project and changed_case."""
    from .errors import RecordChanged

    if not isinstance(changes, Mapping) or changes.keys() & fixed:
        raise ValueError(f"a {what}'s {sorted(fixed)} cannot be changed")
    if doc["revision"] != revision:
        raise RecordChanged()
    new = json_copy(dict(doc))
    for key, value in changes.items():
        if key not in ("event", "user"):
            new[key] = json_copy(value)
    check(new)
    if changes.get("event") is not None:
        new["history"].append(event_entry({"user": changes.get("user"), **changes["event"]},
                                          moment))
    new["revision"] = doc["revision"] + 1
    new["updated_at"] = stamp(moment)
    json_text(new)
    return new


def _check_project(new: Mapping) -> None:
    text_arg(new["status"], "status")
    text_arg(new["org_code"], "organization code")
    if isinstance(new["year"], bool) or not isinstance(new["year"], int):
        raise ValueError("year must be an integer")


def changed_project(doc: Mapping, revision: int, changes: Mapping, moment: datetime) -> dict:
    """The project ``doc`` after ``changes`` (any project keys but id, application, created_at,
    updated_at, revision, history; ``event`` appends to the history, ``user`` is its author):
    a new dict. RecordChanged for a stale revision; ValueError when malformed."""
    return _changed_record(doc, revision, changes, _PROJECT_FIXED, "project", _check_project,
                           moment)


def statuses_arg(statuses) -> frozenset | None:
    """A statuses filter (None = any) as a set; ValueError for an unknown status or a string
    given where a collection is meant."""
    if statuses is None:
        return None
    if isinstance(statuses, str):
        raise ValueError("statuses must be a collection of statuses, not a string")
    found = frozenset(statuses)
    if not found <= set(REVIEW_STATUSES):
        raise ValueError(f"unknown status in {sorted(found)}")
    return found


def periods_arg(periods) -> list[str]:
    """A periods filter (a collection of period texts) as a sorted list; ValueError for a
    string given where a collection is meant, or a period that is not text."""
    if isinstance(periods, str):
        raise ValueError("periods must be a collection of periods, not a string")
    return sorted({text_arg(p, "period") for p in periods})


def since_arg(changed_since) -> datetime | None:
    """A changed_since filter (None, "", an ISO time or an aware datetime) -> aware datetime."""
    if changed_since is None or changed_since == "":
        return None
    if isinstance(changed_since, datetime):
        return changed_since if changed_since.tzinfo else changed_since.astimezone()
    return parse_stamp(changed_since)  # ValueError when malformed


def token_doc(username, token_hash, label, expires_at, moment: datetime) -> dict:
    """An API token as stored (add_api_token); ValueError when malformed."""
    doc = {"id": secrets.token_hex(8), "username": text_arg(username, "username"),
           "label": label or "", "token_hash": text_arg(token_hash, "token hash"),
           "created_at": stamp(moment),
           "expires_at": None if expires_at is None else stamp(since_arg(expires_at)),
           "revoked_at": None}
    if not isinstance(doc["label"], str):
        raise ValueError("a token label must be text")
    json_text(doc)
    return doc


def user_changes(changes: Mapping) -> dict:
    """The changes update_user accepts (role, org_code, active, name, phone); ValueError else."""
    allowed = {"role", "org_code", "active", "name", "phone"}
    if not isinstance(changes, Mapping) or not changes.keys() <= allowed:
        raise ValueError(f"user changes may only hold {sorted(allowed)}")
    if "active" in changes and not isinstance(changes["active"], bool):
        raise ValueError("active must be a bool")
    json_text(dict(changes))
    return dict(changes)


# ---- year end (issue 11): rubrics, scores, 群众诉求 cases --------------------------------------

CASE_FIXED = frozenset({"receipt", "form_id", "org_code", "created_at", "updated_at",
                        "revision", "history"})


def year_arg(year) -> int:
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError("year must be an integer")
    return year


def score_text(value) -> str:
    """A score as the Store keeps it: the text of a finite, non-negative decimal with at most
    two places ("18.5"); ValueError otherwise."""
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(str(value))
        exact = number.is_finite() and number == number.quantize(Decimal("0.01"))
    except InvalidOperation:  # not a number, or too large to quantize
        raise ValueError(f"score {value!r} is not a number of at most two decimals") from None
    if isinstance(value, bool) or not exact or number < 0:
        raise ValueError(f"score {value!r} must be >= 0 with at most two decimals")
    text = format(number.normalize(), "f")
    return text


def rubric_doc(year, criteria, user, moment: datetime) -> dict:
    """A year's rubric as stored by put_rubric: ``criteria`` a non-empty list of
    ``{"name", "max", "weight"}`` (names unique, max > 0, weight > 0, both numbers)."""
    year_arg(year)
    if isinstance(criteria, (str, bytes)) or not criteria:
        raise ValueError("a rubric needs criteria")
    out, names = [], set()
    for spec in criteria:
        if not isinstance(spec, Mapping):
            raise ValueError("a criterion must be a mapping")
        name = text_arg(spec.get("name"), "criterion name").strip()
        if not name or name in names:
            raise ValueError(f"criterion name {name!r} empty or repeated")
        names.add(name)
        values = {}
        for key, default in (("max", None), ("weight", 1)):
            value = spec.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"criterion {name}: {key} must be a number > 0")
            values[key] = value
        out.append({"name": name, **values})
    return {"year": year, "criteria": out, "user": user, "updated_at": stamp(moment)}


def score_doc(row: Mapping, moment: datetime) -> dict:
    """A score as stored: ``{"year", "project", "judge", "criterion", "score", "source", "at"}``
    (project an id, score as score_text)."""
    if not isinstance(row, Mapping):
        raise ValueError("a score must be a mapping")
    project = row.get("project")
    if isinstance(project, bool) or not isinstance(project, int):
        raise ValueError("a score's project must be a project id")
    return {"year": year_arg(row.get("year")), "project": project,
            "judge": text_arg(row.get("judge"), "judge"),
            "criterion": text_arg(row.get("criterion"), "criterion"),
            "score": score_text(row.get("score")),
            "source": row.get("source") or "web", "at": row.get("at") or stamp(moment)}


def score_key(doc: Mapping) -> tuple:
    return doc["project"], doc["judge"], doc["criterion"]


def new_case(doc: Mapping, moment: datetime) -> dict:
    """A 群众诉求 case as stored by open_case: ``doc`` with receipt, form_id, org_code and stage
    (text), any further JSON keys kept (deadline: "YYYY-MM-DD" or None), revision 1."""
    if not isinstance(doc, Mapping):
        raise ValueError("a case must be a mapping")
    for key in ("receipt", "form_id", "org_code", "stage"):
        text_arg(doc.get(key), key)
    at = stamp(moment)
    out = {**json_copy(dict(doc)), "history": list(doc.get("history") or []),
           "created_at": at, "updated_at": at, "revision": 1}
    case_deadline(out)
    json_text(out)
    return out


def case_deadline(doc: Mapping) -> str | None:
    deadline = doc.get("deadline")
    if deadline is not None:
        try:
            date.fromisoformat(text_arg(deadline, "deadline"))
        except ValueError:
            raise ValueError(f"deadline {deadline!r} is not YYYY-MM-DD") from None
    return deadline


def changed_case(doc: Mapping, revision: int, changes: Mapping, moment: datetime) -> dict:
    """The case after ``changes`` (any keys but CASE_FIXED; ``event`` appends to the history,
    ``user`` is its author). RecordChanged for a stale revision; ValueError when malformed."""
    def check(new):
        text_arg(new["stage"], "stage")
        case_deadline(new)

    return _changed_record(doc, revision, changes, CASE_FIXED, "case", check, moment)
