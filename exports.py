"""Submission exports: a form's submissions -> an XLSX workbook or a CSV file. Pure.

No Flask and no storage here: the callers (the export view and the ``export`` command) pass the
schema, an iterable of submission documents (a generator over 100k documents is fine), and the
organization paths; these functions only write the file.

XLSX layout (XlsxWriter in constant_memory mode, so memory stays flat whatever the row count):

* Sheet 1, named after the form title: one row per submission. Columns: one per schema field in
  schema order (sections skipped; a repeat field shows its row count, "3 条"), then 县, 乡镇,
  村/单位, 组织编码, 提交时间, 回执编号.
* One sheet per repeat field, named after its label: 回执编号, 序号, then the sub-field labels; one
  row per repeat row, keyed by the receipt number of the main sheet.
* Every sheet: bold frozen header row, autofilter, column widths estimated from the header and
  the first rows (CJK characters count double, capped at 60), wrapped text for textareas.

Cell values come from the field-type registry (forms.fields.cell_value): numbers for integer
and decimal answers, 是/否, choice labels joined by "、", the photo's original file name, ISO
dates. Every value a person typed (answers, labels, titles, organization names) is written
with write_string and the workbook's string conversions are off, so "=1+1" stays the text
"=1+1".

Columns across versions (``merge_versions``): the newest version's fields first, then fields
only older versions had; a renamed field (``renamed_from``) keeps one column, read for each
submission under the name its version stored the answer with (``answer_of``).

CSV: the main sheet's columns only (repeat fields as their count), UTF-8 with BOM so Excel opens
Chinese correctly. A CSV cell has no type, so Excel evaluates any cell that starts with = + - @;
following the OWASP CSV-injection advice, a text value starting with = + - @ tab CR or LF is
written with a leading single quote ('=1+1). Numbers (integer and decimal answers) are left as
they are. The XLSX export needs no such prefix and is the one to prefer.
"""
import contextlib
import csv
import io
import math
import os
import re
import unicodedata
from decimal import Decimal

import xlsxwriter

from forms.fields import cell_value
from forms.loader import former_names
from services.orgs import path_columns

WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

ORG_HEADERS = ("县", "乡镇", "村/单位", "组织编码")
TAIL_HEADERS = ("提交时间", "回执编号", "审核状态")
REPEAT_KEY_HEADERS = ("回执编号", "序号")
DEFAULT_SHEET_NAME = "提交记录"

MAX_WIDTH = 60
MIN_WIDTH = 6
WIDTH_SAMPLE_ROWS = 500  # column widths are estimated from the header and the first rows
EXCEL_MAX_ROWS = 1_048_576

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
# XML 1.0 cannot hold C0 control characters (other than tab, LF, CR); XlsxWriter would escape
# them as "_x0001_" text, which is noise. They are invisible, so they are dropped (CR is turned
# into LF first, see _clean).
_CONTROL_CHARS = dict.fromkeys(c for c in range(32) if c not in (9, 10))
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class ExportError(ValueError):
    """The export cannot be written (e.g. more rows than an Excel sheet holds)."""


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
    return [_header(spec) for spec in _data_fields(schema)] + list(ORG_HEADERS) + list(TAIL_HEADERS)


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
        _write_workbook(workbook, schema, submissions, org_paths, org_kinds)
    except BaseException:
        # Release XlsxWriter's temp files; the caller discards the partial output.
        with contextlib.suppress(Exception):
            workbook.close()
        raise
    workbook.close()


def _write_workbook(workbook, schema, submissions, org_paths, org_kinds):
    fields = _data_fields(schema)
    repeats = [spec for spec in fields if spec.get("type") == "repeat"]
    formats = {
        "header": workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                       "text_wrap": True, "valign": "vcenter"}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
    }
    taken = set()
    main = _Sheet(workbook, _sheet_name(schema.get("title"), taken, DEFAULT_SHEET_NAME),
                  main_headers(schema),
                  [spec.get("type") == "textarea" for spec in fields]
                  + [False] * (len(ORG_HEADERS) + len(TAIL_HEADERS)), formats)
    repeat_sheets = []
    for spec in repeats:
        subs = _sub_fields(spec)
        sheet = _Sheet(workbook, _sheet_name(spec.get("label") or spec.get("name"), taken,
                                             spec.get("name") or "明细"),
                       list(REPEAT_KEY_HEADERS) + [_header(s) for s in subs],
                       [False, False] + [s.get("type") == "textarea" for s in subs], formats)
        repeat_sheets.append((spec, subs, sheet))

    for doc in submissions:
        answers = doc.get("answers") or {}
        receipt = str(doc.get("receipt") or "")
        version = doc.get("form_version")
        values = [cell_value(spec, answer_of(spec, answers, version)) for spec in fields]
        values.extend(_org_columns(doc.get("org_code"), org_paths, org_kinds))
        values.append(_format_time(doc.get("submitted_at")))
        values.append(receipt)
        values.append(str(doc.get("status") or "待审核"))
        main.write_row(values)
        for spec, subs, sheet in repeat_sheets:
            items = answer_of(spec, answers, version)
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items, start=1):
                item = item if isinstance(item, dict) else {}
                sheet.write_row([receipt, index]
                                + [cell_value(s, answer_of(s, item, version)) for s in subs])

    main.finish()
    for _spec, _subs, sheet in repeat_sheets:
        sheet.finish()


def submissions_to_xlsx_bytes(schema, submissions, org_paths, *, org_kinds=None):
    """submissions_to_xlsx into memory; for small exports and tests."""
    out = io.BytesIO()
    submissions_to_xlsx(schema, submissions, org_paths, out, org_kinds=org_kinds)
    return out.getvalue()


def submissions_to_csv(schema, submissions, org_paths, out, *, org_kinds=None):
    """Write the main-sheet columns of ``submissions`` as CSV (UTF-8 with BOM) to ``out``.

    ``out`` is a file path, a binary file object or a text file object (opened with
    newline=""). Repeat fields appear as their row count ("3 条"); the XLSX has the rows.
    Text cells that a spreadsheet would evaluate get a leading ' (see the module docstring).
    """
    if isinstance(out, (str, os.PathLike)):
        with open(out, "w", encoding="utf-8", newline="") as f:
            _write_csv(f, schema, submissions, org_paths, org_kinds)
    elif isinstance(out, io.TextIOBase):
        _write_csv(out, schema, submissions, org_paths, org_kinds)
    else:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            _write_csv(text, schema, submissions, org_paths, org_kinds)
            text.flush()
        finally:
            text.detach()  # leave the caller's binary stream open


def submissions_to_csv_bytes(schema, submissions, org_paths, *, org_kinds=None):
    """submissions_to_csv into memory (bytes, BOM included)."""
    out = io.BytesIO()
    submissions_to_csv(schema, submissions, org_paths, out, org_kinds=org_kinds)
    return out.getvalue()


# ---------------------------------------------------------------- XLSX internals

class _Sheet:
    """One worksheet written strictly row by row, as constant_memory mode requires.

    Each worksheet has its own row buffer, so the main sheet and the repeat sheets can be
    written in step; only the order within one sheet matters.
    """

    def __init__(self, workbook, name, headers, wrap, formats):
        self.ws = workbook.add_worksheet(name)
        self.row = 0
        self.ncols = len(headers)
        self.widths = [_text_width(h) for h in headers]
        # Per column: the cell format for text (wrapped for textareas, else none).
        self.text_formats = [formats["wrap"] if w else None for w in wrap]
        for col, header in enumerate(headers):
            self.ws.write_string(0, col, _clean(header), formats["header"])

    def write_row(self, values):
        """Write the next row. values: str, int/float or None (empty) per column."""
        self.row += 1
        row = self.row
        if row >= EXCEL_MAX_ROWS:
            raise ExportError(f"工作表「{self.ws.name}」超过 Excel 的行数上限,请缩小导出范围")
        if row <= WIDTH_SAMPLE_ROWS:
            self._measure(values)
        # This loop runs for every cell of a 100k-row export: keep it lean.
        write_string, write_number, text_formats = (
            self.ws.write_string, self.ws.write_number, self.text_formats)
        for col, value in enumerate(values):
            kind = type(value)
            if kind is str:
                if value:
                    write_string(row, col, value if value.isprintable() else _clean(value),
                                 text_formats[col])
            elif (kind is int or kind is float) and math.isfinite(value):
                # The one exception to write_string: integer and decimal answers are numbers
                # so that county staff can SUM them. They come from validated numeric fields,
                # never from free text, so they cannot carry a formula.
                write_number(row, col, value)
            elif value is not None:
                write_string(row, col, _clean(str(value)), text_formats[col])

    def _measure(self, values):
        widths = self.widths
        for col, value in enumerate(values):
            if value is not None:
                widths[col] = max(widths[col], _text_width(value))

    def finish(self):
        """Column widths, frozen header and autofilter: allowed after the rows, even in
        constant_memory mode, because XlsxWriter writes them around the buffered sheet data."""
        for col, width in enumerate(self.widths):
            self.ws.set_column(col, col, min(max(width + 2, MIN_WIDTH), MAX_WIDTH))
        self.ws.freeze_panes(1, 0)
        self.ws.autofilter(0, 0, self.row, self.ncols - 1)
        # Phone numbers, codes and receipts are text on purpose: hide Excel's green triangles.
        self.ws.ignore_errors({"number_stored_as_text": f"A1:XFD{self.row + 1}"})


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

def _write_csv(text_out, schema, submissions, org_paths, org_kinds):
    fields = _data_fields(schema)
    writer = csv.writer(text_out)
    text_out.write("\ufeff")
    writer.writerow([_csv_text(h) for h in main_headers(schema)])
    for doc in submissions:
        answers = doc.get("answers") or {}
        version = doc.get("form_version")
        row = [_csv_cell(cell_value(spec, answer_of(spec, answers, version))) for spec in fields]
        row.extend(_csv_text(v) for v in _org_columns(doc.get("org_code"), org_paths, org_kinds))
        row.append(_csv_text(_format_time(doc.get("submitted_at"))))
        row.append(_csv_text(str(doc.get("receipt") or "")))
        row.append(_csv_text(str(doc.get("status") or "待审核")))
        writer.writerow(row)


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


def _org_columns(code, org_paths, org_kinds):
    """(县, 乡镇, 村/单位, 组织编码) for an organization code (see orgs.path_columns)."""
    names = (org_paths.get(code) or []) if code is not None else []
    kind = org_kinds.get(code) if org_kinds else None
    return [*path_columns(names, kind), "" if code is None else str(code)]


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

