"""Admin: accounts (list, create, edit role/organization/name/phone, disable and enable, reset a
password). The rules are services.accounts' and services.access' (which roles need which
organization); the page's validators wrap them, so the page and `create-user` refuse the same
things with the same words. Admins only (services.access.ENDPOINT_ACTIONS)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from db import get_store
from services import access, accounts
from services.orgs import org_index
from storage import DuplicateError
from views.admin import bp
from views.web import audit


def _rule(problem_of):
    """A WTForms validator from one of services.accounts' rules."""

    def check(form, field):
        problem = problem_of(field.data)
        if problem:
            raise ValidationError(problem)

    return check


class UserForm(FlaskForm):
    role = SelectField("角色", choices=[SelectChoice(r, access.ROLE_LABELS[r])
                                       for r in access.ROLES])
    org_code = SelectField("所属组织", choices=[], validate_choice=False)
    name = StringField("姓名", validators=[_rule(accounts.name_problem)])
    phone = StringField("电话", validators=[_rule(accounts.phone_problem)])

    def validate_org_code(self, field):
        problem = access.scope_problem(self.role.data, field.data or None, self.index)
        if problem:
            raise ValidationError(problem)


class NewUserForm(UserForm):
    username = StringField("用户名", validators=[_rule(accounts.username_problem)])
    password = PasswordField("初始密码", validators=[_rule(accounts.password_problem)])


class PasswordForm(FlaskForm):
    password = PasswordField("新密码", validators=[_rule(accounts.password_problem)])


def _org_choices(index):
    return [SelectChoice("", "(不指定：全县)")] + [
        SelectChoice(o["code"], " / ".join(index.path(o["code"]) or [o["name"]]))
        for o in sorted(index.orgs, key=lambda o: o["code"])]


def _user_form(form_class, index, **kwargs):
    form = form_class(**kwargs)
    form.index = index
    form.org_code.choices = _org_choices(index)
    return form


def _user_or_404(store, username):
    user = store.get_user(username)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
def users():
    store = get_store()
    index = org_index(store)
    return render_template("admin/users.html", users=store.list_users(), index=index)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    store = get_store()
    form = _user_form(NewUserForm, org_index(store))
    if form.validate_on_submit():
        try:
            doc = accounts.create_user(store, form.username.data, form.password.data,
                                       form.role.data, form.org_code.data, form.name.data,
                                       form.phone.data)
        except DuplicateError:
            form.username.errors.append("用户名已存在")
        except ValueError as e:
            form.form_errors.append(str(e))
        else:
            audit("user.create", target=doc["username"],
                  detail={"role": doc["role"], "org": doc["org_code"]})
            flash(f"已创建账号「{doc['username']}」", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=None), \
        422 if request.method == "POST" else 200


@bp.route("/users/<username>/edit", methods=["GET", "POST"])
def user_edit(username):
    store = get_store()
    user = _user_or_404(store, username)
    index = org_index(store)
    form = _user_form(UserForm, index, data=None if request.method == "POST" else {
        "role": user["role"], "org_code": user.get("org_code") or "",
        "name": user.get("name") or "", "phone": user.get("phone") or ""})
    if form.validate_on_submit():
        try:
            doc = accounts.update_user(store, username, form.role.data, form.org_code.data,
                                       form.name.data, form.phone.data,
                                       by=current_user.username)
        except ValueError as e:
            form.form_errors.append(str(e))
        else:
            audit("user.edit", target=username, detail={
                "role": doc["role"], "org": doc.get("org_code"), "name": doc.get("name"),
                "phone": doc.get("phone")})
            flash(f"已保存账号「{username}」", "success")
            return redirect(url_for("admin.users"))
    return _edit_page(user, form, PasswordForm(), 422 if request.method == "POST" else 200)


def _edit_page(user, form, password_form, status):
    return render_template("admin/user_edit.html", form=form, user=user,
                           password_form=password_form), status


@bp.route("/users/<username>/password", methods=["POST"])
def user_password(username):
    store = get_store()
    user = _user_or_404(store, username)
    password_form = PasswordForm()
    if password_form.validate_on_submit():
        accounts.set_password(store, username, password_form.password.data)
        audit("user.password", target=username)
        flash(f"已重设「{username}」的密码，该账号需重新登录", "success")
        return redirect(url_for("admin.users"))
    form = _user_form(UserForm, org_index(store), formdata=None, data={
        "role": user["role"], "org_code": user.get("org_code") or "",
        "name": user.get("name") or "", "phone": user.get("phone") or ""})
    return _edit_page(user, form, password_form, 422)


@bp.route("/users/<username>/active", methods=["POST"])
def user_active(username):
    store = get_store()
    _user_or_404(store, username)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(store, username, active, by=current_user.username)
    except ValueError as e:
        flash(str(e), "error")
    else:
        audit("user.enable" if active else "user.disable", target=username)
        flash(f"已{'启用' if active else '停用'}账号「{username}」", "success")
    return redirect(url_for("admin.users"))
