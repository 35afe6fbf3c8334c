"""The storage engine: an append-only, fsync'd log of JSON lines, read by TinyDB.

This module owns the database file: its format, replaying it into memory, catching up with
what other processes appended, writing (one durable line per transaction), locking between
threads and processes, compaction, replacing the whole file, and the integrity check.
``LogStorage`` is a ``tinydb.storages.Storage``: TinyDB reads the caught-up tables through
``read()``; every write goes through ``LogStorage.transaction()``. docs/STORAGE.md has the why.

File format: one record per line, each line a JSON object::

    {"crc":"1a2b3c4d","len":[N0,N1,...],"ops":[OP,...],"raw":[P1,...]}\\n

- ``ops`` is the list of operations of the record, applied in order and all-or-nothing:
  ``["put", table, doc_id, doc]`` (insert or replace a whole document),
  ``["put", table, doc_id, doc, [key, ...]]`` (same, the values of those keys are raw payloads),
  ``["del", table, doc_id]`` and ``["drop", table]``.
- ``raw`` (only present when used) holds large JSON values verbatim, in the order the ``put``
  operations name them; ``doc[key]`` is ``null`` inside ``ops``. They stay in the file: in
  memory each is a ``RawRef`` (file, offset, length), read and parsed when someone asks
  (submission answers: memory holds ~0.1 KB per submission instead of its answers).
- ``len`` gives the byte length of ``ops`` then of each raw payload. ``crc`` is the CRC-32
  (8 hex digits) of every byte after ``"crc":"…",`` up to and including the final ``}``.
- A line without its trailing newline is a torn write (a writer died in the middle, or is still
  writing): it is ignored, and cut off by the next writer before it appends.
"""
from __future__ import annotations

import errno
import fcntl
import gc
import json
import logging
import os
import secrets
import sys
import threading
import weakref
import zlib
from collections.abc import Iterable
from contextlib import contextmanager

from tinydb.storages import Storage

from .errors import StorageError, os_failure

log = logging.getLogger(__name__)

# Messages shown to users (a Flask view turns StorageError into a 503 page).
MSG_WRITE_FAILED = "数据保存失败,请稍后重试"
MSG_READ_FAILED = "数据读取失败,请稍后重试"

READ_CHUNK = 1 << 20  # bytes read at a time when replaying
# {"crc":"<crc>","len":[<length of ops>,<lengths of the raw payloads>...],"ops":
_HEAD = b'{"crc":"'
_CRC_START = len(b'{"crc":"12345678",')  # the checksum covers the line from here
_LEN = b'"len":['
_LEN_AT = _CRC_START + len(_LEN)
_OPS = b'],"ops":'
_RAW_OPEN = b',"raw":['


class CorruptRecord(ValueError):
    """A complete line of the log that cannot be decoded (bad checksum, framing or JSON)."""


class RawJSON(bytes):
    """A JSON value kept as its compact UTF-8 text: put one as a top-level value of a document
    and it is written verbatim to the log, and never parsed until someone calls ``load()``."""

    __slots__ = ()

    @classmethod
    def dump(cls, value) -> RawJSON:
        return cls(_dumps(value))

    def load(self):
        return json.loads(self)


class FileHandle:
    """A read-only descriptor of one version (inode) of the database file, shared by every
    ``RawRef`` into it. It is closed when the last of them lets go of it (``__del__``), not
    when the storage reloads, compacts or closes: a reference taken before the file was
    replaced keeps reading the bytes it was taken from (an export running during a restore)."""

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
        if self.fd is not None:
            try:
                _close(self.fd)
            except OSError:
                pass
            self.fd = None


class RawRef:
    """A raw JSON value (see ``RawJSON``) left in the log file: what a replay keeps in memory
    for it. ``bytes(ref)`` reads it (one ``os.pread``), ``load()`` decodes it."""

    __slots__ = ("file", "offset", "length")

    def __init__(self, file: FileHandle, offset: int, length: int):
        self.file = file
        self.offset = offset
        self.length = length

    def __bytes__(self) -> bytes:
        return self.file.pread(self.length, self.offset)

    def load(self):
        return json.loads(bytes(self))

    def __repr__(self):
        return f"RawRef(offset={self.offset}, length={self.length})"


# ---- encoding and decoding one line --------------------------------------------------------------

def _dumps(value) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8 encoded: let JSON escape it instead.
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"),
                          allow_nan=False).encode("ascii")


def encode_record(ops: Iterable[tuple]) -> bytes:
    """Serialize operations into one log line (with its trailing newline). TypeError or
    ValueError for a value JSON cannot hold, before anything is written."""
    out, raws = [], []
    for op in ops:
        if op[0] == "put":
            _, table, doc_id, doc = op
            raw_keys = [k for k, v in doc.items() if isinstance(v, (RawJSON, RawRef))]
            if raw_keys:
                for key in raw_keys:
                    payload = bytes(doc[key])
                    if not payload or b"\n" in payload:
                        raise ValueError(f"raw value {key!r} is not compact JSON")
                    raws.append(payload)
                doc = {k: (None if k in raw_keys else v) for k, v in doc.items()}
                out.append(["put", table, doc_id, doc, raw_keys])
            else:
                out.append(["put", table, doc_id, doc])
        else:
            out.append(list(op))
    body = _dumps(out)
    lengths = ",".join(str(len(part)) for part in [body, *raws]).encode()
    tail = b'"len":[' + lengths + b'],"ops":' + body
    if raws:
        tail += _RAW_OPEN + b",".join(raws) + b"]"
    tail += b"}"
    return b'{"crc":"%08x",' % zlib.crc32(tail) + tail + b"\n"


def decode_record(line: bytes, file: FileHandle | None = None, offset: int = 0) -> list[list]:
    """The operations of one log line (without its newline), or CorruptRecord. Raw payloads
    become RawRef into ``file``, the line being at byte ``offset`` of it (RawJSON copies of
    the bytes without a file)."""
    body, raws = split_record(line, file, offset)
    return _checked(_parse(body), raws)


def split_record(line: bytes, file: FileHandle | None = None, offset: int = 0):
    """(the JSON of the operations, the raw payloads) of one log line, its checksum and
    framing checked (CorruptRecord otherwise); raw payloads as in decode_record."""
    ops_at = line.find(_OPS, _LEN_AT)
    if ops_at < 0 or not line.startswith(_HEAD) or not line.startswith(_LEN, _CRC_START):
        raise CorruptRecord("not a record")
    try:
        checksum = int(line[len(_HEAD):len(_HEAD) + 8], 16)
    except ValueError:
        raise CorruptRecord("not a record") from None
    if zlib.crc32(memoryview(line)[_CRC_START:]) != checksum:
        raise CorruptRecord("checksum mismatch")
    # Everything below is covered by the checksum: only a writer's bug could get it wrong.
    try:
        ops_length, *raw_lengths = map(int, line[_LEN_AT:ops_at].split(b","))
    except ValueError:
        raise CorruptRecord("bad framing") from None
    start = ops_at + len(_OPS)
    pos = start + ops_length
    body = line[start:pos]
    raws = []
    if raw_lengths:  # ,"raw":[P1,P2,...]
        if not line.startswith(_RAW_OPEN, pos):
            raise CorruptRecord("bad framing")
        pos += len(_RAW_OPEN)
        for length in raw_lengths:
            if file is None:
                raws.append(RawJSON(line[pos:pos + length]))
            else:
                raws.append(RawRef(file, offset + pos, length))
            pos += length + 1  # the payload and its "," (the last one's "]")
        if line[pos - 1:pos] != b"]":
            raise CorruptRecord("bad framing")
    if pos != len(line) - 1 or line[pos:] != b"}":
        raise CorruptRecord("bad framing")
    return body, raws


def _parse(body: bytes):
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CorruptRecord(f"bad JSON: {exc}") from None


def _parse_together(bodies: list[bytes]) -> list | None:
    """The JSON values of many records' operations, parsed in one call (json.loads costs
    about as much per call as for the few hundred bytes of a submission), or None if they are
    not one value each (a damaged record among them: the caller then parses one by one)."""
    try:
        values = json.loads(b"[" + b",".join(bodies) + b"]")
    except ValueError:
        return None
    return values if len(values) == len(bodies) else None


def _checked(ops, raws: list) -> list[list]:
    """The decoded operations, checked, with the raw payloads in place of their nulls."""
    if type(ops) is not list:
        raise CorruptRecord("bad operations")
    taken = 0
    for op in ops:
        if type(op) is not list or len(op) < 2 or type(op[1]) is not str:
            raise CorruptRecord("bad operation")
        kind = op[0]
        if kind == "put" and len(op) in (4, 5) and type(op[2]) is int \
                and type(op[3]) is dict:
            raw_keys = op.pop() if len(op) == 5 else []
            if type(raw_keys) is not list:
                raise CorruptRecord("bad put")
            doc = op[3]
            for key in raw_keys:
                if type(key) is not str or taken == len(raws):
                    raise CorruptRecord("raw payload count mismatch")
                doc[key] = raws[taken]
                taken += 1
        elif kind == "del" and len(op) == 3 and type(op[2]) is int:
            pass
        elif kind == "drop" and len(op) == 2:
            pass
        else:
            raise CorruptRecord(f"bad operation {kind!r}")
    if taken != len(raws):
        raise CorruptRecord("raw payload count mismatch")
    return ops


# ---- the storage -------------------------------------------------------------------------------

def fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


# Every open LogStorage, so that a forked child (gunicorn --preload) re-opens its own files.
_OPEN: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for storage in list(_OPEN):
        storage._reopen_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class LogStorage(Storage):
    """The database file, replayed into memory and kept caught up with it.

    ``tables`` is ``{name: {int doc_id: document}}``. It is built by replaying the log at open,
    and kept current by ``catch_up()`` before every read and, under the lock, before every
    write: the complete lines other processes appended are applied; a new file at the path
    (a restore or a compaction by another process: another inode) is loaded from scratch.
    Documents in memory are never changed in place: a write puts a whole new document.

    ``listener`` (the Store's indexes) follows the tables: ``loaded(tables)`` after every load
    of the file, then ``changed(table, doc_id, old, new)`` for each document put (``old`` None
    if new) or removed (``new`` None) by a record applied since.
    """

    def __init__(self, path, readonly: bool = False, listener=None, shared_values=(),
                 durable: bool = True):
        self.path = os.path.abspath(os.fspath(path))
        self.lock_path = self.path + ".lock"
        self.readonly = readonly
        # durable=False: a write is not fsync'd (other processes still see it at once: the page
        # cache is shared), for data that need not survive a crash of the machine (TinyStore's
        # rate-limit counters), where an fsync per request would be most of the cost.
        self.durable = durable
        self.listener = listener or _NoListener()
        self.shared_values = shared_values  # fields whose values repeat across documents
        self.tables: dict[str, dict[int, dict]] = {}
        self.changes: dict[str, int] = {}  # per table: how many changes were applied
        self.loads = 0  # how many times the file was (re)loaded from scratch
        self.records = 0  # records applied since the last load
        self.loaded_records = 0  # of those, how many the file held when it was loaded
        self.corrupt: list[dict] = []  # {"offset", "reason"} of undecodable complete lines
        self._max_id: dict[str, int] = {}
        self._mutex = threading.RLock()
        self._txn: Transaction | None = None
        self._fd = self._lock_fd = None
        self._file: FileHandle | None = None  # the file version RawRefs read from
        self._inode = None
        self._end = 0  # file offset just after the last complete line applied
        self._seen = 0  # file size at the last look (a torn tail included)
        self._loading = False  # replaying the whole file: the listener is told once, after
        self._closed = False
        try:
            if not readonly:
                directory = os.path.dirname(self.path)
                os.makedirs(directory, exist_ok=True)
                self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                        0o644)
                if not os.path.exists(self.path):
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
                    fsync_dir(directory)  # the new name itself must survive a crash
            # No lock needed to load: complete lines are always a consistent prefix of history.
            self._load()
        except OSError as exc:
            self.close()
            raise os_failure(f"无法打开数据库文件 {self.path}", exc) from exc
        except BaseException:
            self.close()
            raise
        _OPEN.add(self)

    # ---- TinyDB's Storage interface -----------------------------------------------------------

    def read(self) -> dict:
        """The tables, caught up with the file (TinyDB's read). A copy of the dict of tables:
        TinyDB's own write path would assign into it, and must not reach memory."""
        with self._mutex:
            self.catch_up()
            return dict(self.tables)

    def write(self, data) -> None:
        raise NotImplementedError("write through LogStorage.transaction()")

    def close(self) -> None:
        """Let go of the tables and the files (documents already handed out keep reading their
        answers: their FileHandle closes with the last of them)."""
        self._closed = True
        _OPEN.discard(self)
        self.tables, self._file = {}, None
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None

    # ---- reading ------------------------------------------------------------------------------

    @contextmanager
    def reading(self):
        """The in-process lock, with the tables caught up with the file."""
        with self._mutex:
            self.catch_up()
            yield self

    def catch_up(self) -> None:
        """Apply what other processes appended since the last look (caller holds the mutex)."""
        if self._closed:
            raise StorageError("数据库已关闭")
        try:
            st = os.stat(self.path)
            if st.st_ino != self._inode or st.st_size < self._end:
                self._load()
            elif st.st_size != self._seen:
                self._replay(st.st_size)
        except OSError as exc:
            raise os_failure(MSG_READ_FAILED, exc) from exc

    def _load(self) -> None:
        """Replay the file at the path from scratch."""
        fd = os.open(self.path, (os.O_RDONLY if self.readonly else os.O_RDWR | os.O_APPEND)
                     | os.O_CLOEXEC)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        self._file = FileHandle(os.dup(fd))  # RawRefs into this version read through it
        st = os.fstat(fd)
        self._inode = st.st_ino
        self.tables, self._max_id = {}, {}
        self.records, self.corrupt = 0, []
        self._end = self._seen = 0
        self.loads += 1
        # Loading makes a few containers per document, and the cyclic GC would scan the
        # growing state again and again (opening 100k submissions took ~30% longer). The
        # loaded state has no cycles: no collection while loading.
        collecting = gc.isenabled()
        gc.disable()
        self._loading = True
        try:
            self._replay(st.st_size)
            self.loaded_records = self.records
        finally:
            self._loading = False
            if collecting:
                gc.enable()
            self.listener.loaded(self.tables)  # (a failed replay goes on at the next look)

    def _replay(self, size: int) -> None:
        """Apply the complete lines from the end of the last one applied up to byte size."""
        data = b""  # bytes read, not applied yet; data[0] is at file offset self._end
        while self._end + len(data) < size:
            chunk = os.pread(self._fd, min(READ_CHUNK, size - self._end - len(data)),
                             self._end + len(data))
            if not chunk:
                break
            data += chunk
            lines = data.split(b"\n")
            data = lines.pop()  # after the last newline: the start of a line, or nothing
            self._apply_lines(lines)
        self._seen = size

    def _apply_lines(self, lines: list[bytes]) -> None:
        """Decode and apply complete lines, the first one being at file offset self._end."""
        framed, corrupt = [], []  # (offset, JSON of the operations, raw payloads) of sound lines
        offset = self._end
        for line in lines:
            try:
                body, raws = split_record(line, self._file, offset)
                framed.append((offset, body, raws))
            except CorruptRecord as exc:
                corrupt.append((offset, exc))
            offset += len(line) + 1
        self._end = offset
        values = _parse_together([body for _, body, _ in framed])
        for i, (offset, body, raws) in enumerate(framed):
            try:
                ops = _checked(values[i] if values is not None else _parse(body), raws)
            except CorruptRecord as exc:
                corrupt.append((offset, exc))
            else:
                self._apply(ops)
        for offset, exc in sorted(corrupt, key=lambda c: c[0]):  # framing errors came first
            self.corrupt.append({"offset": offset, "reason": str(exc)})
            log.error("%s: corrupt record at byte %d skipped (%s)", self.path, offset, exc)

    def _apply(self, ops: list[list]) -> None:
        self.records += 1
        for op in ops:
            kind, name = op[0], op[1]
            self.changes[name] = self.changes.get(name, 0) + 1
            if kind == "put":
                doc_id, doc = op[2], self._shared(op[3])
                table = self.tables.get(name)
                if table is None:
                    table = self.tables[name] = {}
                old = table.get(doc_id)
                table[doc_id] = doc
                if doc_id > self._max_id.get(name, 0):
                    self._max_id[name] = doc_id
                if not self._loading:
                    self.listener.changed(name, doc_id, old, doc)
            elif kind == "del":
                table, doc_id = self.tables.get(name, {}), op[2]
                if doc_id in table:
                    old = table.pop(doc_id)
                    if doc_id == self._max_id.get(name):
                        self._max_id[name] = max(table, default=0)
                    if not self._loading:
                        self.listener.changed(name, doc_id, old, None)
            else:  # drop
                for doc_id, old in self.tables.pop(name, {}).items():
                    if not self._loading:
                        self.listener.changed(name, doc_id, old, None)
                self._max_id.pop(name, None)

    def _shared(self, doc: dict) -> dict:
        """doc with one copy in memory of the strings documents repeat: field names (~0.5 KB
        per submission; while loading, the JSON parser already shares them within each chunk
        of lines it parses at once) and the values of shared_values (~0.1 KB)."""
        if not self._loading:
            doc = {sys.intern(key): value for key, value in doc.items()}
        for key in self.shared_values:
            if type(doc.get(key)) is str:
                doc[key] = sys.intern(doc[key])
        return doc

    def next_id(self, table: str) -> int:
        """The id of a new document of table: the highest id of the caught-up state + 1
        (computed under the write lock, never cached across calls)."""
        return self._max_id.get(table, 0) + 1

    # ---- writing ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """Exclusive access with the tables caught up with the file; the operations collected
        in the yielded ``Transaction`` are written as one record, durably, when the block exits
        normally (nothing is written if it raises). Reads inside see the state before it."""
        if self.readonly or self._closed:
            raise StorageError("数据库已关闭" if self._closed else "数据库以只读方式打开")
        with self._mutex:
            if self._txn is not None:
                raise RuntimeError("transactions do not nest")
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise os_failure(MSG_WRITE_FAILED, exc) from exc
            try:
                self.catch_up()
                self._txn = Transaction(self)
                yield self._txn
                if self._txn.ops:
                    self._commit(self._txn.ops)
            finally:
                self._txn = None
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _commit(self, ops: list[tuple]) -> None:
        """Append one record and fsync it, then apply it to memory as a replay of the file
        would. If anything fails, the file is cut back and memory is untouched."""
        line = encode_record(ops)  # TypeError/ValueError: nothing written
        start = self._end
        try:
            if os.fstat(self._fd).st_size != start:
                os.ftruncate(self._fd, start)  # a writer died mid-line: cut its torn bytes
            _write_all(self._fd, line)
            if self.durable:
                os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                log.exception("%s: could not roll back a failed write", self.path)
            log.error("%s: write failed: %s", self.path, exc)
            raise os_failure(MSG_WRITE_FAILED, exc) from exc
        self._end = self._seen = start + len(line)
        self._apply(decode_record(line[:-1], self._file, start))

    # ---- the whole file -----------------------------------------------------------------------

    def compact(self, keep=None, lose_corrupt: bool = False) -> dict:
        """Rewrite the file as one put per live document (temp file, fsync, rename): drops
        replaced and deleted documents, and those for which ``keep(table, doc)`` is false.
        Refused while the file has corrupt records (they would be lost for good), unless
        lose_corrupt (a file of data that may be lost, such as rate-limit counters)."""
        with self.transaction():
            if self.corrupt and not lose_corrupt:
                raise StorageError("数据库含有损坏的记录,请先备份并检查(check-db)")
            before = self._seen
            records = [(name, doc_id, table[doc_id]) for name, table in sorted(self.tables.items())
                       for doc_id in sorted(table)
                       if keep is None or keep(name, table[doc_id])]
            write_records(records, self.path)
            self._load()  # answers in memory now point into the new file
            return {"bytes_before": before, "bytes_after": self._seen}

    def replace(self, records: Iterable[tuple[str, int, dict]], refuse=None) -> int:
        """Replace the whole database by (table, doc_id, document) records, atomically, under
        the write lock; the new file's size. ``refuse(tables)`` is called first and may raise
        to leave everything as it was. Other processes load the new file on their next look."""
        with self.transaction():
            if refuse is not None:
                refuse(self.tables)
            size = write_records(records, self.path)
            self._load()
            return size

    # ---- fork ---------------------------------------------------------------------------------

    def _reopen_after_fork(self) -> None:
        # flock() locks belong to the open file description, which a forked child shares with
        # its parent (gunicorn --preload): the child needs its own, or parent and child would
        # not exclude each other. (The database descriptor is only used with pread and
        # O_APPEND writes, which share no position: it can stay shared.)
        self._mutex = threading.RLock()
        self._txn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                    0o644)


class _NoListener:
    def loaded(self, tables) -> None:
        pass

    def changed(self, table, doc_id, old, new) -> None:
        pass


class Transaction:
    """The operations of one write, collected under the write lock and committed as one record
    when the ``LogStorage.transaction()`` block ends."""

    def __init__(self, storage: LogStorage):
        self.ops: list[tuple] = []
        self._storage = storage
        self._next_ids: dict[str, int] = {}

    def insert(self, table: str, doc) -> int:
        """Add a new document; its id."""
        doc_id = self._next_ids.get(table) or self._storage.next_id(table)
        self._next_ids[table] = doc_id + 1
        self.put(table, doc_id, doc)
        return doc_id

    def put(self, table: str, doc_id: int, doc) -> None:
        """Insert or replace the document doc_id."""
        self.ops.append(("put", table, doc_id, dict(doc)))

    def delete(self, table: str, doc_id: int) -> None:
        self.ops.append(("del", table, doc_id))

    def drop(self, table: str) -> None:
        """Remove every document of table (ids of later inserts start again at 1)."""
        self.ops.append(("drop", table))
        self._next_ids[table] = 1


def write_records(records: Iterable[tuple[str, int, dict]], dest: str) -> int:
    """Write (table, doc_id, document) records as a log file of one put each to dest,
    atomically and durably (temp file in the same folder, fsync, rename, fsync of the folder);
    the file's size. Records are written as they come: memory stays flat."""
    dest = os.path.abspath(dest)
    folder = os.path.dirname(dest)
    tmp = os.path.join(folder, f".{os.path.basename(dest)}.{secrets.token_hex(4)}.tmp")
    fd = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        for name, doc_id, doc in records:
            _write_all(fd, encode_record([("put", name, doc_id, doc)]))
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, dest)
        tmp = None
        fsync_dir(folder)
        return os.stat(dest).st_size
    except OSError as exc:
        raise os_failure(f"写入数据库文件失败:{dest}", exc) from exc
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def check(path) -> dict:
    """Read the database file at path and report on it, changing nothing: ``ok`` is False when
    complete lines are corrupt (checksum, framing, JSON) or raw payloads do not parse; a torn
    last line is reported (``torn_tail_bytes``) but is not an error."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise StorageError(f"数据库文件不存在:{path}")
    storage = LogStorage(path, readonly=True)
    try:
        bad_raw = 0
        for table in storage.tables.values():
            for doc in table.values():
                for value in doc.values():
                    if isinstance(value, RawRef):
                        try:
                            value.load()
                        except ValueError:
                            bad_raw += 1
        return {
            "path": path,
            "ok": not storage.corrupt and not bad_raw,
            "bytes": storage._seen,
            "records": storage.records,
            "tables": {name: len(table) for name, table in sorted(storage.tables.items())},
            "corrupt": storage.corrupt,
            "bad_raw_values": bad_raw,
            "torn_tail_bytes": storage._seen - storage._end,
        }
    finally:
        storage.close()
