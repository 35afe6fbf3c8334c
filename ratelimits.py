"""Rate limits on the public links and on login, counted in the deployment's own database.

Flask-Limiter decides and refuses (HTTP 429: app.py's error pages, Chinese, or JSON for the
cadre's page; ``Retry-After`` added here). Its counters are ``Store.hit_counter`` through the
``taizhang://`` storage below: in the TinyDB counters file beside the database, or in
PostgreSQL, so every gunicorn worker and every host counts in the same place, with nothing
more to install or run. Fixed windows: a limit of 60 per minute lets 60 requests through in
each minute that starts with a client's first request.

Limits (config.py; "off" turns one off):

- ``RATE_LIMIT_PUBLIC`` ("60 per minute"): requests per client address and capability link,
  every page of one link counted together (/f/<token>, its photo uploads, its receipts; a
  private receipt link /r/<key>/... on its own). A cadre fills a form in a handful of
  requests; a script guessing receipts or flooding a village's link is stopped.
- ``RATE_LIMIT_LOGIN`` ("20 per minute"): login attempts (POST /login) per client address, on
  top of the failed-login throttle of services.accounts (which counts wrong passwords per
  account over 15 minutes).

The client address is ``request.remote_addr``: behind a reverse proxy, set PROXY_COUNT so that
ProxyFix puts the real client's address there (else every client shares the proxy's).
"""
import math
import time

from flask import current_app, request
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import Storage

import db
from storage import StorageError
from views import auth, public

OFF = "off"
ERROR_PAGE = ("请求过于频繁", "操作太频繁了，请稍等一分钟后再试。")
# The view arguments that name a capability link: what a public limit is counted per.
LINK_ARGS = ("token", "key")


class StoreCounters(Storage):
    """A ``limits`` storage (the fixed-window part of its API) over the app's Store: the
    counters of every worker and host in the deployment's database. Used inside a request
    (or an app context): it reaches the Store through db.get_store()."""

    STORAGE_SCHEME = ["taizhang"]

    @property
    def base_exceptions(self):
        return StorageError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return db.get_store().hit_counter(key, expiry, amount)[0]

    def get(self, key: str) -> int:
        counter = db.get_store().get_counter(key)
        return 0 if counter is None else counter[0]

    def get_expiry(self, key: str) -> float:
        counter = db.get_store().get_counter(key)
        return time.time() if counter is None else counter[1]

    def check(self) -> bool:
        try:
            db.get_store().get_counter("check")
        except StorageError:
            return False
        return True

    def reset(self) -> int:
        return db.get_store().drop_counters(expired_only=False)

    def clear(self, key: str) -> None:
        db.get_store().clear_counter(key)


def limit_of(config_key):
    """The limit string configured under config_key; "" (no limit) when it is "off"."""
    value = (current_app.config[config_key] or "").strip()
    return "" if value.lower() == OFF else value


def _link():
    """The capability link a public request is for (its token or receipt key), or None."""
    args = request.view_args or {}
    return next((args[name] for name in LINK_ARGS if args.get(name)), None)


def _address():
    return request.remote_addr or "unknown"


def _address_and_link():
    return f"{_address()}|{_link()}"


def check_limits(config):
    """ValueError naming the setting when a limit is not "off" nor a limit Flask-Limiter
    understands ("60 per minute", "10/second;1000/day"): a typo must not serve without it."""
    for key in ("RATE_LIMIT_PUBLIC", "RATE_LIMIT_LOGIN", "RATE_LIMIT_API"):
        value = (config.get(key) or "").strip()
        if value.lower() == OFF:
            continue
        try:
            if not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise ValueError(f"{key} = {value!r}: not a rate limit such as '60 per minute', "
                             "or 'off'") from None


def add_retry_after(response):
    """Tell a refused client when to come back: the end of the window it exceeded."""
    limiter = current_app.extensions["taizhang.limiter"]
    limit = limiter.current_limit
    if response.status_code != 429 or "Retry-After" in response.headers or limit is None \
            or not limit.breached:
        return response
    try:
        wait = math.ceil(limit.window.reset_time - time.time())
    except StorageError:
        wait = limit.limit.get_expiry()  # the whole window: never too early
    response.headers["Retry-After"] = str(max(wait, 1))
    return response


def init_app(app):
    """Count and refuse with the configured limits (see the module docstring)."""
    check_limits(app.config)
    limiter = Limiter(
        key_func=_address, app=app, storage_uri="taizhang://", strategy="fixed-window",
        headers_enabled=False,
        # A counter that cannot be stored lets the request through (logged): a database
        # failure must not lock every cadre out; the submit itself fails loudly on its own,
        # and login keeps the failed-login throttle.
        swallow_errors=True)
    # One shared scope: every page of a link counts against one budget per address.
    limiter.shared_limit(lambda: limit_of("RATE_LIMIT_PUBLIC"), scope="public-link",
                         key_func=_address_and_link,
                         exempt_when=lambda: _link() is None)(public.bp)
    limiter.limit(lambda: limit_of("RATE_LIMIT_LOGIN"), methods=["POST"],
                  exempt_when=lambda: request.endpoint != "auth.login")(auth.bp)
    app.after_request(add_retry_after)
    app.extensions["taizhang.limiter"] = limiter
