"""The dashboard (issue 11) at scale: services.dashboard and GET /admin/dashboard, on each
storage backend side by side.

Per backend and size, on a fresh copy of the seed-demo base (bench/backends.base: `flask
seed-demo --submissions SIZE --seed 1`: a county's year of projects - applications, reviews,
approved projects, monthly reports with their gaps and late ones, acceptance requests - and
the rest public_demand and doctor_registration), one child process in the deployment's
environment (the Store warmed up and the garbage collector frozen, as a server worker's,
db.py) measures:

(a) services.dashboard.dashboard as the county admin: the county, and one township (the
    first by code, as bench/lifecycle.py);
(b) each panel function of services.dashboard.PANELS alone on a fresh Context (so the
    projects and forms are read again: each panel's figure includes that read), county-wide:
    where the time goes;
(c) the page through Flask's test client logged in as the bench admin: GET /admin/dashboard
    and ?org=<township>; every answer must be 200 and its tables must hold the numbers (a) gave.

Every figure is the latency of CALLS calls (REQUESTS pages) after WARMUP untimed ones, in
milliseconds: p50 / p95 / p99 / max. The issue's bar: 300 ms at 100k submissions.

The demo base has one county year of 42 projects and 227 monthly reports, whatever its size:
what the dashboard reads (the year's projects, the monthly reports) does not grow with the
public_demand fills that make up the rest. ``--heavy`` measures instead a county where it
does: HEAVY_TOWNSHIPS x HEAVY_VILLAGES villages and HEAVY_UNITS units, one project per
organization per year, and SIZE submissions that are all monthly reports (one per project and
month, HEAVY_RATE of them filed, a fifth of those late), as many years back as SIZE takes (the
newest SIZE reports are kept; 100k: 27 years, 11,610 projects) - written straight through the Store (answers reduced to the month
and the project: the dashboard never reads answers). Its bases: bench/out/dashboard-heavy/
n<SIZE>/ (TinyDB) and the database heavy_n<SIZE> (PostgreSQL).

    .venv/bin/python bench/dashboard.py [--backends tinydb,postgresql] [--sizes 100000]
        [--heavy] [--quick] [--calls N] [--requests N] [--json FILE]
"""
import gc
import json
import os
import random
import re
import shutil
import sys
import time
from datetime import date, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

HERE = os.path.abspath(__file__)
DEFAULT_SIZES = (100000,)
WARMUP = 3
TARGET_MS = 300
ADMIN_USER = {"username": common.ADMIN[0], "role": "admin", "org_code": None, "active": True}
CELL_RE = re.compile(r'<tr data-label="([^"]*)" data-value="([^"]*)">')
HEAVY_TOWNSHIPS, HEAVY_VILLAGES, HEAVY_UNITS = 20, 20, 30
HEAVY_RATE = 0.9
HEAVY_CATEGORIES = ("党建改革创新类", "党建引领发展类", "机关党建提升类", "党建文化建设类")
# The current year's projects: where each stands (the rest of the years are 已验收).
HEAVY_NOW = (("实施中", 0.6), ("已申请验收", 0.15), ("已立项", 0.1), ("已申报", 0.1),
             ("已否决", 0.05))


# ---------------------------------------------------------------- the child

def _timed(fn, calls, warmup=WARMUP):
    return common.timed(fn, calls, warmup)


def child_measure(spec_json):
    """Child (deployment environment): every figure, printed as one JSON object."""
    spec = json.loads(spec_json)
    import storage
    from services import dashboard
    from services.orgs import OrgIndex
    from services.reporting import today_local

    store = storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                               os.environ["TAIZHANG_DATA_DIR"])
    timings, values = {}, {}
    try:
        store.warm_up()
        gc.freeze()  # what a server worker does after opening (db.py)
        index = OrgIndex(store.list_orgs())
        today = today_local()
        township = sorted(t["code"] for t in index.townships())[0]
        result = {"stored": store.count_submissions(), "projects": len(store.list_projects()),
                  "monthly_reports": store.count_submissions("monthly_report"),
                  "township": {"code": township, "name": index.get(township)["name"],
                               "orgs": len(index.below(township))},
                  "year": today.year, "today": today.isoformat()}
        for scope, code in (("county", None), ("township", township)):
            times, data = _timed(lambda code=code: dashboard.dashboard(
                store, index, ADMIN_USER, today.year, code, today), spec["calls"])
            timings[f"service {scope}"] = common.summary_ms(times)
            values[scope] = data
        for panel in dashboard.PANELS:
            def one(panel=panel):
                ctx = dashboard.Context(dashboard.ReadOnce(store), index, ADMIN_USER,
                                        today.year, today, {"code": None}, None)
                return panel(ctx)
            times, _found = _timed(one, spec["calls"])
            timings[f"panel {panel.__name__}"] = common.summary_ms(times)
    finally:
        store.close()
    result["figures"] = {scope: {p["key"]: [list(r) for r in p["rows"]] for p in data["panels"]}
                         for scope, data in values.items()}
    result["pages"] = _pages(timings, township, values, spec)
    result["timings"] = timings
    print(json.dumps(result, ensure_ascii=False, default=str))


def _pages(timings, township, values, spec):
    """(c): the page through Flask's test client, logged in as the bench admin."""
    client = common.admin_client()
    checks = {}
    for scope, url in (("county", "/admin/dashboard"),
                       ("township", f"/admin/dashboard?org={township}")):
        statuses = []

        def get(url=url):
            response = client.get(url)
            statuses.append(response.status_code)
            return response

        times, response = _timed(get, spec["requests"])
        timings[f"page {scope}"] = {**common.summary_ms(times), "url": url}
        shown = CELL_RE.findall(response.get_data(as_text=True))
        wanted = [(str(r[0]), "" if r[1] is None else str(r[1]))
                  for p in values[scope]["panels"] for r in p["rows"]]
        problems = [f"HTTP {s}" for s in sorted(set(statuses)) if s != 200]
        if shown != wanted:
            problems.append(f"the page's tables differ from the service: {shown[:5]} ...")
        checks[scope] = {"statuses": sorted(set(statuses)), "problems": problems}
    return checks


# ---------------------------------------------------------------- the heavy county

def _heavy_orgs():
    orgs = [{"code": "H", "name": "重载县", "parent_code": None, "kind": "county"}]
    for t in range(1, HEAVY_TOWNSHIPS + 1):
        town = f"H{t:02d}"
        orgs.append({"code": town, "name": f"第{t}镇", "parent_code": "H", "kind": "township"})
        orgs += [{"code": f"{town}{v:02d}", "name": f"第{t}镇{v}村", "parent_code": town,
                  "kind": "village"} for v in range(1, HEAVY_VILLAGES + 1)]
    orgs += [{"code": f"HU{u:02d}", "name": f"县直单位{u}", "parent_code": "H", "kind": "unit"}
             for u in range(1, HEAVY_UNITS + 1)]
    return orgs


def _stamp(day, rng):
    return datetime(day.year, day.month, day.day, 8 + rng.randrange(10),
                    rng.randrange(60)).astimezone().isoformat()


def fill_heavy(store, size, today):
    """The heavy county (module docstring) in an empty Store; a summary of what it holds."""
    from seed import seed_first_start
    from services import accounts, periods

    seed_first_start(store, demo_orgs=False)
    orgs = _heavy_orgs()
    store.upsert_orgs(orgs)
    filers = [o["code"] for o in orgs if o["kind"] in ("village", "unit")]
    schema = store.get_form("monthly_report")["schema"]
    rng = random.Random(common.SEED)
    # enough years for ``size`` reports (about 9 a year per organization); the oldest are cut
    back = -(-size // (len(filers) * 9))
    years = list(range(today.year - back, today.year + 1))
    projects, reports = 0, []
    for year in years:
        current = year == today.year
        for n, org in enumerate(filers):
            status = rng.choices([s for s, _ in HEAVY_NOW], [w for _, w in HEAVY_NOW])[0] \
                if current else "已验收"
            approved = date(year, 1 + rng.randrange(2), 10)
            history = [{"at": _stamp(date(year, 1, 5), rng), "user": None, "action": "submit",
                        "from": None, "to": "已申报", "comment": ""}]
            if status not in ("已申报", "已否决"):
                history.append({"at": _stamp(approved, rng), "user": "bench",
                                "action": "transition", "from": "预审通过", "to": "已立项",
                                "comment": ""})
            if status == "已验收":
                history.append({"at": _stamp(date(year, 12, 20), rng), "user": "bench",
                                "action": "transition", "from": "已申请验收", "to": "已验收",
                                "comment": ""})
            project, _new = store.add_project({
                "title": f"{year}年项目{n}", "category": HEAVY_CATEGORIES[n % 4],
                "kind": "书记项目", "org_code": org, "secretary": "张三", "year": year,
                "steps": [], "status": status, "application": f"H-{year}-{n}",
                "form_id": "apply_development", "history": history})
            projects += 1
            if len(history) < 2:
                continue
            last = 12 if not current else today.month - 1
            for month in range(approved.month, last + 1):
                if rng.random() > HEAVY_RATE:
                    continue
                period = f"{year}-{month:02d}"
                due_year, due_month = (year + 1, 1) if month == 12 else (year, month + 1)
                day = date(due_year, due_month, 1 + rng.randrange(4 if rng.random() < 0.8 else 9))
                reports.append({"form_id": "monthly_report", "form_version": schema["version"],
                                "org_code": org, "submitted_at": _stamp(day, rng),
                                "answers": {"report_month": period, "project": str(project["id"])},
                                "submission_id": f"h-{project['id']}-{period}",
                                "period": period, "project_id": project["id"],
                                "slot": periods.slot_of(schema, period, project["id"])})
    reports.sort(key=lambda r: r["submitted_at"])
    stored = store.import_submissions(reports[-size:])
    accounts.create_user(store, common.ADMIN[0], common.ADMIN[1], "admin")
    return {"size": size, "stored": stored, "projects": projects, "years": [years[0], years[-1]],
            "orgs": len(orgs)}


def heavy_base(backend, size, rebuild=False):
    """(Deployment, manifest) of the heavy county with ``size`` monthly reports."""
    from services.reporting import today_local

    today = today_local()
    fingerprint = common.content_fingerprint("dashboard-heavy", size, HEAVY_TOWNSHIPS,
                                             HEAVY_VILLAGES, HEAVY_UNITS, HEAVY_RATE,
                                             time.strftime("%Y-%m"))

    def build(deployment):
        common.log(f"building the heavy county ({backend}, {size} monthly reports) ...")
        if backend == "postgresql":
            deployment.flask("init", "--no-demo")
        with deployment.open_store() as store:
            return fill_heavy(store, size, today)

    if backend == "postgresql":
        return backends.pg_base(f"heavy_n{size}", build, fingerprint, rebuild)
    folder = os.path.join(common.OUT, "dashboard-heavy", f"n{size}")
    manifest = common.read_manifest(folder)
    fingerprint += "-" + common.storage_fingerprint()
    deployment = backends.Deployment("tinydb", folder)
    if rebuild or not manifest or manifest.get("fingerprint") != fingerprint:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        manifest = {**build(deployment), "fingerprint": fingerprint}
        common.write_manifest(folder, manifest)
    return deployment, manifest


# ---------------------------------------------------------------- the parent

def measure(backend, size, calls, requests, rebuild=False, heavy=False):
    base, manifest = (heavy_base if heavy else backends.base)(backend, size, rebuild)
    copy = backends.fresh_copy(base, f"dashboard-n{size}")
    try:
        spec = {"calls": calls, "requests": requests}
        busy = common.wait_quiet(f"dashboard {backend} n{size}")
        started = time.perf_counter()
        result = copy.run_child([HERE, "--child", json.dumps(spec)], timeout=3600)
        result["wall_s"] = time.perf_counter() - started
        result["busy_before_pct"] = busy
        result["base_counts"] = manifest.get("counts")
        return result
    finally:
        backends.remove_copy(copy)


def run(backend_names, sizes, calls, requests, rebuild=False, heavy=False):
    results = {"calls": calls, "requests": requests, "warmup": WARMUP, "heavy": heavy,
               "backends": {}, "machine": common.machine_info()}
    for size in sizes:
        for backend in backend_names:
            results["backends"].setdefault(backend, {"sizes": {}})["sizes"][size] = measure(
                backend, size, calls, requests, rebuild, heavy)
    return results


ROWS = (  # (figure, title); every "panel <function>" figure is listed after the service's
    ("service county", "services.dashboard.dashboard, county"),
    ("service township", "— one township"),
    ("page county", "GET /admin/dashboard, county"),
    ("page township", "— ?org=<township>"),
)


def _get(d, key):
    return d.get(str(key), d.get(key))


def pg_k(size):
    return f"{size // 1000000}M" if size % 1000000 == 0 else \
        f"{size // 1000}k" if size % 1000 == 0 else str(size)


def markdown(results):
    """Every figure (p50 / p95 / p99 ms), the backends side by side at every size."""
    names = list(results["backends"])
    sizes = sorted({int(s) for b in names for s in results["backends"][b]["sizes"]})
    per = {(b, s): _get(results["backends"][b]["sizes"], s) for b in names for s in sizes}
    cols = [f"{backends.LABELS[b]} {pg_k(s)}" for s in sizes for b in names]
    lines = ["| figure, ms: p50 / p95 / p99 | " + " | ".join(cols) + " |",
             "|" + " --- |" * (len(cols) + 1)]
    panels = list(dict.fromkeys(name for r in per.values() for name in r["timings"]
                                if name.startswith("panel ")))
    rows = list(ROWS[:2]) + [(name, f"{name.removeprefix('panel ')}, county (each alone)")
                             for name in panels] + list(ROWS[2:])
    for name, title in rows:
        cells = []
        for s in sizes:
            for b in names:
                fig = per[(b, s)]["timings"].get(name)
                cells.append("—" if fig is None else
                             f"{fig['p50']:.1f} / {fig['p95']:.1f} / {fig['p99']:.1f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {backends.LABELS[b]} {pg_k(s)}: {_what(per[(b, s)])}" for s in sizes
              for b in names]
    return "\n".join(lines)


def _what(r):
    county = r["figures"]["county"]
    bad = sum(len(c["problems"]) for c in r["pages"].values())
    worst = max(f["p95"] for f in r["timings"].values())
    return (f"{r['stored']:,} stored, {r['monthly_reports']} monthly reports, "
            f"{r['projects']} projects; year {r['year']} on {r['today']}; township "
            f"{r['township']['name']} ({r['township']['orgs']} organizations); "
            f"{len(county)} panels; slowest p95 {worst:.1f} ms (bar: {TARGET_MS} ms); "
            f"page problems {bad}")


def print_table(results):
    for backend, per in results["backends"].items():
        for size, r in per["sizes"].items():
            print(f"\n{backends.LABELS[backend]}, {int(size):,} stored ({r['wall_s']:.0f} s)")
            print(f"{'figure':<28} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
            for name, f in r["timings"].items():
                print(f"{name:<28} {f['n']:>4} {f['p50']:>8.2f} {f['p95']:>8.2f} "
                      f"{f['p99']:>8.2f} {f['max']:>8.2f}")
            print("  " + _what(r))
            for scope, c in r["pages"].items():
                if c["problems"]:
                    print(f"  PROBLEM page {scope}: {c['problems']}")
    print("\n" + markdown(results))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child_measure(sys.argv[2])
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--calls", type=int, help="timed service calls per figure "
                        "(default 100, --quick 20)")
    parser.add_argument("--requests", type=int, help="timed pages per URL (default 50, "
                        "--quick 10)")
    parser.add_argument("--heavy", action="store_true", help="the heavy county (every "
                        "submission a monthly report, a project per organization and year)")
    args = parser.parse_args()
    sizes = common.sizes_of(args) if args.sizes else [1000] if args.quick else list(DEFAULT_SIZES)
    results = run(backends.backends_of(args.backends), sizes,
                  args.calls or (20 if args.quick else 100),
                  args.requests or (10 if args.quick else 50), args.rebuild, args.heavy)
    print_table(results)
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
