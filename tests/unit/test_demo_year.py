"""seed-demo's year of projects: what it makes is what the application itself would make."""
from storage import TinyStore, common

from seed import seed_demo, seed_first_start
from services import projects


def test_a_demo_year_of_projects(tmp_path):
    store = TinyStore(tmp_path / "taizhang.db")
    try:
        seed_first_start(store)
        assert seed_demo(store, 800, seed=7) == 800
        assert store.count_submissions() == 800
        found = store.list_projects()
        statuses = {p["status"] for p in found}
        assert {"实施中", "已申报"} <= statuses and statuses <= set(projects.STATUSES)
        orgs = {o["code"]: o for o in store.list_orgs()}
        for project in found:
            application = store.get_submission(project["application"])
            assert application["org_code"] == project["org_code"]
            steps = [e["to"] for e in project["history"]]
            # every move is a step the rules allow, dated in order
            assert all(b in projects.NEXT[a] for a, b in zip(steps[1:], steps[2:]))
            times = [common.parse_stamp(e["at"]) for e in project["history"]]
            assert times == sorted(times)
        reports = store.reported_periods("monthly_report")
        assert reports and len({(r["org_code"], r["slot"]) for r in reports}) == len(reports)
        by_id = {p["id"]: p for p in found}
        for report in reports:
            project = by_id[report["project_id"]]
            assert project["org_code"] == report["org_code"] and project["status"] in (
                "实施中", "已申请验收")
            assert orgs[report["org_code"]]["kind"] in ("village", "unit", "township")
        # a second run adds submissions but no second year
        assert seed_demo(store, 300, seed=8) == 300
        assert len(store.list_projects()) == len(found)
    finally:
        store.close()


def test_the_demo_year_is_scored_and_ranked(tmp_path):
    """seed-demo scores the year's project library (three judges, a few unscored), marks the
    best of the larger categories 优秀 and the 书记领办事项's effect: the ranking has rows."""
    import random

    from seed import seed_demo, seed_first_start
    from seed_data import demo_scores
    from services import scoring
    from storage import TinyStore

    store = TinyStore(tmp_path / "t.db")
    try:
        seed_first_start(store)
        seed_demo(store, 1200, seed=3)
        (year,) = {p["year"] for p in store.list_projects()}
        scores = store.list_scores(year)
        assert {s["judge"] for s in scores} == set(demo_scores.JUDGES)
        ranking = scoring.year_ranking(store, year)
        ranked = [r for _, r in ranking.rows() if r.rank is not None]
        assert len(ranked) >= 10 and any(r.project.get("excellent") for r in ranked)
        assert demo_scores.seed_scores(store, random.Random(1), year) == 0  # once only
    finally:
        store.close()
