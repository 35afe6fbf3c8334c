"""Public entry: the QR-code capability links that village cadres open in WeChat."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

import orgs as org_tree
import storage
from forms.builder import build_form_class, collect_answers, new_submission_id
from views.web import get_store, orgs_by_code, store_cached

bp = Blueprint("public", __name__)


def _form_entry(store, form_id):
    """(schema, form class) of the latest version of a form, or None."""
    form_doc = store.get_form(form_id)
    if form_doc is None:
        return None
    return form_doc["schema"], build_form_class(form_doc["schema"])


def _org_entry(store, code):
    """(org, org path) of an organization, or None."""
    orgs = orgs_by_code(store)
    if code not in orgs:
        return None
    return orgs[code], org_tree.org_path(orgs, code)


def _resolve(token):
    """The active link, its form (latest version) with its form class, its organization and
    the organization's path, or 404.

    Every request of a village's link needs the same form and organization: they are built
    once per process and reused until the forms or organizations change (get_link has just
    caught up with the file, so a change by any process is seen). They are shared: read only.
    """
    store = get_store()
    link = store.get_link(token)
    if link is None or link.get("revoked_at"):
        abort(404)
    form_id, code = link["form_id"], link["org_code"]
    form_entry = store_cached(store, storage.FORMS, form_id,
                              lambda: _form_entry(store, form_id))
    org_entry = store_cached(store, storage.ORGS, code, lambda: _org_entry(store, code))
    if form_entry is None or org_entry is None:
        abort(404)
    (schema, form_class), (org, path) = form_entry, org_entry
    return link, schema, form_class, org, path


@bp.route("/")
def index():
    return redirect(url_for("admin.dashboard"))


@bp.route("/f/<token>", methods=["GET", "POST"])
def entry(token):
    link, schema, form_class, org, path = _resolve(token)
    form = form_class()
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
    elif form.validate_on_submit():
        store = get_store()
        answers, files = collect_answers(form, schema)
        for name, file_storage in files.items():
            file_storage.stream.seek(0)
            answers[name]["file"] = store.put_photo(file_storage.stream.read(),
                                                    answers[name]["content_type"])
        doc, _created = store.add_submission(
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
    link, schema, _form_class, org, path = _resolve(token)
    doc = get_store().get_submission(receipt)
    if doc is None or doc["form_id"] != link["form_id"] or doc["org_code"] != link["org_code"]:
        abort(404)
    return render_template("public/receipt.html", submission=doc, schema=schema, org=org,
                           org_path=path, token=token)
