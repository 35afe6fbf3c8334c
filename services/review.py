"""Review and correction of submissions: 待审核 → 已通过 / 退回修改 / 已作废.

* A reviewer in scope (or an admin) approves, returns (退回修改, with a comment) or voids (已作废:
  a duplicate or a mistake, kept and reversible, left out of exports unless asked for) a
  submission; a voided one can be restored. Each action is kept in the submission's history.
* 退回修改 reopens the submission for its cadre through the private receipt link: the page
  shows the reviewer's comment on top and the answers prefilled; the corrected answers become
  a new version of the same submission (same receipt; the old answers kept in ``versions``)
  and it is 待审核 again.
* A reviewer may correct an answer directly, with a reason (kept as a version too).
* ``changes()`` lists what changed between two versions, field by field.

An application's review moves its project (services.projects): approving it is the project's
预审通过 (or, once pre-reviewed, the county's 立项), returning it the project's 退回修改.
Everything is written with the revision read (Store.update_submission): two reviewers acting
at once cannot both win; the second is told the record changed.
"""
from forms.builder import collect_answers
from forms.fields import format_value
from forms.loader import former_names
from services import access, periods, photos, projects
from storage import common
from storage.errors import RecordChanged

STATUSES = common.REVIEW_STATUSES
# action -> (status it sets, statuses it may start from)
ACTIONS = {
    "approve": ("已通过", ("待审核",)),
    "return": ("退回修改", ("待审核", "已通过")),
    "void": ("已作废", ("待审核", "已通过", "退回修改")),
    "restore": ("待审核", ("已作废",)),
}
ACTION_LABELS = {"approve": "通过", "return": "退回修改", "void": "作废", "restore": "恢复",
                 "resubmit": "村（单位）更正后重新提交", "correct": "审核人直接更正",
                 "transition": "项目状态变更", "submit": "提交"}
NEEDS_COMMENT = ("return", "void")
MAX_COMMENT = 1000


class ReviewError(ValueError):
    """A review the rules refuse: ``code`` for the API, ``str()`` the Chinese reason."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _comment(text, required, what="意见"):
    text = (text or "").strip()
    if required and not text:
        raise ReviewError("comment_required", f"请填写{what}")
    if len(text) > MAX_COMMENT:
        raise ReviewError("comment_too_long", f"{what}不能超过 {MAX_COMMENT} 字")
    return text


def visible_submission(store, user, index, receipt):
    """The submission with that receipt if ``user`` may see it; LookupError otherwise (a
    submission out of scope is answered as one that does not exist)."""
    doc = store.get_submission(receipt) if isinstance(receipt, str) else None
    if doc is None or not access.may_see_org(user, index, doc["org_code"]):
        raise LookupError(receipt)
    return doc


def allowed_actions(doc, user, index, project=None):
    """The review actions ``user`` may take on ``doc`` now (for the page's buttons);
    ``project``: the project the submission opened (an application), if any."""
    if not access.may(user, "review", doc["org_code"], index):
        return []
    found = []
    for action, (_to, starts) in ACTIONS.items():
        step = _project_step(project, action) if project is not None else None
        if step is not None and doc["status"] != "已作废":
            if step in projects.allowed_next(project, user, index):
                found.append(action)
        elif doc["status"] in starts and (action not in ("approve", "return") or project is None
                                          or project["status"] in projects.APPLICATION_STAGE):
            found.append(action)
    return found


def review(store, user, index, receipt, action, comment=""):
    """Approve, return, void or restore a submission; (submission, project or None) as
    stored. An application's approve and return are its project's steps (预审通过, then 立项;
    退回修改: services.projects.transition, which checks the role). LookupError when out of
    scope or unknown; ReviewError / ProjectError for what the rules refuse; RecordChanged /
    PeriodTaken (restoring a report whose period another now holds) from the Store."""
    doc = visible_submission(store, user, index, receipt)
    if action not in ACTIONS:
        raise ReviewError("invalid_action", "审核操作无效，应为 approve（通过）、return（退回修改）、"
                                            "void（作废）或 restore（恢复）")
    if not access.may(user, "review", doc["org_code"], index):
        raise ReviewError("forbidden", "当前账号无权审核")
    to, starts = ACTIONS[action]
    project = projects.for_application(store, doc)
    step = _project_step(project, action) if project is not None else None
    if step is not None and doc["status"] != "已作废":
        stored = projects.transition(store, user, index, project["id"], step,
                                     _comment(comment, False))
        return store.get_submission(receipt), stored
    if project is not None and action in ("approve", "return") \
            and project["status"] not in projects.APPLICATION_STAGE:
        # Past its application stage the application moves with nothing: its project's
        # steps are on the project's page (a return now would reach a cadre whose
        # correction could no longer change the project).
        raise ReviewError("invalid_transition",
                          f"项目已{project['status']}，申报表不能再{ACTION_LABELS[action]}")
    if action == "restore":
        # Back to what it was before it was voided (its project, if any, waited meanwhile).
        to = next((e["from"] for e in reversed(doc["history"])
                   if e["action"] == "void" and e["from"] in STATUSES), "待审核")
    if doc["status"] not in starts:
        raise ReviewError("invalid_transition",
                          f"状态为「{doc['status']}」的提交不能{ACTION_LABELS[action]}")
    comment = _comment(comment, action in NEEDS_COMMENT,
                       "退回或作废的原因" if action in NEEDS_COMMENT else "意见")
    username = access.username_of(user)
    changes = {"status": to, "user": username,
               "event": {"action": action, "from": doc["status"], "to": to, "comment": comment}}
    project_arg = None
    if project is not None and action in ("void", "restore"):
        # The project of a voided application is kept, marked void (out of lists and 催报).
        project_arg = (project["id"], project["revision"], {
            "void": action == "void", "user": username,
            "event": {"action": action, "from": project["status"], "to": project["status"],
                      "comment": ("申报已作废：" if action == "void" else "申报已恢复：") + comment}})
    return store.update_submission(receipt, doc["revision"], changes, project=project_arg)


def _project_step(project, action):
    """The project status an application's review action moves it to, or None (the review
    then only changes the application's own status)."""
    if action == "approve":
        return {"已申报": "预审通过", "预审通过": "已立项"}.get(project["status"])
    if action == "return":
        return "退回修改" if project["status"] in ("已申报", "预审通过") else None
    return None


def approve_label(doc, project):
    """What the approve button says for this submission: 预审通过, 立项, or 通过."""
    if project is not None and project["application"] == doc["receipt"]:
        return {"已申报": "预审通过", "预审通过": "立项"}.get(project["status"], "通过")
    return "通过"


def resubmit(store, doc, schema, form, revision=None):
    """The cadre's corrected answers (a validated public form class instance) for a returned
    submission, through its private receipt link: a new version of the same submission,
    待审核 again; a returned application's project goes back to 已申报 with the corrected
    title, steps...; a corrected report or acceptance request moves the project it names as a
    first submit would; (submission, project or None). ``revision``: the submission's revision
    the page was made from (RecordChanged when the reviewer acted since). ReviewError when it
    is not 退回修改."""
    if doc["status"] != "退回修改":
        raise ReviewError("not_returned", "这份提交不在“退回修改”状态，不能修改")
    if revision is not None and revision != doc["revision"]:
        raise RecordChanged()
    answers, files = _answers(store, schema, form)
    sub_changes, project_arg = _answer_changes(store, doc, schema, answers, files)
    sub_changes.update(status="待审核", user=None, reason="村（单位）按审核意见修改",
                       event={"action": "resubmit", "from": "退回修改", "to": "待审核",
                              "comment": "按审核意见修改后重新提交"})
    project = projects.for_application(store, doc)
    if project is not None and project["status"] == "退回修改":
        fields = projects.application_fields(schema, answers, sub_changes.get("period"),
                                             doc["submitted_at"])
        project_arg = (project["id"], project["revision"], {
            **fields, "status": "已申报",
            "event": {"action": "resubmit", "from": "退回修改", "to": "已申报",
                      "comment": "村（单位）修改后重新申报"}})
    stored, moved = store.update_submission(doc["receipt"], doc["revision"], sub_changes,
                                            project=project_arg)
    return stored, moved or projects.after_report(store, schema, stored)


def correct(store, user, index, receipt, schema, form, reason):
    """A reviewer's direct correction of a submission's answers, with a reason: a new version
    (status unchanged); (submission, project or None)."""
    doc = visible_submission(store, user, index, receipt)
    if not access.may(user, "review", doc["org_code"], index):
        raise ReviewError("forbidden", "当前账号无权更正")
    if doc["status"] == "已作废":
        raise ReviewError("invalid_transition", "已作废的提交不能更正，请先恢复")
    reason = _comment(reason, True, "更正原因")
    answers, files = _answers(store, schema, form)
    sub_changes, project_arg = _answer_changes(store, doc, schema, answers, files)
    username = access.username_of(user)
    sub_changes.update(user=username, reason=reason,
                       event={"action": "correct", "from": doc["status"], "to": doc["status"],
                              "comment": reason})
    project = projects.for_application(store, doc)
    if project is not None and project["status"] in projects.APPLICATION_STAGE:
        fields = projects.application_fields(schema, answers, sub_changes.get("period"),
                                             doc["submitted_at"])
        project_arg = (project["id"], project["revision"], {**fields, "user": username})
    stored, moved = store.update_submission(receipt, doc["revision"], sub_changes,
                                            project=project_arg)
    return stored, moved or projects.after_report(store, schema, stored)


def _answers(store, schema, form):
    """The answers of a validated form with its new photos stored (as a submit stores them)."""
    answers, uploads = collect_answers(form, schema)
    for name, upload in uploads.items():
        upload.stream.seek(0)
        answers[name] = photos.store_photo(store, upload.stream.read(), answers[name])
    files = photos.files_of(schema, answers)
    return answers, files


def _answer_changes(store, doc, schema, answers, files):
    """The submission changes new answers make: answers, files, form version, and the period,
    slot and project they name now (ProjectError for another organization's project)."""
    project_id = projects.check_named(store, schema, doc["org_code"], answers)
    period = periods.period_of(schema, answers, doc["submitted_at"])
    spec = periods.period_spec(schema)
    slot = periods.slot_of(spec, period, project_id) if spec else None
    changes = {"answers": answers, "files": files, "form_version": schema["version"],
               "period": period, "slot": slot}
    if project_id is not None or projects.project_field(schema):
        changes["project_id"] = project_id
    return changes, None


def current_answers(schema, answers):
    """``answers`` (stored with any version of the form) under the field names of ``schema``:
    a field renamed since (its ``renamed_from``) takes the answer stored under a former name,
    in repeat rows too. What a correction page is prefilled with and what versions are
    compared on, so a renamed field's answer is neither lost nor shown as changed."""
    out = dict(answers)
    for spec in schema["fields"]:
        name = spec.get("name")
        if name is None or spec["type"] == "section":
            continue
        if name not in out:
            former = next((n for n in former_names(spec) if n in answers), None)
            if former is not None:
                out[name] = out.pop(former)
        if spec["type"] == "repeat" and isinstance(out.get(name), list):
            out[name] = [current_answers({"fields": spec["fields"]}, row)
                         if isinstance(row, dict) else row for row in out[name]]
    return out


def changes(schema, old, new):
    """What changed between two sets of answers, field by field: [{"label", "old", "new"}]
    in schema order, texts as the detail page shows them (repeats as one line per row).
    Answers of any version are read under the schema's names (current_answers)."""
    old, new = current_answers(schema, old), current_answers(schema, new)
    found = []
    for spec in schema["fields"]:
        if spec["type"] == "section":
            continue
        name = spec["name"]
        before, after = old.get(name), new.get(name)
        if common.comparable(before) == common.comparable(after):
            continue
        found.append({"label": spec["label"], "old": _text(spec, before),
                      "new": _text(spec, after)})
    return found


def _text(spec, value):
    if value is None:
        return ""
    if spec["type"] == "repeat":
        rows = value if isinstance(value, list) else []
        return "\n".join(
            f"{i}. " + "；".join(f"{sub['label']}：{format_value(sub, row.get(sub['name']))}"
                                for sub in spec["fields"] if isinstance(row, dict))
            for i, row in enumerate(rows, start=1))
    return format_value(spec, value)
