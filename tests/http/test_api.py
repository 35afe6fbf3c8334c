"""JSON API v1 (/api/v1) through Flask's test client, on both backends: tokens, scope, roles,
review and transition bodies, paging and incremental sync, JSON errors, and the OpenAPI
document against the app's URL rules."""
import re
import uuid
from datetime import timedelta

import pytest

from services import projects, tokens
from storage import common

A, B = "340828101", "340828102"  # 响肠镇, 菖蒲镇
A_VILLAGE, A_VILLAGE2, B_VILLAGE = "340828101202", "340828101203", "340828102201"
USERS = {  # username: (role, org_code)
    "county": ("admin", None),
    "rev_a": ("reviewer", A),
    "rev_b": ("reviewer", B),
    "view_a": ("viewer", A),
    "judge": ("judge", None),
}


class Api:
    """The test client with a token per user, and the records the tests share."""

    def __init__(self, client, store, secrets):
        self.client, self.store, self.secrets = client, store, secrets

    def headers(self, user):
        return {"Authorization": f"Bearer {self.secrets[user]}"}

    def get(self, user, url, **params):
        return self.client.get(url, headers=self.headers(user), query_string=params)

    def post(self, user, url, body):
        return self.client.post(url, headers=self.headers(user), json=body)


def add_report(store, org_code, period=None, answers=None):
    doc, _created = store.add_submission(
        "monthly_report", store.get_form("monthly_report")["version"], org_code,
        answers or {"progress": f"{org_code} 本月进展"}, uuid.uuid4().hex, period=period)
    return doc


def add_application(store, org_code, title):
    """An application and the project it opens (已申报)."""
    form = store.get_form("apply_development")
    answers = {"project_name": title, "secretary_name": "张书记",
               "steps": [{"month": "2026-03", "task": "流转土地", "owner": "张三"}]}
    doc, _created = store.add_submission("apply_development", form["version"], org_code,
                                         answers, uuid.uuid4().hex, period="2026")
    project = projects.open_for_application(store, form["schema"], doc)
    return store.get_submission(doc["receipt"]), project


@pytest.fixture
def api(app, client, store):
    secrets = {}
    for username, (role, org_code) in USERS.items():
        store.add_user(username, "not-a-password-hash", role, org_code)
        secrets[username] = tokens.create(store, username, label="test")[0]
    return Api(client, store, secrets)


@pytest.fixture
def records(api):
    store = api.store
    a_app, a_project = add_application(store, A_VILLAGE, "A村冬桃")
    b_app, b_project = add_application(store, B_VILLAGE, "B村茶叶")
    return {"a_report": add_report(store, A_VILLAGE, "2026-11"),
            "b_report": add_report(store, B_VILLAGE, "2026-11"),
            "a_app": a_app, "a_project": a_project, "b_app": b_app, "b_project": b_project}


def error_of(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert " / " in body["error"]["message"]  # 中文 / English
    return body["error"]


# ---------------------------------------------------------------- tokens

def test_token_errors(api, app, store, client):
    error = error_of(client.get("/api/v1/forms"), 401, "token_missing")
    assert client.get("/api/v1/forms").headers["WWW-Authenticate"].startswith("Bearer")
    error_of(client.get("/api/v1/forms", headers={"Authorization": "Basic YWRtaW46eA=="}),
             401, "token_missing")
    for wrong in ("tz_" + "x" * 43, "garbage", api.secrets["county"] + "x"):
        response = client.get("/api/v1/forms", headers={"Authorization": f"Bearer {wrong}"})
        error_of(response, 401, "token_invalid")
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

    secret, doc = tokens.create(store, "rev_a")
    assert client.get("/api/v1/forms", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 200
    store.revoke_api_token(doc["id"])
    error_of(client.get("/api/v1/forms", headers={"Authorization": f"Bearer {secret}"}),
             401, "token_revoked")

    expired = "tz_expired-" + uuid.uuid4().hex
    store.add_api_token("rev_a", tokens.hash_secret(expired), "old",
                        common.now() - timedelta(minutes=1))
    error_of(client.get("/api/v1/forms", headers={"Authorization": f"Bearer {expired}"}),
             401, "token_expired")

    assert api.get("view_a", "/api/v1/forms").status_code == 200
    store.update_user("view_a", {"active": False})
    error_of(api.get("view_a", "/api/v1/forms"), 401, "user_disabled")
    assert error.get("details") is None


def test_openapi_needs_no_token_and_a_session_does_not_open_the_api(api, admin_client):
    assert api.client.get("/api/v1/openapi.json").status_code == 200
    # admin_client is logged in through the pages: its cookie is not an API credential.
    error_of(admin_client.get("/api/v1/forms"), 401, "token_missing")


def test_no_cookie_and_no_csrf(api, records):
    receipt = records["a_report"]["receipt"]
    response = api.post("county", f"/api/v1/submissions/{receipt}/review", {"action": "approve"})
    assert response.status_code == 200  # no CSRF token sent
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- every endpoint as admin

def test_forms(api):
    forms = api.get("county", "/api/v1/forms").get_json()["data"]
    by_id = {f["id"]: f for f in forms}
    assert by_id["monthly_report"] == {
        "id": "monthly_report", "title": "“书记项目”月度进展报告", "stage": "月报",
        "version": 1, "period": {"every": "month", "field": "report_month", "due_day": 5},
        "audience": None, "project_role": "report", "closed": False}
    assert by_id["apply_organ"]["audience"] == {"kinds": ["unit"]}
    assert by_id["public_demand"]["project_role"] is None

    api.store.set_form_closed("public_demand", True, "admin")
    forms = api.get("county", "/api/v1/forms").get_json()["data"]
    assert {f["id"]: f["closed"] for f in forms}["public_demand"] is True

    detail = api.get("county", "/api/v1/forms/monthly_report").get_json()["data"]
    assert detail["schema"]["id"] == "monthly_report" and detail["schema"]["fields"]
    assert detail["version"] == 1 and detail["project_role"] == "report"
    error_of(api.get("county", "/api/v1/forms/no_such_form"), 404, "not_found")
    error_of(api.get("county", "/api/v1/forms/NOT-AN-ID"), 404, "not_found")


def test_submissions_and_one_submission(api, records):
    listed = api.get("county", "/api/v1/forms/monthly_report/submissions").get_json()
    receipts = [d["receipt"] for d in listed["data"]]
    assert receipts == [records["a_report"]["receipt"], records["b_report"]["receipt"]]
    assert listed["next_cursor"] is None
    common.parse_stamp(listed["server_time"])

    one = api.get("county", f"/api/v1/submissions/{records['a_report']['receipt']}")
    data = one.get_json()["data"]
    assert data == listed["data"][0]
    assert data["org_code"] == A_VILLAGE and data["org_name"] == "千佛塔村"
    assert data["status"] == "待审核" and data["period"] == "2026-11"
    assert data["answers"] == {"progress": f"{A_VILLAGE} 本月进展"}
    assert data["history"] == [] and data["revision"] == 1
    assert "token" not in data and "submission_id" not in data
    error_of(api.get("county", "/api/v1/submissions/990101-0001"), 404, "not_found")
    error_of(api.get("county", "/api/v1/submissions/../etc"), 404, "not_found")


def test_review_as_admin(api, records, store):
    receipt = records["a_report"]["receipt"]
    response = api.post("county", f"/api/v1/submissions/{receipt}/review",
                        {"action": "return", "comment": "请补充照片"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["project"] is None
    assert body["data"]["status"] == "退回修改"
    entry = body["data"]["history"][-1]
    assert (entry["user"], entry["action"], entry["from"], entry["to"], entry["comment"]) == \
        ("county", "return", "待审核", "退回修改", "请补充照片")
    assert store.get_submission(receipt)["status"] == "退回修改"
    audit, _total = store.query_audit(action="submission.return")
    assert audit[0]["user"] == "county" and audit[0]["target"] == receipt
    assert audit[0]["detail"]["via"] == "api"

    void = api.post("county", f"/api/v1/submissions/{receipt}/review",
                    {"action": "void", "comment": "重复提交"})
    assert void.get_json()["data"]["status"] == "已作废"
    restore = api.post("county", f"/api/v1/submissions/{receipt}/review",
                       {"action": "restore", "comment": None})
    # back to what it was before it was voided
    assert restore.status_code == 200 and restore.get_json()["data"]["status"] == "退回修改"


def test_review_of_an_application_moves_its_project(api, records, store):
    receipt = records["a_app"]["receipt"]
    body = api.post("rev_a", f"/api/v1/submissions/{receipt}/review",
                    {"action": "approve", "comment": "同意"}).get_json()
    assert body["data"]["status"] == "已通过"  # as stored after the project's step
    assert body["project"]["id"] == records["a_project"]["id"]
    assert body["project"]["status"] == "预审通过"
    assert store.get_project(records["a_project"]["id"])["status"] == "预审通过"


def test_orgs(api, store):
    store.upsert_orgs([{**store.get_org(A_VILLAGE), "secretary": "王书记",
                        "phone": "13800138000"}])
    orgs = api.get("county", "/api/v1/orgs").get_json()["data"]
    assert len(orgs) == len(store.list_orgs())
    village = next(o for o in orgs if o["code"] == A_VILLAGE)
    assert village == {"code": A_VILLAGE, "name": "千佛塔村", "parent_code": A,
                       "kind": "village", "secretary": "王书记", "phone": "13800138000"}


def test_projects_and_one_project(api, records, store):
    listed = api.get("county", "/api/v1/projects").get_json()["data"]
    assert [p["id"] for p in listed] == [records["a_project"]["id"], records["b_project"]["id"]]
    assert listed[0]["title"] == "A村冬桃" and listed[0]["status"] == "已申报"
    assert listed[0]["application"] == records["a_app"]["receipt"]
    assert api.get("county", "/api/v1/projects", status="已立项").get_json()["data"] == []
    assert api.get("county", "/api/v1/projects", year="2026").get_json()["data"] == listed
    assert api.get("county", "/api/v1/projects", year="2025").get_json()["data"] == []
    assert [p["id"] for p in api.get("county", "/api/v1/projects", org=B).get_json()["data"]] \
        == [records["b_project"]["id"]]

    pid = records["a_project"]["id"]
    project = store.get_project(pid)
    project = store.update_project(pid, project["revision"], {"status": "实施中"})
    report = add_report(store, A_VILLAGE, "2026-03",
                        {"project": str(pid), "progress": "已流转土地"})
    store.update_submission(report["receipt"], report["revision"], {"project_id": pid})
    detail = api.get("county", f"/api/v1/projects/{pid}").get_json()["data"]
    assert detail["application"] == records["a_app"]["receipt"]
    assert detail["application_status"] == "待审核"
    assert [r["receipt"] for r in detail["reports"]] == [report["receipt"]]
    assert detail["progress"]["rows"][0]["month"] == "2026-03"
    assert detail["progress"]["rows"][0]["reports"] == [report["receipt"]]
    assert detail["progress"]["total"] == 1
    error_of(api.get("county", "/api/v1/projects/999999"), 404, "not_found")
    error_of(api.get("county", "/api/v1/projects/99999999999999999999"), 404, "not_found")
    error_of(api.get("county", "/api/v1/projects/abc"), 404, "not_found")


def test_transition_as_admin(api, records, store):
    pid = records["a_project"]["id"]
    response = api.post("county", f"/api/v1/projects/{pid}/transition",
                        {"to": "预审通过", "comment": "材料齐全"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["data"]["status"] == "预审通过"
    # the application follows its project while the project is at its application stage
    assert store.get_submission(records["a_app"]["receipt"])["status"] == "已通过"
    response = api.post("county", f"/api/v1/projects/{pid}/transition", {"to": "已立项"})
    project = response.get_json()["data"]
    assert project["status"] == "已立项"
    assert project["history"][-1]["user"] == "county"
    audit, _total = store.query_audit(action="project.transition")
    assert [e["detail"]["to"] for e in audit] == ["已立项", "预审通过"]


def test_reporting(api, records, store):
    link = store.create_link("monthly_report", A_VILLAGE)
    # who must report monthly: the villages with a running project
    for code in (A_VILLAGE, A_VILLAGE2):
        store.add_project({"title": "项目", "category": "党建引领发展类", "kind": "书记项目",
                           "org_code": code, "secretary": "", "year": 2026, "steps": [],
                           "status": "实施中", "application": f"running-{code}"})
    url = "/api/v1/forms/monthly_report/reporting"
    response = api.get("county", url, period="2026-11")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert (data["form_id"], data["period"], data["due"]) == \
        ("monthly_report", "2026-11", "2026-12-05")
    rows = {o["code"]: o for o in data["orgs"]}
    assert rows[A_VILLAGE]["state"] in ("已报", "迟报")
    assert rows[A_VILLAGE]["receipt"] == records["a_report"]["receipt"]
    assert rows[A_VILLAGE]["link"].endswith(f"/f/{link['token']}")
    assert rows[A_VILLAGE2]["receipt"] is None and rows[A_VILLAGE2]["link"] is None
    assert "link_token" not in rows[A_VILLAGE]
    assert data["counts"]["expected"] == len(rows)
    assert [a["kind"] for a in data["rollup"]][0] == "county"

    # scope: a township reviewer chases its own villages; a viewer sees no QR links
    mine = api.get("rev_a", url, period="2026-11").get_json()["data"]
    assert {o["code"] for o in mine["orgs"]} == {c for c in rows if c.startswith(A)}
    assert [a["code"] for a in mine["rollup"]] == [A]
    viewed = api.get("view_a", url, period="2026-11").get_json()["data"]
    assert {o["code"]: o["link"] for o in viewed["orgs"]}[A_VILLAGE] is None
    error_of(api.get("rev_a", url, period="2026-11", org=B), 404, "not_found")
    only = api.get("county", url, period="2026-11", org=A_VILLAGE).get_json()["data"]
    assert [o["code"] for o in only["orgs"]] == [A_VILLAGE]

    assert api.get("county", url).status_code == 200  # the period being chased
    error_of(api.get("county", url, period="2026"), 400, "invalid_parameter")
    error_of(api.get("county", url, period="2026-13"), 400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/forms/public_demand/reporting", period="2026"),
             400, "invalid_parameter")
    assert api.get("county", "/api/v1/forms/public_demand/reporting").status_code == 200
    error_of(api.get("judge", url, period="2026-11"), 403, "forbidden")


# ---------------------------------------------------------------- scope and roles

def test_a_reviewer_of_one_township_cannot_reach_another(api, records, store):
    b_receipt, b_pid = records["b_report"]["receipt"], records["b_project"]["id"]
    error_of(api.get("rev_a", f"/api/v1/submissions/{b_receipt}"), 404, "not_found")
    error_of(api.get("rev_a", f"/api/v1/submissions/{records['b_app']['receipt']}"),
             404, "not_found")
    error_of(api.get("rev_a", f"/api/v1/projects/{b_pid}"), 404, "not_found")
    error_of(api.get("rev_a", "/api/v1/forms/monthly_report/submissions", org=B),
             404, "not_found")
    error_of(api.get("rev_a", "/api/v1/forms/monthly_report/submissions", org=B_VILLAGE),
             404, "not_found")
    error_of(api.get("rev_a", "/api/v1/projects", org=B), 404, "not_found")
    error_of(api.post("rev_a", f"/api/v1/submissions/{b_receipt}/review",
                      {"action": "approve"}), 404, "not_found")
    error_of(api.post("rev_a", f"/api/v1/projects/{b_pid}/transition", {"to": "预审通过"}),
             404, "not_found")
    assert store.get_submission(b_receipt)["status"] == "待审核"
    assert store.get_project(b_pid)["status"] == "已申报"

    # lists: only A's
    listed = api.get("rev_a", "/api/v1/forms/monthly_report/submissions").get_json()["data"]
    assert [d["receipt"] for d in listed] == [records["a_report"]["receipt"]]
    in_a = api.get("rev_a", "/api/v1/forms/monthly_report/submissions", org=A_VILLAGE)
    assert [d["receipt"] for d in in_a.get_json()["data"]] == [records["a_report"]["receipt"]]
    other_village = api.get("rev_a", "/api/v1/forms/monthly_report/submissions",
                            org=A_VILLAGE2).get_json()["data"]
    assert other_village == []
    assert [p["id"] for p in api.get("rev_a", "/api/v1/projects").get_json()["data"]] == \
        [records["a_project"]["id"]]
    codes = {o["code"] for o in api.get("rev_a", "/api/v1/orgs").get_json()["data"]}
    assert A in codes and A_VILLAGE in codes
    assert B not in codes and B_VILLAGE not in codes and "340828" not in codes

    # and the other way round, B sees B's only
    listed = api.get("rev_b", "/api/v1/forms/monthly_report/submissions").get_json()["data"]
    assert [d["receipt"] for d in listed] == [b_receipt]
    # the county admin sees both
    assert len(api.get("county", "/api/v1/forms/monthly_report/submissions")
               .get_json()["data"]) == 2


def test_a_viewer_or_judge_may_not_review_or_transition(api, records, store):
    receipt, pid = records["a_report"]["receipt"], records["a_project"]["id"]
    for user in ("view_a", "judge"):
        # they may read it...
        assert api.get(user, f"/api/v1/submissions/{receipt}").status_code == 200
        # ...but not review it
        error_of(api.post(user, f"/api/v1/submissions/{receipt}/review",
                          {"action": "approve", "comment": "好"}), 403, "forbidden")
        error_of(api.post(user, f"/api/v1/projects/{pid}/transition",
                          {"to": "预审通过"}), 403, "forbidden")
    # a viewer of A is scoped: B's records do not exist for it
    error_of(api.post("view_a", f"/api/v1/submissions/{records['b_report']['receipt']}/review",
                      {"action": "approve"}), 404, "not_found")
    assert store.get_submission(receipt)["status"] == "待审核"
    assert store.get_project(pid)["status"] == "已申报"
    # a reviewer may pre-review but not approve a project into the library (admin only)
    assert api.post("rev_a", f"/api/v1/projects/{pid}/transition",
                    {"to": "预审通过"}).status_code == 200
    error_of(api.post("rev_a", f"/api/v1/projects/{pid}/transition", {"to": "已立项"}),
             403, "forbidden")


# ---------------------------------------------------------------- bodies

@pytest.mark.parametrize("body, status, code", [
    ({"action": "accept"}, 422, "invalid_action"),
    ({"action": "return"}, 422, "comment_required"),
    ({"action": "return", "comment": "  "}, 422, "comment_required"),
    ({"action": "void", "comment": None}, 422, "comment_required"),
    ({"action": "approve", "comment": "x" * 1001}, 422, "comment_too_long"),
    ({"action": "approve", "comment": "好", "revision": 1}, 422, "validation_error"),
    ({"comment": "好"}, 422, "validation_error"),
    ({"action": ["approve"]}, 422, "validation_error"),
    ({"action": "approve", "comment": 5}, 422, "validation_error"),
    (["approve"], 422, "validation_error"),
    ("approve", 422, "validation_error"),
])
def test_review_bodies(api, records, store, body, status, code):
    receipt = records["a_report"]["receipt"]
    error_of(api.post("county", f"/api/v1/submissions/{receipt}/review", body), status, code)
    doc = store.get_submission(receipt)
    assert (doc["status"], doc["history"], doc["revision"]) == ("待审核", [], 1)


@pytest.mark.parametrize("data, content_type", [
    ("action=approve", "application/x-www-form-urlencoded"),
    ('{"action": "approve"', "application/json"),
    ('{"action": "approve", "action": "void"}', "application/json"),
    (b'{"action": "\xff"}', "application/json"),
    ("", "application/json"),
])
def test_review_body_that_is_not_json(api, records, store, data, content_type):
    receipt = records["a_report"]["receipt"]
    response = api.client.post(f"/api/v1/submissions/{receipt}/review", data=data,
                               content_type=content_type, headers=api.headers("county"))
    error_of(response, 400, "bad_request")
    assert store.get_submission(receipt)["status"] == "待审核"


def test_review_that_the_state_machine_refuses(api, records):
    receipt = records["a_report"]["receipt"]
    error_of(api.post("county", f"/api/v1/submissions/{receipt}/review",
                      {"action": "restore"}), 422, "invalid_transition")


def test_transitions_refused(api, records, store):
    pid = records["a_project"]["id"]
    url = f"/api/v1/projects/{pid}/transition"
    error_of(api.post("county", url, {"to": "已立项", "comment": "跳过预审"}),
             422, "invalid_transition")
    error_of(api.post("county", url, {"to": "实施中"}), 422, "invalid_transition")
    error_of(api.post("county", url, {"to": "完成"}), 422, "invalid_status")
    error_of(api.post("county", url, {"to": "退回修改"}), 422, "comment_required")
    error_of(api.post("county", url, {"to": "预审通过", "by": "admin"}), 422, "validation_error")
    error_of(api.post("county", url, {"status": "预审通过"}), 422, "validation_error")
    response = api.client.post(url, data="to=预审通过", headers=api.headers("county"))
    error_of(response, 400, "bad_request")
    project = store.get_project(pid)
    assert (project["status"], project["revision"]) == ("已申报", records["a_project"]["revision"])


# ---------------------------------------------------------------- paging and sync

def import_reports(store, count, org_code=A_VILLAGE, days_ago=10):
    """``count`` monthly reports stored ``days_ago`` days ago (their updated_at then too)."""
    _total, before = store.query_submissions("monthly_report")
    at = common.now().replace(microsecond=0) - timedelta(days=days_ago)
    version = store.get_form("monthly_report")["version"]
    store.import_submissions([
        {"form_id": "monthly_report", "form_version": version, "org_code": org_code,
         "answers": {"n": i}, "submitted_at": common.stamp(at + timedelta(minutes=i))}
        for i in range(count)])
    _total, docs = store.query_submissions("monthly_report", after_id=0)
    return [d["receipt"] for d in docs if d["id"] not in {b["id"] for b in before}]


def sync(api, user="county", **params):
    """Every page of a sync: (receipts in the order received, the server_time to keep)."""
    receipts, cursor, times = [], None, set()
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = api.get(user, "/api/v1/forms/monthly_report/submissions", **query).get_json()
        receipts += [d["receipt"] for d in body["data"]]
        times.add(body["server_time"])
        cursor = body["next_cursor"]
        if cursor is None:
            assert len(times) == 1  # every page of one sync names the same server_time
            return receipts, times.pop()


def test_cursor_paging_in_id_order(api, store):
    stored = import_reports(store, 7)
    first = api.get("county", "/api/v1/forms/monthly_report/submissions", limit="3").get_json()
    assert [d["receipt"] for d in first["data"]] == stored[:3]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first["next_cursor"])
    receipts, _time = sync(api, limit="3")
    assert receipts == stored
    assert sync(api, limit="7")[0] == stored  # exactly one full page: no empty page after
    assert sync(api, limit="500")[0] == stored

    # a cursor belongs to its query: other filters, or a forged cursor, are refused
    cursor = first["next_cursor"]
    error_of(api.get("county", "/api/v1/forms/monthly_report/submissions", cursor=cursor,
                     status="已通过"), 400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/forms/monthly_report/submissions", cursor="bm9wZQ"),
             400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/forms/monthly_report/submissions", cursor="!!"),
             400, "invalid_parameter")
    # another page size with the same filters is fine
    rest = api.get("county", "/api/v1/forms/monthly_report/submissions", cursor=cursor,
                   limit="10").get_json()
    assert [d["receipt"] for d in rest["data"]] == stored[3:]


def test_since_sync_brings_what_changed(api, store):
    stored = import_reports(store, 5)
    receipts, server_time = sync(api, limit="2")
    assert receipts == stored
    # nothing changed: nothing to sync
    assert sync(api, since=server_time)[0] == []

    assert api.post("county", f"/api/v1/submissions/{stored[3]}/review",
                    {"action": "approve"}).status_code == 200
    new = add_report(store, A_VILLAGE)
    receipts, next_time = sync(api, since=server_time, limit="1")
    assert receipts == [stored[3], new["receipt"]]
    assert next_time >= server_time
    body = api.get("county", "/api/v1/forms/monthly_report/submissions",
                   since=server_time).get_json()
    assert body["data"][0]["status"] == "已通过"

    # a void leaves the default list; a sync learns of it by asking for 已作废
    api.post("county", f"/api/v1/submissions/{stored[1]}/review",
             {"action": "void", "comment": "重复"})
    assert stored[1] not in sync(api, since=server_time)[0]
    assert sync(api, since=server_time, status="已作废")[0] == [stored[1]]
    assert sync(api)[0] == [r for r in stored if r != stored[1]] + [new["receipt"]]


def test_submission_filters(api, store, records):
    old = import_reports(store, 2, org_code=A_VILLAGE2, days_ago=40)
    day = (common.now() - timedelta(days=40)).date().isoformat()
    a, b = records["a_report"]["receipt"], records["b_report"]["receipt"]
    assert sync(api, org=A)[0] == [a] + old
    assert sync(api, org=A_VILLAGE2)[0] == old
    assert sync(api, org="340828")[0] == [a, b] + old
    assert sync(api, **{"from": day, "to": day})[0] == old
    assert sync(api, to=day)[0] == old
    assert sync(api, period="2026-11")[0] == [a, b]
    assert sync(api, period="2026-11", limit="1")[0] == [a, b]
    assert sync(api, period="2026-10")[0] == []
    assert sync(api, status="已通过")[0] == []
    assert sync(api, status="待审核", org=B)[0] == [b]
    error_of(api.get("county", "/api/v1/forms/monthly_report/submissions", org="nowhere"),
             404, "not_found")
    error_of(api.get("county", "/api/v1/forms/no_such/submissions"), 404, "not_found")


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"from": "2026-02-30"},
    {"from": "2026-5-1"}, {"to": "yesterday"}, {"from": "2026-05-02", "to": "2026-05-01"},
    {"status": "approved"}, {"period": "2026-13"}, {"period": "26"}, {"since": "2026-05-01"},
    {"since": "yesterday"}, {"statuss": "已通过"}, {"cursor": ""},
])
def test_bad_query_parameters(api, params):
    error = error_of(api.get("county", "/api/v1/forms/monthly_report/submissions", **params),
                     400, "invalid_parameter")
    assert error["details"]["parameter"] in params


def test_a_parameter_given_twice_is_refused(api):
    response = api.client.get("/api/v1/forms/monthly_report/submissions?status=待审核&status=已作废",
                              headers=api.headers("county"))
    error_of(response, 400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/projects", year="26"), 400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/projects", status="done"), 400, "invalid_parameter")
    error_of(api.get("county", "/api/v1/orgs", page="2"), 400, "invalid_parameter")


# ---------------------------------------------------------------- errors and the document

def test_routing_errors_are_json(api):
    error_of(api.get("county", "/api/v1/nothing/here"), 404, "not_found")
    error_of(api.client.get("/api/v1/nothing"), 404, "not_found")
    error_of(api.get("county", "/api/v1"), 404, "not_found")
    response = api.client.delete("/api/v1/forms", headers=api.headers("county"))
    error_of(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    error_of(api.client.get("/api/v1/projects/1/transition", headers=api.headers("county")),
             405, "method_not_allowed")
    # outside the API the pages keep their Chinese HTML error pages
    assert api.client.get("/nothing/here").mimetype == "text/html"


def test_rate_limit_per_token(api, app):
    app.config["RATE_LIMIT_API"] = "3 per minute"
    for _ in range(3):
        assert api.get("rev_a", "/api/v1/forms").status_code == 200
    response = api.get("rev_a", "/api/v1/forms")
    error_of(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert api.get("rev_b", "/api/v1/forms").status_code == 200  # another token's budget
    assert api.client.get("/api/v1/openapi.json").status_code == 200  # never limited


def _openapi_path(rule):
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule).removeprefix("/api/v1")


def test_openapi_document_matches_the_routes(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "http://localhost/api/v1"}]
    routes = {(_openapi_path(rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item}
    assert routes == documented
    assert len(routes) == 11
    # every path parameter of the rules is documented, and every operation but the document
    # itself needs the token
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{([a-z_]+)}", path)), (path, method)
            assert ("security" in operation) == (path == "/openapi.json")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
