"""Where a gunicorn worker spends its CPU during the HTTP submit benchmark (py-spy).

Not part of run_all.py (profiling slows the server down). Same setup as bench/http_submit.py -
fresh copy of the base database, `make serve`'s gunicorn with 2 workers, GET warm-up, wrk
POSTs of public_demand - while `py-spy record --format raw` samples both workers; then the
stacks of both are merged and summarized: inclusive share of the samples per function (how
much of the worker's CPU is spent inside it, callees included) and self share.

Needs py-spy in the venv (a diagnostic tool, deliberately not in requirements):
    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_http.py [--size 100000] [--duration 15] [--app bare]
        [--backend postgresql]
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import common  # noqa: E402
import http_submit  # noqa: E402

PY_SPY = os.path.join(common.BIN, "py-spy")
FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(path):
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return os.path.relpath(path, common.ROOT) if path.startswith(common.ROOT) else path


# Where a submit's time goes, by part: each sample is counted once, in the first group (in this
# order) that one of its frames belongs to - leaf-level work (form parsing, session decoding)
# first, then the pieces of the view that contain them.
GROUPS = (
    ("werkzeug parses the urlencoded body (request.form)", ("FormDataParser.parse",)),
    ("session cookie decode/encode (itsdangerous)", ("open_session", "save_session")),
    ("build_form_class cache key: json.dumps + sha256 of the schema", ("build_form_class",)),
    ("storage: Store.add_submission (encode, lock, write, fsync, apply)",
     ("Store.add_submission",)),
    ("WTForms: FlaskForm() - bind and process every field", ("FormMeta.__call__",)),
    ("WTForms: validate_on_submit (validators, CSRF field)", ("validate_on_submit",)),
    ("CSRFProtect before the view", ("csrf_protect",)),
    ("_resolve: link, form, every org copied, org path", ("_resolve",)),
    ("collect_answers", ("collect_answers",)),
    ("redirect + url_for", ("url_for", "redirect (")),
    ("gunicorn access log", ("Logger.access",)),
    ("gunicorn: HTTP parsing, socket write/close", ("gunicorn/http/", "gunicorn/util.py")),
)


def stacks(raw_files):
    """(stack, sample count) of every line of py-spy --format raw files."""
    for path in raw_files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if stack and count.isdigit():
                    yield stack, int(count)


def grouped(raw_files):
    counts, total = collections.Counter(), 0
    for stack, count in stacks(raw_files):
        total += count
        for name, markers in GROUPS:
            if any(m in stack for m in markers):
                counts[name] += count
                break
        else:
            counts["everything else (Flask dispatch, request context, accept, ...)"] += count
    return total, counts


def aggregate(raw_files):
    inclusive, self_time, total = collections.Counter(), collections.Counter(), 0
    for stack, count in stacks(raw_files):
        frames = []
        for frame in stack.split(";"):
            m = FRAME.match(frame)
            frames.append(f"{m.group('name')} ({short(m.group('file'))})" if m else frame)
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        self_time[frames[-1]] += count
    return total, inclusive, self_time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--app", choices=("taizhang", "bare"), default="taizhang")
    parser.add_argument("--backend", choices=backends.BACKENDS, default="tinydb")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--idle", action="store_true",
                        help="also sample while waiting (locks, fsync, sockets): wall-clock view")
    parser.add_argument("--gil", action="store_true",
                        help="only samples holding the GIL: the Python CPU view")
    args = parser.parse_args()
    if not os.path.exists(PY_SPY):
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    base, manifest = backends.base(args.backend, args.size)
    copy = backends.fresh_copy(base, f"profile-n{args.size}")
    token = manifest["entry_token"]
    spec = "app:create_app()" if args.app == "taizhang" else "bench.bare_app:create_app()"
    out_dir = os.path.join(common.OUT, "profile")
    os.makedirs(out_dir, exist_ok=True)
    raws = []
    try:
        with copy.gunicorn(spec) as server:
            server.start(f"/f/{token}")
            entry = f"{server.url}/f/{token}"
            csrf, cookie = http_submit.fetch_csrf(entry) if args.app == "taizhang" else \
                ("bare", "session=bare")
            bodies = os.path.join(out_dir, "bodies.txt")
            with open(bodies, "w", encoding="ascii") as f:
                f.write("\n".join(http_submit.make_bodies(csrf)) + "\n")
            http_submit.run_wrk(entry, 3)
            spies = []
            for pid in common.child_pids(server.process.pid):
                raw = os.path.join(out_dir, f"{args.app}-{args.backend}-n{args.size}-{pid}.txt")
                raws.append(raw)
                spies.append(subprocess.Popen(
                    [PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--output", raw,
                     "--rate", str(args.rate), "--duration", str(args.duration - 2),
                     "--nonblocking", *(["--idle"] if args.idle else []),
                     *(["--gil"] if args.gil else [])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(0.5)
            result = http_submit.run_wrk(entry, args.duration, [bodies, cookie, "7"])
            for spy in spies:
                spy.wait(60)
    finally:
        backends.remove_copy(copy)
    total, inclusive, self_time = aggregate(raws)
    mode = "idle included" if args.idle else "GIL holders only" if args.gil else "default"
    print(f"{args.app} on {args.backend} at n{args.size} (py-spy {mode}): "
          f"{result['rps']:.0f} req/s under py-spy "
          f"({result['requests']} requests), {total} samples from {len(raws)} workers")
    print(f"\n{'incl %':>7} {'self %':>7}  function (file)")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:>7.1f} {100 * self_time[name] / total:>7.1f}  {name}")
    print("\ntop self time:")
    for name, count in self_time.most_common(15):
        print(f"{100 * count / total:>7.1f}  {name}")
    total, counts = grouped(raws)
    print("\nby part of the request (each sample counted once):")
    for name, count in counts.most_common():
        print(f"{100 * count / total:>7.1f}  {name}")
    print(f"\nraw stacks: {', '.join(os.path.relpath(r, common.ROOT) for r in raws)}")


if __name__ == "__main__":
    main()
