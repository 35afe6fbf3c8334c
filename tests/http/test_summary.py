"""The county 汇总表 (GET /admin/summary.xlsx, `flask summary`), on both backends, read back
with openpyxl: the sheets a role gets (the county for an admin, its own township for a
township's reviewer or viewer, nothing of another township), the summary's counts against
Store.list_projects, the 报送率 against services.reporting.matrix, each township's projects
with their latest monthly report, the ranking sheet against services.scoring.ranking_table,
and the cell types and print setup county staff rely on."""
import io
import uuid
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from db import get_store
from services import accounts, reporting, scoring
from services.orgs import OrgIndex
from services.reporting import today_local
from support.helpers import ADMIN, login

TOWNSHIP_A, VILLAGE_A, VILLAGE_A2 = "340828101", "340828101202", "340828101203"  # 响肠镇
TOWNSHIP_B, VILLAGE_B = "340828102", "340828102201"  # 菖蒲镇 / 菖蒲村
UNIT = "340828901"  # 县财政局, directly under the county
PASSWORD = "summary-password-1"
PEOPLE = {"rev_a": ("reviewer", TOWNSHIP_A), "viewer_a": ("viewer", TOWNSHIP_A)}
TOWNSHIP_SHEETS = ["响肠镇", "菖蒲镇", "白帽镇", "店前镇", "天堂镇"]
FIXED_SHEETS = ["汇总", "报送率", "路演评审排名"]
HEADER_ROW = 3  # rows 1-2: title and subtitle; row 3: the column headers
SECRET_TITLE = "菖蒲镇的保密项目"


# The steps up to each status, each with the day of the year it was taken (as seed-demo and a
# restore store them: a project's history comes with it).
STEPS = (("已申报", "01-05"), ("预审通过", "01-08"), ("已立项", "01-10"), ("实施中", "02-06"),
         ("已申请验收", "11-20"))


def make_project(store, org, title, status, category="党建引领发展类", kind="书记项目",
                 year=None, **extra):
    """A project at ``status`` whose history has each step up to it, 立项 on 10 January."""
    year = year or today_local().year
    steps = [s for s in STEPS[:[name for name, _day in STEPS].index(status) + 1]]
    history = [{"at": f"{year}-{day}T09:30:00+08:00", "user": "admin", "action": "transition",
                "from": before[0] if before else None, "to": name, "comment": ""}
               for before, (name, day) in zip([None, *steps], steps)]
    project, _ = store.add_project({
        "title": title, "category": category, "kind": kind, "org_code": org,
        "secretary": extra.pop("secretary", "王书记"), "year": year, "steps": [],
        "status": status, "application": f"app-{uuid.uuid4().hex[:8]}", "history": history})
    if extra:
        project = store.update_project(project["id"], project["revision"], extra)
    return project


def add_report(store, project, period, text, progress):
    form = store.get_form("monthly_report")
    doc, _ = store.add_submission(
        "monthly_report", form["version"], project["org_code"],
        {"report_month": period, "project": str(project["id"]), "done_tasks": text,
         "progress": progress, "schedule": "按序时推进", "next_plan": "继续推进",
         "reporter": "李四", "phone": "13800138000"},
        uuid.uuid4().hex, period=period, slot=f"{period}/{project['id']}",
        project_id=project["id"])
    return doc


@pytest.fixture
def county(app, store):
    """This year's projects in two townships and a county department (one voided, one of last
    year left out), two monthly reports of one project stored newest month first, a rubric and
    scores this year and last (千佛塔村 at the bottom both years), and the accounts."""
    year = today_local().year
    first, second = f"{year}-01", f"{year}-02"
    p1 = make_project(store, VILLAGE_A, "党建引领“小冬桃”助力乡村振兴", "实施中")
    p2 = make_project(store, VILLAGE_A2, "=1+1", "已申报", category="党建文化建设类",
                      secretary="@SUM(1)")
    p3 = make_project(store, VILLAGE_B, SECRET_TITLE, "已立项")
    p4 = make_project(store, UNIT, "机关党建“三亮三比”", "已申请验收", category="机关党建提升类")
    p5 = make_project(store, VILLAGE_A, "撂荒地整治复耕", "已立项", category="矛盾纠纷化解",
                      kind="书记领办事项")
    make_project(store, VILLAGE_A, "作废的项目", "已申报", void=True)
    last = make_project(store, VILLAGE_A, "去年的项目", "已立项", year=year - 1)
    newer = add_report(store, p1, second, "二月：完成黄精栽植30亩", 40)
    older = add_report(store, p1, first, "一月：流转土地50亩", 20)  # stored after the newer
    add_report(store, p3, first, "一月：成立合作社", 10)
    for y in (year - 1, year):
        scoring.save_rubric(store, y, scoring.DEFAULT_RUBRIC, "admin")
    full = dict.fromkeys((c["name"] for c in scoring.DEFAULT_RUBRIC), "10")
    for project in (p1, p3, p4):
        store.set_scores(year, project["id"], "张评委", full)
    store.set_scores(year, p3["id"], "李评委", {**full, "推进实效": "30"})
    store.set_scores(year - 1, last["id"], "张评委", full)
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        for username, (role, org) in PEOPLE.items():
            accounts.create_user(get_store(), username, PASSWORD, role, org)
    return {"year": year, "projects": (p1, p2, p3, p4, p5), "newer": newer, "older": older}


def client_of(app, username):
    client = app.test_client()
    response = login(client, username, ADMIN[1] if username == "admin" else PASSWORD)
    assert response.status_code == 302, username
    return client


def download(client, query=""):
    response = client.get(f"/admin/summary.xlsx{query}")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(response.data))


def table(ws):
    """{header: column number} and the data rows (cells) under the header row, up to the
    first row whose first cell is empty or merged (a note)."""
    headers = {c.value: c.column for c in ws[HEADER_ROW] if c.value is not None}
    rows = []
    for row in ws.iter_rows(min_row=HEADER_ROW + 1):
        if row[0].value is None or any(row[0].coordinate in r for r in ws.merged_cells.ranges):
            if rows:
                break
            continue
        rows.append(row)
    return headers, rows


def township_of(index, code):
    while code is not None:
        org = index.get(code)
        if org["kind"] == "township":
            return org["name"]
        code = org.get("parent_code")
    return "县直单位"


def expected_counts(store, year, org_codes=None):
    """{(township or 县直单位, 领域): {status: n}} of the year's projects, straight from the
    Store (voided left out; 书记领办事项 under their kind)."""
    index = OrgIndex(store.list_orgs())
    counts = {}
    for p in store.list_projects(org_codes=org_codes, year=year):
        if p.get("void"):
            continue
        category = "书记领办事项" if p["kind"] == "书记领办事项" else p["category"]
        by_status = counts.setdefault((township_of(index, p["org_code"]), category), {})
        by_status[p["status"]] = by_status.get(p["status"], 0) + 1
    return counts


def summary_counts(ws):
    headers, rows = table(ws)
    statuses = [h for h in headers if h not in ("乡镇", "领域", "合计", "全年报送率")]
    found, subtotals = {}, {}
    for row in rows:
        values = [c.value for c in row]
        township, category = values[0], values[1]
        counts = {s: values[headers[s] - 1] for s in statuses}
        assert all(type(n) is int for n in counts.values()), values
        assert values[headers["合计"] - 1] == sum(counts.values())
        if category == "小计" or township in ("全县合计", "合计"):
            subtotals[township] = {s: n for s, n in counts.items() if n}
        elif township != "全县":
            found[(township, category)] = {s: n for s, n in counts.items() if n}
    return found, subtotals


def assert_prints(wb):
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape", ws.title
        assert setup.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # one page wide (1 is the file format's default, which is then left out), any pages tall
        assert (setup.fitToWidth or 1) == 1 and setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == f"$1:${HEADER_ROW}", ws.title
        header = [c for c in ws[HEADER_ROW] if c.value is not None]
        assert header and all(c.alignment.wrap_text for c in header), ws.title
        assert all(c.font.b for c in header), ws.title


def ranking_expected(store, year, org_codes=None):
    ranking = scoring.year_ranking(store, year)
    return scoring.ranking_table(ranking, OrgIndex(store.list_orgs()), org_codes)


def assert_ranking_sheet(ws, store, year, org_codes=None):
    headers, rows = ranking_expected(store, year, org_codes)
    assert [c.value for c in ws[HEADER_ROW]] == headers
    _found, sheet_rows = table(ws)
    assert len(sheet_rows) == len(rows) > 0
    for row, wanted in zip(sheet_rows, rows):
        for cell, value in zip(row, wanted):
            if isinstance(value, Decimal):
                assert cell.data_type == "n" and Decimal(str(cell.value)) == value, cell
                assert cell.number_format == "0.00"
            elif value is None:
                assert cell.value is None
            elif isinstance(value, int):
                assert cell.data_type == "n" and cell.value == value, cell
            else:
                assert cell.data_type == "s" and cell.value == value, cell
    code_col = headers.index("组织代码")
    assert all(type(r[code_col].value) is str for r in sheet_rows)


# ---------------------------------------------------------------- the county

def test_the_admin_gets_the_county(app, store, county):
    year = county["year"]
    p1, p2, p3, p4, p5 = county["projects"]
    wb = download(client_of(app, "admin"), f"?year={year}")
    assert wb.sheetnames == FIXED_SHEETS + TOWNSHIP_SHEETS + ["县直单位"]
    assert_prints(wb)

    # 汇总: township × 领域 × status, as the Store has them; 小计 and the county's 合计
    found, subtotals = summary_counts(wb["汇总"])
    assert found == expected_counts(store, year)
    assert found[("响肠镇", "书记领办事项")] == {"已立项": 1}
    assert subtotals["响肠镇"] == {"实施中": 1, "已申报": 1, "已立项": 1}
    assert subtotals["白帽镇"] == {}  # a township without projects still has its row
    assert subtotals["县直单位"] == {"已申请验收": 1}
    assert sum(subtotals["全县合计"].values()) == 5

    # each township's projects, by id; the latest report is the newest month's, whatever
    # order the reports were stored in
    headers, rows = table(wb["响肠镇"])
    assert [r[0].value for r in rows] == [p1["id"], p2["id"], p5["id"]]
    assert all(r[0].data_type == "n" for r in rows)
    first = {h: rows[0][col - 1] for h, col in headers.items()}
    assert first["项目名称"].value == "党建引领“小冬桃”助力乡村振兴"
    assert first["组织代码"].value == VILLAGE_A and first["组织代码"].data_type == "s"
    assert first["组织代码"].number_format == "@"  # stays text when someone edits it
    assert first["村/单位"].value == "千佛塔村" and first["领域"].value == "党建引领发展类"
    assert first["本月完成任务"].value == "二月：完成黄精栽植30亩"
    assert first["最新报告月份"].value == datetime(year, 2, 1)
    assert first["最新报告月份"].number_format == "yyyy-mm"
    assert first["完成进度"].value == pytest.approx(0.4) and "%" in first["完成进度"].number_format
    assert first["立项日期"].value == datetime(year, 1, 10)
    assert first["立项日期"].is_date and first["立项日期"].number_format == "yyyy-mm-dd"
    reported = county["newer"]["submitted_at"][:10]
    assert first["最近报告日期"].value == datetime.fromisoformat(reported)
    assert first["验收"].value == "未申请" and first["状态"].value == "实施中"
    # what a cadre typed stays text: no formula
    typed = {h: rows[1][col - 1] for h, col in headers.items()}
    assert typed["项目名称"].value == "=1+1" and typed["项目名称"].data_type == "s"
    assert typed["书记"].value == "@SUM(1)" and typed["书记"].data_type == "s"
    assert typed["最新报告月份"].value is None and typed["验收"].value == "—"
    # 县直单位 have a sheet of their own
    headers, rows = table(wb["县直单位"])
    assert [(r[0].value, r[headers["组织代码"] - 1].value, r[headers["验收"] - 1].value)
            for r in rows] == [(p4["id"], UNIT, "已申请验收")]
    assert [r[0].value for r in table(wb["菖蒲镇"])[1]] == [p3["id"]]

    # the ranking sheet is the page's table, with the rule and the two-year list below
    assert_ranking_sheet(wb["路演评审排名"], store, year)
    texts = [c.value for row in wb["路演评审排名"].iter_rows() for c in row
             if isinstance(c.value, str)]
    assert scoring.BOTTOM_RULE in texts
    assert any(t.startswith("连续两年末位 5% 的组织：1 个") for t in texts)
    assert ["响肠镇", "千佛塔村", VILLAGE_A] in [
        [c.value for c in row[:3]] for row in wb["路演评审排名"].iter_rows()]

    # the download is in the audit log as an export
    entries, _total = store.query_audit(action="export")
    assert entries[0]["user"] == "admin" and entries[0]["target"] == "汇总表"
    assert entries[0]["detail"]["kind"] == "汇总表" and entries[0]["detail"]["year"] == year


def test_the_reporting_rates_are_the_matrix(app, store, county):
    year = county["year"]
    wb = download(client_of(app, "admin"), f"?year={year}")
    ws = wb["报送率"]
    index = OrgIndex(store.list_orgs())
    schema = store.get_form("monthly_report")["schema"]
    today = today_local()
    matrix = reporting.matrix(store, index, schema, year, None, today)
    headers, rows = table(ws)
    months = [h for h in headers if h.endswith("月")]
    assert months == [f"{int(p['period'][5:])}月" for p in matrix["periods"]]
    by_name = {}
    for row in rows:
        by_name.setdefault(row[0].value, {})[row[1].value] = row
    rollup = {a["name"]: a for a in matrix["rollup"]}
    assert by_name.keys() >= {"响肠镇", "菖蒲镇", "全县合计"}
    for name, area in (("响肠镇", rollup["响肠镇"]), ("全县合计", rollup["岳西县"])):
        expected = [c["expected"] for c in area["cells"]]
        reported = [c["reported"] for c in area["cells"]]
        cells = by_name[name]
        assert [cells["应报"][headers[m] - 1].value for m in months] == expected
        assert [cells["已报"][headers[m] - 1].value for m in months] == reported
        assert all(type(cells["应报"][headers[m] - 1].value) is int for m in months)
        for m, column in zip(months, matrix["periods"]):
            rate = cells["报送率"][headers[m] - 1]
            if today > column["due"] and expected[months.index(m)]:
                assert rate.value == pytest.approx(reported[months.index(m)]
                                                   / expected[months.index(m)])
                assert rate.number_format == "0.0%"
            else:
                assert rate.value is None  # not yet due: no rate
        counted = [n for n, column in enumerate(matrix["periods"]) if today > column["due"]]
        year_cell = cells["应报"][headers["全年"] - 1]
        assert year_cell.value == sum(expected[n] for n in counted)
    # 响肠镇: 千佛塔村 reports on its project from January, and did (the other village's
    # project is not approved: nothing to report)
    assert by_name["响肠镇"]["应报"][headers["1月"] - 1].value == 1
    assert by_name["响肠镇"]["已报"][headers["1月"] - 1].value == 1


def test_the_summary_sheet_carries_each_townships_reporting_rate(app, store, county):
    """The 汇总 sheet's 全年报送率 beside each 小计 and the total: the 报送率 sheet's 全年."""
    wb = download(client_of(app, "admin"), f"?year={county['year']}")
    headers, rows = table(wb["报送率"])
    year_rates = {row[0].value: row[headers["全年"] - 1] for row in rows
                  if row[1].value == "报送率"}
    headers, rows = table(wb["汇总"])
    column = headers["全年报送率"] - 1
    beside = {row[0].value: row[column] for row in rows
              if row[1].value == "小计" or row[0].value == "全县合计"}
    assert beside.keys() == year_rates.keys() and "响肠镇" in beside
    for name, cell in beside.items():
        assert cell.value == year_rates[name].value, name
        if cell.value is not None:
            assert isinstance(cell.value, (int, float)) and cell.number_format == "0.0%"
    assert any(cell.value is not None for cell in beside.values())
    # the 领域 rows carry none
    assert all(row[column].value is None for row in rows
               if row[1].value not in ("小计", "") and row[0].value != "全县合计")


# ---------------------------------------------------------------- a township

@pytest.mark.parametrize("username", ["rev_a", "viewer_a"])
def test_a_township_gets_only_its_own(app, store, county, username):
    year = county["year"]
    client = client_of(app, username)
    wb = download(client, f"?year={year}")
    assert wb.sheetnames == FIXED_SHEETS + ["响肠镇"]
    assert_prints(wb)
    everything = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                  if c.value is not None]
    assert not [t for t in everything if "菖蒲" in t or SECRET_TITLE in t or "财政局" in t
                or "全县" in t]
    below = OrgIndex(store.list_orgs()).below(TOWNSHIP_A)
    found, subtotals = summary_counts(wb["汇总"])
    assert found == expected_counts(store, year, below)
    assert sum(subtotals["合计"].values()) == 3
    assert_ranking_sheet(wb["路演评审排名"], store, year, below)
    # the ranks stay the county's: 菖蒲村's project is first in the category, 千佛塔村's second
    _headers, rows = table(wb["路演评审排名"])
    assert [(r[1].value, r[4].value) for r in rows if r[0].value == "党建引领发展类"] == [
        (2, "党建引领“小冬桃”助力乡村振兴")]
    # another township, or the whole county asked for by name: not found
    assert client.get(f"/admin/summary.xlsx?township={TOWNSHIP_B}").status_code == 404
    assert client.get("/admin/summary.xlsx?township=340828").status_code == 404
    assert len(download(client, f"?township={TOWNSHIP_A}").sheetnames) == 4


def test_an_admin_may_ask_for_one_township_and_a_year_without_projects(app, store, county):
    client = client_of(app, "admin")
    assert download(client, f"?year={county['year']}&township={TOWNSHIP_B}").sheetnames == \
        FIXED_SHEETS + ["菖蒲镇"]
    empty = download(client, f"?year={county['year'] - 5}")
    assert empty.sheetnames == FIXED_SHEETS + TOWNSHIP_SHEETS + ["县直单位"]
    _found, subtotals = summary_counts(empty["汇总"])
    assert subtotals["全县合计"] == {}
    assert client.get("/admin/summary.xlsx?township=nope").status_code == 404
    assert client.get("/admin/summary.xlsx?year=1800").status_code == 404


def test_sheet_names_are_valid_and_unique_whatever_a_township_is_called(app, store, county):
    renamed = {"340828103": "白帽镇[试点]/东片:区*?\\", "340828104": "汇总",
               "340828105": "天堂镇" + "乡村振兴示范片区" * 4}
    store.upsert_orgs([{**store.get_org(code), "name": name} for code, name in renamed.items()])
    wb = download(client_of(app, "admin"), f"?year={county['year']}")
    names = wb.sheetnames
    assert names[:5] == FIXED_SHEETS + ["响肠镇", "菖蒲镇"] and names[-1] == "县直单位"
    assert len({n.lower() for n in names}) == len(names) == 9
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert names[5] == "白帽镇试点东片区" and names[6] == "汇总(2)"
    assert names[7].startswith("天堂镇乡村振兴") and len(names[7]) == 31
    assert wb[names[7]].cell(1, 1).value.startswith(renamed["340828105"])  # the title: in full


def test_the_projects_page_and_the_dashboard_link_to_it(app, county):
    year = county["year"]
    for username in ("admin", "rev_a"):
        client = client_of(app, username)
        page = client.get(f"/admin/projects?year={year}").get_data(as_text=True)
        assert f'href="/admin/summary.xlsx?year={year}"' in page and "下载汇总表" in page
        stats = client.get(f"/admin/dashboard?year={year}").get_data(as_text=True)
        assert "/admin/summary.xlsx?year=" in stats and "下载汇总表" in stats
    page = client_of(app, "admin").get(
        f"/admin/projects?year={year}&township={TOWNSHIP_B}").get_data(as_text=True)
    assert f'href="/admin/summary.xlsx?year={year}&amp;township={TOWNSHIP_B}"' in page


# ---------------------------------------------------------------- the command

def test_the_command_writes_the_same_workbook(app, store, runner, county, tmp_path):
    year = county["year"]
    out = tmp_path / "county.xlsx"
    result = runner.invoke(args=["summary", str(year), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 个项目" in result.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == FIXED_SHEETS + TOWNSHIP_SHEETS + ["县直单位"]
    assert summary_counts(wb["汇总"])[0] == expected_counts(store, year)
    assert_prints(wb)
    one = tmp_path / "a.xlsx"
    result = runner.invoke(args=["summary", str(year), "--out", str(one),
                                 "--township", TOWNSHIP_A])
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(one).sheetnames == FIXED_SHEETS + ["响肠镇"]
    entries, _total = store.query_audit(action="export")
    assert entries[0]["user"].startswith("cli:")
    assert entries[0]["detail"] == {"kind": "汇总表", "year": year, "projects": 3,
                                    "filters": {"township": TOWNSHIP_A}}
    bad = runner.invoke(args=["summary", str(year), "--township", "nope"])
    assert bad.exit_code == 1 and "不存在" in bad.output
