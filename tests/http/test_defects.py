"""Defects found in review, each shown through HTTP the way a user meets it."""
import errno
import json

import pytest

from support.helpers import VALID, csrf_token, open_form


def test_a_repeat_with_more_rows_than_the_cap_is_refused_not_cut(client, entry, store):
    """FieldList keeps the first 500 rows of a larger post; answering 303 with a cut-down
    list would lose rows silently."""
    token, _ = entry
    _, hidden = open_form(client, token)
    rows = {f"steps-{i}-{key}": value for i in range(501)
            for key, value in (("month", "2026-03"), ("task", f"任务{i}"))}
    data = {**hidden, **{k: v for k, v in VALID.items() if not k.startswith("steps-")}, **rows}
    response = client.post(f"/f/{token}", data=data)
    assert response.status_code == 422
    assert "最多填写 5 行(提交了 501 行)" in response.get_data(as_text=True)
    assert store.count_submissions("t_project") == 0


def test_a_long_text_without_max_length_is_refused(client, entry, store):
    token, _ = entry
    _, hidden = open_form(client, token)
    response = client.post(f"/f/{token}", data={**hidden, **VALID, "steps-0-owner": "张" * 201})
    assert response.status_code == 422
    assert "最多 200 字(现有 201 字)" in response.get_data(as_text=True)
    assert store.count_submissions("t_project") == 0


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_on_a_full_disk_is_503(admin_client, client, entry, monkeypatch, fmt):
    token, _ = entry
    _, hidden = open_form(client, token)
    assert client.post(f"/f/{token}", data={**hidden, **VALID}).status_code == 303

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    import exports

    writer = "zip" if fmt == "csv" else fmt  # t_project has a repeat: its CSV is a zip
    real = getattr(exports, f"submissions_to_{writer}")
    monkeypatch.setattr(exports, f"submissions_to_{writer}", lambda *a, **k: disk_full())
    response = admin_client.get(f"/admin/forms/t_project/export.{fmt}")
    assert response.status_code == 503
    assert "导出文件写入失败(磁盘空间不足)" in response.get_data(as_text=True)
    monkeypatch.setattr(exports, f"submissions_to_{writer}", real)
    assert admin_client.get(f"/admin/forms/t_project/export.{fmt}").status_code == 200


def test_export_when_the_temp_file_cannot_be_made_is_503(admin_client, entry, monkeypatch):
    import tempfile

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", disk_full)
    assert admin_client.get("/admin/forms/t_project/export.xlsx").status_code == 503


def test_admin_json_with_a_key_given_twice_is_refused(admin_client, store):
    """The admin editor had its own JSON parser, which silently kept the last of two keys."""
    page = admin_client.get("/admin/forms/monthly_report").get_data(as_text=True)
    schema = json.loads(json.dumps(store.get_form("monthly_report")["schema"]))
    schema.pop("version")
    text = json.dumps(schema, ensure_ascii=False)
    text = text.replace('"title": ', '"title": "第一个标题", "title": ', 1)
    response = admin_client.post("/admin/forms/monthly_report",
                                 data={"csrf_token": csrf_token(page), "text": text})
    assert response.status_code == 422
    assert "JSON 格式错误：键「title」在同一处出现了两次" in response.get_data(as_text=True)
    assert store.get_form("monthly_report")["version"] == 1


@pytest.mark.parametrize("code,reason", [("_x1", "编码「_x1」无效"), ("a" * 33, "最长 32 位")])
def test_org_page_applies_the_csv_code_rule(admin_client, store, code, reason):
    """The edit page used to accept codes the CSV import refused (and the other way round)."""
    page = admin_client.get("/admin/orgs/new").get_data(as_text=True)
    response = admin_client.post("/admin/orgs/new", data={
        "csrf_token": csrf_token(page), "code": code, "name": "新村", "kind": "village",
        "parent_code": "340828101"})
    assert response.status_code == 422
    assert reason in response.get_data(as_text=True)
    assert store.get_org(code) is None


def test_org_page_refuses_a_name_that_a_spreadsheet_would_run(admin_client, store):
    page = admin_client.get("/admin/orgs/new").get_data(as_text=True)
    response = admin_client.post("/admin/orgs/new", data={
        "csrf_token": csrf_token(page), "code": "X9", "name": "=HYPERLINK(1)",
        "kind": "village", "parent_code": "340828101"})
    assert response.status_code == 422
    assert "名称不能以 = + - @ 开头" in response.get_data(as_text=True)
    assert store.get_org("X9") is None


def test_admin_pages_carry_no_inline_script(admin_client, entry, store):
    """An organization name used to reach a confirm('…') in an onsubmit attribute."""
    store.upsert_orgs([{**store.get_org("340828101"), "name": "响肠镇');alert(1);('"}])
    for url in ("/admin/orgs/340828101/edit", "/admin/forms/t_project/links?township=340828101",
                "/admin/forms/t_project/qr-sheet?township=340828101"):
        html = admin_client.get(url).get_data(as_text=True)
        assert " onsubmit=" not in html and " onclick=" not in html and " onchange=" not in html
