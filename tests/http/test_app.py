"""Functional tests through HTTP (Flask test client) and the CLI, on a real TinyDB file."""
import io
import json
import re
import uuid
import zipfile

import openpyxl
import pytest
from PIL import Image

from support.helpers import (ADMIN, BASE_URL, PROJECT_FORM, VALID, csrf_token, login,
                             open_form)
from forms.loader import check_schema
from storage import open_store
from db import get_store
from services import accounts

def submit(client, token, answers, **files):
    html, hidden = open_form(client, token)
    data = {**hidden, **answers, **files}
    return client.post(f"/f/{token}", data=data, content_type="multipart/form-data")


def png_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- login and CSRF

ADMIN_PAGES = ["/admin/", "/admin/forms", "/admin/forms/upload", "/admin/forms/monthly_report",
               "/admin/forms/monthly_report/preview", "/admin/orgs", "/admin/orgs/new",
               "/admin/forms/monthly_report/links", "/admin/forms/monthly_report/submissions",
               "/admin/forms/monthly_report/export.xlsx", "/admin/orgs.csv",
               "/admin/forms/monthly_report/qr-sheet?township=340828101", "/admin/audit"]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_every_admin_page_requires_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_every_admin_page_renders_for_admin(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_login_wrong_password_then_right(app, client):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        assert get_store().get_user("admin")["password_hash"].startswith("scrypt:")
    bad = login(client, password="wrong password")
    assert bad.status_code == 401
    assert "用户名或密码错误" in bad.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_repeated_failed_logins_are_throttled(app, client):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
    for _ in range(accounts.MAX_FAILURES):
        assert login(client, password="guess-guess").status_code == 401
    blocked = login(client)  # even the right password, until the window passes
    assert blocked.status_code == 429 and "次数过多" in blocked.get_data(as_text=True)


def test_login_without_csrf_token_is_400(app, client):
    response = client.post("/login", data={"username": "a", "password": "b"})
    assert response.status_code == 400
    assert "安全校验" in response.get_data(as_text=True)


def test_logout_is_post_with_csrf(admin_client):
    assert admin_client.post("/logout").status_code == 400
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert admin_client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_login_next_redirect_only_to_local_paths(app, client):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login?next=https://evil.example/x", data={
        "username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/admin/"


def test_behind_a_proxy_pages_link_under_its_prefix(tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATA_DIR": str(tmp_path),
                      "PROXY_COUNT": 1})
    response = app.test_client().get("/admin/", headers={"X-Forwarded-Prefix": "/taizhang"})
    assert response.headers["Location"].startswith("/taizhang/login")
    app.extensions["taizhang.store"].close()


def test_default_secret_key_refused_outside_debug(tmp_path):
    from app import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATA_DIR": str(tmp_path)})


# ---------------------------------------------------------------- QR entry -> submit -> receipt

def test_qr_link_to_receipt_to_list_to_export(app, client, admin_client, entry, store):
    token, org = entry
    html, _ = open_form(client, token)
    assert "千佛塔村" in html and "测试项目表" in html
    response = submit(client, token, VALID, photo=(io.BytesIO(png_bytes()), "现场.png"))
    assert response.status_code == 303
    receipt_page = client.get(response.headers["Location"])
    assert receipt_page.status_code == 200
    receipt = re.search(r'data-receipt="([^"]+)"', receipt_page.get_data(as_text=True)).group(1)
    assert re.fullmatch(r"\d{6}-\d{4}", receipt)

    doc = store.get_submission(receipt)
    assert doc["org_code"] == org["code"] and doc["form_version"] == 1
    answers = doc["answers"]
    assert answers["people"] == 12 and answers["income"] == "3.5"
    assert "assigner" not in answers  # hidden by show_if: not stored
    assert answers["steps"][0] == {"month": "2026-03", "task": "=1+1 流转土地", "owner": "张三"}
    assert answers["photo"]["name"] == "现场.png" and answers["photo"]["content_type"] == "image/png"

    listing = admin_client.get("/admin/forms/t_project/submissions").get_data(as_text=True)
    assert receipt in listing
    detail = admin_client.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert "党建引领“小冬桃”助力乡村振兴" in detail and "栽植冬桃" in detail
    photo = admin_client.get(f"/admin/uploads/{answers['photo']['file']}")
    assert photo.status_code == 200 and photo.data == png_bytes()
    photo.close()
    assert app.test_client().get(f"/admin/uploads/{answers['photo']['file']}").status_code == 302

    xlsx = admin_client.get("/admin/forms/t_project/export.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    main = book.worksheets[0]
    rows = list(main.iter_rows(values_only=True))
    assert rows[0][:8] == ("回执编号", "县", "乡镇", "村/单位", "组织编码", "提交时间", "审核状态",
                           "项目名称")
    assert rows[1][0] == receipt and rows[1][3:5] == ("千佛塔村", org["code"])
    assert rows[1][7] == "党建引领“小冬桃”助力乡村振兴"
    steps = book[book.sheetnames[1]]
    cells = [c for row in steps.iter_rows() for c in row]
    formula = [c for c in cells if c.data_type == "f"]
    assert not formula
    assert any(c.value == "=1+1 流转土地" and c.data_type == "s" for c in cells)


def test_each_page_load_gets_its_own_submission_id(client, entry):
    token, _ = entry
    ids = {open_form(client, token)[1]["submission_id"] for _ in range(3)}
    assert len(ids) == 3


def test_retry_with_same_submission_id_stores_once(client, entry, store):
    token, _ = entry
    html, hidden = open_form(client, token)
    data = {**hidden, **VALID}
    first = client.post(f"/f/{token}", data=data)
    second = client.post(f"/f/{token}", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert store.count_submissions("t_project") == 1
    changed = client.post(f"/f/{token}", data={**data, "title": "另一个项目"})
    assert changed.status_code == 409
    assert store.count_submissions("t_project") == 1


def test_missing_required_and_bad_types_show_errors_and_store_nothing(client, entry, store):
    token, _ = entry
    bad = {**VALID, "title": "", "people": "十二", "phone": "12345", "mode": "点题",
           "assigner": ""}
    response = submit(client, token, bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # each error beside its own field (the id the input's aria-describedby points at)
    assert re.search(r'id="title-error" role="alert">此项为必填项<', html)
    assert re.search(r'id="people-error" role="alert">请输入整数<', html)
    assert re.search(r'id="phone-error" role="alert">请输入正确的手机号码<', html)
    assert re.search(r'id="assigner-error" role="alert">此项为必填项<', html)
    assert 'value="十二"' in html  # the cadre's input is kept
    assert store.count_submissions("t_project") == 0


def test_submit_without_csrf_is_400_and_stores_nothing(client, entry, store):
    token, _ = entry
    _, hidden = open_form(client, token)
    response = client.post(f"/f/{token}", data={**VALID, "submission_id": hidden["submission_id"]})
    assert response.status_code == 400
    assert store.count_submissions("t_project") == 0


def test_oversize_request_is_413(app, client, entry, store):
    token, _ = entry
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = submit(client, token, VALID, photo=(io.BytesIO(b"x" * 5000), "big.jpg"))
    assert response.status_code == 413
    assert store.count_submissions("t_project") == 0


def test_not_an_image_is_rejected(client, entry, store):
    token, _ = entry
    response = submit(client, token, VALID, photo=(io.BytesIO(b"GIF89a not really"), "x.gif"))
    assert response.status_code == 422
    assert store.count_submissions("t_project") == 0


def test_entry_page_follows_new_form_version_and_org_changes(app, client, entry):
    """The public view reuses the form class and the organization per process: a new form
    version or a renamed organization, written by this process or by another one, shows at
    once."""
    token, org = entry
    html, _ = open_form(client, token)
    assert "测试项目表" in html and org["name"] in html
    changed = json.loads(json.dumps(PROJECT_FORM))
    changed["title"] = "测试项目表第二版"
    other = open_store(app.config["DATABASE_URL"], app.config["DATA_DIR"])  # another process
    try:
        other.add_form_version(check_schema(changed), source="cli")
        other.upsert_orgs([{**org, "name": "千佛塔新村"}])
    finally:
        other.close()
    html, hidden = open_form(client, token)
    assert "测试项目表第二版" in html and "千佛塔新村" in html
    response = client.post(f"/f/{token}", data={**VALID, **hidden})
    assert response.status_code == 303
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "千佛塔新村" in receipt


def test_entry_forms_do_not_share_field_state(client, entry, store):
    """Fields are bound from per-process prototypes: a failed submit leaves nothing behind
    for the next form (errors, data, flags)."""
    token, _ = entry
    _, hidden = open_form(client, token)
    bad = client.post(f"/f/{token}", data={**hidden, **VALID, "people": "不是数字"})
    assert bad.status_code == 422
    html, hidden = open_form(client, token)
    assert "不是数字" not in html and "tz-error" not in html
    assert client.post(f"/f/{token}", data={**hidden, **VALID}).status_code == 303
    assert store.count_submissions("t_project") == 1


def test_revoked_and_unknown_tokens_are_404(admin_client, client, entry, store):
    token, org = entry
    assert client.get("/f/nope-not-a-token").status_code == 404
    page = admin_client.get("/admin/forms/t_project/links").get_data(as_text=True)
    response = admin_client.post(f"/admin/links/{token}/revoke",
                                 data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    gone = client.get(f"/f/{token}")
    assert gone.status_code == 404 and "二维码" in gone.get_data(as_text=True)
    anonymous = client.application.test_client()
    login_page = anonymous.get("/login").get_data(as_text=True)
    response = anonymous.post(f"/f/{token}", data={**VALID, "csrf_token": csrf_token(login_page)})
    assert response.status_code == 404


def test_regenerate_gives_new_token_and_kills_old(admin_client, client, entry, store):
    token, org = entry
    page = admin_client.get("/admin/forms/t_project/links").get_data(as_text=True)
    admin_client.post(f"/admin/links/{token}/regenerate", data={"csrf_token": csrf_token(page)})
    new = store.active_link("t_project", org["code"])
    assert new["token"] != token and len(new["token"]) >= 22
    assert client.get(f"/f/{token}").status_code == 404
    assert client.get(f"/f/{new['token']}").status_code == 200


def test_links_page_generate_and_qr_downloads(admin_client, store):
    page = admin_client.get("/admin/forms/monthly_report/links?township=340828101")
    html = page.get_data(as_text=True)
    assert "一键生成" in html
    admin_client.post("/admin/forms/monthly_report/links/generate",
                      data={"csrf_token": csrf_token(html), "township": "340828101"})
    links = [l for l in store.list_links("monthly_report") if not l.get("revoked_at")]
    assert len(links) == 7  # 响肠镇 itself and its six villages
    html = admin_client.get("/admin/forms/monthly_report/links?township=340828101").get_data(
        as_text=True)
    assert f"{BASE_URL}/f/{links[0]['token']}" in html
    png = admin_client.get(f"/admin/links/{links[0]['token']}/qr.png?download=1")
    assert png.data.startswith(b"\x89PNG") and "attachment" in png.headers["Content-Disposition"]
    svg = admin_client.get(f"/admin/links/{links[0]['token']}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    sheet = admin_client.get("/admin/forms/monthly_report/qr-sheet?township=340828101")
    text = sheet.get_data(as_text=True)
    for name in ("千佛塔村", "响肠村", "请水寨村"):
        assert name in text
    assert text.count('class="qr-card"') == 6


# ---------------------------------------------------------------- submissions list

def test_list_filters_and_paging(client, admin_client, entry, store):
    token, org = entry
    other = next(o for o in store.list_orgs() if o["name"] == "深村村")
    other_token = store.create_link("t_project", other["code"])["token"]
    for i in range(7):
        assert submit(client, token, {**VALID, "title": f"项目{i}"}).status_code == 303
    assert submit(client, other_token, {**VALID, "title": "深村项目"}).status_code == 303
    page1 = admin_client.get("/admin/forms/t_project/submissions").get_data(as_text=True)
    assert "共 8 份" in page1 and "第 1 / 2 页" in page1
    township = admin_client.get(
        f"/admin/forms/t_project/submissions?township={org['parent_code']}").get_data(as_text=True)
    assert "共 7 份" in township
    village = admin_client.get(
        f"/admin/forms/t_project/submissions?org={other['code']}").get_data(as_text=True)
    assert "共 1 份" in village
    future = admin_client.get(
        "/admin/forms/t_project/submissions?date_from=2099-01-01").get_data(as_text=True)
    assert "共 0 份" in future
    backwards = admin_client.get(
        "/admin/forms/t_project/submissions?date_from=2026-02-01&date_to=2026-01-01")
    assert "结束日期不能早于开始日期" in backwards.get_data(as_text=True)
    # 催报: which villages of the township have not submitted yet
    assert "已提交 1 / 6 个村(单位)" in township and "5 个未提交" in township
    chase = f"/admin/forms/t_project/reporting?township={org['parent_code']}"
    assert chase.replace("&", "&amp;") in township or chase in township
    missing = admin_client.get(chase).get_data(as_text=True)
    missing = missing.split("data-missing")[1].split("</section>")[0]
    assert "余畈村" in missing and "千佛塔村" not in missing
    assert "已提交 0 / 6" in admin_client.get(
        f"/admin/forms/t_project/submissions?township={org['parent_code']}"
        "&date_from=2099-01-01").get_data(as_text=True)
    export = admin_client.get(f"/admin/forms/t_project/export.csv?org={other['code']}")
    assert export.headers["Content-Type"] == "application/zip"  # t_project has a repeat field
    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        main = archive.read(archive.namelist()[0])  # the main sheet's CSV
    text = main.decode("utf-8")
    assert main.startswith(b"\xef\xbb\xbf")
    assert "深村项目" in text and "项目0" not in text


# ---------------------------------------------------------------- form schemas in the browser

def test_schema_edit_invalid_shows_path_and_keeps_old_version(admin_client, store):
    page = admin_client.get("/admin/forms/monthly_report").get_data(as_text=True)
    schema = json.loads(json.dumps(store.get_form("monthly_report")["schema"]))
    schema.pop("version")
    schema["fields"][1]["type"] = "selct"
    response = admin_client.post("/admin/forms/monthly_report", data={
        "csrf_token": csrf_token(page), "text": json.dumps(schema, ensure_ascii=False)})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "fields[1].type" in html and "select" in html
    assert store.get_form("monthly_report")["version"] == 1


def test_schema_edit_valid_becomes_next_version(admin_client, store):
    page = admin_client.get("/admin/forms/monthly_report").get_data(as_text=True)
    schema = json.loads(json.dumps(store.get_form("monthly_report")["schema"]))
    schema.pop("version")
    schema["title"] = "月度进展报告(修订)"
    response = admin_client.post("/admin/forms/monthly_report", data={
        "csrf_token": csrf_token(page), "text": json.dumps(schema, ensure_ascii=False)})
    assert response.status_code == 302
    assert store.get_form("monthly_report")["version"] == 2
    assert store.get_form("monthly_report", 1)["schema"]["title"] != "月度进展报告(修订)"
    # the same definition saved again (keys in another order, as the editor may send it; as
    # PostgreSQL gives them back) is no new version
    again = dict(reversed(list(schema.items())))
    response = admin_client.post("/admin/forms/monthly_report", data={
        "csrf_token": csrf_token(page), "text": json.dumps(again, ensure_ascii=False)})
    assert response.status_code == 302
    assert "内容没有变化" in admin_client.get("/admin/forms/monthly_report").get_data(
        as_text=True)
    assert store.get_form("monthly_report")["version"] == 2


def test_schema_upload_file(admin_client, store):
    page = admin_client.get("/admin/forms/upload").get_data(as_text=True)
    body = json.dumps(PROJECT_FORM, ensure_ascii=False).encode()
    response = admin_client.post("/admin/forms/upload", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(body), "t_project.json")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert store.get_form("t_project")["version"] == 1
    wrong_name = admin_client.post("/admin/forms/upload", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(body), "other.json")},
        content_type="multipart/form-data")
    assert wrong_name.status_code == 422
    broken = admin_client.post("/admin/forms/upload", data={
        "csrf_token": csrf_token(page), "text": '{"id": "x",'})
    assert broken.status_code == 422 and "JSON 格式错误" in broken.get_data(as_text=True)


def test_preview_validates_but_stores_nothing(admin_client, entry, store):
    page = admin_client.get("/admin/forms/t_project/preview").get_data(as_text=True)
    response = admin_client.post("/admin/forms/t_project/preview", data={
        **VALID, "csrf_token": csrf_token(page), "submission_id": uuid.uuid4().hex})
    assert response.status_code == 200 and "校验通过" in response.get_data(as_text=True)
    assert store.count_submissions("t_project") == 0


# ---------------------------------------------------------------- organizations

def test_org_csv_upload_bad_row_saves_nothing(admin_client, store):
    before = len(store.list_orgs())
    page = admin_client.get("/admin/orgs").get_data(as_text=True)
    data = "code,name,parent_code,kind\nX1,新镇,340828,township\nX2,坏村,NOPE,village\n"
    response = admin_client.post("/admin/orgs/import", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(data.encode()), "o.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "第 3 行" in response.get_data(as_text=True)
    assert len(store.list_orgs()) == before
    good = "\ufeffcode,name,parent_code,kind\nX1,新镇,340828,township\nX2,新村,X1,village\n"
    response = admin_client.post("/admin/orgs/import", data={
        "csrf_token": csrf_token(page), "file": (io.BytesIO(good.encode()), "o.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert store.get_org("X2")["parent_code"] == "X1"


def test_org_edit_and_delete(admin_client, store):
    page = admin_client.get("/admin/orgs/new").get_data(as_text=True)
    response = admin_client.post("/admin/orgs/new", data={
        "csrf_token": csrf_token(page), "code": "340828101299", "name": "新建村",
        "kind": "village", "parent_code": "340828101"})
    assert response.status_code == 302
    assert store.get_org("340828101299")["name"] == "新建村"
    page = admin_client.get("/admin/orgs/340828101299/edit").get_data(as_text=True)
    admin_client.post("/admin/orgs/340828101299/edit", data={
        "csrf_token": csrf_token(page), "code": "340828101299", "name": "改名村",
        "kind": "village", "parent_code": "340828101"})
    assert store.get_org("340828101299")["name"] == "改名村"
    admin_client.post("/admin/orgs/340828101/delete", data={"csrf_token": csrf_token(page)})
    assert store.get_org("340828101") is not None  # has children
    admin_client.post("/admin/orgs/340828101299/delete", data={"csrf_token": csrf_token(page)})
    assert store.get_org("340828101299") is None


def test_user_typed_values_are_escaped(client, admin_client, entry, store):
    token, _ = entry
    response = submit(client, token, {**VALID, "title": "<script>alert(1)</script>"})
    receipt = response.headers["Location"].rsplit("/", 1)[-1]
    html = admin_client.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---------------------------------------------------------------- command line

def test_cli_create_user_password_stdin(runner, store):
    result = runner.invoke(args=["create-user", "ops", "--role", "admin", "--password-stdin"],
                           input="s3cret-password\n")
    assert result.exit_code == 0, result.output
    assert store.get_user("ops")["password_hash"].startswith("scrypt:")
    again = runner.invoke(args=["create-user", "ops", "--role", "admin", "--password-stdin"],
                          input="s3cret-password\n")
    assert again.exit_code != 0
    short = runner.invoke(args=["create-user", "x", "--role", "admin", "--password-stdin"],
                          input="123\n")
    assert short.exit_code != 0 and "8" in short.output


def test_cli_set_password(app, runner, client):
    runner.invoke(args=["create-user", "ops", "--role", "admin", "--password-stdin"],
                  input="first-password\n")
    result = runner.invoke(args=["set-password", "ops", "--password-stdin"],
                           input="second-password\n")
    assert result.exit_code == 0, result.output
    assert login(client, "ops", "first-password").status_code == 401
    assert login(client, "ops", "second-password").status_code == 302
    assert runner.invoke(args=["set-password", "nobody", "--password-stdin"],
                         input="whatever-password\n").exit_code != 0


def test_cli_load_form_and_check_forms(runner, store, tmp_path):
    path = tmp_path / "t_project.json"
    path.write_text(json.dumps(PROJECT_FORM, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["load-form", str(path)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["load-form", str(path)]).exit_code == 0
    assert store.get_form("t_project")["version"] == 2
    broken = json.loads(json.dumps(PROJECT_FORM))
    broken["fields"][3]["choices"] = []
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["load-form", str(path)])
    assert result.exit_code != 0
    assert "t_project.json" in result.output and "fields[3]" in result.output
    check = runner.invoke(args=["check-forms"])
    assert check.exit_code == 0, check.output
    assert "monthly_report" in check.output


def test_cli_import_orgs(runner, store, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes("\ufeffcode,name,parent_code,kind\r\nZ1,新镇,340828,township\r\n".encode())
    assert runner.invoke(args=["import-orgs", str(path)]).exit_code == 0
    assert store.get_org("Z1")["name"] == "新镇"
    path.write_bytes(b"code,name,parent_code,kind\nZ2,x,Z1,planet\n")
    result = runner.invoke(args=["import-orgs", str(path)])
    assert result.exit_code != 0 and ":2:" in result.output
    assert store.get_org("Z2") is None


def test_cli_links_and_export(runner, client, entry, store, tmp_path):
    token, org = entry
    result = runner.invoke(args=["links", "t_project", "--township", org["parent_code"]])
    assert result.exit_code == 0, result.output
    lines = [l.split("\t") for l in result.output.strip().splitlines()]
    assert len(lines) == 7 and all(len(l) == 3 for l in lines)
    row = next(l for l in lines if l[0] == org["code"])
    assert row[1] == "千佛塔村" and row[2] == f"{BASE_URL}/f/{token}"
    assert submit(client, token, VALID).status_code == 303
    out = tmp_path / "out.xlsx"
    result = runner.invoke(args=["export", "t_project", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][7] == VALID["title"]  # after receipt, org, time, status
    assert runner.invoke(args=["export", "nope", str(out)]).exit_code != 0
    assert runner.invoke(args=["links", "nope"]).exit_code != 0


def test_cli_init_is_idempotent(runner, store):
    forms = {f["id"]: f["version"] for f in store.list_forms()}
    orgs = len(store.list_orgs())
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0
    assert "create-user" in result.output
    assert {f["id"]: f["version"] for f in store.list_forms()} == forms
    assert len(store.list_orgs()) == orgs


@pytest.mark.parametrize("command", ["init", "create-user", "set-password", "import-orgs", "load-form",
                                     "check-forms", "links", "export"])
def test_cli_help(runner, command):
    result = runner.invoke(args=[command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_export_keeps_fields_of_older_versions(client, admin_client, entry, store):
    token, _ = entry
    assert submit(client, token, VALID).status_code == 303
    schema = json.loads(json.dumps(PROJECT_FORM))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "people"]
    schema["fields"].append({"name": "households", "type": "integer", "label": "带动农户"})
    store.add_form_version(check_schema(schema), source="edit")
    assert submit(client, token, {**VALID, "households": "30"}).status_code == 303
    book = openpyxl.load_workbook(io.BytesIO(
        admin_client.get("/admin/forms/t_project/export.xlsx").data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header = rows[0]
    assert "带动农户" in header and "带动就业(人)" in header
    assert header.index("带动农户") < header.index("带动就业(人)")  # old field appended
    assert rows[1][header.index("带动就业(人)")] == 12 and rows[1][header.index("带动农户")] is None
    assert rows[2][header.index("带动农户")] == 30 and rows[2][header.index("带动就业(人)")] is None
