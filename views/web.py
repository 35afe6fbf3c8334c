"""Small helpers the views share."""
from flask import abort, current_app

from db import get_store
from services import links


def entry_url(token, app=None):
    """The public capability URL of a link token, on the configured BASE_URL."""
    return links.entry_url((app or current_app).config["BASE_URL"], token)


def get_form_or_404(form_id, version=None):
    form = get_store().get_form(form_id, version)
    if form is None:
        abort(404)
    return form


def send_bytes(data, mimetype, filename=None, **headers):
    """A response with ``data``; as an attachment when filename is given."""
    response = current_app.response_class(data, mimetype=mimetype, headers=headers)
    if filename:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
