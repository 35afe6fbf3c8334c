"""The storage contract (storage.contract): one test body for every backend.

Each test runs on TinyDB and on a real PostgreSQL server (fixtures in conftest.py). What passes
here is what the service may rely on, whichever database a deployment runs on.
"""
import json
import multiprocessing
import re
import threading
import time
import zipfile
from multiprocessing.pool import ThreadPool
from datetime import date, datetime, timedelta

import pytest

from storage import (DraftConflict, DuplicateError, RestoreRefused, StorageError,
                     SubmissionConflict, TinyStore, common)
from storage.contract import KINDS, TABLES, Snapshot, Store
from storage.portable import check_backup, open_backup, write_backup

ANSWERS = {"project_name": "党建引领\"小冬桃\"助力乡村振兴", "income": "12.5", "jobs": 15,
           "committed": True, "steps": [{"month": "2025-03", "task": "选址", "owner": "张三"}]}
ORGS = [
    {"code": "340828", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "340828101", "name": "响肠镇", "parent_code": "340828", "kind": "township"},
    {"code": "340828101201", "name": "千佛塔村", "parent_code": "340828101", "kind": "village"},
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + "照片".encode() * 100


def add(store, sid, org="v1", form="dev", answers=None):
    doc, _created = store.add_submission(form, 1, org, answers or ANSWERS, sid, token="tok")
    return doc


class Clock:
    """The stores' clock (storage.common.now), moved by hand."""

    def __init__(self):
        self.now = datetime(2025, 5, 1, 9, 30).astimezone()

    def set(self, *args):
        self.now = datetime(*args).astimezone()

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(common, "now", lambda: clock.now)
    return clock


def fill(store):
    """A bit of everything (the clock is wherever the test put it)."""
    store.add_form_version({"id": "dev", "title": "申报", "fields": []}, "builtin")
    store.add_form_version({"id": "dev", "title": "申报(修订)", "fields": []}, "upload",
                           user="admin")
    store.replace_orgs(ORGS)
    store.add_user("admin", "scrypt:h", "admin")
    link = store.create_link("dev", "340828101201")
    store.create_link("dev", "340828101201")
    for i in range(5):
        add(store, f"s{i}", org="340828101201")
    store.revoke_link(link["token"])


def everything(store):
    """Every document the contract lets a caller see (photos aside)."""
    return (store.list_forms(), store.form_versions("dev"), store.list_orgs(),
            store.list_users(), store.list_links("dev"), store.query_submissions(None),
            store.count_submissions(), store.submission_counts("dev"),
            as_instants(store.query_audit()[0]))


def instant(value):
    return common.parse_stamp(value) if isinstance(value, str) else value


TIME_KEYS = ("created_at", "submitted_at", "revoked_at", "expires_at", "at", "updated_at")


def as_instants(docs):
    """Documents with their times as datetimes: stores on different hosts may write one
    instant with different offsets."""
    return [{k: (instant(v) if k in TIME_KEYS else v) for k, v in doc.items()} for doc in docs]


# ---- the protocol ------------------------------------------------------------------------------

def test_store_satisfies_the_protocol(store, backend):
    assert isinstance(store, Store) and store.backend == backend
    with store.snapshot() as snap:
        assert isinstance(snap, Snapshot)
        assert snap.counts() == {kind: 0 for kind in KINDS} | {"photos": 0}
    store.warm_up()


# ---- forms -------------------------------------------------------------------------------------

def test_form_versions(store):
    first = store.add_form_version({"id": "dev", "title": "申报", "fields": []}, "builtin")
    assert first["version"] == 1 and first["schema"]["version"] == 1
    assert first["source"] == "builtin" and first["user"] is None and first["id"] == "dev"
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    second = store.add_form_version({"id": "dev", "title": "申报(修订)", "fields": []},
                                    "upload", user="admin")
    store.add_form_version({"id": "acc", "title": "验收", "fields": []}, "builtin")
    assert second["version"] == 2 and second["user"] == "admin"
    assert store.get_form("dev") == second
    assert store.get_form("dev", 1) == first
    assert store.get_form("dev", 3) is None and store.get_form("nope") is None
    assert store.form_versions("dev") == [first, second]
    assert store.form_versions("nope") == []
    assert [(f["id"], f["version"]) for f in store.list_forms()] == [("acc", 1), ("dev", 2)]


def test_form_versions_are_never_reused(store, second_store):
    versions = []

    def add_versions(s):
        for _ in range(4):
            versions.append(s.add_form_version({"id": "dev", "fields": []}, "upload")["version"])

    threads = [threading.Thread(target=add_versions, args=(s,))
               for s in (store, second_store, store, second_store)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == list(range(1, 17))
    assert [f["version"] for f in second_store.form_versions("dev")] == list(range(1, 17))


def test_list_forms_orders_by_id(store):
    for form_id in ("b_form", "a_form", "c_form", "a_form_2"):
        store.add_form_version({"id": form_id, "fields": []}, "builtin")
    assert [f["id"] for f in store.list_forms()] == ["a_form", "a_form_2", "b_form", "c_form"]


def test_returned_documents_are_copies(store):
    schema = {"id": "dev", "title": "申报", "fields": [{"name": "a", "type": "text"}]}
    store.add_form_version(schema, "builtin")
    assert "version" not in schema  # the caller's dict is not touched
    got = store.get_form("dev")
    got["schema"]["fields"].append("junk")
    assert store.get_form("dev")["schema"]["fields"] == [{"name": "a", "type": "text"}]
    store.replace_orgs(ORGS)
    store.list_orgs()[0]["name"] = "junk"
    assert store.get_org("340828")["name"] == "岳西县"
    doc = add(store, "s1")
    doc["answers"]["steps"].clear()
    assert store.get_submission(doc["receipt"])["answers"] == ANSWERS


# ---- organizations -----------------------------------------------------------------------------

def test_orgs(store):
    assert store.replace_orgs(ORGS) == 3
    assert store.list_orgs() == ORGS
    assert store.get_org("340828101")["name"] == "响肠镇"
    assert store.upsert_orgs([
        {"code": "340828101", "name": "响肠镇党委", "parent_code": "340828", "kind": "township"},
        {"code": "340828102", "name": "菖蒲镇", "parent_code": "340828", "kind": "township"},
    ]) == 2
    assert store.get_org("340828101")["name"] == "响肠镇党委"
    # the updated one keeps its place, the new one comes last
    assert [o["code"] for o in store.list_orgs()] == ["340828", "340828101", "340828101201",
                                                     "340828102"]
    assert store.delete_org("340828102") is True
    assert store.delete_org("340828102") is False
    assert store.get_org("340828102") is None
    store.replace_orgs(ORGS[:1])
    assert [o["code"] for o in store.list_orgs()] == ["340828"]


def test_orgs_keep_the_order_given_and_extra_keys(store, second_store):
    rows = [{"code": f"c{i:03d}", "name": f"村{i}", "parent_code": "340828101",
             "kind": "village"} for i in range(200, 0, -1)]  # not in code order
    store.upsert_orgs(rows)
    store.upsert_orgs([{"code": "c150", "name": "新名", "contact": "张三", "phone": "13800000000"},
                       {"code": "a000", "name": "最后加的"}])
    orgs = second_store.list_orgs()
    assert [o["code"] for o in orgs] == [r["code"] for r in rows] + ["a000"]
    assert second_store.get_org("c150") == {"code": "c150", "name": "新名", "parent_code": None,
                                            "kind": None, "contact": "张三",
                                            "phone": "13800000000"}


def test_org_writes_are_all_or_nothing(store):
    store.replace_orgs(ORGS)
    with pytest.raises(DuplicateError):
        store.replace_orgs([{"code": "x1", "name": "甲"}, {"code": "x1", "name": "乙"}])
    with pytest.raises(DuplicateError):
        store.upsert_orgs(ORGS + [ORGS[0]])
    with pytest.raises(ValueError):
        store.upsert_orgs([{"code": "ok", "name": "好"}, {"code": "", "name": "坏"}])
    with pytest.raises(ValueError):
        store.replace_orgs([{"code": "ok", "name": "坏\x00名"}])
    assert store.list_orgs() == ORGS


# ---- users and sessions ------------------------------------------------------------------------

def test_users(store, second_store):
    user = store.add_user("admin", "scrypt:hash1", "admin")
    assert user["username"] == "admin" and user["role"] == "admin"
    assert user["password_hash"] == "scrypt:hash1" and common.parse_stamp(user["created_at"])
    store.add_user("clerk", "scrypt:hash2", "viewer")
    with pytest.raises(DuplicateError):
        second_store.add_user("admin", "x", "admin")
    assert second_store.get_user("admin") == user
    assert store.get_user("ghost") is None
    assert [u["username"] for u in store.list_users()] == ["admin", "clerk"]
    assert store.set_password("admin", "scrypt:hash3")["password_hash"] == "scrypt:hash3"
    assert second_store.get_user("admin")["password_hash"] == "scrypt:hash3"
    assert store.set_password("ghost", "x") is None
    with pytest.raises(ValueError):
        store.add_user("", "x", "admin")


def test_sessions(store, second_store, clock):
    store.add_user("admin", "h", "admin")
    session = store.create_session("admin", timedelta(hours=8))
    assert len(session["id"]) >= 43  # 32 random bytes
    assert session["username"] == "admin"
    assert (common.parse_stamp(session["expires_at"]) - common.parse_stamp(session["created_at"])
            == timedelta(hours=8))
    assert second_store.get_session(session["id"]) == session
    other = second_store.create_session("admin", timedelta(hours=1))
    assert other["id"] != session["id"]
    clock.advance(hours=2)  # `other` has expired
    assert store.get_session(other["id"]) is None
    assert store.get_session(session["id"]) == session
    assert store.end_session(other["id"]) is False  # not active any more
    assert second_store.end_session(session["id"]) is True
    assert store.get_session(session["id"]) is None
    assert store.end_session(session["id"]) is False
    assert store.get_session("never-was") is None and store.get_session("") is None
    with pytest.raises(ValueError):
        store.create_session("admin", timedelta(0))


def test_end_user_sessions_counts_the_active_ones(store, second_store, clock):
    short = store.create_session("admin", timedelta(minutes=5))
    longer = [second_store.create_session("admin", timedelta(hours=1)) for _ in range(2)]
    mine = store.create_session("clerk", timedelta(hours=1))
    clock.advance(minutes=10)
    assert second_store.end_user_sessions("admin") == 2
    assert all(store.get_session(s["id"]) is None for s in [short, *longer])
    assert store.get_session(mine["id"]) == mine
    assert store.end_user_sessions("nobody") == 0


def test_set_password_ends_every_session_of_that_user(store, second_store):
    store.add_user("admin", "h1", "admin")
    store.add_user("clerk", "h2", "viewer")
    sessions = [store.create_session("admin", timedelta(hours=1)),
                second_store.create_session("admin", timedelta(hours=1))]
    clerk = store.create_session("clerk", timedelta(hours=1))
    second_store.set_password("admin", "h3")
    assert [store.get_session(s["id"]) for s in sessions] == [None, None]
    assert store.get_session(clerk["id"]) == clerk


def test_login_failures_are_counted_across_stores(store, second_store):
    t0 = datetime(2025, 5, 1, 9, 0).astimezone()
    store.record_login_failure("admin|1.2.3.4", t0)
    second_store.record_login_failure("admin|1.2.3.4", t0 + timedelta(minutes=1))
    store.record_login_failure("admin|1.2.3.4", t0 + timedelta(minutes=2))
    store.record_login_failure("other", t0 + timedelta(minutes=2))
    expected = [t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=2)]
    for s in (store, second_store):
        assert s.login_failures("admin|1.2.3.4", t0) == expected
        assert s.login_failures("admin|1.2.3.4", t0 + timedelta(seconds=30)) == expected[1:]
        assert all(t.tzinfo is not None for t in s.login_failures("admin|1.2.3.4", t0))
    assert store.login_failures("nobody", t0) == []
    # older than a day: purged by the next failure
    later = t0 + timedelta(days=2)
    second_store.record_login_failure("admin|1.2.3.4", later)
    assert store.login_failures("admin|1.2.3.4", t0 - timedelta(days=1)) == [later]


# ---- rate-limit counters -----------------------------------------------------------------------

def test_counters_count_a_fixed_window_across_stores(store, second_store):
    before = time.time()
    count, ends = store.hit_counter("addr|link", 60)
    assert count == 1 and before + 59 < ends < time.time() + 61
    assert second_store.hit_counter("addr|link", 60) == (2, ends)  # the window does not move
    assert store.hit_counter("addr|link", 60, amount=3) == (5, ends)
    assert second_store.get_counter("addr|link") == store.get_counter("addr|link") == (5, ends)
    assert store.hit_counter("other", 60)[0] == 1
    assert store.get_counter("nothing") is None
    second_store.clear_counter("addr|link")
    assert store.get_counter("addr|link") is None
    store.clear_counter("addr|link")  # nothing to clear: no error
    assert store.hit_counter("addr|link", 60)[0] == 1
    assert store.get_counter("other")[0] == 1


def test_a_counter_starts_again_when_its_window_ends(store, second_store):
    first_end = store.hit_counter("k", 0.5)[1]
    assert store.hit_counter("k", 0.5)[0] == 2
    time.sleep(max(first_end - time.time(), 0) + 0.2)
    assert second_store.get_counter("k") is None
    count, ends = second_store.hit_counter("k", 30)
    assert count == 1 and ends > first_end + 20


def test_concurrent_hits_are_each_counted_once(store, make_store):
    stores = [store] + [make_store() for _ in range(3)]
    with ThreadPool(8) as pool:
        counts = pool.map(lambda n: stores[n % 4].hit_counter("busy", 60)[0], range(80))
    assert sorted(counts) == list(range(1, 81))
    assert store.get_counter("busy")[0] == 80


def test_drop_counters(store, second_store):
    store.hit_counter("short-1", 0.3)
    store.hit_counter("short-2", 0.3)
    store.hit_counter("long", 60)
    time.sleep(0.5)
    assert second_store.drop_counters() == 2
    assert store.get_counter("long")[0] == 1
    assert store.drop_counters() == 0
    assert store.drop_counters(expired_only=False) == 1
    assert second_store.get_counter("long") is None


def test_counters_are_not_part_of_a_snapshot_nor_replaced_by_a_load(store, second_store, clock,
                                                                   tmp_path):
    fill(store)
    store.hit_counter("kept", 60)
    backup = write_backup(store, tmp_path / "b.zip")
    with open_backup(backup["path"]) as snapshot:
        store.load(snapshot, force=True)
    assert second_store.get_counter("kept")[0] == 1


@pytest.mark.parametrize("args", [("", 60), ("k", 0), ("k", -1), ("k", "60"), ("k", 60, -1),
                                  ("k", 60, 1.5), ("nul\x00", 60)])
def test_malformed_counter_calls_are_refused(store, args):
    with pytest.raises(ValueError):
        store.hit_counter(*args)
    assert store.drop_counters(expired_only=False) == 0


# ---- audit log ---------------------------------------------------------------------------------

def test_audit_log(store, second_store, clock):
    clock.set(2025, 5, 1, 9, 0)
    first = store.add_audit({"action": "login", "user": "admin", "address": "10.0.0.1"})
    assert first == {"id": first["id"], "at": common.stamp(clock.now), "user": "admin",
                     "action": "login", "target": "", "detail": None, "address": "10.0.0.1"}
    clock.set(2025, 5, 2, 23, 59)
    export = second_store.add_audit({
        "action": "export", "user": "admin", "target": "dev",
        "detail": {"format": "csv", "rows": 12, "filters": {"township": "响肠镇"}}})
    clock.set(2025, 5, 3, 0, 1)
    failed = store.add_audit({"action": "login.failed", "target": "管理员", "detail": "文本",
                              "address": "10.0.0.2"})
    given = store.add_audit({"action": "user.create", "user": "cli:root", "target": "clerk",
                             "at": "2025-04-30T08:00:00+08:00"})
    assert first["id"] < export["id"] < failed["id"] < given["id"]
    assert common.parse_stamp(given["at"]) == common.parse_stamp("2025-04-30T08:00:00+08:00")
    everything = [given, failed, export, first]  # newest first: by id, whatever the times
    for s in (store, second_store):
        assert as_instants(s.query_audit()[0]) == as_instants(everything)
        assert s.query_audit()[1] == 4
        assert s.query_audit(action="login") == ([first], 1)
        assert s.query_audit(user="admin")[0] == [export, first]
        assert s.query_audit(user="admin", action="export")[0] == [export]
        assert s.query_audit(date_from="2025-05-02", date_to="2025-05-02")[0] == [export]
        assert s.query_audit(date_from=date(2025, 5, 2))[0] == [failed, export]
        assert s.query_audit(date_to="2025-05-01")[0][-1] == first
        assert [e["id"] for e in s.query_audit(date_to="2025-05-01")[0]] == [given["id"],
                                                                             first["id"]]
        assert s.query_audit(offset=1, limit=2) == ([failed, export], 4)
        assert s.query_audit(action="nothing") == ([], 0)
    assert store.query_audit(action="export")[0][0]["detail"]["filters"] == {"township": "响肠镇"}


@pytest.mark.parametrize("entry", [{}, {"action": ""}, {"user": "admin"},
                                   {"action": "x", "detail": {"a": "nul\x00"}},
                                   {"action": "x", "at": "yesterday"},
                                   {"action": "x", "user": 3}, {"action": "x", "detail": {1, 2}}])
def test_malformed_audit_entries_are_refused(store, entry):
    with pytest.raises(ValueError):
        store.add_audit(entry)
    assert store.query_audit() == ([], 0)


def test_a_backup_made_before_the_audit_log_restores_with_an_empty_one(store, second_store,
                                                                      clock, tmp_path):
    fill_with_photos(store, clock)
    made = write_backup(store, tmp_path / "now.zip")["path"]
    older = tmp_path / "older.zip"  # the same backup as an earlier version wrote it
    with zipfile.ZipFile(made) as new, zipfile.ZipFile(older, "w") as old:
        manifest = json.loads(new.read("manifest.json"))
        del manifest["members"]["audit.jsonl"], manifest["counts"]["audit"]
        for name in new.namelist():
            if name not in ("audit.jsonl", "manifest.json"):
                old.writestr(name, new.read(name))
        old.writestr("manifest.json", json.dumps(manifest))
    assert check_backup(older)["ok"]
    with open_backup(older) as snapshot:
        counts = store.load(snapshot, force=True)
    assert counts["audit"] == 0 and counts["submissions"] == 9
    assert second_store.query_audit() == ([], 0) and second_store.count_submissions() == 9


def test_bad_audit_query_arguments(store):
    for bad in ({"offset": -1}, {"limit": -1}, {"date_from": "2025-13-01"},
                {"date_to": "soon"}):
        with pytest.raises(ValueError):
            store.query_audit(**bad)


# ---- links -------------------------------------------------------------------------------------

def test_links(store, second_store):
    first = store.create_link("dev", "v1")
    assert len(first["token"]) == 32 and first["revoked_at"] is None  # token_urlsafe(24)
    assert (first["form_id"], first["org_code"]) == ("dev", "v1")
    assert second_store.active_link("dev", "v1") == first
    assert second_store.get_link(first["token"]) == first
    other = store.create_link("dev", "v2")
    second = second_store.create_link("dev", "v1")  # regenerate: the old one is revoked with it
    assert second["token"] != first["token"]
    assert store.get_link(first["token"])["revoked_at"] is not None
    assert store.active_link("dev", "v1") == second
    assert [l["token"] for l in store.list_links("dev")] == [first["token"], other["token"],
                                                             second["token"]]
    assert [l["token"] for l in store.list_links("dev", active_only=True)] == [other["token"],
                                                                               second["token"]]
    revoked = store.revoke_link(other["token"])
    assert revoked["revoked_at"] is not None and revoked["token"] == other["token"]
    assert second_store.revoke_link(other["token"]) == revoked  # a no-op when revoked
    assert store.active_link("dev", "v2") is None
    assert store.revoke_link("unknown") is None and store.get_link("unknown") is None
    assert store.list_links("other") == []


def test_one_active_link_whatever_the_concurrency(store, second_store):
    made, errors = [], []
    barrier = threading.Barrier(6)

    def regenerate(s):
        barrier.wait()
        try:
            for _ in range(4):
                made.append(s.create_link("dev", "v1")["token"])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=regenerate, args=(s,))
               for s in (store, second_store) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    links = store.list_links("dev")
    assert sorted(l["token"] for l in links) == sorted(made) and len(made) == 24
    active = [l for l in links if l["revoked_at"] is None]
    assert len(active) == 1 and second_store.active_link("dev", "v1") == active[0]
    assert active[0] == links[-1]  # the newest one


# ---- submissions -------------------------------------------------------------------------------

def test_add_submission(store):
    doc, created = store.add_submission("dev", 3, "v1", ANSWERS, "sid-1", token="tok",
                                        files=["ab/0123456789abcdef0123456789abcdef.jpg"])
    assert created is True
    assert re.fullmatch(r"\d{6}-\d{4}", doc["receipt"])
    moment = datetime.fromisoformat(doc["submitted_at"])
    assert moment.tzinfo is not None and moment.microsecond == 0
    assert doc["receipt"][:6] == moment.strftime("%y%m%d") and doc["receipt"].endswith("-0001")
    assert (doc["form_id"], doc["form_version"], doc["org_code"]) == ("dev", 3, "v1")
    assert doc["answers"] == ANSWERS and doc["token"] == "tok"
    assert doc["files"] == ["ab/0123456789abcdef0123456789abcdef.jpg"]
    assert doc["submission_id"] == "sid-1" and doc["id"] >= 1
    assert set(doc) == {"id", "form_id", "form_version", "org_code", "receipt", "submitted_at",
                        "submission_id", "token", "files", "answers", "status", "period",
                        "slot", "project_id", "revision", "history", "versions", "edit",
                        "updated_at"}
    assert (doc["status"], doc["period"], doc["slot"], doc["project_id"]) == (
        "待审核", None, None, None)
    assert (doc["revision"], doc["history"], doc["versions"]) == (1, [], [])
    assert doc["updated_at"] == doc["submitted_at"] and doc["edit"]["n"] == 1
    second = add(store, "sid-2")
    assert second["receipt"].endswith("-0002") and second["id"] > doc["id"]
    assert store.get_submission(doc["receipt"]) == doc
    assert store.find_submission("sid-2") == second
    assert store.get_submission("000000-0000") is None and store.find_submission("x") is None
    assert store.count_submissions() == 2 and store.count_submissions("dev") == 2
    assert store.count_submissions("other") == 0
    assert store.submission_versions("dev") == {1, 3} and store.submission_versions("x") == set()


def test_submission_idempotency(store, second_store):
    doc = add(store, "sid-1")
    again, created = store.add_submission("dev", 1, "v1", json.loads(json.dumps(ANSWERS)),
                                          "sid-1")
    assert created is False and again == doc
    retry, created = second_store.add_submission("dev", 1, "v1", ANSWERS, "sid-1")  # other host
    assert created is False and retry == doc
    with pytest.raises(SubmissionConflict) as exc:
        second_store.add_submission("dev", 1, "v1", {**ANSWERS, "jobs": 16}, "sid-1")
    assert exc.value.receipt == doc["receipt"] and exc.value.submission_id == "sid-1"
    with pytest.raises(SubmissionConflict):
        store.add_submission("dev", 1, "v2", ANSWERS, "sid-1")
    with pytest.raises(SubmissionConflict):
        store.add_submission("acc", 1, "v1", ANSWERS, "sid-1")
    assert store.count_submissions() == 1


def test_idempotency_ignores_stored_photo_names(store):
    photo = {"file": "3f/3f2a0000000000000000000000000000.jpg", "name": "现场.jpg",
             "size": 1234, "content_type": "image/jpeg"}
    doc = add(store, "sid-1", answers={"photo": photo, "note": "好"})
    retry = {"photo": {**photo, "file": "9c/9c1d0000000000000000000000000000.jpg"}, "note": "好"}
    again, created = store.add_submission("dev", 1, "v1", retry, "sid-1")
    assert created is False and again["answers"]["photo"]["file"] == photo["file"]
    with pytest.raises(SubmissionConflict):
        store.add_submission("dev", 1, "v1", {"photo": {**photo, "size": 1}, "note": "好"},
                             "sid-1")
    assert doc["receipt"] == again["receipt"]


def test_concurrent_same_submission_threads(store, second_store, make_store):
    stores = [store, second_store, make_store()]  # threads of one worker and of other workers
    barrier = threading.Barrier(10)
    results, errors = [], []

    def submit(i):
        barrier.wait()
        try:
            results.append(stores[i % 3].add_submission("dev", 1, "v1", ANSWERS, "double-tap"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({doc["receipt"] for doc, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert all(s.count_submissions() == 1 for s in stores)
    assert store.query_submissions("dev")[1][0]["receipt"].endswith("-0001")


def _submit_in_child(store, barrier, queue, sid):
    try:
        barrier.wait(timeout=30)
        doc, created = store.add_submission("dev", 1, "v1", ANSWERS, sid)
        queue.put((doc["receipt"], created))
    except Exception as exc:
        queue.put(("error", repr(exc)))


def test_concurrent_same_submission_processes(store):
    """Ten forked worker processes, each using the Store it inherited (which must not share
    the parent's file lock or database connections), submit one id at once."""
    add(store, "before-the-fork")
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(10), context.Queue()
    children = [context.Process(target=_submit_in_child,
                                args=(store, barrier, queue, "double-tap"))
                for _ in range(10)]
    for child in children:
        child.start()
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert [r for r in results if r[0] == "error"] == []
    assert len({receipt for receipt, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert store.count_submissions() == 2  # and the parent's store still works
    assert add(store, "after-the-fork")["receipt"].endswith("-0003")


def test_receipt_sequence_per_day(store, second_store, clock):
    clock.set(2025, 5, 1, 23, 59, 59)
    receipts = [add(s, f"a{i}")["receipt"] for i, s in enumerate([store, second_store, store])]
    clock.set(2025, 5, 2, 0, 0, 1)
    receipts += [add(s, f"b{i}")["receipt"] for i, s in enumerate([second_store, store])]
    assert receipts == ["250501-0001", "250501-0002", "250501-0003", "250502-0001",
                        "250502-0002"]
    clock.set(2025, 5, 1, 12, 0)  # a clock set back: that day's sequence goes on
    assert add(store, "c1")["receipt"] == "250501-0004"


def test_receipts_are_unique_and_sequential_under_concurrency(store, second_store, clock):
    errors = []

    def submit(s, prefix):
        try:
            for i in range(10):
                add(s, f"{prefix}{i}", answers={"n": i})
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(s, f"t{j}-"))
               for j, s in enumerate([store, second_store, store, second_store])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total, docs = store.query_submissions(None)
    assert total == 40
    # newest first: ids and receipt numbers descend together, without gaps
    assert [d["receipt"] for d in docs] == [f"250501-{n:04d}" for n in range(40, 0, -1)]
    assert [d["id"] for d in docs] == sorted((d["id"] for d in docs), reverse=True)


def test_import_submissions(store, second_store, clock):
    clock.set(2025, 5, 1, 9, 0)
    add(store, "live-1")
    add(store, "live-2")
    docs = [{"form_id": "dev", "form_version": 1, "org_code": f"v{i % 2}", "answers": {"i": i},
             "submitted_at": at, "submission_id": f"imp-{i}"}
            for i, at in enumerate(["2025-04-30T08:00:00", "2025-04-30T09:00:00",
                                    "2025-05-01T10:00:00", "2025-05-01T11:00:00",
                                    "2025-05-01T12:00:00"])]
    assert second_store.import_submissions(docs, batch=2) == 5
    receipts = [store.find_submission(f"imp-{i}")["receipt"] for i in range(5)]
    assert receipts == ["250430-0001", "250430-0002", "250501-0003", "250501-0004",
                        "250501-0005"]
    imported = store.find_submission("imp-3")
    assert imported["token"] is None and imported["answers"] == {"i": 3}
    assert instant(imported["submitted_at"]) == common.parse_stamp("2025-05-01T11:00:00")
    assert add(store, "live-3")["receipt"] == "250501-0006"  # the day's sequence goes on
    # without a submission id: a random one
    assert store.import_submissions([{"form_id": "dev", "form_version": 1, "org_code": "v1",
                                      "answers": {}, "submitted_at": "2025-05-02T08:00:00"}]) == 1
    assert store.count_submissions() == 9
    # a submission id already stored: DuplicateError, and nothing of that batch stored
    before = everything(store)
    batch = [{"form_id": "dev", "form_version": 1, "org_code": "v1", "answers": {},
              "submitted_at": "2025-05-03T08:00:00", "submission_id": sid}
             for sid in ("new-1", "imp-2", "new-2")]
    with pytest.raises(DuplicateError):
        store.import_submissions(batch)
    with pytest.raises(DuplicateError):  # twice in one batch
        store.import_submissions([batch[0], batch[0]])
    assert everything(store) == before and store.find_submission("new-1") is None
    assert add(store, "live-4")["receipt"] == "250501-0007"  # no number was spent


def test_durable_before_acknowledged(backend, make_store, request, clock):
    """What add_submission returned survives closing every store — and, on PostgreSQL, a
    crash of the database server (pg_ctl stop -m immediate: no shutdown checkpoint)."""
    store = make_store()
    fill(store)
    acknowledged = [add(store, f"ack-{i}", answers={"i": i}) for i in range(5)]
    expected = everything(store)
    store.close()
    if backend == "postgresql":
        request.getfixturevalue("pg_server").restart(mode="immediate")
    reopened = make_store()
    assert everything(reopened) == expected
    for doc in acknowledged:
        assert reopened.get_submission(doc["receipt"]) == doc
    assert add(reopened, "after")["receipt"] == "250501-0011"


def test_two_stores_see_each_other(store, second_store):
    add(store, "a1")
    assert second_store.find_submission("a1") is not None  # immediately
    add(second_store, "b1")
    add(store, "a2")
    second_store.add_user("admin", "h", "admin")
    assert store.get_user("admin") is not None
    docs = store.query_submissions("dev")[1]
    assert [d["submission_id"] for d in docs] == ["a2", "b1", "a1"]
    assert len({d["receipt"] for d in docs}) == 3
    assert second_store.query_submissions("dev") == store.query_submissions("dev")


def test_reopen_gives_same_data(make_store, clock):
    store = make_store()
    fill(store)
    expected = everything(store)
    store.close()
    again = make_store()
    assert everything(again) == expected
    assert add(again, "s-next")["id"] > expected[5][1][0]["id"]


# ---- queries -----------------------------------------------------------------------------------

@pytest.fixture
def thirty_days(store, clock):
    """30 submissions of "dev", one a day from 2025-03-01 (orgs v1, v2, v3 in turn), then one
    of "acc"; answers {"n": day index}."""
    clock.set(2025, 3, 1, 9, 30)
    orgs = ["v1", "v2", "v3"]
    for i in range(30):
        add(store, f"s{i}", org=orgs[i % 3], answers={"n": i})
        clock.advance(days=1)
    add(store, "other-form", form="acc")
    return store


def numbers(docs):
    return [d["answers"]["n"] for d in docs]


def test_query_submissions(thirty_days):
    store = thirty_days
    total, page = store.query_submissions("dev")
    assert total == 30 and numbers(page) == list(range(29, -1, -1))
    total, page = store.query_submissions("dev", offset=5, limit=3)
    assert total == 30 and numbers(page) == [24, 23, 22]
    total, page = store.query_submissions("dev", org_codes=["v1", "v3"], limit=4)
    assert total == 20 and numbers(page) == [29, 27, 26, 24]
    assert store.query_submissions("dev", org_codes=[]) == (0, [])
    assert store.query_submissions("dev", org_codes=set()) == (0, [])
    total, page = store.query_submissions("dev", date_from="2025-03-05", date_to=date(2025, 3, 10))
    assert total == 6 and numbers(page) == [9, 8, 7, 6, 5, 4]
    total, page = store.query_submissions("dev", org_codes=["v2"], date_from=date(2025, 3, 20),
                                          limit=2)
    assert total == 4 and numbers(page) == [28, 25]
    total, page = store.query_submissions("dev", date_to="2025-03-01")
    assert total == 1 and page[0]["answers"] == {"n": 0}
    total, page = store.query_submissions("dev", date_from="2025-03-10", date_to="2025-03-10")
    assert total == 1 and numbers(page) == [9]  # one day, both ends inclusive
    assert store.query_submissions("dev", date_from="2025-03-11", date_to="2025-03-10") == (0, [])
    total, page = store.query_submissions("dev", date_from="", date_to=None)
    assert total == 30
    assert store.query_submissions("dev", offset=100)[1] == []
    assert store.query_submissions("dev", limit=0) == (30, [])
    assert store.query_submissions("nope") == (0, [])
    total, page = store.query_submissions(None, org_codes={"v1"}, limit=2)  # any form
    assert total == 11 and [d["form_id"] for d in page] == ["acc", "dev"]
    total, page = store.query_submissions(None, offset=1, limit=1)
    assert total == 31 and numbers(page) == [29]
    # the receipt sequence is per day
    assert {d["receipt"][-4:] for d in store.query_submissions("dev")[1]} == {"0001"}


def test_bad_query_arguments(thirty_days):
    store = thirty_days
    for bad in ({"date_from": "03/01/2025"}, {"date_to": "2025-02-30"}, {"offset": -1},
                {"limit": -1}):
        with pytest.raises(ValueError):
            store.query_submissions("dev", **bad)
    with pytest.raises(ValueError):
        store.iter_submissions("dev", date_from="yesterday")
    with pytest.raises(ValueError):
        store.submission_counts("dev", date_to="2025-13-01")


def test_iter_submissions(thirty_days, second_store):
    store = thirty_days
    queried = store.query_submissions("dev", org_codes=["v1", "v3"], date_from="2025-03-05")[1]
    total, docs = store.iter_submissions("dev", org_codes=["v1", "v3"], date_from="2025-03-05")
    add(second_store, "later", org="v1")  # after the call: not part of the selection
    got = list(docs)
    assert total == len(got) == 17
    assert numbers(got) == [n for n in range(4, 30) if n % 3 != 1]  # oldest first
    assert got == queried[::-1]
    total, docs = store.iter_submissions(None)
    assert total == 32 and len(list(docs)) == 32
    total, docs = store.iter_submissions("dev", org_codes=[])
    assert total == 0 and list(docs) == []
    docs.close()  # every iterator can be closed, whatever it selects (exports close it)


def test_iter_submissions_gives_its_connection_back(thirty_days, make_store):
    """Iterators closed half-way, or dropped, release what they hold: twice as many as a
    pool's connections, then the store still answers."""
    store = make_store(**({"pool_size": 2} if thirty_days.backend == "postgresql" else {}))
    for i in range(4):
        total, docs = store.iter_submissions("dev")
        assert next(docs)["answers"] == {"n": 0}
        if i % 2:
            docs.close()
        else:
            del docs  # abandoned
    total, docs = store.iter_submissions("dev")  # never started, closed
    docs.close()
    assert store.count_submissions() == 31
    assert numbers(store.query_submissions("dev", limit=1)[1]) == [29]


def test_submission_counts(thirty_days):
    store = thirty_days
    assert store.submission_counts("dev") == {"v1": 10, "v2": 10, "v3": 10}
    assert store.submission_counts("dev", date_from="2025-03-28") == {"v1": 1, "v2": 1, "v3": 1}
    assert store.submission_counts("dev", date_from=date(2025, 3, 1),
                                   date_to="2025-03-02") == {"v1": 1, "v2": 1}
    assert store.submission_counts("dev", org_codes=["v2", "v9"]) == {"v2": 10}
    assert store.submission_counts("dev", org_codes=[]) == {}
    assert store.submission_counts("dev", "2025-03-04", "2025-03-09",
                                   org_codes={"v1", "v3"}) == {"v1": 2, "v3": 2}
    assert store.submission_counts("acc") == {"v1": 1}
    assert store.submission_counts("nope") == {}


# ---- photos ------------------------------------------------------------------------------------

def test_photos(store, second_store):
    name = store.put_photo(PNG, "image/png")
    assert name == common.photo_name(PNG, "image/png") and name.endswith(".png")
    assert second_store.put_photo(PNG, "image/png") == name  # the same bytes: stored once
    assert second_store.get_photo(name) == {"name": name, "content_type": "image/png",
                                            "size": len(PNG), "data": PNG}
    other = second_store.put_photo(JPEG, "image/jpeg")
    assert other != name and store.get_photo(other)["data"] == JPEG
    assert store.get_photo(name.replace(name[3:8], "00000")) is None  # well formed, unknown
    for bad in ("../../etc/passwd", "", "ab/not-a-photo.png"):
        assert store.get_photo(bad) is None
    with pytest.raises(ValueError):
        store.put_photo(b"", "image/png")
    with store.snapshot() as snap:
        assert sorted(snap.photo_names()) == sorted([name, other])
        assert snap.photo(name)["data"] == PNG and snap.counts()["photos"] == 2


# ---- bad arguments -----------------------------------------------------------------------------

BAD_SUBMISSIONS = [
    {"answers": {"x": "a\x00b"}},  # NUL: PostgreSQL cannot hold it
    {"answers": {"x": "\ud800"}},  # a lone surrogate is not Unicode
    {"answers": {"x": float("nan")}},
    {"answers": {"x": object()}},
    {"answers": ["not", "a", "mapping"]},
    {"submission_id": ""},
    {"submission_id": "x" * 129},
    {"submission_id": None},
    {"submission_id": 12},
    {"form_version": 0},
    {"form_version": True},
    {"form_version": "1"},
    {"form_id": ""},
    {"org_code": None},
    {"org_code": "v\x001"},
]


@pytest.mark.parametrize("bad", BAD_SUBMISSIONS, ids=range(len(BAD_SUBMISSIONS)))
def test_malformed_submission_is_refused_and_writes_nothing(store, bad):
    add(store, "sid-1")
    before = everything(store)
    call = {"form_id": "dev", "form_version": 1, "org_code": "v1", "answers": ANSWERS,
            "submission_id": "sid-2", **bad}
    with pytest.raises(ValueError):
        store.add_submission(**call)
    if call["submission_id"] not in ("", None):  # an import may leave it out
        with pytest.raises(ValueError):
            store.import_submissions([{**call, "submitted_at": "2025-05-01T08:00:00"}])
    assert everything(store) == before
    assert add(store, "sid-3")["receipt"].endswith("-0002")  # no receipt number was spent


def test_malformed_documents_are_refused(store):
    with pytest.raises(ValueError):
        store.add_form_version(["not", "a", "mapping"], "upload")
    with pytest.raises(ValueError):
        store.add_form_version({"title": "没有 id"}, "upload")
    with pytest.raises(ValueError):
        store.add_form_version({"id": "dev", "title": "坏\x00"}, "upload")
    with pytest.raises(ValueError):
        store.create_link("", "v1")
    with pytest.raises(ValueError):
        store.import_submissions([{"form_id": "dev", "form_version": 1, "org_code": "v1",
                                   "answers": {}, "submitted_at": "yesterday"}])
    assert store.list_forms() == [] and store.list_links("dev") == []
    assert store.count_submissions() == 0


# ---- failed writes -----------------------------------------------------------------------------

WRITES = {
    "add_submission": lambda s: s.add_submission("dev", 1, "v1", ANSWERS, "new-sid"),
    "import_submissions": lambda s: s.import_submissions([{
        "form_id": "dev", "form_version": 1, "org_code": "v1", "answers": {},
        "submitted_at": "2025-05-01T10:00:00", "submission_id": "imported"}]),
    "add_form_version": lambda s: s.add_form_version({"id": "dev", "fields": []}, "upload"),
    "upsert_orgs": lambda s: s.upsert_orgs([{"code": "340828", "name": "改名"},
                                            {"code": "new", "name": "新"}]),
    "replace_orgs": lambda s: s.replace_orgs(ORGS[:1]),
    "delete_org": lambda s: s.delete_org("340828101201"),
    "create_link": lambda s: s.create_link("dev", "340828101201"),
    "revoke_link": lambda s: s.revoke_link(s.active_link("dev", "340828101201")["token"]),
    "add_user": lambda s: s.add_user("new-user", "h", "admin"),
    "set_password": lambda s: s.set_password("admin", "new-hash"),
    "put_photo": lambda s: s.put_photo(PNG, "image/png"),
    "add_audit": lambda s: s.add_audit({"action": "org.delete", "user": "admin"}),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_failed_write_raises_and_changes_nothing(store, second_store, broken_writes, clock,
                                                 operation):
    fill(store)
    session = store.create_session("admin", timedelta(hours=1))
    before = everything(store)
    with broken_writes():
        with pytest.raises(StorageError) as exc:
            WRITES[operation](store)
    assert re.search("[\u4e00-\u9fff]", str(exc.value))  # a message for people, in Chinese
    assert everything(store) == everything(second_store) == before
    assert store.get_session(session["id"]) == session
    assert store.get_photo(common.photo_name(PNG, "image/png")) is None
    WRITES[operation](store)  # the next write works
    assert everything(store) != before or operation == "put_photo"


# (a photo or an audit entry is one row written by one statement: there is no last step)
@pytest.mark.parametrize("operation", sorted(set(WRITES) - {"put_photo", "add_audit"}))
def test_write_failing_at_its_last_step_changes_nothing(store, second_store, broken_writes,
                                                        clock, operation):
    """Every step of the write succeeds but the last (on PostgreSQL, the version bump after
    the receipt, the rows, the sessions ended...): all of it is undone."""
    fill(store)
    session = store.create_session("admin", timedelta(hours=1))
    before = everything(store)
    with broken_writes("table_versions"):
        with pytest.raises(StorageError):
            WRITES[operation](store)
    assert everything(store) == everything(second_store) == before
    assert store.get_session(session["id"]) == session
    WRITES[operation](store)
    if operation in ("add_submission", "import_submissions"):  # no receipt number was spent
        assert store.query_submissions(None, limit=1)[1][0]["receipt"] in ("250501-0006",
                                                                          "250501-0007")


@pytest.mark.parametrize("broken", [(), ("photos",), ("table_versions",)])
def test_failed_load_changes_nothing(store, second_store, broken_writes, clock, tmp_path,
                                     broken):
    fill(store)
    before = everything(store)
    source = TinyStore(tmp_path / "source.db", photos_dir=str(tmp_path / "source-photos"))
    fill_with_photos(source, clock)
    with source.snapshot() as snap, broken_writes(*broken):
        with pytest.raises(StorageError):
            store.load(snap, force=True)
    assert everything(store) == everything(second_store) == before
    with source.snapshot() as snap:
        store.load(snap, force=True)
    assert store.count_submissions() == 9
    source.close()


# ---- deployment settings -----------------------------------------------------------------------

def test_setting_first_caller_wins_everywhere(store, second_store, make_store):
    assert store.setting("secret_key", "from-host-a") == "from-host-a"
    assert second_store.setting("secret_key", "from-host-b") == "from-host-a"
    assert store.setting("other", "x") == "x"
    stores = [make_store() for _ in range(4)]
    with ThreadPool(8) as pool:  # hosts starting at the same moment agree on one value
        values = pool.map(lambda n: stores[n % 4].setting("race", f"v{n}"), range(8))
    assert len(set(values)) == 1 and values[0].startswith("v")
    with pytest.raises(ValueError):
        store.setting("bad", "nul\x00")


def test_settings_are_not_part_of_a_snapshot_nor_replaced_by_a_load(store, second_store, clock,
                                                                   tmp_path):
    fill(store)
    store.setting("secret_key", "kept")
    backup = write_backup(store, tmp_path / "b.zip")
    assert set(backup["counts"]) == {*KINDS, "photos"}
    with open_backup(backup["path"]) as snapshot:
        store.load(snapshot, force=True)
    assert second_store.setting("secret_key", "new") == "kept"


# ---- versions of tables ------------------------------------------------------------------------

CHANGES = {
    "forms": lambda s: s.add_form_version({"id": "dev", "fields": []}, "upload"),
    "orgs": lambda s: s.upsert_orgs([{"code": "new", "name": "新"}]),
    "users": lambda s: s.set_password("admin", "h2"),
    "links": lambda s: s.create_link("dev", "v1"),
    "submissions": lambda s: add(s, "new-sid"),
}


def test_version_of_follows_every_write_anywhere(store, second_store, clock):
    fill(store)
    assert sorted(CHANGES) == sorted(TABLES)
    for table, change in CHANGES.items():
        seen = {t: store.version_of(t) for t in TABLES}
        everything(store)  # reads change nothing
        assert {t: store.version_of(t) for t in TABLES} == seen
        change(second_store)
        assert store.version_of(table) != seen[table], table
        assert hash(store.version_of(table)) is not None


# ---- snapshot, load, check ---------------------------------------------------------------------

def fill_with_photos(store, clock):
    clock.set(2025, 5, 1, 9, 0)
    fill(store)
    photo = store.put_photo(JPEG, "image/jpeg")
    store.put_photo(PNG, "image/png")  # stored, referred to by nothing
    image = {"file": photo, "name": "现场.jpg", "size": len(JPEG), "content_type": "image/jpeg"}
    add(store, "with-photo", answers={"photo": image, "steps": [{"photo": image}]})
    store.upsert_orgs([{"code": "x1", "name": "扩展", "contact": "李四"}])
    store.add_audit({"action": "login", "user": "admin", "address": "10.0.0.1"})
    store.add_audit({"action": "export", "user": "admin", "target": "dev",
                     "detail": {"format": "xlsx", "rows": 5, "filters": {"township": "响肠镇"}},
                     "address": "10.0.0.1"})
    store.import_submissions([{"form_id": "acc", "form_version": 1, "org_code": "x1",
                               "answers": {"k": "导入"}, "submitted_at": t}
                              for t in ("2025-04-30T08:00:00", "2025-05-01T08:00:00")])
    clock.set(2025, 5, 2, 9, 0)
    add(store, "next-day", org="x1")
    store.save_draft("dev", '{"id": "dev", "title": "改版中"}', "admin", None)
    store.set_form_closed("acc", True, "admin")
    store.put_rubric(2025, [{"name": "选题精准", "max": 20}], "admin")
    store.add_scores([{"year": 2025, "project": 1, "judge": "j1", "criterion": "选题精准",
                       "score": "18.5"}])
    store.open_case({"receipt": "250502-0001", "form_id": "dev", "org_code": "x1",
                     "stage": "研判", "deadline": "2025-05-20", "owner": "x1"})


def as_loaded(docs):
    """Submissions with times as instants and ``files`` as a load fills them in (the photos
    of the answers when empty)."""
    docs = as_instants(docs)
    for doc in docs:
        doc["files"] = doc["files"] or common.photo_refs(doc["answers"])
    return docs


def snapshot_content(store):
    """Everything a snapshot holds, as it comes back from a load."""
    with store.snapshot() as snap:
        content = {kind: as_instants(snap.records(kind)) for kind in KINDS}
        content["submissions"] = as_loaded(content["submissions"])
        content["photos"] = [snap.photo(name) for name in snap.photo_names()]
        content["counts"] = snap.counts()
    return content


def test_snapshot_load_across_backends(pg_url, tmp_path, clock):
    """TinyDB -> PostgreSQL -> TinyDB: every document comes back equal (receipts, times,
    tokens, versions, photos), and new receipts continue each day's sequence."""
    from storage.pg import PgStore

    tiny = TinyStore(tmp_path / "a" / "taizhang.db")
    pg = PgStore(pg_url)
    back = TinyStore(tmp_path / "b" / "taizhang.db")
    try:
        fill_with_photos(tiny, clock)
        expected = snapshot_content(tiny)
        listed = as_loaded(tiny.query_submissions(None)[1])
        assert expected["counts"] == {"forms": 2, "orgs": 4, "users": 1, "links": 2,
                                      "submissions": 9, "audit": 2, "drafts": 1,
                                      "form_states": 1, "projects": 0, "api_tokens": 0,
                                      "rubrics": 1, "scores": 1, "cases": 1, "photos": 2}
        with tiny.snapshot() as snap:
            assert pg.load(snap) == expected["counts"]
        assert snapshot_content(pg) == expected
        with pg.snapshot() as snap:
            assert back.load(snap) == expected["counts"]
        assert snapshot_content(back) == expected
        for store in (tiny, pg, back):
            assert as_loaded(store.query_submissions(None)[1]) == listed
            assert store.get_link(tiny.list_links("dev")[0]["token"])["revoked_at"] is not None
            assert store.get_form("dev", 1)["schema"]["title"] == "申报"
            assert store.submission_counts("acc", date_from="2025-05-01") == {"x1": 1}
            # the receipts of each day go on from the loaded ones
            clock.set(2025, 5, 1, 18, 0)
            assert add(store, "new-0501")["receipt"] == "250501-0008"
            assert store.import_submissions([{
                "form_id": "acc", "form_version": 1, "org_code": "x1", "answers": {},
                "submitted_at": "2025-04-30T20:00:00"}]) == 1
            assert store.query_submissions("acc", date_to="2025-04-30")[1][0]["receipt"] == \
                "250430-0002"
            assert pg.check()["ok"] and store.check()["ok"], store.check()["problems"]
    finally:
        for store in (tiny, pg, back):
            store.close()


HOLDING_DATA = {
    "user": lambda s: s.add_user("admin", "h", "admin"),
    "org": lambda s: s.upsert_orgs([{"code": "x", "name": "一个"}]),
    "form": lambda s: s.add_form_version({"id": "f", "fields": []}, "upload"),
    "link": lambda s: s.create_link("f", "x"),
    "submission": lambda s: add(s, "one"),
}


@pytest.mark.parametrize("held", sorted(HOLDING_DATA))
def test_load_refuses_to_overwrite_without_force(store, second_store, tmp_path, clock, held):
    source = TinyStore(tmp_path / "source.db", photos_dir=str(tmp_path / "source-photos"))
    fill_with_photos(source, clock)
    HOLDING_DATA[held](second_store)
    before = everything(store)
    with source.snapshot() as snap:
        with pytest.raises(RestoreRefused) as exc:
            store.load(snap)
    assert "--force" in str(exc.value)
    assert everything(store) == before
    session = store.create_session("admin", timedelta(hours=1))
    with source.snapshot() as snap:
        counts = store.load(snap, force=True)
    assert counts["submissions"] == 9 and store.count_submissions() == 9
    assert store.get_session(session["id"]) is None  # sessions end
    assert snapshot_content(store) == snapshot_content(source)
    assert second_store.find_submission("one") is None
    source.close()


def test_snapshot_is_consistent_while_the_service_writes(store, second_store, clock):
    fill(store)
    with store.snapshot() as snap:
        add(second_store, "during")
        second_store.upsert_orgs([{"code": "during", "name": "期间"}])
        records = list(snap.records("submissions"))
        assert len(records) == 5 and "during" not in {d["submission_id"] for d in records}
        assert snap.counts()["orgs"] == 3 and len(list(snap.records("orgs"))) == 3
        assert all("id" not in d for d in records)
        assert [d["receipt"] for d in records] == [f"250501-{n:04d}" for n in range(1, 6)]
        assert [(f["id"], f["version"]) for f in snap.records("forms")] == [("dev", 1),
                                                                            ("dev", 2)]
    assert store.count_submissions() == 6


def test_check(store, clock):
    fill_with_photos(store, clock)
    report = store.check()
    assert report["ok"] is True and report["problems"] == []
    assert report["backend"] == store.backend and report["location"]
    assert report["counts"] == {"forms": 2, "orgs": 4, "users": 1, "links": 2,
                                "submissions": 9, "audit": 2, "drafts": 1, "form_states": 1,
                                "projects": 0, "api_tokens": 0, "rubrics": 1, "scores": 1,
                                "cases": 1, "photos": 2}
    lost = {"file": "ee/ee000000000000000000000000000000.jpg", "name": "丢失.jpg",
            "size": 3, "content_type": "image/jpeg"}
    doc = add(store, "lost-photo", answers={"photo": lost})
    report = store.check()
    assert report["ok"] is False
    assert any(doc["receipt"] in p and lost["file"] in p for p in report["problems"])


def test_prune_photos_deletes_only_old_photos_no_submission_refers_to(store, second_store):
    kept = store.put_photo(PNG, "image/png")
    orphan = store.put_photo(JPEG, "image/jpeg")
    store.add_submission("dev", 1, "v1", {"p": {"name": "a.png", "size": len(PNG),
                                                "content_type": "image/png", "file": kept}},
                         "sid-photo", token="tok", files=[kept])
    before = common.now()
    assert store.prune_photos(before - timedelta(days=1)) == 0  # nothing that old
    assert store.get_photo(orphan) is not None
    time.sleep(0.05)
    assert second_store.prune_photos(common.now() + timedelta(seconds=1)) == 1
    assert store.get_photo(orphan) is None and store.get_photo(kept)["data"] == PNG
    with store.snapshot() as snap:
        assert list(snap.photo_names()) == [kept]


def test_putting_a_photo_again_counts_as_its_last_put(store, second_store):
    name = store.put_photo(JPEG, "image/jpeg")
    time.sleep(0.05)
    between = common.now()
    time.sleep(0.05)
    assert second_store.put_photo(JPEG, "image/jpeg") == name  # the same photo, picked again
    assert store.prune_photos(between) == 0
    assert store.get_photo(name)["data"] == JPEG
    time.sleep(0.05)
    assert store.prune_photos(common.now()) == 1
    assert store.put_photo(JPEG, "image/jpeg") == name  # and stored anew after a prune
    assert second_store.get_photo(name)["data"] == JPEG


# ---- drafts and form states --------------------------------------------------------------------

def test_drafts_are_saved_optimistically_one_per_form(store, second_store):
    assert store.get_draft("dev") is None and store.list_drafts() == []
    first = store.save_draft("dev", '{"id": "dev", "title": "草稿"', "admin", 0)  # not JSON yet
    assert first["revision"] == 1 and first["text"] == '{"id": "dev", "title": "草稿"'
    assert first["user"] == "admin" and first["form_id"] == "dev" and first["saved_at"]
    assert second_store.get_draft("dev") == first
    with pytest.raises(DraftConflict):
        second_store.save_draft("dev", "{}", "other", 0)  # it saw no draft: there is one now
    second = second_store.save_draft("dev", '{"id": "dev"}', "other", 1)
    assert second["revision"] == 2
    with pytest.raises(DraftConflict):
        store.save_draft("dev", "{\"lost\": 1}", "admin", 1)  # edited revision 1: moved on
    assert store.get_draft("dev")["text"] == '{"id": "dev"}'
    assert store.save_draft("dev", "x", None, None)["revision"] == 3  # unconditional
    store.save_draft("acc", "y", None, None)
    assert [d["form_id"] for d in second_store.list_drafts()] == ["acc", "dev"]
    assert store.delete_draft("dev") is True and store.delete_draft("dev") is False
    assert second_store.get_draft("dev") is None
    assert store.save_draft("dev", "z", None, 0)["revision"] == 1  # a new draft starts again
    for bad in ((None, 0), ("t", -1), ("t", True), ("t", "1"), ("a\x00b", 0)):
        with pytest.raises(ValueError):
            store.save_draft("dev", *[bad[0], "u", bad[1]])


def test_concurrent_draft_saves_from_one_revision_let_exactly_one_win(make_store):
    stores = [make_store() for _ in range(4)]
    stores[0].save_draft("dev", "base", None, None)

    def save(i):
        try:
            stores[i % 4].save_draft("dev", f"edit {i}", f"u{i}", 1)
            return True
        except DraftConflict:
            return False

    with ThreadPool(8) as pool:
        won = pool.map(save, range(8))
    assert won.count(True) == 1
    draft = stores[1].get_draft("dev")
    assert draft["revision"] == 2 and draft["text"] == f"edit {won.index(True)}"


def test_form_states_and_their_version(store, second_store):
    assert store.form_states() == {}
    before = second_store.version_of("forms")
    state = store.set_form_closed("dev", True, "admin")
    assert state["closed"] is True and state["user"] == "admin" and state["changed_at"]
    assert second_store.version_of("forms") != before  # caches of every process refresh
    assert second_store.form_states() == {"dev": state}
    store.set_form_closed("dev", False, None)
    assert second_store.form_states()["dev"]["closed"] is False
    with pytest.raises(ValueError):
        store.set_form_closed("dev", "yes", None)


def test_drafts_and_form_states_travel_in_backups(store, tmp_path):
    store.save_draft("dev", "{草稿}", "admin", None)
    store.set_form_closed("acc", True, "admin")
    with store.snapshot() as snap:
        assert snap.counts()["drafts"] == 1 and snap.counts()["form_states"] == 1
    backup = write_backup(store, tmp_path / "b.zip")
    store.delete_draft("dev")
    store.set_form_closed("acc", False, None)
    with open_backup(backup["path"]) as snapshot:
        counts = store.load(snapshot, force=True)
    assert counts["drafts"] == 1 and counts["form_states"] == 1
    assert store.get_draft("dev")["text"] == "{草稿}"
    assert store.form_states()["acc"]["closed"] is True
