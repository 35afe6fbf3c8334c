"""services/dashboard.py on a small county whose every figure is worked out by hand below, on
both storage backends: projects by category and status, the monthly reporting rate (a month
counts once its due day has passed), acceptance progress, the county and each township, the
user's scope (OutOfScope outside it), the year, and the panel hook.

The county (year 2026, today 2026-05-20 unless a test says otherwise):

    YX 岳西县
    ├── XC 响肠镇: XC1 千佛塔村, XC2 余畈村, XCU 响肠镇中心学校 (unit)
    ├── BM 白帽镇: BM1 深村村
    └── CZJ 县财政局 (unit)

    project  org  kind / category            status      立项 → 验收
    P1       XC1  党建引领发展类              实施中      2026-01
    P2       XC2  党建文化建设类              已申请验收  2026-02
    P3       XCU  机关党建提升类              已申报      —
    P4       BM1  党建引领发展类              已验收      2026-01 → 2026-04
    P5       XC1  书记领办事项 (征地搬迁)      验收未通过  2026-03
    P6       CZJ  机关党建提升类              已否决      —
    P7       XC2  党建改革创新类 (2025)       已验收      (another year)
    P8       BM1  党建改革创新类, voided      已立项      (left out)

Monthly reports (due the 5th of the next month) must come from the organizations with an
approved project, from its 立项 month to its 验收 month: XC1 Jan–May, XC2 Feb–May, BM1 Jan–Apr.

    month  XC1             XC2             BM1             county        XC      BM
    Jan    02-03 on time   —               02-09 late      2/2 100.0     1/1     1/1
    Feb    03-04 on time   missing         03-05 on time   2/3  66.7     1/2     1/1
    Mar    04-01 on time   04-07 late      missing         2/3  66.7     2/2     0/1
    Apr    missing         missing         missing         0/3   0.0     0/2     0/1
    May    —               05-18 (early)   —               1/2 not due   1/2     0/0
"""
from datetime import date, datetime

import pytest

from forms.loader import check_schema, load_schema_file
from seed import seed_demo, seed_first_start
from services import dashboard, periods, reporting
from services.dashboard import OutOfScope, dashboard as build
from services.orgs import OrgIndex
from storage import TinyStore

TODAY = date(2026, 5, 20)
ORGS = [
    {"code": "YX", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "XC", "name": "响肠镇", "parent_code": "YX", "kind": "township"},
    {"code": "XC1", "name": "千佛塔村", "parent_code": "XC", "kind": "village"},
    {"code": "XC2", "name": "余畈村", "parent_code": "XC", "kind": "village"},
    {"code": "XCU", "name": "响肠镇中心学校", "parent_code": "XC", "kind": "unit"},
    {"code": "BM", "name": "白帽镇", "parent_code": "YX", "kind": "township"},
    {"code": "BM1", "name": "深村村", "parent_code": "BM", "kind": "village"},
    {"code": "CZJ", "name": "县财政局", "parent_code": "YX", "kind": "unit"},
]
# (org, kind, category, status, approved month, accepted month, year, void)
PROJECTS = [
    ("XC1", "书记项目", "党建引领发展类", "实施中", "2026-01", None, 2026, False),
    ("XC2", "书记项目", "党建文化建设类", "已申请验收", "2026-02", None, 2026, False),
    ("XCU", "书记项目", "机关党建提升类", "已申报", None, None, 2026, False),
    ("BM1", "书记项目", "党建引领发展类", "已验收", "2026-01", "2026-04", 2026, False),
    ("XC1", "书记领办事项", "征地搬迁", "验收未通过", "2026-03", None, 2026, False),
    ("CZJ", "书记项目", "机关党建提升类", "已否决", None, None, 2026, False),
    ("XC2", "书记项目", "党建改革创新类", "已验收", "2025-02", "2025-11", 2025, False),
    ("BM1", "书记项目", "党建改革创新类", "已立项", "2026-01", None, 2026, True),
]
# (org, project index, report month, submitted on)
REPORTS = [
    ("XC1", 0, "2026-01", date(2026, 2, 3)), ("BM1", 3, "2026-01", date(2026, 2, 9)),
    ("XC1", 0, "2026-02", date(2026, 3, 4)), ("BM1", 3, "2026-02", date(2026, 3, 5)),
    ("XC1", 4, "2026-03", date(2026, 4, 1)), ("XC2", 1, "2026-03", date(2026, 4, 7)),
    ("XC2", 1, "2026-05", date(2026, 5, 18)),
]
# A second monthly form, of every village and unit (no projects): its own panel.
PLAIN_MONTHLY = {"id": "t_month", "title": "村务月报", "description": "每月报", "fields": [
    {"name": "report_month", "type": "month", "label": "报告月份", "required": True}],
    "period": {"every": "month", "field": "report_month", "due_day": 5}}
YEARLY = {"id": "t_year", "title": "年度总结", "description": "每年报", "fields": [
    {"name": "summary", "type": "text", "label": "总结"}], "period": {"every": "year"}}

ADMIN = {"username": "admin", "role": "admin", "org_code": None, "active": True}


def user(role, org_code=None, active=True):
    return {"username": f"{role}-{org_code}", "role": role, "org_code": org_code,
            "active": active}


@pytest.fixture(params=["tinydb", "postgresql"])
def store(request, tmp_path):
    if request.param == "tinydb":
        opened = TinyStore(tmp_path / "taizhang.db")
    else:
        from storage.pg import PgStore

        opened = PgStore(request.getfixturevalue("pg_url"), timeout=5.0)
    try:
        fill(opened)
        yield opened
    finally:
        opened.close()


def stamp(day, hour=10):
    return datetime(day.year, day.month, day.day, hour).astimezone().isoformat()


def fill(store):
    store.upsert_orgs(ORGS)
    monthly = load_schema_file("schemas/monthly_report.json")
    for schema in (monthly, check_schema(PLAIN_MONTHLY), check_schema(YEARLY)):
        store.add_form_version(schema, source="cli")
    ids = []
    for n, (org, kind, category, status, approved, accepted, year, void) in enumerate(PROJECTS):
        history = [{"at": stamp(date(year, 1, 5)), "user": None, "action": "submit",
                    "from": None, "to": "已申报", "comment": ""}]
        if approved:
            history.append({"at": stamp(date.fromisoformat(approved + "-10")), "user": "admin",
                            "action": "transition", "from": "预审通过", "to": "已立项",
                            "comment": ""})
        if accepted:
            history.append({"at": stamp(date.fromisoformat(accepted + "-25")), "user": "admin",
                            "action": "transition", "from": "已申请验收", "to": "已验收",
                            "comment": ""})
        project, _new = store.add_project({
            "title": f"项目{n + 1}", "category": category, "kind": kind, "org_code": org,
            "secretary": "张三", "year": year, "steps": [], "status": status,
            "application": f"A-{n + 1}", "form_id": "apply_development", "history": history,
            **({"void": True} if void else {})})
        ids.append(project["id"])
    store.import_submissions(
        {"form_id": "monthly_report", "form_version": 1, "org_code": org,
         "answers": {"report_month": month, "project": str(ids[p])},
         "submitted_at": stamp(day), "submission_id": f"r-{org}-{month}",
         "period": month, "slot": periods.slot_of(monthly, month, ids[p]), "project_id": ids[p]}
        for org, p, month, day in sorted(REPORTS, key=lambda r: r[3]))


@pytest.fixture
def index(store):
    return OrgIndex(store.list_orgs())


def panel(data, key):
    return next(p for p in data["panels"] if p["key"] == key)


def rows(data, key):
    return [tuple(r) for r in panel(data, key)["rows"]]


# ---------------------------------------------------------------- the county

def test_the_county_projects_by_category_and_status(store, index):
    data = build(store, index, ADMIN, 2026, today=TODAY)
    assert data["area"] == {"code": None, "name": "岳西县", "kind": "county"}
    assert data["year"] == 2026 and data["today"] == TODAY
    # the other year's project and the voided one are not counted
    assert rows(data, "projects-category") == [
        ("党建改革创新类", 0, 0), ("党建引领发展类", 2, 2), ("机关党建提升类", 2, 0),
        ("党建文化建设类", 1, 1), ("书记领办事项", 1, 1)]
    assert rows(data, "projects-status") == [
        ("已申报", 1), ("预审通过", 0), ("退回修改", 0), ("已立项", 0), ("已否决", 1),
        ("实施中", 1), ("已申请验收", 1), ("已验收", 1), ("验收未通过", 1)]
    assert panel(data, "projects-status")["summary"] == "共 6 个项目（不含已作废）"


def test_the_county_monthly_reporting_rate(store, index):
    data = build(store, index, ADMIN, 2026, today=TODAY)
    reporting = panel(data, "reporting-monthly-report")
    assert reporting["form_id"] == "monthly_report" and reporting["unit"] == "%"
    assert rows(data, "reporting-monthly-report") == [
        ("1月", 100.0, 2, 2), ("2月", 66.7, 2, 3), ("3月", 66.7, 2, 3), ("4月", 0.0, 0, 3),
        ("5月", None, 1, 2)]  # May is due on 6-05: reported early, no rate yet
    # The plain monthly form: every village and unit, nobody reported; the yearly form and
    # the project-less forms have no panel.
    assert rows(data, "reporting-t-month") == [(f"{m}月", 0.0, 0, 5) for m in (1, 2, 3, 4)] + [
        ("5月", None, 0, 5)]
    assert [p["key"] for p in data["panels"] if p["key"].startswith("reporting-")] == [
        "reporting-monthly-report", "reporting-t-month"]


@pytest.mark.parametrize("area", [None, "XC", "BM", "XC1"])
@pytest.mark.parametrize("today", [TODAY, date(2026, 3, 5), date(2027, 1, 2)])
def test_the_month_counts_are_the_reporting_matrixs(store, index, area, today):
    """month_counts counts what services.reporting.matrix counts (expected, 已报 + 迟报)."""
    codes = index.below(area) if area else None
    for form_id in ("monthly_report", "t_month"):
        schema = store.get_form(form_id)["schema"]
        table = reporting.matrix(store, index, schema, 2026, codes, today)
        assert dashboard.month_counts(store, index, schema, 2026, codes, today) == [
            {"period": p["period"], "due": p["due"], "expected": p["counts"]["expected"],
             "reported": p["counts"]["已报"] + p["counts"]["迟报"]} for p in table["periods"]]


def test_the_month_counts_of_a_demo_year(tmp_path):
    """... and on seed-demo's year (every township, the county)."""
    demo = TinyStore(tmp_path / "demo.db")
    try:
        seed_first_start(demo)
        seed_demo(demo, 1500, seed=11)
        index = OrgIndex(demo.list_orgs())
        schema = demo.get_form("monthly_report")["schema"]
        today = reporting.today_local()
        for area in [None] + [t["code"] for t in index.townships()]:
            codes = index.below(area) if area else None
            table = reporting.matrix(demo, index, schema, today.year, codes, today)
            counts = dashboard.month_counts(demo, index, schema, today.year, codes, today)
            assert [(c["expected"], c["reported"]) for c in counts] == [
                (p["counts"]["expected"], p["counts"]["已报"] + p["counts"]["迟报"])
                for p in table["periods"]]
            assert sum(c["reported"] for c in counts) > 0
    finally:
        demo.close()


def test_a_month_counts_once_its_due_day_has_passed(store, index):
    on_due_day = build(store, index, ADMIN, 2026, today=date(2026, 5, 5))
    assert rows(on_due_day, "reporting-monthly-report")[3] == ("4月", None, 0, 3)
    day_after = build(store, index, ADMIN, 2026, today=date(2026, 5, 6))
    assert rows(day_after, "reporting-monthly-report")[3] == ("4月", 0.0, 0, 3)


def test_the_county_acceptance_progress(store, index):
    data = build(store, index, ADMIN, 2026, today=TODAY)
    assert rows(data, "acceptance") == [("已立项(合计)", 4, 100.0), ("已申请验收", 1, 25.0),
                                        ("已验收", 1, 25.0), ("验收未通过", 1, 25.0)]
    assert panel(data, "acceptance")["summary"] == "已验收 1 / 已立项 4"


def test_another_year(store, index):
    data = build(store, index, ADMIN, 2025, today=TODAY)
    assert rows(data, "projects-category")[0] == ("党建改革创新类", 1, 1)
    assert rows(data, "acceptance")[:3] == [("已立项(合计)", 1, 100.0), ("已申请验收", 0, 0.0),
                                            ("已验收", 1, 100.0)]
    # XC2 reported nothing in 2025: every month of a past year is past due
    assert rows(data, "reporting-monthly-report") == [
        (f"{m}月", 0.0 if m >= 2 and m <= 11 else None, 0, 1 if 2 <= m <= 11 else 0)
        for m in range(1, 13)]
    assert dashboard.years(TODAY) == [2026, 2025, 2024, 2023, 2022]
    assert dashboard.years(TODAY, 2019) == [2026, 2025, 2024, 2023, 2022, 2019]
    # a future year: no month to report yet
    assert build(store, index, ADMIN, 2027, today=TODAY)["panels"][2]["rows"] == []


# ---------------------------------------------------------------- a township, and scope

def test_a_township(store, index):
    data = build(store, index, ADMIN, 2026, "XC", today=TODAY)
    assert data["area"] == {"code": "XC", "name": "响肠镇", "kind": "township"}
    assert rows(data, "projects-category") == [
        ("党建改革创新类", 0, 0), ("党建引领发展类", 1, 1), ("机关党建提升类", 1, 0),
        ("党建文化建设类", 1, 1), ("书记领办事项", 1, 1)]
    assert rows(data, "reporting-monthly-report") == [
        ("1月", 100.0, 1, 1), ("2月", 50.0, 1, 2), ("3月", 100.0, 2, 2), ("4月", 0.0, 0, 2),
        ("5月", None, 1, 2)]
    assert rows(data, "acceptance") == [("已立项(合计)", 3, 100.0), ("已申请验收", 1, 33.3),
                                        ("已验收", 0, 0.0), ("验收未通过", 1, 33.3)]
    other = build(store, index, ADMIN, 2026, "BM", today=TODAY)
    assert rows(other, "reporting-monthly-report") == [
        ("1月", 100.0, 1, 1), ("2月", 100.0, 1, 1), ("3月", 0.0, 0, 1), ("4月", 0.0, 0, 1),
        ("5月", None, 0, 0)]
    assert rows(other, "projects-status")[7] == ("已验收", 1)


def test_a_township_reviewer_sees_its_township_only(store, index):
    reviewer = user("reviewer", "XC")
    own = build(store, index, reviewer, 2026, today=TODAY)
    assert own["area"]["code"] == "XC"
    assert rows(own, "acceptance") == rows(build(store, index, ADMIN, 2026, "XC", today=TODAY),
                                           "acceptance")
    for code in ("BM", "BM1", "YX", "CZJ", "nowhere"):
        with pytest.raises(OutOfScope):
            build(store, index, reviewer, 2026, code, today=TODAY)
    village = build(store, index, reviewer, 2026, "XC1", today=TODAY)
    assert village["area"]["name"] == "千佛塔村"
    assert rows(village, "projects-category")[4] == ("书记领办事项", 1, 1)
    assert dashboard.areas(index, reviewer) == [("XC", "响肠镇")]


def test_roles_and_areas(store, index):
    assert dashboard.areas(index, ADMIN) == [(None, "岳西县"), ("BM", "白帽镇"), ("XC", "响肠镇")]
    judge = user("judge")  # no organization: the county
    assert build(store, index, judge, 2026, today=TODAY)["area"]["code"] is None
    assert dashboard.areas(index, judge) == dashboard.areas(index, ADMIN)
    viewer = user("viewer", "BM1")  # a village's viewer: its village
    assert dashboard.areas(index, viewer) == [("BM1", "深村村")]
    data = build(store, index, viewer, 2026, today=TODAY)
    assert data["area"]["code"] == "BM1"
    assert rows(data, "acceptance")[0] == ("已立项(合计)", 1, 100.0)
    with pytest.raises(OutOfScope):
        build(store, index, viewer, 2026, "BM", today=TODAY)
    for nobody in (user("reviewer", "XC", active=False), user("intruder"), None):
        with pytest.raises(OutOfScope):
            build(store, index, nobody, 2026, today=TODAY)
    with pytest.raises(OutOfScope):
        build(store, index, ADMIN, 2026, "nowhere", today=TODAY)


# ---------------------------------------------------------------- the panel hook

def test_a_panel_function_plugs_in(store, index):
    seen = []

    def demands(ctx):
        seen.append((ctx.year, ctx.area["code"], sorted(ctx.org_codes), len(ctx.projects())))
        return [{"key": "demands", "title": "群众诉求办结率", "chart": "hbar", "unit": "%",
                 "columns": ("乡镇", "办结率(%)"), "rows": [("响肠镇", 80.0)]}]

    data = build(store, index, user("reviewer", "XC"), 2026, today=TODAY,
                 panels=dashboard.PANELS + [demands])
    assert data["panels"][-1]["key"] == "demands"
    assert [p["key"] for p in data["panels"][:2]] == ["projects-category", "projects-status"]
    assert seen == [(2026, "XC", ["XC", "XC1", "XC2", "XCU"], 4)]
    assert build(store, index, ADMIN, 2026, today=TODAY, panels=[])["panels"] == []


def test_the_dashboards_store_answers_projects_as_the_store_does(store):
    """ReadOnce: each year's projects read once, every other question passed on."""
    view = dashboard.ReadOnce(store)
    asks = [{}, {"year": 2026}, {"year": 2025}, {"year": 2026, "org_codes": ["XC1"]},
            {"year": 2026, "org_codes": []}, {"year": 2026, "org_codes": ["XC1", "BM1"]},
            {"year": 2026, "statuses": ["实施中", "已验收"]}, {"year": 2026, "statuses": []},
            {"year": 2026, "org_codes": {"XC2", "XC1"}, "statuses": ("已申请验收",)},
            {"org_codes": ["BM1"]}, {"year": 2025, "org_codes": ["XC2"]}, {"year": 2031},
            {"year": "2026"}]
    for ask in asks:
        assert view.list_projects(**ask) == store.list_projects(**ask), ask
    assert view.list_orgs() == store.list_orgs()
    with pytest.raises(ValueError):
        view.list_projects(year=2026, statuses="实施中")


def test_percent():
    assert dashboard.percent(2, 3) == 66.7 and dashboard.percent(0, 3) == 0.0
    assert dashboard.percent(1, 0) is None and dashboard.percent(3, 3) == 100.0


# ---------------------------------------------------------------- 路演评审 and 群众诉求 panels

def score_year(store):
    """2026's rubric (one criterion of 100) and scores: P1 95, P2 72, P4 55; P5 (书记领办事项,
    验收未通过) unscored; P3 (已申报), P6 (已否决) and P8 (voided) are not scored at all."""
    store.put_rubric(2026, [{"name": "综合", "max": 100}], "admin")
    by_title = {p["title"]: p["id"] for p in store.list_projects()}
    store.add_scores([{"year": 2026, "project": by_title[title], "judge": "j",
                       "criterion": "综合", "score": score}
                      for title, score in (("项目1", 95), ("项目2", 72), ("项目4", 55))])


def test_the_score_panels(store, index):
    assert "scores" not in [p["key"] for p in build(store, index, ADMIN, 2026,
                                                    today=TODAY)["panels"]]  # no rubric
    score_year(store)
    data = build(store, index, ADMIN, 2026, today=TODAY)
    assert rows(data, "scores") == [("90 分及以上", 1), ("80–89 分", 0), ("70–79 分", 1),
                                    ("60–69 分", 0), ("60 分以下", 1)]
    assert panel(data, "scores")["summary"] == "已完成评分 3 个，评分未完成 1 个"
    assert rows(data, "scores-category") == [("党建引领发展类", 75.0, 2, 95.0),
                                             ("党建文化建设类", 72.0, 1, 72.0)]
    township = build(store, index, ADMIN, 2026, org_code="BM", today=TODAY)
    assert rows(township, "scores") == [("90 分及以上", 0), ("80–89 分", 0), ("70–79 分", 0),
                                        ("60–69 分", 0), ("60 分以下", 1)]


def demand_year(store):
    """群众诉求: XC1 two (one 办结, one at 研判 past its deadline: overdue), BM1 one at 征集,
    XC2 one voided (not counted)."""
    store.add_form_version(load_schema_file("schemas/public_demand.json"), source="cli")
    receipts = {}
    for sid, org in (("d1", "XC1"), ("d2", "XC1"), ("d3", "BM1"), ("d4", "XC2")):
        doc, _ = store.add_submission("public_demand", 1, org, {"content": "路灯坏了很久"}, sid)
        receipts[sid] = doc["receipt"]
    for sid, stage, deadline in (("d1", "办结", "2026-05-30"), ("d2", "研判", "2026-05-01"),
                                 ("d4", "研判", "2026-05-01")):
        store.open_case({"receipt": receipts[sid], "form_id": "public_demand",
                         "org_code": "XC1" if sid != "d4" else "XC2", "stage": stage,
                         "deadline": deadline})
    store.update_submission(receipts["d4"], 1, {"status": "已作废"})


def test_the_demand_panel(store, index):
    demand_year(store)
    data = build(store, index, ADMIN, 2026, today=TODAY)
    assert rows(data, "demands") == [("合计", 33.3, 3, 1, 1), ("白帽镇", 0.0, 1, 0, 0),
                                     ("响肠镇", 50.0, 2, 1, 1)]  # townships by code
    assert panel(data, "demands")["summary"] == "收集 3 件，办结 1 件，超期 1 件"
    reviewer = build(store, index, user("reviewer", "BM"), 2026, today=TODAY)
    assert rows(reviewer, "demands") == [("合计", 0.0, 1, 0, 0), ("白帽镇", 0.0, 1, 0, 0)]
