"""Form definitions: reading an admin's JSON (upload, editor, file), saving versions, checking
what is stored, and installing the built-in forms.

Every way a form definition comes in goes through ``forms.loader`` (the same duplicate-key,
meta-schema and semantic checks), so an upload, the JSON editor and ``flask load-form``
accept and refuse exactly the same documents.
"""
import json
import os

from forms.loader import SchemaError, check_schema, load_builtin_schemas, parse_schema_text


def parse_definition(text, source, expected_id=None):
    """JSON text (str, or bytes in UTF-8 with or without BOM) -> a checked schema.
    SchemaError names the source, the JSON path and the reason."""
    return check_schema(parse_schema_text(text, source), source=source, expected_id=expected_id)


def parse_upload(filename, data):
    """An uploaded .json file: its stem must be the form's id."""
    stem = os.path.splitext(os.path.basename(filename))[0]
    return parse_definition(data, filename, expected_id=stem)


def schema_json(schema):
    """The schema as an admin edits it: without the server-assigned version."""
    return json.dumps({k: v for k, v in schema.items() if k != "version"},
                      ensure_ascii=False, indent=2)


def _content(schema):
    """What a definition says, whatever the order of its keys (PostgreSQL gives a stored one
    back with its keys reordered; lists keep their order)."""
    return {k: v for k, v in schema.items() if k != "version"}


def save_version(store, schema, source, user=None):
    """Store ``schema`` as the next version of its form; None (nothing stored) when it says
    the same as the current version."""
    current = store.get_form(schema["id"])
    if current is not None and _content(schema) == _content(current["schema"]):
        return None
    return store.add_form_version(schema, source=source, user=user)


def check_stored_forms(store):
    """[(label, SchemaError or None)] for the built-in files and the current version of every
    stored form, as `flask check-forms` prints them."""
    results = []
    try:
        builtin = load_builtin_schemas()
        results.append((f"schemas/: {len(builtin)} built-in files", None))
    except SchemaError as error:
        results.append(("schemas/", error))
    for doc in store.list_forms():
        label = f"{doc['id']} v{doc['version']}"
        try:
            check_schema({k: v for k, v in doc["schema"].items() if k != "version"},
                         source=f"db:{label}", expected_id=doc["id"])
            results.append((label, None))
        except SchemaError as error:
            results.append((label, error))
    return results


def install_builtin_forms(store):
    """Install every built-in form (schemas/*.json) whose id is not stored yet; their ids.
    A stored form is never touched (an admin may have edited it)."""
    existing = {f["id"] for f in store.list_forms()}
    added = []
    for schema in load_builtin_schemas():
        if schema["id"] not in existing:
            store.add_form_version(schema, source="builtin")
            added.append(schema["id"])
    return added


def export_schema(store, form_id):
    """One schema whose columns cover every version of the form that has submissions (the
    newest version's fields first, then fields only older versions had), for exports."""
    from exports import merge_versions

    used = store.submission_versions(form_id)
    versions = [v["schema"] for v in reversed(store.form_versions(form_id))]
    return merge_versions([versions[0]] + [s for s in versions[1:] if s["version"] in used])
