"""show_if: when a field is shown, decided once for the server (forms.builder, on submitted
data) and for stored answers (demo data, and anything that re-reads answers).

The rule (docs/ARCHITECTURE.md, form schema format): a field with ``show_if`` is shown when
its target — an earlier field of the same list — is shown and its value equals ``equals`` or
is one of ``in`` (for a multiselect target: any selected value). A field depending on a hidden
field is hidden. static/js/form.js applies the same rule live in the browser; the browser test
checks that the two agree.
"""
from forms.fields import FIELD_TYPES


def condition_met(condition, target_spec, data):
    """Whether a target field with parsed ``data`` (the field's data form: Decimal for a
    decimal, a list for a multiselect...) satisfies ``condition``."""
    ftype = FIELD_TYPES[target_spec["type"]]
    expected = [condition["equals"]] if "equals" in condition else condition["in"]
    try:
        expected = ftype.expected_values(target_spec, expected)
    except ValueError:
        return False
    return ftype.matches(data, expected)


def hidden_names(specs, data_of):
    """Names of the fields of one scope (a form or a repeat row) whose show_if is false.

    ``data_of(name)`` gives a target's parsed data, or raises KeyError when the scope has no
    such value."""
    by_name = {spec.get("name"): spec for spec in specs}
    hidden = set()
    for spec in specs:
        condition = spec.get("show_if")
        if not condition:
            continue
        target = condition["field"]
        if target in hidden or target not in by_name:
            hidden.add(spec["name"])
            continue
        try:
            data = data_of(target)
        except KeyError:
            hidden.add(spec["name"])
            continue
        if not condition_met(condition, by_name[target], data):
            hidden.add(spec["name"])
    return hidden


def answer_data(spec, answer):
    """A stored answer -> the field's data form; None when absent or not of the field's type
    (an answer kept from an older version of the form)."""
    if answer is None:
        return None
    try:
        return FIELD_TYPES[spec["type"]].to_data(spec, answer)
    except (ValueError, KeyError):
        return None


def shown_in_answers(spec, specs, answers):
    """Whether ``spec`` is shown, given the stored ``answers`` of its scope so far (a hidden
    or unanswered target hides it)."""
    condition = spec.get("show_if")
    if not condition:
        return True
    target = next((s for s in specs if s.get("name") == condition["field"]), None)
    if target is None or condition["field"] not in answers:
        return False
    return condition_met(condition, target, answer_data(target, answers[condition["field"]]))
