"""群众诉求 (the public's demands, seed 003 庐江): "问题征集—分析研判—限时办结—跟踪回访".

A form whose definition says ``"workflow": "demand"`` (the built-in 群众诉求征集登记表,
public_demand) collects one demand per submission. Each then goes through four stages:

    征集  collected: the submission, and nothing else yet (no case is stored)
    研判  assessed: a category, the organization that handles it (责任单位) and a deadline
          (办结时限); the case is created by this step (Store.open_case, keyed by the receipt)
    办结  closed: what was done (办理情况) and the date it was done
    回访  visited: the person who raised it was asked — 满意 or 不满意, with a note

Steps (``STEPS``), each by an account that handles demands (access action "demand": admins,
and reviewers within their subtree), each kept in the case's history:

    assess   征集 → 研判   (also 研判 → 研判: 调整研判 — another owner, category or deadline)
    close    研判 → 办结
    visit    办结 → 回访
    reopen   回访 → 研判   (重新办理: only after a 不满意 visit; the round that was not good
                           enough stays in the case's ``rounds`` and its history)

A 不满意 visit does not reopen a demand by itself: sometimes nothing more can be done (a
policy limit), and the handler decides. Until it is reopened it counts as closed, not
satisfied.

**Deadline** (办结时限): on or after the day of the 研判 (or 重新办理), at most
``MAX_DEADLINE_DAYS`` later. The page proposes one by 紧急程度 (the form's ``urgency``
field): 紧急 3 days, 较急 7 days, 一般 15 days (calendar days, ``URGENCY_DAYS``).

**Overdue** (超期): at 研判 (not yet 办结 or 回访) with a deadline before today. A demand at
征集 has no deadline and is never overdue (the list shows how long it has waited).

**Counts** (``counts``, ``summary``), over the submissions that are not 已作废:
collected = every submission of a demand form; 征集/研判/办结/回访 = where each stands;
closed (已办结) = 办结 + 回访; overdue as above; closing rate (办结率) = closed / collected;
satisfaction rate (满意率) = 满意 / visited (回访). Rates are percentages with one decimal
(half up), None when there is nothing to divide by.

The fields of the form the workflow reads, when present (forms.loader checks their types):
``content`` (required: what the lists show), ``category`` (select: the 研判 categories and
the one proposed), ``urgency`` (select: the deadline proposed), ``follow_up`` (boolean:
whether a 回访 is asked for), ``collect_date`` (date: the day it was collected).
"""
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services import access
from services.orgs import township_of
from storage import common
from storage.errors import RecordChanged

WORKFLOW = "demand"
STAGES = ("征集", "研判", "办结", "回访")
COLLECTED, ASSESSED, CLOSED, VISITED = STAGES
CLOSED_STAGES = (CLOSED, VISITED)
# step -> (the stages it starts from, the stage it leads to)
STEPS = {
    "assess": ((COLLECTED, ASSESSED), ASSESSED),
    "close": ((ASSESSED,), CLOSED),
    "visit": ((CLOSED,), VISITED),
    "reopen": ((VISITED,), ASSESSED),
}
# A stage as the pages name it: what it is, then what it means for the demand.
STAGE_LABELS = {"征集": "征集 · 待研判", "研判": "研判 · 办理中", "办结": "办结 · 待回访",
                "回访": "回访 · 已回访"}
STEP_LABELS = {"assess": "研判", "reassess": "调整研判", "close": "办结", "visit": "回访",
               "reopen": "重新办理"}
SATISFACTION = ("满意", "不满意")
SATISFIED = "满意"
URGENCY_DAYS = {"紧急": 3, "较急": 7, "一般": 15}
DEFAULT_DAYS = URGENCY_DAYS["一般"]
MAX_DEADLINE_DAYS = 366
MAX_TEXT = 1000
MIN_HANDLING = 5
# Used when a demand form has no category field of its own (the built-in form's choices).
DEFAULT_CATEGORIES = ("道路交通", "饮水用电", "人居环境", "产业发展", "就业社保", "医疗教育",
                      "矛盾纠纷", "政策咨询", "其他")
# 办理层级 follows the kind of the owner organization.
LEVELS = {"village": "村级", "township": "镇级", "unit": "县级", "county": "县级"}
# What a round of handling keeps when the demand is reopened.
ROUND_KEYS = ("owner", "owner_name", "deadline", "assessed_on", "handling", "closed_on",
              "satisfaction", "visit_note", "visited_on")
NON_VOID = tuple(s for s in common.REVIEW_STATUSES if s != common.VOID)


class DemandError(ValueError):
    """A step the rules refuse. ``code`` names the kind ("invalid", "invalid_step",
    "forbidden", "void", "not_demand"), ``errors`` maps an input to its Chinese problem (for
    the form), ``str()`` is every problem in one Chinese sentence."""

    def __init__(self, code, message=None, errors=None):
        self.code = code
        self.errors = dict(errors or {})
        super().__init__(message or "；".join(self.errors.values()))


# ---------------------------------------------------------------------------- the forms

def is_demand_form(schema):
    return isinstance(schema, Mapping) and schema.get("workflow") == WORKFLOW


def demand_forms(store):
    """The current version of every form with ``"workflow": "demand"``, by form id."""
    return [f["schema"] for f in store.list_forms() if is_demand_form(f["schema"])]


def _field(schema, name):
    return next((f for f in schema.get("fields", ()) if f.get("name") == name), None)


def _choice_values(spec):
    return [c["value"] if isinstance(c, Mapping) else c for c in (spec or {}).get("choices", ())]


def category_choices(schema):
    """The categories a 研判 offers: the form's ``category`` choices (else DEFAULT_CATEGORIES),
    and any other value a stored case has is kept by the caller."""
    return _choice_values(_field(schema, "category")) or list(DEFAULT_CATEGORIES)


def content_of(doc, limit=None):
    """The demand's text (its ``content`` answer), cut to ``limit`` characters with …"""
    text = str((doc.get("answers") or {}).get("content") or "").strip()
    if limit and len(text) > limit:
        return text[:limit].rstrip() + "…"
    return text


def collected_on(doc):
    """The day a demand was collected: its ``collect_date`` answer, else the day it was sent."""
    value = (doc.get("answers") or {}).get("collect_date")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _submitted_on(doc)
    except ValueError:
        return _submitted_on(doc)


def _submitted_on(doc):
    return common.parse_stamp(doc["submitted_at"]).date()


def wants_follow_up(doc):
    """Whether the collector asked for a 回访 (``follow_up``; True when the form has none)."""
    return (doc.get("answers") or {}).get("follow_up", True) is not False


def default_deadline(doc, today):
    """The deadline proposed for a demand assessed ``today``: by its 紧急程度 (URGENCY_DAYS)."""
    urgency = (doc.get("answers") or {}).get("urgency")
    return today + timedelta(days=URGENCY_DAYS.get(urgency, DEFAULT_DAYS))


# ---------------------------------------------------------------------------- a case

def stage_of(case):
    """A demand's stage: its case's, or 征集 when it has none yet."""
    return case["stage"] if case else COLLECTED


def _as_date(value):
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def is_overdue(case, today):
    """At 研判 with a deadline before ``today`` (not yet 办结 or 回访)."""
    return overdue_days(case, today) is not None


def overdue_days(case, today):
    """How many days past its deadline an overdue demand is (None when it is not overdue)."""
    if not case or case["stage"] in CLOSED_STAGES or case["stage"] == COLLECTED:
        return None
    deadline = _as_date(case.get("deadline"))
    if deadline is None or deadline >= today:
        return None
    return (today - deadline).days


def closed_late(case):
    """Closed after its deadline (办结日期 later than 办结时限)."""
    closed_on, deadline = _as_date(case.get("closed_on")), _as_date(case.get("deadline"))
    return bool(case["stage"] in CLOSED_STAGES and closed_on and deadline
                and closed_on > deadline)


def level_of(index, code):
    """办理层级 of an owner organization: 村级, 镇级 or 县级 ("" when unknown)."""
    org = index.get(code) if code else None
    return LEVELS.get(org.get("kind"), "") if org else ""


def owner_choices(index, user, org_code):
    """(code, label) of the organizations a demand collected at ``org_code`` may be given to
    by ``user``: its township and the township's villages and units (or, outside any
    township, the collecting organization), within the user's scope; for an admin also the
    county itself and the county-level units (县直单位). The collecting organization's
    township first, then by code."""
    township = township_of(index, org_code)
    base = index.below(township) if township else {org_code}
    visible = access.visible_orgs(user, index)
    codes = sorted((c for c in base if c in index and (visible is None or c in visible)),
                   key=lambda c: (c != township, c))
    if access.role_of(user) == "admin":
        county = [o for o in index.orgs if o.get("kind") == "county"]
        units = [o for o in index.orgs if o.get("kind") == "unit"
                 and township_of(index, o["code"]) is None]
        codes += [o["code"] for o in sorted(county, key=lambda o: o["code"])
                  + sorted(units, key=lambda o: o["code"]) if o["code"] not in codes]
    return [(code, _owner_label(index, code, township)) for code in codes]


def _owner_label(index, code, township):
    org = index.get(code)
    kind = org.get("kind")
    if kind == "township":
        return f"{org['name']}（镇级）"
    if kind in ("county", "unit") and township_of(index, code) is None:
        return f"{org['name']}（县级）"
    return org["name"]


def progress(store, doc):
    """What the cadre's private receipt page shows of a demand (None when ``doc`` is no
    demand, or is voided): ``{"stage", "label" ("研判 · 办理中"; at 回访 its result:
    "回访 · 满意"), "owner", "deadline", "handling", "closed_on"}`` — names and dates, never
    who handled it or what the person said at the visit."""
    form = store.get_form(doc["form_id"])
    if form is None or not is_demand_form(form["schema"]) or doc.get("status") == common.VOID:
        return None
    case = store.get_case(doc["receipt"]) or {}
    stage = stage_of(case or None)
    label = f"回访 · {case['satisfaction']}" if stage == VISITED and case.get("satisfaction") \
        else STAGE_LABELS[stage]
    return {"stage": stage, "label": label, "owner": case.get("owner_name"),
            "deadline": case.get("deadline"), "handling": case.get("handling"),
            "closed_on": case.get("closed_on")}


# ---------------------------------------------------------------------------- each input's rule
# Each returns the Chinese problem with a value, or None. take_step applies them (the page's
# forms only parse), so the page and any other caller refuse the same things in the same words.

def text_problem(text, what, required=False, minimum=0):
    text = (text or "").strip()
    if required and not text:
        return f"请填写{what}"
    if text and len(text) < minimum:
        return f"{what}太短了，请写清楚（至少 {minimum} 个字）"
    if len(text) > MAX_TEXT:
        return f"{what}不能超过 {MAX_TEXT} 字"
    return None


def deadline_problem(value, today):
    """办结时限: a date from ``today`` (the day of the 研判) up to MAX_DEADLINE_DAYS later."""
    day = _as_date(value)
    if day is None:
        return "请填写办结时限（日期）"
    if day < today:
        return "办结时限不能早于今天"
    if day > today + timedelta(days=MAX_DEADLINE_DAYS):
        return f"办结时限不能超过 {MAX_DEADLINE_DAYS} 天"
    return None


def closed_on_problem(value, case, today):
    """办结日期: not in the future, not before the day of the 研判."""
    day = _as_date(value)
    if day is None:
        return "请填写办结日期"
    if day > today:
        return "办结日期不能晚于今天"
    assessed = _as_date((case or {}).get("assessed_on"))
    if assessed and day < assessed:
        return f"办结日期不能早于研判日期（{assessed.isoformat()}）"
    return None


def visited_on_problem(value, case, today):
    """回访日期: not in the future, not before the day it was closed."""
    day = _as_date(value)
    if day is None:
        return "请填写回访日期"
    if day > today:
        return "回访日期不能晚于今天"
    closed = _as_date((case or {}).get("closed_on"))
    if closed and day < closed:
        return f"回访日期不能早于办结日期（{closed.isoformat()}）"
    return None


def satisfaction_problem(value):
    return None if value in SATISFACTION else "请选择回访结果：满意或不满意"


def note_problem(text, satisfaction):
    return text_problem(text, "回访情况（不满意时必填：群众还有什么意见）",
                        required=satisfaction == "不满意")


# ---------------------------------------------------------------------------- steps

def next_steps(case, doc, user, index):
    """The steps ``user`` may take on this demand now (for the page's forms): none on a
    voided submission, out of the user's reach, or after a 满意 visit."""
    if doc.get("status") == common.VOID or not access.may(user, "demand", doc["org_code"],
                                                           index):
        return []
    stage = stage_of(case)
    found = [step for step, (starts, _to) in STEPS.items() if stage in starts]
    if "reopen" in found and case.get("satisfaction") != "不满意":
        found.remove("reopen")
    return found


def visible_demand(store, user, index, receipt):
    """(submission, its form's schema, its case or None) when ``receipt`` is a submission of a
    demand form that ``user`` may see; LookupError otherwise (out of scope looks like
    unknown)."""
    doc = store.get_submission(receipt) if isinstance(receipt, str) else None
    if doc is None or not access.may_see_org(user, index, doc["org_code"]):
        raise LookupError(receipt)
    form = store.get_form(doc["form_id"])
    if form is None or not is_demand_form(form["schema"]):
        raise LookupError(receipt)
    return doc, form["schema"], store.get_case(receipt)


def take_step(store, user, index, receipt, step, inputs, revision, today=None):
    """Take ``step`` on the demand ``receipt`` for ``user``; the stored case.

    ``inputs`` (strings, dates or None): assess — category, owner, deadline, comment; close —
    handling, closed_on; visit — satisfaction, visited_on, note; reopen — deadline, comment.
    ``revision``: the case's revision the user's page was made from (0 for a demand at 征集).

    LookupError when the demand is unknown or out of the user's scope; DemandError for what
    the rules refuse (``errors`` per input); RecordChanged (nothing stored) when the demand
    was handled by someone else since ``revision`` (the page says 已被他人处理，请刷新)."""
    today = today or common.now().date()
    doc, schema, case = visible_demand(store, user, index, receipt)
    if step not in STEPS:
        raise DemandError("invalid_step", "未知的办理步骤，应为 assess（研判）、close（办结）、"
                                          "visit（回访）或 reopen（重新办理）")
    if doc["status"] == common.VOID:
        raise DemandError("void", "这条诉求的登记已作废，不能办理")
    if not access.may(user, "demand", doc["org_code"], index):
        raise DemandError("forbidden", "当前账号无权办理群众诉求")
    if str(revision) != str(case["revision"] if case else 0):
        raise RecordChanged()
    stage = stage_of(case)
    starts, to = STEPS[step]
    if stage not in starts or (step == "reopen" and case.get("satisfaction") != "不满意"):
        allowed = "、".join(STEP_LABELS[s] for s in next_steps(case, doc, user, index)) \
            or "无（已办理完毕）"
        raise DemandError("invalid_step", f"处于「{stage}」的诉求不能{STEP_LABELS[step]}"
                                          f"（下一步只能是：{allowed}）")
    inputs = dict(inputs or {})
    username = access.username_of(user)
    if step == "assess":
        return _assess(store, index, user, doc, schema, case, inputs, username, today)
    if step == "close":
        return _close(store, case, inputs, username, today)
    if step == "visit":
        return _visit(store, case, inputs, username, today)
    return _reopen(store, index, case, inputs, username, today)


def _check(errors):
    errors = {key: problem for key, problem in errors.items() if problem}
    if errors:
        raise DemandError("invalid", errors=errors)


def _clean(text):
    return (text or "").strip()


def _assess(store, index, user, doc, schema, case, inputs, username, today):
    category, owner = _clean(inputs.get("category")), _clean(inputs.get("owner"))
    choices = category_choices(schema)
    owners = dict(owner_choices(index, user, doc["org_code"]))
    _check({
        "category": None if category in choices or (case and category == case.get("category")
                                                    and category) else "请选择诉求类别",
        "owner": None if owner in owners else "请选择责任单位（本账号可安排的组织）",
        "deadline": deadline_problem(inputs.get("deadline"), today),
        "comment": text_problem(inputs.get("comment"), "研判意见"),
    })
    deadline = _as_date(inputs["deadline"]).isoformat()
    owner_name = index.get(owner)["name"]
    comment = _clean(inputs.get("comment"))
    summary = f"类别：{category}；责任单位：{owner_name}（{level_of(index, owner)}）；办结时限：{deadline}"
    values = {"category": category, "owner": owner, "owner_name": owner_name,
              "deadline": deadline, "level": level_of(index, owner)}
    if case is None:
        event = common.event_entry({"user": username, "action": "assess", "from": COLLECTED,
                                    "to": ASSESSED,
                                    "comment": summary + (f"。{comment}" if comment else "")},
                                   common.now())
        created_case, created = store.open_case({
            "receipt": doc["receipt"], "form_id": doc["form_id"], "org_code": doc["org_code"],
            "stage": ASSESSED, **values, "assessed_on": today.isoformat(),
            "urgency": (doc.get("answers") or {}).get("urgency"),
            "comment": comment, "rounds": [], "history": [event]})
        if not created:  # someone took the step first: theirs stands, nothing of ours stored
            raise RecordChanged()
        return created_case
    return store.update_case(doc["receipt"], case["revision"], {
        **values, "comment": comment, "user": username,
        "event": {"action": "reassess", "from": ASSESSED, "to": ASSESSED,
                  "comment": summary + (f"。{comment}" if comment else "")}})


def _close(store, case, inputs, username, today):
    handling = _clean(inputs.get("handling"))
    _check({"handling": text_problem(handling, "办理情况", required=True, minimum=MIN_HANDLING),
            "closed_on": closed_on_problem(inputs.get("closed_on"), case, today)})
    closed_on = _as_date(inputs["closed_on"]).isoformat()
    return store.update_case(case["receipt"], case["revision"], {
        "stage": CLOSED, "handling": handling, "closed_on": closed_on, "user": username,
        "event": {"action": "close", "from": ASSESSED, "to": CLOSED,
                  "comment": f"办结日期：{closed_on}。{handling}"}})


def _visit(store, case, inputs, username, today):
    satisfaction, note = _clean(inputs.get("satisfaction")), _clean(inputs.get("note"))
    _check({"satisfaction": satisfaction_problem(satisfaction),
            "visited_on": visited_on_problem(inputs.get("visited_on"), case, today),
            "note": note_problem(note, satisfaction)})
    visited_on = _as_date(inputs["visited_on"]).isoformat()
    return store.update_case(case["receipt"], case["revision"], {
        "stage": VISITED, "satisfaction": satisfaction, "visit_note": note,
        "visited_on": visited_on, "user": username,
        "event": {"action": "visit", "from": CLOSED, "to": VISITED,
                  "comment": f"{satisfaction}（{visited_on}）" + (f"。{note}" if note else "")}})


def _reopen(store, index, case, inputs, username, today):
    comment = _clean(inputs.get("comment"))
    _check({"deadline": deadline_problem(inputs.get("deadline"), today),
            "comment": text_problem(comment, "重新办理的原因", required=True)})
    deadline = _as_date(inputs["deadline"]).isoformat()
    done = {key: case.get(key) for key in ROUND_KEYS}
    return store.update_case(case["receipt"], case["revision"], {
        "stage": ASSESSED, "deadline": deadline, "assessed_on": today.isoformat(),
        "rounds": [*(case.get("rounds") or []), done],
        "handling": None, "closed_on": None, "satisfaction": None, "visit_note": None,
        "visited_on": None, "user": username,
        "event": {"action": "reopen", "from": VISITED, "to": ASSESSED,
                  "comment": f"新的办结时限：{deadline}。{comment}"}})


# ---------------------------------------------------------------------------- the list

def find(store, form_id, org_codes=None, stage=None, overdue=False, today=None, offset=0,
         limit=50):
    """One page of a demand form's submissions that are not 已作废, within ``org_codes``
    (None: all): (how many match, [{"doc", "case" (None at 征集), "stage",
    "overdue_days" (None unless overdue), "waiting_days" (days since collected, at 征集)}]).

    ``stage``: only those at that stage (None: any); ``overdue``: only overdue ones (at 研判),
    most overdue first. Otherwise newest first (by receipt: receipts grow with the day)."""
    today = today or common.now().date()
    if stage not in (None, *STAGES):
        raise ValueError(f"unknown stage {stage!r}")
    # Only the cases needed are read: those of the stage asked for, all of them to find the
    # ones without (征集), else those of the page's organizations.
    if overdue or stage in (ASSESSED, CLOSED, VISITED):
        if overdue and stage not in (None, ASSESSED):
            return 0, []
        wanted = [c for c in store.list_cases(form_id, org_codes, stages=[stage or ASSESSED])
                  if not overdue or is_overdue(c, today)]
        if overdue:
            wanted.sort(key=lambda c: (c["deadline"], c["receipt"]))
        else:
            wanted.sort(key=lambda c: c["receipt"], reverse=True)
        cases = {c["receipt"]: c for c in wanted}
        groups = store.case_groups(form_id, org_codes)
        total = sum(g["count"] for g in groups if g["stage"] == (stage or ASSESSED) and (
            not overdue or (g["deadline"] is not None and _as_date(g["deadline"]) < today)))
        docs = _walk_cases(store, wanted, offset, limit)
    elif stage == COLLECTED:
        cases = {c["receipt"]: c for c in store.list_cases(form_id, org_codes)}
        collected = sum(store.submission_counts(form_id, org_codes=org_codes,
                                                statuses=NON_VOID).values())
        opened = sum(g["count"] for g in store.case_groups(form_id, org_codes))
        total = max(collected - opened, 0)
        docs = _walk_uncased(store, form_id, org_codes, cases, offset, limit)
    else:
        total, docs = store.query_submissions(form_id, org_codes, offset=offset, limit=limit,
                                              statuses=NON_VOID)
        cases = {c["receipt"]: c for c in store.list_cases(
            form_id, {d["org_code"] for d in docs})} if docs else {}
    items = []
    for doc in docs:
        case = cases.get(doc["receipt"])
        items.append({"doc": doc, "case": case, "stage": stage_of(case),
                      "overdue_days": overdue_days(case, today),
                      "waiting_days": None if case else max(
                          (today - collected_on(doc)).days, 0)})
    return total, items


def _walk_cases(store, cases, offset, limit):
    """The submissions of ``cases`` in their order, voided ones skipped, from ``offset``."""
    found, seen = [], 0
    for case in cases:
        doc = store.get_submission(case["receipt"])
        if doc is None or doc["status"] == common.VOID:
            continue
        seen += 1
        if seen > offset:
            found.append(doc)
            if len(found) >= limit:
                break
    return found


def _walk_uncased(store, form_id, org_codes, cases, offset, limit, batch=500):
    """Submissions without a case (征集), newest first, from ``offset``: the newest are the
    ones not yet assessed, so this reads little more than the page in a county at work."""
    found, seen, start = [], 0, 0
    while True:
        _total, docs = store.query_submissions(form_id, org_codes, offset=start, limit=batch,
                                               statuses=NON_VOID)
        for doc in docs:
            if doc["receipt"] in cases:
                continue
            seen += 1
            if seen > offset:
                found.append(doc)
                if len(found) >= limit:
                    return found
        if len(docs) < batch:
            return found
        start += batch


# ---------------------------------------------------------------------------- counts

def rate(part, whole):
    """part / whole as a percentage with one decimal (half up), None when whole is 0."""
    if not whole:
        return None
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(value)


def _blank(code, name, kind):
    return {"code": code, "name": name, "kind": kind, "collected": 0,
            "stages": dict.fromkeys(STAGES, 0), "closed": 0, "overdue": 0, "visited": 0,
            "satisfied": 0, "closing_rate": None, "satisfaction_rate": None}


def _add(row, other):
    for key in ("collected", "closed", "overdue", "visited", "satisfied"):
        row[key] += other[key]
    for stage in STAGES:
        row["stages"][stage] += other["stages"][stage]


def _finish(row, satisfaction=True):
    row["stages"][COLLECTED] = max(row["collected"] - sum(
        row["stages"][s] for s in STAGES if s != COLLECTED), 0)
    row["closed"] = row["stages"][CLOSED] + row["stages"][VISITED]
    row["closing_rate"] = rate(row["closed"], row["collected"])
    if satisfaction:
        row["satisfaction_rate"] = rate(row["satisfied"], row["visited"])
    else:  # not counted (see summary)
        row["satisfied"] = row["satisfaction_rate"] = None
    return row


def _org_counts(store, org_codes, today, form_ids, satisfaction=True):
    """org code -> its own counts (not rolled up), over every demand form in ``form_ids``:
    submission_counts and case_groups (both leave voided submissions out) give everything but
    the satisfied ones, which are the visited minus those not 满意 (whose submissions are
    looked up one by one: few, and a voided one is not counted)."""
    own = {}

    def row(code):
        return own.setdefault(code, _blank(code, None, None))

    for form_id in form_ids:
        for code, n in store.submission_counts(form_id, org_codes=org_codes,
                                               statuses=NON_VOID).items():
            row(code)["collected"] += n
        for group in store.case_groups(form_id, org_codes):
            counts = row(group["org_code"])
            counts["stages"][group["stage"]] = counts["stages"].get(group["stage"], 0) \
                + group["count"]
            deadline = _as_date(group["deadline"])
            if group["stage"] == ASSESSED and deadline is not None and deadline < today:
                counts["overdue"] += group["count"]
            if group["stage"] == VISITED:
                counts["visited"] += group["count"]
                counts["satisfied"] += group["count"]
        if not satisfaction:
            continue
        for case in store.list_cases(form_id, org_codes, stages=[VISITED]):
            if case.get("satisfaction") != SATISFIED:
                doc = store.get_submission(case["receipt"])
                if doc is not None and doc["status"] != common.VOID:
                    row(case["org_code"])["satisfied"] -= 1
    return own


def counts(store, org_codes=None, today=None, index=None, form_ids=None):
    """The counts of every organization with a demand within ``org_codes`` (None: all; the
    caller narrows it with services.access.restrict), rolled up village → township → county.

    Returns rows ``{"code", "name", "kind", "collected", "stages": {"征集", "研判", "办结",
    "回访"}, "closed", "overdue", "visited", "satisfied", "closing_rate",
    "satisfaction_rate"}`` (rates: percent with one decimal, or None): the county first,
    then the townships, then the other organizations, each by code. A township or county
    row is its whole subtree and is listed only when it lies within ``org_codes`` (a
    township's reviewer gets its township, not a partial county). ``form_ids``: the demand
    forms counted (None: every form with ``"workflow": "demand"``)."""
    from services.orgs import org_index

    today = today or common.now().date()
    index = index or org_index(store)
    if form_ids is None:
        form_ids = [schema["id"] for schema in demand_forms(store)]
    own = _org_counts(store, None if org_codes is None else set(org_codes), today, form_ids)
    rows = {}
    for code, counts_ in own.items():
        for area in _self_and_areas(index, code):
            org = index.get(area) or {"name": area, "kind": None}
            if area != code and org_codes is not None and area not in org_codes:
                continue
            target = rows.setdefault(area, _blank(area, org["name"], org.get("kind")))
            _add(target, counts_)
    order = {"county": 0, "township": 1}
    return sorted((_finish(r) for r in rows.values()),
                  key=lambda r: (order.get(r["kind"], 2), r["code"]))


def _self_and_areas(index, code):
    """``code`` and the townships and counties above it."""
    found, seen, current = [code], {code}, (index.get(code) or {}).get("parent_code")
    while current is not None and current not in seen:
        seen.add(current)
        org = index.get(current)
        if org is None:
            break
        if org.get("kind") in ("township", "county"):
            found.append(current)
        current = org.get("parent_code")
    return found


def summary(store, org_codes=None, today=None, index=None, satisfaction=True):
    """The 群众诉求 figures the dashboard shows, over every demand form, within ``org_codes``
    (None: the whole county; pass services.access.restrict(user, index, area)).

    Returns::

        {"as_of": date,                     # today: what "overdue" was counted against
         "forms": ["public_demand", ...],   # the demand forms counted
         "townships": [row, ...],           # every township within org_codes (zeros
                                            # included: closing_rate None then) and the
                                            # township of any organization counted, by code
         "others": row | None,              # organizations under no township (县直单位,
                                            # the county itself), when they have any
         "total": row}                      # everything within org_codes

    where a row is ``{"code", "name", "kind", "collected", "stages": {"征集": n, "研判": n,
    "办结": n, "回访": n}, "closed", "overdue", "visited", "satisfied", "closing_rate",
    "satisfaction_rate"}``: collected = submissions not 已作废; closed = 办结 + 回访;
    overdue = at 研判 past the deadline; closing_rate = closed / collected and
    satisfaction_rate = 满意 / 回访, as percentages with one decimal (91.4), None when the
    divisor is 0. ``total``'s code is None and its name 合计; the townships' rows plus
    ``others`` add up to it.

    Cost: one submission_counts and one case_groups per demand form, plus (for
    ``satisfaction``) the cases at 回访 read once; ``satisfaction=False`` skips that read
    (``satisfied`` and ``satisfaction_rate`` are then None): on TinyDB, with ~3,000 cases
    (1,600 at 回访), 57 ms with it, 23 ms without; both grow with the number of cases."""
    from services.orgs import org_index

    today = today or common.now().date()
    index = index or org_index(store)
    form_ids = [schema["id"] for schema in demand_forms(store)]
    scope = None if org_codes is None else set(org_codes)
    own = _org_counts(store, scope, today, form_ids, satisfaction)
    townships = {o["code"]: _blank(o["code"], o["name"], "township")
                 for o in index.townships() if scope is None or o["code"] in scope}
    others = _blank(None, "县直单位及其他", None)
    total = _blank(None, "合计", None)
    for code, counts_ in own.items():
        township = township_of(index, code)
        if township is not None and township not in townships:
            # an account below a township (a village's) sees its part of that township
            townships[township] = _blank(township, index.get(township)["name"], "township")
        _add(townships[township] if township is not None else others, counts_)
        _add(total, counts_)
    return {"as_of": today, "forms": form_ids,
            "townships": [_finish(townships[c], satisfaction) for c in sorted(townships)],
            "others": _finish(others, satisfaction) if others["collected"] else None,
            "total": _finish(total, satisfaction)}


def rate_text(value):
    """A rate as the pages show it: "91.4%", or — when there is none."""
    return "—" if value is None else f"{value:.1f}%"
