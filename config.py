"""Configuration: defaults -> instance/config.py -> DATA_DIR/secret_key -> environment -> test_config.

Every setting an operator may change is listed in DEFAULTS with the environment variable that
overrides it, so the README table and this module cannot drift apart.
"""
import os
from datetime import timedelta

DEFAULT_SECRET_KEY = "dev"

DEFAULTS = {
    "SECRET_KEY": DEFAULT_SECRET_KEY,
    "DATA_DIR": None,  # None -> app.instance_path
    "DATABASE_URL": None,  # None -> the TinyDB file DATA_DIR/taizhang.db
    "PHOTOS_DIR": None,  # None -> DATA_DIR/uploads (TinyDB) or the database (PostgreSQL)
    "DB_POOL_SIZE": 4,  # PostgreSQL connections per worker process
    "BASE_URL": "http://127.0.0.1:5000",
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "IMAGE_MAX_BYTES": 10 * 1024 * 1024,
    "SUBMISSIONS_PER_PAGE": 50,
    "AUDIT_PER_PAGE": 50,  # entries per page of the audit log (/admin/audit)
    "PROXY_COUNT": 0,  # reverse proxies in front whose X-Forwarded-* headers are trusted
    "SESSION_LIFETIME": timedelta(hours=12),  # an admin login lasts a working day
    "WTF_CSRF_TIME_LIMIT": None,  # a village form may stay open for hours on a phone
    # Pages send no Referer (views/security.py: capability links must not leak), so the
    # token alone is checked over HTTPS too, with the SameSite=Lax session cookie.
    "WTF_CSRF_SSL_STRICT": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    # Rate limits (ratelimits.py; "off" turns one off): requests per client address and
    # capability link, and login attempts per client address.
    "RATE_LIMIT_PUBLIC": "60 per minute",
    "RATE_LIMIT_LOGIN": "20 per minute",
    "RATE_LIMIT_API": "600 per minute",
}

# config key -> (environment variable, converter)
ENVIRONMENT = {
    "SECRET_KEY": ("TAIZHANG_SECRET_KEY", str),
    "DATA_DIR": ("TAIZHANG_DATA_DIR", str),
    "DATABASE_URL": ("TAIZHANG_DATABASE_URL", str),
    "PHOTOS_DIR": ("TAIZHANG_PHOTOS_DIR", str),
    "DB_POOL_SIZE": ("TAIZHANG_DB_POOL_SIZE", int),
    "BASE_URL": ("TAIZHANG_BASE_URL", str),
    "MAX_CONTENT_LENGTH": ("TAIZHANG_MAX_UPLOAD_MB", lambda mb: int(float(mb) * 1024 * 1024)),
    "SESSION_COOKIE_SECURE": ("TAIZHANG_SECURE_COOKIES", lambda v: v.lower() in ("1", "true", "yes")),
    "PROXY_COUNT": ("TAIZHANG_PROXIES", int),
    "SESSION_LIFETIME": ("TAIZHANG_SESSION_HOURS", lambda h: timedelta(hours=float(h))),
    "RATE_LIMIT_PUBLIC": ("TAIZHANG_RATE_LIMIT_PUBLIC", str),
    "RATE_LIMIT_LOGIN": ("TAIZHANG_RATE_LIMIT_LOGIN", str),
    "RATE_LIMIT_API": ("TAIZHANG_RATE_LIMIT_API", str),
}


def load_config(app, test_config=None):
    """Fill app.config from every source, in order; later sources win."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for key, (variable, convert) in ENVIRONMENT.items():
            if variable in os.environ and os.environ[variable] != "":
                app.config[key] = convert(os.environ[variable])
    else:
        app.config.from_mapping(test_config)
    if not app.config["DATA_DIR"]:
        app.config["DATA_DIR"] = app.instance_path
    app.config["DATA_DIR"] = os.path.abspath(app.config["DATA_DIR"])
    app.config["BASE_URL"] = app.config["BASE_URL"].rstrip("/")
    # Where the key came from: "config" (environment, instance config or test_config: the
    # operator's), "file" (DATA_DIR/secret_key) or "default" (refused outside debug/testing).
    app.config["SECRET_KEY_SOURCE"] = "config"
    if app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        app.config["SECRET_KEY_SOURCE"] = "default"
        key_file = os.path.join(app.config["DATA_DIR"], "secret_key")
        if os.path.exists(key_file):
            with open(key_file, encoding="ascii") as f:
                app.config["SECRET_KEY"] = f.read().strip()
            app.config["SECRET_KEY_SOURCE"] = "file"


def check_secret_key(app):
    """Refuse to serve real users with the well-known default key."""
    if app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY and not (app.debug or app.testing):
        raise RuntimeError(
            "SECRET_KEY is the default 'dev'. Set TAIZHANG_SECRET_KEY, or run "
            "`make secret` to write a random key to DATA_DIR/secret_key."
        )


def write_secret_key(data_dir, replace_with=None):
    """Create DATA_DIR/secret_key (0600) with a random key unless it exists; with
    ``replace_with``, (re)write it with that key, atomically. Returns its path."""
    import secrets
    import tempfile

    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "secret_key")
    if replace_with is None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        return path
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key-")  # mode 0600
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(replace_with + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
