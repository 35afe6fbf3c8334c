"""Admin: the dashboard (统计, /admin/dashboard) — the figures of services.dashboard for the
county or one township and a year, each panel a chart (static/js/dashboard.js with the
vendored Chart.js) and its numbers in a table beside it. An area the user may not see is a
404 (services.dashboard.OutOfScope: services.access decides)."""
from flask import abort, render_template, request
from flask_login import current_user

from db import get_store
from services import dashboard as dashboard_service
from services.orgs import org_index
from services.reporting import today_local
from views.admin import bp

FIRST_YEAR = 2000  # a year asked for by the URL before this (or after this year) shows this year


@bp.route("/dashboard")
def stats():
    store = get_store()
    index = org_index(store)
    today = today_local()
    year = request.args.get("year", type=int)
    if year is None or not FIRST_YEAR <= year <= today.year:
        year = today.year
    try:
        data = dashboard_service.dashboard(store, index, current_user, year,
                                           request.args.get("org") or None, today)
    except dashboard_service.OutOfScope:
        abort(404)
    return render_template("admin/stats.html", data=data,
                           years=dashboard_service.years(today, year),
                           areas=dashboard_service.areas(index, current_user))


@bp.app_template_filter("dash_number")
def dash_number(value):
    """A dashboard figure as the table shows it: — for None, one decimal for a float."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
