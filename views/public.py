"""Public entry: the QR-code capability links that village cadres open in WeChat."""
from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request,
                   url_for)
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

import db
from db import get_store
from forms.builder import (build_form_class, collect_answers, display_rows, error_map,
                           new_submission_id, set_project_choices)
from forms.fields import field_type
from services import demands, formdefs, periods, photos, projects, receipts, review
from services import submissions as submission_service
from services.orgs import org_index
from storage import SubmissionConflict, common
from storage.errors import PeriodTaken, RecordChanged

bp = Blueprint("public", __name__)


CLOSED_TITLE = "已停止收集"
CLOSED_MESSAGE = "本表单已停止收集，不再接受填报。如有疑问，请联系乡镇党委或县委组织部。"


def _form_entry(store, form_id):
    """(schema, form class, closed) of the latest version of a form, or None. Closing a form
    changes the "forms" table, so the cached entry follows it."""
    form_doc = store.get_form(form_id)
    if form_doc is None:
        return None
    return (form_doc["schema"], build_form_class(form_doc["schema"]),
            formdefs.is_closed(store, form_id))


def _resolve(token):
    """The active link, its form (latest version) with its form class, its organization and
    the organization's path, or 404; 410 for the form page and photo upload of a closed form.

    Every request of a village's link needs the same form and organization: they are built
    once per process and reused until a form or an organization changes (on any worker or
    host: db.cached keys on Store.version_of). They are shared: read only."""
    store = get_store()
    link = store.get_link(token)
    if link is None or link.get("revoked_at"):
        abort(404)
    form_id, code = link["form_id"], link["org_code"]
    form_entry = db.cached("forms", form_id, lambda: _form_entry(store, form_id))
    index = org_index(store)
    if form_entry is None or code not in index:
        abort(404)
    schema, form_class, closed = form_entry
    if closed and request.endpoint in ("public.entry", "public.photo_upload"):
        abort(410)  # receipts of a closed form stay readable
    return link, schema, form_class, index.get(code), index.path(code)


@bp.errorhandler(410)
def closed_form(_error):
    """A closed form's QR link: 410 with 已停止收集, nothing shown to fill or accepted (JSON for
    the page's own script, which shows the message and does not retry a 410)."""
    if wants_json():
        return jsonify(error=CLOSED_MESSAGE), 410
    response = current_app.make_response((render_template(
        "error.html", code=410, title=CLOSED_TITLE, message=CLOSED_MESSAGE), 410))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/")
def index():
    return redirect(url_for("admin.dashboard"))


def wants_json():
    """The page's own script submits with fetch and asks for JSON: errors go beside the fields
    without reloading the page (and the answers on the phone stay as they are)."""
    return request.accept_mimetypes.best == "application/json"


def _served_version(store, schema, form_class):
    """(schema, form class) of the version the page being sent was served with (its hidden
    form_version): a page open on a phone while the admin published a new version still
    submits against its own. The latest one when the page says none, or names none stored."""
    version = request.form.get("form_version", type=int)
    if request.method != "POST" or version in (None, schema["version"]):
        return schema, form_class
    form_id = schema["id"]
    older = db.cached("forms", (form_id, version), lambda: store.get_form(form_id, version))
    if older is None:
        return schema, form_class
    return older["schema"], build_form_class(older["schema"])


@bp.route("/f/<token>", methods=["GET", "POST"])
def entry(token):
    link, schema, form_class, org, path = _resolve(token)
    store = get_store()
    schema, form_class = _served_version(store, schema, form_class)
    if "audience" in schema and not periods.in_audience(schema, org):
        # A link made before the form named who must fill it: this organization is not one.
        message = "本表不需要本村（单位）填写。如有疑问，请联系乡镇党委或县委组织部。"
        if wants_json():
            return jsonify(error=message), 403
        return render_template("error.html", code=403, title="无需填写", message=message), 403
    form = form_class()
    form.photo_scope = photos.scope(schema["id"], org["code"])
    choices = projects.choices_for(store, schema, org["code"])
    set_project_choices(form, choices)
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
    elif form.validate_on_submit():
        try:
            doc, _created = submission_service.submit(store, schema, org["code"], token, form)
        except (PeriodTaken, projects.ProjectError) as exc:
            return _refused(form, schema, org, path, exc)
        except SubmissionConflict:
            if not wants_json():
                raise
            # This fill was stored before with other answers (its receipt was lost on the
            # way, and the cadre changed something since): say where the stored one is.
            doc = store.find_submission(form.submission_id.data)
            if doc is None or (doc["form_id"], doc["org_code"]) != (schema["id"], org["code"]):
                doc = None  # an id of another form or village: say nothing of it
            return jsonify(error="这份填报此前已经提交过（内容与现在不同），修改后的内容没有提交。",
                           receipt=doc and doc["receipt"], url=doc and receipt_url(doc)), 409
        url = receipt_url(doc)
        if wants_json():
            return jsonify(receipt=doc["receipt"], url=url)
        return redirect(url, 303)
    else:
        submission_service.keep_photos(store, form, schema)
        if wants_json():
            return _invalid(form)
    status = 422 if request.method == "POST" else 200
    response = current_app.make_response((render_template(
        "public/form.html", form=form, schema=schema, org=org, org_path=path,
        no_projects=bool(projects.project_field(schema)) and not choices), status))
    # Each page load carries its own submission id: no cache may hand the same page (and id)
    # to a second load.
    response.headers["Cache-Control"] = "no-store"
    return response


class PhotoUpload(FlaskForm):
    """A photo sent on its own when it is picked: the same check as the form's photo fields."""

    photo = field_type("image").make_field({"label": "照片", "required": True})


@bp.route("/f/<token>/photo", methods=["POST"])
def photo_upload(token):
    """Store a photo the page uploads as soon as it is picked; answers its signed reference,
    which the form then sends in place of the file."""
    _link, schema, _form_class, org, _path = _resolve(token)
    return _store_upload(photos.scope(schema["id"], org["code"]))


def _store_upload(scope):
    """Check and store the photo a page sent on its own; its signed reference for ``scope``
    (JSON, 201), or the reason it was refused (422)."""
    form = PhotoUpload()
    if not isinstance(form.photo.data, FileStorage):
        form.photo.data = None  # a reference is no upload: "请上传照片"
    if not form.validate_on_submit():
        errors = error_map(form)
        message = (errors.get("photo") or next(iter(errors.values()), ["照片上传失败"]))[0]
        return jsonify(error=message), 422
    answer = photos.store_field(get_store(), form.photo)
    return jsonify(ref=photos.make_ref(answer, scope), name=answer["name"],
                   size=answer["size"]), 201


def _invalid(form):
    """The page's own script sent answers that do not validate: the errors by field (JSON)."""
    errors = error_map(form)
    return jsonify(errors=errors, message=f"有 {len(errors)} 处需要修改，请查看标红的项目。"), 422


def _refused(form, schema, org, path, exc):
    """A valid fill the lifecycle refuses (this period already reported, a project that is not
    the village's): the reason beside the field it concerns, nothing stored."""
    field = projects.project_field(schema) if isinstance(exc, projects.ProjectError) else None
    if field is None and isinstance(exc, PeriodTaken):
        spec = periods.period_spec(schema)
        field = spec.field if spec else None
    message = str(exc)
    if isinstance(exc, PeriodTaken):
        message = (f"本期已经提交过（回执编号 {exc.receipt}），不能重复提交。如需修改，请打开当时的"
                   f"回执链接查看，或请乡镇审核员“退回修改”后按回执链接更正。")
    if field and field in form._fields:
        form[field].errors = [*form[field].errors, message]
    if wants_json():
        return jsonify(errors={field: [message]} if field else {}, message=message,
                       receipt=getattr(exc, "receipt", None)), 422
    response = current_app.make_response((render_template(
        "public/form.html", form=form, schema=schema, org=org, org_path=path,
        refusal=message), 422))
    response.headers["Cache-Control"] = "no-store"
    return response


def receipt_url(doc):
    """The private receipt link of a submission (a capability URL, like the QR link)."""
    return url_for("public.receipt_private", receipt=doc["receipt"], key=receipts.key(doc))


@bp.route("/r/<key>/<receipt>")
def receipt_private(key, receipt):
    """What a cadre submitted, again, from the private link the receipt page gave."""
    store = get_store()
    doc = store.get_submission(receipt)
    if doc is None or not receipts.key_matches(doc, key):
        abort(404)
    form_doc = store.get_form(doc["form_id"], doc["form_version"])
    index = org_index(store)
    if form_doc is None:
        abort(404)
    return render_template(
        "public/receipt.html", submission=doc, schema=form_doc["schema"],
        org_path=index.path(doc["org_code"]) or [doc["org_code"]], token=doc.get("token"),
        rows=display_rows(form_doc["schema"], doc["answers"]),
        link_active=False,  # a forwarded receipt link must not open the village's form
        private_url=current_app.config["BASE_URL"].rstrip("/") + request.path,
        returned=_return_note(doc),
        edit_url=url_for("public.correct", key=key, receipt=receipt)
        if doc["status"] == "退回修改" else None,
        not_saved=request.args.get("notice") == "changed",
        project=projects.for_application(store, doc), demand=demands.progress(store, doc))


def _already_sent(store, doc, schema, form):
    """Whether a valid correction page sent again (its answer lost on the way) is what the
    cadre's last correction stored: then it is answered as that success, not as an error."""
    last = doc["history"][-1] if doc["history"] else None
    if last is None or last["action"] != "resubmit":
        return False
    answers, uploads = collect_answers(form, schema)
    if uploads:  # a photo sent as a file is a new photo: not the same correction
        return False
    return common.comparable(answers) == common.comparable(
        review.current_answers(schema, doc["answers"]))


def _return_note(doc):
    """The latest 退回修改 entry of a submission's history (who said what), or None."""
    if doc["status"] != "退回修改":
        return None
    return next((e for e in reversed(doc["history"]) if e["to"] == "退回修改"), None)


@bp.route("/r/<key>/<receipt>/edit", methods=["GET", "POST"])
def correct(key, receipt):
    """A returned submission, reopened for its cadre through the private receipt link: the
    reviewer's comment on top, the answers prefilled; what is sent becomes a new version of
    the same submission (same receipt), 待审核 again."""
    store = get_store()
    doc = store.get_submission(receipt)
    if doc is None or not receipts.key_matches(doc, key):
        abort(404)
    receipt_page = url_for("public.receipt_private", key=key, receipt=receipt)
    if doc["status"] != "退回修改" and request.method == "GET":
        return redirect(receipt_page, 303)
    index = org_index(store)
    form_doc = store.get_form(doc["form_id"])  # the latest version: the form as it is now
    if form_doc is None or doc["org_code"] not in index:
        abort(404)
    schema = form_doc["schema"]
    form_class = build_form_class(schema)
    org = index.get(doc["org_code"])
    answers = review.current_answers(schema, doc["answers"])
    form = form_class() if request.method == "POST" else form_class(data=answers)
    form.photo_scope = photos.scope(schema["id"], org["code"])
    set_project_choices(form, projects.choices_for(store, schema, org["code"],
                                                   doc.get("project_id")))
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
        photos.prefill(form, schema, answers)
    elif form.validate_on_submit():
        try:
            if doc["status"] != "退回修改" and _already_sent(store, doc, schema, form):
                pass  # the page sent it again (its answer was lost): the same success
            else:
                review.resubmit(store, doc, schema, form,
                                revision=request.form.get("revision", type=int))
        except (PeriodTaken, projects.ProjectError) as exc:
            return _refused(form, schema, org, index.path(org["code"]), exc)
        except (RecordChanged, review.ReviewError):
            # Not saved: the reviewer acted since this page was made (approved, voided,
            # corrected it...). Said as such, never as a success.
            message = "您的修改没有保存：这份填报刚被审核人处理过，请查看最新状态。"
            if wants_json():
                return jsonify(error=message, receipt=receipt, url=receipt_page), 409
            return redirect(url_for("public.receipt_private", key=key, receipt=receipt,
                                    notice="changed"), 303)
        if wants_json():
            return jsonify(receipt=receipt, url=receipt_page)
        return redirect(receipt_page, 303)
    elif doc["status"] != "退回修改":
        if wants_json():
            return jsonify(error="这份填报不在“退回修改”状态，不需要修改。", receipt=receipt,
                           url=receipt_page), 409
        return redirect(receipt_page, 303)
    else:
        submission_service.keep_photos(store, form, schema)
        if wants_json():
            return _invalid(form)
    response = current_app.make_response((render_template(
        "public/form.html", form=form, schema=schema, org=org,
        org_path=index.path(org["code"]), returned=_return_note(doc), correcting=doc,
        draft_key=f"fix/{receipt}", photo_url=url_for("public.correct_photo", key=key,
                                                      receipt=receipt)),
        422 if request.method == "POST" else 200))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/r/<key>/<receipt>/photo", methods=["POST"])
def correct_photo(key, receipt):
    """Photo upload of a correction page (as /f/<token>/photo, scoped to the submission)."""
    store = get_store()
    doc = store.get_submission(receipt)
    if doc is None or not receipts.key_matches(doc, key) or doc["status"] != "退回修改":
        abort(404)
    return _store_upload(photos.scope(doc["form_id"], doc["org_code"]))


@bp.route("/f/<token>/r/<receipt>")
def receipt(token, receipt):
    """The receipt page without the answers (receipt numbers are sequential: whoever holds
    a village's link could guess the others'). Pages of old versions linked here."""
    link, schema, _form_class, org, path = _resolve(token)
    doc = get_store().get_submission(receipt)
    if doc is None or doc["form_id"] != link["form_id"] or doc["org_code"] != link["org_code"]:
        abort(404)
    return render_template("public/receipt.html", submission=doc, schema=schema,
                           org_path=path, token=token, rows=None, link_active=True,
                           private_url=None)
