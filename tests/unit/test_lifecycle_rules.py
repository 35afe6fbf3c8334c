"""The state machines of review and projects, and who may take each step (no Flask, no
database: the rules alone)."""
import pytest

from services import projects, review
from services.orgs import OrgIndex

ORGS = [
    {"code": "C", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "T1", "name": "响肠镇", "parent_code": "C", "kind": "township"},
    {"code": "V1", "name": "千佛塔村", "parent_code": "T1", "kind": "village"},
    {"code": "T2", "name": "菖蒲镇", "parent_code": "C", "kind": "township"},
    {"code": "V2", "name": "水畈村", "parent_code": "T2", "kind": "village"},
]
INDEX = OrgIndex(ORGS)
ADMIN = {"username": "admin", "role": "admin", "org_code": None}
TOWN1 = {"username": "t1", "role": "reviewer", "org_code": "T1"}
TOWN2 = {"username": "t2", "role": "reviewer", "org_code": "T2"}
VIEWER = {"username": "v", "role": "viewer", "org_code": "T1"}
JUDGE = {"username": "j", "role": "judge", "org_code": None}


def project(status, org="V1", **extra):
    return {"id": 1, "status": status, "org_code": org, "application": "261204-0001",
            "revision": 1, **extra}


def submission(status, org="V1"):
    return {"receipt": "261204-0009", "status": status, "org_code": org}


def test_every_status_has_its_next_steps_and_none_is_skipped():
    assert set(projects.NEXT) == set(projects.STATUSES)
    assert all(to in projects.STATUSES for nexts in projects.NEXT.values() for to in nexts)
    # the order of the issue: no path reaches 已立项 without 预审通过, nor 已验收 without a request
    assert projects.NEXT["已申报"] == ("预审通过", "退回修改")
    assert "已立项" not in projects.NEXT["已申报"]
    assert [s for s, nexts in projects.NEXT.items() if "已验收" in nexts] == ["已申请验收"]
    assert [s for s, nexts in projects.NEXT.items() if "已立项" in nexts] == ["预审通过"]
    assert projects.NEXT["已否决"] == () and projects.NEXT["已验收"] == ()


@pytest.mark.parametrize("current,to,user,code", [
    ("已申报", "已立项", ADMIN, "invalid_transition"),       # skipped step
    ("已申报", "实施中", ADMIN, "invalid_transition"),
    ("已立项", "已验收", ADMIN, "invalid_transition"),
    ("已验收", "实施中", ADMIN, "invalid_transition"),        # finished
    ("退回修改", "已申报", ADMIN, "invalid_transition"),      # only the cadre's correction
    ("预审通过", "已立项", TOWN1, "forbidden"),               # a county step
    ("已申请验收", "已验收", TOWN1, "forbidden"),
    ("已申报", "预审通过", VIEWER, "forbidden"),
    ("已申报", "预审通过", JUDGE, "forbidden"),
    ("已申报", "预审通过", TOWN2, "forbidden"),               # another township's village
    ("已申报", "通过", ADMIN, "invalid_status"),
])
def test_refused_transitions(current, to, user, code):
    with pytest.raises(projects.ProjectError) as exc:
        projects.check_transition(project(current), to, user, INDEX)
    assert exc.value.code == code and str(exc.value)


@pytest.mark.parametrize("current,to,user", [
    ("已申报", "预审通过", TOWN1), ("已申报", "退回修改", TOWN1), ("预审通过", "已立项", ADMIN),
    ("预审通过", "已否决", ADMIN), ("已立项", "实施中", TOWN1), ("实施中", "已申请验收", TOWN1),
    ("已申请验收", "已验收", ADMIN), ("已申请验收", "验收未通过", ADMIN),
    ("验收未通过", "实施中", TOWN1), ("已申报", "预审通过", ADMIN),
])
def test_allowed_transitions(current, to, user):
    projects.check_transition(project(current), to, user, INDEX)
    assert to in projects.allowed_next(project(current), user, INDEX)


def test_a_void_project_moves_no_more():
    with pytest.raises(projects.ProjectError):
        projects.check_transition(project("已申报", void=True), "预审通过", ADMIN, INDEX)
    assert projects.allowed_next(project("已申报", void=True), ADMIN, INDEX) == []


def test_review_actions_by_status_and_role():
    assert review.allowed_actions(submission("待审核"), TOWN1, INDEX) == [
        "approve", "return", "void"]
    assert review.allowed_actions(submission("已通过"), TOWN1, INDEX) == ["return", "void"]
    assert review.allowed_actions(submission("退回修改"), TOWN1, INDEX) == ["void"]
    assert review.allowed_actions(submission("已作废"), TOWN1, INDEX) == ["restore"]
    assert review.allowed_actions(submission("待审核"), TOWN2, INDEX) == []
    assert review.allowed_actions(submission("待审核"), VIEWER, INDEX) == []
    assert review.allowed_actions(submission("待审核"), JUDGE, INDEX) == []
    assert review.allowed_actions(submission("待审核", org="V2"), ADMIN, INDEX) == [
        "approve", "return", "void"]


def test_an_applications_approve_is_its_projects_next_approval():
    pending = project("已申报")
    assert review.approve_label(submission("待审核") | {"receipt": "261204-0001"},
                                pending) == "预审通过"
    pre = project("预审通过")
    approved = submission("已通过") | {"receipt": "261204-0001"}
    assert review.approve_label(approved, pre) == "立项"
    # after pre-review, only the county approves again (立项)
    assert "approve" in review.allowed_actions(approved, ADMIN, INDEX, pre)
    assert "approve" not in review.allowed_actions(approved, TOWN1, INDEX, pre)
    assert "approve" not in review.allowed_actions(approved, ADMIN, INDEX, project("已立项"))


def test_changes_field_by_field():
    schema = {"fields": [
        {"name": "s", "type": "section", "label": "一"},
        {"name": "title", "type": "text", "label": "项目名称"},
        {"name": "jobs", "type": "integer", "label": "带动就业", "unit": "人"},
        {"name": "kind", "type": "select", "label": "类型", "choices": [
            {"value": "a", "label": "书记项目"}, {"value": "b", "label": "书记领办事项"}]},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "fields": [
            {"name": "month", "type": "month", "label": "月份"},
            {"name": "task", "type": "text", "label": "任务"}]},
    ]}
    old = {"title": "一米菜园", "jobs": 12, "kind": "a", "steps": [{"month": "2026-03",
                                                               "task": "流转"}]}
    new = {"title": "一米菜园", "jobs": 15, "kind": "b",
           "steps": [{"month": "2026-03", "task": "流转50亩"}]}
    found = review.changes(schema, old, new)
    assert [c["label"] for c in found] == ["带动就业", "类型", "实施步骤"]
    assert found[0] == {"label": "带动就业", "old": "12 人", "new": "15 人"}
    assert found[1]["new"] == "书记领办事项"
    assert found[2]["old"] == "1. 月份：2026-03；任务：流转"
    assert review.changes(schema, old, old) == []


def test_step_progress_counts_due_steps_with_reports():
    from datetime import date

    p = project("实施中", steps=[{"month": "2026-10", "task": "a", "owner": "张三"},
                                 {"month": "2026-11", "task": "b"},
                                 {"month": "2027-01", "task": "c"}])
    reports = [{"period": "2026-10", "receipt": "261105-0001"}]
    progress = projects.step_progress(p, reports, date(2026, 12, 4))
    assert (progress["due"], progress["reported"], progress["total"]) == (2, 1, 3)
    assert progress["rows"][0]["reports"] == ["261105-0001"]
    assert [r["due"] for r in progress["rows"]] == [True, True, False]
