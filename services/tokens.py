"""API tokens: bearer secrets for scripts and the systems above the county (/api/v1).

A token belongs to one user and acts as that user: the user's role and scope as they are at
each call (services.access), so a role change or a disabled account takes effect at once. The
secret ("tz_" + 43 URL-safe characters, 256 bits) is shown once when made; the Store keeps only
its SHA-256, so a copy of the database lets nobody call the API. Made by
``flask --app app create-token`` or on /admin/tokens; revoked there.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from services import access
from storage.common import now, parse_stamp

PREFIX = "tz_"
DEFAULT_DAYS = 365
MAX_DAYS = 3650
MAX_LABEL = 60
STATE_LABELS = {"active": "有效", "revoked": "已吊销", "expired": "已过期"}


class TokenError(Exception):
    """A secret that does not authenticate: ``code`` (for the API's JSON errors), ``message``
    (Chinese) and ``english``."""

    MESSAGES = {
        "token_invalid": ("令牌无效", "invalid token"),
        "token_revoked": ("令牌已被吊销", "token revoked"),
        "token_expired": ("令牌已过期", "token expired"),
        "user_disabled": ("令牌所属的账号已停用", "the token's user is disabled"),
    }

    def __init__(self, code):
        super().__init__(code)
        self.code = code
        self.message, self.english = self.MESSAGES[code]

    def __str__(self):
        return f"{self.message}({self.english})"


def hash_secret(secret):
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _moment(value):
    if value is None:
        return None
    return value if isinstance(value, datetime) else parse_stamp(value)


def state(doc, moment=None):
    """"active", "revoked" or "expired" (at ``moment``, default now)."""
    if doc.get("revoked_at"):
        return "revoked"
    expires = _moment(doc.get("expires_at"))
    if expires is not None and expires <= (moment or now()):
        return "expired"
    return "active"


def create(store, username, label="", days=DEFAULT_DAYS):
    """A new token of ``username`` (an enabled account), valid ``days`` (1–3650) days:
    (secret, stored doc). The secret exists only in what this returns. ValueError with a
    Chinese reason."""
    user = store.get_user(username)
    if user is None:
        raise ValueError(f"用户 {username} 不存在")
    if not user.get("active", True):
        raise ValueError(f"账号 {username} 已停用")
    label = (label or "").strip()
    if len(label) > MAX_LABEL:
        raise ValueError(f"令牌名称最多 {MAX_LABEL} 个字符")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"有效天数须为 1–{MAX_DAYS} 之间的整数")
    secret = PREFIX + secrets.token_urlsafe(32)
    doc = store.add_api_token(username, hash_secret(secret), label,
                              now() + timedelta(days=days))
    return secret, doc


def authenticate(store, secret):
    """The user doc a secret stands for; TokenError (code token_invalid, token_revoked,
    token_expired or user_disabled) when it does not authenticate."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > 200:
        raise TokenError("token_invalid")
    doc = store.find_api_token(hash_secret(secret))
    if doc is None:
        raise TokenError("token_invalid")
    current = state(doc)
    if current != "active":
        raise TokenError(f"token_{current}")
    user = store.get_user(doc["username"])
    if user is None or access.role_of(user) is None:
        raise TokenError("user_disabled")
    return user


def visible(store, user):
    """The tokens ``user`` may see and revoke, oldest first: their own; an admin's, all."""
    if access.may(user, "manage"):
        return store.list_api_tokens()
    return store.list_api_tokens(access.username_of(user))


def revoke(store, token_id, user):
    """Revoke a token ``user`` may see (see ``visible``); the revoked doc. LookupError for a
    token unknown to that user (another's token is not revealed)."""
    if not any(doc["id"] == token_id for doc in visible(store, user)):
        raise LookupError(token_id)
    return store.revoke_api_token(token_id)
