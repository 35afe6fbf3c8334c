"""Public entry: the QR-code capability links that village cadres open in WeChat."""
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

import db
from db import get_store
from forms.builder import build_form_class, new_submission_id
from services import submissions as submission_service
from services.orgs import org_index

bp = Blueprint("public", __name__)


def _form_entry(store, form_id):
    """(schema, form class) of the latest version of a form, or None."""
    form_doc = store.get_form(form_id)
    if form_doc is None:
        return None
    return form_doc["schema"], build_form_class(form_doc["schema"])


def _resolve(token):
    """The active link, its form (latest version) with its form class, its organization and
    the organization's path, or 404.

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
    schema, form_class = form_entry
    return link, schema, form_class, index.get(code), index.path(code)


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
        doc, _created = submission_service.submit(get_store(), schema, org["code"], token, form)
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
