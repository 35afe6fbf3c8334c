"""PostgreSQL at scale (issue 7): a prefecture's deployment with up to 1,000,000 submissions.

The base (database pref_n<SIZE> of the bench's server, bench/backends.py) is built once per
size with the operator commands and the Store API: `flask init --no-demo` (schema, built-in
forms), then one process stores a prefecture's organization tree with Store.replace_orgs -
PREFECTURE: 8 counties x 15 townships x 20 villages, 2 units per township, 30 county
departments per county, 3,008 organizations - and SIZE submissions with
Store.import_submissions (COPY): seed.demo_submissions over every non-county organization and
the last DAYS days, of the built-in forms that take any number of fills (no period, no
project): FORM (public_demand) for FORM_SHARE of them, doctor_registration for the rest; then
`create-user` and `links public_demand` (a link per organization); then VACUUM (ANALYZE), as
autovacuum would some time after the load. Until issue 10 the mix was every built-in form as
seed-demo weighs them and FORM was monthly_report (~41%): it now takes one report per
organization, month and project, so random fills of it (and of the application forms) would
clash; FORM_SHARE keeps the biggest form's share, hence the rows its page counts and its
export writes.

At each size (1k and 1M by default), on fresh copies of the base:

1. insert latency: Store.add_submission into the copies of every size in turn
   (bench/storage_insert.run_on: 3,000 each, interleaved), p99 at the largest size against
   p99 at the smallest;
2. start-up: `make serve`'s gunicorn (2 workers) from spawn to the first 200 of a village's
   entry page, REPEATS times; each worker's RSS right after;
3. the admin submissions page of the biggest form (FORM) over HTTP on that server
   (admin logged in, both workers warm), REQUESTS sequential requests per filter, 10
   townships spread over the prefecture in turn: township; township + the last 30 days; and,
   for the reading, no filter (every organization of the prefecture). The page holds the first
   50 rows, the total ("共 N 份", checked against Store.query_submissions) and the 催报 line
   (services.submissions.reporting_status: who has not submitted; for a form without a
   period, in the dates of the filter);
4. in one process, services.submissions.reporting_status alone and Store.query_submissions
   (count + first page) alone for the same filters, and EXPLAIN (ANALYZE, BUFFERS) of the SQL
   the page runs (kept in the JSON);
5. the export of the biggest form (every FORM submission) by `flask --app app
   export` in a fresh process (wall time, peak RSS from wait4) and through the admin page
   (worker peak RSS sampled every 0.2 s);
6. HTTP submit on a fresh server (bench/http_submit.one_run: wrk -t2 -c8, SUBMIT_S seconds);
   each worker's RSS after its load (admin pages + page export; submits) is reported.

    .venv/bin/python bench/pg_scale.py [--sizes 1000,1000000] [--quick] [--requests N]
        [--inserts N] [--rebuild]
"""
import datetime
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admin_list  # noqa: E402
import backends  # noqa: E402
import common  # noqa: E402
import export  # noqa: E402
import http_submit  # noqa: E402
import storage_insert  # noqa: E402

HERE = os.path.abspath(__file__)
FORM = common.SUBMIT_FORM
FORM_SHARE = 0.41  # of the submissions: monthly_report's share before issue 10
DEFAULT_SIZES = (1000, 1000000)
QUICK_SIZES = (1000, 10000)
DAYS = 365
REPEATS = 5
TOWNSHIPS_SAMPLED = 10
SUBMIT_S = 10
GOALS = {"admin_ms": 100, "status_ms": 100, "export_rss_mb": 150, "startup_s": 2.0,
         "worker_rss_mb": 200, "insert_p99_ratio": 1.5}

# Counties of a prefecture (安庆市's), with their administrative codes.
COUNTIES = (("340822", "怀宁县"), ("340825", "太湖县"), ("340826", "宿松县"),
            ("340827", "望江县"), ("340828", "岳西县"), ("340881", "桐城市"),
            ("340882", "潜山市"), ("340722", "枞阳县"))
PREFECTURE = {"townships": 15, "villages": 20, "township_units": 2, "county_units": 30}
_SYLLABLES = "安黄白石河山桥湾冲岭畈塘岗店铺坪溪源龙凤松竹茶梅花林田庄集口关洲"
_UNITS = ("组织部", "宣传部", "统战部", "政法委", "发改委", "教育局", "科技局", "公安局",
          "民政局", "司法局", "财政局", "人社局", "自然资源局", "生态环境局", "住建局",
          "交通运输局", "水利局", "农业农村局", "商务局", "文旅局", "卫健委", "退役军人事务局",
          "应急管理局", "审计局", "市场监管局", "统计局", "医保局", "林业局", "城管局",
          "数据资源局")


def prefecture_orgs():
    """The organization rows of the bench prefecture, parents before children. Codes: county
    (6 digits), township (+3), village (+3), units <parent>U<nn>; all <= 32 characters."""
    rng = random.Random(7)

    def place(suffix):
        return rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES) + suffix

    rows = []
    for county_code, county_name in COUNTIES:
        rows.append({"code": county_code, "name": county_name, "parent_code": "",
                     "kind": "county"})
        for u in range(PREFECTURE["county_units"]):
            rows.append({"code": f"{county_code}U{u + 1:02d}",
                         "name": county_name + _UNITS[u % len(_UNITS)], "parent_code": county_code,
                         "kind": "unit"})
        for t in range(PREFECTURE["townships"]):
            township = f"{county_code}{101 + t:03d}"
            rows.append({"code": township, "name": place("镇"), "parent_code": county_code,
                         "kind": "township"})
            for v in range(PREFECTURE["villages"]):
                rows.append({"code": f"{township}{201 + v:03d}", "name": place("村"),
                             "parent_code": township, "kind": "village"})
            for u in range(PREFECTURE["township_units"]):
                rows.append({"code": f"{township}U{u + 1:02d}",
                             "name": ("派出所", "卫生院", "中心学校")[u % 3], "parent_code": township,
                             "kind": "unit"})
    return rows


# ---------------------------------------------------------------- the base

def child_fill(size):
    """Child (deployment environment): the prefecture's organizations, then SIZE demo
    submissions over the last DAYS days through Store.import_submissions."""
    import seed
    from services.orgs import validate_rows

    with export.open_env_store() as store:
        rows = validate_rows(prefecture_orgs())  # the rules the CSV import applies
        store.replace_orgs(rows)
        started = time.perf_counter()
        rng = random.Random(common.SEED)

        def progress(docs):
            for i, doc in enumerate(docs, 1):
                if i % 100000 == 0:
                    common.log(f"  {i:,} submissions generated and stored "
                               f"({time.perf_counter() - started:.0f} s)")
                yield doc

        added = store.import_submissions(progress(fill_docs(seed, store, size, rng)))
        per_form = {f["id"]: store.count_submissions(f["id"]) for f in store.list_forms()}
    print(json.dumps({"added": added, "orgs": len(rows), "per_form": per_form,
                      "import_s": time.perf_counter() - started}))


def fill_docs(seed, store, size, rng):
    """SIZE demo submissions (seed.demo_submissions), oldest first: FORM_SHARE of them of FORM,
    the rest of the other forms that take any number of fills (no period, no project)."""
    import heapq

    forms = {f["id"]: f["schema"] for f in store.list_forms()}
    free = {i for i, s in forms.items() if "period" not in s and "project" not in s}
    if FORM not in free or len(free) < 2:
        raise RuntimeError(f"{FORM} and another form without period or project are needed")
    mine = round(size * FORM_SHARE)
    ours = seed.demo_submissions(store, mine, rng, days=DAYS, exclude=set(forms) - {FORM})
    rest = seed.demo_submissions(store, size - mine, rng, days=DAYS,
                                 exclude=set(forms) - (free - {FORM}))
    return heapq.merge(ours, rest, key=lambda doc: doc["submitted_at"])


def _build(deployment, size):
    common.log(f"building PostgreSQL base pref_n{size} (prefecture, {size:,} submissions) ...")
    deployment.flask("init", "--no-demo")
    filled = deployment.run_child([HERE, "--fill", str(size)], timeout=4 * 3600)
    assert filled["added"] == size, filled
    deployment.flask("create-user", common.ADMIN[0], "--role", "admin", "--password-stdin",
                     input=common.ADMIN[1] + "\n")
    links = {line.split("\t")[0]: line.split("\t")[2].rsplit("/", 1)[-1]
             for line in deployment.flask("links", FORM).splitlines() if line.strip()}
    rows = prefecture_orgs()
    townships = sorted(r["code"] for r in rows if r["kind"] == "township")
    villages = sorted(r["code"] for r in rows if r["kind"] == "village")
    kinds = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    step = max(len(townships) // TOWNSHIPS_SAMPLED, 1)
    common.log(f"  pref_n{size}: {filled['per_form']}, import {filled['import_s']:.0f} s")
    return {"size": size, "seed": common.SEED, "days": DAYS, "orgs": len(rows),
            "org_kinds": kinds, "per_form": filled["per_form"],
            "import_s": round(filled["import_s"], 1),
            "townships": townships[::step][:TOWNSHIPS_SAMPLED],
            "entry_org": villages[0], "entry_token": links[villages[0]]}


def base(size, rebuild=False):
    return backends.pg_base(
        f"pref_n{size}", lambda d: _build(d, size),
        backends.content_fingerprint("prefecture", size, DAYS, PREFECTURE, COUNTIES, FORM,
                                     FORM_SHARE),
        rebuild)


# ---------------------------------------------------------------- measurements

def last_days(days=30, today=None):
    today = today or datetime.date.today()
    return (today - datetime.timedelta(days=days - 1)).isoformat(), today.isoformat()


def filters(manifest):
    """name -> list of (query string, kwargs of the storage/service calls)."""
    date_from, date_to = last_days()
    townships = manifest["townships"]
    return {
        "township": [(f"township={t}", {"township": t}) for t in townships],
        "township_30d": [(f"township={t}&date_from={date_from}&date_to={date_to}",
                          {"township": t, "date_from": date_from, "date_to": date_to})
                         for t in townships],
        "no_filter": [("", {})],
    }


def child_status(spec_json, repeats):
    """Child (deployment environment): reporting_status and query_submissions alone, timed
    per filter, and EXPLAIN ANALYZE of the page's SQL."""
    from services import reporting, submissions
    from services.orgs import OrgIndex
    from storage.pg import store as pg_store

    spec = json.loads(spec_json)
    out = {}
    with export.open_env_store() as store:
        index = OrgIndex(store.list_orgs())
        for name, variants in spec.items():
            status_s, query_s, totals, missing = [], [], {}, []
            for i in range(repeats):
                query, kw = variants[i % len(variants)]
                codes = submissions.org_scope(index, kw.get("township"))
                dates = {"date_from": kw.get("date_from"), "date_to": kw.get("date_to")}
                started = time.perf_counter()
                total, _page = store.query_submissions(FORM, org_codes=codes, offset=0, limit=50,
                                                       **dates)
                query_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                expected, lacking = submissions.reporting_status(store, index, FORM, codes,
                                                                 **dates)
                status_s.append(time.perf_counter() - started)
                totals[query] = total
                missing.append((len(expected), len(lacking)))
            query, kw = variants[0]
            codes = submissions.org_scope(index, kw.get("township"))
            expected = [o["code"] for o in reporting.audience(index, store.get_form(FORM)["schema"],
                                                               codes)]
            plans = {}
            clause, params = pg_store.submission_filters(FORM, codes, kw.get("date_from"),
                                                         kw.get("date_to"))
            status_clause, status_params = pg_store.submission_filters(
                FORM, expected, kw.get("date_from"), kw.get("date_to"),
                statuses=reporting.NON_VOID)
            with store._read() as conn:  # diagnostic: the SQL the page runs, explained
                for label, sql, args in (
                        ("count", pg_store.count_sql(clause), params),
                        ("page", pg_store.page_sql(clause), [*params, 0, 50]),
                        ("reporting_status", pg_store.counts_sql(status_clause), status_params)):
                    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, args).fetchall()
                    plans[label] = [r["QUERY PLAN"] for r in rows]
            out[name] = {"reporting_status": common.summary_ms(status_s),
                         "query_submissions": common.summary_ms(query_s),
                         "totals": totals, "expected_missing": missing[:len(variants)],
                         "plans": plans}
    print(json.dumps(out))


def admin_pages(server, manifest, totals, requests, label):
    """The admin submissions page per filter: latency summary, every page checked."""
    urls = {name: [(f"{server.url}/admin/forms/{FORM}/submissions" + (f"?{q}" if q else ""), q)
                   for q, _kw in variants] for name, variants in filters(manifest).items()}
    get, warm = admin_list.login_and_warm(server, [u for u, _q in urls["township"]])
    results = {"warmup_max_ms": max(warm) * 1000}
    for name, pairs in urls.items():
        results[name] = admin_list.timed_pages(get, f"{label} admin {name}",
                                               [u for u, _q in pairs],
                                               [totals[name][q] for _u, q in pairs], requests)
    return results, get


def worker_rss(memory):
    return [p["rss_mb"] for p in memory["processes"] if p["role"] == "worker"]


def measure_size(copy, manifest, size, requests):
    label = f"pg n{size}"
    result = {"db_mb": copy.size_mb(), "per_form": manifest["per_form"],
              "orgs": manifest["orgs"]}
    token = manifest["entry_token"]
    # 4. the storage calls alone (first: their figures and the totals the pages must show)
    spec = filters(manifest)
    common.wait_quiet(f"{label} reporting_status")
    status = copy.run_child([HERE, "--child-status", json.dumps(spec),
                             str(max(requests, 50))], timeout=1800)
    result["storage_calls"] = status
    totals = {name: status[name]["totals"] for name in spec}
    # 2. start-up, REPEATS times; 3. admin pages and 5. the page export on the last server
    starts, rss_at_start = [], []
    for rep in range(REPEATS):
        common.wait_quiet(f"{label} start-up {rep + 1}")
        server = copy.gunicorn()
        try:
            starts.append(server.start(f"/f/{token}"))
            time.sleep(0.2)
            rss_at_start += worker_rss(server.memory())
            if rep < REPEATS - 1:
                continue
            pages, get = admin_pages(server, manifest, totals, requests, label)
            result["admin_pages"] = pages
            result["memory_after_pages"] = server.memory()
            count = copy.count(FORM)
            opener = common.admin_login(server.url)
            common.log(f"{label}: export of {count:,} {FORM} through the admin page ...")
            result["web_export"] = export.timed_web_export(server, opener, FORM, count,
                                                           label=label)
            result["memory_after_export"] = server.memory()
        finally:
            log = server.stop()
        result["web_export"]["worker_timeouts"] = log.count("WORKER TIMEOUT")
    result["startup_s"] = {"all": starts, "median": statistics.median(starts),
                           "max": max(starts)}
    result["worker_rss_at_start_mb"] = max(rss_at_start)
    # 5. the export command
    count = copy.count(FORM)
    common.log(f"{label}: flask export of {count:,} {FORM} ...")
    result["cli_export"] = common.undisturbed(
        lambda: export.measure_cli(copy, size, FORM, expected=count), f"{label} export")
    # 6. HTTP submit at this size
    # A new seed for every attempt: a re-run on this copy must not resend stored ids.
    result["http_submit"] = common.undisturbed(lambda: http_submit.one_run(
        f"pg-scale-n{size}", "app:create_app()", copy, token, SUBMIT_S, None,
        http_submit.fresh_seed(), count_form=FORM), f"{label} http submit")
    result["http_submit"].pop("raw", None)
    rss = (worker_rss(result["memory_after_pages"]) + worker_rss(result["memory_after_export"])
           + worker_rss(result["http_submit"]["memory"]))
    result["worker_rss_max_mb"] = max(rss)
    result["worker_peak_rss_export_mb"] = result["web_export"]["worker_peak_rss_mb"]
    return result


def run(sizes, requests, inserts, rebuild=False):
    bases = {size: base(size, rebuild) for size in sizes}
    copies = {}
    results = {"sizes": {}, "requests": requests, "repeats": REPEATS, "days": DAYS,
               "prefecture": PREFECTURE, "counties": len(COUNTIES), "goals": GOALS}
    try:
        for size in sizes:
            copies[size] = backends.fresh_copy(bases[size][0], f"scale-n{size}")
        # 1. inserts, interleaved over the sizes
        figures = storage_insert.run_on({size: copies[size] for size in sizes}, inserts,
                                        "scale insert")
        results["inserts_per_size"] = inserts
        for size in sizes:
            results["sizes"][size] = {"insert": figures[size]}
        for size in sizes:
            results["sizes"][size].update(measure_size(copies[size], bases[size][1], size,
                                                       requests))
    finally:
        for copy in copies.values():
            backends.remove_copy(copy)
    small, big = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
    results["insert_p99_ratio"] = big["insert"]["p99"] / small["insert"]["p99"]
    return results


# ---------------------------------------------------------------- the report

def k(size):
    return f"{size // 1000000}M" if size % 1000000 == 0 else \
        f"{size // 1000}k" if size % 1000 == 0 else str(size)


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def markdown(results):
    """The 1M table (Markdown): every figure at each size, judged at the largest."""
    sizes = sorted(int(s) for s in results["sizes"])
    per = {s: results["sizes"].get(str(s), results["sizes"].get(s)) for s in sizes}
    big = per[sizes[-1]]
    g = results["goals"]
    head = "| figure | " + " | ".join(k(s) for s in sizes) + f" | goal (at {k(sizes[-1])}) | result |"
    rows = [head, "|" + " --- |" * (len(sizes) + 3)]

    def row(name, cells, goal="", ok=None):
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {goal} | "
                    + ("—" if ok is None else verdict(ok)) + " |")

    row(f"submissions stored ({FORM})", [f"{per[s]['per_form'][FORM]:,} of "
                                         f"{sum(per[s]['per_form'].values()):,}" for s in sizes])
    row("database size, MB", [f"{per[s]['db_mb']:.0f}" for s in sizes])
    for name, title in (("township", "admin page, township filter"),
                        ("township_30d", "admin page, township + last 30 days"),
                        ("no_filter", "admin page, no filter (whole prefecture)")):
        pages = [per[s]["admin_pages"][name] for s in sizes]
        judged = name != "no_filter"
        row(f"{title}: p50 / p95 ms ({pages[-1]['n']} requests)",
            [f"{p['p50']:.1f} / {p['p95']:.1f}" for p in pages],
            f"p95 ≤ {g['admin_ms']} ms" if judged else "(reading)",
            (pages[-1]["p95"] <= g["admin_ms"] and pages[-1]["errors"] == 0) if judged else None)
        calls = [per[s]["storage_calls"][name] for s in sizes]
        row(f"— 催报: reporting_status alone, p50 / p95 ms",
            [f"{c['reporting_status']['p50']:.1f} / {c['reporting_status']['p95']:.1f}"
             for c in calls], f"p95 ≤ {g['status_ms']} ms" if judged else "(reading)",
            calls[-1]["reporting_status"]["p95"] <= g["status_ms"] if judged else None)
        row(f"— query_submissions alone (count + page), p50 / p95 ms",
            [f"{c['query_submissions']['p50']:.1f} / {c['query_submissions']['p95']:.1f}"
             for c in calls])
        row("— pages with the expected total / errors",
            [f"{p['pages_showing_expected_total']} / {p['errors']}" for p in pages], "all / 0",
            all(p["errors"] == 0 for p in pages))
    exports = [per[s]["cli_export"] for s in sizes]
    row(f"export of every {FORM} (`flask export`): rows, wall s",
        [f"{e['exported']:,}, {e['wall_s']:.1f} s" for e in exports], "(reading)", None)
    row("— its peak RSS, MB", [f"{e['peak_rss_mb']:.0f}" for e in exports],
        f"≤ {g['export_rss_mb']} MB", exports[-1]["peak_rss_mb"] <= g["export_rss_mb"]
        and all(e["rows_ok"] for e in exports))
    webs = [per[s]["web_export"] for s in sizes]
    row("— through the admin page: status, s, worker peak RSS MB",
        [f"{w['status']}, {w['wall_s']:.1f} s, {w['worker_peak_rss_mb']:.0f}" for w in webs],
        f"200, ≤ {g['export_rss_mb']} MB", webs[-1].get("ok", False)
        and webs[-1]["worker_peak_rss_mb"] <= g["export_rss_mb"])
    row(f"gunicorn spawn → first entry page, s (median / max of {results['repeats']})",
        [f"{per[s]['startup_s']['median']:.2f} / {per[s]['startup_s']['max']:.2f}"
         for s in sizes], f"≤ {g['startup_s']} s", big["startup_s"]["max"] <= g["startup_s"])
    row("worker RSS right after start, MB (max)",
        [f"{per[s]['worker_rss_at_start_mb']:.0f}" for s in sizes])
    row("worker RSS after load (pages, page export, submits), MB (max)",
        [f"{per[s]['worker_rss_max_mb']:.0f}" for s in sizes], f"≤ {g['worker_rss_mb']} MB",
        big["worker_rss_max_mb"] <= g["worker_rss_mb"]
        and big["worker_peak_rss_export_mb"] <= g["worker_rss_mb"])
    ins = [per[s]["insert"] for s in sizes]
    row(f"storage insert p50 / p99 ms ({results['inserts_per_size']} each, interleaved)",
        [f"{i['p50']:.2f} / {i['p99']:.2f}" for i in ins])
    row(f"— p99 {k(sizes[-1])} / p99 {k(sizes[0])}",
        ["—"] * (len(sizes) - 1) + [f"{results['insert_p99_ratio']:.2f}×"],
        f"≤ {g['insert_p99_ratio']}×", results["insert_p99_ratio"] <= g["insert_p99_ratio"])
    def quiet(r):
        busy = [r["insert"]["busy_before_pct"]] + [r["admin_pages"][n]["busy_before_pct"]
                                                   for n in ("township", "township_30d",
                                                             "no_filter")]
        return (f"{max(busy):.0f}%; {r['cli_export']['foreign_cpu_cores']:.2f} / "
                f"{r['http_submit']['foreign_cpu_cores']:.2f}")
    row("other load: machine busy before the timed sections (max); other processes' cores "
        "during the export / the submits", [quiet(per[s]) for s in sizes], "< 10%; ≤ 0.15")
    subs = [per[s]["http_submit"] for s in sizes]
    row(f"HTTP submit (wrk -t2 -c8 -d{SUBMIT_S}s): req/s, p50 / p99 ms",
        [f"{h['rps']:.0f}, {h['latency_ms']['50']:.1f} / {h['latency_ms']['99']:.1f}"
         for h in subs])
    row("— errors; stored growth = 303s (+ in flight)",
        [f"{h['errors']}; {h['stored_growth']} = {h['status']['s303']} + "
         f"{h['stored_in_flight_extra']}" for h in subs], "0; equal",
        all(h["errors"] == 0 and h["stored_matches"] for h in subs))
    return "\n".join(rows)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--fill":
        return child_fill(int(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "--child-status":
        return child_status(sys.argv[2], int(sys.argv[3]))
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, help="timed requests per filter (default 50, "
                        "--quick 20)")
    parser.add_argument("--inserts", type=int, help="timed inserts per size (default 3000, "
                        "--quick 500)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",")) if args.sizes else \
        list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    results = run(sizes, args.requests or (20 if args.quick else 50),
                  args.inserts or (500 if args.quick else 3000), args.rebuild)
    results["server"] = backends.describe_server()
    print(markdown(results))
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
