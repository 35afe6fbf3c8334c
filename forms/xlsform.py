"""XLSForm import: an ODK / KoboToolbox workbook (.xlsx with survey, choices and settings
sheets) -> a Taizhang form schema, plus every survey row (or part of a row) that could not be
carried over, so that nothing is dropped without the admin being told.

pyxform (the reference XLSForm parser) does the reading and the parsing:

- ``xls2json_backends.get_xlsform`` reads the workbook (openpyxl underneath); its survey rows
  keep their position, empty rows included, so row ``i`` is Excel row ``i + 2``.
- ``xls2json.workbook_to_json`` validates the whole form as ODK would (unmatched begin/end,
  unknown types, missing choice lists, bad names) and resolves the choices sheet; a workbook it
  refuses is refused here, with its reason.
- ``parsing.sheet_headers.dealias_and_group_headers`` (what workbook_to_json itself runs on the
  survey sheet) normalises the column aliases and groups translations (``label::Chinese (zh)``)
  per row, and with ``add_row_number`` keeps each row's Excel number. We map from these rows
  rather than from workbook_to_json's tree because the tree has no row numbers, and the admin
  must be told "survey row 12" for what did not map.

The mapping (README "XLSForm import"): text (multiline -> textarea), integer, decimal, date
(month-year -> month), select_one -> select, select_multiple -> multiselect, note -> section,
image -> image, groups -> a section heading and their fields (flattened), repeats -> repeat
(not nested), required, simple constraints (min/max, string length, count-selected, regex) and
relevant of the forms ``${f} = 'v'`` / ``selected(${f}, 'v')`` (or an ``or`` of these on one
field) -> show_if. Labels and hints prefer a Chinese translation column.
"""
import copy
import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

from pyxform import aliases
from pyxform.constants import OR_OTHER_CHOICE
from pyxform.errors import PyXFormError
from pyxform.parsing.sheet_headers import dealias_and_group_headers
from pyxform.question import MultipleChoiceQuestion
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json import RE_BEGIN_CONTROL, RE_END_CONTROL, RE_SELECT, dealias_types, \
    workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from forms.fields import CONDITION_TYPES, FIELD_TYPES
from forms.loader import SchemaError, check_schema, meta_schema

MAX_FIELDS = 500  # meta-schema: fields.maxItems
MAX_ROW_FIELDS = 50  # meta-schema: a repeat's fields.maxItems
MAX_CHOICES = 300
MAX_LABEL = 200
MAX_HINT = 1000

# Our type for each XLSForm question type we map; any pyxform alias of one of these (``int``,
# ``string``, ``photo``...) is found through pyxform's own type dictionary.
_TYPES = {"text": "text", "integer": "integer", "decimal": "decimal", "date": "date",
          "note": "section", "image": "image"}
_SELECTS = {"select one": "select", "select all that apply": "multiselect"}
# What the admin is told a type is when it cannot be mapped.
_TYPE_NAMES = {
    "calculate": "计算", "geopoint": "定位", "geotrace": "轨迹", "geoshape": "区域",
    "barcode": "条码", "audio": "录音", "video": "视频", "file": "文件", "time": "时间",
    "datetime": "日期时间", "dateTime": "日期时间", "range": "滑块", "rank": "排序",
    "acknowledge": "确认", "hidden": "隐藏", "trigger": "确认", "start": "开始时间",
    "end": "结束时间", "today": "当天日期", "deviceid": "设备号", "username": "用户名",
    "phonenumber": "手机号码", "email": "邮箱", "audit": "审计记录",
    "background-audio": "后台录音", "start-geopoint": "开始位置", "xml-external": "外部数据",
    "csv-external": "外部数据",
}
# Appearances that change nothing here (our form is one page of fields).
_HARMLESS_APPEARANCES = {"field-list"}
# Column names (as in xlsform.org) of the keys pyxform groups a row into, for messages.
_COLUMN_NAMES = {
    ("bind", "jr:constraintMsg"): "constraint_message",
    ("bind", "jr:requiredMsg"): "required_message",
    ("bind", "calculate"): "calculation",
    ("bind", "readonly"): "read_only",
    ("bind", "jr:noAppErrorString"): "no_app_error_string",
    ("control", "jr:count"): "repeat_count",
}
_RESERVED = set(meta_schema()["$defs"]["name"]["not"]["anyOf"][0]["enum"])
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FORM_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_REF = r"\$\{\s*([^}\s]+)\s*\}"
_LITERAL = r"""('[^']*'|"[^"]*"|-?\d+(?:\.\d+)?)"""
_EQUALS_RES = (re.compile(rf"^{_REF}\s*=\s*{_LITERAL}$"),
               re.compile(rf"^{_LITERAL}\s*=\s*{_REF}$"))
_SELECTED_RE = re.compile(rf"^selected\(\s*{_REF}\s*,\s*{_LITERAL}\s*\)$")
_OPS = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}  # each one's mirror image
_CMP = r"(<=|>=|<|>)"
_BOUND = r"""(-?\d+(?:\.\d+)?|'[^']*'|"[^"]*"|date\(\s*(?:'[^']*'|"[^"]*")\s*\))"""
_DOT_CMP_RES = (re.compile(rf"^\.\s*{_CMP}\s*{_BOUND}$"),
                re.compile(rf"^{_BOUND}\s*{_CMP}\s*\.$"))
_LENGTH_RE = re.compile(rf"^string-length\(\s*\.\s*\)\s*{_CMP}\s*(\d+)$")
_COUNT_RE = re.compile(rf"^count-selected\(\s*\.\s*\)\s*{_CMP}\s*(\d+)$")
_REGEX_RE = re.compile(r"""^regex\(\s*\.\s*,\s*('(?:[^']*)'|"(?:[^"]*)")\s*\)$""")
_CHINESE_LANGUAGE_RE = re.compile(r"chinese|中文|汉语|简体|繁體|繁体|(^|[^a-z])zh([^a-z]|$)",
                                  re.IGNORECASE)


@dataclass(frozen=True)
class Unmapped:
    """A survey row (``row``: the number Excel shows) or a part of it that was not imported,
    and why (``reason``, Chinese)."""
    row: int
    reason: str


class XLSFormError(Exception):
    """The workbook is unusable: not an .xlsx, no survey sheet, not a valid XLSForm, nothing
    that maps, or names that collide once mapped. ``str()`` is a Chinese reason."""


def convert(data, filename, form_id=None):
    """An XLSForm workbook (``data``: the .xlsx bytes; ``filename``: its name, for the form id
    and title when the settings sheet gives none) -> ``(schema, unmapped)``: a schema that
    ``forms.loader.check_schema`` accepts, and the list of ``Unmapped`` rows, in row order.
    ``form_id`` overrides the settings sheet's form_id. XLSFormError when unusable."""
    stem = PurePath(filename or "").stem
    definition = _read(data)
    choices = _validate(definition, stem)
    settings = _settings(definition)
    rows = _survey_rows(definition)
    converter = _Converter(choices)
    fields = converter.run(rows)
    if not any(spec["type"] != "section" for spec in fields):
        raise XLSFormError("survey 工作表中没有一行能导入为本系统的题目"
                           + _first_reasons(converter.unmapped))
    schema = {
        "id": _form_id(form_id, settings.get("id_string"), stem),
        "title": _clip(str(settings.get("title") or stem or "导入的表单").strip(), MAX_LABEL)
        or "导入的表单",
        "description": "",
        "fields": fields,
    }
    try:
        schema = check_schema(schema, source=filename or "<xlsform>")
    except SchemaError as error:  # a mapping this module should have caught field by field
        raise XLSFormError(f"转换结果未通过表单检查:{error}") from None
    return schema, sorted(converter.unmapped, key=lambda item: item.row)


# ---------------------------------------------------------------------------
# Reading (pyxform)


def _read(data):
    """The workbook as pyxform's DefinitionData; XLSFormError when it is no .xlsx or has no
    survey sheet."""
    try:
        definition = get_xlsform(bytes(data), file_type=".xlsx")
    # An uploaded file is untrusted: whatever openpyxl or pyxform trip over in it is "cannot
    # be read", not a crash.
    except Exception:  # noqa: BLE001
        raise XLSFormError("无法读取:这不是 .xlsx 格式的 Excel 文件,或文件已损坏"
                           "(旧版 .xls 请在 Excel 中另存为 .xlsx)") from None
    names = list(definition.sheet_names or ())
    if "survey" not in [name.lower() for name in names]:
        found = "、".join(names) or "无"
        raise XLSFormError(f"没有名为 survey 的工作表(XLSForm 的题目表);本文件的工作表:{found}")
    return definition


def _validate(definition, stem):
    """Run pyxform's own conversion to its JSON form: the workbook must be a valid XLSForm.
    Returns the choice lists {list_name: [{"name", "label", ...}]}."""
    try:
        tree = workbook_to_json(copy.deepcopy(definition), fallback_form_name=stem or None)
    except PyXFormError as error:
        raise XLSFormError(f"不是有效的 XLSForm(pyxform 的检查结果):{error}") from None
    except Exception as error:  # noqa: BLE001 -- see _read
        raise XLSFormError(f"不是有效的 XLSForm,pyxform 无法解析:{error!r}") from None
    return tree.get("choices") or {}


def _settings(definition):
    rows = definition.settings or [{}]
    return {aliases.settings_header.get(key, key): value for key, value in rows[0].items()}


def _survey_rows(definition):
    """pyxform's survey rows: aliases resolved, translations grouped ({"label": {"Chinese
    (zh)": ..., "default": ...}}), and "__row" the Excel row number."""
    sheet = dealias_and_group_headers(
        sheet_name="survey", sheet_data=definition.survey or [],
        sheet_header=definition.survey_header or [], header_aliases=aliases.survey_header,
        header_columns=set(MultipleChoiceQuestion.get_slot_names()),
        headers_required={"type"}, default_language="default", strip_whitespace=True,
        add_row_number=True)
    return dealias_types(dict_array=[dict(row) for row in sheet.data])


def _form_id(given, from_settings, stem):
    if given is not None:
        if not _FORM_ID_RE.match(given):
            raise XLSFormError(f"表单编号 '{given}' 不合法:须以小写字母开头,只含小写字母、"
                               f"数字和 _,2 到 64 个字符")
        return given
    for candidate in (from_settings, stem):
        if candidate:
            form_id = _slug(str(candidate), 64)
            if len(form_id) == 1:  # ids have at least two characters
                form_id = f"form_{form_id}"
            if _FORM_ID_RE.match(form_id):
                return form_id
    raise XLSFormError(f"无法由 settings 的 form_id 或文件名 '{stem}' 得出表单编号(只能用小写"
                       f"字母、数字和 _),请指定表单编号")


def _slug(text, length):
    slug = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if slug and not slug[0].isalpha():
        slug = "f_" + slug
    return slug[:length].rstrip("_")


def _first_reasons(unmapped):
    if not unmapped:
        return ""
    shown = ";".join(f"第 {u.row} 行:{u.reason}" for u in unmapped[:3])
    return f"({shown}{'……' if len(unmapped) > 3 else ''})"


# ---------------------------------------------------------------------------
# Small readers of a row's cells


def _pick_language(value):
    """A cell that may be translated ({"Chinese (zh)": ..., "default": ...}, or text) -> the
    text to use: a Chinese column first, then the untranslated one, then any."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return str(value).strip()
    texts = {lang: str(text).strip() for lang, text in value.items()
             if isinstance(text, (str, int, float)) and str(text).strip()}
    for lang, text in texts.items():
        if _CHINESE_LANGUAGE_RE.search(lang):
            return text
    return texts.get("default") or next(iter(texts.values()), "")


def _clip(text, length):
    return text if len(text) <= length else text[:length - 1] + "…"


def _unquote(literal):
    if literal[:1] in ("'", '"'):
        return literal[1:-1]
    return literal


def _split_top(expression, word):
    """Split on `` and `` / `` or `` outside quotes and parentheses; [expression] if none."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    pattern = re.compile(rf"\s+{word}\s+")
    while i < len(expression):
        char = expression[i]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char.isspace():
            match = pattern.match(expression, i)
            if match:
                parts.append(expression[start:i])
                start = i = match.end()
                continue
        i += 1
    parts.append(expression[start:])
    return [_strip_parens(part.strip()) for part in parts]


def _strip_parens(text):
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text):
    depth, quote = 0, None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _number(text):
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _json_number(number):
    return int(number) if number == number.to_integral_value() else float(number)


# ---------------------------------------------------------------------------
# The conversion, row by row


class _Scope:
    """One list of fields of the result: the form's (groups flattened into it) or a repeat's.
    ``by_source``: XLSForm name -> the spec made from it, for show_if; ``owners``: our name ->
    (row, XLSForm name), to report a collision."""

    def __init__(self):
        self.fields = []
        self.by_source = {}
        self.owners = {}
        self.conditions = {}  # our name -> frozenset of the condition rows it is shown under


class _Converter:
    def __init__(self, choices):
        self.choices = choices
        self.unmapped = []
        self.top = _Scope()
        # Frames of the open begin rows: {"kind": "group" | "repeat" | "skip", "row",
        # "scope", "conditions": [(row, relevant)] that apply to what is inside}.
        self.stack = [{"kind": "form", "row": 0, "scope": self.top, "conditions": []}]

    def note(self, row, reason):
        self.unmapped.append(Unmapped(row, reason))

    # -- the walk

    def run(self, rows):
        for row in rows:
            number = row.pop("__row")
            if not row:
                continue  # an empty line
            frame = self.stack[-1]
            kind = row.get("type")
            if frame["kind"] == "skip":
                self._inside_skipped(number, row, frame)
                continue
            if aliases.yes_no.get(str(row.pop("disabled", "no")).strip(), False):
                self.note(number, "此行已停用(disabled),未导入")
                if kind and RE_BEGIN_CONTROL.match(kind):
                    self._push_skip(number, "所在的组已停用(disabled)")
                continue
            if not kind:
                self.note(number, "没有题型(type)的行,未导入")
                continue
            begin, end = RE_BEGIN_CONTROL.match(kind), RE_END_CONTROL.match(kind)
            if begin:
                self._begin(number, row, aliases.control[begin.group("type")])
            elif end:
                self._end(number)
            else:
                self._question(number, row, kind)
        self._finish_sections(self.top)
        return self.top.fields

    def _inside_skipped(self, number, row, frame):
        kind = row.get("type") or ""
        if RE_END_CONTROL.match(kind):
            self.stack.pop()  # the end of the skipped group, or of a group inside it
            return
        if RE_BEGIN_CONTROL.match(kind):
            self.stack.append({"kind": "skip", "row": frame["row"], "reason": frame["reason"]})
        self.note(number, f"位于第 {frame['row']} 行未导入的组内:{frame['reason']}")

    def _push_skip(self, number, reason):
        self.stack.append({"kind": "skip", "row": number, "reason": reason})

    def _in_repeat(self):
        return any(frame["kind"] == "repeat" for frame in self.stack)

    def _begin(self, number, row, control):
        frame = self.stack[-1]
        relevant = row.get("bind", {}).get("relevant")
        if control == "loop":
            self.note(number, "循环组(begin loop)无法导入,组内各行也未导入")
            self._push_skip(number, "循环组无法导入")
            return
        if control == "repeat" and self._in_repeat():
            self.note(number, "重复组内的重复组无法导入(本系统的重复组不能嵌套),组内各行也未导入")
            self._push_skip(number, "重复组内的重复组无法导入")
            return
        conditions = list(frame["conditions"])
        if control == "group":
            self._leftovers(number, row, set(), {"relevant"}, set())
            self._appearance(number, row, set())
            label = _pick_language(row.get("label"))
            if label and self._in_repeat():
                self.note(number, "重复组内不能有分组标题:标题未导入,组内的题目直接放入重复组")
            elif label:
                self._add_section(number, row, label, _pick_language(row.get("hint")))
            if relevant:
                conditions.append((number, relevant))
            self.stack.append({"kind": "group", "row": number, "scope": frame["scope"],
                               "conditions": conditions})
            return
        # a repeat: its own scope; the conditions around it (and its own) go on the repeat
        self._leftovers(number, row, set(), {"relevant"}, {"jr:count"})
        self._appearance(number, row, set())
        spec = {"name": None, "type": "repeat",
                "label": self._label(number, row, "重复组"), "fields": []}
        hint = _pick_language(row.get("hint"))
        if hint:
            spec["hint"] = self._hint(number, hint)
        self._repeat_count(number, row, spec)
        self.stack.append({"kind": "repeat", "row": number, "scope": _Scope(), "spec": spec,
                           "source": row, "outer": frame,
                           "wanted": conditions + ([(number, relevant)] if relevant else []),
                           "conditions": []})

    def _end(self, number):
        frame = self.stack.pop()
        if frame["kind"] != "repeat":
            return
        spec, row, scope = frame["spec"], frame["source"], frame["scope"]
        self._finish_sections(scope)
        if not scope.fields:
            self.note(frame["row"], "重复组内没有能导入的题目,整个重复组未导入")
            return
        spec["fields"] = scope.fields
        self._place(frame["row"], row, spec, frame["outer"]["scope"], frame["wanted"])

    # -- questions

    def _question(self, number, row, kind):
        select = RE_SELECT.match(kind)
        if select:
            command = select.group("select_command")
            ours = _SELECTS.get(aliases.select[command])
            if ours is None or "file" in command:
                self.note(number, f"题型 '{kind}' 无法导入(外部选项或排序题)")
                return
            self._field(number, row, ours, list_name=select.group("list_name"),
                        other=bool(select.group("specify_other")))
            return
        pyxform_type = QUESTION_TYPE_DICT.get(kind)
        ours = next((t for source, t in _TYPES.items()
                     if pyxform_type is not None and pyxform_type == QUESTION_TYPE_DICT[source]),
                    None)
        if ours is None:
            name = _TYPE_NAMES.get(kind)
            self.note(number, f"题型 '{kind}'{f'({name})' if name else ''}无法导入")
            return
        if self._in_repeat() and ours in ("section", "image"):
            what = "说明(note)" if ours == "section" else "照片题"
            self.note(number, f"重复组内不能有{what},未导入")
            return
        self._field(number, row, ours)

    def _field(self, number, row, ours, list_name=None, other=False):
        frame = self.stack[-1]
        bind, control = row.get("bind", {}), row.get("control", {})
        appearance = (control.get("appearance") or "").strip()
        understood = set()
        if ours == "text" and appearance == "multiline":
            ours, understood = "textarea", {"multiline"}
        if ours == "date" and appearance == "month-year":
            ours, understood = "month", {"month-year"}
        if ours == "section":
            label = _pick_language(row.get("label")) or _pick_language(row.get("hint"))
            if not label:
                self.note(number, "说明(note)没有文字,未导入")
                return
            self._leftovers(number, row, set(), {"relevant"}, set())
            self._appearance(number, row, understood)
            self._add_section(number, row, label,
                              _pick_language(row.get("hint")) if row.get("label") else "")
            if bind.get("relevant") or frame["conditions"]:
                self.note(number, "说明(note)的显示条件无法导入:此说明将总是显示")
            return
        spec = {"name": None, "type": ours, "label": self._label(number, row, "题目")}
        hint = _pick_language(row.get("hint"))
        if hint:
            spec["hint"] = self._hint(number, hint)
        handled_bind = {"required", "jr:requiredMsg", "constraint", "jr:constraintMsg",
                        "relevant"}
        self._leftovers(number, row, {"default", "choice_filter"} if list_name else {"default"},
                        handled_bind, set())
        self._appearance(number, row, understood)
        self._required(number, bind, spec)
        if list_name is not None and not self._choices(number, row, spec, list_name, other):
            return
        self._constraint(number, bind, spec)
        self._default(number, row, spec)
        wanted = list(frame["conditions"])
        if bind.get("relevant"):
            wanted.append((number, bind["relevant"]))
        self._place(number, row, spec, frame["scope"], wanted)

    def _label(self, number, row, what):
        label = _pick_language(row.get("label"))
        if not label:
            label = str(row.get("name") or what)
            self.note(number, f"没有标题(label),用名称 '{label}' 作标题")
        for ref in re.findall(_REF, label):
            self.note(number, f"标题引用了 ${{{ref}}} 的答案:导入后显示为原文")
        if len(label) > MAX_LABEL:
            self.note(number, f"标题超过 {MAX_LABEL} 字,已截断")
            label = _clip(label, MAX_LABEL)
        return label

    def _hint(self, number, hint):
        if len(hint) > MAX_HINT:
            self.note(number, f"提示(hint)超过 {MAX_HINT} 字,已截断")
            hint = _clip(hint, MAX_HINT)
        return hint

    def _add_section(self, number, row, label, hint):
        spec = {"name": None, "type": "section"}
        if len(label) > MAX_LABEL:  # a long note: a short heading, the text as its hint
            hint = label + ("\n" + hint if hint else "")
            label = _clip(label.splitlines()[0], 40)
        spec["label"] = label
        if hint:
            spec["hint"] = self._hint(number, hint)
        spec["_source"] = (number, str(row.get("name") or ""))
        self.stack[-1]["scope"].fields.append(spec)

    def _leftovers(self, number, row, keys, bind_keys, control_keys):
        """Report every cell of the row this mapping does not use."""
        used = {"type", "name", "label", "hint", "bind", "control"} | keys
        for key, value in row.items():
            if key in ("bind", "control"):
                allowed = bind_keys if key == "bind" else control_keys | {"appearance"}
                for sub, sub_value in value.items():
                    if sub not in allowed and sub_value not in (None, "", {}):
                        column = _COLUMN_NAMES.get((key, sub), sub)
                        self.note(number, f"列 {column}({_show(sub_value)})未导入")
            elif key not in used and value not in (None, "", {}):
                if isinstance(value, dict) and key not in ("media", "parameters"):
                    for lang in value:
                        self.note(number, f"列 {key}::{lang} 未导入")
                else:
                    self.note(number, f"列 {key}({_show(value)})未导入")

    def _appearance(self, number, row, understood):
        appearance = (row.get("control", {}).get("appearance") or "").strip()
        for word in appearance.split():
            if word not in understood and word not in _HARMLESS_APPEARANCES:
                self.note(number, f"外观 appearance '{word}' 不支持,已按默认样式导入")

    def _required(self, number, bind, spec):
        value = bind.get("required")
        if value not in (None, ""):
            flag = aliases.yes_no.get(str(value).strip())
            if flag is None:
                self.note(number, f"条件必填 required '{value}' 无法导入:此题按非必填导入")
            elif flag:
                spec["required"] = True
        if bind.get("jr:requiredMsg"):
            self.note(number, f"必填提示 required_message({_show(bind['jr:requiredMsg'])})"
                              f"未导入:本系统提示“此项为必填项”")

    def _choices(self, number, row, spec, list_name, other):
        options = self.choices.get(list_name) or []
        pairs, seen = [], set()
        for option in options:
            if other and _pyxform_other(option):
                continue  # pyxform's own "Other" (added to the list in place): ours follows
            value = str(option.get("name", "")).strip()
            if not value or value in seen:
                continue
            seen.add(value)
            label = _pick_language(option.get("label")) or value
            pairs.append({"value": value, "label": _clip(label, MAX_LABEL)})
        if other and "other" not in seen:
            pairs.append({"value": "other", "label": "其他"})
            self.note(number, "“其他(请注明)”:已加入选项“其他”,但注明其他的填写框未导入")
        if not pairs:
            self.note(number, f"选项列表 '{list_name}' 为空,此题未导入")
            return False
        if len(pairs) > MAX_CHOICES or any(len(p["value"]) > 200 for p in pairs):
            self.note(number, f"选项列表 '{list_name}' 超过 {MAX_CHOICES} 项或选项值过长,"
                              f"此题未导入")
            return False
        spec["choices"] = pairs
        if row.get("choice_filter"):
            self.note(number, f"选项筛选 choice_filter({row['choice_filter']})无法导入:"
                              f"将显示全部选项")
        return True

    def _default(self, number, row, spec):
        value = row.get("default")
        if value in (None, ""):
            return
        value = str(value).strip()
        kind = spec["type"]
        if kind in ("integer", "decimal"):
            number_value = _number(value)
            converted = None if number_value is None else _json_number(number_value)
        elif kind == "multiselect":
            converted = value.split()
        elif kind == "image" or "${" in value or "(" in value:
            converted = None
        else:
            converted = value
        if converted is None:
            self.note(number, f"默认值 default '{value}' 无法导入")
        else:
            spec["default"] = converted

    # -- constraints

    def _constraint(self, number, bind, spec):
        expression = (bind.get("constraint") or "").strip()
        message = _pick_language(bind.get("jr:constraintMsg"))
        if not expression:
            if message:
                self.note(number, f"约束提示 constraint_message({message})没有约束,未导入")
            return
        if len(_split_top(expression, "or")) > 1:
            self.note(number, f"约束 constraint '{expression}' 含 or,无法导入")
            self._constraint_message(number, message, mapped=False)
            return
        mapped = False
        for clause in _split_top(expression, "and"):
            problem = self._clause(clause, spec, message)
            if problem:
                self.note(number, f"约束 constraint 中的 '{clause}' 无法导入:{problem}")
            else:
                mapped = True
        for low, high in (("min", "max"), ("min_length", "max_length")):
            if low in spec and high in spec and spec[low] > spec[high]:
                self.note(number, f"约束 constraint '{expression}' 自相矛盾(下限 {spec[low]} "
                                  f"大于上限 {spec[high]}),未导入")
                del spec[low], spec[high]
                mapped = "pattern" in spec
        if mapped and "pattern" not in spec:
            self._constraint_message(number, message, mapped=True)
        elif not mapped:
            self._constraint_message(number, message, mapped=False)

    def _constraint_message(self, number, message, mapped):
        if not message:
            return
        if mapped:
            self.note(number, f"约束提示 constraint_message({message})未导入:本系统给出"
                              f"自己的提示(写明允许的范围)")
        else:
            self.note(number, f"约束提示 constraint_message({message})随约束一起未导入")

    def _clause(self, clause, spec, message):
        """Apply one comparison to ``spec``; None, or why it cannot be applied."""
        kind = spec["type"]
        match = _LENGTH_RE.match(clause)
        if match:
            if kind not in ("text", "textarea"):
                return "字符长度只能用于文本题"
            op, size = match.group(1), int(match.group(2))
            return self._bound(spec, op, Decimal(size), "min_length", "max_length")
        match = _COUNT_RE.match(clause)
        if match:
            if kind != "multiselect":
                return "选中个数只能用于多选题"
            return self._bound(spec, match.group(1), Decimal(match.group(2)), "min", "max")
        match = _REGEX_RE.match(clause)
        if match:
            if kind not in ("text", "textarea"):
                return "正则只能用于文本题"
            pattern = _unquote(match.group(1))
            # ODK's regex() finds the pattern anywhere in the answer; ours must match it whole.
            if not (pattern.startswith("^") and pattern.endswith("$")
                    and not pattern.endswith("\\$")):
                pattern = f"(?s:.*?)(?:{pattern})(?s:.*)"
            try:
                re.compile(pattern)
            except re.error as error:
                return f"正则表达式在本系统不可用({error})"
            if len(pattern) > 500:
                return "正则表达式过长"
            spec["pattern"] = pattern
            if message:
                spec["pattern_message"] = _clip(message, MAX_LABEL)
            return None
        for index, regex in enumerate(_DOT_CMP_RES):
            match = regex.match(clause)
            if match:
                op, bound = match.groups() if index == 0 else match.groups()[::-1]
                if index == 1:
                    op = _OPS[op]
                return self._compare(spec, op, bound)
        return "不是简单的比较(如 . >= 0、string-length(.) <= 20)"

    def _compare(self, spec, op, bound):
        kind = spec["type"]
        if kind in ("integer", "decimal"):
            value = _number(bound)
            if value is None:
                return f"'{bound}' 不是数字"
            if kind == "decimal" and op in ("<", ">"):
                return "小数题不能导入严格不等(> 或 <),请改用 >= 或 <="
            return self._bound(spec, op, value, "min", "max")
        if kind == "date":
            text = _unquote(re.sub(r"^date\(\s*(.*?)\s*\)$", r"\1", bound))
            try:
                day = datetime.date.fromisoformat(text)
            except ValueError:
                return f"'{bound}' 不是 YYYY-MM-DD 日期"
            if op in ("<", ">"):
                day += datetime.timedelta(days=1 if op == ">" else -1)
            key = "min" if op.startswith(">") else "max"
            return self._tighten(spec, key, day.isoformat())
        return "这种比较不适用于此题型"

    def _bound(self, spec, op, value, low, high):
        """A numeric bound (integer steps for integers, lengths and counts)."""
        whole = spec["type"] != "decimal" or low == "min_length"
        if op == ">":
            value = value.to_integral_value(rounding="ROUND_FLOOR") + 1 if whole else value
        elif op == "<":
            value = value.to_integral_value(rounding="ROUND_CEILING") - 1 if whole else value
        elif whole:
            rounding = "ROUND_CEILING" if op == ">=" else "ROUND_FLOOR"
            value = value.to_integral_value(rounding=rounding)
        key = low if op.startswith(">") else high
        if key in ("min_length", "max_length") or spec["type"] == "multiselect":
            if value < (1 if key == "max_length" else 0):
                return "长度或个数的界限必须为正数"
            value = int(value)
        else:
            value = _json_number(value)
        return self._tighten(spec, key, value)

    def _tighten(self, spec, key, value):
        """Set a bound, keeping the stricter one when the expression gives two."""
        if key in spec:
            value = max(spec[key], value) if key.startswith("min") else min(spec[key], value)
        spec[key] = value
        return None

    def _repeat_count(self, number, row, spec):
        count = str(row.get("control", {}).get("jr:count") or "").strip()
        if not count:
            return
        if count.isdigit() and 1 <= int(count) <= 500:
            spec["min_items"] = spec["max_items"] = int(count)
        else:
            self.note(number, f"重复次数 repeat_count '{count}' 无法导入(只能导入固定的数字)")

    # -- names, conditions, and adding a field to its scope

    def _place(self, number, row, spec, scope, wanted):
        """Name ``spec``, give it the show_if that stands for the ``wanted`` relevant
        conditions, check it, and add it to ``scope``."""
        source = str(row.get("name") or "")
        spec["name"] = self._name(number, source, scope)
        conditions, show_if_mapped = frozenset(), False
        if wanted:
            show_if, conditions, problem = self._condition(spec, scope, wanted)
            show_if_mapped = show_if is not None
            if show_if is None:
                self.note(number, f"显示条件 relevant 无法导入({problem}):此题将总是显示"
                                  + (",因此不再设为必填" if spec.pop("required", False) else ""))
            else:
                spec["show_if"] = show_if
        spec, dropped = self._checked(spec, scope)
        if spec is None:
            self.note(number, f"导入后的定义无效({dropped}),此题未导入")
            return
        if dropped:
            self.note(number, dropped)
        if "show_if" not in spec:
            conditions = frozenset()
            if wanted and show_if_mapped and spec.pop("required", False):
                self.note(number, "此题将总是显示,因此不再设为必填")
        if len(scope.fields) >= (MAX_ROW_FIELDS if scope is not self.top else MAX_FIELDS):
            self.note(number, "字段数超过上限,此题未导入")
            return
        scope.fields.append(spec)
        scope.owners[spec["name"]] = (number, source)
        scope.conditions[spec["name"]] = conditions
        if spec["type"] in CONDITION_TYPES and source:
            scope.by_source[source] = spec

    def _name(self, number, source, scope):
        name = _slug(source, 40)
        if not name:
            name = f"field_{number}"
        elif not _valid_name(name):
            name = _slug(f"f_{name}", 40)
        if name != source:
            self.note(number, f"名称 '{source}' 不符合本系统的字段名规则,已改为 '{name}'")
        if name in scope.owners:
            row, other = scope.owners[name]
            where = "同一重复组中" if scope is not self.top else "表单中(分组已展开)"
            raise XLSFormError(f"survey 第 {row} 行的 '{other}' 和第 {number} 行的 '{source}' "
                               f"导入后都叫 '{name}',{where}字段名必须唯一;请在 Excel 中改名后"
                               f"重新导入")
        return name

    def _condition(self, spec, scope, wanted):
        """(show_if, the condition rows it stands for, None) when one relevant of ``wanted``
        (the field's own and its groups') shows the field exactly when all of them hold, else
        (None, None, why). A show_if also hides its field while the target is hidden, so a
        condition on a field that is itself under the other conditions covers them too; the
        target's own conditions add nothing, as in ODK, where a hidden question is blank and
        blank never equals a choice or a number."""
        wanted_rows = frozenset(row for row, _ in wanted)
        problems = []
        for row, expression in reversed(wanted):
            show_if, target, problem = self._relevant(expression, spec, scope)
            if problem:
                problems.append(problem)
                continue
            covered = frozenset({row}) | scope.conditions.get(target, frozenset())
            if wanted_rows <= covered:
                return show_if, covered, None
            problems.append("组和题目的显示条件要同时满足(and),无法合并为一个条件")
        return None, None, problems[0]

    def _relevant(self, expression, spec, scope):
        """(show_if, target name, None) for one relevant expression, or (None, None, why)."""
        expression = _strip_parens(expression.strip())
        if len(_split_top(expression, "and")) > 1:
            return None, None, f"'{expression}' 含 and"
        terms = []
        for part in _split_top(expression, "or"):
            match = _SELECTED_RE.match(part)
            if match:
                terms.append((match.group(1), match.group(2), "selected"))
                continue
            for index, regex in enumerate(_EQUALS_RES):
                match = regex.match(part)
                if match:
                    ref, literal = match.groups() if index == 0 else match.groups()[::-1]
                    terms.append((ref, literal, "equals"))
                    break
            else:
                return None, None, f"'{expression}' 不是 ${{题}} = '值' 或 selected(${{题}}, '值')"
        refs = {ref for ref, _, _ in terms}
        if len(refs) > 1:
            return None, None, f"'{expression}' 涉及多个题目"
        source = refs.pop()
        target = scope.by_source.get(source)
        if target is None:
            outside = any(source in frame["scope"].by_source for frame in self.stack
                          if "scope" in frame and frame["scope"] is not scope)
            where = "在重复组之外" if outside else "不在此题之前,或未能导入"
            return None, None, f"条件引用的题目 '{source}' {where}"
        values = []
        for _, literal, how in terms:
            if target["type"] == "multiselect" and how == "equals":
                return None, None, f"对多选题 '{source}' 用 = 比较无法导入,请改用 selected()"
            if target["type"] not in ("select", "multiselect") and how == "selected":
                return None, None, f"selected() 只能用于选择题,'{source}' 不是选择题"
            value = self._condition_value(target, _unquote(literal))
            problem = FIELD_TYPES[target["type"]].expected_problem(target, value)
            if problem:
                return None, None, f"值 '{_unquote(literal)}' 不符合题目 '{source}'"
            values.append(value)
        show_if = {"field": target["name"]}
        if len(values) == 1:
            show_if["equals"] = values[0]
        else:
            show_if["in"] = list(dict.fromkeys(values))
        return show_if, target["name"], None

    @staticmethod
    def _condition_value(target, text):
        if target["type"] in ("integer", "decimal"):
            number = _number(text)
            return text if number is None else _json_number(number)
        return text

    def _checked(self, spec, scope):
        """(spec, "") when the meta-schema and the loader accept it (with its show_if target);
        else the spec without the parts that made it invalid and what was left out, or
        (None, reason)."""
        target = None
        if "show_if" in spec:
            target = next(f for f in scope.fields if f["name"] == spec["show_if"]["field"])
        problem = _problem(spec, target)
        if problem is None:
            return spec, ""
        dropped = []
        for what, keys in (("默认值", ("default",)),
                           ("约束", ("min", "max", "min_length", "max_length", "pattern",
                                    "pattern_message")),
                           ("显示条件", ("show_if",))):
            if any(key in spec for key in keys):
                spec = {k: v for k, v in spec.items() if k not in keys}
                dropped.append(what)
                if _problem(spec, target) is None:
                    return spec, f"{'、'.join(dropped)}无法导入({problem}),已去掉"
        return None, problem

    def _finish_sections(self, scope):
        """Name the section headings last, so that a heading never takes a question's name."""
        taken = set(scope.owners)
        for spec in scope.fields:
            if spec["type"] == "section" and spec["name"] is None:
                number, source = spec.pop("_source")
                name = _slug(source, 40) if source else ""
                if not _valid_name(name) or name in taken:
                    name = f"section_{number}"
                spec["name"] = name
                taken.add(name)
        # keys in the order people read them
        order = ("name", "type", "label", "hint", "required", "default", "show_if", "unit")
        scope.fields[:] = [dict(sorted(spec.items(), key=lambda item: (
            order.index(item[0]) if item[0] in order else len(order)))) for spec in scope.fields]


def _pyxform_other(option):
    """Whether a choice is the "Other" pyxform adds for ``or_other`` (in every language)."""
    label = option.get("label")
    texts = set(label.values()) if isinstance(label, dict) else {label}
    return option.get("name") == OR_OTHER_CHOICE["name"] and texts == {OR_OTHER_CHOICE["label"]}


def _valid_name(name):
    return bool(_NAME_RE.match(name)) and name not in _RESERVED \
        and not re.match(r"^(filter|validate)_", name)


def _problem(spec, target):
    """Why the loader refuses ``spec`` (with its show_if ``target`` before it), or None."""
    fields = ([{k: v for k, v in target.items() if k != "show_if"}] if target else []) + [spec]
    try:
        check_schema({"id": "xlsform_check", "title": "-", "description": "", "fields": fields})
    except SchemaError as error:
        return error.reason
    return None


def _show(value):
    if isinstance(value, dict):
        value = _pick_language(value) or ", ".join(f"{k}={v}" for k, v in value.items())
    return _clip(str(value), 80)
