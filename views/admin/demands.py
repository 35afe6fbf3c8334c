"""Admin: 群众诉求 — the list of a demand form's submissions with where each stands (征集 →
研判 → 办结 → 回访), the overdue ones marked, counts and closing rates per township and for the
county on top; a demand's page (its answers, stage, history and the form of the next step);
the steps themselves. The rules are services.demands'; scope is services.access' (a demand
out of scope is 404, a role that may not handle demands gets 403 on a step)."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice

from db import get_store
from forms.builder import display_rows
from forms.fields import FIELD_TYPES, ParsedField
from services import access, demands
from services.orgs import org_index
from services.reporting import today_local
from storage.errors import RecordChanged
from views.admin import bp
from views.web import audit

PER_PAGE = 30
STALE = "已被他人处理，请刷新"
STAGE_CLASSES = {"征集": "collected", "研判": "assessed", "办结": "closed", "回访": "visited"}


def _day(label):
    """A date input; what is typed is parsed like a form's date field (Chinese errors)."""
    return ParsedField(label, parse=FIELD_TYPES["date"].parse, widget=widgets.DateInput())


class AssessForm(FlaskForm):
    revision = HiddenField()
    category = SelectField("诉求类别", choices=[], validate_choice=False)
    owner = SelectField("责任单位", choices=[], validate_choice=False)
    deadline = _day("办结时限")
    comment = TextAreaField("研判意见")


class CloseForm(FlaskForm):
    revision = HiddenField()
    handling = TextAreaField("办理情况")
    closed_on = _day("办结日期")


class VisitForm(FlaskForm):
    revision = HiddenField()
    satisfaction = RadioField("回访结果", choices=[SelectChoice(s, s) for s in demands.SATISFACTION],
                              validate_choice=False)
    visited_on = _day("回访日期")
    note = TextAreaField("回访情况")


class ReopenForm(FlaskForm):
    revision = HiddenField()
    deadline = _day("新的办结时限")
    comment = TextAreaField("重新办理的原因")


FORMS = {"assess": AssessForm, "close": CloseForm, "visit": VisitForm, "reopen": ReopenForm}


# ---------------------------------------------------------------------------- the list

def _townships(index):
    visible = access.visible_orgs(current_user, index)
    return [t for t in index.townships() if visible is None or t["code"] in visible]


@bp.route("/demands", endpoint="demands")
def demands_list():
    store = get_store()
    index = org_index(store)
    today = today_local()
    forms = demands.demand_forms(store)
    if not forms:
        return render_template("admin/demands.html", schema=None, forms=[], items=[],
                               stage_labels=demands.STAGE_LABELS,
                               total=0, rows=[], area=None, townships=[], args={},
                               township="", stage="", overdue=False, page=1, pages=1,
                               today=today)
    form_id = request.args.get("form") or forms[0]["id"]
    schema = next((f for f in forms if f["id"] == form_id), None)
    if schema is None:
        abort(404)
    township = request.args.get("township", "")
    if township:
        org = index.get(township)
        if org is None or org["kind"] != "township" \
                or not access.may_see_org(current_user, index, township):
            abort(404)
    stage = request.args.get("stage", "")
    stage = stage if stage in demands.STAGES else ""
    overdue = request.args.get("overdue") == "1"
    org_codes = access.restrict(current_user, index, index.below(township) if township else None)
    page = max(request.args.get("page", 1, type=int), 1)
    total, items = demands.find(store, schema["id"], org_codes, stage or None, overdue, today,
                                offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    rows = demands.counts(store, org_codes, today, index, form_ids=[schema["id"]])
    if township:  # the township, then its villages and units
        rows = [r for r in rows if r["code"] == township] + \
            [r for r in rows if r["kind"] not in ("county", "township")]
    else:  # the county total (or the account's own area), then each township; an account
        # below a township (a village's) sees its own organizations
        rows = [r for r in rows if r["kind"] in ("county", "township")] or rows
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/demands.html", schema=schema, forms=forms, items=items, total=total, rows=rows,
        townships=_townships(index), township=township, stage=stage, overdue=overdue,
        page=page, pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), args=args, today=today,
        columns={i["doc"]["org_code"]: index.columns(i["doc"]["org_code"]) for i in items},
        owners={i["case"]["owner"]: _org_name(index, i["case"]) for i in items if i["case"]},
        stage_classes=STAGE_CLASSES, stage_labels=demands.STAGE_LABELS,
        rate_text=demands.rate_text)


def _org_name(index, case):
    org = index.get(case.get("owner"))
    return org["name"] if org else case.get("owner_name") or case.get("owner") or ""


# ---------------------------------------------------------------------------- one demand

def _visible(store, index, receipt):
    try:
        return demands.visible_demand(store, current_user, index, receipt)
    except LookupError:
        abort(404)


def _step_forms(doc, schema, case, index, today, posted=None):
    """The form of each step the current user may take now, prefilled; ``posted``: (step,
    the form as sent), shown instead of a fresh one."""
    revision = case["revision"] if case else 0
    found = {}
    for step in demands.next_steps(case, doc, current_user, index):
        if posted and posted[0] == step:
            form = posted[1]
        elif step == "assess":
            form = AssessForm(formdata=None, revision=revision,
                              category=(case or {}).get("category")
                              or (doc["answers"] or {}).get("category"),
                              owner=(case or {}).get("owner") or doc["org_code"],
                              deadline=(case or {}).get("deadline")
                              or demands.default_deadline(doc, today).isoformat())
        elif step == "close":
            form = CloseForm(formdata=None, revision=revision, closed_on=today.isoformat())
        elif step == "visit":
            form = VisitForm(formdata=None, revision=revision, visited_on=today.isoformat())
        else:
            form = ReopenForm(formdata=None, revision=revision,
                              deadline=demands.default_deadline(doc, today).isoformat())
        if step == "assess":
            categories = demands.category_choices(schema)
            if form.category.data and form.category.data not in categories:
                categories = [form.category.data, *categories]
            form.category.choices = [SelectChoice("", "请选择")] + [
                SelectChoice(c, c) for c in categories]
            form.owner.choices = [SelectChoice("", "请选择")] + [
                SelectChoice(code, label) for code, label in demands.owner_choices(
                    index, current_user, doc["org_code"])]
        found[step] = form
    return found


def _render(store, index, doc, schema, case, today, posted=None, status=200):
    form_doc = store.get_form(doc["form_id"], doc["form_version"]) or {"schema": schema}
    return render_template(
        "admin/demands_detail.html", doc=doc, schema=schema, case=case,
        stage=demands.stage_of(case), stages=demands.STAGES, stage_classes=STAGE_CLASSES,
        stage_labels=demands.STAGE_LABELS,
        overdue_days=demands.overdue_days(case, today),
        closed_late=bool(case) and demands.closed_late(case),
        forms=_step_forms(doc, schema, case, index, today, posted),
        rows=display_rows(form_doc["schema"], doc["answers"]),
        path=index.path(doc["org_code"]) or [doc["org_code"]],
        owner=_org_name(index, case) if case else "",
        level=demands.level_of(index, case.get("owner")) if case else "",
        collected_on=demands.collected_on(doc), follow_up=demands.wants_follow_up(doc),
        step_labels=demands.STEP_LABELS, today=today,
        may_review=access.may(current_user, "review", doc["org_code"], index)), status


@bp.route("/demands/<receipt>")
def demand_detail(receipt):
    store = get_store()
    index = org_index(store)
    doc, schema, case = _visible(store, index, receipt)
    return _render(store, index, doc, schema, case, today_local())


@bp.route("/demands/<receipt>/<step>", methods=["POST"])
def demand_step(receipt, step):
    store = get_store()
    index = org_index(store)
    doc, schema, case = _visible(store, index, receipt)
    if step not in FORMS:
        abort(404)
    today = today_local()
    back = redirect(url_for("admin.demand_detail", receipt=receipt), 303)
    form = FORMS[step]()
    if not form.validate_on_submit():  # a date that is no date (CSRF: app.csrf_error)
        return _render(store, index, doc, schema, case, today, (step, form), 422)
    inputs = {name: field.data for name, field in form._fields.items()
              if name not in ("csrf_token", "revision")}
    try:
        stored = demands.take_step(store, current_user, index, receipt, step, inputs,
                                   form.revision.data, today)
    except RecordChanged:
        flash(STALE, "error")
        return back
    except demands.DemandError as exc:
        if not exc.errors:
            flash(str(exc), "error")
            return back
        for name, message in exc.errors.items():
            form[name].errors = [*form[name].errors, message]
        return _render(store, index, doc, schema, case, today, (step, form), 422)
    action = "reassess" if step == "assess" and case is not None else step
    audit(f"demand.{action}", receipt, _audit_detail(case, stored, step))
    flash(f"已{demands.STEP_LABELS[action]}，诉求现处于「{stored['stage']}」", "success")
    return back


def _audit_detail(before, case, step):
    detail = {"from": demands.stage_of(before), "to": case["stage"]}
    keys = {"assess": ("category", "owner", "deadline", "comment"),
            "close": ("handling", "closed_on"),
            "visit": ("satisfaction", "visited_on", "visit_note"),
            "reopen": ("deadline",)}[step]
    for key in keys:
        detail["note" if key == "visit_note" else key] = case.get(key)
    if step == "reopen":
        detail["comment"] = case["history"][-1]["comment"]
    return detail
