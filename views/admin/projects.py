"""Project pages (建档入库): the list of a year's projects in the user's scope, and a project's
page — its application, every monthly report in order, progress against its 实施步骤, its
acceptance, its history, and the next steps the user may take. Rules: services.projects."""
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from db import get_store
from services import access, projects
from services.orgs import org_index
from storage.errors import PeriodTaken, RecordChanged
from views.admin import bp
from views.web import audit


class TransitionForm(FlaskForm):
    to = HiddenField()
    revision = HiddenField()
    comment = TextAreaField("意见", validators=[Length(max=1000)])


@bp.route("/projects")
def projects_list():
    store = get_store()
    index = org_index(store)
    visible = access.visible_orgs(current_user, index)
    year = request.args.get("year", type=int)
    status = request.args.get("status") or None
    township = request.args.get("township") or None
    found = store.list_projects(org_codes=visible, year=year,
                                statuses=[status] if status in projects.STATUSES else None)
    if township:
        below = index.below(township) if township in index else set()
        found = [p for p in found if p["org_code"] in below]
    if request.args.get("void") != "1":
        found = [p for p in found if not p.get("void")]
    years = sorted({p["year"] for p in store.list_projects(org_codes=visible)}, reverse=True)
    counts = {}
    for p in found:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    return render_template(
        "admin/projects.html", projects=found, years=years, year=year, status=status,
        township=township, statuses=projects.STATUSES, counts=counts,
        townships=[o for o in index.townships() if visible is None or o["code"] in visible],
        columns={p["org_code"]: index.columns(p["org_code"]) for p in found})


def _visible(store, index, project_id):
    """The project if the current user may see it; 404 otherwise (out of scope or unknown)."""
    project = store.get_project(project_id)
    if project is None or not access.may_see_org(current_user, index, project["org_code"]):
        abort(404)
    return project


@bp.route("/projects/<int:project_id>")
def project_detail(project_id):
    store = get_store()
    index = org_index(store)
    project = _visible(store, index, project_id)
    application, reports, acceptances = projects.project_records(store, project)
    progress = projects.step_progress(project, reports, date.today())
    latest = reports[-1] if reports else None
    return render_template(
        "admin/project.html", project=project, application=application, reports=reports,
        acceptances=acceptances, progress=progress, latest=latest,
        nexts=projects.allowed_next(project, current_user, index),
        labels=projects.TRANSITION_LABELS,
        form=TransitionForm(formdata=None, revision=project["revision"]),
        path=index.path(project["org_code"]) or [project["org_code"]])


@bp.route("/projects/<int:project_id>/transition", methods=["POST"])
def project_transition(project_id):
    store = get_store()
    index = org_index(store)
    project = _visible(store, index, project_id)
    form = TransitionForm()
    back = redirect(url_for("admin.project_detail", project_id=project_id), 303)
    if not form.validate_on_submit():
        flash("提交无效，请重试", "error")
        return back
    if form.revision.data != str(project["revision"]):
        flash("该项目刚被其他人处理过，请查看最新状态后再操作", "error")
        return back
    try:
        stored = projects.transition(store, current_user, index, project_id, form.to.data,
                                     form.comment.data)
    except (projects.ProjectError, RecordChanged, PeriodTaken) as exc:
        flash(str(exc), "error")
        return back
    audit("project.transition", str(project_id),
          {"from": project["status"], "to": stored["status"], "comment": form.comment.data})
    flash(f"项目状态已变为「{stored['status']}」", "success")
    return back
