"""Shared view plumbing: the per-process Store, entry URLs and organization lookups."""
import gc
import os
import threading

from flask import abort, current_app

import storage


class _StoreHolder:
    """Opens the Store lazily, once per process.

    gunicorn forks workers; a Store opened before the fork would share one file description (and
    so one flock) between processes, which defeats the lock. Opening on first use in each pid
    keeps every worker's lock its own.
    """

    def __init__(self, database_url, data_dir):
        self.database_url = database_url
        self.data_dir = data_dir
        self._store = None
        self._pid = None
        self._lock = threading.Lock()
        self.cache = {}  # derived per-process data (see cached()), dropped with the Store

    def get(self):
        if self._store is None or self._pid != os.getpid():
            with self._lock:
                if self._store is None or self._pid != os.getpid():
                    self.cache = {}
                    self._store = storage.open_store(self.database_url, self.data_dir)
                    self._store.warm_up()
                    self._pid = os.getpid()
                    # The loaded database is ~100k long-lived, acyclic containers: left in the
                    # cyclic GC, every full collection walks all of them (a 20-100 ms pause in
                    # the middle of some request). Freeze them out of the GC. The Store may
                    # already do this itself after a big load; freezing twice is harmless.
                    gc.freeze()
        return self._store

    def close(self):
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store = None
        self.cache = {}

    def cached(self, store, table, key, build):
        """build() memoized per (key, state of ``table`` in ``store``).

        The state is the engine's change counter of that table (bumped by every record that
        touches it, from this process or replayed from another one) and its reload count, so
        a change anywhere is seen as soon as the Store has caught up with the file. Call it
        right after a Store read (which catches up), as a fresh read would be. The value is
        shared between requests: callers must not modify it.
        """
        state = store.version_of(table)
        hit = self.cache.get((table, key))
        if hit is not None and hit[0] == state:
            return hit[1]
        value = build()
        self.cache[(table, key)] = (state, value)
        return value


def db_path(app):
    return os.path.join(app.config["DATA_DIR"], "taizhang.db")


def uploads_dir(app):
    return os.path.join(app.config["DATA_DIR"], "uploads")


def init_store(app):
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    app.extensions["taizhang.store"] = _StoreHolder(app.config["DATABASE_URL"],
                                                    app.config["DATA_DIR"])


def get_store(app=None):
    return (app or current_app).extensions["taizhang.store"].get()


def entry_url(token, app=None):
    """The public capability URL for a link token, on the configured public base URL."""
    return f"{(app or current_app).config['BASE_URL']}/f/{token}"


def orgs_by_code(store=None):
    return {o["code"]: o for o in (store or get_store()).list_orgs()}


def store_cached(store, table, key, build, app=None):
    """``_StoreHolder.cached`` of the app's Store holder (see there): build() memoized until
    ``table`` changes. The value is shared between requests: do not modify it."""
    return (app or current_app).extensions["taizhang.store"].cached(store, table, key, build)


def get_form_or_404(form_id, version=None):
    form = get_store().get_form(form_id, version)
    if form is None:
        abort(404)
    return form
