"""Roles and scope: who sees which organization and who may do what, decided here and applied
by every page, export, photo, 催报 list, command and API call.

A user is anything with ``role``, ``org_code`` and ``active`` — the logged-in user of a page
(views.auth.User) or a user doc of the Store (what services.tokens.authenticate returns for an
API call): both are read the same way.

- admin (管理员, the county's organization department): every organization, every action.
- reviewer (审核员, usually a township): the organization it belongs to and everything under it;
  sees, reviews, exports and chases there, and handles its 群众诉求. Cannot exist without an
  organization.
- judge (评审专家): reads and scores; scoped like a viewer.
- viewer (只读查看): reads and exports, changes nothing; scoped to its organization's subtree.
  A judge or viewer without an organization reads the whole county.

Scope failures on one record answer 404 (the record's existence is not revealed); a role that
may not use a page at all gets 403. Unknown roles, actions and endpoints are refused.
"""
from collections.abc import Mapping

ROLES = ("admin", "reviewer", "judge", "viewer")
ROLE_LABELS = {
    "admin": "管理员(县委组织部)",
    "reviewer": "审核员(乡镇)",
    "judge": "评审专家",
    "viewer": "只读查看",
}
# Roles that must belong to an organization (their scope is its subtree). A judge may be
# county-wide; an admin always is (an organization given to one is refused).
ORG_REQUIRED = ("reviewer", "viewer")

# Which roles may do an action; the organization it concerns must also be in their scope.
ACTION_ROLES = {
    # read submissions, their photos and the forms' lists of them
    "view": ("admin", "reviewer", "judge", "viewer"),
    # download submissions as Excel/CSV (read-only data, in scope)
    "export": ("admin", "reviewer", "judge", "viewer"),
    # the 催报 state of a form and period, and its missing list (Excel included)
    "chase": ("admin", "reviewer", "viewer"),
    # see and print the QR links of organizations (to resend them)
    "links": ("admin", "reviewer"),
    # approve / return / void / restore / correct a submission
    "review": ("admin", "reviewer"),
    # any project transition at all (the target decides: see ROLE_TRANSITIONS)
    "project.transition": ("admin", "reviewer"),
    # score applications (the judging stage)
    "score": ("admin", "judge"),
    # mark the effect (成效) of a 书记领办事项 in its year
    "assess": ("admin", "reviewer"),
    # handle 群众诉求: 研判, 办结, 回访, 重新办理 (services.demands)
    "demand": ("admin", "reviewer"),
    # one's own API tokens
    "tokens": ROLES,
    # forms, builder, organizations, link creation and revocation, users, others' tokens,
    # the audit log, backups
    "manage": ("admin",),
}
# Who may move a project to each status (services.projects checks the order of the steps;
# may(user, "project:<status>", org_code, index) checks the role and the scope).
ROLE_TRANSITIONS = {
    "预审通过": ("admin", "reviewer"),
    "退回修改": ("admin", "reviewer"),
    "实施中": ("admin", "reviewer"),
    "已申请验收": ("admin", "reviewer"),
    "已立项": ("admin",),
    "已否决": ("admin",),
    "已验收": ("admin",),
    "验收未通过": ("admin",),
}

# The action each admin endpoint needs (views/admin/__init__.py checks it before every
# request). An endpoint not listed needs "manage": a new page is admin-only until listed here.
ENDPOINT_ACTIONS = {
    "admin.dashboard": "view",
    # submissions (views/admin/submissions.py, review.py): each record's scope is checked
    # again by the view or by services.review
    "admin.submissions": "view",
    "admin.submission_detail": "view",
    "admin.submission_versions": "view",
    "admin.photo": "view",
    "admin.export": "export",
    "admin.submission_review": "review",
    "admin.submission_correct": "review",
    # projects (views/admin/projects.py): the step's role is checked by services.projects
    "admin.projects_list": "view",
    "admin.project_detail": "view",
    "admin.project_transition": "project.transition",
    # the dashboard (统计, views/admin/dashboard.py): its area is checked by services.dashboard
    "admin.stats": "view",
    # the 汇总表 workbook (views/admin/summary.py): the user's scope, by services.access.restrict
    "admin.summary": "export",
    # 路演评审 (views/admin/scoring.py): the rubric, the CSV import and 优秀 are the admin's
    # (unlisted); a sheet's project and a matter's organization are checked in scope again
    "admin.scoring_list": "score",
    "admin.scoring_sheet": "score",
    "admin.ranking": "view",
    "admin.ranking_csv": "view",
    "admin.project_effect": "assess",
    # 催报 (views/admin/reporting.py)
    "admin.reporting": "chase",
    "admin.reporting_matrix": "chase",
    "admin.reporting_export": "chase",
    # 群众诉求 (views/admin/demands.py): each demand's scope is checked by services.demands
    "admin.demands": "view",
    "admin.demand_detail": "view",
    "admin.demand_step": "demand",
    # QR links: seen and printed in scope; made, replaced and stopped by admins (unlisted)
    "admin.links": "links",
    "admin.link_qr": "links",
    "admin.qr_sheet": "links",
    # one's own API tokens
    "admin.tokens": "tokens",
    "admin.token_revoke": "tokens",
}
DEFAULT_ACTION = "manage"


def _get(user, key, default=None):
    if user is None:
        return default
    if isinstance(user, Mapping):
        return user.get(key, default)
    return getattr(user, key, default)


def username_of(user):
    return _get(user, "username")


def role_of(user):
    """The role of an active user, or None (nobody, a disabled account, an unknown role)."""
    role = _get(user, "role")
    if role not in ROLES or not _get(user, "active", True):
        return None
    return role


def role_label(role):
    return ROLE_LABELS.get(role, role or "")


def scope_problem(role, org_code, index):
    """Why ``role`` with ``org_code`` (None = none) cannot be an account, in Chinese; None when
    it can. ``index``: the organizations (services.orgs.OrgIndex)."""
    if role not in ROLES:
        return "角色必须是 " + "、".join(f"{r}({ROLE_LABELS[r]})" for r in ROLES) + " 之一"
    if role == "admin":
        return "管理员(县委组织部)可查看全县，不能指定所属组织" if org_code else None
    if not org_code:
        if role in ORG_REQUIRED:
            return f"{ROLE_LABELS[role]}必须指定所属组织"
        return None
    if org_code not in index:
        return f"组织 {org_code} 不存在"
    return None


def visible_orgs(user, index):
    """The codes of the organizations ``user`` may see, or None for all of them."""
    role = role_of(user)
    if role is None:
        return set()
    if role == "admin":
        return None
    org_code = _get(user, "org_code")
    if not org_code:
        # A reviewer is only ever created with an organization; one without sees nothing.
        return set() if role == "reviewer" else None
    return index.below(org_code) if org_code in index else set()


def restrict(user, index, org_codes):
    """``org_codes`` (None = every organization) narrowed to what ``user`` may see: the value
    to pass to every submission query for that user."""
    visible = visible_orgs(user, index)
    if visible is None:
        return org_codes
    return set(visible) if org_codes is None else set(org_codes) & visible


def may_see_org(user, index, code):
    visible = visible_orgs(user, index)
    return visible is None or code in visible


def may(user, action, org_code=None, index=None):
    """Whether ``user`` may do ``action`` (a key of ACTION_ROLES, or "project:<status>" for a
    project transition to that status) — on the organization ``org_code`` when given, which
    must then be in the user's scope (``index``: the OrgIndex, needed with ``org_code``).
    False for an unknown action, role or status."""
    role = role_of(user)
    if action.startswith("project:"):
        roles = ROLE_TRANSITIONS.get(action.removeprefix("project:"), ())
    else:
        roles = ACTION_ROLES.get(action, ())
    if role is None or role not in roles:
        return False
    if org_code is None:
        return True
    if role == "admin":
        return True
    if index is None:
        raise ValueError("may() needs the organization index to check an organization")
    return may_see_org(user, index, org_code)


def endpoint_action(endpoint):
    """The action an admin endpoint needs (ENDPOINT_ACTIONS; "manage" when not listed)."""
    return ENDPOINT_ACTIONS.get(endpoint, DEFAULT_ACTION)


def may_open(user, endpoint):
    """Whether ``user`` may open the admin endpoint at all (its records are checked one by
    one on top: a record out of scope is a 404)."""
    return may(user, endpoint_action(endpoint))


def may_read_audit(user):
    """Whether ``user`` may read the audit log (every account's actions): admins only."""
    return may(user, "manage")
