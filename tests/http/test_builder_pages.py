"""The builder's pages and endpoints through Flask's test client, on both backends: login and
CSRF on every one; saving a draft (JSON for the page's script, a page without it) with its
base revision, a draft saved meanwhile never overwritten; the phone preview (the public
macro, problems with their paths, framed by this site only); publishing (never an invalid or
a changed draft); history, compare, rollback, close and reopen, duplicate, discard; a new form."""
import html as html_lib
import json
import re

import pytest

from services import formdefs
from support.helpers import csrf_token

FORM = "monthly_report"
JSON = {"Accept": "application/json"}


def current_text(store, form_id=FORM):
    return formdefs.schema_json(store.get_form(form_id)["schema"])


def edited(store, change, form_id=FORM):
    """The current definition of a form as JSON text, after ``change(schema)``."""
    schema = json.loads(current_text(store, form_id))
    change(schema)
    return json.dumps(schema, ensure_ascii=False, indent=2)


def token(client, url=f"/admin/forms/{FORM}/builder"):
    return csrf_token(client.get(url).get_data(as_text=True))


def save(client, text, base_revision, headers=JSON, **extra):
    return client.post(f"/admin/forms/{FORM}/builder", headers=headers, data={
        "csrf_token": token(client), "text": text, "base_revision": base_revision, **extra})


def page_text(response):
    return html_lib.unescape(response.get_data(as_text=True))


def plain(response):
    """A page's text without its tags."""
    return re.sub(r"<[^>]+>", "", page_text(response))


def publish_page(client, form_id=FORM):
    return client.get(f"/admin/forms/{form_id}/publish")


def confirm_publish(client, revision, form_id=FORM):
    page = publish_page(client, form_id).get_data(as_text=True)
    return client.post(f"/admin/forms/{form_id}/publish",
                       data={"csrf_token": csrf_token(page), "revision": revision})


# ---- login and CSRF ---------------------------------------------------------------------------

PAGES = [f"/admin/forms/{FORM}/builder", f"/admin/forms/{FORM}/builder/preview",
         f"/admin/forms/{FORM}/publish", f"/admin/forms/{FORM}/history",
         f"/admin/forms/{FORM}/compare", "/admin/forms/new-form"]
POSTS = [f"/admin/forms/{FORM}/builder", f"/admin/forms/{FORM}/builder/preview",
         f"/admin/forms/{FORM}/publish", f"/admin/forms/{FORM}/rollback",
         f"/admin/forms/{FORM}/closed", f"/admin/forms/{FORM}/duplicate",
         f"/admin/forms/{FORM}/draft/discard", "/admin/forms/new-form"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", POSTS)
def test_posts_need_a_login_and_change_nothing(client, store, url):
    anonymous = csrf_token(client.get("/login").get_data(as_text=True))  # a valid token
    response = client.post(url, data={"csrf_token": anonymous, "text": "{}", "base_revision": 0,
                                      "closed": "1", "version": 1, "new_id": "copy_x",
                                      "form_id": "new_x", "title": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert formdefs.get_draft(store, FORM) is None and formdefs.get_draft(store, "new_x") is None
    assert store.get_form("copy_x") is None and not formdefs.is_closed(store, FORM)


@pytest.mark.parametrize("url", POSTS)
def test_posts_without_a_csrf_token_are_refused(admin_client, store, url):
    response = admin_client.post(url, data={"text": "{}", "base_revision": 0, "closed": "1",
                                            "version": 1, "new_id": "copy_x",
                                            "form_id": "new_x", "title": "x"})
    assert response.status_code == 400
    assert "安全校验" in page_text(response)
    assert formdefs.get_draft(store, FORM) is None and formdefs.get_draft(store, "new_x") is None
    assert store.get_form("copy_x") is None and not formdefs.is_closed(store, FORM)


def test_unknown_form_is_404(admin_client):
    for url in ("/admin/forms/no_such_form/builder", "/admin/forms/no_such_form/builder/preview",
                "/admin/forms/no_such_form/publish", "/admin/forms/no_such_form/history"):
        assert admin_client.get(url).status_code == 404


# ---- the builder and its draft --------------------------------------------------------------


def test_builder_starts_from_the_current_version(admin_client, store):
    response = admin_client.get(f"/admin/forms/{FORM}/builder")
    assert response.status_code == 200
    html = page_text(response)
    text = re.search(r'<textarea id="bf-json" name="text"[^>]*>\n?(.*?)</textarea>', html,
                     re.S).group(1)
    assert json.loads(text) == json.loads(current_text(store))
    assert 'name="base_revision" value="0"' in html
    assert "从第 1 版开始编辑" in html
    # the script gets what it needs from data attributes, never from an inline script
    assert "<script>" not in html and 'data-refused=' in html and 'data-published=' in html
    assert formdefs.get_draft(store, FORM) is None  # opening the builder saves nothing


def test_save_and_the_draft_conflict(admin_client, store):
    mine = edited(store, lambda s: s.update(title="我的标题"))
    response = save(admin_client, mine, 0)
    assert response.status_code == 200
    first = response.get_json()
    assert first["revision"] == 1 and first["errors"] == [] and first["user"] == "admin"
    assert formdefs.get_draft(store, FORM)["text"] == mine

    # another admin (or another tab) saves on top of revision 1
    theirs = edited(store, lambda s: s.update(title="对方的标题"))
    assert save(admin_client, theirs, 1).get_json()["revision"] == 2

    # saving again from revision 1: told, in Chinese, and nothing overwritten
    late = edited(store, lambda s: s.update(title="我后来的标题"))
    response = save(admin_client, late, 1)
    assert response.status_code == 409
    answer = response.get_json()
    assert "草稿已被其他人修改" in answer["error"]
    assert answer["revision"] == 2 and answer["user"] == "admin"
    assert formdefs.get_draft(store, FORM)["text"] == theirs

    # an explicit overwrite names the revision it overwrites
    assert save(admin_client, late, 2, action="save").get_json()["revision"] == 3
    assert formdefs.get_draft(store, FORM)["text"] == late
    # the script's autosaves are not in the audit log, a save the admin asked for is
    [entry], total = store.query_audit(action="form.draft")
    assert total == 1 and entry["detail"]["revision"] == 3 and entry["target"] == FORM


def test_save_without_the_script_keeps_the_admins_text_on_a_conflict(admin_client, store):
    formdefs.save_draft(store, FORM, current_text(store), user="other", base_revision=0)
    mine = edited(store, lambda s: s.update(title="我的<标题>"))
    response = save(admin_client, mine, 0, headers={})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "草稿已被其他人修改" in html_lib.unescape(html)
    assert "我的&lt;标题&gt;" in html  # the admin's edits are on the page, escaped
    assert 'name="base_revision" value="0"' in html  # saving again is refused again
    assert formdefs.get_draft(store, FORM)["text"] == current_text(store)


def test_save_without_the_script_redirects_and_normalizes_newlines(admin_client, store):
    text = current_text(store).replace("\n", "\r\n")
    response = save(admin_client, text, 0, headers={}, action="save")
    assert response.status_code == 302 and response.headers["Location"].endswith("/builder")
    assert formdefs.get_draft(store, FORM)["text"] == current_text(store)
    assert "草稿已保存" in page_text(admin_client.get(f"/admin/forms/{FORM}/builder"))


def test_an_invalid_draft_is_saved_with_its_problems_and_never_published(admin_client, store):
    def broken(schema):
        schema["fields"][3]["label"] = ""
    response = save(admin_client, edited(store, broken), 0)
    assert response.status_code == 200
    [problem] = response.get_json()["errors"]
    assert problem["path"] == "fields[3].label" and problem["field"] == 3
    assert problem["key"] == "label" and problem["reason"] == "不能为空"
    assert formdefs.get_draft(store, FORM)["revision"] == 1

    page = publish_page(admin_client)
    assert page.status_code == 200
    assert "不能发布" in page_text(page) and "fields[3].label" in page_text(page)
    assert "确认发布" not in page_text(page)
    response = admin_client.post(f"/admin/forms/{FORM}/publish", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "revision": "1"})
    assert response.status_code == 422
    assert [v["version"] for v in store.form_versions(FORM)] == [1]
    assert formdefs.get_draft(store, FORM) is not None

    # not JSON at all: saved as it is, the problem has the line and column
    response = save(admin_client, '{"id": "monthly_report",', 1)
    assert response.status_code == 200
    [problem] = response.get_json()["errors"]
    assert problem["reason"] == 'JSON 格式错误：此处应为用英文双引号 " 括起来的键名（或多了逗号）'
    assert problem["field"] is None


def test_an_empty_save_is_refused(admin_client, store):
    response = save(admin_client, "", 0)
    assert response.status_code == 400 and response.get_json()["error"]
    assert formdefs.get_draft(store, FORM) is None


# ---- the phone preview ------------------------------------------------------------------------


def test_preview_renders_the_text_being_edited_with_the_public_macro(admin_client, store):
    text = edited(store, lambda s: s["fields"].insert(1, {
        "name": "new_one", "type": "select", "label": "新加的<单选>", "choices": ["甲", "乙"]}))
    response = admin_client.post(f"/admin/forms/{FORM}/builder/preview",
                                 data={"csrf_token": token(admin_client), "_draft": text})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-field="new_one"' in html and "新加的&lt;单选&gt;" in html
    assert 'class="tz-form" data-tz-form' in html and "js/form.js" in html
    # only this site may frame it; every other page stays unframeable
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    other = admin_client.get(f"/admin/forms/{FORM}/builder")
    assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]
    assert other.headers["X-Frame-Options"] == "DENY"
    assert formdefs.get_draft(store, FORM) is None  # a preview saves nothing


def test_preview_lists_problems_with_their_paths(admin_client, store):
    text = edited(store, lambda s: s["fields"][2].update(type="selct"))
    response = admin_client.post(f"/admin/forms/{FORM}/builder/preview",
                                 data={"csrf_token": token(admin_client), "_draft": text})
    html = response.get_data(as_text=True)
    assert 'data-path="fields[2].type"' in html and 'data-field-index="2"' in html
    assert "未知的字段类型「selct」，是否想写「select」？" in html
    assert "tz-form" not in html


def test_preview_checks_answers_like_the_public_page_and_stores_nothing(admin_client, store):
    text = current_text(store)
    page = admin_client.get(f"/admin/forms/{FORM}/builder/preview").get_data(as_text=True)
    sid = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    response = admin_client.post(f"/admin/forms/{FORM}/builder/preview", data={
        "csrf_token": csrf_token(page), "_draft": text, "_check": "1", "submission_id": sid})
    assert response.status_code == 200
    assert "tz-invalid" in response.get_data(as_text=True)  # required fields left empty
    assert store.count_submissions(FORM) == 0


# ---- publishing -------------------------------------------------------------------------------


def test_publish_shows_the_changes_and_the_answers_that_no_longer_fit(admin_client, store):
    schema = store.get_form(FORM)["schema"]
    kind = next(f for f in schema["fields"] if f["type"] == "select")
    org = store.list_orgs()[-1]["code"]
    last = kind["choices"][-1]
    value = last if isinstance(last, str) else last["value"]
    store.add_submission(FORM, 1, org, {kind["name"]: value}, "a" * 32)

    def fewer(s):
        spec = next(f for f in s["fields"] if f["name"] == kind["name"])
        spec["choices"] = spec["choices"][:1]
    save(admin_client, edited(store, fewer), 0)
    response = publish_page(admin_client)
    page = plain(response)
    assert f"「{kind['label']}」({kind['name']}):有 1 份已提交的答案不符合新的定义" in page
    assert "将发布为第 2 版" in page and "确认发布为第 2 版" in page
    assert "data-confirm=\"有 1 个已提交的答案不符合新的定义" in page_text(response)  # asked again


def test_publish_makes_the_next_version_and_drops_the_draft(admin_client, store):
    save(admin_client, edited(store, lambda s: s.update(title="新标题")), 0)
    response = confirm_publish(admin_client, 1)
    assert response.status_code == 302 and response.headers["Location"].endswith("/history")
    doc = store.get_form(FORM)
    assert doc["version"] == 2 and doc["schema"]["title"] == "新标题" and doc["user"] == "admin"
    assert formdefs.get_draft(store, FORM) is None
    [entry], _total = store.query_audit(action="form.publish")
    assert entry["target"] == FORM and entry["detail"]["version"] == 2
    assert "已发布为第 2 版" in page_text(admin_client.get(f"/admin/forms/{FORM}/history"))


def test_publish_refuses_a_draft_changed_after_the_page_was_shown(admin_client, store):
    save(admin_client, edited(store, lambda s: s.update(title="看过的标题")), 0)
    page = publish_page(admin_client).get_data(as_text=True)
    formdefs.save_draft(store, FORM, edited(store, lambda s: s.update(title="没看过的标题")),
                        user="other", base_revision=1)
    response = admin_client.post(f"/admin/forms/{FORM}/publish",
                                 data={"csrf_token": csrf_token(page), "revision": "1"})
    assert response.status_code == 409
    assert "又被修改过" in page_text(response) and "没看过的标题" in page_text(response)
    assert store.get_form(FORM)["version"] == 1


def test_publish_without_a_draft_goes_to_the_history(admin_client):
    response = publish_page(admin_client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/history")


# ---- a new form ---------------------------------------------------------------------------------


def test_new_form_starts_as_a_draft_and_is_published_from_the_builder(admin_client, store):
    page = admin_client.get("/admin/forms/new-form").get_data(as_text=True)
    response = admin_client.post("/admin/forms/new-form", data={
        "csrf_token": csrf_token(page), "form_id": "village_survey", "title": "村情调查"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/forms/village_survey/builder")
    draft = formdefs.get_draft(store, "village_survey")
    assert json.loads(draft["text"]) == {"id": "village_survey", "title": "村情调查",
                                         "description": "", "fields": []}
    builder = admin_client.get("/admin/forms/village_survey/builder")
    assert builder.status_code == 200 and "这个表单还没有发布过" in page_text(builder)
    assert "village_survey" in page_text(admin_client.get("/admin/forms/new-form"))  # listed

    text = json.dumps({"id": "village_survey", "title": "村情调查", "description": "",
                       "fields": [{"name": "field_1", "type": "text", "label": "村名"}]})
    response = admin_client.post("/admin/forms/village_survey/builder", headers=JSON, data={
        "csrf_token": csrf_token(builder.get_data(as_text=True)), "text": text,
        "base_revision": draft["revision"]})
    assert response.get_json()["errors"] == []
    assert "这是这张表单的第一版" in page_text(publish_page(admin_client, "village_survey"))
    confirm_publish(admin_client, draft["revision"] + 1, "village_survey")
    assert store.get_form("village_survey")["version"] == 1


@pytest.mark.parametrize("form_id,message", [
    (FORM, "已被其他表单使用"), ("Bad-Id", "无效"), ("", "请填写表单编号")])
def test_new_form_refuses_a_taken_or_invalid_id(admin_client, store, form_id, message):
    page = admin_client.get("/admin/forms/new-form").get_data(as_text=True)
    response = admin_client.post("/admin/forms/new-form", data={
        "csrf_token": csrf_token(page), "form_id": form_id, "title": "标题"})
    assert response.status_code == 422 and message in page_text(response)
    assert store.list_drafts() == []


def test_new_form_refuses_an_id_with_a_draft(admin_client, store):
    formdefs.save_draft(store, "taken_draft", "{}", user="other", base_revision=0)
    page = admin_client.get("/admin/forms/new-form").get_data(as_text=True)
    response = admin_client.post("/admin/forms/new-form", data={
        "csrf_token": csrf_token(page), "form_id": "taken_draft", "title": "标题"})
    assert response.status_code == 422 and "未发布的草稿" in page_text(response)
    assert formdefs.get_draft(store, "taken_draft")["text"] == "{}"


# ---- history ------------------------------------------------------------------------------------


def publish_title(admin_client, store, title):
    draft = formdefs.get_draft(store, FORM)
    save(admin_client, edited(store, lambda s: s.update(title=title)),
         draft["revision"] if draft else 0)
    confirm_publish(admin_client, formdefs.get_draft(store, FORM)["revision"])


def test_history_compare_and_rollback(admin_client, store):
    original = store.get_form(FORM)["schema"]["title"]
    publish_title(admin_client, store, "第二版标题")
    page = page_text(admin_client.get(f"/admin/forms/{FORM}/history"))
    assert "第 2 版" in page and "可视化编辑" in page and "admin" in page and "内置" in page

    compare = admin_client.get(f"/admin/forms/{FORM}/compare", query_string={"from": 1, "to": 2})
    assert compare.status_code == 200
    assert f"表单的 title: {original} → 第二版标题" in page_text(compare)
    assert admin_client.get(f"/admin/forms/{FORM}/compare",
                            query_string={"from": 1, "to": 9}).status_code == 404

    history = admin_client.get(f"/admin/forms/{FORM}/history").get_data(as_text=True)
    response = admin_client.post(f"/admin/forms/{FORM}/rollback",
                                 data={"csrf_token": csrf_token(history), "version": 1})
    assert response.status_code == 302
    doc = store.get_form(FORM)
    assert doc["version"] == 3 and doc["schema"]["title"] == original
    assert doc["source"] == "rollback" and doc["user"] == "admin"
    [entry], _total = store.query_audit(action="form.rollback")
    assert entry["detail"]["from_version"] == 1
    assert admin_client.post(f"/admin/forms/{FORM}/rollback", data={
        "csrf_token": csrf_token(history), "version": 42}).status_code == 404


def test_close_and_reopen(admin_client, store):
    history = admin_client.get(f"/admin/forms/{FORM}/history").get_data(as_text=True)
    assert "停止收集" in history and "收集中" in history
    response = admin_client.post(f"/admin/forms/{FORM}/closed",
                                 data={"csrf_token": csrf_token(history), "closed": "1"})
    assert response.status_code == 302 and formdefs.is_closed(store, FORM)
    history = page_text(admin_client.get(f"/admin/forms/{FORM}/history"))
    assert "已停止收集" in history and "恢复收集" in history
    admin_client.post(f"/admin/forms/{FORM}/closed",
                      data={"csrf_token": csrf_token(history), "closed": "0"})
    assert not formdefs.is_closed(store, FORM)
    assert [e["action"] for e in store.query_audit()[0][:2]] == ["form.open", "form.close"]


def test_duplicate(admin_client, store):
    history = admin_client.get(f"/admin/forms/{FORM}/history").get_data(as_text=True)
    response = admin_client.post(f"/admin/forms/{FORM}/duplicate", data={
        "csrf_token": csrf_token(history), "new_id": "monthly_copy", "title": "月报(试行)"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/forms/monthly_copy/history")
    copy = store.get_form("monthly_copy")
    assert copy["version"] == 1 and copy["schema"]["title"] == "月报(试行)"
    assert copy["schema"]["fields"] == store.get_form(FORM)["schema"]["fields"]

    for new_id, message in (("monthly_copy", "已被使用"), ("Bad Id", "无效")):
        response = admin_client.post(f"/admin/forms/{FORM}/duplicate", data={
            "csrf_token": csrf_token(history), "new_id": new_id})
        assert response.status_code == 422 and message in page_text(response)


def test_discard_draft(admin_client, store):
    save(admin_client, edited(store, lambda s: s.update(title="不要了")), 0)
    history = admin_client.get(f"/admin/forms/{FORM}/history").get_data(as_text=True)
    assert "有未发布的草稿" in history and "放弃草稿" in history
    response = admin_client.post(f"/admin/forms/{FORM}/draft/discard",
                                 data={"csrf_token": csrf_token(history)})
    assert response.status_code == 302 and formdefs.get_draft(store, FORM) is None
    assert store.get_form(FORM)["version"] == 1


def test_the_forms_pages_link_to_the_builder_and_the_history(admin_client):
    forms = admin_client.get("/admin/forms").get_data(as_text=True)
    assert "/admin/forms/new-form" in forms and f"/admin/forms/{FORM}/builder" in forms
    assert f"/admin/forms/{FORM}/history" in forms
    detail = admin_client.get(f"/admin/forms/{FORM}").get_data(as_text=True)
    assert f"/admin/forms/{FORM}/builder" in detail and f"/admin/forms/{FORM}/history" in detail
