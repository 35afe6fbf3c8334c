"""The audit log: who did what, when and from where, kept in the database (Store.add_audit).

Every page and command that logs someone in or out, exports submissions, or changes a form, a
link, an organization or an account records one entry with ``record``, once the action is done
(a refused login is recorded as what it is). ``ACTIONS`` are the codes, with the Chinese labels
the admin page (/admin/audit) shows and filters by.
"""
import getpass
import logging

from storage import StorageError

log = logging.getLogger(__name__)

ACTIONS = {
    "login": "登录",
    "login.failed": "登录失败",
    "login.throttled": "登录被限制",
    "logout": "退出登录",
    "export": "导出提交",
    "form.save": "保存表单",
    "form.draft": "保存草稿",
    "form.discard": "丢弃草稿",
    "form.publish": "发布表单",
    "form.rollback": "回滚表单",
    "form.duplicate": "复制表单",
    "form.close": "停止收集",
    "form.open": "恢复收集",
    "link.create": "生成链接",
    "link.regenerate": "更换链接",
    "link.revoke": "停用链接",
    "org.create": "新增组织",
    "org.edit": "修改组织",
    "org.delete": "删除组织",
    "org.import": "导入组织",
    "user.create": "创建账号",
    "user.password": "设置密码",
    "user.edit": "修改账号",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "token.create": "创建令牌",
    "token.revoke": "吊销令牌",
    "backup": "备份",
    "restore": "恢复备份",
    "photos.prune": "清理照片",
    "submission.approve": "审核通过",
    "submission.return": "退回修改",
    "submission.void": "作废提交",
    "submission.restore": "恢复提交",
    "submission.correct": "更正提交",
    "project.transition": "项目状态变更",
    "rubric.save": "设置评分标准",
    "score.import": "导入评分",
    "score.save": "评委评分",
    "project.excellent": "评定优秀书记项目",
    "project.effect": "评定领办事项成效",
    "demand.assess": "诉求研判",
    "demand.reassess": "调整诉求研判",
    "demand.close": "诉求办结",
    "demand.visit": "诉求回访",
    "demand.reopen": "诉求重新办理",
}


def record(store, action, user, target="", detail=None, address=None):
    """Store an entry: ``user`` (a username, "cli:<OS user>" for a command, None when nobody
    is logged in) did ``action`` (a key of ACTIONS) to ``target`` (text), with ``detail`` (a
    JSON value: the filters and row count of an export...), from ``address``. The stored
    entry, or None when it could not be stored.

    Call it after the action succeeded, never before: an entry says something happened. When
    the entry cannot be stored, the error and the whole entry go to the server log and the
    caller goes on: the action is already done and durable, and answering "failed" would make
    the admin do it again (a second regenerated link, a second import). ValueError for an
    action not in ACTIONS (a mistake in the code, not in the data)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = {"user": user, "action": action, "target": target or "", "detail": detail,
             "address": address}
    try:
        return store.add_audit(entry)
    except (StorageError, ValueError):
        log.exception("audit entry not stored: %r", entry)
        return None


# Chinese names of the keys of the details recorded above, in the order they are shown (a key
# not listed shows as itself, last). A review or a project's step records {"from": old status,
# "to": new status, "comment", "project": {"id", "status"}} ("via": "api" from the API).
DETAIL_LABELS = {
    "from": "状态由", "to": "改为", "comment": "意见", "reason": "原因", "project": "项目",
    "id": "编号", "status": "状态",
    "format": "格式", "list": "名单", "period": "期", "rows": "行数", "count": "数量",
    "version": "版本", "source": "来源", "title": "标题", "file": "文件", "role": "角色",
    "kind": "类型", "parent_code": "上级",
    "name_before": "原名称", "minutes": "分钟", "filters": "筛选", "township": "乡镇",
    "org": "组织", "date_from": "开始日期", "date_to": "结束日期", "forms": "表单版本",
    "orgs": "组织", "users": "账号", "links": "链接", "submissions": "提交", "audit": "日志",
    "drafts": "草稿", "form_states": "收集状态", "projects": "项目", "api_tokens": "接口令牌",
    "photos": "照片", "revision": "草稿修改次数", "from_version": "回滚自版本",
    "name": "姓名", "phone": "电话", "label": "名称", "days": "有效天数",
    "via": "来源",
    # 群众诉求 steps: {"from", "to" (stages), "category", "owner", "deadline", "handling",
    # "closed_on", "satisfaction", "note", "comment"}
    "category": "类别", "owner": "责任单位", "deadline": "办结时限", "handling": "办理情况",
    "closed_on": "办结日期", "satisfaction": "回访结果", "note": "回访情况",
    "visited_on": "回访日期",
    # 路演评审: rubric.save {"criteria"}, score.save {"project", "judge", "year"},
    # project.excellent {"title", "excellent"}, project.effect {"title", "effect"}
    "criteria": "评分项数", "judge": "评委", "year": "年度", "excellent": "优秀",
    "effect": "成效",
}
# Where a key means something else for one action: form.duplicate's "from" is the form copied.
ACTION_DETAIL_LABELS = {
    "form.duplicate": {"from": "复制自"},
}
# Chinese names of recorded values, by key.
DETAIL_VALUES = {
    "via": {"api": "接口"},
    "excellent": {True: "是", False: "否"},
}


def describe(detail, action=None):
    """An entry's detail as one line of text for people: "格式: xlsx; 行数: 12; 筛选: (乡镇:
    340828101)", its keys named as they are for ``action`` (ACTION_DETAIL_LABELS), a nested
    record in brackets. (Escaped by the template like every value.)"""
    return _describe(detail, {**DETAIL_LABELS, **ACTION_DETAIL_LABELS.get(action, {})})


def _describe(detail, labels, key=None):
    if isinstance(detail, dict):  # keys in the order of DETAIL_LABELS (PostgreSQL's jsonb
        order = list(DETAIL_LABELS)  # does not keep the order they were recorded in)
        keys = sorted(detail, key=lambda k: (order.index(k) if k in order else len(order), k))
        text = "; ".join(f"{labels.get(k, k)}: {_describe(detail[k], labels, k)}"
                         for k in keys if detail[k] not in (None, "", {}, []))
        return text if key is None else f"({text})"
    if isinstance(detail, list):
        return ", ".join(_describe(value, labels) for value in detail)
    if detail is None:
        return ""
    return DETAIL_VALUES.get(key, {}).get(detail, str(detail))


def label(action):
    """The Chinese name of an action (the code itself for one this version does not know)."""
    return ACTIONS.get(action, action)


def command_user():
    """Who runs a command-line task: "cli:" and the operating system's user name."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment nor in the passwd file
        name = "?"
    return f"cli:{name}"


def query(store, action=None, user=None, date_from=None, date_to=None, page=1, per_page=50):
    """One page of the log, newest first: (entries, total, pages). Empty filters select
    everything."""
    entries, total = store.query_audit(action=action or None, user=user or None,
                                       date_from=date_from, date_to=date_to,
                                       offset=(page - 1) * per_page, limit=per_page)
    return entries, total, max((total + per_page - 1) // per_page, 1)
