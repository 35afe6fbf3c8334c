"""First-start seeding: built-in form schemas and the demo organization tree.

Idempotent and additive: a form id that already exists is never touched (an admin may have
edited it), and the demo organizations are only loaded into a database that has none.
"""
import os
import random
from datetime import datetime, timedelta

from seed_data import demo_demands, demo_scores, demo_year
from seed_data.demo_answers import fake_answers
from services import orgs
from services.formdefs import install_builtin_forms

DEMO_ORGS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed_data",
                             "demo_orgs.csv")


def seed_first_start(store, demo_orgs=True):
    """Install missing built-in forms and, on an empty database, the demo org tree.

    Returns {"forms": [ids added], "orgs": number of orgs added}.
    """
    added = install_builtin_forms(store)
    org_count = 0
    if demo_orgs and not store.list_orgs():
        with open(DEMO_ORGS_CSV, "rb") as f:
            org_count = len(orgs.import_csv(store, f.read()))
    return {"forms": added, "orgs": org_count}


# How often each built-in form is filled in a county year: monthly reports dominate.
DEMO_FORM_WEIGHTS = {"monthly_report": 40, "public_demand": 20, "leader_matter": 8,
                     "acceptance": 6, "doctor_registration": 4}
DEFAULT_FORM_WEIGHT = 5


def demo_submissions(store, count, rng, days=330, now=None, exclude=()):
    """Yield `count` realistic submissions (oldest first) over the last `days` days.

    They spread over the current version of every stored form (but those in ``exclude``) and
    every village, unit and township, with answers from seed_data.demo_answers (photos
    excepted).
    """
    forms = [f["schema"] for f in store.list_forms() if f["id"] not in exclude]
    orgs = [o for o in store.list_orgs() if o["kind"] != "county"]
    if not forms or not orgs:
        raise ValueError("no forms or organizations to fill: run `flask --app app init` first")
    weights = [DEMO_FORM_WEIGHTS.get(f["id"], DEFAULT_FORM_WEIGHT) for f in forms]
    now = now or datetime.now().astimezone()
    moments = [now - timedelta(seconds=rng.random() * days * 86400) for _ in range(count)]
    # Office hours are busier than nights.
    moments = sorted(m + timedelta(hours=8) if m.hour < 7 and m + timedelta(hours=8) < now
                     else m for m in moments)
    for moment in moments:
        schema = rng.choices(forms, weights)[0]
        org_code = rng.choice(orgs)["code"]
        answers = fake_answers(schema, rng)
        if schema.get("workflow") == "demand" and "collect_date" in answers:
            answers["collect_date"] = moment.date().isoformat()  # collected the day it is sent
        yield {"form_id": schema["id"], "form_version": schema["version"],
               "org_code": org_code, "answers": answers,
               "submitted_at": moment.isoformat(timespec="seconds")}


# Below this many demo submissions no year of projects is made (a test's handful of random
# submissions stays random); above it, at most half of them are the year's applications,
# reports and acceptance requests (seed_data.demo_year).
DEMO_YEAR_MIN = 200


def seed_demo(store, count, seed=None):
    """Add `count` demo submissions to the store; returns how many were added. With enough
    of them (and no projects yet) they include a county's year of projects: applications,
    reviewed and approved projects, monthly reports with gaps, acceptance requests; and then
    (DEMO_YEAR_MIN or more) the 群众诉求 among them are handled: 研判, 办结, 回访
    (seed_data.demo_demands), and the year's projects scored by three judges
    (seed_data.demo_scores)."""
    rng = random.Random(seed)
    year = demo_year.seed_year(store, rng, count // 2) if count >= DEMO_YEAR_MIN else 0
    # The lifecycle forms are filled by the year only: random ones would make a muddle of
    # periods and projects.
    exclude = {f["id"] for f in store.list_forms()
               if "project" in f["schema"] or "period" in f["schema"]} if year else ()
    rest = count - year
    added = year + (store.import_submissions(demo_submissions(store, rest, rng, exclude=exclude))
                    if rest else 0)
    if count >= DEMO_YEAR_MIN:
        demo_demands.seed_cases(store, rng)
    if year:
        for project_year in sorted({p["year"] for p in store.list_projects()}):
            demo_scores.seed_scores(store, rng, project_year)
    return added
