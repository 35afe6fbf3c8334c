"""The storage contract of the lifecycle (issue 10), on both backends: review state and
versions of submissions, one-per-period slots, projects, users' scope and API tokens."""
import threading
from datetime import timedelta

import pytest

from storage import common
from storage.errors import DuplicateError, PeriodTaken, RecordChanged

@pytest.fixture
def clock(monkeypatch):
    from test_store_contract import Clock

    clock = Clock()
    monkeypatch.setattr(common, "now", lambda: clock.now)
    return clock


ANSWERS = {"title": "一米菜园", "jobs": 15, "steps": [{"month": "2026-03", "task": "流转土地"}]}


def add(store, sid, org="v1", form="monthly", **kwargs):
    doc, created = store.add_submission(form, 1, org, kwargs.pop("answers", ANSWERS), sid,
                                        **kwargs)
    assert created
    return doc


def project_doc(receipt="261204-0001", org="v1", **extra):
    return {"title": "一米菜园", "category": "党建引领发展类", "kind": "书记项目", "org_code": org,
            "secretary": "张三", "year": 2026, "steps": [{"month": "2026-03", "task": "流转"}],
            "status": "已申报", "application": receipt, **extra}


def test_a_new_submission_stores_its_period_slot_and_project(store, second_store):
    doc = add(store, "s1", period="2026-11", slot="2026-11/3", project_id=3)
    assert (doc["period"], doc["slot"], doc["project_id"]) == ("2026-11", "2026-11/3", 3)
    assert second_store.get_submission(doc["receipt"]) == doc


def test_one_submission_per_slot_across_stores(store, second_store):
    first = add(store, "s1", period="2026-11", slot="2026-11")
    with pytest.raises(PeriodTaken) as exc:
        second_store.add_submission("monthly", 1, "v1", ANSWERS, "s2", period="2026-11",
                                    slot="2026-11")
    assert exc.value.receipt == first["receipt"] and "本期已经提交过" in str(exc.value)
    # a retry of the stored fill is still a retry, not a taken period
    again, created = second_store.add_submission("monthly", 1, "v1", ANSWERS, "s1",
                                                 period="2026-11", slot="2026-11")
    assert created is False and again["receipt"] == first["receipt"]
    # other organizations, other slots, other forms, no slot: free
    add(store, "s3", org="v2", period="2026-11", slot="2026-11")
    add(store, "s4", period="2026-12", slot="2026-12")
    add(store, "s5", form="other", period="2026-11", slot="2026-11")
    add(store, "s6", period="2026-11")
    assert store.count_submissions("monthly") == 4


def test_concurrent_fills_of_one_slot_store_one(store, make_store):
    stores = [make_store() for _ in range(6)]
    results = []

    def fill(i):
        try:
            stores[i].add_submission("monthly", 1, "v1", ANSWERS, f"c{i}", period="2026-11",
                                     slot="2026-11")
            results.append("stored")
        except PeriodTaken:
            results.append("taken")

    threads = [threading.Thread(target=fill, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["stored"] + ["taken"] * 5
    assert store.count_submissions("monthly") == 1


def test_review_changes_keep_history_and_revision(store, second_store):
    doc = add(store, "s1")
    new, project = second_store.update_submission(doc["receipt"], 1, {
        "status": "退回修改", "user": "town1",
        "event": {"action": "return", "from": "待审核", "to": "退回修改", "comment": "补充步骤"}})
    assert project is None and new["status"] == "退回修改" and new["revision"] == 2
    assert new["history"] == [{"at": new["updated_at"], "user": "town1", "action": "return",
                               "from": "待审核", "to": "退回修改", "comment": "补充步骤"}]
    assert new["answers"] == ANSWERS and new["versions"] == []
    assert store.get_submission(doc["receipt"]) == new
    with pytest.raises(RecordChanged):  # the revision read before the other store's change
        store.update_submission(doc["receipt"], 1, {"status": "已通过"})
    assert store.get_submission(doc["receipt"])["status"] == "退回修改"
    with pytest.raises(LookupError):
        store.update_submission("000000-0000", 1, {"status": "已通过"})


def test_a_correction_keeps_the_old_version(store):
    doc = add(store, "s1", files=["ab/0123456789abcdef0123456789abcdef.jpg"])
    corrected = {**ANSWERS, "jobs": 20}
    new, _ = store.update_submission(doc["receipt"], 1, {
        "answers": corrected, "files": [], "form_version": 2, "status": "待审核",
        "user": None, "reason": "村干部更正",
        "event": {"action": "resubmit", "from": "退回修改", "to": "待审核"}})
    assert new["answers"] == corrected and new["files"] == [] and new["form_version"] == 2
    assert new["receipt"] == doc["receipt"] and new["submitted_at"] == doc["submitted_at"]
    assert new["versions"] == [{"n": 1, "at": doc["submitted_at"], "user": None, "reason": None,
                                "answers": ANSWERS, "files": doc["files"], "form_version": 1}]
    assert new["edit"] == {"n": 2, "at": new["updated_at"], "user": None, "reason": "村干部更正"}
    again, _ = store.update_submission(doc["receipt"], 2, {
        "answers": {**corrected, "jobs": 21}, "user": "admin", "reason": "核实后更正"})
    assert [v["n"] for v in again["versions"]] == [1, 2]
    assert again["versions"][1]["answers"] == corrected and again["edit"]["user"] == "admin"
    assert again["form_version"] == 2  # kept when not given
    with store.snapshot() as snap:
        stored = [d for d in snap.records("submissions")][0]
    assert stored["versions"] == again["versions"] and len(stored["history"]) == 1


def test_voiding_frees_the_slot_and_restoring_checks_it(store, second_store):
    first = add(store, "s1", period="2026-11", slot="2026-11")
    store.update_submission(first["receipt"], 1, {"status": "已作废"})
    second = add(second_store, "s2", period="2026-11", slot="2026-11")
    with pytest.raises(PeriodTaken) as exc:
        store.update_submission(first["receipt"], 2, {"status": "待审核"})
    assert exc.value.receipt == second["receipt"]
    assert store.get_submission(first["receipt"])["status"] == "已作废"
    # a correction that moves a report to a month already reported is refused too
    third = add(store, "s3", period="2026-10", slot="2026-10")
    with pytest.raises(PeriodTaken):
        store.update_submission(third["receipt"], 1, {"period": "2026-11", "slot": "2026-11"})
    assert store.reported_periods("monthly") == [
        {"org_code": "v1", "period": p, "slot": p, "project_id": None, "receipt": r,
         "submitted_at": s, "status": "待审核"}
        for p, r, s in (("2026-11", second["receipt"], second["submitted_at"]),
                        ("2026-10", third["receipt"], third["submitted_at"]))]
    assert store.reported_periods("monthly", org_codes=["v2"]) == []
    assert [r["period"] for r in store.reported_periods("monthly", periods=["2026-10"])] == [
        "2026-10"]
    assert store.reported_periods("monthly", periods=[]) == []
    assert len(store.reported_periods("monthly", org_codes=["v1"],
                                      periods=["2026-10", "2026-11", "2027-01"])) == 2
    with pytest.raises(ValueError):
        store.reported_periods("monthly", periods="2026-10")


@pytest.mark.parametrize("changes", [
    {"status": "通过"}, {"files": []}, {"answers": "x"}, {"nope": 1}, {"project_id": 0},
    {"event": {"comment": "no action"}}, {"slot": ""}])
def test_malformed_updates_change_nothing(store, changes):
    doc = add(store, "s1")
    with pytest.raises(ValueError):
        store.update_submission(doc["receipt"], 1, changes)
    assert store.get_submission(doc["receipt"]) == doc


def test_filters_by_status_change_time_and_cursor(store, clock):
    docs = [add(store, f"s{i}", org=f"v{i % 2}") for i in range(5)]
    clock.advance(hours=1)
    store.update_submission(docs[1]["receipt"], 1, {"status": "已作废"})
    store.update_submission(docs[3]["receipt"], 1, {"status": "已通过"})
    count, page = store.query_submissions("monthly", statuses=["已作废"])
    assert count == 1 and page[0]["receipt"] == docs[1]["receipt"]
    count, page = store.query_submissions("monthly", statuses=["待审核", "已通过"])
    assert [d["receipt"] for d in page] == [docs[i]["receipt"] for i in (4, 3, 2, 0)]
    count, changed = store.query_submissions(
        "monthly", changed_since=common.now() - timedelta(minutes=5))
    assert {d["receipt"] for d in changed} == {docs[1]["receipt"], docs[3]["receipt"]}
    count, page = store.query_submissions("monthly", after_id=docs[1]["id"], limit=2)
    assert count == 3 and [d["id"] for d in page] == [docs[2]["id"], docs[3]["id"]]
    count, rows = store.iter_submissions("monthly", statuses=["待审核"])
    assert count == 3 and [d["receipt"] for d in rows] == [docs[i]["receipt"] for i in (0, 2, 4)]
    assert store.submission_counts("monthly", statuses=["待审核", "已通过"]) == {"v0": 3, "v1": 1}
    assert store.submission_counts("monthly") == {"v0": 3, "v1": 2}
    with pytest.raises(ValueError):
        store.query_submissions("monthly", statuses="已通过")
    with pytest.raises(ValueError):
        store.query_submissions("monthly", statuses=["通过"])
    with pytest.raises(ValueError):
        store.query_submissions("monthly", changed_since="yesterday")


def test_projects(store, second_store):
    project, created = store.add_project(project_doc())
    assert created and project["id"] >= 1 and project["revision"] == 1
    assert project["history"] == [] and project["created_at"] == project["updated_at"]
    assert {k: project[k] for k in project_doc()} == project_doc()
    again, created = second_store.add_project(project_doc(title="改了"))
    assert not created and again == project  # one project per application
    other, _ = second_store.add_project(project_doc("261204-0002", org="v2", year=2025,
                                                    status="已立项"))
    assert other["id"] > project["id"]
    assert store.get_project(other["id"]) == other and store.get_project(999) is None
    assert [p["id"] for p in store.list_projects()] == [project["id"], other["id"]]
    assert store.list_projects(org_codes=["v2"]) == [other]
    assert store.list_projects(year=2026) == [project]
    assert store.list_projects(statuses=["已立项"]) == [other]
    assert store.list_projects(org_codes=[]) == []
    changed = second_store.update_project(project["id"], 1, {
        "status": "预审通过", "user": "town1",
        "event": {"action": "transition", "from": "已申报", "to": "预审通过", "comment": "好"}})
    assert changed["status"] == "预审通过" and changed["revision"] == 2
    assert changed["history"][0]["user"] == "town1" and changed["history"][0]["to"] == "预审通过"
    assert store.get_project(project["id"]) == changed
    with pytest.raises(RecordChanged):
        store.update_project(project["id"], 1, {"status": "已立项"})
    with pytest.raises(LookupError):
        store.update_project(999, 1, {"status": "已立项"})
    with pytest.raises(ValueError):
        store.update_project(project["id"], 2, {"id": 5})
    with pytest.raises(ValueError):
        store.add_project({"title": "缺字段"})


def test_a_submission_and_its_project_change_together(store, broken_writes):
    doc = add(store, "s1")
    project, _ = store.add_project(project_doc(doc["receipt"]))
    sub, proj = store.update_submission(doc["receipt"], 1, {"status": "已通过"},
                                        project=(project["id"], 1, {"status": "预审通过"}))
    assert sub["status"] == "已通过" and proj["status"] == "预审通过"
    assert store.get_project(project["id"]) == proj
    with pytest.raises(RecordChanged):  # the project's revision is stale: neither changes
        store.update_submission(doc["receipt"], 2, {"status": "退回修改"},
                                project=(project["id"], 1, {"status": "退回修改"}))
    assert store.get_submission(doc["receipt"]) == sub
    with pytest.raises(LookupError):
        store.update_submission(doc["receipt"], 2, {"status": "退回修改"},
                                project=(999, 1, {"status": "退回修改"}))
    assert store.get_submission(doc["receipt"]) == sub
    from storage import StorageError
    with broken_writes(), pytest.raises(StorageError):
        store.update_submission(doc["receipt"], 2, {"status": "退回修改"},
                                project=(project["id"], 2, {"status": "退回修改"}))
    assert store.get_submission(doc["receipt"]) == sub
    assert store.get_project(project["id"]) == proj


def test_users_have_a_scope_and_can_be_changed(store, second_store):
    user = store.add_user("town1", "hash", "reviewer", org_code="T01")
    assert user["org_code"] == "T01" and user["role"] == "reviewer"
    assert store.add_user("admin", "hash", "admin")["org_code"] is None
    session = second_store.create_session("town1", timedelta(hours=1))
    changed = second_store.update_user("town1", {"org_code": "T02", "name": "李四"})
    assert changed["org_code"] == "T02" and changed["name"] == "李四"
    assert store.get_user("town1") == changed
    assert store.get_session(session["id"]) is None  # a new scope: log in again
    session = store.create_session("town1", timedelta(hours=1))
    store.update_user("town1", {"phone": "13800000000"})
    assert store.get_session(session["id"]) is not None
    store.update_user("town1", {"active": False})
    assert second_store.get_session(session["id"]) is None
    assert store.get_user("town1")["active"] is False
    assert store.update_user("nobody", {"role": "viewer"}) is None
    with pytest.raises(ValueError):
        store.update_user("town1", {"password_hash": "x"})
    assert [u["username"] for u in store.list_users()] == ["admin", "town1"]


def test_api_tokens(store, second_store):
    token = store.add_api_token("admin", "h" * 64, "省平台", "2027-01-01T00:00:00+08:00")
    assert token["username"] == "admin" and token["revoked_at"] is None
    assert common.parse_stamp(token["expires_at"]) == common.parse_stamp("2027-01-01T00:00:00+08:00")
    assert second_store.find_api_token("h" * 64) == token
    assert store.find_api_token("x") is None
    with pytest.raises(DuplicateError):
        second_store.add_api_token("admin", "h" * 64, "again", None)
    other = store.add_api_token("town1", "g" * 64, "", None)
    assert other["expires_at"] is None and other["id"] != token["id"]
    assert store.list_api_tokens() == [token, other]
    assert store.list_api_tokens("town1") == [other]
    revoked = second_store.revoke_api_token(token["id"])
    assert revoked["revoked_at"] is not None
    assert store.find_api_token("h" * 64)["revoked_at"] == revoked["revoked_at"]
    assert store.revoke_api_token(token["id"])["revoked_at"] == revoked["revoked_at"]
    assert store.revoke_api_token("nope") is None


def test_lifecycle_survives_a_snapshot_and_load(store, backend, request, tmp_path):
    doc = add(store, "s1", period="2026-11", slot="2026-11", project_id=1)
    store.update_submission(doc["receipt"], 1, {"answers": {"x": 1}, "status": "已通过",
                                                "event": {"action": "approve"}})
    project, _ = store.add_project(project_doc(doc["receipt"]))
    store.update_project(project["id"], 1, {"status": "预审通过"})
    store.add_api_token("admin", "h" * 64, "", None)
    store.add_user("town1", "hash", "reviewer", org_code="T01")
    from conftest import open_store  # another database of the same backend

    target = open_store(backend, tmp_path / "other" / "taizhang.db" if backend == "tinydb"
                        else request.getfixturevalue("pg_database")(migrated=True))
    request.addfinalizer(target.close)
    with store.snapshot() as snap:
        counts = snap.counts()
        assert counts["projects"] == 1 and counts["api_tokens"] == 1
        target.load(snap, force=True)
    assert target.get_submission(doc["receipt"]) == {
        **store.get_submission(doc["receipt"]), "id": target.get_submission(doc["receipt"])["id"]}
    assert target.get_project(project["id"]) == store.get_project(project["id"])
    assert target.list_api_tokens() == store.list_api_tokens()
    assert target.get_user("town1")["org_code"] == "T01"
    with pytest.raises(PeriodTaken):  # the slot index is rebuilt by the load
        target.add_submission("monthly", 1, "v1", ANSWERS, "s9", period="2026-11",
                              slot="2026-11")
    new, _ = target.add_project(project_doc("261204-0099"))
    assert new["id"] == project["id"] + 1


def test_imported_submissions_carry_their_period_and_hold_their_slot(store, second_store):
    doc = {"form_id": "monthly", "form_version": 1, "org_code": "v1", "answers": ANSWERS,
           "submitted_at": "2026-11-03T09:00:00+08:00", "period": "2026-10",
           "slot": "2026-10/4", "project_id": 4}
    assert store.import_submissions([doc, {**doc, "org_code": "v2"}]) == 2
    stored = store.query_submissions("monthly", org_codes=["v1"])[1][0]
    assert (stored["period"], stored["slot"], stored["project_id"], stored["status"]) == (
        "2026-10", "2026-10/4", 4, "待审核")
    with pytest.raises(PeriodTaken):
        second_store.add_submission("monthly", 1, "v1", ANSWERS, "x1", period="2026-10",
                                    slot="2026-10/4")
    with pytest.raises(DuplicateError):  # held by a stored one: nothing of the batch stored
        second_store.import_submissions([{**doc, "org_code": "v3"}, doc])
    with pytest.raises(DuplicateError):  # twice in one batch
        second_store.import_submissions([{**doc, "org_code": "v4"}, {**doc, "org_code": "v4"}])
    assert store.count_submissions("monthly") == 2


def test_photos_of_replaced_answers_are_not_pruned(store, second_store):
    import time

    from test_store_contract import JPEG, PNG

    old = store.put_photo(PNG, "image/png")
    doc = add(store, "s1", files=[old])
    new = store.put_photo(JPEG, "image/jpeg")
    store.update_submission(doc["receipt"], 1, {"answers": {"x": 1}, "files": [new]})
    time.sleep(0.05)
    assert second_store.prune_photos(common.now() + timedelta(seconds=1)) == 0
    assert store.get_photo(old)["data"] == PNG  # the reviewer still compares the versions


def test_a_project_keeps_its_organization_and_year_typed(store):
    project, _ = store.add_project(project_doc())
    for changes in ({"year": "2026"}, {"year": True}, {"org_code": ""}, {"org_code": 5}):
        with pytest.raises(ValueError):
            store.update_project(project["id"], 1, changes)
    assert store.get_project(project["id"]) == project
