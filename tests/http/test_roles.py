"""Roles and scope through HTTP (services.access applied by views/admin): every role tries every
admin page, a township reviewer tries the other township's submissions, exports, photos and
QR codes, the users and tokens pages, and the create-user / create-token commands."""
import io
import json
import uuid
import zipfile
from datetime import timedelta

import openpyxl
import pytest
from PIL import Image

from db import get_store
from forms.loader import check_schema
from services import accounts, tokens
from storage.common import now
from support.helpers import ADMIN, PROJECT_FORM, csrf_token, login

TOWNSHIP_A, VILLAGE_A = "340828101", "340828101202"  # 响肠镇 / 千佛塔村
TOWNSHIP_B, VILLAGE_B = "340828102", "340828102201"  # 菖蒲镇 / 菖蒲村
PASSWORD = "role-password-1"
# username -> (role, organization)
PEOPLE = {"rev_a": ("reviewer", TOWNSHIP_A), "judge": ("judge", None),
          "viewer_a": ("viewer", TOWNSHIP_A)}
ROLE_OF = {"admin": "admin", "rev_a": "reviewer", "judge": "judge", "viewer_a": "viewer"}

# What each role may open, written out here (not read from services.access): a page's rule
# changed there without changing this table fails the test.
READ_PAGES = {"admin.dashboard", "admin.submissions", "admin.submission_detail", "admin.photo",
              "admin.export", "admin.tokens", "admin.submission_versions",
              "admin.projects_list", "admin.project_detail", "admin.stats",
              "admin.demands", "admin.demand_detail", "admin.ranking", "admin.ranking_csv",
              "admin.summary"}
# 路演评审 score sheets: admin and judge. Project 1 is 已申报, not scored: its sheet is a 404
# for them (tests/http/test_scoring_pages.py opens a registered one).
SCORE_PAGES = {"admin.scoring_list", "admin.scoring_sheet"}
NOT_SCORED = {"admin.scoring_sheet"}
# Pages for the roles that review (admin, reviewer) only.
REVIEW_PAGES = {"admin.submission_correct"}
# 催报: every role but the judge
CHASE_PAGES = {"admin.reporting", "admin.reporting_matrix", "admin.reporting_export"}
LINK_PAGES = {"admin.links", "admin.link_qr", "admin.qr_sheet"}


def jpeg(colour):
    buf = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(buf, "JPEG")
    return buf.getvalue()


def add_submission(store, org_code, title, colour):
    name = store.put_photo(jpeg(colour), "image/jpeg")
    answers = {"title": title, "people": 3, "income": "1.5", "mode": "选题",
               "phone": "13800138000",
               "photo": {"name": "现场.jpg", "size": 100, "content_type": "image/jpeg",
                         "file": name, "thumb": None},
               "steps": [{"month": "2026-03", "task": "流转土地", "owner": "张三"}]}
    doc, _created = store.add_submission("t_project", 1, org_code, answers, uuid.uuid4().hex,
                                         files=[name])
    return doc


@pytest.fixture
def world(app, store):
    """Two townships' submissions (each with a photo) and QR links, and one account per role."""
    store.add_form_version(check_schema(json.loads(json.dumps(PROJECT_FORM))), source="cli")
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        for username, (role, org) in PEOPLE.items():
            accounts.create_user(get_store(), username, PASSWORD, role, org)
    a = add_submission(store, VILLAGE_A, "甲镇的冬桃项目", (200, 30, 30))
    b = add_submission(store, VILLAGE_B, "乙镇的机密项目", (30, 30, 200))
    for doc in (a, b):  # project 1 in A, 2 in B
        store.add_project({"title": doc["answers"]["title"], "category": "产业发展",
                           "kind": "书记项目", "org_code": doc["org_code"], "secretary": "张三",
                           "year": 2026, "steps": [], "status": "已申报",
                           "application": doc["receipt"]})
    schema = store.get_form("public_demand")["schema"]  # a 群众诉求 of township A
    demand, _new = store.add_submission("public_demand", schema["version"], VILLAGE_A,
                                        {"category": "道路交通", "content": "村口路灯坏了三盏"},
                                        uuid.uuid4().hex)
    return {"a": a, "b": b, "demand": demand,
            "link_a": store.create_link("t_project", VILLAGE_A)["token"],
            "link_b": store.create_link("t_project", VILLAGE_B)["token"]}


@pytest.fixture
def clients(app, world):
    """username -> a logged-in test client."""
    result = {}
    for username in ROLE_OF:
        client = app.test_client()
        response = login(client, username, ADMIN[1] if username == "admin" else PASSWORD)
        assert response.status_code == 302, username
        result[username] = client
    return result


def page_csrf(client):
    return csrf_token(client.get("/admin/tokens").get_data(as_text=True))


def admin_urls(app, world, methods):
    """(endpoint, url) of every rule of the admin blueprint answering one of ``methods``,
    with the arguments filled in (a new rule with an argument this does not know fails)."""
    values = {"form_id": "t_project", "version": 1, "receipt": world["a"]["receipt"],
              "name": world["a"]["files"][0], "code": VILLAGE_A, "token": world["link_a"],
              "username": "admin", "token_id": "0", "fmt": "csv", "project_id": 1,
              "step": "assess"}
    query = {"admin.qr_sheet": f"?township={TOWNSHIP_A}",
             "admin.photo": f"?receipt={world['a']['receipt']}"}
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or not rule.methods & set(methods):
            continue
        unknown = set(rule.arguments) - set(values)
        assert not unknown, f"{rule.rule}: give test_roles a value for {unknown}"
        args = {key: values[key] for key in rule.arguments}
        if rule.endpoint == "admin.link_qr":
            args["fmt"] = "png"
        if rule.endpoint.startswith("admin.demand_"):  # a 群众诉求's pages take its receipt
            args["receipt"] = world["demand"]["receipt"]
        url = adapter.build(rule.endpoint, args, method=sorted(rule.methods & set(methods))[0])
        found.append((rule.endpoint, url + query.get(rule.endpoint, "")))
    return found


def may_open(username, endpoint):
    role = ROLE_OF[username]
    if role == "admin" or endpoint in READ_PAGES:
        return True
    if endpoint in CHASE_PAGES:
        return role in ("reviewer", "viewer")
    if endpoint in SCORE_PAGES:
        return role == "judge"
    return endpoint in LINK_PAGES | REVIEW_PAGES and role == "reviewer"


# ---------------------------------------------------------------- every page, every role

def test_every_role_gets_each_admin_page_or_403(app, world, clients):
    pages = admin_urls(app, world, {"GET"})
    assert len(pages) > 25 and {"admin.users", "admin.tokens"} <= {e for e, _u in pages}
    for username, client in clients.items():
        for endpoint, url in pages:
            response = client.get(url)
            if username == "admin":
                assert response.status_code not in (403, 500), (username, url)
            elif may_open(username, endpoint):
                expected = 404 if endpoint in NOT_SCORED else 200
                assert response.status_code == expected, (username, url, response.status_code)
            else:
                assert response.status_code == 403, (username, url, response.status_code)
                assert "没有权限" in response.get_data(as_text=True)


def test_no_role_but_admin_changes_anything_it_may_not(app, world, clients, store):
    """Every POST of the admin blueprint that is not the user's own (tokens) is refused with
    403 before it does anything — with a valid CSRF token, so the refusal is the role's."""
    posts = [(e, u) for e, u in admin_urls(app, world, {"POST"})
             if e not in ("admin.tokens", "admin.token_revoke")]
    assert {"admin.user_new", "admin.user_active", "admin.link_revoke",
            "admin.links_generate", "admin.org_delete"} <= {e for e, _u in posts}
    # A reviewer reviews, moves projects (tests/http/test_lifecycle.py) and handles 群众诉求
    # (tests/http/test_demands.py): not tried here.
    reviewing = {"admin.submission_review", "admin.submission_correct",
                 "admin.project_transition", "admin.demand_step", "admin.project_effect"}
    for username in ("rev_a", "judge", "viewer_a"):
        client = clients[username]
        token = page_csrf(client)
        for endpoint, url in posts:
            if username == "rev_a" and endpoint in reviewing:
                continue
            if username == "judge" and endpoint in SCORE_PAGES:  # a judge scores
                continue
            response = client.post(url, data={"csrf_token": token, "active": "0",
                                              "role": "admin", "username": "intruder",
                                              "password": "long-enough-pw", "org_code": ""})
            assert response.status_code == 403, (username, url, response.status_code)
    assert store.get_user("intruder") is None
    assert store.get_link(world["link_a"])["revoked_at"] is None
    assert store.get_user("admin").get("active", True)


def test_the_navigation_shows_what_the_role_may_open(clients):
    admin = clients["admin"].get("/admin/").get_data(as_text=True)
    for href in ('href="/admin/forms"', 'href="/admin/orgs"', 'href="/admin/users"',
                 'href="/admin/audit"', 'href="/admin/tokens"'):
        assert href in admin
    for username in ("rev_a", "judge", "viewer_a"):
        page = clients[username].get("/admin/").get_data(as_text=True)
        assert 'href="/admin/tokens"' in page and "查看提交" in page
        for href in ('href="/admin/forms"', 'href="/admin/orgs"', 'href="/admin/users"',
                     'href="/admin/audit"'):
            assert href not in page, (username, href)
    assert "二维码" in clients["rev_a"].get("/admin/").get_data(as_text=True)
    assert "二维码" not in clients["viewer_a"].get("/admin/").get_data(as_text=True)


# ---------------------------------------------------------------- scope

def exported(response):
    """Every CSV file of an export.csv answer: t_project has a repeat field, so it is a zip
    of one CSV per sheet."""
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        return "".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())


@pytest.mark.parametrize("username", ["rev_a", "viewer_a"])
def test_a_township_never_gets_the_other_townships_data(world, clients, username):
    client = clients[username]
    a, b = world["a"], world["b"]
    assert client.get(f"/admin/submissions/{b['receipt']}").status_code == 404
    own = client.get(f"/admin/submissions/{a['receipt']}")
    assert own.status_code == 200 and "甲镇的冬桃项目" in own.get_data(as_text=True)
    for query in ("", f"?org={VILLAGE_B}", f"?township={TOWNSHIP_B}"):
        listing = client.get(f"/admin/forms/t_project/submissions{query}")
        assert listing.status_code == 200
        text = listing.get_data(as_text=True)
        assert b["receipt"] not in text and "菖蒲" not in text  # nor in 催报 or the filter
        export = exported(client.get(f"/admin/forms/t_project/export.csv{query}"))
        assert "乙镇的机密项目" not in export and "菖蒲" not in export
    assert "甲镇的冬桃项目" in exported(client.get("/admin/forms/t_project/export.csv"))
    chase = client.get("/admin/forms/t_project/reporting")
    assert chase.status_code == 200 and "千佛塔村" in chase.get_data(as_text=True)
    assert "菖蒲" not in chase.get_data(as_text=True)
    assert client.get(f"/admin/forms/t_project/reporting?township={TOWNSHIP_B}"
                      ).status_code == 404
    missing = client.get("/admin/forms/t_project/reporting/missing.xlsx")
    assert missing.status_code == 200
    cells = [str(c) for row in openpyxl.load_workbook(io.BytesIO(missing.data)).active
             .iter_rows(values_only=True) for c in row if c]
    assert any("响肠" in c for c in cells) and not any("菖蒲" in c for c in cells)
    assert client.get("/admin/projects/2").status_code == 404
    assert "甲镇的冬桃项目" in client.get("/admin/projects/1").get_data(as_text=True)
    assert "乙镇的机密项目" not in client.get("/admin/projects").get_data(as_text=True)
    photo_a, photo_b = a["files"][0], b["files"][0]
    assert client.get(f"/admin/uploads/{photo_a}?receipt={a['receipt']}").status_code == 200
    for url in (f"/admin/uploads/{photo_b}?receipt={b['receipt']}",
                f"/admin/uploads/{photo_b}?receipt={a['receipt']}",  # not that one's photo
                f"/admin/uploads/{photo_b}", f"/admin/uploads/{photo_a}"):
        assert client.get(url).status_code == 404, url
    detail = client.get(f"/admin/submissions/{a['receipt']}").get_data(as_text=True)
    assert f"/admin/uploads/{photo_a}?receipt={a['receipt']}" in detail


def test_a_reviewer_sees_and_prints_only_its_own_qr_links(world, clients):
    client = clients["rev_a"]
    assert client.get(f"/admin/links/{world['link_a']}/qr.png").status_code == 200
    assert client.get(f"/admin/links/{world['link_b']}/qr.png").status_code == 404
    page = client.get("/admin/forms/t_project/links")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and world["link_a"] in text
    assert world["link_b"] not in text and "菖蒲" not in text
    assert "停用" not in text and "一键生成" not in text and "重新生成" not in text
    assert client.get(f"/admin/forms/t_project/links?township={TOWNSHIP_B}").status_code == 404
    assert client.get(f"/admin/forms/t_project/qr-sheet?township={TOWNSHIP_A}").status_code == 200
    assert client.get(f"/admin/forms/t_project/qr-sheet?township={TOWNSHIP_B}").status_code == 404
    admin = clients["admin"].get("/admin/forms/t_project/links").get_data(as_text=True)
    assert world["link_b"] in admin and "停用" in admin


def test_scope_follows_the_organization_and_county_wide_roles_see_all(world, clients):
    b = world["b"]["receipt"]
    assert clients["judge"].get(f"/admin/submissions/{b}").status_code == 200
    assert clients["admin"].get(f"/admin/submissions/{b}").status_code == 200
    assert clients["admin"].get(f"/admin/uploads/{world['b']['files'][0]}").status_code == 200
    dashboard = clients["rev_a"].get("/admin/").get_data(as_text=True)
    assert 'data-label="提交数" class="num">1<' in dashboard  # its own one, not two
    assert 'data-label="提交数" class="num">2<' in clients["admin"].get("/admin/").get_data(
        as_text=True)


# ---------------------------------------------------------------- users page

def post_user(client, url, **fields):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(page), **fields})


def test_admin_creates_edits_disables_and_resets_users(app, world, clients, store):
    admin = clients["admin"]
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert "审核员(乡镇)" in listing and "响肠镇" in listing and "rev_a" in listing
    new = {"username": "town_b", "password": "town-b-password", "role": "reviewer",
           "org_code": "", "name": "王五", "phone": "0556-8123456"}
    refusals = [({}, "审核员(乡镇)必须指定所属组织"),
                ({"role": "viewer"}, "只读查看必须指定所属组织"),
                ({"org_code": "999"}, "组织 999 不存在"),
                ({"org_code": TOWNSHIP_B, "password": "short"}, "密码至少 8 位"),
                ({"org_code": TOWNSHIP_B, "username": "rev_a"}, "用户名已存在"),
                ({"org_code": TOWNSHIP_B, "phone": "call me"}, "电话只能包含数字"),
                ({"role": "admin", "org_code": TOWNSHIP_B}, "不能指定所属组织")]
    for change, message in refusals:
        response = post_user(admin, "/admin/users/new", **{**new, **change})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert store.get_user("town_b") is None
    response = post_user(admin, "/admin/users/new", **{**new, "org_code": TOWNSHIP_B})
    assert response.status_code == 302
    user = store.get_user("town_b")
    assert (user["role"], user["org_code"], user["name"], user["phone"]) == (
        "reviewer", TOWNSHIP_B, "王五", "0556-8123456")
    town_b = app.test_client()
    assert login(town_b, "town_b", "town-b-password").status_code == 302
    assert town_b.get(f"/admin/submissions/{world['b']['receipt']}").status_code == 200
    assert town_b.get(f"/admin/submissions/{world['a']['receipt']}").status_code == 404

    # Moved to township A: its session ends, and its scope is A's
    edit = post_user(admin, "/admin/users/town_b/edit", role="reviewer", org_code=TOWNSHIP_A,
                     name="王五", phone="")
    assert edit.status_code == 302 and store.get_user("town_b")["org_code"] == TOWNSHIP_A
    assert town_b.get("/admin/").status_code == 302  # logged out
    assert login(town_b, "town_b", "town-b-password").status_code == 302
    assert town_b.get(f"/admin/submissions/{world['a']['receipt']}").status_code == 200
    refused = post_user(admin, "/admin/users/town_b/edit", role="reviewer", org_code="")
    assert refused.status_code == 422 and "必须指定所属组织" in refused.get_data(as_text=True)
    mine = post_user(admin, "/admin/users/admin/edit", role="viewer", org_code=TOWNSHIP_A)
    assert mine.status_code == 422 and "不能修改自己的角色" in mine.get_data(as_text=True)

    # Disabled: logged out, cannot log in; enabled again: can
    token = csrf_token(admin.get("/admin/users").get_data(as_text=True))
    assert admin.post("/admin/users/town_b/active",
                      data={"csrf_token": token, "active": "0"}).status_code == 302
    assert store.get_user("town_b")["active"] is False
    assert town_b.get("/admin/").status_code == 302
    assert login(town_b, "town_b", "town-b-password").status_code == 401
    assert "已停用" in admin.get("/admin/users").get_data(as_text=True)
    admin.post("/admin/users/admin/active", data={"csrf_token": token, "active": "0"})
    assert store.get_user("admin").get("active", True)  # not one's own account
    admin.post("/admin/users/town_b/active", data={"csrf_token": token, "active": "1"})
    assert login(town_b, "town_b", "town-b-password").status_code == 302

    # A new password: the old one stops working
    page = admin.get("/admin/users/town_b/edit").get_data(as_text=True)
    bad = admin.post("/admin/users/town_b/password", data={"csrf_token": csrf_token(page),
                                                           "password": "1234"})
    assert bad.status_code == 422 and "密码至少 8 位" in bad.get_data(as_text=True)
    assert admin.post("/admin/users/town_b/password", data={
        "csrf_token": csrf_token(page), "password": "another-password"}).status_code == 302
    assert login(app.test_client(), "town_b", "town-b-password").status_code == 401
    assert login(app.test_client(), "town_b", "another-password").status_code == 302
    assert admin.get("/admin/users/nobody/edit").status_code == 404

    actions = [e["action"] for e in store.query_audit(user="admin", limit=50)[0]]
    for action in ("user.create", "user.edit", "user.disable", "user.enable", "user.password"):
        assert action in actions


def test_the_last_admin_cannot_be_demoted_or_disabled(app, store):
    with app.app_context():
        accounts.create_user(get_store(), "boss", "boss-password", "admin")
        with pytest.raises(ValueError, match="至少要保留一个启用的管理员"):
            accounts.update_user(get_store(), "boss", "judge", None, by="someone")
        with pytest.raises(ValueError, match="至少要保留一个启用的管理员"):
            accounts.set_active(get_store(), "boss", False, by="someone")
        accounts.create_user(get_store(), "boss2", "boss-password", "admin")
        accounts.set_active(get_store(), "boss", False, by="boss2")
    assert store.get_user("boss")["active"] is False


# ---------------------------------------------------------------- command line

def test_cli_create_user_with_role_and_organization(runner, store):
    def create(*args):
        return runner.invoke(args=["create-user", *args, "--password-stdin"],
                             input="cli-password-1\n")

    result = create("town_a", "--role", "reviewer", "--org", TOWNSHIP_A, "--full-name", "李四")
    assert result.exit_code == 0, result.output
    user = store.get_user("town_a")
    assert (user["role"], user["org_code"], user["name"]) == ("reviewer", TOWNSHIP_A, "李四")
    no_org = create("town_x", "--role", "reviewer")
    assert no_org.exit_code != 0 and "审核员(乡镇)必须指定所属组织" in no_org.output
    unknown = create("town_y", "--role", "viewer", "--org", "123")
    assert unknown.exit_code != 0 and "组织 123 不存在" in unknown.output
    assert store.get_user("town_x") is None and store.get_user("town_y") is None
    assert create("expert", "--role", "judge").exit_code == 0
    assert store.get_user("expert")["org_code"] is None
    no_role = create("ops")  # never an admin by default
    assert no_role.exit_code != 0 and "--role" in no_role.output
    assert store.get_user("ops") is None
    assert create("bad", "--role", "boss").exit_code != 0


def test_cli_create_token_prints_a_secret_that_authenticates(runner, store):
    runner.invoke(args=["create-user", "town_a", "--role", "reviewer", "--org", TOWNSHIP_A,
                        "--password-stdin"], input="cli-password-1\n")
    result = runner.invoke(args=["create-token", "town_a", "--label", "市级平台", "--days", "30"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert "\n" not in secret and secret.startswith("tz_") and len(secret) > 40
    assert tokens.authenticate(store, secret)["username"] == "town_a"
    (doc,) = store.list_api_tokens("town_a")
    assert doc["label"] == "市级平台" and doc["token_hash"] == tokens.hash_secret(secret)
    assert secret not in json.dumps(doc)  # only the hash is stored
    expires = doc["expires_at"]
    assert str(now() + timedelta(days=29))[:10] <= expires[:10] <= str(
        now() + timedelta(days=31))[:10]
    assert runner.invoke(args=["create-token", "nobody"]).exit_code != 0
    assert runner.invoke(args=["create-token", "town_a", "--days", "0"]).exit_code != 0
    actions = [e["action"] for e in store.query_audit(limit=10)[0]]
    assert "token.create" in actions


# ---------------------------------------------------------------- tokens

def token_error(store, secret):
    with pytest.raises(tokens.TokenError) as caught:
        tokens.authenticate(store, secret)
    assert caught.value.message and caught.value.english
    return caught.value.code


def test_tokens_authenticate_until_revoked_expired_or_disabled(app, store):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        accounts.create_user(get_store(), "town_a", PASSWORD, "reviewer", TOWNSHIP_A)
    secret, doc = tokens.create(store, "town_a", "同步")
    user = tokens.authenticate(store, secret)
    assert (user["username"], user["role"], user["org_code"]) == (
        "town_a", "reviewer", TOWNSHIP_A)
    for garbage in ("", "tz_", "tz_" + "x" * 43, secret + "x", "Bearer " + secret, None):
        assert token_error(store, garbage) == "token_invalid"
    other, other_doc = tokens.create(store, "admin", "")
    with pytest.raises(LookupError):  # another user's token is not revoked, nor revealed
        tokens.revoke(store, other_doc["id"], {"username": "town_a", "role": "reviewer",
                                               "org_code": TOWNSHIP_A})
    assert tokens.authenticate(store, other)["username"] == "admin"
    tokens.revoke(store, doc["id"], user)
    assert token_error(store, secret) == "token_revoked"
    assert "已被吊销" in str(tokens.TokenError("token_revoked"))

    old = "tz_" + "o" * 43
    store.add_api_token("town_a", tokens.hash_secret(old), "旧", now() - timedelta(seconds=1))
    assert token_error(store, old) == "token_expired"

    fresh, _doc = tokens.create(store, "town_a", "", days=1)
    accounts.set_active(store, "town_a", False, by="admin")
    assert token_error(store, fresh) == "user_disabled"
    with pytest.raises(ValueError):
        tokens.create(store, "town_a", "")  # a disabled account gets none
    with pytest.raises(ValueError):
        tokens.create(store, "admin", "", days=0)


def test_tokens_page_own_tokens_once_shown_admin_sees_all(world, clients, store):
    reviewer, admin = clients["rev_a"], clients["admin"]
    made = reviewer.post("/admin/tokens", data={"csrf_token": page_csrf(reviewer),
                                                "label": "乡镇脚本", "days": "90"})
    assert made.status_code == 201
    secret = next(word for word in made.get_data(as_text=True).split('"')
                  if word.startswith("tz_"))
    assert tokens.authenticate(store, secret)["username"] == "rev_a"
    listing = reviewer.get("/admin/tokens").get_data(as_text=True)
    assert "乡镇脚本" in listing and secret not in listing  # shown once
    bad = reviewer.post("/admin/tokens", data={"csrf_token": page_csrf(reviewer),
                                               "label": "x", "days": "0"})
    assert bad.status_code == 422 and "有效天数须为" in bad.get_data(as_text=True)

    admin.post("/admin/tokens", data={"csrf_token": page_csrf(admin), "label": "县级同步",
                                      "days": "30"})
    assert "县级同步" not in reviewer.get("/admin/tokens").get_data(as_text=True)
    all_tokens = admin.get("/admin/tokens").get_data(as_text=True)
    assert "乡镇脚本" in all_tokens and "rev_a" in all_tokens
    (admin_token,) = store.list_api_tokens("admin")
    (own,) = store.list_api_tokens("rev_a")
    refused = reviewer.post(f"/admin/tokens/{admin_token['id']}/revoke",
                            data={"csrf_token": page_csrf(reviewer)})
    assert refused.status_code == 404
    assert store.list_api_tokens("admin")[0]["revoked_at"] is None
    assert admin.post(f"/admin/tokens/{own['id']}/revoke",
                      data={"csrf_token": page_csrf(admin)}).status_code == 302
    assert token_error(store, secret) == "token_revoked"
    actions = [(e["user"], e["action"]) for e in store.query_audit(limit=20)[0]]
    assert ("rev_a", "token.create") in actions and ("admin", "token.revoke") in actions
