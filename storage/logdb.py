"""The storage engine: TinyDB over an append-only, fsync'd JSON-lines log.

This module owns the database file format, the locking between threads and processes, durability,
crash recovery, snapshots (backup, restore, compaction) and the integrity check. It plugs into
TinyDB through TinyDB's own extension points: ``LogStorage`` (a ``tinydb.storages.Storage``) holds
the state, ``LogTable`` (``TinyDB.table_class``) turns every write into one logged record, and
``LogDB`` (a ``TinyDB``) wires them together. See docs/STORAGE.md for the why.

File format: one record per line, each line a JSON object::

    {"crc":"1a2b3c4d","len":[N0,N1,...],"ops":[OP,...],"raw":[P1,...]}\\n

- ``ops`` is the list of operations of the record, applied in order and all-or-nothing:
  ``["put", table, doc_id, doc]`` (insert or replace a whole document),
  ``["put", table, doc_id, doc, [key, ...]]`` (same, the values of those keys are raw payloads),
  ``["del", table, doc_id]`` and ``["drop", table]``.
- ``raw`` (only present when used) holds large JSON values verbatim, in the order the ``put``
  operations name them; ``doc[key]`` is ``null`` inside ``ops``. A replay leaves them in the
  file: in memory each is a ``RawRef`` (file handle, offset, length), read and parsed only when
  someone asks (``load()``): that is what keeps opening 100k submissions around half a second
  and their memory small (answers are not in memory at all).
- ``len`` gives the byte length of ``ops`` then of each raw payload, so a reader slices them
  without parsing. ``crc`` is the CRC-32 (8 hex digits) of every byte after ``"crc":"…",`` up to
  and including the final ``}``.
- A line without its trailing newline is a torn write (a writer died in the middle, or is still
  writing): it is ignored, and removed by the next writer before it appends.
"""
from __future__ import annotations

import errno
import fcntl
import gc
import json
import logging
import os
import re
import secrets
import sys
import threading
import weakref
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from itertools import accumulate, chain, islice, repeat
from operator import add, itemgetter, lt, sub

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from .errors import RestoreRefused, StorageError, os_failure

__all__ = [
    "StorageError", "RawJSON", "RawRef", "FileHandle", "LogStorage", "LogTable", "LogDB", "Transaction",
    "encode_record", "decode_record", "CorruptRecord",
    "backup", "restore", "check", "compact",
]

log = logging.getLogger(__name__)

# Messages shown to users (a Flask view turns StorageError into a 503 page).
MSG_WRITE_FAILED = "数据保存失败,请稍后重试"
MSG_READ_FAILED = "数据读取失败,请稍后重试"

_READ_CHUNK = 256 << 10
_SNAPSHOT_BUFFER = 1 << 20
_FREEZE_ABOVE = 8 << 20
_INTERN_BELOW = 32  # operations decoded fewer at a time get their field names interned
# Fields whose string values repeat across many documents (a few forms, a few hundred
# organizations): documents put in memory share one copy of each value (sys.intern), ~12 MB
# less per 100k submissions for ~15 ms more of opening.
_SHARED_VALUES = ("form_id", "org_code")
_FRAME = re.compile(rb'\{"crc":"([0-9a-f]{8})","len":\[([0-9]+)((?:,[0-9]+)*)\],"ops":')
_CRC_START = len(b'{"crc":"12345678",')
_RAW_OPEN = b',"raw":['


class CorruptRecord(ValueError):
    """A complete line of the log that cannot be decoded (bad checksum, framing or JSON)."""


class RawJSON(bytes):
    """A JSON value kept as its compact UTF-8 text.

    Put one as a top-level value of a document and the engine writes it verbatim to the log and
    keeps it as bytes in memory: it is neither parsed when the log is replayed nor expanded into
    Python objects until someone calls ``load()``. TinyDB queries cannot look inside it.
    """

    __slots__ = ()

    @classmethod
    def dump(cls, value) -> RawJSON:
        return cls(_dumps(value))

    def load(self):
        return json.loads(self.decode("utf-8"))


class FileHandle:
    """A read-only descriptor of one version (inode) of the database file, shared by every
    ``RawRef`` into it and by the ``LogStorage`` while that version is current.

    The descriptor is closed only when the last holder lets go of the handle (CPython reference
    counting, ``__del__``), never by a reload, a compaction or ``close()`` of the storage: a
    reference taken before the file was replaced (restore, compaction) keeps reading the bytes
    it was taken from, and a descriptor number is never closed under a reader (and so never
    reused for another file while a reference still points at it).
    """

    __slots__ = ("fd", "__weakref__")

    def __init__(self, fd: int):
        self.fd = fd

    def pread(self, length: int, offset: int) -> bytes:
        try:
            data = os.pread(self.fd, length, offset)
        except OSError as exc:
            raise os_failure(MSG_READ_FAILED, exc) from exc
        if len(data) != length:  # the file was cut short under us (a rolled-back write)
            raise StorageError(MSG_READ_FAILED)
        return data

    def __del__(self, _close=os.close):  # (os may be gone at interpreter exit)
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                _close(fd)
            except OSError:
                pass


class RawRef:
    """A raw JSON value (see ``RawJSON``) left in the log file: the handle of the file version
    it is in, its byte offset and length. What a replay keeps in memory for submission answers
    (~0.1 KB each instead of the bytes); ``bytes(ref)`` reads them (``os.pread``), ``load()``
    decodes them. Equal to a ``RawJSON`` or ``RawRef`` holding the same bytes."""

    __slots__ = ("file", "_span")  # _span: offset << 32 | length, one int (~3 MB per 100k)

    def __init__(self, file: FileHandle, offset: int, length: int):
        if not 0 <= length < 1 << 32:
            raise ValueError("raw payload too long")
        self.file = file
        self._span = offset << 32 | length

    @property
    def offset(self) -> int:
        return self._span >> 32

    @property
    def length(self) -> int:
        return self._span & 0xFFFFFFFF

    def __bytes__(self) -> bytes:
        span = self._span
        return self.file.pread(span & 0xFFFFFFFF, span >> 32)

    def load(self):
        return json.loads(bytes(self).decode("utf-8"))

    def __len__(self) -> int:
        return self._span & 0xFFFFFFFF

    def __eq__(self, other):
        if isinstance(other, (bytes, RawRef)):
            return bytes(self) == bytes(other)
        return NotImplemented

    def __hash__(self):
        return hash(bytes(self))

    def __repr__(self):
        return f"RawRef(fd={self.file.fd}, offset={self.offset}, length={self.length})"


_RAW_TYPES = (RawJSON, RawRef)


def _dumps(value) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8 encoded: let JSON escape it instead.
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"),
                          allow_nan=False).encode("ascii")


def encode_record(ops: Iterable[tuple]) -> bytes:
    """Serialize operations into one log line (with its trailing newline)."""
    return _encode(ops)[0]


class _NotPlain(Exception):
    pass


def _plain_copy(value):
    """A copy of value, if value is made only of what JSON gives back unchanged (exact str,
    int, float, bool, None, lists, dicts with str keys); else _NotPlain. Called only after
    the value was encoded (so no NaN, no unencodable type)."""
    t = type(value)
    if t is str or t is int or value is None or t is bool or t is float:
        return value
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain_copy(v)
        return out
    if t is list:
        return [_plain_copy(v) for v in value]
    raise _NotPlain


def _encode(ops: Iterable[tuple], keep: bool = False):
    """(the log line, then with keep: the operations as a replay of that line decodes them —
    fresh documents, field names interned, raw values None — and [(document, key, offset in
    the line, length)] of its raw payloads, for the caller to point at the file), or (line,
    None, None) when the line has values JSON would change (a tuple, an int key...) and must
    be decoded to know what it holds."""
    ops = list(ops)
    out, raws = [], []
    for op in ops:
        if op[0] == "put":
            _, table, doc_id, doc = op
            raw_keys = [k for k, v in doc.items() if isinstance(v, _RAW_TYPES)]
            if raw_keys:
                for k in raw_keys:
                    payload = bytes(doc[k])
                    if not payload or b"\n" in payload:
                        raise ValueError(f"raw value {k!r} is not compact JSON")
                    raws.append(payload)
                doc = {k: (None if isinstance(v, _RAW_TYPES) else v) for k, v in doc.items()}
                out.append(["put", table, doc_id, doc, raw_keys])
            else:
                out.append(["put", table, doc_id, doc])
        else:
            out.append(list(op))
    body = _dumps(out)
    lens = b",".join(b"%d" % n for n in [len(body)] + [len(r) for r in raws])
    head = b'"len":[' + lens + b'],"ops":'
    tail = head + body
    if raws:
        tail += _RAW_OPEN + b",".join(raws) + b"]"
    tail += b"}"
    line = b'{"crc":"%08x",' % zlib.crc32(tail) + tail + b"\n"
    if not keep:
        return line, None, None
    try:
        applied, slots = [], []
        pos = _CRC_START + len(head) + len(body) + len(_RAW_OPEN)
        taken = 0
        for op in ops:
            kind, table = op[0], op[1]
            if type(table) is not str:
                raise _NotPlain
            if kind == "put":
                doc_id, doc = op[2], op[3]
                if type(doc_id) is not int:
                    raise _NotPlain
                new = {}
                for k, v in doc.items():
                    if type(k) is not str:
                        raise _NotPlain
                    k = _intern(k)
                    if isinstance(v, _RAW_TYPES):
                        size = len(raws[taken])
                        slots.append((new, k, pos, size))
                        pos += size + 1
                        taken += 1
                        new[k] = None
                    else:
                        new[k] = _plain_copy(v)
                applied.append(["put", table, doc_id, new])
            elif kind == "del":
                if type(op[2]) is not int:
                    raise _NotPlain
                applied.append(["del", table, op[2]])
            else:
                applied.append(["drop", table])
    except _NotPlain:
        return line, None, None
    return line, applied, slots


_scan = json.JSONDecoder().scan_once
_intern = sys.intern
_crc32 = zlib.crc32
_match_end = re.Match.end
_HEX, _LEN0, _MORE_LENS = itemgetter(1), itemgetter(2), itemgetter(3)
_AFTER_COMMA = itemgetter(slice(1, None))
_FIRST = itemgetter(0)
_OP_KIND, _OP_TABLE, _OP_ID, _OP_DOC, _OP_RAW_KEYS = (itemgetter(i) for i in range(5))
Puts = tuple  # (table name, [doc ids], [documents]): a run of single puts into one table


def _raw_bytes(view: memoryview):
    """Raw payloads as RawJSON copies of view[start:stop] (a line decoded on its own)."""
    def make(starts: list[int], stops: list[int]) -> list:
        return list(map(RawJSON, map(view.__getitem__, map(slice, starts, stops))))
    return make


def _raw_refs(file: FileHandle, offset: int):
    """Raw payloads as RawRef into file, data[0] being at byte offset of it (a replay)."""
    def make(starts: list[int], stops: list[int]) -> list:
        return list(map(RawRef, repeat(file), map(offset.__add__, starts),
                        map(sub, stops, starts)))
    return make


def _split_record(data: bytes, pos: int = 0, end: int | None = None,
                  view: memoryview | None = None, make=None) -> tuple[bytes, list]:
    """Check the checksum and framing of the line data[pos:end] (no newline); return
    (ops JSON bytes, raw payloads made by make(starts, stops), RawJSON copies by default)."""
    if end is None:
        end = len(data)
    if view is None:
        view = memoryview(data)
    m = _FRAME.match(data, pos, end)
    if m is None:
        raise CorruptRecord("not a record")
    if _crc32(view[pos + _CRC_START:end]) != int(m[1], 16):
        raise CorruptRecord("checksum mismatch")
    pos = m.end()
    body_end = pos + int(m[2])
    body = data[pos:body_end]
    raws: list = []
    pos = body_end
    if m[3]:
        if data[pos:pos + len(_RAW_OPEN)] != _RAW_OPEN:
            raise CorruptRecord("bad framing")
        sizes = [int(n) for n in m[3][1:].split(b",")]
        # payload i starts after payload i-1 and its "," separator (the last one ends with "]")
        starts = list(accumulate(map((1).__add__, sizes[:-1]), initial=pos + len(_RAW_OPEN)))
        stops = list(map(add, starts, sizes))
        if b"".join(map(data.__getitem__, map(slice, stops, map((1).__add__, stops)))) \
                != b"," * (len(sizes) - 1) + b"]":
            raise CorruptRecord("bad framing")
        raws = (make or _raw_bytes(view))(starts, stops)
        pos = stops[-1] + 1
    if pos != end - 1 or data[pos:end] != b"}":
        raise CorruptRecord("bad framing")
    return body, raws


def _split_lines_fast(data, view: memoryview, starts: list[int], stops: list[int], make
                      ) -> tuple[bytes, list | None] | None:
    """_split_record for the lines data[starts[i]:stops[i]] all at once, without a Python step
    per line, when every line is well-formed and they all have one raw payload (what
    add_submission writes) or all have none. Returns (the ops of all the lines as one JSON
    array, one raw payload per line or None), or None for anything else (the caller then goes
    line by line and finds out exactly what is wrong)."""
    n = len(starts)
    matches = list(map(_FRAME.match, repeat(data), starts, stops))
    if None in matches:
        return None
    crc_from = map(_CRC_START.__add__, starts)
    if list(map(_crc32, map(view.__getitem__, map(slice, crc_from, stops)))) != \
            list(map(int, map(_HEX, matches), repeat(16))):
        return None
    body_starts = list(map(_match_end, matches))
    body_stops = list(map(add, body_starts, map(int, map(_LEN0, matches))))
    more = list(map(_MORE_LENS, matches))
    if more.count(b"") == n:
        # ops, then the final "}"
        if stops != list(map((1).__add__, body_stops)) or \
                list(map(data.startswith, repeat(b"}"), body_stops)).count(True) != n:
            return None
        return _join_bodies(view, body_starts, body_stops), None
    try:
        raw_sizes = list(map(int, map(_AFTER_COMMA, more)))  # ValueError unless exactly one
    except ValueError:
        return None
    raw_starts = list(map(len(_RAW_OPEN).__add__, body_stops))
    raw_stops = list(map(add, raw_starts, raw_sizes))
    # ops, ',"raw":[', the payload, then "]}"
    if stops != list(map((2).__add__, raw_stops)) or \
            list(map(data.startswith, repeat(_RAW_OPEN), body_stops)).count(True) != n or \
            list(map(data.startswith, repeat(b"]}"), raw_stops)).count(True) != n:
        return None
    return _join_bodies(view, body_starts, body_stops), make(raw_starts, raw_stops)


def _join_bodies(view: memoryview, starts: list[int], stops: list[int]) -> bytes:
    return b"[%b]" % b",".join(map(view.__getitem__, map(slice, starts, stops)))


def _finish_ops(ops, raws: list, intern: bool) -> list[list]:
    """Validate parsed operations and put the raw payloads in place."""
    if type(ops) is not list:
        raise CorruptRecord("bad operations")
    taken = 0
    try:
        for op in ops:
            kind = op[0]
            if kind == "put":
                if type(op[2]) is not int or type(op[3]) is not dict or type(op[1]) is not str:
                    raise CorruptRecord("bad put")
                if intern:
                    # 100k documents then share one copy of each field name.
                    op[3] = {_intern(k): v for k, v in op[3].items()}
                if len(op) == 5:
                    doc = op[3]
                    for key in op.pop():
                        doc[key] = raws[taken]
                        taken += 1
                elif len(op) != 4:
                    raise CorruptRecord("bad put")
            elif kind == "del":
                if type(op[2]) is not int or type(op[1]) is not str or len(op) != 3:
                    raise CorruptRecord("bad del")
            elif kind != "drop" or type(op[1]) is not str or len(op) != 2:
                raise CorruptRecord(f"unknown operation {kind!r}")
    except (IndexError, TypeError, AttributeError):
        raise CorruptRecord("bad operation") from None
    if taken != len(raws):
        raise CorruptRecord("raw payload count mismatch")
    return ops


def _finish_puts_fast(records: list, raws: list | None) -> Puts | None:
    """_finish_ops for many records at once, when each is exactly one put into one and the same
    table, whose raw keys are one and the same single key (raws: one payload per record) or
    absent (raws None). Returns None, having changed nothing, for any other shape."""
    n = len(records)
    try:
        # (a str or dict of the right length fails one of the checks after its len())
        if list(map(len, records)).count(1) != n:
            return None
        ops = list(map(_FIRST, records))
        if list(map(len, ops)).count(4 if raws is None else 5) != n:
            return None
        name = ops[0][1]
        if type(name) is not str or list(map(_OP_TABLE, ops)).count(name) != n or \
                list(map(_OP_KIND, ops)).count("put") != n:
            return None
        ids = list(map(_OP_ID, ops))
        docs = list(map(_OP_DOC, ops))
        if set(map(type, ids)) != {int} or set(map(type, docs)) != {dict}:
            return None
        if raws is not None:
            keys = list(map(_OP_RAW_KEYS, ops))
            first = keys[0]
            if type(first) is not list or len(first) != 1 or keys.count(first) != n:
                return None
            deque(map(dict.__setitem__, docs, repeat(first[0]), raws), 0)
            deque(map(list.pop, ops), 0)
    except (TypeError, IndexError, KeyError):
        return None
    return name, ids, docs


def _parse_ops(body: bytes):
    try:
        text = body.decode("utf-8")
        ops, stop = _scan(text, 0)
    except (ValueError, StopIteration) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CorruptRecord(f"bad JSON: {exc}") from None
    if stop != len(text):
        raise CorruptRecord("bad operations")
    return ops


def _parse_many(bodies: list[bytes]) -> list | None:
    """Parse the ops of many records with one scanner call (much less per-call overhead; the
    scanner's key memo makes the documents share their key strings). None if any body is not
    exactly one JSON value."""
    return _parse_array(b"[%b]" % b",".join(bodies), len(bodies)) if bodies else []


def _parse_array(text: bytes, n: int) -> list | None:
    """The JSON array text parsed, if it is one of n values; else None."""
    try:
        batch = _parse_ops(text)
    except CorruptRecord:
        return None
    if type(batch) is not list or len(batch) != n:
        return None
    return batch


def decode_record(line: bytes) -> list[list]:
    """Parse one log line (without its newline) into operations; raise CorruptRecord."""
    body, raws = _split_record(line)
    return _finish_ops(_parse_ops(body), raws, intern=True)


def decode_lines(data, end: int, offset: int, file: FileHandle | None = None
                 ) -> tuple[list[list], list[tuple[int, CorruptRecord]], Puts | None]:
    """Decode the complete lines of data[:end] (which ends with a newline), data[0] being at
    byte offset of the file. Raw payloads become RawRef into file (RawJSON copies without).

    Returns (the operations of each good record, in order; [(offset, CorruptRecord)] for the
    others; (table, ids, documents) when every record is one put into that table, else None).
    The common case — every line one put with its raw payload, or every line without raw
    payloads — is checked and decoded a whole block at a time; any other line, corrupt ones
    included, goes through decode_record's steps one by one.
    """
    stops = []
    find, pos = data.find, 0
    while (pos := find(b"\n", pos, end)) >= 0:
        stops.append(pos)
        pos += 1
    starts = [0]
    starts += map((1).__add__, islice(stops, len(stops) - 1))
    with memoryview(data) as view:
        make = _raw_refs(file, offset) if file is not None else _raw_bytes(view)
        fast = _split_lines_fast(data, view, starts, stops, make) if len(stops) > 1 else None
        if fast is not None:
            text, raws = fast
            batch = _parse_array(text, len(stops))
            puts = _finish_puts_fast(batch, raws) if batch is not None else None
            if puts is not None:
                if len(batch) < _INTERN_BELOW:
                    _intern_keys(batch)
                    puts = None  # the documents were replaced
                return batch, [], puts
        records, corrupt = [], []
        frames = []
        for start, stop in zip(starts, stops):
            try:
                frames.append((offset + start, _split_record(data, start, stop, view, make)))
            except CorruptRecord as exc:
                corrupt.append((offset + start, exc))
    batch = _parse_many([frame[1][0] for frame in frames])
    # A big batch shares field names through the scanner's memo; a few operations at a time (a
    # catch-up with another process's writes) would each hold their own copies. Counted in
    # operations, not lines: one line of an import holds thousands of documents.
    intern = batch is None or sum(
        len(ops) if type(ops) is list else 1 for ops in batch) < _INTERN_BELOW
    for i, (start, (body, raws)) in enumerate(frames):
        try:
            ops = batch[i] if batch is not None else _parse_ops(body)
            records.append(_finish_ops(ops, raws, intern=intern))
        except CorruptRecord as exc:
            corrupt.append((start, exc))
    corrupt.sort(key=_FIRST)  # in file order
    return records, corrupt, None


def _intern_keys(records: list[list]) -> None:
    for ops in records:
        for op in ops:
            if op[0] == "put":
                op[3] = {_intern(k): v for k, v in op[3].items()}


def _share_values(docs: list[dict]) -> None:
    """Replace the values of _SHARED_VALUES in docs (fresh, not yet in memory) by one shared
    copy each; one pass in C per field when every document has it as a string."""
    if len(docs) < 8:  # one's own write, a catch-up: the plain way is quicker
        for doc in docs:
            for key in _SHARED_VALUES:
                value = doc.get(key)
                if type(value) is str:
                    doc[key] = _intern(value)
        return
    for key in _SHARED_VALUES:
        values = list(map(dict.get, docs, repeat(key)))
        if set(map(type, values)) == {str}:
            deque(map(dict.__setitem__, docs, repeat(key), map(_intern, values)), 0)
        elif str in set(map(type, values)):
            for doc, value in zip(docs, values):
                if type(value) is str:
                    doc[key] = _intern(value)


def fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_lock(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[n:]


def _json_copy(value):
    """Deep copy of decoded JSON (RawJSON and scalars are immutable and shared)."""
    t = type(value)
    if t is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if t is list:
        return [_json_copy(v) for v in value]
    return value


# Every open LogStorage, so that a forked child (gunicorn --preload) re-opens its own lock.
_LIVE: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for storage in list(_LIVE):
        storage._reinit_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class LogStorage(Storage):
    """TinyDB Storage over the log; the state of every table lives in memory.

    ``tables`` is ``{name: {int doc_id: doc}}``, rebuilt by replaying the log at open and kept
    current by catching up before every read (and, under the lock, before every write): new
    complete lines are applied, an inode change (restore, compaction by another process) reloads
    from scratch. Documents in memory are never mutated; a change replaces the whole document.

    Writes go through ``transaction()``: thread lock + ``flock`` on ``<path>.lock``, catch up,
    append one line, fsync, then apply to memory what a replay of that line would give.
    """

    def __init__(self, path, readonly: bool = False, listeners: Iterable = ()):
        self.path = os.path.abspath(os.fspath(path))
        self.lock_path = self.path + ".lock"
        self.readonly = readonly
        self._mutex = threading.RLock()
        self._listeners: list = list(listeners)
        self._txn: Transaction | None = None
        self._fd: int | None = None
        self._file: FileHandle | None = None  # the current file version, for RawRefs
        self._lock_fd: int | None = None
        self.tables: dict[str, dict[int, dict]] = {}
        self._max_id: dict[str, int | None] = {}
        self.generation = 0  # bumped by every applied record and every reload
        self.reloads = 0
        self.table_generation: dict[str, int] = {}  # per table: TinyDB query caches key on it
        self.corrupt: list[dict] = []  # {"offset", "reason"} of undecodable complete lines
        self.records = 0
        self._ident = None
        self._end = 0  # offset just after the last complete line applied
        self._seen = 0  # file size at the last catch-up (torn bytes included)
        self._closed = False
        try:
            if readonly:
                self._reload()
            else:
                directory = os.path.dirname(self.path)
                os.makedirs(directory, exist_ok=True)
                self._lock_fd = _open_lock(self.lock_path)
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o644)
                except FileExistsError:
                    pass
                else:
                    os.close(fd)
                    fsync_dir(directory)  # the new name itself must survive a crash
                # No lock needed to load: complete lines are a consistent prefix of history.
                self._reload()
        except OSError as exc:
            self.close()
            raise os_failure(f"无法打开数据库文件 {self.path}", exc) from exc
        except BaseException:
            self.close()
            raise
        _LIVE.add(self)

    # ---- TinyDB Storage interface -------------------------------------------------------------

    def read(self):
        with self._mutex:
            self.catch_up()
            return self.tables

    def write(self, data) -> None:
        raise NotImplementedError("LogStorage is written through transactions (LogTable)")

    def close(self) -> None:
        self._closed = True
        _LIVE.discard(self)
        # Let go of the state (the descriptor RawRefs read through closes with the last of
        # them: a caller still iterating over documents it was handed keeps reading).
        self._file = None
        if self.tables:
            self.tables = {}
            for listener in self._listeners:
                listener.reset(self.tables)
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)
                except OSError:
                    pass

    # ---- listeners (secondary indexes of the layer above) -------------------------------------

    def add_listener(self, listener) -> None:
        """Keep listener current with the tables: ``listener.reset(tables)`` now and at the
        start of every reload (tables then empty), then ``listener.changed(table, doc_id, old,
        new)`` for every applied operation (``new`` None = deleted), or ``listener.added(table,
        ids, docs)`` for a run of new documents (ids increasing, above any id of the table).
        Listeners can also be given to the constructor: they then follow the first load."""
        with self._mutex:
            self.catch_up()
            self._listeners.append(listener)
            listener.reset(self.tables)

    # ---- reading ------------------------------------------------------------------------------

    @contextmanager
    def reading(self):
        """Hold the in-process lock with the state caught up with the file."""
        with self._mutex:
            self.catch_up()
            yield self

    def catch_up(self) -> None:
        """Apply what other processes appended since the last look (caller holds the mutex)."""
        if self._closed:
            raise StorageError("数据库已关闭")
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise os_failure(MSG_READ_FAILED, exc) from exc
        try:
            if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._end:
                self._reload()
            elif st.st_size != self._seen:
                self._replay(st.st_size)
        except OSError as exc:
            raise os_failure(MSG_READ_FAILED, exc) from exc

    def max_id(self, table: str) -> int:
        value = self._max_id.get(table, 0)
        if value is None:
            value = self._max_id[table] = max(self.tables.get(table, ()), default=0)
        return value

    def _reload(self) -> None:
        flags = os.O_RDONLY if self.readonly else os.O_RDWR | os.O_APPEND
        fd = os.open(self.path, flags | os.O_CLOEXEC)
        st = os.fstat(fd)
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        # RawRefs of this version of the file read through their own descriptor (a dup: the
        # same open file, closed when the last of them and this storage let go of it).
        self._file = FileHandle(os.dup(fd))
        self._ident = (st.st_dev, st.st_ino)
        self.tables, self._max_id = {}, {}
        self.corrupt, self.records = [], 0
        self._end = self._seen = 0
        self.reloads += 1
        # Replaying creates ~100k containers; the cyclic GC would rescan them again and again
        # while loading, then in every full collection afterwards (a ~100 ms pause in the middle
        # of some request). A big loaded state is acyclic and long-lived: freeze it out of the
        # GC (after collecting what garbage there is, so that none is frozen with it).
        big = st.st_size >= _FREEZE_ABOVE and gc.isenabled()
        if big:
            gc.collect()
            gc.disable()
        try:
            # The listeners start from nothing and follow the replay like any other change.
            for listener in self._listeners:
                listener.reset(self.tables)
            self._replay(st.st_size)
        finally:
            if big:
                gc.enable()
                gc.freeze()
        self.generation += 1

    def _replay(self, size: int) -> None:
        """Apply the complete lines from the end of the last one applied to byte size."""
        start = self._end  # the file offset of buf[0]
        # One buffer for the whole replay, reused: fresh memory for every chunk read would
        # cost a page fault per 4 KB (~0.1 s per 100 MB on this VM).
        buf = bytearray(max(1, min(_READ_CHUNK, size - start)))
        filled = 0  # bytes of buf holding data (the end of it is the start of a line)
        while start + filled < size:
            if filled == len(buf):  # a line longer than the buffer
                bigger = bytearray(2 * len(buf))
                bigger[:filled] = buf
                buf = bigger
            with memoryview(buf) as view:
                n = os.preadv(self._fd, [view[filled:filled + size - start - filled]],
                              start + filled)
            if n <= 0:
                break
            filled += n
            cut = buf.rfind(b"\n", 0, filled) + 1
            if not cut:
                continue
            records, corrupt, puts = decode_lines(buf, cut, start, self._file)
            for offset, exc in corrupt:
                self.corrupt.append({"offset": offset, "reason": str(exc)})
                log.error("%s: corrupt record at byte %d skipped (%s)", self.path, offset, exc)
            self._apply_all(records, puts)
            filled -= cut
            buf[:filled] = buf[cut:cut + filled]  # the partial line, to the front
            start += cut
            self._end = start
        self._seen = size

    def _apply_all(self, records: list[list], puts: Puts | None = None) -> None:
        if records and not self._append_new(records, puts):
            for ops in records:
                self._apply(ops)

    def _append_new(self, records: list[list], puts: Puts | None = None) -> bool:
        """Apply records in one step if they only put new documents into one table, in
        increasing id order above its highest id — what a replay finds almost everywhere.
        (puts: (table, ids, documents) of the records, when already known to be that.)
        The listeners get one ``added(table, ids, docs)`` call. False, with nothing done,
        for anything else (``_apply`` each record then)."""
        if puts is None:
            ops = records[0] if len(records) == 1 else list(chain.from_iterable(records))
            if not ops:
                return False
            if len(ops) == 1:  # one put (a write, a catch-up): no list machinery
                op = ops[0]
                if op[0] != "put":
                    return False
                puts = op[1], [op[2]], [op[3]]
        if puts is None:
            name = ops[0][1]
            if list(map(_OP_TABLE, ops)).count(name) != len(ops) or \
                    list(map(_OP_KIND, ops)).count("put") != len(ops):
                return False
            puts = name, list(map(_OP_ID, ops)), list(map(_OP_DOC, ops))
        name, ids, docs = puts
        if ids[0] <= self.max_id(name) or not all(map(lt, ids, islice(ids, 1, None))):
            return False
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = {}
        _share_values(docs)
        table.update(zip(ids, docs))
        self._max_id[name] = ids[-1]
        self.records += len(records)
        self.generation += len(records)
        self.table_generation[name] = self.table_generation.get(name, 0) + len(ids)
        for listener in self._listeners:
            listener.added(name, ids, docs)
        return True

    def _apply(self, ops) -> None:
        self.records += 1
        self.generation += 1
        tables, listeners = self.tables, self._listeners
        changed = self.table_generation
        for op in ops:
            kind, name = op[0], op[1]
            changed[name] = changed.get(name, 0) + 1
            if kind == "put":
                doc_id, doc = op[2], op[3]
                _share_values((doc,))
                table = tables.get(name)
                if table is None:
                    table = tables[name] = {}
                old = table.get(doc_id)
                table[doc_id] = doc
                top = self._max_id.get(name, 0)
                if top is not None and doc_id > top:
                    self._max_id[name] = doc_id
                for listener in listeners:
                    listener.changed(name, doc_id, old, doc)
            elif kind == "del":
                doc_id = op[2]
                old = tables.get(name, {}).pop(op[2], None)
                if old is not None:
                    if doc_id == self._max_id.get(name):
                        self._max_id[name] = None
                    for listener in listeners:
                        listener.changed(name, doc_id, old, None)
            else:  # drop
                table = tables.pop(name, {})
                self._max_id.pop(name, None)
                for listener in listeners:
                    for doc_id, old in table.items():
                        listener.changed(name, doc_id, old, None)

    # ---- writing ------------------------------------------------------------------------------

    @contextmanager
    def _file_lock(self):
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def transaction(self):
        """Exclusive access with the state caught up; the operations collected in the yielded
        ``Transaction`` are written as one record (durable) when the block exits normally.

        Nested calls in the same thread join the outer transaction. Reads inside a transaction
        see the state before it (``Transaction.items``/``get`` see it with the pending changes).
        """
        if self.readonly:
            raise StorageError("数据库以只读方式打开")
        with self._mutex:
            if self._txn is not None:
                yield self._txn
                return
            try:
                lock = self._file_lock()
                lock.__enter__()
            except OSError as exc:
                raise os_failure(MSG_WRITE_FAILED, exc) from exc
            try:
                self.catch_up()
                txn = self._txn = Transaction(self)
                try:
                    yield txn
                    if txn.ops:
                        self._commit(txn.ops)
                finally:
                    self._txn = None
            finally:
                lock.__exit__(None, None, None)

    def _commit(self, ops) -> None:
        line, applied, slots = _encode(ops, keep=True)
        start = self._end
        try:
            if os.fstat(self._fd).st_size != start:
                # A writer died in the middle of a line: cut its torn bytes before appending.
                os.ftruncate(self._fd, start)
        except OSError as exc:
            raise os_failure(MSG_WRITE_FAILED, exc) from exc
        try:
            _write_all(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                log.exception("%s: could not roll back a failed write", self.path)
            log.error("%s: write failed: %s", self.path, exc)
            raise os_failure(MSG_WRITE_FAILED, exc) from exc
        if applied is None:
            # Values JSON changes (tuples, int keys...): decode the bytes written, as a replay.
            applied = decode_lines(line, len(line), start, self._file)[0][0]
        else:
            # The operations as a replay of this line decodes them (_encode builds them from
            # the very values it encoded; test_write_applies_what_a_replay_reads), answers
            # pointing into the file where they were just written.
            for doc, key, pos, size in slots:
                doc[key] = RawRef(self._file, start + pos, size)
        self._apply_all([applied])
        self._end = self._seen = start + len(line)

    # ---- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[int, dict]]:
        """A consistent copy of every table (the documents themselves are shared: immutable)."""
        with self.reading():
            return {name: dict(table) for name, table in self.tables.items()}

    def compact(self, force: bool = False) -> dict:
        """Rewrite the log as one put per live document (crash-safe: temp, fsync, rename)."""
        with self.transaction():
            if self.corrupt and not force:
                raise StorageError("数据库含有损坏的记录,请先备份并检查(check-db)")
            before = self._seen
            tables = {name: dict(table) for name, table in self.tables.items()}
            write_snapshot(tables, self.path)
            del tables
            # Replay the new file: the answers in memory then point into it, and the old
            # file's space is freed once no reference handed out earlier still reads it.
            self._reload()
            return {"path": self.path, "bytes_before": before, "bytes_after": self._seen}

    def replace(self, records: Iterable[tuple[str, int, dict]], refuse=None) -> int:
        """Replace the whole database with records ((table, doc_id, document) triples, see
        write_records) under the write lock, atomically; the new file's size. ``refuse(tables)``
        is called first with the current state and may raise to leave everything as it was.
        Other processes reload when they next look (the file is a new inode)."""
        with self.transaction():
            if refuse is not None:
                refuse(self.tables)
            size = write_records(records, self.path)
            self._reload()
            return size

    # ---- fork ---------------------------------------------------------------------------------

    def _reinit_after_fork(self) -> None:
        # The child shares the parent's open file descriptions, and flock() locks belong to
        # those: without fresh ones, parent and child would not exclude each other.
        self._mutex = threading.RLock()
        self._txn = None
        if self._closed:
            return
        try:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = _open_lock(self.lock_path)
            if self._fd is not None:
                flags = os.O_RDONLY if self.readonly else os.O_RDWR | os.O_APPEND
                fd = os.open(self.path, flags | os.O_CLOEXEC)
                os.close(self._fd)
                self._fd = fd
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != self._ident:
                    self._ident = None  # replaced meanwhile: reload on the next access
        except OSError:
            log.exception("%s: re-opening after fork failed", self.path)


class Transaction:
    """Operations collected under the write lock, committed as one record."""

    def __init__(self, storage: LogStorage):
        self.storage = storage
        self.ops: list[tuple] = []
        self._pending: dict[str, dict[int, dict | None]] = {}
        self._dropped: set[str] = set()

    def items(self, table: str) -> Mapping[int, dict]:
        """The table as it will be after the pending operations."""
        base = {} if table in self._dropped else self.storage.tables.get(table, {})
        pending = self._pending.get(table)
        if not pending:
            return base
        merged = dict(base)
        for doc_id, doc in pending.items():
            if doc is None:
                merged.pop(doc_id, None)
            else:
                merged[doc_id] = doc
        return merged

    def get(self, table: str, doc_id: int):
        pending = self._pending.get(table, {})
        if doc_id in pending:
            return pending[doc_id]
        if table in self._dropped:
            return None
        return self.storage.tables.get(table, {}).get(doc_id)

    def next_id(self, table: str) -> int:
        """max id of the caught-up state (and of this transaction) + 1: never cached."""
        base = 0 if table in self._dropped else self.storage.max_id(table)
        return max(base, max(self._pending.get(table, ()), default=0)) + 1

    def put(self, table: str, doc_id: int, doc: Mapping) -> None:
        if type(doc_id) is not int or doc_id < 1:
            raise ValueError(f"bad document id {doc_id!r}")
        doc = dict(doc)
        self.ops.append(("put", table, doc_id, doc))
        self._pending.setdefault(table, {})[doc_id] = doc

    def delete(self, table: str, doc_id: int) -> None:
        self.ops.append(("del", table, doc_id))
        self._pending.setdefault(table, {})[doc_id] = None

    def drop(self, table: str) -> None:
        self.ops.append(("drop", table))
        self._pending[table] = {}
        self._dropped.add(table)


class LogTable(Table):
    """A TinyDB table whose writes are computed explicitly under the lock and logged.

    Never goes through ``Table._update_table``/``Storage.write`` (which rewrite everything):
    a write costs one appended line whatever the size of the table.
    """

    def __init__(self, storage: LogStorage, name: str, cache_size: int = 10,
                 persist_empty: bool = False):
        super().__init__(storage, name, cache_size=cache_size)
        self._generation = None

    # ---- reads: caught up, under the in-process lock, query cache dropped on any change ----

    @contextmanager
    def _reading(self):
        with self._storage.reading() as storage:
            # Any record touching this table (from any process) or any reload drops the cache.
            generation = (storage.reloads, storage.table_generation.get(self.name, 0))
            if self._generation != generation:
                self.clear_cache()
                self._generation = generation
            yield

    def _read_table(self):
        return self._storage.tables.get(self.name, {})

    def _update_table(self, updater):
        raise NotImplementedError("LogTable writes through transactions")

    def _get_next_id(self):
        raise NotImplementedError("ids come from Transaction.next_id")

    def search(self, cond) -> list[Document]:
        with self._reading():
            return super().search(cond)

    def get(self, cond=None, doc_id=None, doc_ids=None):
        with self._reading():
            table = self._read_table()
            if doc_id is not None:
                doc = table.get(doc_id)
                return None if doc is None else self.document_class(doc, doc_id)
            if doc_ids is not None:
                return [self.document_class(table[i], i) for i in doc_ids if i in table]
            if cond is not None:
                for i, doc in table.items():
                    if cond(doc):
                        return self.document_class(doc, i)
                return None
        raise RuntimeError("You have to pass either cond or doc_id or doc_ids")

    def contains(self, cond=None, doc_id=None) -> bool:
        with self._reading():
            return super().contains(cond, doc_id)

    def count(self, cond) -> int:
        with self._reading():
            return super().count(cond)

    def __len__(self) -> int:
        with self._reading():
            return len(self._read_table())

    def __iter__(self) -> Iterator[Document]:
        with self._reading():
            items = list(self._read_table().items())
        for doc_id, doc in items:
            yield self.document_class(doc, doc_id)

    # ---- writes -------------------------------------------------------------------------------

    def insert(self, document: Mapping) -> int:
        if not isinstance(document, Mapping):
            raise ValueError("Document is not a Mapping")
        with self._storage.transaction() as txn:
            if isinstance(document, self.document_class):
                doc_id = document.doc_id
                if txn.get(self.name, doc_id) is not None:
                    raise ValueError(f"Document with ID {doc_id} already exists")
            else:
                doc_id = txn.next_id(self.name)
            txn.put(self.name, doc_id, document)
            return doc_id

    def insert_multiple(self, documents: Iterable[Mapping]) -> list[int]:
        with self._storage.transaction():
            return [self.insert(document) for document in documents]

    def _targets(self, txn: Transaction, cond, doc_ids) -> list[int]:
        table = txn.items(self.name)
        if doc_ids is not None:
            return [i for i in doc_ids if i in table]
        if cond is not None:
            return [i for i, doc in table.items() if cond(doc)]
        return list(table)

    def update(self, fields, cond=None, doc_ids=None) -> list[int]:
        with self._storage.transaction() as txn:
            ids = self._targets(txn, cond, doc_ids)
            for doc_id in ids:
                doc = _json_copy(txn.get(self.name, doc_id))
                if callable(fields):
                    fields(doc)
                else:
                    doc.update(fields)
                txn.put(self.name, doc_id, doc)
            return ids

    def update_multiple(self, updates) -> list[int]:
        updates = list(updates)
        with self._storage.transaction() as txn:
            updated = []
            for doc_id in list(txn.items(self.name)):
                doc, changed = None, False
                for fields, cond in updates:
                    current = doc if doc is not None else txn.get(self.name, doc_id)
                    if cond(current):
                        if doc is None:
                            doc = _json_copy(current)
                        fields(doc) if callable(fields) else doc.update(fields)
                        updated.append(doc_id)
                        changed = True
                if changed:
                    txn.put(self.name, doc_id, doc)
            return updated

    def upsert(self, document: Mapping, cond=None) -> list[int]:
        with self._storage.transaction():
            return super().upsert(document, cond)

    def remove(self, cond=None, doc_ids=None) -> list[int]:
        if cond is None and doc_ids is None:
            raise RuntimeError("Use truncate() to remove all documents")
        with self._storage.transaction() as txn:
            ids = self._targets(txn, cond, doc_ids)
            for doc_id in ids:
                txn.delete(self.name, doc_id)
            return ids

    def truncate(self) -> None:
        with self._storage.transaction() as txn:
            txn.drop(self.name)


class LogDB(TinyDB):
    """TinyDB on the log engine: ``LogDB(path)``."""

    table_class = LogTable
    default_storage_class = LogStorage

    def __init__(self, path, readonly: bool = False, listeners: Iterable = ()):
        super().__init__(path, storage=LogStorage, readonly=readonly, listeners=listeners)

    def transaction(self):
        return self.storage.transaction()

    def reading(self):
        return self.storage.reading()

    def tables(self) -> set[str]:
        with self.storage.reading() as storage:
            return set(storage.tables)

    def drop_table(self, name: str) -> None:
        with self.storage.transaction() as txn:
            txn.drop(name)

    def drop_tables(self) -> None:
        with self.storage.transaction() as txn:
            for name in list(self.storage.tables):
                txn.drop(name)


# ---- snapshots and maintenance -----------------------------------------------------------------

def write_snapshot(tables: Mapping[str, Mapping[int, dict]], dest: str) -> int:
    """Write tables as a compacted log (one put per document) to dest, atomically and durably:
    temp file in the same directory, fsync, rename over dest, fsync of the directory."""
    return write_records(((name, doc_id, tables[name][doc_id])
                          for name in sorted(tables) for doc_id in sorted(tables[name])), dest)


def write_records(records: Iterable[tuple[str, int, dict]], dest: str) -> int:
    """Write (table, doc_id, document) triples as a log file of one put each to dest,
    atomically and durably (see write_snapshot); the file's size. The records are consumed
    one at a time: memory stays flat whatever their number."""
    dest = os.path.abspath(dest)
    directory = os.path.dirname(dest)
    tmp = os.path.join(directory,
                       f".{os.path.basename(dest)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        buffer, size = [], 0
        for name, doc_id, doc in records:
            line = encode_record([("put", name, doc_id, doc)])
            buffer.append(line)
            size += len(line)
            if size >= _SNAPSHOT_BUFFER:
                _write_all(fd, b"".join(buffer))
                buffer, size = [], 0
        _write_all(fd, b"".join(buffer))
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, dest)
        tmp = None
        fsync_dir(directory)
        return os.stat(dest).st_size
    except OSError as exc:
        raise os_failure(f"写入快照失败:{dest}", exc) from exc
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _counts(tables) -> dict[str, int]:
    return {name: len(table) for name, table in sorted(tables.items())}


def backup(db_path, dest) -> dict:
    """Write a consistent, compacted snapshot of the live database at db_path to dest.

    Writers keep going: the lock is held only to catch up and copy the in-memory state. If dest
    is a directory, the file is ``taizhang-YYYYmmdd-HHMMSS.db`` inside it.
    """
    db_path = os.path.abspath(os.fspath(db_path))
    dest = os.path.abspath(os.fspath(dest))
    if not os.path.exists(db_path):
        raise StorageError(f"数据库文件不存在:{db_path}")
    storage = LogStorage(db_path, readonly=True)
    try:
        return backup_storage(storage, dest)
    finally:
        storage.close()


def backup_storage(storage: LogStorage, dest) -> dict:
    dest = os.path.abspath(os.fspath(dest))
    if os.path.isdir(dest):
        dest = os.path.join(dest, datetime.now().strftime("taizhang-%Y%m%d-%H%M%S.db"))
    if os.path.exists(dest) and os.path.samefile(dest, storage.path):
        raise StorageError("备份文件不能是数据库文件本身")
    # No write lock: every acknowledged record was fsync'd before its writer returned, so
    # catching up sees it, and complete lines are always a consistent prefix of history.
    with storage.reading():
        tables = {name: dict(table) for name, table in storage.tables.items()}
        corrupt = len(storage.corrupt)
    size = write_snapshot(tables, dest)
    return {"path": dest, "bytes": size, "tables": _counts(tables), "skipped_corrupt": corrupt}


def restore(src, db_path, force: bool = False) -> dict:
    """Install the backup src as the database at db_path, atomically, under the write lock.

    src must open without corrupt records; an existing database holding documents is only
    replaced with ``force``. Live processes notice the new file (inode change) and reload.
    """
    src = os.path.abspath(os.fspath(src))
    db_path = os.path.abspath(os.fspath(db_path))
    if not os.path.isfile(src):
        raise StorageError(f"备份文件不存在:{src}")
    source = LogStorage(src, readonly=True)
    try:
        if source.corrupt:
            raise StorageError(f"备份文件含有 {len(source.corrupt)} 条损坏的记录,拒绝恢复")
        tables = source.snapshot()
    finally:
        source.close()
    if os.path.exists(db_path) and os.path.samefile(src, db_path):
        raise StorageError("备份文件就是数据库文件本身")
    target = LogStorage(db_path)
    try:
        with target.transaction():
            if not force and any(target.tables.values()):
                raise RestoreRefused(f"数据库 {db_path} 中已有数据;确认覆盖请加 --force")
            size = write_snapshot(tables, db_path)
    finally:
        target.close()
    return {"path": db_path, "bytes": size, "tables": _counts(tables)}


def check(path) -> dict:
    """Open the database file read-only and report on it (no lock taken, nothing changed).

    ``ok`` is False when complete lines are corrupt (bad checksum/framing/JSON, including raw
    payloads); a torn last line is reported but is not an error (it is ignored on open).
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise StorageError(f"数据库文件不存在:{path}")
    storage = LogStorage(path, readonly=True)
    try:
        bad_raw = 0
        for table in storage.tables.values():
            for doc in table.values():
                for value in doc.values():
                    if isinstance(value, _RAW_TYPES):
                        try:
                            value.load()
                        except ValueError:
                            bad_raw += 1
        size = storage._seen
        return {
            "path": path,
            "ok": not storage.corrupt and not bad_raw,
            "bytes": size,
            "records": storage.records,
            "tables": _counts(storage.tables),
            "corrupt": list(storage.corrupt),
            "bad_raw_values": bad_raw,
            "torn_tail_bytes": size - storage._end,
        }
    finally:
        storage.close()


def compact(db_path, force: bool = False) -> dict:
    """Compact the database at db_path in place (see LogStorage.compact)."""
    storage = LogStorage(db_path)
    try:
        return storage.compact(force=force)
    finally:
        storage.close()
