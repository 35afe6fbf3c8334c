"""Storage insert latency: Store.add_submission of public_demand answers, per backend and size.

One process opens a fresh copy of every base deployment (each backend at 1k, 10k, 100k stored
submissions) and inserts into them in turn - round after round, the order of the (backend,
size) pairs shuffled each round - so that machine noise (other processes, disk flushes) falls
on every backend and size alike. Each insert is one durable submission exactly as the public
form's view makes it: TinyDB writes and fsyncs one log record under the file lock; PostgreSQL
looks the submission id up, then in one transaction bumps the day's receipt counter, inserts
the row, bumps table_versions and commits (WAL flushed to disk). Answers are drawn from
seed_data.demo_answers before the clock starts, for common.SUBMIT_FORM (public_demand: a form
without period or project, as the monthly report was until issue 10 - now one per organization,
month and project, it would refuse repeated inserts). The first WARMUP inserts of each
deployment are not counted.

    .venv/bin/python bench/storage_insert.py [--backends tinydb,postgresql] [--sizes ...]
        [--quick] [--inserts N]

``run_on(deployments, inserts)`` is the same loop over any deployments (bench/pg_scale.py
uses it for PostgreSQL at 1k and 1M).
"""
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

WARMUP = 20
TIME_LIMIT_S = 900


def run_on(deployments, inserts, label="insert"):
    """{key: latency summary} for {key: Deployment} (each already a fresh copy)."""
    from seed_data.demo_answers import fake_answers

    stores = {}
    try:
        for key, deployment in deployments.items():
            opened = time.perf_counter()
            stores[key] = deployment.open_store()
            common.log(f"{label}: opened {key} in {time.perf_counter() - opened:.2f} s")
        keys = list(stores)
        any_store = stores[keys[0]]
        form = any_store.get_form(common.SUBMIT_FORM)
        schema = form["schema"]
        villages = [o["code"] for o in any_store.list_orgs() if o["kind"] == "village"]
        rng = random.Random(20240301)
        total = inserts + WARMUP
        work = [(fake_answers(schema, rng), rng.choice(villages)) for _ in range(total)]
        sids = {key: [uuid.uuid4().hex for _ in range(total)] for key in keys}
        before = {key: stores[key].count_submissions() for key in keys}
        times = {key: [] for key in keys}
        busy = common.wait_quiet(label)
        deadline = time.monotonic() + TIME_LIMIT_S
        order = list(keys)
        done = 0
        for i in range(total):
            if time.monotonic() > deadline:
                common.log(f"{label}: time limit reached, stopping early")
                break
            rng.shuffle(order)
            answers, org = work[i]
            for key in order:
                store = stores[key]
                started = time.perf_counter()
                _doc, created = store.add_submission(common.SUBMIT_FORM, form["version"], org,
                                                     answers, sids[key][i])
                elapsed = time.perf_counter() - started
                assert created
                if i >= WARMUP:
                    times[key].append(elapsed)
            done = i + 1
        results = {}
        for key in keys:
            results[key] = common.summary_ms(times[key])
            results[key]["stored_after"] = stores[key].count_submissions()
            assert results[key]["stored_after"] == before[key] + done, (key, results[key])
            results[key]["busy_before_pct"] = busy
        return results
    finally:
        for store in stores.values():
            store.close()


def run(backend_names, sizes, inserts, rebuild=False):
    copies = {}
    try:
        for backend in backend_names:
            for size in sizes:
                base, _manifest = backends.base(backend, size, rebuild)
                copies[(backend, size)] = backends.fresh_copy(base, f"insert-n{size}")
        figures = run_on({f"{b}/n{s}": d for (b, s), d in copies.items()}, inserts)
        out = {"inserts_per_size": inserts, "warmup": WARMUP, "form": common.SUBMIT_FORM,
               "backends": {}}
        for (backend, size) in copies:
            out["backends"].setdefault(backend, {"sizes": {}})["sizes"][size] = \
                figures[f"{backend}/n{size}"]
        return out
    finally:
        for copy in copies.values():
            backends.remove_copy(copy)


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--inserts", type=int, help="timed inserts per size (default 3000, "
                        "--quick 500)")
    args = parser.parse_args()
    inserts = args.inserts or (500 if args.quick else 3000)
    result = run(backends.backends_of(args.backends), common.sizes_of(args), inserts,
                 args.rebuild)
    print(f"{'backend':>10} {'stored':>8} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}")
    for backend, per in result["backends"].items():
        for size, r in per["sizes"].items():
            print(f"{backend:>10} {size:>8} {r['n']:>6} {r['p50']:>8.3f} {r['p90']:>8.3f} "
                  f"{r['p99']:>8.3f} {r['max']:>8.2f}")
    common.dump_json(args.json_out, result)


if __name__ == "__main__":
    main()
