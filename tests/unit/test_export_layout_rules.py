"""exports.py as county staff read it (issue 11, part 6): the receipt and the organization
first, Excel dates, codes as text, wrapped headers, print setup on every sheet, repeat sheets
that name the organization and the project, a CSV zip that keeps every repeat row; and the
hand-written rows are the XML XlsxWriter itself writes."""
import csv
import io
import re
import zipfile
from datetime import datetime

import openpyxl
import pytest
import xlsxwriter

import exports

APPLICATION = {
    "id": "apply", "version": 2, "title": "党建引领发展类书记项目申报表",
    "project": {"role": "application", "title": "name", "steps": "steps"},
    "fields": [
        {"name": "name", "type": "text", "label": "项目名称"},
        {"name": "deadline", "type": "date", "label": "完成时限"},
        {"name": "month", "type": "month", "label": "申报月份"},
        {"name": "income", "type": "decimal", "label": "村集体经济预计增收", "unit": "万元"},
        {"name": "pledge", "type": "boolean", "label": (
            "本人承诺：所报内容真实、准确，项目由本人顶格谋划、顶格协调、顶格推进，按实施方案和"
            "时间节点抓好落实，接受组织监督和验收评审。")},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "fields": [
            {"name": "month", "type": "month", "label": "月份"},
            {"name": "task", "type": "textarea", "label": "任务"},
            {"name": "due", "type": "date", "label": "完成日期"}]},
        {"name": "funds", "type": "repeat", "label": "资金来源", "fields": [
            {"name": "amount", "type": "integer", "label": "金额"}]},
    ],
}
REPORT = {
    "id": "report", "version": 1, "title": "月度进展报告", "project": {"role": "report"},
    "fields": [
        {"name": "project", "type": "project", "label": "所报项目"},
        {"name": "done", "type": "repeat", "label": "本月完成", "fields": [
            {"name": "task", "type": "text", "label": "任务"}]},
    ],
}
PATHS = {"341828001001": ["岳西县", "响肠镇", "千佛塔村"], "0012": ["岳西县", "财政局"],
         "3-4": ["岳西县", "白帽镇"]}
KINDS = {"341828001001": "village", "0012": "unit", "3-4": "township"}
DOCS = [
    {"receipt": "240501-0001", "form_version": 2, "org_code": "341828001001",
     "submitted_at": "2024-05-01T10:23:45.123456+08:00", "status": "审核通过",
     "answers": {"name": "一米菜园", "deadline": "2024-12-31", "month": "2024-05",
                 "income": "12.5", "pledge": True,
                 "steps": [{"month": "2024-03", "task": "选址\n流转土地", "due": "2024-03-31"},
                           {"month": "2024-06", "task": "=1+1", "due": "2024-06-30"}],
                 "funds": [{"amount": 10}, {"amount": 20}, {"amount": 30}]}},
    {"receipt": "240502-0001", "form_version": 1, "org_code": "0012",
     "submitted_at": "2024-05-02T08:00:00+08:00",
     # Answers an older version stored as text, and a date Excel cannot show: kept as text.
     "answers": {"name": "机关党建", "deadline": "明年三月", "month": "1899-12",
                 "steps": [{"month": "2024-07", "task": "建园"}]}},
    {"receipt": "240503-0001", "form_version": 2, "org_code": "3-4",
     "submitted_at": "2024-05-03T09:30:00+08:00", "answers": {"name": "白帽镇项目"}},
]
KEY = ["回执编号", "县", "乡镇", "村/单位", "组织编码"]


def workbook(schema=APPLICATION, docs=DOCS):
    data = exports.submissions_to_xlsx_bytes(schema, iter(docs), PATHS, org_kinds=KINDS)
    return openpyxl.load_workbook(io.BytesIO(data))


def table(ws):
    rows = [[cell.value for cell in row] for row in ws.iter_rows()]
    return [row + [None] * (ws.max_column - len(row)) for row in rows]


def by_header(ws):
    """[{header: cell}] for each data row."""
    headers = [cell.value for cell in ws[1]]
    return [dict(zip(headers, row)) for row in ws.iter_rows(min_row=2)]


def test_the_receipt_then_the_organization_first_on_every_sheet():
    book = workbook()
    main, steps, funds = book.worksheets
    assert table(main)[0] == KEY + ["提交时间", "审核状态", "项目名称", "完成时限", "申报月份",
                                    "村集体经济预计增收(万元)", APPLICATION["fields"][4]["label"],
                                    "实施步骤", "资金来源"]
    assert table(steps)[0] == KEY + ["项目名称", "序号", "月份", "任务", "完成日期"]
    assert table(funds)[0] == KEY + ["项目名称", "序号", "金额"]
    assert [row[:5] for row in table(main)[1:]] == [
        ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "341828001001"],
        ["240502-0001", "岳西县", None, "财政局", "0012"],     # a unit under the county
        ["240503-0001", "岳西县", "白帽镇", None, "3-4"]]      # a township's own
    assert exports.main_headers(APPLICATION) == table(main)[0]
    assert exports.sheet_headers(APPLICATION) == [
        (ws.title, table(ws)[0]) for ws in book.worksheets]


def test_repeat_rows_carry_the_organization_and_the_project_name():
    _main, steps, funds = workbook().worksheets
    assert [row[:7] for row in table(steps)[1:]] == [
        ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "341828001001", "一米菜园", 1],
        ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "341828001001", "一米菜园", 2],
        ["240502-0001", "岳西县", None, "财政局", "0012", "机关党建", 1]]
    assert [row[5:] for row in table(funds)[1:]] == [["一米菜园", i, 10 * i] for i in (1, 2, 3)]


def test_a_report_names_its_project_by_its_project_field():
    docs = [{"receipt": "241101-0001", "form_version": 1, "org_code": "341828001001",
             "submitted_at": "2024-11-01T09:00:00+08:00",
             "answers": {"project": "党建引领“小冬桃”", "done": [{"task": "栽植"}]}}]
    _main, done = workbook(REPORT, docs).worksheets
    assert table(done) == [KEY + ["项目名称", "序号", "任务"],
                           ["241101-0001", "岳西县", "响肠镇", "千佛塔村", "341828001001",
                            "党建引领“小冬桃”", 1, "栽植"]]


def test_a_form_without_a_project_has_no_project_column():
    schema = {"id": "x", "title": "登记表", "fields": [
        {"name": "rows", "type": "repeat", "label": "明细", "fields": [
            {"name": "a", "type": "text", "label": "甲"}]}]}
    assert exports.sheet_headers(schema)[1] == ("明细", KEY + ["序号", "甲"])


def test_dates_are_excel_dates_numbers_numbers_codes_text():
    main, steps, _funds = workbook().worksheets
    first, second, third = by_header(main)
    assert first["提交时间"].value == datetime(2024, 5, 1, 10, 23, 45)
    assert first["提交时间"].number_format == "yyyy-mm-dd hh:mm"
    assert first["完成时限"].value == datetime(2024, 12, 31)
    assert first["完成时限"].number_format == "yyyy-mm-dd"
    assert first["申报月份"].value == datetime(2024, 5, 1)
    assert first["申报月份"].number_format == "yyyy-mm"
    assert first["村集体经济预计增收(万元)"].data_type == "n"
    assert first["村集体经济预计增收(万元)"].value == 12.5
    # A code is text, never 3.41828E+11, 12 or the 4th of March, and formatted as text.
    codes = [row["组织编码"] for row in (first, second, third)]
    assert [c.value for c in codes] == ["341828001001", "0012", "3-4"]
    assert {c.data_type for c in codes} == {"s"} and {c.number_format for c in codes} == {"@"}
    assert first["回执编号"].data_type == "s"
    # What is not a date Excel can show stays as it was typed.
    assert (second["完成时限"].value, second["完成时限"].data_type) == ("明年三月", "s")
    assert (second["申报月份"].value, second["申报月份"].data_type) == ("1899-12", "s")
    detail = by_header(steps)
    assert detail[0]["月份"].value == datetime(2024, 3, 1)
    assert detail[0]["完成日期"].value == datetime(2024, 3, 31)
    assert detail[0]["完成日期"].number_format == "yyyy-mm-dd"
    assert detail[1]["任务"].value == "=1+1" and detail[1]["任务"].data_type == "s"
    assert detail[0]["序号"].data_type == "n"


@pytest.mark.parametrize("text, serial", [
    ("2024-03-01", 45352), ("1900-03-01", 61), ("9999-12-31", 2958465),
    ("1900-02-28", None), ("2024-02-30", None), ("2024-3-1", None), ("", None), (None, None)])
def test_excel_date(text, serial):
    assert exports.excel_date(text) == serial


def test_excel_datetime_keeps_the_local_time_as_stored():
    assert exports.excel_datetime("2024-03-01T12:00:00+08:00") == 45352.5
    assert exports.excel_datetime("2024-03-01T06:00:00.999-05:00") == 45352.25
    assert exports.excel_datetime("2024-03-01") is None
    assert exports.excel_datetime("2024-03-01T25:00:00") is None


def test_print_setup_on_every_sheet():
    for ws in workbook().worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape", ws.title
        assert int(setup.paperSize) == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert int(setup.fitToHeight) == 0  # as many pages tall as it takes
        assert int(setup.fitToWidth or 1) == 1  # absent means 1 (ECMA-376)
        assert ws.print_title_rows == "$1:$1"
        assert ws.print_options.gridLines
        assert "&P" in ws.oddFooter.center.text


def test_fit_to_width_is_read_back():
    """The check above reads fitToWidth as openpyxl gives it: a sheet fitted to 2 pages
    wide reads 2, so a print setup that stopped fitting to one page wide would fail."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    book.add_worksheet().fit_to_pages(2, 0)
    book.close()
    assert openpyxl.load_workbook(out).active.page_setup.fitToWidth == 2


def test_long_headers_wrap_instead_of_spilling():
    main = workbook().worksheets[0]
    widths = {cell.value: main.column_dimensions[cell.column_letter].width for cell in main[1]}
    pledge = APPLICATION["fields"][4]["label"]  # 62 Chinese characters: 124 wide
    assert all(cell.alignment.wrap_text for cell in main[1])
    assert exports.HEADER_WIDTH < widths[pledge] <= 124 / exports.HEADER_MAX_LINES + 3
    # 24 wide: wraps at HEADER_WIDTH (+ 2 of padding, + 0.71 that Excel's widths carry).
    assert widths["乡镇"] < widths["村集体经济预计增收(万元)"] <= exports.HEADER_WIDTH + 3
    assert widths["完成时限"] >= 12  # a date: 2024-12-31 fits
    assert widths["提交时间"] >= 18  # 2024-05-01 10:23 fits


def test_csv_zip_has_one_csv_per_sheet_and_every_repeat_row():
    data = exports.submissions_to_zip_bytes(APPLICATION, iter(DOCS), PATHS, org_kinds=KINDS)
    book = workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        files = {name: archive.read(name) for name in names}
    assert names == [f"{n}-{ws.title}.csv" for n, ws in enumerate(book.worksheets, start=1)]
    assert all(body.startswith(b"\xef\xbb\xbf") for body in files.values())
    sheets = [list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
              for body in files.values()]
    main, steps, funds = sheets
    assert [s[0] for s in sheets] == [table(ws)[0] for ws in book.worksheets]
    assert len(main) == 1 + len(DOCS)
    assert len(steps) == 1 + 3 and len(funds) == 1 + 3  # every repeat row
    assert steps[2] == ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "\t341828001001", "一米菜园",
                        "2", "2024-06", "'=1+1", "2024-06-30"]
    assert main[1][:7] == ["240501-0001", "岳西县", "响肠镇", "千佛塔村", "\t341828001001",
                           "2024-05-01 10:23:45", "审核通过"]
    assert [row[4] for row in main[1:]] == ["\t341828001001", "\t0012", "\t3-4"]
    # The single CSV is the zip's first file.
    single = exports.submissions_to_csv_bytes(APPLICATION, iter(DOCS), PATHS, org_kinds=KINDS)
    assert single == files[names[0]]


def test_csv_zip_to_a_path_leaves_no_temp_file(tmp_path):
    out = tmp_path / "out.zip"
    exports.submissions_to_zip(APPLICATION, DOCS, PATHS, out)
    assert [p.name for p in tmp_path.iterdir()] == ["out.zip"]
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == 3


def test_a_code_that_is_not_a_code_is_protected_like_any_text():
    assert exports._csv_code("341828001001") == "\t341828001001"
    assert exports._csv_code("=1+1") == "'=1+1"
    assert exports._csv_code("") == ""


def test_file_format():
    assert [exports.file_format(APPLICATION, f) for f in ("xlsx", "csv", "zip")] == [
        "xlsx", "zip", "zip"]
    flat = {"id": "x", "fields": [{"name": "a", "type": "text", "label": "甲"}]}
    assert [exports.file_format(flat, f) for f in ("xlsx", "csv", "zip")] == [
        "xlsx", "csv", "zip"]


# ---------------------------------------------------------------- the hand-written rows

CELLS = [  # one per kind, and the strings that need care
    ("text", "千佛塔村"), ("text", "=1+1"), ("text", "a & b <c> \"d\""), ("text", " 前后空格 "),
    ("text", "_x0041_ 字面"), ("text", "tab\tin"), ("wrap", "第一行\n第二行"), ("wrap", "\n"),
    ("text", "x" * 40000), ("text", ""), ("text", None), ("number", 12), ("number", -0.25),
    ("number", 10 ** 20), ("number", 1e-7), ("number", 0), ("code", "341828001001"),
    ("date", "2024-03-01"), ("date", "明年三月"), ("month", "2024-12"), ("text", "\u3000全角"),
    ("datetime", "2024-05-01T10:23:45+08:00"), ("datetime", None), ("text", "𠀀" * 20000),
]


def sheet_xml(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


def test_fast_rows_are_what_xlsxwriter_writes():
    """_Sheet writes the data rows as XML itself; XlsxWriter's own write_string and
    write_number, given the same cells and formats, must produce the same sheet (the s="…"
    style numbers aside: the formats are numbered in another order) and the same cells."""
    kinds = [kind for kind, _ in CELLS]
    layout = exports._SheetLayout("表", [f"列{i}" for i in range(len(CELLS))], kinds)
    rows = [[value for _, value in CELLS], [None] * len(CELLS), list(reversed(
        [value for _, value in CELLS]))]
    rows[2] = [rows[0][i] if kind in ("date", "month", "datetime") else value
               for i, (kind, value) in enumerate(zip(kinds, rows[2]))]

    fast_out = io.BytesIO()
    book = xlsxwriter.Workbook(fast_out, exports.WORKBOOK_OPTIONS)
    sheet = exports._Sheet(book, layout, exports.add_formats(book))
    for row in rows:
        sheet.write_row(list(row))
    sheet.finish()
    book.close()

    plain_out = io.BytesIO()
    book = xlsxwriter.Workbook(plain_out, exports.WORKBOOK_OPTIONS)
    formats = exports.add_formats(book)
    ws = book.add_worksheet("表")
    for col, header in enumerate(layout.headers):
        ws.write_string(0, col, header, formats["header"])
    text = [formats.get({"wrap": "wrap", "code": "text"}.get(kind)) for kind in kinds]
    number = [formats.get(kind) if kind in ("date", "month", "datetime") else None
              for kind in kinds]
    for r, row in enumerate(rows, start=1):
        for col, (kind, value) in enumerate(zip(kinds, row)):
            value = exports._XLSX_VALUES[kind](value) if kind in exports._XLSX_VALUES else value
            if isinstance(value, str):
                value = exports._clean(value)
                if value:
                    ws.write_string(r, col, value, text[col])
            elif value is not None:
                ws.write_number(r, col, value, number[col])
    for col, width in enumerate(sheet.widths):
        ws.set_column(col, col, min(max(width + 2, exports.MIN_WIDTH), exports.MAX_WIDTH))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(kinds) - 1)
    ws.ignore_errors({"number_stored_as_text": f"A1:XFD{len(rows) + 1}"})
    exports.print_setup(ws)
    book.close()

    fast, plain = sheet_xml(fast_out.getvalue()), sheet_xml(plain_out.getvalue())
    assert 'xml:space="preserve"' in fast and "_x005F_x0041_" in fast and "&amp;" in fast
    unstyled = re.compile(r' s="\d+"')
    assert unstyled.sub("", fast) == unstyled.sub("", plain)
    fast_book = openpyxl.load_workbook(io.BytesIO(fast_out.getvalue()))
    plain_book = openpyxl.load_workbook(io.BytesIO(plain_out.getvalue()))
    cells = [[(c.value, c.data_type, c.number_format, c.alignment.wrap_text, c.font.b)
              for c in row] for row in fast_book.active.iter_rows()]
    assert cells == [[(c.value, c.data_type, c.number_format, c.alignment.wrap_text, c.font.b)
                      for c in row] for row in plain_book.active.iter_rows()]
    assert len(fast_book.active["I2"].value) == exports.EXCEL_MAX_CHARS  # cut like XlsxWriter
