"""Form versions without a database: renamed_from in the schema format, the export columns of
several versions (renames kept in one column), diff, the draft check and the JSON Schema of a
submission's answers."""
import copy
import io
import json

import openpyxl
import pytest
from jsonschema import Draft202012Validator

from exports import answer_of, merge_versions, submissions_to_csv_bytes, \
    submissions_to_xlsx_bytes
from forms.loader import SchemaError, check_schema, former_names
from services.formdefs import check_draft, diff, json_schema, match_fields
from support.helpers import PROJECT_FORM


def form(*fields, version=None, **top):
    schema = {"id": "demo", "title": "演示", "description": "", "fields": list(fields), **top}
    if version is not None:
        schema["version"] = version
    return schema


def text(name, label=None, **extra):
    return {"name": name, "type": "text", "label": label or name, **extra}


def error_of(schema):
    with pytest.raises(SchemaError) as info:
        check_schema(schema, source="demo.json")
    return info.value


# ---------------------------------------------------------------- renamed_from in the format

@pytest.mark.parametrize("value", ["tel", ["tel"], ["tel", "mobile"]])
def test_renamed_from_takes_a_name_or_a_list_of_names(value):
    schema = check_schema(form(text("phone", renamed_from=value)))
    assert former_names(schema["fields"][0]) == ([value] if isinstance(value, str) else value)


def test_renamed_from_inside_a_repeat():
    schema = check_schema(form({"name": "steps", "type": "repeat", "label": "步骤",
                                "fields": [text("job", renamed_from="task")]}))
    assert former_names(schema["fields"][0]["fields"][0]) == ["task"]


@pytest.mark.parametrize("fields, path, words", [
    ([text("phone", renamed_from="phone")], "fields[0].renamed_from", "现在的名称"),
    ([text("phone", renamed_from=["tel", "phone"])], "fields[0].renamed_from[1]", "现在的名称"),
    ([text("phone", renamed_from="tel"), text("tel")], "fields[0].renamed_from",
     "fields[1] 的名称"),
    ([text("a", renamed_from="x"), text("b", renamed_from=["y", "x"])],
     "fields[1].renamed_from[1]", "已列在 fields[0].renamed_from 中"),
    ([{"name": "steps", "type": "repeat", "label": "步骤",
       "fields": [text("job", renamed_from="task"), text("task")]}],
     "fields[0].fields[0].renamed_from", "fields[0].fields[1] 的名称"),
    ([text("a", renamed_from=[])], "fields[0].renamed_from", "以前用过的字段名"),
    ([text("a", renamed_from=["x", "x"])], "fields[0].renamed_from", "不重复"),
    ([text("a", renamed_from="Old-Name")], "fields[0].renamed_from", "小写字母开头"),
    ([text("a", renamed_from=3)], "fields[0].renamed_from", "以前用过的字段名"),
])
def test_renamed_from_problems_name_their_path_in_chinese(fields, path, words):
    error = error_of(form(*fields))
    assert error.path == path and words in error.reason


def test_a_section_has_no_former_names():
    error = error_of(form({"name": "part", "type": "section", "label": "一",
                           "renamed_from": "old"}, text("a")))
    assert error.path == "fields[0].renamed_from"


def test_an_old_name_used_in_another_repeat_row_or_at_the_top_is_fine():
    """renamed_from is about one list of answers: a repeat's rows are another list."""
    check_schema(form(text("task"), {"name": "steps", "type": "repeat", "label": "步骤",
                                     "fields": [text("job", renamed_from="task")]}))


# ---------------------------------------------------------------- export columns

V1 = form(text("title", "名称"), text("tel", "电话"), text("memo", "备注"),
          {"name": "steps", "type": "repeat", "label": "步骤",
           "fields": [text("task", "任务"), text("owner", "责任人")]}, version=1)
V2 = form(text("title", "名称"), text("phone", "联系电话", renamed_from="tel"),
          {"name": "steps", "type": "repeat", "label": "步骤",
           "fields": [text("job", "工作", renamed_from=["task"]), text("owner", "责任人")]},
          text("town", "乡镇"), version=2)


def doc(version, receipt, answers):
    return {"form_version": version, "receipt": receipt, "org_code": None,
            "submitted_at": "2026-05-01T10:00:00+08:00", "answers": answers}


DOCS = [
    doc(1, "260501-0001", {"title": "一号", "tel": "13800138000", "memo": "旧备注",
                           "steps": [{"task": "流转土地", "owner": "张三"}]}),
    doc(2, "260501-0002", {"title": "二号", "phone": "13900139000", "town": "响肠镇",
                           "steps": [{"job": "栽植冬桃", "owner": "李四"}]}),
]


def test_a_renamed_field_keeps_one_column_newest_fields_first_then_retired():
    merged = merge_versions([V2, V1])
    assert [f["name"] for f in merged["fields"]] == ["title", "phone", "steps", "town", "memo"]
    phone = merged["fields"][1]
    assert phone["label"] == "联系电话" and phone["stored_as"] == {2: "phone", 1: "tel"}
    assert merged["fields"][4]["stored_as"] == {2: None, 1: "memo"}
    assert [(f["name"], f["stored_as"]) for f in merged["fields"][2]["fields"]] == [
        ("job", {2: "job", 1: "task"}), ("owner", {2: "owner", 1: "owner"})]


def test_the_workbook_has_both_answers_of_a_renamed_field_in_one_column():
    book = openpyxl.load_workbook(io.BytesIO(
        submissions_to_xlsx_bytes(merge_versions([V2, V1]), DOCS, {})))
    # The fields after the receipt, the organization (4 columns), the time and the status.
    main = [row[7:] for row in book.worksheets[0].iter_rows(values_only=True)]
    assert main[0][:5] == ("名称", "联系电话", "步骤", "乡镇", "备注")
    assert main[1][:5] == ("一号", "13800138000", "1 条", None, "旧备注")
    assert main[2][:5] == ("二号", "13900139000", "1 条", "响肠镇", None)
    steps = [row[:1] + row[5:] for row in book.worksheets[1].iter_rows(values_only=True)]
    assert steps == [("回执编号", "序号", "工作", "责任人"),
                     ("260501-0001", 1, "流转土地", "张三"),
                     ("260501-0002", 1, "栽植冬桃", "李四")]


def test_the_csv_has_them_in_one_column_too():
    lines = submissions_to_csv_bytes(merge_versions([V2, V1]), DOCS, {}).decode(
        "utf-8-sig").splitlines()
    assert lines[0].endswith(",提交时间,审核状态,名称,联系电话,步骤,乡镇,备注")
    assert lines[1].endswith(",待审核,一号,13800138000,1 条,,旧备注")
    assert lines[2].endswith(",待审核,二号,13900139000,1 条,响肠镇,")


def test_a_chain_of_renames_through_a_version_without_the_old_name():
    """v1 tel -> v2 mobile (renamed_from tel) -> v3 phone (renamed_from mobile only)."""
    v3 = form(text("phone", renamed_from="mobile"), version=3)
    v2 = form(text("mobile", renamed_from="tel"), version=2)
    v1 = form(text("tel"), version=1)
    [column] = merge_versions([v3, v2, v1])["fields"]
    assert column["stored_as"] == {3: "phone", 2: "mobile", 1: "tel"}


def test_a_name_given_up_and_taken_by_a_new_field_reads_each_version_right():
    """v1 tel; v2 phone (renamed_from tel); v3 phone, and a new field named tel (a landline):
    v1's tel answers belong to phone, v3's tel answers to the new field."""
    v1 = form(text("tel"), version=1)
    v2 = form(text("phone", renamed_from="tel"), version=2)
    v3 = form(text("phone"), text("tel", "座机"), version=3)
    phone, landline = merge_versions([v3, v2, v1])["fields"]
    assert phone["stored_as"] == {3: "phone", 2: "phone", 1: "tel"}
    assert landline["stored_as"] == {3: "tel", 2: None, 1: None}
    old = {"tel": "13800138000"}
    assert answer_of(phone, old, 1) == "13800138000" and answer_of(landline, old, 1) is None
    new = {"phone": "13900139000", "tel": "0556-1234567"}
    assert answer_of(phone, new, 3) == "13900139000"
    assert answer_of(landline, new, 3) == "0556-1234567"


def test_a_rename_wins_over_a_field_that_had_the_new_name():
    """v1 has a and b; v2 drops b and renames a to b: v1's a is v2's b, v1's b is retired."""
    v1 = form(text("a", "甲"), text("b", "乙"), version=1)
    v2 = form(text("b", "新乙", renamed_from="a"), version=2)
    new_b, old_b = merge_versions([v2, v1])["fields"]
    assert new_b["stored_as"] == {2: "b", 1: "a"}
    assert old_b["label"] == "乙" and old_b["stored_as"] == {2: None, 1: "b"}
    assert [c["kind"] for c in diff(v1, v2)] == ["renamed", "changed", "removed"]


def test_a_submission_of_a_version_the_merge_did_not_see_is_read_by_name():
    merged = merge_versions([V2, V1])
    phone = merged["fields"][1]
    assert answer_of(phone, {"phone": "13900139000"}, 7) == "13900139000"
    assert answer_of(phone, {"tel": "13800138000"}, 7) == "13800138000"
    assert answer_of(text("x"), {"x": "plain"}, 1) == "plain"  # not merged: by name


# ---------------------------------------------------------------- diff

def project(**changes):
    schema = copy.deepcopy(PROJECT_FORM)
    schema.update(changes)
    return schema


def field_of(schema, name):
    return next(f for f in schema["fields"] if f["name"] == name)


def test_diff_of_identical_versions_is_empty():
    assert diff(project(version=1), project(version=2)) == []


def test_diff_reports_every_kind_of_change_one_line_each():
    old, new = project(), project(title="书记项目申报表")
    field_of(new, "people")["max"] = 120
    field_of(new, "people")["label"] = "进度"
    new["fields"] = [f for f in new["fields"] if f["name"] != "income"]
    field_of(new, "phone").update(name="mobile", renamed_from=["phone"])
    field_of(new, "mode")["choices"] = ["点题", "自选"]
    new["fields"].insert(0, new["fields"].pop(new["fields"].index(field_of(new, "photo"))))
    new["fields"].append({"name": "contact", "type": "phone", "label": "联系电话"})
    steps = field_of(new, "steps")
    steps["fields"][1].update(name="job", renamed_from="task", max_length=50)
    del steps["fields"][2]
    changes = diff(old, new)
    texts = [c["text"] for c in changes]
    assert texts == [
        "表单的 title: 测试项目表 → 书记项目申报表",
        "字段「现场照片」的位置: 第 7 项 → 第 1 项",
        "字段「进度」的 label: 带动就业 → 进度",
        "字段「进度」的 max: (无) → 120",
        "字段「选题方式」的 choices: 删除「选题」,新增「自选」",
        "字段「联系电话」改名: phone → mobile",
        "字段「实施步骤 / 任务」改名: steps.task → steps.job",
        "字段「实施步骤 / 任务」的 max_length: (无) → 50",
        "删除字段「实施步骤 / 责任人」(steps.owner)",
        "新增字段「联系电话」(contact)",
        "删除字段「增收」(income)",
    ]
    renamed = changes[5]
    assert (renamed["kind"], renamed["path"], renamed["old"], renamed["new"]) == (
        "renamed", "mobile", "phone", "mobile")
    changed = changes[3]
    assert (changed["kind"], changed["path"], changed["attribute"], changed["old"],
            changed["new"]) == ("changed", "people", "max", None, 120)
    assert changes[-1]["kind"] == "removed" and changes[-1]["old"]["name"] == "income"
    assert changes[-2]["kind"] == "added" and changes[-2]["new"]["type"] == "phone"


def test_a_type_change_and_a_required_change_are_attribute_changes():
    old, new = project(), project()
    field_of(new, "people")["type"] = "decimal"
    field_of(new, "title")["required"] = False
    assert [c["text"] for c in diff(old, new)] == [
        "字段「项目名称」的 required: 是 → 否",
        "字段「带动就业」的 type: integer → decimal",
    ]


def test_without_renamed_from_a_new_name_is_a_removal_and_an_addition():
    old, new = project(), project()
    field_of(new, "phone")["name"] = "mobile"
    assert {c["kind"] for c in diff(old, new)} == {"added", "removed"}


def test_match_fields_pairs_renames_and_names():
    old = [text("a"), text("b"), text("c")]
    new = [text("c"), text("x", renamed_from="a")]
    assert match_fields(old, new) == {0: 2, 1: 0}


# ---------------------------------------------------------------- the draft check

def test_a_valid_draft_gives_its_schema():
    schema, problems = check_draft(json.dumps(PROJECT_FORM, ensure_ascii=False), "t_project")
    assert problems == [] and schema["fields"] == PROJECT_FORM["fields"]


def test_a_draft_check_lists_every_problem_with_its_path():
    draft = project(id="other")
    draft["fields"][0]["type"] = "txt"
    field_of(draft, "assigner")["show_if"]["field"] = "nothing"
    field_of(draft, "people")["renamed_from"] = "title"
    schema, problems = check_draft(json.dumps(draft, ensure_ascii=False), "t_project")
    assert schema is None
    assert [p.path for p in problems] == ["id", "fields[0].type"]  # structure first
    assert "t_project" in problems[0].reason
    assert problems[1].reason == "未知的字段类型「txt」，是否想写「text」？"
    draft["fields"][0]["type"] = "text"
    _schema, problems = check_draft(json.dumps(draft, ensure_ascii=False), "t_project")
    assert [p.path for p in problems] == ["id", "fields[1].renamed_from",
                                          "fields[4].show_if.field"]
    assert "fields[0] 的名称" in problems[1].reason


@pytest.mark.parametrize("text_, where", [
    ('{"id": "t_project",', "第 1 行"),
    ('{"id": "t_project", "id": "x"}', ""),
    (b"\xff\xfe", ""),
])
def test_a_draft_that_is_no_json_has_one_problem(text_, where):
    schema, [problem] = check_draft(text_, "t_project")
    assert schema is None and problem.path.startswith(where)


# ---------------------------------------------------------------- JSON Schema of the answers

def validator(schema):
    out = json_schema(schema)
    Draft202012Validator.check_schema(out)
    return Draft202012Validator(out)


def valid_answers():
    return {"title": "小冬桃", "people": 12, "income": "3.5", "mode": "点题", "assigner": "县委",
            "phone": "13800138000",
            "photo": {"name": "a.jpg", "size": 1200, "content_type": "image/jpeg",
                      "file": "ab12.jpg", "thumb": None},
            "steps": [{"month": "2026-03", "task": "流转土地", "owner": None}]}


def test_the_json_schema_is_draft_2020_12_and_takes_real_shapes():
    check = validator(project(version=3))
    out = json_schema(project(version=3))
    assert out["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "第 3 版" in out["title"]
    assert list(check.iter_errors(valid_answers())) == []
    hidden = valid_answers()
    hidden.update(mode="选题", people=None, income=None, phone=None, photo=None)
    del hidden["assigner"]  # hidden by its show_if: absent
    assert list(check.iter_errors(hidden)) == []
    no_photo = valid_answers()
    del no_photo["photo"]  # demo data has no photos
    assert check.is_valid(no_photo)


@pytest.mark.parametrize("change", [
    {"title": None},                      # required: never null
    {"title": ""},                        # an empty answer is stored as null, never ""
    {"title": "长" * 31},                 # max_length
    {"people": -1},                       # min
    {"people": "12"},                     # an integer is a number
    {"income": 3.5},                      # a decimal is a string
    {"income": "3.50"},                   # ... normalized
    {"mode": "自选"},                     # not a choice
    {"phone": "12345"},
    {"photo": {"name": "a.jpg"}},         # a photo has its stored file
    {"steps": [{"month": "2026-03", "task": "x", "owner": None}] * 6},  # max_items 5
    {"steps": [{"month": "2026-13", "task": "x", "owner": None}]},
    {"steps": [{"month": "2026-03", "owner": None}]},        # task always present
    {"extra": 1},                         # no field of this version
])
def test_answers_that_do_not_fit_are_refused(change):
    answers = valid_answers()
    answers.update(change)
    assert not validator(project()).is_valid(answers)


def test_the_json_schema_of_every_type():
    schema = form(
        {"name": "d", "type": "date", "label": "日期", "required": True},
        {"name": "m", "type": "month", "label": "月份"},
        {"name": "ms", "type": "multiselect", "label": "多选", "choices": ["a", "b", "c"],
         "max": 2},
        {"name": "ok", "type": "boolean", "label": "承诺", "required": True},
        {"name": "maybe", "type": "boolean", "label": "可选"},
        {"name": "code", "type": "text", "label": "编码", "pattern": "[A-Z]{2}\\d+"},
        {"name": "rows", "type": "repeat", "label": "明细", "min_items": 2, "max_items": 3,
         "fields": [text("x")]},
    )
    check = validator(schema)
    good = {"d": "2024-02-29", "m": None, "ms": ["a", "c"], "ok": True, "maybe": False,
            "code": "AB12", "rows": []}
    assert list(check.iter_errors(good)) == []
    for change in ({"d": "2024/02/29"}, {"m": "2024-5"}, {"ms": ["a", "a"]},
                   {"ms": ["a", "b", "c"]}, {"ms": []}, {"ok": False}, {"maybe": None},
                   {"code": "xAB12"}, {"code": "AB12x"}, {"rows": [{"x": "1"}]},
                   {"rows": [{"x": str(i)} for i in range(4)]}):
        assert not check.is_valid({**good, **change}), change
    assert check.is_valid({**good, "rows": [{"x": "1"}, {"x": None}]})
