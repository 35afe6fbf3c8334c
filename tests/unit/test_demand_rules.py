"""services/demands.py and the schema key that marks a 群众诉求 form: the steps 征集 → 研判 →
办结 → 回访 (and 重新办理 after a 不满意 visit), what each refuses and says in Chinese, who
may take them, overdue, the list's filters, and the counts — collected, each stage, closed,
overdue, closing and satisfaction rates, rolled up village → township → county — with voided
submissions left out.

A real TinyStore in a temp folder (the same calls run on PostgreSQL in
tests/http/test_demands.py)."""
import json
from datetime import date, timedelta
from uuid import uuid4

import pytest

from forms.loader import SchemaError, check_schema, load_builtin_schemas
from services import demands
from services.orgs import OrgIndex
from storage import common, open_store
from storage.errors import RecordChanged

TODAY = date(2026, 6, 15)

ORGS = [
    {"code": "YX", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "XC", "name": "响肠镇", "parent_code": "YX", "kind": "township"},
    {"code": "XC1", "name": "千佛塔村", "parent_code": "XC", "kind": "village"},
    {"code": "XC2", "name": "余畈村", "parent_code": "XC", "kind": "village"},
    {"code": "BM", "name": "白帽镇", "parent_code": "YX", "kind": "township"},
    {"code": "BM1", "name": "深村村", "parent_code": "BM", "kind": "village"},
    {"code": "TT", "name": "天堂镇", "parent_code": "YX", "kind": "township"},
    {"code": "CZJ", "name": "县财政局", "parent_code": "YX", "kind": "unit"},
]
FORM = {"id": "t_demand", "title": "群众诉求", "description": "", "workflow": "demand",
        "fields": [
            {"name": "category", "type": "select", "label": "诉求类别",
             "choices": ["道路交通", "饮水用电", "其他"]},
            {"name": "content", "type": "textarea", "label": "诉求内容", "required": True},
            {"name": "urgency", "type": "select", "label": "紧急程度",
             "choices": ["一般", "较急", "紧急"]},
            {"name": "collect_date", "type": "date", "label": "征集日期"},
            {"name": "follow_up", "type": "boolean", "label": "是否需要回访"},
        ]}
ADMIN = {"username": "county", "role": "admin", "org_code": None, "active": True}
TOWN = {"username": "xc", "role": "reviewer", "org_code": "XC", "active": True}
OTHER_TOWN = {"username": "bm", "role": "reviewer", "org_code": "BM", "active": True}
VIEWER = {"username": "look", "role": "viewer", "org_code": "XC", "active": True}
JUDGE = {"username": "judge", "role": "judge", "org_code": None, "active": True}


@pytest.fixture
def store(tmp_path):
    store = open_store(None, str(tmp_path))
    store.upsert_orgs(ORGS)
    store.add_form_version(check_schema(json.loads(json.dumps(FORM))), source="cli")
    yield store
    store.close()


@pytest.fixture
def index(store):
    return OrgIndex(store.list_orgs())


def collect(store, org="XC1", content="村口路灯坏了三盏，晚上出行不便", **answers):
    doc, _new = store.add_submission("t_demand", 1, org, {
        "category": "道路交通", "content": content, "urgency": "一般",
        "collect_date": "2026-06-01", **answers}, uuid4().hex)
    return doc


def void(store, receipt):
    doc = store.get_submission(receipt)
    store.update_submission(receipt, doc["revision"], {
        "status": common.VOID, "user": "county",
        "event": {"action": "void", "from": doc["status"], "to": common.VOID,
                  "comment": "重复登记"}})


def step(store, index, receipt, name, user=TOWN, today=TODAY, revision=None, **inputs):
    if revision is None:
        case = store.get_case(receipt)
        revision = case["revision"] if case else 0
    return demands.take_step(store, user, index, receipt, name, inputs, revision, today)


def assess(store, index, receipt, user=TOWN, today=TODAY, deadline=None, **extra):
    inputs = {"category": "道路交通", "owner": "XC1",
              "deadline": deadline or (today + timedelta(days=7)).isoformat(), **extra}
    return step(store, index, receipt, "assess", user, today, **inputs)


def close(store, index, receipt, user=TOWN, today=TODAY, **extra):
    return step(store, index, receipt, "close", user, today,
                **{"handling": "已更换路灯三盏，群众出行恢复正常", "closed_on": today, **extra})


def visit(store, index, receipt, satisfaction="满意", user=TOWN, today=TODAY, **extra):
    return step(store, index, receipt, "visit", user, today,
                **{"satisfaction": satisfaction, "visited_on": today, **extra})


# ---------------------------------------------------------------------------- the schema key

def _schema(**changes):
    schema = json.loads(json.dumps(FORM))
    schema.update(changes)
    return schema


def test_the_built_in_demand_form_says_its_workflow():
    built = {s["id"]: s for s in load_builtin_schemas()}
    assert built["public_demand"]["workflow"] == "demand"
    assert demands.is_demand_form(built["public_demand"])
    assert not any(demands.is_demand_form(s) for i, s in built.items() if i != "public_demand")


def _urgency_as_text():
    schema = _schema()
    schema["fields"] = [{"name": "urgency", "type": "text", "label": "紧急程度"} if
                        f["name"] == "urgency" else f for f in FORM["fields"]]
    return schema


@pytest.mark.parametrize("schema,path,reason", [
    (_schema(workflow="demnd"), "workflow", "不是可用的值"),
    (_schema(period={"every": "month"}), "period", "不能设置 period（报告周期）"),
    (_schema(fields=FORM["fields"][:1]), "workflow", "须有名为 content"),
    (_urgency_as_text(), "fields[2].type",
     "紧急程度（研判时建议的办结时限），须是「select」（单选）字段"),
    (_schema(fields=[{"name": "content", "type": "integer", "label": "内容"}]),
     "fields[0].type", "须是「text」（单行文字）或「textarea」（多行文字）字段"),
])
def test_the_loader_checks_a_demand_form(schema, path, reason):
    with pytest.raises(SchemaError) as error:
        check_schema(schema)
    assert error.value.path == path and reason in error.value.reason


def test_a_form_without_the_key_is_no_demand_form():
    plain = {k: v for k, v in FORM.items() if k != "workflow"}
    assert check_schema(plain)["id"] == "t_demand" and not demands.is_demand_form(plain)


# ---------------------------------------------------------------------------- the steps

def test_a_demand_goes_from_collected_to_visited(store, index):
    doc = collect(store)
    assert demands.stage_of(store.get_case(doc["receipt"])) == "征集"
    assert demands.next_steps(None, doc, TOWN, index) == ["assess"]

    case = assess(store, index, doc["receipt"], comment="请村里先摸清户数")
    assert (case["stage"], case["owner"], case["owner_name"], case["level"]) == (
        "研判", "XC1", "千佛塔村", "村级")
    assert (case["deadline"], case["assessed_on"], case["category"]) == (
        "2026-06-22", "2026-06-15", "道路交通")
    assert case["history"][0]["action"] == "assess" and case["history"][0]["user"] == "xc"
    assert "责任单位：千佛塔村（村级）" in case["history"][0]["comment"]
    assert "请村里先摸清户数" in case["history"][0]["comment"]
    assert demands.next_steps(case, doc, TOWN, index) == ["assess", "close"]

    case = close(store, index, doc["receipt"])
    assert (case["stage"], case["closed_on"]) == ("办结", "2026-06-15")
    assert case["handling"].startswith("已更换路灯")
    assert demands.next_steps(case, doc, TOWN, index) == ["visit"]

    case = visit(store, index, doc["receipt"], note="群众很满意")
    assert (case["stage"], case["satisfaction"], case["visit_note"]) == ("回访", "满意",
                                                                         "群众很满意")
    assert demands.next_steps(case, doc, TOWN, index) == []  # done
    assert [e["action"] for e in case["history"]] == ["assess", "close", "visit"]
    assert [(e["from"], e["to"]) for e in case["history"]] == [
        ("征集", "研判"), ("研判", "办结"), ("办结", "回访")]
    assert case["revision"] == 3


def test_reassessing_changes_the_owner_and_keeps_the_stage(store, index):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    case = assess(store, index, doc["receipt"], owner="XC", deadline="2026-06-20")
    assert (case["stage"], case["owner"], case["level"], case["deadline"]) == (
        "研判", "XC", "镇级", "2026-06-20")
    assert case["history"][-1]["action"] == "reassess"


def test_an_unsatisfied_visit_may_be_reopened_and_keeps_the_round(store, index):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    close(store, index, doc["receipt"])
    with pytest.raises(demands.DemandError) as error:  # 不满意 needs what the person said
        visit(store, index, doc["receipt"], "不满意")
    assert "note" in error.value.errors
    case = visit(store, index, doc["receipt"], "不满意", note="还有一盏没修")
    assert demands.next_steps(case, doc, TOWN, index) == ["reopen"]
    with pytest.raises(demands.DemandError) as error:
        step(store, index, doc["receipt"], "reopen", deadline="2026-06-25")
    assert error.value.errors == {"comment": "请填写重新办理的原因"}

    later = TODAY + timedelta(days=2)
    case = step(store, index, doc["receipt"], "reopen", today=later, deadline="2026-06-25",
                comment="再修一盏")
    assert (case["stage"], case["deadline"], case["assessed_on"]) == ("研判", "2026-06-25",
                                                                     "2026-06-17")
    assert case["handling"] is None and case["satisfaction"] is None
    assert case["rounds"] == [{"owner": "XC1", "owner_name": "千佛塔村", "deadline": "2026-06-22",
                               "assessed_on": "2026-06-15",
                               "handling": "已更换路灯三盏，群众出行恢复正常",
                               "closed_on": "2026-06-15", "satisfaction": "不满意",
                               "visit_note": "还有一盏没修", "visited_on": "2026-06-15"}]
    with pytest.raises(demands.DemandError) as error:  # a close before the new 研判 day
        close(store, index, doc["receipt"], today=later, closed_on=TODAY)
    assert "不能早于研判日期（2026-06-17）" in error.value.errors["closed_on"]
    assert close(store, index, doc["receipt"], today=later)["stage"] == "办结"
    assert visit(store, index, doc["receipt"], today=later)["satisfaction"] == "满意"


def test_a_satisfied_demand_is_not_reopened(store, index):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    close(store, index, doc["receipt"])
    visit(store, index, doc["receipt"])
    with pytest.raises(demands.DemandError) as error:
        step(store, index, doc["receipt"], "reopen", deadline="2026-06-25", comment="再办")
    assert error.value.code == "invalid_step"
    assert "无（已办理完毕）" in str(error.value)


@pytest.mark.parametrize("name,inputs", [("close", {"handling": "修好了路灯", "closed_on": TODAY}),
                                         ("visit", {"satisfaction": "满意", "visited_on": TODAY}),
                                         ("reopen", {"deadline": TODAY, "comment": "x"}),
                                         ("jump", {})])
def test_steps_out_of_order_are_refused(store, index, name, inputs):
    doc = collect(store)
    with pytest.raises(demands.DemandError) as error:
        step(store, index, doc["receipt"], name, **inputs)
    assert error.value.code == "invalid_step"
    assert store.get_case(doc["receipt"]) is None


@pytest.mark.parametrize("inputs,errors", [
    ({"deadline": "2026-06-14"}, {"deadline": "办结时限不能早于今天"}),
    ({"deadline": "2027-06-17"}, {"deadline": "办结时限不能超过 366 天"}),
    ({"deadline": None}, {"deadline": "请填写办结时限（日期）"}),
    ({"category": "天气"}, {"category": "请选择诉求类别"}),
    ({"owner": "BM1"}, {"owner": "请选择责任单位（本账号可安排的组织）"}),
    ({"owner": "CZJ"}, {"owner": "请选择责任单位（本账号可安排的组织）"}),  # admins only
    ({"comment": "长" * 1001}, {"comment": "研判意见不能超过 1000 字"}),
    ({"owner": "", "category": ""}, {"owner": "请选择责任单位（本账号可安排的组织）",
                                     "category": "请选择诉求类别"}),
])
def test_assessing_refuses_bad_inputs_and_stores_nothing(store, index, inputs, errors):
    doc = collect(store)
    base = {"category": "道路交通", "owner": "XC1", "deadline": "2026-06-22", "comment": ""}
    with pytest.raises(demands.DemandError) as error:
        step(store, index, doc["receipt"], "assess", **{**base, **inputs})
    assert error.value.errors == errors and error.value.code == "invalid"
    assert store.get_case(doc["receipt"]) is None


@pytest.mark.parametrize("inputs,errors", [
    ({"handling": ""}, {"handling": "请填写办理情况"}),
    ({"handling": "修了"}, {"handling": "办理情况太短了，请写清楚（至少 5 个字）"}),
    ({"closed_on": date(2026, 6, 16)}, {"closed_on": "办结日期不能晚于今天"}),
    ({"closed_on": "2026-06-14"}, {"closed_on": "办结日期不能早于研判日期（2026-06-15）"}),
    ({"closed_on": None}, {"closed_on": "请填写办结日期"}),
])
def test_closing_refuses_bad_inputs(store, index, inputs, errors):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    with pytest.raises(demands.DemandError) as error:
        close(store, index, doc["receipt"], **inputs)
    assert error.value.errors == errors
    assert store.get_case(doc["receipt"])["stage"] == "研判"


@pytest.mark.parametrize("inputs,errors", [
    ({"satisfaction": "还行"}, {"satisfaction": "请选择回访结果：满意或不满意"}),
    ({"visited_on": "2026-06-16"}, {"visited_on": "回访日期不能晚于今天"}),
    ({"visited_on": "2026-06-14"}, {"visited_on": "回访日期不能早于办结日期（2026-06-15）"}),
])
def test_visiting_refuses_bad_inputs(store, index, inputs, errors):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    close(store, index, doc["receipt"])
    with pytest.raises(demands.DemandError) as error:
        visit(store, index, doc["receipt"], **inputs)
    assert error.value.errors == errors


def test_a_stale_revision_stores_nothing(store, index):
    doc = collect(store)
    assess(store, index, doc["receipt"])
    with pytest.raises(RecordChanged):  # a page made before the 研判: the case is newer
        assess(store, index, doc["receipt"], owner="XC2", revision=0)
    case = close(store, index, doc["receipt"])
    with pytest.raises(RecordChanged):
        step(store, index, doc["receipt"], "visit", revision=1, satisfaction="满意",
             visited_on=TODAY)
    assert store.get_case(doc["receipt"]) == case


def test_who_may_take_a_step(store, index):
    mine, other = collect(store, "XC1"), collect(store, "BM1")
    with pytest.raises(LookupError):  # another township's demand: as if it did not exist
        assess(store, index, other["receipt"], user=TOWN, owner="BM1")
    with pytest.raises(LookupError):
        assess(store, index, mine["receipt"], user=OTHER_TOWN, owner="XC1")
    for reader in (VIEWER, JUDGE):
        with pytest.raises(demands.DemandError) as error:
            assess(store, index, mine["receipt"], user=reader)
        assert error.value.code == "forbidden"
        assert demands.next_steps(None, mine, reader, index) == []
    assert demands.next_steps(None, mine, OTHER_TOWN, index) == []
    # the county gives it to a county department
    assert assess(store, index, other["receipt"], user=ADMIN, owner="CZJ")["level"] == "县级"
    with pytest.raises(LookupError):
        step(store, index, "260101-9999", "assess")
    plain = {k: v for k, v in FORM.items() if k != "workflow"} | {"id": "t_plain"}
    store.add_form_version(check_schema(plain), source="cli")
    sub, _new = store.add_submission("t_plain", 1, "XC1", {"content": "不是诉求表"}, "p1")
    with pytest.raises(LookupError):  # a submission of another kind of form is no demand
        assess(store, index, sub["receipt"])


def test_a_voided_demand_is_not_handled(store, index):
    doc = collect(store)
    void(store, doc["receipt"])
    assert demands.next_steps(None, store.get_submission(doc["receipt"]), TOWN, index) == []
    with pytest.raises(demands.DemandError) as error:
        assess(store, index, doc["receipt"])
    assert error.value.code == "void" and store.get_case(doc["receipt"]) is None


def test_owner_choices_follow_the_scope(index):
    assert [c for c, _label in demands.owner_choices(index, TOWN, "XC1")] == ["XC", "XC1", "XC2"]
    assert dict(demands.owner_choices(index, TOWN, "XC1"))["XC"] == "响肠镇（镇级）"
    assert [c for c, _label in demands.owner_choices(index, ADMIN, "XC1")] == [
        "XC", "XC1", "XC2", "YX", "CZJ"]
    assert dict(demands.owner_choices(index, ADMIN, "XC1"))["CZJ"] == "县财政局（县级）"
    village = {"username": "v", "role": "reviewer", "org_code": "XC2", "active": True}
    assert [c for c, _label in demands.owner_choices(index, village, "XC2")] == ["XC2"]
    # a demand of a county department: that department (and, for the county, the others)
    assert [c for c, _l in demands.owner_choices(index, ADMIN, "CZJ")] == ["CZJ", "YX"]


@pytest.mark.parametrize("urgency,days", [("紧急", 3), ("较急", 7), ("一般", 15), (None, 15)])
def test_the_deadline_proposed_follows_the_urgency(urgency, days):
    doc = {"answers": {"urgency": urgency}}
    assert demands.default_deadline(doc, TODAY) == TODAY + timedelta(days=days)


def test_overdue_is_past_the_deadline_and_not_closed():
    case = {"stage": "研判", "deadline": "2026-06-14"}
    assert demands.overdue_days(case, TODAY) == 1 and demands.is_overdue(case, TODAY)
    assert not demands.is_overdue({**case, "deadline": "2026-06-15"}, TODAY)  # due today
    assert not demands.is_overdue({**case, "stage": "办结"}, TODAY)
    assert not demands.is_overdue({**case, "stage": "回访"}, TODAY)
    assert not demands.is_overdue(None, TODAY)  # 征集: no deadline yet
    assert demands.closed_late({"stage": "办结", "deadline": "2026-06-14",
                                "closed_on": "2026-06-15"})
    assert not demands.closed_late({"stage": "办结", "deadline": "2026-06-15",
                                    "closed_on": "2026-06-15"})


# ---------------------------------------------------------------------------- the list

def test_find_filters_by_stage_and_overdue_and_leaves_voided_out(store, index):
    docs = [collect(store, content=f"诉求第{n}件，具体情况如下") for n in range(6)]
    receipts = [d["receipt"] for d in docs]
    early = TODAY - timedelta(days=20)
    assess(store, index, receipts[0], today=early, deadline="2026-06-01")   # overdue 14 days
    assess(store, index, receipts[1], today=early, deadline="2026-06-10")   # overdue 5 days
    assess(store, index, receipts[2])                                        # in time
    assess(store, index, receipts[3], today=early, deadline="2026-06-02")
    close(store, index, receipts[3], today=early)                            # closed: not overdue
    assess(store, index, receipts[5], today=early, deadline="2026-06-03")
    void(store, receipts[5])                                                 # voided: left out

    def found(**kw):
        total, items = demands.find(store, "t_demand", today=TODAY, **kw)
        return total, [i["doc"]["receipt"] for i in items]

    assert found() == (5, receipts[4::-1])
    assert found(stage="征集") == (1, [receipts[4]])
    assert found(stage="研判") == (3, [receipts[2], receipts[1], receipts[0]])
    assert found(stage="办结") == (1, [receipts[3]])
    assert found(overdue=True) == (2, [receipts[0], receipts[1]])  # most overdue first
    assert found(overdue=True, stage="办结") == (0, [])
    assert found(overdue=True, offset=1, limit=1) == (2, [receipts[1]])
    assert found(org_codes={"BM1"}) == (0, [])
    _total, items = demands.find(store, "t_demand", today=TODAY, overdue=True)
    assert [i["overdue_days"] for i in items] == [14, 5]
    _total, items = demands.find(store, "t_demand", today=TODAY, stage="征集")
    assert items[0]["waiting_days"] == 14 and items[0]["case"] is None  # since 2026-06-01


def test_find_pages_through_collected_ones_among_assessed(store, index):
    docs = [collect(store, content=f"诉求第{n}件，具体情况如下") for n in range(7)]
    for doc in docs[1::2]:
        assess(store, index, doc["receipt"])
    open_ones = [d["receipt"] for d in reversed(docs[0::2])]
    pages = [demands.find(store, "t_demand", stage="征集", today=TODAY, offset=o, limit=3)
             for o in (0, 3)]
    assert [p[0] for p in pages] == [4, 4]
    assert [i["doc"]["receipt"] for p in pages for i in p[1]] == open_ones


# ---------------------------------------------------------------------------- counts

@pytest.fixture
def county(store, index):
    """响肠镇: 千佛塔村 6 (1 征集, 1 研判 overdue, 1 研判 in time, 1 办结, 2 回访: 满意 and
    不满意) and two voided (one assessed and overdue, one visited); 余畈村 1 征集. 白帽镇: 深村村 1 回访 满意.
    天堂镇: nothing. 县财政局: 1 征集."""
    early = TODAY - timedelta(days=10)
    xc1 = [collect(store, "XC1", content=f"千佛塔村第{n}件诉求内容") for n in range(8)]
    assess(store, index, xc1[1]["receipt"], today=early, deadline="2026-06-10")
    assess(store, index, xc1[2]["receipt"])
    for doc, satisfaction in ((xc1[3], None), (xc1[4], "满意"), (xc1[5], "不满意"),
                              (xc1[7], "不满意")):
        assess(store, index, doc["receipt"], today=early, deadline="2026-06-06")
        close(store, index, doc["receipt"], today=early)
        if satisfaction:
            visit(store, index, doc["receipt"], satisfaction, today=early, note="意见")
    assess(store, index, xc1[6]["receipt"], today=early, deadline="2026-06-06")
    void(store, xc1[6]["receipt"])
    void(store, xc1[7]["receipt"])
    collect(store, "XC2")
    bm = collect(store, "BM1")
    assess(store, index, bm["receipt"], user=ADMIN, owner="BM1")
    close(store, index, bm["receipt"], user=ADMIN)
    visit(store, index, bm["receipt"], user=ADMIN)
    collect(store, "CZJ")
    voided_open = collect(store, "XC2")
    void(store, voided_open["receipt"])
    return store


def _row(rows, code):
    return next(r for r in rows if r["code"] == code)


def test_counts_roll_up_village_township_county(county, index):
    rows = demands.counts(county, None, TODAY, index)
    assert [r["code"] for r in rows] == ["YX", "BM", "XC", "BM1", "CZJ", "XC1", "XC2"]
    xc1 = _row(rows, "XC1")
    assert (xc1["collected"], xc1["stages"], xc1["closed"], xc1["overdue"]) == (
        6, {"征集": 1, "研判": 2, "办结": 1, "回访": 2}, 3, 1)
    assert (xc1["visited"], xc1["satisfied"], xc1["closing_rate"], xc1["satisfaction_rate"]) \
        == (2, 1, 50.0, 50.0)
    xc = _row(rows, "XC")
    assert (xc["collected"], xc["stages"]["征集"], xc["closed"], xc["overdue"]) == (7, 2, 3, 1)
    assert xc["closing_rate"] == 42.9  # 3 / 7 = 42.857...
    yx = _row(rows, "YX")
    assert (yx["collected"], yx["closed"], yx["visited"], yx["satisfied"]) == (9, 4, 3, 2)
    assert (yx["closing_rate"], yx["satisfaction_rate"]) == (44.4, 66.7)
    assert _row(rows, "CZJ")["stages"]["征集"] == 1
    assert "TT" not in {r["code"] for r in rows}  # no demand there


def test_a_townships_counts_have_no_county_row(county, index):
    rows = demands.counts(county, index.below("XC"), TODAY, index)
    assert [r["code"] for r in rows] == ["XC", "XC1", "XC2"]
    assert _row(rows, "XC")["collected"] == 7


def test_summary_per_township_and_the_total(county, index):
    data = demands.summary(county, None, TODAY, index)
    assert data["as_of"] == TODAY and data["forms"] == ["t_demand"]
    assert [(t["code"], t["name"], t["collected"], t["closed"], t["closing_rate"])
            for t in data["townships"]] == [("BM", "白帽镇", 1, 1, 100.0),
                                             ("TT", "天堂镇", 0, 0, None),
                                             ("XC", "响肠镇", 7, 3, 42.9)]
    assert data["others"]["collected"] == 1 and data["others"]["closing_rate"] == 0.0
    total = data["total"]
    assert (total["name"], total["collected"], total["closed"], total["overdue"]) == (
        "合计", 9, 4, 1)
    assert total["stages"] == {"征集": 3, "研判": 2, "办结": 1, "回访": 3}
    assert (total["closing_rate"], total["satisfaction_rate"]) == (44.4, 66.7)
    assert sum(t["collected"] for t in data["townships"]) + data["others"]["collected"] \
        == total["collected"]
    # a township's reviewer: its own township only
    mine = demands.summary(county, index.below("XC"), TODAY, index)
    assert [t["code"] for t in mine["townships"]] == ["XC"] and mine["others"] is None
    assert mine["total"]["collected"] == 7
    # a village's account sees its part of its township
    part = demands.summary(county, {"XC2"}, TODAY, index)
    assert [(t["code"], t["collected"]) for t in part["townships"]] == [("XC", 1)]


def test_overdue_counts_move_with_the_day(county, index):
    assert demands.summary(county, None, date(2026, 6, 10), index)["total"]["overdue"] == 0
    assert demands.summary(county, None, date(2026, 6, 11), index)["total"]["overdue"] == 1
    # the one at 研判 in time (deadline 2026-06-22) becomes overdue too
    assert demands.summary(county, None, date(2026, 6, 23), index)["total"]["overdue"] == 2


def test_rates_have_one_decimal_half_up():
    assert demands.rate(1, 3) == 33.3 and demands.rate(2, 3) == 66.7
    assert demands.rate(1, 8) == 12.5 and demands.rate(1, 16) == 6.3  # 6.25 -> 6.3
    assert demands.rate(0, 5) == 0.0 and demands.rate(4004, 4379) == 91.4  # 庐江
    assert demands.rate(3, 0) is None
    assert demands.rate_text(91.4) == "91.4%" and demands.rate_text(None) == "—"


def test_an_empty_county_counts_nothing(store, index):
    data = demands.summary(store, None, TODAY, index)
    assert data["total"]["collected"] == 0 and data["total"]["closing_rate"] is None
    assert demands.counts(store, None, TODAY, index) == []


def test_the_cadre_sees_the_progress_of_a_demand(store, index):
    doc = collect(store)
    assert demands.progress(store, doc)["label"] == "征集 · 待研判"
    assess(store, index, doc["receipt"])
    shown = demands.progress(store, doc)
    assert (shown["label"], shown["owner"], shown["deadline"], shown["handling"]) == (
        "研判 · 办理中", "千佛塔村", "2026-06-22", None)
    close(store, index, doc["receipt"])
    visit(store, index, doc["receipt"], "不满意", note="还有一盏没修")
    shown = demands.progress(store, doc)
    assert shown["label"] == "回访 · 不满意" and shown["handling"].startswith("已更换路灯")
    assert "还有一盏没修" not in str(shown)
    void(store, doc["receipt"])
    assert demands.progress(store, store.get_submission(doc["receipt"])) is None
    plain = {k: v for k, v in FORM.items() if k != "workflow"} | {"id": "t_plain"}
    store.add_form_version(check_schema(plain), source="cli")
    other, _new = store.add_submission("t_plain", 1, "XC1", {"content": "不是诉求表"}, "p1")
    assert demands.progress(store, other) is None


def test_seed_demo_handles_its_demands_in_every_stage(tmp_path):
    from seed import seed_demo, seed_first_start

    store = open_store(None, str(tmp_path / "demo"))
    try:
        seed_first_start(store)
        seed_demo(store, 800, seed=7)
        today = common.now().date()
        data = demands.summary(store, None, today)
        total = data["total"]
        assert all(total["stages"][s] for s in demands.STAGES), total["stages"]
        assert total["overdue"] and 60 < total["closing_rate"] < 100
        assert 80 < total["satisfaction_rate"] < 100
        cases = store.list_cases("public_demand")
        assert any(c["rounds"] for c in cases)  # one reopened after a 不满意 visit
        for case in cases:  # every step one the rules allow, dated in order
            steps = [(e["from"], e["to"]) for e in case["history"]]
            assert steps[0] == ("征集", "研判")
            assert all(b[0] == a[1] for a, b in zip(steps, steps[1:]))
            times = [common.parse_stamp(e["at"]) for e in case["history"]]
            assert times == sorted(times)
            doc = store.get_submission(case["receipt"])
            assert doc["answers"]["collect_date"] == doc["submitted_at"][:10]
    finally:
        store.close()


def test_summary_without_the_satisfaction_rate(county, index):
    fast = demands.summary(county, None, TODAY, index, satisfaction=False)
    full = demands.summary(county, None, TODAY, index)
    assert fast["total"]["satisfied"] is None and fast["total"]["satisfaction_rate"] is None
    for key in ("collected", "stages", "closed", "overdue", "visited", "closing_rate"):
        assert fast["total"][key] == full["total"][key]
