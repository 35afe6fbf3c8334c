"""路演评审 arithmetic (issue 11, first part): a year's ranking per category from judges'
scores, the bottom 5% rule and the two-year rules. Pure functions: no Flask, no Store — the
pages, the `ranking` command and the 汇总表 (to come) call these with what they read.

* A rubric is a list of criteria ``{"name", "max", "weight"}`` (weight 1 when absent): a
  judge scores each criterion from 0 to its max.
* A project's score on a criterion is the mean over the judges who scored it; its total is the
  sum of those means times their weights, to two decimals (Decimal: no float noise decides a
  rank). A project missing a criterion no judge scored is not ranked (评分未完成).
* Ranks are per category, highest total first; equal totals share a rank and the next rank
  skips ("1, 2, 2, 4"): ties are shown as ties.
* The bottom 5% of a category: ceil(5% of its ranked projects) — at least one project as soon
  as a category has any (5% of 8 is 0.4: one) — and every project tied with the last of them.

Below the pure part, what pages, commands and the 汇总表 call with a Store: a year's rubric,
the projects judges score (every project of the year in the project library, 已立项 onward,
whatever its kind), a judge's score sheet, the CSV import of paper sheets (all rows or none),
the year's ranking with the two-year rules, and the admin's marks (优秀; 成效 of a 书记领办事项).
"""
import codecs
import csv
import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

BOTTOM_SHARE = Decimal("0.05")
TWO_PLACES = Decimal("0.01")


class ScoreError(ValueError):
    """A score the rubric refuses; ``str()`` is the Chinese reason."""


@dataclass
class Ranked:
    """One project's place in its category's ranking."""

    project: dict
    means: dict = field(default_factory=dict)  # criterion -> mean (Decimal, 2 places)
    total: Decimal | None = None  # None: not every criterion scored
    rank: int | None = None
    judges: int = 0
    bottom: bool = False


def check_score(rubric, criterion, score):
    """The score as a Decimal when ``criterion`` is in ``rubric`` and 0 <= score <= its max;
    ScoreError otherwise."""
    spec = next((c for c in rubric if c["name"] == criterion), None)
    if spec is None:
        raise ScoreError(f"评分项「{criterion}」不在本年度评分标准中")
    try:
        value = Decimal(str(score))
    except ArithmeticError:
        raise ScoreError(f"「{criterion}」的分数「{score}」不是数字") from None
    if not value.is_finite() or value < 0 or value > Decimal(str(spec["max"])):
        raise ScoreError(f"「{criterion}」的分数应在 0 到 {spec['max']} 之间，收到 {score}")
    return value


def _money(value):
    return value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def score_project(rubric, project, scores):
    """A Ranked for ``project`` from its scores (``{"judge", "criterion", "score"}``): the
    mean per criterion over the judges who scored it and the weighted total (None when a
    criterion has no score at all)."""
    by_criterion = {}
    judges = set()
    for entry in scores:
        by_criterion.setdefault(entry["criterion"], []).append(Decimal(str(entry["score"])))
        judges.add(entry["judge"])
    ranked = Ranked(project=project, judges=len(judges))
    total = Decimal(0)
    for spec in rubric:
        values = by_criterion.get(spec["name"])
        if not values:
            ranked.total = None
            total = None
            continue
        mean = _money(sum(values) / len(values))
        ranked.means[spec["name"]] = mean
        if total is not None:
            total += mean * Decimal(str(spec.get("weight", 1)))
    ranked.total = None if total is None else _money(total)
    return ranked


def bottom_count(ranked_count):
    """How many projects of a category with ``ranked_count`` ranked ones are its bottom 5%:
    ceil(5%), at least one once there is any."""
    if ranked_count <= 0:
        return 0
    return max(1, math.ceil(Decimal(ranked_count) * BOTTOM_SHARE))


def rank_category(rubric, projects, scores_of):
    """The ranking of one category: every project as a Ranked, ranked ones by rank (ties by
    project id), then the unfinished ones. ``scores_of(project)`` gives its scores."""
    rows = [score_project(rubric, p, scores_of(p)) for p in projects]
    done = sorted((r for r in rows if r.total is not None),
                  key=lambda r: (-r.total, r.project["id"]))
    previous, rank = None, 0
    for position, row in enumerate(done, start=1):
        if row.total != previous:
            rank, previous = position, row.total
        row.rank = rank
    count = bottom_count(len(done))
    if count:
        threshold = done[len(done) - count].total  # the last `count`, ties included
        for row in done:
            row.bottom = row.total <= threshold
    return done + [r for r in rows if r.total is None]


def rank_year(rubric, projects, scores):
    """{category: its ranking (rank_category)} for a year's projects and scores
    (``{"project", "judge", "criterion", "score"}``, project = project id)."""
    by_project = {}
    for entry in scores:
        by_project.setdefault(entry["project"], []).append(entry)
    categories = {}
    for project in projects:
        categories.setdefault(project["category"], []).append(project)
    return {category: rank_category(rubric, members,
                                    lambda p: by_project.get(p["id"], []))
            for category, members in sorted(categories.items())}


def bottom_orgs(ranking):
    """The organizations with a project in the bottom 5% of its category (rank_year output)."""
    return {row.project["org_code"] for rows in ranking.values() for row in rows if row.bottom}


def two_years_in_a_row(this_year, last_year):
    """Organizations in both sets (the bottom 5% both years: points lost in the assessment;
    a 书记领办事项 with no clear effect both years: the 软弱涣散 rectification list)."""
    return set(this_year) & set(last_year)


# ---------------------------------------------------------------- with a Store

DEFAULT_RUBRIC = [{"name": "选题精准", "max": 20, "weight": 1},
                  {"name": "推进实效", "max": 40, "weight": 1},
                  {"name": "示范效应", "max": 20, "weight": 1},
                  {"name": "群众满意", "max": 20, "weight": 1}]
# The effect a 书记领办事项 had in its year (marked by the county or its township).
EFFECTS = ("成效明显", "有一定成效", "无明显成效")
NO_EFFECT = "无明显成效"
MATTER_KIND = "书记领办事项"
# CSV columns of import-scores, English or Chinese headers.
CSV_COLUMNS = {"project": ("project", "项目", "项目编号"), "judge": ("judge", "评委", "评审专家"),
               "criterion": ("criterion", "评分项", "评分项目"),
               "score": ("score", "分数", "得分")}
BOTTOM_RULE = ("末位 5% 按各领域已完成评分的项目数 × 5% 向上取整，至少 1 个；"
               "与其中最后一名总分相同的项目一并列入")


def scorable_statuses():
    from services import projects

    return projects.REGISTERED


def rubric_of(store, year):
    """The year's criteria (list), or None when the admin has not set them."""
    doc = store.get_rubric(year)
    return None if doc is None else doc["criteria"]


def parse_rubric(text):
    """Criteria from the page's text: one per line, "名称 最高分 [权重]" (spaces, tabs, commas
    or 、 between). ScoreError naming the line."""
    criteria = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [p for p in line.replace(",", " ").replace("，", " ").replace("、", " ").split()
                 if p]
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ScoreError(f"第 {number} 行应为「评分项 最高分 [权重]」，收到「{line.strip()}」")
        values = []
        for part in parts[1:]:
            try:
                value = Decimal(part)
            except ArithmeticError:
                raise ScoreError(f"第 {number} 行：「{part}」不是数字") from None
            if not value.is_finite() or value <= 0:
                raise ScoreError(f"第 {number} 行：最高分和权重必须大于 0")
            values.append(int(value) if value == value.to_integral() else float(value))
        criteria.append({"name": parts[0], "max": values[0],
                         "weight": values[1] if len(values) > 1 else 1})
    return criteria


def rubric_text(criteria):
    def number(value):
        return str(int(value)) if float(value).is_integer() else str(value)

    return "\n".join(f"{c['name']} {number(c['max'])} {number(c.get('weight', 1))}"
                     for c in criteria)


def save_rubric(store, year, criteria, user):
    """Set the year's rubric. ScoreError (Chinese) when malformed, or when scores already
    given would no longer fit it (a criterion scored removed, a max below a score given)."""
    if not criteria:
        raise ScoreError("评分标准至少要有一个评分项")
    names = [c["name"] for c in criteria]
    if len(set(names)) != len(names):
        raise ScoreError("评分项名称不能重复")
    by_name = {c["name"]: c for c in criteria}
    for entry in store.list_scores(year):
        spec = by_name.get(entry["criterion"])
        if spec is None:
            raise ScoreError(f"评分项「{entry['criterion']}」已有评委打分，不能删除")
        if Decimal(entry["score"]) > Decimal(str(spec["max"])):
            raise ScoreError(f"「{entry['criterion']}」已有 {entry['score']} 分的评分，"
                             f"最高分不能低于它")
    try:
        return store.put_rubric(year, criteria, user)
    except ValueError as exc:
        raise ScoreError(f"评分标准格式有误：{exc}") from None


def scorable_projects(store, year, org_codes=None):
    """The year's projects judges score: in the project library (已立项 onward), not voided
    (an application voided after its approval voids its project), by category then id."""
    found = store.list_projects(org_codes=org_codes, year=year, statuses=scorable_statuses())
    return sorted((p for p in found if not p.get("void")),
                  key=lambda p: (p["category"], p["id"]))


def scorable_project(store, year, project_id):
    project = store.get_project(project_id) if isinstance(project_id, int) else None
    if project is None or project["year"] != year or project.get("void") \
            or project["status"] not in scorable_statuses():
        return None
    return project


def judge_sheet(store, year, judge, org_codes=None):
    """[(project, {criterion: score text})] of every scorable project for ``judge``."""
    mine = {}
    for entry in store.list_scores(year, judge=judge):
        mine.setdefault(entry["project"], {})[entry["criterion"]] = entry["score"]
    return [(p, mine.get(p["id"], {})) for p in scorable_projects(store, year, org_codes)]


def save_judge_scores(store, year, project_id, judge, values):
    """Store ``judge``'s scores of one project ({criterion: text}), every criterion of the
    rubric required; replaces what the judge gave before. ScoreError {criterion: reason}
    raised as ScoreErrors (``.errors``) when any is refused: nothing stored then."""
    rubric = rubric_of(store, year)
    if rubric is None:
        raise ScoreErrors({None: f"{year} 年尚未设置评分标准"})
    if scorable_project(store, year, project_id) is None:
        raise ScoreErrors({None: "该项目不在本年度评审范围内"})
    checked, errors = {}, {}
    for spec in rubric:
        raw = str(values.get(spec["name"]) or "").strip()
        if not raw:
            errors[spec["name"]] = f"请填写「{spec['name']}」的分数"
            continue
        try:
            value = check_score(rubric, spec["name"], raw)
        except ScoreError as exc:
            errors[spec["name"]] = str(exc)
            continue
        if value != value.quantize(TWO_PLACES):
            errors[spec["name"]] = f"「{spec['name']}」的分数最多保留两位小数"
            continue
        checked[spec["name"]] = format(value.normalize(), "f")
    if errors:
        raise ScoreErrors(errors)
    return store.set_scores(year, project_id, judge, checked)


class ScoreErrors(ScoreError):
    """Several refusals at once: ``errors`` maps a criterion (None: the whole sheet) or a CSV
    line number to its Chinese reason."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("；".join(errors.values()))


def _decode(data):
    if isinstance(data, str):
        return data
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")  # what Excel in Chinese saves a CSV as
        except UnicodeDecodeError:
            raise ScoreErrors({1: "文件编码无法识别，请另存为 UTF-8 或 GBK 编码的 CSV"}) from None


def read_scores_csv(data):
    """[(line number, {"project", "judge", "criterion", "score"})] from a CSV (bytes or text;
    UTF-8 with or without BOM, or GBK) with a header naming the four columns in English or
    Chinese. ScoreErrors for a missing column."""
    reader = csv.reader(io.StringIO(_decode(data)))
    header = next(reader, None)
    if header is None:
        raise ScoreErrors({1: "文件是空的"})
    names = [h.strip().lower() for h in header]
    columns = {}
    for key, accepted in CSV_COLUMNS.items():
        found = [i for i, name in enumerate(names) if name in accepted]
        if not found:
            raise ScoreErrors({1: f"缺少「{key}」列（可写作 {'、'.join(accepted)}）"})
        columns[key] = found[0]
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        rows.append((number, {key: (row[i].strip() if i < len(row) else "")
                              for key, i in columns.items()}))
    return rows


def import_scores(store, year, data):
    """Import a CSV of paper score sheets into ``year``: every row checked against the rubric
    and what is stored — an unknown project or criterion, a score out of range, a judge
    scoring a criterion twice (in the file, or already stored) — and then all rows stored in
    one write, or none. The number stored; ScoreErrors {line: reason} otherwise."""
    rubric = rubric_of(store, year)
    if rubric is None:
        raise ScoreErrors({0: f"{year} 年尚未设置评分标准，请先在「路演评审」页设置"})
    rows = read_scores_csv(data)
    if not rows:
        raise ScoreErrors({0: "文件中没有评分行"})
    projects = scorable_projects(store, year)
    by_id = {str(p["id"]): p for p in projects}
    by_title = {}
    for p in projects:
        by_title.setdefault(p["title"], []).append(p)
    taken = {(s["project"], s["judge"], s["criterion"]) for s in store.list_scores(year)}
    errors, docs, seen = {}, [], {}
    for number, row in rows:
        problems = []
        key = row["project"].lstrip("#")
        project = by_id.get(key)
        if project is None and len(by_title.get(row["project"], ())) == 1:
            project = by_title[row["project"]][0]
        if project is None:
            problems.append(f"项目「{row['project']}」不是 {year} 年已立项的项目"
                            if row["project"] not in by_title else
                            f"项目名称「{row['project']}」有重名，请写项目编号")
        if not row["judge"]:
            problems.append("评委不能为空")
        try:
            if not row["score"]:
                raise ScoreError(f"「{row['criterion']}」的分数不能为空")
            value = check_score(rubric, row["criterion"], row["score"])
            if value != value.quantize(TWO_PLACES):
                problems.append(f"「{row['criterion']}」的分数最多保留两位小数")
        except ScoreError as exc:
            problems.append(str(exc))
            value = None
        if project is not None and row["judge"]:
            triple = (project["id"], row["judge"], row["criterion"])
            if triple in taken:
                problems.append(f"评委「{row['judge']}」已给项目 {project['id']}"
                                f"「{project['title']}」的「{row['criterion']}」评过分")
            elif triple in seen:
                problems.append(f"与第 {seen[triple]} 行重复：评委「{row['judge']}」"
                                f"对同一项目同一评分项评了两次")
            else:
                seen[triple] = number
        if problems:
            errors[number] = "；".join(problems)
        elif value is not None:
            docs.append({"year": year, "project": project["id"], "judge": row["judge"],
                         "criterion": row["criterion"], "score": format(value.normalize(), "f"),
                         "source": "import"})
    if errors:
        raise ScoreErrors(errors)
    from storage.errors import DuplicateError

    try:
        return store.add_scores(docs)
    except DuplicateError:
        raise ScoreErrors({0: "导入期间有评委刚刚提交了同一评分，未导入任何一行，请重新导入"}) from None


@dataclass
class YearRanking:
    """A year's ranking with what the rules make of it."""

    year: int
    rubric: list | None
    categories: dict  # category -> [Ranked] (rank_category)
    bottom_orgs: set
    bottom_two_years: set  # organizations in the bottom 5% this year and the year before
    no_effect_two_years: set  # 书记领办事项 无明显成效 both years: the 软弱涣散 list
    no_effect_projects: list  # this year's 书记领办事项 marked 无明显成效

    def rows(self):
        for category, ranked in self.categories.items():
            for row in ranked:
                yield category, row

    def tied(self, category, rank):
        return rank is not None and sum(
            1 for r in self.categories[category] if r.rank == rank) > 1


def _year_of(store, year):
    """(rubric, ranking by category, this year's 书记领办事项 marked 无明显成效) of ``year``,
    reading its projects, rubric and scores once each. Without a rubric nothing is ranked."""
    rubric = rubric_of(store, year)
    projects = scorable_projects(store, year)
    if rubric is None:
        categories = {cat: [Ranked(project=p) for p in members]
                      for cat, members in _by_category(projects).items()}
    else:
        categories = rank_year(rubric, projects, store.list_scores(year))
    no_effect = [p for p in projects
                 if p.get("kind") == MATTER_KIND and p.get("effect") == NO_EFFECT]
    return rubric, categories, no_effect


def _by_category(projects):
    found = {}
    for p in projects:
        found.setdefault(p["category"], []).append(p)
    return dict(sorted(found.items()))


def year_ranking(store, year):
    """The county's ranking of ``year`` (every category; a page filters the rows it shows,
    the ranks stay the county's) with the bottom 5% and the two-year rules (which read the
    year before)."""
    rubric, categories, no_effect_projects = _year_of(store, year)
    _, last, last_no_effect = _year_of(store, year - 1)
    bottom = bottom_orgs(categories)
    return YearRanking(year=year, rubric=rubric, categories=categories, bottom_orgs=bottom,
                       bottom_two_years=two_years_in_a_row(bottom, bottom_orgs(last)),
                       no_effect_two_years=two_years_in_a_row(
                           {p["org_code"] for p in no_effect_projects},
                           {p["org_code"] for p in last_no_effect}),
                       no_effect_projects=no_effect_projects)


RANKING_HEADERS = ("领域", "名次", "并列", "项目编号", "项目名称", "类型", "乡镇", "村/单位",
                   "组织代码", "评委数")
RANKING_TAIL = ("总分", "优秀", "末位5%", "连续两年末位")


def ranking_table(ranking, index, org_codes=None):
    """(headers, rows) of the ranking as the page, the command and the 汇总表 show it: one row
    per project (of ``org_codes`` when given, ranks the county's), criterion means and the
    total as Decimal (None when not scored), texts otherwise."""
    criteria = [c["name"] for c in ranking.rubric or []]
    headers = [*RANKING_HEADERS, *(f"{name}(均分)" for name in criteria), *RANKING_TAIL]
    rows = []
    for category, row in ranking.rows():
        project = row.project
        if org_codes is not None and project["org_code"] not in org_codes:
            continue
        _, township, unit = index.columns(project["org_code"])
        rows.append([category, row.rank if row.rank is not None else "评分未完成",
                     "并列" if ranking.tied(category, row.rank) else "", project["id"],
                     project["title"], project.get("kind", ""), township, unit,
                     project["org_code"], row.judges,
                     *(row.means.get(name) for name in criteria), row.total,
                     "优秀" if project.get("excellent") else "",
                     "是" if row.bottom else "",
                     "是" if project["org_code"] in ranking.bottom_two_years else ""])
    return headers, rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def ranking_csv(headers, rows):
    """The table as CSV text for Excel (the page's download adds a BOM; `flask ranking --csv`
    prints it): organization codes as ="…" so that Excel keeps them as text (never
    3.4E+11); a text starting like a formula gets a leading quote (titles are typed by
    villages); numbers plain, None empty."""
    code_column = headers.index("组织代码")
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_code_cell(value) if i == code_column else _csv_cell(value)
                         for i, value in enumerate(row)])
    return out.getvalue()


def _code_cell(code):
    code = str(code)
    return f'="{code}"' if code.isdigit() else _csv_cell(code)


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _mark(store, project_id, changes, user):
    """Set a mark (优秀, 成效) and who set it (``<key>_by``). Not an event of the project's
    history, which holds its steps only (the audit log keeps who marked what, when)."""
    from storage.errors import RecordChanged

    changes = {**changes, **{f"{key}_by": user for key in changes}}

    for _ in range(3):  # a concurrent change of another key: read again and retry
        project = store.get_project(project_id)
        if project is None:
            raise LookupError(project_id)
        try:
            return store.update_project(project_id, project["revision"],
                                        changes)
        except RecordChanged:
            continue
    raise ScoreError("项目刚被他人修改，请刷新后重试")


def set_excellent(store, project_id, excellent, user, year=None):
    """Mark (or unmark) a ranked project 优秀书记项目 (the admin's decision)."""
    project = store.get_project(project_id)
    if project is None or (year is not None and project["year"] != year):
        raise LookupError(project_id)
    if project["status"] not in scorable_statuses():
        raise ScoreError("只有已立项的项目才能评为优秀")
    return _mark(store, project_id, {"excellent": bool(excellent)}, user)


def set_effect(store, project_id, effect, user):
    """Mark the effect of a 书记领办事项 in its year (EFFECTS; "" clears it)."""
    project = store.get_project(project_id)
    if project is None:
        raise LookupError(project_id)
    if project.get("kind") != MATTER_KIND:
        raise ScoreError("成效评定只适用于书记领办事项")
    if effect and effect not in EFFECTS:
        raise ScoreError("成效应为 " + "、".join(EFFECTS) + " 之一")
    return _mark(store, project_id, {"effect": effect or None}, user)


SCORE_BANDS = ((90, "90 分及以上"), (80, "80–89 分"), (70, "70–79 分"), (60, "60–69 分"),
               (None, "60 分以下"))


def max_total(rubric):
    """The highest weighted total the rubric allows."""
    return sum(Decimal(str(c["max"])) * Decimal(str(c.get("weight", 1))) for c in rubric)


def score_distribution(ranking, org_codes=None):
    """(bands, categories, unfinished) of a YearRanking for the dashboard, counting only the
    projects of ``org_codes`` (None: all): bands [(label, projects)] of the totals on a
    100-point scale (a rubric whose maximum is not 100 is scaled), categories [(category,
    ranked projects, mean total on that scale, best)] and the number of projects still
    unscored (评分未完成)."""
    if not ranking.rubric:
        return [], [], 0
    scale = Decimal(100) / max_total(ranking.rubric)
    bands = {label: 0 for _, label in SCORE_BANDS}
    categories, unfinished = [], 0
    for category, rows in ranking.categories.items():
        totals = []
        for row in rows:
            if org_codes is not None and row.project["org_code"] not in org_codes:
                continue
            if row.total is None:
                unfinished += 1
                continue
            points = _money(row.total * scale)
            totals.append(points)
            bands[next(label for floor, label in SCORE_BANDS
                       if floor is None or points >= floor)] += 1
        if totals:
            categories.append((category, len(totals), _money(sum(totals) / len(totals)),
                               max(totals)))
    return list(bands.items()), categories, unfinished
