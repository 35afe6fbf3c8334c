"""Admin: the visual form builder, its phone preview, publishing a draft, and a form's history.

Pages and endpoints (all behind login, every POST with a CSRF token):

- ``/admin/forms/new-form``: a new form (id + title) starts as a draft, then opens in the
  builder.
- ``/admin/forms/<id>/builder``: GET the builder on the form's draft (or, without one, on its
  current version); POST saves the JSON text as the draft with the revision it was started
  from (``services.formdefs.save_draft``): a draft saved by someone else meanwhile is never
  overwritten (409 and the Chinese message). The page's script asks for JSON; without the
  script the same POST answers with a page.
- ``/admin/forms/<id>/builder/preview``: the draft rendered by the public page's macro in a
  phone-wide frame (GET: the saved draft; POST ``_draft``: the text being edited), with every
  problem ``check_draft`` finds; ``_check`` validates answers typed into the preview, as the
  public page would, and stores nothing. The only admin page that may be framed, and only by
  this site.
- ``/admin/forms/<id>/publish``: what publishing the draft changes (diff against the current
  version), how many stored answers would not fit, and the confirmation; refused while the
  draft is invalid.
- ``/admin/forms/<id>/history`` and ``/compare``: versions with who published them and when,
  the differences between any two, roll back, close / reopen, duplicate, discard the draft.

The rules (what a valid draft is, what publishing stores, what a rollback makes) are
``services.formdefs``'; these views parse, call and render.
"""
import json
import re

from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from db import get_store
from forms.builder import (build_form_class, collect_answers, display_rows, new_submission_id,
                           set_project_choices)
from forms.fields import CONDITION_TYPES, ROW_TYPES
from forms.loader import SchemaError, meta_schema
from services import formdefs
from views.admin import bp
from views.security import CSP
from views.web import audit, get_form_or_404

# The field types as an admin knows them, in the order the builder offers them.
TYPE_LABELS = {
    "text": "单行文字",
    "textarea": "多行文字",
    "integer": "整数",
    "decimal": "数字(可带小数)",
    "date": "日期",
    "month": "月份",
    "select": "单选",
    "multiselect": "多选",
    "boolean": "是/否(勾选)",
    "phone": "手机号码",
    "image": "照片",
    "section": "分节标题",
    "repeat": "重复组(多行明细)",
    "project": "项目(本单位已立项的项目)",
}
# What a preview's project field offers: the organization filling it is not known there.
PREVIEW_PROJECTS = [("1", "示例项目（预览：填报时列出本村（单位）已立项的项目）")]

# The field a problem's path names: "fields[3]", "fields[3].fields[1]", then the attribute.
# (Other paths name the form's own keys, or a line and column of the JSON text.)
FIELD_PATH = re.compile(r"^fields\[(\d+)\](?:\.fields\[(\d+)\])?(?:\.(.*))?$")


def form_id_check(form, field):
    """A form id as services.formdefs accepts it."""
    problem = formdefs.form_id_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


class DraftForm(FlaskForm):
    """The builder's save: the whole JSON text and the revision it was started from."""

    text = TextAreaField("表单定义(JSON)", validators=[InputRequired("表单定义不能为空")])
    base_revision = IntegerField(validators=[Optional()])


class NewFormForm(FlaskForm):
    form_id = StringField("表单编号(英文)",
                          validators=[InputRequired("请填写表单编号"), form_id_check])
    title = StringField("表单标题", validators=[InputRequired("请填写表单标题"),
                                                 Length(max=200, message="标题最多 200 个字")])


class DuplicateForm(FlaskForm):
    new_id = StringField("新表单编号(英文)",
                         validators=[InputRequired("请填写新表单的编号"), form_id_check])
    title = StringField("新表单标题(可不填)", validators=[Optional(), Length(max=200)])


class PublishForm(FlaskForm):
    revision = HiddenField()


class ActionForm(FlaskForm):
    """A POST button (rollback, close/reopen, discard): the CSRF token is all it needs."""


def _problems(errors):
    """SchemaErrors -> [{"path", "reason", "text", "field", "sub", "key"}] for the page: field
    and sub are the indexes of the field (and of the repeat's sub-field) the path names, key
    the attribute ("label", "show_if.field"...), all None when the path names no field."""
    out = []
    for error in errors:
        path = error.path or ""
        match = FIELD_PATH.match(path)
        out.append({
            "path": path, "reason": error.reason,
            "text": f"{path}:{error.reason}" if path else error.reason,
            "field": int(match.group(1)) if match else None,
            "sub": int(match.group(2)) if match and match.group(2) is not None else None,
            "key": match.group(3) if match else None,
        })
    return out


def _check(text, form_id):
    """(schema or None, problems) of a draft's text."""
    schema, errors = formdefs.check_draft(text, form_id)
    return schema, _problems(errors)


def _published_names(schema):
    """The names of the published version's fields (and of each repeat's sub-fields): a
    rename of one of them is recorded in the field's renamed_from."""
    if schema is None:
        return {"names": [], "rows": {}}
    return {"names": [f["name"] for f in schema["fields"]],
            "rows": {f["name"]: [s["name"] for s in f["fields"]]
                     for f in schema["fields"] if f["type"] == "repeat"}}


def _refused_keys():
    """{type: [keys the meta-schema refuses for it]}: the builder shows only the controls a
    type takes and drops the others when a field changes type."""
    refused = {}
    for rule in meta_schema()["$defs"]["field_body"]["allOf"]:
        kind = rule["if"]["properties"]["type"].get("const")
        props = rule["then"].get("properties", {})
        refused[kind] = sorted(k for k, v in props.items() if v is False)
    return refused


def _draft_title(text):
    """The title a draft's text gives, if it can be read."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    title = data.get("title") if isinstance(data, dict) else None
    return title if isinstance(title, str) else None


def _draft_or_404(store, form_id):
    """(current version doc or None, draft or None); 404 when the form has neither."""
    current = store.get_form(form_id)
    draft = formdefs.get_draft(store, form_id)
    if current is None and draft is None:
        abort(404)
    return current, draft


def _wants_json():
    return request.accept_mimetypes.best == "application/json"


def _framed(response):
    """Let this site (the builder page) frame the response; nobody else."""
    response.headers["Content-Security-Policy"] = CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# ---- a new form ------------------------------------------------------------------------------


def _unpublished(store):
    """Drafts of forms never published (new forms being built), newest first."""
    published = {f["id"] for f in store.list_forms()}
    drafts = [d for d in store.list_drafts() if d["form_id"] not in published]
    for draft in drafts:
        draft["title"] = _draft_title(draft["text"]) or draft["form_id"]
    return sorted(drafts, key=lambda d: d.get("saved_at") or "", reverse=True)


@bp.route("/forms/new-form", methods=["GET", "POST"])
def form_new():
    """Ask for the id and title of a new form; its first draft opens in the builder."""
    form = NewFormForm()
    store = get_store()
    if form.validate_on_submit():
        form_id = form.form_id.data.strip()
        if store.get_form(form_id) is not None:
            form.form_id.errors.append("这个编号已被其他表单使用,请换一个")
        else:
            skeleton = {"id": form_id, "title": form.title.data.strip(), "description": "",
                        "fields": []}
            try:
                draft = formdefs.save_draft(store, form_id, formdefs.schema_json(skeleton),
                                            user=current_user.username, base_revision=0)
            except formdefs.DraftChanged:
                form.form_id.errors.append("这个编号已有一份未发布的草稿:请换一个编号,"
                                           "或在下面“尚未发布的新表单”中打开它")
            except ValueError as error:
                form.form_id.errors.append(str(error))
            else:
                audit("form.draft", target=form_id,
                      detail={"revision": draft["revision"], "title": skeleton["title"]})
                flash("已创建草稿。添加字段后即可发布。", "success")
                return redirect(url_for("admin.form_builder", form_id=form_id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/builder_new.html", form=form,
                           drafts=_unpublished(store)), status


# ---- the builder -----------------------------------------------------------------------------


@bp.route("/forms/<form_id>/builder", methods=["GET", "POST"])
def form_builder(form_id):
    """The builder on the form's draft (GET); save the draft (POST: JSON for the page's
    script, a page without it). Only a save the admin asked for is audited (action=save or
    publish), not the script's autosaves."""
    store = get_store()
    current, draft = _draft_or_404(store, form_id)
    form = DraftForm()
    text, base_revision = None, (draft or {}).get("revision", 0)
    conflict, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            if _wants_json():
                return jsonify(error="表单定义不能为空"), 400
            status = 400
        else:
            # A browser's form post sends a textarea's newlines as CRLF: keep the text as typed.
            text = form.text.data.replace("\r\n", "\n")
            try:
                saved = formdefs.save_draft(store, form_id, text, user=current_user.username,
                                            base_revision=form.base_revision.data or 0)
            except formdefs.DraftChanged as changed:
                latest = changed.current or {}
                if _wants_json():
                    return jsonify(error=str(changed), revision=latest.get("revision", 0),
                                   user=latest.get("user"), saved_at=latest.get("saved_at")), 409
                # The admin's text stays on the page, on the revision it was started from:
                # saving again is refused again until the admin has merged by hand.
                conflict, status = {"message": str(changed), "draft": latest}, 409
                base_revision = form.base_revision.data or 0
            except (ValueError, SchemaError) as error:
                if _wants_json():
                    return jsonify(error=getattr(error, "reason", None) or str(error)), 422
                flash(getattr(error, "reason", None) or str(error), "error")
                status = 422
            else:
                action = request.form.get("action")
                if action in ("save", "publish"):
                    audit("form.draft", target=form_id, detail={"revision": saved["revision"]})
                _schema, problems = _check(text, form_id)
                if _wants_json():
                    return jsonify(revision=saved["revision"], saved_at=saved["saved_at"],
                                   user=saved.get("user"), errors=problems)
                if action == "publish":
                    return redirect(url_for("admin.form_publish", form_id=form_id))
                flash("草稿已保存。" + (f"有 {len(problems)} 处错误,修正后才能发布。"
                                        if problems else ""), "warning" if problems else "success")
                return redirect(url_for("admin.form_builder", form_id=form_id))
    if text is None:
        text = draft["text"] if draft else formdefs.schema_json(current["schema"])
    _schema, problems = _check(text, form_id)
    title = current["schema"]["title"] if current else _draft_title(text) or form_id
    return render_template(
        "admin/builder.html", form_id=form_id, current=current, draft=draft, text=text,
        base_revision=base_revision, problems=problems, conflict=conflict, title=title,
        type_labels=TYPE_LABELS, row_types=[t for t in TYPE_LABELS if t in ROW_TYPES],
        condition_types=sorted(CONDITION_TYPES), refused=_refused_keys(),
        published=_published_names(current and current["schema"]), csrf_form=form), status


@bp.route("/forms/<form_id>/builder/preview", methods=["GET", "POST"])
def form_builder_preview(form_id):
    """The draft as a cadre's phone shows it, inside the builder's frame (GET: the saved
    draft, or the current version; POST: the text being edited)."""
    store = get_store()
    current, draft = _draft_or_404(store, form_id)
    if request.method == "POST":
        # ``_draft`` cannot be a field's name (names start with a letter); the builder
        # without its script posts its whole form, where the text is ``text``.
        text = request.form.get("_draft")
        if text is None:
            text = request.form.get("text", "")
    else:
        text = draft["text"] if draft else formdefs.schema_json(current["schema"])
    schema, problems = _check(text, form_id)
    form = checked = None
    if schema is not None:
        form_class = build_form_class(schema)
        if request.method == "POST" and "_check" in request.form:
            form = form_class()
            set_project_choices(form, PREVIEW_PROJECTS)
            if form.validate_on_submit():
                checked = display_rows(schema, collect_answers(form, schema)[0])
        else:
            form = form_class(formdata=None)
            set_project_choices(form, PREVIEW_PROJECTS)
            form.submission_id.data = new_submission_id()
    return _framed(make_response(render_template(
        "admin/builder_preview.html", form_id=form_id, schema=schema, form=form, text=text,
        problems=problems, checked=checked)))


# ---- publishing ------------------------------------------------------------------------------


@bp.route("/forms/<form_id>/publish", methods=["GET", "POST"])
def form_publish(form_id):
    """What publishing the draft would change and how many stored answers would not fit the
    new definition; publish it when confirmed (never an invalid draft, never a draft that
    changed after the page was shown)."""
    store = get_store()
    current, draft = _draft_or_404(store, form_id)
    if draft is None:
        flash("这个表单没有未发布的草稿。", "info")
        return redirect(url_for("admin.form_history", form_id=form_id))
    form = PublishForm()
    message = None
    schema, problems = _check(draft["text"], form_id)
    if request.method == "POST" and form.validate_on_submit():
        if str(draft["revision"]) != (form.revision.data or ""):
            message = "草稿在您打开本页之后又被修改过,请核对下面的最新内容后再发布。"
        elif not problems:
            try:
                doc = formdefs.publish(store, form_id, user=current_user.username)
            except SchemaError as error:
                problems = _problems(getattr(error, "problems", None) or [error])
            except LookupError:
                flash("这个表单没有未发布的草稿。", "info")
                return redirect(url_for("admin.form_history", form_id=form_id))
            else:
                if doc is None:
                    flash("草稿与当前版本内容相同,没有生成新版本;草稿已清除。", "info")
                else:
                    audit("form.publish", target=form_id, detail={
                        "version": doc["version"], "revision": draft["revision"],
                        "title": doc["schema"]["title"]})
                    flash(f"已发布为第 {doc['version']} 版。新的填报将使用这一版。", "success")
                return redirect(url_for("admin.form_history", form_id=form_id))
    changes = impact = None
    if schema is not None and current is not None:
        changes = formdefs.diff(current["schema"], schema)
        impact = formdefs.impact(store, form_id, schema)
    form.revision.data = str(draft["revision"])
    status = 200 if request.method == "GET" else 409 if message else 422
    return render_template(
        "admin/builder_publish.html", form_id=form_id, current=current, draft=draft,
        schema=schema, problems=problems, changes=changes, impact=impact, form=form,
        message=message, labels=_labels(schema)), status


def _labels(schema):
    """{path: label} of a schema's fields ("steps.task" for a repeat's sub-field)."""
    labels = {}
    for spec in (schema or {}).get("fields", []):
        labels[spec["name"]] = spec["label"]
        for sub in spec.get("fields", []) if spec["type"] == "repeat" else []:
            labels[f"{spec['name']}.{sub['name']}"] = f"{spec['label']} / {sub['label']}"
    return labels


# ---- history ---------------------------------------------------------------------------------


@bp.route("/forms/<form_id>/history")
def form_history(form_id):
    return _history_page(get_store(), get_form_or_404(form_id), DuplicateForm(formdata=None))


def _history_page(store, current, duplicate_form, status=200):
    form_id = current["id"]
    return render_template(
        "admin/form_history.html", current=current, versions=store.form_versions(form_id),
        draft=formdefs.get_draft(store, form_id), closed=formdefs.is_closed(store, form_id),
        count=store.count_submissions(form_id), used=store.submission_versions(form_id),
        duplicate_form=duplicate_form, action_form=ActionForm(),
        source_labels=formdefs.SOURCE_LABELS), status


@bp.route("/forms/<form_id>/compare")
def form_compare(form_id):
    """The changes between two versions (default: the previous and the current one)."""
    store = get_store()
    current = get_form_or_404(form_id)
    numbers = [v["version"] for v in store.form_versions(form_id)]
    new = request.args.get("to", type=int) or current["version"]
    old = request.args.get("from", type=int)
    if old is None:
        old = max([n for n in numbers if n < new], default=new)
    error, changes = None, []
    if old not in numbers or new not in numbers:
        error = "没有这个版本,请重新选择。"
    else:
        changes = formdefs.diff(store.get_form(form_id, old)["schema"],
                                store.get_form(form_id, new)["schema"])
    return render_template("admin/form_compare.html", current=current, numbers=numbers,
                           old=old, new=new, changes=changes, error=error), 404 if error else 200


def _posted_or_400():
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.route("/forms/<form_id>/rollback", methods=["POST"])
def form_rollback(form_id):
    store = get_store()
    current = get_form_or_404(form_id)
    _posted_or_400()
    version = request.form.get("version", type=int)
    if version is None or store.get_form(form_id, version) is None:
        abort(404)
    try:
        doc = formdefs.rollback(store, form_id, version, user=current_user.username)
    except SchemaError as error:
        flash(f"第 {version} 版不符合现在的表单格式要求,不能回滚:{error.path}:{error.reason}",
              "error")
        return redirect(url_for("admin.form_history", form_id=form_id))
    if doc is None:
        flash(f"第 {version} 版与当前的第 {current['version']} 版内容相同,没有生成新版本。", "info")
    else:
        audit("form.rollback", target=form_id, detail={
            "version": doc["version"], "from_version": version, "title": doc["schema"]["title"]})
        flash(f"已把第 {version} 版的内容发布为第 {doc['version']} 版。", "success")
    return redirect(url_for("admin.form_history", form_id=form_id))


@bp.route("/forms/<form_id>/closed", methods=["POST"])
def form_set_closed(form_id):
    store = get_store()
    get_form_or_404(form_id)
    _posted_or_400()
    closed = request.form.get("closed") == "1"
    formdefs.set_closed(store, form_id, closed, user=current_user.username)
    audit("form.close" if closed else "form.open", target=form_id)
    flash("已停止收集:二维码链接将显示“已停止收集”,不再接受填报。" if closed
          else "已恢复收集:二维码链接可以继续填报。", "success")
    return redirect(url_for("admin.form_history", form_id=form_id))


@bp.route("/forms/<form_id>/duplicate", methods=["POST"])
def form_duplicate(form_id):
    store = get_store()
    current = get_form_or_404(form_id)
    form = DuplicateForm()
    if form.validate_on_submit():
        new_id = form.new_id.data.strip()
        try:
            doc = formdefs.duplicate(store, form_id, new_id, user=current_user.username,
                                     title=(form.title.data or "").strip() or None)
        except ValueError as error:
            form.new_id.errors.append(str(error))
        except SchemaError as error:
            form.new_id.errors.append(f"{error.path}:{error.reason}")
        else:
            audit("form.duplicate", target=new_id, detail={
                "version": doc["version"], "from": form_id, "title": doc["schema"]["title"]})
            flash(f"已复制为新表单「{doc['schema']['title']}」({new_id})。", "success")
            return redirect(url_for("admin.form_history", form_id=new_id))
    return _history_page(store, current, form, status=422)


@bp.route("/forms/<form_id>/draft/discard", methods=["POST"])
def form_discard_draft(form_id):
    store = get_store()
    current, _draft = _draft_or_404(store, form_id)
    _posted_or_400()
    if formdefs.discard_draft(store, form_id):
        audit("form.discard", target=form_id)
        flash("已放弃草稿。", "success")
    if current is None:
        return redirect(url_for("admin.forms_list"))
    return redirect(url_for("admin.form_history", form_id=form_id))
