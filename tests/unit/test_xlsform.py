"""XLSForm import (forms.xlsform): real-world shaped workbooks written in the tests, converted,
with the fields that came out, the rows reported, and the bad workbooks refused."""
import io
import zipfile

import pytest

from flask import Flask

from forms.builder import build_form_class
from forms.fields import FIELD_TYPES
from forms.loader import check_schema
from forms.xlsform import Unmapped, XLSFormError, convert
from support.xlsforms import HOUSEHOLD, VILLAGE_SURVEY, workbook

HEADER = ["type", "name", "label", "required", "relevant", "constraint", "constraint_message",
          "appearance", "default", "calculation"]
CALC = [None] * 6 + ["1 + 1"]  # after type, name, label: a calculate row's cells
YES_NO = [["list_name", "name", "label"], ["yn", "yes", "是"], ["yn", "no", "否"]]


def by_name(fields):
    return {spec["name"]: spec for spec in fields}


def reported(unmapped):
    """{row: [reasons]}"""
    rows = {}
    for item in unmapped:
        rows.setdefault(item.row, []).append(item.reason)
    return rows


def one(rows, choices=YES_NO, **kwargs):
    """Convert a survey of HEADER columns; (fields by name, {row: reasons})."""
    schema, unmapped = convert(workbook([HEADER] + rows, choices), "t_form.xlsx", **kwargs)
    return by_name(schema["fields"]), reported(unmapped)


# ---------------------------------------------------------------------------
# Real-world shapes


def test_odk_form_with_translations_group_repeat_relevant_and_constraints():
    schema, unmapped = convert(VILLAGE_SURVEY, "village_survey.xlsx")
    assert check_schema(schema, expected_id="village_survey") == schema
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):  # and it builds into a form
        build_form_class(dict(schema, version=1))(formdata=None)
    assert schema["id"] == "village_survey" and schema["title"] == "村级书记项目摸底"
    assert [(f["name"], f["type"]) for f in schema["fields"]] == [
        ("village_name", "text"), ("households", "integer"), ("has_project", "select"),
        ("project", "section"), ("project_name", "text"), ("areas", "multiselect"),
        ("invest", "decimal"), ("problems", "textarea"), ("steps", "repeat"),
        ("site_photo", "image"), ("thanks", "section")]
    fields = by_name(schema["fields"])
    # the Chinese translation columns win over the default ones, for labels, hints, choices
    assert fields["village_name"] == {"name": "village_name", "type": "text", "label": "村名",
                                      "hint": "填写全称", "required": True, "max_length": 30}
    assert fields["households"] == {"name": "households", "type": "integer", "label": "户数",
                                    "required": True, "min": 0, "max": 5000}
    assert fields["has_project"]["choices"] == [{"value": "yes", "label": "是"},
                                                {"value": "no", "label": "否"}]
    assert fields["project"]["label"] == "项目情况"
    # the group's relevant goes on each of its fields (the group is flattened)
    for name in ("project_name", "areas", "problems"):
        assert fields[name]["show_if"] == {"field": "has_project", "equals": "yes"}
    # selected() inside the group: a show_if on a field that is itself under the group's
    # condition stands for both
    assert fields["invest"]["show_if"] == {"field": "areas", "equals": "industry"}
    assert fields["invest"]["min"] == 0 and "max" not in fields["invest"]
    assert fields["invest"]["hint"] == "万元"
    assert fields["steps"]["fields"] == [
        {"name": "step_month", "type": "month", "label": "月份", "required": True},
        {"name": "step_task", "type": "text", "label": "任务", "required": True},
        {"name": "step_people", "type": "integer", "label": "参与人数", "min": 1, "max": 999}]
    assert fields["thanks"] == {"name": "thanks", "type": "section", "label": "感谢填写"}
    # calculate (row 11) and geopoint (row 12) cannot map; the constraint message of row 3
    # is not carried (the min/max are)
    rows = reported(unmapped)
    assert sorted(rows) == [3, 11, 12]
    assert "calculate" in rows[11][0] and "geopoint" in rows[12][0]
    assert "constraint_message" in rows[3][0]
    assert all(isinstance(item, Unmapped) for item in unmapped)


def test_kobo_form_metadata_or_other_nested_repeat_and_empty_row():
    schema, unmapped = convert(HOUSEHOLD, "Household Survey 2024.xlsx")
    check_schema(schema)
    # no settings sheet: the id and the title come from the file name
    assert schema["id"] == "household_survey_2024"
    assert schema["title"] == "Household Survey 2024"
    fields = by_name(schema["fields"])
    assert list(fields) == ["gender", "age", "head", "phone", "head_name", "members",
                            "old_age_note", "either", "member", "visit_date"]
    # label::中文 preferred over label::English (en); Excel's TRUE is required
    assert fields["gender"]["label"] == "性别" and fields["gender"]["required"] is True
    assert fields["gender"]["choices"] == [{"value": "male", "label": "男"},
                                           {"value": "female", "label": "女"}]
    assert fields["age"] == {"name": "age", "type": "integer", "label": "年龄", "hint": "周岁",
                             "required": True, "min": 18, "max": 120}
    assert fields["head"]["choices"][-1] == {"value": "other", "label": "其他"}
    # a regex constraint becomes a pattern, its message the pattern's message
    assert fields["phone"]["pattern"] == "^1[3-9][0-9]{9}$"
    assert fields["phone"]["pattern_message"] == "请填写11位手机号"
    assert fields["head_name"]["show_if"] == {"field": "head", "equals": "no"}
    assert fields["members"]["default"] == 4
    # relevant that cannot map: the field is always shown, so it is no longer required
    assert "show_if" not in fields["old_age_note"] and "required" not in fields["old_age_note"]
    assert "show_if" not in fields["either"]
    # the repeat keeps what maps; the repeat inside it and its note do not
    assert fields["member"]["fields"] == [
        {"name": "member_name", "type": "text", "label": "姓名", "required": True}]
    assert "min" not in fields["visit_date"] and "max" not in fields["visit_date"]
    rows = reported(unmapped)
    # Excel's row numbers, the empty row 20 counted: 21 is the acknowledge row
    assert sorted(rows) == [2, 3, 5, 6, 10, 11, 12, 15, 16, 18, 21, 22]
    assert "start" in rows[2][0] and "today" in rows[3][0] and "range" in rows[10][0]
    assert "其他" in rows[6][0]
    assert "不再设为必填" in rows[11][0]
    assert "重复组内的重复组" in rows[15][0] and "第 15 行" in rows[16][0]
    assert "说明" in rows[18][0]
    assert "acknowledge" in rows[21][0]
    assert "today()" in rows[22][0]
    assert [item.row for item in unmapped] == sorted(item.row for item in unmapped)


def test_labels_prefer_chinese_then_default_per_cell():
    survey = [["type", "name", "label", "label::中文", "hint", "hint::Chinese (zh)"],
              ["text", "a", "Name", "姓名", "Full name", None],
              ["text", "b", "Address", None, None, "详细地址"],
              ["integer", "c", None, None, None, None]]
    schema, unmapped = convert(workbook(survey), "t_form.xlsx")
    fields = by_name(schema["fields"])
    assert (fields["a"]["label"], fields["a"]["hint"]) == ("姓名", "Full name")
    assert (fields["b"]["label"], fields["b"]["hint"]) == ("Address", "详细地址")
    # no label at all: the name stands in, and the admin is told
    assert fields["c"]["label"] == "c"
    assert reported(unmapped) == {4: ["没有标题(label),用名称 'c' 作标题"]}


def test_settings_title_and_id_and_the_id_argument():
    survey = [["type", "name", "label"], ["text", "a", "A"]]
    data = workbook(survey, settings=[["form_title", "form_id"], ["村情登记", "Village-Reg"]])
    schema, _ = convert(data, "whatever.xlsx")
    assert (schema["id"], schema["title"]) == ("village_reg", "村情登记")
    schema, _ = convert(data, "whatever.xlsx", form_id="my_form")
    assert schema["id"] == "my_form"
    with pytest.raises(XLSFormError, match="表单编号 'My Form' 不合法"):
        convert(data, "whatever.xlsx", form_id="My Form")
    schema, _ = convert(workbook(survey), "x.xlsx")
    assert (schema["id"], schema["title"]) == ("form_x", "x")
    with pytest.raises(XLSFormError, match="请指定表单编号"):
        convert(workbook(survey), "村情.xlsx")


def test_names_are_made_valid_and_the_change_reported():
    fields, rows = one([["text", "Village-Name", "村名"], ["text", "村长", "村长"],
                        ["text", "data", "数据"], ["integer", "_count", "数量"]])
    assert list(fields) == ["village_name", "field_3", "f_data", "count"]
    assert rows == {2: ["名称 'Village-Name' 不符合本系统的字段名规则,已改为 'village_name'"],
                    3: ["名称 '村长' 不符合本系统的字段名规则,已改为 'field_3'"],
                    4: ["名称 'data' 不符合本系统的字段名规则,已改为 'f_data'"],
                    5: ["名称 '_count' 不符合本系统的字段名规则,已改为 'count'"]}


def test_a_heading_never_takes_a_question_name():
    fields, _ = one([["begin_group", "place", "地点"], ["text", "town", "镇"], ["end_group"],
                     ["begin_group", "detail", None], ["text", "place", "具体地点"],
                     ["end_group"]])
    assert fields["place"]["type"] == "text"
    assert fields["section_2"] == {"name": "section_2", "type": "section", "label": "地点"}


# ---------------------------------------------------------------------------
# Types and appearances


def test_types_and_appearances():
    fields, rows = one([
        ["text", "a", "A", None, None, None, None, "multiline"],
        ["date", "b", "B", None, None, None, None, "month-year"],
        ["date", "c", "C"],
        ["select_one yn", "d", "D", None, None, None, None, "minimal"],
        ["select_multiple yn", "e", "E"],
        ["photo", "f", "F"],
        ["begin_group", "g", "G", None, None, None, None, "field-list"],
        ["note", "h", "说明文字"],
        ["end_group"],
        ["int", "i", "I"],
        ["geotrace", "j", "J"],
        ["begin_group", "k", None], ["text", "l", "L"], ["end_group"],
    ])
    assert {name: spec["type"] for name, spec in fields.items()} == {
        "a": "textarea", "b": "month", "c": "date", "d": "select", "e": "multiselect",
        "f": "image", "g": "section", "h": "section", "i": "integer", "l": "text"}
    # field-list is what this form does anyway; minimal is not supported and said so; a
    # group without a label gives no heading
    assert rows == {5: ["外观 appearance 'minimal' 不支持,已按默认样式导入"],
                    12: ["题型 'geotrace'(轨迹)无法导入"]}


def test_a_long_note_becomes_a_heading_with_its_text_as_hint():
    text = "请如实填写。" * 50
    fields, rows = one([["note", "intro", text], ["text", "a", "A"]])
    assert fields["intro"]["hint"] == text and len(fields["intro"]["label"]) <= 40
    assert rows == {}


def test_repeat_limits():
    fields, rows = one([
        ["begin_repeat", "r", "明细"], ["text", "a", "A"], ["image", "p", "照片"],
        ["begin_group", "g", "小组"], ["integer", "b", "B"], ["end_group"], ["end_repeat"],
        ["begin_repeat", "empty", "空"], ["calculate", "x", None] + CALC, ["end_repeat"],
    ] , choices=YES_NO)
    assert [spec["name"] for spec in fields["r"]["fields"]] == ["a", "b"]
    assert "empty" not in fields
    assert "照片" in rows[4][0]
    assert "重复组内不能有分组标题" in rows[5][0]
    assert "整个重复组未导入" in rows[9][0]


def test_repeat_count_and_its_conditions():
    survey = [["type", "name", "label", "repeat_count", "relevant"],
              ["select_one yn", "has", "有吗"],
              ["begin_repeat", "r", "明细", "3", "${has} = 'yes'"], ["text", "a", "A"],
              ["end_repeat"],
              ["integer", "count", "行数"],
              ["begin_repeat", "s", "明细2", "${count}"], ["text", "b", "B"], ["end_repeat"]]
    schema, unmapped = convert(workbook(survey, YES_NO), "t_form.xlsx")
    fields = by_name(schema["fields"])
    assert fields["r"]["min_items"] == fields["r"]["max_items"] == 3
    assert fields["r"]["show_if"] == {"field": "has", "equals": "yes"}
    assert "min_items" not in fields["s"]
    assert [item.row for item in unmapped] == [7]


# ---------------------------------------------------------------------------
# Constraints


@pytest.mark.parametrize("kind, constraint, expected", [
    ("integer", ". >= 0", {"min": 0}),
    ("integer", ". <= 100", {"max": 100}),
    ("integer", ". > 0 and . < 10", {"min": 1, "max": 9}),
    ("integer", "(. >= 1) and (. <= 12)", {"min": 1, "max": 12}),
    ("integer", "0 <= . and . <= 100", {"min": 0, "max": 100}),
    ("integer", ". >= 0 and . >= 5", {"min": 5}),
    ("decimal", ". >= 0.5 and . <= 99.5", {"min": 0.5, "max": 99.5}),
    ("text", "string-length(.) <= 20", {"max_length": 20}),
    ("text", "string-length(.) > 1", {"min_length": 2}),
    ("text", "regex(., '^[0-9]{6}$')", {"pattern": "^[0-9]{6}$"}),
    ("text", "regex(., '[0-9]')", {"pattern": "(?s:.*?)(?:[0-9])(?s:.*)"}),
    ("date", ". >= '2024-01-01' and . < date('2025-01-01')",
     {"min": "2024-01-01", "max": "2024-12-31"}),
    ("select_multiple yn", "count-selected(.) <= 1", {"max": 1}),
])
def test_simple_constraints_map(kind, constraint, expected):
    fields, rows = one([[kind, "q", "Q", None, None, constraint]])
    keys = ("min", "max", "min_length", "max_length", "pattern")
    assert {k: v for k, v in fields["q"].items() if k in keys} == expected
    assert rows == {}


def test_a_regex_matches_as_in_odk():
    # ODK's regex() finds the pattern anywhere; an anchored one must match the whole answer
    fields, _ = one([["text", "q", "Q", None, None, "regex(., '[0-9]')"],
                     ["text", "r", "R", None, None, "regex(., '^[0-9]+$')"]])
    text = FIELD_TYPES["text"]
    assert text.check(fields["q"], "第3组") is None
    assert text.check(fields["q"], "第三组") is not None
    assert text.check(fields["r"], "123") is None
    assert text.check(fields["r"], "123a") is not None


@pytest.mark.parametrize("kind, constraint, reason", [
    ("integer", ". != 3", "不是简单的比较"),
    ("integer", ". >= 0 or . = -1", "含 or"),
    ("decimal", ". > 0", "严格不等"),
    ("date", ". <= today()", "不是简单的比较"),
    ("text", ". >= 3", "不适用于此题型"),
    ("integer", "string-length(.) <= 3", "字符长度只能用于文本题"),
    ("integer", ". >= 10 and . <= 1", "自相矛盾"),
    ("text", "regex(., '\\p{L}+')", "正则表达式在本系统不可用"),
])
def test_other_constraints_are_reported(kind, constraint, reason):
    fields, rows = one([[kind, "q", "Q", None, None, constraint, "提示语"]])
    assert not {"min", "max", "min_length", "max_length", "pattern"} & set(fields["q"])
    assert any(reason in text for text in rows[2]), rows
    # the message goes with its constraint, and is said to: two lines, nothing else
    assert any("提示语" in text for text in rows[2]), rows
    assert len(rows[2]) == 2, rows


def test_a_partial_constraint_keeps_what_maps():
    fields, rows = one([["integer", "q", "Q", None, None, ". >= 0 and . != 7"]])
    assert fields["q"]["min"] == 0
    assert rows == {2: ["约束 constraint 中的 '. != 7' 无法导入:不是简单的比较"
                        "(如 . >= 0、string-length(.) <= 20)"]}


def test_required_forms():
    fields, rows = one([["text", "a", "A", "yes"], ["text", "b", "B", "true()"],
                        ["text", "c", "C", "no"], ["text", "d", "D", "${a} = 'x'"]])
    assert fields["a"]["required"] and fields["b"]["required"]
    assert "required" not in fields["c"] and "required" not in fields["d"]
    assert list(rows) == [5] and "条件必填" in rows[5][0]


def test_defaults():
    fields, rows = one([["integer", "a", "A", None, None, None, None, None, "3"],
                        ["select_one yn", "b", "B", None, None, None, None, None, "no"],
                        ["select_one yn", "c", "C", None, None, None, None, None, "maybe"],
                        ["date", "d", "D", None, None, None, None, None, "today()"]])
    assert fields["a"]["default"] == 3 and fields["b"]["default"] == "no"
    assert "default" not in fields["c"] and "default" not in fields["d"]
    assert sorted(rows) == [4, 5]


# ---------------------------------------------------------------------------
# relevant -> show_if


@pytest.mark.parametrize("relevant, show_if", [
    ("${s} = 'yes'", {"field": "s", "equals": "yes"}),
    ("${s}='no'", {"field": "s", "equals": "no"}),
    ('"yes" = ${s}', {"field": "s", "equals": "yes"}),
    ("selected(${s}, 'yes')", {"field": "s", "equals": "yes"}),
    ("selected(${m}, 'no')", {"field": "m", "equals": "no"}),
    ("selected(${m}, 'yes') or selected(${m}, 'no')", {"field": "m", "in": ["yes", "no"]}),
    ("${s} = 'yes' or ${s} = 'no'", {"field": "s", "in": ["yes", "no"]}),
    ("${n} = 3", {"field": "n", "equals": 3}),
    ("(${s} = 'yes')", {"field": "s", "equals": "yes"}),
])
def test_relevant_maps_to_show_if(relevant, show_if):
    fields, rows = one([["select_one yn", "s", "S"], ["select_multiple yn", "m", "M"],
                        ["integer", "n", "N"], ["text", "q", "Q", "yes", relevant]])
    assert fields["q"]["show_if"] == show_if
    assert fields["q"]["required"] is True
    assert rows == {}


@pytest.mark.parametrize("relevant, reason", [
    ("${n} > 3", "不是 ${题} = '值'"),
    ("${s} = 'yes' and ${n} = 3", "含 and"),
    ("${s} = 'yes' or ${n} = 3", "涉及多个题目"),
    ("${s} = 'maybe'", "不符合题目 's'"),
    ("${m} = 'yes'", "用 = 比较无法导入"),
    ("selected(${n}, '3')", "selected() 只能用于选择题"),
    ("${later} = 'x'", "不在此题之前"),
    ("${calc} = '2'", "不在此题之前,或未能导入"),
    ("${s} != ''", "不是 ${题} = '值'"),
])
def test_other_relevant_is_reported_and_the_field_not_required(relevant, reason):
    fields, rows = one([["select_one yn", "s", "S"], ["select_multiple yn", "m", "M"],
                        ["integer", "n", "N"], ["calculate", "calc", None] + CALC,
                        ["text", "q", "Q", "yes", relevant], ["text", "later", "L"]])
    assert "show_if" not in fields["q"] and "required" not in fields["q"]
    assert any(reason in text and "不再设为必填" in text for text in rows[6]), rows


def test_a_condition_on_a_conditional_field():
    # c depends on b, which depends on a: when b is hidden (blank in ODK) c is hidden too
    fields, rows = one([["select_one yn", "a", "A"],
                        ["select_one yn", "b", "B", None, "${a} = 'yes'"],
                        ["text", "c", "C", "yes", "${b} = 'no'"]])
    assert fields["b"]["show_if"] == {"field": "a", "equals": "yes"}
    assert fields["c"]["show_if"] == {"field": "b", "equals": "no"}
    assert fields["c"]["required"] is True
    assert rows == {}


def test_a_condition_in_a_repeat_refers_to_its_own_rows_only():
    fields, rows = one([["select_one yn", "s", "S"],
                        ["begin_repeat", "r", "明细"], ["select_one yn", "t", "T"],
                        ["text", "a", "A", None, "${t} = 'yes'"],
                        ["text", "b", "B", None, "${s} = 'yes'"], ["end_repeat"]])
    assert fields["r"]["fields"][1]["show_if"] == {"field": "t", "equals": "yes"}
    assert "show_if" not in fields["r"]["fields"][2]
    assert "在重复组之外" in rows[6][0]


def test_group_conditions_nest_only_when_one_show_if_says_it_all():
    fields, rows = one([
        ["select_one yn", "s", "S"], ["select_one yn", "t", "T"],
        ["begin_group", "g", "组", None, "${s} = 'yes'"],
        ["select_one yn", "u", "U"],
        ["text", "a", "A", None, "${u} = 'no'"],  # u is under the group: exact
        ["text", "b", "B", "yes", "${t} = 'no'"],  # t is not: needs "and"
        ["begin_group", "h", None, None, "${u} = 'yes'"], ["text", "c", "C"], ["end_group"],
        ["end_group"],
        ["note", "n", "说明", None, "${s} = 'no'"],
    ])
    assert fields["u"]["show_if"] == {"field": "s", "equals": "yes"}
    assert fields["a"]["show_if"] == {"field": "u", "equals": "no"}
    assert fields["c"]["show_if"] == {"field": "u", "equals": "yes"}
    assert "show_if" not in fields["b"] and "required" not in fields["b"]
    assert "and" in rows[7][0]
    assert "总是显示" in rows[12][0]
    assert sorted(rows) == [7, 12]


# ---------------------------------------------------------------------------
# Everything else on a row is reported, never dropped silently


def test_unused_columns_are_reported():
    survey = [["type", "name", "label", "calculation", "read_only", "media::image",
               "required_message", "choice_filter", "disabled", "guidance_hint::中文"],
              ["text", "a", "A", "concat('x')", "yes", "pic.png", "必须填", None, None, "多写"],
              ["select_one yn", "b", "B", None, None, None, None, "name != ''"],
              ["text", "c", "C", None, None, None, None, None, "yes"]]
    schema, unmapped = convert(workbook(survey, YES_NO), "t_form.xlsx")
    rows = reported(unmapped)
    assert "c" not in by_name(schema["fields"])
    texts = " ".join(rows[2])
    for column in ("calculation", "read_only", "media", "required_message", "guidance_hint"):
        assert column in texts, column
    assert "choice_filter" in rows[3][0] and "disabled" in rows[4][0]


# ---------------------------------------------------------------------------
# Unusable workbooks


def test_not_an_xlsx():
    with pytest.raises(XLSFormError, match="不是 .xlsx 格式的 Excel 文件"):
        convert(b"name,label\nq,Q\n", "form.xlsx")
    with pytest.raises(XLSFormError, match="不是 .xlsx 格式的 Excel 文件"):
        convert(b"", "form.xlsx")


def test_a_corrupt_or_foreign_zip():
    with pytest.raises(XLSFormError, match="文件已损坏"):
        convert(VILLAGE_SURVEY[:len(VILLAGE_SURVEY) // 2], "form.xlsx")
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(XLSFormError, match="文件已损坏"):
        convert(other.getvalue(), "form.xlsx")


def test_no_survey_sheet():
    data = workbook(None, sheets={"Sheet1": [["type", "name", "label"], ["text", "a", "A"]]})
    with pytest.raises(XLSFormError, match="没有名为 survey 的工作表.*Sheet1"):
        convert(data, "form.xlsx")


def test_no_mappable_row():
    survey = [["type", "name", "label", "calculation"],
              ["calculate", "c", None, "1 + 1"], ["geopoint", "g", "位置"],
              ["note", "n", "说明"]]
    with pytest.raises(XLSFormError, match="没有一行能导入.*第 2 行.*calculate"):
        convert(workbook(survey), "form.xlsx")


def test_names_colliding_after_mapping():
    survey = [["type", "name", "label"],
              ["begin_group", "head", "户主"], ["text", "name", "姓名"], ["end_group"],
              ["begin_group", "spouse", "配偶"], ["text", "name", "姓名"], ["end_group"]]
    with pytest.raises(XLSFormError, match="第 3 行的 'name' 和第 6 行的 'name' 导入后都叫"):
        convert(workbook(survey), "form.xlsx")
    survey = [["type", "name", "label"], ["text", "Phone", "A"], ["text", "phone", "B"]]
    with pytest.raises(XLSFormError, match="第 2 行的 'Phone' 和第 3 行的 'phone'"):
        convert(workbook(survey), "form.xlsx")


def test_an_invalid_xlsform_is_refused_with_pyxforms_reason():
    survey = [["type", "name", "label"], ["begin_group", "g", "G"], ["text", "a", "A"]]
    with pytest.raises(XLSFormError, match="不是有效的 XLSForm.*row"):
        convert(workbook(survey), "form.xlsx")
    survey = [["type", "name", "label"], ["select_one missing", "a", "A"]]
    with pytest.raises(XLSFormError, match="不是有效的 XLSForm.*missing"):
        convert(workbook(survey, YES_NO), "form.xlsx")
