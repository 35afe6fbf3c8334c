"""Read and check form schemas: JSON text -> meta-schema (jsonschema) -> semantic checks.

Every failure is one SchemaError naming the source (file or label), the JSON path
("fields[3].type") and the reason, with a near miss when there is one
("'selct' — did you mean 'select'?"). Only the most relevant error is reported:
one clear error is more use to an admin than a wall of them.
"""

import copy
import difflib
import json
import re
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from forms.fields import CONDITION_TYPES, FIELD_TYPES, ROW_TYPES, field_type, max_length

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
META_SCHEMA_PATH = SCHEMAS_DIR / "meta.schema.json"

_JSON_TYPES = {"object": "an object", "array": "a list", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


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
    """" — did you mean 'x'?" for a close candidate, else ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


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
            raise ValueError(f"键 '{key}' 重复出现")
        seen[key] = value
    return seen


def parse_schema_text(text, source="<upload>"):
    """JSON text (str or UTF-8 bytes, BOM allowed) -> Python data; SchemaError (Chinese
    reason, the line and column as the path) on bad JSON or a key given twice in one object."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SchemaError(source, "", "文件不是 UTF-8 编码") from None
    text = text.lstrip("\ufeff")
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise SchemaError(source, f"第 {error.lineno} 行第 {error.colno} 列",
                          f"JSON 格式错误:{error.msg}") from None
    except ValueError as error:  # from _reject_duplicate_keys
        raise SchemaError(source, "", f"JSON 格式错误:{error}") from None


def load_schema_file(path):
    """Read ``path`` and check it (the form id must equal the file stem); return the
    normalized schema or raise SchemaError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SchemaError(path, "", f"cannot read the file: {error.strerror or error}") from None
    data = parse_schema_text(raw, source=str(path))
    return check_schema(data, source=str(path), expected_id=path.stem)


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
                          f"id '{data['id']}' must equal the file name '{expected_id}'")
    _check_scope(source, data["fields"], "fields")
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
        return format_path(parts), ("renamed_from 应为该字段以前用过的字段名,或这些字段名的"
                                    "列表(不重复;字段名以小写字母开头,只含小写字母、数字和 _,"
                                    "最多 40 个字符)")

    if keyword == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        unknown = extra[0]
        reason = f"unknown key '{unknown}'{near_miss(unknown, allowed)}"
        return format_path(parts + [unknown]), reason

    if keyword is None:  # a `false` subschema: a key this field type does not take
        owner = _parent(data, parts)
        if isinstance(owner, dict) and isinstance(owner.get("type"), str):
            kind = owner["type"]
            refused = _refused_keys(kind)
            bad = next((k for k in owner if k in refused), None)
            if bad is not None:
                return format_path(parts + [bad]), f"'{bad}' is not allowed for type '{kind}'"
        return path, error.message

    if keyword == "required":
        missing = [k for k in error.validator_value if k not in instance]
        name = missing[0] if missing else error.validator_value[0]
        kind = instance.get("type") if isinstance(instance, dict) else None
        if name in ("choices", "fields") and kind:
            return path, f"type '{kind}' needs '{name}'"
        return path, f"missing key '{name}'"

    if keyword == "enum" and key == "type":
        allowed = ROW_TYPES if _in_repeat(parts) else FIELD_TYPES
        if instance in FIELD_TYPES and _in_repeat(parts):
            return path, f"type '{instance}' is not allowed inside a repeat"
        return path, f"unknown type '{instance}'{near_miss(instance, allowed)}"

    if keyword == "not" and key == "name":
        return path, f"'{instance}' is a reserved name (it would break the form); choose another"

    if keyword == "pattern":
        if key == "name" or (key == "field" and "show_if" in parts):
            return path, (f"'{instance}' is not a valid field name: start with a lowercase "
                          f"letter, then lowercase letters, digits or _, at most 40 characters")
        if key == "id":
            return path, (f"'{instance}' is not a valid form id: start with a lowercase letter, "
                          f"then lowercase letters, digits or _, 2 to 64 characters")
        if key in ("min", "max"):
            owner = _parent(data, parts[:-1]) or {}
            example = "2024-05" if owner.get("type") == "month" else "2024-05-01"
            return path, f"'{instance}' is not in the form {example}"
        return path, f"{instance!r} does not match {error.validator_value}"

    if keyword == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        wanted = " or ".join(_JSON_TYPES.get(t, t) for t in expected)
        return path, f"expected {wanted}, got {json.dumps(instance, ensure_ascii=False)}"

    if keyword == "oneOf" and key == "show_if":
        return path, "show_if needs exactly one of 'equals' or 'in'"

    if keyword == "dependentRequired":
        return path, "'pattern_message' needs a 'pattern'"

    if keyword in ("minItems", "minLength"):
        return path, "must not be empty" if error.validator_value == 1 else error.message
    if keyword == "minimum":
        return path, f"must be at least {error.validator_value}"
    if keyword == "maximum":
        return path, f"must be at most {error.validator_value}"
    if keyword == "maxLength":
        return path, f"too long (at most {error.validator_value} characters)"
    if keyword == "maxItems":
        return path, f"too many items (at most {error.validator_value})"
    return path, error.message


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
                raise SchemaError(source, f"{path}.name", f"duplicate name '{name}' "
                                  f"(already used by {base}[{seen[name]}])")
            seen[name] = index
            _check_former_names(source, spec, path, base, current, claimed)
            _check_constraints(source, spec, path)
            if "show_if" in spec:
                _check_show_if(source, spec, path, fields, index, eligible)
            if "default" in spec:
                problem = field_type(spec["type"]).default_problem(spec, spec["default"])
                if problem:
                    raise SchemaError(source, f"{path}.default", f"invalid default: {problem}")
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
            raise SchemaError(source, where, f"「{old}」是该字段现在的名称,不是以前的名称")
        if old in current:
            raise SchemaError(source, where, f"「{old}」是本版本中 {base}[{current[old]}] 的名称;"
                              "以前的名称不能与现有字段重名")
        if old in claimed:
            raise SchemaError(source, where, f"「{old}」已列在 {claimed[old]} 中;"
                              "一个旧名称只能属于一个字段")
        claimed[old] = f"{path}.renamed_from"


def _check_show_if(source, spec, path, fields, index, eligible):
    condition = spec["show_if"]
    target = condition["field"]
    if target == spec["name"]:
        raise SchemaError(source, f"{path}.show_if.field", "a field cannot depend on itself")
    if target not in eligible:
        later = [f for f in fields[index + 1:] if f["name"] == target]
        earlier = [f for f in fields[:index] if f["name"] == target]
        if later:
            reason = f"'{target}' comes after this field; show_if must refer to an earlier field"
        elif earlier:
            reason = (f"'{target}' is a {earlier[0]['type']} field; show_if can only depend on "
                      f"a field with a value (not section, repeat or image)")
        else:
            reason = f"no earlier field named '{target}' here{near_miss(target, eligible)}"
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
            raise SchemaError(source, f"{path}.show_if.{key}", f"can never match: {problem}")


def _check_constraints(source, spec, path):
    kind = spec["type"]
    ftype = FIELD_TYPES[kind]
    if "min_length" in spec and spec["min_length"] > max_length(spec):
        raise SchemaError(source, f"{path}.min_length",
                          f"min_length ({spec['min_length']}) is greater than max_length "
                          f"({max_length(spec)}{'' if 'max_length' in spec else ', the default'})")
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except re.error as error:
            raise SchemaError(source, f"{path}.pattern",
                              f"invalid regular expression: {error}") from None
    if kind in ("date", "month"):
        for key in ("min", "max"):
            if key in spec:
                try:
                    ftype.to_data(spec, spec[key])
                except ValueError as error:
                    raise SchemaError(source, f"{path}.{key}", str(error)) from None
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        raise SchemaError(source, f"{path}.min",
                          f"min ({spec['min']}) is greater than max ({spec['max']})")
    if "choices" in spec:
        seen = set()
        for index, choice in enumerate(spec["choices"]):
            value = choice if isinstance(choice, str) else choice["value"]
            if value in seen:
                raise SchemaError(source, f"{path}.choices[{index}]",
                                  f"duplicate choice value '{value}'")
            seen.add(value)
        if kind == "multiselect" and spec.get("min", 0) > len(seen):
            raise SchemaError(source, f"{path}.min",
                              f"min ({spec['min']}) is more than the number of choices "
                              f"({len(seen)})")
    if spec.get("min_items", 0) > spec.get("max_items", float("inf")):
        raise SchemaError(source, f"{path}.min_items",
                          f"min_items ({spec['min_items']}) is greater than max_items "
                          f"({spec['max_items']})")
