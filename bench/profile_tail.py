"""Where the slow HTTP submits come from: server-side timing of every slow request.

Not part of run_all.py: the server runs with an extra `-c bench/tail_hooks.py` (gunicorn hooks
that time flock waits, write, fsync, catch-up, database (re)load and GC in each worker).
Otherwise the setup of bench/http_submit.py: fresh copy of the base database, gunicorn with 2
workers, one GET and 3 s of GET warm-up, then wrk POSTs of public_demand. Prints wrk's
percentiles, then every request the server took more than --slow-ms over, with its breakdown,
and the GC passes over 5 ms.

    .venv/bin/python bench/profile_tail.py [--size 100000] [--duration 15] [--slow-ms 30]
        [--post-warmup]     # also POST for 3 s before the measured run
"""
import argparse
import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import http_submit  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--slow-ms", type=float, default=30)
    parser.add_argument("--post-warmup", action="store_true",
                        help="warm up with 3 s of POSTs too (each worker's first submit done)")
    args = parser.parse_args()
    folder, manifest = common.build_base(args.size)
    copy = common.fresh_copy(folder, f"tail-n{args.size}")
    token = manifest["entry_token"]
    server = common.Gunicorn("app:create_app()", copy,
                             extra_env={"TAIL_SLOW_MS": str(args.slow_ms)})
    server.command[-1:-1] = ["-c", os.path.join(common.BENCH, "tail_hooks.py")]
    bodies = os.path.join(common.OUT, "tail-bodies.txt")
    try:
        server.start(f"/f/{token}")
        entry = f"{server.url}/f/{token}"
        csrf, cookie = http_submit.fetch_csrf(entry)
        with open(bodies, "w", encoding="ascii") as f:
            f.write("\n".join(http_submit.make_bodies(csrf)) + "\n")
        http_submit.run_wrk(entry, 3)
        if args.post_warmup:
            http_submit.run_wrk(entry, 3, [bodies, cookie, "11"])
        common.wait_quiet("tail")
        measured_from = time.time()  # the hooks stamp their lines: warm-up lines come before
        result = http_submit.run_wrk(entry, args.duration, [bodies, cookie, "12"])
    finally:
        log = server.stop()
        common.remove_copy(copy)
        if os.path.exists(bodies):
            os.unlink(bodies)
    lat = result["latency_ms"]
    print(f"n{args.size}{' (POST warm-up)' if args.post_warmup else ''}: {result['rps']:.0f} "
          f"req/s, {result['requests']} requests; latency p50 {lat['50']:.1f} p90 {lat['90']:.1f} "
          f"p99 {lat['99']:.1f} p99.9 {lat['99.9']:.1f} max {result['latency_max_ms']:.0f} ms")
    def measured(line):
        return float(line.split("t=", 1)[1].split()[0]) >= measured_from

    lines = log.splitlines()
    slow = [line for line in lines if line.startswith("SLOW")]
    gcs = [line for line in lines if line.startswith("GC") and measured(line)]
    print(f"\nrequests over {args.slow_ms:g} ms on the server side:")
    for line in slow[:60]:
        print(("  measured  " if measured(line) else "  warm-up   ") + line)
    by_gen = collections.defaultdict(list)
    for line in gcs:
        m = re.search(r"gen=(\d) ([\d.]+) ms", line)
        by_gen[m.group(1)].append(float(m.group(2)))
    print("\nGC passes over 5 ms during the measured run (both workers): "
          + (", ".join(f"gen {g}: {len(v)} (max {max(v):.1f} ms, total {sum(v):.0f} ms)"
                       for g, v in sorted(by_gen.items())) or "none"))


if __name__ == "__main__":
    main()
