"""gunicorn hooks for bench/profile_tail.py (diagnostic only: `gunicorn -c bench/tail_hooks.py`).

In each worker: time spent per request in flock (waiting for the database write lock), the
log write, fsync, catch-up, a full reload of the database, and each generation of the cyclic
GC; every request slower than TAIL_SLOW_MS (server side) is printed to stderr with that
breakdown, and every GC pass longer than 5 ms as a line of its own.
"""
import functools
import gc
import os
import sys
import threading
import time

SLOW_S = float(os.environ.get("TAIL_SLOW_MS", "30")) / 1000
_local = threading.local()


def _add(key, seconds):
    parts = getattr(_local, "parts", None)
    if parts is not None:
        parts[key] = parts.get(key, 0.0) + seconds


def _wrap(owner, name, key):
    function = getattr(owner, name)

    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _add(key, time.perf_counter() - started)

    setattr(owner, name, timed)


def post_fork(server, worker):
    import fcntl

    import storage.logdb as logdb

    _wrap(fcntl, "flock", "flock_wait")
    _wrap(logdb, "_write_all", "write")
    _wrap(os, "fsync", "fsync")
    _wrap(logdb.LogStorage, "catch_up", "catch_up")
    _wrap(logdb.LogStorage, "_load", "open_or_reload")  # the full (re)load of the file
    started = {}

    def on_gc(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter()
            return
        seconds = time.perf_counter() - started.get("t", time.perf_counter())
        _add(f"gc_gen{info['generation']}", seconds)
        if seconds > 0.005:
            sys.stderr.write(f"GC t={time.time():.3f} pid={os.getpid()} "
                             f"gen={info['generation']} {seconds * 1000:.1f} ms\n")

    gc.callbacks.append(on_gc)


def pre_request(worker, req):
    _local.parts = {}
    _local.started = time.perf_counter()


def post_request(worker, req, environ, resp):
    seconds = time.perf_counter() - _local.started
    if seconds > SLOW_S:
        parts = " ".join(f"{k}={v * 1000:.1f}" for k, v in
                         sorted(_local.parts.items(), key=lambda kv: -kv[1]) if v >= 0.0001)
        sys.stderr.write(f"SLOW t={time.time():.3f} pid={os.getpid()} {req.method} "
                         f"{seconds * 1000:.1f} ms: {parts or '-'}\n")
    _local.parts = None
