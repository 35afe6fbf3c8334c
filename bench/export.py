"""XLSX export of SIZE submissions of a 25-field form through the real export path, per backend.

No built-in form has 25 data fields, so two bench forms are installed with `flask --app app
load-form`, each into a database of its own per backend (`flask init`, load-form, then SIZE
submissions from seed_data.demo_answers written with Store.import_submissions - COPY on
PostgreSQL - spread over the demo organizations and the last 330 days):

- bench/forms/bench25flat.json: 25 data fields of every scalar type, one row per submission -
  the issue's "100k submissions x 25 fields" (its reference raw write, 100k rows x 25 columns,
  took 14.9 s);
- bench/forms/bench25.json: the same 25 fields, but 实施步骤 is a repeat (4-8 rows per
  submission, like the built-in application forms), so the workbook also has a detail sheet of
  ~6 rows per submission: twice the cells of the flat form.

Measured for each: `flask --app app export FORM OUT.xlsx` in a fresh process - the command an
operator runs, which calls services.submissions.export_submissions like the admin page
does (PostgreSQL: rows streamed through a server-side cursor) - wall time
from spawn to exit and peak RSS (ru_maxrss of that child from os.wait4). The output is checked:
the main sheet must have SIZE data rows.

Also the admin page's export (GET /admin/forms/FORM/export.xlsx) over HTTP under the
production server (`make serve`'s command line, 2 sync workers): status, time to the last byte,
peak RSS of the workers, and whether gunicorn killed a worker (WORKER TIMEOUT).

Then, for the reading of the figures, a breakdown of the same steps in one instrumented
process (open the Store, query_submissions + decode, XLSX write), with RSS and time after each,
and at the largest size XlsxWriter's API alone: the very same cells, computed beforehand, written
with write_string/write_number into a constant_memory workbook and nothing else - the floor of
the export until issue 11, which since writes its data rows' XML itself (exports._Sheet) and
goes below it.

    .venv/bin/python bench/export.py [--backends ...] [--sizes ...] [--quick] [--no-breakdown]
        [--no-web] [--no-floor] [--forms ...]
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
import backends  # noqa: E402
import common  # noqa: E402

HERE = os.path.abspath(__file__)
# The benchmark (one row per submission) first, then the same fields with a repeat.
FORMS = ("bench25flat", "bench25")
FORM_ID = "bench25"  # the default of the profiling script (bench/profile_export.py)
TIME_LIMIT_S = 900


# ---------------------------------------------------------------- the database

def form_file(form_id):
    return os.path.join(common.BENCH, "forms", f"{form_id}.json")


def open_env_store():
    """The Store of the deployment this child process runs in (its environment)."""
    import storage

    return storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                              os.environ["TAIZHANG_DATA_DIR"])


def fill(count, form_id, seed=common.SEED):
    """Child: add `count` submissions of form_id (oldest first) with
    Store.import_submissions."""
    from seed_data.demo_answers import fake_answers

    with open_env_store() as store:
        schema = store.get_form(form_id)["schema"]
        orgs = [o["code"] for o in store.list_orgs() if o["kind"] != "county"]
        rng = random.Random(seed)
        now = datetime.now().astimezone()
        moments = sorted(now - timedelta(seconds=rng.random() * 330 * 86400)
                         for _ in range(count))
        docs = ({"form_id": form_id, "form_version": schema["version"],
                 "org_code": rng.choice(orgs), "answers": fake_answers(schema, rng),
                 "submitted_at": m.isoformat(timespec="seconds")} for m in moments)
        added = store.import_submissions(docs)
        print(json.dumps({"added": added, "total": store.count_submissions(form_id)}))


def _build(deployment, size, form_id):
    common.log(f"building {deployment.label} export database n{size} ({form_id}) ...")
    started = time.perf_counter()
    deployment.flask("init")
    deployment.flask("load-form", form_file(form_id))
    filled = deployment.run_child([HERE, "--fill", str(size), form_id], timeout=3600)
    assert filled["total"] == size, filled
    return {"size": size, "form": form_id, "fill_s": round(time.perf_counter() - started, 1)}


def build_export_base(size, rebuild=False, form_id=FORM_ID, backend="tinydb"):
    """(Deployment, manifest) of the export database of form_id at size on backend."""
    if backend == "postgresql":
        deployment, manifest = backends.pg_base(
            f"export_{form_id}_n{size}", lambda d: _build(d, size, form_id),
            backends.content_fingerprint("export", form_id, size, _form_bytes(form_id)),
            rebuild)
        manifest["bytes"] = manifest["db_mb"] * 1e6
        return deployment, manifest
    folder = common.export_dir(size, form_id)
    deployment = backends.Deployment("tinydb", folder)
    manifest = common.read_manifest(folder)
    if (not rebuild and manifest and manifest.get("size") == size
            and manifest.get("storage") == common.storage_fingerprint()
            and os.path.exists(os.path.join(folder, common.DB_NAME))):
        return deployment, manifest
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    started = time.perf_counter()
    manifest = _build(deployment, size, form_id)
    manifest.update({"storage": common.storage_fingerprint(), "commit": common.git_commit()[0],
                     "build_s": round(time.perf_counter() - started, 1),
                     "bytes": os.path.getsize(os.path.join(folder, common.DB_NAME))})
    common.write_manifest(folder, manifest)
    common.log(f"  export {form_id} n{size}: {manifest['bytes'] / 1e6:.1f} MB in "
               f"{manifest['build_s']} s")
    return deployment, manifest


def _form_bytes(form_id):
    with open(form_file(form_id), "rb") as f:
        return f.read()


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


def measure_cli(deployment, size, form_id, expected=None):
    """`flask --app app export FORM OUT.xlsx` in a fresh process: wall time, peak RSS, rows
    (the main sheet must hold ``expected`` rows, default size)."""
    expected = size if expected is None else expected
    out = os.path.join(common.OUT, "work", f"export-{form_id}-n{size}.xlsx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.exists(out):
        os.unlink(out)
    command = [common.PY, "-m", "flask", "--app", "app", "export", form_id, out]
    busy = common.wait_quiet(f"export {deployment.backend} {form_id} n{size}")
    busy0, total0 = common.machine_ticks()
    db0 = backends.database_cpu_seconds()
    wall, peak, user, system, code, stdout, stderr = timed_child(command, deployment.env())
    db_cpu = backends.database_cpu_seconds() - db0
    busy1, total1 = common.machine_ticks()
    if code != 0:
        raise RuntimeError(f"export failed ({code}):\n{stderr[-3000:]}")
    exported = int(re.search(r"Exported (\d+)", stdout).group(1))
    rows = count_rows(out)
    result = {"busy_before_pct": busy, "wall_s": wall, "peak_rss_mb": peak,
              "foreign_cpu_cores": common.foreign_cores(busy1 - busy0, total1 - total0,
                                                        user + system + db_cpu, wall),
              "user_s": user, "sys_s": system, "db_cpu_s": db_cpu,
              "exported": exported, "rows_per_sheet": rows,
              "rows_ok": rows[0] == expected == exported,
              "xlsx_mb": os.path.getsize(out) / 1e6,
              "command": f"flask --app app export {form_id} OUT.xlsx"}
    os.unlink(out)
    return result


def child_breakdown(out, form_id):
    """services.submissions.export_submissions itself (in the deployment's environment), with
    its two big steps (iter_submissions and the XLSX writer) wrapped to record time and RSS
    around them."""
    steps = []

    def mark(name, started):
        steps.append({"step": name, "s": time.perf_counter() - started,
                      "rss_mb": common.self_rss_mb(),
                      "hwm_mb": (common.proc_status_kb(os.getpid(), "VmHWM") or 0) / 1024})

    t = time.perf_counter()
    import xlsxwriter

    import exports
    from services import submissions
    from services.orgs import OrgIndex
    if os.environ.get("TAIZHANG_DATABASE_URL"):
        import storage.pg  # noqa: F401
    mark("import", t)
    t = time.perf_counter()
    store = open_env_store()
    index = OrgIndex(store.list_orgs())
    mark("open_store + organizations", t)
    query, writer = store.iter_submissions, exports.submissions_to_xlsx

    def timed_query(*args, **kwargs):
        started = time.perf_counter()
        result = query(*args, **kwargs)
        mark("  iter_submissions (count, cursor opened)", started)
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
    store.iter_submissions = timed_query
    exports.submissions_to_xlsx = timed_writer
    t = time.perf_counter()
    submissions.export_submissions(store, index, form_id, "xlsx", out)
    mark("export_submissions (total)", t)
    os.unlink(out)
    store.close()
    sheets = [{"sheet": name, "rows": rows, "columns": cols, "s": seconds}
              for name, (rows, seconds, cols) in per_sheet.items()]
    print(json.dumps({"steps": steps, "sheets": sheets}))


def measure_web(base, size, form_id, query="", expected=None):
    """The admin page's export (GET /admin/forms/FORM/export.xlsx) under the production
    server (`make serve`'s line, 2 sync workers) on a fresh copy of base, logged in over HTTP.
    Both workers open the database first (list page); then timed_web_export."""
    import concurrent.futures

    expected = size if expected is None else expected
    copy = backends.fresh_copy(base, f"export-web-{form_id}-n{size}")
    if not any(u["username"] == common.ADMIN[0] for u in _users(copy)):
        copy.flask("create-user", common.ADMIN[0], "--role", "admin", "--password-stdin",
                   input=common.ADMIN[1] + "\n")
    server = copy.gunicorn()
    log = ""
    try:
        server.start("/login")
        opener = common.admin_login(server.url)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: common.get_page(
                opener, f"{server.url}/admin/forms/{form_id}/submissions", timeout=120),
                range(4)))
        result = timed_web_export(server, opener, form_id, expected, query,
                                  f"{copy.backend} n{size}")
    finally:
        log = server.stop()
        backends.remove_copy(copy)
    result["worker_timeouts"] = log.count("WORKER TIMEOUT")
    result["ok"] = result.get("status") == 200 and result.get("rows_ok", False) \
        and not result["worker_timeouts"]
    return result


def timed_web_export(server, opener, form_id, expected, query="", label=""):
    """GET /admin/forms/FORM/export.xlsx?QUERY on a running server with a logged-in opener,
    timed until its last byte, while every worker's RSS is sampled every 0.2 s; the main
    sheet must hold ``expected`` rows."""
    import http.client
    import threading
    import urllib.error

    out = os.path.join(common.OUT, "work", f"export-web-{form_id}-{server.port}.xlsx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    result = {"path": f"GET /admin/forms/{form_id}/export.xlsx{query}"}
    peak = {"mb": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in common.child_pids(server.process.pid):
                rss = (common.proc_status_kb(pid, "VmRSS") or 0) / 1024
                peak["mb"] = max(peak["mb"], rss)
            stop.wait(0.2)

    common.wait_quiet(f"export web {form_id} {label}")
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    busy0, total0 = common.machine_ticks()
    started = time.perf_counter()
    try:
        with opener.open(f"{server.url}/admin/forms/{form_id}/export.xlsx{query}",
                         timeout=TIME_LIMIT_S) as response, open(out, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
            result["status"] = response.status
    except urllib.error.HTTPError as e:
        result["status"] = e.code
    except (http.client.HTTPException, OSError) as e:
        result["status"] = f"failed: {type(e).__name__}: {e}"
    finally:
        result["wall_s"] = time.perf_counter() - started
        stop.set()
        sampler.join(5)
    busy1, total1 = common.machine_ticks()
    result["machine_busy_pct"] = 100 * (busy1 - busy0) / max(total1 - total0, 1)
    result["worker_peak_rss_mb"] = peak["mb"]
    try:
        if result["status"] == 200:
            rows = count_rows(out)
            result["rows"] = rows[0]
            result["rows_ok"] = rows[0] == expected
    finally:
        if os.path.exists(out):
            os.unlink(out)
    result["ok"] = result.get("status") == 200 and result.get("rows_ok", False)
    return result


def _users(deployment):
    code = ("import json, os, storage\n"
            "s = storage.open_store(os.environ.get('TAIZHANG_DATABASE_URL'), "
            "os.environ['TAIZHANG_DATA_DIR'])\n"
            "print(json.dumps(s.list_users())); s.close()")
    return deployment.run_child(["-c", code])


def child_floor(out, form_id):
    """XlsxWriter's API alone: the cells export_submissions writes for form_id (every sheet of
    exports._Layout, dates as Excel serials), computed first and held in memory, then written
    with write_string/write_number into a constant_memory workbook - no formats, no widths, no
    reading. The floor of an exporter that writes its cells through XlsxWriter's API."""
    import xlsxwriter

    import exports
    from services.orgs import OrgIndex

    store = open_env_store()
    schema = store.get_form(form_id)["schema"]
    index = OrgIndex(store.list_orgs())
    paths = {code: index.path(code) for code in index.by_code}
    kinds = {code: org["kind"] for code, org in index.by_code.items()}
    layout = exports._Layout(schema, paths, kinds)
    converters = [[(col, exports._XLSX_VALUES[kind]) for col, kind in enumerate(sheet.kinds)
                   if kind in exports._XLSX_VALUES] for sheet in layout.sheets]
    sheets = [[] for _ in layout.sheets]
    _count, docs = store.iter_submissions(form_id)
    for doc in docs:
        row, details = layout.rows(doc)
        for rows, new_rows, convert in zip(sheets, [[row], *details], converters):
            for new_row in new_rows:
                for col, value in convert:
                    new_row[col] = value(new_row[col])
                rows.append(new_row)
    store.close()
    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(out, exports.WORKBOOK_OPTIONS)
    parts = []
    for rows in sheets:
        sheet_started = time.perf_counter()
        ws = workbook.add_worksheet()
        write_string, write_number = ws.write_string, ws.write_number
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if type(value) is str:
                    write_string(r, c, value)
                elif value is not None:
                    write_number(r, c, value)
        parts.append({"rows": len(rows), "columns": len(rows[0]) if rows else 0,
                      "s": time.perf_counter() - sheet_started})
    close_started = time.perf_counter()
    workbook.close()
    parts.append({"rows": 0, "columns": 0, "s": time.perf_counter() - close_started})
    total = time.perf_counter() - started
    os.unlink(out)
    print(json.dumps({"total_s": total, "parts": parts,
                      "cells": sum(p["rows"] * p["columns"] for p in parts)}))


def measure(backend, size, form_id, rebuild=False, breakdown=True, web=True, floor=False):
    base, manifest = build_export_base(size, rebuild, form_id, backend)
    label = f"{backend} {form_id} n{size}"
    common.log(f"export: {label} via flask export ...")
    result = {"db_mb": manifest["bytes"] / 1e6,
              "cli": common.undisturbed(lambda: measure_cli(base, size, form_id),
                                        f"export {label}")}
    if web:
        common.log(f"export: {label} via the admin page ...")
        result["web"] = measure_web(base, size, form_id)
    out = os.path.join(common.OUT, "work", f"export-detail-{form_id}-n{size}.xlsx")

    def child_run(flag):
        common.wait_quiet(f"export {flag} {label}")
        busy0, total0 = common.machine_ticks()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        db0 = backends.database_cpu_seconds()
        started = time.perf_counter()
        detail = base.run_child([HERE, flag, out, form_id], timeout=TIME_LIMIT_S)
        wall = time.perf_counter() - started
        db_cpu = backends.database_cpu_seconds() - db0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy1, total1 = common.machine_ticks()
        own = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        detail["wall_s"] = wall
        detail["foreign_cpu_cores"] = common.foreign_cores(busy1 - busy0, total1 - total0,
                                                           own + db_cpu, wall)
        return detail

    if breakdown:
        detail = common.undisturbed(lambda: child_run("--child-breakdown"),
                                    f"export breakdown {label}")
        result["breakdown"], result["sheets"] = detail["steps"], detail["sheets"]
        result["breakdown_foreign_cpu_cores"] = detail["foreign_cpu_cores"]
    if floor:
        common.log(f"export: {label}, XlsxWriter alone on the same cells ...")
        result["floor"] = common.undisturbed(lambda: child_run("--child-floor"),
                                             f"export floor {label}")
    return result


def run(backend_names, sizes, rebuild=False, breakdown=True, web=True, forms=FORMS,
        floor=True):
    """{"backends": {backend: {"forms": {form_id: {"sizes": {size: figures}}}}}}; XlsxWriter's
    floor (the same for every backend) at the largest size of the first backend."""
    return {"backends": {backend: {"forms": {form_id: {"sizes": {
        size: measure(backend, size, form_id, rebuild, breakdown, web,
                      floor and size == max(sizes) and backend == backend_names[0])
        for size in sizes}} for form_id in forms}} for backend in backend_names}}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--fill":
        return fill(int(sys.argv[2]), sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "--child-breakdown":
        return child_breakdown(*sys.argv[2:])
    if len(sys.argv) == 4 and sys.argv[1] == "--child-floor":
        return child_floor(*sys.argv[2:])
    parser = common.arg_parser(__doc__.splitlines()[0])
    backends.add_backends_arg(parser)
    parser.add_argument("--no-breakdown", action="store_true",
                        help="only the real export command, without the step breakdown")
    parser.add_argument("--no-web", action="store_true",
                        help="skip the export through the admin page under gunicorn")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip XlsxWriter alone on the same cells (largest size)")
    parser.add_argument("--forms", default=",".join(FORMS),
                        help=f"comma-separated bench forms (default {','.join(FORMS)})")
    args = parser.parse_args()
    forms = [f for f in args.forms.split(",") if f]
    results = run(backends.backends_of(args.backends), common.sizes_of(args), args.rebuild,
                  not args.no_breakdown, not args.no_web, forms, not args.no_floor)
    print_table(results)
    common.dump_json(args.json_out, results)


def print_table(results):
    print(f"{'backend':>10} {'form':>12} {'stored':>8} {'wall s':>7} {'peak MB':>8} "
          f"{'rows ok':>7} {'xlsx MB':>8}  rows per sheet")
    for backend, per_backend in results["backends"].items():
        for form_id, per_form in per_backend["forms"].items():
            for size, r in per_form["sizes"].items():
                c = r["cli"]
                print(f"{backend:>10} {form_id:>12} {size:>8} {c['wall_s']:>7.1f} "
                      f"{c['peak_rss_mb']:>8.0f} {c['rows_ok']!s:>7} {c['xlsx_mb']:>8.1f}  "
                      f"{c['rows_per_sheet']}")
                pad = " " * 32
                for step in r.get("breakdown", []):
                    print(f"{pad}   {step['step']:<42} {step['s']:>6.2f} s  RSS "
                          f"{step['rss_mb']:>6.0f} MB  peak {step['hwm_mb']:>6.0f} MB")
                if "web" in r:
                    w = r["web"]
                    print(f"{pad}   admin page export: {w['status']} in {w['wall_s']:.1f} s, "
                          f"worker peak RSS {w['worker_peak_rss_mb']:.0f} MB, worker timeouts "
                          f"{w['worker_timeouts']}")
                for sheet in r.get("sheets", []):
                    print(f"{pad}     {sheet['sheet']:<40} {sheet['s']:>6.2f} s  "
                          f"{sheet['rows']} rows x {sheet['columns']} columns")
                if "floor" in r:
                    f = r["floor"]
                    print(f"{pad}   XlsxWriter alone, same {f['cells']:,} cells: "
                          f"{f['total_s']:.1f} s (" + ", ".join(f"{p['s']:.1f}" for p in f["parts"])
                          + " s per sheet, close)")


if __name__ == "__main__":
    main()
