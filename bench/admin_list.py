"""Admin submission list: first page of public_demand filtered by township, over HTTP.

Per backend and size: the production server (bench/common.Gunicorn, 2 sync workers) on a
fresh copy of the base database, a real admin login over HTTP (GET /login for the CSRF token,
POST /login), a warm-up (rounds of concurrent requests so that both workers have opened the
database), then REQUESTS sequential GET /admin/forms/<FORM>/submissions?township=<code>, the
township changing every request (the five demo townships in turn). Each request is timed from
send to the last byte of the body, on a keep-alive-less urllib client; every answer must be 200
and show the expected total ("共 N 份", checked against Store.query_submissions).

FORM is common.SUBMIT_FORM (public_demand), the biggest form of a seed-demo base since issue 10
(~83% of it). Until then this was monthly_report (~41%), of which seed-demo now makes only a
year's worth (a few hundred reports of approved projects).

    .venv/bin/python bench/admin_list.py [--backends ...] [--sizes ...] [--quick] [--requests N]
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

TIME_LIMIT_S = 300
FORM = common.SUBMIT_FORM
PATH = f"/admin/forms/{FORM}/submissions?township={{}}"


def expected_totals(deployment, townships, form_id=FORM):
    """Submissions of form_id per township subtree, from the storage API directly."""
    code = r"""
import json, os, sys
import storage
from services.orgs import OrgIndex
s = storage.open_store(os.environ.get('TAIZHANG_DATABASE_URL'), os.environ['TAIZHANG_DATA_DIR'])
index = OrgIndex(s.list_orgs())
out = {t: s.query_submissions(sys.argv[2], org_codes=index.below(t), limit=0)[0]
       for t in sys.argv[1].split(',')}
s.close()
print(json.dumps(out))
"""
    return deployment.run_child(["-c", code, ",".join(townships), form_id])


def login_and_warm(server, urls):
    """Log in over HTTP and make both workers open the database; (opener, get)."""
    import concurrent.futures

    opener = common.admin_login(server.url)

    def get(url):
        started = time.perf_counter()
        status, _headers, body = common.get_page(opener, url, timeout=120)
        return time.perf_counter() - started, status, body

    warm = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            warm += [t for t, _s, _b in pool.map(get, (urls * 4)[:4])]
    return get, warm


TOTAL_RE = re.compile(r"共\s*(\d+)\s*(?:条|份)")


def timed_pages(get, label, urls, expected, requests):
    """GET urls in turn, sequentially; the latency summary, checking every page's total
    against ``expected`` (a list parallel to urls)."""
    busy = common.wait_quiet(label)
    times, bad, checked = [], [], 0
    deadline = time.monotonic() + TIME_LIMIT_S
    for i in range(requests):
        if time.monotonic() > deadline:
            break
        elapsed, status, body = get(urls[i % len(urls)])
        times.append(elapsed)
        shown = [int(n) for n in TOTAL_RE.findall(body)]
        want = expected[i % len(urls)]
        if status != 200 or not shown or shown[0] != want:
            bad.append((urls[i % len(urls)].split("?", 1)[-1], status, shown[:1], want))
        else:
            checked += 1
    result = common.summary_ms(times)
    result.update({"busy_before_pct": busy, "errors": len(bad), "bad": bad[:5],
                   "pages_showing_expected_total": checked})
    return result


def measure(backend, size, requests, rebuild=False):
    base, manifest = backends.base(backend, size, rebuild)
    copy = backends.fresh_copy(base, f"admin-n{size}")
    townships = manifest["townships"]
    try:
        totals = expected_totals(copy, townships)
        with copy.gunicorn() as server:
            server.start("/login")
            urls = [server.url + PATH.format(t) for t in townships]
            get, warm = login_and_warm(server, urls)
            result = timed_pages(get, f"admin {backend} n{size}", urls,
                                 [totals[t] for t in townships], requests)
            memory = server.memory()
        result.update({"warmup_max_ms": max(warm) * 1000, "totals": totals,
                       "rss_total_mb": memory["rss_total_mb"]})
        return result
    finally:
        backends.remove_copy(copy)


def run(backend_names, sizes, requests, rebuild=False):
    return {"requests": requests, "form": FORM, "backends": {
        backend: {"sizes": {size: measure(backend, size, requests, rebuild) for size in sizes}}
        for backend in backend_names}}


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--requests", type=int, help="timed requests per size (default 50, "
                        "--quick 20)")
    args = parser.parse_args()
    results = run(backends.backends_of(args.backends), common.sizes_of(args),
                  args.requests or (20 if args.quick else 50), args.rebuild)
    print(f"{'backend':>10} {'stored':>8} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
          f"{'errors':>6}")
    for backend, per in results["backends"].items():
        for size, r in per["sizes"].items():
            print(f"{backend:>10} {size:>8} {r['n']:>4} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                  f"{r['max']:>8.1f} {r['errors']:>6}")
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
