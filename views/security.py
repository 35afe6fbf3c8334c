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
"""
from flask import request

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
    return response


def init_app(app):
    app.after_request(add_headers)
