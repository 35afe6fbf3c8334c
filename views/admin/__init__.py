"""Admin pages (login required), one module per area: forms, builder, orgs, links, submissions,
audit, users, tokens, 群众诉求 (demands).

They share the blueprint ``bp`` (endpoints ``admin.<view>``). Views only parse the request,
call the services and render. Who may open which page is checked here, once, before every
request (services.access.ENDPOINT_ACTIONS; a page not listed there is for admins only); a view
then checks each record it shows against the user's scope (404 outside it).
"""
from flask import Blueprint, abort, request
from flask_login import current_user, login_required

from services import access
from services.orgs import KIND_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_login():
    """Every admin page is behind login (the decorator returns the redirect for anonymous
    users), and a role that may not use a page gets 403 (a Chinese page)."""
    if not access.may_open(current_user, request.endpoint):
        abort(403)


@bp.context_processor
def labels():
    return {"kind_labels": KIND_LABELS, "role_label": access.role_label}


@bp.app_context_processor
def permissions():
    """For every template (the navigation is on error pages too): ``may_open(endpoint)`` and
    ``may(action)`` for the logged-in user."""
    return {"may_open": lambda endpoint: access.may_open(current_user, endpoint),
            "may": lambda action: access.may(current_user, action)}


from views.admin import (audit, builder, forms, links, orgs, submissions,  # noqa: E402,F401
                         tokens, users, review, projects, reporting, dashboard, demands,
                         scoring, summary)
