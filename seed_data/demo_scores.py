"""The demo year's 路演评审 (issue 11): the default rubric, three judges' scores of every project
in the project library (a few left unscored by one judge, a few not at all: 评分未完成), the
best of each category marked 优秀, and the effect of the 书记领办事项 marked — so that the
ranking, the dashboard's score distribution and the 汇总表 have something to show."""
from services import scoring

JUDGES = ("评委甲", "评委乙", "评委丙")
UNSCORED_RATE = 0.05  # projects no judge has scored yet
PARTIAL_RATE = 0.1  # projects one judge has not scored yet


def seed_scores(store, rng, year):
    """Score ``year``'s projects unless any score exists; the number of scores stored."""
    if store.list_scores(year):
        return 0
    if scoring.rubric_of(store, year) is None:
        store.put_rubric(year, scoring.DEFAULT_RUBRIC, None)
    rubric = scoring.rubric_of(store, year)
    projects = scoring.scorable_projects(store, year)
    rows = []
    for project in projects:
        draw = rng.random()
        if draw < UNSCORED_RATE:
            continue
        quality = rng.uniform(0.55, 0.95)  # how good the project is, shared by the judges
        judges = JUDGES[:-1] if draw < UNSCORED_RATE + PARTIAL_RATE else JUDGES
        for judge in judges:
            for spec in rubric:
                share = min(1.0, max(0.0, quality + rng.uniform(-0.08, 0.08)))
                value = round(spec["max"] * share * 2) / 2  # half points, as panels give
                rows.append({"year": year, "project": project["id"], "judge": judge,
                             "criterion": spec["name"], "score": value, "source": "import"})
    stored = store.add_scores(rows) if rows else 0
    ranking = scoring.year_ranking(store, year)
    for ranked in ranking.categories.values():
        if ranked and ranked[0].rank == 1 and len(ranked) >= 3:
            scoring.set_excellent(store, ranked[0].project["id"], True, None)
    for project in projects:
        if project.get("kind") == scoring.MATTER_KIND:
            effect = rng.choices(scoring.EFFECTS, weights=(5, 3, 1))[0]
            scoring.set_effect(store, project["id"], effect, None)
    return stored
