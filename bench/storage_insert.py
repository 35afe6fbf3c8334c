"""Storage insert latency: Store.add_submission of monthly_report answers at each size.

One process opens a fresh copy of every base database (1k, 10k, 100k stored submissions) and
inserts into them in turn - round after round, the order of the databases shuffled each round -
so that machine noise (other processes, disk flushes) falls on every size alike. Each insert is
one durable record (write + fsync) exactly as the public form's view makes it; answers are
drawn from seed_data.demo_answers before the clock starts. The first WARMUP inserts of each
database are not counted.

    .venv/bin/python bench/storage_insert.py [--sizes 1000,10000,100000] [--quick] [--inserts N]
"""
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

WARMUP = 20
TIME_LIMIT_S = 600


def run(sizes, inserts, rebuild=False):
    from seed_data.demo_answers import fake_answers
    from storage import Store

    copies, stores = {}, {}
    try:
        for size in sizes:
            folder, _manifest = common.build_base(size, rebuild)
            copies[size] = common.fresh_copy(folder, f"insert-n{size}")
        for size in sizes:
            opened = time.perf_counter()
            stores[size] = Store(os.path.join(copies[size], common.DB_NAME))
            common.log(f"insert: opened n{size} in {time.perf_counter() - opened:.2f} s")
        any_store = stores[sizes[0]]
        form = any_store.get_form("monthly_report")
        schema = form["schema"]
        villages = [o["code"] for o in any_store.list_orgs() if o["kind"] == "village"]
        rng = random.Random(20240301)
        total = inserts + WARMUP
        work = [(fake_answers(schema, rng), rng.choice(villages)) for _ in range(total)]
        sids = {size: [uuid.uuid4().hex for _ in range(total)] for size in sizes}
        times = {size: [] for size in sizes}
        busy = common.wait_quiet("insert")
        deadline = time.monotonic() + TIME_LIMIT_S
        order = list(sizes)
        done = 0
        for i in range(total):
            if time.monotonic() > deadline:
                common.log("insert: time limit reached, stopping early")
                break
            rng.shuffle(order)
            answers, org = work[i]
            for size in order:
                store = stores[size]
                started = time.perf_counter()
                _doc, created = store.add_submission("monthly_report", form["version"], org,
                                                     answers, sids[size][i])
                elapsed = time.perf_counter() - started
                assert created
                if i >= WARMUP:
                    times[size].append(elapsed)
            done = i + 1
        results = {}
        for size in sizes:
            results[size] = common.summary_ms(times[size])
            results[size]["stored_after"] = stores[size].count_submissions()
            expected = size + done
            assert results[size]["stored_after"] == expected, (size, results[size], expected)
        return {"inserts_per_size": len(times[sizes[0]]), "warmup": WARMUP,
                "busy_before_pct": busy, "sizes": results}
    finally:
        for store in stores.values():
            store.close()
        for folder in copies.values():
            common.remove_copy(folder)


def main():
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, help="timed inserts per size (default 3000, "
                        "--quick 500)")
    args = parser.parse_args()
    sizes = common.sizes_of(args)
    inserts = args.inserts or (500 if args.quick else 3000)
    result = run(sizes, inserts, args.rebuild)
    print(f"{'stored':>8} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for size, r in result["sizes"].items():
        print(f"{size:>8} {r['n']:>6} {r['p50']:>8.3f} {r['p90']:>8.3f} {r['p99']:>8.3f} "
              f"{r['max']:>8.2f}")
    common.dump_json(args.json_out, result)


if __name__ == "__main__":
    main()
