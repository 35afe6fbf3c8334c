"""Read and check form schemas: JSON text -> meta-schema (jsonschema) -> semantic checks.

Every failure is one SchemaError naming the source (file or label), the JSON path
("fields[3].type", never translated: the builder maps paths to cards) and the reason, in
Chinese for a county admin, with a near miss when there is one ("未知的字段类型「selct」，
是否想写「select」？"). Key and type names the admin must type stay as they are in the text.
Only the most relevant error is reported: one clear error is more use to an admin than a
wall of them.
"""

import copy
import difflib
import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from forms.fields import CONDITION_TYPES, FIELD_TYPES, ROW_TYPES, field_type, max_length

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
META_SCHEMA_PATH = SCHEMAS_DIR / "meta.schema.json"

_JSON_TYPES = {"object": "一组键值（{…}）", "array": "列表（[…]）", "string": "文字",
               "integer": "整数", "number": "数字", "boolean": "true/false", "null": "null"}

# What each key of the format means, shown after the key: "label（字段标题）".
KEY_NAMES = {
    "id": "表单编号", "title": "表单标题", "description": "表单说明", "stage": "阶段",
    "version": "版本号", "fields": "字段列表", "name": "字段名", "type": "字段类型",
    "label": "字段标题", "hint": "填写说明", "required": "是否必填", "default": "默认值",
    "show_if": "显示条件", "unit": "单位", "min_length": "最少字数", "max_length": "最多字数",
    "pattern": "格式", "pattern_message": "格式不符时的提示", "min": "最小值", "max": "最大值",
    "choices": "选项", "value": "选项的值", "min_items": "最少行数", "max_items": "最多行数",
    "renamed_from": "以前的字段名", "field": "条件字段", "equals": "等于", "in": "属于其中之一",
    "audience": "填报对象", "kinds": "组织类型", "orgs": "组织代码", "period": "报告周期",
    "every": "周期", "due_day": "每月截止日", "due": "截止日期", "year": "年度",
    "unique": "每期只报一份", "project": "项目", "role": "用途", "kind": "项目类型",
    "category": "项目类别", "category_field": "项目类别字段", "workflow": "办理流程",
}

# Keys of the form's ``project`` whose names mean something else elsewhere ("title").
_PROJECT_KEY_NAMES = {"kind": "项目类型", "category": "项目类别", "title": "项目名称字段",
                      "secretary": "书记姓名字段", "steps": "实施步骤字段",
                      "category_field": "项目类别字段"}

# The keys of a choice written as {"value", "label"}.
_CHOICE_KEY_NAMES = {"value": "选项的值", "label": "选项显示的文字"}

# The field types as an admin knows them (the builder's names).
TYPE_NAMES = {
    "text": "单行文字", "textarea": "多行文字", "integer": "整数", "decimal": "数字",
    "date": "日期", "month": "月份", "select": "单选", "multiselect": "多选",
    "boolean": "是/否", "phone": "手机号码", "image": "照片", "section": "分节标题",
    "repeat": "重复组", "project": "项目",
}

# json.JSONDecodeError.msg -> what is wrong, in words an admin understands.
_JSON_MESSAGES = {
    "Expecting value": "此处缺少内容（或多了逗号）",
    "Expecting ',' delimiter": "缺少英文逗号 ,",
    "Expecting ':' delimiter": "缺少英文冒号 :",
    "Expecting property name enclosed in double quotes":
        "此处应为用英文双引号 \" 括起来的键名（或多了逗号）",
    "Unterminated string starting at": "文字缺少结尾的英文双引号 \"",
    "Invalid control character at": "文字中有不允许的字符（如直接换行）",
    "Invalid \\escape": "无效的转义符 \\",
    "Invalid \\uXXXX escape": "无效的转义符 \\u",
    "Extra data": "JSON 已结束，后面还有多余的内容",
}


class SchemaError(Exception):
    """An invalid form schema: ``source`` (file or label), ``path`` ("fields[3].type";
    "" for the document itself) and ``reason``. ``str()`` is "source: path: reason"."""

    def __init__(self, source, path, reason):
        super().__init__(source, path, reason)
        self.source = str(source)
        self.path = path
        self.reason = reason

    def __str__(self):
        if self.path:
            return f"{self.source}: {self.path}: {self.reason}"
        return f"{self.source}: {self.reason}"


@lru_cache(maxsize=1)
def meta_schema():
    """The parsed meta-schema (schemas/meta.schema.json)."""
    with open(META_SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def _validator():
    schema = meta_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def near_miss(word, candidates):
    """"，是否想写「x」？" for a close candidate, else ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"，是否想写「{close[0]}」？" if close else ""


def key_text(key):
    """"label" -> "label（字段标题）": the key as typed, then what it means."""
    return f"{key}（{KEY_NAMES[key]}）" if key in KEY_NAMES else str(key)


def type_text(kind):
    """"text" -> "「text」（单行文字）"."""
    return f"「{kind}」（{TYPE_NAMES[kind]}）" if kind in TYPE_NAMES else f"「{kind}」"


def shown(value):
    """A value as the admin wrote it: a string in 「」, anything else as JSON."""
    if isinstance(value, str):
        return f"「{value}」"
    return json.dumps(value, ensure_ascii=False)


def format_path(parts):
    """["fields", 3, "type"] -> "fields[3].type"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# ---------------------------------------------------------------------------
# Reading


def _reject_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"键「{key}」在同一处出现了两次")
        seen[key] = value
    return seen


def parse_schema_text(text, source="<upload>"):
    """JSON text (str or UTF-8 bytes, BOM allowed) -> Python data; SchemaError (Chinese
    reason, the line and column as the path) on bad JSON or a key given twice in one object."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SchemaError(source, "", "文件不是 UTF-8 编码，请另存为 UTF-8 后再试") from None
    text = text.lstrip("\ufeff")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise SchemaError(source, f"第 {error.lineno} 行第 {error.colno} 列",
                          f"JSON 格式错误：{_JSON_MESSAGES.get(error.msg, error.msg)}") from None
    except ValueError as error:  # from _reject_duplicate_keys
        raise SchemaError(source, "", f"JSON 格式错误：{error}") from None


def load_schema_file(path):
    """Read ``path`` and check it (the form id must equal the file stem); return the
    normalized schema or raise SchemaError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SchemaError(path, "", f"无法读取文件：{_os_reason(error)}") from None
    data = parse_schema_text(raw, source=str(path))
    return check_schema(data, source=str(path), expected_id=path.stem)


def _os_reason(error):
    if isinstance(error, FileNotFoundError):
        return "文件不存在"
    if isinstance(error, PermissionError):
        return "没有读取权限"
    if isinstance(error, IsADirectoryError):
        return "这是一个文件夹，不是文件"
    return error.strerror or str(error)


def load_builtin_schemas():
    """Every schemas/*.json except the meta-schema, checked, sorted by file name."""
    return [load_schema_file(path) for path in sorted(SCHEMAS_DIR.glob("*.json"))
            if path.name != META_SCHEMA_PATH.name]


def check_schema(data, source="<upload>", expected_id=None):
    """Validate ``data`` (a dict, or JSON text) against the meta-schema and the semantic
    rules; return a normalized deep copy. ``expected_id``: the id the form must have
    (the file stem when it came from a file). Raises SchemaError."""
    if isinstance(data, (str, bytes)):
        data = parse_schema_text(data, source)
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        path, reason = _explain(error, data)
        raise SchemaError(source, path, reason)
    if expected_id is not None and data["id"] != expected_id:
        raise SchemaError(source, "id",
                          f"表单编号 id「{data['id']}」应与文件名「{expected_id}」相同")
    _check_scope(source, data["fields"], "fields")
    _check_form_keys(source, data)
    return copy.deepcopy(data)


def schema_problems(data, source="<upload>"):
    """Every problem of ``data`` (a parsed document) that ``check_schema`` would refuse it
    for, as a list of SchemaError (empty: it is valid): each meta-schema violation once (its
    most relevant reason), then, when the structure is right, at most one semantic problem per
    field. For an editor that shows every problem beside its field at once."""
    problems, seen = [], set()
    for error in _validator().iter_errors(data):
        path, reason = _explain(best_match([error]), data)
        if (path, reason) not in seen:
            seen.add((path, reason))
            problems.append(SchemaError(source, path, reason))
    if not problems:
        _check_scope(source, data["fields"], "fields", problems)
        _check_form_keys(source, data, problems)
    return problems


def former_names(spec):
    """The names a field had in earlier versions (its ``renamed_from``) as a list."""
    names = spec.get("renamed_from", [])
    return [names] if isinstance(names, str) else list(names)


# ---------------------------------------------------------------------------
# Turning a jsonschema error into one clear reason


def _parent(data, parts):
    node = data
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _refused_keys(kind):
    """Keys the meta-schema forbids (`false`) for one field type."""
    for rule in meta_schema()["$defs"]["field_body"]["allOf"]:
        if rule["if"]["properties"]["type"].get("const") == kind:
            return {k for k, v in rule["then"].get("properties", {}).items() if v is False}
    return set()


def _in_repeat(parts):
    return list(parts[:1]) == ["fields"] and "fields" in list(parts[1:])


def _explain(error, data):
    parts = list(error.absolute_path)
    path = format_path(parts)
    keyword = error.validator
    instance = error.instance
    key = parts[-1] if parts and isinstance(parts[-1], str) else None

    if "renamed_from" in parts[-2:] and keyword is not None:
        # The meta-schema offers a name or a list of names: say what both must be.
        parts = parts[:parts.index("renamed_from", len(parts) - 2) + 1]
        return format_path(parts), ("renamed_from 应为该字段以前用过的字段名，或这些字段名的"
                                    "列表（不重复；字段名以小写字母开头，只含小写字母、数字和 _，"
                                    "最多 40 个字符）")

    if keyword == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        unknown = extra[0]
        reason = f"不认识的设置项「{unknown}」{near_miss(unknown, allowed)}"
        return format_path(parts + [unknown]), reason

    if keyword is None:  # a `false` subschema: a key this field type does not take
        owner = _parent(data, parts)
        if isinstance(owner, dict) and isinstance(owner.get("type"), str):
            kind = owner["type"]
            refused = _refused_keys(kind)
            bad = next((k for k in owner if k in refused), None)
            if bad is not None:
                return format_path(parts + [bad]), (f"{type_text(kind)}类型的字段不能设置 "
                                                    f"{key_text(bad)}")
        return path, "此处不能有这一项"

    if keyword == "required":
        missing = [k for k in error.validator_value if k not in instance]
        name = missing[0] if missing else error.validator_value[0]
        kind = instance.get("type") if isinstance(instance, dict) else None
        if name in ("choices", "fields") and kind:
            return path, f"{type_text(kind)}类型的字段必须有 {key_text(name)}"
        if "choices" in parts and name in _CHOICE_KEY_NAMES:
            return path, f"缺少必填项 {name}（{_CHOICE_KEY_NAMES[name]}）"
        return path, f"缺少必填项 {key_text(name)}"

    if keyword == "enum" and key == "type":
        allowed = ROW_TYPES if _in_repeat(parts) else FIELD_TYPES
        if instance in FIELD_TYPES and _in_repeat(parts):
            return path, f"重复组里不能放{type_text(instance)}类型的字段"
        return path, f"未知的字段类型{shown(instance)}{near_miss(instance, allowed)}"

    if keyword == "not" and key == "name":
        return path, f"「{instance}」是系统保留的名称（会使表单出错），请换一个字段名"

    if keyword == "pattern":
        if key == "name" or (key == "field" and "show_if" in parts) or (
                parts[:1] in (["period"], ["project"]) and key != "due"):
            return path, (f"「{instance}」不是有效的字段名：须以小写英文字母开头，只含小写字母、"
                          f"数字和 _，最多 40 个字符")
        if key == "id":
            return path, (f"「{instance}」不是有效的表单编号：须以小写英文字母开头，只含小写字母、"
                          f"数字和 _，2 到 64 个字符")
        if key == "due":
            return path, f"「{instance}」格式不对，截止日期应写成 12-31 这样（月-日）"
        if parts[:2] == ["audience", "orgs"]:
            return path, (f"「{instance}」不是有效的组织代码：只含英文字母、数字、- 和 _，"
                          f"最多 32 个字符")
        if key in ("min", "max"):
            owner = _parent(data, parts[:-1]) or {}
            example = "2024-05" if owner.get("type") == "month" else "2024-05-01"
            return path, f"「{instance}」格式不对，应写成 {example} 这样"
        return path, f"{shown(instance)}不符合要求的格式 {error.validator_value}"

    if keyword == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        names = [_JSON_TYPES.get(t, t) for t in expected]
        if names == ["true/false"]:
            names = ["true 或 false"]
        wanted = "、".join(names[:-1]) + "或" + names[-1] if len(names) > 1 else names[0]
        wanted = re.sub(r"(?<=[\u4e00-\u9fff])(?=[a-z])", " ", f"应为{wanted}")
        return path, f"{wanted}，实际是 {json.dumps(instance, ensure_ascii=False)}"

    if keyword == "oneOf" and key == "show_if":
        return path, "显示条件 show_if 须有 equals（等于）或 in（属于其中之一），两者只能选一个"

    if keyword == "dependentRequired":
        return path, "填了 pattern_message（格式不符时的提示），就必须同时填 pattern（格式）"

    if keyword == "minProperties":
        return path, "不能为空"
    if keyword in ("minItems", "minLength"):
        if error.validator_value == 1:
            return path, "不能为空"
        unit = "项" if keyword == "minItems" else "个字符"
        return path, f"太少了（至少 {error.validator_value} {unit}）"
    if keyword == "minimum":
        return path, f"不能小于 {error.validator_value}"
    if keyword == "maximum":
        return path, f"不能大于 {error.validator_value}"
    if keyword == "maxLength":
        return path, f"太长了（最多 {error.validator_value} 个字符）"
    if keyword == "maxItems":
        return path, f"项数太多（最多 {error.validator_value} 项）"
    if keyword == "uniqueItems":
        return path, "列表中有重复的项"
    if keyword in ("enum", "const"):
        values = error.validator_value if keyword == "enum" else [error.validator_value]
        allowed = "、".join(json.dumps(v, ensure_ascii=False) for v in values)
        return path, f"{shown(instance)}不是可用的值（可用：{allowed}）"
    return path, f"不符合表单格式要求（{error.message}）"


# ---------------------------------------------------------------------------
# Semantic checks (what JSON Schema cannot say)


def _check_scope(source, fields, base, problems=None):
    """Names unique in this list; former names (renamed_from) unambiguous; show_if refers to
    an earlier eligible field of the same list; constraints consistent; defaults fit. Recurses
    into repeat rows. Raises the first problem, or, given a ``problems`` list, appends the
    first problem of each field to it and goes on."""
    seen = {}
    eligible = {}
    claimed = {}
    current = {spec["name"]: index for index, spec in enumerate(fields)}
    for index, spec in enumerate(fields):
        path = f"{base}[{index}]"
        name = spec["name"]
        try:
            if name in seen:
                raise SchemaError(source, f"{path}.name", f"字段名「{name}」重复"
                                  f"（已被 {base}[{seen[name]}] 使用）")
            seen[name] = index
            _check_former_names(source, spec, path, base, current, claimed)
            _check_constraints(source, spec, path)
            if "show_if" in spec:
                _check_show_if(source, spec, path, fields, index, eligible)
            if "default" in spec:
                problem = field_type(spec["type"]).default_problem(spec, spec["default"])
                if problem:
                    raise SchemaError(source, f"{path}.default", f"默认值 default 不合适：{problem}")
            if spec["type"] == "repeat":
                _check_scope(source, spec["fields"], f"{path}.fields", problems)
        except SchemaError as error:
            if problems is None:
                raise
            problems.append(error)
        if spec["type"] in CONDITION_TYPES:
            eligible[name] = spec


def _check_former_names(source, spec, path, base, current, claimed):
    """A field's renamed_from: answers stored under each of these names belong to this field
    alone, so a name is neither the field's own, nor a field's of this version, nor claimed by
    two fields of one list."""
    raw = spec.get("renamed_from")
    if raw is None:
        return
    for position, old in enumerate(former_names(spec)):
        where = f"{path}.renamed_from" + ("" if isinstance(raw, str) else f"[{position}]")
        if old == spec["name"]:
            raise SchemaError(source, where, f"「{old}」是该字段现在的名称，不是以前的名称")
        if old in current:
            raise SchemaError(source, where, f"「{old}」是本版本中 {base}[{current[old]}] 的名称；"
                              "以前的名称不能与现有字段重名")
        if old in claimed:
            raise SchemaError(source, where, f"「{old}」已列在 {claimed[old]} 中；"
                              "一个旧名称只能属于一个字段")
        claimed[old] = f"{path}.renamed_from"


def _check_show_if(source, spec, path, fields, index, eligible):
    condition = spec["show_if"]
    target = condition["field"]
    if target == spec["name"]:
        raise SchemaError(source, f"{path}.show_if.field", "显示条件不能引用本字段自己")
    if target not in eligible:
        later = [f for f in fields[index + 1:] if f["name"] == target]
        earlier = [f for f in fields[:index] if f["name"] == target]
        if later:
            reason = f"显示条件引用的「{target}」在本字段之后；只能引用前面的字段"
        elif earlier:
            kind = earlier[0]["type"]
            if kind == "project":
                reason = (f"「{target}」是{type_text(kind)}字段，可选的项目因村（单位）而异；"
                          f"显示条件不能引用它")
            else:
                reason = (f"「{target}」是{type_text(kind)}字段，没有填写的值；显示条件"
                          f"只能引用有值的字段（不能是分节标题、重复组或照片）")
        else:
            reason = f"前面没有名为「{target}」的字段{near_miss(target, eligible)}"
        raise SchemaError(source, f"{path}.show_if.field", reason)
    target_spec = eligible[target]
    ftype = FIELD_TYPES[target_spec["type"]]
    if "equals" in condition:
        values = [("equals", condition["equals"])]
    else:
        values = [(f"in[{i}]", v) for i, v in enumerate(condition["in"])]
    for key, value in values:
        problem = ftype.expected_problem(target_spec, value)
        if problem:
            raise SchemaError(source, f"{path}.show_if.{key}", f"这个显示条件永远不会满足：{problem}")


def _check_constraints(source, spec, path):
    kind = spec["type"]
    ftype = FIELD_TYPES[kind]
    if "min_length" in spec and spec["min_length"] > max_length(spec):
        raise SchemaError(source, f"{path}.min_length",
                          f"最少字数 min_length（{spec['min_length']}）大于最多字数 max_length"
                          f"（{max_length(spec)}{'' if 'max_length' in spec else '，未填时的默认值'}）")
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except re.error as error:
            raise SchemaError(source, f"{path}.pattern",
                              f"格式 pattern 不是有效的正则表达式（{error}）") from None
    if kind in ("date", "month"):
        for key in ("min", "max"):
            if key in spec:
                try:
                    ftype.to_data(spec, spec[key])
                except ValueError as error:
                    raise SchemaError(source, f"{path}.{key}", str(error)) from None
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        raise SchemaError(source, f"{path}.min",
                          f"最小值 min（{spec['min']}）大于最大值 max（{spec['max']}）")
    if "choices" in spec:
        seen = set()
        for index, choice in enumerate(spec["choices"]):
            value = choice if isinstance(choice, str) else choice["value"]
            if value in seen:
                raise SchemaError(source, f"{path}.choices[{index}]",
                                  f"选项的值「{value}」重复")
            seen.add(value)
        if kind == "multiselect" and spec.get("min", 0) > len(seen):
            raise SchemaError(source, f"{path}.min",
                              f"最少选择 min（{spec['min']}）项，多于选项的个数（{len(seen)}）")
    if spec.get("min_items", 0) > spec.get("max_items", float("inf")):
        raise SchemaError(source, f"{path}.min_items",
                          f"最少行数 min_items（{spec['min_items']}）大于最多行数 max_items"
                          f"（{spec['max_items']}）")


# ---------------------------------------------------------------------------
# The form's own keys: period, project, workflow (audience is all meta-schema)


def _check_form_keys(source, data, problems=None):
    """``period`` and ``project`` name top-level fields of the right types, only forms
    about a project have a project field, and a demand workflow has the fields it reads.
    Raises the first problem, or appends each to a given ``problems`` list."""
    for check in (_check_period, _check_project, _check_workflow):
        try:
            check(source, data)
        except SchemaError as error:
            if problems is None:
                raise
            problems.append(error)


def _top_field(source, data, path, name, kinds, what):
    """The top-level field ``name`` (where ``path`` names it) if it is one of ``kinds``."""
    fields = {spec["name"]: spec for spec in data["fields"]
              if FIELD_TYPES[spec["type"]].has_value}
    if name not in fields:
        in_rows = any(name == sub["name"] for spec in data["fields"] if spec["type"] == "repeat"
                      for sub in spec["fields"])
        where = "；它在重复组里，须是表单第一层的字段" if in_rows else near_miss(name, fields)
        raise SchemaError(source, path, f"表单中没有名为「{name}」的字段{where}")
    spec = fields[name]
    if spec["type"] not in kinds:
        names = [type_text(kind) for kind in kinds]
        wanted = "、".join(names[:-1]) + "或" + names[-1] if len(names) > 1 else names[0]
        raise SchemaError(source, path, f"「{name}」是{type_text(spec['type'])}字段；"
                                        f"{what}须是{wanted}字段")
    return spec


def _due_problem(due):
    month, day = (int(part) for part in due.split("-"))
    try:
        date(2001, month, day)  # not a leap year
    except ValueError:
        if (month, day) == (2, 29):
            return "「02-29」不是每年都有的日期，请改用 02-28 或 03-01"
        return f"「{due}」不是真实存在的日期，截止日期应写成 12-31 这样（月-日）"
    return None


def _check_period(source, data):
    period = data.get("period")
    if period is None:
        return
    every = period["every"]
    if "field" in period:
        if every == "once":
            raise SchemaError(source, "period.field", "一次性的表单（every 为 once）只有一个周期，"
                                                      "不能设置 field（周期字段）")
        kinds = ("month", "date") + (("integer",) if every == "year" else ())
        what = "按月报告的周期字段" if every == "month" else "按年报告的周期字段"
        _top_field(source, data, "period.field", period["field"], kinds, what)
    if "due_day" in period and every != "month":
        raise SchemaError(source, "period.due_day", "due_day（每月截止日）只用于按月报告"
                                                    "（every 为 month）的表单；其他表单用 due（截止日期）")
    if "due" in period:
        if every == "month":
            raise SchemaError(source, "period.due", "按月报告的表单用 due_day（每月截止日），"
                                                    "不能设置 due（截止日期）")
        problem = _due_problem(period["due"])
        if problem:
            raise SchemaError(source, "period.due", problem)
        if every == "once" and "year" not in period:
            raise SchemaError(source, "period.due", "一次性的表单设置 due（截止日期）时，须同时设置 "
                                                    "year（年度）")


# The fields a 群众诉求 form's workflow reads (services/demands.py), with the types each may
# have and what it is for; content is required.
DEMAND_FIELDS = {
    "content": (("text", "textarea"), "诉求内容"),
    "category": (("select",), "诉求类别（研判时的类别选项）"),
    "urgency": (("select",), "紧急程度（研判时建议的办结时限）"),
    "follow_up": (("boolean",), "是否需要回访"),
    "collect_date": (("date",), "征集日期"),
}


def _check_workflow(source, data):
    if data.get("workflow") != "demand":
        return
    for key in ("period", "project"):
        if key in data:
            raise SchemaError(source, key, f"群众诉求表单（workflow 为 demand）每件诉求填一份、"
                                           f"逐件办理，不能设置 {key_text(key)}")
    top = {spec["name"]: index for index, spec in enumerate(data["fields"])}
    if "content" not in top:
        raise SchemaError(source, "workflow", "群众诉求表单（workflow 为 demand）须有名为 content "
                                              "的单行文字或多行文字字段（诉求内容），办理页面和列表显示它")
    for name, (kinds, what) in DEMAND_FIELDS.items():
        if name not in top:
            continue
        kind = data["fields"][top[name]]["type"]
        if kind not in kinds:
            names = [type_text(k) for k in kinds]
            wanted = "、".join(names[:-1]) + "或" + names[-1] if len(names) > 1 else names[0]
            raise SchemaError(source, f"fields[{top[name]}].type",
                              f"群众诉求表单的「{name}」字段用作{what}，须是{wanted}字段，"
                              f"实际是{type_text(kind)}")


def _project_key(key):
    return f"{key}（{_PROJECT_KEY_NAMES[key]}）"


def _check_project(source, data):
    project = data.get("project")
    role = project["role"] if project else None
    chosen = [index for index, spec in enumerate(data["fields"]) if spec["type"] == "project"]
    if role in ("report", "acceptance"):
        extra = next((key for key in project if key != "role"), None)
        if extra is not None:
            raise SchemaError(source, f"project.{extra}", f"{_project_key(extra)}只用于申报表"
                                                          f"（role 为 application）")
        if not chosen:
            raise SchemaError(source, "project", f"role 为 {role} 的表单须有一个"
                                                 f"{type_text('project')}类型的字段，用来选择所报的项目")
        if len(chosen) > 1:
            raise SchemaError(source, f"fields[{chosen[1]}].type",
                              f"一个表单只能有一个{type_text('project')}类型的字段"
                              f"（已有 fields[{chosen[0]}]）")
        return
    if chosen:
        raise SchemaError(source, f"fields[{chosen[0]}].type",
                          f"只有 project.role 为 report 或 acceptance 的表单才能有"
                          f"{type_text('project')}类型的字段")
    if role != "application":
        return
    for key in ("kind", "title", "secretary", "steps"):
        if key not in project:
            raise SchemaError(source, "project", f"申报表（role 为 application）须设置 "
                                                 f"{_project_key(key)}")
    if "category" not in project and "category_field" not in project:
        raise SchemaError(source, "project", "申报表（role 为 application）须设置 "
                                             "category（项目类别）或 category_field（项目类别字段）")
    text_like = ("text", "textarea")
    refs = [("title", text_like, True), ("secretary", text_like, True),
            ("steps", ("repeat",), False),
            ("category_field", ("select",), "category" not in project)]
    for key, kinds, needed in refs:
        if key not in project:
            continue
        path = f"project.{key}"
        spec = _top_field(source, data, path, project[key], kinds, _PROJECT_KEY_NAMES[key])
        if needed and (not spec.get("required") or "show_if" in spec):
            raise SchemaError(source, path, f"「{spec['name']}」须为必填（required 为 true）且"
                                            f"不设显示条件：立项时要用它的值")
