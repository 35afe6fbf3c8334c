"""Review pages: the review panel of a submission (approve, return, void, restore, with a
comment), a reviewer's direct correction with a reason, and what changed between versions.
The rules are services.review's; scope is services.access's (a submission out of scope is 404).
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from db import get_store
from forms.builder import build_form_class, error_map, new_submission_id, set_project_choices
from services import access, photos, projects, review
from services.orgs import org_index
from storage.errors import PeriodTaken, RecordChanged
from views.admin import bp
from views.web import audit

STATUS_CLASSES = {"待审核": "pending", "已通过": "ok", "退回修改": "returned", "已作废": "void"}


class ReviewForm(FlaskForm):
    action = HiddenField()
    revision = HiddenField()
    comment = TextAreaField("审核意见", validators=[Length(max=review.MAX_COMMENT)])


def detail_context(store, doc, schema, index):
    """What the submission page adds for review: status, the actions this user may take,
    history, versions and what the last correction changed, and the application's project."""
    project = projects.for_application(store, doc)
    named = store.get_project(doc["project_id"]) if doc.get("project_id") else None
    last_changes = []
    if doc["versions"]:
        last_changes = review.changes(schema, doc["versions"][-1]["answers"], doc["answers"])
    return {"review_form": ReviewForm(formdata=None, revision=doc["revision"]),
            "actions": review.allowed_actions(doc, current_user, index, project),
            "approve_label": review.approve_label(doc, project),
            "action_labels": review.ACTION_LABELS, "project": project, "named_project": named,
            "last_changes": last_changes, "status_classes": STATUS_CLASSES,
            "may_correct": doc["status"] != "已作废"
            and access.may(current_user, "review", doc["org_code"], index)}


def _latest_schema(store, doc):
    """The latest version of a submission's form (a correction is made on the form as it is
    now; versions are compared field by field on it), or 404."""
    form_doc = store.get_form(doc["form_id"])
    if form_doc is None:
        abort(404)
    return form_doc["schema"]


def _visible(store, receipt, index):
    try:
        return review.visible_submission(store, current_user, index, receipt)
    except LookupError:
        abort(404)


@bp.route("/submissions/<receipt>/review", methods=["POST"])
def submission_review(receipt):
    store = get_store()
    index = org_index(store)
    doc = _visible(store, receipt, index)
    form = ReviewForm()
    back = redirect(url_for("admin.submission_detail", receipt=receipt), 303)
    if not form.validate_on_submit():
        flash("；".join(m for ms in error_map(form).values() for m in ms) or "提交无效，请重试",
              "error")
        return back
    if form.revision.data != str(doc["revision"]):
        flash("这条记录刚被其他人处理过，请查看最新状态后再操作", "error")
        return back
    try:
        sub, project = review.review(store, current_user, index, receipt, form.action.data,
                                     form.comment.data)
    except (review.ReviewError, projects.ProjectError, PeriodTaken, RecordChanged) as exc:
        flash(str(exc), "error")
        return back
    audit(f"submission.{form.action.data}", receipt,
                 {"from": doc["status"], "to": sub["status"], "comment": form.comment.data,
                  "project": project and {"id": project["id"], "status": project["status"]}})
    label = review.ACTION_LABELS.get(form.action.data, form.action.data)
    flash(f"已{label}" + (f"，项目状态：{project['status']}" if project else ""), "success")
    return back


@bp.route("/submissions/<receipt>/correct", methods=["GET", "POST"])
def submission_correct(receipt):
    """A reviewer corrects answers directly, with a reason: a new version of the submission."""
    store = get_store()
    index = org_index(store)
    doc = _visible(store, receipt, index)
    schema = _latest_schema(store, doc)
    form_class = build_form_class(schema)
    answers = review.current_answers(schema, doc["answers"])
    form = form_class() if request.method == "POST" else form_class(data=answers)
    form.photo_scope = photos.scope(doc["form_id"], doc["org_code"])
    set_project_choices(form, projects.choices_for(store, schema, doc["org_code"],
                                                   doc.get("project_id")))
    reason = (request.form.get("reason") or "").strip()
    problem = None
    if request.method == "GET":
        form.submission_id.data = new_submission_id()
        photos.prefill(form, schema, answers)
    elif not reason:
        form.validate_on_submit()
        problem = "请填写更正原因"
    elif request.form.get("revision") != str(doc["revision"]):
        form.validate_on_submit()
        problem = "这条记录刚被其他人修改过，请刷新后再更正"
    elif form.validate_on_submit():
        try:
            review.correct(store, current_user, index, receipt, schema, form, reason)
        except (review.ReviewError, projects.ProjectError, PeriodTaken, RecordChanged) as exc:
            problem = str(exc)
        else:
            audit("submission.correct", receipt, {"reason": reason})
            flash("已更正，原内容保留为历史版本", "success")
            return redirect(url_for("admin.submission_detail", receipt=receipt), 303)
    return render_template("admin/submission_correct.html", doc=doc, form=form, schema=schema,
                           reason=reason, problem=problem,
                           path=index.path(doc["org_code"]) or [doc["org_code"]]), \
        422 if request.method == "POST" else 200


@bp.route("/submissions/<receipt>/versions")
def submission_versions(receipt):
    """Every version of a submission's answers, each compared with the one before."""
    store = get_store()
    index = org_index(store)
    doc = _visible(store, receipt, index)
    schema = _latest_schema(store, doc)
    versions = [*doc["versions"], {**doc["edit"], "answers": doc["answers"]}]
    compared = [{"version": v, "changes": review.changes(schema, versions[i - 1]["answers"],
                                                          v["answers"]) if i else None}
                for i, v in enumerate(versions)]
    return render_template("admin/submission_versions.html", doc=doc, schema=schema,
                           compared=list(reversed(compared)),
                           path=index.path(doc["org_code"]) or [doc["org_code"]])
