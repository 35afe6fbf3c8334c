"""Admin submission list: first page of monthly_report filtered by township, over HTTP.

Per size: the production server (bench/common.Gunicorn, 2 sync workers) on a fresh copy of the
base database, a real admin login over HTTP (GET /login for the CSRF token, POST /login), a
warm-up (rounds of concurrent requests so that both workers have opened the database), then
REQUESTS sequential GET /admin/forms/monthly_report/submissions?township=<code>, the township
changing every request (the five demo townships in turn). Each request is timed from send to
the last byte of the body, on a keep-alive-less urllib client; every answer must be 200 and
show the expected total ("共 N 份", checked against Store.query_submissions).

    .venv/bin/python bench/admin_list.py [--sizes ...] [--quick] [--requests N]
"""
import concurrent.futures
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TIME_LIMIT_S = 300
PATH = "/admin/forms/monthly_report/submissions?township={}"


def expected_totals(folder, townships):
    """monthly_report submissions per township subtree, from the storage API directly."""
    code = r"""
import json, sys
sys.path.insert(0, '.')
import orgs as org_tree
from storage import Store
with Store(sys.argv[1]) as s:
    tree = {o['code']: o for o in s.list_orgs()}
    out = {}
    for t in sys.argv[2].split(','):
        codes = org_tree.descendants(tree, t) | {t}
        out[t] = s.query_submissions('monthly_report', org_codes=codes, limit=0)[0]
print(json.dumps(out))
"""
    return common.run_child(["-c", code, os.path.join(folder, common.DB_NAME),
                             ",".join(townships)])


def measure(size, requests, rebuild=False):
    folder, manifest = common.build_base(size, rebuild)
    copy = common.fresh_copy(folder, f"admin-n{size}")
    townships = manifest["townships"]
    try:
        totals = expected_totals(copy, townships)
        with common.Gunicorn("app:create_app()", copy) as server:
            server.start("/login")
            opener = common.admin_login(server.url)
            urls = [server.url + PATH.format(t) for t in townships]

            def get(url):
                started = time.perf_counter()
                status, _headers, body = common.get_page(opener, url)
                return time.perf_counter() - started, status, body

            # Warm-up: both sync workers must have opened the database before timing.
            warm = []
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                for _ in range(3):
                    warm += [t for t, _s, _b in pool.map(get, urls[:4])]
            busy = common.wait_quiet(f"admin n{size}")
            times, bad, checked = [], [], 0
            deadline = time.monotonic() + TIME_LIMIT_S
            for i in range(requests):
                if time.monotonic() > deadline:
                    break
                township = townships[i % len(townships)]
                elapsed, status, body = get(urls[i % len(urls)])
                times.append(elapsed)
                shown = [int(n) for n in re.findall(r"共\s*(\d+)\s*(?:条|份)", body)]
                if status != 200 or not shown or shown[0] != totals[township]:
                    bad.append((township, status, shown[:1], totals[township]))
                else:
                    checked += 1
            memory = server.memory()
        result = common.summary_ms(times)
        result.update({"busy_before_pct": busy, "errors": len(bad), "bad": bad[:5], "warmup_max_ms": max(warm) * 1000,
                       "totals": totals, "rss_total_mb": memory["rss_total_mb"],
                       "pages_showing_expected_total": checked})
        return result
    finally:
        common.remove_copy(copy)


def run(sizes, requests, rebuild=False):
    return {"requests": requests, "sizes": {size: measure(size, requests, rebuild)
                                            for size in sizes}}


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, help="timed requests per size (default 50, "
                        "--quick 20)")
    args = parser.parse_args()
    results = run(common.sizes_of(args), args.requests or (20 if args.quick else 50),
                  args.rebuild)
    print(f"{'stored':>8} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>6}")
    for size, r in results["sizes"].items():
        print(f"{size:>8} {r['n']:>4} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['max']:>8.1f} "
              f"{r['errors']:>6}")
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
