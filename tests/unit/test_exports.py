"""exports.py: XLSX and CSV read back and compared cell by cell; no formula ever."""
import csv
import io
import zipfile
from datetime import datetime

import openpyxl
import pytest

import exports

SCHEMA = {
    "id": "fazhan_shenbao",
    "version": 3,
    "title": "党建引领发展类书记项目申报表[2024]/第一批:岳西县*?",
    "description": "",
    "fields": [
        {"name": "s_basic", "type": "section", "label": "基本情况"},
        {"name": "title", "type": "text", "label": "项目名称", "required": True},
        {"name": "plan", "type": "textarea", "label": "实施方案"},
        {"name": "jobs", "type": "integer", "label": "带动就业", "unit": "人"},
        {"name": "income", "type": "decimal", "label": "村集体经济增收", "unit": "万元"},
        {"name": "start", "type": "date", "label": "开始日期"},
        {"name": "finish", "type": "month", "label": "完成时限"},
        {"name": "category", "type": "select", "label": "项目类别", "choices": [
            {"value": "fazhan", "label": "党建引领发展类"},
            {"value": "wenhua", "label": "党建文化建设类"}]},
        {"name": "themes", "type": "multiselect", "label": "主题", "choices": [
            "乡村振兴", "村集体经济", "基础设施", "移风易俗"]},
        {"name": "pledge", "type": "boolean", "label": "承诺属实"},
        {"name": "phone", "type": "phone", "label": "联系电话"},
        {"name": "photo", "type": "image", "label": "现场照片"},
        {"name": "s_steps", "type": "section", "label": "实施步骤"},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "fields": [
            {"name": "month", "type": "month", "label": "月份"},
            {"name": "task", "type": "text", "label": "任务"},
            {"name": "owner", "type": "text", "label": "责任人"},
            {"name": "budget", "type": "decimal", "label": "预算", "unit": "万元"},
        ]},
        {"name": "funds", "type": "repeat", "label": "资金来源", "fields": [
            {"name": "source", "type": "select", "label": "来源", "choices": ["财政", "自筹"]},
            {"name": "amount", "type": "integer", "label": "金额"},
        ]},
    ],
}

FIELD_HEADERS = ["项目名称", "实施方案", "带动就业(人)", "村集体经济增收(万元)", "开始日期",
                 "完成时限", "项目类别", "主题", "承诺属实", "联系电话", "现场照片", "实施步骤",
                 "资金来源"]
# The receipt, then the organization, the time and status, then the fields (issue 11).
KEY_HEADERS = ["回执编号", "县", "乡镇", "村/单位", "组织编码"]
MAIN_HEADERS = KEY_HEADERS + ["提交时间", "审核状态"] + FIELD_HEADERS
STEP_HEADERS = KEY_HEADERS + ["序号", "月份", "任务", "责任人", "预算(万元)"]
FIELDS = len(MAIN_HEADERS) - len(FIELD_HEADERS)  # where the field columns start

ORG_PATHS = {
    "XC-QFT": ["岳西县", "响肠镇", "千佛塔村"],
    "CZJ": ["岳西县", "财政局"],
    "XC": ["岳西县", "响肠镇"],
}
ORG_KINDS = {"XC-QFT": "village", "CZJ": "unit", "XC": "township"}

HOSTILE = ["=1+1", "+86 138", "-3", "@SUM(A1)", "<script>alert(1)</script>",
           "=HYPERLINK(\"http://evil\",\"x\")", "http://example.cn", "0012", "1e5", "TRUE"]

FULL = {
    "receipt": "240501-0001", "form_id": "fazhan_shenbao", "form_version": 3,
    "org_code": "XC-QFT", "submitted_at": "2024-05-01T10:23:45.123456+08:00",
    "answers": {
        "title": "打造\"一米菜园\"助推一二三产融合发展",
        "plan": "第一步:选址\n第二步:建园",
        "jobs": 12,
        "income": "12.5",
        "start": "2024-03-01",
        "finish": "2024-12",
        "category": "fazhan",
        "themes": ["乡村振兴", "村集体经济"],
        "pledge": True,
        "phone": "13800138000",
        "photo": {"file": "ab/abcdef.jpg", "name": "菜园现场.jpg", "size": 1024,
                  "content_type": "image/jpeg"},
        "steps": [
            {"month": "2024-03", "task": "选址", "owner": "张三", "budget": "0.5"},
            {"month": "2024-06", "task": "建园", "owner": "李四", "budget": "3"},
        ],
        "funds": [{"source": "财政", "amount": 10}],
    },
}
# Optional fields shown but left empty (null) or hidden by show_if (absent).
SPARSE = {
    "receipt": "240502-0001", "form_id": "fazhan_shenbao", "form_version": 2,
    "org_code": "CZJ", "submitted_at": "2024-05-02T08:00:00+08:00",
    "answers": {"title": "机关党建提升", "plan": None, "jobs": 0, "income": "-0.25",
                "pledge": False, "themes": [], "steps": [], "photo": None},
}
# Every hostile string in a text field, a repeat sub-field and the organization name.
EVIL = {
    "receipt": "240503-0001", "form_id": "fazhan_shenbao", "form_version": 3,
    "org_code": "EVIL", "submitted_at": "2024-05-03T09:30:00+08:00",
    "answers": {"title": HOSTILE[0], "plan": HOSTILE[1], "phone": HOSTILE[2],
                "jobs": -3, "income": "-1000000.125",
                "steps": [{"month": "2024-07", "task": h, "owner": h} for h in HOSTILE]},
}
EVIL_PATHS = {**ORG_PATHS, "EVIL": ["岳西县", "=cmd|' /C calc'!A0", "@村"]}

MAIN_ROWS = [
    ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "XC-QFT", datetime(2024, 5, 1, 10, 23, 45),
     "待审核", "打造\"一米菜园\"助推一二三产融合发展", "第一步:选址\n第二步:建园", 12, 12.5,
     datetime(2024, 3, 1), datetime(2024, 12, 1), "党建引领发展类", "乡村振兴、村集体经济", "是",
     "13800138000", "菜园现场.jpg", "2 条", "1 条"],
    ["240502-0001", "岳西县", "财政局", None, "CZJ", datetime(2024, 5, 2, 8), "待审核",
     "机关党建提升", None, 0, -0.25, None, None, None, None, "否", None, None, "0 条", None],
    ["240503-0001", "岳西县", "=cmd|' /C calc'!A0", "@村", "EVIL", datetime(2024, 5, 3, 9, 30),
     "待审核", "=1+1", "+86 138", -3, -1000000.125, None, None, None, None, None, "-3", None,
     "10 条", None],
]


def export(submissions=(FULL, SPARSE, EVIL), org_paths=EVIL_PATHS, schema=SCHEMA, **kwargs):
    data = exports.submissions_to_xlsx_bytes(schema, iter(submissions), org_paths, **kwargs)
    return data, openpyxl.load_workbook(io.BytesIO(data))


def values(ws):
    return [[cell.value for cell in row] for row in ws.iter_rows()]


def rows_of(ws, width):
    """Rows padded to the sheet width (openpyxl drops trailing empty cells)."""
    return [row + [None] * (width - len(row)) for row in values(ws)]


# ---------------------------------------------------------------- XLSX

def test_sheets_and_their_names():
    _, wb = export()
    # Title: []:*?/\ removed, then cut to Excel's 31-character limit.
    assert wb.sheetnames == ["党建引领发展类书记项目申报表2024第一批岳西县", "实施步骤", "资金来源"]
    assert len(exports._sheet_name("一" * 40, set(), "x")) == 31


def test_main_sheet_headers_and_values():
    _, wb = export()
    ws = wb.worksheets[0]
    assert exports.main_headers(SCHEMA) == MAIN_HEADERS
    rows = rows_of(ws, len(MAIN_HEADERS))
    assert rows[0] == MAIN_HEADERS
    assert rows[1:] == MAIN_ROWS


def test_repeat_sheets_keyed_by_receipt():
    _, wb = export()
    steps, funds = wb["实施步骤"], wb["资金来源"]
    rows = rows_of(steps, len(STEP_HEADERS))
    assert rows[0] == STEP_HEADERS
    here = ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "XC-QFT"]
    assert rows[1:3] == [here + [1, datetime(2024, 3, 1), "选址", "张三", 0.5],
                         here + [2, datetime(2024, 6, 1), "建园", "李四", 3]]
    evil = ["240503-0001", "岳西县", "=cmd|' /C calc'!A0", "@村", "EVIL"]
    assert rows[3:] == [evil + [i, datetime(2024, 7, 1), h, h, None]
                        for i, h in enumerate(HOSTILE, start=1)]
    assert values(funds) == [KEY_HEADERS + ["序号", "来源", "金额"], here + [1, "财政", 10]]


def test_no_formula_anywhere_and_hostile_values_are_strings():
    data, wb = export()
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    seen.add(cell.value)
    assert set(HOSTILE) <= seen
    assert {"=cmd|' /C calc'!A0", "@村"} <= seen
    # And at the XML level: no <f> element, no hyperlink relationship.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml and "hyperlink" not in xml


def test_numbers_are_numbers_and_text_that_looks_numeric_stays_text():
    _, wb = export()
    ws = wb.worksheets[0]
    jobs, income, phone = (MAIN_HEADERS.index(h) + 1 for h in ("带动就业(人)",
                                                             "村集体经济增收(万元)", "联系电话"))
    for row in (2, 3, 4):
        for col in (jobs, income):
            cell = ws.cell(row, col)
            assert cell.data_type == "n" and isinstance(cell.value, (int, float))
    assert ws.cell(3, jobs).value == 0  # zero is a value, not an empty cell
    assert ws.cell(2, phone).value == "13800138000" and ws.cell(2, phone).data_type == "s"
    steps = wb["实施步骤"]
    task = STEP_HEADERS.index("任务") + 1
    texts = [steps.cell(r, task) for r in range(4, 4 + len(HOSTILE))]
    assert [c.value for c in texts] == HOSTILE and {c.data_type for c in texts} == {"s"}


def test_frozen_header_autofilter_widths_and_wrap_on_every_sheet():
    _, wb = export()
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
    main = wb.worksheets[0]
    widths = {main.cell(1, c).value: main.column_dimensions[main.cell(1, c).column_letter].width
              for c in range(1, main.max_column + 1)}
    # CJK counts double: "村集体经济增收(万元)" is 11 wide characters.
    assert widths["村集体经济增收(万元)"] >= 22
    assert widths["县"] < widths["完成时限"] < widths["村集体经济增收(万元)"]
    # Content counts too: the project name (16 CJK characters + 2 quotes) is wider than its header.
    assert widths["项目名称"] >= 34
    assert all(w <= exports.MAX_WIDTH + 1 for w in widths.values())
    plan = main.cell(2, MAIN_HEADERS.index("实施方案") + 1)
    assert plan.alignment.wrap_text
    assert not main.cell(2, 1).alignment.wrap_text
    assert main.cell(1, 1).font.b


def test_width_is_capped_for_long_text():
    long_text = dict(FULL, answers=dict(FULL["answers"], title="很长的项目名称" * 30))
    _, wb = export([long_text])
    ws = wb.worksheets[0]
    assert ws.column_dimensions["A"].width <= exports.MAX_WIDTH + 1


def test_org_columns_with_kinds():
    township_own = dict(SPARSE, org_code="XC", receipt="240502-0002")
    _, wb = export([FULL, SPARSE, township_own], ORG_PATHS, org_kinds=ORG_KINDS)
    org = slice(1, 5)
    rows = rows_of(wb.worksheets[0], len(MAIN_HEADERS))
    assert [r[org] for r in rows[1:]] == [
        ["岳西县", "响肠镇", "千佛塔村", "XC-QFT"],
        ["岳西县", None, "财政局", "CZJ"],        # a unit under the county is not a township
        ["岳西县", "响肠镇", None, "XC"],
    ]


def test_unknown_org_keeps_its_code():
    _, wb = export([dict(FULL, org_code="GONE")], {})
    row = rows_of(wb.worksheets[0], len(MAIN_HEADERS))[1]
    assert row[1:5] == [None, None, None, "GONE"]


def test_no_submissions_gives_headers_only():
    _, wb = export([])
    main = wb.worksheets[0]
    assert values(main) == [MAIN_HEADERS]
    assert main.auto_filter.ref == f"A1:{main.cell(1, len(MAIN_HEADERS)).column_letter}1"
    assert values(wb["实施步骤"]) == [STEP_HEADERS]


def test_schema_without_repeat_has_one_sheet_and_title_fallback():
    schema = {"id": "x", "title": "[]*?", "fields": [{"name": "a", "type": "text", "label": "甲"}]}
    _, wb = export([dict(FULL, answers={"a": "乙"})], schema=schema)
    assert wb.sheetnames == ["提交记录"]
    assert values(wb.worksheets[0])[1][FIELDS] == "乙"


def test_repeat_sheet_names_are_unique_and_valid():
    schema = {"id": "x", "title": "实施步骤", "fields": [
        {"name": "a", "type": "repeat", "label": "实施步骤", "fields": [
            {"name": "t", "type": "text", "label": "任务"}]},
        {"name": "b", "type": "repeat", "label": "'History'", "fields": [
            {"name": "t", "type": "text", "label": "任务"}]},
    ]}
    _, wb = export([], schema=schema)
    assert wb.sheetnames == ["实施步骤", "实施步骤(2)", "History(2)"]


def test_control_characters_are_dropped():
    doc = dict(FULL, answers={"title": "千佛\x00塔\x08村\t一组", "plan": "a\r\nb"})
    _, wb = export([doc])
    ws = wb.worksheets[0]
    assert ws.cell(2, FIELDS + 1).value == "千佛塔村\t一组"
    assert ws.cell(2, FIELDS + 2).value == "a\nb"  # browsers send CRLF; a cell wants LF only


def test_writes_to_path_and_file_object(tmp_path):
    path = tmp_path / "out.xlsx"
    exports.submissions_to_xlsx(SCHEMA, [FULL], ORG_PATHS, path)        # PathLike
    exports.submissions_to_xlsx(SCHEMA, [FULL], ORG_PATHS, str(tmp_path / "out2.xlsx"))  # str
    with open(tmp_path / "out3.xlsx", "wb") as f:
        exports.submissions_to_xlsx(SCHEMA, [FULL], ORG_PATHS, f)
    for name in ("out.xlsx", "out2.xlsx", "out3.xlsx"):
        wb = openpyxl.load_workbook(tmp_path / name)
        assert rows_of(wb.worksheets[0], len(MAIN_HEADERS))[1] == MAIN_ROWS[0]


def test_two_thousand_rows_from_a_generator():
    def docs():
        for i in range(2000):
            answers = dict(FULL["answers"], title=f"项目{i}", jobs=i,
                           steps=[{"month": "2024-01", "task": f"任务{i}-{j}", "owner": "王五",
                                   "budget": "1.5"} for j in range(i % 3)])
            yield dict(FULL, receipt=f"240501-{i:04d}", answers=answers)

    _, wb = export(docs(), ORG_PATHS)
    main, steps = wb.worksheets[0], wb["实施步骤"]
    assert main.max_row == 2001 and steps.max_row == 1 + sum(i % 3 for i in range(2000))
    assert [main.cell(2001, c).value for c in (FIELDS + 1, FIELDS + 3)] == ["项目1999", 1999]
    assert main.cell(2001, 1).value == "240501-1999"
    task = STEP_HEADERS.index("任务") + 1
    assert [steps.cell(steps.max_row - r, c).value for r in (1, 0) for c in (1, 6, task)] == [
        "240501-1997", 2, "任务1997-1", "240501-1999", 1, "任务1999-0"]
    assert main.auto_filter.ref.endswith("2001")


def test_too_many_rows_for_a_sheet_is_an_error(monkeypatch):
    monkeypatch.setattr(exports, "EXCEL_MAX_ROWS", 3)
    with pytest.raises(exports.ExportError, match="行数上限"):
        export([FULL, SPARSE, EVIL])


def test_an_error_while_reading_submissions_propagates(tmp_path):
    def docs():
        yield FULL
        raise RuntimeError("storage went away")

    with pytest.raises(RuntimeError, match="storage went away"):
        exports.submissions_to_xlsx(SCHEMA, docs(), ORG_PATHS, tmp_path / "partial.xlsx")


def test_workbook_options_turn_every_conversion_off():
    assert exports.WORKBOOK_OPTIONS == {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False}


# ---------------------------------------------------------------- CSV

def read_csv(data):
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_columns_and_values():
    data = exports.submissions_to_csv_bytes(SCHEMA, iter([FULL, SPARSE]), ORG_PATHS)
    rows = read_csv(data)
    assert rows[0] == MAIN_HEADERS
    assert rows[1] == ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "\tXC-QFT",
                       "2024-05-01 10:23:45", "待审核", "打造\"一米菜园\"助推一二三产融合发展",
                       "第一步:选址\n第二步:建园", "12", "12.5", "2024-03-01", "2024-12",
                       "党建引领发展类", "乡村振兴、村集体经济", "是", "13800138000",
                       "菜园现场.jpg", "2 条", "1 条"]
    # Negative numbers are numbers, not formulas: no quote prefix.
    assert rows[2][FIELDS:FIELDS + 4] == ["机关党建提升", "", "0", "-0.25"]
    assert len(rows) == 3


def test_csv_neutralizes_formula_looking_text():
    rows = read_csv(exports.submissions_to_csv_bytes(SCHEMA, [EVIL], EVIL_PATHS))
    row = dict(zip(rows[0], rows[1]))
    assert row["项目名称"] == "'=1+1"
    assert row["实施方案"] == "'+86 138"
    assert row["联系电话"] == "'-3"
    assert row["带动就业(人)"] == "-3"          # an integer answer
    assert row["村集体经济增收(万元)"] == "-1000000.125"
    assert row["乡镇"] == "'=cmd|' /C calc'!A0"
    assert row["村/单位"] == "'@村"
    assert row["组织编码"] == "\tEVIL"  # a code: kept as text by Excel (see exports._csv_code)
    for header, value in row.items():
        assert not value.startswith(("=", "+", "@", "\r")), header
        assert not value.startswith("\t") or header == "组织编码", header


@pytest.mark.parametrize("value", ["=1", "+1", "-1", "@a", "\tx", "\rx", "\nx"])
def test_csv_text_prefix(value):
    assert exports._csv_text(value) == "'" + value.replace("\r", "\n")
    assert exports._csv_text("a" + value) == "a" + value.replace("\r", "\n")


def test_csv_small_decimal_is_not_in_exponent_notation():
    doc = dict(SPARSE, answers={"income": "0.00001", "jobs": 3})
    rows = read_csv(exports.submissions_to_csv_bytes(SCHEMA, [doc], ORG_PATHS))
    assert rows[1][FIELDS + 2:FIELDS + 4] == ["3", "0.00001"]


def test_csv_to_text_binary_and_path(tmp_path):
    expected = exports.submissions_to_csv_bytes(SCHEMA, [FULL], ORG_PATHS)
    text = io.StringIO(newline="")
    exports.submissions_to_csv(SCHEMA, [FULL], ORG_PATHS, text)
    assert text.getvalue().encode("utf-8") == expected
    binary = io.BytesIO()
    exports.submissions_to_csv(SCHEMA, [FULL], ORG_PATHS, binary)
    assert not binary.closed and binary.getvalue() == expected
    exports.submissions_to_csv(SCHEMA, [FULL], ORG_PATHS, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == expected
