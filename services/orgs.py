"""Organizations: the rules for a code and a name, CSV import/export, the tree, and the actions
the pages and the CLI take (save, import, delete).

An organization is a plain dict ``{"code", "name", "parent_code", "kind"}`` (``parent_code`` is
None for a top-level county), optionally with its contact for 催报: ``secretary`` (书记姓名) and
``phone`` (联系电话, a mobile number as the forms' phone field takes it; "" when unknown).
The tree is county -> township (乡镇党委) -> village (村党组织), with units (县直单位 and
similar) under the county or under a township:

    county    no parent
    township  parent is a county
    village   parent is a township
    unit      parent is a county or a township

Because every kind sits strictly below its parent's kind, a tree that obeys these rules cannot
contain a cycle; the cycle check below is a second line of defence for data that does not.

Error row numbers are the rows as a spreadsheet shows them: in a CSV file the header is row 1
and the first organization row 2; row 0 means the file as a whole. ``validate_rows`` (the
single-organization edit page) numbers its rows from 1.
"""
import csv
import io
import re
import unicodedata
from collections.abc import Mapping

from forms.fields import PhoneType

KIND_LABELS = {"county": "县", "township": "乡镇", "village": "村", "unit": "县直单位"}

# Parent kinds each kind accepts (None = no parent).
ALLOWED_PARENTS = {
    "county": (None,),
    "township": ("county",),
    "village": ("township",),
    "unit": ("county", "township"),
}

# Chinese spellings an admin may type in the kind column.
_KIND_ALIASES = {
    "县": "county", "县级": "county", "区": "county", "县区": "county",
    "乡镇": "township", "乡": "township", "镇": "township", "街道": "township",
    "村": "village", "社区": "village", "村党组织": "village", "村(社区)": "village",
    "单位": "unit", "县直单位": "unit", "机关": "unit",
}

REQUIRED_COLUMNS = ("code", "name", "parent_code", "kind")
# Optional columns: the contact of an organization's secretary, for 催报. A file without them
# leaves the stored contacts as they are; Chinese headers are accepted too.
CONTACT_COLUMNS = ("secretary", "phone")
_CONTACT_ALIASES = {"书记": "secretary", "书记姓名": "secretary", "电话": "phone",
                    "联系电话": "phone"}
SECRETARY_MAX = 20
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
NAME_MAX = 60
# A leading = + - @ would make a spreadsheet treat the name as a formula when the tree is
# exported to CSV and opened in Excel; no real organization name starts with one.
_FORMULA_START = ("=", "+", "-", "@")

NOT_UTF8 = "文件不是 UTF-8 编码,请在 Excel 中另存为 CSV UTF-8(逗号分隔)"


class OrgImportError(ValueError):
    """Bad organization data. ``errors`` lists every problem as ``(row_number, 中文原因)``."""

    def __init__(self, errors):
        self.errors = sorted(errors, key=lambda e: e[0])
        super().__init__("; ".join(self.messages()))

    def messages(self):
        """The errors as lines to show a user: "第 3 行:…" (row 0: the file as a whole)."""
        return [f"第 {row} 行:{reason}" if row else reason for row, reason in self.errors]


# ---------------------------------------------------------------- the rules for one field

def code_problem(code):
    """Why ``code`` (stripped) cannot be an organization code, or None. The one rule for the
    edit page, the CSV import and the CLI."""
    if not code:
        return "编码不能为空"
    if not CODE_RE.match(code):
        return f"编码「{code}」无效:只能包含字母、数字、- 和 _,以字母或数字开头,最长 32 位"
    return None


def name_problem(name):
    """Why ``name`` (stripped) cannot be an organization name, or None (same rule everywhere)."""
    if not name:
        return "名称不能为空"
    if len(name) > NAME_MAX:
        return f"名称太长({len(name)} 个字),最多 {NAME_MAX} 个字"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "名称不能包含换行或控制字符"
    if name.startswith(_FORMULA_START):
        return "名称不能以 = + - @ 开头"
    return None


def secretary_problem(name):
    """Why ``name`` (stripped; "" = none) cannot be a secretary's name, or None."""
    if len(name) > SECRETARY_MAX:
        return f"书记姓名太长({len(name)} 个字),最多 {SECRETARY_MAX} 个字"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return "书记姓名不能包含换行或控制字符"
    if name.startswith(_FORMULA_START):
        return "书记姓名不能以 = + - @ 开头"
    return None


def contact_phone(text):
    """A secretary's phone as stored: "" for none, else the 11-digit mobile number the forms'
    phone field accepts (spaces, dashes, +86 and full-width digits allowed as typed).
    ValueError with the Chinese reason otherwise."""
    text = _text(text)
    if not text:
        return ""
    try:
        return PhoneType.parse(text)
    except ValueError:
        raise ValueError(f"电话「{text}」不是正确的手机号码(11 位，例如 13800138000)") from None


def phone_problem(text):
    """Why ``text`` cannot be a secretary's phone (contact_phone), or None."""
    try:
        contact_phone(text)
    except ValueError as e:
        return str(e)
    return None


# ---------------------------------------------------------------- import

def parse_orgs_csv(data, existing=()):
    """Parse and validate an organization CSV file (bytes); return its normalized rows.

    The file is UTF-8 with or without BOM, LF or CRLF; the header names the columns code, name,
    parent_code and kind in any order and case, and optionally secretary and phone (or 书记 and
    电话); other columns are ignored. A parent may be defined anywhere in the file or already
    exist in ``existing``; a file row with the code of an existing organization replaces it.
    Returns ``[{"code", "name", "parent_code", "kind"}]`` in file order (``parent_code`` None
    for a county), with "secretary" and "phone" when the file has those columns. On any
    problem raises OrgImportError listing every bad row, and returns nothing: the caller saves
    all rows or none.
    """
    if not data or not data.strip():
        raise OrgImportError([(0, "文件为空")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OrgImportError([(0, NOT_UTF8)]) from None
    if not text.strip():
        raise OrgImportError([(0, "文件为空")])

    records = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            records.append((number, cells))
    except csv.Error as e:
        raise OrgImportError([(len(records) + 1, f"CSV 格式错误:{e}")]) from None

    header_index = next(
        (i for i, (_, cells) in enumerate(records) if any(c.strip() for c in cells)), None)
    if header_index is None:
        raise OrgImportError([(0, "文件为空")])
    header_row, header = records[header_index]
    columns = [c.strip().lower() for c in header]
    columns = [_CONTACT_ALIASES.get(c, c) for c in columns]
    errors = []
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        errors.append((header_row, "表头缺少列:" + "、".join(missing)
                       + "(第一行应为 code,name,parent_code,kind)"))
    duplicated = sorted({c for c in columns
                         if c in REQUIRED_COLUMNS + CONTACT_COLUMNS and columns.count(c) > 1})
    if duplicated:
        errors.append((header_row, "表头中的列重复:" + "、".join(duplicated)))
    if errors:
        raise OrgImportError(errors)
    position = {name: columns.index(name) for name in REQUIRED_COLUMNS + CONTACT_COLUMNS
                if name in columns}

    rows, numbers = [], []
    for number, cells in records[header_index + 1:]:
        if not any(c.strip() for c in cells):
            continue  # blank line (or a row of empty cells, as Excel writes them)
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns):]):
            errors.append((number, "这一行的列数多于表头(名称中有逗号时,整个名称要加英文双引号)"))
            continue
        rows.append({name: cells[i] if i < len(cells) else "" for name, i in position.items()})
        numbers.append(number)
    if not rows and not errors:
        raise OrgImportError([(0, "文件中没有组织数据(只有表头)")])

    try:
        normalized = validate_rows(rows, existing, row_numbers=numbers)
    except OrgImportError as e:
        errors.extend(e.errors)
    if errors:
        raise OrgImportError(errors)
    return normalized


def validate_rows(rows, existing=(), row_numbers=None):
    """Check organization rows against each other and ``existing``; return them normalized.

    ``rows`` are dicts with code, name, parent_code ("" or None for none) and kind (English or
    Chinese), and optionally secretary and phone (kept in the result only when given);
    ``existing`` the stored organizations (list or dict by code), which rows with the
    same code replace. ``row_numbers`` (default 1, 2, …) label the errors. Raises OrgImportError
    with every problem; the checks are the ones parse_orgs_csv applies to a file.
    """
    if row_numbers is None:
        row_numbers = list(range(1, len(rows) + 1))
    errors = []
    normalized = []
    first_seen = {}
    for number, row in zip(row_numbers, rows):
        code = _text(row.get("code"))
        name = _text(row.get("name"))
        parent = _text(row.get("parent_code")) or None
        kind_raw = _text(row.get("kind"))
        kind = _normalize_kind(kind_raw)
        row_errors = []

        problem = code_problem(code)
        if problem:
            row_errors.append(problem)
        elif code in first_seen:
            row_errors.append(f"编码 {code} 与第 {first_seen[code]} 行重复")
        else:
            first_seen[code] = number

        problem = name_problem(name)
        if problem:
            row_errors.append(problem)

        if not kind_raw:
            row_errors.append("类型不能为空")
        elif kind is None:
            row_errors.append(f"类型「{kind_raw}」无效,应为 county、township、village、unit"
                              "(或 县、乡镇、村、单位)")

        if parent is not None and parent == code:
            row_errors.append("上级编码不能是自己")
        contact = {}
        if "secretary" in row:
            contact["secretary"] = _text(row.get("secretary"))
            problem = secretary_problem(contact["secretary"])
            if problem:
                row_errors.append(problem)
        if "phone" in row:
            try:
                contact["phone"] = contact_phone(row.get("phone"))
            except ValueError as e:
                contact["phone"] = _text(row.get("phone"))
                row_errors.append(str(e))
        normalized.append({"code": code, "name": name, "parent_code": parent, "kind": kind,
                           **contact})
        errors.extend((number, reason) for reason in row_errors)

    # Hierarchy checks need the merged view: existing organizations, replaced by file rows.
    merged = {o["code"]: o for o in _as_list(existing)}
    merged.update({r["code"]: r for r in normalized if r["code"]})
    for number, row in zip(row_numbers, normalized):
        kind, parent = row["kind"], row["parent_code"]
        if kind is None or (parent is not None and parent == row["code"]):
            continue
        if parent is None:
            if None not in ALLOWED_PARENTS[kind]:
                errors.append((number, f"{KIND_LABELS[kind]}必须填写上级编码"
                               f"({_parent_kinds_text(kind)})"))
            continue
        if kind == "county":
            errors.append((number, "县级组织不能有上级(parent_code 应留空)"))
            continue
        parent_org = merged.get(parent)
        if parent_org is None:
            errors.append((number, f"上级编码 {parent} 不存在(文件中和系统中都没有)"))
            continue
        parent_kind = parent_org.get("kind")
        if parent_kind not in ALLOWED_PARENTS[kind]:
            errors.append((number, f"{KIND_LABELS[kind]}的上级必须是{_parent_kinds_text(kind)},"
                           f"而 {parent}({parent_org.get('name', '')})是"
                           f"{KIND_LABELS.get(parent_kind, parent_kind)}"))

    # A row that changes an existing organization's kind must not strand its stored children.
    file_codes = {r["code"] for r in normalized}
    stored_children = {}
    for org in _as_list(existing):
        if org["code"] not in file_codes:
            stored_children.setdefault(org.get("parent_code"), []).append(org)
    for number, row in zip(row_numbers, normalized):
        if row["kind"] is None:
            continue
        for child in stored_children.get(row["code"], ()):
            child_kind = child.get("kind")
            if child_kind in ALLOWED_PARENTS and row["kind"] not in ALLOWED_PARENTS[child_kind]:
                errors.append((number, f"已有下级 {child['code']}({child.get('name', '')})"
                               f"是{KIND_LABELS[child_kind]},不能放在{KIND_LABELS[row['kind']]}之下"))

    for number, row in zip(row_numbers, normalized):
        if not row["code"] or row["parent_code"] == row["code"]:
            continue
        cycle = _cycle_through(merged, row["code"])
        if cycle:
            errors.append((number, "上级关系形成循环:" + " → ".join(cycle)))

    if errors:
        raise OrgImportError(errors)
    return normalized


def orgs_to_csv(orgs):
    """The organizations as a UTF-8 CSV file with BOM (bytes) that parse_orgs_csv reads back:
    code, name, parent_code, kind, secretary, phone.

    Parents come before their children (tree order), so the file reads like the tree.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(REQUIRED_COLUMNS + CONTACT_COLUMNS)
    for org in _walk(build_tree(orgs)):
        org = org["org"]
        writer.writerow([org["code"], org["name"], org.get("parent_code") or "", org["kind"],
                         org.get("secretary") or "", org.get("phone") or ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- tree helpers

def org_path(orgs_by_code, code):
    """Names from the top of the tree down to ``code`` inclusive, e.g. ["岳西县", "响肠镇",
    "千佛塔村"]; [] for an unknown code. Stops at a missing parent or a cycle."""
    names, seen = [], set()
    while code is not None and code in orgs_by_code and code not in seen:
        seen.add(code)
        org = orgs_by_code[code]
        names.append(org["name"])
        code = org.get("parent_code")
    names.reverse()
    return names


def org_paths(orgs):
    """org code -> org_path for every organization (list or dict by code)."""
    by_code = _by_code(orgs)
    return {code: org_path(by_code, code) for code in by_code}


def path_columns(names, kind):
    """(县, 乡镇, 村/单位) for an org path (names from the county down) and the org's kind.

    A township's own name goes in 乡镇 with 村/单位 empty; a unit directly under the county
    has no 乡镇. Without a kind the path is read by position.
    """
    names = [str(n) for n in names or []]
    county = names[0] if names else ""
    township = unit = ""
    if kind == "township":
        township = names[-1] if len(names) > 1 else ""
    elif kind in ("village", "unit"):
        township = names[1] if len(names) > 2 else ""
        unit = names[-1] if len(names) > 1 else ""
    elif kind != "county":
        township = names[1] if len(names) > 1 else ""
        unit = " / ".join(names[2:])
    return county, township, unit


def build_tree(orgs):
    """The organizations as a nested list for templates, in input order at every level.

    Each node is ``{"org": the organization dict, "code", "name", "kind", "kind_label",
    "parent_code", "depth", "children": [...]}``. An organization whose parent is missing (or
    that sits in a cycle) is shown at the top level rather than dropped.
    """
    org_list = _as_list(orgs)
    by_code = {o["code"]: o for o in org_list}
    nodes = {o["code"]: {"org": o, "code": o["code"], "name": o["name"], "kind": o.get("kind"),
                         "kind_label": KIND_LABELS.get(o.get("kind"), o.get("kind") or ""),
                         "parent_code": o.get("parent_code"), "depth": 0, "children": []}
             for o in org_list}
    roots = []
    for org in org_list:
        parent = org.get("parent_code")
        if parent in by_code and not _cycle_through(by_code, org["code"]):
            nodes[parent]["children"].append(nodes[org["code"]])
        else:
            roots.append(nodes[org["code"]])
    stack = [(node, 0) for node in roots]
    while stack:
        node, depth = stack.pop()
        node["depth"] = depth
        stack.extend((child, depth + 1) for child in node["children"])
    return roots


# ---------------------------------------------------------------- internals

def _walk(tree):
    for node in tree:
        yield node
        yield from _walk(node["children"])


def _text(value):
    return "" if value is None else str(value).strip()


def _normalize_kind(raw):
    if not raw:
        return None
    lowered = raw.lower()
    if lowered in KIND_LABELS:
        return lowered
    return _KIND_ALIASES.get(raw)


def _parent_kinds_text(kind):
    return "或".join(KIND_LABELS[k] for k in ALLOWED_PARENTS[kind] if k)


def _as_list(orgs):
    return list(orgs.values()) if isinstance(orgs, Mapping) else list(orgs)


def _by_code(orgs):
    return dict(orgs) if isinstance(orgs, Mapping) else {o["code"]: o for o in orgs}


def _cycle_through(by_code, code):
    """The codes of a parent cycle that returns to ``code`` (["a", "b", "a"]), else None."""
    chain, seen = [code], {code}
    current = by_code.get(code, {}).get("parent_code")
    while current is not None and current in by_code:
        chain.append(current)
        if current == code:
            return chain
        if current in seen:
            return None  # a cycle further up, not through this org
        seen.add(current)
        current = by_code[current].get("parent_code")
    return None


# ---------------------------------------------------------------- the tree of a deployment

class OrgIndex:
    """The organizations of a Store, indexed for the pages: by code, children, paths.
    Built once per change of the organizations (see org_index); read only."""

    def __init__(self, orgs):
        self.orgs = list(orgs)
        self.by_code = {o["code"]: o for o in self.orgs}
        self.children = {}
        for org in self.orgs:
            self.children.setdefault(org.get("parent_code"), []).append(org["code"])
        self._paths = {}

    def __contains__(self, code):
        return code in self.by_code

    def get(self, code):
        return self.by_code.get(code)

    def path(self, code):
        """Names from the top down to ``code`` (see org_path)."""
        if code not in self._paths:
            self._paths[code] = org_path(self.by_code, code)
        return self._paths[code]

    def columns(self, code):
        """(县, 乡镇, 村/单位) of an organization (see path_columns)."""
        org = self.by_code.get(code) or {}
        return path_columns(self.path(code) or [code], org.get("kind"))

    def townships(self):
        return sorted((o for o in self.orgs if o["kind"] == "township"), key=lambda o: o["code"])

    def below(self, code, include_self=True):
        """Codes of the subtree of ``code`` (itself included unless include_self=False)."""
        found = {code} if include_self else set()
        stack = list(self.children.get(code, ()))
        while stack:
            current = stack.pop()
            if current not in found and current != code:
                found.add(current)
                stack.extend(self.children.get(current, ()))
        return found


def township_of(index, code):
    """The code of the township ``code`` lies in (itself when it is one), or None."""
    seen = set()
    while code is not None and code not in seen:
        seen.add(code)
        org = index.get(code)
        if org is None:
            return None
        if org.get("kind") == "township":
            return code
        code = org.get("parent_code")
    return None


def org_index(store):
    """The OrgIndex of ``store``, built once per process until an organization changes."""
    from flask import has_app_context

    if not has_app_context():
        return OrgIndex(store.list_orgs())
    import db

    return db.cached("orgs", "index", lambda: OrgIndex(store.list_orgs()))


# ---------------------------------------------------------------- actions

class OrgRuleError(ValueError):
    """An action on an organization that the rules forbid; ``str()`` is the Chinese reason."""


def import_csv(store, data):
    """Parse and save an organization CSV all-or-nothing; the saved rows. OrgImportError
    lists every bad row (nothing is saved then)."""
    existing = store.list_orgs()
    rows = parse_orgs_csv(data, existing)
    store.upsert_orgs(_keeping_extras(rows, existing))
    return rows


def save_org(store, row, code=None):
    """Create an organization (code None) or change the one with ``code``; the saved row.
    OrgImportError (row 1) for a rule it breaks: the code of an existing one cannot change
    (QR links and submissions refer to it), a new code must be free, the tree rules hold."""
    orgs = store.list_orgs()
    row = {"code": _text(row.get("code")), "name": _text(row.get("name")),
           "parent_code": _text(row.get("parent_code")) or None, "kind": row.get("kind"),
           **{key: row[key] for key in CONTACT_COLUMNS if key in row}}
    if code is not None and row["code"] != code:
        raise OrgImportError([(1, "编码创建后不能修改(已用于二维码和已提交的数据)")])
    others = [o for o in orgs if o["code"] != row["code"]]
    if code is None and len(others) != len(orgs):
        raise OrgImportError([(1, f"编码 {row['code']} 已存在")])
    rows = validate_rows([row], others)
    store.upsert_orgs(_keeping_extras(rows, orgs))
    return rows[0]


def _keeping_extras(rows, existing):
    """``rows`` that replace stored organizations, with the stored keys they do not set (the
    contact when a file has no such columns, keys other tools added) kept."""
    by_code = _by_code(existing)
    return [{**by_code.get(row["code"], {}), **row} for row in rows]


def delete_org(store, code):
    """Delete an organization that has no children and no submissions; the deleted one.
    OrgRuleError otherwise, LookupError for an unknown code."""
    org = store.get_org(code)
    if org is None:
        raise LookupError(code)
    if any(o.get("parent_code") == code for o in store.list_orgs()):
        raise OrgRuleError(f"「{org['name']}」下还有下级组织，不能删除")
    if store.query_submissions(None, org_codes={code}, limit=0)[0]:
        raise OrgRuleError(f"「{org['name']}」已有提交的数据，不能删除(可以修改名称)")
    store.delete_org(code)
    return org
