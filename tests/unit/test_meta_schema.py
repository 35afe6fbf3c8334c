"""The form schema format: schemas/meta.schema.json and forms/loader.py.

Each invalid example names the JSON path and the reason the admin will read."""

import copy
import json
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from jsonschema import Draft202012Validator

from forms.loader import (
    META_SCHEMA_PATH,
    SchemaError,
    check_schema,
    load_builtin_schemas,
    load_schema_file,
    meta_schema,
    schema_problems,
)

DATA = Path(__file__).parents[1] / "data"

CONTRACT_RESERVED = ["data", "errors", "validate", "meta", "process", "populate_obj", "csrf_token",
                     "submission_id", "form_errors", "process_data", "pre_validate",
                     "post_validate"]


def form(*fields, **top):
    schema = {"id": "demo", "title": "演示", "description": "", "fields": list(fields)}
    schema.update(top)
    return schema


def text(name="title", **extra):
    return {"name": name, "type": "text", "label": "名称", **extra}


def select(name="kind", choices=("a", "b"), **extra):
    return {"name": name, "type": "select", "label": "类别", "choices": list(choices), **extra}


def error_of(schema):
    with pytest.raises(SchemaError) as info:
        check_schema(schema, source="demo.json")
    return info.value


# ---------------------------------------------------------------- the meta-schema itself

def test_meta_schema_is_valid_draft_2020_12():
    schema = json.loads(META_SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["field_body"]["additionalProperties"] is False


def test_reserved_names_cover_the_contract_and_every_form_attribute():
    reserved = set(meta_schema()["$defs"]["name"]["not"]["anyOf"][0]["enum"])
    assert set(CONTRACT_RESERVED) <= reserved
    form_attributes = {n for n in dir(FlaskForm) if not n.startswith("_") and n != "Meta"}
    assert form_attributes <= reserved


# ---------------------------------------------------------------- valid examples

def test_test_schema_with_every_type_loads():
    schema = load_schema_file(DATA / "all_types.json")
    types = {f["type"] for f in schema["fields"]}
    assert types == {"text", "textarea", "integer", "decimal", "date", "month", "select",
                     "multiselect", "boolean", "phone", "image", "section", "repeat"}


@pytest.mark.parametrize("fields", [
    [text()],
    [text(required=True, min_length=0, max_length=1, default="a", hint="提示", unit="个")],
    [{"name": "n", "type": "integer", "label": "n", "min": -5, "max": 5, "default": 0}],
    [{"name": "d", "type": "decimal", "label": "d", "min": 0.5, "max": 2, "default": "1.25"}],
    [{"name": "d", "type": "date", "label": "d", "min": "2024-01-01", "max": "2024-12-31",
      "default": "2024-02-29"}],
    [{"name": "m", "type": "month", "label": "m", "min": "2024-01", "default": "2024-12"}],
    [select(choices=["a", {"value": "b", "label": "乙"}], default="b")],
    [{"name": "ms", "type": "multiselect", "label": "多选", "choices": ["a", "b", "c"],
      "min": 1, "max": 2, "default": ["a", "c"]}],
    [{"name": "ok", "type": "boolean", "label": "承诺", "required": True, "default": False}],
    [{"name": "tel", "type": "phone", "label": "电话", "default": "13800138000"}],
    [{"name": "p", "type": "image", "label": "照片", "required": True}],
    [{"name": "s", "type": "section", "label": "一、基本情况", "hint": "说明"}],
    [select(), text("why", show_if={"field": "kind", "in": ["a", "b"]})],
    [{"name": "ok", "type": "boolean", "label": "是否"},
     text("why", show_if={"field": "ok", "equals": True})],
    [{"name": "n", "type": "integer", "label": "n"}, text("why", show_if={"field": "n", "equals": 3})],
    [{"name": "ms", "type": "multiselect", "label": "多选", "choices": ["a", "b"]},
     text("why", show_if={"field": "ms", "equals": "b"})],
    [{"name": "steps", "type": "repeat", "label": "步骤", "min_items": 0, "max_items": 5,
      "fields": [select(), text("title", show_if={"field": "kind", "equals": "a"})]},
     text("title")],  # the same name in a row and at the top level is fine
])
def test_valid_schemas_pass(fields):
    schema = form(*fields)
    assert check_schema(schema) == schema


def test_check_returns_a_copy_and_accepts_json_text():
    schema = form(text(), stage="月报", version=3)
    checked = check_schema(schema)
    checked["fields"][0]["label"] = "changed"
    assert schema["fields"][0]["label"] == "名称"
    assert check_schema(json.dumps(schema, ensure_ascii=False)) == schema
    assert check_schema(("\ufeff" + json.dumps(schema)).encode("utf-8")) == schema


# ---------------------------------------------------------------- invalid: meta-schema

INVALID = [
    # (schema, path, reason fragment)
    (form(text(), titel="x"), "titel", "不认识的设置项「titel」，是否想写「title」？"),
    ({"id": "demo", "description": "", "fields": [text()]}, "", "缺少必填项 title（表单标题）"),
    ({"id": "demo", "title": "t", "fields": [text()]}, "", "缺少必填项 description（表单说明）"),
    (form(text(), id="Demo-1"), "id", "「Demo-1」不是有效的表单编号：须以小写英文字母开头"),
    (form(text(), id="d"), "id", "「d」不是有效的表单编号"),
    (form(text(), version=0), "version", "不能小于 1"),
    (form(), "fields", "不能为空"),
    (form({"name": "x", "type": "selct", "label": "x", "choices": ["a"]}), "fields[0].type",
     "未知的字段类型「selct」，是否想写「select」？"),
    (form({"name": "x", "type": "intger", "label": "x"}), "fields[0].type",
     "未知的字段类型「intger」，是否想写「integer」？"),
    (form(text(requird=True)), "fields[0].requird",
     "不认识的设置项「requird」，是否想写「required」？"),
    (form(text(max_lenght=3)), "fields[0].max_lenght", "不认识的设置项「max_lenght」，是否想写「max_length」？"),
    (form({"name": "x", "type": "text"}), "fields[0]", "缺少必填项 label（字段标题）"),
    (form({"type": "text", "label": "x"}), "fields[0]", "缺少必填项 name（字段名）"),
    (form(text("Title")), "fields[0].name", "「Title」不是有效的字段名：须以小写英文字母开头"),
    (form(text("1st")), "fields[0].name", "「1st」不是有效的字段名"),
    (form(text("a" * 41)), "fields[0].name", "不是有效的字段名"),
    (form(text("项目")), "fields[0].name", "「项目」不是有效的字段名"),
    (form(text("filter_title")), "fields[0].name", "「filter_title」是系统保留的名称"),
    (form(text("validate_title")), "fields[0].name", "「validate_title」是系统保留的名称"),
    (form(text(label="")), "fields[0].label", "不能为空"),
    (form(text(required="yes")), "fields[0].required", "应为 true 或 false，实际是 \"yes\""),
    (form({"name": "n", "type": "integer", "label": "n", "min_length": 1}), "fields[0].min_length",
     "「integer」（整数）类型的字段不能设置 min_length（最少字数）"),
    (form({"name": "n", "type": "integer", "label": "n", "min": 1.5}), "fields[0].min",
     "应为整数，实际是 1.5"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024/01/01"}), "fields[0].min",
     "「2024/01/01」格式不对，应写成 2024-05-01 这样"),
    (form({"name": "d", "type": "month", "label": "d", "max": "2024-01-01"}), "fields[0].max",
     "「2024-01-01」格式不对，应写成 2024-05 这样"),
    (form({"name": "d", "type": "date", "label": "d", "unit": "天"}), "fields[0].unit",
     "「date」（日期）类型的字段不能设置 unit（单位）"),
    (form(text(choices=["a"])), "fields[0].choices", "「text」（单行文字）类型的字段不能设置 choices（选项）"),
    (form(text(min=1)), "fields[0].min", "「text」（单行文字）类型的字段不能设置 min（最小值）"),
    (form(text(fields=[text()])), "fields[0].fields", "「text」（单行文字）类型的字段不能设置 fields（字段列表）"),
    (form(text(min_items=1)), "fields[0].min_items", "「text」（单行文字）类型的字段不能设置 min_items"),
    (form({"name": "k", "type": "select", "label": "k"}), "fields[0]",
     "「select」（单选）类型的字段必须有 choices（选项）"),
    (form({"name": "k", "type": "multiselect", "label": "k"}), "fields[0]",
     "「multiselect」（多选）类型的字段必须有 choices（选项）"),
    (form(select(choices=[])), "fields[0].choices", "不能为空"),
    (form(select(choices=["a", {"value": "b"}])), "fields[0].choices[1]", "缺少必填项 label（选项显示的文字）"),
    (form(select(choices=["a", ""])), "fields[0].choices[1]", ""),
    (form({"name": "s", "type": "section", "label": "s", "required": True}), "fields[0].required",
     "「section」（分节标题）类型的字段不能设置 required（是否必填）"),
    (form(select(), {"name": "s", "type": "section", "label": "s",
                     "show_if": {"field": "kind", "equals": "a"}}),
     "fields[1].show_if", "「section」（分节标题）类型的字段不能设置 show_if（显示条件）"),
    (form({"name": "p", "type": "image", "label": "p", "default": "x.jpg"}), "fields[0].default",
     "「image」（照片）类型的字段不能设置 default（默认值）"),
    (form({"name": "r", "type": "repeat", "label": "r"}), "fields[0]",
     "「repeat」（重复组）类型的字段必须有 fields（字段列表）"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": []}), "fields[0].fields",
     "不能为空"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "inner", "type": "repeat", "label": "i", "fields": [text()]}]}),
     "fields[0].fields[0].type", "重复组里不能放「repeat」（重复组）类型的字段"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "p", "type": "image", "label": "p"}]}),
     "fields[0].fields[0].type", "重复组里不能放「image」（照片）类型的字段"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "s", "type": "section", "label": "s"}]}),
     "fields[0].fields[0].type", "重复组里不能放「section」（分节标题）类型的字段"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text(requird=True)]}),
     "fields[0].fields[0].requird", "是否想写「required」？"),
    (form(text(pattern_message="格式不对")), "fields[0]",
     "填了 pattern_message（格式不符时的提示），就必须同时填 pattern（格式）"),
    (form(select(), text("why", show_if={"field": "kind"})), "fields[1].show_if",
     "须有 equals（等于）或 in（属于其中之一），两者只能选一个"),
    (form(select(), text("why", show_if={"field": "kind", "equals": "a", "in": ["a"]})),
     "fields[1].show_if", "须有 equals（等于）或 in（属于其中之一），两者只能选一个"),
    (form(select(), text("why", show_if={"field": "kind", "equal": "a"})),
     "fields[1].show_if.equal", "不认识的设置项「equal」，是否想写「equals」？"),
    (form(select(), text("why", show_if={"field": "kind", "in": []})), "fields[1].show_if.in",
     "不能为空"),
    (form(select(), text("why", show_if={"field": "kind", "equals": ["a"]})),
     "fields[1].show_if.equals", "应为文字、数字或 true/false，实际是 [\"a\"]"),
]


@pytest.mark.parametrize("schema, path, reason", INVALID)
def test_invalid_schemas_name_path_and_reason(schema, path, reason):
    error = error_of(schema)
    assert error.source == "demo.json"
    assert error.path == path
    assert reason in error.reason


@pytest.mark.parametrize("name", CONTRACT_RESERVED + ["hidden_tag", "is_submitted",
                                                      "validate_on_submit", "post_process"])
def test_reserved_names_are_rejected(name):
    error = error_of(form(text(name)))
    assert error.path == "fields[0].name"
    assert f"「{name}」是系统保留的名称（会使表单出错），请换一个字段名" in error.reason


def test_reserved_names_are_rejected_inside_repeat_rows():
    error = error_of(form({"name": "r", "type": "repeat", "label": "r", "fields": [text("errors")]}))
    assert error.path == "fields[0].fields[0].name"
    assert "「errors」是系统保留的名称" in error.reason


def test_one_error_at_a_time_and_str_format():
    schema = form({"name": "x", "type": "selct", "label": "x"}, text(requird=True))
    error = error_of(schema)
    assert str(error) == f"demo.json: {error.path}: {error.reason}"
    assert "\n" not in str(error)
    assert str(SchemaError("a.json", "", "bad")) == "a.json: bad"


# ---------------------------------------------------------------- invalid: semantic checks

SEMANTIC = [
    (form(text(), text()), "fields[1].name", "字段名「title」重复（已被 fields[0] 使用）"),
    (form(select(), {"name": "s", "type": "section", "label": "s"},
          {"name": "s", "type": "section", "label": "s2"}),
     "fields[2].name", "字段名「s」重复（已被 fields[1] 使用）"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text("a"), text("a")]}),
     "fields[0].fields[1].name", "字段名「a」重复（已被 fields[0].fields[0] 使用）"),
    (form(text("why", show_if={"field": "kind", "equals": "a"}), select()),
     "fields[0].show_if.field", "显示条件引用的「kind」在本字段之后；只能引用前面的字段"),
    (form(text("why", show_if={"field": "why", "equals": "a"})),
     "fields[0].show_if.field", "显示条件不能引用本字段自己"),
    (form(select(), text("why", show_if={"field": "kidn", "equals": "a"})),
     "fields[1].show_if.field", "前面没有名为「kidn」的字段，是否想写「kind」？"),
    (form({"name": "s", "type": "section", "label": "s"},
          text("why", show_if={"field": "s", "equals": "a"})),
     "fields[1].show_if.field", "「s」是「section」（分节标题）字段，没有填写的值"),
    (form({"name": "p", "type": "image", "label": "p"},
          text("why", show_if={"field": "p", "equals": "a"})),
     "fields[1].show_if.field", "「p」是「image」（照片）字段，没有填写的值"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text("a")]},
          text("why", show_if={"field": "r", "equals": "a"})),
     "fields[1].show_if.field", "「r」是「repeat」（重复组）字段，没有填写的值"),
    (form(select(), {"name": "r", "type": "repeat", "label": "r", "fields": [
        text("a", show_if={"field": "kind", "equals": "a"})]}),
     "fields[1].fields[0].show_if.field", "前面没有名为「kind」的字段"),
    (form(select(), text("why", show_if={"field": "kind", "equals": "c"})),
     "fields[1].show_if.equals", "永远不会满足：「c」不是字段「kind」的选项（可选的值：a、b）"),
    (form(select(), text("why", show_if={"field": "kind", "in": ["a", "x"]})),
     "fields[1].show_if.in[1]", "永远不会满足：「x」不是字段「kind」的选项"),
    (form({"name": "ok", "type": "boolean", "label": "ok"},
          text("why", show_if={"field": "ok", "equals": "true"})),
     "fields[1].show_if.equals", "永远不会满足：应为 true 或 false，实际是 \"true\""),
    (form({"name": "n", "type": "integer", "label": "n"},
          text("why", show_if={"field": "n", "equals": "3"})),
     "fields[1].show_if.equals", "永远不会满足：应为整数，实际是 \"3\""),
    (form(select(default="c")), "fields[0].default", "默认值 default 不合适：不符合本字段的限制（请选择有效的选项）"),
    (form(select(default=1)), "fields[0].default", "默认值 default 不合适：应为某个选项的值（文字），实际是 1"),
    (form({"name": "n", "type": "integer", "label": "n", "default": "5"}), "fields[0].default",
     "默认值 default 不合适：应为整数，实际是 \"5\""),
    (form({"name": "n", "type": "integer", "label": "n", "default": True}), "fields[0].default",
     "应为整数，实际是 true"),
    (form({"name": "n", "type": "integer", "label": "n", "min": 0, "default": -1}),
     "fields[0].default", "不符合本字段的限制（不能小于 0）"),
    (form({"name": "d", "type": "decimal", "label": "d", "max": 1, "default": "1.5"}),
     "fields[0].default", "不符合本字段的限制（不能大于 1）"),
    (form({"name": "d", "type": "decimal", "label": "d", "default": "abc"}),
     "fields[0].default", "应为数字，实际是 \"abc\""),
    (form(text(max_length=3, default="四个字啊")), "fields[0].default", "最多 3 字"),
    (form(text(pattern="\\d+", default="12a")), "fields[0].default", "格式不正确"),
    (form({"name": "d", "type": "date", "label": "d", "default": "2023-02-29"}),
     "fields[0].default", "「2023-02-29」不是真实存在的日期"),
    (form({"name": "d", "type": "date", "label": "d", "default": "2024/01/01"}),
     "fields[0].default", "应为日期，写成 2024-05-01 这样，实际是 \"2024/01/01\""),
    (form({"name": "m", "type": "month", "label": "m", "default": "2024-13"}),
     "fields[0].default", "「2024-13」不是真实存在的月份"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b", "c"], "max": 1,
           "default": ["a", "b"]}), "fields[0].default", "不符合本字段的限制（最多选择 1 项）"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b"],
           "default": "a"}), "fields[0].default", "应为选项值的列表，实际是 \"a\""),
    (form({"name": "ok", "type": "boolean", "label": "ok", "default": "true"}),
     "fields[0].default", "应为 true 或 false，实际是 \"true\""),
    (form({"name": "tel", "type": "phone", "label": "t", "default": "12345"}),
     "fields[0].default", "应为 11 位手机号码，实际是 \"12345\""),
    (form({"name": "n", "type": "integer", "label": "n", "min": 5, "max": 1}), "fields[0].min",
     "最小值 min（5）大于最大值 max（1）"),
    (form({"name": "n", "type": "decimal", "label": "n", "min": 2.5, "max": 1}), "fields[0].min",
     "最小值 min（2.5）大于最大值 max（1）"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024-06-01", "max": "2024-01-01"}),
     "fields[0].min", "最小值 min（2024-06-01）大于最大值 max（2024-01-01）"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024-02-30"}), "fields[0].min",
     "「2024-02-30」不是真实存在的日期"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a"], "min": 3,
           "max": 2}), "fields[0].min", "最小值 min（3）大于最大值 max（2）"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b"], "min": 3}),
     "fields[0].min", "最少选择 min（3）项，多于选项的个数（2）"),
    (form(text(min_length=5, max_length=2)), "fields[0].min_length",
     "最少字数 min_length（5）大于最多字数 max_length（2）"),
    (form(text(pattern="(unclosed")), "fields[0].pattern", "格式 pattern 不是有效的正则表达式"),
    (form(select(choices=["a", {"value": "a", "label": "甲"}])), "fields[0].choices[1]",
     "选项的值「a」重复"),
    (form({"name": "r", "type": "repeat", "label": "r", "min_items": 4, "max_items": 2,
           "fields": [text()]}), "fields[0].min_items", "最少行数 min_items（4）大于最多行数 max_items（2）"),
]


@pytest.mark.parametrize("schema, path, reason", SEMANTIC)
def test_semantic_errors_name_path_and_reason(schema, path, reason):
    error = error_of(schema)
    assert error.path == path
    assert reason in error.reason


# ---------------------------------------------------------------- files and JSON text

def test_form_id_must_equal_file_stem(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(form(text())), encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema_file(path)
    assert info.value.source == str(path)
    assert info.value.path == "id"
    assert info.value.reason == "表单编号 id「demo」应与文件名「other」相同"
    assert str(info.value).startswith(f"{path}: id: ")


def test_file_with_bom_loads(tmp_path):
    path = tmp_path / "demo.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(form(text()), ensure_ascii=False).encode())
    assert load_schema_file(path)["id"] == "demo"


def test_broken_json_names_line_and_column(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text('{\n  "id": "demo",\n  "title": "t"\n  "fields": []\n}', encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema_file(path)
    assert info.value.path == "第 4 行第 3 列"
    assert info.value.reason == "JSON 格式错误：缺少英文逗号 ,"


def test_duplicate_json_keys_are_refused():
    with pytest.raises(SchemaError) as info:
        check_schema('{"id": "demo", "id": "demo2", "title": "t", "description": "", "fields": []}')
    assert info.value.reason == "JSON 格式错误：键「id」在同一处出现了两次"


def test_missing_file_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError) as info:
        load_schema_file(tmp_path / "nope.json")
    assert info.value.reason == "无法读取文件：文件不存在"


def test_not_an_object():
    error = error_of(["not", "a", "form"])
    assert error.path == ""
    assert error.reason == '应为一组键值（{…}），实际是 ["not", "a", "form"]'


def test_builtin_schemas_exclude_the_meta_schema():
    schemas = load_builtin_schemas()
    assert all("$schema" not in s for s in schemas)
    ids = [s["id"] for s in schemas]
    assert len(ids) == len(set(ids))


def test_checked_schema_is_unchanged_by_a_failed_check():
    schema = form(text(), text())
    before = copy.deepcopy(schema)
    error_of(schema)
    assert schema == before


# ---------------------------------------------------------------- audience, period, project

MONTH = {"name": "report_month", "type": "month", "label": "报告月份", "required": True}
PROJECT = {"name": "project", "type": "project", "label": "项目名称", "required": True}
STEPS = {"name": "steps", "type": "repeat", "label": "实施步骤", "required": True,
         "fields": [text("task")]}
APPLICATION_FIELDS = [text("project_name", required=True), text("secretary", required=True),
                      select("kind", required=True), STEPS]
APPLICATION = {"role": "application", "kind": "书记项目", "category": "党建引领发展类",
               "title": "project_name", "secretary": "secretary", "steps": "steps"}


def application(**changes):
    return {key: value for key, value in {**APPLICATION, **changes}.items() if value is not None}


@pytest.mark.parametrize("schema", [
    form(text(), audience={"kinds": ["unit"]}),
    form(text(), audience={"kinds": ["village", "township"], "orgs": ["C0101", "x_1-b"]}),
    form(text(), audience={"orgs": ["C0101"]}),
    form(text(), period={"every": "once"}),
    form(text(), period={"every": "once", "due": "06-30", "year": 2026, "unique": False}),
    form(MONTH, period={"every": "month", "field": "report_month", "due_day": 28}),
    form(MONTH, period={"every": "month", "field": "report_month", "year": 2026}),
    form({"name": "d", "type": "date", "label": "日期"}, period={"every": "month", "field": "d"}),
    form(text(), period={"every": "month"}),
    form(text(), period={"every": "year", "due": "03-31"}),
    form({"name": "y", "type": "integer", "label": "年度"}, period={"every": "year", "field": "y"}),
    form(MONTH, period={"every": "year", "field": "report_month", "year": 2000}),
    form(MONTH, PROJECT, project={"role": "report"}),
    form(text("why", hint="说明"), PROJECT, project={"role": "acceptance"},
         period={"every": "once"}),
    form(*APPLICATION_FIELDS, project=application()),
    form(*APPLICATION_FIELDS, project=application(category=None, category_field="kind",
                                                  kind="书记领办事项")),
    form(*APPLICATION_FIELDS, project=application(category_field="kind")),
    form(*APPLICATION_FIELDS, {"name": "t", "type": "textarea", "label": "名称", "required": True},
         project=application(title="t")),
])
def test_form_keys_valid(schema):
    assert check_schema(schema) == schema


def test_builtin_forms_use_the_form_keys():
    schemas = {schema["id"]: schema for schema in load_builtin_schemas()}
    assert schemas["monthly_report"]["period"] == {"every": "month", "field": "report_month",
                                                   "due_day": 5}
    assert schemas["monthly_report"]["project"] == {"role": "report"}
    assert schemas["acceptance"]["project"] == {"role": "acceptance"}
    assert schemas["apply_organ"]["audience"] == {"kinds": ["unit"]}
    for form_id in ("monthly_report", "acceptance"):
        fields = schemas[form_id]["fields"]
        assert [f["name"] for f in fields if f["type"] == "project"] == ["project"]
        assert "project_name" not in {f["name"] for f in fields}
    categories = {form_id: (schema["project"].get("kind"), schema["project"].get("category"))
                  for form_id, schema in schemas.items()
                  if schema.get("project", {}).get("role") == "application"}
    assert categories == {"apply_culture": ("书记项目", "党建文化建设类"),
                          "apply_development": ("书记项目", "党建引领发展类"),
                          "apply_reform": ("书记项目", "党建改革创新类"),
                          "apply_organ": ("书记项目", "机关党建提升类"),
                          "leader_matter": ("书记领办事项", None)}
    assert all(schemas[form_id]["period"] == {"every": "year"} for form_id in categories)
    assert "period" not in schemas["public_demand"]
    assert "period" not in schemas["doctor_registration"]


FORM_KEYS_INVALID = [
    # meta-schema
    (form(text(), audience={}), "audience", "不能为空"),
    (form(text(), audience={"kinds": []}), "audience.kinds", "不能为空"),
    (form(text(), audience={"kinds": ["villages"]}), "audience.kinds[0]",
     "「villages」不是可用的值（可用：\"county\"、\"township\"、\"village\"、\"unit\"）"),
    (form(text(), audience={"kinds": ["unit", "unit"]}), "audience.kinds", "列表中有重复的项"),
    (form(text(), audience={"orgs": []}), "audience.orgs", "不能为空"),
    (form(text(), audience={"orgs": [""]}), "audience.orgs[0]", "不是有效的组织代码"),
    (form(text(), audience={"orgs": ["C 01"]}), "audience.orgs[0]", "「C 01」不是有效的组织代码"),
    (form(text(), audience={"kind": ["unit"]}), "audience.kind",
     "不认识的设置项「kind」，是否想写「kinds」？"),
    (form(text(), period={}), "period", "缺少必填项 every（周期）"),
    (form(text(), period={"every": "week"}), "period.every", "「week」不是可用的值"),
    (form(text(), period={"every": "month", "due_days": 5}), "period.due_days",
     "不认识的设置项「due_days」，是否想写「due_day」？"),
    (form(text(), period={"every": "month", "due_day": 0}), "period.due_day", "不能小于 1"),
    (form(text(), period={"every": "month", "due_day": 29}), "period.due_day", "不能大于 28"),
    (form(text(), period={"every": "month", "due_day": "5"}), "period.due_day", "应为整数"),
    (form(text(), period={"every": "year", "due": "12/31"}), "period.due",
     "「12/31」格式不对，截止日期应写成 12-31 这样（月-日）"),
    (form(text(), period={"every": "month", "year": 1999}), "period.year", "不能小于 2000"),
    (form(text(), period={"every": "month", "year": 2101}), "period.year", "不能大于 2100"),
    (form(text(), period={"every": "month", "unique": "yes"}), "period.unique", "应为 true 或 false"),
    (form(text(), period={"every": "month", "field": "Month"}), "period.field",
     "「Month」不是有效的字段名"),
    (form(text(), project={}), "project", "缺少必填项 role（用途）"),
    (form(text(), project={"role": "apply"}), "project.role", "「apply」不是可用的值"),
    (form(*APPLICATION_FIELDS, project=application(kind="书记")), "project.kind",
     "「书记」不是可用的值"),
    (form(*APPLICATION_FIELDS, project=application(category="")), "project.category", "不能为空"),
    (form(*APPLICATION_FIELDS, project=application(titel="x")), "project.titel",
     "不认识的设置项「titel」，是否想写「title」？"),
    (form(*APPLICATION_FIELDS, project=application(title="Project")), "project.title",
     "「Project」不是有效的字段名"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [PROJECT]},
          project={"role": "report"}), "fields[0].fields[0].type",
     "重复组里不能放「project」（项目）类型的字段"),
    (form(dict(PROJECT, choices=["a"]), project={"role": "report"}), "fields[0].choices",
     "「project」（项目）类型的字段不能设置 choices（选项）"),
    (form(dict(PROJECT, default="1"), project={"role": "report"}), "fields[0].default",
     "「project」（项目）类型的字段不能设置 default（默认值）"),
    (form(select(), dict(PROJECT, show_if={"field": "kind", "equals": "a"}),
          project={"role": "report"}), "fields[1].show_if",
     "「project」（项目）类型的字段不能设置 show_if（显示条件）"),
    # semantic: period
    (form(MONTH, period={"every": "once", "field": "report_month"}), "period.field",
     "一次性的表单（every 为 once）只有一个周期，不能设置 field（周期字段）"),
    (form(MONTH, period={"every": "month", "field": "report_mont"}), "period.field",
     "表单中没有名为「report_mont」的字段，是否想写「report_month」？"),
    (form(STEPS, period={"every": "month", "field": "task"}), "period.field",
     "表单中没有名为「task」的字段；它在重复组里，须是表单第一层的字段"),
    (form(text(), period={"every": "month", "field": "title"}), "period.field",
     "「title」是「text」（单行文字）字段；按月报告的周期字段须是「month」（月份）或「date」（日期）字段"),
    (form({"name": "y", "type": "integer", "label": "年度"}, period={"every": "month", "field": "y"}),
     "period.field", "「y」是「integer」（整数）字段；按月报告的周期字段须是"),
    (form({"name": "s", "type": "section", "label": "s"}, text(),
          period={"every": "year", "field": "s"}), "period.field", "表单中没有名为「s」的字段"),
    (form(text(), period={"every": "year", "field": "title"}), "period.field",
     "按年报告的周期字段须是「month」（月份）、「date」（日期）或「integer」（整数）字段"),
    (form(text(), period={"every": "year", "due_day": 5}), "period.due_day",
     "due_day（每月截止日）只用于按月报告（every 为 month）的表单"),
    (form(text(), period={"every": "month", "due": "01-05"}), "period.due",
     "按月报告的表单用 due_day（每月截止日），不能设置 due（截止日期）"),
    (form(text(), period={"every": "year", "due": "02-30"}), "period.due",
     "「02-30」不是真实存在的日期"),
    (form(text(), period={"every": "year", "due": "13-01"}), "period.due",
     "「13-01」不是真实存在的日期"),
    (form(text(), period={"every": "year", "due": "02-29"}), "period.due",
     "「02-29」不是每年都有的日期，请改用 02-28 或 03-01"),
    (form(text(), period={"every": "once", "due": "06-30"}), "period.due",
     "一次性的表单设置 due（截止日期）时，须同时设置 year（年度）"),
    # semantic: project
    (form(text(), project={"role": "report"}), "project",
     "role 为 report 的表单须有一个「project」（项目）类型的字段"),
    (form(text(), project={"role": "acceptance"}), "project",
     "role 为 acceptance 的表单须有一个「project」（项目）类型的字段"),
    (form(PROJECT, dict(PROJECT, name="other"), project={"role": "report"}), "fields[1].type",
     "一个表单只能有一个「project」（项目）类型的字段（已有 fields[0]）"),
    (form(PROJECT, project={"role": "report", "kind": "书记项目"}), "project.kind",
     "kind（项目类型）只用于申报表（role 为 application）"),
    (form(PROJECT), "fields[0].type",
     "只有 project.role 为 report 或 acceptance 的表单才能有「project」（项目）类型的字段"),
    (form(*APPLICATION_FIELDS, PROJECT, project=application()), "fields[4].type",
     "只有 project.role 为 report 或 acceptance 的表单才能有"),
    (form(*APPLICATION_FIELDS, project=application(kind=None)), "project",
     "申报表（role 为 application）须设置 kind（项目类型）"),
    (form(*APPLICATION_FIELDS, project=application(title=None)), "project",
     "申报表（role 为 application）须设置 title（项目名称字段）"),
    (form(*APPLICATION_FIELDS, project=application(secretary=None)), "project",
     "须设置 secretary（书记姓名字段）"),
    (form(*APPLICATION_FIELDS, project=application(steps=None)), "project",
     "须设置 steps（实施步骤字段）"),
    (form(*APPLICATION_FIELDS, project=application(category=None)), "project",
     "须设置 category（项目类别）或 category_field（项目类别字段）"),
    (form(*APPLICATION_FIELDS, project=application(title="name")), "project.title",
     "表单中没有名为「name」的字段"),
    (form(*APPLICATION_FIELDS, project=application(title="task")), "project.title",
     "表单中没有名为「task」的字段；它在重复组里"),
    (form(*APPLICATION_FIELDS, project=application(title="kind")), "project.title",
     "「kind」是「select」（单选）字段；项目名称字段须是「text」（单行文字）或「textarea」（多行文字）字段"),
    (form(*APPLICATION_FIELDS, project=application(secretary="steps")), "project.secretary",
     "「steps」是「repeat」（重复组）字段；书记姓名字段须是"),
    (form(*APPLICATION_FIELDS, project=application(steps="secretary")), "project.steps",
     "「secretary」是「text」（单行文字）字段；实施步骤字段须是「repeat」（重复组）字段"),
    (form(*APPLICATION_FIELDS, project=application(category_field="secretary")),
     "project.category_field",
     "「secretary」是「text」（单行文字）字段；项目类别字段须是「select」（单选）字段"),
    (form(text("project_name"), *APPLICATION_FIELDS[1:], project=application()), "project.title",
     "「project_name」须为必填（required 为 true）且不设显示条件：立项时要用它的值"),
    (form(*APPLICATION_FIELDS[:2], select("kind"), STEPS,
          project=application(category=None, category_field="kind")), "project.category_field",
     "「kind」须为必填"),
    (form({"name": "ok", "type": "boolean", "label": "是否"},
          text("project_name", required=True, show_if={"field": "ok", "equals": True}),
          *APPLICATION_FIELDS[1:], project=application()), "project.title", "且不设显示条件"),
    # show_if on a project field's value
    (form(PROJECT, text("why", show_if={"field": "project", "equals": "1"}),
          project={"role": "report"}), "fields[1].show_if.field",
     "「project」是「project」（项目）字段，可选的项目因村（单位）而异；显示条件不能引用它"),
]


@pytest.mark.parametrize("schema, path, reason", FORM_KEYS_INVALID)
def test_form_keys_invalid_name_path_and_reason(schema, path, reason):
    error = error_of(schema)
    assert (error.path, reason in error.reason) == (path, True), error.reason


def test_form_key_problems_are_listed_with_the_rest():
    schema = form(text(), text("other", show_if={"field": "nope", "equals": "a"}),
                  period={"every": "month", "field": "title"}, project={"role": "report"})
    paths = [problem.path for problem in schema_problems(schema, "demo.json")]
    assert paths == ["fields[1].show_if.field", "period.field", "project"]
