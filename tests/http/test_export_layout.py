"""Exports as county staff read them (issue 11, part 6), through the admin page and `flask
export` on both backends: the receipt and the organization first, Excel dates, codes as
text, print setup, repeat sheets naming the organization and the project, and a CSV export
of a form with repeat fields that is a zip holding every repeat row."""
import csv
import io
import json
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from forms.loader import check_schema
from support.helpers import open_form

APPLY = {
    "id": "t_layout", "title": "测试申报表", "description": "申报",
    "period": {"every": "year"},
    "project": {"role": "application", "kind": "书记项目", "category": "党建引领发展类",
                "title": "name", "secretary": "secretary", "steps": "steps"},
    "fields": [
        {"name": "name", "type": "text", "label": "项目名称", "required": True},
        {"name": "secretary", "type": "text", "label": "书记姓名", "required": True},
        {"name": "deadline", "type": "date", "label": "完成时限"},
        {"name": "income", "type": "decimal", "label": "预计增收", "unit": "万元"},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "min_items": 1,
         "fields": [{"name": "month", "type": "month", "label": "月份", "required": True},
                    {"name": "task", "type": "text", "label": "任务", "required": True}]},
    ],
}
FLAT = {"id": "t_flat", "title": "测试登记表", "description": "登记",
        "fields": [{"name": "content", "type": "text", "label": "内容", "required": True}]}
KEY = ["回执编号", "县", "乡镇", "村/单位", "组织编码"]
THIS_YEAR = date.today().year


@pytest.fixture
def sent(client, store):
    """Two applications (千佛塔村: two steps, one of them =1+1; a village of another
    township: three steps) and a flat form's submission; {receipt: org}."""
    for schema in (APPLY, FLAT):
        store.add_form_version(check_schema(json.loads(json.dumps(schema))), source="cli")
    orgs = {o["name"]: o for o in store.list_orgs()}
    village = orgs["千佛塔村"]
    other = next(o for o in store.list_orgs() if o["kind"] == "village"
                 and o["parent_code"] != village["parent_code"])
    receipts = {}
    for org, name, tasks in ((village, "一米菜园", ["=1+1 流转土地", "栽植"]),
                             (other, "小冬桃", ["选址", "建园", "验收"])):
        steps = {}
        for i, task in enumerate(tasks):
            steps.update({f"steps-{i}-month": f"{THIS_YEAR}-0{i + 1}", f"steps-{i}-task": task})
        receipts[send(client, store, "t_layout", org, {
            "name": name, "secretary": "张三", "deadline": f"{THIS_YEAR}-12-31",
            "income": "12.5", **steps})] = org
    send(client, store, "t_flat", village, {"content": "路灯坏了"})
    return receipts


def send(client, store, form_id, org, data):
    token = store.create_link(form_id, org["code"])["token"]
    _html, hidden = open_form(client, token)
    response = client.post(f"/f/{token}", data={**hidden, **data},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["receipt"]


def names(store, org):
    township = store.get_org(org["parent_code"])
    county = store.get_org(township["parent_code"])
    return [county["name"], township["name"], org["name"], org["code"]]


def test_xlsx_layout_types_print_setup_and_repeat_sheets(admin_client, store, sent):
    response = admin_client.get("/admin/forms/t_layout/export.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    main, steps = book.worksheets
    rows = list(main.iter_rows(values_only=True))
    assert list(rows[0]) == KEY + ["提交时间", "审核状态", "项目名称", "书记姓名", "完成时限",
                                   "预计增收(万元)", "实施步骤"]
    assert {row[0]: list(row[1:5]) for row in rows[1:]} == {
        receipt: names(store, org) for receipt, org in sent.items()}
    for row in main.iter_rows(min_row=2):
        submitted, deadline, income, code = row[5], row[9], row[10], row[4]
        assert isinstance(submitted.value, datetime)
        assert submitted.number_format == "yyyy-mm-dd hh:mm"
        assert deadline.value == datetime(THIS_YEAR, 12, 31)
        assert deadline.number_format == "yyyy-mm-dd"
        assert (income.value, income.data_type) == (12.5, "n")
        assert code.data_type == "s" and code.number_format == "@"
        assert row[6].value == "待审核"
    detail = list(steps.iter_rows(values_only=True))
    assert list(detail[0]) == KEY + ["项目名称", "序号", "月份", "任务"]
    by_receipt = {}
    for row in detail[1:]:
        by_receipt.setdefault(row[0], []).append(row)
    first, second = sent
    assert [list(r[1:]) for r in by_receipt[first]] == [
        names(store, sent[first]) + ["一米菜园", 1, datetime(THIS_YEAR, 1, 1), "=1+1 流转土地"],
        names(store, sent[first]) + ["一米菜园", 2, datetime(THIS_YEAR, 2, 1), "栽植"]]
    assert [r[5:7] for r in by_receipt[second]] == [("小冬桃", 1), ("小冬桃", 2), ("小冬桃", 3)]
    assert all(c.data_type != "f" for row in steps.iter_rows() for c in row)
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert int(ws.page_setup.fitToWidth or 1) == 1 and int(ws.page_setup.fitToHeight) == 0
        assert ws.print_title_rows == "$1:$1"
        assert all(cell.alignment.wrap_text for cell in ws[1])


def read_zip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"),
                                                  newline="")))
                for name in archive.namelist()}


def test_csv_of_a_form_with_repeats_is_a_zip_with_every_row(admin_client, store, sent):
    first, second = sent
    for url in ("/admin/forms/t_layout/export.csv", "/admin/forms/t_layout/export.zip"):
        head = admin_client.head(url)
        response = admin_client.get(url)
        assert response.status_code == head.status_code == 200
        assert response.headers["Content-Type"] == head.headers["Content-Type"] == \
            "application/zip"
        assert "filename=export.zip" in response.headers["Content-Disposition"]
        assert response.headers["Content-Disposition"].endswith(".zip")
        files = read_zip(response.data)
        assert list(files) == ["1-测试申报表.csv", "2-实施步骤.csv"]
        main, steps = files.values()
        assert main[0][:7] == KEY + ["提交时间", "审核状态"]
        assert {row[0]: row[4] for row in main[1:]} == {
            receipt: "\t" + org["code"] for receipt, org in sent.items()}
        assert steps[0] == KEY + ["项目名称", "序号", "月份", "任务"]
        assert [(row[0], row[5], row[6], row[8]) for row in steps[1:]] == [
            (first, "一米菜园", "1", "'=1+1 流转土地"), (first, "一米菜园", "2", "栽植"),
            (second, "小冬桃", "1", "选址"), (second, "小冬桃", "2", "建园"),
            (second, "小冬桃", "3", "验收")]
    # A filter applies to every file of the zip.
    village = sent[first]
    files = read_zip(admin_client.get(
        f"/admin/forms/t_layout/export.csv?org={village['code']}").data)
    assert [len(rows) for rows in files.values()] == [2, 3]
    [logged] = [e for e in store.query_audit(action="export")[0]
                if e["detail"].get("filters")]
    assert logged["detail"]["format"] == "zip"


def test_csv_of_a_form_without_repeats_stays_one_csv(admin_client, sent):
    response = admin_client.get("/admin/forms/t_flat/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename=export.csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert rows[0] == KEY + ["提交时间", "审核状态", "内容"]
    assert rows[1][3:5] == ["千佛塔村", "\t" + next(iter(sent.values()))["code"]]
    assert rows[1][7] == "路灯坏了"


def test_the_page_says_the_csv_of_a_form_with_repeats_is_a_zip(admin_client, sent):
    assert "导出 CSV（zip，含明细）" in admin_client.get(
        "/admin/forms/t_layout/submissions").get_data(as_text=True)
    page = admin_client.get("/admin/forms/t_flat/submissions").get_data(as_text=True)
    assert "导出 CSV" in page and "zip" not in page


def test_the_command_writes_the_zip_and_warns_when_a_csv_drops_rows(app, runner, sent,
                                                                    tmp_path):
    out = tmp_path / "申报.zip"
    result = runner.invoke(args=["export", "t_layout", str(out)])
    assert result.exit_code == 0, result.output
    files = read_zip(out.read_bytes())
    assert [len(rows) - 1 for rows in files.values()] == [2, 5]

    out = tmp_path / "申报.csv"
    result = runner.invoke(args=["export", "t_layout", str(out)])
    assert result.exit_code == 0, result.output
    assert "明细行请导出为" in result.stderr and str(tmp_path / "申报.zip") in result.stderr
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == KEY and len(rows) == 3  # the main sheet, as before

    out = tmp_path / "登记.csv"
    result = runner.invoke(args=["export", "t_flat", str(out)])
    assert result.exit_code == 0 and result.stderr == ""

    out = tmp_path / "申报.xlsx"
    assert runner.invoke(args=["export", "t_layout", str(out)]).exit_code == 0
    book = openpyxl.load_workbook(out)
    assert [ws.max_row - 1 for ws in book.worksheets] == [2, 5]
    assert book.worksheets[1].print_title_rows == "$1:$1"

    refused = runner.invoke(args=["export", "t_layout", str(tmp_path / "x.txt")])
    assert refused.exit_code != 0 and ".zip" in refused.output
