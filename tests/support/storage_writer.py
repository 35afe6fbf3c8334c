"""A separate process writing through the Store, for tests/test_storage_concurrency.py.

    python tests/support/storage_writer.py DB add PREFIX COUNT [GO_FILE]
    python tests/support/storage_writer.py DB forever PREFIX
    python tests/support/storage_writer.py DB same SUBMISSION_ID [GO_FILE]

Prints "ready" once the database is open (then waits for GO_FILE to exist, if given, so that
several writers start together), then one line per acknowledged submission, printed and flushed
only after add_submission() returned: "ok SUBMISSION_ID RECEIPT ID CREATED STARTED", STARTED
being the wall-clock time (time.time()) just before add_submission() was called.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import TinyStore as Store  # noqa: E402

ANSWERS = {
    "project_name": "党建引领\"小冬桃\"助力乡村振兴",
    "summary": "依托村集体合作社,建设冬桃示范基地,带动农户增收。" * 8,
    "income": "12.5",
    "jobs": 15,
    "steps": [{"month": "2025-03", "task": "选址规划", "owner": "村党组织书记"},
              {"month": "2025-06", "task": "种植管护", "owner": "合作社"}],
}


def add(store, *args):
    started = time.time()
    doc, created = store.add_submission(*args)
    print("ok", doc["submission_id"], doc["receipt"], doc["id"], int(created), repr(started),
          flush=True)


def wait_for(go_file):
    print("ready", flush=True)
    while go_file and not os.path.exists(go_file):
        time.sleep(0.005)


def main(db, mode, *args):
    store = Store(db)
    if mode == "add":
        prefix, count = args[0], int(args[1])
        wait_for(args[2] if len(args) > 2 else None)
        for i in range(count):
            add(store, "dev", 1, f"org-{i % 7}", {**ANSWERS, "n": i}, f"{prefix}-{i}")
    elif mode == "forever":
        wait_for(None)
        i = 0
        while True:
            add(store, "dev", 1, f"org-{i % 7}", {**ANSWERS, "n": i}, f"{args[0]}-{i}")
            i += 1
    elif mode == "same":
        wait_for(args[1] if len(args) > 1 else None)
        add(store, "dev", 1, "org-1", ANSWERS, args[0])
    else:
        raise SystemExit(f"unknown mode {mode}")
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
