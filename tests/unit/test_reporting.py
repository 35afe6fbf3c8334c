"""services/reporting.py: who must report (audience kinds and listed organizations), late vs
missing vs not yet due around the due day, the month taken from 报告月份 (not the submission
date), December's reports in January, voided submissions, the roll-up village → township →
county, forms whose reports name a project, the matrix, and the missing list in Excel.

A real TinyStore in a temp folder; submission times are set by freezing storage.common.now."""
import io
from datetime import date, datetime

import openpyxl
import pytest

from services import periods, reporting
from services.orgs import OrgIndex
from services.submissions import reporting_status
from storage import common, open_store

BASE = "https://tz.example.gov.cn/taizhang"

ORGS = [
    {"code": "YX", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "XC", "name": "响肠镇", "parent_code": "YX", "kind": "township"},
    {"code": "XC1", "name": "千佛塔村", "parent_code": "XC", "kind": "village",
     "secretary": "王书记", "phone": "13800138000"},
    {"code": "XC2", "name": "余畈村", "parent_code": "XC", "kind": "village"},
    {"code": "XCU", "name": "响肠镇中心学校", "parent_code": "XC", "kind": "unit"},
    {"code": "BM", "name": "白帽镇", "parent_code": "YX", "kind": "township"},
    {"code": "BM1", "name": "深村村", "parent_code": "BM", "kind": "village",
     "secretary": "=李四", "phone": "13900001111"},
    {"code": "CZJ", "name": "县财政局", "parent_code": "YX", "kind": "unit"},
]

MONTHLY = {"id": "t_month", "title": "月报", "fields": [
    {"name": "report_month", "type": "month", "label": "报告月份", "required": True}],
    "period": {"every": "month", "field": "report_month", "due_day": 5}}
PROJECT_REPORT = {**MONTHLY, "id": "t_project_month", "project": {"role": "report"}}
PLAIN = {"id": "t_plain", "title": "无周期", "fields": []}


@pytest.fixture
def store(tmp_path):
    store = open_store(None, str(tmp_path))
    store.upsert_orgs(ORGS)
    yield store
    store.close()


@pytest.fixture
def index(store):
    return OrgIndex(store.list_orgs())


@pytest.fixture
def file_at(store, monkeypatch):
    """file_at(schema, org, when, answers=None, project_id=None) -> the stored submission,
    submitted at ``when`` (an aware datetime), its period from the answers as submit does."""

    def file(schema, org, when, answers=None, project_id=None):
        monkeypatch.setattr(common, "now", lambda: when)
        answers = answers or {}
        period = periods.period_of(schema, answers, when)
        doc, _ = store.add_submission(
            schema["id"], 1, org, answers, submission_id=f"{org}-{when.isoformat()}-{project_id}",
            period=period, slot=periods.slot_of(schema, period, project_id),
            project_id=project_id)
        return doc

    return file


def at(day, hour=10, minute=0):
    """A moment at the host's wall clock (the Store stamps submissions in local time)."""
    return datetime(day.year, day.month, day.day, hour, minute).astimezone()


def states(status):
    return {o["code"]: o["state"] for o in status["orgs"]}


# ---------------------------------------------------------------- who must report

def test_audience_kinds_and_listed_orgs(store, index):
    default = reporting.form_status(store, index, PLAIN, today=date(2026, 5, 1))
    assert [o["code"] for o in default["orgs"]] == ["BM1", "CZJ", "XC1", "XC2", "XCU"]
    units = {**PLAIN, "audience": {"kinds": ["unit"]}}
    assert [o["code"] for o in reporting.form_status(store, index, units)["orgs"]] == \
        ["CZJ", "XCU"]
    listed = {**PLAIN, "audience": {"kinds": ["village"], "orgs": ["CZJ", "XC"]}}
    status = reporting.form_status(store, index, listed)
    assert [o["code"] for o in status["orgs"]] == ["BM1", "CZJ", "XC", "XC1", "XC2"]
    assert status["counts"]["expected"] == 5
    # Narrowed to what the caller may see (access.restrict gives the codes).
    scoped = reporting.form_status(store, index, listed, org_codes=index.below("XC"))
    assert [o["code"] for o in scoped["orgs"]] == ["XC", "XC1", "XC2"]


def test_org_rows_carry_contact_township_and_link(store, index):
    link = store.create_link("t_month", "XC1")
    status = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 5, 1))
    row = next(o for o in status["orgs"] if o["code"] == "XC1")
    assert row["secretary"] == "王书记" and row["phone"] == "13800138000"
    assert row["township"] == "响肠镇" and row["township_code"] == "XC"
    assert row["path"] == ["岳西县", "响肠镇", "千佛塔村"]
    assert row["link_token"] == link["token"]
    other = next(o for o in status["orgs"] if o["code"] == "CZJ")
    assert other["link_token"] is None and other["township"] == "" and other["secretary"] == ""
    store.revoke_link(link["token"])
    status = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 5, 1))
    assert next(o for o in status["orgs"] if o["code"] == "XC1")["link_token"] is None


# ---------------------------------------------------------------- late, missing, not yet due

def test_late_vs_missing_vs_not_yet_due_around_the_due_day(store, index, file_at):
    march = {"report_month": "2026-03"}
    file_at(MONTHLY, "XC1", at(date(2026, 4, 5), 23, 59), march)  # late on the due day
    file_at(MONTHLY, "XC2", at(date(2026, 4, 6), 0, 1), march)    # just after it
    on_due_day = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 4, 5))
    assert on_due_day["due"] == date(2026, 4, 5)
    assert states(on_due_day) == {"XC1": "已报", "XC2": "迟报", "XCU": "未到期",
                                  "BM1": "未到期", "CZJ": "未到期"}
    after = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 4, 6))
    assert states(after)["CZJ"] == "逾期未报" and states(after)["XC2"] == "迟报"
    assert after["counts"] == {"expected": 5, "已报": 1, "迟报": 1, "逾期未报": 3, "未到期": 0}
    row = next(o for o in after["orgs"] if o["code"] == "XC2")
    assert row["receipt"] and row["submitted_at"].startswith("2026-04-06T00:01")
    assert after["period_label"] == "2026年3月"


def test_month_is_read_from_the_report_month_not_the_submission_date(store, index, file_at):
    file_at(MONTHLY, "XC1", at(date(2026, 4, 3)), {"report_month": "2026-02"})
    today = date(2026, 4, 20)
    february = reporting.form_status(store, index, MONTHLY, "2026-02", today=today)
    assert states(february)["XC1"] == "迟报"  # February was due on 5 March
    for month in ("2026-03", "2026-04"):
        assert states(reporting.form_status(store, index, MONTHLY, month, today=today))["XC1"] \
            in reporting.MISSING
    # Without an answer the submission's own month is the period (periods.period_of).
    file_at(MONTHLY, "XC2", at(date(2026, 4, 3)), {})
    assert states(reporting.form_status(store, index, MONTHLY, "2026-04", today=today))["XC2"] \
        == "已报"


def test_december_is_due_in_january(store, index, file_at):
    file_at(MONTHLY, "XC1", at(date(2027, 1, 4)), {"report_month": "2026-12"})
    status = reporting.form_status(store, index, MONTHLY, "2026-12", today=date(2027, 1, 6))
    assert status["due"] == date(2027, 1, 5)
    assert states(status)["XC1"] == "已报" and states(status)["XC2"] == "逾期未报"
    assert reporting.default_period(MONTHLY, date(2027, 1, 5)) == "2026-12"
    assert reporting.default_period(MONTHLY, date(2027, 1, 6)) == "2027-01"
    assert reporting.default_period(MONTHLY, date(2026, 7, 20)) == "2026-07"
    limited = {**MONTHLY, "period": {**MONTHLY["period"], "year": 2026}}
    assert reporting.default_period(limited, date(2027, 3, 1)) == "2026-12"
    assert reporting.default_period({**PLAIN, "period": {"every": "year"}},
                                    date(2027, 1, 2)) == "2027"
    assert reporting.default_period(PLAIN) is None


def test_voided_submissions_do_not_count(store, index, file_at):
    doc = file_at(MONTHLY, "XC1", at(date(2026, 4, 2)), {"report_month": "2026-03"})
    today = date(2026, 4, 10)
    assert states(reporting.form_status(store, index, MONTHLY, "2026-03", today=today))["XC1"] \
        == "已报"
    store.update_submission(doc["receipt"], doc["revision"], {"status": "已作废"})
    assert states(reporting.form_status(store, index, MONTHLY, "2026-03", today=today))["XC1"] \
        == "逾期未报"
    # A form without a period: any submission not voided, within the dates.
    plain = file_at(PLAIN, "CZJ", at(date(2026, 4, 2)))
    assert states(reporting.form_status(store, index, PLAIN))["CZJ"] == "已报"
    assert states(reporting.form_status(store, index, PLAIN, date_from=date(2026, 4, 3)))[
        "CZJ"] == "未到期"
    store.update_submission(plain["receipt"], plain["revision"], {"status": "已作废"})
    assert states(reporting.form_status(store, index, PLAIN))["CZJ"] == "未到期"


def test_reporting_status_of_the_submissions_page(store, index, file_at):
    store.add_form_version(PLAIN, source="cli")
    file_at(PLAIN, "XC1", at(date(2026, 4, 2)))
    expected, missing = reporting_status(store, index, "t_plain", org_codes=index.below("XC"))
    assert [o["code"] for o in expected] == ["XC1", "XC2", "XCU"]
    assert [o["code"] for o in missing] == ["XC2", "XCU"]
    _, missing = reporting_status(store, index, "t_plain", date_from=date(2026, 4, 3))
    assert len(missing) == 5


# ---------------------------------------------------------------- roll-up and projects

def test_rollup_sums_village_township_county(store, index, file_at):
    march = {"report_month": "2026-03"}
    file_at(MONTHLY, "XC1", at(date(2026, 4, 1)), march)
    file_at(MONTHLY, "BM1", at(date(2026, 4, 8)), march)
    status = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 4, 10))
    rollup = {a["code"]: a for a in status["rollup"]}
    assert [a["code"] for a in status["rollup"]] == ["YX", "BM", "XC"]
    assert rollup["XC"] == {"code": "XC", "name": "响肠镇", "kind": "township", "expected": 3,
                            "已报": 1, "迟报": 0, "逾期未报": 2, "未到期": 0, "rate": 1 / 3}
    assert rollup["BM"]["expected"] == 1 and rollup["BM"]["迟报"] == 1 and rollup["BM"]["rate"] == 1
    # The county: both townships and the unit directly under it.
    assert rollup["YX"]["expected"] == 5 and rollup["YX"]["已报"] + rollup["YX"]["迟报"] == 2
    for state in reporting.STATES:
        assert rollup["YX"][state] == status["counts"][state]
    # A township's scope rolls up to the township only, never to a partial county.
    scoped = reporting.form_status(store, index, MONTHLY, "2026-03", index.below("XC"),
                                   today=date(2026, 4, 10))
    assert [a["code"] for a in scoped["rollup"]] == ["XC"]


def running_project(store, org, status="实施中", year=2026):
    project, _ = store.add_project({
        "title": f"{org}的项目", "category": "党建引领发展类", "kind": "书记项目",
        "org_code": org, "secretary": "", "year": year, "steps": [], "status": status,
        "application": f"app-{org}-{status}-{year}"})
    return project


def test_project_forms_count_an_org_once_per_period(store, index, file_at):
    # who must report: the organizations with a project to report on (XC1, XC2); a village
    # whose only project was rejected, one with last year's project and the rest are not
    # chased
    running_project(store, "XC1")
    running_project(store, "XC2", "已立项")
    running_project(store, "XCU", "已否决")
    running_project(store, "CZJ", year=2025)
    march = {"report_month": "2026-03"}
    file_at(PROJECT_REPORT, "XC1", at(date(2026, 4, 7)), march, project_id=1)
    file_at(PROJECT_REPORT, "XC1", at(date(2026, 4, 2)), march, project_id=2)
    file_at(PROJECT_REPORT, "XC1", at(date(2026, 4, 9)), march, project_id=4)
    file_at(PROJECT_REPORT, "XC2", at(date(2026, 4, 9)), march, project_id=3)
    status = reporting.form_status(store, index, PROJECT_REPORT, "2026-03",
                                   today=date(2026, 4, 10))
    # The earliest of XC1's three reports decides (on time); each organization counts once.
    assert states(status)["XC1"] == "已报" and states(status)["XC2"] == "迟报"
    assert status["counts"] == {"expected": 2, "已报": 1, "迟报": 1, "逾期未报": 0, "未到期": 0}
    assert sorted(states(status)) == ["XC1", "XC2"]
    assert {a["code"]: a["expected"] for a in status["rollup"]}["XC"] == 2


# ---------------------------------------------------------------- the matrix

def test_matrix_months_up_to_now_with_rates(store, index, file_at):
    file_at(MONTHLY, "XC1", at(date(2026, 2, 3)), {"report_month": "2026-01"})
    file_at(MONTHLY, "XC1", at(date(2026, 3, 20)), {"report_month": "2026-02"})
    table = reporting.matrix(store, index, MONTHLY, 2026, today=date(2026, 4, 3))
    assert [p["period"] for p in table["periods"]] == ["2026-01", "2026-02", "2026-03",
                                                       "2026-04"]
    row = next(o for o in table["orgs"] if o["code"] == "XC1")
    assert [c["state"] for c in row["cells"]] == ["已报", "迟报", "未到期", "未到期"]
    assert row["cells"][0]["receipt"] and row["cells"][2]["receipt"] is None
    other = next(o for o in table["orgs"] if o["code"] == "CZJ")
    assert [c["state"] for c in other["cells"]] == ["逾期未报", "逾期未报", "未到期", "未到期"]
    assert [p["rate"] for p in table["periods"]] == [1 / 5, 1 / 5, 0, 0]
    xc = next(a for a in table["rollup"] if a["code"] == "XC")
    assert [(c["reported"], c["expected"]) for c in xc["cells"]] == [(1, 3), (1, 3), (0, 3),
                                                                     (0, 3)]
    assert reporting.matrix(store, index, MONTHLY, 2025, today=date(2026, 4, 3))["periods"][
        -1]["period"] == "2025-12"
    assert reporting.matrix(store, index, MONTHLY, 2027, today=date(2026, 4, 3))["periods"] == []
    with pytest.raises(ValueError, match="没有报告周期"):
        reporting.matrix(store, index, PLAIN, 2026)


# ---------------------------------------------------------------- the missing list in Excel

def test_missing_list_to_xlsx(store, index, file_at):
    link = store.create_link("t_month", "BM1")
    file_at(MONTHLY, "XC1", at(date(2026, 4, 1)), {"report_month": "2026-03"})
    listed = {**MONTHLY, "audience": {"kinds": ["village", "unit"], "orgs": ["XC"]}}
    status = reporting.form_status(store, index, listed, "2026-03", today=date(2026, 4, 10))
    out = io.BytesIO()
    assert reporting.missing_to_xlsx(status, out, BASE + "/", title="月报 & 进展") == 5
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == reporting.MISSING_HEADERS
    assert [r[2] for r in rows[1:]] == ["BM1", "XC", "XC2", "XCU", "CZJ"]
    assert rows[1] == ("白帽镇", "深村村", "BM1", "逾期未报", "=李四", "13900001111",
                       f"{BASE}/f/{link['token']}")
    assert rows[5][6] == "未生成链接" and rows[5][0] == "" and rows[2][:2] == ("响肠镇", "响肠镇")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type == "s"  # text: codes, phones and "=李四" stay as typed
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    # One page wide (fitToWidth 1 is the default, so it is left out), as many tall as needed.
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == "$1:$1"
    assert "月报 && 进展" in sheet.oddHeader.center.text
    assert sheet.column_dimensions["G"].width > 40

    # Not yet due comes after overdue.
    early = reporting.form_status(store, index, MONTHLY, "2026-04", today=date(2026, 4, 10))
    file_at(MONTHLY, "CZJ", at(date(2026, 4, 2)), {"report_month": "2026-03"})
    mixed = reporting.form_status(store, index, MONTHLY, "2026-03", today=date(2026, 4, 10))
    assert [o["state"] for o in reporting.missing(mixed)] == ["逾期未报"] * 3
    assert {o["state"] for o in reporting.missing(early)} == {"未到期"}
    combined = {**mixed, "orgs": mixed["orgs"] + [
        {**o, "code": "Z" + o["code"]} for o in early["orgs"]]}
    order = [o["state"] for o in reporting.missing(combined)]
    assert order == sorted(order, key=reporting.MISSING.index) and "未到期" in order


def test_monthly_reports_are_due_from_the_month_of_approval(store, index, file_at):
    approved = {"at": "2026-04-20T10:00:00+08:00", "user": "admin", "action": "transition",
                "from": "预审通过", "to": "已立项", "comment": ""}
    store.add_project({"title": "冬桃", "category": "党建引领发展类", "kind": "书记项目",
                       "org_code": "XC1", "secretary": "", "year": 2026, "steps": [],
                       "status": "实施中", "application": "app-XC1", "history": [approved]})
    running_project(store, "XC2")  # no approval in its history: due all year
    table = reporting.matrix(store, index, PROJECT_REPORT, 2026, today=date(2026, 6, 10))
    cells = {o["code"]: [c["state"] for c in o["cells"]] for o in table["orgs"]}
    assert cells["XC1"] == [None, None, None, "逾期未报", "逾期未报", "未到期"]
    assert cells["XC2"][0] == "逾期未报"
    assert [p["counts"]["expected"] for p in table["periods"]] == [1, 1, 1, 2, 2, 2]
    xc = next(a for a in table["rollup"] if a["code"] == "XC")
    assert [c["expected"] for c in xc["cells"]] == [1, 1, 1, 2, 2, 2]
    march = reporting.form_status(store, index, PROJECT_REPORT, "2026-03",
                                  today=date(2026, 6, 10))
    assert sorted(states(march)) == ["XC2"]


def test_a_project_is_chased_from_its_approval_to_its_acceptance(store, index, file_at):
    def event(to, at):
        return {"at": at, "user": "admin", "action": "transition", "from": "", "to": to,
                "comment": ""}

    store.add_project({"title": "冬桃", "category": "党建引领发展类", "kind": "书记项目",
                       "org_code": "XC1", "secretary": "", "year": 2026, "steps": [],
                       "status": "已验收", "application": "app-XC1",
                       "history": [event("已立项", "2026-02-10T10:00:00+08:00"),
                                   event("已申请验收", "2026-04-02T10:00:00+08:00"),
                                   event("已验收", "2026-04-20T10:00:00+08:00")]})
    file_at(PROJECT_REPORT, "XC1", at(date(2026, 3, 3)), {"report_month": "2026-02"},
            project_id=1)
    table = reporting.matrix(store, index, PROJECT_REPORT, 2026, today=date(2026, 6, 10))
    cells = {o["code"]: [c["state"] for c in o["cells"]] for o in table["orgs"]}
    # January before 立项, May and June after 已验收: nothing due; its months stay on record
    assert cells["XC1"] == [None, "已报", "逾期未报", "逾期未报", None, None]
