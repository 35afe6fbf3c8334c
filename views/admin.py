"""Admin pages (login required): forms, organizations, QR links, submissions and exports."""
import json
import os
import tempfile
from urllib.parse import quote

from flask import (Blueprint, abort, current_app, flash, redirect,
                   render_template, request, send_file, url_for)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

import exports
import orgs as org_tree
import qr
from forms.builder import build_form_class, collect_answers, display_rows, new_submission_id
from forms.loader import SchemaError, check_schema
from views.web import (entry_url, get_form_or_404, get_store, orgs_by_code)

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_login():
    """Every admin page is behind login (the decorator returns the redirect for anonymous users)."""


@bp.context_processor
def labels():
    return {"kind_labels": org_tree.KIND_LABELS}


# ---------------------------------------------------------------- dashboard

@bp.route("/")
def dashboard():
    store = get_store()
    forms = store.list_forms()
    counts = {f["id"]: store.count_submissions(f["id"]) for f in forms}
    return render_template("admin/dashboard.html", forms=forms, counts=counts,
                           org_count=len(store.list_orgs()))


# ---------------------------------------------------------------- forms

class SchemaUploadForm(FlaskForm):
    file = FileField("上传 JSON 文件")
    text = TextAreaField("或粘贴 JSON")


class SchemaEditForm(FlaskForm):
    text = TextAreaField("表单定义(JSON)", validators=[InputRequired("请输入表单定义")])


def _parse_schema_text(text, source, expected_id=None):
    """JSON text -> checked schema; raises SchemaError with a Chinese reason."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(source, f"第 {e.lineno} 行第 {e.colno} 列", f"JSON 格式错误：{e.msg}")
    return check_schema(data, source=source, expected_id=expected_id)


def schema_json(schema):
    """The schema as an admin edits it: without the server-assigned version."""
    return json.dumps({k: v for k, v in schema.items() if k != "version"},
                      ensure_ascii=False, indent=2)


@bp.route("/forms")
def forms_list():
    store = get_store()
    forms = store.list_forms()
    counts = {f["id"]: store.count_submissions(f["id"]) for f in forms}
    return render_template("admin/forms.html", forms=forms, counts=counts)


@bp.route("/forms/upload", methods=["GET", "POST"])
def form_upload():
    form = SchemaUploadForm()
    error = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            if upload and upload.filename:
                stem = os.path.splitext(os.path.basename(upload.filename))[0]
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise SchemaError(upload.filename, "$", "文件不是 UTF-8 编码")
                schema = _parse_schema_text(text, upload.filename, expected_id=stem)
            elif form.text.data and form.text.data.strip():
                schema = _parse_schema_text(form.text.data, "粘贴的 JSON")
            else:
                raise SchemaError("上传", "$", "请选择 JSON 文件或粘贴表单定义")
        except SchemaError as e:
            error = e
        else:
            doc = get_store().add_form_version(schema, source="upload", user=current_user.username)
            flash(f"已保存表单「{schema['title']}」第 {doc['version']} 版", "success")
            return redirect(url_for("admin.form_detail", form_id=schema["id"]))
    status = 422 if error else 200
    return render_template("admin/form_upload.html", form=form, error=error), status


@bp.route("/forms/<form_id>", methods=["GET", "POST"])
def form_detail(form_id):
    store = get_store()
    current = get_form_or_404(form_id)
    form = SchemaEditForm()
    error = None
    if request.method == "GET":
        form.text.data = schema_json(current["schema"])
    elif form.validate_on_submit():
        try:
            schema = _parse_schema_text(form.text.data, "在线编辑", expected_id=form_id)
        except SchemaError as e:
            error = e
        else:
            if schema_json(schema) == schema_json(current["schema"]):
                flash("内容没有变化，未生成新版本", "info")
            else:
                doc = store.add_form_version(schema, source="edit", user=current_user.username)
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
    checked = None
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
    elif form.validate_on_submit():
        checked = display_rows(schema, collect_answers(form, schema)[0])
    return render_template("admin/form_preview.html", form=form, schema=schema,
                           checked=checked), 422 if form.errors else 200


# ---------------------------------------------------------------- organizations

KIND_CHOICES = [SelectChoice(k, v) for k, v in org_tree.KIND_LABELS.items()]


class OrgForm(FlaskForm):
    code = StringField("编码", validators=[InputRequired("请输入编码"), Regexp(
        r"^[A-Za-z0-9_-]{1,32}$", message="编码只能包含字母、数字、- 和 _,最长 32 位")])
    name = StringField("名称", validators=[InputRequired("请输入名称"), Length(max=60)])
    kind = SelectField("类型", choices=KIND_CHOICES)
    parent_code = SelectField("上级组织", choices=[], validate_choice=False)


class OrgImportForm(FlaskForm):
    file = FileField("CSV 文件(UTF-8,列:code,name,parent_code,kind)")


@bp.route("/orgs")
def orgs_list():
    store = get_store()
    orgs = store.list_orgs()
    return render_template("admin/orgs.html", tree=org_tree.build_tree(orgs), count=len(orgs),
                           import_form=OrgImportForm())


def _org_form(orgs, obj=None):
    form = OrgForm(data=obj)
    form.parent_code.choices = [SelectChoice("", "(无，顶级)")] + [
        SelectChoice(o["code"], f"{o['name']}({org_tree.KIND_LABELS.get(o['kind'], o['kind'])})")
        for o in orgs if not obj or o["code"] != obj["code"]]
    return form


@bp.route("/orgs/new", methods=["GET", "POST"])
@bp.route("/orgs/<code>/edit", methods=["GET", "POST"])
def org_edit(code=None):
    store = get_store()
    orgs = store.list_orgs()
    existing = store.get_org(code) if code else None
    if code and existing is None:
        abort(404)
    form = _org_form(orgs, existing)
    if request.method == "GET" and existing is None:
        form.parent_code.data = request.args.get("parent", "")
    errors = []
    if form.validate_on_submit():
        row = {"code": form.code.data.strip(), "name": form.name.data.strip(),
               "parent_code": form.parent_code.data or "", "kind": form.kind.data}
        if existing and row["code"] != existing["code"]:
            errors = [(1, "编码创建后不能修改(已用于二维码和已提交的数据)")]
        else:
            others = [o for o in orgs if o["code"] != row["code"]]
            if existing is None and len(others) != len(orgs):
                errors = [(1, f"编码 {row['code']} 已存在")]
            else:
                try:
                    rows = org_tree.validate_rows([row], others)
                except org_tree.OrgImportError as e:
                    errors = e.errors
                else:
                    store.upsert_orgs(rows)
                    flash(f"已保存「{row['name']}」", "success")
                    return redirect(url_for("admin.orgs_list"))
    return render_template("admin/org_edit.html", form=form, existing=existing,
                           errors=errors), 422 if errors or form.errors else 200


@bp.route("/orgs/<code>/delete", methods=["POST"])
def org_delete(code):
    store = get_store()
    org = store.get_org(code)
    if org is None:
        abort(404)
    if any(o.get("parent_code") == code for o in store.list_orgs()):
        flash(f"「{org['name']}」下还有下级组织，不能删除", "error")
    elif store.query_submissions(None, org_codes={code}, limit=1)[0]:
        flash(f"「{org['name']}」已有提交的数据，不能删除(可以修改名称)", "error")
    else:
        store.delete_org(code)
        flash(f"已删除「{org['name']}」", "success")
    return redirect(url_for("admin.orgs_list"))


def import_orgs_csv(store, data):
    """Parse and save an organization CSV all-or-nothing; returns the saved rows.

    Raises orgs.OrgImportError with every bad row. Shared by the upload page and the CLI.
    """
    rows = org_tree.parse_orgs_csv(data, store.list_orgs())
    store.upsert_orgs(rows)
    return rows


@bp.route("/orgs/import", methods=["POST"])
def orgs_import():
    form = OrgImportForm()
    store = get_store()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not upload.filename:
            errors = [(0, "请选择 CSV 文件")]
        else:
            try:
                rows = import_orgs_csv(store, upload.read())
            except org_tree.OrgImportError as e:
                errors = e.errors
            else:
                flash(f"已导入 {len(rows)} 个组织", "success")
                return redirect(url_for("admin.orgs_list"))
    orgs = store.list_orgs()
    return render_template("admin/orgs.html", tree=org_tree.build_tree(orgs), count=len(orgs),
                           import_form=form, import_errors=errors), 422


@bp.route("/orgs.csv")
def orgs_csv():
    return current_app.response_class(
        org_tree.orgs_to_csv(get_store().list_orgs()), mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=orgs.csv"})


# ---------------------------------------------------------------- QR links

def _townships(orgs):
    return [o for o in orgs.values() if o["kind"] == "township"]


def _scope_orgs(orgs, township):
    """Orgs a links page or QR sheet covers: one township's subtree, or everything."""
    if township:
        if township not in orgs:
            abort(404)
        codes = org_tree.descendants(orgs, township) | {township}
        return [o for o in orgs.values() if o["code"] in codes]
    return list(orgs.values())


def active_links(store, form_id):
    """org code -> the active link of a form."""
    return {link["org_code"]: link for link in store.list_links(form_id, active_only=True)}


@bp.route("/forms/<form_id>/links")
def links(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    orgs = orgs_by_code(store)
    township = request.args.get("township", "")
    scope = _scope_orgs(orgs, township)
    active = active_links(store, form_id)
    paths = org_tree.org_paths(orgs)
    rows = [{"org": o, "path": paths[o["code"]], "link": active.get(o["code"]),
             "url": entry_url(active[o["code"]]["token"]) if o["code"] in active else None}
            for o in sorted(scope, key=lambda o: o["code"])]
    return render_template("admin/links.html", form_doc=form_doc, rows=rows,
                           townships=_townships(orgs), township=township,
                           missing=sum(1 for r in rows if r["link"] is None))


def ensure_links(store, form_id, org_codes):
    """Create an active link for every org in org_codes that has none; return all active ones."""
    active = active_links(store, form_id)
    for code in org_codes:
        if code not in active:
            active[code] = store.create_link(form_id, code)
    return active


@bp.route("/forms/<form_id>/links/generate", methods=["POST"])
def links_generate(form_id):
    store = get_store()
    get_form_or_404(form_id)
    township = request.form.get("township", "")
    scope = _scope_orgs(orgs_by_code(store), township)
    before = len(active_links(store, form_id))
    after = len(ensure_links(store, form_id, [o["code"] for o in scope]))
    flash(f"已生成 {after - before} 个新链接", "success")
    return redirect(url_for("admin.links", form_id=form_id, township=township))


def _link_or_404(token):
    link = get_store().get_link(token)
    if link is None:
        abort(404)
    return link


@bp.route("/links/<token>/revoke", methods=["POST"])
def link_revoke(token):
    link = _link_or_404(token)
    get_store().revoke_link(token)
    flash("链接已停用，旧二维码将无法打开", "success")
    return redirect(url_for("admin.links", form_id=link["form_id"],
                            township=request.form.get("township", "")))


@bp.route("/links/<token>/regenerate", methods=["POST"])
def link_regenerate(token):
    link = _link_or_404(token)
    get_store().create_link(link["form_id"], link["org_code"])
    flash("已生成新链接，旧二维码已停用，请重新打印", "success")
    return redirect(url_for("admin.links", form_id=link["form_id"],
                            township=request.form.get("township", "")))


@bp.route("/forms/<form_id>/links/new", methods=["POST"])
def link_create(form_id):
    store = get_store()
    get_form_or_404(form_id)
    code = request.form.get("org_code", "")
    if store.get_org(code) is None:
        abort(404)
    ensure_links(store, form_id, [code])
    return redirect(url_for("admin.links", form_id=form_id,
                            township=request.form.get("township", "")))


@bp.route("/links/<token>/qr.<fmt>")
def link_qr(token, fmt):
    link = _link_or_404(token)
    if fmt not in ("png", "svg") or link.get("revoked_at"):
        abort(404)
    body = qr.qr_png(entry_url(token)) if fmt == "png" else qr.qr_svg(entry_url(token))
    filename = f"{link['form_id']}-{link['org_code']}.{fmt}"
    response = current_app.response_class(
        body, mimetype="image/png" if fmt == "png" else "image/svg+xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response


@bp.route("/forms/<form_id>/qr-sheet")
def qr_sheet(form_id):
    """A printable A4 page: one labelled QR code per organization of a township."""
    store = get_store()
    form_doc = get_form_or_404(form_id)
    orgs = orgs_by_code(store)
    township = request.args.get("township", "")
    if not township:
        abort(404)
    scope = [o for o in _scope_orgs(orgs, township) if o["code"] != township]
    active = active_links(store, form_id)
    cards = [{"org": o, "token": active[o["code"]]["token"]}
             for o in sorted(scope, key=lambda o: o["code"]) if o["code"] in active]
    missing = [o for o in scope if o["code"] not in active]
    return render_template("admin/qr_sheet.html", form_doc=form_doc, cards=cards,
                           missing=missing, township=orgs[township])


# ---------------------------------------------------------------- submissions

class FilterForm(FlaskForm):
    """The submissions filter; GET parameters, so no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    township = SelectField("乡镇", choices=[], validate_choice=False)
    org = SelectField("村/单位", choices=[], validate_choice=False)
    date_from = DateField("开始日期", validators=[Optional()])
    date_to = DateField("结束日期", validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("结束日期不能早于开始日期")


def _filters(orgs):
    """Parse the filter query string; returns (form, query kwargs) or aborts on nonsense."""
    form = FilterForm(formdata=request.args)
    form.township.choices = [SelectChoice("", "全部乡镇")] + [
        SelectChoice(o["code"], o["name"]) for o in sorted(_townships(orgs), key=lambda o: o["code"])]
    scope_codes = None
    if form.township.data:
        scope_codes = org_tree.descendants(orgs, form.township.data) | {form.township.data}
    form.org.choices = [SelectChoice("", "全部")] + [
        SelectChoice(o["code"], o["name"]) for o in sorted(orgs.values(), key=lambda o: o["code"])
        if o["kind"] != "county" and (scope_codes is None or o["code"] in scope_codes)
        and o["code"] != form.township.data]
    form.validate()
    org_codes = None
    if form.org.data:
        org_codes = {form.org.data}
    elif scope_codes is not None:
        org_codes = scope_codes
    if (form.township.data and form.township.data not in orgs) or (
            form.org.data and form.org.data not in orgs):
        org_codes = set()
    query = {"org_codes": org_codes,
             "date_from": None if form.date_from.errors else form.date_from.data,
             "date_to": None if form.date_to.errors else form.date_to.data}
    return form, query


@bp.route("/forms/<form_id>/submissions")
def submissions(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    orgs = orgs_by_code(store)
    filter_form, query = _filters(orgs)
    per_page = current_app.config["SUBMISSIONS_PER_PAGE"]
    page = max(request.args.get("page", 1, type=int), 1)
    total, docs = store.query_submissions(form_id, offset=(page - 1) * per_page, limit=per_page,
                                          **query)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    counts = store.submission_counts(form_id, query["date_from"], query["date_to"])
    expected = [o for o in orgs.values() if o["kind"] in ("village", "unit")
                and (query["org_codes"] is None or o["code"] in query["org_codes"])]
    missing = sorted((o for o in expected if o["code"] not in counts), key=lambda o: o["code"])
    columns = {d["org_code"]: org_tree.path_columns(
        org_tree.org_path(orgs, d["org_code"]) or [d["org_code"]],
        orgs.get(d["org_code"], {}).get("kind")) for d in docs}
    return render_template("admin/submissions.html", form_doc=form_doc, docs=docs, total=total,
                           page=page, pages=max((total + per_page - 1) // per_page, 1),
                           filter_form=filter_form, args=args, columns=columns,
                           expected=len(expected), missing=missing,
                           paths={o["code"]: org_tree.org_path(orgs, o["code"]) for o in missing})


@bp.route("/submissions/<receipt>")
def submission_detail(receipt):
    store = get_store()
    doc = store.get_submission(receipt)
    if doc is None:
        abort(404)
    form_doc = get_form_or_404(doc["form_id"], doc["form_version"])
    orgs = orgs_by_code(store)
    return render_template("admin/submission.html", doc=doc, form_doc=form_doc,
                           rows=display_rows(form_doc["schema"], doc["answers"]),
                           path=org_tree.org_path(orgs, doc["org_code"]) or [doc["org_code"]])


@bp.route("/uploads/<path:name>")
def photo(name):
    photo = get_store().get_photo(name)
    if photo is None:
        abort(404)
    return current_app.response_class(photo["data"], mimetype=photo["content_type"],
                                      headers={"Cache-Control": "private, max-age=3600"})


def export_submissions(store, form_id, fmt, out, **query):
    """Write the (filtered) submissions of a form to out as xlsx or csv. Shared with the CLI."""
    orgs = orgs_by_code(store)
    # Oldest first (a ledger reads that way), decoded one at a time: memory stays flat.
    count, docs = store.iter_submissions(form_id, **query)
    used = store.submission_versions(form_id)
    versions = [v["schema"] for v in reversed(store.form_versions(form_id))]
    schema = exports.merge_versions(
        [versions[0]] + [s for s in versions[1:] if s["version"] in used])
    writer = exports.submissions_to_xlsx if fmt == "xlsx" else exports.submissions_to_csv
    writer(schema, docs, org_tree.org_paths(orgs), out,
           org_kinds={code: org["kind"] for code, org in orgs.items()})
    return count


@bp.route("/forms/<form_id>/export.<fmt>")
def export(form_id, fmt):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    store = get_store()
    form_doc = get_form_or_404(form_id)
    _form, query = _filters(orgs_by_code(store))
    fd, path = tempfile.mkstemp(suffix="." + fmt, dir=current_app.config["DATA_DIR"],
                                prefix=".export-")
    os.close(fd)
    try:
        export_submissions(store, form_id, fmt, path, **query)
        stream = open(path, "rb")
    finally:
        os.unlink(path)  # the open stream keeps the data until the response is sent
    name = f"{form_doc['schema']['title']}.{fmt}"
    mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if fmt == "xlsx" else "text/csv; charset=utf-8")
    disposition = f"attachment; filename=export.{fmt}; filename*=UTF-8''{quote(name)}"
    return current_app.response_class(_chunks(stream), mimetype=mimetype,
                                      headers={"Content-Disposition": disposition})


def _chunks(stream, size=256 * 1024):
    """Yield a file in chunks and close it when done (or when the client goes away)."""
    with stream:
        while chunk := stream.read(size):
            yield chunk
