"""Admin: 催报 of a form — who has reported for a period and who has not (with the secretary's
contact and the QR link to resend), the organizations × months matrix, the missing list as
Excel. Everything is narrowed to the user's scope (services.access.restrict); the rules are
services.reporting's."""
from io import BytesIO
from urllib.parse import quote

from flask import abort, current_app, render_template, request
from flask_login import current_user

from db import get_store
from services import access, periods
from services import reporting as reporting_service
from services.orgs import org_index
from views.admin import bp
from views.web import audit, entry_url, get_form_or_404, send_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope(index):
    """(township code or "", the organization codes to cover): the township filter, within
    what the current user may see; 404 for an unknown township or one out of scope."""
    township = request.args.get("township", "")
    if township:
        org = index.get(township)
        if org is None or org["kind"] != "township" \
                or not access.may_see_org(current_user, index, township):
            abort(404)
    codes = index.below(township) if township else None
    return township, access.restrict(current_user, index, codes)


def _townships(index):
    visible = access.visible_orgs(current_user, index)
    return [t for t in index.townships() if visible is None or t["code"] in visible]


def _period(schema, today):
    """(the period asked for, or the default one; the Chinese reason an asked one was refused,
    or None)."""
    default = reporting_service.default_period(schema, today)
    asked = request.args.get("period", "").strip()
    spec = periods.period_spec(schema)
    if not asked or spec is None or spec.every == periods.ONCE:
        return default, None
    problem = periods.period_problem(spec, asked, today)
    return (default, problem) if problem else (asked, None)


def _status(store, index, schema, today):
    township, org_codes = _scope(index)
    period, problem = _period(schema, today)
    status = reporting_service.form_status(store, index, schema, period, org_codes, today)
    return township, status, problem


def _choices(schema, today, current):
    """(period, its Chinese name) to pick from, newest first, the period shown among them."""
    found = reporting_service.period_choices(schema, today)
    if current is not None and current != periods.ONCE and current not in found:
        found = sorted(found + [current], reverse=True)
    return [(p, periods.period_label(p)) for p in found]


def _default_note(schema, today):
    """How the page picked its period when none was asked for (shown under the title)."""
    spec = periods.period_spec(schema)
    if spec is None:
        return "此表单没有报告周期：提交过一次(未作废)即算已报。"
    if spec.every == "month":
        return (f"每月 {spec.due_day} 日前报上月。未选月份时：{spec.due_day} 日(含)之前显示上月，"
                "之后显示本月。")
    if spec.every == "year":
        return "每年一报。未选年份时显示今年。"
    return "一次性填报。"


def _form_page(form_id):
    """(store, form version, schema, organization index, today) of a 催报 page of a form."""
    store = get_store()
    form_doc = get_form_or_404(form_id)
    return (store, form_doc, form_doc["schema"], org_index(store),
            reporting_service.today_local())


@bp.route("/forms/<form_id>/reporting")
def reporting(form_id):
    store, form_doc, schema, index, today = _form_page(form_id)
    township, status, problem = _status(store, index, schema, today)
    spec = periods.period_spec(schema)
    # A QR link lets anyone fill the form for its organization: shown to whom may hand them
    # out (services.access "links"), not to every role that may chase.
    may_links = access.may(current_user, "links")
    # The page's links (export, roll-up) name the period shown, so the Excel is what was seen.
    args = {k: v for k, v in (("period", status["period"] if status["period"] != periods.ONCE
                               else None), ("township", township)) if v}
    return render_template(
        "admin/reporting.html", form_doc=form_doc, status=status,
        missing=reporting_service.missing(status),
        reported=[o for o in status["orgs"] if o["state"] in reporting_service.REPORTED],
        choices=_choices(schema, today, status["period"]), problem=problem,
        note=_default_note(schema, today), monthly=spec is not None and spec.every == "month",
        townships=_townships(index), township=township, args=args,
        urls={o["code"]: entry_url(o["link_token"]) for o in status["orgs"]
              if o["link_token"] and may_links},
        may_links=may_links), 422 if problem else 200


@bp.route("/forms/<form_id>/reporting/matrix")
def reporting_matrix(form_id):
    store, form_doc, schema, index, today = _form_page(form_id)
    spec = periods.period_spec(schema)
    township, org_codes = _scope(index)
    if spec is None:
        years = []
    elif spec.year is not None:
        years = [spec.year]
    else:
        years = list(range(today.year, today.year - 5, -1))
    year = request.args.get("year", type=int)
    if year not in years:
        year = years[0] if years else today.year
    table = reporting_service.matrix(store, index, schema, year, org_codes, today) \
        if spec is not None else None
    return render_template("admin/reporting_matrix.html", form_doc=form_doc, table=table,
                           year=year, years=years, townships=_townships(index),
                           township=township, today=today)


@bp.route("/forms/<form_id>/reporting/missing.xlsx")
def reporting_export(form_id):
    store, form_doc, schema, index, today = _form_page(form_id)
    township, status, problem = _status(store, index, schema, today)
    if problem:
        abort(400)  # a link of the page never asks for a refused period
    out = BytesIO()
    base_url = current_app.config["BASE_URL"] if access.may(current_user, "links") else None
    count = reporting_service.missing_to_xlsx(status, out, base_url,
                                              title=schema.get("title", ""))
    audit("export", target=form_id, detail={
        "format": "xlsx", "list": "催报名单", "rows": count, "period": status["period"],
        "filters": {"township": township} if township else {}})
    name = f"催报名单-{schema.get('title', form_id)}-{status['period_label'] or today.isoformat()}.xlsx"
    response = send_bytes(out.getvalue(), XLSX)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=missing.xlsx; filename*=UTF-8''{quote(name)}")
    return response
