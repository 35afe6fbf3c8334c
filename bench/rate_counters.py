"""What the rate limits cost a request: Store.hit_counter latency, per backend, side by side.

Every public request (a QR link's page, its submit, a photo upload, a receipt) and every login
POST counts one hit in a counter shared by every worker and host (ratelimits.py): on TinyDB a
line in taizhang.counters.db (no fsync), on PostgreSQL one upsert in the UNLOGGED
rate_counters table. This opens a fresh copy of the 1k demo base of each backend and hits
200 keys (200 villages' links from one address) in turn, the backends interleaved hit by hit
so that machine noise falls on both alike; the first WARMUP hits are not counted.

    .venv/bin/python bench/rate_counters.py [--backends tinydb,postgresql] [--hits N]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402

WARMUP = 200
KEYS = 200
WINDOW_S = 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--hits", type=int, default=20000, help="hits per backend")
    args = parser.parse_args()
    names = backends.backends_of(args.backends)
    copies, stores = {}, {}
    try:
        for name in names:
            base, _manifest = backends.base(name, 1000)
            copies[name] = backends.fresh_copy(base, "counters")
            stores[name] = copies[name].open_store()
        keys = [f"public/127.0.0.1/link-{i:03d}" for i in range(KEYS)]
        times = {name: [] for name in names}
        common.wait_quiet("rate counters")
        for i in range(args.hits + WARMUP):
            key = keys[i % KEYS]
            for name in names:
                started = time.perf_counter()
                stores[name].hit_counter(key, WINDOW_S)
                if i >= WARMUP:
                    times[name].append(time.perf_counter() - started)
        print(f"Store.hit_counter, {args.hits} hits over {KEYS} keys, {WINDOW_S} s windows")
        print(f"{'backend':<12}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}")
        for name in names:
            s = common.summary_ms(times[name])
            print(f"{name:<12}{s['p50']:9.3f}{s['p90']:9.3f}{s['p99']:9.3f}{s['max']:9.2f}"
                  f"{s['mean']:9.3f}")
        tiny = copies.get("tinydb")
        if tiny:
            path = os.path.join(tiny.data_dir, "taizhang.counters.db")
            if os.path.exists(path):
                print(f"TinyDB counters file after the run: {os.path.getsize(path) / 1024:.0f} KB")
    finally:
        for store in stores.values():
            store.close()
        for copy in copies.values():
            backends.remove_copy(copy)


if __name__ == "__main__":
    main()
