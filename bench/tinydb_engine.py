"""The TinyDB engine's figures (issue 7): open, memory, insert latency, the admin page, export.

Self-contained (it only borrows helpers from bench/common.py), on data folders of its own
under bench/out/engine/ built by the operator's commands, so that it can be run on the code
of any commit (from a `git archive` of it) against the very same database bytes:

    # flask init + seed-demo --submissions N --seed 1 + an admin + FORM links
    .venv/bin/python bench/tinydb_engine.py build bench/out/engine/n100000 100000
    # TinyStore(path) in fresh processes: time, RSS, warm_up(); two processes at once
    .venv/bin/python bench/tinydb_engine.py open DIR [--repeats 5]
    # Store.add_submission latency, interleaved over fresh copies of the folders
    .venv/bin/python bench/tinydb_engine.py insert DIR1 DIR2 ... [--inserts 3000]
    # make serve's gunicorn (2 workers) on a fresh copy: both workers open, a short load
    # (submits + admin pages), the admin submissions page with a township filter, then with a
    # township and a 30-day date filter (the 催报 list is on the same page), workers' RSS
    .venv/bin/python bench/tinydb_engine.py serve DIR [--requests 50] [--submits 300]
    # flask --app app export FORM OUT.xlsx: wall time and peak RSS (ru_maxrss)
    .venv/bin/python bench/tinydb_engine.py export DIR [--form public_demand]

FORM, the form inserted, posted, listed and exported, is public_demand (a form that takes any
number of fills). Until issue 10 it was monthly_report; that one now takes one report per
organization, month and project (repeated inserts would be refused) and seed-demo makes only a
year's worth of them. The figures of docs/BENCHMARKS.md's engine section were taken with
monthly_report (41% of a seed-demo base, public_demand is ~83% of one now).

Each prints one JSON object, also appended with the commit and the time to results.jsonl in
the folder that holds the data folder (copies go to work/ beside it). Loopback traffic only;
every loop is bounded.
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import uuid
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HERE = os.path.abspath(__file__)
DB = common.DB_NAME
FORM = "public_demand"  # not common.SUBMIT_FORM: this script also runs beside older commits


def record(kind, data_dir, result):
    commit, dirty = common.git_commit()
    row = {"kind": kind, "data_dir": data_dir, "commit": commit, "dirty": dirty,
           "at": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": os.getloadavg(), **result}
    parent = os.path.dirname(os.path.abspath(data_dir.split(",")[0]))
    with open(os.path.join(parent, "results.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    print(json.dumps(row, ensure_ascii=False, indent=1, default=str))


def manifest_of(folder):
    with open(os.path.join(folder, "engine.json"), encoding="utf-8") as f:
        return json.load(f)


def copy_folder(folder, name):
    """A fresh copy of a data folder beside it, in work/ (its pages written out: no
    writeback during the run)."""
    target = os.path.join(os.path.dirname(folder), "work", name)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)
    subprocess.run(["sync"], check=True, timeout=600)
    return target


# ---------------------------------------------------------------- build

def build(folder, count):
    os.makedirs(folder, exist_ok=True)
    started = time.perf_counter()
    common.flask(folder, "init")
    common.flask(folder, "seed-demo", "--submissions", str(count), "--seed", str(common.SEED),
                 timeout=7200)
    seeded = time.perf_counter() - started
    common.flask(folder, "create-user", common.ADMIN[0], "--role", "admin",
                 "--password-stdin", input=common.ADMIN[1] + "\n")
    links = [line.split("\t") for line in
             common.flask(folder, "links", FORM).splitlines() if line.strip()]
    from storage import TinyStore

    with TinyStore(os.path.join(folder, DB)) as store:
        orgs = store.list_orgs()
        total = store.count_submissions()
    villages = [o["code"] for o in orgs if o["kind"] == "village"]
    tokens = {code: url.rsplit("/", 1)[-1] for code, _name, url in links}
    manifest = {"submissions": total, "seed_demo_s": round(seeded, 1),
                "bytes": os.path.getsize(os.path.join(folder, DB)),
                "townships": [o["code"] for o in orgs if o["kind"] == "township"],
                "entry_tokens": [tokens[v] for v in villages[:20]]}
    with open(os.path.join(folder, "engine.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    return manifest


# ---------------------------------------------------------------- open

def child_open(path):
    import gc

    import storage
    rss0 = common.self_rss_mb()
    cpu = time.process_time()
    started = time.perf_counter()
    store = storage.TinyStore(path)
    opened = time.perf_counter() - started
    rss1 = common.self_rss_mb()
    started = time.perf_counter()
    store.warm_up()
    gc.freeze()  # what db.py does after opening
    warmed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    rss2 = common.self_rss_mb()
    started = time.perf_counter()
    count = store.count_submissions()
    print(json.dumps({"open_s": opened, "warm_up_s": warmed, "cpu_s": cpu, "rss_before_mb": rss0,
                      "rss_open_mb": rss1, "rss_warm_mb": rss2, "count": count,
                      "count_s": time.perf_counter() - started,
                      "hwm_mb": (common.proc_status_kb(os.getpid(), "VmHWM") or 0) / 1024}))


def measure_open(folder, repeats):
    path = os.path.join(folder, DB)
    with open(path, "rb") as f:  # page cache warm, as for a restarted server
        while f.read(1 << 24):
            pass
    common.wait_quiet("open")
    alone = [common.run_child([HERE, "child-open", path], timeout=900) for _ in range(repeats)]
    # Two at once: what two gunicorn workers do when the first requests reach both.
    pair = []
    for _ in range(max(1, repeats // 2)):
        procs = [subprocess.Popen([common.PY, HERE, "child-open", path], cwd=common.ROOT,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            out, _ = proc.communicate(timeout=900)
            pair.append(json.loads(out.strip().splitlines()[-1]))

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    return {"repeats": repeats, "open_s": med(alone, "open_s"),
            "open_s_all": [round(r["open_s"], 3) for r in alone],
            "warm_up_s": med(alone, "warm_up_s"), "cpu_s": med(alone, "cpu_s"),
            "rss_open_mb": med(alone, "rss_open_mb"), "rss_warm_mb": med(alone, "rss_warm_mb"),
            "rss_growth_mb": med(alone, "rss_warm_mb") - med(alone, "rss_before_mb"),
            "peak_rss_mb": med(alone, "hwm_mb"), "count": alone[0]["count"],
            "count_s": med(alone, "count_s"),
            "two_at_once_open_plus_warm_s": [round(r["open_s"] + r["warm_up_s"], 3)
                                             for r in pair]}


# ---------------------------------------------------------------- insert

def measure_insert(folders, inserts, warmup=20):
    from seed_data.demo_answers import fake_answers
    from storage import TinyStore

    copies = {f: copy_folder(f, f"insert-{os.path.basename(f)}") for f in folders}
    stores = {f: TinyStore(os.path.join(c, DB)) for f, c in copies.items()}
    try:
        any_store = next(iter(stores.values()))
        form = any_store.get_form(FORM)
        villages = [o["code"] for o in any_store.list_orgs() if o["kind"] == "village"]
        rng = random.Random(20240301)
        work = [(fake_answers(form["schema"], rng), rng.choice(villages))
                for _ in range(inserts + warmup)]
        times = {f: [] for f in folders}
        order = list(folders)
        common.wait_quiet("insert")
        for i, (answers, org) in enumerate(work):
            rng.shuffle(order)
            for f in order:
                started = time.perf_counter()
                _doc, created = stores[f].add_submission(FORM, form["version"], org,
                                                         answers, uuid.uuid4().hex)
                elapsed = time.perf_counter() - started
                assert created
                if i >= warmup:
                    times[f].append(elapsed)
        return {"inserts": inserts, "by_folder": {
            f: {**common.summary_ms(t), "stored_after": stores[f].count_submissions()}
            for f, t in times.items()}}
    finally:
        for store in stores.values():
            store.close()
        for copy in copies.values():
            shutil.rmtree(copy, ignore_errors=True)


# ---------------------------------------------------------------- serve

def submit_once(base_url, token, answers_pairs):
    opener, _jar = common.no_redirect_opener()
    url = f"{base_url}/f/{token}"
    status, _h, html = common.get_page(opener, url)
    if status != 200:
        return status
    body = urllib.parse.urlencode([("csrf_token", common.CSRF_RE.search(html).group(1)),
                                   ("submission_id", uuid.uuid4().hex),
                                   *answers_pairs]).encode()
    try:
        with opener.open(url, data=body, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def timed_pages(opener, urls, count):
    times, totals, bad = [], [], 0
    for i in range(count):
        started = time.perf_counter()
        status, _h, body = common.get_page(opener, urls[i % len(urls)], timeout=300)
        times.append(time.perf_counter() - started)
        shown = re.search(r"共\s*(\d+)\s*份", body)
        missing = re.search(r"已提交 (\d+) / (\d+)", body)
        if status != 200 or not shown or not missing:
            bad += 1
        else:
            totals.append((int(shown[1]), int(missing[1]), int(missing[2])))
    return {**common.summary_ms(times), "errors": bad, "totals_first_round":
            totals[:len(urls)]}


def measure_serve(folder, requests, submits):
    from forms.loader import load_schema_file
    from seed_data.demo_answers import fake_answers, to_formdata

    manifest = manifest_of(folder)
    copy = copy_folder(folder, "serve")
    schema = load_schema_file(os.path.join(common.ROOT, "schemas", f"{FORM}.json"))
    rng = random.Random(7)
    bodies = [to_formdata(schema["fields"], fake_answers(schema, rng)) for _ in range(50)]
    result = {}
    try:
        common.wait_quiet("serve")
        with common.Gunicorn("app:create_app()", copy) as server:
            result["spawn_to_login_page_s"] = server.start("/login", timeout=900)
            opener = common.admin_login(server.url)
            base = f"{server.url}/admin/forms/{FORM}/submissions"
            # Both workers open the database: concurrent requests until both answered.
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                warm = list(pool.map(lambda _: common.get_page(opener, base, timeout=900)[0],
                                     range(8)))
            result["both_workers_open_s"] = time.perf_counter() - started
            result["warm_statuses"] = sorted(set(warm))
            result["rss_after_open_mb"] = server.memory()
            # A short load: submits from villages, as on a reporting day.
            tokens = manifest["entry_tokens"]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(
                    lambda i: submit_once(server.url, tokens[i % len(tokens)],
                                          bodies[i % len(bodies)]), range(submits)))
            result["submits"] = {"count": submits, "s": time.perf_counter() - started,
                                 "statuses": {str(s): statuses.count(s) for s in set(statuses)}}
            townships = manifest["townships"]
            today = date.today()
            month_ago = today - timedelta(days=29)
            township_urls = [f"{base}?township={t}" for t in townships]
            dated_urls = [f"{base}?township={t}&date_from={month_ago.isoformat()}"
                          f"&date_to={today.isoformat()}" for t in townships]
            common.wait_quiet("serve pages")
            result["page_township"] = timed_pages(opener, township_urls, requests)
            result["page_township_30_days"] = timed_pages(opener, dated_urls, requests)
            result["page_all"] = timed_pages(opener, [base], max(5, requests // 5))
            result["rss_after_load_mb"] = server.memory()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return result


# ---------------------------------------------------------------- export

def measure_export(folder, form_id):
    out = os.path.join(os.path.dirname(folder), "work", f"export-{form_id}.xlsx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    common.wait_quiet("export")
    command = [common.PY, "-m", "flask", "--app", "app", "export", form_id, out]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=common.ROOT, env=common.env_for(folder),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 3600
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("export took over an hour")
        time.sleep(0.05)
    wall = time.perf_counter() - started
    out_text = process.stdout.read().decode()
    err_text = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(err_text[-3000:])
    size = os.path.getsize(out)
    os.unlink(out)
    return {"form": form_id, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
            "exported": int(re.search(r"Exported (\d+)", out_text)[1]), "xlsx_mb": size / 1e6}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "child-open":
        return child_open(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build")
    p.add_argument("folder")
    p.add_argument("count", type=int)
    p = sub.add_parser("open")
    p.add_argument("folder")
    p.add_argument("--repeats", type=int, default=5)
    p = sub.add_parser("insert")
    p.add_argument("folders", nargs="+")
    p.add_argument("--inserts", type=int, default=3000)
    p = sub.add_parser("serve")
    p.add_argument("folder")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--submits", type=int, default=300)
    p = sub.add_parser("export")
    p.add_argument("folder")
    p.add_argument("--form", default=FORM)
    args = parser.parse_args()
    if args.command == "build":
        record("build", args.folder, build(os.path.abspath(args.folder), args.count))
    elif args.command == "open":
        record("open", args.folder, measure_open(os.path.abspath(args.folder), args.repeats))
    elif args.command == "insert":
        record("insert", ",".join(args.folders),
               measure_insert([os.path.abspath(f) for f in args.folders], args.inserts))
    elif args.command == "serve":
        record("serve", args.folder,
               measure_serve(os.path.abspath(args.folder), args.requests, args.submits))
    elif args.command == "export":
        record("export", args.folder, measure_export(os.path.abspath(args.folder), args.form))


if __name__ == "__main__":
    main()
