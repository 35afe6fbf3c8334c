"""Admin: submissions of a form (filtered list, 催报, detail, photos, XLSX/CSV export)."""
from urllib.parse import quote

from flask import abort, current_app, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from db import get_store
from forms.builder import display_rows
from services import access
from services import submissions as submission_service
from services.orgs import org_index
from storage.common import REVIEW_STATUSES
from views.admin import bp
from views.web import audit, get_form_or_404

ALL = "all"
EXPORT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "csv": "text/csv; charset=utf-8", "zip": "application/zip"}


class FilterForm(FlaskForm):
    """The submissions filter; GET parameters, so no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    township = SelectField("乡镇", choices=[], validate_choice=False)
    org = SelectField("村/单位", choices=[], validate_choice=False)
    date_from = DateField("开始日期", validators=[Optional()])
    date_to = DateField("结束日期", validators=[Optional()])
    status = SelectField("审核状态", choices=[
        SelectChoice("", "全部(不含已作废)"), *(SelectChoice(s, s) for s in REVIEW_STATUSES),
        SelectChoice(ALL, "全部(含已作废)")], validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("结束日期不能早于开始日期")


def _filters(index):
    """Parse the filter query string; (form, query kwargs for the store), the organizations
    narrowed to what the current user may see."""
    form = FilterForm(formdata=request.args)
    visible = access.visible_orgs(current_user, index)  # the choices: only what one may see
    form.township.choices = [SelectChoice("", "全部乡镇")] + [
        SelectChoice(o["code"], o["name"]) for o in index.townships()
        if visible is None or o["code"] in visible]
    township = form.township.data
    in_township = index.below(township) if township in index else None
    form.org.choices = [SelectChoice("", "全部")] + [
        SelectChoice(o["code"], o["name"]) for o in sorted(index.orgs, key=lambda o: o["code"])
        if o["kind"] != "county" and (in_township is None or o["code"] in in_township)
        and o["code"] != township and (visible is None or o["code"] in visible)]
    form.validate()
    org_codes = submission_service.org_scope(index, township, form.org.data)
    status = None if form.status.errors else form.status.data
    query = {"org_codes": access.restrict(current_user, index, org_codes),
             "date_from": None if form.date_from.errors else form.date_from.data,
             "date_to": None if form.date_to.errors else form.date_to.data,
             # voided submissions (duplicates, mistakes) are left out unless asked for
             "statuses": REVIEW_STATUSES if status == ALL else (status,) if status
             else submission_service.export_statuses()}
    return form, query


@bp.route("/forms/<form_id>/submissions")
def submissions(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    index = org_index(store)
    filter_form, query = _filters(index)
    per_page = current_app.config["SUBMISSIONS_PER_PAGE"]
    page = max(request.args.get("page", 1, type=int), 1)
    total, docs = store.query_submissions(form_id, offset=(page - 1) * per_page, limit=per_page,
                                          **query)
    expected, missing = submission_service.reporting_status(
        store, index, form_id, query["org_codes"], query["date_from"], query["date_to"])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/submissions.html", form_doc=form_doc, docs=docs, total=total,
                           page=page, pages=max((total + per_page - 1) // per_page, 1),
                           filter_form=filter_form, args=args,
                           columns={d["org_code"]: index.columns(d["org_code"]) for d in docs},
                           expected=len(expected), missing=missing,
                           paths={o["code"]: index.path(o["code"]) for o in missing})


@bp.route("/submissions/<receipt>")
def submission_detail(receipt):
    store = get_store()
    doc = store.get_submission(receipt)
    index = org_index(store)
    if doc is None or not access.may_see_org(current_user, index, doc["org_code"]):
        abort(404)
    form_doc = get_form_or_404(doc["form_id"], doc["form_version"])
    from views.admin.review import detail_context

    return render_template("admin/submission.html", doc=doc, form_doc=form_doc,
                           rows=display_rows(form_doc["schema"], doc["answers"]),
                           path=index.path(doc["org_code"]) or [doc["org_code"]],
                           **detail_context(store, doc, form_doc["schema"], index))


@bp.route("/uploads/<path:name>")
def photo(name):
    """A stored photo. A user who does not see every organization asks for it as a photo of
    one submission (?receipt=): 404 unless that submission is in their scope and names it."""
    store = get_store()
    index = org_index(store)
    if access.visible_orgs(current_user, index) is not None:
        receipt = request.args.get("receipt")
        doc = store.get_submission(receipt) if receipt else None
        if doc is None or not access.may_see_org(current_user, index, doc["org_code"]) \
                or name not in _photo_names(doc):
            abort(404)
    photo = store.get_photo(name)
    if photo is None:
        abort(404)
    return current_app.response_class(photo["data"], mimetype=photo["content_type"],
                                      headers={"Cache-Control": "private, max-age=3600"})


def _photo_names(doc):
    """The photos a submission refers to, in its answers now or in an earlier version."""
    names = set(doc.get("files") or ())
    for version in doc.get("versions") or ():
        names.update(version.get("files") or ())
    return names


@bp.route("/forms/<form_id>/export.<fmt>")
def export(form_id, fmt):
    """export.xlsx, export.csv, export.zip (one CSV per sheet). export.csv of a form with repeat
    fields answers the zip (application/zip, a .zip name): one CSV would drop their rows."""
    if fmt not in EXPORT_TYPES:
        abort(404)
    store = get_store()
    form_doc = get_form_or_404(form_id)
    index = org_index(store)
    _form, query = _filters(index)
    fmt = submission_service.export_format(store, form_id, fmt)
    name = f"{form_doc['schema']['title']}.{fmt}"
    disposition = f"attachment; filename=export.{fmt}; filename*=UTF-8''{quote(name)}"
    if request.method == "HEAD":  # a link checker or `curl -I`: no export, nothing to audit
        return current_app.response_class(content_type=EXPORT_TYPES[fmt],
                                          headers={"Content-Disposition": disposition})
    # Written to a temp file first: a failure (disk full...) is a 503 page, never half a file.
    count, stream = submission_service.export_to_temp_file(
        store, index, form_id, fmt, current_app.config["DATA_DIR"], **query)
    audit("export", target=form_id, detail={
        "format": fmt, "rows": count,
        "filters": {key: request.args[key]
                    for key in ("township", "org", "date_from", "date_to", "status")
                    if request.args.get(key)}})
    return current_app.response_class(_chunks(stream), content_type=EXPORT_TYPES[fmt],
                                      headers={"Content-Disposition": disposition})


def _chunks(stream, size=256 * 1024):
    """Yield a file in chunks and close it when done (or when the client goes away)."""
    with stream:
        while chunk := stream.read(size):
            yield chunk
