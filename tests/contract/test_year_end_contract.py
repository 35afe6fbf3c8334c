"""The storage contract of the year end (issue 11), on both backends: a year's rubric, judges'
scores (one per project, judge and criterion, all or nothing), 群众诉求 cases and their
grouped counts."""
import threading

import pytest

from storage import common
from storage.errors import DuplicateError, RecordChanged, StorageError

RUBRIC = [{"name": "选题精准", "max": 20, "weight": 1}, {"name": "推进实效", "max": 40},
          {"name": "示范效应", "max": 20}, {"name": "群众满意", "max": 20, "weight": 1.5}]


def score(project, judge, criterion, value, year=2026):
    return {"year": year, "project": project, "judge": judge, "criterion": criterion,
            "score": value}


def test_a_rubric_per_year_is_set_replaced_and_seen_by_another_store(store, second_store):
    assert store.get_rubric(2026) is None
    stored = store.put_rubric(2026, RUBRIC, "admin")
    assert stored["criteria"][1] == {"name": "推进实效", "max": 40, "weight": 1}
    assert second_store.get_rubric(2026) == stored
    second_store.put_rubric(2026, RUBRIC[:2], "admin2")
    store.put_rubric(2025, RUBRIC, None)
    assert [c["name"] for c in store.get_rubric(2026)["criteria"]] == ["选题精准", "推进实效"]
    assert [r["year"] for r in store.list_rubrics()] == [2025, 2026]


@pytest.mark.parametrize("criteria", [[], [{"name": "a", "max": 0}], [{"name": "a"}],
                                      [{"name": "a", "max": 5}, {"name": "a", "max": 5}],
                                      [{"name": "a", "max": 5, "weight": -1}], "选题精准"])
def test_a_malformed_rubric_is_refused(store, criteria):
    with pytest.raises(ValueError):
        store.put_rubric(2026, criteria, "admin")
    assert store.get_rubric(2026) is None


def test_scores_are_stored_all_or_nothing(store, second_store):
    assert store.add_scores([score(1, "j1", "选题精准", 18.5), score(1, "j1", "推进实效", "36"),
                             score(2, "j1", "选题精准", 0)]) == 3
    found = second_store.list_scores(2026)
    assert [(s["project"], s["judge"], s["criterion"], s["score"]) for s in found] == [
        (1, "j1", "推进实效", "36"), (1, "j1", "选题精准", "18.5"), (2, "j1", "选题精准", "0")]
    # one score already stored: the batch stores nothing
    with pytest.raises(DuplicateError):
        second_store.add_scores([score(3, "j1", "选题精准", 10), score(1, "j1", "选题精准", 10)])
    # twice in one batch: nothing
    with pytest.raises(DuplicateError):
        store.add_scores([score(4, "j2", "选题精准", 10), score(4, "j2", "选题精准", 11)])
    assert len(store.list_scores(2026)) == 3
    assert store.list_scores(2026, project_id=1, judge="j1")[0]["criterion"] == "推进实效"
    assert store.list_scores(2025) == []


@pytest.mark.parametrize("value", [-1, "abc", float("nan"), "1.234", True, None, "1e30", "inf"])
def test_a_malformed_score_stores_nothing(store, value):
    with pytest.raises(ValueError):
        store.add_scores([score(1, "j1", "a", 5), score(1, "j1", "b", value)])
    assert store.list_scores(2026) == []


def test_concurrent_imports_store_one_score_once(make_store):
    stores = [make_store() for _ in range(4)]
    outcomes = []

    def run(s):
        try:
            outcomes.append(s.add_scores([score(1, "j1", "选题精准", 10)]))
        except DuplicateError:
            outcomes.append("dup")

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [1, "dup", "dup", "dup"]
    assert len(stores[0].list_scores(2026)) == 1


def test_a_judge_replaces_their_scores_of_a_project(store, second_store):
    store.add_scores([score(1, "j1", "选题精准", 10), score(1, "j2", "选题精准", 12)])
    mine = second_store.set_scores(2026, 1, "j1", {"选题精准": 15, "推进实效": "30.5"})
    assert [(s["criterion"], s["score"]) for s in mine] == [("推进实效", "30.5"),
                                                            ("选题精准", "15")]
    assert store.list_scores(2026, 1, "j2")[0]["score"] == "12"  # another judge's kept
    assert store.set_scores(2026, 1, "j1", {}) == []
    assert [s["judge"] for s in store.list_scores(2026)] == ["j2"]


def test_set_scores_is_one_write(store, broken_writes):
    store.set_scores(2026, 1, "j1", {"选题精准": 15})
    with broken_writes(), pytest.raises(StorageError):
        store.set_scores(2026, 1, "j1", {"选题精准": 9, "推进实效": 9})
    assert [(s["criterion"], s["score"]) for s in store.list_scores(2026)] == [("选题精准", "15")]


def case_doc(receipt, org="v1", stage="研判", deadline="2026-12-01", form="demand"):
    return {"receipt": receipt, "form_id": form, "org_code": org, "stage": stage,
            "deadline": deadline, "owner": "T01", "category": "道路交通"}


def test_cases_open_once_change_with_revision_and_list(store, second_store):
    case, created = store.open_case(case_doc("r1"))
    assert created and case["revision"] == 1 and case["history"] == []
    again, created = second_store.open_case(case_doc("r1", stage="办结"))
    assert not created and again == case
    changed = second_store.update_case("r1", 1, {"stage": "办结", "action": "修好了",
                                                 "event": {"action": "close", "from": "研判",
                                                           "to": "办结"}, "user": "x"})
    assert changed["revision"] == 2 and changed["history"][0]["user"] == "x"
    assert store.get_case("r1") == changed
    with pytest.raises(RecordChanged):
        store.update_case("r1", 1, {"stage": "回访"})
    with pytest.raises(LookupError):
        store.update_case("nope", 1, {"stage": "回访"})
    with pytest.raises(ValueError):
        store.update_case("r1", 2, {"receipt": "r2"})
    with pytest.raises(ValueError):
        store.update_case("r1", 2, {"deadline": "12/01"})
    store.open_case(case_doc("r2", org="v2", stage="研判", form="other"))
    assert [c["receipt"] for c in store.list_cases()] == ["r1", "r2"]
    assert [c["receipt"] for c in store.list_cases("demand")] == ["r1"]
    assert [c["receipt"] for c in store.list_cases(org_codes=["v2"])] == ["r2"]
    assert [c["receipt"] for c in store.list_cases(stages=["办结"])] == ["r1"]
    assert store.list_cases(org_codes=[]) == []


def test_case_groups_count_cases_of_submissions_not_voided(store):
    receipts = []
    for n, org in enumerate(["v1", "v1", "v1", "v2", "v2"]):
        doc, _ = store.add_submission("demand", 1, org, {"content": "路灯坏了"}, f"s{n}")
        receipts.append(doc["receipt"])
    store.open_case(case_doc(receipts[0]))
    store.open_case(case_doc(receipts[1]))
    store.open_case(case_doc(receipts[2], stage="办结", deadline=None))
    store.open_case(case_doc(receipts[3], org="v2"))
    store.open_case(case_doc(receipts[4], org="v2"))
    store.update_submission(receipts[4], 1, {"status": common.VOID})
    assert store.case_groups("demand") == [
        {"org_code": "v1", "stage": "办结", "deadline": None, "count": 1},
        {"org_code": "v1", "stage": "研判", "deadline": "2026-12-01", "count": 2},
        {"org_code": "v2", "stage": "研判", "deadline": "2026-12-01", "count": 1}]
    assert store.case_groups("demand", org_codes=["v2"]) == [
        {"org_code": "v2", "stage": "研判", "deadline": "2026-12-01", "count": 1}]
    assert store.case_groups("other") == []


def test_year_end_survives_a_snapshot_and_load(store, backend, request, tmp_path):
    store.put_rubric(2026, RUBRIC, "admin")
    store.add_scores([score(1, "j1", "选题精准", 18.5)])
    doc, _ = store.add_submission("demand", 1, "v1", {"content": "路灯坏了"}, "s1")
    store.open_case(case_doc(doc["receipt"]))
    # another database of the same backend (not conftest.open_store: with the browser tests
    # in the same session, "conftest" may name another folder's module)
    if backend == "tinydb":
        from storage import TinyStore

        target = TinyStore(tmp_path / "other" / "taizhang.db")
    else:
        from storage.pg import PgStore

        target = PgStore(request.getfixturevalue("pg_database")(migrated=True), timeout=5.0)
    request.addfinalizer(target.close)
    with store.snapshot() as snap:
        counts = snap.counts()
        assert (counts["rubrics"], counts["scores"], counts["cases"]) == (1, 1, 1)
        target.load(snap, force=True)
    assert target.get_rubric(2026) == store.get_rubric(2026)
    assert target.list_scores(2026) == store.list_scores(2026)
    assert target.get_case(doc["receipt"]) == store.get_case(doc["receipt"])
    assert target.case_groups("demand") == store.case_groups("demand")
    with pytest.raises(DuplicateError):  # the unique key holds after a load
        target.add_scores([score(1, "j1", "选题精准", 1)])
