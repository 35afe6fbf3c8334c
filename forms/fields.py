"""The registry of field types: one entry per schema ``type``.

Each entry (a :class:`FieldType`) owns everything the rest of the code needs to know about
one type: the WTForms field it builds, its validators, how a submitted value becomes an
answer (the JSON stored for a submission), how a JSON value from a schema (``default``,
``show_if``) is read, how an answer is shown to a person and how it goes into a spreadsheet
cell. ``FIELD_TYPES`` maps the type name to its entry; an unknown type is an error.

User-facing messages are Chinese; the users are village cadres on a phone.
"""

import json
import os
import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import current_app, has_app_context
from flask_wtf.file import FileField
from PIL import Image
from werkzeug.datastructures import FileStorage
from wtforms import widgets
from wtforms.fields import BooleanField, Field, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, StopValidation, ValidationError

REQUIRED_MESSAGE = "此项为必填项"
DEFAULT_IMAGE_MAX_BYTES = 10 * 1024 * 1024
# The largest picture accepted: a 12-megapixel phone's photo is 12,000,000 pixels, a phone's
# panorama ~40,000,000; 50 million RGB pixels take 150 MB to draw.
IMAGE_MAX_PIXELS = 50_000_000
IMAGE_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                       "GIF": "image/gif"}
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
MAX_INTEGER_DIGITS = 15  # beyond this Excel silently loses digits
MAX_DECIMAL_CHARS = 30

_INT_RE = re.compile(r"^[+-]?\d+$")
_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# What people type where the browser has no date picker: 2024-5-1, 2024/05/01, 2024年5月1日.
_LOOSE_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_LOOSE_MONTH_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


class UnknownFieldType(ValueError):
    """A schema names a field type that is not in FIELD_TYPES."""


# ---------------------------------------------------------------------------
# Small helpers shared by the types


def _json(value):
    """A JSON value as the admin wrote it in the form definition (for error messages)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _as_text(value):
    if isinstance(value, FileStorage):
        return ""  # a file posted under a text field's name is no answer
    return value if isinstance(value, str) else str(value)


def _compact_number(text):
    """Full-width digits and Chinese punctuation as typed on a phone -> plain ASCII number text."""
    text = unicodedata.normalize("NFKC", text).strip().replace(" ", "").replace("。", ".")
    if _GROUPED_RE.match(text):
        text = text.replace(",", "")
    return text


def plain_number(value):
    """12.50 -> "12.5", 100 -> "100", Decimal("1E+2") -> "100" (for messages and answers)."""
    number = value if isinstance(value, Decimal) else _to_decimal(value)
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def _to_decimal(value):
    """A JSON number or numeric string -> finite Decimal; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("not a number")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def choice_pairs(spec):
    """The choices of a select/multiselect as [(value, label)], in schema order."""
    pairs = []
    for choice in spec.get("choices", ()):
        if isinstance(choice, str):
            pairs.append((choice, choice))
        else:
            pairs.append((choice["value"], choice["label"]))
    return pairs


def _choice_label(spec, value):
    return dict(choice_pairs(spec)).get(value, str(value))


def image_max_bytes():
    if has_app_context():
        return int(current_app.config.get("IMAGE_MAX_BYTES", DEFAULT_IMAGE_MAX_BYTES))
    return DEFAULT_IMAGE_MAX_BYTES


def _size_text(nbytes):
    megabytes = nbytes / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{nbytes // 1024} KB"


def client_filename(filename):
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:200] or "照片"


# ---------------------------------------------------------------------------
# WTForms fields and validators


class ParsedField(Field):
    """A one-line input whose submitted text is parsed by ``parse`` into ``data``.

    A key missing from the submitted data means "empty" (never the default), a parse
    failure leaves ``data`` None with a Chinese process error, and the raw text is what
    gets rendered back, so the input is kept after an error.
    """

    widget = widgets.TextInput()

    def __init__(self, label=None, validators=None, parse=None, display=str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.parse = parse or (lambda text: text)
        self.display = display

    def process_data(self, value):
        self.data = value

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and _as_text(valuelist[0]).strip():
            self.data = self.parse(_as_text(valuelist[0]))

    def _value(self):
        if self.raw_data:
            return _as_text(self.raw_data[0])
        return "" if self.data is None else self.display(self.data)


class ChoiceField(SelectField):
    """A select whose missing or blank submission is None and whose choice check is ours."""

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist:
            self.data = _as_text(valuelist[0]).strip() or None


class MultiChoiceField(SelectMultipleField):
    """Checkboxes: data is the list of distinct submitted values (choice check is ours)."""

    def process_formdata(self, valuelist):
        values = [_as_text(v).strip() for v in valuelist]
        self.data = list(dict.fromkeys(v for v in values if v))


class Required(InputRequired):
    """InputRequired (never DataRequired: it rejects 0) that also treats blank text, an
    unticked box or a missing photo as "no input", per the field type."""

    def __init__(self, ftype, message=None):
        super().__init__(message or ftype.required_message)
        self.ftype = ftype

    def __call__(self, form, field):
        if self.ftype.is_empty(field):
            field.errors[:] = []
            raise StopValidation(self.message)


class Constraint:
    """Runs the type's constraint check (lengths, ranges, choices...) on the parsed data."""

    def __init__(self, ftype, spec):
        self.ftype = ftype
        self.spec = spec

    def __call__(self, form, field):
        if field.process_errors or field.data is None:
            return
        problem = self.ftype.check(self.spec, field.data)
        if problem:
            raise ValidationError(problem)


class PhotoField(FileField):
    """A photo: an uploaded file (the page without JavaScript), or the signed reference of a
    photo the page uploaded on its own when it was picked (services.photos). A file wins."""

    def process_formdata(self, valuelist):
        files = [x for x in valuelist if isinstance(x, FileStorage) and x]
        refs = [x for x in valuelist if isinstance(x, str) and x.strip()]
        if files:
            self.data = files[0]
        elif refs:
            self.data = refs[-1].strip()
        else:
            self.raw_data = ()


class ImageCheck:
    """The upload must be a real JPEG/PNG/WEBP/GIF (Pillow opens and verifies it) within
    IMAGE_MAX_BYTES; on success ``field.image_info`` holds its size and content type.
    A reference must be one this service signed: ``field.image_info`` is then the whole stored
    answer (with "file" and "thumb")."""

    bad_format = "请上传 JPG、PNG、WEBP 或 GIF 格式的照片"
    bad_ref = "照片已失效,请重新选择照片"

    def __call__(self, form, field):
        field.image_info = None
        if isinstance(field.data, str):
            from services.photos import read_ref  # services import forms, not the reverse

            # The page that serves the form names what its references may be for.
            field.image_info = read_ref(field.data, getattr(form, "photo_scope", None))
            if field.image_info is None:
                raise ValidationError(self.bad_ref)
            return
        storage = field.data
        if not isinstance(storage, FileStorage) or not storage:
            return
        stream = storage.stream
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        limit = image_max_bytes()
        if size == 0:
            raise ValidationError("照片文件是空的,请重新选择")
        if size > limit:
            raise ValidationError(f"照片不能超过 {_size_text(limit)},请压缩后重新上传")
        try:
            with Image.open(stream) as image:
                image_format = image.format
                width, height = image.size
                image.verify()
        except Exception:  # Pillow raises many kinds for a broken or fake image
            raise ValidationError(self.bad_format) from None
        finally:
            stream.seek(0)
        if image_format not in IMAGE_CONTENT_TYPES:
            raise ValidationError(self.bad_format)
        if width * height > IMAGE_MAX_PIXELS:
            # A few hundred KB can describe a huge picture that takes gigabytes to draw (the
            # thumbnail draws it): refused before anything decodes its pixels.
            raise ValidationError(f"照片像素过多(超过 {IMAGE_MAX_PIXELS // 1_000_000} 百万像素),"
                                  "请缩小后重新上传")
        field.image_info = {"size": size, "content_type": IMAGE_CONTENT_TYPES[image_format]}


# ---------------------------------------------------------------------------
# The field types


class FieldType:
    """Base entry of the registry. Subclasses override what differs."""

    name = ""
    has_value = True
    required_message = REQUIRED_MESSAGE

    # -- building
    def make_field(self, spec, **kwargs):
        """An unbound WTForms field for ``spec``."""
        raise NotImplementedError

    def validators(self, spec):
        first = Required(self) if spec.get("required") else Optional()
        return [first, Constraint(self, spec)]

    def default_data(self, spec):
        return self.to_data(spec, spec["default"]) if "default" in spec else None

    # -- reading JSON values (defaults, show_if values, answers)
    def to_data(self, spec, value):
        """A JSON value -> the field's ``data`` form; ValueError (a Chinese reason for the
        admin, shown by the loader) if it does not fit the type. Constraints are not checked
        here (see ``check``)."""
        raise NotImplementedError

    def check(self, spec, data):
        """Constraint problems of parsed ``data`` as a Chinese message, or None."""
        return None

    def default_problem(self, spec, value):
        """Why ``value`` cannot be the default of ``spec`` (for the loader), or None."""
        try:
            data = self.to_data(spec, value)
        except ValueError as error:
            return str(error)
        problem = self.check(spec, data)
        return f"不符合本字段的限制（{problem}）" if problem else None

    def expected_problem(self, spec, value):
        """Why ``value`` can never match this field in a show_if, or None."""
        try:
            self.to_data(spec, value)
        except ValueError as error:
            return str(error)
        return None

    # -- submitted data
    def is_empty(self, field):
        """True when nothing was entered (raw input), whatever the default."""
        raw = field.raw_data
        return not raw or not _as_text(raw[0]).strip()

    def is_blank(self, field, spec):
        """Empty or left at its default: a repeat row made only of these is dropped."""
        if self.is_empty(field):
            return True
        return "default" in spec and field.data == self.default_data(spec)

    def answer(self, field, spec):
        """The JSON value stored for a shown, validated field (None when empty)."""
        return field.data

    def matches(self, data, expected):
        """show_if test: does the field's ``data`` equal one of ``expected``?"""
        return data is not None and data in expected

    def expected_values(self, spec, values):
        """show_if values converted to data form (for ``matches``)."""
        return [self.to_data(spec, v) for v in values]

    # -- showing answers
    def format_value(self, spec, value):
        if value is None:
            return ""
        return str(value)

    def cell_value(self, spec, value):
        return None if value is None else self.format_value(spec, value)


# Characters no answer needs and some stores refuse (PostgreSQL's jsonb cannot hold U+0000):
# C0 controls other than tab and newline, DEL. CR is turned into LF first.
_CONTROL_CHARS = dict.fromkeys([c for c in range(32) if c not in (9, 10)] + [127])


def max_length(spec):
    """The longest answer a text or textarea field takes: its max_length, else the type's
    default cap (no answer is unbounded; a form that needs more says so)."""
    return spec.get("max_length", FIELD_TYPES[spec["type"]].default_max_length)


class TextType(FieldType):
    name = "text"
    widget = widgets.TextInput
    default_max_length = 200  # a name, a title, a place: one line

    def make_field(self, spec, **kwargs):
        # The page's maxlength is the same cap the server checks.
        return ParsedField(spec["label"], self.validators(spec), parse=self.parse,
                           default=self.default_data(spec), widget=self.widget(),
                           render_kw={"maxlength": max_length(spec)}, **kwargs)

    @staticmethod
    def parse(text):
        return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_CHARS).strip()

    def to_data(self, spec, value):
        if not isinstance(value, str):
            raise ValueError(f"应为文字，实际是 {_json(value)}")
        return self.parse(value)

    def check(self, spec, data):
        if "min_length" in spec and len(data) < spec["min_length"]:
            return f"至少 {spec['min_length']} 字"
        if len(data) > max_length(spec):
            return f"最多 {max_length(spec)} 字(现有 {len(data)} 字)"
        if "pattern" in spec and not re.fullmatch(spec["pattern"], data):
            return spec.get("pattern_message") or "格式不正确"
        return None

    def answer(self, field, spec):
        return field.data or None

    def format_value(self, spec, value):
        if value is None:
            return ""
        return f"{value} {spec['unit']}" if spec.get("unit") else str(value)

    def cell_value(self, spec, value):
        return None if value is None else str(value)


class TextareaType(TextType):
    name = "textarea"
    widget = widgets.TextArea
    default_max_length = 5000  # several pages of a 实施方案


class IntegerType(FieldType):
    name = "integer"

    def make_field(self, spec, **kwargs):
        return ParsedField(spec["label"], self.validators(spec), parse=self.parse,
                           default=self.default_data(spec), **kwargs)

    @staticmethod
    def parse(text):
        text = _compact_number(text)
        if not _INT_RE.match(text):
            raise ValueError("请输入整数")
        if len(text.lstrip("+-")) > MAX_INTEGER_DIGITS:
            raise ValueError("数值过大")
        return int(text)

    def to_data(self, spec, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"应为整数，实际是 {_json(value)}")
        return value

    def check(self, spec, data):
        if "min" in spec and data < spec["min"]:
            return f"不能小于 {plain_number(spec['min'])}"
        if "max" in spec and data > spec["max"]:
            return f"不能大于 {plain_number(spec['max'])}"
        return None

    def format_value(self, spec, value):
        if value is None:
            return ""
        text = plain_number(value) if isinstance(value, (int, float, Decimal, str)) else str(value)
        return f"{text} {spec['unit']}" if spec.get("unit") else text

    def cell_value(self, spec, value):
        if value is None:
            return None
        try:
            number = _to_decimal(value)
        except ValueError:
            return str(value)
        return int(number) if number == number.to_integral_value() else float(number)


class DecimalType(IntegerType):
    name = "decimal"

    @staticmethod
    def parse(text):
        text = _compact_number(text)
        if len(text) > MAX_DECIMAL_CHARS:
            raise ValueError("数值过长")
        if not _DECIMAL_RE.match(text):
            raise ValueError("请输入数字")
        number = _to_decimal(text)  # the regex already excludes NaN/Infinity/exponents
        return number

    def make_field(self, spec, **kwargs):
        return ParsedField(spec["label"], self.validators(spec), parse=self.parse,
                           display=plain_number, default=self.default_data(spec), **kwargs)

    def to_data(self, spec, value):
        try:
            return _to_decimal(value)
        except ValueError:
            raise ValueError(f"应为数字，实际是 {_json(value)}") from None

    def check(self, spec, data):
        if "min" in spec and data < _to_decimal(spec["min"]):
            return f"不能小于 {plain_number(spec['min'])}"
        if "max" in spec and data > _to_decimal(spec["max"]):
            return f"不能大于 {plain_number(spec['max'])}"
        return None

    def answer(self, field, spec):
        return None if field.data is None else plain_number(field.data)


class DateType(FieldType):
    name = "date"
    noun = "日期"
    example = "2024-05-01"
    widget = widgets.DateInput
    iso_re = _ISO_DATE_RE
    loose_re = _LOOSE_DATE_RE
    parse_error = "请输入正确的日期,例如 2024-05-01"

    def make_field(self, spec, **kwargs):
        return ParsedField(spec["label"], self.validators(spec), parse=self.parse,
                           default=self.default_data(spec), widget=self.widget(), **kwargs)

    def parse(self, text):
        match = self.loose_re.match(unicodedata.normalize("NFKC", text).strip())
        if not match:
            raise ValueError(self.parse_error)
        parts = [int(p) for p in match.groups()]
        try:
            return self.iso(*parts)
        except ValueError:
            raise ValueError(self.parse_error) from None

    @staticmethod
    def iso(year, month, day):
        return date(year, month, day).isoformat()  # ValueError for 2024-02-30

    def to_data(self, spec, value):
        match = self.iso_re.match(value) if isinstance(value, str) else None
        if not match:
            raise ValueError(f"应为{self.noun}，写成 {self.example} 这样，实际是 {_json(value)}")
        try:
            return self.iso(*(int(p) for p in match.groups()))
        except ValueError:
            raise ValueError(f"「{value}」不是真实存在的{self.noun}") from None

    def check(self, spec, data):
        if "min" in spec and data < spec["min"]:
            return f"不能早于 {spec['min']}"
        if "max" in spec and data > spec["max"]:
            return f"不能晚于 {spec['max']}"
        return None


class MonthType(DateType):
    name = "month"
    noun = "月份"
    example = "2024-05"
    widget = widgets.MonthInput
    iso_re = _ISO_MONTH_RE
    loose_re = _LOOSE_MONTH_RE
    parse_error = "请输入正确的月份,例如 2024-05"

    @staticmethod
    def iso(year, month):
        return date(year, month, 1).isoformat()[:7]


class SelectType(FieldType):
    name = "select"
    invalid_choice = "请选择有效的选项"

    def make_field(self, spec, **kwargs):
        choices = [SelectChoice("", "请选择")]
        choices += [SelectChoice(value, label) for value, label in choice_pairs(spec)]
        return ChoiceField(spec["label"], self.validators(spec), choices=choices,
                           validate_choice=False, default=self.default_data(spec), **kwargs)

    def to_data(self, spec, value):
        if not isinstance(value, str):
            raise ValueError(f"应为某个选项的值（文字），实际是 {_json(value)}")
        return value

    def check(self, spec, data):
        if data not in dict(choice_pairs(spec)):
            return self.invalid_choice
        return None

    def expected_problem(self, spec, value):
        values = [v for v, _ in choice_pairs(spec)]
        if value not in values:
            shown = f"「{value}」" if isinstance(value, str) else _json(value)
            return f"{shown}不是字段「{spec['name']}」的选项（可选的值：{'、'.join(values)}）"
        return None

    def format_value(self, spec, value):
        return "" if value is None else _choice_label(spec, value)


class ProjectChoice:
    """A project field's value must be one of the projects offered to this form instance
    (``forms.builder.set_project_choices``): one of the organization's own projects."""

    message = "请选择本村（单位）的项目"

    def __call__(self, form, field):
        if field.process_errors or field.data is None:
            return
        if field.data not in getattr(field, "project_ids", ()):
            raise ValidationError(self.message)


class ProjectRequired(Required):
    """Required, saying so differently when there is no project to choose from."""

    no_projects = "本村（单位）还没有已立项的项目，请先申报"

    def __call__(self, form, field):
        if self.ftype.is_empty(field) and not getattr(field, "project_ids", ()):
            field.errors[:] = []
            raise StopValidation(self.no_projects)
        super().__call__(form, field)


class ProjectType(SelectType):
    """One of the submitting organization's projects (a monthly report's or an acceptance
    request's). The choices belong to the form instance, not the schema: the view offers the
    organization's projects with ``forms.builder.set_project_choices`` before validating;
    without them nothing can be chosen. The answer is the project id as text ("12")."""

    name = "project"
    placeholder = "请选择项目"
    no_choices = "暂无可选的项目"

    def make_field(self, spec, **kwargs):
        return ChoiceField(spec["label"], self.validators(spec),
                           choices=[SelectChoice("", self.placeholder)], validate_choice=False,
                           **kwargs)

    def validators(self, spec):
        first = ProjectRequired(self) if spec.get("required") else Optional()
        return [first, ProjectChoice()]

    def instance_choices(self, pairs):
        """The choices of one form instance for [(project id, label)]."""
        pairs = [(str(value), str(label)) for value, label in pairs]
        first = SelectChoice("", self.placeholder if pairs else self.no_choices)
        return [first] + [SelectChoice(value, label) for value, label in pairs]

    def to_data(self, spec, value):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"应为项目编号，实际是 {_json(value)}")
        return str(value)

    def check(self, spec, data):
        return None  # the offered projects are checked by ProjectChoice

    def expected_problem(self, spec, value):
        return "项目字段不能作为显示条件"

    def format_value(self, spec, value):
        return "" if value is None else str(value)

    def cell_value(self, spec, value):
        return None if value is None else str(value)


class MultiselectType(SelectType):
    name = "multiselect"

    def make_field(self, spec, **kwargs):
        choices = [SelectChoice(value, label) for value, label in choice_pairs(spec)]
        return MultiChoiceField(spec["label"], self.validators(spec), choices=choices,
                                validate_choice=False, default=self.default_data(spec), **kwargs)

    def to_data(self, spec, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"应为选项值的列表，实际是 {_json(value)}")
        if len(set(value)) != len(value):
            raise ValueError("同一个选项写了两次")
        return list(value)

    def check(self, spec, data):
        values = dict(choice_pairs(spec))
        if any(v not in values for v in data):
            return self.invalid_choice
        if "min" in spec and len(data) < spec["min"]:
            return f"至少选择 {spec['min']} 项"
        if "max" in spec and len(data) > spec["max"]:
            return f"最多选择 {spec['max']} 项"
        return None

    def is_empty(self, field):
        return not field.data

    def answer(self, field, spec):
        chosen = set(field.data or ())
        ordered = [value for value, _ in choice_pairs(spec) if value in chosen]
        return ordered or None

    def matches(self, data, expected):
        # equals: "is among the selected"; in: "any selected is in".
        return any(value in expected for value in data or ())

    def expected_values(self, spec, values):
        return list(values)

    def format_value(self, spec, value):
        if value is None:
            return ""
        if not isinstance(value, list):
            return str(value)
        return "、".join(_choice_label(spec, v) for v in value)


class BooleanType(FieldType):
    name = "boolean"
    required_message = "请勾选此项"

    def make_field(self, spec, **kwargs):
        return BooleanField(spec["label"], self.validators(spec),
                            default=bool(spec.get("default", False)), **kwargs)

    def validators(self, spec):
        # required means "must be ticked" (a pledge, 承诺); an optional box has no constraint.
        return [Required(self)] if spec.get("required") else []

    def to_data(self, spec, value):
        if not isinstance(value, bool):
            raise ValueError(f"应为 true 或 false，实际是 {_json(value)}")
        return value

    def is_empty(self, field):
        return not field.data

    def is_blank(self, field, spec):
        return bool(field.data) == bool(spec.get("default", False))

    def answer(self, field, spec):
        return bool(field.data)

    def format_value(self, spec, value):
        if value is None:
            return ""
        return "是" if value else "否"


class PhoneType(FieldType):
    name = "phone"

    def make_field(self, spec, **kwargs):
        return ParsedField(spec["label"], self.validators(spec), parse=self.parse,
                           default=self.default_data(spec), widget=widgets.TelInput(), **kwargs)

    @staticmethod
    def parse(text):
        digits = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", text))
        if digits.startswith("+86"):
            digits = digits[3:]
        elif digits.startswith("0086"):
            digits = digits[4:]
        if not PHONE_RE.match(digits):
            raise ValueError("请输入正确的手机号码")
        return digits

    def to_data(self, spec, value):
        if not isinstance(value, str) or not PHONE_RE.match(value):
            raise ValueError(f"应为 11 位手机号码，实际是 {_json(value)}")
        return value


class ImageType(FieldType):
    name = "image"
    required_message = "请上传照片"

    def make_field(self, spec, **kwargs):
        return PhotoField(spec["label"], self.validators(spec), **kwargs)

    def validators(self, spec):
        first = Required(self) if spec.get("required") else Optional()
        return [first, ImageCheck()]

    def to_data(self, spec, value):
        raise ValueError("照片字段不能设置默认值")

    def is_empty(self, field):
        return not field.data or not isinstance(field.data, (FileStorage, str))

    def answer(self, field, spec):
        """For an upload, a dict without "file": services.photos stores the upload and adds
        "file" and "thumb". For a reference, the stored photo's whole answer."""
        data = field.data
        if self.is_empty(field):
            return None
        info = getattr(field, "image_info", None)
        if info is None:
            raise RuntimeError("collect_answers() needs a validated form")
        if isinstance(data, str):
            return dict(info)
        return {"name": client_filename(data.filename), **info}

    def format_value(self, spec, value):
        if value is None:
            return ""
        if isinstance(value, dict):
            return value.get("name") or value.get("file") or "照片"
        return str(value)


class SectionType(FieldType):
    name = "section"
    has_value = False

    def make_field(self, spec, **kwargs):
        raise TypeError("a section is a heading, not a form field")

    def format_value(self, spec, value):
        return ""

    def cell_value(self, spec, value):
        return None


class RepeatType(FieldType):
    """A list of sub-records. The builder makes the row form; see forms.builder.RepeatField."""

    name = "repeat"

    def make_field(self, spec, row_class=None, **kwargs):
        from forms.builder import RepeatField  # the builder owns row forms

        return RepeatField.for_spec(spec, row_class, **kwargs)

    def to_data(self, spec, value):
        raise ValueError("重复组不能设置默认值")

    def row_count_problem(self, spec, count):
        """Chinese message if ``count`` filled rows break required/min_items/max_items."""
        min_items = spec.get("min_items", 0)
        if spec.get("required"):
            min_items = max(min_items, 1)
        if count == 0:
            # An optional repeat may stay empty; min_items counts once a row is filled.
            if not spec.get("required"):
                return None
            if min_items == 1:
                return "此项为必填项,请至少填写 1 行"
            return f"请至少填写 {min_items} 行"
        if count < min_items:
            return f"请至少填写 {min_items} 行"
        if "max_items" in spec and count > spec["max_items"]:
            return f"最多填写 {spec['max_items']} 行"
        return None

    def format_value(self, spec, value):
        if value is None:
            return ""
        return f"{len(value)} 条" if isinstance(value, list) else str(value)

    def cell_value(self, spec, value):
        return None if value is None else self.format_value(spec, value)


FIELD_TYPES = {
    ftype.name: ftype
    for ftype in (
        TextType(), TextareaType(), IntegerType(), DecimalType(), DateType(), MonthType(),
        SelectType(), MultiselectType(), BooleanType(), PhoneType(), ImageType(),
        SectionType(), RepeatType(), ProjectType(),
    )
}

# Types a show_if may depend on, and types allowed inside a repeat row. A project field's
# choices differ from one organization to the next: nothing may depend on them.
CONDITION_TYPES = frozenset(t for t in FIELD_TYPES
                            if t not in ("section", "repeat", "image", "project"))
ROW_TYPES = CONDITION_TYPES


def field_type(name):
    """The registry entry for a type name; UnknownFieldType if there is none."""
    try:
        return FIELD_TYPES[name]
    except (KeyError, TypeError):
        raise UnknownFieldType(f"unknown field type {name!r}") from None


def format_value(spec, value):
    """Human text for an answer: 是/否, choice labels joined by "、", the photo's name,
    "N 条" for a repeat, numbers with their unit. None -> ""."""
    try:
        return field_type(spec["type"]).format_value(spec, value)
    except (TypeError, ValueError, AttributeError, KeyError):
        # An answer stored under an older schema version may not fit this spec.
        return "" if value is None else str(value)


def cell_value(spec, value):
    """A spreadsheet cell for an answer: int/float for integer and decimal (so Excel can
    sum them), None for no answer, a str for everything else."""
    try:
        return field_type(spec["type"]).cell_value(spec, value)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None if value is None else str(value)
