"""群众诉求 as demo data (seed-demo): the demo's demands taken through 研判, 办结 and 回访 as a
county at work would — most closed within their deadline, some late, a few still waiting
for 研判 or overdue, most visits satisfied, some not and reopened (庐江 closed 4004 of 4379:
about 91%).

Every step goes through services.demands.take_step, dated on the day it would have been taken
(the Store's clock set meanwhile), so what the pages show of demo data is what they would show
of real data.
"""
from contextlib import contextmanager
from datetime import datetime, timedelta

from services import demands
from services.orgs import OrgIndex
from storage import common

DEMO_USER = {"username": "demo", "role": "admin", "org_code": None, "active": True}
# The newest demands of each form taken through the workflow; older ones beyond this stay at
# 征集 (each step is a write: a demo of 100,000 submissions would otherwise take minutes).
MAX_CASES = 1000
LEFT_WAITING = 0.03      # never assessed (the backlog)
STUCK = 0.05             # assessed, never closed: overdue once the deadline passes
LATE = 0.12              # closed after the deadline
VISITED = 0.85           # of the closed ones asking for a visit
UNSATISFIED = 0.08
REOPENED = 0.5           # of the unsatisfied ones

HANDLING = {
    "道路交通": "镇交通办组织施工队修补路面{n}处，并在弯道加装警示桩，群众出行恢复正常。",
    "饮水用电": "协调供电所、水务站上门检修，更换老化线路和水管{n}处，已恢复正常供应。",
    "人居环境": "组织保洁员和党员志愿者集中清理{n}次，落实专人每周巡查。",
    "产业发展": "联系农技站专家上门指导{n}次，帮助对接合作社收购。",
    "就业社保": "社保专干上门讲解政策，协助办理相关手续{n}件。",
    "医疗教育": "协调卫生院和学校落实帮扶措施，已办理{n}项。",
    "矛盾纠纷": "村调委会组织双方调解{n}次，达成书面协议。",
    "政策咨询": "镇便民服务中心上门答复，发放政策明白纸{n}份。",
}
DEFAULT_HANDLING = "责任单位现场核实后落实整改{n}项，已办结。"
UNSATISFIED_NOTES = ("问题只解决了一部分，还有几户没有落实。", "雨天后又出现同样的问题。",
                     "办理时间太长，希望以后快一些。")


@contextmanager
def _clock(moment):
    """The Store's clock set to ``moment`` meanwhile, so that a step is dated when it would
    have been taken (a command's single thread: nothing else reads the clock)."""
    real = common.now
    common.now = lambda: moment
    try:
        yield
    finally:
        common.now = real


def _moment(day, rng, now):
    moment = datetime(day.year, day.month, day.day, 8, 30).astimezone() + timedelta(
        seconds=rng.random() * 9 * 3600)
    return min(moment, now - timedelta(minutes=1))


def seed_cases(store, rng, now=None):
    """Take the demo's demands that have no case yet (the newest MAX_CASES of each demand
    form) through the workflow; the number of cases opened."""
    now = now or common.now()
    index = OrgIndex(store.list_orgs())
    opened = 0
    for schema in demands.demand_forms(store):
        have = {c["receipt"] for c in store.list_cases(schema["id"])}
        _total, docs = store.query_submissions(schema["id"], limit=MAX_CASES,
                                               statuses=demands.NON_VOID)
        for doc in reversed(docs):  # oldest first: the days of the steps go forward
            if doc["receipt"] not in have:
                opened += _handle(store, index, doc, rng, now)
    return opened


def _handle(store, index, doc, rng, now):
    """One demand's steps, as far as the days up to ``now`` allow; 1 when a case was opened."""
    today = now.date()
    collected = common.parse_stamp(doc["submitted_at"]).date()
    if rng.random() < LEFT_WAITING or (today - collected).days <= 1 and rng.random() < 0.7:
        return 0
    day = min(collected + timedelta(days=rng.randrange(0, 3)), today)
    deadline = demands.default_deadline(doc, day)

    revision = [0]  # the case's revision: one more after each step (no read to learn it)

    def take(step, on, **inputs):
        with _clock(_moment(on, rng, now)):
            demands.take_step(store, DEMO_USER, index, doc["receipt"], step, inputs,
                              revision[0], on)
        revision[0] += 1

    take("assess", day, category=doc["answers"].get("category") or "其他",
         owner=_owner(index, doc, rng), deadline=deadline,
         comment=rng.choice(("", "", "请责任单位尽快核实办理。", "镇村联合办理，按时答复群众。")))
    if rng.random() < STUCK:
        return 1
    for round_ in range(2):
        late = rng.random() < LATE
        span = (deadline - day).days
        closed = day + timedelta(days=rng.randrange(span + 1, span + 10) if late
                                 else rng.randrange(1, max(span, 1) + 1))
        if closed > today:
            return 1
        category = doc["answers"].get("category")
        take("close", closed, closed_on=closed, handling=HANDLING.get(
            category, DEFAULT_HANDLING).format(n=rng.randrange(1, 6)))
        if not demands.wants_follow_up(doc) or rng.random() > VISITED:
            return 1
        visited = closed + timedelta(days=rng.randrange(1, 8))
        if visited > today:
            return 1
        unhappy = rng.random() < UNSATISFIED and round_ == 0
        take("visit", visited, visited_on=visited, satisfaction="不满意" if unhappy else "满意",
             note=rng.choice(UNSATISFIED_NOTES) if unhappy else rng.choice(
                 ("", "群众表示满意。", "问题已解决，群众满意。")))
        if not unhappy or rng.random() > REOPENED:
            return 1
        day = visited + timedelta(days=rng.randrange(1, 3))
        if day > today:
            return 1
        deadline = day + timedelta(days=7)
        take("reopen", day, deadline=deadline, comment="回访不满意，责任单位重新办理。")
    return 1


def _owner(index, doc, rng):
    """Who handles it: mostly the township, often the village itself, sometimes a county
    department (among what the county may choose)."""
    choices = [code for code, _label in demands.owner_choices(index, DEMO_USER, doc["org_code"])]
    township = demands.township_of(index, doc["org_code"])
    units = [c for c in choices if (index.get(c) or {}).get("kind") == "unit"
             and c != doc["org_code"]]
    draw = rng.random()
    if township and draw < 0.55:
        return township
    if draw < 0.9 or not units:
        return doc["org_code"] if doc["org_code"] in choices else choices[0]
    return rng.choice(units)
