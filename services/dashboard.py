"""The dashboard (统计, issue 11): a county's or a township's year of 书记项目 at a glance, as
panels of figures that the page draws as charts, each with its numbers in a table beside it.
Plain functions over a Store and an OrgIndex (services.orgs), no Flask.

    data = dashboard(store, index, user, year=None, org_code=None, today=None)

``user`` is anything services.access reads (the page's current_user, a user doc). The area is
``org_code``'s subtree (default: the user's own organization, the whole county for an admin);
``access.may(user, "view", org_code, index)`` decides whether the user may see it, and
:class:`OutOfScope` (a LookupError: the page answers 404) is raised when not. Every figure is
then counted within ``access.restrict``: scope is decided there, never here.

The result: ``{"year", "today", "area": {"code", "name", "kind"}, "panels": [panel, ...]}``.
A panel is a plain dict:

    key      unique, [a-z0-9-] (HTML ids are made from it): "projects-status"
    title    the Chinese heading: "项目状态"
    chart    how static/js/dashboard.js draws it: "bar" (columns, e.g. months) or "hbar"
             (horizontal bars, for long Chinese labels)
    unit     what the charted number is: "个", "%", "分"
    columns  the table's headers: (what the label is, what the charted number is, *more)
    rows     [(label, number, *more)]: the chart draws label -> number (None: no bar); the
             table shows every column (None as —). Numbers are int, or float to one place.
    max      optional: the number axis' top (100 for a percentage)
    summary  optional: one line above the chart ("共 42 个项目")
    note     optional: how it is counted, under the table
    empty    optional: what to say when ``rows`` is empty (default 暂无数据)

**Adding a panel** (the 路演评审 score distribution from services/scoring.py, the 群众诉求
closing rate from services/demands.py): write a function of a :class:`Context` that returns a
list of panels (none when it has nothing to show; one per form, as the reporting rates do)
and append it to ``PANELS``::

    def score_panels(ctx):
        rows = ...  # e.g. (score band, projects) from scoring.rank_year over ctx.projects()
        return [{"key": "scores", "title": "路演评审得分分布", "chart": "bar", "unit": "个",
                 "columns": ("得分", "项目数"), "rows": rows}]

    PANELS.append(score_panels)

The page, its tables, its charts and its tests need nothing else: templates/admin/stats.html
renders any panel of this shape. A panel must count only ``ctx.org_codes`` (None: every
organization) and ``ctx.year``. ``ctx.store`` is the Store as the dashboard reads it
(:class:`ReadOnce`: each year's projects are read once, whichever panel or services function
asks; at 11,610 projects a read costs 30-50 ms on TinyDB);
``ctx.projects()`` and ``ctx.forms()`` are shared too. A panel over many submissions should
use a Store aggregate (Store.submission_counts, ...), never read them one by one: the page
must answer in 300 ms at 100,000 submissions (bench/dashboard.py).
"""
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from services import access, demands, periods, projects, reporting, scoring

# The four 书记项目 categories in the order the seeds give them (004, 句容); a county's other
# categories follow, by name. A 书记领办事项's "category" is its matter type (征地搬迁, ...): they
# are counted together under their kind.
CATEGORY_ORDER = ("党建改革创新类", "党建引领发展类", "机关党建提升类", "党建文化建设类")
UNCATEGORIZED = "未分类"
LEADER_KIND = "书记领办事项"
ACCEPTANCE_STATUSES = ("已申请验收", "已验收", "验收未通过")
COUNTY_NAME = "全县"  # the area's name when the tree has no single county
YEARS_OFFERED = 5  # the year selector: this year and the four before (as the 催报 matrix)


class OutOfScope(LookupError):
    """The area asked for is unknown or outside what the user may see (answered 404)."""


class ReadOnce:
    """The Store as one dashboard reads it: each year's projects are read once, all of them
    (TinyDB scans every stored project whatever the filter, and a panel may rank the county's
    projects whatever the area), and every ``list_projects`` of that year is answered from them
    (by organization and status, ordered by id, as the Store answers); anything else goes to
    the Store. Read only: what it returns is shared, and nothing may change it."""

    def __init__(self, store):
        self._store = store
        self._years = {}

    def __getattr__(self, name):
        return getattr(self._store, name)

    def list_projects(self, org_codes=None, year=None, statuses=None):
        if isinstance(statuses, str):
            raise ValueError("statuses must be a collection, not a string")
        if isinstance(year, bool) or not isinstance(year, int):
            return self._store.list_projects(org_codes, year, statuses)
        if year not in self._years:
            self._years[year] = self._store.list_projects(year=year)
        wanted = None if org_codes is None else set(org_codes)
        statuses = None if statuses is None else set(statuses)
        return [p for p in self._years[year] if (wanted is None or p["org_code"] in wanted)
                and (statuses is None or p["status"] in statuses)]


@dataclass
class Context:
    """What a panel function is given: the Store and organization index, the user, the year,
    today, the area and ``org_codes`` (the organizations to count: None = every one; already
    narrowed by services.access), and the year's projects and the forms, read once."""

    store: object
    index: object
    user: object
    year: int
    today: date
    area: dict
    org_codes: set | None
    _projects: list | None = field(default=None, repr=False)
    _forms: list | None = field(default=None, repr=False)

    def projects(self):
        """The year's projects in the area (voided ones left out), ordered by id (read only:
        shared by the panels)."""
        if self._projects is None:
            self._projects = [p for p in self.store.list_projects(org_codes=self.org_codes,
                                                                  year=self.year)
                              if not p.get("void")]
        return self._projects

    def forms(self):
        """The latest version of every form (Store.list_forms)."""
        if self._forms is None:
            self._forms = self.store.list_forms()
        return self._forms


# ---------------------------------------------------------------------------- the panels


def project_panels(ctx):
    """The year's projects by category (with how many are approved) and by status."""
    found = ctx.projects()
    by_category, approved = {}, {}
    for project in found:
        label = _category_of(project)
        by_category[label] = by_category.get(label, 0) + 1
        if project["status"] in projects.REGISTERED:
            approved[label] = approved.get(label, 0) + 1
    categories = list(CATEGORY_ORDER) + sorted(
        c for c in by_category if c not in CATEGORY_ORDER and c != LEADER_KIND) + [LEADER_KIND]
    by_status = dict.fromkeys(projects.STATUSES, 0)
    for project in found:
        by_status[project["status"]] = by_status.get(project["status"], 0) + 1
    total = f"共 {len(found)} 个项目（不含已作废）"
    return [
        {"key": "projects-category", "title": "项目数：按类别", "chart": "hbar", "unit": "个",
         "columns": ("类别", "项目数", "其中已立项"), "summary": total,
         "rows": [(c, by_category.get(c, 0), approved.get(c, 0)) for c in categories],
         "note": "书记领办事项不分类别，合为一行；“已立项”含立项后的实施、验收各阶段。"},
        {"key": "projects-status", "title": "项目数：按状态", "chart": "hbar", "unit": "个",
         "columns": ("状态", "项目数"), "summary": total,
         "rows": [(s, n) for s, n in by_status.items()]},
    ]


def reporting_panels(ctx):
    """For each monthly form (its ``period`` says ``every: month``): the share of the
    organizations due to report for each month of the year that did (已报 + 迟报), as the 催报
    matrix counts them (:func:`month_counts`). A month counts once its due day has passed;
    before that its rate is None (—)."""
    found = []
    for form_doc in ctx.forms():
        schema = form_doc["schema"]
        spec = periods.period_spec(schema)
        if spec is None or spec.every != "month":
            continue
        rows = [(f"{int(month['period'][5:])}月",
                 percent(month["reported"], month["expected"]) if ctx.today > month["due"]
                 else None, month["reported"], month["expected"])
                for month in month_counts(ctx.store, ctx.index, schema, ctx.year,
                                          ctx.org_codes, ctx.today)]
        found.append({
            "key": f"reporting-{_key(schema['id'])}", "form_id": schema["id"],
            "title": f"月度报送率：{schema.get('title', schema['id'])}", "chart": "bar",
            "unit": "%", "max": 100, "columns": ("月份", "报送率(%)", "已报(含迟报)", "应报"),
            "rows": rows, "empty": f"{ctx.year}年还没有需要报送的月份。",
            "note": f"报送率 = 已报(含迟报) ÷ 应报；应报为该月须报送的组织（报告须写明项目的，自项目立项当月起）。"
                    f"每月 {spec.due_day} 日截止报上月，截止日未过的月份不计报送率(—)。"})
    return found


def acceptance_panels(ctx):
    """How far the year's approved projects (已立项 and every status after it) are with their
    acceptance: how many are at 已申请验收, 已验收, 验收未通过, each also as a share of them."""
    approved = [p for p in ctx.projects() if p["status"] in projects.REGISTERED]
    counts = {s: sum(1 for p in approved if p["status"] == s) for s in ACCEPTANCE_STATUSES}
    total = len(approved)
    rows = [("已立项(合计)", total, percent(total, total))]
    rows += [(s, n, percent(n, total)) for s, n in counts.items()]
    return [{"key": "acceptance", "title": "验收进度", "chart": "hbar", "unit": "个",
             "columns": ("阶段", "项目数", "占已立项(%)"), "rows": rows,
             "summary": f"已验收 {counts['已验收']} / 已立项 {total}",
             "note": "已立项(合计)含实施中和验收各阶段的项目；已否决、未立项的不计。"}]


def month_counts(store, index, schema, year, org_codes=None, today=None):
    """Per period of ``year`` up to today (a form with a period): ``{"period", "due",
    "expected", "reported"}`` — how many organizations of the form's audience within
    ``org_codes`` had to report for it and how many did (on time or late): the counts of
    services.reporting.matrix's columns (``expected``, 已报 + 迟报) without its per-cell states
    and roll-ups, which the dashboard does not show (at 430 organizations they cost more than
    the counting). Who must report and from when is reporting's (audience, report_windows)."""
    spec = periods.period_spec(schema)
    today = today or reporting.today_local()
    orgs = reporting.audience(index, schema, org_codes, store, year)
    codes = [o["code"] for o in orgs]
    year_periods = periods.periods_of_year(spec, year, today)
    windows = reporting.report_windows(store, schema, orgs, year)
    # County-wide every filer is asked for: no organization filter (cheaper on PostgreSQL)
    done = {(r["org_code"], r["period"])
            for r in store.reported_periods(schema["id"], periods=year_periods,
                                            org_codes=None if org_codes is None else codes)}
    found = []
    for period in year_periods:
        # reporting's own rule for "must report for this period" (from its project's 立项
        # month to its 验收 month), not a second copy of it
        due = [code for code in codes if reporting._due_from(windows, code, period)]
        found.append({"period": period, "due": periods.due_date(spec, period),
                      "expected": len(due), "reported": sum((c, period) in done for c in due)})
    return found


def score_panels(ctx):
    """The year's 路演评审 (services.scoring): the projects' totals in score bands on a
    100-point scale and each category's mean and best, counting the area's projects with the
    county's scores; nothing before the year has a rubric."""
    ranking = scoring.year_ranking(ctx.store, ctx.year)
    if not ranking.rubric:
        return []
    bands, categories, unfinished = scoring.score_distribution(ranking, ctx.org_codes)
    scored = sum(n for _, n in bands)
    scale = "" if scoring.max_total(ranking.rubric) == 100 else \
        f"评分标准满分为 {scoring.max_total(ranking.rubric)}，已折算为百分制。"
    return [
        {"key": "scores", "title": "路演评审：得分分布", "chart": "bar", "unit": "个",
         "columns": ("得分段", "项目数"), "rows": [(label, n) for label, n in bands],
         "summary": f"已完成评分 {scored} 个，评分未完成 {unfinished} 个",
         "note": "总分为各评分项评委均分 × 权重之和。" + scale},
        {"key": "scores-category", "title": "路演评审：各领域平均分", "chart": "hbar",
         "unit": "分", "max": 100, "columns": ("领域", "平均分", "已评项目数", "最高分"),
         "rows": [(category, float(mean), count, float(best))
                  for category, count, mean, best in categories],
         "empty": "还没有完成评分的项目。"},
    ]


def demand_panels(ctx):
    """群众诉求 (services.demands): the closing rate of each township in the area (of the area
    itself below a township) and in total, as of today, with the counts beside it."""
    figures = demands.summary(ctx.store, ctx.org_codes, ctx.today, ctx.index,
                              satisfaction=False)
    if not figures["forms"]:
        return []
    rows = [figures["total"], *figures["townships"]]
    if figures["others"]:
        rows.append(figures["others"])
    total = figures["total"]
    return [{"key": "demands", "title": "群众诉求：办结率", "chart": "hbar", "unit": "%",
             "max": 100, "columns": ("范围", "办结率(%)", "收集", "办结", "超期"),
             "rows": [(r["name"], r["closing_rate"], r["collected"], r["closed"], r["overdue"])
                      for r in rows],
             "summary": f"收集 {total['collected']} 件，办结 {total['closed']} 件，"
                        f"超期 {total['overdue']} 件",
             "note": "办结率 = (已办结 + 已回访) ÷ 收集（不含已作废）；超期 = 研判后超过办结时限仍未办结。"
                     "截至今日，不分年份。"}]


# The panels of the page, in order. Append a function to add one (see the module docstring).
PANELS = [project_panels, reporting_panels, acceptance_panels, score_panels, demand_panels]


# ---------------------------------------------------------------------------- the dashboard


def dashboard(store, index, user, year=None, org_code=None, today=None, panels=None):
    """The dashboard of ``org_code``'s subtree (None: the user's default area, see
    :func:`default_area`) for ``year`` (None: today's), as seen by ``user``: ``{"year",
    "today", "area", "panels"}`` (module docstring). OutOfScope when the user may not view
    that organization (or it is unknown). ``panels``: the panel functions (default PANELS)."""
    today = today or reporting.today_local()
    year = year or today.year
    code = org_code or default_area(index, user)
    if code is not None and code not in index:
        raise OutOfScope(code)
    if not access.may(user, "view", code, index):
        raise OutOfScope(code)
    org_codes = access.restrict(user, index, index.below(code) if code is not None else None)
    ctx = Context(ReadOnce(store), index, user, year, today, _area(index, code), org_codes)
    found = []
    for panel in PANELS if panels is None else panels:
        found.extend(panel(ctx))
    return {"year": year, "today": today, "area": ctx.area, "panels": found}


def default_area(index, user):
    """The organization whose dashboard a user opens on: its own (a township reviewer's
    township), or None for the whole county (an admin, a judge or viewer without one)."""
    if access.visible_orgs(user, index) is None:
        return None
    return _org_code(user)


def areas(index, user):
    """(code or None for the whole county, name) the area selector offers ``user``: the
    county when it may see everything, then each township it may see; just its own
    organization when that is below any township."""
    visible = access.visible_orgs(user, index)
    found = [(None, _area(index, None)["name"])] if visible is None else []
    found += [(t["code"], t["name"]) for t in index.townships()
              if visible is None or t["code"] in visible]
    own = _org_code(user)
    if not found and own in index:
        found = [(own, index.get(own)["name"])]
    return found


def years(today=None, shown=None):
    """The years the year selector offers, newest first: this year and the four before, and
    ``shown`` (a year asked for by its URL) when it is another. (Not the years that have
    projects: finding those reads every project of every year, 0.3 s at 11,610 projects.)"""
    today = today or reporting.today_local()
    found = {today.year - n for n in range(YEARS_OFFERED)}
    if shown is not None:
        found.add(shown)
    return sorted(found, reverse=True)


def percent(part, whole):
    """``part`` of ``whole`` in percent to one place, or None when ``whole`` is 0."""
    return round(100 * part / whole, 1) if whole else None


# ---------------------------------------------------------------------------- internals


def _category_of(project):
    if project.get("kind") == LEADER_KIND:
        return LEADER_KIND
    return project.get("category") or UNCATEGORIZED


def _org_code(user):
    if isinstance(user, Mapping):
        return user.get("org_code")
    return getattr(user, "org_code", None)


def _area(index, code):
    """{"code", "name", "kind"} of the area; for None, the county at the top of the tree."""
    if code is not None:
        org = index.get(code)
        return {"code": code, "name": org["name"], "kind": org.get("kind")}
    counties = [o for o in index.orgs if o.get("kind") == "county"]
    if len(counties) == 1:
        return {"code": None, "name": counties[0]["name"], "kind": "county"}
    return {"code": None, "name": COUNTY_NAME, "kind": "county"}


def _key(text):
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in str(text).lower())


__all__ = ["dashboard", "default_area", "areas", "years", "percent", "Context", "ReadOnce",
           "OutOfScope", "PANELS", "project_panels", "reporting_panels", "acceptance_panels",
           "month_counts"]
