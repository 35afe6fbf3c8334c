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


# ---- drafts, publishing, versions (issue 9) ------------------------------------------------------
# The API the builder pages, the CLI and the XLSForm import share. Each is implemented in this
# module; until then a stub raises NotImplementedError.


class DraftChanged(Exception):
    """The draft was saved by someone else since ``base_revision`` was read."""

    def __str__(self):
        return "草稿已被其他人修改。请复制您的修改,刷新页面后再合并保存,以免覆盖对方的内容。"


def get_draft(store, form_id):
    """The draft of a form: {"form_id", "text" (the JSON text as edited, maybe invalid),
    "revision" (int, grows with each save), "saved_at", "user"}, or None."""
    raise NotImplementedError


def save_draft(store, form_id, text, user=None, base_revision=None):
    """Save ``text`` (any text: an invalid draft may be saved, never published) as the draft of
    ``form_id``; the stored draft. ``base_revision``: the revision the editor started from
    (0: there was no draft) — DraftChanged if the draft moved since; None: replace whatever is
    there (the CLI's import)."""
    raise NotImplementedError


def check_draft(text, form_id):
    """(schema or None, [SchemaError]): what publishing ``text`` as ``form_id`` would store,
    or every problem found (each with its JSON path and a Chinese reason)."""
    raise NotImplementedError


def publish(store, form_id, user=None):
    """Publish the form's draft as its next version (and drop the draft); the version doc.
    SchemaError when the draft is invalid, LookupError when there is no draft."""
    raise NotImplementedError


def discard_draft(store, form_id):
    """Drop the form's draft; whether there was one."""
    raise NotImplementedError


def diff(old, new):
    """The changes from schema ``old`` to schema ``new``: a list of dicts {"kind": "added" |
    "removed" | "renamed" | "changed" | "moved", "path": "steps.task", "name", "attribute",
    "old", "new", "text": one Chinese line}. A field whose ``renamed_from`` names a field of
    ``old`` is a rename, not a removal plus an addition."""
    raise NotImplementedError


def rollback(store, form_id, version, user=None):
    """Publish a copy of ``version`` as the form's next version; the new version doc."""
    raise NotImplementedError


def duplicate(store, form_id, new_id, user=None, title=None):
    """A new form ``new_id`` (version 1) with the current definition of ``form_id``."""
    raise NotImplementedError


def set_closed(store, form_id, closed, user=None):
    """Close a form (its QR links show 已停止收集 and accept nothing) or reopen it."""
    raise NotImplementedError


def is_closed(store, form_id):
    """Whether the form is closed."""
    raise NotImplementedError


def impact(store, form_id, schema):
    """{field path: how many stored answers of the form would not fit ``schema``'s definition
    of that field (type, choices, constraints)} for the fields where that is more than 0."""
    raise NotImplementedError


def json_schema(schema):
    """The JSON Schema (draft 2020-12) of the answers of a submission made with ``schema``."""
    raise NotImplementedError
