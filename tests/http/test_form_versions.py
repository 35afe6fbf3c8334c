"""Drafts, publishing, versions, closing and duplicating forms through the commands and the
cadre's page, on both backends: what each command stores, refuses and records in the audit log,
the export of a form whose field was renamed between versions, what a change would do to
stored answers, and the JSON Schema of a version checked against submissions really stored
through the public page."""
import copy
import io
import json
from pathlib import Path

import openpyxl
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from services import audit, formdefs
from support.helpers import PROJECT_FORM, VALID, open_form

JSON = {"Accept": "application/json"}
CLI_USER = audit.command_user()
DATA = Path(__file__).parents[1] / "data"


def run(runner, *args):
    return runner.invoke(args=[str(a) for a in args])


def write_form(folder, schema, name=None):
    path = Path(folder) / f"{name or schema['id']}.json"
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False),
                    encoding="utf-8")
    return path


def renamed_phone():
    """The test form with its phone field renamed to mobile (and relabelled)."""
    schema = copy.deepcopy(PROJECT_FORM)
    phone = next(f for f in schema["fields"] if f["name"] == "phone")
    phone.update(name="mobile", label="手机号码", renamed_from=["phone"])
    return schema


def submit(client, token, answers, **files):
    _html, hidden = open_form(client, token)
    return client.post(f"/f/{token}", data={**hidden, **answers, **files},
                       content_type="multipart/form-data")


def jpeg_bytes():
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def audited(store, action):
    entries, _total = store.query_audit(action=action)
    return entries


# ---------------------------------------------------------------- drafts and publishing

def test_an_invalid_draft_is_stored_listed_and_never_published(runner, store, entry, tmp_path):
    broken = copy.deepcopy(PROJECT_FORM)
    broken["fields"][0]["type"] = "txt"
    broken["fields"][5]["renamed_from"] = "title"
    result = run(runner, "load-form", write_form(tmp_path, broken), "--draft")
    assert result.exit_code == 0, result.output
    assert "草稿" in result.output and "fields[0].type" in result.output
    draft = formdefs.get_draft(store, "t_project")
    assert draft["revision"] == 1 and draft["user"] == CLI_USER
    assert json.loads(draft["text"]) == broken  # kept as written, to be corrected

    refused = run(runner, "publish", "t_project")
    assert refused.exit_code != 0
    assert "fields[0].type" in refused.output and "没有发布" in refused.output
    assert [v["version"] for v in store.form_versions("t_project")] == [1]
    assert formdefs.get_draft(store, "t_project") is not None  # still there to fix
    assert [e["target"] for e in audited(store, "form.draft")] == ["t_project"]
    assert audited(store, "form.publish") == []


def test_publishing_a_draft_makes_the_next_version_and_drops_the_draft(
        runner, store, entry, tmp_path):
    result = run(runner, "load-form", write_form(tmp_path, renamed_phone()), "--draft")
    assert result.exit_code == 0 and "问题" not in result.output
    assert store.get_form("t_project")["version"] == 1  # a draft changes nothing yet
    published = run(runner, "publish", "t_project")
    assert published.exit_code == 0, published.output
    assert "第 2 版" in published.output
    doc = store.get_form("t_project")
    assert (doc["version"], doc["source"], doc["user"]) == (2, "cli", CLI_USER)
    assert [f["name"] for f in doc["schema"]["fields"]][5] == "mobile"
    assert formdefs.get_draft(store, "t_project") is None
    [entry_] = audited(store, "form.publish")
    assert (entry_["user"], entry_["target"], entry_["detail"]["version"]) == (
        CLI_USER, "t_project", 2)

    again = run(runner, "publish", "t_project")
    assert again.exit_code != 0 and "没有草稿" in again.output


def test_a_draft_that_says_what_the_current_version_says_publishes_nothing(
        runner, store, entry, tmp_path):
    run(runner, "load-form", write_form(tmp_path, PROJECT_FORM), "--draft")
    result = run(runner, "publish", "t_project")
    assert result.exit_code == 0 and "没有产生新版本" in result.output
    assert store.get_form("t_project")["version"] == 1
    assert formdefs.get_draft(store, "t_project") is None and audited(store, "form.publish") == []


def test_a_draft_can_start_a_new_form(runner, store, tmp_path):
    schema = {**copy.deepcopy(PROJECT_FORM), "id": "t_new"}
    assert run(runner, "load-form", write_form(tmp_path, schema), "--draft").exit_code == 0
    assert store.get_form("t_new") is None
    assert run(runner, "publish", "t_new").exit_code == 0
    assert store.get_form("t_new")["version"] == 1


@pytest.mark.parametrize("name, content, words", [
    ("Bad-Name", "{}", "表单编号"),
    ("t_project", b"\xff\xfe{}", "UTF-8"),
])
def test_a_draft_that_cannot_be_stored_is_refused(runner, store, entry, tmp_path, name, content,
                                                  words):
    path = tmp_path / f"{name}.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(runner, "load-form", path, "--draft")
    assert result.exit_code != 0 and words in result.output
    assert store.list_drafts() == [] and audited(store, "form.draft") == []


def test_a_second_editor_is_told_the_draft_changed(store, entry):
    first = formdefs.save_draft(store, "t_project", "{}", user="a", base_revision=0)
    second = formdefs.save_draft(store, "t_project", "{ }", user="b", base_revision=1)
    assert (first["revision"], second["revision"]) == (1, 2)
    with pytest.raises(formdefs.DraftChanged) as info:
        formdefs.save_draft(store, "t_project", "{  }", user="a", base_revision=1)
    assert "其他人修改" in str(info.value) and info.value.current["user"] == "b"
    with pytest.raises(formdefs.DraftChanged):
        formdefs.save_draft(store, "t_other", "{}", base_revision=3)  # there is none
    assert formdefs.get_draft(store, "t_project")["text"] == "{ }"
    assert formdefs.discard_draft(store, "t_project") is True
    assert formdefs.discard_draft(store, "t_project") is False


def test_publishing_keeps_a_draft_saved_meanwhile(store, entry, monkeypatch):
    formdefs.save_draft(store, "t_project", json.dumps(renamed_phone()))
    save_version = formdefs.save_version

    def someone_saves_while_publishing(*args, **kwargs):
        doc = save_version(*args, **kwargs)
        formdefs.save_draft(store, "t_project", "{}", user="b")
        return doc

    monkeypatch.setattr(formdefs, "save_version", someone_saves_while_publishing)
    assert formdefs.publish(store, "t_project", user="a")["version"] == 2
    assert formdefs.get_draft(store, "t_project")["user"] == "b"


# ---------------------------------------------------------------- versions

def test_rollback_diff_and_the_export_keep_a_renamed_fields_answers_in_one_column(
        runner, client, store, entry, tmp_path):
    token, _org = entry
    assert submit(client, token, VALID).status_code == 303  # version 1: phone
    run(runner, "load-form", write_form(tmp_path, renamed_phone()), "--draft")
    assert run(runner, "publish", "t_project").exit_code == 0
    assert submit(client, token, {**VALID, "mobile": "13900139000"}).status_code == 303

    diff = run(runner, "form-diff", "t_project", 1, 2)
    assert diff.exit_code == 0
    assert diff.stdout.splitlines() == ["字段「手机号码」改名: phone → mobile",
                                        "字段「手机号码」的 label: 联系电话 → 手机号码"]

    back = run(runner, "rollback", "t_project", 1)
    assert back.exit_code == 0, back.output
    v3 = store.get_form("t_project")
    assert (v3["version"], v3["source"]) == (3, "rollback")
    phone = next(f for f in v3["schema"]["fields"] if f["name"] == "phone")
    assert phone["renamed_from"] == ["mobile"]  # what version 2 called it
    assert [c["kind"] for c in formdefs.diff(store.get_form("t_project", 1)["schema"],
                                             v3["schema"])] == []
    [logged] = audited(store, "form.rollback")
    assert logged["detail"] == {"version": 3, "from_version": 1}
    assert submit(client, token, {**VALID, "phone": "13700137000"}).status_code == 303

    out = tmp_path / "export.xlsx"
    assert run(runner, "export", "t_project", out).exit_code == 0
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    header = rows[0]
    assert header.count("联系电话") == 1 and "手机号码" not in header
    column = header.index("联系电话")
    assert [row[column] for row in rows[1:]] == ["13800138000", "13900139000", "13700137000"]

    same = run(runner, "rollback", "t_project", 3)
    assert same.exit_code == 0 and "没有产生新版本" in same.output
    for args, words in ((("rollback", "t_project", 9), "没有第 9 版"),
                        (("rollback", "nothing", 1), "没有第 1 版"),
                        (("form-diff", "t_project", 1, 9), "没有第 9 版"),
                        (("form-diff", "nothing", 1, 2), "不存在")):
        result = run(runner, *args)
        assert result.exit_code != 0 and words in result.output, args
    assert store.get_form("t_project")["version"] == 3


def test_form_diff_of_equal_versions_prints_no_change_line(runner, store, entry):
    store.add_form_version(copy.deepcopy(PROJECT_FORM), source="cli")
    result = run(runner, "form-diff", "t_project", 1, 2)
    assert result.exit_code == 0 and result.stdout == "" and "没有差别" in result.stderr


def test_duplicate_form(runner, store, entry):
    result = run(runner, "duplicate-form", "t_project", "t_copy")
    assert result.exit_code == 0, result.output
    doc = store.get_form("t_copy")
    assert (doc["version"], doc["source"], doc["user"]) == (1, "duplicate", CLI_USER)
    assert doc["schema"]["title"] == "测试项目表(副本)"
    assert doc["schema"]["fields"] == PROJECT_FORM["fields"]
    [logged] = audited(store, "form.duplicate")
    assert logged["target"] == "t_copy" and logged["detail"]["from"] == "t_project"

    titled = run(runner, "duplicate-form", "t_project", "t_copy2", "--title", "二〇二七年申报")
    assert titled.exit_code == 0 and store.get_form("t_copy2")["schema"]["title"] == "二〇二七年申报"
    formdefs.save_draft(store, "t_pending", "{}")
    for new_id, words in (("t_copy", "已被使用"), ("T-Copy", "无效"), ("x", "无效"),
                          ("t_pending", "草稿")):
        refused = run(runner, "duplicate-form", "t_project", new_id)
        assert refused.exit_code != 0 and words in refused.output, new_id
    unknown = run(runner, "duplicate-form", "nothing", "t_copy3")
    assert unknown.exit_code != 0 and "不存在" in unknown.output
    assert store.get_form("t_copy")["version"] == 1 and store.get_form("t_copy3") is None
    assert len(audited(store, "form.duplicate")) == 2


def test_a_copy_forgets_the_renames_of_the_original(store, entry):
    store.add_form_version(renamed_phone(), source="cli")
    copy_ = formdefs.duplicate(store, "t_project", "t_copy")["schema"]
    assert all("renamed_from" not in f for f in copy_["fields"])


# ---------------------------------------------------------------- a closed form

def test_a_closed_forms_link_shows_collection_stopped_and_accepts_nothing(
        runner, client, store, entry):
    token, _org = entry
    sent = submit(client, token, VALID)
    receipt_page = sent.headers["Location"]
    _html, hidden = open_form(client, token)  # a page opened before the form was closed
    result = run(runner, "close-form", "t_project")
    assert result.exit_code == 0 and formdefs.is_closed(store, "t_project")

    page = client.get(f"/f/{token}")
    assert page.status_code == 410 and "已停止收集" in page.get_data(as_text=True)
    assert 'name="submission_id"' not in page.get_data(as_text=True)
    posted = client.post(f"/f/{token}", data={**hidden, **VALID},
                         content_type="multipart/form-data")
    assert posted.status_code == 410 and "已停止收集" in posted.get_data(as_text=True)
    answered = client.post(f"/f/{token}", data={**hidden, **VALID}, headers=JSON,
                           content_type="multipart/form-data")
    assert answered.status_code == 410 and "停止收集" in answered.get_json()["error"]
    photo = client.post(f"/f/{token}/photo", headers=JSON, content_type="multipart/form-data",
                        data={"csrf_token": hidden["csrf_token"],
                              "photo": (io.BytesIO(jpeg_bytes()), "a.jpg")})
    assert photo.status_code == 410 and "停止收集" in photo.get_json()["error"]
    assert store.count_submissions("t_project") == 1
    assert client.get(receipt_page).status_code == 200  # what was sent stays readable

    twice = run(runner, "close-form", "t_project")
    assert twice.exit_code == 0 and "没有变化" in twice.output
    assert run(runner, "open-form", "t_project").exit_code == 0
    assert not formdefs.is_closed(store, "t_project")
    assert submit(client, token, {**VALID, "title": "重新开放后"}).status_code == 303
    assert [e["target"] for e in audited(store, "form.close")] == ["t_project"]
    assert [e["user"] for e in audited(store, "form.open")] == [CLI_USER]
    for command in ("close-form", "open-form"):
        unknown = run(runner, command, "nothing")
        assert unknown.exit_code != 0 and "不存在" in unknown.output


# ---------------------------------------------------------------- impact of a change

def test_impact_counts_stored_answers_that_would_not_fit(client, store, entry):
    token, _org = entry
    assert submit(client, token, VALID).status_code == 303  # people 12, mode 选题, 2 steps
    assert submit(client, token, {**VALID, "people": "3", "mode": "点题", "title": "村集体经济",
                                  "assigner": "县委组织部"}).status_code == 303
    assert formdefs.impact(store, "t_project", copy.deepcopy(PROJECT_FORM)) == {}
    changed = renamed_phone()  # the renamed field is followed to its old answers
    fields = {f["name"]: f for f in changed["fields"]}
    fields["people"]["max"] = 10
    fields["mode"]["choices"] = ["点题"]
    fields["mobile"]["type"] = "integer"
    fields["income"]["min"] = 5
    fields["steps"]["fields"][1]["max_length"] = 4
    fields["steps"]["max_items"] = 1
    fields["title"]["pattern"] = "党建.*"
    assert formdefs.impact(store, "t_project", changed) == {
        "people": 1, "mode": 1, "mobile": 2, "income": 2, "steps": 2, "steps.task": 2,
        "title": 1}


# ---------------------------------------------------------------- JSON Schema of the answers

def load_all_types(runner, store):
    assert run(runner, "load-form", DATA / "all_types.json").exit_code == 0
    org = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    return store.create_link("all_types", org["code"])["token"]


def all_types_fills():
    full = {"title": "党建引领小冬桃", "code": "XM-0001", "summary": "=1+1\r\n第二行",
            "people": "12", "delta": "-3", "income": "3.50", "start": "2025-3-1",
            "month": "2025-02", "category": "develop", "area": "12.5", "town": "响肠镇",
            "themes": ["乡村振兴", "移风易俗"], "other_theme": "红白理事会",
            "contact": "138 0013 8000", "pledge": "y",
            "steps-0-month": "2025-03", "steps-0-task": "流转土地", "steps-0-done": "y",
            "steps-1-month": "2025-04", "steps-1-task": "栽植", "steps-1-note": "雨季推迟"}
    least = {"title": "移风易俗", "people": "0", "month": "2025-02", "category": "culture",
             "contact": "13900139000", "pledge": "y",
             "steps-0-month": "2025-03", "steps-0-task": "宣传", "steps-0-done": "y"}
    return full, least


def test_stored_submissions_validate_against_their_versions_json_schema(
        runner, client, store, entry, tmp_path):
    token, _org = entry
    _html, hidden = open_form(client, token)
    ref = client.post(f"/f/{token}/photo", headers=JSON, content_type="multipart/form-data",
                      data={"csrf_token": hidden["csrf_token"],
                            "photo": (io.BytesIO(jpeg_bytes()), "现场.jpg")}).get_json()["ref"]
    sent = client.post(f"/f/{token}", data={**hidden, **VALID, "photo": ref}, headers=JSON,
                       content_type="multipart/form-data")
    assert sent.status_code == 200
    assert submit(client, token, {"title": "点题项目", "mode": "点题", "assigner": "县委组织部",
                                  "steps-0-month": "2026-01", "steps-0-task": "x"},
                  photo=(io.BytesIO(jpeg_bytes()), "b.jpg")).status_code == 303
    assert submit(client, token, {"title": "最少", "mode": "选题"}).status_code == 303
    all_types = load_all_types(runner, store)
    for fill in all_types_fills():
        assert submit(client, all_types, fill).status_code == 303

    for form_id, count in (("t_project", 3), ("all_types", 2)):
        result = run(runner, "json-schema", form_id)
        assert result.exit_code == 0, result.output
        schema = json.loads(result.stdout)
        Draft202012Validator.check_schema(schema)
        check = Draft202012Validator(schema)
        _total, docs = store.query_submissions(form_id)
        assert len(docs) == count
        for doc in docs:
            assert list(check.iter_errors(doc["answers"])) == [], doc["answers"]
        wrong = dict(docs[0]["answers"], title=None)
        assert not check.is_valid(wrong)  # the schema says something

    out = tmp_path / "schema.json"
    written = run(runner, "json-schema", "t_project", out)
    assert written.exit_code == 0 and written.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["properties"]["title"]["maxLength"] == 30


def test_demo_submissions_of_every_built_in_form_fit_its_json_schema(runner, store):
    assert run(runner, "seed-demo", "--submissions", "300", "--seed", "5").exit_code == 0
    for form in store.list_forms():
        check = Draft202012Validator(formdefs.json_schema(form["schema"]))
        _total, docs = store.query_submissions(form["id"])
        for doc in docs:
            assert doc["form_version"] == form["version"]
            assert list(check.iter_errors(doc["answers"])) == [], (form["id"], doc["answers"])


def test_json_schema_of_an_older_version(runner, store, entry):
    store.add_form_version(renamed_phone(), source="cli")
    old = json.loads(run(runner, "json-schema", "t_project", "--version", "1").stdout)
    new = json.loads(run(runner, "json-schema", "t_project").stdout)
    assert "phone" in old["properties"] and "mobile" not in old["properties"]
    assert "mobile" in new["properties"] and "第 2 版" in new["title"]
    for args, words in ((("json-schema", "nothing"), "不存在"),
                        (("json-schema", "t_project", "--version", "7"), "没有第 7 版")):
        result = run(runner, *args)
        assert result.exit_code != 0 and words in result.output


@pytest.mark.parametrize("command", ["publish", "close-form", "open-form", "rollback",
                                     "duplicate-form", "form-diff", "json-schema"])
def test_help_of_the_version_commands(runner, command):
    result = run(runner, command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_the_forms_list_marks_drafts_and_closed_forms(admin_client, store):
    html = admin_client.get("/admin/forms").get_data(as_text=True)
    assert "有未发布的草稿" not in html and "已停止收集" not in html
    store.save_draft("monthly_report", "{}", "admin", None)
    store.set_form_closed("acceptance", True, "admin")
    html = admin_client.get("/admin/forms").get_data(as_text=True)
    assert html.count("有未发布的草稿") == 1 and html.count("已停止收集") == 1
