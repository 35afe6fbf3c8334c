"""Shared view plumbing: the per-process Store, entry URLs and organization lookups."""
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

    def __init__(self, path):
        self.path = path
        self._store = None
        self._pid = None
        self._lock = threading.Lock()

    def get(self):
        if self._store is None or self._pid != os.getpid():
            with self._lock:
                if self._store is None or self._pid != os.getpid():
                    self._store = storage.Store(self.path)
                    self._pid = os.getpid()
        return self._store

    def close(self):
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store = None


def db_path(app):
    return os.path.join(app.config["DATA_DIR"], "taizhang.db")


def uploads_dir(app):
    return os.path.join(app.config["DATA_DIR"], "uploads")


def init_store(app):
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    app.extensions["taizhang.store"] = _StoreHolder(db_path(app))


def get_store(app=None):
    return (app or current_app).extensions["taizhang.store"].get()


def entry_url(token, app=None):
    """The public capability URL for a link token, on the configured public base URL."""
    return f"{(app or current_app).config['BASE_URL']}/f/{token}"


def orgs_by_code(store=None):
    return {o["code"]: o for o in (store or get_store()).list_orgs()}


def get_form_or_404(form_id, version=None):
    form = get_store().get_form(form_id, version)
    if form is None:
        abort(404)
    return form
