"""Admin login and logout: Flask-Login over sessions kept in the Store (services.accounts).

The signed session cookie carries only a server-side session id. Logout ends that session and
a password change ends all of the user's sessions, on every worker and every host.
"""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from db import get_store
from services import accounts
from views.web import audit

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "warning"


class User(UserMixin):
    """The logged-in user of a request: what services.access reads (role, organization)."""

    def __init__(self, doc, session_id):
        self.username = doc["username"]
        self.role = doc["role"]
        self.org_code = doc.get("org_code")
        self.name = doc.get("name")
        self.active = doc.get("active", True)
        self.session_id = session_id

    def get_id(self):
        return self.session_id


def init_login(app):
    login_manager.init_app(app)


@login_manager.user_loader
def load_user(session_id):
    doc = accounts.session_user(get_store(), session_id)
    return User(doc, session_id) if doc else None


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
        store = get_store()
        try:
            doc = accounts.authenticate(store, form.username.data, form.password.data,
                                        request.remote_addr)
        except accounts.LoginThrottled as e:
            audit("login.throttled", target=form.username.data, detail={"minutes": e.minutes})
            flash(str(e), "error")
            response = current_app.make_response(
                (render_template("auth/login.html", form=form, no_users=_no_users()), 429))
            response.headers["Retry-After"] = str(int(e.wait.total_seconds()) + 1)
            return response
        except accounts.BadLogin as e:
            audit("login.failed", target=form.username.data)
            flash(str(e), "error")
            status = 401
        else:
            lifetime = current_app.config["SESSION_LIFETIME"]
            login_user(User(doc, accounts.start_session(store, doc["username"], lifetime)))
            audit("login", user=doc["username"])
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, no_users=_no_users()), status


def _no_users():
    """Whether nobody can log in yet: the page then says how to create the first admin."""
    return not get_store().list_users()


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        accounts.end_session(get_store(), current_user.session_id)
        audit("logout")
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))
