"""Checked schema -> WTForms form class, and a validated form -> answers.

``build_form_class`` makes one fresh, named class per schema version (cached), so no two
forms ever share mutable class state. ``show_if`` is applied on the server in ``validate``:
a field whose condition is false is not required, not validated and not stored. The same
rule holds inside each repeat row. A form with a ``period`` field refuses a period the form
does not take (services.periods.period_problem); a project field offers the projects a view
gives one form instance (``set_project_choices``).
"""

import hashlib
import json
import re
import threading
import uuid
from collections import OrderedDict

from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import Form
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields import FieldList, FormField, HiddenField
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from forms import show_if
from forms.fields import FIELD_TYPES, field_type, format_value
from forms.loader import SchemaError
from services import periods

MAX_ROWS = 500  # hard cap on submitted repeat rows; max_items in the meta-schema is <= this
CACHE_SIZE = 256

_cache = OrderedDict()
_cache_lock = threading.Lock()


def new_submission_id():
    """A fresh submission id (uuid4, 32 hex digits), the default of every new form."""
    return uuid.uuid4().hex


class SubmissionIdCheck:
    """The hidden submission_id must come back as a uuid4 (hex or dashed string); it is
    normalized to 32 hex digits so every retry of one fill carries the same id."""

    message = "提交编号无效,请刷新页面后重新填写"

    def __call__(self, form, field):
        if field.raw_data is not None and not field.raw_data:
            raise ValidationError(self.message)  # posted without it: never invent one
        try:
            value = uuid.UUID(str(field.data).strip())
        except ValueError:
            raise ValidationError(self.message) from None
        if value.version != 4:
            raise ValidationError(self.message)
        field.data = value.hex


def hidden_names(form, specs):
    """Names of the fields in ``specs`` (one scope) whose show_if is false for the
    submitted data. A field depending on a hidden field is hidden too."""

    def data_of(name):
        if name not in form:
            raise KeyError(name)
        return form[name].data

    return show_if.hidden_names(specs, data_of)


def _validate_scope(form, extra_validators):
    """Form.validate for one scope (a whole form or one repeat row), skipping hidden fields.

    Deliberately not Form.validate: it would also pick up ``validate_<name>`` attributes."""
    form._errors = None
    form._hidden = hidden_names(form, form._specs)
    success = True
    for name, field in form._fields.items():
        if name in form._hidden:
            field.errors = []
            continue
        extra = (extra_validators or {}).get(name, ())
        if not field.validate(form, extra):
            success = False
    return success


class PeriodCheck:
    """The period a form's period field names must be one the form takes: within its
    ``year``, not after the current period (services.periods.period_problem; today from the
    stores' clock, storage.common.now)."""

    def __init__(self, spec):
        self.spec = spec

    def __call__(self, form, field):
        if field.process_errors or field.data is None:
            return
        from storage import common  # the clock the stores use (tests move it)

        period = periods.period_from_value(self.spec, field.data)
        if period is None:
            raise ValidationError("请填写正确的报告年份，例如 2026" if self.spec.every == "year"
                                  else "请填写正确的报告月份，例如 2026-11")
        problem = periods.period_problem(self.spec, period, common.now().date())
        if problem:
            raise ValidationError(problem)


def _period_validators(schema):
    """{period field name: [PeriodCheck]} for a form whose period is read from a field."""
    spec = periods.period_spec(schema)
    if spec is None or not spec.field:
        return {}
    return {spec.field: [PeriodCheck(spec)]}


def set_project_choices(form, choices):
    """Offer ``choices`` — [(project id, label)], the submitting organization's projects —
    in every project field of ``form`` (one instance; call before ``validate``). A value
    outside them is refused; with none, a required project field says there is no project
    yet."""
    for spec in form._specs:
        if spec["type"] == "project":
            field = form[spec["name"]]
            ftype = FIELD_TYPES["project"]
            field.choices = ftype.instance_choices(choices)
            field.project_ids = frozenset(choice.value for choice in field.choices[1:])


class LazyCSRFTokenField(CSRFTokenField):
    """Flask-WTF's CSRF field, but the token to render (``current_token``) is signed when the
    page is rendered, not when the form is built: a valid POST answered with a redirect never
    renders the form and need not sign a token it throws away. Validation is unchanged."""

    _token = None

    def process(self, *args, **kwargs):
        HiddenField.process(self, *args, **kwargs)  # CSRFTokenField.process minus the signing

    @property
    def current_token(self):
        if self._token is None:
            self._token = self.csrf_impl.generate_csrf_token(self)
        return self._token

    @current_token.setter
    def current_token(self, value):
        self._token = value


class LazyFlaskFormCSRF(_FlaskFormCSRF):
    field_class = LazyCSRFTokenField


class BaseForm(FlaskForm):
    """Base of every generated form: CSRF (Flask-WTF) and the client submission id."""

    class Meta:
        csrf_class = LazyFlaskFormCSRF

    _specs = ()
    _schema = None
    _extra_validators = {}

    submission_id = HiddenField(default=new_submission_id, validators=[SubmissionIdCheck()])

    def validate(self, extra_validators=None):
        merged = {name: list(found) for name, found in self._extra_validators.items()}
        for name, found in (extra_validators or {}).items():
            merged[name] = merged.get(name, []) + list(found)
        return _validate_scope(self, merged)


class RowForm(Form):
    """Base of the generated row forms of a repeat (no CSRF: the outer form has it)."""

    _specs = ()

    def validate(self, extra_validators=None):
        return _validate_scope(self, extra_validators)


class RepeatField(FieldList):
    """FieldList of row forms with the repeat rules of the schema:

    - rows left entirely blank (a cadre tapped "添加一行" and typed nothing) are dropped,
      not validated and not stored;
    - required / min_items / max_items count the filled rows (Chinese errors in
      ``list_errors``); an optional repeat may have zero rows;
    - ``template_entry()`` is the blank row the page clones (index ``__index__``).
    """

    def __init__(self, unbound_field, label=None, validators=None, spec=None, **kwargs):
        super().__init__(unbound_field, label, validators, **kwargs)
        self.spec = spec or {}
        self.list_errors = []
        self.posted_rows = 0

    def process(self, formdata, data=unset_value, extra_filters=None):
        # FieldList quietly keeps the first max_entries rows of a larger post; count them all
        # so that validate() refuses the post instead of storing a cut-down list.
        self.posted_rows = len(set(self._extract_indices(self.name, formdata))) if formdata else 0
        super().process(formdata, data, extra_filters)

    @classmethod
    def for_spec(cls, spec, row_class, **kwargs):
        return cls(FormField(row_class), spec["label"], spec=spec,
                   min_entries=max(spec.get("min_items", 0), 1), max_entries=MAX_ROWS, **kwargs)

    def is_blank_row(self, entry):
        row = entry.form
        return all(FIELD_TYPES[sub["type"]].is_blank(row[sub["name"]], sub) for sub in row._specs)

    def filled_entries(self):
        return [entry for entry in self.entries if not self.is_blank_row(entry)]

    def validate(self, form, extra_validators=()):
        filled = self.filled_entries()
        filled_ids = {id(entry) for entry in filled}
        entry_errors = []
        for entry in self.entries:
            if id(entry) in filled_ids:
                entry.validate(form)
                entry_errors.append(entry.errors)
            else:
                entry_errors.append({})
        self.list_errors = []
        problem = FIELD_TYPES["repeat"].row_count_problem(self.spec, len(filled))
        if self.posted_rows > MAX_ROWS:
            problem = f"最多填写 {self.spec.get('max_items', MAX_ROWS)} 行(提交了 {self.posted_rows} 行)"
        if problem:
            self.list_errors.append(problem)
        self.errors = entry_errors if any(entry_errors) else []
        self._run_validation_chain(form, list(self.validators) + list(extra_validators))
        self.errors.extend(self.list_errors)
        return not self.errors

    def template_entry(self):
        """A blank, unattached row named ``<name>-__index__-<sub>`` for the page script."""
        options = dict(name=f"{self.name}{self._separator}__index__",
                       id=f"{self.id}{self._separator}__index__",
                       _meta=self.meta, translations=self._translations)
        entry = self.meta.bind_field(self._form, self.unbound_field, options)
        entry.index = "__index__"
        entry.short_name = "__index__"
        entry.process(None)
        return entry


def _camel(slug):
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", slug) if part)


def _fingerprint(schema):
    text = json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _field_attrs(schema_id, specs, path):
    attrs = {}
    for index, spec in enumerate(specs):
        try:
            ftype = field_type(spec.get("type"))
        except ValueError as error:
            raise SchemaError(schema_id, f"{path}[{index}].type", str(error)) from None
        if not ftype.has_value:
            continue
        if spec["type"] == "repeat":
            row_class = _row_class(schema_id, spec, f"{path}[{index}].fields")
            attrs[spec["name"]] = ftype.make_field(spec, row_class=row_class)
        else:
            attrs[spec["name"]] = ftype.make_field(spec)
    return attrs


def _row_class(schema_id, spec, path):
    attrs = _field_attrs(schema_id, spec["fields"], path)
    attrs["_specs"] = tuple(spec["fields"])
    return type(f"{_camel(schema_id)}{_camel(spec['name'])}RowForm", (RowForm,), attrs)


def _build(schema):
    schema = json.loads(json.dumps(schema))  # private copy: the class must not see later edits
    attrs = _field_attrs(schema["id"], schema["fields"], "fields")
    attrs["_specs"] = tuple(schema["fields"])
    attrs["_schema"] = schema
    attrs["_extra_validators"] = _period_validators(schema)
    version = schema.get("version")
    suffix = f"V{version}" if version else ""
    return type(f"{_camel(schema['id'])}{suffix}Form", (BaseForm,), attrs)


def build_form_class(schema):
    """The form class for a checked schema: a fresh subclass of BaseForm named after the
    form (e.g. ``MonthlyReportV3Form``), with ``submission_id`` and one field per
    non-section field. Cached by (id, version) — and by content, so two different
    schemas that happen to share an id and version never share a class."""
    key = (schema["id"], schema.get("version"), _fingerprint(schema))
    with _cache_lock:
        cls = _cache.get(key)
        if cls is not None:
            _cache.move_to_end(key)
            return cls
    cls = _build(schema)
    with _cache_lock:
        cls = _cache.setdefault(key, cls)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return cls


def _hidden(form):
    hidden = getattr(form, "_hidden", None)
    return hidden if hidden is not None else hidden_names(form, form._specs)


def _row_answers(entry, specs):
    row = entry.form
    hidden = _hidden(row)
    return {
        spec["name"]: FIELD_TYPES[spec["type"]].answer(row[spec["name"]], spec)
        for spec in specs
        if spec["name"] not in hidden
    }


def collect_answers(form, schema):
    """(answers, uploads) from a validated form.

    answers: {name: JSON value} in schema order. A hidden field (show_if false) is absent;
    a shown empty optional field is None (a repeat: []); a repeat is a list of row dicts
    (blank rows dropped, hidden row fields absent); an uploaded image is
    ``{"name", "size", "content_type"}`` (services.photos stores it and adds "file" and
    "thumb"); an image sent as a reference is already the stored answer.
    uploads: {name: FileStorage} for every image field that received a file.
    """
    answers = {}
    uploads = {}
    hidden = _hidden(form)
    for spec in schema["fields"]:
        ftype = field_type(spec["type"])
        name = spec.get("name")
        if not ftype.has_value or name in hidden:
            continue
        field = form[name]
        if spec["type"] == "repeat":
            rows = field.filled_entries()
            answers[name] = [_row_answers(entry, spec["fields"]) for entry in rows]
            continue
        answers[name] = ftype.answer(field, spec)
        if spec["type"] == "image" and answers[name] is not None and "file" not in answers[name]:
            uploads[name] = field.data
    return answers, uploads


def display_rows(schema, answers):
    """What a detail or preview page shows for one submission, in schema order:

    - ``{"kind": "section", "label", "hint"}`` (only when something follows it);
    - ``{"kind": "value", "name", "type", "label", "text", "value"}``;
    - ``{"kind": "image", "name", "label", "text", "value"}`` (value: the stored dict);
    - ``{"kind": "repeat", "name", "label", "text", "columns": [labels],
      "rows": [[text, ...], ...]}``.

    Fields absent from ``answers`` (hidden by show_if, or added in a later version) are
    skipped. Texts are plain strings: templates must escape them (autoescape does).
    """
    items = []
    pending_section = None
    for spec in schema["fields"]:
        kind = spec["type"]
        if kind == "section":
            pending_section = {"kind": "section", "label": spec["label"],
                               "hint": spec.get("hint", "")}
            continue
        if spec["name"] not in answers:
            continue
        if pending_section is not None:
            items.append(pending_section)
            pending_section = None
        value = answers[spec["name"]]
        item = {"name": spec["name"], "type": kind, "label": spec["label"],
                "text": format_value(spec, value), "value": value}
        if kind == "repeat":
            columns = spec["fields"]
            rows = value if isinstance(value, list) else []
            item.update(kind="repeat", columns=[sub["label"] for sub in columns], rows=[
                [format_value(sub, row.get(sub["name"])) if isinstance(row, dict) else ""
                 for sub in columns]
                for row in rows
            ])
        else:
            item["kind"] = "image" if kind == "image" else "value"
        items.append(item)
    return items


def error_map(form):
    """{input name: [Chinese messages]} of a validated form, for a page that shows the errors
    beside its fields itself (the public page's JSON answer): a field in a repeat row under
    its input name ("steps-2-content"), a repeat's own errors (too few rows...) under the
    repeat's name, the page's own (expired page, bad submission id) under theirs."""
    found = {}
    for field in form:
        if isinstance(field, RepeatField):
            for entry in field.entries:
                found.update(error_map(entry.form))
            if field.list_errors:
                found[field.name] = list(field.list_errors)
        elif field.errors:
            found[field.name] = [str(e) for e in field.errors]
    return found
