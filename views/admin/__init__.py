"""Admin pages (login required), one module per area: forms, orgs, links, submissions.

They share the blueprint ``bp`` (endpoints ``admin.<view>``). Views only parse the request,
call the services and render.
"""
from flask import Blueprint
from flask_login import login_required

from services.orgs import KIND_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_login():
    """Every admin page is behind login (the decorator returns the redirect for anonymous users)."""


@bp.context_processor
def labels():
    return {"kind_labels": KIND_LABELS}


from views.admin import audit, builder, forms, links, orgs, submissions  # noqa: E402,F401  (the views)
