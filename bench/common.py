"""Shared plumbing for the benchmarks of issue 3: databases, servers, statistics, machine info.

Every benchmark works on copies of "base" data folders built once per size under bench/out/
(git-ignored), so a benchmark that writes (inserts, HTTP submits) never changes what the next
one measures:

  bench/out/base/n<SIZE>/     `flask init` + `flask seed-demo --submissions SIZE --seed 1`,
                              an admin user and the SUBMIT_FORM links (manifest.json)
  bench/out/export/n<SIZE>/   `flask init` + `flask load-form bench/forms/bench25.json` +
                              SIZE submissions of bench25 (bench/export.py fills them)
  bench/out/work/<name>/      a fresh copy for one measurement, deleted afterwards

Only loopback traffic (127.0.0.1); every wait and loop is bounded in time.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
OUT = os.path.join(BENCH, "out")
PY = sys.executable
BIN = os.path.dirname(PY)
GUNICORN = os.path.join(BIN, "gunicorn")

for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

SECRET_KEY = "bench-secret-key-not-for-production"
ADMIN = ("bench", "bench-password-1")
SEED = 1
FULL_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000, 10000)
DB_NAME = "taizhang.db"
# The form every benchmark that submits, inserts or lists submissions uses: one a cadre files
# any number of times (a 群众诉求 each). Since issue 10 monthly_report takes one report per
# (organization, month, project) and names an approved project: a load of monthly reports
# would be refused (PeriodTaken) after the first of each month, and seed-demo makes only a
# year's worth of them (a few hundred), the rest of its submissions being public_demand and
# doctor_registration.
SUBMIT_FORM = "public_demand"


# ---------------------------------------------------------------- command line

def timed(fn, calls, warmup):
    """Seconds of each of ``calls`` calls of fn() after ``warmup`` untimed ones; and the last
    value it returned."""
    value = None
    for _ in range(warmup):
        value = fn()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return times, value


def admin_client():
    """A Flask test client of create_app() (the environment's deployment), logged in as the
    bench admin (ADMIN)."""
    from app import create_app

    client = create_app().test_client()
    login = client.get("/login").get_data(as_text=True)
    answer = client.post("/login", data={"csrf_token": CSRF_RE.search(login).group(1),
                                         "username": ADMIN[0], "password": ADMIN[1]})
    if answer.status_code != 302:
        raise RuntimeError(f"admin login answered {answer.status_code}")
    return client


def arg_parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", help="comma-separated stored-submission counts "
                        "(default 1000,10000,100000; --quick: 1000,10000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small sizes, fewer repetitions, short wrk runs")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the base databases even if bench/out has them")
    parser.add_argument("--json", dest="json_out", help="also write the results as JSON here")
    return parser


def sizes_of(args):
    if args.sizes:
        return [int(s) for s in args.sizes.split(",") if s.strip()]
    return list(QUICK_SIZES if args.quick else FULL_SIZES)


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- statistics

def percentile(values, p):
    """Linear-interpolated percentile (p in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary_ms(seconds):
    """p50/p90/p95/p99/max/mean in milliseconds of a list of durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p90": percentile(ms, 90),
            "p95": percentile(ms, 95), "p99": percentile(ms, 99), "max": max(ms),
            "mean": statistics.fmean(ms)}


# ---------------------------------------------------------------- processes and memory

def env_for(data_dir, base_url="http://127.0.0.1:5000", workers=2):
    env = {**os.environ, "TAIZHANG_DATA_DIR": str(data_dir), "TAIZHANG_SECRET_KEY": SECRET_KEY,
           "TAIZHANG_BASE_URL": base_url, "WEB_CONCURRENCY": str(workers),
           "PYTHONDONTWRITEBYTECODE": "1",
           # The load generators send thousands of requests a minute to a few links from one
           # address: the rate limits (60 a minute per address and link) would answer 429.
           "TAIZHANG_RATE_LIMIT_PUBLIC": "off", "TAIZHANG_RATE_LIMIT_LOGIN": "off"}
    env.pop("FLASK_DEBUG", None)
    return env


def flask(data_dir, *args, input=None, timeout=1800):
    """`flask --app app ARGS` on a data folder; returns stdout (raises on failure)."""
    done = subprocess.run([PY, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                          env=env_for(data_dir), input=input, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


def run_child(args, timeout=600, env=None):
    """Run a python child (bench helper) that prints one JSON object on its last line."""
    done = subprocess.run([PY, *args], cwd=ROOT, env=env or {**os.environ},
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def proc_status_kb(pid, key):
    """A /proc/PID/status field in kB (VmRSS, VmHWM), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pss_kb(pid):
    """Proportional set size (shared pages split between the processes that map them)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def child_pids(pid):
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return sorted(kids)


def self_rss_mb():
    return (proc_status_kb(os.getpid(), "VmRSS") or 0) / 1024


def machine_ticks():
    """(busy, total) jiffies of all CPUs from /proc/stat (idle and iowait count as not busy)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def busy_pct(seconds=1.0):
    busy0, total0 = machine_ticks()
    time.sleep(seconds)
    busy1, total1 = machine_ticks()
    return 100 * (busy1 - busy0) / max(total1 - total0, 1)


QUIET_PCT = 10
# BENCH_QUIET_MAX_WAIT_S shortens the wait (0: none) for development runs of the harness.
QUIET_MAX_WAIT_S = int(os.environ.get("BENCH_QUIET_MAX_WAIT_S", "180"))


def wait_quiet(label, threshold=QUIET_PCT, max_wait=QUIET_MAX_WAIT_S):
    """Wait (at most max_wait) until the machine is idle: every CPU-busy percentage over one
    second below threshold. Other sessions share this machine; a benchmark should not start
    on top of their test suites. Returns the last reading (the run goes ahead anyway)."""
    deadline = time.monotonic() + max_wait
    reading = busy_pct()
    waited = False
    while reading >= threshold and time.monotonic() < deadline:
        if not waited:
            log(f"{label}: machine {reading:.0f}% busy, waiting for it to be quiet ...")
            waited = True
        reading = busy_pct(2.0)
    if reading >= threshold:
        log(f"{label}: still {reading:.0f}% busy after {max_wait} s, measuring anyway")
    return reading


FOREIGN_LIMIT, ATTEMPTS = 0.15, 3


def foreign_cores(busy_ticks, total_ticks, own_cpu_s, wall_s):
    """CPU (in cores) used during a measurement by processes other than the measured ones."""
    return busy_ticks / max(total_ticks, 1) * (os.cpu_count() or 1) - own_cpu_s / wall_s


def undisturbed(measure, label):
    """Call measure() (returns a dict with "foreign_cpu_cores") until a run during which other
    processes used at most FOREIGN_LIMIT cores, at most ATTEMPTS times; the least disturbed run
    is returned, with every attempt listed under "attempts"."""
    attempts = []
    for _ in range(ATTEMPTS):
        result = measure()
        attempts.append(result)
        if result["foreign_cpu_cores"] <= FOREIGN_LIMIT:
            break
        log(f"{label}: other processes used {result['foreign_cpu_cores']:.2f} cores during "
            "the run, measuring again")
    best = min(attempts, key=lambda r: r["foreign_cpu_cores"])
    best["attempts"] = [{k: r.get(k) for k in ("foreign_cpu_cores", "rps", "wall_s")
                         if k in r} for r in attempts]
    return best


# ---------------------------------------------------------------- databases

def base_dir(size):
    return os.path.join(OUT, "base", f"n{size}")


def export_dir(size, form_id="bench25"):
    """The export bench's database of form_id at size (bench25's keeps its original place)."""
    name = f"n{size}" if form_id == "bench25" else f"{form_id}-n{size}"
    return os.path.join(OUT, "export", name)


def git_commit():
    """(HEAD commit, modified tracked files outside bench/ and docs/); in a snapshot made by
    `run_all.py --snapshot`, the commit it was exported from (and nothing modified)."""
    marker = os.path.join(ROOT, "BENCH_SNAPSHOT_COMMIT")
    if os.path.exists(marker):
        with open(marker, encoding="ascii") as f:
            return f.read().strip(), []
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!bench", ":!docs"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return commit, dirty.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown", []


def storage_fingerprint():
    """The bytes of storage/ that wrote a base database: a change in storage/ rebuilds it."""
    import hashlib

    digest = hashlib.sha256()
    folder = os.path.join(ROOT, "storage")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()[:16]


# What a base's content depends on besides the size: the seed, its demo data and year, the
# forms, and the services the demo year writes through (not storage/: storage_fingerprint).
CONTENT_FILES = ("seed.py", "seed_data/*.py", "seed_data/demo_orgs.csv", "schemas/*.json",
                 "services/periods.py", "services/projects.py")


def content_fingerprint(*extra):
    """A digest of CONTENT_FILES and ``extra`` (reprs): a base built from other content is
    rebuilt."""
    import glob
    import hashlib

    digest = hashlib.sha256()
    for pattern in CONTENT_FILES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path, "rb") as f:
                digest.update(os.path.relpath(path, ROOT).encode() + b"\0" + f.read())
    for item in extra:
        digest.update(repr(item).encode())
    return digest.hexdigest()[:16]


def demo_fingerprint(size):
    """The content of a seed-demo base: the demo year runs from January to the month it is
    built in (the 催报 of last month, reports from March on), so a base is rebuilt in a new
    month; the links it lists are SUBMIT_FORM's."""
    return content_fingerprint("demo", size, SUBMIT_FORM, time.strftime("%Y-%m"))


def read_manifest(folder):
    try:
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_manifest(folder, manifest):
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)


def _usable(folder, size):
    manifest = read_manifest(folder)
    return (manifest and manifest.get("size") == size
            and manifest.get("storage") == storage_fingerprint()
            and manifest.get("content") == demo_fingerprint(size)
            and os.path.exists(os.path.join(folder, DB_NAME)))


def build_base(size, rebuild=False):
    """The base data folder for `size` demo submissions (built if missing or stale)."""
    folder = base_dir(size)
    if not rebuild and _usable(folder, size):
        return folder, read_manifest(folder)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    log(f"building base database n{size} ...")
    started = time.perf_counter()
    flask(folder, "init")
    seeded = time.perf_counter()
    flask(folder, "seed-demo", "--submissions", str(size), "--seed", str(SEED), timeout=3600)
    seed_s = time.perf_counter() - seeded
    flask(folder, "create-user", ADMIN[0], "--role", "admin", "--password-stdin",
          input=ADMIN[1] + "\n")
    links = [line.split("\t") for line in flask(folder, "links", SUBMIT_FORM).splitlines()
             if line.strip()]
    from storage import TinyStore as Store

    with Store(os.path.join(folder, DB_NAME)) as store:
        orgs = store.list_orgs()
        counts = {"total": store.count_submissions(),
                  SUBMIT_FORM: store.count_submissions(SUBMIT_FORM),
                  "monthly_report": store.count_submissions("monthly_report"),
                  "projects": len(store.list_projects())}
    townships = [o["code"] for o in orgs if o["kind"] == "township"]
    villages = [o["code"] for o in orgs if o["kind"] == "village"]
    by_code = {code: url.rsplit("/", 1)[-1] for code, _name, url in links}
    manifest = {"size": size, "seed": SEED, "storage": storage_fingerprint(),
                "content": demo_fingerprint(size), "entry_form": SUBMIT_FORM,
                "commit": git_commit()[0], "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                "seed_demo_s": round(seed_s, 2), "build_s": round(time.perf_counter() - started, 2),
                "counts": counts, "townships": townships,
                "entry_org": villages[0], "entry_token": by_code[villages[0]],
                "bytes": os.path.getsize(os.path.join(folder, DB_NAME))}
    write_manifest(folder, manifest)
    log(f"  n{size}: {counts['total']} submissions, {manifest['bytes'] / 1e6:.1f} MB, "
        f"seed-demo {seed_s:.1f} s")
    return folder, manifest


def fresh_copy(source, name):
    """A throw-away copy of a data folder under bench/out/work/<name> (fsync'd data)."""
    target = os.path.join(OUT, "work", name)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copytree(source, target)
    # The copy's pages are dirty in the page cache: write them out now, or their writeback
    # (up to ~150 MB at 100k) would compete with the fsyncs of the benchmark that follows.
    for folder, _dirs, files in os.walk(target):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return target


def remove_copy(folder):
    if os.path.abspath(folder).startswith(os.path.join(OUT, "work") + os.sep):
        shutil.rmtree(folder, ignore_errors=True)


def count_stored(data_dir, form_id=None):
    """Stored submissions, counted by a fresh process opening the database."""
    code = ("import json, sys; from storage import TinyStore as Store\n"
            "with Store(sys.argv[1]) as s: print(json.dumps(s.count_submissions(sys.argv[2] or None)))")
    done = subprocess.run([PY, "-c", code, os.path.join(data_dir, DB_NAME), form_id or ""],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)


# ---------------------------------------------------------------- the production server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(port, app_spec="app:create_app()"):
    """The gunicorn command line of `make serve`, read from the Makefile itself (`make -n serve`
    with HOST=127.0.0.1 and PORT=port), so the bench follows any change to it; app_spec
    replaces 'app:create_app()' (the bare endpoint is served by the same line)."""
    import shlex

    try:
        dry = subprocess.run(["make", "-n", "-s", "serve", "HOST=127.0.0.1", f"PORT={port}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
        line = [l for l in dry.splitlines() if "gunicorn" in l and "app:create_app()" in l][-1]
        words = shlex.split(line)
    except (OSError, IndexError, ValueError, subprocess.SubprocessError):
        log("could not read `make serve` from the Makefile; using the bench's copy of it")
        words = [GUNICORN, "--bind", f"127.0.0.1:{port}", "--timeout", "300",
                 "--access-logfile", "-", "app:create_app()"]
    words[0] = GUNICORN if os.path.basename(words[0]) == "gunicorn" else words[0]
    return [app_spec if w == "app:create_app()" else w for w in words]


class Gunicorn:
    """The `make serve` command line (serve_command: gunicorn --bind 127.0.0.1:PORT ... APP)
    with WEB_CONCURRENCY workers (2) of the default sync class. The access log goes to
    /dev/null (production sends it to journald or a file)."""

    def __init__(self, app_spec, data_dir, workers=2, extra_env=None):
        self.app_spec = app_spec
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env_for(data_dir, self.url, workers), **(extra_env or {})}
        self.process = None
        self.command = serve_command(self.port, app_spec)

    def start(self, ready_path, timeout=60):
        """Start and wait for a 200 on ready_path; returns seconds from spawn to that 200."""
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=10) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn exited while starting:\n"
                                       + self.process.stderr.read().decode()[-3000:])
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("gunicorn did not answer in time")

    def memory(self):
        """RSS and PSS (MB) of the master and each worker, read from /proc."""
        pids = [self.process.pid] + child_pids(self.process.pid)
        rows = []
        for pid in pids:
            rows.append({"pid": pid, "role": "master" if pid == self.process.pid else "worker",
                         "rss_mb": (proc_status_kb(pid, "VmRSS") or 0) / 1024,
                         "hwm_mb": (proc_status_kb(pid, "VmHWM") or 0) / 1024,
                         "pss_mb": (pss_kb(pid) or 0) / 1024})
        return {"processes": rows, "rss_total_mb": sum(r["rss_mb"] for r in rows),
                "pss_total_mb": sum(r["pss_mb"] for r in rows)}

    def stop(self):
        """Stop the server; returns what it wrote to stderr (its log), "" if never started."""
        log = ""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process and self.process.stderr and not self.process.stderr.closed:
            log = self.process.stderr.read().decode(errors="replace")
            self.process.stderr.close()
        return log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def get_page(opener, url, timeout=30):
    """(status, headers, body text) of a GET, without following redirects."""
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def no_redirect_opener(cookie_jar=None):
    import http.cookiejar

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = cookie_jar if cookie_jar is not None else http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect()), jar


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def admin_login(base_url):
    """Log in as the bench admin over HTTP; returns an opener carrying the session cookie."""
    opener, _jar = no_redirect_opener()
    status, _h, html = get_page(opener, base_url + "/login")
    token = CSRF_RE.search(html).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "username": ADMIN[0],
                                   "password": ADMIN[1]}).encode()
    try:
        with opener.open(base_url + "/login", data=body, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    if status != 302:
        raise RuntimeError(f"admin login failed: HTTP {status}")
    return opener


# ---------------------------------------------------------------- machine

def _first_line(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine_info():
    import importlib.metadata as md

    versions = {}
    for package in ("flask", "gunicorn", "tinydb", "xlsxwriter", "werkzeug", "flask-wtf"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = "?"
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[0].split(" [")[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        wrk = "?"
    commit, dirty = git_commit()
    return {"nproc": os.cpu_count(), "cpu": _first_line("/proc/cpuinfo", "model name"),
            "mem_total": _first_line("/proc/meminfo", "MemTotal"),
            "kernel": platform.release(), "python": platform.python_version(),
            "packages": versions, "wrk": wrk, "commit": commit, "dirty": dirty,
            "loadavg": os.getloadavg(),
            "server_command": " ".join(["gunicorn"] + serve_command("PORT")[1:]),
            "filesystem": _filesystem(OUT)}


def _filesystem(path):
    os.makedirs(path, exist_ok=True)
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[-1].split()
        return f"{out[1]} on {out[0]}"
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def dump_json(path, data):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1, default=str)
