"""Admin authentication: Flask-Login sessions over users kept in storage, scrypt hashes."""
import functools
import threading
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from views.web import get_store

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "warning"

@functools.cache
def _dummy_hash():
    """A hash to check against when the user does not exist, so a wrong user name costs the
    same time as a wrong password and does not reveal which accounts exist. Made on first use,
    not at import: scrypt costs ~0.1 s, on every worker start and every CLI command."""
    return generate_password_hash("not-a-password", method="scrypt")

ROLES = ("admin",)

# Failed logins per (user name, client address), per app in this process, over a sliding
# window. scrypt already makes each guess slow; this caps how many a worker will check.
MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60
_failures_lock = threading.Lock()


def _failures():
    return current_app.extensions.setdefault("taizhang.login_failures", {})


def _recent_failures(key, now):
    with _failures_lock:
        times = [t for t in _failures().get(key, ()) if now - t < FAILURE_WINDOW]
        _failures()[key] = times
        return len(times)


def _record_failure(keys, now):
    with _failures_lock:
        for key in keys:
            _failures().setdefault(key, []).append(now)


class User(UserMixin):
    def __init__(self, doc):
        self.username = doc["username"]
        self.role = doc["role"]

    def get_id(self):
        return self.username


def hash_password(password):
    return generate_password_hash(password, method="scrypt")


def create_user(username, password, role):
    """Create an account; raises ValueError with a Chinese reason for bad input."""
    username = (username or "").strip()
    if not username or len(username) > 40 or any(c.isspace() for c in username):
        raise ValueError("用户名须为 1–40 个字符，且不含空格")
    if role not in ROLES:
        raise ValueError(f"角色必须是 {', '.join(ROLES)} 之一")
    if len(password or "") < 8:
        raise ValueError("密码至少 8 位")
    return get_store().add_user(username, hash_password(password), role)


def set_password(username, password):
    """Replace an account's password; raises ValueError with a Chinese reason."""
    if len(password or "") < 8:
        raise ValueError("密码至少 8 位")
    if get_store().set_password(username, hash_password(password)) is None:
        raise ValueError(f"用户 {username} 不存在")


def init_login(app):
    login_manager.init_app(app)


@login_manager.user_loader
def load_user(username):
    doc = get_store().get_user(username)
    return User(doc) if doc and doc.get("active", True) else None


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[InputRequired("请输入用户名"), Length(max=40)])
    password = PasswordField("密码", validators=[InputRequired("请输入密码"), Length(max=200)])


def _safe_next(target):
    """Only same-site relative paths are accepted as a post-login redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        now = time.monotonic()
        # Per name *and* address, so a stranger cannot lock the real admin out.
        keys = ((form.username.data.strip(), request.remote_addr),)
        if any(_recent_failures(key, now) >= MAX_FAILURES for key in keys):
            flash("登录失败次数过多，请 15 分钟后再试", "error")
            return render_template("auth/login.html", form=form), 429
        doc = get_store().get_user(form.username.data.strip())
        stored_hash = doc["password_hash"] if doc else _dummy_hash()
        if check_password_hash(stored_hash, form.password.data) and doc and doc.get("active", True):
            login_user(User(doc))
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.dashboard"))
        _record_failure(keys, now)
        flash("用户名或密码错误", "error")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))
