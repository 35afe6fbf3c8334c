"""Open and startup time per backend and size, each in a fresh process (page cache warm).

Three figures per (backend, size), repeated REPEATS times with backends and sizes interleaved
(median reported):

* open:  a fresh Python process imports storage, then times storage.open_store(url, data_dir)
         alone - TinyDB: TinyStore(path), the replay of the log and the indexes; PostgreSQL:
         PgStore(url), the schema check and the pool's first connection - and reports its
         RSS growth;
* app:   a fresh process times `import app`, create_app() and the first request through the
         Flask test client - GET of a public entry page /f/<token>, which opens the database
         and renders the form (Store opening is lazy, so this is where it happens);
* serve: `make serve`'s gunicorn (2 workers) from spawn to the first 200 of that entry page;
         then, on that server, the first submission: one POST of public_demand answers
         (common.SUBMIT_FORM: monthly_report before issue 10; CSRF token and cookie from a GET
         of the entry page), timed alone, must be a 303.

    .venv/bin/python bench/startup.py [--backends ...] [--sizes ...] [--quick] [--repeats N]
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

HERE = os.path.abspath(__file__)


def child_open():
    """In a deployment's environment: time storage.open_store alone."""
    started = time.perf_counter()
    import storage
    if os.environ.get("TAIZHANG_DATABASE_URL"):
        import storage.pg  # noqa: F401 - the driver's import is not part of the open
    imported = time.perf_counter()
    rss0 = common.self_rss_mb()
    t0 = time.perf_counter()
    store = storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                               os.environ["TAIZHANG_DATA_DIR"])
    open_s = time.perf_counter() - t0
    rss1 = common.self_rss_mb()
    count = store.count_submissions()
    store.close()
    print(json.dumps({"import_s": imported - started, "open_s": open_s, "count": count,
                      "rss_before_mb": rss0, "rss_after_mb": rss1}))


def child_app(token):
    t0 = time.perf_counter()
    from app import create_app
    t1 = time.perf_counter()
    app = create_app()
    t2 = time.perf_counter()
    response = app.test_client().get(f"/f/{token}")
    t3 = time.perf_counter()
    assert response.status_code == 200, response.status_code
    print(json.dumps({"import_s": t1 - t0, "create_s": t2 - t1, "first_request_s": t3 - t2,
                      "total_s": t3 - t0, "rss_mb": common.self_rss_mb()}))


def first_submit(base_url, token, seed):
    """GET the entry page, then time one POST of a submission; returns seconds."""
    import random
    import urllib.error
    import urllib.parse
    import uuid

    from forms.loader import load_schema_file
    from seed_data.demo_answers import fake_answers, to_formdata

    schema = load_schema_file(os.path.join(common.ROOT, "schemas", f"{common.SUBMIT_FORM}.json"))
    pairs = to_formdata(schema["fields"], fake_answers(schema, random.Random(seed)))
    opener, _jar = common.no_redirect_opener()
    url = f"{base_url}/f/{token}"
    _status, _headers, html = common.get_page(opener, url)
    body = urllib.parse.urlencode([("csrf_token", common.CSRF_RE.search(html).group(1)),
                                   ("submission_id", uuid.uuid4().hex), *pairs]).encode()
    started = time.perf_counter()
    try:
        with opener.open(url, data=body, timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    elapsed = time.perf_counter() - started
    if status != 303:
        raise RuntimeError(f"first submission answered {status}")
    return elapsed


def measure_once(copy, manifest):
    opened = copy.run_child([HERE, "--child-open"])
    started = time.perf_counter()
    app = copy.run_child([HERE, "--child-app", manifest["entry_token"]])
    app["process_wall_s"] = time.perf_counter() - started
    with copy.gunicorn() as server:
        serve_s = server.start(f"/f/{manifest['entry_token']}")
        submit_s = first_submit(server.url, manifest["entry_token"], int(serve_s * 1e6))
    return {"open": opened, "app": app, "serve_s": serve_s, "first_submit_s": submit_s}


def run(backend_names, sizes, repeats, rebuild=False):
    copies, manifests = {}, {}
    keys = [(b, s) for b in backend_names for s in sizes]
    samples = {key: [] for key in keys}
    try:
        for backend, size in keys:
            base, manifests[(backend, size)] = backends.base(backend, size, rebuild)
            copies[(backend, size)] = backends.fresh_copy(base, f"startup-n{size}")
        for rep in range(repeats):
            common.wait_quiet(f"startup round {rep + 1}")
            for key in keys:
                samples[key].append(measure_once(copies[key], manifests[key]))
            common.log(f"startup: round {rep + 1}/{repeats} done")
    finally:
        for copy in copies.values():
            backends.remove_copy(copy)
    results = {"repeats": repeats, "backends": {}}

    def stats(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    for (backend, size), runs in samples.items():
        results["backends"].setdefault(backend, {"sizes": {}})["sizes"][size] = {
            "open_s": stats([r["open"]["open_s"] for r in runs]),
            "open_rss_growth_mb": statistics.median(
                [r["open"]["rss_after_mb"] - r["open"]["rss_before_mb"] for r in runs]),
            "app_total_s": stats([r["app"]["total_s"] for r in runs]),
            "app_import_s": statistics.median([r["app"]["import_s"] for r in runs]),
            "app_create_s": statistics.median([r["app"]["create_s"] for r in runs]),
            "app_first_request_s": statistics.median([r["app"]["first_request_s"] for r in runs]),
            "app_rss_mb": statistics.median([r["app"]["rss_mb"] for r in runs]),
            "app_process_wall_s": stats([r["app"]["process_wall_s"] for r in runs]),
            "serve_first_response_s": stats([r["serve_s"] for r in runs]),
            "first_submit_s": stats([r["first_submit_s"] for r in runs]),
        }
    return results


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--child-open":
        return child_open()
    if len(sys.argv) == 3 and sys.argv[1] == "--child-app":
        return child_app(sys.argv[2])
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--repeats", type=int, help="runs per size (default 5, --quick 2)")
    args = parser.parse_args()
    results = run(backends.backends_of(args.backends), common.sizes_of(args),
                  args.repeats or (2 if args.quick else 5), args.rebuild)
    print(f"{'backend':>10} {'stored':>8} {'open s':>7} {'data MB':>8} {'app s':>7} "
          f"{'(import/create/1st req)':>24} {'serve s':>8} {'1st POST s':>10}")
    for backend, per in results["backends"].items():
        for size, r in per["sizes"].items():
            parts = (f"{r['app_import_s']:.2f}/{r['app_create_s']:.2f}/"
                     f"{r['app_first_request_s']:.2f}")
            print(f"{backend:>10} {size:>8} {r['open_s']['median']:>7.3f} "
                  f"{r['open_rss_growth_mb']:>8.0f} {r['app_total_s']['median']:>7.3f} "
                  f"{parts:>24} {r['serve_first_response_s']['median']:>8.3f} "
                  f"{r['first_submit_s']['median']:>10.3f}")
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
