"""Projects (建档入库): the project an application opens, its state machine, and what names it.

A form whose definition says ``"project": {"role": "application", ...}`` opens a project when
one of its submissions is stored (status 已申报): title, category, kind, secretary and the
实施步骤 come from the answers the definition names. From there the project moves, one step at
a time, each step by a role allowed to take it (services.access), each kept in its history:

    已申报 → 预审通过 / 退回修改
    退回修改 → 已申报            (only by the cadre: the corrected application, sent again)
    预审通过 → 已立项 / 已否决 / 退回修改
    已立项 → 实施中              (also by itself: the first monthly report naming it)
    实施中 → 已申请验收          (also by itself: an acceptance request naming it)
    已申请验收 → 已验收 / 验收未通过
    验收未通过 → 实施中 / 已申请验收

While the project is at its application stage (已申报, 退回修改, 预审通过) its application's
review status moves with it, in the same write (Store.update_submission with a project):
预审通过 approves the application, 退回修改 returns it to its cadre. A project "enters the
project library" (项目库) at 已立项.

A monthly report or an acceptance request names a project with a field of type ``project``:
only the submitting organization's projects are offered (the QR link knows it).
"""
from datetime import date

from services import access
from storage import common
from storage.errors import RecordChanged

STATUSES = ("已申报", "预审通过", "退回修改", "已立项", "已否决", "实施中", "已申请验收", "已验收",
            "验收未通过")
NEXT = {
    "已申报": ("预审通过", "退回修改"),
    "退回修改": ("已申报",),
    "预审通过": ("已立项", "已否决", "退回修改"),
    "已立项": ("实施中",),
    "实施中": ("已申请验收",),
    "已申请验收": ("已验收", "验收未通过"),
    "验收未通过": ("实施中", "已申请验收"),
    "已否决": (),
    "已验收": (),
}
APPLICATION_STAGE = ("已申报", "退回修改", "预审通过")
# In the project library (建档入库): approved, whatever came after.
REGISTERED = ("已立项", "实施中", "已申请验收", "已验收", "验收未通过")
# What a report or an acceptance request may name.
ACTIVE = ("已立项", "实施中", "已申请验收", "验收未通过")
KINDS = ("书记项目", "书记领办事项")
# Only the cadre's corrected application moves a project back to 已申报.
BY_CADRE = frozenset({("退回修改", "已申报")})
# The application's review status each application-stage step sets.
REVIEW_STATUS_OF = {"预审通过": "已通过", "退回修改": "退回修改"}
TRANSITION_LABELS = {"预审通过": "预审通过", "退回修改": "退回修改", "已立项": "立项",
                     "已否决": "否决", "实施中": "开始实施", "已申请验收": "申请验收",
                     "已验收": "验收通过", "验收未通过": "验收不通过", "已申报": "重新申报"}


class ProjectError(ValueError):
    """A transition the rules refuse: ``code`` for the API, ``str()`` the Chinese reason."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def project_spec(schema):
    """The "project" key of a form definition, or None."""
    spec = schema.get("project")
    return spec if isinstance(spec, dict) else None


def role_of(schema):
    spec = project_spec(schema)
    return spec.get("role") if spec else None


def project_field(schema):
    """The name of the form's field of type "project", or None."""
    return next((f["name"] for f in schema["fields"] if f["type"] == "project"), None)


def named_project_id(schema, answers):
    """The project id a report or acceptance request names (its project field), or None."""
    name = project_field(schema)
    value = answers.get(name) if name else None
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def application_fields(schema, answers, period=None, submitted_at=None):
    """The project keys an application's answers give (title, category, kind, secretary,
    steps, year)."""
    spec = project_spec(schema)
    category = spec.get("category") or ""
    if spec.get("category_field"):
        category = answers.get(spec["category_field"]) or category
    if period and str(period)[:4].isdigit():
        year = int(str(period)[:4])
    else:
        year = common.parse_stamp(submitted_at).year if submitted_at else date.today().year
    steps = answers.get(spec.get("steps")) or []
    return {"title": answers.get(spec.get("title")) or "（未命名项目）", "category": category,
            "kind": spec.get("kind") or "书记项目", "secretary": answers.get(spec.get("secretary"))
            or "", "steps": steps if isinstance(steps, list) else [], "year": year}


def open_for_application(store, schema, doc):
    """The project of an application submission, opened (status 已申报) when it has none yet;
    None when the form is not an application form. Idempotent (one project per receipt),
    so a retry of the submit, or a second call after a crash between the two writes, finds
    the same project."""
    if role_of(schema) != "application":
        return None
    fields = application_fields(schema, doc["answers"], doc.get("period"), doc["submitted_at"])
    project, _created = store.add_project({
        **fields, "org_code": doc["org_code"], "status": "已申报",
        "application": doc["receipt"], "form_id": doc["form_id"],
        "history": [{"at": doc["submitted_at"], "user": None, "action": "submit", "from": None,
                     "to": "已申报", "comment": "村（单位）提交申报"}]})
    return project


def for_application(store, doc):
    """The project an application submission opened, or None."""
    return next((p for p in store.list_projects(org_codes=[doc["org_code"]])
                 if p["application"] == doc["receipt"]), None)


def choices_for(store, schema, org_code, current=None):
    """(id text, label) of the projects a fill of ``schema`` by ``org_code`` may name: its
    approved, unfinished projects (plus ``current``, the one a report being corrected names);
    [] without reading anything for a form without a project field (most pages a cadre
    opens)."""
    if project_field(schema) is None:
        return []
    found = []
    for project in store.list_projects(org_codes=[org_code]):
        if project.get("void"):
            continue
        if project["status"] in ACTIVE or str(project["id"]) == str(current or ""):
            found.append((str(project["id"]),
                          f"{project['title']}（{project['year']}年·{project['kind']}）"))
    return found


def check_named(store, schema, org_code, answers):
    """The project a report names, checked to be one of ``org_code``'s: its id, or None when
    the form names none. ProjectError otherwise (a report naming another organization's
    project is refused, whatever page or API sent it)."""
    project_id = named_project_id(schema, answers)
    if project_field(schema) is None or project_id is None:
        return None
    project = store.get_project(project_id)
    if project is None or project["org_code"] != org_code or project.get("void"):
        raise ProjectError("project_not_yours", "所选项目不属于本村（单位）")
    return project_id


def after_report(store, schema, doc):
    """What a stored report or acceptance request does to the project it names: the first
    monthly report starts a 已立项 project (实施中); an acceptance request asks for acceptance
    (已申请验收). The project, changed or not; None when it names none."""
    project_id = doc.get("project_id")
    role = role_of(schema)
    if project_id is None or role not in ("report", "acceptance"):
        return None
    for _attempt in range(3):
        project = store.get_project(project_id)
        target = {"report": {"已立项": "实施中"},
                  "acceptance": {"实施中": "已申请验收", "验收未通过": "已申请验收"}}[role]
        to = target.get(project["status"]) if project else None
        if to is None:
            return project
        comment = (f"收到{doc.get('period') or ''}月度报告（回执 {doc['receipt']}）" if role == "report"
                   else f"提交验收申请（回执 {doc['receipt']}）")
        try:
            return store.update_project(project_id, project["revision"], {
                "status": to, "event": {"action": "transition", "from": project["status"],
                                        "to": to, "comment": comment}})
        except RecordChanged:
            continue
    return store.get_project(project_id)


def allowed_next(project, user, index):
    """The statuses ``user`` may move ``project`` to now (for the page's buttons)."""
    if project.get("void"):
        return []
    return [to for to in NEXT[project["status"]]
            if (project["status"], to) not in BY_CADRE
            and access.may(user, f"project:{to}", project["org_code"], index)]


def check_transition(project, to, user, index):
    """ProjectError unless ``user`` may move ``project`` to ``to`` now."""
    if to not in STATUSES:
        raise ProjectError("invalid_status", f"状态「{to}」无效，应为：{'、'.join(STATUSES)}")
    if project.get("void"):
        raise ProjectError("invalid_transition", "该项目的申报已作废，不能变更状态")
    current = project["status"]
    if to not in NEXT[current]:
        nexts = "、".join(NEXT[current]) or "无（已结束）"
        raise ProjectError("invalid_transition",
                           f"不能从「{current}」变为「{to}」（下一步只能是：{nexts}）")
    if (current, to) in BY_CADRE:
        raise ProjectError("invalid_transition",
                           "退回修改的申报须由村（单位）通过回执链接修改后重新提交")
    if not access.may(user, f"project:{to}", project["org_code"], index):
        raise ProjectError("forbidden", f"当前账号无权将项目变为「{to}」")


def transition(store, user, index, project_id, to, comment=""):
    """Move a project one step (by ``user``, with a comment); the stored project. While the
    project is at its application stage the application's review status follows in the same
    write. LookupError for an unknown project or one out of the user's scope (pages and the
    API answer 404); ProjectError for a step the rules refuse; RecordChanged when someone
    else changed it meanwhile."""
    project = store.get_project(project_id)
    if project is None or not access.may_see_org(user, index, project["org_code"]):
        raise LookupError(project_id)
    check_transition(project, to, user, index)
    comment = (comment or "").strip()
    if to in ("退回修改", "已否决", "验收未通过") and not comment:
        raise ProjectError("comment_required", "请填写意见（退回、否决或验收不通过时必填）")
    if len(comment) > 1000:
        raise ProjectError("comment_too_long", "意见不能超过 1000 字")
    username = access.username_of(user)
    event = {"action": "transition", "from": project["status"], "to": to, "comment": comment}
    changes = {"status": to, "user": username, "event": event}
    review_status = REVIEW_STATUS_OF.get(to) if project["status"] in APPLICATION_STAGE else None
    application = store.get_submission(project["application"]) if review_status else None
    if application is not None and application["status"] != "已作废":
        sub_event = {"action": {"已通过": "approve", "退回修改": "return"}[review_status],
                     "from": application["status"], "to": review_status,
                     "comment": comment or f"项目{to}"}
        _sub, stored = store.update_submission(
            application["receipt"], application["revision"],
            {"status": review_status, "user": username, "event": sub_event},
            project=(project["id"], project["revision"], changes))
        return stored
    return store.update_project(project["id"], project["revision"], changes)


def project_records(store, project):
    """(application, reports oldest period first, acceptance requests) of a project: the
    submissions that opened it or name it, not voided."""
    application = store.get_submission(project["application"])
    reports, acceptances = [], []
    for form_doc in store.list_forms():
        role = role_of(form_doc["schema"])
        if role not in ("report", "acceptance"):
            continue
        _n, docs = store.query_submissions(form_doc["id"], org_codes={project["org_code"]},
                                           statuses=("待审核", "已通过", "退回修改"))
        for doc in docs:
            if doc.get("project_id") == project["id"]:
                doc["form_title"] = form_doc["schema"]["title"]
                (reports if role == "report" else acceptances).append(doc)
    reports.sort(key=lambda d: (d.get("period") or "", d["id"]))
    acceptances.sort(key=lambda d: d["id"])
    return application, reports, acceptances


def step_progress(project, reports, today=None):
    """The 实施步骤 of a project against its monthly reports: for each step, its month, task
    and owner, whether its month has come ("due"), and the receipts of the reports for that
    month. ``reports``: the project's reports (submissions with a period "YYYY-MM")."""
    today = today or date.today()
    current = f"{today.year:04d}-{today.month:02d}"
    by_month = {}
    for report in reports:
        by_month.setdefault(report.get("period"), []).append(report["receipt"])
    rows = []
    for step in project.get("steps") or []:
        step = step if isinstance(step, dict) else {}
        month = str(step.get("month") or "")
        rows.append({"month": month, "task": step.get("task") or "",
                     "owner": step.get("owner") or "", "due": bool(month) and month <= current,
                     "reports": by_month.get(month, [])})
    due = [r for r in rows if r["due"]]
    return {"rows": rows, "due": len(due), "reported": sum(1 for r in due if r["reports"]),
            "total": len(rows)}


__all__ = ["STATUSES", "NEXT", "ProjectError", "transition", "open_for_application",
           "after_report", "choices_for", "check_named", "allowed_next", "step_progress",
           "project_records"]
