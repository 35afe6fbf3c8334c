"""Small helpers the views share."""
from flask import abort, current_app, request
from flask_login import current_user

from db import get_store
from services import audit as audit_service
from services import links


def entry_url(token, app=None):
    """The public capability URL of a link token, on the configured BASE_URL."""
    return links.entry_url((app or current_app).config["BASE_URL"], token)


def get_form_or_404(form_id, version=None):
    form = get_store().get_form(form_id, version)
    if form is None:
        abort(404)
    return form


def audit(action, target="", detail=None, user=None):
    """Record an action in the audit log (services.audit.record): by ``user``, else the
    logged-in user, from the client's address (after ProxyFix)."""
    if user is None and current_user.is_authenticated:
        user = current_user.username
    return audit_service.record(get_store(), action, user, target, detail, request.remote_addr)


def send_bytes(data, mimetype, filename=None, **headers):
    """A response with ``data``; as an attachment when filename is given."""
    response = current_app.response_class(data, mimetype=mimetype, headers=headers)
    if filename:
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
