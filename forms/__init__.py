"""Form schemas -> WTForms: loader (read + check), fields (the type registry), builder.

    schema = load_schema_file("schemas/monthly_report.json")   # or check_schema(dict_or_json)
    FormClass = build_form_class(schema)                        # cached per (id, version)
    form = FormClass()
    if form.validate_on_submit():
        answers, uploads = collect_answers(form, schema)
"""

from forms.builder import (
    build_form_class,
    collect_answers,
    display_rows,
    new_submission_id,
)
from forms.fields import FIELD_TYPES, cell_value, format_value
from forms.loader import (
    SchemaError,
    check_schema,
    load_builtin_schemas,
    load_schema_file,
)

__all__ = [
    "FIELD_TYPES",
    "SchemaError",
    "build_form_class",
    "cell_value",
    "check_schema",
    "collect_answers",
    "display_rows",
    "format_value",
    "load_builtin_schemas",
    "load_schema_file",
    "new_submission_id",
]
