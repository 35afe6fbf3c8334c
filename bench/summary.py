"""The county 汇总表 (issue 11) at scale: services.summary.summary_workbook and GET
/admin/summary.xlsx, on each storage backend side by side.

Two counties per backend and size, each on a fresh copy of its base:

* demo — the seed-demo base (bench/backends.base: `flask seed-demo --submissions SIZE --seed
  1`): one county year of 42 projects and 227 monthly reports, the rest public_demand and
  doctor_registration fills that the 汇总表 never reads.
* heavy — a county where the 汇总表 has everything to read: HEAVY_TOWNSHIPS × HEAVY_VILLAGES
  villages and HEAVY_UNITS county departments, one project per organization and year, and SIZE
  submissions that are all monthly reports with their answers (本月完成任务 text, 完成进度),
  one per project and month (HEAVY_RATE of them filed, a fifth late), as many years back as
  SIZE takes (100k: 27 years); this year's projects scored by HEAVY_JUDGES judges on the
  default rubric, and last year's too (the two-year rule). Written straight through the Store.
  Bases: bench/out/summary-heavy/n<SIZE>/ (TinyDB), database summary_heavy_n<SIZE> (PostgreSQL).

One child process per deployment (the Store warmed up as a server worker's is) measures, for
this year as the county admin:

(a) summary_workbook into memory, the county and one township (the first by code);
(b) its parts, county-wide: the reads (summary_data: the year's projects, the latest report of
    each, the 报送率 from reporting.matrix, the ranking) and writing the workbook;
(c) the page through Flask's test client logged in as the bench admin: GET
    /admin/summary.xlsx (county) and ?township=; each answer must be 200 and a workbook with
    one sheet per township plus 汇总, 报送率, 路演评审排名 (and 县直单位 for the county).

Every figure is the latency of CALLS calls (REQUESTS pages) after WARMUP untimed ones, in
milliseconds: p50 / p95 / max. The bar: a click, ≤ 5 s, at 100k submissions.

    .venv/bin/python bench/summary.py [--backends tinydb,postgresql] [--sizes 100000]
        [--counties demo,heavy] [--quick] [--calls N] [--requests N] [--json FILE]
"""
import io
import json
import os
import random
import shutil
import sys
import time
from datetime import date, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

HERE = os.path.abspath(__file__)
DEFAULT_SIZES = (100000,)
COUNTIES = ("demo", "heavy")
WARMUP = 1
TARGET_MS = 5000
HEAVY_TOWNSHIPS, HEAVY_VILLAGES, HEAVY_UNITS = 20, 20, 30
HEAVY_RATE = 0.9
HEAVY_JUDGES = 5
HEAVY_CATEGORIES = ("党建改革创新类", "党建引领发展类", "机关党建提升类", "党建文化建设类")
# Where this year's projects stand (earlier years' are 已验收).
HEAVY_NOW = (("实施中", 0.6), ("已申请验收", 0.15), ("已立项", 0.1), ("已申报", 0.1),
             ("已否决", 0.05))
DONE = ("完成黄精栽植{n}亩，补栽木子树{m}棵；召开党员大会1次。", "走访企业{n}家，解决融资、用工问题{m}个。",
        "组织党员志愿者集中整治{n}次，清理垃圾{m}车。", "办结群众诉求{n}件，回访满意率100%。")


# ---------------------------------------------------------------- the child

def _timed(fn, calls, warmup=WARMUP):
    return common.timed(fn, calls, warmup)


def child_measure(spec_json):
    """Child (deployment environment): every figure, printed as one JSON object."""
    spec = json.loads(spec_json)
    import storage
    from services import summary
    from services.orgs import OrgIndex
    from services.reporting import today_local

    store = storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                               os.environ["TAIZHANG_DATA_DIR"])
    timings = {}
    try:
        store.warm_up()
        index = OrgIndex(store.list_orgs())
        today = today_local()
        year = today.year
        township = sorted(t["code"] for t in index.townships())[0]
        result = {"stored": store.count_submissions(),
                  "monthly_reports": store.count_submissions("monthly_report"),
                  "projects": len(store.list_projects()),
                  "year_projects": len(store.list_projects(year=year)),
                  "scores": len(store.list_scores(year)), "year": year,
                  "today": today.isoformat(),
                  "township": {"code": township, "name": index.get(township)["name"],
                               "orgs": len(index.below(township))}}
        sizes = {}
        for scope, codes in (("county", None), ("township", index.below(township))):
            def write(codes=codes):
                out = io.BytesIO()
                written = summary.summary_workbook(store, year, codes, today, out, index=index)
                return written, len(out.getvalue())
            times, (written, size) = _timed(write, spec["calls"])
            timings[f"workbook {scope}"] = common.summary_ms(times)
            sizes[scope] = {"projects": written["projects"], "sheets": len(written["sheets"]),
                            "bytes": size}
        result["workbooks"] = sizes
        parts = {
            "read: summary_data": lambda: summary.summary_data(store, index, year, None, today),
            "— latest_reports": lambda: summary.latest_reports(
                store, store.list_projects(year=year), year),
            "— reporting_rates": lambda: summary.reporting_rates(store, index, year, None,
                                                                 today),
            "— ranking_section": lambda: summary.ranking_section(store, index, year),
        }
        for name, fn in parts.items():
            times, value = _timed(fn, spec["calls"])
            timings[name] = common.summary_ms(times)
            if name.startswith("read"):
                data = value
        times, _ = _timed(lambda: summary.write_workbook(data, io.BytesIO()), spec["calls"])
        timings["write_workbook"] = common.summary_ms(times)
    finally:
        store.close()
    result["pages"] = _pages(timings, township, result, spec)
    result["timings"] = timings
    print(json.dumps(result, ensure_ascii=False, default=str))


def _pages(timings, township, result, spec):
    """(c): the page through Flask's test client, logged in as the bench admin."""
    import openpyxl

    client = common.admin_client()
    checks = {}
    for scope, url in (("county", "/admin/summary.xlsx"),
                       ("township", f"/admin/summary.xlsx?township={township}")):
        statuses = []

        def get(url=url):
            response = client.get(url)
            statuses.append(response.status_code)
            return response

        times, response = _timed(get, spec["requests"])
        timings[f"page {scope}"] = {**common.summary_ms(times), "url": url}
        problems = [f"HTTP {s}" for s in sorted(set(statuses)) if s != 200]
        if not problems:
            sheets = openpyxl.load_workbook(io.BytesIO(response.data),
                                            read_only=True).sheetnames
            if len(sheets) != result["workbooks"][scope]["sheets"] or \
                    sheets[:3] != ["汇总", "报送率", "路演评审排名"]:
                problems.append(f"sheets {sheets[:6]} ...")
        checks[scope] = {"statuses": sorted(set(statuses)), "problems": problems}
    return checks


# ---------------------------------------------------------------- the heavy county

def _heavy_orgs():
    orgs = [{"code": "H", "name": "重载县", "parent_code": None, "kind": "county"}]
    for t in range(1, HEAVY_TOWNSHIPS + 1):
        town = f"H{t:02d}"
        orgs.append({"code": town, "name": f"第{t}镇", "parent_code": "H", "kind": "township"})
        orgs += [{"code": f"{town}{v:02d}", "name": f"第{t}镇{v}村", "parent_code": town,
                  "kind": "village", "secretary": "张书记"} for v in range(1, HEAVY_VILLAGES + 1)]
    orgs += [{"code": f"HU{u:02d}", "name": f"县直单位{u}", "parent_code": "H", "kind": "unit"}
             for u in range(1, HEAVY_UNITS + 1)]
    return orgs


def _stamp(day, rng):
    return datetime(day.year, day.month, day.day, 8 + rng.randrange(10),
                    rng.randrange(60)).astimezone().isoformat()


def _answers(rng, period, project_id, month):
    return {"report_month": period, "project": str(project_id),
            "done_tasks": rng.choice(DONE).format(n=rng.randrange(2, 60),
                                                  m=rng.randrange(2, 900)),
            "progress": min(100, month * 8 + rng.randrange(8)),
            "schedule": rng.choice(("超前", "按序时推进", "按序时推进", "滞后")),
            "month_investment": f"{rng.randrange(1, 300) / 10}",
            "next_plan": "推进下一阶段建设，按月报告进度。", "need_coordination": False,
            "reporter": "王长青", "phone": "15710335357"}


def fill_heavy(store, size, today):
    """The heavy county (module docstring) in an empty Store; a summary of what it holds."""
    from seed import seed_first_start
    from services import accounts, periods, scoring

    seed_first_start(store, demo_orgs=False)
    orgs = _heavy_orgs()
    store.upsert_orgs(orgs)
    filers = [o["code"] for o in orgs if o["kind"] in ("village", "unit")]
    schema = store.get_form("monthly_report")["schema"]
    rng = random.Random(common.SEED)
    back = -(-size // (len(filers) * 9))  # about 9 reports a year per organization
    years = list(range(today.year - back, today.year + 1))
    registered, reports = {year: [] for year in years[-2:]}, []
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
            category = "机关党建提升类" if org.startswith("HU") else HEAVY_CATEGORIES[n % 4]
            project, _new = store.add_project({
                "title": f"{year}年第{n}号书记项目", "category": category, "kind": "书记项目",
                "org_code": org, "secretary": "张三", "year": year, "steps": [],
                "status": status, "application": f"H-{year}-{n}",
                "form_id": "apply_development", "history": history})
            if len(history) < 2:
                continue
            if year in registered:
                registered[year].append(project["id"])
            last = 12 if not current else today.month - 1
            for month in range(approved.month, last + 1):
                if rng.random() > HEAVY_RATE:
                    continue
                period = f"{year}-{month:02d}"
                due_year, due_month = (year + 1, 1) if month == 12 else (year, month + 1)
                day = date(due_year, due_month,
                           1 + rng.randrange(4 if rng.random() < 0.8 else 9))
                reports.append({"form_id": "monthly_report", "form_version": schema["version"],
                                "org_code": org, "submitted_at": _stamp(day, rng),
                                "answers": _answers(rng, period, project["id"], month),
                                "submission_id": f"h-{project['id']}-{period}",
                                "period": period, "project_id": project["id"],
                                "slot": periods.slot_of(schema, period, project["id"])})
    reports.sort(key=lambda r: r["submitted_at"])
    stored = store.import_submissions(reports[-size:])
    scores = []
    for year, ids in registered.items():
        scoring.save_rubric(store, year, scoring.DEFAULT_RUBRIC, "bench")
        for project_id in ids:
            for judge in range(1, HEAVY_JUDGES + 1):
                scores += [{"year": year, "project": project_id, "judge": f"评委{judge}",
                            "criterion": c["name"], "source": "import",
                            "score": str(rng.randrange(c["max"] // 2, c["max"] + 1))}
                           for c in scoring.DEFAULT_RUBRIC]
    store.add_scores(scores)
    accounts.create_user(store, common.ADMIN[0], common.ADMIN[1], "admin")
    return {"size": size, "stored": stored, "years": [years[0], years[-1]], "orgs": len(orgs),
            "scores": len(scores)}


def heavy_base(backend, size, rebuild=False):
    """(Deployment, manifest) of the heavy county with ``size`` monthly reports."""
    from services.reporting import today_local

    today = today_local()
    fingerprint = common.content_fingerprint("summary-heavy", size, HEAVY_TOWNSHIPS,
                                             HEAVY_VILLAGES, HEAVY_UNITS, HEAVY_RATE,
                                             HEAVY_JUDGES, time.strftime("%Y-%m"))

    def build(deployment):
        common.log(f"building the heavy county ({backend}, {size} monthly reports) ...")
        if backend == "postgresql":
            deployment.flask("init", "--no-demo")
        with deployment.open_store() as store:
            return fill_heavy(store, size, today)

    if backend == "postgresql":
        return backends.pg_base(f"summary_heavy_n{size}", build, fingerprint, rebuild)
    folder = os.path.join(common.OUT, "summary-heavy", f"n{size}")
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

def measure(backend, county, size, calls, requests, rebuild=False):
    base, manifest = (heavy_base if county == "heavy" else backends.base)(backend, size,
                                                                          rebuild)
    copy = backends.fresh_copy(base, f"summary-{county}-n{size}")
    try:
        spec = {"calls": calls, "requests": requests}
        busy = common.wait_quiet(f"summary {county} {backend} n{size}")
        started = time.perf_counter()
        result = copy.run_child([HERE, "--child", json.dumps(spec)], timeout=3600)
        result["wall_s"] = time.perf_counter() - started
        result["busy_before_pct"] = busy
        return result
    finally:
        backends.remove_copy(copy)


def run(backend_names, counties, sizes, calls, requests, rebuild=False):
    results = {"calls": calls, "requests": requests, "warmup": WARMUP, "counties": {},
               "machine": common.machine_info()}
    for county in counties:
        for size in sizes:
            for backend in backend_names:
                results["counties"].setdefault(county, {}).setdefault(backend, {})[size] = \
                    measure(backend, county, size, calls, requests, rebuild)
    return results


ROWS = (  # (figure, title)
    ("workbook county", "summary_workbook, county (into memory)"),
    ("workbook township", "— one township"),
    ("read: summary_data", "its reads: summary_data, county"),
    ("— latest_reports", "— the latest monthly report of each project"),
    ("— reporting_rates", "— 报送率 (reporting.matrix)"),
    ("— ranking_section", "— 路演评审 ranking (scoring.year_ranking)"),
    ("write_workbook", "writing the workbook (XlsxWriter), county"),
    ("page county", "GET /admin/summary.xlsx, county"),
    ("page township", "— ?township="),
)


def pg_k(size):
    return f"{size // 1000000}M" if size % 1000000 == 0 else \
        f"{size // 1000}k" if size % 1000 == 0 else str(size)


def markdown(results):
    """Every figure (p50 / p95 ms), the backends side by side, for each county and size."""
    columns = [(county, backend, size) for county, per in results["counties"].items()
               for backend, sizes in per.items() for size in sizes]
    columns.sort(key=lambda c: (COUNTIES.index(c[0]), int(c[2]), backends.BACKENDS.index(c[1])))
    lines = ["| figure, ms: p50 / p95 | " + " | ".join(
        f"{county} {pg_k(int(size))}: {backends.LABELS[backend]}"
        for county, backend, size in columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for name, title in ROWS:
        cells = []
        for county, backend, size in columns:
            fig = results["counties"][county][backend][size]["timings"].get(name)
            cells.append("—" if fig is None else f"{fig['p50']:.0f} / {fig['p95']:.0f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append("")
    for county, backend, size in columns:
        r = results["counties"][county][backend][size]
        lines.append(f"- {county} {pg_k(int(size))}, {backends.LABELS[backend]}: {_what(r)}")
    return "\n".join(lines)


def _what(r):
    bad = sum(len(c["problems"]) for c in r["pages"].values())
    worst = max(f["p95"] for f in r["timings"].values())
    county, town = r["workbooks"]["county"], r["workbooks"]["township"]
    return (f"{r['stored']:,} stored, {r['monthly_reports']:,} monthly reports, "
            f"{r['projects']:,} projects ({r['year_projects']} of {r['year']}), "
            f"{r['scores']:,} scores of {r['year']}; the county's workbook: "
            f"{county['projects']} projects on {county['sheets']} sheets, "
            f"{county['bytes'] / 1024:.0f} KB; township {r['township']['name']}: "
            f"{town['projects']} projects; slowest p95 {worst:.0f} ms (bar: {TARGET_MS} ms); "
            f"page problems {bad}")


def print_table(results):
    for county, per in results["counties"].items():
        for backend, sizes in per.items():
            for size, r in sizes.items():
                print(f"\n{county}, {backends.LABELS[backend]}, {int(size):,} stored "
                      f"({r['wall_s']:.0f} s)")
                print(f"{'figure':<28} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}")
                for name, f in r["timings"].items():
                    print(f"{name:<28} {f['n']:>4} {f['p50']:>8.1f} {f['p95']:>8.1f} "
                          f"{f['max']:>8.1f}")
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
    parser.add_argument("--counties", default=",".join(COUNTIES),
                        help=f"comma-separated, among {', '.join(COUNTIES)} (default both)")
    parser.add_argument("--calls", type=int, help="timed service calls per figure "
                        "(default 10, --quick 3)")
    parser.add_argument("--requests", type=int, help="timed pages per URL (default 10, "
                        "--quick 3)")
    args = parser.parse_args()
    counties = [c.strip() for c in args.counties.split(",") if c.strip()]
    for county in counties:
        if county not in COUNTIES:
            raise SystemExit(f"unknown county {county!r}: choose among {', '.join(COUNTIES)}")
    sizes = common.sizes_of(args) if args.sizes else [1000] if args.quick else list(DEFAULT_SIZES)
    results = run(backends.backends_of(args.backends), counties, sizes,
                  args.calls or (3 if args.quick else 10),
                  args.requests or (3 if args.quick else 10), args.rebuild)
    print_table(results)
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
