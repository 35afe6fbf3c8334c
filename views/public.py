"""Public entry: the QR-code capability links that village cadres open in WeChat."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

import orgs as org_tree
import storage
import uploads
from forms.builder import build_form_class, collect_answers, new_submission_id
from views.web import get_store, orgs_by_code, uploads_dir

bp = Blueprint("public", __name__)


def _resolve(token):
    """The active link, its form (latest version) and its organization, or 404."""
    store = get_store()
    link = store.get_link(token)
    if link is None or link.get("revoked_at"):
        abort(404)
    form_doc = store.get_form(link["form_id"])
    orgs = orgs_by_code(store)
    if form_doc is None or link["org_code"] not in orgs:
        abort(404)
    code = link["org_code"]
    return link, form_doc["schema"], orgs[code], org_tree.org_path(orgs, code)


@bp.route("/")
def index():
    return redirect(url_for("admin.dashboard"))


@bp.route("/f/<token>", methods=["GET", "POST"])
def entry(token):
    link, schema, org, path = _resolve(token)
    form = build_form_class(schema)()
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
    elif form.validate_on_submit():
        answers, files = collect_answers(form, schema)
        try:
            for name, file_storage in files.items():
                answers[name] = uploads.save_photo(uploads_dir(current_app), file_storage)
        except OSError as e:
            raise storage.StorageError(f"photo write failed: {e}") from e
        doc, _created = get_store().add_submission(
            form_id=schema["id"], form_version=schema["version"], org_code=org["code"],
            answers=answers, submission_id=form.submission_id.data, token=token)
        return redirect(url_for("public.receipt", token=token, receipt=doc["receipt"]), 303)
    status = 422 if request.method == "POST" else 200
    response = current_app.make_response((render_template(
        "public/form.html", form=form, schema=schema, org=org, org_path=path), status))
    # Each page load carries its own submission id: no cache may hand the same page (and id)
    # to a second load.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/f/<token>/r/<receipt>")
def receipt(token, receipt):
    link, schema, org, path = _resolve(token)
    doc = get_store().get_submission(receipt)
    if doc is None or doc["form_id"] != link["form_id"] or doc["org_code"] != link["org_code"]:
        abort(404)
    return render_template("public/receipt.html", submission=doc, schema=schema, org=org,
                           org_path=path, token=token)
