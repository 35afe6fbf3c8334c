"""Admin: organizations (tree, add/edit/delete, CSV import and export)."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from db import get_store
from services import orgs as org_service
from services.orgs import KIND_LABELS, OrgImportError, OrgRuleError
from views.admin import bp
from views.web import audit

KIND_CHOICES = [SelectChoice(k, v) for k, v in KIND_LABELS.items()]


def _rule(problem_of):
    """A WTForms validator from one of services.orgs' field rules (the rule the CSV import
    applies too), so the page shows the error beside the field."""

    def check(form, field):
        problem = problem_of((field.data or "").strip())
        if problem:
            raise ValidationError(problem)

    return check


class OrgForm(FlaskForm):
    code = StringField("编码", validators=[_rule(org_service.code_problem)])
    name = StringField("名称", validators=[_rule(org_service.name_problem)])
    kind = SelectField("类型", choices=KIND_CHOICES)
    parent_code = SelectField("上级组织", choices=[], validate_choice=False)
    secretary = StringField("书记姓名", validators=[_rule(org_service.secretary_problem)])
    phone = StringField("联系电话(手机)", validators=[_rule(org_service.phone_problem)])


class OrgImportForm(FlaskForm):
    file = FileField("CSV 文件(UTF-8,列:code,name,parent_code,kind)")


def _tree_page(import_form, import_errors=(), status=200):
    orgs = get_store().list_orgs()
    return render_template("admin/orgs.html", tree=org_service.build_tree(orgs), count=len(orgs),
                           import_form=import_form, import_errors=import_errors), status


@bp.route("/orgs")
def orgs_list():
    return _tree_page(OrgImportForm())


def _org_form(orgs, obj=None):
    form = OrgForm(data=obj)
    form.parent_code.choices = [SelectChoice("", "(无，顶级)")] + [
        SelectChoice(o["code"], f"{o['name']}({KIND_LABELS.get(o['kind'], o['kind'])})")
        for o in orgs if not obj or o["code"] != obj["code"]]
    return form


@bp.route("/orgs/new", methods=["GET", "POST"])
@bp.route("/orgs/<code>/edit", methods=["GET", "POST"])
def org_edit(code=None):
    store = get_store()
    existing = store.get_org(code) if code else None
    if code and existing is None:
        abort(404)
    form = _org_form(store.list_orgs(), existing)
    if request.method == "GET" and existing is None:
        form.parent_code.data = request.args.get("parent", "")
    errors = []
    if form.validate_on_submit():
        row = {"code": form.code.data, "name": form.name.data, "kind": form.kind.data,
               "parent_code": form.parent_code.data, "secretary": form.secretary.data,
               "phone": form.phone.data}
        try:
            saved = org_service.save_org(store, row, code)
        except OrgImportError as e:
            errors = e.errors
        else:
            audit("org.edit" if existing else "org.create",
                  target=f"{saved['code']} {saved['name']}",
                  detail={"kind": saved["kind"], "parent_code": saved["parent_code"],
                          **({"name_before": existing["name"]} if existing
                             and existing["name"] != saved["name"] else {})})
            flash(f"已保存「{saved['name']}」", "success")
            return redirect(url_for("admin.orgs_list"))
    return render_template("admin/org_edit.html", form=form, existing=existing,
                           errors=errors), 422 if errors or form.errors else 200


@bp.route("/orgs/<code>/delete", methods=["POST"])
def org_delete(code):
    try:
        org = org_service.delete_org(get_store(), code)
    except LookupError:
        abort(404)
    except OrgRuleError as e:
        flash(str(e), "error")
    else:
        audit("org.delete", target=f"{org['code']} {org['name']}")
        flash(f"已删除「{org['name']}」", "success")
    return redirect(url_for("admin.orgs_list"))


@bp.route("/orgs/import", methods=["POST"])
def orgs_import():
    form = OrgImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not upload.filename:
            errors = [(0, "请选择 CSV 文件")]
        else:
            try:
                rows = org_service.import_csv(get_store(), upload.read())
            except OrgImportError as e:
                errors = e.errors
            else:
                audit("org.import", target=upload.filename, detail={"rows": len(rows)})
                flash(f"已导入 {len(rows)} 个组织", "success")
                return redirect(url_for("admin.orgs_list"))
    return _tree_page(form, errors, 422)


@bp.route("/orgs.csv")
def orgs_csv():
    return current_app.response_class(
        org_service.orgs_to_csv(get_store().list_orgs()), mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=orgs.csv"})
