"""HTTP submit throughput and latency: the real public form against a bare Flask endpoint, per
storage backend (TinyDB file; PostgreSQL: TAIZHANG_DATABASE_URL, the bench's own server).

Both run under the production command line (`make serve`: gunicorn --bind 127.0.0.1:PORT
--access-logfile - APP, WEB_CONCURRENCY=2 sync workers) and are driven by the same load
generator: wrk -t2 -c8 -dDURATION --latency -s bench/submit.lua. Every request POSTs a
submission of common.SUBMIT_FORM (public_demand: a cadre files one per 群众诉求, any number
of them; monthly_report, the form until issue 10, now refuses a second report of the same
organization, month and project) the way a phone does - the answers (seed_data.demo_answers,
50 different answer sets used in turn), the csrf_token of a GET of the entry page with that
GET's session cookie, and a fresh random uuid4 submission_id - to /f/<token>, a village's
link of that form. Taizhang checks CSRF,
validates with WTForms, stores (fsync) and answers 303 to the receipt; the bare app
(bench/bare_app.py) only parses the form and answers 303.

Per run: fresh copy of the base database, start the server, one GET of the entry page (time to
first response is reported), 3 s of GET warm-up so both workers have opened the database, the
wrk POST run, RSS/PSS of master and workers from /proc, stop, then a fresh process counts the
stored submissions of that form: the growth must equal the 303s wrk saw (plus at most the
requests in flight when wrk stopped). The bare endpoint is measured before and after the
Taizhang runs. A diagnostic third target, at the largest size only: the bare endpoint plus
Store.add_submission of the posted values (BENCH_BARE_STORE=1, see bench/bare_app.py).
The CPU of the bench's PostgreSQL server during a run is measured as the server's is
(bench/backends.PgCluster.cpu_seconds) and is not counted as other processes' CPU.

    .venv/bin/python bench/http_submit.py [--backends ...] [--sizes ...] [--quick] [--duration S]
"""
import os
import random
import re
import resource
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

CONNECTIONS, THREADS = 8, 2
# A run during which other processes (other sessions on this shared machine) used more than
# common.FOREIGN_LIMIT cores is repeated, at most common.ATTEMPTS times in all; every attempt
# is kept in the results ("attempts") and the least disturbed one is reported.
FOREIGN_LIMIT, ATTEMPTS = common.FOREIGN_LIMIT, common.ATTEMPTS
BODIES = 50
LUA = os.path.join(common.BENCH, "submit.lua")


def fresh_seed():
    """A seed for submit.lua's submission ids that no earlier run (or re-run) used: a run
    that resends stored ids takes the idempotent path and stores nothing."""
    return int(time.time() * 1000) % 10**9


def make_bodies(csrf, count=BODIES, form_id=common.SUBMIT_FORM):
    """urlencoded POST bodies (without submission_id) of `count` answer sets of form_id."""
    from forms.loader import load_schema_file
    from seed_data.demo_answers import fake_answers, to_formdata

    schema = load_schema_file(os.path.join(common.ROOT, "schemas", f"{form_id}.json"))
    rng = random.Random(4242)
    bodies = []
    for _ in range(count):
        pairs = to_formdata(schema["fields"], fake_answers(schema, rng))
        bodies.append(urllib.parse.urlencode([("csrf_token", csrf), *pairs]))
    return bodies


def fetch_csrf(entry_url):
    """GET the entry page once: (csrf_token, Cookie header of its session)."""
    opener, jar = common.no_redirect_opener()
    status, _headers, html = common.get_page(opener, entry_url)
    if status != 200:
        raise RuntimeError(f"entry page answered {status}")
    csrf = common.CSRF_RE.search(html).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if not cookie:
        raise RuntimeError("the entry page set no session cookie")
    return csrf, cookie


def as_deployment(target):
    """A Deployment for a data folder given as a path (a TinyDB one, as the diagnostic
    scripts pass), or the Deployment itself."""
    return target if isinstance(target, backends.Deployment) else \
        backends.Deployment("tinydb", target)


def probe_csrf(base, token):
    """(csrf_token, session Cookie header) of one GET of a Taizhang entry page, served from a
    copy of base (a Deployment or a TinyDB data folder). The bare runs send the very same
    requests as the real ones, so they need a real token + cookie pair (every run and every
    backend uses the same secret key)."""
    probe_dir = backends.fresh_copy(as_deployment(base), "http-probe")
    probe = probe_dir.gunicorn()
    try:
        probe.start(f"/f/{token}")
        return fetch_csrf(f"{probe.url}/f/{token}")
    finally:
        probe.stop()
        backends.remove_copy(probe_dir)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    out = {"raw": text}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"STATUS 303=(\d+) other2xx=(\d+) other3xx=(\d+) 4xx=(\d+) 5xx=(\d+) "
                  r"other=(\d+)", text)
    keys = ("s303", "other2xx", "other3xx", "s4xx", "s5xx", "other")
    out["status"] = dict(zip(keys, map(int, m.groups()))) if m else None
    m = re.search(r"SUMMARY (.*)", text)
    if m:
        out["summary"] = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        out["requests"] = out["summary"]["requests"]
        out["duration_s"] = out["summary"]["duration_us"] / 1e6
        out["socket_errors"] = sum(out["summary"][k] for k in
                                   ("errors_connect", "errors_read", "errors_write",
                                    "errors_timeout"))
        out["latency_max_ms"] = out["summary"]["latency_max_us"] / 1000
    out["latency_ms"] = {p: int(v) / 1000 for p, v in re.findall(r"PERCENTILE ([\d.]+) (\d+)",
                                                                 text)}
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)\s", text)
    out["latency_avg_ms"] = float(m.group(1)) * _UNIT[m.group(2)] if m else None
    return out


def run_wrk(url, duration, script_args=None, timeout_extra=60, connections=CONNECTIONS,
            threads=THREADS):
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script_args is not None:
        command += ["-s", LUA, url, "--", *script_args]
    else:
        command += [url]
    started = time.perf_counter()
    busy0, total0 = common.machine_ticks()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, cwd=common.ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=duration + timeout_extra)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    busy1, total1 = common.machine_ticks()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = parse_wrk(output)
    result["wall_s"] = time.perf_counter() - started
    result["machine_busy_pct"] = 100 * (busy1 - busy0) / max(total1 - total0, 1)
    result["wrk_cpu_s"] = (children1.ru_utime + children1.ru_stime
                           - children0.ru_utime - children0.ru_stime)
    shown = command[:command.index(url)] + ["URL"]
    if script_args is not None:
        shown += ["--", "BODIES_FILE", "COOKIE", "SEED"]
    result["command"] = " ".join(os.path.relpath(c, common.ROOT) if c == LUA else c
                                 for c in shown)
    return result


def one_run(label, app_spec, target, token, duration, csrf_cookie, seed, count_form=None,
            extra_env=None):
    """Start a server on target (a Deployment, or a TinyDB data folder), warm up, run wrk,
    read memory, stop; returns the figures."""
    target = as_deployment(target)
    server = target.gunicorn(app_spec, extra_env=extra_env)
    entry = f"{server.url}/f/{token}"
    bodies_file = os.path.join(common.OUT, f"bodies-{label}.txt")
    stored_before = target.count(count_form) if count_form else None
    try:
        ready_s = server.start(f"/f/{token}")
        csrf, cookie = csrf_cookie or fetch_csrf(entry)
        with open(bodies_file, "w", encoding="ascii") as f:
            f.write("\n".join(make_bodies(csrf)) + "\n")
        warm = run_wrk(entry, 3)
        workers = common.child_pids(server.process.pid)
        cpu_before = {pid: cpu_seconds(pid) for pid in [server.process.pid] + workers}
        quiet = common.wait_quiet(f"http {label}")
        common.log(f"http {label}: wrk POST {duration} s ...")
        db_before = backends.database_cpu_seconds()
        result = run_wrk(entry, duration, [bodies_file, cookie, str(seed)])
        cpu_after = {pid: cpu_seconds(pid) for pid in cpu_before}
        result["db_cpu_s"] = backends.database_cpu_seconds() - db_before
        result["memory"] = server.memory()
        result["workers"] = len(workers)
        result["server_cpu_s"] = sum(cpu_after[p] - cpu_before[p] for p in cpu_before)
        result["warmup_rps"] = warm["rps"]
        result["busy_before_pct"] = quiet
    finally:
        server.stop()
        if os.path.exists(bodies_file):
            os.unlink(bodies_file)
    result["ready_s"] = ready_s
    result["label"] = label
    result["backend"] = target.backend
    if result.get("requests"):
        result["server_cpu_ms_per_request"] = result["server_cpu_s"] * 1000 / result["requests"]
        result["db_cpu_ms_per_request"] = result["db_cpu_s"] * 1000 / result["requests"]
    # CPU used during the run by neither the server, its database nor wrk (other sessions,
    # kernel threads doing I/O), in cores: a disturbed run shows here.
    result["foreign_cpu_cores"] = (result["machine_busy_pct"] / 100 * os.cpu_count()
                                   - (result["server_cpu_s"] + result["db_cpu_s"]
                                      + result["wrk_cpu_s"]) / result["wall_s"])
    status = result["status"] or {}
    errors = (result["non_2xx_3xx"] + result.get("socket_errors", 0)
              + sum(v for k, v in status.items() if k != "s303"))
    result["errors"] = errors
    if count_form:
        stored_after = target.count(count_form)
        growth = stored_after - stored_before
        result["stored_before"], result["stored_after"] = stored_before, stored_after
        result["stored_growth"] = growth
        extra = growth - status.get("s303", -1)
        result["stored_matches"] = status.get("s303") == result.get("requests") and \
            0 <= extra <= CONNECTIONS
        result["stored_in_flight_extra"] = extra
    result.pop("raw", None) if result.get("status") else None
    return result


def undisturbed(measure, label):
    best = common.undisturbed(measure, f"http {label}")
    for attempt in best["attempts"]:
        attempt.pop("wall_s", None)
    return best


def run(backend_names, sizes, duration, rebuild=False, with_store_reference=True):
    bases = {(b, size): backends.base(b, size, rebuild) for b in backend_names for size in sizes}
    smallest, smallest_manifest = bases[(backend_names[0], sizes[0])]
    csrf_cookie = probe_csrf(smallest, smallest_manifest["entry_token"])
    bare_dir = os.path.join(common.OUT, "work", "http-bare")
    os.makedirs(bare_dir, exist_ok=True)
    results = {"form": common.SUBMIT_FORM, "duration_s": duration, "connections": CONNECTIONS,
               "threads": THREADS,
               "foreign_limit_cores": FOREIGN_LIMIT, "max_attempts": ATTEMPTS,
               "bare": [], "backends": {b: {"sizes": {}} for b in backend_names}}
    seed = int(time.time())

    def bare():
        results["bare"].append(undisturbed(lambda: one_run(
            "bare", "bench.bare_app:create_app()", bare_dir, smallest_manifest["entry_token"],
            duration, csrf_cookie, seed), "bare"))

    bare()
    for size in sizes:
        for backend in backend_names:
            base, manifest = bases[(backend, size)]

            def measure(base=base, manifest=manifest, size=size, backend=backend):
                copy = backends.fresh_copy(base, f"http-n{size}")
                try:
                    return one_run(f"{backend}-n{size}", "app:create_app()", copy,
                                   manifest["entry_token"], duration, None, seed + size,
                                   count_form=common.SUBMIT_FORM)
                finally:
                    backends.remove_copy(copy)
            results["backends"][backend]["sizes"][size] = undisturbed(measure,
                                                                      f"{backend} n{size}")
    if with_store_reference:
        # Diagnostic reference: the bare endpoint + Store.add_submission, at the largest size.
        for backend in backend_names:
            base, manifest = bases[(backend, sizes[-1])]

            def measure_bare_store(base=base, manifest=manifest, backend=backend):
                copy = backends.fresh_copy(base, f"http-bare-store-n{sizes[-1]}")
                try:
                    return one_run(f"bare+store-{backend}-n{sizes[-1]}",
                                   "bench.bare_app:create_app()", copy, manifest["entry_token"],
                                   duration, csrf_cookie, seed + 1, count_form=common.SUBMIT_FORM,
                                   extra_env={"BENCH_BARE_STORE": "1"})
                finally:
                    backends.remove_copy(copy)
            figures = undisturbed(measure_bare_store, f"bare+store {backend}")
            figures["size"] = sizes[-1]
            results["backends"][backend]["bare_store"] = figures
    bare()
    common.remove_copy(bare_dir)
    bare_rps = [b["rps"] for b in results["bare"]]
    results["bare_rps_mean"] = sum(bare_rps) / len(bare_rps)
    for per in results["backends"].values():
        for r in per["sizes"].values():
            r["ratio_to_bare"] = r["rps"] / results["bare_rps_mean"]
    return results


def print_table(results):
    print(f"{'target':>16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} "
          f"{'stored+':>8} {'cpu ms/req':>10} {'db ms/req':>9} {'RSS MB':>7} {'busy%':>6} "
          f"{'wrk%':>6} {'foreign':>7}")
    rows = [("bare", b) for b in results["bare"][:1]]
    for backend, per in results["backends"].items():
        rows += [(f"{backend[:6]} n{s}", r) for s, r in per["sizes"].items()]
        if "bare_store" in per:
            rows.append((f"bare+st {backend[:6]}", per["bare_store"]))
    rows += [("bare", b) for b in results["bare"][1:]]
    for name, r in rows:
        print(f"{name:>16} {r['rps']:>8.0f} {r['latency_ms'].get('50', 0):>7.2f} "
              f"{r['latency_ms'].get('99', 0):>7.2f} {r['latency_max_ms']:>7.1f} "
              f"{r['errors']:>6} {r.get('stored_growth', '-')!s:>8} "
              f"{r.get('server_cpu_ms_per_request', 0):>10.2f} "
              f"{r.get('db_cpu_ms_per_request', 0):>9.2f} "
              f"{r['memory']['rss_total_mb']:>7.0f} {r['machine_busy_pct']:>6.0f} "
              f"{r['wrk_cpu_s'] / r['duration_s'] * 100:>6.0f}% {r['foreign_cpu_cores']:>7.2f}")


def add_duration_arg(parser):
    """--duration: seconds per wrk run; duration_of(args) gives 15 by default, 5 with --quick."""
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 15, "
                        "--quick 5)")


def duration_of(args):
    return args.duration or (5 if args.quick else 15)


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    add_duration_arg(parser)
    parser.add_argument("--no-store-reference", action="store_true",
                        help="skip the diagnostic bare + Store.add_submission run")
    args = parser.parse_args()
    duration = duration_of(args)
    results = run(backends.backends_of(args.backends), common.sizes_of(args), duration,
                  args.rebuild, not args.no_store_reference)
    print_table(results)
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
