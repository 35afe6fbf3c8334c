"""Form definitions: reading an admin's JSON (upload, editor, file), saving versions, checking
what is stored, and installing the built-in forms.

Every way a form definition comes in goes through ``forms.loader`` (the same duplicate-key,
meta-schema and semantic checks), so an upload, the JSON editor and ``flask load-form``
accept and refuse exactly the same documents.
"""
import copy
import json
import os
import re

from exports import answer_of, merge_versions
from forms.builder import MAX_ROWS
from forms.fields import FIELD_TYPES, IMAGE_CONTENT_TYPES, choice_pairs, max_length
from forms.loader import (SchemaError, check_schema, former_names, load_builtin_schemas,
                          parse_schema_text, schema_problems)
from storage.errors import DraftConflict


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
    newest version's fields first, then fields only older versions had), for exports. Every
    version takes part in the merge, so a field renamed twice (``renamed_from``) links its
    answers across a version nobody submitted with; columns that no submission can fill
    (a field only versions without submissions had) are left out."""
    used = store.submission_versions(form_id)
    versions = [v["schema"] for v in reversed(store.form_versions(form_id))]
    merged = merge_versions(versions)
    merged["fields"] = _columns_in_use(merged["fields"], used | {versions[0]["version"]})
    return merged


def _columns_in_use(fields, versions):
    kept = []
    for spec in fields:
        stored_as = spec.get("stored_as")
        if stored_as is not None and not any(stored_as.get(v) for v in versions):
            continue
        if spec["type"] == "repeat":
            spec = dict(spec, fields=_columns_in_use(spec["fields"], versions))
        kept.append(spec)
    return kept


# ---- drafts, publishing, versions (issue 9) ------------------------------------------------------
# The API the builder pages, the CLI and the XLSForm import share. Callers record the audit
# entries (views.web.audit / cli.audit) once a call has changed something.

FORM_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")  # = the meta-schema's id pattern
DRAFT_MAX_CHARS = 2_000_000  # 500 fields of 300 choices fit; a runaway paste does not

# How each way of making a version is named on the pages (Store form version "source").
SOURCE_LABELS = {"builtin": "内置", "upload": "上传", "edit": "在线编辑", "cli": "命令行",
                 "builder": "可视化编辑", "rollback": "回滚", "duplicate": "复制",
                 "xlsform": "XLSForm 导入"}


class DraftChanged(Exception):
    """The draft was saved by someone else since ``base_revision`` was read. ``current``:
    the draft as it is now (or None if it was dropped meanwhile)."""

    def __init__(self, current=None):
        super().__init__()
        self.current = current

    def __str__(self):
        return "草稿已被其他人修改。请复制您的修改,刷新页面后再合并保存,以免覆盖对方的内容。"


def form_id_problem(form_id):
    """Why ``form_id`` cannot name a form (Chinese), or None."""
    if isinstance(form_id, str) and FORM_ID_RE.match(form_id):
        return None
    return (f"表单编号「{form_id}」无效:应以小写字母开头,只含小写字母、数字和下划线 _,"
            "共 2 到 64 个字符")


def get_draft(store, form_id):
    """The draft of a form: {"form_id", "text" (the JSON text as edited, maybe invalid),
    "revision" (int, grows with each save), "saved_at", "user"}, or None."""
    return store.get_draft(form_id)


def save_draft(store, form_id, text, user=None, base_revision=None):
    """Save ``text`` (any text: an invalid draft may be saved, never published) as the draft of
    ``form_id``; the stored draft. ``base_revision``: the revision the editor started from
    (0: there was no draft) — DraftChanged if the draft moved since; None: replace whatever is
    there (the CLI's import). ValueError (Chinese) for an invalid form id or a text too long;
    bytes are read as UTF-8 (SchemaError when they are not)."""
    problem = form_id_problem(form_id)
    if problem:
        raise ValueError(problem)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SchemaError(f"草稿 {form_id}", "", "文件不是 UTF-8 编码") from None
    if not isinstance(text, str):
        raise ValueError("草稿必须是文本")
    if len(text) > DRAFT_MAX_CHARS:
        raise ValueError(f"草稿过长(超过 {DRAFT_MAX_CHARS:,} 个字符)")
    try:
        text.encode("utf-8")  # a lone surrogate cannot be stored
    except UnicodeEncodeError:
        raise ValueError("草稿中含有无效的字符") from None
    if "\x00" in text:
        raise ValueError("草稿中含有无法保存的空字符")
    try:
        return store.save_draft(form_id, text, user, base_revision)
    except DraftConflict:
        raise DraftChanged(store.get_draft(form_id)) from None


def check_draft(text, form_id):
    """(schema or None, [SchemaError]): what publishing ``text`` as ``form_id`` would store,
    or every problem found (each with its JSON path and a reason; a meta-schema problem once,
    then at most one semantic problem per field)."""
    source = f"草稿 {form_id}"
    try:
        data = parse_schema_text(text, source)
    except SchemaError as error:
        return None, [error]
    problems = schema_problems(data, source)
    if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"] != form_id \
            and not any(p.path == "id" for p in problems):
        problems.insert(0, SchemaError(source, "id", f"表单编号应为「{form_id}」,"
                                                     f"草稿中是「{data['id']}」"))
    if problems:
        return None, problems
    return check_schema(data, source=source), []


def publish(store, form_id, user=None, source="builder"):
    """Publish the form's draft as its next version (``source``: how, see SOURCE_LABELS) and
    drop the draft; the version doc, or None when the draft says what the current version
    says (nothing stored; the draft is dropped all the same). SchemaError when the draft is
    invalid (its ``problems``: every problem found), LookupError when there is no draft;
    either way nothing is published. A draft saved again while this runs is kept."""
    draft = store.get_draft(form_id)
    if draft is None:
        raise LookupError(f"表单「{form_id}」没有草稿")
    schema, problems = check_draft(draft["text"], form_id)
    if problems:
        error = problems[0]
        error.problems = problems
        raise error
    doc = save_version(store, schema, source=source, user=user)
    latest = store.get_draft(form_id)
    if latest is not None and latest["revision"] == draft["revision"]:
        store.delete_draft(form_id)
    return doc


def discard_draft(store, form_id):
    """Drop the form's draft; whether there was one."""
    return store.delete_draft(form_id)


# ---- comparing versions

def diff(old, new):
    """The changes from schema ``old`` to schema ``new``: a list of dicts {"kind": "added" |
    "removed" | "renamed" | "changed" | "moved", "path": "steps.task", "name", "attribute",
    "old", "new", "text": one Chinese line}. A field whose ``renamed_from`` names a field of
    ``old`` is a rename, not a removal plus an addition.

    Form-level attributes (title, description...) come first, with path "" and name None;
    then the fields in the order of ``new`` (each: added, or renamed, its changed attributes
    one by one, moved, then its repeat's sub-fields), then the removed ones. "old"/"new" hold:
    the field spec (added/removed), the names (renamed), the attribute's values (changed; None
    when absent), the 1-based positions in the list (moved)."""
    changes = []
    keys = [k for k in ("id", "title", "description", "stage") if k in old or k in new]
    keys += sorted(k for k in set(old) | set(new) if k not in keys + ["fields", "version"])
    for key in keys:
        if old.get(key) != new.get(key):
            changes.append(_change("changed", "", None, key, old.get(key), new.get(key),
                                   f"表单的 {key}: {_shown(old.get(key))} → "
                                   f"{_shown(new.get(key))}"))
    _diff_fields(old["fields"], new["fields"], "", "", changes)
    return changes


def _change(kind, path, name, attribute, old, new, text):
    return {"kind": kind, "path": path, "name": name, "attribute": attribute, "old": old,
            "new": new, "text": text}


def match_fields(old_fields, new_fields):
    """{index in new_fields: index in old_fields} of the fields that are the same field: a
    field of ``new`` whose renamed_from names a field of ``old`` is that field (a rename,
    which wins over a same-named field), else the field of ``old`` with its name."""
    old_index = {spec["name"]: i for i, spec in enumerate(old_fields)}
    matched, taken = {}, set()
    for i, spec in enumerate(new_fields):
        for former in former_names(spec):
            if former in old_index and old_index[former] not in taken:
                matched[i] = old_index[former]
                taken.add(old_index[former])
                break
    for i, spec in enumerate(new_fields):
        j = old_index.get(spec["name"])
        if i not in matched and j is not None and j not in taken:
            matched[i] = j
            taken.add(j)
    return matched


def _diff_fields(old_fields, new_fields, base, label_base, changes):
    matched = match_fields(old_fields, new_fields)
    stay = _increasing(sorted(matched.items()))
    for i, spec in enumerate(new_fields):
        path = f"{base}{spec['name']}"
        label = f"{label_base}{spec['label']}"
        if i not in matched:
            changes.append(_change("added", path, spec["name"], None, None, spec,
                                   f"新增字段「{label}」({path})"))
            continue
        before = old_fields[matched[i]]
        if before["name"] != spec["name"]:
            old_path = f"{base}{before['name']}"
            changes.append(_change("renamed", path, spec["name"], "name", before["name"],
                                   spec["name"], f"字段「{label}」改名: {old_path} → {path}"))
        both_repeats = before["type"] == spec["type"] == "repeat"
        attributes = [k for k in spec if k not in ("name", "renamed_from")]
        attributes += [k for k in before if k not in spec and k not in ("name", "renamed_from")]
        for key in attributes:
            if key == "fields" and both_repeats:
                continue
            if before.get(key) != spec.get(key):
                changes.append(_change("changed", path, spec["name"], key, before.get(key),
                                       spec.get(key), _attribute_text(label, key,
                                                                      before.get(key),
                                                                      spec.get(key))))
        if i not in stay:
            changes.append(_change("moved", path, spec["name"], None, matched[i] + 1, i + 1,
                                   f"字段「{label}」的位置: 第 {matched[i] + 1} 项 → "
                                   f"第 {i + 1} 项"))
        if both_repeats:
            _diff_fields(before["fields"], spec["fields"], f"{path}.", f"{label} / ", changes)
    kept = set(matched.values())
    for j, spec in enumerate(old_fields):
        if j not in kept:
            path = f"{base}{spec['name']}"
            changes.append(_change("removed", path, spec["name"], None, spec, None,
                                   f"删除字段「{label_base}{spec['label']}」({path})"))


def _increasing(pairs):
    """The new indexes of the longest run of matched fields that kept their relative order
    (the others moved): a longest increasing subsequence of the old indexes."""
    best = {}  # new index -> (length, previous new index)
    for n, (i, j) in enumerate(pairs):
        length, previous = 1, None
        for i2, j2 in pairs[:n]:
            if j2 < j and best[i2][0] + 1 > length:
                length, previous = best[i2][0] + 1, i2
        best[i] = (length, previous)
    if not best:
        return set()
    i = max(best, key=lambda k: (best[k][0], -k))
    keep = set()
    while i is not None:
        keep.add(i)
        i = best[i][1]
    return keep


def _attribute_text(label, key, before, after):
    if key == "choices" and isinstance(before, list) and isinstance(after, list):
        old_values = [c if isinstance(c, str) else c["value"] for c in before]
        new_values = [c if isinstance(c, str) else c["value"] for c in after]
        parts = [f"删除「{v}」" for v in old_values if v not in new_values]
        parts += [f"新增「{v}」" for v in new_values if v not in old_values]
        if parts:
            return f"字段「{label}」的 choices: {','.join(parts)}"
    return f"字段「{label}」的 {key}: {_shown(before)} → {_shown(after)}"


def _shown(value):
    if value is None:
        return "(无)"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


# ---- rollback, duplicate, close

def rollback(store, form_id, version, user=None):
    """Publish a copy of ``version`` as the form's next version; the new version doc (None
    when it says what the current version says: nothing stored). A field renamed since that
    version gets the later names in its renamed_from, so the answers collected under them stay
    in its column. LookupError for an unknown form or version; SchemaError when the old
    version no longer passes today's checks."""
    target = store.get_form(form_id, version)
    if target is None:
        raise LookupError(f"表单「{form_id}」没有第 {version} 版")
    current = store.get_form(form_id)
    schema = copy.deepcopy(_content(target["schema"]))
    _carry_renames(current["schema"]["fields"], schema["fields"])
    schema = check_schema(schema, source=f"{form_id} 第 {version} 版")
    return save_version(store, schema, source="rollback", user=user)


def _carry_renames(current_fields, fields):
    """Give each field of ``fields`` (an older version, about to become the newest) the name
    the current version has for it, in its renamed_from."""
    names = {spec["name"] for spec in fields}
    claimed = {name for spec in fields for name in former_names(spec)}
    for i, j in match_fields(fields, current_fields).items():
        now, spec = current_fields[i], fields[j]
        if now["name"] != spec["name"] and now["name"] not in names | claimed:
            spec["renamed_from"] = former_names(spec) + [now["name"]]
            claimed.add(now["name"])
        if now["type"] == spec["type"] == "repeat":
            _carry_renames(now["fields"], spec["fields"])


def duplicate(store, form_id, new_id, user=None, title=None):
    """A new form ``new_id`` (version 1) with the current definition of ``form_id`` (title:
    ``title``, else the original's with "(副本)"; no renamed_from: the copy has no history);
    its version doc. ValueError (Chinese) for an invalid id, or one taken by a form or a
    draft; LookupError for an unknown ``form_id``."""
    problem = form_id_problem(new_id)
    if problem:
        raise ValueError(problem)
    original = store.get_form(form_id)
    if original is None:
        raise LookupError(f"表单「{form_id}」不存在")
    if store.get_form(new_id) is not None:
        raise ValueError(f"表单编号「{new_id}」已被使用,请换一个")
    if store.get_draft(new_id) is not None:
        raise ValueError(f"表单编号「{new_id}」已有一份未发布的草稿,请换一个")
    schema = copy.deepcopy(_content(original["schema"]))
    schema["id"] = new_id
    schema["title"] = (title or f"{schema['title']}(副本)")[:200]
    _forget_renames(schema["fields"])
    schema = check_schema(schema, source=f"{new_id}(复制自 {form_id})")
    return store.add_form_version(schema, source="duplicate", user=user)


def _forget_renames(fields):
    for spec in fields:
        spec.pop("renamed_from", None)
        if spec["type"] == "repeat":
            _forget_renames(spec["fields"])


def set_closed(store, form_id, closed, user=None):
    """Close a form (its QR links show 已停止收集 and accept nothing) or reopen it; its state
    {"form_id", "closed", "changed_at", "user"}. LookupError for an unknown form."""
    if store.get_form(form_id) is None:
        raise LookupError(f"表单「{form_id}」不存在")
    return store.set_form_closed(form_id, bool(closed), user)


def is_closed(store, form_id):
    """Whether the form is closed."""
    state = store.form_states().get(form_id)
    return bool(state and state.get("closed"))


# ---- what a new definition means for stored answers

def impact(store, form_id, schema):
    """{field path: how many stored answers of the form would not fit ``schema``'s definition
    of that field (type, choices, constraints)} for the fields where that is more than 0.

    Paths are "name" or "repeat.sub" (one count per row). Answers are followed across renames
    (renamed_from) to the field they belong to; an empty answer always fits; whether a field is
    required is not counted (old submissions are not asked again)."""
    versions = [v["schema"] for v in reversed(store.form_versions(form_id))]
    proposed = {k: v for k, v in schema.items() if k != "version"}  # its own version key
    columns = [spec for spec in merge_versions([proposed] + versions)["fields"]
               if spec["type"] != "section" and spec["stored_as"].get(("position", 0))]
    counts = {}
    _total, docs = store.iter_submissions(form_id)
    try:
        for doc in docs:
            version = doc["form_version"]
            for spec in columns:
                _count_misfits(spec, answer_of(spec, doc["answers"], version), version,
                               spec["name"], counts)
    finally:
        docs.close()
    return {path: n for path, n in counts.items() if n}


def _count_misfits(spec, value, version, path, counts):
    if value is None:
        return
    if spec["type"] == "repeat":
        rows_spec = {k: v for k, v in spec.items() if k != "required"}
        if not isinstance(value, list) or (
                value and FIELD_TYPES["repeat"].row_count_problem(rows_spec, len(value))):
            counts[path] = counts.get(path, 0) + 1
        for row in value if isinstance(value, list) else ():
            if isinstance(row, dict):
                for sub in spec["fields"]:
                    if sub["type"] != "section":
                        _count_misfits(sub, answer_of(sub, row, version), version,
                                       f"{path}.{sub['name']}", counts)
        return
    if not _fits(spec, value):
        counts[path] = counts.get(path, 0) + 1


def _fits(spec, value):
    ftype = FIELD_TYPES[spec["type"]]
    if spec["type"] == "image":
        return isinstance(value, dict) and isinstance(value.get("file"), str)
    try:
        data = ftype.to_data(spec, value)
    except (ValueError, TypeError):
        return False
    return ftype.check(spec, data) is None


# ---- the shape of a submission, for the systems that read the API

DECIMAL_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$"  # forms.fields.plain_number's output
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"


def json_schema(schema):
    """The JSON Schema (draft 2020-12) of the answers of a submission made with ``schema``.

    What the server stores (docs/ARCHITECTURE.md, "Form schema format"): an object with one
    key per field that has a value; a field hidden by its show_if is absent (so a field with a
    show_if is not "required"), a shown optional field left empty is null (a repeat: [], a
    boolean: false); a photo field may be absent (demo data has none). Decimals are strings
    ("12.5") and their min/max, like a date's, are stated in the description only: JSON Schema
    compares no numbers written as strings, nor dates."""
    version = schema.get("version")
    properties, required = _object_schema(schema["fields"])
    title = schema["title"] + (f"(第 {version} 版)" if version else "")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{title}的提交内容",
        "description": (f"表单 {schema['id']}" + (f" 第 {version} 版" if version else "")
                        + "的一份提交的 answers:字段名 → 答案。被显示条件隐藏的字段不出现;"
                          "未填的选填项为 null。"),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _object_schema(fields):
    properties, required = {}, []
    for spec in fields:
        if spec["type"] == "section":
            continue
        properties[spec["name"]] = _field_schema(spec)
        if "show_if" not in spec and spec["type"] != "image":
            required.append(spec["name"])
    return properties, required


def _field_schema(spec):
    kind = spec["type"]
    out = {"title": spec["label"]}
    notes = [spec["hint"]] if spec.get("hint") else []
    if spec.get("unit"):
        notes.append(f"单位:{spec['unit']}")
    if kind in ("text", "textarea"):
        out.update(type="string", minLength=max(1, spec.get("min_length", 0)),
                   maxLength=max_length(spec))
        if "pattern" in spec:
            out["pattern"] = f"^(?:{spec['pattern']})$"
    elif kind == "integer":
        out["type"] = "integer"
        if "min" in spec:
            out["minimum"] = spec["min"]
        if "max" in spec:
            out["maximum"] = spec["max"]
    elif kind == "decimal":
        out.update(type="string", pattern=DECIMAL_PATTERN)
        notes.append("数值以字符串表示,如 \"12.5\"")
        notes += _range_notes(spec)
    elif kind in ("date", "month"):
        out.update(type="string", pattern=DATE_PATTERN if kind == "date" else MONTH_PATTERN)
        if kind == "date":
            out["format"] = "date"
        notes += _range_notes(spec)
    elif kind == "select":
        out.update(type="string", enum=[value for value, _ in choice_pairs(spec)])
    elif kind == "multiselect":
        out.update(type="array", items={"enum": [value for value, _ in choice_pairs(spec)]},
                   uniqueItems=True, minItems=max(1, spec.get("min", 0)))
        if "max" in spec:
            out["maxItems"] = spec["max"]
    elif kind == "boolean":
        if spec.get("required"):
            out["const"] = True  # a pledge that must be ticked
        else:
            out["type"] = "boolean"
    elif kind == "phone":
        out.update(type="string", pattern=PHONE_PATTERN)
    elif kind == "project":
        out.update(type="string", pattern="^[1-9][0-9]*$")
        notes.append("所报项目的编号(本村（单位）的项目之一)")
    elif kind == "image":
        out.update(type="object", required=["name", "size", "content_type", "file"],
                   additionalProperties=False, properties={
                       "name": {"type": "string", "description": "原文件名"},
                       "size": {"type": "integer", "minimum": 1, "description": "字节数"},
                       "content_type": {"enum": sorted(set(IMAGE_CONTENT_TYPES.values()))},
                       "file": {"type": "string", "description": "存储的照片名"},
                       "thumb": {"type": ["string", "null"], "description": "缩略图名"},
                   })
    elif kind == "repeat":
        properties, required = _object_schema(spec["fields"])
        out.update(type="array", maxItems=spec.get("max_items", MAX_ROWS), items={
            "type": "object", "properties": properties, "required": required,
            "additionalProperties": False})
        least = spec.get("min_items", 0)
        if spec.get("required"):
            out["minItems"] = max(least, 1)
        elif least > 1:
            out["anyOf"] = [{"maxItems": 0}, {"minItems": least}]  # empty, or enough rows
    if notes:
        out["description"] = ";".join(notes)
    if not spec.get("required") and kind not in ("boolean", "repeat"):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    return out


def _range_notes(spec):
    notes = []
    if "min" in spec:
        notes.append(f"最小 {spec['min']}")
    if "max" in spec:
        notes.append(f"最大 {spec['max']}")
    return notes


def import_xlsform(store, data, filename, form_id=None, user=None, replace=False):
    """An XLSForm workbook (bytes) as the draft of its form, to review in the builder:
    (draft, schema, unmapped rows). A form that has a draft already keeps it unless
    ``replace``: DraftChanged then (nothing stored). XLSFormError when unusable."""
    from forms.xlsform import convert

    schema, unmapped = convert(data, filename, form_id=form_id)
    draft, _replaced = save_imported_draft(store, schema, user=user, replace=replace)
    return draft, schema, unmapped


def save_imported_draft(store, schema, user=None, replace=False):
    """Store an imported form definition as the draft of its form: (draft, whether it replaced
    an existing draft). An existing draft is kept unless ``replace``: DraftChanged then."""
    existing = get_draft(store, schema["id"])
    if existing is not None and not replace:
        raise DraftChanged(existing)
    draft = save_draft(store, schema["id"], schema_json(schema) + "\n", user=user,
                       base_revision=None)
    return draft, existing is not None
