"""Admin: the audit log (who did what, when, from where), filtered by action, user and dates;
admins only (services.access.may_read_audit)."""
from flask import abort, current_app, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from db import get_store
from services import access
from services import audit as audit_service
from views.admin import bp


class AuditFilterForm(FlaskForm):
    """The log's filter; GET parameters, so no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    action = SelectField("操作", choices=[SelectChoice("", "全部")] + [
        SelectChoice(code, name) for code, name in audit_service.ACTIONS.items()],
        validate_choice=False)
    user = StringField("用户", validators=[Optional(), Length(max=80, message="最多 80 个字符")])
    date_from = DateField("开始日期", validators=[Optional()])
    date_to = DateField("结束日期", validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("结束日期不能早于开始日期")


@bp.route("/audit")
def audit_log():
    if not access.may_read_audit(current_user):
        abort(403)
    form = AuditFilterForm(formdata=request.args)
    form.validate()
    page = max(request.args.get("page", 1, type=int), 1)
    entries, total, pages = audit_service.query(
        get_store(), action=form.action.data,
        user=None if form.user.errors else (form.user.data or "").strip(),
        date_from=None if form.date_from.errors else form.date_from.data,
        date_to=None if form.date_to.errors else form.date_to.data,
        page=page, per_page=current_app.config["AUDIT_PER_PAGE"])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/audit.html", entries=entries, total=total, page=page,
                           pages=pages, filter_form=form, args=args, label=audit_service.label,
                           describe=audit_service.describe)
