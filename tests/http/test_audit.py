"""The audit log through HTTP and the CLI, on both backends: every action it promises (login,
failed and refused login, logout, export, form change, link create/revoke/regenerate, org
change, user change, backup and restore) leaves an entry that an admin reads at /admin/audit,
with the filters working; nobody else reads it; and an entry that cannot be stored never
turns a done action into a failure."""
import html as html_lib
import io
import json
import logging
import re

import uuid

import pytest

from db import get_store
from services import accounts, audit, projects, tokens
from storage import StorageError
from support.helpers import ADMIN, PROJECT_FORM, VALID, csrf_token, login, open_form

ROW = re.compile(r'<tr>\s*<td class="title">(.*?)</td>\s*<td data-label="用户">(.*?)</td>\s*'
                 r'<td data-label="操作">(.*?)</td>\s*<td data-label="对象">(.*?)</td>\s*'
                 r'<td data-label="详情">(.*?)</td>\s*<td data-label="地址">(.*?)</td>\s*</tr>',
                 re.S)
CLI_USER = audit.command_user()


def read_log(client, **filters):
    """The rows of /admin/audit (with these filters), as people see them."""
    response = client.get("/admin/audit", query_string=filters)
    assert response.status_code == 200
    return [dict(zip(("at", "user", "action", "target", "detail", "address"),
                     (html_lib.unescape(cell.strip()) for cell in row)))
            for row in ROW.findall(response.get_data(as_text=True))]


def logged(client, action, **filters):
    """The rows of one action (filtered on the page by its code), newest first."""
    rows = read_log(client, action=action, **filters)
    assert all(row["action"] == audit.ACTIONS[action] for row in rows)
    return rows


def page_token(client, url="/admin/"):
    return csrf_token(client.get(url).get_data(as_text=True))


def test_logins_failed_and_refused_logins_and_logouts(app, admin_client):
    [entry] = logged(admin_client, "login")  # the admin_client fixture's login
    assert (entry["user"], entry["target"], entry["address"]) == (ADMIN[0], "", "127.0.0.1")
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    for _ in range(accounts.MAX_FAILURES):
        assert login(guesser, password="guess-guess").status_code == 401
    assert login(guesser).status_code == 429  # the failed-login throttle
    failed = logged(admin_client, "login.failed")
    assert len(failed) == accounts.MAX_FAILURES
    assert failed[0]["user"] == "(未登录)" and failed[0]["target"] == ADMIN[0]
    assert failed[0]["address"] == "10.9.9.9"
    [refused] = logged(admin_client, "login.throttled")
    assert refused["target"] == ADMIN[0] and "分钟: 15" in refused["detail"]
    assert admin_client.post("/logout", data={"csrf_token": page_token(admin_client)}
                             ).status_code == 302
    assert login(admin_client).status_code == 302
    [out] = logged(admin_client, "logout")
    assert out["user"] == ADMIN[0]
    assert len(logged(admin_client, "login")) == 2


def test_exports_from_the_page_and_the_command(admin_client, client, entry, runner, tmp_path):
    token, org = entry
    _html, hidden = open_form(client, token)
    assert client.post(f"/f/{token}", data={**hidden, **VALID}).status_code == 303
    assert admin_client.get(f"/admin/forms/t_project/export.xlsx?township={org['parent_code']}"
                            "&date_from=2020-01-01").status_code == 200
    assert admin_client.get(f"/admin/forms/t_project/export.csv?org=nobody").status_code == 200
    out = tmp_path / "out.csv"
    assert runner.invoke(args=["export", "t_project", str(out), "--org", org["code"]]
                         ).exit_code == 0
    by_cli, csv, xlsx = logged(admin_client, "export")
    assert (xlsx["user"], xlsx["target"]) == (ADMIN[0], "t_project")
    assert xlsx["detail"] == (f"格式: xlsx; 行数: 1; 筛选: (乡镇: {org['parent_code']}; "
                              "开始日期: 2020-01-01)")
    # t_project has a repeat field: its CSV export is a zip of one CSV per sheet
    assert csv["detail"] == "格式: zip; 行数: 0; 筛选: (组织: nobody)"
    assert by_cli["user"] == CLI_USER and by_cli["address"] == "命令行"
    assert by_cli["detail"] == f"格式: csv; 行数: 1; 文件: {out}; 筛选: (组织: {org['code']})"


def test_form_changes_from_upload_editor_and_command(admin_client, runner, tmp_path):
    body = json.dumps(PROJECT_FORM, ensure_ascii=False).encode()
    assert admin_client.post("/admin/forms/upload", data={
        "csrf_token": page_token(admin_client), "file": (io.BytesIO(body), "t_project.json")},
        content_type="multipart/form-data").status_code == 302
    changed = {**PROJECT_FORM, "title": "测试项目表(修订)"}
    edit = {"csrf_token": page_token(admin_client),
            "text": json.dumps(changed, ensure_ascii=False)}
    assert admin_client.post("/admin/forms/t_project", data=edit).status_code == 302
    assert admin_client.post("/admin/forms/t_project", data=edit).status_code == 302  # unchanged
    path = tmp_path / "t_project.json"
    path.write_text(json.dumps(PROJECT_FORM, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(args=["load-form", str(path)]).exit_code == 0
    by_cli, edited, uploaded = logged(admin_client, "form.save")  # no entry for no change
    assert uploaded["detail"] == "版本: 1; 来源: upload; 标题: 测试项目表"
    assert edited["detail"] == "版本: 2; 来源: edit; 标题: 测试项目表(修订)"
    assert edited["user"] == ADMIN[0] and edited["target"] == "t_project"
    assert by_cli["user"] == CLI_USER
    assert by_cli["detail"] == "版本: 3; 来源: cli; 标题: 测试项目表; 文件: t_project.json"


def test_link_changes_from_the_pages_and_the_command(admin_client, entry, store, runner):
    token, org = entry
    csrf = page_token(admin_client, "/admin/forms/t_project/links")
    assert admin_client.post(f"/admin/links/{token}/regenerate",
                             data={"csrf_token": csrf}).status_code == 302
    new = store.active_link("t_project", org["code"])["token"]
    assert admin_client.post(f"/admin/links/{new}/revoke", data={"csrf_token": csrf}
                             ).status_code == 302
    assert admin_client.post("/admin/forms/t_project/links/new",
                             data={"csrf_token": csrf, "org_code": org["code"]}
                             ).status_code == 302
    admin_client.post("/admin/forms/t_project/links/new",  # already active: nothing made
                      data={"csrf_token": csrf, "org_code": org["code"]})
    assert admin_client.post("/admin/forms/t_project/links/generate", data={
        "csrf_token": csrf, "township": org["parent_code"]}).status_code == 302
    assert runner.invoke(args=["links", "t_project"]).exit_code == 0
    target = f"t_project/{org['code']}"
    [regenerated] = logged(admin_client, "link.regenerate")
    [revoked] = logged(admin_client, "link.revoke")
    assert regenerated["target"] == revoked["target"] == target
    by_cli, generated, one = logged(admin_client, "link.create")
    assert one["target"] == target and one["detail"] == "数量: 1"
    assert generated["detail"] == f"数量: 6; 乡镇: {org['parent_code']}"  # the 6 others there
    assert by_cli["user"] == CLI_USER and by_cli["target"] == "t_project"
    assert int(by_cli["detail"].split("数量: ")[1]) == len(store.list_orgs()) - 7


def test_org_changes_from_the_pages_and_the_command(admin_client, runner, tmp_path):
    csrf = page_token(admin_client, "/admin/orgs")
    admin_client.post("/admin/orgs/new", data={"csrf_token": csrf, "code": "340828101299",
                                               "name": "新建村", "kind": "village",
                                               "parent_code": "340828101"})
    admin_client.post("/admin/orgs/340828101299/edit", data={
        "csrf_token": csrf, "code": "340828101299", "name": "改名村", "kind": "village",
        "parent_code": "340828101"})
    admin_client.post("/admin/orgs/340828101/delete", data={"csrf_token": csrf})  # refused
    admin_client.post("/admin/orgs/340828101299/delete", data={"csrf_token": csrf})
    data = "code,name,parent_code,kind\nX1,新镇,340828,township\n"
    admin_client.post("/admin/orgs/import", data={
        "csrf_token": csrf, "file": (io.BytesIO(data.encode()), "乡镇.csv")},
        content_type="multipart/form-data")
    path = tmp_path / "more.csv"
    path.write_text("code,name,parent_code,kind\nX2,新村,X1,village\n", encoding="utf-8")
    assert runner.invoke(args=["import-orgs", str(path)]).exit_code == 0
    [created] = logged(admin_client, "org.create")
    assert created["target"] == "340828101299 新建村"
    assert created["detail"] == "类型: village; 上级: 340828101"
    [edited] = logged(admin_client, "org.edit")
    assert edited["target"] == "340828101299 改名村" and "原名称: 新建村" in edited["detail"]
    [deleted] = logged(admin_client, "org.delete")  # the refused delete left no entry
    assert deleted["target"] == "340828101299 改名村"
    by_cli, imported = logged(admin_client, "org.import")
    assert (imported["target"], imported["detail"]) == ("乡镇.csv", "行数: 1")
    assert (by_cli["user"], by_cli["target"]) == (CLI_USER, "more.csv")


def test_user_changes_backup_and_restore_from_the_command(admin_client, runner, tmp_path):
    assert runner.invoke(args=["create-user", "clerk", "--role", "admin", "--password-stdin"],
                         input="clerk-password-1\n").exit_code == 0
    assert runner.invoke(args=["create-user", "clerk", "--role", "admin", "--password-stdin"],
                         input="clerk-password-1\n").exit_code != 0  # taken: no entry
    assert runner.invoke(args=["set-password", "clerk", "--password-stdin"],
                         input="clerk-password-2\n").exit_code == 0
    [created] = logged(admin_client, "user.create")
    assert (created["user"], created["target"], created["detail"]) == (CLI_USER, "clerk",
                                                                       "角色: admin")
    [changed] = logged(admin_client, "user.password")
    assert changed["target"] == "clerk"
    backup = tmp_path / "b.zip"
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    [made] = logged(admin_client, "backup")
    assert made["target"] == str(backup)
    assert runner.invoke(args=["restore", str(backup), "--force"]).exit_code == 0
    assert login(admin_client).status_code == 302  # a restore ends every session
    # the backup's log came back (made before the backup entry), and the restore is on top
    assert logged(admin_client, "user.create") == [created]
    assert logged(admin_client, "backup") == []
    [restored] = logged(admin_client, "restore")
    assert restored["target"] == str(backup) and restored["user"] == CLI_USER


def _post_page_form(client, page_url, post_url, **data):
    page = client.get(page_url).get_data(as_text=True)
    revision = re.search(r'name="revision" type="hidden" value="(\d+)"', page).group(1)
    return client.post(post_url, data={"csrf_token": csrf_token(page), "revision": revision,
                                       **data})


def test_reviews_project_steps_and_their_lists_in_chinese(app, admin_client, store, runner):
    form = store.get_form("apply_development")
    application, _new = store.add_submission(
        "apply_development", form["version"], "340828101202",
        {"project_name": "冬桃", "secretary_name": "张书记",
         "steps": [{"month": "2026-03", "task": "流转土地", "owner": "张三"}]},
        uuid.uuid4().hex, period="2026")
    project = projects.open_for_application(store, form["schema"], application)
    receipt, pid = application["receipt"], project["id"]
    assert _post_page_form(admin_client, f"/admin/submissions/{receipt}",
                           f"/admin/submissions/{receipt}/review", action="approve",
                           comment="同意").status_code == 303
    assert _post_page_form(admin_client, f"/admin/projects/{pid}",
                           f"/admin/projects/{pid}/transition", to="已立项",
                           comment="准予立项").status_code == 303
    report, _new = store.add_submission(
        "monthly_report", store.get_form("monthly_report")["version"], "340828101202",
        {"progress": "本月进展"}, uuid.uuid4().hex, period="2026-03")
    with app.app_context():
        secret, _doc = tokens.create(store, ADMIN[0], label="test")
    assert admin_client.post(f"/api/v1/submissions/{report['receipt']}/review",
                             headers={"Authorization": f"Bearer {secret}"},
                             json={"action": "return", "comment": "请补充照片"}
                             ).status_code == 200
    audit.record(store, "submission.correct", ADMIN[0], receipt, {"reason": "核实后更正"})
    assert admin_client.get("/admin/forms/monthly_report/reporting/missing.xlsx"
                            ).status_code == 200
    assert runner.invoke(args=["duplicate-form", "apply_development", "apply_copy"]
                         ).exit_code == 0

    [approved] = logged(admin_client, "submission.approve")
    assert approved["detail"] == f"状态由: 待审核; 改为: 已通过; 意见: 同意; 项目: (编号: {pid}; " \
                                 "状态: 预审通过)"
    [step] = logged(admin_client, "project.transition")
    assert step["detail"] == "状态由: 预审通过; 改为: 已立项; 意见: 准予立项"
    [returned] = logged(admin_client, "submission.return")
    assert returned["detail"] == "状态由: 待审核; 改为: 退回修改; 意见: 请补充照片; 来源: 接口"
    assert logged(admin_client, "submission.correct")[0]["detail"] == "原因: 核实后更正"
    [missing] = logged(admin_client, "export")
    assert missing["detail"].startswith("格式: xlsx; 名单: 催报名单; 期: ")
    [copied] = logged(admin_client, "form.duplicate")  # "from" is the form copied here
    assert copied["detail"].startswith("复制自: apply_development; 标题: ")
    for row in read_log(admin_client):  # no English key left
        assert not re.search(r"[A-Za-z_]+:", row["detail"]), row


def test_filters_and_pages(app, admin_client, store):
    app.config["AUDIT_PER_PAGE"] = 3
    for day, user, action in [(1, "a", "org.delete"), (2, "b", "org.delete"), (3, "a", "export"),
                              (4, "a", "org.delete"), (5, "b", "export")]:
        store.add_audit({"at": f"2025-05-0{day}T10:00:00+08:00", "user": user,
                         "action": action, "target": f"day {day}"})
    targets = lambda rows: [row["target"] for row in rows]  # noqa: E731
    assert targets(read_log(admin_client, user="a")) == ["day 4", "day 3", "day 1"]
    assert targets(read_log(admin_client, action="org.delete", user="a")) == ["day 4", "day 1"]
    assert targets(read_log(admin_client, date_from="2025-05-02", date_to="2025-05-04")) == [
        "day 4", "day 3", "day 2"]
    assert targets(read_log(admin_client, date_from="2025-05-02", date_to="2025-05-04",
                            page=2)) == []
    everything = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "共 6 条" in everything and "第 1 / 2 页" in everything  # the fixture's login too
    assert targets(read_log(admin_client, page=2)) == ["day 2", "day 1", ""]  # "": the login
    first = admin_client.get("/admin/audit?date_to=2025-05-05").get_data(as_text=True)
    assert "共 5 条" in first and 'href="/admin/audit?page=2&amp;date_to=2025-05-05"' in first
    assert targets(read_log(admin_client, date_to="2025-05-05", page=2)) == ["day 2", "day 1"]
    bad = admin_client.get("/admin/audit?date_from=2025-05-04&date_to=2025-05-01")
    assert "结束日期不能早于开始日期" in bad.get_data(as_text=True)


def test_every_value_is_escaped(admin_client, store):
    store.add_audit({"action": "org.create", "user": "<b>me</b>", "target": "<script>x</script>",
                     "detail": {"name_before": "<img src=x onerror=alert(1)>"},
                     "address": "<i>addr</i>"})
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    for raw in ("<b>me</b>", "<script>x</script>", "<img src=x", "<i>addr</i>"):
        assert raw not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_only_admins_read_the_log(app, client, admin_client):
    anonymous = app.test_client()
    response = anonymous.get("/admin/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with app.app_context():  # a role that is not admin (the reviewers of a later issue)
        get_store().add_user("viewer", accounts.hash_password("viewer-password"), "reviewer")
    viewer = app.test_client()
    assert login(viewer, "viewer", "viewer-password").status_code == 302
    refused = viewer.get("/admin/audit")
    assert refused.status_code == 403 and "没有权限" in refused.get_data(as_text=True)
    assert admin_client.get("/admin/audit").status_code == 200
    assert 'href="/admin/audit"' in admin_client.get("/admin/").get_data(as_text=True)


def test_an_entry_that_cannot_be_stored_does_not_fail_the_action(admin_client, entry, store,
                                                                   monkeypatch, caplog):
    token, org = entry
    csrf = page_token(admin_client, "/admin/forms/t_project/links")

    def broken(entry):
        raise StorageError("数据保存失败,请稍后重试")

    monkeypatch.setattr(store, "add_audit", broken)
    with caplog.at_level(logging.ERROR):
        response = admin_client.post(f"/admin/links/{token}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 302  # done, and said so
    assert store.get_link(token)["revoked_at"] is not None
    assert "audit entry not stored" in caplog.text and "link.revoke" in caplog.text
    monkeypatch.undo()
    assert logged(admin_client, "link.revoke") == []


def test_record_refuses_an_unknown_action(store):
    with pytest.raises(ValueError):
        audit.record(store, "made.up", "admin")
