"""The year of a 书记项目 through HTTP, on both backends: an application opens a project; a
township reviewer returns it; the cadre corrects it through the private receipt link (same
receipt, a new version, the comment on top); pre-review and 立项; a monthly report names the
project (only its own village's projects are offered), is one per month, and moves it to 实施中;
an acceptance request asks for acceptance; voiding and restoring; direct correction."""
import json
import re
from datetime import date

import pytest

from db import get_store
from forms.loader import check_schema
from services.accounts import create_user
from support.helpers import csrf_token, login, open_form

APPLY = {
    "id": "t_apply", "title": "测试申报表", "description": "申报",
    "period": {"every": "year"},
    "project": {"role": "application", "kind": "书记项目", "category": "党建引领发展类",
                "title": "name", "secretary": "secretary", "steps": "steps"},
    "fields": [
        {"name": "name", "type": "text", "label": "项目名称", "required": True},
        {"name": "secretary", "type": "text", "label": "书记姓名", "required": True},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "min_items": 1,
         "fields": [{"name": "month", "type": "month", "label": "月份", "required": True},
                    {"name": "task", "type": "text", "label": "任务", "required": True}]},
    ],
}
REPORT = {
    "id": "t_report", "title": "测试月报", "description": "月报",
    "period": {"every": "month", "field": "month", "due_day": 5},
    "project": {"role": "report"},
    "fields": [
        {"name": "month", "type": "month", "label": "报告月份", "required": True},
        {"name": "project", "type": "project", "label": "项目名称", "required": True},
        {"name": "progress", "type": "integer", "label": "完成进度", "min": 0, "max": 100},
    ],
}
ACCEPT = {
    "id": "t_accept", "title": "测试验收申请", "description": "验收",
    "project": {"role": "acceptance"},
    "fields": [{"name": "project", "type": "project", "label": "项目名称", "required": True},
               {"name": "done", "type": "textarea", "label": "完成情况", "required": True}],
}
THIS_MONTH = date.today().strftime("%Y-%m")


@pytest.fixture
def world(app, store):
    for schema in (APPLY, REPORT, ACCEPT):
        store.add_form_version(check_schema(json.loads(json.dumps(schema))), source="cli")
    orgs = {o["name"]: o for o in store.list_orgs()}
    village = orgs["千佛塔村"]
    township = store.get_org(village["parent_code"])
    other_town = next(o for o in store.list_orgs() if o["kind"] == "township"
                      and o["code"] != township["code"])
    other_village = next(o for o in store.list_orgs() if o["parent_code"] == other_town["code"])
    with app.app_context():
        create_user(store, "admin", "correct horse battery", "admin")
        create_user(store, "town", "correct horse battery", "reviewer",
                    org_code=township["code"])
        create_user(store, "other", "correct horse battery", "reviewer",
                    org_code=other_town["code"])
    links = {(f, o["code"]): store.create_link(f, o["code"])["token"]
             for f in ("t_apply", "t_report", "t_accept") for o in (village, other_village)}
    return {"village": village, "other_village": other_village, "links": links}


def fill(client, token, data, accept_json=False):
    _html, hidden = open_form(client, token)
    headers = {"Accept": "application/json"} if accept_json else {}
    return client.post(f"/f/{token}", data={**hidden, **data}, headers=headers)


def apply(client, world, org="village", name="一米菜园"):
    token = world["links"][("t_apply", world[org]["code"])]
    response = fill(client, token, {"name": name, "secretary": "张三",
                                    "steps-0-month": THIS_MONTH, "steps-0-task": "流转土地"},
                    accept_json=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def as_user(app, name):
    client = app.test_client()
    assert login(client, name, "correct horse battery").status_code == 302
    return client


def act(client, receipt, action, comment=""):
    page = client.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    revision = re.search(r'name="revision" type="hidden" value="(\d+)"', page).group(1)
    return client.post(f"/admin/submissions/{receipt}/review", data={
        "csrf_token": csrf_token(page), "action": action, "comment": comment,
        "revision": revision})


def test_the_year_of_a_project(app, client, store, world):
    sent = apply(client, world)
    receipt = sent["receipt"]
    project = store.list_projects()[0]
    assert (project["status"], project["title"], project["application"]) == (
        "已申报", "一米菜园", receipt)
    assert project["steps"] == [{"month": THIS_MONTH, "task": "流转土地"}]

    town = as_user(app, "town")
    # returning needs a reason; then the cadre sees it on the receipt page
    assert "请填写" in town.post(f"/admin/submissions/{receipt}/review", data={
        "csrf_token": csrf_token(town.get(f"/admin/submissions/{receipt}").get_data(
            as_text=True)), "action": "return", "comment": "", "revision": "1"},
        follow_redirects=True).get_data(as_text=True)
    assert store.get_submission(receipt)["status"] == "待审核"
    act(town, receipt, "return", "请把实施步骤细化到月")
    assert store.get_submission(receipt)["status"] == "退回修改"
    assert store.get_project(project["id"])["status"] == "退回修改"

    page = client.get(sent["url"]).get_data(as_text=True)
    assert "请把实施步骤细化到月" in page and "按意见修改" in page
    edit_url = sent["url"] + "/edit"
    form = client.get(edit_url).get_data(as_text=True)
    assert "请把实施步骤细化到月" in form and 'value="一米菜园"' in form
    hidden = {"csrf_token": csrf_token(form),
              "submission_id": re.search(r'name="submission_id" type="hidden" value="(\w+)"',
                                         form).group(1)}
    response = client.post(edit_url, headers={"Accept": "application/json"}, data={
        **hidden, "name": "一米菜园（修改）", "secretary": "张三",
        "steps-0-month": THIS_MONTH, "steps-0-task": "流转土地50亩",
        "steps-1-month": THIS_MONTH, "steps-1-task": "建大棚"})
    assert response.status_code == 200 and response.get_json()["receipt"] == receipt
    doc = store.get_submission(receipt)
    assert doc["status"] == "待审核" and doc["answers"]["name"] == "一米菜园（修改）"
    assert doc["versions"][0]["answers"]["name"] == "一米菜园" and doc["edit"]["n"] == 2
    assert store.count_submissions("t_apply") == 1  # a new version, not a new record
    project = store.get_project(project["id"])
    assert project["status"] == "已申报" and project["title"] == "一米菜园（修改）"
    assert len(project["steps"]) == 2
    # the reviewer sees what changed, field by field
    detail = town.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert "最近一次修改" in detail and "一米菜园（修改）" in detail and "流转土地50亩" in detail
    assert client.get(edit_url).status_code == 303  # no longer returned: back to the receipt

    # a reviewer cannot 立项; pre-review then the county's approval
    act(town, receipt, "approve", "同意")
    assert store.get_project(project["id"])["status"] == "预审通过"
    assert store.get_submission(receipt)["status"] == "已通过"
    assert 'data-action="approve"' not in town.get(f"/admin/submissions/{receipt}").get_data(
        as_text=True)
    admin = as_user(app, "admin")
    assert "立项" in admin.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    act(admin, receipt, "approve", "同意立项")
    project = store.get_project(project["id"])
    assert project["status"] == "已立项"
    assert [e["to"] for e in project["history"]] == ["已申报", "退回修改", "已申报", "预审通过",
                                                      "已立项"]

    # a monthly report offers only the village's own projects, and is one per month
    token = world["links"][("t_report", world["village"]["code"])]
    html, _hidden = open_form(client, token)
    assert f'value="{project["id"]}"' in html and "一米菜园（修改）" in html
    response = fill(client, token, {"month": THIS_MONTH, "project": str(project["id"]),
                                    "progress": "30"}, accept_json=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    report = store.get_submission(response.get_json()["receipt"])
    assert (report["period"], report["project_id"]) == (THIS_MONTH, project["id"])
    assert store.get_project(project["id"])["status"] == "实施中"
    again = fill(client, token, {"month": THIS_MONTH, "project": str(project["id"]),
                                 "progress": "40"}, accept_json=True)
    assert again.status_code == 422 and report["receipt"] in again.get_json()["message"]
    assert store.count_submissions("t_report") == 1
    page = admin.get(f"/admin/projects/{project['id']}").get_data(as_text=True)
    assert report["receipt"] in page and "30%" in page

    # another village's link cannot name this project
    other = world["links"][("t_report", world["other_village"]["code"])]
    html, _ = open_form(client, other)
    assert "一米菜园" not in html
    refused = fill(client, other, {"month": THIS_MONTH, "project": str(project["id"])},
                   accept_json=True)
    assert refused.status_code == 422 and store.count_submissions("t_report") == 1

    # acceptance request → 已申请验收; then the county accepts it
    token = world["links"][("t_accept", world["village"]["code"])]
    response = fill(client, token, {"project": str(project["id"]), "done": "全部完成"},
                    accept_json=True)
    assert response.status_code == 200
    assert store.get_project(project["id"])["status"] == "已申请验收"
    page = admin.get(f"/admin/projects/{project['id']}").get_data(as_text=True)
    rev = re.search(r'name="revision" type="hidden" value="(\d+)"', page).group(1)
    admin.post(f"/admin/projects/{project['id']}/transition", data={
        "csrf_token": csrf_token(page), "to": "已验收", "comment": "", "revision": rev})
    assert store.get_project(project["id"])["status"] == "已验收"


def test_skipped_and_forbidden_steps_change_nothing(app, client, store, world):
    receipt = apply(client, world)["receipt"]
    project = store.list_projects()[0]
    town = as_user(app, "town")
    page = town.get(f"/admin/projects/{project['id']}").get_data(as_text=True)
    assert 'data-to="已立项"' not in page  # not offered: a skipped step, and a county step
    response = town.post(f"/admin/projects/{project['id']}/transition", data={
        "csrf_token": csrf_token(page), "to": "已立项", "comment": "", "revision": "1"},
        follow_redirects=True)
    assert "不能从「已申报」变为「已立项」" in response.get_data(as_text=True)
    assert store.get_project(project["id"])["status"] == "已申报"
    act(town, receipt, "approve")
    page = town.get(f"/admin/projects/{project['id']}").get_data(as_text=True)
    rev = re.search(r'name="revision" type="hidden" value="(\d+)"', page).group(1)
    response = town.post(f"/admin/projects/{project['id']}/transition", data={
        "csrf_token": csrf_token(page), "to": "已立项", "comment": "", "revision": rev},
        follow_redirects=True)
    assert "无权" in response.get_data(as_text=True)
    assert store.get_project(project["id"])["status"] == "预审通过"
    # another township's reviewer cannot even see it
    other = as_user(app, "other")
    assert other.get(f"/admin/projects/{project['id']}").status_code == 404
    assert other.get(f"/admin/submissions/{receipt}").status_code == 404
    assert other.post(f"/admin/submissions/{receipt}/review", data={
        "action": "void"}).status_code in (400, 404)
    assert store.get_submission(receipt)["status"] == "已通过"


def test_void_restore_and_direct_correction(app, client, store, world):
    token = world["links"][("t_apply", world["village"]["code"])]
    first = apply(client, world)["receipt"]
    # one application per year: a second is refused, pointing to the first
    response = fill(client, token, {"name": "重复", "secretary": "张三",
                                    "steps-0-month": THIS_MONTH, "steps-0-task": "x"},
                    accept_json=True)
    assert response.status_code == 422 and first in response.get_json()["message"]
    town = as_user(app, "town")
    act(town, first, "void", "重复提交")
    doc = store.get_submission(first)
    assert doc["status"] == "已作废" and doc["history"][-1]["comment"] == "重复提交"
    assert store.list_projects()[0]["void"] is True
    second = apply(client, world, name="新申报")["receipt"]  # the slot is free again
    act(town, first, "restore", "误作废")  # refused: the year's slot is held by the new one
    assert "本期已经提交过" in town.get(f"/admin/submissions/{first}").get_data(as_text=True)
    assert store.get_submission(first)["status"] == "已作废"
    act(town, second, "void", "改用原申报")
    act(town, first, "restore", "误作废")
    assert store.get_submission(first)["status"] == "待审核"
    assert store.list_projects()[0]["void"] is False
    second = first
    # direct correction with a reason keeps the old version
    page = town.get(f"/admin/submissions/{second}/correct").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page),
            "revision": re.search(r'name="revision" value="(\d+)"', page).group(1),
            "submission_id": re.search(r'name="submission_id" type="hidden" value="(\w+)"',
                                       page).group(1),
            "name": "新申报（更正）", "secretary": "张三", "steps-0-month": THIS_MONTH,
            "steps-0-task": "流转土地"}
    assert "请填写更正原因" in town.post(f"/admin/submissions/{second}/correct",
                                      data={**data, "reason": ""}).get_data(as_text=True)
    response = town.post(f"/admin/submissions/{second}/correct", data={**data, "reason": "错字"})
    assert response.status_code == 303
    doc = store.get_submission(second)
    assert doc["answers"]["name"] == "新申报（更正）" and doc["edit"]["reason"] == "错字"
    assert doc["edit"]["user"] == "town" and doc["versions"][0]["answers"]["name"] == "一米菜园"
    versions = town.get(f"/admin/submissions/{second}/versions").get_data(as_text=True)
    assert "新申报（更正）" in versions and "错字" in versions
    assert store.list_projects()[0]["title"] == "新申报（更正）"


def test_previews_offer_a_sample_project(app, store, world):
    admin = as_user(app, "admin")
    page = admin.get("/admin/forms/monthly_report/preview").get_data(as_text=True)
    assert "示例项目" in page and 'class="tz-input tz-select"' in page
    page = admin.get("/admin/forms/t_report/preview").get_data(as_text=True)
    sid = re.search(r'name="submission_id" type="hidden" value="(\w+)"', page).group(1)
    checked = admin.post("/admin/forms/t_report/preview", data={
        "csrf_token": csrf_token(page), "submission_id": sid, "month": THIS_MONTH,
        "project": "1", "progress": "10"})
    assert checked.status_code == 200
    assert "示例项目" in checked.get_data(as_text=True)
    assert store.count_submissions("t_report") == 0  # a preview stores nothing
    schema = admin.get("/admin/forms/monthly_report/v1.schema.json").get_json()
    assert schema["properties"]["project"]["pattern"] == "^[1-9][0-9]*$"


def test_voided_submissions_are_left_out_of_lists_and_exports_unless_asked(app, client,
                                                                          store, world):
    import csv
    import io
    import zipfile

    first = apply(client, world)["receipt"]
    second = apply(client, world, org="other_village", name="菖蒲项目")["receipt"]
    admin = as_user(app, "admin")
    act(admin, second, "void", "测试数据")
    page = admin.get("/admin/forms/t_apply/submissions").get_data(as_text=True)
    assert first in page and second not in page and "共 1 份" in page
    voided = admin.get("/admin/forms/t_apply/submissions?status=已作废").get_data(as_text=True)
    assert second in voided and first not in voided
    assert "共 2 份" in admin.get("/admin/forms/t_apply/submissions?status=all").get_data(
        as_text=True)

    def exported(query=""):
        export = admin.get(f"/admin/forms/t_apply/export.csv{query}")
        with zipfile.ZipFile(io.BytesIO(export.data)) as archive:  # t_apply has a repeat
            data = archive.read(archive.namelist()[0]).decode("utf-8-sig")  # the main sheet
        rows = list(csv.reader(io.StringIO(data)))
        return {row[rows[0].index("回执编号")]: row[rows[0].index("审核状态")] for row in rows[1:]}

    assert exported() == {first: "待审核"}
    assert exported("?status=all") == {first: "待审核", second: "已作废"}
    runner = app.test_cli_runner()
    out = str(world["village"]["code"])  # any name: the file goes to the test's folder
    import os
    path = os.path.join(app.config["DATA_DIR"], f"{out}.csv")
    assert runner.invoke(args=["export", "t_apply", path]).exit_code == 0
    with open(path, encoding="utf-8-sig") as f:
        assert second not in f.read()
    assert runner.invoke(args=["export", "t_apply", path, "--include-void"]).exit_code == 0
    with open(path, encoding="utf-8-sig") as f:
        assert second in f.read()


def test_a_correction_page_uploads_photos_only_while_returned(app, client, store, world):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    sent = apply(client, world)
    photo_url = sent["url"] + "/photo"

    link = world["links"][("t_apply", world["village"]["code"])]

    def upload(url):
        token = open_form(client, link)[1]["csrf_token"]  # the session's CSRF token
        return client.post(url, data={"csrf_token": token,
                                      "photo": (io.BytesIO(buffer.getvalue()), "现场.png")})

    assert upload(photo_url).status_code == 404  # not returned: nothing to correct
    town = as_user(app, "town")
    act(town, sent["receipt"], "return", "补一张现场照片")
    response = upload(photo_url)
    assert response.status_code == 201 and response.get_json()["ref"]
    key = sent["url"].split("/")[-2]
    assert upload(photo_url.replace(key, key[:-1] + ("A" if key[-1] != "A" else "B"))
                  ).status_code == 404


def test_a_village_without_a_project_is_told_before_filling(client, world):
    html, _hidden = open_form(client, world["links"][("t_report", world["village"]["code"])])
    assert "还没有已立项的项目" in html and "data-tz-no-projects" in html
    html, _hidden = open_form(client, world["links"][("t_apply", world["village"]["code"])])
    assert "data-tz-no-projects" not in html


def correction_page(client, url):
    page = client.get(url).get_data(as_text=True)
    return page, {"csrf_token": csrf_token(page),
                  "submission_id": re.search(r'name="submission_id" type="hidden" value="(\w+)"',
                                             page).group(1),
                  "revision": re.search(r'name="revision" value="(\d+)"', page).group(1)}


def test_an_application_and_its_project_never_part(app, client, store, world):
    """Review findings: voiding then restoring gives back the status the project matches;
    once the project is past its application stage the application cannot be returned."""
    receipt = apply(client, world)["receipt"]
    town = as_user(app, "town")
    act(town, receipt, "approve", "同意")  # 预审通过 / 已通过
    act(town, receipt, "void", "误操作")
    act(town, receipt, "restore", "恢复")
    assert store.get_submission(receipt)["status"] == "已通过"
    assert store.list_projects()[0]["status"] == "预审通过"
    admin = as_user(app, "admin")
    act(admin, receipt, "approve", "立项")
    assert store.list_projects()[0]["status"] == "已立项"
    page = town.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert 'data-action="return"' not in page and 'data-action="approve"' not in page
    act(town, receipt, "return", "想再改改")
    assert store.get_submission(receipt)["status"] == "已通过"
    assert "不能再退回修改" in town.get(f"/admin/submissions/{receipt}").get_data(as_text=True)


def test_a_correction_made_on_a_stale_page_is_not_saved_and_says_so(app, client, store,
                                                                   world):
    sent = apply(client, world)
    town = as_user(app, "town")
    act(town, sent["receipt"], "return", "请改书记姓名")
    page, hidden = correction_page(client, sent["url"] + "/edit")
    # meanwhile the reviewer corrects the answer directly
    fix, fix_hidden = correction_page(town, f"/admin/submissions/{sent['receipt']}/correct")
    town.post(f"/admin/submissions/{sent['receipt']}/correct", data={
        **fix_hidden, "name": "一米菜园", "secretary": "王书记", "steps-0-month": THIS_MONTH,
        "steps-0-task": "流转土地", "reason": "核实"})
    assert store.get_submission(sent["receipt"])["answers"]["secretary"] == "王书记"
    data = {**hidden, "name": "一米菜园", "secretary": "张三", "steps-0-month": THIS_MONTH,
            "steps-0-task": "流转土地"}
    response = client.post(sent["url"] + "/edit", data=data,
                           headers={"Accept": "application/json"})
    assert response.status_code == 409 and "没有保存" in response.get_json()["error"]
    assert response.get_json()["receipt"] == sent["receipt"]
    response = client.post(sent["url"] + "/edit", data=data)  # without JavaScript
    assert response.status_code == 303 and "notice=changed" in response.headers["Location"]
    assert "没有保存" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert store.get_submission(sent["receipt"])["answers"]["secretary"] == "王书记"


def test_a_correction_sent_twice_is_one_version_and_two_successes(app, client, store, world):
    sent = apply(client, world)
    act(as_user(app, "town"), sent["receipt"], "return", "补充")
    _page, hidden = correction_page(client, sent["url"] + "/edit")
    data = {**hidden, "name": "一米菜园（改）", "secretary": "张三",
            "steps-0-month": THIS_MONTH, "steps-0-task": "流转土地"}
    for _ in range(2):  # the first answer lost on the way: the page sends it again
        response = client.post(sent["url"] + "/edit", data=data,
                               headers={"Accept": "application/json"})
        assert response.status_code == 200 and response.get_json()["receipt"] == sent["receipt"]
    assert len(store.get_submission(sent["receipt"])["versions"]) == 1
    changed = client.post(sent["url"] + "/edit", data={**data, "name": "又改了"},
                          headers={"Accept": "application/json"})
    assert changed.status_code == 409


def test_a_corrected_acceptance_request_asks_for_acceptance_again(app, client, store, world):
    project, _ = store.add_project({
        "title": "冬桃", "category": "党建引领发展类", "kind": "书记项目",
        "org_code": world["village"]["code"], "secretary": "", "year": 2026, "steps": [],
        "status": "实施中", "application": "demo-app"})
    token = world["links"][("t_accept", world["village"]["code"])]
    sent = fill(client, token, {"project": str(project["id"]), "done": "完成"},
                accept_json=True).get_json()
    project = store.get_project(project["id"])
    assert project["status"] == "已申请验收"
    store.update_project(project["id"], project["revision"], {"status": "验收未通过"})
    act(as_user(app, "town"), sent["receipt"], "return", "补充成效")
    _page, hidden = correction_page(client, sent["url"] + "/edit")
    response = client.post(sent["url"] + "/edit", data={
        **hidden, "project": str(project["id"]), "done": "完成，成效见附件"},
        headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert store.get_project(project["id"])["status"] == "已申请验收"


def test_a_correction_keeps_the_answer_of_a_renamed_field(app, client, store, world):
    sent = apply(client, world)
    v2 = json.loads(json.dumps(APPLY))
    v2["fields"][1] = {**v2["fields"][1], "name": "leader", "renamed_from": ["secretary"]}
    v2["project"] = {**v2["project"], "secretary": "leader"}
    store.add_form_version(check_schema(v2), source="cli")
    act(as_user(app, "town"), sent["receipt"], "return", "请核对")
    page, hidden = correction_page(client, sent["url"] + "/edit")
    assert 'name="leader"' in page and 'value="张三"' in page
    response = client.post(sent["url"] + "/edit", data={
        **hidden, "name": "一米菜园", "leader": "张三", "steps-0-month": THIS_MONTH,
        "steps-0-task": "流转土地"}, headers={"Accept": "application/json"})
    assert response.status_code == 200
    doc = store.get_submission(sent["receipt"])
    assert doc["answers"]["leader"] == "张三"
    detail = as_user(app, "admin").get(f"/admin/submissions/{sent['receipt']}").get_data(
        as_text=True)
    assert "最近一次修改" not in detail  # nothing changed, a renamed field is not a change


def test_a_form_for_county_units_refuses_a_village(client, store, world):
    token = store.create_link("apply_organ", world["village"]["code"])["token"]
    page = client.get(f"/f/{token}")
    assert page.status_code == 403 and "本表不需要本村（单位）填写" in page.get_data(as_text=True)
    unit = next(o for o in store.list_orgs() if o["kind"] == "unit")
    assert client.get(f"/f/{store.create_link('apply_organ', unit['code'])['token']}"
                      ).status_code == 200
