"""The public page's background API (JSON answers, photos uploaded on their own, the private
receipt link) and the security headers and cache rules of every kind of page — through HTTP,
on both backends."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from support.helpers import VALID, open_form

JSON = {"Accept": "application/json"}


def jpeg_bytes(size=(800, 600)):
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 60)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def upload(client, token, data, csrf, filename="IMG_1.jpg"):
    return client.post(f"/f/{token}/photo", data={"csrf_token": csrf,
                                                  "photo": (io.BytesIO(data), filename)},
                       headers=JSON, content_type="multipart/form-data")


def post_json(client, token, hidden, answers):
    return client.post(f"/f/{token}", data={**hidden, **answers}, headers=JSON,
                       content_type="multipart/form-data")


def test_a_photo_uploaded_on_its_own_is_stored_with_a_thumbnail_and_referred_to(
        client, entry, store):
    token, org = entry
    _html, hidden = open_form(client, token)
    data = jpeg_bytes((2000, 1500))
    answer = upload(client, token, data, hidden["csrf_token"])
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["name"] == "IMG_1.jpg" and body["size"] == len(data)

    sent = post_json(client, token, hidden, {**VALID, "photo": body["ref"]})
    assert sent.status_code == 200
    result = sent.get_json()
    doc = store.get_submission(result["receipt"])
    photo = doc["answers"]["photo"]
    assert store.get_photo(photo["file"])["data"] == data  # stored as received
    with Image.open(io.BytesIO(store.get_photo(photo["thumb"])["data"])) as thumb:
        assert thumb.size == (640, 480)
    assert set(doc["files"]) == {photo["file"], photo["thumb"]}
    assert result["url"].endswith(f"/{result['receipt']}") and "/r/" in result["url"]


def test_the_upload_refuses_what_is_not_a_photo_and_stores_nothing(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    answer = upload(client, token, b"%PDF-1.4 not a photo", hidden["csrf_token"], "a.jpg")
    assert answer.status_code == 422
    assert "JPG" in answer.get_json()["error"]
    nothing = client.post(f"/f/{token}/photo", data={"csrf_token": hidden["csrf_token"]},
                          headers=JSON, content_type="multipart/form-data")
    assert nothing.status_code == 422 and nothing.get_json()["error"] == "请上传照片"
    assert client.post(f"/f/{token}/photo", data={"photo": (io.BytesIO(jpeg_bytes()), "a.jpg")},
                       content_type="multipart/form-data").status_code == 400  # no CSRF token
    assert client.post("/f/not-a-link/photo", data={"csrf_token": hidden["csrf_token"]},
                       headers=JSON).status_code == 404
    with store.snapshot() as snap:
        assert snap.counts()["photos"] == 0


def test_a_forged_or_altered_photo_reference_is_refused_beside_the_field(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    ref = upload(client, token, jpeg_bytes(), hidden["csrf_token"]).get_json()["ref"]
    for bad in (ref[:-3] + "AAA", "eyJmaWxlIjoiLi4vLi4vZXRjL3Bhc3N3ZCJ9.AAAA.BBBB"):
        refused = post_json(client, token, hidden, {**VALID, "photo": bad})
        assert refused.status_code == 422
        assert refused.get_json()["errors"] == {"photo": ["照片已失效,请重新选择照片"]}
    assert store.count_submissions("t_project") == 0


def test_json_errors_name_the_inputs_and_store_nothing(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    answers = {**VALID, "title": "", "steps-1-month": "2026-13", "mode": "点题"}
    refused = post_json(client, token, hidden, answers)
    assert refused.status_code == 422
    body = refused.get_json()
    assert set(body["errors"]) == {"title", "steps-1-month", "assigner"}
    assert all(isinstance(m, str) and m for ms in body["errors"].values() for m in ms)
    assert body["message"] == "有 3 处需要修改，请查看标红的项目。"
    assert store.count_submissions("t_project") == 0


def test_a_retry_gets_the_original_receipt_and_a_changed_retry_is_told_where_it_is(
        client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    first = post_json(client, token, hidden, VALID).get_json()
    again = post_json(client, token, hidden, VALID)
    assert again.status_code == 200 and again.get_json() == first
    changed = post_json(client, token, hidden, {**VALID, "people": "13"})
    assert changed.status_code == 409
    body = changed.get_json()
    assert body["receipt"] == first["receipt"] and body["url"] == first["url"]
    assert "已经提交过" in body["error"]
    assert store.count_submissions("t_project") == 1


def test_an_expired_page_gets_a_fresh_token_in_json_and_can_send_again(app, entry, store):
    token, _org = entry
    client = app.test_client()
    _html, hidden = open_form(client, token)
    stale = {**hidden, "csrf_token": "stale"}
    refused = post_json(client, token, stale, VALID)
    assert refused.status_code == 400
    fresh = refused.get_json()["csrf_token"]
    assert fresh and "刷新" in refused.get_json()["error"]
    sent = post_json(client, token, {**hidden, "csrf_token": fresh}, VALID)
    assert sent.status_code == 200
    assert store.count_submissions("t_project") == 1


def test_a_page_without_javascript_keeps_its_photo_across_a_validation_error(
        client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    data = jpeg_bytes()
    refused = client.post(f"/f/{token}", data={**hidden, **VALID, "title": "",
                                                "photo": (io.BytesIO(data), "现场.jpg")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "已上传照片：现场.jpg" in html
    ref = re.search(r'type="hidden" name="photo" value="([^"]+)" data-photo-ref', html).group(1)
    sent = client.post(f"/f/{token}", data={**hidden, **VALID, "photo": ref},
                       content_type="multipart/form-data")
    assert sent.status_code == 303
    doc = store.get_submission(sent.headers["Location"].rsplit("/", 1)[-1])
    assert store.get_photo(doc["answers"]["photo"]["file"])["data"] == data
    assert doc["answers"]["photo"]["name"] == "现场.jpg"


def test_the_private_receipt_link_shows_the_answers_and_nothing_else_does(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    sent = client.post(f"/f/{token}", data={**hidden, **VALID, "title": "<i>小冬桃</i>"},
                       content_type="multipart/form-data")
    url = sent.headers["Location"]
    receipt = url.rsplit("/", 1)[-1]
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "&lt;i&gt;小冬桃&lt;/i&gt;" in html and "<i>小冬桃" not in html
    assert "栽植冬桃" in html and url in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    key = url.split("/r/", 1)[1].split("/")[0]
    assert len(key) >= 22
    wrong = key[:-1] + ("y" if key[-1] == "x" else "x")  # the last character changed
    assert client.get(f"/r/{wrong}/{receipt}").status_code == 404
    assert client.get(f"/r/{key}/{receipt[:-1]}9").status_code == 404
    # the old receipt page (guessable numbers) shows the receipt, not the answers
    plain = client.get(f"/f/{token}/r/{receipt}").get_data(as_text=True)
    assert receipt in plain and "小冬桃" not in plain


# ---------------------------------------------------------------- headers and cache rules

CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def assert_hardened(response):
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith(CSP)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_capability_pages_and_login_are_hardened_and_never_cached(client, entry):
    token, _org = entry
    login_page = client.get("/login")
    assert_hardened(login_page)
    assert login_page.headers["Cache-Control"] == "no-store"
    html, hidden = open_form(client, token)
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
    for response in (client.get(f"/f/{token}"), client.get("/f/no-such-link"),
                     post_json(client, token, hidden, {**VALID, "title": ""})):
        assert_hardened(response)
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/admin/", "/admin/forms", "/admin/orgs",
                                 "/admin/forms/t_project/submissions",
                                 "/admin/forms/t_project/export.xlsx",
                                 "/admin/forms/t_project/export.csv", "/admin/orgs.csv"])
def test_admin_pages_and_exports_are_hardened_and_never_cached(admin_client, entry, url):
    response = admin_client.get(url)
    assert response.status_code == 200
    assert_hardened(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_photos_are_private_and_static_files_may_be_cached(admin_client, client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    ref = upload(client, token, jpeg_bytes(), hidden["csrf_token"]).get_json()["ref"]
    receipt = post_json(client, token, hidden, {**VALID, "photo": ref}).get_json()["receipt"]
    photo = store.get_submission(receipt)["answers"]["photo"]
    response = admin_client.get(f"/admin/uploads/{photo['file']}")
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    detail = admin_client.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert f"/admin/uploads/{photo['thumb']}" in detail  # the page shows the thumbnail
    page = client.get(f"/f/{token}").get_data(as_text=True)
    script = re.search(r'src="(/static/js/form\.js\?v=[0-9a-f]{12})"', page).group(1)
    static = client.get(script)
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert_hardened(static)
    static.close()


def test_a_text_answer_has_a_length_cap_even_without_max_length(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    refused = post_json(client, token, hidden, {**VALID, "owner": "x", "steps-0-owner": "长" * 201})
    assert refused.status_code == 422
    assert "200" in refused.get_json()["errors"]["steps-0-owner"][0]
    assert store.count_submissions("t_project") == 0


# ---------------------------------------------------------------- what a QR link must not allow


def test_a_huge_picture_in_a_small_file_is_refused_before_it_is_drawn(client, entry, store):
    token, _org = entry
    _html, hidden = open_form(client, token)
    buf = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buf, "PNG")  # 60 megapixels in a few KB
    assert len(buf.getvalue()) < 100_000
    refused = upload(client, token, buf.getvalue(), hidden["csrf_token"], "bomb.png")
    assert refused.status_code == 422 and "像素" in refused.get_json()["error"]
    with store.snapshot() as snap:
        assert snap.counts()["photos"] == 0


def test_a_photo_reference_is_good_only_for_its_form_and_village(client, app, entry, store):
    token, org = entry
    other = next(o for o in store.list_orgs() if o["kind"] == "village" and o["code"] != org["code"])
    other_token = store.create_link("t_project", other["code"])["token"]
    _html, hidden = open_form(client, other_token)
    ref = upload(client, other_token, jpeg_bytes(), hidden["csrf_token"]).get_json()["ref"]
    _html, hidden = open_form(client, token)
    refused = post_json(client, token, hidden, {**VALID, "photo": ref})
    assert refused.status_code == 422 and "photo" in refused.get_json()["errors"]
    # the same village keeps its references when its QR link is re-issued
    ref = upload(client, token, jpeg_bytes(), hidden["csrf_token"]).get_json()["ref"]
    with app.app_context():
        from services import links
        new_token = links.regenerate(store, token)["token"]
    _html, hidden = open_form(client, new_token)
    assert post_json(client, new_token, hidden, {**VALID, "photo": ref}).status_code == 200


def test_the_upload_takes_a_file_not_a_reference(client, entry):
    token, _org = entry
    _html, hidden = open_form(client, token)
    ref = upload(client, token, jpeg_bytes(), hidden["csrf_token"]).get_json()["ref"]
    again = client.post(f"/f/{token}/photo", data={"csrf_token": hidden["csrf_token"],
                                                   "photo": ref}, headers=JSON)
    assert again.status_code == 422 and again.get_json()["error"] == "请上传照片"


def test_a_conflict_names_no_submission_of_another_village(client, entry, store):
    token, org = entry
    other = next(o for o in store.list_orgs() if o["kind"] == "village" and o["code"] != org["code"])
    other_token = store.create_link("t_project", other["code"])["token"]
    _html, hidden = open_form(client, other_token)
    assert post_json(client, other_token, hidden, VALID).status_code == 200
    _html, mine = open_form(client, token)
    stolen = {**mine, "submission_id": hidden["submission_id"]}
    refused = post_json(client, token, stolen, VALID)
    assert refused.status_code == 409
    assert refused.get_json()["url"] is None and refused.get_json()["receipt"] is None


def test_a_forwarded_receipt_link_does_not_open_the_villages_form(client, entry):
    token, _org = entry
    _html, hidden = open_form(client, token)
    url = post_json(client, token, hidden, VALID).get_json()["url"]
    assert f"/f/{token}" not in client.get(url).get_data(as_text=True)


def test_prune_photos_deletes_what_no_fill_sent_after_the_reference_lifetime(
        app, client, runner, entry, store, monkeypatch):
    token, _org = entry
    _html, hidden = open_form(client, token)
    ref = upload(client, token, jpeg_bytes((900, 600)), hidden["csrf_token"]).get_json()["ref"]
    upload(client, token, jpeg_bytes((700, 500)), hidden["csrf_token"])  # picked, never sent
    receipt = post_json(client, token, hidden, {**VALID, "photo": ref}).get_json()["receipt"]
    with store.snapshot() as snap:
        assert snap.counts()["photos"] == 4  # two photos, two thumbnails
    refused = runner.invoke(args=["prune-photos", "--days", "3"])
    assert refused.exit_code == 1 and "31 天" in refused.output
    assert "Deleted 0 photos" in runner.invoke(args=["prune-photos"]).output  # all recent

    from services import photos
    later = photos.now() + timedelta(days=32)
    monkeypatch.setattr(photos, "now", lambda: later)  # a month later
    result = runner.invoke(args=["prune-photos"])
    assert result.exit_code == 0 and "Deleted 2 photos" in result.output, result.output
    answer = store.get_submission(receipt)["answers"]["photo"]
    assert store.get_photo(answer["file"]) and store.get_photo(answer["thumb"])
    with store.snapshot() as snap:
        assert snap.counts()["photos"] == 2
    entries, _total = store.query_audit(action="photos.prune")
    assert entries[0]["detail"] == {"count": 2}


def test_export_headers_are_right_and_a_head_request_exports_nothing(admin_client, store):
    csv = admin_client.get("/admin/forms/monthly_report/export.csv")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    before = store.query_audit(action="export")[1]
    head = admin_client.head("/admin/forms/monthly_report/export.xlsx")
    assert head.status_code == 200 and head.headers["Content-Disposition"].startswith("attachment")
    assert store.query_audit(action="export")[1] == before


def test_the_login_page_says_how_to_make_the_first_admin_only_while_there_is_none(
        client, admin_client):
    # admin_client made an admin (and logged in with its own client: this one is anonymous)
    assert "create-user" not in admin_client.application.test_client().get(
        "/login").get_data(as_text=True)


def test_the_login_page_names_the_first_admin_command_on_a_new_install(client):
    html = client.get("/login").get_data(as_text=True)
    assert ".venv/bin/flask --app app create-user" in html


def test_a_page_open_while_a_new_version_is_published_submits_against_its_own(
        client, entry, store):
    token, _org = entry
    html, hidden = open_form(client, token)
    assert 'name="form_version" value="1"' in html
    v1 = store.get_form("t_project")["schema"]
    v2 = {k: v for k, v in v1.items() if k != "version"}
    v2["fields"] = [{**f, "name": "project_title", "renamed_from": ["title"]}
                    if f["name"] == "title" else f for f in v1["fields"]]
    v2["fields"].append({"name": "budget", "type": "integer", "label": "预算",
                         "required": True})
    from forms.loader import check_schema
    store.add_form_version(check_schema(v2), source="cli")
    sent = post_json(client, token, {**hidden, "form_version": "1"}, VALID)
    assert sent.status_code == 200, sent.get_json()
    doc = store.get_submission(sent.get_json()["receipt"])
    assert doc["form_version"] == 1 and doc["answers"]["title"] == VALID["title"]
    # a page that says nothing (an old page, no script) is checked against the newest one
    refused = post_json(client, token, {k: v for k, v in hidden.items()}, VALID)
    assert refused.status_code == 422 and "budget" in refused.get_json()["errors"]
    html, fresh = open_form(client, token)
    assert 'name="form_version" value="2"' in html
