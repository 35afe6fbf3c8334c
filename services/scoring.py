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
"""
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
