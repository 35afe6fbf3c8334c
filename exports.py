"""Submission exports: a form's submissions -> an XLSX workbook, a CSV file, or a zip of CSV
files (one per sheet). Pure.

No Flask and no storage here: the callers (the export view and the ``export`` command) pass the
schema, an iterable of submission documents (a generator over 100k documents is fine), and the
organization paths; these functions only write the file.

Layout, the same in every export (the order county staff read a 台账 in: who, then what):

* Main sheet, named after the form title, one row per submission: 回执编号, then the
  organization (县, 乡镇, 村/单位, 组织编码), 提交时间, 审核状态, then one column per schema
  field in schema order (sections skipped; a repeat field shows its row count, "3 条").
* One sheet per repeat field, named after its label, one row per repeat row: 回执编号, 县, 乡镇,
  村/单位, 组织编码, 项目名称 (when the form names a project: the field the definition's
  ``project.title`` names, else its field of type ``project``), 序号, then the sub-fields. So a
  detail row can be read, filtered and printed without looking its submission up.

XLSX (XlsxWriter in constant_memory mode, so memory stays flat whatever the row count):

* Types: integer and decimal answers are numbers (county staff SUM them); date fields are Excel
  dates shown yyyy-mm-dd, month fields the month's first day shown yyyy-mm, 提交时间 an Excel
  date-time shown yyyy-mm-dd hh:mm (local time, as stored); an answer that does not parse
  (stored under an older version) stays text. Everything else is text: every value a person
  typed (answers, labels, titles, organization names) is written as a string and the
  workbook's string conversions are off, so "=1+1" stays the text "=1+1"; organization codes
  and receipts are text too (the code column formatted "@"), never 3.4E+11.
* Every sheet: header row bold, wrapped and frozen, autofilter, column widths from the
  header (a long header wraps onto up to HEADER_MAX_LINES lines instead of widening its
  column) and the first rows (CJK characters count double, capped at MAX_WIDTH), wrapped text
  for textareas, and ``print_setup``: landscape A4, one page wide, header row on every page.
* The data rows are written by ``_Sheet.write_row`` straight into the sheet's XML (see there:
  the export's hot path); the header, formats and sheet settings go through XlsxWriter's API.

``add_formats`` and ``print_setup`` are meant for every workbook the county prints (the
county 汇总表 too), so that all of them look and print alike.

Columns across versions (``merge_versions``): the newest version's fields first, then fields
only older versions had; a renamed field (``renamed_from``) keeps one column, read for each
submission under the name its version stored the answer with (``answer_of``).

CSV: UTF-8 with BOM so Excel opens Chinese correctly; the same columns as the sheets, values
as text: dates as 2024-05-01, 提交时间 as 2024-05-01 10:23:45. ``submissions_to_csv`` writes the
main sheet (repeat fields as their count); ``submissions_to_zip`` writes a zip of one CSV per
sheet, which is what a form with repeat fields exports as CSV (``file_format``), so that no
detail row is dropped. A CSV cell has no type, so Excel evaluates any cell that starts with
= + - @; following the OWASP CSV-injection advice, a text value starting with = + - @ tab CR
or LF is written with a leading single quote ('=1+1). Numbers (integer and decimal answers)
are left as they are. An organization code is written after a tab ("\\t341828001001"): Excel
then keeps it as text (no 3.4E+11, no lost leading zero, no date made of "3-4") and shows
nothing of the tab; a code starts with a letter or digit, so the tab cannot start a formula.
The XLSX export needs no such prefix and is the one to prefer.
"""
import contextlib
import csv
import functools
import io
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from datetime import date
from decimal import Decimal

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from forms.fields import cell_value
from forms.loader import former_names
from services.orgs import path_columns

WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

# ---------------------------------------------------------------- shared with other workbooks

# Cell formats (XlsxWriter format properties) of every workbook the county prints.
HEADER_FORMAT = {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                 "align": "center", "valign": "vcenter"}
WRAP_FORMAT = {"text_wrap": True, "valign": "top"}
TEXT_FORMAT = {"num_format": "@"}  # a code: stays text even when someone edits the cell
DATE_FORMAT = {"num_format": "yyyy-mm-dd"}
MONTH_FORMAT = {"num_format": "yyyy-mm"}
DATETIME_FORMAT = {"num_format": "yyyy-mm-dd hh:mm"}

A4 = 9  # XlsxWriter's paper index for A4


def add_formats(workbook):
    """The shared cell formats added to ``workbook``: {"header", "wrap", "text", "date",
    "month", "datetime"} -> Format. Write a header cell with "header", a long text with
    "wrap", an organization code with "text", and Excel date serials (``excel_date``,
    ``excel_month``, ``excel_datetime``, or XlsxWriter's write_datetime) with "date", "month"
    or "datetime"."""
    return {name: workbook.add_format(properties) for name, properties in (
        ("header", HEADER_FORMAT), ("wrap", WRAP_FORMAT), ("text", TEXT_FORMAT),
        ("date", DATE_FORMAT), ("month", MONTH_FORMAT), ("datetime", DATETIME_FORMAT))}


def print_setup(worksheet, header_rows=1):
    """Make ``worksheet`` print the way the county files its tables: landscape A4, all columns
    on one page wide (as many pages tall as it takes), the first ``header_rows`` rows repeated
    at the top of every page, gridlines printed (the cells have no borders), page numbers in
    the footer ("第 1 页，共 3 页"). Call it once per sheet, at any time before the workbook
    is closed (constant_memory mode included)."""
    worksheet.set_landscape()
    worksheet.set_paper(A4)
    worksheet.fit_to_pages(1, 0)
    if header_rows:
        worksheet.repeat_rows(0, header_rows - 1)
    worksheet.hide_gridlines(0)
    worksheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    worksheet.set_footer("&C第 &P 页，共 &N 页")


RECEIPT_HEADER = "回执编号"
ORG_HEADERS = ("县", "乡镇", "村/单位", "组织编码")
META_HEADERS = ("提交时间", "审核状态")
PROJECT_HEADER = "项目名称"
INDEX_HEADER = "序号"
DEFAULT_SHEET_NAME = "提交记录"

MAX_WIDTH = 60
MIN_WIDTH = 6
HEADER_WIDTH = 20        # a header wider than this wraps (10 Chinese characters a line) ...
HEADER_MAX_LINES = 4     # ... onto at most this many lines: its column widens for the rest
WIDTH_SAMPLE_ROWS = 500  # column widths are estimated from the header and the first rows
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CHARS = 32_767  # in UTF-16 units

# The width of columns whose values all look alike (a date, a month, a date and time).
_FIXED_WIDTHS = {"date": 10, "month": 7, "datetime": 16}

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
# XML 1.0 cannot hold C0 control characters (other than tab, LF, CR); XlsxWriter would escape
# them as "_x0001_" text, which is noise. They are invisible, so they are dropped (CR is turned
# into LF first, see _clean).
_CONTROL_CHARS = dict.fromkeys(c for c in range(32) if c not in (9, 10))
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_CODE_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # what services.orgs lets a code be
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_MONTH = re.compile(r"(\d{4})-(\d{2})")
_ISO_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})")
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()  # serial 1 = 1900-01-01 (after Feb 1900)
_EXCEL_FIRST_DAY = date(1900, 3, 1)  # before it, Excel's calendar has a phantom 29 Feb 1900
_XML_SPECIAL = re.compile("[&<>]")
# Excel reads "_x0041_" in a cell as an escaped character; a literal one is escaped itself.
_EXCEL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")


class ExportError(ValueError):
    """The export cannot be written (e.g. more rows than an Excel sheet holds)."""


# ---------------------------------------------------------------- Excel dates

def excel_date(text):
    """An ISO date ("2024-03-01") as an Excel date serial (45352), or None when it is not
    one or lies before 1900-03-01 (Excel cannot show it as a date)."""
    match = _ISO_DATE.fullmatch(text) if type(text) is str else None
    if match is None:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return day.toordinal() - _EXCEL_EPOCH if day >= _EXCEL_FIRST_DAY else None


def excel_month(text):
    """An ISO month ("2024-03") as the Excel date serial of its first day, or None."""
    match = _ISO_MONTH.fullmatch(text) if type(text) is str else None
    return None if match is None else excel_date(text + "-01")


def excel_datetime(text):
    """A stored timestamp ("2024-05-01T10:23:45.123+08:00") as an Excel date-time serial of
    its local time as stored (seconds kept, fractions and offset dropped), or None."""
    match = _ISO_DATETIME.match(text) if type(text) is str else None
    day = None if match is None else excel_date(match[1])
    if day is None:
        return None
    hour, minute, second = int(match[2]), int(match[3]), int(match[4])
    if hour > 23 or minute > 59 or second > 59:
        return None
    return day + (hour * 3600 + minute * 60 + second) / 86400


# ---------------------------------------------------------------- public API

def merge_versions(schemas):
    """One schema whose columns cover every version given (newest first), for exports.

    The newest version decides order and labels; a field that only older versions have
    (removed since) is appended after them, so exporting a form never drops data that was
    collected under an earlier version. A field's answers stay in one column across renames:
    a field of an older version belongs to the column of the nearest newer version's field
    that has its name or lists it in ``renamed_from``. Repeat sub-fields are merged the same
    way.

    Each merged field carries ``stored_as``: {version: the name its answers are stored under
    in submissions of that version, or None when that version has no such field}, which
    ``answer_of`` reads. Sections come from the newest version only.
    """
    versions = [(_version_key(s, i), s["fields"]) for i, s in enumerate(schemas)]
    merged = dict(schemas[0])
    merged["fields"] = _merge_fields(versions)
    return merged


def _version_key(schema, position):
    # A schema without a version (tests, previews) still needs a key of its own.
    return schema.get("version", ("position", position))


class _Column:
    def __init__(self, spec):
        self.spec = dict(spec)
        self.sources = {}  # version -> stored name
        self.rows = []     # repeat: [(version, sub-fields)]


def _merge_fields(versions):
    """[(version, fields)] newest first -> merged field specs with ``stored_as``."""
    columns = []
    owner = {}  # (version, name in that version) -> _Column, for the versions seen so far
    seen = []   # versions processed, newest first
    for version, specs in versions:
        for spec in specs:
            if spec["type"] == "section":
                if not seen:
                    columns.append(_Column(spec))
                continue
            column = _newer_column(spec["name"], seen, owner, versions)
            if column is None or version in column.sources:
                column = _Column(spec)
                columns.append(column)
            column.sources[version] = spec["name"]
            owner[(version, spec["name"])] = column
            if spec["type"] == "repeat":
                column.rows.append((version, spec["fields"]))
        seen.append(version)
    fields = []
    for column in columns:
        spec = column.spec
        if spec["type"] != "section":
            spec["stored_as"] = {v: column.sources.get(v) for v, _ in versions}
            if spec["type"] == "repeat":
                spec["fields"] = _merge_fields(column.rows)
        fields.append(spec)
    return fields


def _newer_column(name, seen, owner, versions):
    """The column of the nearest newer version's field named ``name`` or renamed from it."""
    fields_of = dict(versions)
    for version in reversed(seen):  # nearest first
        for spec in fields_of[version]:
            if spec["type"] != "section" and (
                    spec["name"] == name or name in former_names(spec)):
                return owner[(version, spec["name"])]
    return None


def answer_of(spec, answers, version):
    """The answer a (merged) field's column shows for a submission of form ``version``.

    Without ``stored_as`` (a plain schema), the answer under the field's name. For a version
    the merge did not see (published after it), the field's name, else its newest stored name
    that the answers hold."""
    stored_as = spec.get("stored_as")
    if stored_as is None:
        return answers.get(spec["name"])
    if version in stored_as:
        name = stored_as[version]
        return None if name is None else answers.get(name)
    for name in [spec["name"], *stored_as.values()]:
        if name is not None and name in answers:
            return answers[name]
    return None


def main_headers(schema):
    """The column headers of the main sheet (and of the CSV), in order."""
    return _Layout(schema, {}).sheets[0].headers


def sheet_headers(schema):
    """[(sheet name, column headers)] of every sheet of the export of ``schema``, main sheet
    first, then one per repeat field (the CSV files of ``submissions_to_zip``, in order)."""
    return [(sheet.name, sheet.headers) for sheet in _Layout(schema, {}).sheets]


def has_repeats(schema):
    """Whether the export of ``schema`` has sheets beside the main one (repeat fields)."""
    return any(spec.get("type") == "repeat" for spec in _data_fields(schema))


def file_format(schema, fmt):
    """The file an export asked for as ``fmt`` ("xlsx", "csv" or "zip") is written as: "csv"
    becomes "zip" (one CSV per sheet) when the form has repeat fields, since a single CSV
    would drop their rows; "xlsx" and "zip" stay as they are."""
    return "zip" if fmt == "csv" and has_repeats(schema) else fmt


def submissions_to_xlsx(schema, submissions, org_paths, out, *, org_kinds=None):
    """Write ``submissions`` of the form ``schema`` as an XLSX workbook to ``out``.

    ``out`` is a file path or a binary file object (for a large export pass a path: a temp file
    that the view streams). ``org_paths`` maps org code -> names from the county down.
    ``org_kinds`` (optional) maps org code -> kind; with it a unit directly under the county goes
    to the 村/单位 column instead of 乡镇, and a township's own submission leaves 村/单位 empty.
    """
    if isinstance(out, os.PathLike):
        out = os.fspath(out)
    workbook = xlsxwriter.Workbook(out, WORKBOOK_OPTIONS)
    try:
        _write_workbook(workbook, _Layout(schema, org_paths, org_kinds), submissions)
    except BaseException:
        # Release XlsxWriter's temp files; the caller discards the partial output.
        with contextlib.suppress(Exception):
            workbook.close()
        raise
    workbook.close()


def _write_workbook(workbook, layout, submissions):
    formats = add_formats(workbook)
    sheets = [_Sheet(workbook, sheet, formats) for sheet in layout.sheets]
    main, details = sheets[0], sheets[1:]
    for doc in submissions:
        row, detail_rows = layout.rows(doc)
        main.write_row(row)
        for sheet, rows in zip(details, detail_rows):
            for row in rows:
                sheet.write_row(row)
    for sheet in sheets:
        sheet.finish()


def submissions_to_xlsx_bytes(schema, submissions, org_paths, *, org_kinds=None):
    """submissions_to_xlsx into memory; for small exports and tests."""
    out = io.BytesIO()
    submissions_to_xlsx(schema, submissions, org_paths, out, org_kinds=org_kinds)
    return out.getvalue()


def submissions_to_csv(schema, submissions, org_paths, out, *, org_kinds=None):
    """Write the main-sheet columns of ``submissions`` as CSV (UTF-8 with BOM) to ``out``.

    ``out`` is a file path, a binary file object or a text file object (opened with
    newline=""). Repeat fields appear as their row count ("3 条"); ``submissions_to_zip``
    has their rows. Text cells that a spreadsheet would evaluate get a leading ' (see the
    module docstring).
    """
    layout = _Layout(schema, org_paths, org_kinds, details=False)
    with _text_output(out) as text:
        _write_csv(layout, submissions, [text])


def submissions_to_csv_bytes(schema, submissions, org_paths, *, org_kinds=None):
    """submissions_to_csv into memory (bytes, BOM included)."""
    out = io.BytesIO()
    submissions_to_csv(schema, submissions, org_paths, out, org_kinds=org_kinds)
    return out.getvalue()


def submissions_to_zip(schema, submissions, org_paths, out, *, org_kinds=None):
    """Write ``submissions`` as a zip of CSV files to ``out`` (a path or a binary file object):
    one per sheet of the XLSX export, the same columns, named "1-<main sheet>.csv",
    "2-<first repeat>.csv"... (numbered so that the order survives any unzip tool), each as
    ``submissions_to_csv`` writes a file (UTF-8 with BOM, the same protection).

    The submissions are read once; each CSV goes to a temporary file (in ``out``'s folder
    when it is a path) that is zipped at the end, so memory stays flat."""
    layout = _Layout(schema, org_paths, org_kinds)
    folder = os.path.dirname(os.path.abspath(out)) if isinstance(out, (str, os.PathLike)) \
        else None
    with contextlib.ExitStack() as stack:
        parts = [stack.enter_context(tempfile.TemporaryFile(
            "w+", encoding="utf-8", newline="", dir=folder, prefix=".export-"))
            for _ in layout.sheets]
        _write_csv(layout, submissions, parts)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for number, (sheet, part) in enumerate(zip(layout.sheets, parts), start=1):
                part.seek(0)
                with archive.open(f"{number}-{sheet.name}.csv", "w") as member, \
                        io.TextIOWrapper(member, encoding="utf-8", newline="") as text:
                    shutil.copyfileobj(part, text, 1 << 20)


def submissions_to_zip_bytes(schema, submissions, org_paths, *, org_kinds=None):
    """submissions_to_zip into memory."""
    out = io.BytesIO()
    submissions_to_zip(schema, submissions, org_paths, out, org_kinds=org_kinds)
    return out.getvalue()


# ---------------------------------------------------------------- the layout

class _SheetLayout:
    """One sheet: its name, headers and the kind of each column, which decides how a value is
    written: "text", "wrap" (a textarea), "number", "code" (an organization code), "date",
    "month", "datetime" (a stored timestamp)."""

    def __init__(self, name, headers, kinds):
        self.name, self.headers, self.kinds = name, headers, kinds


class _Layout:
    """The sheets of the export of one form and the rows each submission gives in them."""

    def __init__(self, schema, org_paths, org_kinds=None, details=True):
        self.fields = _data_fields(schema)
        self.org_paths, self.org_kinds = org_paths, org_kinds
        self.org_cells = {}  # org code -> [县, 乡镇, 村/单位, code]: computed once per org
        self.project = _project_spec(schema, self.fields)
        taken = set()
        key_headers = [RECEIPT_HEADER, *ORG_HEADERS]
        key_kinds = ["text", "text", "text", "text", "code"]
        self.sheets = [_SheetLayout(
            _sheet_name(schema.get("title"), taken, DEFAULT_SHEET_NAME),
            key_headers + list(META_HEADERS) + [_header(spec) for spec in self.fields],
            key_kinds + ["datetime", "text"] + [_kind(spec) for spec in self.fields])]
        self.repeats = []
        if not details:
            return
        project_headers = [PROJECT_HEADER] if self.project else []
        for spec in self.fields:
            if spec.get("type") != "repeat":
                continue
            subs = _sub_fields(spec)
            self.repeats.append((spec, subs))
            self.sheets.append(_SheetLayout(
                _sheet_name(spec.get("label") or spec.get("name"), taken,
                            spec.get("name") or "明细"),
                key_headers + project_headers + [INDEX_HEADER] + [_header(s) for s in subs],
                key_kinds + ["text"] * len(project_headers) + ["number"]
                + [_kind(s) for s in subs]))

    def rows(self, doc):
        """(the main sheet's row, [the rows of each repeat sheet]) of one submission; values
        as forms.fields.cell_value gives them (str, int/float or None; dates as ISO text),
        提交时间 as stored."""
        answers = doc.get("answers") or {}
        version = doc.get("form_version")
        receipt = str(doc.get("receipt") or "")
        org = self._org_cells(doc.get("org_code"))
        row = [receipt, *org, doc.get("submitted_at"), str(doc.get("status") or "待审核")]
        row += [cell_value(spec, answer_of(spec, answers, version)) for spec in self.fields]
        if not self.repeats:
            return row, ()
        key = [receipt, *org]
        if self.project:
            key.append(cell_value(self.project, answer_of(self.project, answers, version)))
        details = []
        for spec, subs in self.repeats:
            items = answer_of(spec, answers, version)
            rows = []
            if isinstance(items, list):
                for index, item in enumerate(items, start=1):
                    item = item if isinstance(item, dict) else {}
                    rows.append(key + [index]
                                + [cell_value(s, answer_of(s, item, version)) for s in subs])
            details.append(rows)
        return row, details

    def _org_cells(self, code):
        """(县, 乡镇, 村/单位, 组织编码) for an organization code (see orgs.path_columns)."""
        cells = self.org_cells.get(code)
        if cells is None:
            names = (self.org_paths.get(code) or []) if code is not None else []
            kind = self.org_kinds.get(code) if self.org_kinds else None
            cells = self.org_cells[code] = [*path_columns(names, kind),
                                            "" if code is None else str(code)]
        return cells


def _kind(spec):
    kind = spec.get("type")
    if kind in ("date", "month"):
        return kind
    if kind in ("integer", "decimal"):
        return "number"
    return "wrap" if kind == "textarea" else "text"


def _project_spec(schema, fields):
    """The field that names a submission's project: the one the definition's project.title
    names (an application), else the form's field of type project (a report, an acceptance
    request; the export shows the project's title there). None for a form without a project."""
    project = schema.get("project")
    title = project.get("title") if isinstance(project, dict) else None
    for spec in fields:
        if (spec["name"] == title) if title else (spec.get("type") == "project"):
            return spec
    return None


# ---------------------------------------------------------------- XLSX internals

def _xlsx_date(value):
    """A date column's cell: its Excel serial, or the value as it is when it does not parse."""
    if type(value) is not str:
        return value
    serial = _cached_date(value)
    return value if serial is None else serial


def _xlsx_month(value):
    if type(value) is not str:
        return value
    serial = _cached_month(value)
    return value if serial is None else serial


def _xlsx_time(value):
    serial = excel_datetime(value)
    return _format_time(value) if serial is None else serial


# Dates repeat (a 100k export has a few hundred distinct ones): parse each once.
_cached_date = functools.lru_cache(maxsize=8192)(excel_date)
_cached_month = functools.lru_cache(maxsize=2048)(excel_month)
_XLSX_VALUES = {"date": _xlsx_date, "month": _xlsx_month, "datetime": _xlsx_time}


class _Sheet:
    """One worksheet written strictly row by row, as constant_memory mode requires.

    Each worksheet has its own row buffer, so the main sheet and the repeat sheets can be
    written in step; only the order within one sheet matters.

    The export's hot path (a 100k-row export writes millions of cells): the header goes
    through XlsxWriter's API, the data rows are written as XML straight into the sheet's row
    file, cell by cell the same XML that XlsxWriter's write_string and write_number write in
    constant_memory mode (an inline string; a number with its format), at a fraction of
    their cost. This uses XlsxWriter's constant_memory internals (the row file ``fh``,
    ``_write_single_row``, ``_check_dimensions``): requirements.txt pins XlsxWriter, and
    tests/unit/test_exports.py checks that both write the same XML, so an upgrade that
    changes them fails there first.
    """

    def __init__(self, workbook, layout, formats):
        if not workbook.constant_memory:
            raise ValueError("_Sheet writes rows for constant_memory mode only")
        self.ws = ws = workbook.add_worksheet(layout.name)
        self.row = 0
        self.ncols = len(layout.headers)
        self.refs = [xl_col_to_name(col) for col in range(self.ncols)]
        text = {"wrap": formats["wrap"], "code": formats["text"]}
        self.text_styles = [_style(text.get(kind)) for kind in layout.kinds]
        self.number_styles = [_style(formats.get(kind) if kind in _XLSX_VALUES else None)
                              for kind in layout.kinds]
        self.converters = [(col, _XLSX_VALUES[kind]) for col, kind in enumerate(layout.kinds)
                           if kind in _XLSX_VALUES]
        self.measured = [col for col, kind in enumerate(layout.kinds)
                         if kind not in _FIXED_WIDTHS]
        self.widths = [max(_header_width(header), _FIXED_WIDTHS.get(kind, 0))
                       for header, kind in zip(layout.headers, layout.kinds)]
        for col, header in enumerate(layout.headers):
            ws.write_string(0, col, _clean(header), formats["header"])
        ws._write_single_row(1)  # the header row goes to the row file; data rows follow it
        self.fh = ws.fh

    def write_row(self, values):
        """Write the next row. values: str, int/float or None (empty) per column; a date
        column's ISO text is written as an Excel date (text when it does not parse)."""
        self.row += 1
        row = self.row
        if row >= EXCEL_MAX_ROWS:
            raise ExportError(f"工作表「{self.ws.name}」超过 Excel 的行数上限,请缩小导出范围")
        for col, convert in self.converters:
            values[col] = convert(values[col])
        if row <= WIDTH_SAMPLE_ROWS:
            self._measure(values)
        # This loop runs for every cell of a 100k-row export: keep it lean.
        number = str(row + 1)
        refs, text_styles, number_styles = self.refs, self.text_styles, self.number_styles
        cells = [f'<row r="{number}">']
        append = cells.append
        for col, value in enumerate(values):
            kind = type(value)
            if kind is str:
                if not value.isprintable():
                    value = _clean(value)
                if value:
                    append(f'<c r="{refs[col]}{number}"{text_styles[col]} t="inlineStr"><is>'
                           f'{_xml_text(value)}</is></c>')
            elif kind is int or kind is float:
                # The one exception to text: integer and decimal answers and dates are
                # numbers so that county staff can SUM and sort them. They come from validated
                # numeric fields, never from free text, so they cannot carry a formula.
                if math.isfinite(value):
                    append(f'<c r="{refs[col]}{number}"{number_styles[col]}>'
                           f'<v>{value:.16G}</v></c>')
            elif value is not None:
                value = _clean(str(value))
                if value:
                    append(f'<c r="{refs[col]}{number}"{text_styles[col]} t="inlineStr"><is>'
                           f'{_xml_text(value)}</is></c>')
        if len(cells) > 1:
            append("</row>")
            self.fh.write("".join(cells))

    def _measure(self, values):
        widths = self.widths
        for col in self.measured:
            value = values[col]
            if value is not None:
                widths[col] = max(widths[col], _text_width(value))

    def finish(self):
        """Column widths, frozen header, autofilter and print setup: allowed after the rows,
        even in constant_memory mode, because XlsxWriter writes them around the sheet data."""
        ws = self.ws
        ws._check_dimensions(self.row, self.ncols - 1)  # the rows XlsxWriter did not see
        ws.previous_row = self.row
        for col, width in enumerate(self.widths):
            ws.set_column(col, col, min(max(width + 2, MIN_WIDTH), MAX_WIDTH))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, self.row, self.ncols - 1)
        # Phone numbers, codes and receipts are text on purpose: hide Excel's green triangles.
        ws.ignore_errors({"number_stored_as_text": f"A1:XFD{self.row + 1}"})
        print_setup(ws)


def _style(cell_format):
    """The s="…" attribute of a cell of this format ("" for none)."""
    return f' s="{cell_format._get_xf_index()}"' if cell_format is not None else ""


def _xml_text(value):
    """The <t> element of an inline string, as XlsxWriter writes it: &, < and > escaped, a
    literal "_x0041_" escaped for Excel, whitespace at either end preserved."""
    if len(value) > EXCEL_MAX_CHARS // 2:
        value = _excel_truncate(value)
    if value.isalnum():  # letters and digits, Chinese ones included: nothing to escape
        return f"<t>{value}</t>"
    if "_x" in value:
        value = _EXCEL_ESCAPE.sub(r"_x005F\1", value)
    if _XML_SPECIAL.search(value):
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if value[0].isspace() or value[-1].isspace():
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


def _excel_truncate(value):
    """At most 32,767 UTF-16 units, what a cell holds (XlsxWriter cuts the same way)."""
    length = 0
    for index, char in enumerate(value):
        length += 2 if ord(char) > 0xFFFF else 1
        if length > EXCEL_MAX_CHARS:
            return value[:index]
    return value


def _header_width(header):
    """The width a header asks of its column: all of it up to HEADER_WIDTH, beyond that what
    spreads it over HEADER_MAX_LINES lines (the header cell wraps)."""
    width = _text_width(header)
    if width <= HEADER_WIDTH:
        return width
    return max(HEADER_WIDTH, math.ceil(width / HEADER_MAX_LINES))


def _sheet_name(wanted, taken, fallback):
    """A valid, unique (case-insensitively) Excel sheet name: no []:*?/\\, at most 31
    characters, not starting or ending with an apostrophe, not the reserved "History"."""
    base = _INVALID_SHEET_CHARS.sub("", str(wanted or "")).strip().strip("'").strip()
    base = base or fallback
    name = base[:31].rstrip().rstrip("'") or fallback
    counter = 1
    while name.lower() in taken or name.lower() == "history":
        counter += 1
        suffix = f"({counter})"
        name = base[:31 - len(suffix)].rstrip().rstrip("'") + suffix
    taken.add(name.lower())
    return name


# ---------------------------------------------------------------- CSV internals

@contextlib.contextmanager
def _text_output(out):
    """A text stream (newline="") onto ``out``: a path, a binary or a text file object; a
    binary stream is left open."""
    if isinstance(out, (str, os.PathLike)):
        with open(out, "w", encoding="utf-8", newline="") as f:
            yield f
    elif isinstance(out, io.TextIOBase):
        yield out
    else:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # leave the caller's binary stream open


def _write_csv(layout, submissions, outs):
    """The sheets of ``layout`` as CSV, one text stream each (main sheet first); only as many
    sheets as streams are written."""
    writers = []
    for sheet, out in zip(layout.sheets, outs):
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow([_csv_text(h) for h in sheet.headers])
        writers.append((writer.writerow, [_CSV_VALUES.get(kind, _csv_cell)
                                          for kind in sheet.kinds]))
    (write_main, main_cells), details = writers[0], writers[1:]
    for doc in submissions:
        row, detail_rows = layout.rows(doc)
        write_main([cell(value) for cell, value in zip(main_cells, row)])
        for (write, cells), rows in zip(details, detail_rows):
            for row in rows:
                write([cell(value) for cell, value in zip(cells, row)])


def _csv_cell(value):
    if value is None:
        return ""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")  # never "1e-05"
    return _csv_text(str(value))


def _csv_text(text):
    text = _clean(text)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


def _csv_code(code):
    """An organization code that Excel keeps as text: after a tab (see the module docstring)."""
    code = _clean(str(code or ""))
    return "\t" + code if _CODE_TEXT.fullmatch(code) else _csv_text(code)


def _csv_time(value):
    return _csv_text(_format_time(value))


_CSV_VALUES = {"code": _csv_code, "datetime": _csv_time}


# ---------------------------------------------------------------- values

def _data_fields(schema):
    """Top-level fields that carry a value (every field but sections), in schema order."""
    return [spec for spec in schema.get("fields", []) if spec.get("type") != "section"]


def _sub_fields(repeat_spec):
    return [spec for spec in repeat_spec.get("fields", []) if spec.get("type") != "section"]


def _header(spec):
    label = str(spec.get("label") or spec.get("name") or "")
    unit = spec.get("unit")
    return f"{label}({unit})" if unit else label


def _format_time(value):
    """"2024-05-01T10:23:45.123+08:00" -> "2024-05-01 10:23:45" (local time, as stored)."""
    if not value:
        return ""
    text = str(value)
    if len(text) >= 19 and text[10] == "T":
        return text[:10] + " " + text[11:19]
    return text


def _clean(text):
    """Drop invisible control characters; newlines become LF (browsers send textareas with
    CRLF, and a CR in a cell shows as "_x000D_" in some readers)."""
    if text.isprintable():  # the common case, checked in C: nothing to do
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_CONTROL_CHARS)


def _text_width(text):
    """Display width of the longest line: CJK and other wide characters count double."""
    if type(text) is not str:
        return len(str(text))
    width = 0
    for line in str(text).split("\n"):
        if line.isascii():
            w = len(line)
        else:
            w = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
        width = max(width, w)
    return width
