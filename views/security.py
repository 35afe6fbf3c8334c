"""Security headers every response carries, and the cache rules of private pages.

- A Content-Security-Policy with no inline script, handler or style: pages load only the
  app's own static files (no CDN, no network call elsewhere), cannot be framed (clickjacking)
  and cannot be re-based. Images may also be ``data:`` (the empty favicon) and ``blob:`` (the
  preview of a photo the page shrank).
- ``X-Content-Type-Options: nosniff`` everywhere: a stored photo is never run as a script.
- ``Referrer-Policy: no-referrer`` on every page; a capability link (QR link, receipt link)
  must never leak to another site through the Referer header. (CSRF is still checked by
  token: see config WTF_CSRF_SSL_STRICT.)
- ``Cache-Control: no-store`` on admin pages, exports, receipts and every page of a capability
  link, unless a view set its own rule (photos: private, see views/admin/submissions.py).
- Static files are linked with a version (``?v=`` a hash of the file): a phone keeps them for
  a year and never asks again (three conditional requests less per form opened on a 400 ms
  link); a changed file gets a new URL.
"""
import hashlib
import os

from flask import current_app, request

STATIC_MAX_AGE = 365 * 24 * 3600
_versions = {}  # (path, mtime_ns, size) -> hash

CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "img-src 'self' data: blob:; form-action 'self'")


def _private():
    """Whether the response may hold what a shared cache, or the next user of a phone, must
    not get: every page and file but the app's static files."""
    return request.endpoint != "static"


def add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for old browsers
    if _private() and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    elif request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
    return response


def static_version(filename):
    """A short hash of a static file's content (cached while the file is unchanged)."""
    path = os.path.join(current_app.static_folder, filename)
    try:
        info = os.stat(path)
    except OSError:
        return None
    key = (path, info.st_mtime_ns, info.st_size)
    if key not in _versions:
        with open(path, "rb") as f:
            _versions[key] = hashlib.sha256(f.read()).hexdigest()[:12]
    return _versions[key]


def add_static_version(endpoint, values):
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = static_version(values["filename"])
        if version:
            values["v"] = version


def init_app(app):
    app.after_request(add_headers)
    app.url_defaults(add_static_version)
