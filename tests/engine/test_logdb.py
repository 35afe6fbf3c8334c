"""The TinyDB backend's own engine (storage/logdb.py, storage/indexes.py): the file format,
replay and catch-up, torn and corrupt lines, writes that fail, compaction, fork, and the day
index. What every backend promises is checked by tests/contract/."""
import errno
import gc
import json
import os
import subprocess
import sys
import weakref
import zlib
from datetime import datetime, timedelta

import pytest

from storage import StorageError, TinyStore
from storage import common, logdb, tiny
from storage.logdb import (CorruptRecord, LogStorage, RawJSON, RawRef, check, decode_record,
                           encode_record)
from storage.portable import open_backup, write_backup

ANSWERS = {"project_name": "党建引领\"小冬桃\"助力乡村振兴", "income": "12.5", "jobs": 15,
           "committed": True, "steps": [{"month": "2025-03", "task": "选址", "owner": "张三"}]}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "taizhang.db"


@pytest.fixture
def store(db_path):
    with TinyStore(db_path) as s:
        yield s


def add(store, sid, org="v1", form="dev", answers=None):
    doc, _created = store.add_submission(form, 1, org, answers or ANSWERS, sid, token="tok")
    return doc


def fill(store):
    store.add_form_version({"id": "dev", "title": "申报", "fields": []}, "builtin")
    store.replace_orgs([{"code": "v1", "name": "一村", "parent_code": None, "kind": "village"}])
    store.add_user("admin", "h", "admin")
    link = store.create_link("dev", "v1")
    store.create_link("dev", "v1")
    for i in range(5):
        add(store, f"s{i}")
    store.revoke_link(link["token"])


def state(engine: LogStorage) -> dict:
    """Every table as {id: document}, raw payloads as their bytes."""
    return {name: {doc_id: {k: (bytes(v) if isinstance(v, (RawRef, RawJSON)) else v)
                            for k, v in doc.items()} for doc_id, doc in table.items()}
            for name, table in engine.tables.items()}


def insert(engine, table, doc):
    with engine.transaction() as txn:
        return txn.insert(table, doc)


# ---- the file format ---------------------------------------------------------------------------

def test_a_submission_is_one_line_of_the_documented_format(store, db_path):
    add(store, "s1")
    line = db_path.read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)  # each line is one JSON object
    assert list(record) == ["crc", "len", "ops", "raw"]
    put = record["ops"][0]
    assert put[:3] == ["put", "submissions", 1] and put[4] == ["answers"]
    assert put[3]["answers"] is None and record["raw"] == [ANSWERS]
    tail = line[len(b'{"crc":"12345678",'):-1]
    assert record["crc"] == "%08x" % zlib.crc32(tail)
    ops_text = json.dumps(record["ops"], ensure_ascii=False, separators=(",", ":")).encode()
    assert record["len"][0] == len(ops_text)
    assert "党建引领" in line.decode("utf-8")  # readable Chinese (ensure_ascii=False)


# Written by the engine before this one (commit 91eaf55): a bulk organization import, a link,
# a link regenerated (two puts in one record), a submission, an import of two submissions in
# one line, a delete.
OLD_FILE = (
    b'{"crc":"9434402c","len":[183],"ops":[["drop","orgs"],["p'
    b'ut","orgs",1,{"code":"v1","name":"\xe4\xb8\x80\xe6\x9d\x91","parent_code":'
    b'null,"kind":"village"}],["put","orgs",2,{"code":"v2","na'
    b'me":"\xe4\xba\x8c\xe6\x9d\x91","parent_code":null,"kind":"village"}]]}\n',
    b'{"crc":"68db8a23","len":[155],"ops":[["put","links",1,{"'
    b'token":"UfLk-9oZvt_xzAOk-0_xL8JhpLyHSyuS","form_id":"dev'
    b'","org_code":"v1","created_at":"2025-05-01T09:30:00+00:0'
    b'0","revoked_at":null}]]}\n',
    b'{"crc":"8312f863","len":[332],"ops":[["put","links",1,{"'
    b'token":"UfLk-9oZvt_xzAOk-0_xL8JhpLyHSyuS","form_id":"dev'
    b'","org_code":"v1","created_at":"2025-05-01T09:30:00+00:0'
    b'0","revoked_at":"2025-05-01T09:30:00+00:00"}],["put","li'
    b'nks",2,{"token":"BC2coPv3q5QnMrHCI7uxWN4VAD4nEGsY","form'
    b'_id":"dev","org_code":"v1","created_at":"2025-05-01T09:3'
    b'0:00+00:00","revoked_at":null}]]}\n',
    b'{"crc":"6e803a13","len":[216,25],"ops":[["put","submissi'
    b'ons",1,{"form_id":"dev","form_version":1,"org_code":"v1"'
    b',"receipt":"250501-0001","submitted_at":"2025-05-01T09:3'
    b'0:00+00:00","submission_id":"s1","token":"tok","files":['
    b'],"answers":null},["answers"]]],"raw":[{"\xe5\x90\x8d\xe7\xa7\xb0":"\xe5\x86\xac\xe6\xa1\x83'
    b'","n":1}]}\n',
    b'{"crc":"af9ade4b","len":[433,7,7],"ops":[["put","submiss'
    b'ions",2,{"form_id":"dev","form_version":1,"org_code":"v2'
    b'","receipt":"250430-0001","submitted_at":"2025-04-30T08:'
    b'00:00+08:00","submission_id":"imp0","token":null,"files"'
    b':[],"answers":null},["answers"]],["put","submissions",3,'
    b'{"form_id":"dev","form_version":1,"org_code":"v2","recei'
    b'pt":"250430-0002","submitted_at":"2025-04-30T08:00:00+08'
    b':00","submission_id":"imp1","token":null,"files":[],"ans'
    b'wers":null},["answers"]]],"raw":[{"i":0},{"i":1}]}\n',
    b'{"crc":"00a44e1a","len":[18],"ops":[["del","orgs",2]]}\n',
)


def test_a_file_of_the_earlier_engine_opens_unchanged_and_is_written_alike(tmp_path):
    path = tmp_path / "old.db"
    path.write_bytes(b"".join(OLD_FILE))
    engine = LogStorage(path)
    assert engine.corrupt == [] and engine.records == 6
    assert [o["code"] for o in engine.tables["orgs"].values()] == ["v1"]
    assert [l["revoked_at"] is None for l in engine.tables["links"].values()] == [False, True]
    answers = [d["answers"].load() for d in engine.tables["submissions"].values()]
    assert answers == [{"名称": "冬桃", "n": 1}, {"i": 0}, {"i": 1}]
    for line in OLD_FILE:  # this engine encodes the same operations to the same bytes
        assert encode_record(decode_record(line[:-1])) == line
    engine.close()


def test_encode_decode_roundtrip():
    doc = {"text": "第一行\n第二行\u2028\t\"引号\"", "bad": "\ud800", "n": 1.5, "none": None,
           "nested": {"list": [1, "二", {"三": 3}]}, "raw": RawJSON.dump({"答": ["案"]}),
           "raw2": RawJSON(b"[1]")}
    line = encode_record([("put", "t", 7, doc), ("del", "t", 3), ("drop", "u")])
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # JSON escapes newlines
    ops = decode_record(line[:-1])
    assert ops[0][:3] == ["put", "t", 7] and ops[0][3] == doc
    assert ops[0][3]["raw"].load() == {"答": ["案"]}
    assert ops[1:] == [["del", "t", 3], ["drop", "u"]]
    with pytest.raises(ValueError):
        encode_record([("put", "t", 1, {"x": float("nan")})])
    with pytest.raises(TypeError):
        encode_record([("put", "t", 1, {"x": object()})])


def framed(body: bytes, raws=(), lengths=None, raw_open=b',"raw":[', raw_close=b"]",
           end=b"}") -> bytes:
    """A line with a right checksum around any body and payloads (lengths: lie about them)."""
    lengths = lengths if lengths is not None else [len(body)] + [len(r) for r in raws]
    tail = b'"len":[' + b",".join(b"%d" % n for n in lengths) + b'],"ops":' + body
    if raws:
        tail += raw_open + b",".join(raws) + raw_close
    tail += end
    return b'{"crc":"%08x",' % zlib.crc32(tail) + tail + b"\n"


PUT = b'[["put","submissions",1000,{"form_id":"dev","answers":null},["answers"]]]'
BAD_LINES = {
    "not a record": b"hello world\n",
    "checksum mismatch": encode_record([("put", "t", 1, {"a": 1})]).replace(b'"a"', b'"b"'),
    "length lie": framed(PUT, [b'{"a":1}'], lengths=[len(PUT), 5]),
    "two payloads for one key": framed(PUT, [b'{"a":1}', b'{"b":2}']),
    "one payload for two keys": framed(PUT.replace(b'["answers"]', b'["answers","x"]'),
                                       [b'{"a":1}']),
    "not a list": framed(b'{"not":"a list"}'),
    "id not an int": framed(PUT.replace(b"1000", b'"x"'), [b'{"a":1}']),
    "bytes after the payloads": framed(PUT, [b'{"a":1}]}junk'], lengths=[len(PUT), 7]),
    "wrong raw key": framed(PUT, [b'{"a":1}'], raw_open=b',"wat":['),
    "wrong raw close": framed(PUT, [b'{"a":1}'], raw_close=b")"),
    "two values": framed(PUT + b"," + PUT, [b'{"a":1}']),
    "unknown operation": framed(PUT.replace(b'"put"', b'"pot"'), [b'{"a":1}']),
    "table not a string": framed(b'[["put",5,1,{}]]'),
    "document not a dict": framed(b'[["put","links",99,[1,2]]]'),
    "bad JSON": framed(b'[["put","t",1,{"a":]]'),
    "bad end": framed(b'[["drop","t"]]', end=b")"),
}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_a_line_that_is_not_a_sound_record_is_refused(name):
    with pytest.raises(CorruptRecord):
        decode_record(BAD_LINES[name][:-1])


# ---- replay and catching up --------------------------------------------------------------------

def mixed_log() -> bytes:
    """Submissions one per line, a bulk line, multi-operation records, a replaced and a
    deleted document, a drop, and every bad line amid good ones; a torn tail."""
    def submission(i, org="v1"):
        return ("put", "submissions", i, {"form_id": "dev", "org_code": org,
                                          "receipt": f"250501-{i:04d}", "answers":
                                          RawJSON.dump({"n": i, "名称": "第\n行" * (i % 3)})})
    out = [encode_record([submission(i, org=f"v{i % 7}")]) for i in range(1, 200)]
    for i, line in enumerate(BAD_LINES.values()):
        out.insert(10 + 11 * i, line)
    out.append(encode_record([("drop", "orgs")] + [("put", "orgs", i, {"code": f"o{i}"})
                                                   for i in range(1, 5)]))
    out.append(encode_record([submission(i, org="bulk") for i in range(200, 600)]))
    out.append(encode_record([submission(5, org="replaced")]))
    out.append(encode_record([("del", "submissions", 7), ("drop", "nothing")]))
    out.append(encode_record([submission(600)])[:-30])  # torn
    return b"".join(out)


def reference_replay(data: bytes):
    """The replay spelled out: decode_record on each complete line, applied in order."""
    tables, corrupt, pos = {}, [], 0
    while (end := data.find(b"\n", pos)) >= 0:
        try:
            ops = decode_record(data[pos:end])
        except CorruptRecord:
            corrupt.append(pos)
        else:
            for op in ops:
                if op[0] == "put":
                    tables.setdefault(op[1], {})[op[2]] = op[3]
                elif op[0] == "del":
                    tables.get(op[1], {}).pop(op[2], None)
                else:
                    tables.pop(op[1], None)
        pos = end + 1
    return {name: {i: {k: (bytes(v) if isinstance(v, RawJSON) else v) for k, v in doc.items()}
                   for i, doc in table.items()} for name, table in tables.items()}, corrupt


@pytest.mark.parametrize("chunk", [64, 1000, logdb.READ_CHUNK])
def test_replay_applies_every_sound_line_and_reports_the_others(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(logdb, "READ_CHUNK", chunk)  # 64: every line is longer than a read
    data = mixed_log()
    path = tmp_path / "t.db"
    path.write_bytes(data)
    tables, corrupt = reference_replay(data)
    assert len(corrupt) == len(BAD_LINES)
    engine = LogStorage(path, readonly=True)
    assert state(engine) == tables
    assert [c["offset"] for c in engine.corrupt] == corrupt
    assert engine._end == data.rindex(b"\n") + 1  # the torn tail is left for a writer
    # answers stay in the file: references to the right bytes
    ref = engine.tables["submissions"][300]["answers"]
    assert type(ref) is RawRef and data[ref.offset:ref.offset + ref.length] == bytes(ref)
    engine.close()


def test_catching_up_with_lines_appended_bit_by_bit(tmp_path):
    data = mixed_log()
    path = tmp_path / "t.db"
    path.write_bytes(b"")
    engine = LogStorage(path, readonly=True)
    pos = 0
    for step in (1, 2, 3, 50, 1, 7000, 100_000, 10**7):  # lines cut anywhere
        with open(path, "ab") as f:
            f.write(data[pos:pos + step])
        pos += step
        engine.catch_up()
        tables, corrupt = reference_replay(data[:pos])
        assert state(engine) == tables
        assert [c["offset"] for c in engine.corrupt] == corrupt
    assert engine.loads == 1  # appended lines are applied, never a reload
    engine.close()


WRITER = """
import sys
sys.path.insert(0, {root!r})
from storage.logdb import LogStorage
engine = LogStorage(sys.argv[1])
for i in range(int(sys.argv[2])):
    with engine.transaction() as txn:
        txn.insert("t", {{"by": sys.argv[3], "i": i}})
"""


def write_from_another_process(path, count, name):
    code = WRITER.format(root=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    subprocess.run([sys.executable, "-c", code, str(path), str(count), name], check=True,
                   timeout=60)


def test_writes_of_other_processes_are_seen_at_once(db_path):
    engine = LogStorage(db_path)
    insert(engine, "t", {"by": "me", "i": 0})
    write_from_another_process(db_path, 3, "other")
    assert [d["by"] for d in engine.read()["t"].values()] == ["me", "other", "other", "other"]
    assert insert(engine, "t", {"by": "me", "i": 1}) == 5  # ids from the caught-up state
    assert engine.loads == 1 and LogStorage(db_path, readonly=True).tables == engine.tables
    engine.close()


def test_a_replaced_file_is_loaded_again(db_path, tmp_path):
    engine = LogStorage(db_path)
    insert(engine, "t", {"n": 1})
    other = tmp_path / "other.db"
    write_from_another_process(other, 2, "other")
    os.replace(other, db_path)  # a restore or compaction by another process: a new inode
    assert [d["by"] for d in engine.read()["t"].values()] == ["other", "other"]
    assert engine.loads == 2
    engine.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_an_engine_opened_before_fork_locks_apart_from_its_parent(db_path):
    """gunicorn --preload: flock belongs to the open file description a forked child shares
    with its parent; without a lock file of its own the child would not exclude the parent,
    and the two would write the same ids."""
    engine = LogStorage(db_path)
    insert(engine, "t", {"by": "parent"})
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            for i in range(100):
                insert(engine, "t", {"by": "child", "i": i})
            code = 0
        finally:
            os._exit(code)
    for i in range(100):
        insert(engine, "t", {"by": "parent", "i": i})
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    table = engine.read()["t"]
    assert len(table) == 201 and sorted(table) == list(range(1, 202))
    assert check(db_path)["records"] == 201
    engine.close()


# ---- writing -----------------------------------------------------------------------------------

def test_a_transaction_is_one_line_all_or_nothing(db_path):
    engine = LogStorage(db_path)
    with engine.transaction() as txn:
        assert txn.insert("a", {"x": 1}) == 1
        assert txn.insert("b", {"y": 2}) == 1
        assert txn.insert("a", {"x": 2}) == 2  # ids count the pending inserts
    assert db_path.read_bytes().count(b"\n") == 1
    before = db_path.read_bytes()
    with pytest.raises(RuntimeError):
        with engine.transaction() as txn:
            txn.insert("a", {"x": 3})
            raise RuntimeError("abort")
    with pytest.raises(TypeError):
        with engine.transaction() as txn:
            txn.insert("a", {"x": 3})
            txn.insert("a", {"x": object()})  # refused before anything is written
    assert db_path.read_bytes() == before and len(engine.tables["a"]) == 2
    with engine.transaction() as txn:
        txn.drop("a")
        assert txn.insert("a", {"x": 9}) == 1
        txn.put("b", 1, {"y": 3})
        txn.delete("b", 1)
    assert engine.tables == {"a": {1: {"x": 9}}, "b": {}}
    engine.close()


def test_memory_holds_what_a_replay_of_the_file_gives(store, db_path):
    fill(store)
    store.upsert_orgs([{"code": "v1", "name": "一村(改)"}, {"code": "v2", "name": "二村"}])
    store.delete_org("v2")
    engine = store._engine
    assert all(type(d["answers"]) is RawRef for d in engine.tables["submissions"].values())
    replayed = LogStorage(db_path, readonly=True)
    assert state(replayed) == state(engine)
    assert {n: list(t) for n, t in replayed.tables.items()} == \
        {n: list(t) for n, t in engine.tables.items()}  # same order too
    replayed.close()


def test_documents_share_their_field_names(store, db_path):
    add(store, "s1")
    add(store, "s2")
    store.import_submissions([{"form_id": "dev", "form_version": 1, "org_code": "v1",
                               "answers": {}, "submitted_at": "2025-05-01T08:00:00"}] * 3)
    with TinyStore(db_path) as other:
        add(other, "s3")
    for engine in (store._engine, LogStorage(db_path, readonly=True)):
        docs = list(engine.read()["submissions"].values())
        assert len(docs) == 6
        for doc in docs[1:]:  # written, imported, caught up or replayed alike
            assert all(k1 is k2 for k1, k2 in zip(doc, docs[0]))


def failing(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


@pytest.mark.parametrize("call,code,message", [
    ("write", errno.ENOSPC, "磁盘空间不足"), ("write", errno.EACCES, "没有写入权限"),
    ("fsync", errno.ENOSPC, "磁盘空间不足"), ("fsync", errno.EIO, "磁盘读写错误")])
def test_a_failed_write_changes_nothing(db_path, monkeypatch, call, code, message):
    engine = LogStorage(db_path)
    insert(engine, "t", {"n": 1})
    before_bytes, before_state = db_path.read_bytes(), state(engine)
    with monkeypatch.context() as m:
        m.setattr(os, call, failing(code))
        with pytest.raises(StorageError) as exc:
            insert(engine, "t", {"n": 2})
    assert str(exc.value) == f"数据保存失败,请稍后重试({message})"
    assert db_path.read_bytes() == before_bytes and state(engine) == before_state
    assert insert(engine, "t", {"n": 2}) == 2  # the next write works
    assert check(db_path)["ok"]
    engine.close()


def test_a_short_write_is_rolled_back(db_path, monkeypatch):
    engine = LogStorage(db_path)
    insert(engine, "t", {"n": 1})
    before = db_path.read_bytes()
    real_write, calls = os.write, []

    def short_then_full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:10])  # the kernel took only 10 bytes
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full_disk)
    with pytest.raises(StorageError):
        insert(engine, "t", {"n": 2})
    monkeypatch.undo()
    assert len(calls) == 2 and db_path.read_bytes() == before
    assert len(engine.tables["t"]) == 1 and insert(engine, "t", {"n": 2}) == 2
    engine.close()


def test_a_torn_last_line_is_ignored_then_cut_by_the_next_writer(db_path):
    engine = LogStorage(db_path)
    insert(engine, "t", {"n": 1})
    good = db_path.read_bytes()
    torn = encode_record([("put", "t", 2, {"n": 2})])
    with open(db_path, "ab") as f:
        f.write(torn[:len(torn) // 2])  # a writer killed in the middle of its line
    report = check(db_path)
    assert report["ok"] and report["torn_tail_bytes"] == len(torn) // 2
    assert list(engine.read()["t"]) == [1]
    other = LogStorage(db_path)
    assert insert(other, "t", {"n": 3}) == 2
    data = db_path.read_bytes()
    assert data.startswith(good) and data.count(b"\n") == 2
    assert check(db_path)["torn_tail_bytes"] == 0
    assert engine.read()["t"] == other.tables["t"] == {1: {"n": 1}, 2: {"n": 3}}
    engine.close()
    other.close()


def test_a_corrupt_line_in_the_middle_is_skipped_and_reported(db_path, caplog):
    engine = LogStorage(db_path)
    for n in range(3):
        insert(engine, "t", {"n": n})
    engine.close()
    data = bytearray(db_path.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 40] ^= 0x01  # bit rot inside the second record
    db_path.write_bytes(bytes(data))
    report = check(db_path)
    assert not report["ok"] and report["records"] == 2
    assert report["corrupt"] == [{"offset": second, "reason": "checksum mismatch"}]
    engine = LogStorage(db_path)  # still opens, without that record
    assert [d["n"] for d in engine.tables["t"].values()] == [0, 2]
    assert "corrupt record" in caplog.text
    with pytest.raises(StorageError):
        engine.compact()  # would drop the damaged record for good
    assert db_path.read_bytes() == bytes(data)
    engine.close()


def test_check_reads_every_answer(tmp_path):
    path = tmp_path / "t.db"
    path.write_bytes(encode_record([("put", "submissions", 1, {"answers": RawJSON(b"{bad")})]))
    report = check(path)
    assert not report["ok"] and report["bad_raw_values"] == 1
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\nworld\n")
    assert len(check(notes)["corrupt"]) == 2
    with pytest.raises(StorageError):
        check(tmp_path / "missing.db")


def test_an_unwritable_folder_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing(errno.EIO))
    with pytest.raises(StorageError) as exc:
        LogStorage(tmp_path / "new" / "taizhang.db")
    assert "磁盘读写错误" in str(exc.value)


def test_a_deleted_database_file_is_an_error(store, db_path):
    add(store, "s1")
    db_path.unlink()
    with pytest.raises(StorageError):
        store.count_submissions()


# ---- compaction and replaced files -------------------------------------------------------------

def test_compaction_keeps_the_live_documents_and_others_follow(db_path):
    a, b = TinyStore(db_path), TinyStore(db_path)
    for s in (a, b):  # built now, then kept current write by write (the state compared below)
        with s._engine.reading():
            s._indexes.keys, s._indexes.lists
    fill(a)
    for i in range(20):
        a.set_password("admin", f"h{i}")
    expected = (a.list_users(), a.list_links("dev"), a.query_submissions(None))
    size = os.path.getsize(db_path)
    report = b._engine.compact()
    assert report["bytes_after"] < size == report["bytes_before"]
    assert check(db_path)["ok"]
    assert (a.list_users(), a.list_links("dev"), a.query_submissions(None)) == expected
    assert a._engine.loads == 2  # loaded the new file
    assert add(a, "next")["id"] == 6 and b.find_submission("next")["id"] == 6
    a.close()
    b.close()


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_a_failed_compaction_changes_nothing(store, db_path, monkeypatch, call):
    fill(store)
    before_bytes, before_state = db_path.read_bytes(), state(store._engine)
    with monkeypatch.context() as m:
        m.setattr(os, call, failing(errno.ENOSPC))
        with pytest.raises(StorageError):
            store._engine.compact()
    assert db_path.read_bytes() == before_bytes and state(store._engine) == before_state
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["taizhang.db",
                                                                "taizhang.db.lock"]
    add(store, "after")
    assert check(db_path)["ok"]


@pytest.mark.parametrize("replace", ["restore", "compact_other", "compact_self"])
def test_references_keep_reading_a_replaced_file(db_path, tmp_path, replace):
    """An export iterating while the file is replaced (restore, compaction) keeps reading the
    version it started from; that file's descriptor is closed once nothing refers to it."""
    with TinyStore(tmp_path / "other" / "taizhang.db") as other:
        add(other, "x1", answers={"from": "backup"})
        backup = write_backup(other, tmp_path / "backup.zip")["path"]
    s = TinyStore(db_path)
    for i in range(5):
        add(s, f"s{i}", answers={"i": i, "pad": "填充" * 50})
    handle = weakref.ref(s._engine._file)
    total, docs = s.iter_submissions(None)
    assert next(docs)["answers"]["i"] == 0
    if replace == "restore":
        with open_backup(backup) as snapshot:
            TinyStore(db_path).load(snapshot, force=True)
    elif replace == "compact_other":
        LogStorage(db_path).compact()
    else:
        s._engine.compact()
    assert s.count_submissions() == (1 if replace == "restore" else 5)  # caught up
    assert s._engine._file is not handle() and handle() is not None  # still read by docs
    assert [d["answers"]["i"] for d in docs] == [1, 2, 3, 4]
    del docs
    gc.collect()
    assert handle() is None  # the last reference gone: the old file's descriptor closed
    s.close()


def test_a_log_format_backup_with_a_corrupt_record_is_refused(store, db_path, tmp_path):
    fill(store)
    data = bytearray(db_path.read_bytes())
    data[30] ^= 0x01
    (tmp_path / "old-backup.db").write_bytes(bytes(data))
    with pytest.raises(StorageError):
        with open_backup(tmp_path / "old-backup.db"):
            pass


# ---- the indexes -------------------------------------------------------------------------------

def index_state(store):
    idx = store._indexes
    return (idx.keys.by_sid, idx.keys.by_receipt, idx.keys.last_number,
            {k: v for k, v in idx.lists.by_form.items() if v},
            {k: (v.days, v.ids) for k, v in idx.lists.by_form_org.items() if v.ids},
            idx.link_by_token, idx.active_link)


def test_indexes_follow_loads_catch_ups_and_writes(db_path, monkeypatch):
    moments = iter([datetime(2025, 5, 1, 9).astimezone()] * 30
                   + [datetime(2025, 5, 2, 9).astimezone()] * 1000)
    monkeypatch.setattr(common, "now", lambda: next(moments))
    a, b = TinyStore(db_path), TinyStore(db_path)
    for s in (a, b):  # built now, then kept current write by write (the state compared below)
        with s._engine.reading():
            s._indexes.keys, s._indexes.lists
    fill(a)
    for i in range(20):
        add(b, f"b{i}", org=f"v{i % 3}", form=("dev", "acc")[i % 2])
    b.import_submissions(
        {"form_id": "acc", "form_version": 1, "org_code": f"v{i % 4}", "answers": {"i": i},
         "submitted_at": f"2025-04-{1 + i % 28:02d}T08:00:00+08:00"} for i in range(500))
    b.create_link("acc", "v1")
    for i in range(5):
        add(a, f"a{i}", org="v2")
    with TinyStore(db_path) as fresh:  # every index built by a replay
        expected = index_state(fresh)
    for s in (a, b):
        with s._engine.reading():
            assert index_state(s) == expected
    assert expected[2]["250502"] == 5 and expected[2]["250401"] == 18
    assert add(b, "later")["receipt"] == "250502-0006"
    with a._engine.reading():
        a._indexes.keys, a._indexes.lists
    b._engine.compact()  # a new file: the others reload, their indexes start again
    add(b, "after-compaction")
    with TinyStore(db_path) as fresh:
        expected = index_state(fresh)
    with a._engine.reading():
        assert index_state(a) == expected
    a.close()
    b.close()


class CountingTable(dict):
    """A table that counts the documents read out of it."""

    touched = 0

    def __getitem__(self, key):
        CountingTable.touched += 1
        return super().__getitem__(key)

    def values(self):
        CountingTable.touched += len(self)
        return super().values()

    def items(self):
        CountingTable.touched += len(self)
        return super().items()

    def __iter__(self):
        CountingTable.touched += len(self)
        return super().__iter__()

    def get(self, key, default=None):
        CountingTable.touched += 1
        return super().get(key, default)


def test_date_filters_use_the_day_index(store):
    """A date range reads only the documents of its page, and is right whatever order the
    submissions were imported in."""
    start = datetime(2025, 1, 1, 8).astimezone()
    days = [(i * 37) % 100 for i in range(1000)]  # every day of 100, out of order
    store.import_submissions(
        {"form_id": "dev", "form_version": 1, "org_code": f"v{i % 3}", "answers": {"i": i},
         "submitted_at": common.stamp(start + timedelta(days=day))}
        for i, day in enumerate(days))
    expected = sorted((i for i, day in enumerate(days) if 10 <= day <= 12 and i % 3 != 1),
                      reverse=True)
    store.count_submissions("dev")  # the first admin query of a process builds the index
    engine = store._engine
    engine.tables["submissions"] = CountingTable(engine.tables["submissions"])
    CountingTable.touched = 0
    total, page = store.query_submissions("dev", org_codes=["v0", "v2"],
                                          date_from="2025-01-11", date_to="2025-01-13", limit=5)
    assert CountingTable.touched == 5  # the page, nothing else
    assert total == len(expected) and [d["answers"]["i"] for d in page] == expected[:5]
    counts = store.submission_counts("dev", "2025-01-11", "2025-01-13")
    assert CountingTable.touched == 5
    assert counts == {f"v{k}": sum(1 for i, day in enumerate(days)
                                   if 10 <= day <= 12 and i % 3 == k) for k in range(3)}
    total, docs = store.iter_submissions("dev", date_from="2025-04-10")
    assert CountingTable.touched == 5 + total
    assert [d["answers"]["i"] for d in docs] == sorted(i for i, day in enumerate(days)
                                                       if day == 99)


# ---- the rate-limit counters file -----------------------------------------------------------------

def test_counters_live_in_their_own_file_written_without_fsync(store, db_path, monkeypatch):
    fill(store)
    database = db_path.read_bytes()
    store.hit_counter("addr|link", 60)  # creates the file (and fsyncs its folder)
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    for _ in range(4):
        store.hit_counter("addr|link", 60)
    assert fsyncs == []  # counters may be lost in a crash: no fsync per public request
    assert db_path.read_bytes() == database  # the database file, every worker replays: unchanged
    counters = db_path.parent / "taizhang.counters.db"
    assert check(counters)["ok"] and check(counters)["records"] == 5
    with TinyStore(db_path) as other:  # another worker sees the count
        assert other.get_counter("addr|link")[0] == 5


def test_the_counters_file_stays_small_whatever_the_number_of_hits(store, db_path):
    counters = db_path.parent / "taizhang.counters.db"
    with TinyStore(db_path) as other:
        for n in range(6000):  # mostly counters of ended windows, from two workers
            (store, other)[n % 2].hit_counter(f"addr-{n}|link", 0.001)
            (store, other)[n % 2].hit_counter("steady", 3600)
        assert other.get_counter("steady")[0] == 6000
    lines = counters.read_bytes().count(b"\n")
    assert lines <= 3 * 2 + tiny.COUNTER_SLACK + 1  # 12,000 hits; rewritten as it grew
    assert store.get_counter("steady")[0] == 6000
    assert len(store._counters().tables["counters"]) <= lines


def test_a_damaged_counters_file_is_still_rewritten(store, db_path):
    store.hit_counter("a", 60)
    counters = db_path.parent / "taizhang.counters.db"
    with open(counters, "ab") as f:
        f.write(b"\x00" * 40 + b"\n")  # what a power cut can leave in a file never fsync'd
    store.hit_counter("a", 60)
    assert store.drop_counters() == 0
    assert check(counters)["ok"] and store.get_counter("a")[0] == 2
