"""Admin: the county 汇总表 (GET /admin/summary.xlsx?year=&township=) — services.summary's
workbook of the year for what the user may see: the county for an admin, its township for a
township's reviewer or viewer (services.access decides). A township out of scope is a 404."""
from io import BytesIO
from urllib.parse import quote

from flask import abort, current_app, request
from flask_login import current_user

from db import get_store
from services import access
from services import summary as summary_service
from services.orgs import org_index
from services.reporting import today_local
from views.admin import bp
from views.web import audit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YEARS = range(2000, 2101)  # what a form's period may name (services.periods)


@bp.route("/summary.xlsx")
def summary():
    store = get_store()
    index = org_index(store)
    today = today_local()
    year = request.args.get("year", type=int) or today.year
    township = request.args.get("township") or None
    if year not in YEARS:
        abort(404)
    if township is not None and (township not in index
                                 or not access.may_see_org(current_user, index, township)):
        abort(404)
    org_codes = access.restrict(current_user, index,
                                index.below(township) if township else None)
    name = f"汇总表-{index.get(township)['name'] + '-' if township else ''}{year}.xlsx"
    disposition = f"attachment; filename=summary-{year}.xlsx; filename*=UTF-8''{quote(name)}"
    if request.method == "HEAD":  # a link checker: no workbook, nothing to audit
        return current_app.response_class(content_type=XLSX,
                                          headers={"Content-Disposition": disposition})
    out = BytesIO()
    written = summary_service.summary_workbook(store, year, org_codes, today, out, index=index)
    audit("export", target="汇总表", detail={
        "kind": "汇总表", "year": year, "projects": written["projects"],
        "filters": {"township": township} if township else {}})
    return current_app.response_class(out.getvalue(), content_type=XLSX,
                                      headers={"Content-Disposition": disposition})
