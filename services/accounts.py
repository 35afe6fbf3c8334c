"""Accounts: users (role, organization, name, phone, enabled or not) and their passwords, login
sessions, and login throttling. Which roles need which organization is services.access.

Sessions live in the Store, not in the cookie: the signed cookie only carries a session id, so
logging out, or a password change, ends a session on every worker and every host at once
(a copied cookie stops working). Failed logins are counted in the Store too, once for the
whole service, whatever worker or host a guess lands on.
"""
import functools
import math
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from services import access
from services.orgs import org_index
from storage.common import now

MIN_PASSWORD = 8
MAX_NAME = 40
PHONE_CHARS = set("0123456789 -+()")
MAX_PHONE = 20
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


def password_problem(password):
    """Why ``password`` cannot be one, in Chinese; None when it can."""
    if len(password or "") < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 位"
    return None


def username_problem(username):
    username = (username or "").strip()
    if not username or len(username) > 40 or any(c.isspace() or c == "/" for c in username):
        return "用户名须为 1–40 个字符，且不含空格和斜杠"
    return None


def name_problem(name):
    if len((name or "").strip()) > MAX_NAME:
        return f"姓名最多 {MAX_NAME} 个字符"
    return None


def phone_problem(phone):
    phone = (phone or "").strip()
    if phone and (len(phone) > MAX_PHONE or not set(phone) <= PHONE_CHARS):
        return f"电话只能包含数字、空格、-、+ 和括号，最多 {MAX_PHONE} 位"
    return None


def _raise(problem):
    if problem:
        raise ValueError(problem)


def _check_password(password):
    _raise(password_problem(password))


def _profile(name, phone):
    """(name, phone) stripped, None when empty; ValueError with a Chinese reason."""
    _raise(name_problem(name) or phone_problem(phone))
    return (name or "").strip() or None, (phone or "").strip() or None


def _check_scope(store, role, org_code):
    _raise(access.scope_problem(role, org_code, org_index(store)))


def check_new_user(store, username, role, org_code=None, name=None, phone=None):
    """Everything about a new account but its password, checked before asking for one:
    (username, org_code, name, phone) cleaned. ValueError with a Chinese reason."""
    _raise(username_problem(username))
    org_code = (org_code or "").strip() or None
    _check_scope(store, role, org_code)
    name, phone = _profile(name, phone)
    return username.strip(), org_code, name, phone


def create_user(store, username, password, role, org_code=None, name=None, phone=None):
    """Create an account; ValueError with a Chinese reason for bad input (a role that needs an
    organization without one, an unknown organization, a short password...), DuplicateError
    for a name in use."""
    username, org_code, name, phone = check_new_user(store, username, role, org_code, name,
                                                     phone)
    _check_password(password)
    doc = store.add_user(username, hash_password(password), role, org_code=org_code)
    if name or phone:
        doc = store.update_user(username, {"name": name, "phone": phone})
    return doc


def _active_admins(store):
    return {u["username"] for u in store.list_users()
            if u["role"] == "admin" and u.get("active", True)}


def update_user(store, username, role, org_code, name=None, phone=None, by=None):
    """Change an account's role, organization, name and phone (``by``: who asks). A change of
    role or organization ends the account's sessions (what it may see changed). ValueError
    with a Chinese reason; LookupError for an unknown account."""
    user = store.get_user(username)
    if user is None:
        raise LookupError(username)
    org_code = (org_code or "").strip() or None
    _check_scope(store, role, org_code)
    name, phone = _profile(name, phone)
    if role != user["role"]:
        if by == username:
            raise ValueError("不能修改自己的角色")
        if user["role"] == "admin" and _active_admins(store) <= {username}:
            raise ValueError("至少要保留一个启用的管理员")
    changes = {"name": name, "phone": phone}
    # Only what changed: the same role or organization written again must not end sessions.
    if role != user["role"]:
        changes["role"] = role
    if org_code != user.get("org_code"):
        changes["org_code"] = org_code
    return store.update_user(username, changes)


def set_active(store, username, active, by=None):
    """Enable or disable an account; disabling ends its sessions (and its API tokens stop
    working). ValueError for one's own account or the last active admin; LookupError for an
    unknown account."""
    user = store.get_user(username)
    if user is None:
        raise LookupError(username)
    if not active:
        if by == username:
            raise ValueError("不能停用自己的账号")
        if user["role"] == "admin" and _active_admins(store) <= {username}:
            raise ValueError("至少要保留一个启用的管理员")
    return store.update_user(username, {"active": bool(active)})


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
