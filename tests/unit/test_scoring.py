"""路演评审 arithmetic (services/scoring.py): means over judges, weighted totals, ties sharing a
rank, the bottom 5% of small categories and of a category of one, missing scores, the
two-year rules across a year boundary."""
from decimal import Decimal

import pytest

from services import scoring

RUBRIC = [{"name": "选题精准", "max": 20}, {"name": "推进实效", "max": 40},
          {"name": "示范效应", "max": 20}, {"name": "群众满意", "max": 20}]


def project(pid, category="党建引领发展类", org=None):
    return {"id": pid, "category": category, "org_code": org or f"V{pid}"}


def scores_for(pid, *judged):
    """scores_for(1, ("j1", 18, 35, 16, 17), ...) -> entries of project 1."""
    out = []
    for judge, *values in judged:
        for spec, value in zip(RUBRIC, values):
            out.append({"project": pid, "judge": judge, "criterion": spec["name"],
                        "score": value})
    return out


def test_means_over_judges_and_weighted_totals():
    ranked = scoring.score_project(RUBRIC, project(1), scores_for(
        1, ("j1", 18, 35, 16, 17), ("j2", 17, 36, 15, 18), ("j3", 16, 33, 17, 16)))
    assert ranked.means == {"选题精准": Decimal("17.00"), "推进实效": Decimal("34.67"),
                            "示范效应": Decimal("16.00"), "群众满意": Decimal("17.00")}
    assert ranked.total == Decimal("84.67") and ranked.judges == 3
    weighted = [{**c, "weight": 2 if c["name"] == "推进实效" else 1} for c in RUBRIC]
    assert scoring.score_project(weighted, project(1), scores_for(
        1, ("j1", 10, 20, 10, 10))).total == Decimal("70.00")


def test_ties_share_a_rank_and_the_next_skips():
    projects = [project(i) for i in (1, 2, 3, 4)]
    scores = (scores_for(1, ("j", 18, 35, 16, 17)) + scores_for(2, ("j", 17, 36, 15, 18))
              + scores_for(3, ("j", 18, 35, 16, 17)) + scores_for(4, ("j", 10, 20, 10, 10)))
    [rows] = scoring.rank_year(RUBRIC, projects, scores).values()
    assert [(r.project["id"], r.rank, str(r.total)) for r in rows] == [
        (1, 1, "86.00"), (2, 1, "86.00"), (3, 1, "86.00"), (4, 4, "50.00")]


@pytest.mark.parametrize("count,bottom", [(0, 0), (1, 1), (8, 1), (20, 1), (21, 2), (40, 2),
                                          (41, 3), (100, 5)])
def test_bottom_five_percent_is_at_least_one(count, bottom):
    assert scoring.bottom_count(count) == bottom


def test_the_bottom_of_a_small_category_and_of_a_category_of_one():
    projects = [project(i) for i in range(1, 9)] + [project(9, "党建文化建设类")]
    scores = [s for i in range(1, 9) for s in scores_for(i, ("j", 10 + i, 30, 15, 15))]
    scores += scores_for(9, ("j", 20, 40, 20, 20))
    ranking = scoring.rank_year(RUBRIC, projects, scores)
    development = ranking["党建引领发展类"]
    assert [r.project["id"] for r in development if r.bottom] == [1]  # 5% of 8: one
    assert [r.project["id"] for r in ranking["党建文化建设类"] if r.bottom] == [9]  # alone
    assert scoring.bottom_orgs(ranking) == {"V1", "V9"}


def test_a_tie_at_the_bottom_takes_both():
    projects = [project(i) for i in (1, 2, 3)]
    scores = (scores_for(1, ("j", 20, 40, 20, 20)) + scores_for(2, ("j", 10, 20, 10, 10))
              + scores_for(3, ("j", 10, 20, 10, 10)))
    rows = scoring.rank_year(RUBRIC, projects, scores)["党建引领发展类"]
    assert {r.project["id"] for r in rows if r.bottom} == {2, 3}


def test_missing_scores():
    projects = [project(1), project(2), project(3)]
    partial = [s for s in scores_for(2, ("j", 15, 30, 15, 15)) if s["criterion"] != "群众满意"]
    # one judge missed a criterion of project 1: the others' mean counts
    scores = scores_for(1, ("j1", 18, 35, 16, 17)) + [
        s for s in scores_for(1, ("j2", 10, 30, 10, 10)) if s["criterion"] != "示范效应"]
    rows = scoring.rank_year(RUBRIC, projects, scores + partial)["党建引领发展类"]
    first = next(r for r in rows if r.project["id"] == 1)
    assert first.means["示范效应"] == Decimal("16.00") and first.rank == 1
    unfinished = [r for r in rows if r.total is None]
    assert [r.project["id"] for r in unfinished] == [2, 3]  # a criterion unscored / nothing
    assert all(r.rank is None and not r.bottom for r in unfinished)
    assert first.bottom  # the only ranked project is its category's bottom too


@pytest.mark.parametrize("criterion,score", [("选题精准", 21), ("选题精准", -1),
                                             ("创新", 10), ("推进实效", "四十"),
                                             ("推进实效", "NaN")])
def test_scores_the_rubric_refuses(criterion, score):
    with pytest.raises(scoring.ScoreError):
        scoring.check_score(RUBRIC, criterion, score)


def test_scores_within_the_rubric():
    assert scoring.check_score(RUBRIC, "推进实效", "40") == Decimal(40)
    assert scoring.check_score(RUBRIC, "选题精准", 0) == Decimal(0)


def test_two_years_in_a_row_across_a_year_boundary():
    by_year = {2025: {"V1", "V2"}, 2026: {"V2", "V3"}, 2027: {"V3"}}
    assert scoring.two_years_in_a_row(by_year[2026], by_year[2025]) == {"V2"}
    assert scoring.two_years_in_a_row(by_year[2027], by_year[2026]) == {"V3"}
    assert scoring.two_years_in_a_row(by_year[2025], set()) == set()  # no year before


def test_score_distribution_bands_on_a_100_point_scale_within_scope():
    rubric = [{"name": "a", "max": 50, "weight": 1}]  # max 50: totals are doubled
    projects = [{"id": i, "category": cat, "org_code": org}
                for i, (cat, org) in enumerate([("甲", "v1"), ("甲", "v2"), ("乙", "v1"),
                                                ("乙", "v3")], start=1)]
    scores = [{"project": 1, "judge": "j", "criterion": "a", "score": 46},   # 92
              {"project": 2, "judge": "j", "criterion": "a", "score": 29.5},  # 59
              {"project": 3, "judge": "j", "criterion": "a", "score": 40}]   # 80; 4 unscored
    from services.scoring import YearRanking, score_distribution

    ranking = YearRanking(2026, rubric, scoring.rank_year(rubric, projects, scores), set(), set(),
                          set(), [])
    bands, categories, unfinished = score_distribution(ranking)
    assert dict(bands) == {"90 分及以上": 1, "80–89 分": 1, "70–79 分": 0, "60–69 分": 0,
                           "60 分以下": 1}
    assert categories == [("乙", 1, Decimal("80.00"), Decimal("80.00")),
                          ("甲", 2, Decimal("75.50"), Decimal("92.00"))]
    assert unfinished == 1
    bands, categories, unfinished = score_distribution(ranking, org_codes={"v1"})
    assert sum(n for _, n in bands) == 2 and unfinished == 0
    assert score_distribution(YearRanking(2026, None, {}, set(), set(), set(), [])) == (
        [], [], 0)
