"""Every benchmark of issue 3 in one run, side by side at each size; prints a Markdown report.

    .venv/bin/python bench/run_all.py                     # 1k, 10k, 100k (about 10 minutes)
    .venv/bin/python bench/run_all.py --quick             # smoke run: 1k, 10k, short runs
    .venv/bin/python bench/run_all.py --sizes 1000,100000
    .venv/bin/python bench/run_all.py --snapshot HEAD     # measure exactly one commit

--snapshot COMMIT exports that commit (`git archive`) to bench/out/snapshot-<hash>/ and runs
the whole benchmark there, with that commit's code and bench/, so that commits landing in the
working tree during the run cannot mix into it; the report is copied back to
bench/out/results/.

Order: build (or reuse, if storage/ is unchanged) the base databases, then storage inserts,
open/startup, admin list, HTTP submit (with server memory), XLSX export. Each benchmark runs
in its own process (bench/<name>.py --json ...). The report (Markdown, stdout) and all the
raw figures (JSON) are also written to bench/out/results/run-<timestamp>.{md,json}.
Goals are judged at the largest size measured (100k in a full run).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

BENCHMARKS = ("storage_insert", "startup", "admin_list", "http_submit", "export")


def run_benchmark(name, sizes, quick, out_dir, extra=()):
    json_path = os.path.join(out_dir, f"{name}.json")
    command = [common.PY, os.path.join(common.BENCH, f"{name}.py"),
               "--sizes", ",".join(map(str, sizes)), "--json", json_path, *extra]
    if quick:
        command.append("--quick")
    common.log(f"=== {name}: {' '.join(os.path.relpath(c, common.ROOT) if c.startswith(common.ROOT) else c for c in command[1:])}")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=common.ROOT, timeout=3600, text=True,
                          stdout=subprocess.PIPE)
    sys.stderr.write(done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {done.returncode}")
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    data["_seconds"] = time.perf_counter() - started
    return data


def k(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def report(results, sizes, machine, started_at, finished_at, load_before, load_after):
    big = sizes[-1]
    at = "" if big == 100000 else f" (judged at {k(big)})"
    head = "| figure | " + " | ".join(k(s) for s in sizes) + " | goal | result |"
    sep = "|" + " --- |" * (len(sizes) + 3)
    rows = []

    def row(name, values, goal, ok):
        rows.append(f"| {name} | " + " | ".join(values) + f" | {goal} | "
                    + (verdict(ok) if ok is not None else "—") + " |")

    ins = results["storage_insert"]["sizes"]
    get = lambda d, s: d.get(str(s), d.get(s))  # noqa: E731 - JSON keys are strings
    row(f"storage insert p50, ms ({results['storage_insert']['inserts_per_size']} each, "
        "interleaved)", [f"{get(ins, s)['p50']:.2f}" for s in sizes], "≤ 1 ms",
        all(get(ins, s)["p50"] <= 1 for s in sizes))
    row("storage insert p99, ms", [f"{get(ins, s)['p99']:.2f}" for s in sizes], "≤ 5 ms",
        all(get(ins, s)["p99"] <= 5 for s in sizes))
    ratio = get(ins, big)["p99"] / get(ins, sizes[0])["p99"]
    row(f"storage insert p99 {k(big)} / p99 {k(sizes[0])}",
        ["—"] * (len(sizes) - 1) + [f"{ratio:.2f}×"], "≤ 1.5×", ratio <= 1.5)
    row("storage insert max, ms", [f"{get(ins, s)['max']:.1f}" for s in sizes], "", None)

    http = results["http_submit"]
    hs = http["sizes"]
    bare = http["bare"]
    bare_txt = " / ".join(f"{b['rps']:.0f}" for b in bare)
    row(f"HTTP submit, req/s (wrk -t2 -c8 -d{http['duration_s']}s); bare endpoint: "
        f"{bare_txt} (before / after)", [f"{get(hs, s)['rps']:.0f}" for s in sizes], "", None)
    row("HTTP submit, % of bare endpoint", [f"{get(hs, s)['ratio_to_bare'] * 100:.0f}%"
                                            for s in sizes],
        "≥ 40% at 100k" + at, get(hs, big)["ratio_to_bare"] >= 0.40)
    row("HTTP submit latency p50, ms", [f"{get(hs, s)['latency_ms']['50']:.1f}" for s in sizes],
        "", None)
    row("HTTP submit latency p99, ms", [f"{get(hs, s)['latency_ms']['99']:.1f}" for s in sizes],
        "≤ 20 ms", all(get(hs, s)["latency_ms"]["99"] <= 20 for s in sizes))
    row("HTTP submit latency max, ms", [f"{get(hs, s)['latency_max_ms']:.0f}" for s in sizes],
        "", None)
    row("HTTP errors (non-303, socket errors)", [str(get(hs, s)["errors"]) for s in sizes]
        + [], "0", all(get(hs, s)["errors"] == 0 for s in sizes)
        and all(b["errors"] == 0 for b in bare))
    row("stored growth = 303s wrk counted (+ in flight at stop)",
        [f"{get(hs, s)['stored_growth']} = {get(hs, s)['status']['s303']}"
         f" + {get(hs, s)['stored_in_flight_extra']}" for s in sizes], "equal",
        all(get(hs, s)["stored_matches"] for s in sizes))
    row("server CPU per submit, ms (bare: "
        + " / ".join(f"{b['server_cpu_ms_per_request']:.2f}" for b in bare) + ")",
        [f"{get(hs, s)['server_cpu_ms_per_request']:.2f}" for s in sizes], "", None)

    if "bare_store" in http:
        bs_extra = len(http["bare_store"].get("attempts", [])) - 1
        bs = http["bare_store"]
        row(f"diagnostic: bare endpoint + Store.add_submission at {k(bs['size'])}: req/s, "
            f"% of bare, p99 ms, server CPU ms/req",
            ["—"] * (len(sizes) - 1) + [f"{bs['rps']:.0f}, {bs['rps'] / http['bare_rps_mean'] * 100:.0f}%, "
                                        f"{bs['latency_ms']['99']:.1f}, "
                                        f"{bs['server_cpu_ms_per_request']:.2f}"
                                        + (f" ({bs_extra} disturbed run{'s' * (bs_extra > 1)} "
                                           "discarded)" if bs_extra else "")], "", None)
    def foreign(r):
        extra = len(r.get("attempts", [])) - 1
        return f"{r['foreign_cpu_cores']:.2f}" + (f" ({extra} disturbed run{'s' * (extra > 1)} "
                                                   "discarded)" if extra else "")
    row("CPU used by other processes during the wrk run, cores (bare: "
        + " / ".join(foreign(b) for b in bare) + ")",
        [foreign(get(hs, s)) for s in sizes],
        f"≤ {http.get('foreign_limit_cores', 0.15)} (else re-run, ≤ {http.get('max_attempts', 3)}×)",
        None)

    st = results["startup"]["sizes"]
    row(f"open: Store(path) in a fresh process, s (median of {results['startup']['repeats']})",
        [f"{get(st, s)['open_s']['median']:.3f}" for s in sizes], "≤ 1 s at 100k" + at,
        get(st, big)["open_s"]["median"] <= 1)
    row("startup: import + create_app() + first request, s",
        [f"{get(st, s)['app_total_s']['median']:.3f}" for s in sizes], "≤ 1 s at 100k" + at,
        get(st, big)["app_total_s"]["median"] <= 1)
    row("gunicorn spawn → first entry page, s",
        [f"{get(st, s)['serve_first_response_s']['median']:.2f}" for s in sizes], "", None)
    if "first_submit_s" in get(st, big):
        row("then the first submission (POST → 303) on that server, s",
            [f"{get(st, s)['first_submit_s']['median']:.3f}" for s in sizes], "", None)
    mem = [get(hs, s)["memory"] for s in sizes]
    row("server RSS after the load run, MB (master + 2 workers)",
        [f"{m['rss_total_mb']:.0f} (" + " + ".join(f"{p['rss_mb']:.0f}" for p in m["processes"])
         + ")" for m in mem], "< 1024 MB at 100k" + at, mem[-1]["rss_total_mb"] < 1024)
    row("server PSS after the load run, MB", [f"{m['pss_total_mb']:.0f}" for m in mem], "",
        None)

    ad = results["admin_list"]["sizes"]
    n_admin = results["admin_list"]["requests"]
    row(f"admin list, township filter, page 1: p50, ms ({n_admin} requests)",
        [f"{get(ad, s)['p50']:.1f}" for s in sizes], "", None)
    row("admin list p95, ms", [f"{get(ad, s)['p95']:.1f}" for s in sizes],
        "≤ 100 ms at 100k" + at, get(ad, big)["p95"] <= 100 and get(ad, big)["errors"] == 0)

    forms = results["export"]["forms"]
    titles = {"bench25flat": "bench25flat: 25 fields, one row per submission",
              "bench25": "bench25: the same 25 fields, 实施步骤 a repeat (+ detail sheet)"}
    for form_id, per_form in forms.items():
        ex = per_form["sizes"]
        title = titles.get(form_id, form_id)
        row(f"XLSX export ({title}), `flask export`, wall s",
            [f"{get(ex, s)['cli']['wall_s']:.1f}" for s in sizes],
            "≤ 30 s at 100k" + at, get(ex, big)["cli"]["wall_s"] <= 30)
        row("— its peak RSS, MB", [f"{get(ex, s)['cli']['peak_rss_mb']:.0f}" for s in sizes],
            "≤ 150 MB at 100k" + at, get(ex, big)["cli"]["peak_rss_mb"] <= 150)
        floor = get(ex, big).get("floor")
        if floor:
            row(f"— XlsxWriter alone writing the same {floor['cells']:,} cells, s",
                ["—"] * (len(sizes) - 1) + [f"{floor['total_s']:.1f}"], "", None)
        if "web" in get(ex, big):
            def web(r):
                w = r["web"]
                status = w["status"] if isinstance(w["status"], int) else "no response"
                text = f"{status} after {w['wall_s']:.1f} s, worker {w['worker_peak_rss_mb']:.0f} MB"
                return text + (f", {w['worker_timeouts']} WORKER TIMEOUT"
                               if w["worker_timeouts"] else "")
            row("— admin page export (HTTP, make serve): status, time, worker peak RSS",
                [web(get(ex, s)) for s in sizes], "200 (all rows)",
                all(get(ex, s)["web"]["ok"] for s in sizes))
        row("— XLSX rows per sheet (main = submissions)",
            [" + ".join(f"{n:,}" for n in get(ex, s)["cli"]["rows_per_sheet"]) for s in sizes],
            "main = stored", all(get(ex, s)["cli"]["rows_ok"] for s in sizes))

    lines = [f"# Taizhang benchmarks — {started_at}", "",
             f"- commit: `{machine['commit']}`"
             + (f" (uncommitted changes outside bench/ and docs/: {', '.join(machine['dirty'])})"
                if machine["dirty"] else " (clean outside bench/ and docs/)"),
             f"- machine: {machine['nproc']} CPUs, {machine['cpu']}, {machine['mem_total']} RAM, "
             f"Linux {machine['kernel']}, data on {machine['filesystem']}",
             f"- software: Python {machine['python']}, "
             + ", ".join(f"{p} {v}" for p, v in machine["packages"].items()) + f", {machine['wrk']}",
             f"- server (`make serve`, WEB_CONCURRENCY=2): `{machine['server_command']}`",
             f"- load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f}; "
             f"run {started_at} → {finished_at}",
             "", head, sep, *rows, ""]
    for form_id, per_form in forms.items():
        breakdown = get(per_form["sizes"], big)
        if breakdown.get("breakdown"):
            lines += [f"Export of {form_id} at {k(big)}, step by step (one instrumented process):",
                      "", "| step | s | RSS after, MB | peak so far, MB |",
                      "| --- | --- | --- | --- |"]
            lines += [f"| {b['step']} | {b['s']:.2f} | {b['rss_mb']:.0f} | {b['hwm_mb']:.0f} |"
                      for b in breakdown["breakdown"]]
            lines.append("")
        if breakdown.get("sheets"):
            lines += [f"Inside submissions_to_xlsx ({form_id}, {k(big)}):", "",
                      "| part | rows × columns | s |", "| --- | --- | --- |"]
            lines += [f"| {p['sheet']} | "
                      + (f"{p['rows']:,} × {p['columns']}" if p["rows"] else "—")
                      + f" | {p['s']:.2f} |" for p in breakdown["sheets"]]
            lines.append("")
    return "\n".join(lines)


def run_snapshot(commit, argv):
    """Export commit to bench/out/snapshot-<hash>/ and run this script there."""
    import shutil

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
    base = os.path.join(common.OUT, "base")
    if os.path.isdir(base):  # reused only if that commit's storage/ wrote them (fingerprint)
        shutil.copytree(base, os.path.join(target, "bench", "out", "base"))
    common.log(f"snapshot of {full} in {os.path.relpath(target, common.ROOT)}")
    done = subprocess.run([common.PY, os.path.join(target, "bench", "run_all.py"), *argv],
                          cwd=target, timeout=4 * 3600)
    results = os.path.join(target, "bench", "out", "results")
    if os.path.isdir(results):
        for name in os.listdir(results):
            shutil.copytree(os.path.join(results, name),
                            os.path.join(common.OUT, "results", f"{name}-{full[:12]}"),
                            dirs_exist_ok=True)
    return done.returncode


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--snapshot", metavar="COMMIT",
                        help="run on a git-archive export of COMMIT (see above)")
    args = parser.parse_args()
    if args.snapshot:
        argv = [a for i, a in enumerate(sys.argv[1:]) if a != "--snapshot"
                and not a.startswith("--snapshot=")
                and not (i > 0 and sys.argv[i] == "--snapshot")]
        sys.exit(run_snapshot(args.snapshot, argv))
    sizes = sorted(common.sizes_of(args))
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(common.OUT, "results", stamp)
    os.makedirs(out_dir, exist_ok=True)
    started_at = time.strftime("%Y-%m-%d %H:%M:%S")
    machine = common.machine_info()
    load_before = os.getloadavg()
    common.log(f"commit {machine['commit']}, sizes {sizes}, load {load_before[0]:.2f}")
    for size in sizes:
        common.build_base(size, args.rebuild)
    results = {}
    extra = ("--rebuild",) if args.rebuild else ()
    for name in names:
        results[name] = run_benchmark(name, sizes, args.quick, out_dir, extra if name == "export"
                                      else ())
    finished_at = time.strftime("%Y-%m-%d %H:%M:%S")
    load_after = os.getloadavg()
    commit_after = common.git_commit()[0]
    if commit_after != machine["commit"]:
        common.log(f"WARNING: HEAD moved during the run: {machine['commit']} -> {commit_after}")
    machine["commit_after"] = commit_after
    common.dump_json(os.path.join(out_dir, "all.json"),
                     {"machine": machine, "sizes": sizes, "results": results,
                      "load_before": load_before, "load_after": load_after,
                      "started_at": started_at, "finished_at": finished_at})
    if set(names) == set(BENCHMARKS):
        text = report(results, sizes, machine, started_at, finished_at, load_before, load_after)
        with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(text)
    common.log(f"raw results: {os.path.relpath(out_dir, common.ROOT)}/")


if __name__ == "__main__":
    main()
