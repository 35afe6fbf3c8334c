"""seed_data/demo_answers.fake_answers produces answers that obey every shipped schema.

The checks here are written independently of forms/ (from the answer table in
docs/ARCHITECTURE.md), so demo data cannot silently drift from the contract.
"""

import datetime
import json
import pathlib
import random
import re
from decimal import Decimal, InvalidOperation

import pytest

from seed_data.demo_answers import fake_answers, to_formdata

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = range(50)
SCHEMA_FILES = sorted(p for p in (ROOT / "schemas").glob("*.json")
                      if p.name != "meta.schema.json")




def _values(spec):
    return [c["value"] if isinstance(c, dict) else c for c in spec.get("choices") or []]


def _shown(spec, answers):
    cond = spec.get("show_if")
    if not cond:
        return True
    if cond["field"] not in answers:
        return False
    value = answers[cond["field"]]
    if isinstance(value, list):
        if "equals" in cond:
            return cond["equals"] in value
        return any(v in cond["in"] for v in value)
    if value is None:
        return False
    if "equals" in cond:
        return value == cond["equals"] and type(value) is type(cond["equals"])
    return value in cond["in"]


def _problems(fields, answers, where):
    """Every way ``answers`` breaks the contract for ``fields`` (empty list when fine)."""
    out = []
    if not isinstance(answers, dict):
        return [f"{where}: answers are {type(answers).__name__}, not dict"]
    known = {f["name"] for f in fields if f["type"] not in ("section", "image")}
    for key in answers:
        if key not in known:
            out.append(f"{where}.{key}: not a value field of the schema")
    for spec in fields:
        name, ftype = spec["name"], spec["type"]
        at = f"{where}.{name}"
        if ftype in ("section", "image"):
            continue
        if not _shown(spec, answers):
            if name in answers:
                out.append(f"{at}: hidden by show_if but present")
            continue
        if name not in answers:
            out.append(f"{at}: shown but absent")
            continue
        value = answers[name]
        if ftype == "boolean":
            if not isinstance(value, bool):
                out.append(f"{at}: {value!r} is not a bool")
            elif spec.get("required") and value is not True:
                out.append(f"{at}: required boolean (承诺) not checked")
            continue
        if ftype == "repeat":
            if not isinstance(value, list):
                out.append(f"{at}: repeat value {value!r} is not a list")
                continue
            low = spec.get("min_items") or 0
            if spec.get("required"):
                low = max(low, 1)
            if len(value) < low or len(value) > spec.get("max_items", 10**9):
                out.append(f"{at}: {len(value)} rows outside [{low}, {spec.get('max_items')}]")
            for i, row in enumerate(value):
                out += _problems(spec["fields"], row, f"{at}[{i}]")
            continue
        if ftype == "project":
            # Demo data opens no projects, so a project field names none (even a required one).
            if value is not None:
                out.append(f"{at}: {value!r} names a project, and demo data has none")
            continue
        if value is None:
            if spec.get("required"):
                out.append(f"{at}: required but empty")
            continue
        out += _check_value(spec, value, at)
    return out


def _check_value(spec, value, at):
    ftype = spec["type"]
    if ftype in ("text", "textarea"):
        if not isinstance(value, str) or value != value.strip() or not value:
            return [f"{at}: {value!r} is not a stripped non-empty str"]
        if len(value) > spec.get("max_length", 10**9):
            return [f"{at}: longer than max_length {spec['max_length']}"]
        if len(value) < spec.get("min_length", 0):
            return [f"{at}: shorter than min_length {spec['min_length']}"]
        if spec.get("pattern") and not re.fullmatch(spec["pattern"], value):
            return [f"{at}: {value!r} does not match {spec['pattern']}"]
        return []
    if ftype == "integer":
        if type(value) is not int:
            return [f"{at}: {value!r} is not an int"]
        number = value
    elif ftype == "decimal":
        if not isinstance(value, str) or not re.fullmatch(r"-?(0|[1-9]\d*)(\.\d*[1-9])?", value):
            return [f"{at}: {value!r} is not a normalized decimal string"]
        try:
            number = Decimal(value)
        except InvalidOperation:
            return [f"{at}: {value!r} is not a decimal"]
    elif ftype == "date":
        try:
            datetime.date.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{at}: {value!r} is not YYYY-MM-DD"]
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return [f"{at}: {value!r} is not YYYY-MM-DD"]
        number = value  # ISO strings compare in date order
    elif ftype == "month":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            return [f"{at}: {value!r} is not YYYY-MM"]
        number = value
    elif ftype == "select":
        return [] if value in _values(spec) else [f"{at}: {value!r} is not a choice"]
    elif ftype == "multiselect":
        choices = _values(spec)
        if not isinstance(value, list) or any(v not in choices for v in value):
            return [f"{at}: {value!r} is not a list of choices"]
        if value != [c for c in choices if c in value]:
            return [f"{at}: {value!r} not in choice order (or repeated)"]
        if spec.get("required") and not value:
            return [f"{at}: required but nothing selected"]
        number = len(value)
    elif ftype == "phone":
        ok = isinstance(value, str) and re.fullmatch(r"1[3-9]\d{9}", value)
        return [] if ok else [f"{at}: {value!r} is not a mainland mobile number"]
    else:
        return [f"{at}: unexpected type {ftype!r}"]
    out = []
    if "min" in spec and number < (Decimal(str(spec["min"])) if ftype == "decimal" else spec["min"]):
        out.append(f"{at}: {value!r} below min {spec['min']}")
    if "max" in spec and number > (Decimal(str(spec["max"])) if ftype == "decimal" else spec["max"]):
        out.append(f"{at}: {value!r} above max {spec['max']}")
    return out


def _all_specs(fields):
    for spec in fields:
        yield spec
        if spec["type"] == "repeat":
            yield from spec["fields"]


def test_builtin_schemas_exist():
    ids = {p.stem for p in SCHEMA_FILES}
    assert {"apply_reform", "apply_development", "apply_organ", "apply_culture",
            "leader_matter", "monthly_report", "acceptance", "doctor_registration",
            "public_demand"} <= ids


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_answers_obey_builtin_schema(path):
    schema = json.loads(path.read_text("utf-8"))
    problems = []
    for seed in SEEDS:
        answers = fake_answers(schema, random.Random(seed))
        json.dumps(answers)  # storable as JSON
        problems += _problems(schema["fields"], answers, f"seed {seed}")
    assert problems == []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_every_field_gets_a_value_over_the_seeds(path):
    """No field is dead in demo data: each show_if branch and optional field shows up."""
    schema = json.loads(path.read_text("utf-8"))
    filled = set()
    for seed in SEEDS:
        answers = fake_answers(schema, random.Random(seed))
        for name, value in answers.items():
            if value not in (None, [], False):
                filled.add(name)
            if isinstance(value, list):
                for row in value:
                    if isinstance(row, dict):
                        filled |= {f"{name}.{k}" for k, v in row.items() if v is not None}
    expected = set()
    for spec in schema["fields"]:
        if spec["type"] in ("section", "image", "project"):  # project: see _problems
            continue
        expected.add(spec["name"])
        if spec["type"] == "repeat":
            expected |= {f"{spec['name']}.{sub['name']}" for sub in spec["fields"]}
    assert expected - filled == set()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_same_seed_same_answers(path):
    schema = json.loads(path.read_text("utf-8"))
    assert fake_answers(schema, random.Random(7)) == fake_answers(schema, random.Random(7))
    assert any(fake_answers(schema, random.Random(7)) != fake_answers(schema, random.Random(s))
               for s in range(8, 12))


def test_builtin_text_is_chinese():
    schema = json.loads((ROOT / "schemas" / "apply_development.json").read_text("utf-8"))
    for seed in SEEDS:
        answers = fake_answers(schema, random.Random(seed))
        assert re.search(r"[\u4e00-\u9fff]", answers["project_name"])
        assert re.search(r"[\u4e00-\u9fff]", answers["secretary_name"])
        months = [row["month"] for row in answers["steps"]]
        assert months == sorted(months)


GENERIC = {
    "id": "generic_test",
    "title": "通用测试表",
    "description": "覆盖每种字段类型和约束。",
    "fields": [
        {"name": "intro", "type": "section", "label": "说明"},
        {"name": "code", "type": "text", "label": "编号", "required": True,
         "pattern": r"^[A-Z]{2}-\d{4}$", "pattern_message": "如 AB-1234"},
        {"name": "short", "type": "text", "label": "简称", "min_length": 4, "max_length": 6},
        {"name": "note", "type": "textarea", "label": "备注", "required": True,
         "min_length": 30, "max_length": 40},
        {"name": "count", "type": "integer", "label": "数量", "required": True, "min": 7, "max": 9},
        {"name": "ratio", "type": "decimal", "label": "比例", "required": True,
         "min": 0.5, "max": 0.7},
        {"name": "big", "type": "decimal", "label": "金额", "min": -5},
        {"name": "day", "type": "date", "label": "日期", "required": True,
         "min": "2030-02-03", "max": "2030-02-05"},
        {"name": "ym", "type": "month", "label": "月份", "required": True,
         "min": "2031-11", "max": "2032-01"},
        {"name": "kind", "type": "select", "label": "类型", "required": True,
         "choices": [{"value": "a", "label": "甲"}, {"value": "b", "label": "乙"}]},
        {"name": "tags", "type": "multiselect", "label": "标签", "required": True,
         "min": 2, "max": 2, "choices": ["x", "y", "z", "w"]},
        {"name": "only_a", "type": "text", "label": "甲类说明", "required": True,
         "show_if": {"field": "kind", "equals": "a"}},
        {"name": "only_xy", "type": "integer", "label": "标签数", "required": True,
         "show_if": {"field": "tags", "in": ["x", "y"]}},
        {"name": "agree", "type": "boolean", "label": "同意", "required": True},
        {"name": "flag", "type": "boolean", "label": "标记"},
        {"name": "flag_note", "type": "text", "label": "标记说明", "required": True,
         "show_if": {"field": "flag", "equals": True}},
        {"name": "chained", "type": "text", "label": "连带", "required": True,
         "show_if": {"field": "only_a", "in": ["不会出现"]}},
        {"name": "mobile", "type": "phone", "label": "手机"},
        {"name": "pic", "type": "image", "label": "照片", "required": True},
        {"name": "rows", "type": "repeat", "label": "明细", "min_items": 2, "max_items": 3,
         "fields": [
             {"name": "when", "type": "month", "label": "月份", "required": True},
             {"name": "has", "type": "boolean", "label": "有无"},
             {"name": "what", "type": "text", "label": "内容", "required": True,
              "max_length": 3, "show_if": {"field": "has", "equals": True}},
             {"name": "kind", "type": "select", "label": "类型", "choices": ["一", "二"]},
         ]},
    ],
}


def test_generic_schema_every_type_and_constraint():
    problems = []
    for seed in range(200):
        answers = fake_answers(GENERIC, random.Random(seed))
        assert "intro" not in answers and "pic" not in answers
        assert "chained" not in answers
        problems += _problems(GENERIC["fields"], answers, f"seed {seed}")
    assert problems == []


def test_checker_catches_bad_answers():
    """The checker above is what gives these tests teeth: make sure it can fail."""
    good = fake_answers(GENERIC, random.Random(1))
    assert _problems(GENERIC["fields"], good, "g") == []
    bad_cases = [
        dict(good, count=10), dict(good, ratio="0.50"), dict(good, day="2030-02-06"),
        dict(good, ym="2031-10"), dict(good, kind="甲"), dict(good, tags=["y", "x"]),
        dict(good, agree=False), dict(good, mobile="12345678901"), dict(good, pic={}),
        dict(good, code="ab-1234"), dict(good, note="短"), dict(good, rows=good["rows"][:1]),
        {k: v for k, v in good.items() if k != "note"},
    ]
    for bad in bad_cases:
        assert _problems(GENERIC["fields"], bad, "b"), bad


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_answers_survive_the_real_form_builder(path):
    """Posting the demo answers through forms.builder validates and collects them back unchanged."""
    builder = pytest.importorskip("forms.builder")
    loader = pytest.importorskip("forms.loader")
    from flask import Flask
    from werkzeug.datastructures import MultiDict

    schema = loader.load_schema_file(path)
    image_names = {f["name"] for f in schema["fields"] if f["type"] == "image"}
    project_names = [f["name"] for f in schema["fields"] if f["type"] == "project"]
    form_class = builder.build_form_class(schema)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False)
    for seed in range(20):
        answers = fake_answers(schema, random.Random(seed))
        # Demo data names no project; the page offers the organization's own, here one.
        answers.update({name: "7" for name in project_names})
        data = MultiDict(to_formdata(schema["fields"], answers)
                         + [("submission_id", builder.new_submission_id())])
        with app.test_request_context(method="POST"):
            form = form_class(formdata=data)
            builder.set_project_choices(form, [("7", "演示项目")])
            assert form.validate(), (seed, form.errors)
            collected, uploads = builder.collect_answers(form, schema)
        assert uploads == {}
        # A shown photo field nobody filled comes back as None; demo answers leave it out.
        assert {k: v for k, v in collected.items() if k not in image_names} == answers, seed
