"""Admin: API tokens. Every user sees, makes and revokes their own; an admin sees and revokes
everyone's (services.tokens.visible). A new token's secret is shown once, in the answer to the
POST that made it (never in a flash message: the session cookie is signed, not secret)."""
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from db import get_store
from services import access, tokens
from views.admin import bp
from views.web import audit


class TokenForm(FlaskForm):
    label = StringField("用途", validators=[Length(max=tokens.MAX_LABEL,
                                                message=f"最多 {tokens.MAX_LABEL} 个字符")])
    days = IntegerField("有效天数", default=tokens.DEFAULT_DAYS, validators=[
        InputRequired("请输入有效天数"),
        NumberRange(1, tokens.MAX_DAYS, f"有效天数须为 1–{tokens.MAX_DAYS}")])


def _page(form, secret=None, status=200):
    docs = tokens.visible(get_store(), current_user)
    rows = [{**doc, "state": tokens.state(doc)} for doc in reversed(docs)]
    return render_template("admin/tokens.html", form=form, rows=rows, secret=secret,
                           state_labels=tokens.STATE_LABELS,
                           everyone=access.may(current_user, "manage")), status


@bp.route("/tokens", methods=["GET", "POST"], endpoint="tokens")
def tokens_page():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    try:
        secret, doc = tokens.create(get_store(), current_user.username, form.label.data,
                                    form.days.data)
    except ValueError as e:
        form.form_errors.append(str(e))
        return _page(form, status=422)
    audit("token.create", target=current_user.username,
          detail={"label": doc["label"], "days": form.days.data})
    return _page(TokenForm(formdata=None), secret=secret, status=201)


@bp.route("/tokens/<token_id>/revoke", methods=["POST"])
def token_revoke(token_id):
    try:
        doc = tokens.revoke(get_store(), token_id, current_user)
    except LookupError:
        abort(404)
    audit("token.revoke", target=doc["username"], detail={"label": doc["label"]})
    flash("令牌已吊销，使用它的程序将无法再访问", "success")
    return redirect(url_for("admin.tokens"))
