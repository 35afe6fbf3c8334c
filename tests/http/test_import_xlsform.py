"""flask import-xlsform: the form JSON for load-form (--out), or a draft for the builder; each
row that did not map printed as "FILE: survey row N: reason"; unusable workbooks refused."""
import json

import pytest

from forms.xlsform import convert
from services import formdefs
from support.xlsforms import VILLAGE_SURVEY, workbook


def unmapped_lines(output, path):
    return [line for line in output.splitlines() if line.startswith(f"{path}: survey row ")]


def test_out_writes_a_form_that_load_form_installs(runner, store, tmp_path):
    path = tmp_path / "村级摸底.xlsx"
    path.write_bytes(VILLAGE_SURVEY)
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(args=["import-xlsform", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = unmapped_lines(result.output, path)
    assert [line.split(": ")[1] for line in lines] == ["survey row 3", "survey row 11",
                                                       "survey row 12"]
    assert "calculate" in lines[1] and "geopoint" in lines[2]
    written = out / "village_survey.json"
    assert json.loads(written.read_text("utf-8")) == convert(VILLAGE_SURVEY, path.name)[0]
    # converting only: nothing stored
    assert store.get_form("village_survey") is None
    assert formdefs.get_draft(store, "village_survey") is None

    installed = runner.invoke(args=["load-form", str(written)])
    assert installed.exit_code == 0, installed.output
    form = store.get_form("village_survey")
    assert form["schema"]["title"] == "村级书记项目摸底"
    assert [f["name"] for f in form["schema"]["fields"]][:3] == ["village_name", "households",
                                                                "has_project"]


def test_out_file_named_for_another_id_is_refused(runner, tmp_path):
    path = tmp_path / "survey.xlsx"
    path.write_bytes(VILLAGE_SURVEY)
    out = tmp_path / "other.json"
    result = runner.invoke(args=["import-xlsform", str(path), "--out", str(out)])
    assert result.exit_code != 0
    assert "village_survey.json" in result.output and not out.exists()
    # --id names the form after the file instead
    result = runner.invoke(args=["import-xlsform", str(path), "--id", "other", "--out",
                                 str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text("utf-8"))["id"] == "other"


def test_without_out_the_form_becomes_a_draft_to_review(runner, store, tmp_path, app):
    path = tmp_path / "survey.xlsx"
    path.write_bytes(VILLAGE_SURVEY)
    result = runner.invoke(args=["import-xlsform", str(path)])
    assert result.exit_code == 0, result.output
    assert len(unmapped_lines(result.output, path)) == 3
    draft = formdefs.get_draft(store, "village_survey")
    assert json.loads(draft["text"]) == convert(VILLAGE_SURVEY, path.name)[0]
    assert draft["user"].startswith("cli:")
    assert f"{app.config['BASE_URL']}/admin/forms/village_survey/builder" in result.output
    assert store.get_form("village_survey") is None  # a draft, not published
    entries, _ = store.query_audit(action="form.draft", user=None, date_from=None,
                                   date_to=None, offset=0, limit=10)
    assert [e["target"] for e in entries] == ["village_survey"]

    # again, under another id, over an existing draft
    again = runner.invoke(args=["import-xlsform", str(path), "--id", "village_2024"])
    assert again.exit_code == 0, again.output
    assert "原有的草稿已被替换" not in again.output
    first = formdefs.get_draft(store, "village_2024")
    assert json.loads(first["text"])["id"] == "village_2024"
    third = runner.invoke(args=["import-xlsform", str(path), "--id", "village_2024"])
    assert third.exit_code == 0 and "原有的草稿已被替换" in third.output
    assert formdefs.get_draft(store, "village_2024")["revision"] > first["revision"]


CORRUPT = VILLAGE_SURVEY[: len(VILLAGE_SURVEY) // 2]


@pytest.mark.parametrize("data, reason", [
    (b"type,name,label\ntext,a,A\n", "不是 .xlsx 格式"),
    (CORRUPT, "文件已损坏"),
    (workbook(None, sheets={"Sheet1": [["type", "name", "label"], ["text", "a", "A"]]}),
     "没有名为 survey 的工作表"),
    (workbook([["type", "name", "label"], ["geopoint", "g", "位置"]]), "没有一行能导入"),
    (workbook([["type", "name", "label"], ["begin_group", "a", "甲"], ["text", "n", "名"],
               ["end_group"], ["begin_group", "b", "乙"], ["text", "n", "名"], ["end_group"]]),
     "导入后都叫 'n'"),
], ids=["csv", "corrupt", "no-survey", "nothing-maps", "collision"])
def test_unusable_workbooks_are_refused_and_nothing_stored(runner, store, tmp_path, data,
                                                           reason):
    path = tmp_path / "bad_form.xlsx"
    path.write_bytes(data)
    out = tmp_path / "bad_form.json"
    result = runner.invoke(args=["import-xlsform", str(path), "--out", str(out)])
    assert result.exit_code != 0
    assert f"错误: {path}: " in result.output and reason in result.output
    assert not out.exists()
    result = runner.invoke(args=["import-xlsform", str(path)])
    assert result.exit_code != 0 and reason in result.output
    assert formdefs.get_draft(store, "bad_form") is None


# ---------------------------------------------------------------- the same in the browser

def import_page(client, data, filename="村级摸底.xlsx", **fields):
    from support.helpers import csrf_token

    token = csrf_token(client.get("/admin/forms/import-xlsform").get_data(as_text=True))
    return client.post("/admin/forms/import-xlsform", data={
        "csrf_token": token, "file": (__import__("io").BytesIO(data), filename), **fields},
        content_type="multipart/form-data")


def test_the_import_page_makes_a_draft_and_lists_every_row_it_could_not_import(
        admin_client, store):
    page = import_page(admin_client, VILLAGE_SURVEY)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for row in (3, 11, 12):
        assert f"survey 表第 {row} 行" in html
    assert "/admin/forms/village_survey/builder" in html
    draft = store.get_draft("village_survey")
    assert json.loads(draft["text"]) == convert(VILLAGE_SURVEY, "村级摸底.xlsx")[0]
    assert store.get_form("village_survey") is None  # a draft, not published
    assert store.query_audit(action="form.draft")[0][0]["detail"]["source"] == "xlsform"
    # a second import does not silently replace the draft
    again = import_page(admin_client, VILLAGE_SURVEY)
    assert again.status_code == 422 and "已有未发布的草稿" in again.get_data(as_text=True)
    assert store.get_draft("village_survey")["revision"] == draft["revision"]
    replaced = import_page(admin_client, VILLAGE_SURVEY, replace="y", form_id="village_two")
    assert replaced.status_code == 200 and store.get_draft("village_two") is not None


def test_the_import_page_refuses_what_is_not_an_xlsform(admin_client, store):
    refused = import_page(admin_client, b"not a workbook", "a.xlsx")
    assert refused.status_code == 422
    assert "xlsx" in refused.get_data(as_text=True).lower()
    assert store.list_drafts() == []
    assert admin_client.application.test_client().get(
        "/admin/forms/import-xlsform").status_code == 302  # login required


def test_the_json_schema_of_a_version_is_downloadable(admin_client):
    response = admin_client.get("/admin/forms/monthly_report/v1.schema.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("monthly_report.v1.schema.json")
    schema = json.loads(response.get_data(as_text=True))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "report_month" in schema["properties"]
    assert admin_client.get("/admin/forms/monthly_report/v99.schema.json").status_code == 404
