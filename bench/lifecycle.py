"""The year of a project at scale (issue 10): 催报, review, status filters and the new admin
pages, on each storage backend side by side.

Per backend and size, on a fresh copy of the seed-demo base (bench/backends.base: `flask
seed-demo --submissions SIZE --seed 1`, i.e. a county's year of projects - applications,
reviews, approved projects, monthly reports with their gaps and late ones, acceptance
requests - and the rest public_demand and doctor_registration), one child process in the
deployment's environment measures, in this order:

(b) review: services.review.review of REVIEWS pending public_demand submissions (sampled from
    the newest 5 x REVIEWS), approve twice for every return (with a comment), as an admin -
    the whole service call, and the Store.update_submission write inside it (the revision
    check, the history entry, the status change: one durable write);
(c) the admin submissions list of public_demand filtered by review status: Store.
    query_submissions(form, statuses=..., offset 0, limit SUBMISSIONS_PER_PAGE), the newest
    page and the count, county-wide and for one township, for the list's default (every status
    but 已作废), each status (已通过 and 退回修改 are the few hundred (b) made) and no status
    filter (the list before issue 10); and Store.submission_counts, the counts per
    organization behind the list's 催报 line, with the default statuses and without;
(a) 催报 of monthly_report (issue 10's one report per organization, month and project):
    services.reporting.form_status for the month its page opens on (reporting.default_period)
    and services.reporting.matrix of the year, county-wide and for one township;
(d) the pages, through Flask's test client logged in as the bench admin (POST /login):
    /admin/forms/monthly_report/reporting (county, township), .../reporting/matrix, the page
    of the project with the most monthly reports (/admin/projects/<id>) and the public_demand
    list (filtered on 待审核; the default; one township); every answer must be 200, the 催报 page must list the missing
    organizations form_status gives and the project page the project's status.

Every figure is the latency of CALLS calls (REQUESTS pages) after WARMUP untimed ones, in
milliseconds: p50 / p95 / p99 / max. The store is warmed up as a server worker's is
(Store.warm_up). `--profile SECTION` runs that section once more under cProfile and prints its
top lines (sections: status, matrix, review, query, reporting_page, matrix_page,
project_page, list_page); the stats file goes to bench/out/profile/.

    .venv/bin/python bench/lifecycle.py [--backends tinydb,postgresql] [--sizes 100000]
        [--quick] [--reviews N] [--calls N] [--requests N] [--profile SECTION] [--json FILE]
"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

HERE = os.path.abspath(__file__)
REPORT_FORM = "monthly_report"
LIST_FORM = common.SUBMIT_FORM
DEFAULT_SIZES = (100000,)
WARMUP = 3
SECTIONS = ("status", "matrix", "review", "query", "reporting_page", "matrix_page",
            "project_page", "list_page")
PROFILE_DIR = os.path.join(common.OUT, "profile")
# What a page of the 催报 list shows of each missing organization: one row in this section.
MISSING_SECTION = ("<section data-missing", "</section>")


# ---------------------------------------------------------------- the child

def _timed(fn, calls, warmup=WARMUP):
    return common.timed(fn, calls, warmup)


def _profiled(section, label, fn, calls):
    """Run fn() ``calls`` times under cProfile; the top lines (cumulative and own time)."""
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        fn()
    profile.disable()
    os.makedirs(PROFILE_DIR, exist_ok=True)
    path = os.path.join(PROFILE_DIR, f"lifecycle-{label}-{section}.prof")
    profile.dump_stats(path)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return {"file": os.path.relpath(path, common.ROOT), "calls": calls, "top": out.getvalue()}


class _Sections:
    """Times the sections of one child run; profiles the one asked for."""

    def __init__(self, spec):
        self.spec = spec
        self.out = {}
        self.profiles = {}

    def measure(self, section, name, fn, calls, **extra):
        times, value = _timed(fn, calls)
        self.out.setdefault(section, {})[name] = {**common.summary_ms(times), **extra}
        if self.spec.get("profile") == section:
            self.profiles[f"{section}/{name}"] = _profiled(section, self.spec["label"], fn,
                                                           calls)
        return value


def child_measure(spec_json):
    """Child (deployment environment): every section, printed as one JSON object."""
    spec = json.loads(spec_json)
    import storage
    from services import reporting
    from services.orgs import OrgIndex

    store = storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                               os.environ["TAIZHANG_DATA_DIR"])
    sections = _Sections(spec)
    result = {"stored": store.count_submissions(),
              "per_form": {f: store.count_submissions(f) for f in (REPORT_FORM, LIST_FORM)},
              "projects": len(store.list_projects())}
    try:
        store.warm_up()
        index = OrgIndex(store.list_orgs())
        township = sorted(t["code"] for t in index.townships())[0]
        scopes = {"county": None, "township": index.below(township)}
        result["township"] = {"code": township, "name": index.get(township)["name"],
                              "orgs": len(scopes["township"])}
        result["review"] = _reviews(store, index, sections, spec)
        result["query"] = _queries(store, sections, scopes, spec)
        result["reporting"] = _reporting(store, index, sections, scopes, spec)
    finally:
        store.close()
    result["pages"] = _pages(sections, township, result, spec)
    result["timings"] = sections.out
    result["profiles"] = sections.profiles
    print(json.dumps(result, ensure_ascii=False, default=str))


def _reviews(store, index, sections, spec):
    """(b): approve / return pending public_demand submissions, timed whole and the write."""
    from services import review

    admin = {"username": common.ADMIN[0], "role": "admin", "org_code": None, "active": True}
    count = spec["reviews"]
    total, newest = store.query_submissions(LIST_FORM, statuses=["待审核"], limit=5 * count)
    rng = random.Random(common.SEED)
    chosen = rng.sample(newest, min(count, len(newest)))
    real_update = store.update_submission
    writes = []

    def timed_update(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real_update(*args, **kwargs)
        finally:
            writes.append(time.perf_counter() - started)

    store.update_submission = timed_update  # this instance only: the write inside review()
    calls, actions, errors = [], {"approve": 0, "return": 0}, []
    try:
        for n, doc in enumerate(chosen):
            action = "return" if n % 3 == 2 else "approve"
            comment = "请补充反映人联系方式和具体位置。" if action == "return" else ""
            started = time.perf_counter()
            try:
                stored, _project = review.review(store, admin, index, doc["receipt"], action,
                                                 comment)
            except Exception as exc:  # noqa: BLE001 - counted and reported, not hidden
                errors.append(f"{doc['receipt']}: {type(exc).__name__}: {exc}")
                continue
            calls.append(time.perf_counter() - started)
            actions[action] += 1
            if stored["status"] != review.ACTIONS[action][0]:
                errors.append(f"{doc['receipt']}: status {stored['status']} after {action}")
    finally:
        store.update_submission = real_update
    sections.out["review"] = {"review() call": common.summary_ms(calls),
                              "Store.update_submission": common.summary_ms(writes)}
    if spec.get("profile") == "review":
        more = iter(store.query_submissions(LIST_FORM, statuses=["待审核"], limit=count)[1])
        sections.profiles["review/approve"] = _profiled(
            "review", spec["label"],
            lambda: review.review(store, admin, index, next(more)["receipt"], "approve"),
            min(count, 200))
    return {"pending_before": total, "reviewed": len(calls), "actions": actions,
            "errors": errors[:10], "error_count": len(errors)}


def _queries(store, sections, scopes, spec):
    """(c): the newest page of public_demand by review status, county-wide and one
    township; beside it, the same without a status filter (what the list did before issue
    10), and the counts per organization of the list's 催报 line (Store.submission_counts)
    with the list's default statuses and without."""
    from services.submissions import export_statuses

    per_page = spec["per_page"]
    filters = {"未作废 (the list's default)": export_statuses(), "no status filter": None}
    filters.update({s: (s,) for s in ("待审核", "已通过", "退回修改", "已作废")})
    counts = {}
    for scope, codes in scopes.items():
        for name, statuses in filters.items():
            total, _page = sections.measure(
                "query", f"{scope}: {name}",
                lambda codes=codes, statuses=statuses: store.query_submissions(
                    LIST_FORM, org_codes=codes, offset=0, limit=per_page, statuses=statuses),
                spec["calls"])
            counts[f"{scope}: {name}"] = total
            sections.out["query"][f"{scope}: {name}"]["count"] = total
        for name, statuses in (("submission_counts, not 已作废", export_statuses()),
                               ("submission_counts, no status filter", None)):
            sections.measure("query", f"{scope}: {name}",
                             lambda codes=codes, statuses=statuses: store.submission_counts(
                                 LIST_FORM, org_codes=codes, statuses=statuses), spec["calls"])
    return {"per_page": per_page, "counts": counts}


def _reporting(store, index, sections, scopes, spec):
    """(a): 催报 of monthly_report for one month, and the year's matrix."""
    from services import reporting

    schema = store.get_form(REPORT_FORM)["schema"]
    today = reporting.today_local()
    period = reporting.default_period(schema, today)
    out = {"period": period, "year": today.year, "today": today.isoformat()}
    for scope, codes in scopes.items():
        status = sections.measure(
            "status", scope,
            lambda codes=codes: reporting.form_status(store, index, schema, period, codes, today),
            spec["calls"])
        out[f"status {scope}"] = {**status["counts"],
                                  "missing": [o["code"] for o in reporting.missing(status)]}
        table = sections.measure(
            "matrix", scope,
            lambda codes=codes: reporting.matrix(store, index, schema, today.year, codes, today),
            spec["calls"])
        out[f"matrix {scope}"] = {"orgs": len(table["orgs"]), "periods": len(table["periods"])}
    reports = {}
    for row in store.reported_periods(REPORT_FORM):
        if row.get("project_id") is not None:
            reports[row["project_id"]] = reports.get(row["project_id"], 0) + 1
    project_id = max(reports, key=lambda p: (reports[p], -p)) if reports else None
    out["project"] = {"id": project_id, "reports": reports.get(project_id, 0),
                      "status": store.get_project(project_id)["status"] if project_id else None}
    return out


def _pages(sections, township, result, spec):
    """(d): the pages through Flask's test client, logged in as the bench admin."""
    client = common.admin_client()
    reporting_url = f"/admin/forms/{REPORT_FORM}/reporting"
    project = result["reporting"]["project"]
    pages = {
        "reporting_page": {"county": (reporting_url, "county"),
                           "township": (f"{reporting_url}?township={township}", "township")},
        "matrix_page": {"county": (f"{reporting_url}/matrix", None),
                        "township": (f"{reporting_url}/matrix?township={township}", None)},
        "project_page": {f"project {project['id']}": (f"/admin/projects/{project['id']}", None)},
        "list_page": {"待审核": (f"/admin/forms/{LIST_FORM}/submissions?status=待审核", None),
                      "default": (f"/admin/forms/{LIST_FORM}/submissions", None),
                      "township": (f"/admin/forms/{LIST_FORM}/submissions?township={township}",
                                   None)},
    }
    checks = {}
    for section, urls in pages.items():
        for name, (url, scope) in urls.items():
            answers = []

            def get(url=url):
                response = client.get(url)
                answers.append(response.status_code)
                return response

            response = sections.measure(section, name, get, spec["requests"], url=url)
            body = response.get_data(as_text=True)
            problems = [s for s in answers if s != 200]
            if scope is not None:
                start = body.find(MISSING_SECTION[0])
                listed = body[start:body.find(MISSING_SECTION[1], start)].count("data-org=") \
                    if start >= 0 else -1
                wanted = len(result["reporting"][f"status {scope}"]["missing"])
                if listed != wanted:
                    problems.append(f"{listed} organizations listed as missing, {wanted} expected")
            if section == "project_page" and \
                    f"data-project-status>{project['status']}<" not in body:
                problems.append("the project's status is not on its page")
            checks[f"{section}/{name}"] = {"statuses": sorted(set(answers)),
                                           "problems": problems[:5]}
    return checks


# ---------------------------------------------------------------- the parent

def measure(backend, size, reviews, calls, requests, profile=None, rebuild=False):
    base, manifest = backends.base(backend, size, rebuild)
    copy = backends.fresh_copy(base, f"lifecycle-n{size}")
    try:
        from config import DEFAULTS

        spec = {"reviews": reviews, "calls": calls, "requests": requests, "profile": profile,
                "label": f"{backend}-n{size}",
                "per_page": DEFAULTS["SUBMISSIONS_PER_PAGE"]}
        busy = common.wait_quiet(f"lifecycle {backend} n{size}")
        started = time.perf_counter()
        result = copy.run_child([HERE, "--child", json.dumps(spec)], timeout=3600)
        result["wall_s"] = time.perf_counter() - started
        result["busy_before_pct"] = busy
        result["base_counts"] = manifest.get("counts")
        return result
    finally:
        backends.remove_copy(copy)


def run(backend_names, sizes, reviews, calls, requests, profile=None, rebuild=False):
    results = {"reviews": reviews, "calls": calls, "requests": requests, "warmup": WARMUP,
               "report_form": REPORT_FORM, "list_form": LIST_FORM, "backends": {}}
    for size in sizes:
        for backend in backend_names:
            results["backends"].setdefault(backend, {"sizes": {}})["sizes"][size] = measure(
                backend, size, reviews, calls, requests, profile, rebuild)
    return results


def _get(d, key):
    return d.get(str(key), d.get(key))


ROWS = (  # (section, name, title)
    ("status", "county", "催报 of one month: form_status, county"),
    ("status", "township", "— one township"),
    ("matrix", "county", "matrix of the year: reporting.matrix, county"),
    ("matrix", "township", "— one township"),
    ("review", "review() call", "review approve/return: services.review.review"),
    ("review", "Store.update_submission", "— its Store.update_submission write"),
    ("query", "county: 未作废 (the list's default)",
     "public_demand newest page by status, county: default (not 已作废)"),
    ("query", "county: no status filter", "— no status filter (before issue 10)"),
    ("query", "county: 待审核", "— 待审核"),
    ("query", "county: 已通过", "— 已通过"),
    ("query", "county: 退回修改", "— 退回修改"),
    ("query", "county: 已作废", "— 已作废 (none)"),
    ("query", "township: 未作废 (the list's default)", "— one township, default"),
    ("query", "township: no status filter", "— one township, no status filter"),
    ("query", "township: 待审核", "— one township, 待审核"),
    ("query", "township: 已通过", "— one township, 已通过"),
    ("query", "county: submission_counts, not 已作废",
     "the list's 催报 line: submission_counts of public_demand, county, not 已作废"),
    ("query", "county: submission_counts, no status filter", "— no status filter"),
    ("query", "township: submission_counts, not 已作废", "— one township, not 已作废"),
    ("query", "township: submission_counts, no status filter",
     "— one township, no status filter"),
    ("reporting_page", "county", "GET /admin/forms/monthly_report/reporting, county"),
    ("reporting_page", "township", "— ?township="),
    ("matrix_page", "county", "GET …/reporting/matrix, county"),
    ("matrix_page", "township", "— ?township="),
    ("project_page", None, "GET /admin/projects/<id>"),
    ("list_page", "待审核", "GET /admin/forms/public_demand/submissions?status=待审核"),
    ("list_page", "default", "— no status asked (the list's default: not 已作废)"),
    ("list_page", "township", "— ?township=, default statuses"),
)


def markdown(results):
    """Every figure (p50 / p95 / p99 ms), the backends side by side, each at every size."""
    names = list(results["backends"])
    sizes = sorted({int(s) for b in names for s in results["backends"][b]["sizes"]})
    per = {(b, s): _get(results["backends"][b]["sizes"], s) for b in names for s in sizes}
    cols = [f"{backends.LABELS[b]} {pg_k(s)}" for s in sizes for b in names]
    lines = ["| figure, ms: p50 / p95 / p99 | " + " | ".join(cols) + " |",
             "|" + " --- |" * (len(cols) + 1)]
    for section, name, title in ROWS:
        cells = []
        for s in sizes:
            for b in names:
                timings = per[(b, s)]["timings"].get(section, {})
                fig = timings.get(name) if name is not None else next(iter(timings.values()),
                                                                      None)
                cells.append("—" if fig is None else
                             f"{fig['p50']:.1f} / {fig['p95']:.1f} / {fig['p99']:.1f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {backends.LABELS[b]} {pg_k(s)}: {_what(per[(b, s)])}" for s in sizes
              for b in names]
    return "\n".join(lines)


def pg_k(size):
    return f"{size // 1000000}M" if size % 1000000 == 0 else \
        f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _what(r):
    rep = r["reporting"]
    county, town = rep["status county"], rep["status township"]
    bad = sum(len(c["problems"]) for c in r["pages"].values())
    return (f"{r['stored']:,} stored, {r['per_form'][REPORT_FORM]} monthly reports, "
            f"{r['projects']} projects; 催报 of {rep['period']}: {county['expected']} expected, "
            f"{county['已报']} reported + {county['迟报']} late, {county['逾期未报']} overdue, "
            f"{county['未到期']} not yet due; township {r['township']['name']}: "
            f"{town['expected']} expected; {r['review']['reviewed']} reviews "
            f"({r['review']['error_count']} errors); page problems {bad}")


def print_table(results):
    for backend, per in results["backends"].items():
        for size, r in per["sizes"].items():
            print(f"\n{backends.LABELS[backend]}, {int(size):,} stored ({r['wall_s']:.0f} s)")
            print(f"{'section':>16} {'figure':<44} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} "
                  f"{'max':>8}")
            for section, figures in r["timings"].items():
                for name, f in figures.items():
                    print(f"{section:>16} {name[:44]:<44} {f['n']:>4} {f['p50']:>8.2f} "
                          f"{f['p95']:>8.2f} {f['p99']:>8.2f} {f['max']:>8.2f}")
            print("  " + _what(r))
            for check, c in r["pages"].items():
                if c["problems"] or c["statuses"] != [200]:
                    print(f"  PROBLEM {check}: {c}")
            for name, p in r["profiles"].items():
                print(f"\n--- cProfile of {name} ({p['calls']} calls; {p['file']})\n{p['top']}")
    print("\n" + markdown(results))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child_measure(sys.argv[2])
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--reviews", type=int, help="review actions (default 300, --quick 60)")
    parser.add_argument("--calls", type=int, help="timed service calls per figure "
                        "(default 100, --quick 20)")
    parser.add_argument("--requests", type=int, help="timed pages per URL (default 50, "
                        "--quick 10)")
    parser.add_argument("--profile", choices=SECTIONS,
                        help="also run this section under cProfile and print its top lines")
    args = parser.parse_args()
    sizes = common.sizes_of(args) if args.sizes else [1000] if args.quick else list(DEFAULT_SIZES)
    results = run(backends.backends_of(args.backends), sizes,
                  args.reviews or (60 if args.quick else 300),
                  args.calls or (20 if args.quick else 100),
                  args.requests or (10 if args.quick else 50), args.profile, args.rebuild)
    print_table(results)
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
