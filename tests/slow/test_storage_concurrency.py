"""Storage under several processes: concurrent writers, kill -9, backups under load, fork.

Writers are separate Python processes (tests/support/storage_writer.py) so that each has its own
memory, file descriptors and locks, as gunicorn workers do.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storage import TinyStore as Store
from storage.logdb import check
from storage.portable import open_backup, write_backup

pytestmark = pytest.mark.slow

WRITER = str(Path(__file__).parents[1] / "support" / "storage_writer.py")


def spawn(db, *args):
    return subprocess.Popen([sys.executable, WRITER, str(db), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(procs):
    for proc in procs:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return [line.split() for line in out.splitlines()]


def all_submissions(store):
    return store.query_submissions(None)[1]


def test_eight_processes_write_at_once(tmp_path):
    db, go = tmp_path / "taizhang.db", tmp_path / "go"
    Store(db).close()
    procs = [spawn(db, "add", f"p{n}", 250, go) for n in range(8)]
    wait_ready(procs)
    go.touch()
    acked = [row for proc in procs for row in finish(proc)]
    assert len(acked) == 2000 and all(row[4] == "1" for row in acked)

    report = check(db)
    assert report["ok"] and report["tables"] == {"submissions": 2000}
    assert report["records"] == 2000 and report["torn_tail_bytes"] == 0
    with Store(db) as store:
        docs = all_submissions(store)
    assert len(docs) == 2000
    assert sorted(d["id"] for d in docs) == list(range(1, 2001))
    assert len({d["receipt"] for d in docs}) == 2000
    assert {d["submission_id"] for d in docs} == {f"p{n}-{i}" for n in range(8) for i in range(250)}
    # what each process was told is what is stored
    assert {(row[1], row[2], int(row[3])) for row in acked} == \
        {(d["submission_id"], d["receipt"], d["id"]) for d in docs}


def test_kill_9_never_loses_an_acknowledged_submission(tmp_path):
    db = tmp_path / "taizhang.db"
    rng = random.Random(20250301)
    acked = set()
    for rnd in range(20):
        proc = spawn(db, "forever", f"r{rnd}")
        wait_ready([proc])
        for _ in range(rng.randint(1, 40)):  # let it write a while, then kill at a random moment
            line = proc.stdout.readline()
            assert line.startswith("ok "), proc.stderr.read()
            acked.add(line.split()[1])
        time.sleep(rng.uniform(0, 0.02))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        acked.update(line.split()[1] for line in out.splitlines()
                     if line.startswith("ok ") and len(line.split()) == 6)

        report = check(db)  # opens every time; a torn last line is allowed, damage is not
        assert report["ok"], report
        with Store(db) as store:
            stored = {d["submission_id"] for d in all_submissions(store)}
        assert acked <= stored, sorted(acked - stored)[:5]
    assert len(acked) >= 20


def test_same_submission_from_ten_processes(tmp_path):
    db, go = tmp_path / "taizhang.db", tmp_path / "go"
    Store(db).close()
    procs = [spawn(db, "same", "double-tap", go) for _ in range(10)]
    wait_ready(procs)
    go.touch()
    rows = [row for proc in procs for row in finish(proc)]
    assert len({row[2] for row in rows}) == 1  # one receipt for all
    assert sorted(row[4] for row in rows) == ["0"] * 9 + ["1"]
    with Store(db) as store:
        assert store.count_submissions() == 1


def test_backup_under_write_load_restores_every_acknowledged_submission(tmp_path):
    db = tmp_path / "taizhang.db"
    proc = spawn(db, "forever", "load")
    wait_ready([proc])
    acked, lock = [], threading.Lock()

    def read_acks():
        for line in proc.stdout:
            if line.startswith("ok ") and len(line.split()) == 6:  # (not a line cut by kill)
                with lock:
                    acked.append(line.split()[1])

    def wait_for_acks(count):
        deadline = time.monotonic() + 60
        while len(acked) < count:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.01)

    reader = threading.Thread(target=read_acks)
    reader.start()
    try:
        wait_for_acks(100)
        with lock:
            before = set(acked)
        with Store(db) as store:  # another process is writing meanwhile
            info = write_backup(store, tmp_path / "nightly.zip")
        wait_for_acks(len(before) + 100)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        reader.join()  # the only reader of stdout: it stops at end of file
        proc.stdout.close()
        proc.stderr.close()
    restored = tmp_path / "restored" / "taizhang.db"
    with Store(restored) as store, open_backup(info["path"]) as snapshot:
        store.load(snapshot)
        stored = {d["submission_id"] for d in all_submissions(store)}
        assert before <= stored
        assert store.count_submissions() == info["counts"]["submissions"]
    with Store(db) as store:
        assert set(acked) <= {d["submission_id"] for d in all_submissions(store)}


def test_writers_keep_working_through_a_restore(tmp_path):
    """A restore (store.load with force) while two other processes write: afterwards the
    database is the backup plus every write that started after the restore returned, with no
    duplicate receipt, and the writers never saw an error."""
    db, go = tmp_path / "taizhang.db", tmp_path / "go"
    with Store(db) as store:
        for i in range(20):
            store.add_submission("dev", 1, "org-1", {"n": i}, f"seed-{i}")
        backup = write_backup(store, tmp_path / "snap.zip")
    procs = [spawn(db, "add", f"w{n}", 300, go) for n in range(2)]
    wait_ready(procs)
    go.touch()
    time.sleep(0.1)
    with Store(db) as store, open_backup(backup["path"]) as snapshot:
        store.load(snapshot, force=True)  # live writers see the new file and carry on
        restored_at = time.time()
    acked = [row for proc in procs for row in finish(proc)]
    assert len(acked) == 600
    after = {row[1] for row in acked if float(row[5]) > restored_at}
    assert after, "no write started after the restore: the test proved nothing"
    assert check(db)["ok"]
    with Store(db) as store:
        docs = all_submissions(store)
    stored = {d["submission_id"] for d in docs}
    assert {f"seed-{i}" for i in range(20)} <= stored  # the backup's content is back
    assert after <= stored  # every write that began after the restore is kept
    assert stored <= {f"seed-{i}" for i in range(20)} | {row[1] for row in acked}
    assert len({d["id"] for d in docs}) == len(docs)
    assert len({d["receipt"] for d in docs}) == len(docs)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_store_opened_before_fork(tmp_path):
    """gunicorn --preload: parent and child must not share one flock."""
    db = tmp_path / "taizhang.db"
    store = Store(db)
    store.add_submission("dev", 1, "org-1", {"n": 0}, "parent-0")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            for i in range(200):
                store.add_submission("dev", 1, "org-2", {"n": i}, f"child-{i}")
            code = 0
        finally:
            os._exit(code)
    for i in range(1, 200):
        store.add_submission("dev", 1, "org-1", {"n": i}, f"parent-{i}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    docs = all_submissions(store)
    assert len(docs) == 400
    assert len({d["id"] for d in docs}) == 400 and len({d["receipt"] for d in docs}) == 400
    store.close()
