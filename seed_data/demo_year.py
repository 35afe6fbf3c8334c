"""A county's year of 书记项目 as demo data (seed-demo): applications that opened projects, the
township's pre-review and the county's approval, monthly reports naming the projects (with
the gaps and late ones a real county has, so 催报 has something to chase), acceptance
requests at the year's end.

Everything is written through the Store as the application writes it (import_submissions
with periods, slots and project ids; add_project; update_project/update_submission with
history), so what the pages show of demo data is what they would show of real data.
"""
from contextlib import contextmanager
from datetime import datetime, timedelta

from seed_data.demo_answers import fake_answers
from services import periods, projects
from storage import common

APPLICATION_FORMS = {"village": ("apply_development", "apply_culture", "apply_reform"),
                     "unit": ("apply_organ",), "township": ("apply_reform",)}
LEADER_FORM = "leader_matter"
REPORT_FORM = "monthly_report"
ACCEPTANCE_FORM = "acceptance"
REPORT_RATE = 0.85          # a month's report is filed this often
LATE_RATE = 0.15            # ... and this often after the due day
OUTCOMES = (("已立项", 0.78), ("预审通过", 0.06), ("已申报", 0.06), ("退回修改", 0.05),
            ("已否决", 0.05))


def _at(day, rng, now):
    moment = datetime(day.year, day.month, day.day, 8, 30).astimezone() + timedelta(
        seconds=rng.random() * 9 * 3600)
    return min(moment, now - timedelta(minutes=5))


@contextmanager
def _clock(moment):
    """The Store's clock set to ``moment`` meanwhile, so that a demo review is dated when it
    would have happened (a command's single thread: nothing else reads the clock)."""
    real = common.now
    common.now = lambda: moment
    try:
        yield
    finally:
        common.now = real


def _schemas(store):
    return {f["id"]: f["schema"] for f in store.list_forms()}


def applications(store, rng, now, budget):
    """Import one application per organization of each application form's audience (and a
    书记领办事项 for a fifth of the villages), dated January–February; the number imported."""
    schemas = _schemas(store)
    year = now.year
    docs = []
    for org in store.list_orgs():
        forms = list(APPLICATION_FORMS.get(org["kind"], ()))
        if not forms:
            continue
        chosen = [rng.choice(forms)]
        if org["kind"] == "village" and rng.random() < 0.2:
            chosen.append(LEADER_FORM)
        for form_id in chosen:
            schema = schemas.get(form_id)
            if schema is None or not periods.in_audience(schema, org):
                continue
            day = datetime(year, 1, 10).date() + timedelta(days=rng.randrange(50))
            at = _at(day, rng, now)
            if at > now:
                continue
            answers = fake_answers(schema, rng)
            _steps_this_year(schema, answers, year, rng)
            period = periods.period_of(schema, answers, at)
            docs.append({"form_id": form_id, "form_version": schema["version"],
                         "org_code": org["code"], "answers": answers,
                         "submitted_at": at.isoformat(timespec="seconds"),
                         "submission_id": f"demo-{year}-{form_id}-{org['code']}",
                         "period": period, "slot": periods.slot_of(schema, period)})
    docs.sort(key=lambda d: d["submitted_at"])
    docs = docs[:budget]
    return store.import_submissions(docs) if docs else 0


def _steps_this_year(schema, answers, year, rng):
    """Give an application's 实施步骤 months of the demo year, in order."""
    spec = projects.project_spec(schema) or {}
    steps = answers.get(spec.get("steps"))
    if isinstance(steps, list):
        months = sorted(rng.sample(range(3, 13), min(len(steps), 10)))
        for row, month in zip(steps, months):
            if isinstance(row, dict) and "month" in row:
                row["month"] = f"{year}-{month:02d}"


def review_year(store, rng, now):
    """Open the imported applications' projects and take them through the year: pre-review,
    approval (or return, rejection), 实施中. Returns the projects in 实施中."""
    schemas = _schemas(store)
    year = now.year
    running = []
    for form_id, schema in schemas.items():
        if projects.role_of(schema) != "application":
            continue
        _n, docs = store.query_submissions(form_id)
        for doc in reversed(docs):
            if not doc["submission_id"].startswith(f"demo-{year}-"):
                continue
            project = projects.open_for_application(store, schema, doc)
            outcome = _outcome(rng)
            project = _advance(store, project, doc, outcome, rng, now)
            if project["status"] == "已立项":
                running.append(project)
    return running


def _outcome(rng):
    draw, total = rng.random(), 0.0
    for status, share in OUTCOMES:
        total += share
        if draw < total:
            return status
    return OUTCOMES[0][0]


def _advance(store, project, doc, outcome, rng, now):
    """Move a demo project to ``outcome`` through the steps the rules allow (history kept)."""
    path = {"已申报": [], "退回修改": ["退回修改"], "预审通过": ["预审通过"],
            "已立项": ["预审通过", "已立项"], "已否决": ["预审通过", "已否决"]}[outcome]
    comments = {"退回修改": "实施步骤请细化到月，明确责任人。", "预审通过": "同意报县委组织部立项评审。",
                "已立项": "经立项评审，同意立项。", "已否决": "选题与本村实际结合不紧，不予立项。"}
    moment = common.parse_stamp(doc["submitted_at"])
    for to in path:
        moment = min(moment + timedelta(days=rng.randrange(3, 20), hours=rng.randrange(8)), now)
        with _clock(moment):
            project = _step(store, project, doc, to, comments[to])
    return project


def _step(store, project, doc, to, comment):
    """One step of a demo project (and of its application's review, at that stage)."""
    changes = {"status": to, "user": "demo",
               "event": {"action": "transition", "from": project["status"], "to": to,
                         "comment": comment}}
    review_status = projects.REVIEW_STATUS_OF.get(to)
    if review_status and project["status"] in projects.APPLICATION_STAGE:
        doc = store.get_submission(doc["receipt"])
        _sub, project = store.update_submission(doc["receipt"], doc["revision"], {
            "status": review_status, "user": "demo",
            "event": {"action": "approve" if review_status == "已通过" else "return",
                      "from": doc["status"], "to": review_status, "comment": comment}},
            project=(project["id"], project["revision"], changes))
        return project
    return store.update_project(project["id"], project["revision"], changes)


def reports(store, running, rng, now, budget):
    """Monthly reports of the running projects from the month of their approval to last
    month (REPORT_RATE of the months; LATE_RATE of those after the due day), and acceptance
    requests for a third of them in November–December; the number imported."""
    schemas = _schemas(store)
    report, acceptance = schemas.get(REPORT_FORM), schemas.get(ACCEPTANCE_FORM)
    if report is None:
        return 0
    field = projects.project_field(report)
    docs = []
    for project in running:
        approved = next(e["at"] for e in project["history"] if e["to"] == "已立项")
        for month in range(int(approved[5:7]), now.month):
            if rng.random() > REPORT_RATE:
                continue
            period = f"{now.year}-{month:02d}"
            due = periods.due_date(periods.period_spec(report), period)
            day = due - timedelta(days=rng.randrange(1, 5)) if rng.random() > LATE_RATE \
                else due + timedelta(days=rng.randrange(1, 10))
            at = _at(day, rng, now)
            if at > now:
                continue
            answers = fake_answers(report, rng)
            answers.update({"report_month": period, field: str(project["id"]),
                            "progress": min(100, (month - 2) * 10 + rng.randrange(0, 10))})
            docs.append(_doc(report, project, answers, at, period,
                             periods.slot_of(report, period, project["id"])))
        if acceptance is not None and now.month >= 11 and rng.random() < 0.33:
            day = datetime(now.year, 11, 1).date() + timedelta(days=rng.randrange(25))
            at = _at(day, rng, now)
            if at <= now:
                answers = fake_answers(acceptance, rng)
                answers[projects.project_field(acceptance)] = str(project["id"])
                period = periods.period_of(acceptance, answers, at)
                docs.append(_doc(acceptance, project, answers, at, period,
                                 periods.slot_of(acceptance, period, project["id"])))
    docs.sort(key=lambda d: d["submitted_at"])
    docs = docs[:budget]
    count = store.import_submissions(docs) if docs else 0
    _after_reports(store, docs[:count], schemas)
    return count


def _doc(schema, project, answers, at, period, slot):
    return {"form_id": schema["id"], "form_version": schema["version"],
            "org_code": project["org_code"], "answers": answers,
            "submitted_at": at.isoformat(timespec="seconds"), "period": period, "slot": slot,
            "project_id": project["id"]}


def _after_reports(store, docs, schemas):
    """What the imported reports and acceptance requests do to their projects (as a submit
    does: the first report starts a project, an acceptance request asks for acceptance)."""
    seen = set()
    for doc in docs:
        key = (doc["form_id"], doc["project_id"])
        if key in seen:
            continue
        seen.add(key)
        _n, stored = store.query_submissions(doc["form_id"], org_codes={doc["org_code"]})
        first = min((d for d in stored if d.get("project_id") == doc["project_id"]),
                    key=lambda d: d["id"], default=None)
        if first is not None:
            with _clock(common.parse_stamp(first["submitted_at"])):
                projects.after_report(store, schemas[doc["form_id"]], first)


def seed_year(store, rng, budget, now=None):
    """The demo year within ``budget`` submissions; the number of submissions added (0 when
    the deployment has projects already or lacks the built-in forms)."""
    now = now or common.now()
    if store.list_projects() or REPORT_FORM not in _schemas(store):
        return 0
    added = applications(store, rng, now, budget)
    running = review_year(store, rng, now)
    return added + reports(store, running, rng, now, budget - added)
