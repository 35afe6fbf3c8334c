"""The app's Store: opened once per process from the configuration, and per-process caches of
data derived from it (form classes, the organization tree).

Views, the CLI and the services get the Store through ``get_store()``; nothing else opens one.
"""
import gc
import os
import threading

from flask import current_app

import storage


class StoreHolder:
    """Opens the Store lazily, once per process.

    gunicorn forks workers; a Store opened before the fork would share one file description (and
    one flock, or one database connection) between processes. Opening on first use in each pid
    keeps every worker's its own.
    """

    def __init__(self, database_url, data_dir, **options):
        self.database_url = database_url
        self.data_dir = data_dir
        self.options = options
        self._store = None
        self._pid = None
        self._lock = threading.Lock()
        self.cache = {}  # derived per-process data (see cached()), dropped with the Store

    def get(self):
        if self._store is None or self._pid != os.getpid():
            with self._lock:
                if self._store is None or self._pid != os.getpid():
                    self.cache = {}
                    self._store = storage.open_store(self.database_url, self.data_dir,
                                                     **self.options)
                    self._store.warm_up()
                    self._pid = os.getpid()
                    # What was loaded is long-lived: keep it out of the cyclic GC's full
                    # collections (a pause in the middle of some request otherwise).
                    gc.freeze()
        return self._store

    def close(self):
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store = None
        self.cache = {}

    def cached(self, store, table, key, build):
        """build() memoized per (key, state of ``table`` in ``store``): rebuilt as soon as any
        process or host changed that table (Store.version_of). The value is shared between
        requests: callers must not modify it."""
        state = store.version_of(table)
        hit = self.cache.get((table, key))
        if hit is not None and hit[0] == state:
            return hit[1]
        value = build()
        self.cache[(table, key)] = (state, value)
        return value


def init_app(app):
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    app.extensions["taizhang.store"] = StoreHolder(
        app.config["DATABASE_URL"], app.config["DATA_DIR"],
        photos_dir=app.config["PHOTOS_DIR"], pool_size=app.config["DB_POOL_SIZE"])


def get_store(app=None):
    return (app or current_app).extensions["taizhang.store"].get()


def cached(table, key, build, app=None):
    """``StoreHolder.cached`` on the app's Store: build() memoized until ``table`` changes.
    The value is shared between requests: do not modify it."""
    holder = (app or current_app).extensions["taizhang.store"]
    return holder.cached(holder.get(), table, key, build)
