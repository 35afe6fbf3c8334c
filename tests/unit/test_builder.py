"""forms/builder.py and templates/_macros.html: form classes, show_if, repeat rows,
answers, display rows and the rendered HTML. A tiny Flask app, a schema dict inline,
a MultiDict in, form.errors / collect_answers out."""

import io
import json
import re
import uuid
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask_wtf import FlaskForm
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict

from forms import load_builtin_schemas
from forms.builder import (
    BaseForm,
    build_form_class,
    collect_answers,
    display_rows,
    new_submission_id,
)
from forms.loader import check_schema, load_schema_file

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parents[1] / "data"
SID = "9f1c2b3a4d5e4f60a1b2c3d4e5f60718"  # a uuid4 in hex


@pytest.fixture
def form_app():
    app = Flask(__name__, root_path=str(ROOT))  # templates/ and static/ of the project
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):
        yield app


def schema_of(*fields, form_id="demo", version=1):
    return check_schema({"id": form_id, "title": "演示", "description": "", "version": version,
                         "fields": list(fields)})


def post(schema, data, sid=SID):
    """Bind a form of ``schema`` to ``data`` (dict; list values = repeated keys) and validate."""
    formdata = MultiDict()
    if sid is not None:
        formdata.add("submission_id", sid)
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            formdata.add(key, item)
    form = build_form_class(schema)(formdata=formdata)
    return form, form.validate()


def answers_of(schema, data):
    form, ok = post(schema, data)
    assert ok, form.errors
    return collect_answers(form, schema)[0]


KIND = {"name": "kind", "type": "select", "label": "类别", "choices": ["村", "社区", "单位"]}
WHY = {"name": "why", "type": "text", "label": "原因", "required": True,
       "show_if": {"field": "kind", "equals": "单位"}}
STEPS = {"name": "steps", "type": "repeat", "label": "实施步骤", "min_items": 1, "max_items": 3,
         "fields": [{"name": "month", "type": "month", "label": "月份", "required": True},
                    {"name": "task", "type": "text", "label": "任务", "required": True},
                    {"name": "owner", "type": "text", "label": "责任人"}]}


# ---------------------------------------------------------------- the class

def test_a_fresh_named_flaskform_class_with_one_field_per_value_field(form_app):
    schema = schema_of({"name": "s", "type": "section", "label": "一"}, KIND, STEPS,
                       form_id="monthly_report", version=3)
    cls = build_form_class(schema)
    assert cls.__name__ == "MonthlyReportV3Form"
    assert issubclass(cls, BaseForm) and issubclass(cls, FlaskForm)
    form = cls(formdata=None)
    assert [f.name for f in form] == ["submission_id", "kind", "steps"]
    assert not hasattr(BaseForm, "kind")  # nothing was set on the shared base


def test_cache_same_class_per_id_and_version_new_class_per_version(form_app):
    first = build_form_class(schema_of(KIND, version=1))
    assert build_form_class(json.loads(json.dumps(schema_of(KIND, version=1)))) is first
    second = build_form_class(schema_of(KIND, WHY, version=2))
    assert second is not first and second.__name__ == "DemoV2Form"
    assert "why" not in first(formdata=None)  # the old version keeps its fields
    # same id and version but different content (e.g. two test databases): no mix-up
    other = build_form_class(schema_of(STEPS, version=1))
    assert other is not first and "steps" in other(formdata=None)


def test_building_does_not_keep_a_reference_to_the_callers_schema(form_app):
    schema = schema_of(KIND, version=9)
    cls = build_form_class(schema)
    schema["fields"][0]["choices"].append("新")
    assert [c.value for c in cls(formdata=None).kind.iter_choices()] == ["", "村", "社区", "单位"]


# ---------------------------------------------------------------- submission_id

def test_get_gets_a_fresh_uuid4_submission_id(form_app):
    cls = build_form_class(schema_of(KIND))
    first, second = cls(formdata=None), cls(formdata=None)
    assert uuid.UUID(first.submission_id.data).version == 4
    assert first.submission_id.data != second.submission_id.data
    assert re.fullmatch(r"[0-9a-f]{32}", new_submission_id())


@pytest.mark.parametrize("sid, normalized", [
    (SID, SID),
    (str(uuid.UUID(SID)), SID),
    (str(uuid.UUID(SID)).upper(), SID),
])
def test_submission_id_is_normalized_to_hex(form_app, sid, normalized):
    form, ok = post(schema_of(KIND), {}, sid=sid)
    assert ok, form.errors
    assert form.submission_id.data == normalized


@pytest.mark.parametrize("sid", [None, "", "abc", "0" * 32, uuid.uuid1().hex, SID + "0"])
def test_submission_id_must_be_a_posted_uuid4(form_app, sid):
    form, ok = post(schema_of(KIND), {}, sid=sid)
    assert not ok
    assert form.errors["submission_id"] == ["提交编号无效,请刷新页面后重新填写"]


# ---------------------------------------------------------------- show_if

def test_hidden_required_field_is_not_required_and_not_stored(form_app):
    schema = schema_of(KIND, WHY)
    assert answers_of(schema, {"kind": "村", "why": "会被丢弃"}) == {"kind": "村"}
    assert answers_of(schema, {}) == {"kind": None}  # empty target: the condition is false
    form, ok = post(schema, {"kind": "单位"})
    assert not ok and form.errors == {"why": ["此项为必填项"]}
    assert answers_of(schema, {"kind": "单位", "why": " 县直 "}) == {"kind": "单位", "why": "县直"}


def test_hidden_field_errors_are_not_reported(form_app):
    schema = schema_of(KIND, {"name": "n", "type": "integer", "label": "n", "min": 0,
                              "show_if": {"field": "kind", "in": ["村", "社区"]}})
    form, ok = post(schema, {"kind": "单位", "n": "不是数字"})
    assert ok and form.errors == {}
    assert collect_answers(form, schema)[0] == {"kind": "单位"}
    form, ok = post(schema, {"kind": "社区", "n": "不是数字"})
    assert form.errors == {"n": ["请输入整数"]}


def test_show_if_in(form_app):
    schema = schema_of(KIND, {"name": "size", "type": "integer", "label": "户数",
                              "show_if": {"field": "kind", "in": ["村", "社区"]}})
    assert answers_of(schema, {"kind": "社区", "size": "12"}) == {"kind": "社区", "size": 12}
    assert answers_of(schema, {"kind": "单位", "size": "12"}) == {"kind": "单位"}


def test_show_if_on_a_multiselect_target(form_app):
    themes = {"name": "themes", "type": "multiselect", "label": "主题",
              "choices": ["乡村振兴", "集体经济", "移风易俗"]}
    among = {"name": "a", "type": "text", "label": "a", "show_if": {"field": "themes", "equals": "集体经济"}}
    any_in = {"name": "b", "type": "text", "label": "b",
              "show_if": {"field": "themes", "in": ["移风易俗", "乡村振兴"]}}
    schema = schema_of(themes, among, any_in)
    both = {"a": "x", "b": "y"}
    assert answers_of(schema, {"themes": ["集体经济", "移风易俗"], **both}) == {
        "themes": ["集体经济", "移风易俗"], "a": "x", "b": "y"}
    assert answers_of(schema, {"themes": ["乡村振兴"], **both}) == {"themes": ["乡村振兴"], "b": "y"}
    assert answers_of(schema, {"themes": [], **both}) == {"themes": None}


def test_show_if_on_boolean_and_integer_targets(form_app):
    schema = schema_of(
        {"name": "done", "type": "boolean", "label": "已完成"},
        {"name": "reason", "type": "text", "label": "原因", "show_if": {"field": "done", "equals": False}},
        {"name": "n", "type": "integer", "label": "n"},
        {"name": "three", "type": "text", "label": "t", "show_if": {"field": "n", "equals": 3}},
        {"name": "d", "type": "decimal", "label": "d"},
        {"name": "half", "type": "text", "label": "h", "show_if": {"field": "d", "equals": 0.5}},
    )
    data = {"reason": "r", "three": "t", "half": "h"}
    assert answers_of(schema, {"done": "y", "n": "3", "d": "0.50", **data}) == {
        "done": True, "n": 3, "three": "t", "d": "0.5", "half": "h"}
    assert answers_of(schema, {"n": "4", **data}) == {
        "done": False, "reason": "r", "n": 4, "d": None}


def test_a_field_depending_on_a_hidden_field_is_hidden(form_app):
    schema = schema_of(
        KIND,
        {"name": "sub", "type": "select", "label": "子类", "choices": ["甲", "乙"],
         "show_if": {"field": "kind", "equals": "村"}},
        {"name": "detail", "type": "text", "label": "说明", "required": True,
         "show_if": {"field": "sub", "equals": "甲"}},
    )
    assert answers_of(schema, {"kind": "单位", "sub": "甲"}) == {"kind": "单位"}
    form, ok = post(schema, {"kind": "村", "sub": "甲"})
    assert form.errors == {"detail": ["此项为必填项"]}


def test_shown_empty_optional_fields_are_null_and_an_empty_repeat_is_a_list(form_app):
    schema = schema_of(KIND, {"name": "note", "type": "textarea", "label": "备注"},
                       {**STEPS, "min_items": 0})
    assert answers_of(schema, {}) == {"kind": None, "note": None, "steps": []}


# ---------------------------------------------------------------- repeat

def test_repeat_rows_are_collected_in_order(form_app):
    schema = schema_of(STEPS)
    answers = answers_of(schema, {
        "steps-0-month": "2024-03", "steps-0-task": "调研", "steps-0-owner": "张三",
        "steps-1-month": "2024年5月", "steps-1-task": "建设"})
    assert answers == {"steps": [{"month": "2024-03", "task": "调研", "owner": "张三"},
                                 {"month": "2024-05", "task": "建设", "owner": None}]}


def test_repeat_accepts_index_gaps_and_drops_blank_rows(form_app):
    schema = schema_of(STEPS)
    answers = answers_of(schema, {
        "steps-2-month": "2024-03", "steps-2-task": "调研",
        "steps-5-month": "", "steps-5-task": "  ", "steps-5-owner": "",  # tapped 添加一行, left it
        "steps-9-month": "2024-04", "steps-9-task": "验收"})
    assert [row["task"] for row in answers["steps"]] == ["调研", "验收"]


def test_repeat_row_errors_are_reported_per_row(form_app):
    schema = schema_of(STEPS)
    form, ok = post(schema, {"steps-0-month": "2024-03", "steps-0-task": "调研",
                             "steps-1-month": "13月", "steps-1-task": ""})
    assert not ok
    assert form.errors["steps"] == [{}, {"month": ["请输入正确的月份,例如 2024-05"],
                                         "task": ["此项为必填项"]}]
    assert form.steps.entries[1].form.month.errors == ["请输入正确的月份,例如 2024-05"]


def test_repeat_min_and_max_items(form_app):
    schema = schema_of({**STEPS, "min_items": 2})
    form, ok = post(schema, {"steps-0-month": "2024-03", "steps-0-task": "调研"})
    assert not ok and form.steps.list_errors == ["请至少填写 2 行"]
    assert form.errors["steps"] == ["请至少填写 2 行"]
    rows = {}
    for i in range(4):
        rows.update({f"steps-{i}-month": "2024-03", f"steps-{i}-task": f"任务{i}"})
    form, ok = post(schema, rows)
    assert not ok and form.steps.list_errors == ["最多填写 3 行"]


def test_required_repeat_needs_a_row_optional_repeat_may_be_empty(form_app):
    required = schema_of({**STEPS, "min_items": 0, "required": True})
    form, ok = post(required, {"steps-0-month": "", "steps-0-task": ""})
    assert not ok and form.steps.list_errors == ["此项为必填项,请至少填写 1 行"]
    optional = schema_of(STEPS)  # min_items 1, but not required: zero rows are fine
    assert answers_of(optional, {"steps-0-month": "", "steps-0-task": ""}) == {"steps": []}
    assert answers_of(optional, {}) == {"steps": []}


def test_a_row_left_at_its_defaults_counts_as_blank(form_app):
    schema = schema_of({"name": "rows", "type": "repeat", "label": "r", "fields": [
        {"name": "status", "type": "select", "label": "状态", "choices": ["未开始", "进行中"],
         "default": "未开始"},
        {"name": "done", "type": "boolean", "label": "完成"},
        {"name": "what", "type": "text", "label": "内容", "required": True}]})
    assert answers_of(schema, {"rows-0-status": "未开始"}) == {"rows": []}
    form, ok = post(schema, {"rows-0-status": "进行中"})
    assert form.errors == {"rows": [{"what": ["此项为必填项"]}]}
    form, ok = post(schema, {"rows-0-done": "y"})
    assert form.errors == {"rows": [{"what": ["此项为必填项"]}]}


def test_show_if_inside_a_repeat_row_uses_the_sibling(form_app):
    schema = schema_of({"name": "steps", "type": "repeat", "label": "步骤", "fields": [
        {"name": "task", "type": "text", "label": "任务", "required": True},
        {"name": "done", "type": "boolean", "label": "已完成"},
        {"name": "reason", "type": "text", "label": "未完成原因", "required": True,
         "show_if": {"field": "done", "equals": False}}]})
    form, ok = post(schema, {"steps-0-task": "一", "steps-0-done": "y", "steps-0-reason": "多余",
                             "steps-1-task": "二"})
    assert not ok
    assert form.errors == {"steps": [{}, {"reason": ["此项为必填项"]}]}
    answers = answers_of(schema, {"steps-0-task": "一", "steps-0-done": "y", "steps-0-reason": "x",
                                  "steps-1-task": "二", "steps-1-reason": "缺资金"})
    assert answers == {"steps": [{"task": "一", "done": True},
                                 {"task": "二", "done": False, "reason": "缺资金"}]}


def test_a_hidden_repeat_is_absent_and_not_validated(form_app):
    schema = schema_of(KIND, {**STEPS, "required": True, "show_if": {"field": "kind", "equals": "村"}})
    assert answers_of(schema, {"kind": "单位", "steps-0-month": "bad"}) == {"kind": "单位"}
    form, ok = post(schema, {"kind": "村"})
    assert form.errors == {"steps": ["此项为必填项,请至少填写 1 行"]}


def test_template_row_uses_the_index_placeholder(form_app):
    form = build_form_class(schema_of(STEPS))(formdata=None)
    row = form.steps.template_entry()
    assert row.form.month.name == "steps-__index__-month"
    assert row.form.month.id == "steps-__index__-month"
    assert len(form.steps.entries) == 1  # one blank row to start with; template not added


# ---------------------------------------------------------------- answers, uploads, display

def png():
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 128, 0)).save(buf, "PNG")
    return buf.getvalue()


def test_collect_answers_for_the_all_types_schema(form_app):
    schema = load_schema_file(DATA / "all_types.json")
    photo = png()
    data = {
        "title": "一米菜园", "code": "XM-2024", "summary": "简介", "people": "12", "delta": "-3",
        "income": "12.50", "start": "2024-05-01", "month": "2025-02", "category": "develop",
        "area": "30.5", "town": "菖蒲镇", "themes": ["移风易俗", "乡村振兴"],
        "other_theme": "婚丧简办", "contact": "138 0013 8000",
        "photo": FileStorage(io.BytesIO(photo), filename="现场.png", content_type="image/png"),
        "steps-0-month": "2025-03", "steps-0-task": "选址", "steps-0-done": "y",
        "steps-1-month": "2025-04", "steps-1-task": "建设", "steps-1-note": "资金未到位",
        "pledge": "y",
    }
    form, ok = post(schema, data)
    assert ok, form.errors
    answers, uploads = collect_answers(form, schema)
    assert answers == {
        "title": "一米菜园", "code": "XM-2024", "summary": "简介", "people": 12, "delta": -3,
        "income": "12.5", "start": "2024-05-01", "month": "2025-02", "category": "develop",
        "area": "30.5", "town": "菖蒲镇", "themes": ["乡村振兴", "移风易俗"],
        "other_theme": "婚丧简办", "contact": "13800138000",
        "photo": {"name": "现场.png", "size": len(photo), "content_type": "image/png"},
        "steps": [{"month": "2025-03", "task": "选址", "done": True},
                  {"month": "2025-04", "task": "建设", "done": False, "note": "资金未到位"}],
        "pledge": True,
    }
    assert list(answers) == [f["name"] for f in schema["fields"] if f["name"] in answers]
    assert set(uploads) == {"photo"} and uploads["photo"].filename == "现场.png"
    json.dumps(answers)  # plain JSON, nothing else


def test_display_rows_label_everything_and_table_the_repeats():
    schema = schema_of(
        {"name": "s1", "type": "section", "label": "一、基本情况"},
        KIND, WHY,
        {"name": "s2", "type": "section", "label": "二、隐藏的部分"},
        {"name": "hidden_only", "type": "text", "label": "h", "show_if": {"field": "kind", "equals": "单位"}},
        {"name": "s3", "type": "section", "label": "三、步骤"},
        STEPS,
        {"name": "photo", "type": "image", "label": "照片"},
    )
    answers = {"kind": "村", "steps": [{"month": "2024-03", "task": "调研", "owner": None}],
               "photo": {"file": "ab.png", "name": "现场.png", "size": 3, "content_type": "image/png"}}
    rows = display_rows(schema, answers)
    assert [(r["kind"], r["label"]) for r in rows] == [
        ("section", "一、基本情况"), ("value", "类别"), ("section", "三、步骤"),
        ("repeat", "实施步骤"), ("image", "照片")]
    assert rows[1]["text"] == "村"
    assert rows[3]["columns"] == ["月份", "任务", "责任人"]
    assert rows[3]["rows"] == [["2024-03", "调研", ""]]
    assert rows[3]["text"] == "1 条"
    assert rows[4]["value"]["file"] == "ab.png" and rows[4]["text"] == "现场.png"


# ---------------------------------------------------------------- rendering

PAGE = """{% import "_macros.html" as m %}
<form method="post" enctype="multipart/form-data" class="tz-form" data-tz-form>
{{ form.csrf_token }}{{ form.submission_id }}
{{ m.render_schema_form(form, schema) }}
<button type="submit">提交</button></form>"""


def render(form, schema):
    return render_template_string(PAGE, form=form, schema=schema)


def test_render_every_type_escaped_with_show_if_and_template_row(form_app):
    schema = load_schema_file(DATA / "all_types.json")
    form = build_form_class(schema)(formdata=None)
    html = render(form, schema)
    # labels an admin typed are escaped, never markup
    assert "<script>alert(1)</script>" not in html and "<b>粗</b>" not in html
    assert "基本情况 &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "项目名称 &lt;b&gt;粗&lt;/b&gt;" in html
    # show_if as JSON data attributes in single quotes
    assert """data-show-if='{"equals": "develop", "field": "category"}'""" in html
    assert """data-show-if='{"field": "themes", "in": ["\\u79fb\\u98ce\\u6613\\u4fd7"]}'""" in html
    assert """data-show-if='{"equals": false, "field": "done"}'""" in html
    # repeat: rendered rows, the template row and the (script-revealed) buttons
    assert 'name="steps-0-month"' in html
    assert re.search(r'<template data-row-template>.*name="steps-__index__-task".*</template>', html, re.S)
    assert "添加一行" in html and "删除" in html
    # mobile inputs, units, hints, types
    assert re.search(r'<input[^>]*inputmode="numeric"[^>]*name="people"', html)
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="income"', html)
    assert re.search(r'<input[^>]*inputmode="text"[^>]*name="delta"', html)  # negatives allowed
    assert re.search(r'<input[^>]*inputmode="tel"[^>]*name="contact"[^>]*type="tel"', html)
    assert re.search(r'max="2026-12-31" min="2024-01-01" name="start"[^>]*type="date"', html)
    assert re.search(r'name="month"[^>]*type="month" value="2025-01"', html)  # the default
    assert '<span class="tz-unit">万元</span>' in html
    assert 'type="file"' in html and 'accept="image/*"' in html
    assert 'type="radio"' in html and 'type="checkbox"' in html
    assert '<select class="tz-input tz-select" id="town"' in html  # > 5 choices: a select
    assert "不超过 20 字" in html and 'class="tz-req"' in html
    assert "|safe" not in (ROOT / "templates" / "_macros.html").read_text(encoding="utf-8")


def test_render_after_errors_keeps_input_and_shows_errors_beside_fields(form_app):
    schema = load_schema_file(DATA / "all_types.json")
    form, ok = post(schema, {"title": "一米菜园", "people": "十二", "category": "develop",
                             "area": "", "contact": "12345", "steps-0-month": "2025-03",
                             "steps-0-task": "", "steps-0-note": "原因 <i>"})
    assert not ok
    html = render(form, schema)
    assert 'value="十二"' in html and 'value="12345"' in html and 'value="一米菜园"' in html
    assert 'value="原因 &lt;i&gt;"' in html
    assert re.search(r'name="people"[^>]*>.*?<p class="tz-error" id="people-error"[^>]*>请输入整数</p>',
                     html, re.S)
    assert "请输入正确的手机号码" in html
    assert re.search(r'data-field="area".*?此项为必填项', html, re.S)
    assert 'aria-invalid="true"' in html
    assert 'checked' in html and 'value="develop" checked' in html


def test_render_a_bad_submission_id_shows_an_alert(form_app):
    schema = schema_of(KIND)
    form, ok = post(schema, {"kind": "村"}, sid="nope")
    assert "提交编号无效" in render(form, schema)


def test_html_required_only_where_the_server_always_requires(form_app):
    schema = schema_of(KIND, WHY, STEPS, {"name": "t", "type": "text", "label": "t", "required": True})
    html = render(build_form_class(schema)(formdata=None), schema)
    assert re.search(r'<input[^>]*name="t"[^>]*required', html)
    assert not re.search(r'<input[^>]*name="why"[^>]*required', html)  # under show_if
    assert not re.search(r'<input[^>]*name="steps-0-task"[^>]*required', html)  # blank rows drop


def test_assets_are_local():
    for asset in ("static/js/form.js", "static/css/form.css"):
        text = (ROOT / asset).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "import " not in text


# ---------------------------------------------------------------- every shipped schema

SHIPPED = sorted(p for p in (ROOT / "schemas").glob("*.json") if p.name != "meta.schema.json")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_schema_loads_builds_and_renders(form_app, path):
    schema = load_schema_file(path)
    form = build_form_class({**schema, "version": 1})(formdata=None)
    html = render(form, schema)
    for spec in schema["fields"]:
        assert f'data-field="{spec["name"]}"' in html


def test_load_builtin_schemas_matches_the_files():
    assert [s["id"] for s in load_builtin_schemas()] == [p.stem for p in SHIPPED]
