"""Where the HTTP submit throughput goes: the real submit against variants that each leave one
part out (diagnostic; not part of run_all.py).

Same harness as bench/http_submit.py - `make serve`'s gunicorn command line with 2 sync
workers, wrk -t2 -c8 with bench/submit.lua posting public_demand submissions, a fresh copy of
the base database per run, runs disturbed by other processes repeated - for each of:

- the bare endpoint (bench/bare_app.py), measured first and last;
- Taizhang (the real submit);
- the bare endpoint + Store.add_submission (bare_app with BENCH_BARE_STORE=1);
- the variants of bench/ceiling_app.py: the bare endpoint + the issue's reference storage (an
  fsync'd JSON-lines append), and Taizhang without storage, without fsync, without WTForms, and
  without both.

Every row gives req/s and its share of the bare endpoint's mean, the server's CPU per request
and how busy the machine was. A part's cost is the difference between two rows.

    .venv/bin/python bench/http_ceiling.py [--sizes N] [--duration S] [--quick] [--json FILE]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import http_submit  # noqa: E402

BARE = "bench.bare_app:create_app()"
CEILING = "bench.ceiling_app:create_app()"
TAIZHANG = "app:create_app()"
COUNTED = common.SUBMIT_FORM

# (label, app spec, extra environment, real CSRF needed, stores COUNTED submissions)
TARGETS = (
    ("Taizhang: the real submit", TAIZHANG, {}, True, True),
    ("bare + Store.add_submission", BARE, {"BENCH_BARE_STORE": "1"}, False, True),
    ("bare + reference storage (fsync'd JSON-lines append)", CEILING,
     {"CEILING_VARIANT": "minlog"}, False, False),
    ("Taizhang without storage (add_submission a counter)", CEILING,
     {"CEILING_VARIANT": "nostore"}, True, False),
    ("Taizhang without fsync", CEILING, {"CEILING_VARIANT": "nofsync"}, True, True),
    ("Taizhang without WTForms (posted strings stored unvalidated)", CEILING,
     {"CEILING_VARIANT": "noform"}, True, True),
    ("Taizhang without WTForms and without storage", CEILING,
     {"CEILING_VARIANT": "noform_nostore"}, True, False),
)


def run(size, duration):
    folder, manifest = common.build_base(size)
    token = manifest["entry_token"]
    csrf_cookie = http_submit.probe_csrf(folder, token)
    seed = int(time.time())
    rows = []

    def measure(label, app_spec, extra_env, real_csrf, counted):
        def once():
            copy = common.fresh_copy(folder, "http-ceiling")
            try:
                return http_submit.one_run(
                    "ceiling", app_spec, copy, token, duration,
                    None if real_csrf else csrf_cookie, seed + len(rows),
                    count_form=COUNTED if counted else None, extra_env=extra_env)
            finally:
                common.remove_copy(copy)
        result = http_submit.undisturbed(once, label)
        result["target"] = label
        rows.append(result)

    measure("bare endpoint (before)", BARE, {}, False, False)
    for target in TARGETS:
        measure(*target)
    measure("bare endpoint (after)", BARE, {}, False, False)
    bare = [r["rps"] for r in rows if r["target"].startswith("bare endpoint")]
    bare_mean = sum(bare) / len(bare)
    for r in rows:
        r["share_of_bare"] = r["rps"] / bare_mean
    return {"size": size, "duration_s": duration, "bare_rps_mean": bare_mean, "rows": rows}


def print_table(results):
    print(f"\nHTTP submit at {results['size']} stored, wrk {results['duration_s']} s per row, "
          f"bare mean {results['bare_rps_mean']:.0f} req/s\n")
    print("| target | req/s | % of bare | server CPU ms/req | machine busy % | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results["rows"]:
        print(f"| {r['target']} | {r['rps']:.0f} | {r['share_of_bare'] * 100:.0f}% | "
              f"{r.get('server_cpu_ms_per_request', 0):.2f} | {r['machine_busy_pct']:.0f} | "
              f"{r['latency_ms'].get('99', 0):.1f} | {r['errors']} |")


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    http_submit.add_duration_arg(parser)
    args = parser.parse_args()
    size = common.sizes_of(args)[0] if args.sizes else 1000
    results = run(size, http_submit.duration_of(args))
    print_table(results)
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
