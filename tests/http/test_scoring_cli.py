"""路演评审 from the command line (issue 11), both backends: set-rubric, import-scores (all rows
or none, every refused row named by its line) and ranking (the same table the page shows;
ties, the bottom 5%, the two-year rules)."""
import csv
import io

import pytest

from services import scoring
from services.orgs import org_index

JUDGES = ("张评委", "李评委")


def villages(store, n):
    return [o for o in store.list_orgs() if o["kind"] == "village"][:n]


def make_project(store, org, title, category="党建引领发展类", year=2026, kind="书记项目",
                 status="已立项", **extra):
    doc = {"title": title, "category": category, "kind": kind, "org_code": org["code"],
           "secretary": "王书记", "year": year, "steps": [], "status": "已申报",
           "application": f"app-{year}-{title}"}
    project, _ = store.add_project(doc)
    return store.update_project(project["id"], project["revision"],
                                {"status": status, **extra})


def write_csv(tmp_path, rows, header=("project", "judge", "criterion", "score"),
              encoding="utf-8"):
    path = tmp_path / "scores.csv"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def full_sheet(project_id, judge, values):
    return [(project_id, judge, spec["name"], value)
            for spec, value in zip(scoring.DEFAULT_RUBRIC, values)]


def run(runner, *args):
    return runner.invoke(args=list(args))


@pytest.fixture
def year_2026(store, runner):
    assert run(runner, "set-rubric", "2026", "--default").exit_code == 0
    orgs = villages(store, 4)
    return [make_project(store, org, f"项目{n}") for n, org in enumerate(orgs, start=1)]


def test_import_then_ranking_prints_the_pages_table(store, runner, tmp_path, year_2026):
    p1, p2, p3, p4 = year_2026
    rows = (full_sheet(p1["id"], JUDGES[0], (18, 36, 18, 18))
            + full_sheet(p1["id"], JUDGES[1], (19, 37, 17, 18.5))
            + full_sheet(p2["id"], JUDGES[0], (15, 30, 15, 15))
            + full_sheet(p3["id"], JUDGES[0], (15, 30, 15, 15))   # tied with p2
            + full_sheet(p4["id"], JUDGES[0], (10, 20, 10, 10)))
    result = run(runner, "import-scores", "2026", str(write_csv(tmp_path, rows)))
    assert result.exit_code == 0, result.output
    assert "已导入 20 条评分" in result.output
    printed = run(runner, "ranking", "2026", "--csv")
    assert printed.exit_code == 0
    table = list(csv.reader(io.StringIO(printed.output)))
    header, body = table[0], table[1:]
    by_title = {row[header.index("项目名称")]: row for row in body}
    # p1: means 18.5, 36.5, 17.5, 18.25 -> 90.75
    assert by_title["项目1"][header.index("总分")] == "90.75"
    assert by_title["项目1"][header.index("选题精准(均分)")] == "18.50"
    assert [by_title[t][header.index("名次")] for t in ("项目1", "项目2", "项目3", "项目4")] == [
        "1", "2", "2", "4"]
    assert by_title["项目2"][header.index("并列")] == "并列"
    assert by_title["项目1"][header.index("并列")] == ""
    # 4 ranked: ceil(0.2) = 1 -> the last one
    assert [t for t, row in by_title.items() if row[header.index("末位5%")] == "是"] == ["项目4"]
    # the same rows the page is built from
    ranking = scoring.year_ranking(store, 2026)
    headers, expected = scoring.ranking_table(ranking, org_index(store))
    assert printed.output.replace("\r\n", "\n") == scoring.ranking_csv(headers, expected).replace(
        "\r\n", "\n")
    text = run(runner, "ranking", "2026")
    assert "项目1" in text.output and "并列" in text.output and "末位 5%" in text.output


def test_bad_rows_are_named_and_nothing_is_imported(store, runner, tmp_path, year_2026):
    p1, p2, *_ = year_2026
    store.add_scores([{"year": 2026, "project": p2["id"], "judge": JUDGES[0],
                       "criterion": "选题精准", "score": 12}])
    rows = [(p1["id"], JUDGES[0], "选题精准", 18),            # line 2: fine
            (p1["id"], JUDGES[0], "推进实效", 41),            # line 3: over the max 40
            (p1["id"], JUDGES[0], "颜值", 5),                 # line 4: unknown criterion
            (9999, JUDGES[0], "选题精准", 5),                 # line 5: unknown project
            (p1["id"], JUDGES[0], "选题精准", 17),            # line 6: twice in the file
            (p2["id"], JUDGES[0], "选题精准", 11),            # line 7: already stored
            (p1["id"], JUDGES[1], "示范效应", "很好"),        # line 8: not a number
            (p1["id"], JUDGES[1], "群众满意", -1),            # line 9: negative
            (p1["id"], JUDGES[1], "推进实效", "")]            # line 10: empty
    result = run(runner, "import-scores", "2026", str(write_csv(tmp_path, rows)))
    assert result.exit_code == 1
    out = result.output
    for line in (3, 4, 5, 6, 7, 8, 9, 10):
        assert f"第 {line} 行" in out, (line, out)
    assert not any(l.startswith("第 2 行") for l in out.splitlines())
    assert "0 到 40" in out and "颜值" in out and "9999" in out and "与第 2 行重复" in out
    assert "已给项目" in out and "未导入任何评分" in out and "分数不能为空" in out
    assert len(store.list_scores(2026)) == 1  # only the one stored before


def test_chinese_headers_and_a_gbk_file_from_excel(store, runner, tmp_path, year_2026):
    p1 = year_2026[0]
    path = write_csv(tmp_path, [(p1["title"], "王评委", "选题精准", "19.5")],
                     header=("项目", "评委", "评分项", "分数"), encoding="gbk")
    result = run(runner, "import-scores", "2026", str(path))
    assert result.exit_code == 0, result.output
    (stored,) = store.list_scores(2026)
    assert (stored["project"], stored["judge"], stored["score"]) == (p1["id"], "王评委", "19.5")


def test_import_needs_a_rubric_and_known_columns(store, runner, tmp_path):
    path = write_csv(tmp_path, [(1, "j", "选题精准", 1)])
    result = run(runner, "import-scores", "2027", str(path))
    assert result.exit_code == 1 and "尚未设置评分标准" in result.output
    run(runner, "set-rubric", "2027", "--default")
    path = write_csv(tmp_path, [(1, "j", 1)], header=("project", "judge", "score"))
    result = run(runner, "import-scores", "2027", str(path))
    assert result.exit_code == 1 and "criterion" in result.output


def test_a_rubric_change_that_would_orphan_scores_is_refused(store, runner, tmp_path,
                                                             year_2026):
    store.add_scores([{"year": 2026, "project": year_2026[0]["id"], "judge": "j",
                       "criterion": "推进实效", "score": 35}])
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("选题精准 20\n推进实效 30\n", encoding="utf-8")
    result = run(runner, "set-rubric", "2026", str(rubric))
    assert result.exit_code == 1 and "最高分不能低于" in result.output
    rubric.write_text("选题精准 20\n", encoding="utf-8")
    result = run(runner, "set-rubric", "2026", str(rubric))
    assert result.exit_code == 1 and "不能删除" in result.output
    rubric.write_text("选题精准 20\n推进实效 40 2\n创新 10\n", encoding="utf-8")
    assert run(runner, "set-rubric", "2026", str(rubric)).exit_code == 0
    assert [c["weight"] for c in store.get_rubric(2026)["criteria"]] == [1, 2, 1]


def score_all(store, year, project, value):
    store.set_scores(year, project["id"], "j", {spec["name"]: value
                                                for spec in store.get_rubric(year)["criteria"]})


def test_bottom_two_years_in_a_row_and_the_weak_list(store, runner):
    for year in (2025, 2026):
        run(runner, "set-rubric", str(year), "--default")
    a, b, c = villages(store, 3)
    # 2025: a is last of its category; 2026: a last again, b last of another category
    for year in (2025, 2026):
        score_all(store, year, make_project(store, a, f"A{year}", year=year), 5)
        score_all(store, year, make_project(store, c, f"C{year}", year=year), 15)
    score_all(store, 2026, make_project(store, b, "B2026", category="其他类"), 5)
    # 书记领办事项: b without effect both years -> 软弱涣散; c only this year
    for year in (2025, 2026):
        make_project(store, b, f"B事项{year}", year=year, kind="书记领办事项",
                     category="民生实事", effect="无明显成效")
    make_project(store, c, "C事项2026", kind="书记领办事项", category="民生实事",
                 effect="无明显成效")
    ranking = scoring.year_ranking(store, 2026)
    assert ranking.bottom_orgs >= {a["code"], b["code"]}
    assert ranking.bottom_two_years == {a["code"]}
    assert ranking.no_effect_two_years == {b["code"]}
    text = run(runner, "ranking", "2026").output
    assert f"连续两年末位 5% 的组织: " in text
    line = next(l for l in text.splitlines() if l.startswith("连续两年末位"))
    assert a["name"] in line and b["name"] not in line
    weak = next(l for l in text.splitlines() if l.startswith("软弱涣散"))
    assert b["name"] in weak and c["name"] not in weak


def test_ranking_csv_keeps_codes_as_text_and_formulas_inert(store, runner, year_2026):
    p1 = year_2026[0]
    formula = make_project(store, villages(store, 5)[4], "=HYPERLINK(\"x\")")
    for project in (p1, formula):
        score_all(store, 2026, project, 10)
    table = list(csv.reader(io.StringIO(run(runner, "ranking", "2026", "--csv").output)))
    header, body = table[0], table[1:]
    row = next(r for r in body if r[header.index("项目编号")] == str(p1["id"]))
    assert row[header.index("组织代码")] == f'="{p1["org_code"]}"'
    titles = [r[header.index("项目名称")] for r in body]
    assert "'=HYPERLINK(\"x\")" in titles


def test_a_voided_project_is_neither_scored_nor_ranked(store, runner, year_2026):
    p1, p2, *_ = year_2026
    store.update_project(p2["id"], p2["revision"], {"void": True})
    assert p2["id"] not in [p["id"] for p in scoring.scorable_projects(store, 2026)]
    with pytest.raises(scoring.ScoreErrors):
        scoring.save_judge_scores(store, 2026, p2["id"], "j", {"选题精准": 1})
    output = run(runner, "ranking", "2026", "--csv").output
    assert p1["title"] in output and p2["title"] not in output
