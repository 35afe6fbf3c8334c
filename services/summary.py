"""The county 汇总表 (issue 11): the one workbook a county office sends upward at the year's
end, or a township sends to the county. Plain functions over a Store and an OrgIndex, no
Flask: the page (GET /admin/summary.xlsx) and the command (`flask summary YEAR`) call
:func:`summary_workbook` with the user's scope already decided by services.access.

Sheets, in order:

* 汇总 — projects of the year by township × 领域 × status: one row per township and 领域 it
  has projects in, a 小计 row per township (every township of the scope, also without
  projects), 县直单位 (organizations under no township), then the county's 领域 rows and its
  合计. 书记领办事项 are counted under their kind, as on the dashboard. Beside each 小计 and the
  合计: the year's reporting rate (全年报送率, of the first monthly form; the 报送率 sheet's).
* 报送率 — for each monthly form (``period: {"every": "month"}``), per township (and 县直单位
  and the total): 应报, 已报 (迟报 included) and 报送率 for each month of the year so far and
  for the year. The figures are services.reporting.matrix's — the 催报 matrix's — and a
  month's rate counts once its due day has passed (the dashboard's rule).
* 路演评审排名 — services.scoring.ranking_table of the year (the table the page and `flask
  ranking` show), the bottom-5% rule as a note and the 连续两年末位 / 软弱涣散 lists.
* one sheet per township (its name), then 县直单位: its projects with their latest monthly
  report (报告月份, 完成进度, 本月完成任务, the date it was sent) and their 验收 state.

Every sheet prints on A4 landscape, one page wide, its title and header rows repeated
(exports.print_setup); dates are Excel dates, counts, rates and scores numbers, organization
codes text (formatted @) and everything a person typed text (write_string, and the workbook
converts no string: exports.WORKBOOK_OPTIONS).

Reads: the year's projects once, each monthly report form's submissions of the year once (the
latest report of every project in one pass), the 催报 matrix of each monthly form, the year's
ranking. Nothing per project.
"""
import math
import os
from datetime import date
from decimal import Decimal

import xlsxwriter

import exports
from services import dashboard, periods, projects, reporting, scoring
from services.orgs import OrgIndex, township_of

SUMMARY_SHEET = "汇总"
RATES_SHEET = "报送率"
RANKING_SHEET = "路演评审排名"
COUNTY_UNITS = "县直单位"  # the group (and sheet) of organizations under no township
SUBTOTAL = "小计"

# 领域 in the dashboard's order (the seeds'); other categories follow by name, and the
# 书记领办事项 (whose "category" is a matter type: 征地搬迁, ...) are counted under their kind.
CATEGORY_ORDER = dashboard.CATEGORY_ORDER
MATTER_KIND = dashboard.LEADER_KIND
UNCATEGORIZED = dashboard.UNCATEGORIZED

# What the project sheets show of a project's latest monthly report: the answers of the
# built-in 月度进展报告 (schemas/monthly_report.json) read under these names; the column
# headers are those names' labels in the form's current version.
LATEST_FIELDS = {"progress": "progress", "text": "done_tasks"}
NON_VOID = reporting.NON_VOID
ACCEPTANCE_STATES = ("已申请验收", "已验收", "验收未通过")

PROJECT_COLUMNS = (  # (header, kind, width)
    ("项目编号", "int", 5), ("村/单位", "wrap", 10), ("组织代码", "code", 13),
    ("项目名称", "wrap", 22), ("领域", "wrap", 9), ("类型", "wrap", 9), ("书记", "text", 7),
    ("状态", "text", 9), ("立项日期", "date", 10.5), ("最新报告月份", "month", 8),
    ("完成进度", "pct0", 6), ("本月完成任务", "wrap", 30), ("最近报告日期", "date", 10.5),
    ("验收", "text", 9))
NO_PROJECTS = "暂无项目"
LINE_HEIGHT = 13.5  # points per line of the 10-point text


# ---------------------------------------------------------------------------- the figures


def summary_data(store, index, year, org_codes=None, today=None):
    """Everything the workbook shows, as plain values: ``{"year", "today", "area" (the name
    of what it covers), "statuses", "categories", "groups", "rates", "ranking"}``.

    ``org_codes``: the organizations to cover (None: the whole county), already narrowed by
    services.access. ``groups``: one per township the scope reaches (by code), then
    县直单位 when the scope holds organizations under no township — ``{"code" (None for
    县直单位), "name", "projects": [row, ...] (by id), "counts": {category: {status: n}}}``.
    A project row: ``{"id", "unit", "org_code", "title", "category", "kind", "secretary",
    "status", "approved_on", "report_month", "progress", "progress_text", "reported_on",
    "acceptance"}`` (dates as ``date``; the month as the date of its first day; progress a
    fraction, 0.6 for 60%). Voided projects are left out."""
    today = today or reporting.today_local()
    found = [p for p in store.list_projects(org_codes=org_codes, year=year)
             if not p.get("void")]
    latest, labels = latest_reports(store, found, year)
    groups = {code: {"code": code, "name": name, "projects": [], "counts": {}}
              for code, name in _groups_in_scope(index, org_codes)}
    for project in found:
        code, name = _group_of(index, project["org_code"])
        group = groups.setdefault(code, {"code": code, "name": name, "projects": [],
                                         "counts": {}})
        group["projects"].append(_project_row(index, project, latest.get(project["id"])))
        by_status = group["counts"].setdefault(category_of(project), {})
        by_status[project["status"]] = by_status.get(project["status"], 0) + 1
    ordered = sorted(groups.values(), key=lambda g: (g["code"] is None, g["code"] or ""))
    categories = list(CATEGORY_ORDER) + sorted(
        {c for g in ordered for c in g["counts"]} - set(CATEGORY_ORDER) - {MATTER_KIND})
    categories.append(MATTER_KIND)
    return {"year": year, "today": today, "area": _area_name(index, org_codes),
            "county": org_codes is None, "statuses": projects.STATUSES,
            "categories": categories, "groups": ordered, "latest_labels": labels,
            "rates": reporting_rates(store, index, year, org_codes, today),
            "ranking": ranking_section(store, index, year, org_codes)}


def category_of(project):
    """The 领域 a project is counted under in the 汇总 (书记领办事项: its kind)."""
    if project.get("kind") == MATTER_KIND:
        return MATTER_KIND
    return project.get("category") or UNCATEGORIZED


def latest_reports(store, found, year):
    """({project id: its latest monthly report (the highest 报告月份, then the last stored)},
    {"progress": label, "text": label}) for the projects ``found``: each monthly report form
    naming a project is read once, from 1 January of ``year`` (a project of ``year`` cannot
    be reported on before it was applied for in that year)."""
    wanted = {p["id"] for p in found}
    labels = {"progress": "完成进度", "text": "本月完成任务"}
    latest = {}
    if not wanted:
        return latest, labels
    codes = sorted({p["org_code"] for p in found})
    for form_doc in store.list_forms():
        schema = form_doc["schema"]
        if not _is_monthly(schema) or projects.role_of(schema) != "report":
            continue
        labels = {key: next((f.get("label") or name for f in schema["fields"]
                             if f.get("name") == name), labels[key])
                  for key, name in LATEST_FIELDS.items()}
        _count, docs = store.iter_submissions(form_doc["id"], org_codes=codes,
                                              date_from=date(year, 1, 1), statuses=NON_VOID)
        try:
            for doc in docs:
                project_id = doc.get("project_id")
                if project_id not in wanted:
                    continue
                key = (doc.get("period") or "", doc["id"])
                if project_id not in latest or key > latest[project_id][0]:
                    latest[project_id] = (key, doc)
        finally:
            close = getattr(docs, "close", None)
            if close is not None:
                close()
    return {pid: doc for pid, (_key, doc) in latest.items()}, labels


def reporting_rates(store, index, year, org_codes=None, today=None):
    """Per monthly form (its ``period`` says ``every: month``): ``{"form_id", "title",
    "months": [{"period", "label", "counted"}], "rows": [{"code", "name", "cells":
    [(reported, expected)], "year": (reported, expected)}]}`` from services.reporting.matrix
    of ``year`` within ``org_codes``. A row per township the scope reaches (and 县直单位), then
    the total (合计). ``counted``: the month's due day has passed — the year's figure adds
    those months only, and a month not yet counted shows no rate."""
    today = today or reporting.today_local()
    found = []
    for form_doc in store.list_forms():
        schema = form_doc["schema"]
        if not _is_monthly(schema):
            continue
        table = reporting.matrix(store, index, schema, year, org_codes, today)
        months = [{"period": c["period"], "label": f"{int(c['period'][5:])}月",
                   "counted": today > c["due"]} for c in table["periods"]]
        groups = {code: [[0, 0] for _ in months]
                  for code, _name in _groups_in_scope(index, org_codes)}
        names = dict(_groups_in_scope(index, org_codes))
        for org in table["orgs"]:
            code, name = _group_of(index, org["code"])
            names.setdefault(code, name)
            cells = groups.setdefault(code, [[0, 0] for _ in months])
            for n, cell in enumerate(org["cells"]):
                if cell["state"] is None:  # before its project was approved: not due
                    continue
                cells[n][1] += 1
                cells[n][0] += cell["state"] in reporting.REPORTED
        rows = [_rate_row(code, names[code], cells, months)
                for code, cells in sorted(groups.items(),
                                          key=lambda kv: (kv[0] is None, kv[0] or ""))]
        total = [[c["counts"]["已报"] + c["counts"]["迟报"], c["counts"]["expected"]]
                 for c in table["periods"]]
        rows.append(_rate_row("", "全县合计" if org_codes is None else "合计", total, months))
        found.append({"form_id": schema["id"], "title": schema.get("title") or schema["id"],
                      "due_day": periods.period_spec(schema).due_day, "months": months,
                      "rows": rows})
    return found


def ranking_section(store, index, year, org_codes=None):
    """The year's 路演评审 as the page and `flask ranking` show it (scoring.year_ranking,
    scoring.ranking_table, within ``org_codes``), with the two lists the rules make:
    ``{"headers", "rows", "rule", "rubric" (bool), "lists": [(title, [(乡镇, 村/单位,
    组织代码)])]}``."""
    ranking = scoring.year_ranking(store, year)
    headers, rows = scoring.ranking_table(ranking, index, org_codes)
    lists = []
    for title, codes in (("连续两年末位 5% 的组织", ranking.bottom_two_years),
                         ("软弱涣散整顿名单（书记领办事项连续两年无明显成效）",
                          ranking.no_effect_two_years)):
        lists.append((title, [(*index.columns(code)[1:], code) for code in sorted(codes)
                              if org_codes is None or code in org_codes]))
    return {"headers": headers, "rows": rows, "rule": scoring.BOTTOM_RULE,
            "rubric": ranking.rubric is not None, "lists": lists}


# ---------------------------------------------------------------------------- the workbook


def summary_workbook(store, year, org_codes, today, out, index=None):
    """Write the 汇总表 of ``year`` for ``org_codes`` (None: the whole county; narrowed by
    services.access before) to ``out`` (a path or a binary stream). ``today``: the date the
    figures are as of (None: today). Returns ``{"projects", "sheets"}`` (what was written)."""
    index = index or OrgIndex(store.list_orgs())
    data = summary_data(store, index, year, org_codes, today)
    write_workbook(data, out)
    return {"projects": sum(len(g["projects"]) for g in data["groups"]),
            "sheets": sheet_names(data)}


def sheet_names(data):
    """The sheet names of ``data``'s workbook, in order (township names made valid)."""
    taken = set()
    names = [exports._sheet_name(n, taken, n) for n in (SUMMARY_SHEET, RATES_SHEET,
                                                         RANKING_SHEET)]
    return names + [exports._sheet_name(g["name"], taken, COUNTY_UNITS) for g in data["groups"]]


def write_workbook(data, out):
    """Write ``summary_data``'s figures as the workbook (module docstring) to ``out``."""
    if isinstance(out, os.PathLike):
        out = os.fspath(out)
    # A county's workbook is a few thousand rows: in memory, which lets a sheet be written
    # in any order (the title rows after the columns' widths are known).
    workbook = xlsxwriter.Workbook(out, {**exports.WORKBOOK_OPTIONS, "constant_memory": False,
                                         "in_memory": True})
    try:
        book = _Book(workbook)
        names = iter(sheet_names(data))
        _summary_sheet(book, next(names), data)
        _rates_sheet(book, next(names), data)
        _ranking_sheet(book, next(names), data)
        for group in data["groups"]:
            _projects_sheet(book, next(names), data, group)
    finally:
        workbook.close()


def _summary_sheet(book, name, data):
    statuses = list(data["statuses"])
    # The year's reporting rate of each township beside its 小计 (of the first monthly form;
    # the 报送率 sheet has every month of every monthly form).
    rates = data["rates"][0] if data["rates"] else None
    year_rate = {} if rates is None else {row["code"]: _rate(*row["year"])
                                          for row in rates["rows"]}
    columns = [("乡镇", "text", 10), ("领域", "wrap", 16), ("合计", "int", 6)] + [
        (s, "int", 6) for s in statuses] + ([("全年报送率", "pct", 8)] if rates else [])
    sheet = book.sheet(name, f"{data['area']} {data['year']}年书记项目汇总表", columns,
                       f"按乡镇、领域、状态统计项目数（不含已作废）；统计截至 {data['today'].isoformat()}")
    tail = (lambda code: [year_rate.get(code)]) if rates else (lambda code: [])
    county = {}
    for group in data["groups"]:
        total = {}
        for category in data["categories"]:
            counts = group["counts"].get(category)
            if not counts:
                continue
            sheet.row([group["name"], category, sum(counts.values()),
                       *(counts.get(s, 0) for s in statuses)])
            _add(total, counts)
            _add(county.setdefault(category, {}), counts)
        sheet.row([group["name"], SUBTOTAL, sum(total.values()),
                   *(total.get(s, 0) for s in statuses), *tail(group["code"])], bold=True)
    everything = {}
    if data["county"]:
        for category in data["categories"]:
            counts = county.get(category) or {}
            sheet.row(["全县", category, sum(counts.values()),
                       *(counts.get(s, 0) for s in statuses)])
    for counts in county.values():
        _add(everything, counts)
    sheet.row(["全县合计" if data["county"] else "合计", "", sum(everything.values()),
               *(everything.get(s, 0) for s in statuses), *tail("")], bold=True)
    sheet.note("书记领办事项不分领域，合为一行；已立项之后的项目按其当前状态（实施中、已申请验收等）计数。"
               + (f"全年报送率为「{rates['title']}」已截止月份的已报（含迟报）÷ 应报，"
                  "各月明细见「报送率」表。" if rates else ""))
    sheet.finish()


def _rates_sheet(book, name, data):
    forms = data["rates"]
    months = forms[0]["months"] if forms else []
    columns = [("乡镇", "text", 12), ("指标", "text", 10)] + [
        (m["label"], "num", 7) for m in months] + [("全年", "num", 8)]
    sheet = book.sheet(name, f"{data['area']} {data['year']}年月度报告报送率", columns,
                       f"应报、已报（含迟报）和报送率；统计截至 {data['today'].isoformat()}")
    if not forms:
        sheet.note("没有按月报送的表单。")
    for form in forms:
        sheet.banner(form["title"])
        if not form["months"]:
            sheet.note(f"{data['year']}年还没有需要报送的月份。")
        for row in form["rows"]:
            reported = [r for r, _e in row["cells"]]
            expected = [e for _r, e in row["cells"]]
            total = row is form["rows"][-1]
            sheet.row([row["name"], "应报", *expected, row["year"][1]], bold=total)
            sheet.row([row["name"], "已报", *reported, row["year"][0]], bold=total)
            rates = [_rate(r, e) if m["counted"] else None
                     for (r, e), m in zip(row["cells"], form["months"])]
            sheet.row([row["name"], "报送率", *rates, _rate(*row["year"])], pct=True,
                      bold=total)
        sheet.note(f"应报：该月须报送的组织（有项目的，自立项当月起）；报送率 = 已报 ÷ 应报。每月 "
                   f"{form['due_day']} 日截止报上月，截止日未过的月份不计报送率，“全年”只合计已截止的月份。")
    sheet.finish()


def _ranking_sheet(book, name, data):
    ranking = data["ranking"]
    kinds = {"名次": "int", "项目编号": "int", "评委数": "int", "组织代码": "code",
             "项目名称": "wrap", "村/单位": "wrap", "领域": "wrap"}
    columns = [(h, "score" if h.endswith("(均分)") or h == "总分" else kinds.get(h, "text"),
                _ranking_width(h)) for h in ranking["headers"]]
    sheet = book.sheet(name, f"{data['area']} {data['year']}年路演评审排名", columns,
                       "按领域排名，并列名次相同")
    for row in ranking["rows"]:
        sheet.row(row)
    if not ranking["rows"]:
        sheet.note("本年度没有已立项的项目。" if ranking["rubric"] else
                   f"{data['year']}年尚未设置评分标准，也没有已立项的项目。")
    elif not ranking["rubric"]:
        sheet.note(f"{data['year']}年尚未设置评分标准，暂无排名。")
    sheet.note(ranking["rule"])
    for title, orgs in ranking["lists"]:
        sheet.banner(f"{title}：{len(orgs)} 个" if orgs else f"{title}：无")
        for township, unit, code in orgs:
            sheet.row([township, unit, code], kinds=("text", "wrap", "code"))
    sheet.finish()


def _projects_sheet(book, name, data, group):
    labels = data["latest_labels"]
    columns = [(labels["progress"] if h == "完成进度" else labels["text"] if h == "本月完成任务"
                else h, kind, width) for h, kind, width in PROJECT_COLUMNS]
    sheet = book.sheet(name, f"{group['name']} {data['year']}年书记项目清单", columns,
                       f"共 {len(group['projects'])} 个项目（不含已作废）；最新进度取最近一个报告月份的月度报告；"
                       f"统计截至 {data['today'].isoformat()}")
    for p in group["projects"]:
        sheet.row([p["id"], p["unit"], p["org_code"], p["title"], p["category"], p["kind"],
                   p["secretary"], p["status"], p["approved_on"], p["report_month"],
                   p["progress"], p["progress_text"], p["reported_on"], p["acceptance"]])
    if not group["projects"]:
        sheet.note(NO_PROJECTS)
    sheet.finish()


# ---------------------------------------------------------------------------- sheets


class _Book:
    """The workbook's shared cell formats."""

    def __init__(self, workbook):
        self.workbook = workbook
        base = {"border": 1, "valign": "top", "font_size": 10}
        self.formats = {}
        numbers = {"text": None, "wrap": None, "code": "@", "int": "0", "num": "0", "pct": "0.0%",
                   "pct0": "0%", "score": "0.00", "date": "yyyy-mm-dd", "month": "yyyy-mm"}
        for kind, num_format in numbers.items():
            for bold in (False, True):
                spec = {**base, "bold": bold}
                if kind == "wrap":
                    spec["text_wrap"] = True
                if num_format:
                    spec["num_format"] = num_format
                self.formats[(kind, bold)] = workbook.add_format(spec)
        self.header = workbook.add_format({**exports.HEADER_FORMAT, "font_size": 10})
        self.title = workbook.add_format({"bold": True, "font_size": 14, "align": "center",
                                          "valign": "vcenter"})
        self.subtitle = workbook.add_format({"font_size": 9, "align": "left",
                                             "font_color": "#555555"})
        self.banner = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1,
                                           "font_size": 10})
        self.note = workbook.add_format({"font_size": 9, "text_wrap": True, "valign": "top"})

    def sheet(self, name, title, columns, subtitle=""):
        return _Sheet(self, name, title, columns, subtitle)


class _Sheet:
    """One sheet: a title row, a subtitle row, the header row (the three repeated on every
    printed page), then rows, banners and notes written top down."""

    HEADER_ROW = 2

    def __init__(self, book, name, title, columns, subtitle):
        self.book = book
        self.ws = book.workbook.add_worksheet(name)
        self.columns = columns
        self.title = _clean(title)
        self.widths = [max(width, _header_width(header, kind)) for header, kind, width in columns]
        self.row_no = self.HEADER_ROW
        self.lines = {}  # row -> lines its wrapped cells take (rows are given their height)
        last = len(columns) - 1
        ws = self.ws
        ws.set_row(0, 24)
        if last:
            ws.merge_range(0, 0, 0, last, "", book.title)
            ws.merge_range(1, 0, 1, last, "", book.subtitle)
        ws.write_string(0, 0, self.title, book.title)
        ws.write_string(1, 0, _clean(subtitle), book.subtitle)
        for col, (header, _kind, _width) in enumerate(columns):
            ws.write_string(self.HEADER_ROW, col, _clean(header), book.header)
        self.data_rows = []

    def row(self, values, bold=False, pct=False, kinds=None):
        """The next row: a value per column — str (written as text), int / float / Decimal
        (numbers), date, None (an empty cell with the column's borders). ``pct``: numbers
        as percentages; ``kinds`` overrides the columns' kinds."""
        self.row_no += 1
        ws, formats = self.ws, self.book.formats
        kinds = list(kinds or ()) + [kind for _h, kind, _w in self.columns][len(kinds or ()):]
        for col, value in enumerate(values):
            kind = "pct" if pct and col >= 2 else kinds[col]
            if kind in ("text", "wrap", "code") and isinstance(value, (int, float, Decimal)) \
                    and not isinstance(value, bool):
                kind = "int" if isinstance(value, int) else "score"
            fmt = formats[(kind, bold)]
            if value is None:
                ws.write_blank(self.row_no, col, None, fmt)
            elif isinstance(value, str):
                text = _clean(value)
                ws.write_string(self.row_no, col, text, fmt)
                if kind == "wrap":
                    self._lines(self.row_no, _lines_of(text, self.widths[col]))
                else:
                    self.widths[col] = max(self.widths[col], min(_text_width(text) + 1, 40))
            elif isinstance(value, date):
                ws.write_datetime(self.row_no, col, value, fmt)
            elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                ws.write_number(self.row_no, col, float(value) if isinstance(value, Decimal)
                                else value, fmt)
            else:
                ws.write_string(self.row_no, col, _clean(str(value)), fmt)
        for col in range(len(values), len(self.columns)):
            ws.write_blank(self.row_no, col, None, formats[(kinds[col], bold)])
        self.data_rows.append(self.row_no)

    def banner(self, text):
        """A row of its own heading what follows (a form, a list)."""
        self.row_no += 1
        last = len(self.columns) - 1
        if last:
            self.ws.merge_range(self.row_no, 0, self.row_no, last, "", self.book.banner)
        self.ws.write_string(self.row_no, 0, _clean(text), self.book.banner)

    def note(self, text):
        """A line of explanation (merged across the table, wrapped)."""
        self.row_no += 1
        last = len(self.columns) - 1
        text = _clean(text)
        if last:
            self.ws.merge_range(self.row_no, 0, self.row_no, last, "", self.book.note)
        self.ws.write_string(self.row_no, 0, text, self.book.note)
        per_line = max(sum(self.widths), 1)
        self.ws.set_row(self.row_no, 13 * max(1, math.ceil(_text_width(text) / per_line)))

    def _lines(self, row, lines):
        self.lines[row] = max(self.lines.get(row, 1), lines)

    def finish(self):
        ws = self.ws
        for col, width in enumerate(self.widths):
            ws.set_column(col, col, width)
        # Row heights of wrapped text, set rather than left to the reader: Excel fits them
        # when it opens the file, LibreOffice and a printout straight from the file do not.
        self._lines(self.HEADER_ROW, max(_lines_of(header, width) for (header, _k, _w), width
                                         in zip(self.columns, self.widths)))
        for row, lines in self.lines.items():
            if lines > 1:
                ws.set_row(row, LINE_HEIGHT * lines + 2)
        ws.freeze_panes(self.HEADER_ROW + 1, 0)
        if self.data_rows:
            ws.autofilter(self.HEADER_ROW, 0, self.data_rows[-1], len(self.columns) - 1)
        ws.ignore_errors({"number_stored_as_text": f"A1:XFD{self.row_no + 1}"})
        _print_setup(ws, self.title, self.HEADER_ROW + 1)


def _print_setup(ws, title, header_rows):
    """exports.print_setup (A4 landscape, one page wide, the first ``header_rows`` rows on
    every page, page numbers), with ``title`` in the page header; gridlines are not printed,
    as these tables have borders of their own."""
    exports.print_setup(ws, header_rows=header_rows)
    ws.hide_gridlines(1)
    if title:
        ws.set_header("&C" + _clean(title)[:200].replace("&", "&&"))


# ---------------------------------------------------------------------------- internals


def _is_monthly(schema):
    spec = periods.period_spec(schema)
    return spec is not None and spec.every == "month"


def _group_of(index, code):
    """(township code, its name), or (None, 县直单位) for an organization under none."""
    township = township_of(index, code)
    return (township, index.get(township)["name"]) if township else (None, COUNTY_UNITS)


def _groups_in_scope(index, org_codes):
    """(code, name) of every group the scope reaches: townships by code, then 县直单位 (when
    some organization in scope lies under no township)."""
    codes = [o["code"] for o in index.orgs] if org_codes is None else sorted(org_codes)
    found = dict(_group_of(index, code) for code in codes if code in index)
    return sorted(found.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))


def _area_name(index, org_codes):
    """What the workbook covers: the county, or the township(s) of a narrower scope."""
    groups = _groups_in_scope(index, org_codes)
    if org_codes is None or not groups:
        counties = [o for o in index.orgs if o.get("kind") == "county"]
        return counties[0]["name"] if len(counties) == 1 else "全县"
    return "、".join(name for _code, name in groups)


def _project_row(index, project, report):
    _county, _township, unit = index.columns(project["org_code"])
    history = project.get("history") or ()
    approved = next((e["at"] for e in history if e.get("to") == "已立项"), None)
    answers = (report or {}).get("answers") or {}
    progress = answers.get(LATEST_FIELDS["progress"])
    text = answers.get(LATEST_FIELDS["text"])
    status = project["status"]
    return {"id": project["id"], "unit": unit or "（乡镇本级）", "org_code": project["org_code"],
            "title": project.get("title") or "", "category": project.get("category") or "",
            "kind": project.get("kind") or "", "secretary": project.get("secretary") or "",
            "status": status, "approved_on": _day(approved),
            "report_month": _month(report.get("period")) if report else None,
            "progress": progress / 100 if isinstance(progress, (int, float))
            and not isinstance(progress, bool) else None,
            "progress_text": text if isinstance(text, str) else ("" if text is None
                                                                 else str(text)),
            "reported_on": _day(report["submitted_at"]) if report else None,
            "acceptance": status if status in ACCEPTANCE_STATES else
            "未申请" if status in projects.REGISTERED else "—"}


def _day(stamp):
    """The local date of a stored time ("2026-03-01T15:26:00+08:00"), or None."""
    try:
        return date.fromisoformat(str(stamp)[:10]) if stamp else None
    except ValueError:
        return None


def _month(period):
    """The first day of a "YYYY-MM" period (shown as yyyy-mm), or None."""
    try:
        return date.fromisoformat(f"{period}-01") if period else None
    except ValueError:
        return None


def _add(total, counts):
    for key, n in counts.items():
        total[key] = total.get(key, 0) + n


def _rate(reported, expected):
    return reported / expected if expected else None


def _rate_row(code, name, cells, months):
    counted = [cell for cell, m in zip(cells, months) if m["counted"]]
    return {"code": code, "name": name, "cells": [tuple(c) for c in cells],
            "year": (sum(r for r, _e in counted), sum(e for _r, e in counted))}


def _ranking_width(header):
    return {"项目名称": 22, "村/单位": 10, "领域": 15, "组织代码": 13, "乡镇": 7}.get(header, 6)


def _header_width(header, kind):
    """The least width a header asks of its column: a number column's header on one line
    when short (已申请验收), any other on at most two lines; at least 6."""
    width = _text_width(header)
    if kind not in ("text", "wrap", "code") and width <= 10:
        return max(6, width + 1)
    return max(6, math.ceil(width / 2) + 1)


def _lines_of(text, width):
    """The lines ``text`` takes wrapped in a column ``width`` wide (CJK characters count
    double; a little is lost to the cell's padding)."""
    usable = max(width - 1, 1)
    return sum(max(1, math.ceil(_text_width(line) / usable)) for line in str(text).split("\n"))


def _clean(text):
    return exports._clean(str(text))


def _text_width(text):
    return exports._text_width(str(text))


__all__ = ["summary_workbook", "summary_data", "write_workbook", "latest_reports",
           "reporting_rates", "ranking_section", "sheet_names", "category_of",
           "SUMMARY_SHEET", "RATES_SHEET", "RANKING_SHEET", "COUNTY_UNITS"]
