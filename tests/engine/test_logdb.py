"""Storage: the Store domain API, the log engine under it, recovery and fault injection."""
import errno
import json
import os
import re
import sys
import threading
import zlib
from datetime import date, datetime, timedelta

import pytest
from tinydb import Query
from tinydb.table import Document

import storage
from storage import (DuplicateError, RestoreRefused, TinyStore as Store, StorageError,
                     SubmissionConflict)
from storage.logdb import backup, check, compact, restore
from storage import logdb
from storage.indexes import Indexes
from storage.logdb import (CorruptRecord, LogDB, LogStorage, RawJSON, RawRef, decode_record,
                           encode_record)

ANSWERS = {"project_name": "党建引领\"小冬桃\"助力乡村振兴", "income": "12.5", "jobs": 15,
           "committed": True, "steps": [{"month": "2025-03", "task": "选址", "owner": "张三"}]}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "taizhang.db"


@pytest.fixture
def store(db_path):
    s = Store(db_path)
    yield s
    s.close()


def add(store, sid, org="v1", form="dev", answers=None):
    doc, created = store.add_submission(form, 1, org, answers or ANSWERS, sid, token="tok")
    return doc


def lines(path):
    return path.read_bytes().split(b"\n")


# ---- forms -----------------------------------------------------------------------------------

def test_form_versions(store):
    first = store.add_form_version({"id": "dev", "title": "申报", "fields": []}, "builtin")
    assert first["version"] == 1 and first["schema"]["version"] == 1
    assert first["source"] == "builtin" and first["user"] is None
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    second = store.add_form_version({"id": "dev", "title": "申报(修订)", "fields": []}, "upload",
                                    user="admin")
    store.add_form_version({"id": "acc", "title": "验收", "fields": []}, "builtin")
    assert second["version"] == 2 and second["user"] == "admin"
    assert store.get_form("dev")["schema"]["title"] == "申报(修订)"
    assert store.get_form("dev", 1)["schema"]["title"] == "申报"
    assert store.get_form("dev", 3) is None and store.get_form("nope") is None
    assert [f["version"] for f in store.form_versions("dev")] == [1, 2]
    assert [(f["id"], f["version"]) for f in store.list_forms()] == [("acc", 1), ("dev", 2)]


def test_returned_documents_are_copies(store):
    schema = {"id": "dev", "title": "申报", "fields": [{"name": "a", "type": "text"}]}
    store.add_form_version(schema, "builtin")
    assert "version" not in schema  # the caller's dict is not touched
    got = store.get_form("dev")
    got["schema"]["fields"].append("junk")
    assert store.get_form("dev")["schema"]["fields"] == [{"name": "a", "type": "text"}]
    doc = add(store, "s1")
    doc["answers"]["steps"].clear()
    assert store.get_submission(doc["receipt"])["answers"] == ANSWERS


# ---- organizations ---------------------------------------------------------------------------

ORGS = [
    {"code": "340828", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "340828101", "name": "响肠镇", "parent_code": "340828", "kind": "township"},
    {"code": "340828101201", "name": "千佛塔村", "parent_code": "340828101", "kind": "village"},
]


def test_orgs(store, db_path):
    assert store.replace_orgs(ORGS) == 3
    assert [o["code"] for o in store.list_orgs()] == ["340828", "340828101", "340828101201"]
    assert store.get_org("340828101")["name"] == "响肠镇"
    store.upsert_orgs([{"code": "340828101", "name": "响肠镇党委", "parent_code": "340828",
                        "kind": "township"},
                       {"code": "340828102", "name": "菖蒲镇", "parent_code": "340828",
                        "kind": "township"}])
    assert store.get_org("340828101")["name"] == "响肠镇党委"
    assert len(store.list_orgs()) == 4
    assert store.delete_org("340828102") is True
    assert store.delete_org("340828102") is False
    assert store.get_org("340828102") is None
    store.replace_orgs(ORGS[:1])
    assert [o["code"] for o in store.list_orgs()] == ["340828"]


def test_org_import_is_one_record_and_all_or_nothing(store, db_path):
    store.replace_orgs(ORGS)
    before = db_path.read_bytes()
    rows = [{"code": f"c{i}", "name": f"村{i}", "parent_code": "340828101", "kind": "village"}
            for i in range(500)]
    store.upsert_orgs(rows)
    assert len(lines(db_path)) == len(before.split(b"\n")) + 1
    before = db_path.read_bytes()
    with pytest.raises(DuplicateError):
        store.replace_orgs(ORGS + [ORGS[0]])
    with pytest.raises(ValueError):
        store.upsert_orgs([{"code": "ok"}, {"code": ""}])
    assert db_path.read_bytes() == before
    assert len(store.list_orgs()) == 503


# ---- users -----------------------------------------------------------------------------------

def test_users(store):
    user = store.add_user("admin", "scrypt:hash1", "admin")
    assert user["username"] == "admin" and user["role"] == "admin"
    store.add_user("clerk", "scrypt:hash2", "viewer")
    with pytest.raises(DuplicateError):
        store.add_user("admin", "x", "admin")
    assert store.get_user("admin")["password_hash"] == "scrypt:hash1"
    assert store.get_user("ghost") is None
    assert [u["username"] for u in store.list_users()] == ["admin", "clerk"]
    assert store.set_password("admin", "scrypt:hash3")["password_hash"] == "scrypt:hash3"
    assert store.get_user("admin")["password_hash"] == "scrypt:hash3"
    assert store.set_password("ghost", "x") is None


# ---- links -----------------------------------------------------------------------------------

def test_links(store):
    first = store.create_link("dev", "v1")
    assert len(first["token"]) >= 32 and first["revoked_at"] is None  # 24 random bytes
    assert store.active_link("dev", "v1")["token"] == first["token"]
    other = store.create_link("dev", "v2")
    second = store.create_link("dev", "v1")  # regenerate: the old one is revoked with it
    assert second["token"] != first["token"]
    assert store.get_link(first["token"])["revoked_at"] is not None
    assert store.active_link("dev", "v1")["token"] == second["token"]
    assert [l["token"] for l in store.list_links("dev")] == [first["token"], other["token"],
                                                             second["token"]]
    assert [l["token"] for l in store.list_links("dev", active_only=True)] == [other["token"],
                                                                               second["token"]]
    revoked = store.revoke_link(other["token"])
    assert revoked["revoked_at"] is not None
    assert store.revoke_link(other["token"])["revoked_at"] == revoked["revoked_at"]
    assert store.active_link("dev", "v2") is None
    assert store.revoke_link("unknown") is None and store.get_link("unknown") is None
    assert store.list_links("other") == []


# ---- submissions -----------------------------------------------------------------------------

def test_add_submission(store):
    doc, created = store.add_submission("dev", 3, "v1", ANSWERS, "sid-1", token="tok",
                                        files=["a.jpg"])
    assert created is True
    assert re.fullmatch(r"\d{6}-\d{4}", doc["receipt"])
    moment = datetime.fromisoformat(doc["submitted_at"])
    assert moment.tzinfo is not None and moment.microsecond == 0
    assert doc["receipt"][:6] == moment.strftime("%y%m%d") and doc["receipt"].endswith("-0001")
    assert (doc["form_id"], doc["form_version"], doc["org_code"]) == ("dev", 3, "v1")
    assert doc["answers"] == ANSWERS and doc["files"] == ["a.jpg"] and doc["token"] == "tok"
    assert doc["submission_id"] == "sid-1" and doc["id"] == 1
    second = add(store, "sid-2")
    assert second["receipt"].endswith("-0002") and second["id"] == 2
    assert store.get_submission(doc["receipt"]) == doc
    assert store.find_submission("sid-2") == second
    assert store.get_submission("000000-0000") is None and store.find_submission("x") is None
    assert store.count_submissions() == 2 and store.count_submissions("dev") == 2
    assert store.count_submissions("other") == 0


def test_submission_idempotency(store):
    doc = add(store, "sid-1")
    again, created = store.add_submission("dev", 1, "v1", json.loads(json.dumps(ANSWERS)),
                                          "sid-1")
    assert created is False and again == doc
    with pytest.raises(SubmissionConflict) as exc:
        store.add_submission("dev", 1, "v1", {**ANSWERS, "jobs": 16}, "sid-1")
    assert exc.value.receipt == doc["receipt"]
    with pytest.raises(SubmissionConflict):
        store.add_submission("dev", 1, "v2", ANSWERS, "sid-1")
    assert store.count_submissions() == 1


def test_idempotency_ignores_stored_photo_names(store):
    photo = {"file": "3f2a.jpg", "name": "现场.jpg", "size": 1234, "content_type": "image/jpeg"}
    doc = add(store, "sid-1", answers={"photo": photo, "note": "好"})
    retry = {"photo": {**photo, "file": "9c1d.jpg"}, "note": "好"}
    again, created = store.add_submission("dev", 1, "v1", retry, "sid-1")
    assert created is False and again["answers"]["photo"]["file"] == "3f2a.jpg"
    with pytest.raises(SubmissionConflict):
        store.add_submission("dev", 1, "v1", {"photo": {**photo, "size": 1}, "note": "好"},
                             "sid-1")
    assert doc["receipt"] == again["receipt"]


def test_submission_validation_writes_nothing(store, db_path):
    add(store, "sid-1")
    before = db_path.read_bytes()
    for bad in ("", "x" * 129, None, 12):
        with pytest.raises(ValueError):
            store.add_submission("dev", 1, "v1", ANSWERS, bad)
    with pytest.raises(ValueError):
        store.add_submission("dev", 1, "v1", {"x": float("nan")}, "sid-2")
    with pytest.raises(TypeError):
        store.add_submission("dev", 1, "v1", {"x": object()}, "sid-3")
    assert db_path.read_bytes() == before
    assert store.count_submissions() == 1


def test_concurrent_same_submission_threads(db_path):
    stores = [Store(db_path) for _ in range(3)]  # threads of one worker and of other "workers"
    barrier = threading.Barrier(10)
    results, errors = [], []

    def submit(i):
        barrier.wait()
        try:
            results.append(stores[i % 3].add_submission("dev", 1, "v1", ANSWERS, "double-tap"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({doc["receipt"] for doc, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert all(s.count_submissions() == 1 for s in stores)
    for s in stores:
        s.close()


def test_query_submissions(store, monkeypatch):
    base = datetime(2025, 3, 1, 9, 30).astimezone()
    days = iter(range(100))
    monkeypatch.setattr(storage, "_now", lambda: base + timedelta(days=next(days)))
    orgs = ["v1", "v2", "v3"]
    for i in range(30):  # one per day, orgs in rotation
        add(store, f"s{i}", org=orgs[i % 3], answers={"n": i})
    add(store, "other-form", form="acc")

    total, page = store.query_submissions("dev")
    assert total == 30 and [d["answers"]["n"] for d in page] == list(range(29, -1, -1))
    total, page = store.query_submissions("dev", offset=5, limit=3)
    assert total == 30 and [d["answers"]["n"] for d in page] == [24, 23, 22]
    total, page = store.query_submissions("dev", org_codes=["v1", "v3"], limit=4)
    assert total == 20 and [d["answers"]["n"] for d in page] == [29, 27, 26, 24]
    total, page = store.query_submissions("dev", org_codes=[])
    assert (total, page) == (0, [])
    total, page = store.query_submissions("dev", date_from="2025-03-05", date_to=date(2025, 3, 10))
    assert total == 6 and [d["answers"]["n"] for d in page] == [9, 8, 7, 6, 5, 4]
    total, page = store.query_submissions("dev", org_codes=["v2"], date_from=date(2025, 3, 20),
                                          limit=2)
    assert total == 4 and [d["answers"]["n"] for d in page] == [28, 25]
    total, page = store.query_submissions("dev", date_to="2025-03-01")
    assert total == 1 and page[0]["answers"] == {"n": 0}
    assert store.query_submissions("dev", offset=100)[1] == []
    assert store.query_submissions("nope") == (0, [])
    total, page = store.query_submissions(None, org_codes={"v1"}, limit=2)  # any form
    assert total == 11 and [d["form_id"] for d in page] == ["acc", "dev"]
    total, page = store.query_submissions(None, offset=1, limit=1)
    assert total == 31 and page[0]["answers"] == {"n": 29}
    with pytest.raises(ValueError):
        store.query_submissions("dev", date_from="03/01/2025")
    with pytest.raises(ValueError):
        store.query_submissions("dev", offset=-1)
    # the receipt sequence is per day
    assert {d["receipt"][-4:] for d in store.query_submissions("dev")[1]} == {"0001"}


def test_receipt_sequence_per_day(store, monkeypatch):
    moments = iter([datetime(2025, 5, 1, 23, 59, 59).astimezone()] * 3 +
                   [datetime(2025, 5, 2, 0, 0, 1).astimezone()] * 2)
    monkeypatch.setattr(storage, "_now", lambda: next(moments))
    receipts = [add(store, f"s{i}")["receipt"] for i in range(5)]
    assert receipts == ["250501-0001", "250501-0002", "250501-0003", "250502-0001",
                        "250502-0002"]


# ---- persistence and recovery ----------------------------------------------------------------

def fill(store):
    store.add_form_version({"id": "dev", "title": "申报", "fields": []}, "builtin")
    store.replace_orgs(ORGS)
    store.add_user("admin", "h", "admin")
    link = store.create_link("dev", "340828101201")
    store.create_link("dev", "340828101201")
    for i in range(5):
        add(store, f"s{i}", org="340828101201")
    store.revoke_link(link["token"])


def everything(store):
    return (store.list_forms(), store.form_versions("dev"), store.list_orgs(), store.list_users(),
            store.list_links("dev"), store.query_submissions("dev"), store.count_submissions())


def test_reopen_gives_same_data(db_path):
    with Store(db_path) as s:
        fill(s)
        expected = everything(s)
    with Store(db_path) as s:
        assert everything(s) == expected
        assert add(s, "s-next")["id"] == 6
    report = check(db_path)
    assert report["ok"] and report["torn_tail_bytes"] == 0 and report["corrupt"] == []
    assert report["tables"] == {"forms": 1, "links": 2, "orgs": 3, "submissions": 6, "users": 1}


def test_file_format(store, db_path):
    add(store, "s1")
    line = lines(db_path)[0]
    record = json.loads(line)  # each line is one JSON object
    assert set(record) == {"crc", "len", "ops", "raw"}
    assert record["ops"][0][:3] == ["put", "submissions", 1]
    assert record["raw"] == [ANSWERS]
    assert "党建引领" in line.decode("utf-8")  # ensure_ascii=False


def test_encode_decode_roundtrip():
    doc = {"text": "第一行\n第二行\u2028\t\"引号\"", "bad": "\ud800", "n": 1.5, "none": None,
           "nested": {"list": [1, "二", {"三": 3}]}, "raw": RawJSON.dump({"答": ["案"]})}
    line = encode_record([("put", "t", 7, doc), ("del", "t", 3), ("drop", "u")])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    ops = decode_record(line[:-1])
    assert ops[0][:3] == ["put", "t", 7] and ops[0][3] == doc
    assert ops[0][3]["raw"].load() == {"答": ["案"]}
    assert ops[1:] == [["del", "t", 3], ["drop", "u"]]


def test_torn_last_line_is_ignored_then_repaired(db_path):
    with Store(db_path) as s:
        fill(s)
    good = db_path.read_bytes()
    torn = encode_record([("put", "submissions", 99, {"form_id": "dev", "org_code": "x"})])
    with open(db_path, "ab") as f:
        f.write(torn[: len(torn) // 2])  # a writer killed in the middle of its line
    report = check(db_path)
    assert report["ok"] and report["torn_tail_bytes"] == len(torn) // 2
    with Store(db_path) as s:
        assert s.count_submissions() == 5
        add(s, "after-crash")
    data = db_path.read_bytes()
    assert data.startswith(good) and data.count(b"\n") == good.count(b"\n") + 1
    report = check(db_path)
    assert report["ok"] and report["torn_tail_bytes"] == 0
    assert report["tables"]["submissions"] == 6


def test_corrupt_line_in_the_middle_is_detected(db_path, caplog):
    with Store(db_path) as s:
        fill(s)
    data = bytearray(db_path.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 60] ^= 0x01  # bit rot inside the second record
    db_path.write_bytes(bytes(data))
    report = check(db_path)
    assert not report["ok"]
    assert [c["offset"] for c in report["corrupt"]] == [second]
    assert report["corrupt"][0]["reason"] == "checksum mismatch"
    with Store(db_path) as s:  # still opens (the record is skipped and logged)
        assert s.count_submissions() == 5
        with pytest.raises(StorageError):
            s.compact()  # would drop the damaged record for good
    assert "corrupt record" in caplog.text


def test_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    report = check(path)
    assert not report["ok"] and len(report["corrupt"]) == 2
    with pytest.raises(StorageError):
        check(tmp_path / "missing.db")


def test_two_stores_see_each_other(db_path):
    a, b = Store(db_path), Store(db_path)
    add(a, "a1")
    assert b.find_submission("a1") is not None  # immediately, no reopen
    add(b, "b1")
    add(a, "a2")
    b.add_user("admin", "h", "admin")
    assert a.get_user("admin") is not None
    docs = a.query_submissions("dev")[1]
    assert [d["id"] for d in docs] == [3, 2, 1]
    assert len({d["receipt"] for d in docs}) == 3
    assert b.query_submissions("dev") == a.query_submissions("dev")
    a.close()
    b.close()


def test_tinydb_query_cache_sees_other_writers(db_path):
    a, b = LogDB(db_path), LogDB(db_path)
    q = Query()
    assert a.table("t").search(q.x == 1) == []  # cached by TinyDB
    b.table("t").insert({"x": 1})
    assert [dict(d) for d in a.table("t").search(q.x == 1)] == [{"x": 1}]
    a.close()
    b.close()


def test_tinydb_table_api(db_path):
    db = LogDB(db_path)
    t = db.table("t")
    q = Query()
    assert t.insert({"k": "a", "n": 1}) == 1
    assert t.insert_multiple([{"k": "b", "n": 2}, {"k": "c", "n": 3}]) == [2, 3]
    assert t.update({"n": 20}, q.k == "b") == [2]
    assert t.update(lambda d: d.update(n=d["n"] + 1), doc_ids=[1, 99]) == [1]
    assert t.update_multiple([({"tag": "x"}, q.n > 2), ({"big": True}, q.n > 10)]) == [2, 2, 3]
    assert t.upsert({"k": "c", "n": 30}, q.k == "c") == [3]
    assert t.upsert({"k": "d", "n": 4}, q.k == "d") == [4]
    assert t.upsert(Document({"k": "e"}, doc_id=10)) == [10]
    with pytest.raises(ValueError):
        t.insert(Document({"k": "dup"}, doc_id=10))
    assert t.remove(q.k == "a") == [1]
    assert t.remove(doc_ids=[4, 77]) == [4]
    assert t.get(doc_id=2) == {"k": "b", "n": 20, "tag": "x", "big": True}
    assert t.get(doc_id=2).doc_id == 2 and t.get(doc_id=1) is None
    assert [d.doc_id for d in t.get(doc_ids=[2, 3, 5])] == [2, 3]
    assert t.contains(q.k == "c") and t.contains(doc_id=10) and not t.contains(doc_id=1)
    assert t.count(q.n.exists()) == 2 and len(t) == 3
    assert t.insert({"k": "f"}) == 11  # max id + 1
    db.table("u").insert({"x": 1})
    assert db.tables() == {"t", "u"}
    reopened = LogDB(db_path)
    assert [dict(d) for d in reopened.table("t").all()] == [dict(d) for d in t.all()]
    t.truncate()
    assert len(t) == 0 and len(reopened.table("t")) == 0
    db.drop_table("u")
    assert reopened.tables() == set()
    with pytest.raises(NotImplementedError):
        db.storage.write({})
    db.close()
    reopened.close()


def test_transaction_is_one_record(db_path):
    db = LogDB(db_path)
    with db.transaction() as txn:
        db.table("a").insert({"x": 1})
        db.table("b").insert({"y": 2})
        assert db.table("a").insert({"x": 2}) == 2  # ids see the pending inserts
        assert txn.next_id("a") == 3
    assert len(lines(db_path)) == 2  # one line + the empty string after the last newline
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.table("a").insert({"x": 3})
            raise RuntimeError("abort")
    assert len(db.table("a")) == 2 and len(lines(db_path)) == 2
    db.close()


# ---- replay: block decoding must agree with decode_record line by line ------------------------

def framed(body: bytes, raws=(), lens=None, raw_open=b',"raw":[', raw_close=b"]",
           end=b"}") -> bytes:
    """A line with a correct checksum around any body and payloads (lens: lie about them)."""
    lens = lens if lens is not None else [len(body)] + [len(r) for r in raws]
    tail = b'"len":[' + b",".join(b"%d" % n for n in lens) + b'],"ops":' + body
    if raws:
        tail += raw_open + b",".join(raws) + raw_close
    tail += end
    return b'{"crc":"%08x",' % zlib.crc32(tail) + tail + b"\n"


def reference_replay(data: bytes):
    """The simplest replay: decode_record on each complete line, applied in order."""
    tables, corrupt, pos = {}, [], 0
    while (nl := data.find(b"\n", pos)) >= 0:
        try:
            ops = decode_record(data[pos:nl])
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
        pos = nl + 1
    return tables, corrupt


def submission(i, org="v1", form="dev"):
    return ("put", "submissions", i, {
        "form_id": form, "form_version": 1, "org_code": org, "receipt": f"250501-{i:04d}",
        "submitted_at": "2025-05-01T08:00:00+08:00", "submission_id": f"s{i}", "token": None,
        "files": [], "answers": RawJSON.dump({"n": i, "名称": "第\n行" * (i % 3)})})


def mixed_log() -> bytes:
    """Every kind of line the block decoder must either decode exactly or leave to the line by
    line path: runs of single submissions, records without raw values, multi-operation and
    bulk records, replaced and deleted documents, damaged and deceptive lines, a torn tail."""
    out = [encode_record([submission(i, org=f"v{i % 7}")]) for i in range(1, 400)]
    bad = bytearray(out[10])
    bad[100] ^= 0x01  # bit rot: checksum mismatch in the middle of a uniform run
    out[10] = bytes(bad)
    # Lines with a right checksum that are still not records, each amid good ones (the block
    # decoder must refuse them, and the line by line one report them)
    body = json.dumps([["put", "submissions", 1000, {"form_id": "dev", "answers": None},
                        ["answers"]]], separators=(",", ":")).encode()
    deceptive = [
        framed(body, [b'{"a":1}'], lens=[len(body), 5]),  # lying about a length
        framed(body, [b'{"a":1}', b'{"b":2}']),  # one raw key, two payloads
        framed(body.replace(b'["answers"]', b'["answers","x"]'), [b'{"a":1}']),  # the reverse
        framed(b'{"not":"a list"}'),
        framed(body.replace(b"1000", b'"x"'), [b'{"a":1}']),  # id not an int
        framed(body, [b'{"a":1}]}junk'], lens=[len(body), 7]),  # bytes after the payloads
        framed(body, [b'{"a":1}'], raw_open=b',"wat":['),
        framed(body, [b'{"a":1}'], raw_close=b")"),
        framed(body + b"," + body, [b'{"a":1}']),  # two values
        framed(body.replace(b'"put"', b'"pot"'), [b'{"a":1}']),
    ]
    for i, line in enumerate(deceptive):
        assert line.endswith(b"}\n") and line.count(b"\n") == 1
        out[30 + 30 * i] = line
    out += [encode_record([("put", "other", 10**4 + i, {"answers": RawJSON(b"[%d]" % i)})])
            for i in range(1, 60)]  # the same shape, another table
    out += [framed(b'[["put",5,%d,{}]]' % i) for i in range(30)]  # a table name not a string
    links = [encode_record([("put", "links", i, {"token": f"t{i}", "form_id": "dev",
                                                 "org_code": "v1", "revoked_at": None})])
             for i in range(1, 40)]
    link = b'[["put","links",99,{"token":"t99"}]]'
    links[10] = framed(link, end=b")")
    links[20] = framed(link, lens=[len(link)], end=b"}junk}")
    links[30] = framed(b'[["put","links",99,[1,2]]]')  # not a document
    out += links
    out.append(encode_record([("drop", "orgs")] + [("put", "orgs", i, {"code": f"o{i}"})
                                                   for i in range(1, 5)]))
    out.append(encode_record([submission(i, org="bulk") for i in range(120, 900)]))
    out.append(encode_record([submission(5, org="replaced")]))
    out.append(encode_record([("del", "submissions", 7)]))
    out.append(encode_record([("put", "submissions", 901, {"a": RawJSON(b"[1]"),
                                                           "b": RawJSON(b"[2]")})]))
    out += [encode_record([submission(i, form="acc")]) for i in range(902, 1000)]
    out.append(encode_record([submission(1000)])[:-30])  # torn
    return b"".join(out)


@pytest.mark.parametrize("chunk", [64, 1000, 8192, None])
def test_replay_agrees_with_line_by_line_decoding(tmp_path, monkeypatch, chunk):
    if chunk:
        monkeypatch.setattr(logdb, "_READ_CHUNK", chunk)  # 64: every line outgrows the buffer
    fast = []
    split_fast = logdb._split_lines_fast
    monkeypatch.setattr(logdb, "_split_lines_fast",
                        lambda *args: fast.append(split_fast(*args)) or fast[-1])
    data = mixed_log()
    path = tmp_path / "t.db"
    path.write_bytes(data)
    tables, corrupt = reference_replay(data)
    assert len(corrupt) == 44  # the bit rot and the 43 deceptive lines
    storage_ = LogStorage(path, readonly=True)
    assert storage_.tables == tables
    assert [c["offset"] for c in storage_.corrupt] == corrupt
    assert storage_._end == data.rindex(b"\n") + 1
    for name, table in tables.items():
        for doc_id, doc in table.items():
            for key, value in doc.items():
                assert (type(value) is RawJSON) == (key in ("answers", "a", "b"))
                # the replay leaves raw payloads in the file, equal to the bytes decoded
                assert (type(storage_.tables[name][doc_id][key]) is RawRef) == \
                    (type(value) is RawJSON)
    if chunk in (1000, 8192):  # blocks of several lines: both ways taken
        assert None in fast and any(result is not None for result in fast)
    storage_.close()


def test_catch_up_agrees_with_line_by_line_decoding(tmp_path):
    data = mixed_log()
    path = tmp_path / "t.db"
    path.write_bytes(b"")
    storage_ = LogStorage(path, readonly=True)
    pos = 0
    for step in (1, 2, 3, 50, 1, 7000, 100_000, 10**7):  # appended bit by bit, lines cut anywhere
        with open(path, "ab") as f:
            f.write(data[pos:pos + step])
        pos += step
        storage_.catch_up()
        tables, corrupt = reference_replay(data[:pos])
        assert storage_.tables == tables
        assert [c["offset"] for c in storage_.corrupt] == corrupt
    storage_.close()


def index_state(store):
    idx = store._idx
    days = {r.partition("-")[0] for r in idx.sub_by_receipt}
    return (idx.sub_by_sid, idx.sub_by_receipt,
            {k: v for k, v in idx.sub_by_form.items() if v},
            {k: v for k, v in idx.sub_by_form_org.items() if v},
            {day: idx.last_seq(day) for day in days}, idx.link_by_token, idx.active_link)


def test_indexes_follow_loads_catch_ups_and_writes(db_path, monkeypatch):
    moments = iter([datetime(2025, 5, 1, 9).astimezone()] * 30
                   + [datetime(2025, 5, 2, 9).astimezone()] * 1000)
    monkeypatch.setattr(storage, "_now", lambda: next(moments))
    a, b = Store(db_path), Store(db_path)
    fill(a)
    for i in range(20):
        add(b, f"b{i}", org=f"v{i % 3}", form=("dev", "acc")[i % 2])
    early = Store(db_path)
    index_state(early)  # built now, then kept current
    b.import_submissions(
        {"form_id": "acc", "form_version": 1, "org_code": f"v{i % 4}", "answers": {"i": i},
         "submitted_at": f"2025-04-{1 + i % 28:02d}T08:00:00+08:00"} for i in range(2500))
    b.create_link("acc", "v1")
    for i in range(5):
        add(a, f"a{i}", org="v2")
    with Store(db_path) as fresh:  # every index built from scratch
        expected = index_state(fresh)
    for s in (a, b, early):
        with s._storage.reading():
            assert index_state(s) == expected
    assert expected[4]["250502"] == 5 and expected[4]["250401"] == 90
    assert add(a, "last")["receipt"] == "250502-0006"
    assert add(b, "later")["receipt"] == "250502-0007"
    assert early.find_submission("later")["receipt"] == "250502-0007"
    assert a.query_submissions("acc", org_codes=["v1"])[0] == 625 + 4  # b1, b7, b13, b19
    b.compact()  # a new file: the others reload, their indexes start again
    with Store(db_path) as fresh:
        expected = index_state(fresh)
    for s in (a, b, early):
        with s._storage.reading():
            assert index_state(s) == expected
    assert a._storage.reloads == early._storage.reloads == 2
    for s in (a, b, early):
        s.close()


def test_receipt_sequence_of_a_day_not_looked_up_yet():
    idx = Indexes()
    idx.reset({"submissions": {i: {"receipt": f"250501-{i:04d}"} for i in range(1, 6)}})
    assert idx.last_seq("250502") == 0  # builds the receipt index, looks up one day
    idx.changed("submissions", 6, None, {"receipt": "250501-0002"})  # not the highest
    idx.added("submissions", [7, 8], [{"receipt": "250502-0001"}, {"receipt": 5}])
    assert idx.last_seq("250501") == 5 and idx.last_seq("250502") == 1
    for day in range(3, 30):  # many days: all of them at once
        assert idx.last_seq(f"2505{day:02d}") == 0
    idx.changed("submissions", 9, None, {"receipt": "250530-0007"})
    assert idx.last_seq("250530") == 7 and idx.last_seq("250501") == 5


def test_documents_share_field_names(db_path):
    with Store(db_path) as s:
        for i in range(3):
            add(s, f"s{i}", org="340828101201")
    with Store(db_path) as s:
        docs = list(s._storage.tables["submissions"].values())
        assert all(k1 is k2 for k1, k2 in zip(docs[0], docs[2]))  # loaded in one block
        add(s, "s3", org="340828101201")  # one's own write
        with Store(db_path) as other:
            add(other, "s4", org="340828101201")
        assert s.count_submissions() == 5  # another's write, caught up
        with Store(db_path) as other:
            for i in range(5, 8):
                add(other, f"s{i}", org="340828101201")
        assert s.count_submissions() == 8  # three at once
        for doc_id in range(4, 9):
            assert all(k is sys.intern(k) for k in s._storage.tables["submissions"][doc_id])
        # form and organization values are shared too, whichever way they were loaded
        docs = list(s._storage.tables["submissions"].values())
        assert all(d["org_code"] is docs[0]["org_code"] for d in docs)
        assert all(d["form_id"] is docs[0]["form_id"] for d in docs)


def test_imported_documents_share_field_names(db_path):
    """An import writes thousands of documents per line; loaded back, they share one copy of
    each field name (through the JSON scanner's memo), like documents written one by one."""
    with Store(db_path) as s:
        docs = [{"form_id": "dev", "form_version": 1, "org_code": "v1", "answers": {"a": i},
                 "submitted_at": f"2025-05-01T08:{i // 60:02d}:{i % 60:02d}+08:00"}
                for i in range(300)]
        assert s.import_submissions(docs, batch=100) == 300
    with Store(db_path) as s:
        loaded = list(s._storage.tables["submissions"].values())
        assert len(loaded) == 300
        for doc in loaded[1:]:
            assert list(doc) == list(loaded[0])
            assert all(k1 is k2 for k1, k2 in zip(doc, loaded[0]))


def typed(value):
    """value with the type of every part made visible (raw payloads as their bytes)."""
    if isinstance(value, (RawJSON, RawRef)):
        return ("raw", bytes(value))
    if type(value) is dict:
        return ("dict", [(type(k), k, typed(v)) for k, v in value.items()])
    if type(value) is list:
        return ("list", [typed(v) for v in value])
    return (type(value), value)


def test_write_applies_what_a_replay_reads(db_path):
    """A write applies the operations it encoded instead of decoding the line it wrote: memory
    must still be exactly what replaying the file gives (values, types, key order, answers)."""
    s = Store(db_path)
    s.add_form_version({"id": "dev", "fields": [], "n": 1.5, "big": 10**30}, "builtin")
    s.replace_orgs([{"code": "v1", "name": "一村", "parent_code": None, "kind": "village"}])
    files = [{"file": "a.jpg", "name": "照片", "size": 3, "content_type": "image/jpeg"}]
    doc, _ = s.add_submission("dev", 1, "v1", {"x": ("tuple", 1), 2: "int key"}, "s1", files=files)
    assert doc["answers"] == {"x": ["tuple", 1], "2": "int key"}  # as JSON gives it back
    doc, _ = s.add_submission("dev", 1, "v1", {"a": [1, -0.0, None, True, "\ud800"]}, "s2")
    files.append("mutated after the call")  # memory holds its own copy
    s.create_link("dev", "v1")
    s.create_link("dev", "v1")  # revokes the first: an update and an insert in one record
    db = s._db
    db.table("odd").insert({"tuple": (1, 2), "nested": {"k": (3,)}, "s": "x"})  # decoded
    db.table("odd").insert({"plain": [{"a": {}}], "f": 1e-7})
    db.table("odd").insert({"gone": 1})
    db.table("odd").remove(doc_ids=[3])
    memory = {name: {i: typed(d) for i, d in t.items()} for name, t in s._storage.tables.items()}
    assert all(type(d["answers"]) is RawRef for d in s._storage.tables["submissions"].values())
    replayed = LogStorage(db_path, readonly=True)
    assert memory == {name: {i: typed(d) for i, d in t.items()}
                      for name, t in replayed.tables.items()}
    for name, table in s._storage.tables.items():  # field names interned either way
        for doc in table.values():
            assert all(k is sys.intern(k) for k in doc)
    replayed.close()
    s.close()


def test_answers_stay_on_disk(db_path):
    with Store(db_path) as s:
        add(s, "s1")
    with Store(db_path) as s:
        add(s, "s2")
        for doc in s._storage.tables["submissions"].values():
            ref = doc["answers"]
            assert type(ref) is RawRef and ref.load() == ANSWERS
            assert ref == RawJSON.dump(ANSWERS) and RawJSON.dump(ANSWERS) == ref
            assert ref != RawJSON.dump({"other": 1})
            assert db_path.read_bytes()[ref.offset:ref.offset + ref.length] == bytes(ref)
        assert add(s, "s1")["answers"] == ANSWERS  # idempotent retry compares the bytes


@pytest.mark.parametrize("replace", ["restore", "compact_other", "compact_self"])
def test_references_keep_reading_a_replaced_file(db_path, tmp_path, replace):
    """An export iterating while the file is replaced (restore, compaction) keeps reading the
    version it started from; that file's descriptor is closed once nothing refers to it."""
    import gc
    import weakref
    with Store(tmp_path / "other.db") as other:
        add(other, "x1", answers={"from": "backup"})
        other.backup(tmp_path / "backup.db")
    s = Store(db_path)
    for i in range(5):
        add(s, f"s{i}", answers={"i": i, "pad": "填充" * 50})
    handle = weakref.ref(s._storage._file)
    fd = s._storage._file.fd
    inode = os.fstat(fd).st_ino
    total, docs = s.iter_submissions(None)
    assert next(docs)["answers"]["i"] == 0
    if replace == "restore":
        restore(tmp_path / "backup.db", db_path, force=True)
    elif replace == "compact_other":
        compact(db_path)
    else:
        s.compact()
    assert s.count_submissions() == (1 if replace == "restore" else 5)  # caught up
    assert s._storage._file is not handle() and handle() is not None  # still read by docs
    assert [d["answers"]["i"] for d in docs] == [1, 2, 3, 4]
    del docs
    gc.collect()
    assert handle() is None  # the last reference gone: the old file's descriptor closed
    try:
        assert os.fstat(fd).st_ino != inode  # (the number may have been reused since)
    except OSError:
        pass
    after = s.query_submissions(None)[1]
    assert [d["answers"] for d in after][-1] == ({"from": "backup"} if replace == "restore"
                                                 else {"i": 0, "pad": "填充" * 50})
    s.close()


# ---- backup, restore, compaction -------------------------------------------------------------

def test_backup_and_restore(db_path, tmp_path):
    with Store(db_path) as s:
        fill(s)
        expected = everything(s)
        info = s.backup(tmp_path / "b1.db")
    assert info["tables"]["submissions"] == 5
    assert check(tmp_path / "b1.db")["ok"]
    dated = backup(db_path, tmp_path)  # a directory: dated file name
    assert re.fullmatch(r"taizhang-\d{8}-\d{6}\.db", os.path.basename(dated["path"]))
    fresh = tmp_path / "fresh" / "taizhang.db"
    restore(tmp_path / "b1.db", fresh)
    with Store(fresh) as s:
        assert everything(s) == expected
    with pytest.raises(RestoreRefused):
        restore(dated["path"], fresh)  # the target holds data
    restore(dated["path"], fresh, force=True)
    with pytest.raises(StorageError):
        backup(db_path, db_path)


def test_restore_is_seen_by_live_stores(db_path, tmp_path):
    a, b = Store(db_path), Store(db_path)
    add(a, "before")
    a.backup(tmp_path / "snap.db")
    add(a, "after-1")
    add(b, "after-2")
    ino = os.stat(db_path).st_ino
    restore(tmp_path / "snap.db", db_path, force=True)
    assert os.stat(db_path).st_ino != ino  # installed by rename
    for s in (a, b):
        assert s.count_submissions() == 1 and s.find_submission("after-1") is None
    assert add(b, "again")["id"] == 2
    assert a.find_submission("again")["id"] == 2
    a.close()
    b.close()


def test_restore_refuses_a_corrupt_backup(db_path, tmp_path):
    with Store(db_path) as s:
        fill(s)
        s.backup(tmp_path / "b.db")
    data = bytearray((tmp_path / "b.db").read_bytes())
    data[30] ^= 0x01
    (tmp_path / "b.db").write_bytes(bytes(data))
    with pytest.raises(StorageError):
        restore(tmp_path / "b.db", tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(StorageError):
        restore(tmp_path / "missing.db", tmp_path / "new.db")


def test_compact(db_path):
    a, b = Store(db_path), Store(db_path)
    fill(a)
    for i in range(20):
        a.set_password("admin", f"h{i}")
    expected = everything(a)
    size = os.path.getsize(db_path)
    info = compact(db_path)
    assert info["bytes_after"] < size == info["bytes_before"]
    assert check(db_path)["ok"]
    assert everything(b) == expected  # reloaded on the inode change
    assert add(a, "next")["id"] == 6
    assert b.find_submission("next") is not None
    b.compact()
    assert everything(a) == everything(b)
    a.close()
    b.close()


# ---- fault injection -------------------------------------------------------------------------

def failing(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


WRITES = {
    "add_submission": lambda s: s.add_submission("dev", 1, "v1", ANSWERS, "new-sid"),
    "replace_orgs": lambda s: s.replace_orgs(ORGS),
    "create_link": lambda s: s.create_link("dev", "v9"),
    "add_user": lambda s: s.add_user("new-user", "h", "admin"),
    "add_form_version": lambda s: s.add_form_version({"id": "dev", "fields": []}, "upload"),
}


@pytest.mark.parametrize("call,code", [("write", errno.ENOSPC), ("write", errno.EACCES),
                                       ("fsync", errno.ENOSPC), ("fsync", errno.EIO)])
@pytest.mark.parametrize("operation", sorted(WRITES))
def test_failed_write_changes_nothing(db_path, monkeypatch, call, code, operation):
    s = Store(db_path)
    fill(s)
    before_bytes, before_state = db_path.read_bytes(), everything(s)
    with monkeypatch.context() as m:
        m.setattr(os, call, failing(code))
        with pytest.raises(StorageError) as exc:
            WRITES[operation](s)
    assert str(exc.value).startswith("数据保存失败,请稍后重试")
    assert db_path.read_bytes() == before_bytes
    assert everything(s) == before_state
    with Store(db_path) as other:
        assert everything(other) == before_state
    WRITES[operation](s)  # the next write works
    assert len(db_path.read_bytes()) > len(before_bytes)
    assert check(db_path)["ok"]
    s.close()


def test_short_write_is_rolled_back(store, db_path, monkeypatch):
    add(store, "first")
    before = db_path.read_bytes()
    real_write = os.write
    calls = []

    def short_then_full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:10])  # the kernel accepted only 10 bytes
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", short_then_full_disk)
    with pytest.raises(StorageError) as exc:
        add(store, "second")
    monkeypatch.undo()
    assert "磁盘空间不足" in str(exc.value)
    assert len(calls) == 2 and db_path.read_bytes() == before
    assert store.find_submission("second") is None
    assert add(store, "second")["id"] == 2


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_failed_backup_leaves_nothing(store, tmp_path, monkeypatch, call):
    add(store, "s1")
    with monkeypatch.context() as m:
        m.setattr(os, call, failing(errno.ENOSPC))
        with pytest.raises(StorageError):
            store.backup(tmp_path / "b.db")
    assert not (tmp_path / "b.db").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temp file left behind
    assert check(store.backup(tmp_path / "b.db")["path"])["ok"]


@pytest.mark.parametrize("call", ["write", "fsync", "replace"])
def test_failed_compaction_changes_nothing(store, db_path, monkeypatch, call):
    fill(store)
    before_bytes, before_state = db_path.read_bytes(), everything(store)
    with monkeypatch.context() as m:
        m.setattr(os, call, failing(errno.ENOSPC))
        with pytest.raises(StorageError):
            store.compact()
    assert db_path.read_bytes() == before_bytes
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["taizhang.db", "taizhang.db.lock"]
    assert everything(store) == before_state
    add(store, "after")
    assert check(db_path)["ok"]


def test_unwritable_directory_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing(errno.EIO))
    with pytest.raises(StorageError) as exc:
        Store(tmp_path / "new" / "taizhang.db")
    assert "磁盘读写错误" in str(exc.value)


def test_deleted_database_file_is_an_error(store, db_path):
    add(store, "s1")
    db_path.unlink()
    with pytest.raises(StorageError):
        store.count_submissions()
