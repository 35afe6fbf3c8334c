"""Roles and scope (services.access): what each role may do, on its own organizations and on
another township's, without an app."""
import pytest

from services import access
from services.orgs import OrgIndex

ORGS = [
    {"code": "C", "name": "县", "parent_code": None, "kind": "county"},
    {"code": "A", "name": "甲镇", "parent_code": "C", "kind": "township"},
    {"code": "A1", "name": "甲一村", "parent_code": "A", "kind": "village"},
    {"code": "A2", "name": "甲二村", "parent_code": "A", "kind": "village"},
    {"code": "B", "name": "乙镇", "parent_code": "C", "kind": "township"},
    {"code": "B1", "name": "乙一村", "parent_code": "B", "kind": "village"},
    {"code": "U", "name": "县直单位", "parent_code": "C", "kind": "unit"},
]
INDEX = OrgIndex(ORGS)
ALL = {o["code"] for o in ORGS}


def user(role, org=None, active=True):
    return {"username": f"{role}-{org}", "role": role, "org_code": org, "active": active}


class Obj:
    """A user as the pages have it (views.auth.User): attributes, not keys."""

    def __init__(self, role, org_code=None):
        self.role, self.org_code, self.username = role, org_code, "obj"


# action -> roles that may do it (within their scope)
EXPECTED = {
    "view": {"admin", "reviewer", "judge", "viewer"},
    "export": {"admin", "reviewer", "judge", "viewer"},
    "chase": {"admin", "reviewer", "viewer"},
    "links": {"admin", "reviewer"},
    "review": {"admin", "reviewer"},
    "project.transition": {"admin", "reviewer"},
    "score": {"admin", "judge"},
    "assess": {"admin", "reviewer"},
    "demand": {"admin", "reviewer"},
    "tokens": {"admin", "reviewer", "judge", "viewer"},
    "manage": {"admin"},
}


def test_every_action_has_its_expected_roles():
    assert set(access.ACTION_ROLES) == set(EXPECTED)


@pytest.mark.parametrize("role", access.ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_each_role_on_its_own_and_another_township(role, action):
    someone = user(role, None if role == "admin" else "A")
    allowed = role in EXPECTED[action]
    assert access.may(someone, action) is allowed
    assert access.may(someone, action, "A1", INDEX) is allowed  # its own village
    assert access.may(someone, action, "A", INDEX) is allowed  # its own township
    # Another township, its village, a county unit: only the admin
    for other in ("B", "B1", "U", "C"):
        assert access.may(someone, action, other, INDEX) is (allowed and role == "admin")


@pytest.mark.parametrize("role", ["reviewer", "judge", "viewer"])
def test_scope_is_the_subtree_of_the_organization(role):
    assert access.visible_orgs(user(role, "A"), INDEX) == {"A", "A1", "A2"}
    assert access.visible_orgs(user(role, "A1"), INDEX) == {"A1"}
    assert access.visible_orgs(user(role, "C"), INDEX) == ALL  # the county: everything
    assert access.visible_orgs(user(role, "gone"), INDEX) == set()  # a deleted organization
    assert access.restrict(user(role, "A"), INDEX, None) == {"A", "A1", "A2"}
    assert access.restrict(user(role, "A"), INDEX, {"A1", "B1"}) == {"A1"}
    assert access.restrict(user(role, "A"), INDEX, {"B1"}) == set()
    assert access.may_see_org(user(role, "A"), INDEX, "A2")
    assert not access.may_see_org(user(role, "A"), INDEX, "B1")


def test_admin_sees_everything_and_restrict_keeps_the_filter():
    admin = user("admin")
    assert access.visible_orgs(admin, INDEX) is None
    assert access.restrict(admin, INDEX, None) is None
    assert access.restrict(admin, INDEX, {"B1"}) == {"B1"}
    assert access.may_see_org(admin, INDEX, "B1")


def test_without_an_organization_judges_and_viewers_read_the_county_reviewers_nothing():
    assert access.visible_orgs(user("judge"), INDEX) is None
    assert access.visible_orgs(user("viewer"), INDEX) is None
    assert access.visible_orgs(user("reviewer"), INDEX) == set()
    assert not access.may(user("reviewer"), "review", "A1", INDEX)
    assert access.restrict(user("reviewer"), INDEX, None) == set()


def test_nobody_disabled_or_unknown_roles_see_nothing_and_may_nothing():
    for nobody in (None, user("admin", active=False), user("reviewer", "A", active=False),
                   {"username": "x", "role": "superuser"}, {"username": "x"}):
        assert access.visible_orgs(nobody, INDEX) == set()
        assert access.restrict(nobody, INDEX, None) == set()
        assert not any(access.may(nobody, action) for action in EXPECTED)
        assert not access.may_open(nobody, "admin.dashboard")


def test_unknown_actions_are_refused_even_to_admins():
    assert not access.may(user("admin"), "delete_everything")
    assert not access.may(user("admin"), "project:不存在的状态")


def test_attribute_users_are_read_like_user_docs():
    assert access.visible_orgs(Obj("reviewer", "A"), INDEX) == {"A", "A1", "A2"}
    assert access.may(Obj("reviewer", "A"), "review", "A2", INDEX)
    assert not access.may(Obj("reviewer", "A"), "review", "B1", INDEX)
    assert access.may(Obj("admin"), "manage")


def test_an_organization_needs_the_index():
    with pytest.raises(ValueError):
        access.may(user("reviewer", "A"), "review", "A1")


@pytest.mark.parametrize("to,roles", [
    ("预审通过", {"admin", "reviewer"}), ("退回修改", {"admin", "reviewer"}),
    ("实施中", {"admin", "reviewer"}), ("已申请验收", {"admin", "reviewer"}),
    ("已立项", {"admin"}), ("已否决", {"admin"}), ("已验收", {"admin"}),
    ("验收未通过", {"admin"}),
])
def test_project_transitions_by_role_and_scope(to, roles):
    for role in access.ROLES:
        own = user(role, None if role == "admin" else "A")
        assert access.may(own, f"project:{to}", "A1", INDEX) is (role in roles)
        assert access.may(own, f"project:{to}", "B1", INDEX) is (role == "admin")


def test_which_accounts_may_exist():
    assert access.scope_problem("reviewer", None, INDEX) == "审核员(乡镇)必须指定所属组织"
    assert access.scope_problem("viewer", "", INDEX) == "只读查看必须指定所属组织"
    assert access.scope_problem("reviewer", "X9", INDEX) == "组织 X9 不存在"
    assert "不能指定所属组织" in access.scope_problem("admin", "A", INDEX)
    assert "角色必须是" in access.scope_problem("boss", None, INDEX)
    assert access.scope_problem("reviewer", "A", INDEX) is None
    assert access.scope_problem("viewer", "C", INDEX) is None
    assert access.scope_problem("judge", None, INDEX) is None
    assert access.scope_problem("admin", None, INDEX) is None


def test_endpoints_not_listed_are_for_admins_only():
    assert access.endpoint_action("admin.some_new_page") == "manage"
    for role in ("reviewer", "judge", "viewer"):
        assert not access.may_open(user(role, "A"), "admin.some_new_page")
        assert not access.may_open(user(role, "A"), "admin.users")
        assert not access.may_open(user(role, "A"), "admin.audit_log")
        assert access.may_open(user(role, "A"), "admin.dashboard")
        assert access.may_open(user(role, "A"), "admin.tokens")
    assert access.may_open(user("admin"), "admin.some_new_page")
    assert access.may_read_audit(user("admin"))
    assert not access.may_read_audit(user("reviewer", "A"))
