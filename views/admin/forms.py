"""Admin: the dashboard and form definitions (list, upload, JSON editor, versions, preview)."""
import json

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import InputRequired

from db import get_store
from forms.builder import (build_form_class, collect_answers, display_rows, new_submission_id,
                           set_project_choices)
from forms.loader import SchemaError
from forms.xlsform import XLSFormError
from services import access, formdefs
from services import submissions as submission_service
from views.admin.builder import PREVIEW_PROJECTS
from services.orgs import org_index
from views.admin import bp
from views.web import audit, get_form_or_404


@bp.route("/")
def dashboard():
    """Every form with its number of submissions — within the user's scope, voided ones left
    out as in the submissions list (the page every role lands on)."""
    store = get_store()
    forms = store.list_forms()
    index = org_index(store)
    visible = access.visible_orgs(current_user, index)
    statuses = submission_service.export_statuses()
    counts = {f["id"]: sum(store.submission_counts(f["id"], org_codes=visible,
                                                   statuses=statuses).values())
              for f in forms}
    return render_template("admin/dashboard.html", forms=forms, counts=counts,
                           org_count=len(index.orgs if visible is None else visible))


class SchemaUploadForm(FlaskForm):
    file = FileField("上传 JSON 文件")
    text = TextAreaField("或粘贴 JSON")


class SchemaEditForm(FlaskForm):
    text = TextAreaField("表单定义(JSON)", validators=[InputRequired("请输入表单定义")])


@bp.route("/forms")
def forms_list():
    store = get_store()
    forms = store.list_forms()
    counts = {f["id"]: store.count_submissions(f["id"]) for f in forms}
    drafts = {d["form_id"] for d in store.list_drafts()}
    closed = {form_id for form_id, state in store.form_states().items() if state["closed"]}
    return render_template("admin/forms.html", forms=forms, counts=counts, drafts=drafts,
                           closed=closed)


@bp.route("/forms/upload", methods=["GET", "POST"])
def form_upload():
    form = SchemaUploadForm()
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            if upload and upload.filename:
                schema = formdefs.parse_upload(upload.filename, upload.read())
            elif form.text.data and form.text.data.strip():
                schema = formdefs.parse_definition(form.text.data, "粘贴的 JSON")
            else:
                raise SchemaError("上传", "", "请选择 JSON 文件或粘贴表单定义")
        except SchemaError as e:
            error = e
        else:
            doc = get_store().add_form_version(schema, source="upload", user=current_user.username)
            audit("form.save", target=schema["id"],
                  detail={"version": doc["version"], "source": "upload", "title": schema["title"]})
            flash(f"已保存表单「{schema['title']}」第 {doc['version']} 版", "success")
            return redirect(url_for("admin.form_detail", form_id=schema["id"]))
    status = 422 if error else 200
    return render_template("admin/form_upload.html", form=form, error=error), status


class XLSFormUploadForm(FlaskForm):
    file = FileField("XLSForm 文件(.xlsx)")
    form_id = StringField("表单编号(可不填:取 settings 表的 form_id,否则取文件名)")
    replace = BooleanField("该表单已有草稿时,用导入的内容替换它")


@bp.route("/forms/import-xlsform", methods=["GET", "POST"])
def xlsform_import():
    """An ODK / KoboToolbox XLSForm becomes the draft of its form, to review in the builder;
    every row that could not be imported is listed (none is dropped silently)."""
    form = XLSFormUploadForm()
    error, result = None, None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            if not (upload and upload.filename):
                raise XLSFormError("请选择 XLSForm 文件(.xlsx)")
            draft, schema, unmapped = formdefs.import_xlsform(
                get_store(), upload.read(), upload.filename,
                form_id=(form.form_id.data or "").strip() or None,
                user=current_user.username, replace=form.replace.data)
        except XLSFormError as e:
            error = str(e)
        except formdefs.DraftChanged:
            error = "该表单已有未发布的草稿。若要用导入的内容替换它,请勾选下面的选项后重新导入。"
        except ValueError as e:
            error = str(e)
        else:
            audit("form.draft", target=schema["id"], detail={
                "revision": draft["revision"], "source": "xlsform", "file": upload.filename})
            result = {"schema": schema, "unmapped": unmapped,
                      "exists": get_store().get_form(schema["id"]) is not None}
    status = 422 if error else 200
    return render_template("admin/xlsform_import.html", form=form, error=error,
                           result=result), status


@bp.route("/forms/<form_id>/v<int:version>.schema.json")
def form_version_json_schema(form_id, version):
    """The JSON Schema (draft 2020-12) of the answers of that version's submissions."""
    doc = get_form_or_404(form_id, version)
    return current_app.response_class(
        json.dumps(formdefs.json_schema(doc["schema"]), ensure_ascii=False, indent=2),
        mimetype="application/schema+json",
        headers={"Content-Disposition":
                 f"attachment; filename={form_id}.v{version}.schema.json"})


@bp.route("/forms/<form_id>", methods=["GET", "POST"])
def form_detail(form_id):
    store = get_store()
    current = get_form_or_404(form_id)
    form = SchemaEditForm()
    error = None
    if request.method == "GET":
        form.text.data = formdefs.schema_json(current["schema"])
    elif form.validate_on_submit():
        try:
            schema = formdefs.parse_definition(form.text.data, "在线编辑", expected_id=form_id)
        except SchemaError as e:
            error = e
        else:
            doc = formdefs.save_version(store, schema, source="edit", user=current_user.username)
            if doc is None:
                flash("内容没有变化，未生成新版本", "info")
            else:
                audit("form.save", target=form_id, detail={
                    "version": doc["version"], "source": "edit", "title": schema["title"]})
                flash(f"已保存为第 {doc['version']} 版", "success")
            return redirect(url_for("admin.form_detail", form_id=form_id))
    return render_template("admin/form_detail.html", current=current, form=form, error=error,
                           versions=store.form_versions(form_id),
                           count=store.count_submissions(form_id)), 422 if error else 200


@bp.route("/forms/<form_id>/v<int:version>.json")
def form_version_json(form_id, version):
    doc = get_form_or_404(form_id, version)
    return current_app.response_class(
        json.dumps(doc["schema"], ensure_ascii=False, indent=2), mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename={form_id}.v{version}.json"})


@bp.route("/forms/<form_id>/preview", methods=["GET", "POST"])
def form_preview(form_id):
    """Fill the form as a cadre would; a valid POST is checked but never stored."""
    version = request.args.get("version", type=int)
    schema = get_form_or_404(form_id, version)["schema"]
    form = build_form_class(schema)()
    set_project_choices(form, PREVIEW_PROJECTS)
    checked = None
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
    elif form.validate_on_submit():
        checked = display_rows(schema, collect_answers(form, schema)[0])
    return render_template("admin/form_preview.html", form=form, schema=schema,
                           checked=checked), 422 if form.errors else 200
