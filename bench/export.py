"""XLSX export of SIZE submissions of a 25-field form through the real export path.

No built-in form has 25 data fields, so bench/forms/bench25.json (25 data fields of every
exportable type, one of them a repeat) is installed with `flask --app app load-form` into a
database of its own (bench/out/export/n<SIZE>: `flask init`, load-form, then SIZE submissions
of bench25 from seed_data.demo_answers written with Store.import_submissions, spread over the
demo organizations and the last 330 days).

Measured: `flask --app app export bench25 OUT.xlsx` in a fresh process - the command an operator
runs, which calls views.admin.export_submissions like the admin page does - wall time from
spawn to exit and peak RSS (ru_maxrss of that child from os.wait4). The output is checked:
the main sheet must have SIZE data rows.

Also the admin page's export (GET /admin/forms/bench25/export.xlsx) over HTTP under the
production server (`make serve`'s command line, 2 sync workers): status, time to the last byte,
peak RSS of the workers, and whether gunicorn killed a worker (WORKER TIMEOUT).

Then, for the reading of the figures, a breakdown of the same steps in one instrumented
process (open the Store, query_submissions + decode, XLSX write), with RSS and time after each.

    .venv/bin/python bench/export.py [--sizes ...] [--quick] [--no-breakdown]
"""
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.abspath(__file__)
FORM_FILE = os.path.join(common.BENCH, "forms", "bench25.json")
FORM_ID = "bench25"
TIME_LIMIT_S = 900


# ---------------------------------------------------------------- the database

def fill(data_dir, count, seed=common.SEED):
    """Child: add `count` bench25 submissions (oldest first) with Store.import_submissions."""
    from seed_data.demo_answers import fake_answers
    from storage import Store

    with Store(os.path.join(data_dir, common.DB_NAME)) as store:
        schema = store.get_form(FORM_ID)["schema"]
        orgs = [o["code"] for o in store.list_orgs() if o["kind"] != "county"]
        rng = random.Random(seed)
        now = datetime.now().astimezone()
        moments = sorted(now - timedelta(seconds=rng.random() * 330 * 86400)
                         for _ in range(count))
        docs = ({"form_id": FORM_ID, "form_version": schema["version"],
                 "org_code": rng.choice(orgs), "answers": fake_answers(schema, rng),
                 "submitted_at": m.isoformat(timespec="seconds")} for m in moments)
        added = store.import_submissions(docs)
        print(json.dumps({"added": added, "total": store.count_submissions(FORM_ID)}))


def build_export_base(size, rebuild=False):
    folder = common.export_dir(size)
    manifest = common.read_manifest(folder)
    if (not rebuild and manifest and manifest.get("size") == size
            and manifest.get("storage") == common.storage_fingerprint()
            and os.path.exists(os.path.join(folder, common.DB_NAME))):
        return folder, manifest
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    common.log(f"building export database n{size} (bench25) ...")
    started = time.perf_counter()
    common.flask(folder, "init")
    common.flask(folder, "load-form", FORM_FILE)
    filled = common.run_child([HERE, "--fill", folder, str(size)], timeout=3600)
    assert filled["total"] == size, filled
    manifest = {"size": size, "form": FORM_ID, "storage": common.storage_fingerprint(),
                "commit": common.git_commit()[0], "build_s": round(time.perf_counter() - started, 1),
                "bytes": os.path.getsize(os.path.join(folder, common.DB_NAME))}
    common.write_manifest(folder, manifest)
    common.log(f"  export n{size}: {manifest['bytes'] / 1e6:.1f} MB in {manifest['build_s']} s")
    return folder, manifest


# ---------------------------------------------------------------- measurements

def count_rows(xlsx_path):
    """Data rows (header excluded) of every worksheet, in order; streamed, since the XML of a
    100k-row sheet is over 100 MB."""
    counts = []
    with zipfile.ZipFile(xlsx_path) as z:
        names = sorted((n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                       key=lambda n: int(re.search(r"(\d+)\.xml$", n).group(1)))
        for name in names:
            with z.open(name) as f:
                rows, tail = 0, b""
                while chunk := f.read(1 << 20):
                    data = tail + chunk
                    rows += data.count(b"<row ")
                    tail = data[-4:]
            counts.append(rows - 1)
    return counts


def timed_child(command, env):
    """Run a command; (wall seconds, peak RSS MB, user s, sys s, returncode, stdout, stderr)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=common.ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIME_LIMIT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{command} exceeded {TIME_LIMIT_S} s")
        time.sleep(0.01)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    return wall, usage.ru_maxrss / 1024, usage.ru_utime, usage.ru_stime, process.returncode, \
        out, err


def measure_cli(folder, size):
    out = os.path.join(common.OUT, "work", f"export-n{size}.xlsx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.exists(out):
        os.unlink(out)
    command = [common.PY, "-m", "flask", "--app", "app", "export", FORM_ID, out]
    busy = common.wait_quiet(f"export n{size}")
    busy0, total0 = common.machine_ticks()
    wall, peak, user, system, code, stdout, stderr = timed_child(command, common.env_for(folder))
    busy1, total1 = common.machine_ticks()
    if code != 0:
        raise RuntimeError(f"export failed ({code}):\n{stderr[-3000:]}")
    exported = int(re.search(r"Exported (\d+)", stdout).group(1))
    rows = count_rows(out)
    result = {"busy_before_pct": busy, "wall_s": wall, "peak_rss_mb": peak,
              "foreign_cpu_cores": common.foreign_cores(busy1 - busy0, total1 - total0,
                                                        user + system, wall), "user_s": user, "sys_s": system,
              "exported": exported, "rows_per_sheet": rows,
              "rows_ok": rows[0] == size == exported,
              "xlsx_mb": os.path.getsize(out) / 1e6,
              "command": f"flask --app app export {FORM_ID} OUT.xlsx"}
    os.unlink(out)
    return result


def child_breakdown(data_dir, out):
    """views.admin.export_submissions itself, with its two big steps (query_submissions and
    the XLSX writer) wrapped to record time and RSS around them."""
    steps = []

    def mark(name, started):
        steps.append({"step": name, "s": time.perf_counter() - started,
                      "rss_mb": common.self_rss_mb(),
                      "hwm_mb": (common.proc_status_kb(os.getpid(), "VmHWM") or 0) / 1024})

    t = time.perf_counter()
    import xlsxwriter

    import exports
    from storage import Store
    from views import admin
    mark("import", t)
    t = time.perf_counter()
    store = Store(os.path.join(data_dir, common.DB_NAME))
    mark("Store(path)", t)
    query, writer = store.query_submissions, exports.submissions_to_xlsx

    def timed_query(*args, **kwargs):
        started = time.perf_counter()
        result = query(*args, **kwargs)
        mark("  query_submissions (every doc, decoded)", started)
        return result

    def timed_writer(schema, docs, *args, **kwargs):
        started = time.perf_counter()
        writer(schema, docs, *args, **kwargs)
        mark("  submissions_to_xlsx", started)

    # Inside the writer: time spent writing the rows of each sheet, and closing the workbook
    # (XlsxWriter assembles the sheets' XML and zips them).
    per_sheet = {}
    write_row = exports._Sheet.write_row

    def timed_write_row(sheet, values):
        started = time.perf_counter()
        write_row(sheet, values)
        entry = per_sheet.setdefault(sheet.ws.name, [0, 0.0, len(values)])
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    close = xlsxwriter.Workbook.close

    def timed_close(workbook):
        started = time.perf_counter()
        close(workbook)
        per_sheet["(workbook close: XML assembly + zip)"] = [0, time.perf_counter() - started, 0]

    exports._Sheet.write_row = timed_write_row
    xlsxwriter.Workbook.close = timed_close
    store.query_submissions = timed_query
    exports.submissions_to_xlsx = timed_writer
    t = time.perf_counter()
    admin.export_submissions(store, FORM_ID, "xlsx", out)
    mark("export_submissions (total)", t)
    os.unlink(out)
    sheets = [{"sheet": name, "rows": rows, "columns": cols, "s": seconds}
              for name, (rows, seconds, cols) in per_sheet.items()]
    print(json.dumps({"steps": steps, "sheets": sheets}))


def measure_web(folder, size):
    """The admin page's export (GET /admin/forms/bench25/export.xlsx) under the production
    server (2 sync workers, gunicorn's defaults: 30 s worker timeout), logged in over HTTP.
    Both workers open the database first (list page); then the export is timed until its last
    byte, while the workers' RSS is sampled every 0.2 s."""
    import http.client
    import threading
    import urllib.error

    copy = common.fresh_copy(folder, f"export-web-n{size}")
    common.flask(copy, "create-user", common.ADMIN[0], "--role", "admin", "--password-stdin",
                 input=common.ADMIN[1] + "\n")
    server = common.Gunicorn("app:create_app()", copy)
    out = os.path.join(common.OUT, "work", f"export-web-n{size}.xlsx")
    result = {"path": f"GET /admin/forms/{FORM_ID}/export.xlsx"}
    peak = {"mb": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in common.child_pids(server.process.pid):
                rss = (common.proc_status_kb(pid, "VmRSS") or 0) / 1024
                peak["mb"] = max(peak["mb"], rss)
            stop.wait(0.2)

    try:
        server.start("/login")
        opener = common.admin_login(server.url)
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: common.get_page(
                opener, f"{server.url}/admin/forms/{FORM_ID}/submissions", timeout=120),
                range(4)))
        common.wait_quiet(f"export web n{size}")
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        busy0, total0 = common.machine_ticks()
        started = time.perf_counter()
        try:
            with opener.open(f"{server.url}/admin/forms/{FORM_ID}/export.xlsx",
                             timeout=TIME_LIMIT_S) as response, open(out, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                result["status"] = response.status
        except urllib.error.HTTPError as e:
            result["status"] = e.code
        except (http.client.HTTPException, OSError) as e:
            result["status"] = f"failed: {type(e).__name__}: {e}"
        result["wall_s"] = time.perf_counter() - started
        busy1, total1 = common.machine_ticks()
        result["machine_busy_pct"] = 100 * (busy1 - busy0) / max(total1 - total0, 1)
        stop.set()
        sampler.join(5)
        result["worker_peak_rss_mb"] = peak["mb"]
        if result["status"] == 200:
            rows = count_rows(out)
            result["rows_ok"] = rows[0] == size
    finally:
        stop.set()
        log = server.stop()
        common.remove_copy(copy)
        if os.path.exists(out):
            os.unlink(out)
    result["worker_timeouts"] = log.count("WORKER TIMEOUT")
    result["ok"] = result.get("status") == 200 and result.get("rows_ok", False)
    return result


def measure(size, rebuild=False, breakdown=True, web=True):
    folder, manifest = build_export_base(size, rebuild)
    common.log(f"export: n{size} via flask export ...")
    result = {"db_mb": manifest["bytes"] / 1e6,
              "cli": common.undisturbed(lambda: measure_cli(folder, size), f"export n{size}")}
    if web:
        common.log(f"export: n{size} via the admin page ...")
        result["web"] = measure_web(folder, size)
    if breakdown:
        out = os.path.join(common.OUT, "work", f"export-breakdown-n{size}.xlsx")
        def breakdown_run():
            common.wait_quiet(f"export breakdown n{size}")
            busy0, total0 = common.machine_ticks()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            detail = common.run_child([HERE, "--child-breakdown", folder, out],
                                      timeout=TIME_LIMIT_S)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            busy1, total1 = common.machine_ticks()
            own = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            detail["wall_s"] = wall
            detail["foreign_cpu_cores"] = common.foreign_cores(busy1 - busy0, total1 - total0,
                                                               own, wall)
            return detail
        detail = common.undisturbed(breakdown_run, f"export breakdown n{size}")
        result["breakdown"], result["sheets"] = detail["steps"], detail["sheets"]
        result["breakdown_foreign_cpu_cores"] = detail["foreign_cpu_cores"]
    return result


def run(sizes, rebuild=False, breakdown=True, web=True):
    return {"form": FORM_ID, "sizes": {size: measure(size, rebuild, breakdown, web)
                                       for size in sizes}}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--fill":
        return fill(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "--child-breakdown":
        return child_breakdown(sys.argv[2], sys.argv[3])
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--no-breakdown", action="store_true",
                        help="only the real export command, without the step breakdown")
    parser.add_argument("--no-web", action="store_true",
                        help="skip the export through the admin page under gunicorn")
    args = parser.parse_args()
    results = run(common.sizes_of(args), args.rebuild, not args.no_breakdown, not args.no_web)
    print(f"{'stored':>8} {'wall s':>7} {'peak MB':>8} {'rows ok':>7} {'xlsx MB':>8}  rows per sheet")
    for size, r in results["sizes"].items():
        c = r["cli"]
        print(f"{size:>8} {c['wall_s']:>7.1f} {c['peak_rss_mb']:>8.0f} {c['rows_ok']!s:>7} "
              f"{c['xlsx_mb']:>8.1f}  {c['rows_per_sheet']}")
        for step in r.get("breakdown", []):
            print(f"{'':>8}   {step['step']:<42} {step['s']:>6.2f} s  RSS {step['rss_mb']:>6.0f} MB"
                  f"  peak {step['hwm_mb']:>6.0f} MB")
        if "web" in r:
            w = r["web"]
            print(f"{'':>8}   admin page export: {w['status']} in {w['wall_s']:.1f} s, worker peak "
                  f"RSS {w['worker_peak_rss_mb']:.0f} MB, worker timeouts {w['worker_timeouts']}")
        for sheet in r.get("sheets", []):
            print(f"{'':>8}     {sheet['sheet']:<40} {sheet['s']:>6.2f} s  {sheet['rows']} rows x "
                  f"{sheet['columns']} columns")
    common.dump_json(args.json_out, results)


if __name__ == "__main__":
    main()
