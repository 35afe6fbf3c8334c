"""催报: for a form and a period, which organizations of its audience have reported, are late,
or are missing; the organizations × months matrix; counts rolled up village → township →
county; the missing list as an Excel workbook. Plain functions over a Store and an OrgIndex
(services.orgs), no Flask: the pages, the API and the CLI call the same ones.

Who must report is the form's audience (services.periods.in_audience), narrowed to the
``org_codes`` the caller passes (``access.restrict(user, index, ...)``: scope is decided
there, never here).

How an organization stands (services.periods.state):

- a form with a ``period``: its earliest non-voided submission *for that period* decides (the
  period a submission is for is stored with it, read from the form's period field, e.g.
  报告月份, when it was submitted — not its submission date). A form whose reports name a
  project counts an organization as reported as soon as one of its reports of the period is
  there. Submitted on or before the due day: 已报; after it: 迟报; nothing yet: 逾期未报 once
  the due day has passed, else 未到期.
- a form without one: any non-voided submission (within optional dates) is 已报; none is 未到期
  (there is no due day to be late against).
"""
import unicodedata
from datetime import date

import xlsxwriter

from services import periods, projects
from services.links import active_links, entry_url
from storage import common

STATES = periods.STATES  # 已报 迟报 逾期未报 未到期
REPORTED = ("已报", "迟报")
MISSING = ("逾期未报", "未到期")  # the 催报 list, in this order
NON_VOID = tuple(s for s in common.REVIEW_STATUSES if s != common.VOID)
AREA_KINDS = ("county", "township")  # the levels counts roll up to

MISSING_HEADERS = ("乡镇", "村/单位", "编码", "状态", "书记", "电话", "填报链接")
NO_LINK = "未生成链接"


# ---------------------------------------------------------------------------- who and when


# Who files a form that names a project: the organizations with a project at these statuses
# (a village without an approved project has no monthly report to make, and one whose project
# was accepted or rejected has no more).
REPORTING_PROJECTS = {"report": ("已立项", "实施中", "已申请验收", "已验收", "验收未通过"),
                      "acceptance": ("实施中", "已申请验收", "验收未通过", "已验收")}


def audience(index, schema, org_codes=None, store=None, year=None):
    """The organizations that must file ``schema`` (its audience), within ``org_codes`` when
    given (None = all), ordered by code. For a form naming a project (a monthly report, an
    acceptance request), with ``store``: only those with a project of ``year`` (any year when
    None) that is, or was, approved (REPORTING_PROJECTS: a project moving on to acceptance
    does not take its months out of the year's record), not voided."""
    found = sorted((o for o in index.orgs if periods.in_audience(schema, o)
                    and (org_codes is None or o["code"] in org_codes)),
                   key=lambda o: o["code"])
    role = projects.role_of(schema)
    if store is not None and role in REPORTING_PROJECTS:
        running = {p["org_code"] for p in _reporting_projects(store, role, found, year)}
        found = [o for o in found if o["code"] in running]
    return found


def _reporting_projects(store, role, orgs, year):
    return [p for p in store.list_projects(org_codes=[o["code"] for o in orgs], year=year,
                                           statuses=REPORTING_PROJECTS[role])
            if not p.get("void")]


def report_windows(store, schema, orgs, year=None):
    """{org code: (first month, last month or None)} it must report in, for a monthly form
    naming a project: from the month its earliest project of ``year`` was approved (立项: that
    month's progress is due by the due day of the next) to the month its last one was
    accepted (已验收; None while one is still running). {} for any other form."""
    spec = periods.period_spec(schema)
    role = projects.role_of(schema)
    if spec is None or spec.every != "month" or role != "report":
        return {}
    by_org = {}
    for project in _reporting_projects(store, role, orgs, year):
        history = project.get("history") or ()
        approved = next((e["at"][:7] for e in history if e.get("to") == "已立项"), None)
        accepted = next((e["at"][:7] for e in reversed(history) if e.get("to") == "已验收"),
                        None) if project["status"] == "已验收" else None
        by_org.setdefault(project["org_code"], []).append((approved, accepted))
    windows = {}
    for code, spans in by_org.items():
        starts = [a for a, _ in spans if a is not None]
        ends = [e for _, e in spans]
        windows[code] = (min(starts) if len(starts) == len(spans) else None,
                         None if None in ends else max(ends))
    return windows


def _due_from(windows, code, period):
    """Whether ``code`` must report for ``period`` (always, unless report_windows limits it)."""
    start, end = windows.get(code, (None, None))
    return (start is None or period >= start) and (end is None or period <= end)


def _year_of(period):
    return int(period[:4]) if period and period[:4].isdigit() else None


def today_local():
    """Today at the deployment's wall clock (the clock submissions are stamped with)."""
    return common.now().date()


def default_period(schema, today=None):
    """The period a 催报 page opens on: a monthly form shows last month until its due day has
    passed (on the 1st to the 5th, the reports being chased are last month's), then the current
    month; a yearly form the current year; a one-off form its one period; None without a
    period. Kept within the form's ``year`` when it has one."""
    spec = periods.period_spec(schema)
    if spec is None:
        return None
    today = today or today_local()
    if spec.every == periods.ONCE:
        return periods.ONCE
    if spec.every == "month":
        year, month = today.year, today.month
        if today.day <= spec.due_day:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        period = f"{year:04d}-{month:02d}"
        if spec.year is not None and year != spec.year:
            period = f"{spec.year:04d}-12" if year > spec.year else f"{spec.year:04d}-01"
        return period
    year = today.year if spec.year is None else spec.year
    return f"{year:04d}"


def period_choices(schema, today=None, years=2):
    """The periods a page offers to pick, newest first: the months (or years) of the current
    and previous years up to now (of the form's ``year`` only, when it has one); [] for a form
    without a period or a one-off form."""
    spec = periods.period_spec(schema)
    if spec is None or spec.every == periods.ONCE:
        return []
    today = today or today_local()
    wanted = [spec.year] if spec.year is not None else range(today.year - years + 1,
                                                              today.year + 1)
    if spec.every == "year" and spec.year is None:
        wanted = range(today.year - 4, today.year + 1)
    found = [p for y in wanted for p in periods.periods_of_year(spec, y, today)]
    return sorted(found, reverse=True)


# ---------------------------------------------------------------------------- the status


def form_status(store, index, schema, period=None, org_codes=None, today=None, *,
                date_from=None, date_to=None):
    """Where each organization of the form's audience (within ``org_codes``) stands.

    ``period``: the period to check for a form with one (None: ``default_period``); ignored
    for a form without one, where ``date_from``/``date_to`` (dates, inclusive; optional) bound
    the submissions that count. ValueError for a period that does not fit the form.

    Returns ``{"form_id", "period", "period_label", "due" (date | None), "counts": {"expected",
    "已报", "迟报", "逾期未报", "未到期"}, "orgs": [...], "rollup": [...]}``; each of ``orgs``
    (ordered by code) is ``{"code", "name", "kind", "path" (names from the county down),
    "township" (its township's name, "" above or beside one), "township_code" (None then),
    "state", "receipt",
    "submitted_at" (of the submission that decided, None when missing or for a form without a
    period), "secretary", "phone" (the organization's contact, "" when unknown), "link_token"
    (of its active QR link of the form, or None)}``; ``rollup`` see :func:`rollup`.
    """
    today = today or today_local()
    spec = periods.period_spec(schema)
    if spec is not None:
        period = period or default_period(schema, today)
    orgs = audience(index, schema, org_codes, store, _year_of(period))
    if spec is not None:
        windows = report_windows(store, schema, orgs, _year_of(period))
        orgs = [o for o in orgs if _due_from(windows, o["code"], period)]
    codes = [o["code"] for o in orgs]
    if spec is not None:
        due = periods.due_date(spec, period)  # ValueError for a period of the wrong shape
        first = _first_reports(store, schema["id"], codes, [period])
        decided = {code: first.get((code, period)) for code in codes}
    else:
        period, due = None, None
        counts = store.submission_counts(schema["id"], date_from, date_to, org_codes=codes,
                                         statuses=NON_VOID)
        decided = {code: {"receipt": None, "submitted_at": None} if counts.get(code) else None
                   for code in codes}
    links = active_links(store, schema["id"])
    rows = []
    for org in orgs:
        report = decided[org["code"]]
        if report is None:
            state = periods.state(spec, period, None, today)
        elif spec is None or report["submitted_at"] is None:
            state = "已报"
        else:
            state = periods.state(spec, period, report["submitted_at"], today)
        rows.append(_org_row(index, org, state, report, links.get(org["code"])))
    return {"form_id": schema["id"], "period": period, "period_label": periods.period_label(period),
            "due": due, "counts": _counts(rows), "orgs": rows,
            "rollup": rollup(index, rows, org_codes)}


def missing(status):
    """The organizations of a ``form_status`` that have not reported: 逾期未报 first, then
    未到期; within each, by township then code, those under no township (county departments)
    last — the 催报 list."""
    order = {state: n for n, state in enumerate(MISSING)}
    return sorted((o for o in status["orgs"] if o["state"] in order),
                  key=lambda o: (order[o["state"]], o["township_code"] is None,
                                 o["township_code"] or "", o["code"]))


def rollup(index, rows, org_codes=None):
    """The counts of ``rows`` (organizations with a "state") rolled up to their township and
    county: ``[{"code", "name", "kind", "expected", "已报", "迟报", "逾期未报", "未到期",
    "rate"}]``, counties first, then townships, each by code. ``rate``: the share reported
    (已报 + 迟报, on time or not) of those expected, None when none is. An area is listed when
    one of its organizations is expected and the area itself is within ``org_codes`` (a
    township reviewer gets its township, not a partial county)."""
    areas = {}
    for row in rows:
        for code in _areas_of(index, row["code"]):
            area = areas.setdefault(code, dict.fromkeys(("expected",) + STATES, 0))
            if row["state"] is not None:  # listed, but nothing due yet
                area["expected"] += 1
                area[row["state"]] += 1
    found = []
    for code, counts in areas.items():
        if org_codes is not None and code not in org_codes:
            continue
        org = index.get(code)
        found.append({"code": code, "name": org["name"], "kind": org["kind"], **counts,
                      "rate": _rate(counts)})
    return sorted(found, key=lambda a: (AREA_KINDS.index(a["kind"]), a["code"]))


# ---------------------------------------------------------------------------- the matrix


def matrix(store, index, schema, year, org_codes=None, today=None):
    """The organizations × periods of ``year`` (up to the current one) of a form with a
    period: ``{"form_id", "year", "periods": [{"period", "label", "due", "counts", "rate"}],
    "orgs": [{"code", "name", "kind", "path", "township", "township_code", "secretary",
    "phone", "cells": [{"period", "state", "receipt", "submitted_at"}]}], "rollup": [{"code",
    "name", "kind", "cells": [{"period", "expected", "reported", "rate"}]}]}`` (cells in the
    order of ``periods``; rollup areas as in :func:`rollup`). ValueError (Chinese) for a form
    without a period."""
    spec = periods.period_spec(schema)
    if spec is None:
        raise ValueError("此表单没有报告周期，没有按月汇总")
    today = today or today_local()
    orgs = audience(index, schema, org_codes, store, year)
    year_periods = periods.periods_of_year(spec, year, today)
    first = _first_reports(store, schema["id"], [o["code"] for o in orgs], year_periods)
    windows = report_windows(store, schema, orgs, year)
    columns, areas, by_org = [], {}, {o["code"]: [] for o in orgs}
    for period in year_periods:
        rows = []
        for org in orgs:
            if not _due_from(windows, org["code"], period):
                # before its project was approved: nothing to report (shown as —)
                rows.append({"code": org["code"], "state": None})
                by_org[org["code"]].append({"period": period, "state": None,
                                            "receipt": None, "submitted_at": None})
                continue
            report = first.get((org["code"], period))
            at = report["submitted_at"] if report else None
            state = periods.state(spec, period, at, today)
            rows.append({"code": org["code"], "state": state})
            by_org[org["code"]].append({"period": period, "state": state,
                                        "receipt": report["receipt"] if report else None,
                                        "submitted_at": at})
        counts = _counts(rows)
        columns.append({"period": period, "label": periods.period_label(period),
                        "due": periods.due_date(spec, period), "counts": counts,
                        "rate": _rate(counts)})
        for area in rollup(index, rows, org_codes):
            entry = areas.setdefault(area["code"], {"code": area["code"], "name": area["name"],
                                                    "kind": area["kind"], "cells": []})
            entry["cells"].append({"period": period, "expected": area["expected"],
                                   "reported": area["已报"] + area["迟报"],
                                   "rate": area["rate"]})
    return {"form_id": schema["id"], "year": year, "periods": columns,
            "orgs": [{**_org_info(index, org), "cells": by_org[org["code"]]} for org in orgs],
            "rollup": sorted(areas.values(),
                             key=lambda a: (AREA_KINDS.index(a["kind"]), a["code"]))}


# ---------------------------------------------------------------------------- Excel


def missing_to_xlsx(status, out, base_url, title=""):
    """Write the 催报 list of a ``form_status`` (see :func:`missing`) to ``out`` (a path or a
    binary stream) as an XLSX workbook; the number of organizations written.

    One sheet: a header row (乡镇, 村/单位, 编码, 状态, 书记, 电话, 填报链接), one row per
    organization; the link is the full URL of its active QR link on ``base_url`` (未生成链接
    when it has none); ``base_url`` None leaves the link column out (for a user who may not
    hand out QR links). Every value is written as a string (codes and phones stay text, a
    name starting with "=" stays text); the page prints on A4 landscape, one page wide, the
    header repeated, ``title`` and the period in the page header."""
    headers = MISSING_HEADERS if base_url is not None else MISSING_HEADERS[:-1]
    rows = [[o["township"], o["name"], o["code"], o["state"], o["secretary"], o["phone"]]
            + ([entry_url(base_url, o["link_token"]) if o["link_token"] else NO_LINK]
               if base_url is not None else [])
            for o in missing(status)]
    workbook = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False, "in_memory": True})
    try:
        sheet = workbook.add_worksheet("催报名单")
        header = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
        cell = workbook.add_format({"border": 1})
        widths = [_text_width(h) for h in headers]
        for col, text in enumerate(headers):
            sheet.write_string(0, col, text, header)
        for number, values in enumerate(rows, start=1):
            for col, value in enumerate(values):
                text = _clean(value)
                sheet.write_string(number, col, text, cell)
                widths[col] = max(widths[col], _text_width(text))
        for col, width in enumerate(widths):
            sheet.set_column(col, col, min(max(width + 2, 6), 60))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(rows), len(headers) - 1)
        sheet.ignore_errors({"number_stored_as_text": f"A1:G{len(rows) + 1}"})
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as it takes
        sheet.repeat_rows(0)
        sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
        heading = " ".join(t for t in (_clean(title)[:80], status["period_label"], "催报名单") if t)
        sheet.set_header("&C" + heading.replace("&", "&&"))
        sheet.set_footer("&C第 &P 页，共 &N 页")
    finally:
        workbook.close()
    return len(rows)


# ---------------------------------------------------------------------------- internals


def _first_reports(store, form_id, codes, wanted):
    """(org code, period) -> the earliest non-voided report of it (reported_periods rows),
    for the periods ``wanted``."""
    first = {}
    for report in store.reported_periods(form_id, org_codes=codes, periods=wanted):
        key = (report["org_code"], report["period"])
        if key not in first or report["submitted_at"] < first[key]["submitted_at"]:
            first[key] = report
    return first


def _areas_of(index, code):
    """The codes of the townships and counties ``code`` lies in (itself included when it is
    one), nearest first."""
    found, seen = [], set()
    while code is not None and code not in seen:
        seen.add(code)
        org = index.get(code)
        if org is None:
            break
        if org.get("kind") in AREA_KINDS:
            found.append(code)
        code = org.get("parent_code")
    return found


def _township_of(index, code):
    return next((c for c in _areas_of(index, code) if index.get(c)["kind"] == "township"), None)


def _org_info(index, org):
    township = _township_of(index, org["code"])
    return {"code": org["code"], "name": org["name"], "kind": org.get("kind"),
            "path": index.path(org["code"]),
            "township": index.get(township)["name"] if township else "",
            "township_code": township,
            "secretary": org.get("secretary") or "", "phone": org.get("phone") or ""}


def _org_row(index, org, state, report, link):
    return {**_org_info(index, org), "state": state,
            "receipt": report["receipt"] if report else None,
            "submitted_at": report["submitted_at"] if report else None,
            "link_token": link["token"] if link else None}


def _counts(rows):
    """Counts by state of ``rows``; a row whose state is None (nothing due yet) is not
    expected."""
    counts = dict.fromkeys(("expected",) + STATES, 0)
    for row in rows:
        if row["state"] is not None:
            counts["expected"] += 1
            counts[row["state"]] += 1
    return counts


def _rate(counts):
    if not counts["expected"]:
        return None
    return (counts["已报"] + counts["迟报"]) / counts["expected"]


def _clean(value):
    """Text for a cell: control characters (which XML cannot hold) dropped."""
    text = "" if value is None else str(value)
    return "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) != "Cc")


def _text_width(text):
    """Columns a text takes in a spreadsheet: CJK and other wide characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


__all__ = ["form_status", "matrix", "missing", "missing_to_xlsx", "rollup", "audience",
           "default_period", "period_choices", "today_local", "STATES", "MISSING", "REPORTED"]
