"""Every field type of forms/fields.py: parsing, constraints, Chinese messages, answers,
display text and spreadsheet cells. Each test writes its one-field form inline."""

import io
from datetime import datetime
from decimal import Decimal

import pytest
from flask import Flask
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict

from forms.builder import (
    build_form_class,
    collect_answers,
    new_submission_id,
    set_project_choices,
)
from forms.fields import (
    FIELD_TYPES,
    UnknownFieldType,
    cell_value,
    field_type,
    format_value,
    plain_number,
)
from forms.loader import SchemaError, check_schema


@pytest.fixture
def form_app():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):
        yield app


def submit(spec, data=None):
    """Build a one-field form for ``spec``, post ``data`` and validate.
    Returns (ok, errors of the field, answers, uploads)."""
    schema = check_schema({"id": "one", "title": "t", "description": "", "fields": [spec]})
    formdata = MultiDict({"submission_id": new_submission_id()})
    for key, value in (data or {}).items():
        for item in value if isinstance(value, list) else [value]:
            formdata.add(key, item)
    form = build_form_class(schema)(formdata=formdata)
    ok = form.validate()
    answers, uploads = collect_answers(form, schema) if ok else (None, None)
    return ok, form[spec["name"]].errors, answers, uploads


def answer(spec, value):
    ok, errors, answers, _ = submit(spec, {spec["name"]: value})
    assert ok, errors
    return answers[spec["name"]]


def error(spec, value):
    ok, errors, _, _ = submit(spec, {spec["name"]: value} if value is not None else {})
    assert not ok
    return errors[0]


def spec_of(kind, **extra):
    return {"name": "f", "type": kind, "label": "字段", **extra}


def test_registry_has_exactly_the_contract_types():
    assert set(FIELD_TYPES) == {"text", "textarea", "integer", "decimal", "date", "month",
                                "select", "multiselect", "boolean", "phone", "image",
                                "section", "repeat", "project"}


def test_unknown_type_is_an_error():
    with pytest.raises(UnknownFieldType):
        field_type("selct")
    schema = {"id": "x1", "title": "t", "description": "",
              "fields": [{"name": "a", "type": "selct", "label": "a"}]}
    with pytest.raises(SchemaError) as info:
        build_form_class(schema)
    assert info.value.path == "fields[0].type"


# ---------------------------------------------------------------- required / optional

@pytest.mark.parametrize("kind, extra", [
    ("text", {}), ("textarea", {}), ("integer", {}), ("decimal", {}), ("date", {}),
    ("month", {}), ("phone", {}), ("select", {"choices": ["a"]}),
    ("multiselect", {"choices": ["a"]}),
])
def test_required_missing_or_blank_says_so_in_chinese(form_app, kind, extra):
    spec = spec_of(kind, required=True, **extra)
    assert error(spec, None) == "此项为必填项"
    if kind != "multiselect":
        assert error(spec, "   ") == "此项为必填项"


@pytest.mark.parametrize("kind, extra", [
    ("text", {}), ("textarea", {}), ("integer", {"min": 1}), ("decimal", {"min": 1}),
    ("date", {"min": "2024-01-01"}), ("month", {}), ("phone", {}),
    ("select", {"choices": ["a"]}), ("multiselect", {"choices": ["a"], "min": 1}),
    ("image", {}),
])
def test_optional_empty_is_none_and_skips_constraints(form_app, kind, extra):
    spec = spec_of(kind, **extra)
    ok, errors, answers, uploads = submit(spec, {"f": ""} if kind != "multiselect" else {})
    assert ok, errors
    assert answers == {"f": None}
    assert uploads == {}


def test_required_zero_is_accepted(form_app):
    # DataRequired would reject 0; InputRequired-style checking must not.
    assert answer(spec_of("integer", required=True), "0") == 0
    assert answer(spec_of("decimal", required=True), "0") == "0"


def test_a_missing_key_never_falls_back_to_the_default(form_app):
    ok, errors, _, _ = submit(spec_of("text", required=True, default="默认"), {})
    assert not ok and errors == ["此项为必填项"]
    assert answer(spec_of("select", choices=["a", "b"], default="a"), "") is None


# ---------------------------------------------------------------- text / textarea

def test_text_is_stripped_and_measured_in_characters(form_app):
    spec = spec_of("text", min_length=2, max_length=5)
    assert answer(spec, "  书记项目  ") == "书记项目"
    assert error(spec, "书") == "至少 2 字"
    assert error(spec, "一二三四五六") == "最多 5 字(现有 6 字)"


@pytest.mark.parametrize("kind,cap", [("text", 200), ("textarea", 5000)])
def test_text_without_max_length_has_a_default_cap(form_app, kind, cap):
    spec = spec_of(kind)
    assert answer(spec, "党" * cap) == "党" * cap
    assert error(spec, "党" * (cap + 1)) == f"最多 {cap} 字(现有 {cap + 1} 字)"


def test_text_drops_control_characters(form_app):
    assert answer(spec_of("textarea"), "第一行\r\n第二行\x00\x07\r第三行\t") == "第一行\n第二行\n第三行"


def test_text_pattern_is_a_full_match_with_custom_message(form_app):
    spec = spec_of("text", pattern=r"XM-\d{4}", pattern_message="格式为 XM-四位数字")
    assert answer(spec, "XM-2024") == "XM-2024"
    assert error(spec, "XM-2024x") == "格式为 XM-四位数字"
    assert error(spec_of("text", pattern=r"\d+"), "12a") == "格式不正确"


def test_textarea_keeps_lines_and_normalizes_newlines(form_app):
    spec = spec_of("textarea", max_length=200)
    assert answer(spec, " 第一行\r\n第二行 ") == "第一行\n第二行"
    assert error(spec, "字" * 201) == "最多 200 字(现有 201 字)"


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("raw, value", [
    ("12", 12), ("-3", -3), ("+7", 7), (" 42 ", 42), ("１２", 12), ("1,000", 1000),
])
def test_integer_parses(form_app, raw, value):
    assert answer(spec_of("integer"), raw) == value


@pytest.mark.parametrize("raw, message", [
    ("abc", "请输入整数"), ("1.5", "请输入整数"), ("1e3", "请输入整数"), ("十二", "请输入整数"),
    ("1,00", "请输入整数"), ("1" * 16, "数值过大"),
])
def test_integer_rejects(form_app, raw, message):
    assert error(spec_of("integer"), raw) == message


def test_integer_range(form_app):
    spec = spec_of("integer", min=0, max=100)
    assert error(spec, "-1") == "不能小于 0"
    assert error(spec, "101") == "不能大于 100"
    assert answer(spec, "100") == 100


@pytest.mark.parametrize("raw, value", [
    ("12.50", "12.5"), ("100", "100"), (".5", "0.5"), ("-0.0", "0"), ("1,234.5", "1234.5"),
    ("３．５", "3.5"), ("3。5", "3.5"), ("0.000001", "0.000001"),
])
def test_decimal_is_stored_as_normalized_string(form_app, raw, value):
    assert answer(spec_of("decimal"), raw) == value


@pytest.mark.parametrize("raw", ["NaN", "nan", "Infinity", "-inf", "1e5", "abc", "1.2.3", "--1"])
def test_decimal_rejects_nan_infinity_and_junk(form_app, raw):
    assert error(spec_of("decimal"), raw) == "请输入数字"


def test_decimal_range_uses_exact_decimals(form_app):
    spec = spec_of("decimal", min=0.1, max=2.5)
    assert error(spec, "0.09") == "不能小于 0.1"
    assert error(spec, "2.51") == "不能大于 2.5"
    assert answer(spec, "0.1") == "0.1"


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("raw, value", [
    ("2024-05-01", "2024-05-01"), ("2024/5/1", "2024-05-01"), ("2024年5月1日", "2024-05-01"),
    ("2024.05.01", "2024-05-01"), ("2024-02-29", "2024-02-29"),
])
def test_date_parses(form_app, raw, value):
    assert answer(spec_of("date"), raw) == value


@pytest.mark.parametrize("raw", ["2023-02-29", "2024-13-01", "01/05/2024", "昨天", "2024-5"])
def test_date_rejects(form_app, raw):
    assert error(spec_of("date"), raw) == "请输入正确的日期,例如 2024-05-01"


def test_date_range(form_app):
    spec = spec_of("date", min="2024-01-01", max="2024-12-31")
    assert error(spec, "2023-12-31") == "不能早于 2024-01-01"
    assert error(spec, "2025-01-01") == "不能晚于 2024-12-31"
    assert answer(spec, "2024-12-31") == "2024-12-31"


@pytest.mark.parametrize("raw, value", [
    ("2024-05", "2024-05"), ("2024/5", "2024-05"), ("2024年5月", "2024-05"), ("2024.12", "2024-12"),
])
def test_month_parses(form_app, raw, value):
    assert answer(spec_of("month"), raw) == value


@pytest.mark.parametrize("raw", ["2024-13", "2024-00", "2024-05-01", "五月"])
def test_month_rejects(form_app, raw):
    assert error(spec_of("month"), raw) == "请输入正确的月份,例如 2024-05"


def test_month_range(form_app):
    spec = spec_of("month", min="2024-03", max="2024-10")
    assert error(spec, "2024-02") == "不能早于 2024-03"
    assert error(spec, "2024-11") == "不能晚于 2024-10"


# ---------------------------------------------------------------- choices

CATEGORIES = [{"value": "reform", "label": "党建改革创新类"}, {"value": "develop", "label": "党建引领发展类"}]


def test_select_accepts_a_choice_value_only(form_app):
    spec = spec_of("select", choices=CATEGORIES, required=True)
    assert answer(spec, "develop") == "develop"
    assert error(spec, "党建引领发展类") == "请选择有效的选项"
    assert error(spec, "zzz") == "请选择有效的选项"


def test_multiselect_answers_in_choice_order_without_duplicates(form_app):
    spec = spec_of("multiselect", choices=["a", "b", "c"])
    assert answer(spec, ["c", "a", "c"]) == ["a", "c"]
    assert error(spec, ["a", "x"]) == "请选择有效的选项"


def test_multiselect_min_max_count(form_app):
    spec = spec_of("multiselect", choices=["a", "b", "c"], min=2, max=2)
    assert error(spec, ["a"]) == "至少选择 2 项"
    assert error(spec, ["a", "b", "c"]) == "最多选择 2 项"
    assert answer(spec, ["b", "a"]) == ["a", "b"]


# ---------------------------------------------------------------- boolean

def test_required_boolean_must_be_ticked(form_app):
    spec = spec_of("boolean", required=True)
    assert error(spec, None) == "请勾选此项"
    assert error(spec, "false") == "请勾选此项"
    assert answer(spec, "y") is True


def test_optional_boolean_is_true_or_false_never_none(form_app):
    spec = spec_of("boolean", default=True)
    assert answer(spec, "y") is True
    ok, _, answers, _ = submit(spec, {})
    assert ok and answers == {"f": False}


# ---------------------------------------------------------------- phone

@pytest.mark.parametrize("raw", ["13800138000", "138 0013 8000", "138-0013-8000",
                                 "+86 138 0013 8000", "008613800138000", "１３８００１３８０００"])
def test_phone_is_normalized(form_app, raw):
    assert answer(spec_of("phone"), raw) == "13800138000"


@pytest.mark.parametrize("raw", ["12345678901", "1380013800", "138001380001", "23800138000",
                                 "0551-1234567", "abc"])
def test_phone_rejects(form_app, raw):
    assert error(spec_of("phone"), raw) == "请输入正确的手机号码"


# ---------------------------------------------------------------- image

def image_bytes(fmt="PNG", size=(40, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def upload(data, filename="photo.png", content_type="image/png"):
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


@pytest.mark.parametrize("fmt, content_type", [
    ("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif"),
])
def test_image_accepts_real_photos_and_detects_the_type(form_app, fmt, content_type):
    data = image_bytes(fmt)
    ok, errors, answers, uploads = submit(spec_of("image", required=True),
                                          {"f": upload(data, "C:\\fakepath\\现场.jpg",
                                                       "application/octet-stream")})
    assert ok, errors
    assert answers == {"f": {"name": "现场.jpg", "size": len(data), "content_type": content_type}}
    assert uploads["f"].read() == data  # the stream is rewound for storage


@pytest.mark.parametrize("data", [b"GIF89a not really", b"just text", image_bytes("BMP")])
def test_image_rejects_fakes_and_other_formats(form_app, data):
    message = error(spec_of("image"), upload(data, "x.gif", "image/gif"))
    assert message == "请上传 JPG、PNG、WEBP 或 GIF 格式的照片"


def test_image_size_limit_comes_from_config(form_app):
    data = image_bytes("PNG", (400, 400))
    form_app.config["IMAGE_MAX_BYTES"] = len(data) - 1
    message = error(spec_of("image"), upload(data))
    assert message.startswith("照片不能超过")
    form_app.config["IMAGE_MAX_BYTES"] = len(data)
    assert answer(spec_of("image"), upload(data))["size"] == len(data)


def test_required_image_missing(form_app):
    spec = spec_of("image", required=True)
    assert error(spec, None) == "请上传照片"
    assert error(spec, upload(b"", filename="")) == "请上传照片"


# ---------------------------------------------------------------- format_value / cell_value

DISPLAY = [
    (spec_of("text"), "文字", "文字", "文字"),
    (spec_of("text", unit="个"), "3", "3 个", "3"),
    (spec_of("textarea"), "a\nb", "a\nb", "a\nb"),
    (spec_of("integer", unit="人"), 12, "12 人", 12),
    (spec_of("decimal", unit="万元"), "12.5", "12.5 万元", 12.5),
    (spec_of("decimal"), "100", "100", 100),
    (spec_of("date"), "2024-05-01", "2024-05-01", "2024-05-01"),
    (spec_of("month"), "2024-05", "2024-05", "2024-05"),
    (spec_of("select", choices=CATEGORIES), "develop", "党建引领发展类", "党建引领发展类"),
    (spec_of("select", choices=CATEGORIES), "gone", "gone", "gone"),
    (spec_of("multiselect", choices=CATEGORIES), ["reform", "develop"],
     "党建改革创新类、党建引领发展类", "党建改革创新类、党建引领发展类"),
    (spec_of("boolean"), True, "是", "是"),
    (spec_of("boolean"), False, "否", "否"),
    (spec_of("phone"), "13800138000", "13800138000", "13800138000"),
    (spec_of("image"), {"file": "a1.jpg", "name": "现场.jpg", "size": 1, "content_type": "image/jpeg"},
     "现场.jpg", "现场.jpg"),
    ({"name": "r", "type": "repeat", "label": "r", "fields": []}, [{}, {}], "2 条", "2 条"),
    ({"name": "s", "type": "section", "label": "s"}, None, "", None),
    (spec_of("integer"), None, "", None),
    (spec_of("multiselect", choices=["a"]), None, "", None),
    (spec_of("project"), "12", "12", "12"),  # ids become titles a step later, not here
    (spec_of("project"), None, "", None),
]


@pytest.mark.parametrize("spec, value, text, cell", DISPLAY)
def test_format_value_and_cell_value(spec, value, text, cell):
    assert format_value(spec, value) == text
    result = cell_value(spec, value)
    assert result == cell and type(result) is type(cell)


def test_display_survives_answers_from_another_version():
    assert format_value(spec_of("integer"), "not a number") == "not a number"
    assert cell_value(spec_of("decimal"), "abc") == "abc"
    assert format_value(spec_of("multiselect", choices=["a"]), "a") == "a"
    assert format_value({"name": "f", "type": "unknown", "label": "x"}, 3) == "3"


def test_plain_number():
    assert plain_number(Decimal("12.50")) == "12.5"
    assert plain_number(Decimal("1E+2")) == "100"
    assert plain_number(0.1) == "0.1"
    assert plain_number(-0.0) == "0"


def test_json_style_values_go_through_the_same_parsing(form_app):
    # Flask-WTF turns a JSON body into a MultiDict of non-string values.
    assert answer(spec_of("integer"), 12) == 12
    assert answer(spec_of("decimal"), 2.5) == "2.5"
    assert answer(spec_of("boolean"), True) is True


def test_a_file_posted_as_text_is_no_answer(form_app):
    spec = spec_of("text", required=True)
    assert error(spec, FileStorage(io.BytesIO(b"x"), filename="x.txt")) == "此项为必填项"


# ---------------------------------------------------------------- project

PROJECTS = [("12", "流转撂荒地种黄精"), (15, "村史馆建设")]


def submit_report(data, choices=None, required=True, **top):
    """A monthly-report-like form with one project field; ``choices`` given to this instance
    (None: never set). Returns (ok, errors of the project field, answers, form)."""
    schema = check_schema({"id": "report", "title": "t", "description": "",
                           "project": {"role": "report"}, **top,
                           "fields": [spec_of("project", required=required)]})
    formdata = MultiDict({"submission_id": new_submission_id(), **data})
    form = build_form_class(schema)(formdata=formdata)
    if choices is not None:
        set_project_choices(form, choices)
    ok = form.validate()
    answers = collect_answers(form, schema)[0] if ok else None
    return ok, form["f"].errors, answers, form


def test_project_answer_is_one_of_the_offered_ids_as_text(form_app):
    ok, errors, answers, _ = submit_report({"f": "15"}, PROJECTS)
    assert ok, errors
    assert answers == {"f": "15"}


@pytest.mark.parametrize("value", ["13", "12 ", "abc", "-1", "012"])
def test_project_refuses_a_value_not_offered(form_app, value):
    ok, errors, _, _ = submit_report({"f": value}, PROJECTS)
    if value == "12 ":  # stripped like every select value
        assert ok, errors
        return
    assert not ok
    assert errors == ["请选择本村（单位）的项目"]


def test_project_without_choices_offers_none(form_app):
    ok, errors, _, form = submit_report({"f": "12"})
    assert not ok and errors == ["请选择本村（单位）的项目"]
    ok, errors, _, _ = submit_report({})
    assert not ok and errors == ["本村（单位）还没有已立项的项目，请先申报"]
    ok, errors, _, _ = submit_report({"f": ""}, [])
    assert not ok and errors == ["本村（单位）还没有已立项的项目，请先申报"]
    assert [c.value for c in form["f"].iter_choices()] == [""]


def test_project_required_as_for_select(form_app):
    ok, errors, _, _ = submit_report({"f": " "}, PROJECTS)
    assert not ok and errors == ["此项为必填项"]
    ok, errors, answers, _ = submit_report({}, PROJECTS, required=False)
    assert ok and answers == {"f": None}
    ok, errors, _, _ = submit_report({"f": "99"}, [], required=False)
    assert not ok and errors == ["请选择本村（单位）的项目"]


def test_project_choices_belong_to_one_form_instance(form_app):
    _, _, _, first = submit_report({"f": "12"}, PROJECTS)
    _, _, _, second = submit_report({"f": "12"})
    assert [(c.value, c.label) for c in first["f"].iter_choices()] == [
        ("", "请选择项目"), ("12", "流转撂荒地种黄精"), ("15", "村史馆建设")]
    assert [c.selected for c in first["f"].iter_choices()] == [False, True, False]
    assert [c.value for c in second["f"].iter_choices()] == [""]
    assert "村史馆建设" in first["f"]() and "村史馆建设" not in second["f"]()


# ---------------------------------------------------------------- the period field

@pytest.fixture
def today(monkeypatch):
    """The stores' clock (storage.common.now) at 2026-11-20 10:00."""
    from storage import common

    monkeypatch.setattr(common, "now", lambda: datetime(2026, 11, 20, 10).astimezone())


def submit_period(period, field, value):
    schema = check_schema({"id": "monthly", "title": "t", "description": "", "period": period,
                           "fields": [field]})
    formdata = MultiDict({"submission_id": new_submission_id(), field["name"]: value})
    form = build_form_class(schema)(formdata=formdata)
    ok = form.validate()
    return ok, form[field["name"]].errors


MONTH = {"name": "report_month", "type": "month", "label": "报告月份"}


@pytest.mark.parametrize("period, field, value, message", [
    ({"every": "month", "field": "report_month"}, MONTH, "2026-11", None),
    ({"every": "month", "field": "report_month"}, MONTH, "2025-12", None),
    ({"every": "month", "field": "report_month"}, MONTH, "", None),
    ({"every": "month", "field": "report_month"}, MONTH, "2026-12", "不能填报未来的月份"),
    ({"every": "month", "field": "report_month", "year": 2026}, MONTH, "2025-12",
     "报告月份必须在 2026 年内"),
    ({"every": "month", "field": "report_month", "year": 2026}, MONTH, "2026-01", None),
    ({"every": "month", "field": "d"}, {"name": "d", "type": "date", "label": "日期"},
     "2026-12-01", "不能填报未来的月份"),
    ({"every": "month", "field": "d"}, {"name": "d", "type": "date", "label": "日期"},
     "2026-11-30", None),
    ({"every": "year", "field": "y"}, {"name": "y", "type": "integer", "label": "年度"},
     "2027", "不能填报未来的年份"),
    ({"every": "year", "field": "y"}, {"name": "y", "type": "integer", "label": "年度"},
     "26", "请填写正确的报告年份，例如 2026"),
    ({"every": "year", "field": "y", "year": 2025},
     {"name": "y", "type": "integer", "label": "年度"}, "2026", "报告年份必须是 2025 年"),
    ({"every": "year", "field": "report_month"}, MONTH, "2026-12", None),
    ({"every": "year", "field": "report_month"}, MONTH, "2027-01", "不能填报未来的年份"),
])
def test_the_period_field_takes_only_the_form_s_periods(form_app, today, period, field, value,
                                                        message):
    ok, errors = submit_period(period, field, value)
    assert (ok, errors) == ((True, []) if message is None else (False, [message]))


def test_a_bad_month_is_a_parse_error_not_a_period_error(form_app, today):
    ok, errors = submit_period({"every": "month", "field": "report_month"}, MONTH, "2026-13")
    assert not ok and errors == ["请输入正确的月份,例如 2024-05"]


def test_without_a_period_a_future_month_is_fine(form_app, today):
    ok, errors = submit_period({"every": "month"}, MONTH, "2030-01")
    assert ok, errors
