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
