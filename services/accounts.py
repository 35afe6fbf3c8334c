"""Accounts: users and their passwords, login sessions, and login throttling.

Sessions live in the Store, not in the cookie: the signed cookie only carries a session id, so
logging out, or a password change, ends a session on every worker and every host at once
(a copied cookie stops working). Failed logins are counted in the Store too, once for the
whole service, whatever worker or host a guess lands on.
"""
import functools
import math
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from services.access import ROLES
from storage.common import now

MIN_PASSWORD = 8
# At most MAX_FAILURES wrong passwords per (user name, address) per FAILURE_WINDOW — per name
# *and* address, so a stranger cannot lock the real admin out — and ADDRESS_MAX_FAILURES per
# address over all names (one machine trying many names).
MAX_FAILURES = 10
ADDRESS_MAX_FAILURES = 30
FAILURE_WINDOW = timedelta(minutes=15)
DEFAULT_SESSION_LIFETIME = timedelta(hours=12)


class BadLogin(Exception):
    """Wrong user name or password (which one is not said)."""

    def __str__(self):
        return "用户名或密码错误"


class LoginThrottled(Exception):
    """Too many failed logins; ``wait`` (timedelta) until the next attempt is counted."""

    def __init__(self, wait):
        super().__init__(wait)
        self.wait = wait

    @property
    def minutes(self):
        return max(1, math.ceil(self.wait.total_seconds() / 60))

    def __str__(self):
        return f"登录失败次数过多,请 {self.minutes} 分钟后再试"


@functools.cache
def _dummy_hash():
    """A hash to check against when the user does not exist, so a wrong user name costs the
    same time as a wrong password and does not reveal which accounts exist. Made on first use,
    not at import: scrypt costs ~0.1 s, on every worker start and every CLI command."""
    return generate_password_hash("not-a-password", method="scrypt")


def hash_password(password):
    return generate_password_hash(password, method="scrypt")


def _check_password(password):
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"密码至少 {MIN_PASSWORD} 位")


def create_user(store, username, password, role):
    """Create an account; ValueError with a Chinese reason for bad input, DuplicateError for a
    name in use."""
    username = (username or "").strip()
    if not username or len(username) > 40 or any(c.isspace() for c in username):
        raise ValueError("用户名须为 1–40 个字符，且不含空格")
    if role not in ROLES:
        raise ValueError(f"角色必须是 {', '.join(ROLES)} 之一")
    _check_password(password)
    return store.add_user(username, hash_password(password), role)


def set_password(store, username, password):
    """Replace an account's password and end all its sessions (every device must log in
    again); ValueError with a Chinese reason."""
    _check_password(password)
    if store.set_password(username, hash_password(password)) is None:
        raise ValueError(f"用户 {username} 不存在")


def _throttle_keys(username, address):
    return (f"user:{username}|addr:{address}", MAX_FAILURES), (f"addr:{address}",
                                                               ADDRESS_MAX_FAILURES)


def authenticate(store, username, password, address):
    """The user doc for a right name and password. BadLogin otherwise (and the failure is
    counted); LoginThrottled — before the password is even checked — while the name or the
    address has too many recent failures, saying how long to wait."""
    username = (username or "").strip()
    moment = now()
    keys = _throttle_keys(username, address)
    for key, limit in keys:
        failures = store.login_failures(key, moment - FAILURE_WINDOW)
        if len(failures) >= limit:
            # The attempt becomes possible when enough of the counted failures are older
            # than the window.
            raise LoginThrottled(failures[-limit] + FAILURE_WINDOW - moment)
    doc = store.get_user(username) if username else None
    stored_hash = doc["password_hash"] if doc else _dummy_hash()
    if check_password_hash(stored_hash, password or "") and doc and doc.get("active", True):
        return doc
    for key, _limit in keys:
        store.record_login_failure(key, moment)
    raise BadLogin()


def start_session(store, username, lifetime=DEFAULT_SESSION_LIFETIME):
    """A new login session; its id (what the signed cookie carries)."""
    return store.create_session(username, lifetime)["id"]


def session_user(store, session_id):
    """The active user of a live session, or None (ended, expired, or the user is disabled)."""
    session = store.get_session(session_id) if session_id else None
    if session is None:
        return None
    doc = store.get_user(session["username"])
    return doc if doc and doc.get("active", True) else None


def end_session(store, session_id):
    if session_id:
        store.end_session(session_id)
