"""Every benchmark of issues 7 and 10 in one run: both storage backends side by side, PostgreSQL
at scale and two hosts on one database; prints a Markdown report.

    .venv/bin/python bench/run_all.py                     # everything (~20 min; bases once more)
    .venv/bin/python bench/run_all.py --backends tinydb,postgresql --sizes 1000,10000,100000
    .venv/bin/python bench/run_all.py --quick             # smoke run: small sizes, short runs
    .venv/bin/python bench/run_all.py --only pg_scale,two_hosts --scale-sizes 1000,1000000
    .venv/bin/python bench/run_all.py --snapshot HEAD     # measure exactly one commit

Side by side (each backend at every --sizes, default 1k, 10k, 100k): storage_insert, startup,
admin_list, http_submit, export (the 100k x 25 form, bench25flat), lifecycle (issue 10: 催报,
review, status filters and the new admin pages on the demo year of projects). Then pg_scale (PostgreSQL
at --scale-sizes, default 1k and 1M: a prefecture's organizations) and two_hosts (two gunicorn
hosts on one database, at the largest scale size).

--snapshot COMMIT exports that commit (`git archive`) to bench/out/snapshot-<hash>/ and runs
the whole benchmark there, with that commit's code and bench/, so that commits landing in the
working tree during the run cannot mix into it; the base databases are reused (the TinyDB
folders are copied in, the PostgreSQL server in bench/out/pg is shared) and the report is
copied back to bench/out/results/.

The PostgreSQL server (bench/backends.py) is started once here for every child and stopped at
the end. Each benchmark runs in its own process (bench/<name>.py --json ...). The report
(Markdown, stdout) and all the raw figures (JSON) are written to
bench/out/results/<timestamp>/{report.md,all.json}.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402
import lifecycle  # noqa: E402
import pg_scale  # noqa: E402
import two_hosts  # noqa: E402

SIDE_BY_SIDE = ("storage_insert", "startup", "admin_list", "http_submit", "export", "lifecycle")
BENCHMARKS = SIDE_BY_SIDE + ("pg_scale", "two_hosts")
EXPORT_FORMS = "bench25flat"  # the 100k x 25 (bench/export.py --forms for both)


def run_benchmark(name, arguments, out_dir):
    json_path = os.path.join(out_dir, f"{name}.json")
    command = [common.PY, os.path.join(common.BENCH, f"{name}.py"), *arguments,
               "--json", json_path]
    common.log(f"=== {name}: {' '.join(command[2:-2])}")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=common.ROOT, timeout=6 * 3600, text=True,
                          stdout=subprocess.PIPE)
    sys.stderr.write(done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {done.returncode}")
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    data["_seconds"] = time.perf_counter() - started
    return data


def k(size):
    return pg_scale.k(size)


def get(d, key):
    """d[key] whether JSON made the key a string or not."""
    return d.get(str(key), d.get(key))


def side_by_side(results, names, sizes):
    """The table of every figure, TinyDB beside PostgreSQL, each at every size."""
    big = sizes[-1]
    at = f" at {k(big)}"
    cols = " / ".join(k(s) for s in sizes)
    lines = [f"| figure | " + " | ".join(f"{backends.LABELS[b]} ({cols})" for b in names)
             + " | goal (issue 3) | result |", "|" + " --- |" * (len(names) + 3)]

    def row(title, cell, goal="", judge=None):
        """cell(backend, size) -> text; judge(backend) -> bool (None: no goal)."""
        cells = [" / ".join(cell(b, s) for s in sizes) for b in names]
        verdict = "—" if judge is None else ", ".join(
            f"{backends.LABELS[b]} {'**pass**' if judge(b) else '**FAIL**'}" for b in names)
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {goal} | {verdict} |")

    if "storage_insert" in results:
        ins = results["storage_insert"]["backends"]
        fig = lambda b, s: get(ins[b]["sizes"], s)  # noqa: E731
        row(f"storage insert p50, ms ({results['storage_insert']['inserts_per_size']} each, "
            f"interleaved, {results['storage_insert'].get('form', 'monthly_report')})",
            lambda b, s: f"{fig(b, s)['p50']:.2f}", "≤ 1 ms",
            lambda b: all(fig(b, s)["p50"] <= 1 for s in sizes))
        row("storage insert p99, ms", lambda b, s: f"{fig(b, s)['p99']:.2f}", "≤ 5 ms",
            lambda b: all(fig(b, s)["p99"] <= 5 for s in sizes))
        ratio = lambda b: fig(b, big)["p99"] / fig(b, sizes[0])["p99"]  # noqa: E731
        row(f"storage insert p99 {k(big)} / p99 {k(sizes[0])}",
            lambda b, s: f"{ratio(b):.2f}×" if s == big else "—", "≤ 1.5×",
            lambda b: ratio(b) <= 1.5)
        row("storage insert max, ms", lambda b, s: f"{fig(b, s)['max']:.1f}")
    if "http_submit" in results:
        http = results["http_submit"]
        hs = lambda b, s: get(http["backends"][b]["sizes"], s)  # noqa: E731
        bare = " / ".join(f"{x['rps']:.0f}" for x in http["bare"])
        row(f"HTTP submit of {http.get('form', 'monthly_report')}, req/s (wrk -t2 -c8 "
            f"-d{http['duration_s']}s; bare endpoint {bare} before / after)",
            lambda b, s: f"{hs(b, s)['rps']:.0f}")
        row("HTTP submit, % of bare endpoint",
            lambda b, s: f"{hs(b, s)['ratio_to_bare'] * 100:.0f}%", f"≥ 40%{at}",
            lambda b: hs(b, big)["ratio_to_bare"] >= 0.40)
        row("HTTP submit latency p50, ms", lambda b, s: f"{hs(b, s)['latency_ms']['50']:.1f}")
        row("HTTP submit latency p99, ms", lambda b, s: f"{hs(b, s)['latency_ms']['99']:.1f}",
            "≤ 20 ms", lambda b: all(hs(b, s)["latency_ms"]["99"] <= 20 for s in sizes))
        row("HTTP errors (non-303, socket errors)", lambda b, s: str(hs(b, s)["errors"]), "0",
            lambda b: all(hs(b, s)["errors"] == 0 for s in sizes))
        row("stored growth = 303s (+ in flight at the stop)",
            lambda b, s: f"{hs(b, s)['stored_growth']} = {hs(b, s)['status']['s303']} + "
                         f"{hs(b, s)['stored_in_flight_extra']}", "equal",
            lambda b: all(hs(b, s)["stored_matches"] for s in sizes))
        row("CPU per submit, ms: gunicorn (+ PostgreSQL server)",
            lambda b, s: f"{hs(b, s)['server_cpu_ms_per_request']:.2f}"
            + (f" + {hs(b, s)['db_cpu_ms_per_request']:.2f}" if b == "postgresql" else ""))
        row("CPU used by other processes during the wrk run, cores",
            lambda b, s: f"{hs(b, s)['foreign_cpu_cores']:.2f}"
            + (f" ({len(hs(b, s)['attempts']) - 1} re-run)" if len(hs(b, s)["attempts"]) > 1
               else ""), "≤ 0.15 (else re-run, ≤ 3×)")
        if all("bare_store" in http["backends"][b] for b in names):
            row("diagnostic: bare endpoint + Store.add_submission: req/s, p99 ms",
                lambda b, s: (f"{http['backends'][b]['bare_store']['rps']:.0f}, "
                              f"{http['backends'][b]['bare_store']['latency_ms']['99']:.1f}")
                if s == big else "—")
        row("server RSS after the load run, MB (master + 2 workers)",
            lambda b, s: f"{hs(b, s)['memory']['rss_total_mb']:.0f}", f"< 1024 MB{at}",
            lambda b: hs(b, big)["memory"]["rss_total_mb"] < 1024)
    if "startup" in results:
        st = lambda b, s: get(results["startup"]["backends"][b]["sizes"], s)  # noqa: E731
        row(f"open: open_store() in a fresh process, s (median of "
            f"{results['startup']['repeats']})", lambda b, s: f"{st(b, s)['open_s']['median']:.3f}",
            f"≤ 1 s{at}", lambda b: st(b, big)["open_s"]["median"] <= 1)
        row("startup: import + create_app() + first request, s",
            lambda b, s: f"{st(b, s)['app_total_s']['median']:.3f}", f"≤ 1 s{at}",
            lambda b: st(b, big)["app_total_s"]["median"] <= 1)
        row("gunicorn spawn → first entry page, s",
            lambda b, s: f"{st(b, s)['serve_first_response_s']['median']:.2f}")
        row("then the first submission (POST → 303), s",
            lambda b, s: f"{st(b, s)['first_submit_s']['median']:.3f}")
    if "admin_list" in results:
        ad = lambda b, s: get(results["admin_list"]["backends"][b]["sizes"], s)  # noqa: E731
        row(f"admin list of {results['admin_list'].get('form', 'monthly_report')}, township "
            f"filter, page 1: p50, ms ({results['admin_list']['requests']} requests)",
            lambda b, s: f"{ad(b, s)['p50']:.1f}")
        row("admin list p95, ms", lambda b, s: f"{ad(b, s)['p95']:.1f}", f"≤ 100 ms{at}",
            lambda b: ad(b, big)["p95"] <= 100 and all(ad(b, s)["errors"] == 0 for s in sizes))
    if "export" in results:
        per_backend = results["export"]["backends"]
        for form_id in per_backend[names[0]]["forms"]:
            ex = lambda b, s: get(per_backend[b]["forms"][form_id]["sizes"], s)  # noqa: E731
            row(f"XLSX export of {form_id} (25 fields), `flask export`, wall s",
                lambda b, s: f"{ex(b, s)['cli']['wall_s']:.1f}", f"≤ 30 s{at}",
                lambda b: ex(b, big)["cli"]["wall_s"] <= 30)
            row("— its peak RSS, MB", lambda b, s: f"{ex(b, s)['cli']['peak_rss_mb']:.0f}",
                f"≤ 150 MB{at}", lambda b: ex(b, big)["cli"]["peak_rss_mb"] <= 150)
            row("— rows of the main sheet = stored",
                lambda b, s: "yes" if ex(b, s)["cli"]["rows_ok"] else "**no**", "all",
                lambda b: all(ex(b, s)["cli"]["rows_ok"] for s in sizes))
            if "web" in ex(names[0], big):
                row("— admin page export (HTTP): status, s, worker peak RSS MB",
                    lambda b, s: f"{ex(b, s)['web']['status']}, {ex(b, s)['web']['wall_s']:.1f}"
                                 f", {ex(b, s)['web']['worker_peak_rss_mb']:.0f}", "200, all rows",
                    lambda b: all(ex(b, s)["web"]["ok"] for s in sizes))
            floor = ex(names[0], big).get("floor")
            if floor:
                row(f"— XlsxWriter alone writing the same {floor['cells']:,} cells, s",
                    lambda b, s: f"{floor['total_s']:.1f}" if s == big and b == names[0]
                    else "—")
    return "\n".join(lines)


def report(results, names, sizes, machine, started_at, finished_at, load_before, load_after):
    lines = [f"# Taizhang benchmarks (issues 7 and 10) — {started_at}", "",
             f"- commit: `{machine['commit']}`"
             + (f" (uncommitted changes outside bench/ and docs/: {', '.join(machine['dirty'])})"
                if machine["dirty"] else " (clean outside bench/ and docs/)"),
             f"- machine: {machine['nproc']} CPUs, {machine['cpu']}, {machine['mem_total']} RAM, "
             f"Linux {machine['kernel']}, data on {machine['filesystem']}",
             f"- software: Python {machine['python']}, "
             + ", ".join(f"{p} {v}" for p, v in machine["packages"].items())
             + f", {machine['wrk']}",
             f"- server (`make serve`, WEB_CONCURRENCY=2): `{machine['server_command']}`"]
    pg = machine.get("postgresql")
    if pg:
        changed = ", ".join(f"{k}={v}" for k, v in pg["changed_from_defaults"].items())
        lines.append(f"- PostgreSQL {pg['version']} (the bench's own server, data in "
                     f"`{pg['data']}` on {pg['filesystem']}): defaults except {changed}; "
                     + ", ".join(f"{k}={pg['settings'][k]}" for k in backends.DURABILITY))
    lines += [f"- load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f}; "
              f"run {started_at} → {finished_at}", ""]
    if any(name in results for name in SIDE_BY_SIDE if name != "lifecycle"):
        lines += ["## Both backends side by side", "", side_by_side(results, names, sizes), ""]
    if "lifecycle" in results:
        lines += ["## The year of a project (issue 10): 催报, review, status filters, pages", "",
                  lifecycle.markdown(results["lifecycle"]), ""]
    if "pg_scale" in results:
        lines += ["## PostgreSQL at scale (a prefecture: "
                  f"{get(results['pg_scale']['sizes'], max(int(s) for s in results['pg_scale']['sizes']))['orgs']:,}"
                  " organizations)", "", pg_scale.markdown(results["pg_scale"]), ""]
    if "two_hosts" in results:
        lines += [f"## Two hosts, one database ({results['two_hosts']['size']:,} submissions, "
                  f"wrk {results['two_hosts']['duration_s']} s per load)", "",
                  two_hosts.markdown(results["two_hosts"]), ""]
    return "\n".join(lines)


def run_snapshot(commit, argv):
    """Export commit to bench/out/snapshot-<hash>/ and run this script there."""
    full = subprocess.run(["git", "rev-parse", "--verify", commit + "^{commit}"],
                          cwd=common.ROOT, capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()
    target = os.path.join(common.OUT, f"snapshot-{full[:12]}")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    archive = subprocess.Popen(["git", "archive", full], cwd=common.ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", target], stdin=archive.stdout, check=True, timeout=300)
    archive.stdout.close()
    if archive.wait(60) != 0:
        raise RuntimeError("git archive failed")
    with open(os.path.join(target, "BENCH_SNAPSHOT_COMMIT"), "w", encoding="ascii") as f:
        f.write(full + "\n")
    for name in ("base", "export"):  # reused when that commit's code would build the same
        if os.path.isdir(os.path.join(common.OUT, name)):
            shutil.copytree(os.path.join(common.OUT, name),
                            os.path.join(target, "bench", "out", name))
    common.log(f"snapshot of {full} in {os.path.relpath(target, common.ROOT)}")
    env = {**os.environ, "BENCH_PG_DIR": backends.PG_DIR}  # one PostgreSQL server, its bases
    done = subprocess.run([common.PY, os.path.join(target, "bench", "run_all.py"), *argv],
                          cwd=target, timeout=8 * 3600, env=env)
    results = os.path.join(target, "bench", "out", "results")
    if os.path.isdir(results):
        for name in os.listdir(results):
            shutil.copytree(os.path.join(results, name),
                            os.path.join(common.OUT, "results", f"{name}-{full[:12]}"),
                            dirs_exist_ok=True)
    return done.returncode


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--scale-sizes", help="sizes of pg_scale (default 1000,1000000; "
                        "--quick 1000,10000); two_hosts runs at the largest")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--snapshot", metavar="COMMIT",
                        help="run on a git-archive export of COMMIT (see above)")
    args = parser.parse_args()
    if args.snapshot:
        argv, skip = [], False
        for a in sys.argv[1:]:
            if skip:
                skip = False
            elif a == "--snapshot":
                skip = True
            elif not a.startswith("--snapshot="):
                argv.append(a)
        sys.exit(run_snapshot(args.snapshot, argv))
    names = backends.backends_of(args.backends)
    sizes = sorted(common.sizes_of(args))
    scale = sorted(int(s) for s in args.scale_sizes.split(",")) if args.scale_sizes else \
        list(pg_scale.QUICK_SIZES if args.quick else pg_scale.DEFAULT_SIZES)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if "postgresql" not in names:
        chosen = [c for c in chosen if c in SIDE_BY_SIDE]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(common.OUT, "results", stamp)
    os.makedirs(out_dir, exist_ok=True)
    started_at = time.strftime("%Y-%m-%d %H:%M:%S")
    machine = common.machine_info()
    if "postgresql" in names:
        backends.cluster()  # one server for every child; stopped when this process exits
        machine["postgresql"] = backends.describe_server()
    load_before = os.getloadavg()
    common.log(f"commit {machine['commit']}, backends {names}, sizes {sizes}, scale {scale}, "
               f"load {load_before[0]:.2f}")
    flags = (["--quick"] if args.quick else []) + (["--rebuild"] if args.rebuild else [])
    side = ["--backends", ",".join(names), "--sizes", ",".join(map(str, sizes)), *flags]
    arguments = {name: side for name in SIDE_BY_SIDE}
    arguments["export"] = side + ["--forms", EXPORT_FORMS]
    arguments["pg_scale"] = ["--sizes", ",".join(map(str, scale)), *flags]
    arguments["two_hosts"] = ["--size", str(scale[-1]), *flags]
    results = {}
    for name in chosen:
        results[name] = run_benchmark(name, arguments[name], out_dir)
    finished_at = time.strftime("%Y-%m-%d %H:%M:%S")
    load_after = os.getloadavg()
    commit_after = common.git_commit()[0]
    if commit_after != machine["commit"]:
        common.log(f"WARNING: HEAD moved during the run: {machine['commit']} -> {commit_after}")
    machine["commit_after"] = commit_after
    common.dump_json(os.path.join(out_dir, "all.json"),
                     {"machine": machine, "backends": names, "sizes": sizes, "scale": scale,
                      "results": results, "load_before": load_before,
                      "load_after": load_after, "started_at": started_at,
                      "finished_at": finished_at})
    text = report(results, names, sizes, machine, started_at, finished_at, load_before,
                  load_after)
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text)
    common.log(f"raw results: {os.path.relpath(out_dir, common.ROOT)}/")


if __name__ == "__main__":
    main()
