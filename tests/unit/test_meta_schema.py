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
    (form(text(), titel="x"), "titel", "unknown key 'titel' — did you mean 'title'?"),
    ({"id": "demo", "description": "", "fields": [text()]}, "", "missing key 'title'"),
    ({"id": "demo", "title": "t", "fields": [text()]}, "", "missing key 'description'"),
    (form(text(), id="Demo-1"), "id", "not a valid form id"),
    (form(text(), id="d"), "id", "not a valid form id"),
    (form(text(), version=0), "version", "must be at least 1"),
    (form(), "fields", "must not be empty"),
    (form({"name": "x", "type": "selct", "label": "x", "choices": ["a"]}), "fields[0].type",
     "unknown type 'selct' — did you mean 'select'?"),
    (form({"name": "x", "type": "intger", "label": "x"}), "fields[0].type",
     "did you mean 'integer'?"),
    (form(text(requird=True)), "fields[0].requird",
     "unknown key 'requird' — did you mean 'required'?"),
    (form(text(max_lenght=3)), "fields[0].max_lenght", "did you mean 'max_length'?"),
    (form({"name": "x", "type": "text"}), "fields[0]", "missing key 'label'"),
    (form({"type": "text", "label": "x"}), "fields[0]", "missing key 'name'"),
    (form(text("Title")), "fields[0].name", "not a valid field name"),
    (form(text("1st")), "fields[0].name", "not a valid field name"),
    (form(text("a" * 41)), "fields[0].name", "not a valid field name"),
    (form(text("项目")), "fields[0].name", "not a valid field name"),
    (form(text("filter_title")), "fields[0].name", "reserved name"),
    (form(text("validate_title")), "fields[0].name", "reserved name"),
    (form(text(label="")), "fields[0].label", "must not be empty"),
    (form(text(required="yes")), "fields[0].required", "expected true or false, got \"yes\""),
    (form({"name": "n", "type": "integer", "label": "n", "min_length": 1}), "fields[0].min_length",
     "'min_length' is not allowed for type 'integer'"),
    (form({"name": "n", "type": "integer", "label": "n", "min": 1.5}), "fields[0].min",
     "expected an integer, got 1.5"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024/01/01"}), "fields[0].min",
     "not in the form 2024-05-01"),
    (form({"name": "d", "type": "month", "label": "d", "max": "2024-01-01"}), "fields[0].max",
     "not in the form 2024-05"),
    (form({"name": "d", "type": "date", "label": "d", "unit": "天"}), "fields[0].unit",
     "'unit' is not allowed for type 'date'"),
    (form(text(choices=["a"])), "fields[0].choices", "'choices' is not allowed for type 'text'"),
    (form(text(min=1)), "fields[0].min", "'min' is not allowed for type 'text'"),
    (form(text(fields=[text()])), "fields[0].fields", "'fields' is not allowed for type 'text'"),
    (form(text(min_items=1)), "fields[0].min_items", "not allowed for type 'text'"),
    (form({"name": "k", "type": "select", "label": "k"}), "fields[0]",
     "type 'select' needs 'choices'"),
    (form({"name": "k", "type": "multiselect", "label": "k"}), "fields[0]",
     "type 'multiselect' needs 'choices'"),
    (form(select(choices=[])), "fields[0].choices", "must not be empty"),
    (form(select(choices=["a", {"value": "b"}])), "fields[0].choices[1]", "missing key 'label'"),
    (form(select(choices=["a", ""])), "fields[0].choices[1]", ""),
    (form({"name": "s", "type": "section", "label": "s", "required": True}), "fields[0].required",
     "'required' is not allowed for type 'section'"),
    (form(select(), {"name": "s", "type": "section", "label": "s",
                     "show_if": {"field": "kind", "equals": "a"}}),
     "fields[1].show_if", "'show_if' is not allowed for type 'section'"),
    (form({"name": "p", "type": "image", "label": "p", "default": "x.jpg"}), "fields[0].default",
     "'default' is not allowed for type 'image'"),
    (form({"name": "r", "type": "repeat", "label": "r"}), "fields[0]", "type 'repeat' needs 'fields'"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": []}), "fields[0].fields",
     "must not be empty"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "inner", "type": "repeat", "label": "i", "fields": [text()]}]}),
     "fields[0].fields[0].type", "type 'repeat' is not allowed inside a repeat"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "p", "type": "image", "label": "p"}]}),
     "fields[0].fields[0].type", "type 'image' is not allowed inside a repeat"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [
        {"name": "s", "type": "section", "label": "s"}]}),
     "fields[0].fields[0].type", "type 'section' is not allowed inside a repeat"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text(requird=True)]}),
     "fields[0].fields[0].requird", "did you mean 'required'?"),
    (form(text(pattern_message="格式不对")), "fields[0]", "'pattern_message' needs a 'pattern'"),
    (form(select(), text("why", show_if={"field": "kind"})), "fields[1].show_if",
     "exactly one of 'equals' or 'in'"),
    (form(select(), text("why", show_if={"field": "kind", "equals": "a", "in": ["a"]})),
     "fields[1].show_if", "exactly one of 'equals' or 'in'"),
    (form(select(), text("why", show_if={"field": "kind", "equal": "a"})),
     "fields[1].show_if.equal", "did you mean 'equals'?"),
    (form(select(), text("why", show_if={"field": "kind", "in": []})), "fields[1].show_if.in",
     "must not be empty"),
    (form(select(), text("why", show_if={"field": "kind", "equals": ["a"]})),
     "fields[1].show_if.equals", "expected a string or a number or true or false"),
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
    assert f"'{name}' is a reserved name" in error.reason


def test_reserved_names_are_rejected_inside_repeat_rows():
    error = error_of(form({"name": "r", "type": "repeat", "label": "r", "fields": [text("errors")]}))
    assert error.path == "fields[0].fields[0].name"
    assert "reserved" in error.reason


def test_one_error_at_a_time_and_str_format():
    schema = form({"name": "x", "type": "selct", "label": "x"}, text(requird=True))
    error = error_of(schema)
    assert str(error) == f"demo.json: {error.path}: {error.reason}"
    assert "\n" not in str(error)
    assert str(SchemaError("a.json", "", "bad")) == "a.json: bad"


# ---------------------------------------------------------------- invalid: semantic checks

SEMANTIC = [
    (form(text(), text()), "fields[1].name", "duplicate name 'title' (already used by fields[0])"),
    (form(select(), {"name": "s", "type": "section", "label": "s"},
          {"name": "s", "type": "section", "label": "s2"}),
     "fields[2].name", "duplicate name 's'"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text("a"), text("a")]}),
     "fields[0].fields[1].name", "duplicate name 'a'"),
    (form(text("why", show_if={"field": "kind", "equals": "a"}), select()),
     "fields[0].show_if.field", "'kind' comes after this field"),
    (form(text("why", show_if={"field": "why", "equals": "a"})),
     "fields[0].show_if.field", "cannot depend on itself"),
    (form(select(), text("why", show_if={"field": "kidn", "equals": "a"})),
     "fields[1].show_if.field", "no earlier field named 'kidn' here — did you mean 'kind'?"),
    (form({"name": "s", "type": "section", "label": "s"},
          text("why", show_if={"field": "s", "equals": "a"})),
     "fields[1].show_if.field", "'s' is a section field"),
    (form({"name": "p", "type": "image", "label": "p"},
          text("why", show_if={"field": "p", "equals": "a"})),
     "fields[1].show_if.field", "'p' is a image field"),
    (form({"name": "r", "type": "repeat", "label": "r", "fields": [text("a")]},
          text("why", show_if={"field": "r", "equals": "a"})),
     "fields[1].show_if.field", "'r' is a repeat field"),
    (form(select(), {"name": "r", "type": "repeat", "label": "r", "fields": [
        text("a", show_if={"field": "kind", "equals": "a"})]}),
     "fields[1].fields[0].show_if.field", "no earlier field named 'kind' here"),
    (form(select(), text("why", show_if={"field": "kind", "equals": "c"})),
     "fields[1].show_if.equals", "'c' is not one of the choices of 'kind' (a, b)"),
    (form(select(), text("why", show_if={"field": "kind", "in": ["a", "x"]})),
     "fields[1].show_if.in[1]", "'x' is not one of the choices"),
    (form({"name": "ok", "type": "boolean", "label": "ok"},
          text("why", show_if={"field": "ok", "equals": "true"})),
     "fields[1].show_if.equals", "expected true or false"),
    (form({"name": "n", "type": "integer", "label": "n"},
          text("why", show_if={"field": "n", "equals": "3"})),
     "fields[1].show_if.equals", "expected an integer"),
    (form(select(default="c")), "fields[0].default", "请选择有效的选项"),
    (form(select(default=1)), "fields[0].default", "expected a choice value"),
    (form({"name": "n", "type": "integer", "label": "n", "default": "5"}), "fields[0].default",
     "expected an integer, got '5'"),
    (form({"name": "n", "type": "integer", "label": "n", "default": True}), "fields[0].default",
     "expected an integer"),
    (form({"name": "n", "type": "integer", "label": "n", "min": 0, "default": -1}),
     "fields[0].default", "不能小于 0"),
    (form({"name": "d", "type": "decimal", "label": "d", "max": 1, "default": "1.5"}),
     "fields[0].default", "不能大于 1"),
    (form({"name": "d", "type": "decimal", "label": "d", "default": "abc"}),
     "fields[0].default", "expected a number"),
    (form(text(max_length=3, default="四个字啊")), "fields[0].default", "最多 3 字"),
    (form(text(pattern="\\d+", default="12a")), "fields[0].default", "格式不正确"),
    (form({"name": "d", "type": "date", "label": "d", "default": "2023-02-29"}),
     "fields[0].default", "not a real date"),
    (form({"name": "d", "type": "date", "label": "d", "default": "2024/01/01"}),
     "fields[0].default", "expected a date like '2024-05-01'"),
    (form({"name": "m", "type": "month", "label": "m", "default": "2024-13"}),
     "fields[0].default", "not a real month"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b", "c"], "max": 1,
           "default": ["a", "b"]}), "fields[0].default", "最多选择 1 项"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b"],
           "default": "a"}), "fields[0].default", "expected a list"),
    (form({"name": "ok", "type": "boolean", "label": "ok", "default": "true"}),
     "fields[0].default", "expected true or false"),
    (form({"name": "tel", "type": "phone", "label": "t", "default": "12345"}),
     "fields[0].default", "mainland mobile"),
    (form({"name": "n", "type": "integer", "label": "n", "min": 5, "max": 1}), "fields[0].min",
     "min (5) is greater than max (1)"),
    (form({"name": "n", "type": "decimal", "label": "n", "min": 2.5, "max": 1}), "fields[0].min",
     "greater than max"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024-06-01", "max": "2024-01-01"}),
     "fields[0].min", "greater than max"),
    (form({"name": "d", "type": "date", "label": "d", "min": "2024-02-30"}), "fields[0].min",
     "not a real date"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a"], "min": 3,
           "max": 2}), "fields[0].min", "greater than max"),
    (form({"name": "ms", "type": "multiselect", "label": "m", "choices": ["a", "b"], "min": 3}),
     "fields[0].min", "more than the number of choices (2)"),
    (form(text(min_length=5, max_length=2)), "fields[0].min_length",
     "min_length (5) is greater than max_length (2)"),
    (form(text(pattern="(unclosed")), "fields[0].pattern", "invalid regular expression"),
    (form(select(choices=["a", {"value": "a", "label": "甲"}])), "fields[0].choices[1]",
     "duplicate choice value 'a'"),
    (form({"name": "r", "type": "repeat", "label": "r", "min_items": 4, "max_items": 2,
           "fields": [text()]}), "fields[0].min_items", "min_items (4) is greater than max_items (2)"),
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
    assert "must equal the file name 'other'" in info.value.reason
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
    assert info.value.reason.startswith("JSON 格式错误")


def test_duplicate_json_keys_are_refused():
    with pytest.raises(SchemaError) as info:
        check_schema('{"id": "demo", "id": "demo2", "title": "t", "description": "", "fields": []}')
    assert "键 'id' 重复出现" in info.value.reason


def test_missing_file_is_a_schema_error(tmp_path):
    with pytest.raises(SchemaError) as info:
        load_schema_file(tmp_path / "nope.json")
    assert "cannot read" in info.value.reason


def test_not_an_object():
    error = error_of(["not", "a", "form"])
    assert error.path == ""
    assert "expected an object" in error.reason


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
