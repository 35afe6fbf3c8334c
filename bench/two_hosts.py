"""Two hosts against one PostgreSQL database (issue 7): submit throughput with one host loaded
against both hosts loaded.

A fresh copy of the prefecture base (bench/pg_scale.py, 1M submissions by default) is served
by two "hosts": two `make serve` gunicorn servers (2 sync workers each), each with a data
folder of its own (host B's prepared by `flask --app app init` as a new host would be: it adopts
the secret key the database holds), on their own ports, with the same TAIZHANG_DATABASE_URL.
Both run in every configuration; wrk (bench/submit.lua: public_demand submissions, a fresh
submission id each) loads:

  one host,  8 clients   wrk -t2 -c8  -> A
  one host, 16 clients   wrk -t2 -c16 -> A
  two hosts, 4 + 4       wrk -t1 -c4  -> A  and  wrk -t1 -c4 -> B, at the same time
  two hosts, 8 + 8       wrk -t2 -c8  -> A  and  wrk -t2 -c8 -> B, at the same time

for DURATION seconds each. Per configuration: requests/s (sum and per host), latency p50/p99 per
host (wrk's percentiles cannot be merged, the worse host's is reported), errors (non-303, socket
errors), the stored growth against the 303s (+ at most the requests in flight at the stop),
the CPU of each host's gunicorn, of PostgreSQL and of wrk in cores, how busy the machine was,
and what the application's PostgreSQL backends were doing (pg_stat_activity sampled every
0.1 s: running, waiting for a lock - the day's receipt counter row -, flushing the WAL at
commit, or idle in a transaction waiting for the application).

Both hosts, wrk and PostgreSQL share this machine's 2 cores: the figure shows whether the
database is the bottleneck, not what two real machines would do.

    .venv/bin/python bench/two_hosts.py [--size 1000000] [--duration 15] [--quick]
"""
import collections
import os
import resource
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402
import http_submit  # noqa: E402
import pg_scale  # noqa: E402

CONFIGS = (  # (name, [(host, threads, connections), ...])
    ("one host, 8 clients", [("A", 2, 8)]),
    ("one host, 16 clients", [("A", 2, 16)]),
    ("two hosts, 4 + 4 clients", [("A", 1, 4), ("B", 1, 4)]),
    ("two hosts, 8 + 8 clients", [("A", 2, 8), ("B", 2, 8)]),
)


def sample_activity(url, stop, counts):
    """Count, every 0.1 s, what each of the application's backends is doing."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE application_name = 'taizhang' AND backend_type = 'client backend'"
            ).fetchall()
            counts["_samples"] += 1
            for state, wait_type, wait_event in rows:
                if state == "active":
                    key = f"active: {wait_type}:{wait_event}" if wait_type else "active: running"
                else:
                    key = state or "?"
                counts[key] += 1
            stop.wait(0.1)


def run_config(name, loads, hosts, copy, token, duration, bodies, cookie):
    seed = http_submit.fresh_seed()
    before = copy.count(pg_scale.FORM)
    servers = {h: s for h, s in hosts.items()}
    pids = {h: [s.process.pid] + common.child_pids(s.process.pid) for h, s in servers.items()}
    cpu0 = {h: sum(http_submit.cpu_seconds(p) for p in ps) for h, ps in pids.items()}
    busy = common.wait_quiet(f"two hosts: {name}")
    common.log(f"two hosts: {name}: wrk {duration} s ...")
    outputs, errors = {}, []
    counts = collections.Counter()
    stop = threading.Event()
    sampler = threading.Thread(target=sample_activity, args=(copy.url, stop, counts),
                               daemon=True)

    def load(host, threads, connections):
        # Each wrk its own seed: the same seed would send the same submission ids to both
        # hosts, and the second of each pair would (rightly) take the idempotent path.
        host_seed = seed * 10 + "AB".index(host)
        try:
            outputs[host] = http_submit.run_wrk(
                f"{servers[host].url}/f/{token}", duration, [bodies, cookie, str(host_seed)],
                connections=connections, threads=threads)
        except Exception as exc:  # reported below, the other host's load still counts
            errors.append(f"{host}: {exc}")

    db0 = backends.database_cpu_seconds()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, total0 = common.machine_ticks()
    started = time.perf_counter()
    sampler.start()
    workers = [threading.Thread(target=load, args=spec) for spec in loads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(duration + 120)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join(5)
    busy1, total1 = common.machine_ticks()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    db_cpu = backends.database_cpu_seconds() - db0
    cpu1 = {h: sum(http_submit.cpu_seconds(p) for p in ps) for h, ps in pids.items()}
    if errors:
        raise RuntimeError("wrk failed: " + "; ".join(errors))
    after = copy.count(pg_scale.FORM)
    per_host = {}
    for host, out in outputs.items():
        status = out["status"] or {}
        per_host[host] = {
            "rps": out["rps"], "requests": out["requests"], "s303": status.get("s303", 0),
            "latency_ms": out["latency_ms"], "latency_max_ms": out["latency_max_ms"],
            "errors": out["non_2xx_3xx"] + out.get("socket_errors", 0)
            + sum(v for k, v in status.items() if k != "s303"),
            "command": out["command"]}
    s303 = sum(h["s303"] for h in per_host.values())
    connections = sum(c for _h, _t, c in loads)
    samples = max(counts.pop("_samples"), 1)
    wrk_cpu = (children1.ru_utime + children1.ru_stime - children0.ru_utime
               - children0.ru_stime)
    app_cpu = {h: cpu1[h] - cpu0[h] for h in cpu1}
    machine_cores = (busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1)
    result = {
        "name": name, "loads": loads, "duration_s": duration, "wall_s": wall,
        "busy_before_pct": busy, "per_host": per_host,
        "rps": sum(h["rps"] for h in per_host.values()),
        "p50_ms": max(h["latency_ms"]["50"] for h in per_host.values()),
        "p99_ms": max(h["latency_ms"]["99"] for h in per_host.values()),
        "errors": sum(h["errors"] for h in per_host.values()),
        "stored_growth": after - before, "s303": s303,
        "stored_in_flight_extra": after - before - s303,
        "stored_matches": 0 <= after - before - s303 <= connections,
        "cores": {"machine": machine_cores,
                  **{f"host {h}": c / wall for h, c in app_cpu.items()},
                  "postgresql": db_cpu / wall, "wrk": wrk_cpu / wall},
        "backends_avg": {k: v / samples for k, v in counts.most_common()},
    }
    result["foreign_cpu_cores"] = machine_cores - (sum(app_cpu.values()) + db_cpu + wrk_cpu) / wall
    return result


def run(size, duration, rebuild=False):
    base, manifest = pg_scale.base(size, rebuild)
    copy = backends.fresh_copy(base, f"two-hosts-n{size}")
    host_b_dir = os.path.join(common.OUT, "work", f"two-hosts-host-b-n{size}")
    shutil.rmtree(host_b_dir, ignore_errors=True)
    os.makedirs(host_b_dir)
    host_b = backends.Deployment("postgresql", host_b_dir, copy.database)
    token = manifest["entry_token"]
    bodies = os.path.join(common.OUT, "work", "two-hosts-bodies.txt")
    results = {"size": size, "duration_s": duration, "configs": []}
    servers = {}
    try:
        host_b.flask("init")  # a new host joining the deployment
        servers = {"A": copy.gunicorn(), "B": host_b.gunicorn()}
        for host, server in servers.items():
            results[f"host {host} ready_s"] = server.start(f"/f/{token}")
        csrf, cookie = http_submit.fetch_csrf(f"{servers['A'].url}/f/{token}")
        with open(bodies, "w", encoding="ascii") as f:
            f.write("\n".join(http_submit.make_bodies(csrf)) + "\n")
        for server in servers.values():  # both workers of both hosts open their pools
            http_submit.run_wrk(f"{server.url}/f/{token}", 3)
        for name, loads in CONFIGS:
            figures = common.undisturbed(
                lambda name=name, loads=loads: run_config(
                    name, loads, servers, copy, token, duration, bodies, cookie),
                f"two hosts: {name}")
            results["configs"].append(figures)
        results["memory"] = {h: s.memory() for h, s in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        backends.remove_copy(copy)
        shutil.rmtree(host_b_dir, ignore_errors=True)
        if os.path.exists(bodies):
            os.unlink(bodies)
    one = results["configs"][0]["rps"]
    for config in results["configs"]:
        config["vs_one_host_8"] = config["rps"] / one
    return results


def markdown(results):
    rows = ["| load | req/s (per host) | vs one host, 8 clients | p50 / p99 ms (worse host) "
            "| errors | stored = 303s (+ in flight) | CPU cores: hosts / PostgreSQL / wrk / "
            "machine | PostgreSQL backends (avg): running / lock wait / WAL flush / idle in "
            "transaction |", "|" + " --- |" * 8]
    for c in results["configs"]:
        per = " + ".join(f"{h['rps']:.0f}" for h in c["per_host"].values())
        cores = c["cores"]
        hosts = " + ".join(f"{v:.2f}" for k, v in cores.items() if k.startswith("host"))
        avg = c["backends_avg"]
        lock = sum(v for k, v in avg.items() if k.startswith("active: Lock"))
        wal = sum(v for k, v in avg.items() if "WAL" in k)
        rows.append(
            f"| {c['name']} | {c['rps']:.0f} ({per}) | {c['vs_one_host_8'] * 100:.0f}% | "
            f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f} | {c['errors']} | "
            f"{c['stored_growth']} = {c['s303']} + {c['stored_in_flight_extra']} "
            f"{'(ok)' if c['stored_matches'] else '(**MISMATCH**)'} | "
            f"{hosts} / {cores['postgresql']:.2f} / {cores['wrk']:.2f} / {cores['machine']:.2f} | "
            f"{avg.get('active: running', 0):.2f} / {lock:.2f} / {wal:.2f} / "
            f"{avg.get('idle in transaction', 0):.2f} |")
    return "\n".join(rows)


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="stored submissions (default 1000000, "
                        "--quick 10000); --sizes: the largest is used")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 15, "
                        "--quick 5)")
    args = parser.parse_args()
    size = args.size or (max(common.sizes_of(args)) if args.sizes else
                         10000 if args.quick else 1000000)
    results = run(size, args.duration or (5 if args.quick else 15), args.rebuild)
    print(markdown(results))
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
