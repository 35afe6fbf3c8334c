"""群众诉求 through HTTP, on both backends: a township reviewer takes a demand from 征集 to 回访
(and the county reopens an unsatisfied one); the list's counts, filters and overdue marks;
who may do what (another township: 404; viewer and judge: read, never a step: 403); a page
made before someone else's step stores nothing; CSRF; the audit log."""
import re
import uuid
from datetime import date, timedelta

import pytest

from services import demands
from services import receipts as receipt_links
from services.accounts import create_user
from services.orgs import org_index
from storage import common
from support.helpers import csrf_token, login

TOWNSHIP_A, VILLAGE_A, VILLAGE_A2 = "340828101", "340828101202", "340828101201"
TOWNSHIP_B, VILLAGE_B = "340828102", "340828102201"
PASSWORD = "demand-password-1"
PEOPLE = {"admin": ("admin", None), "town_a": ("reviewer", TOWNSHIP_A),
          "town_b": ("reviewer", TOWNSHIP_B), "viewer_a": ("viewer", TOWNSHIP_A),
          "judge": ("judge", None)}
TODAY = date.today()


@pytest.fixture
def people(app, store):
    with app.app_context():
        for username, (role, org) in PEOPLE.items():
            create_user(store, username, PASSWORD, role, org)
    clients = {}
    for username in PEOPLE:
        client = app.test_client()
        assert login(client, username, PASSWORD).status_code == 302
        clients[username] = client
    return clients


def collect(store, org=VILLAGE_A, content="村口路灯坏了三盏，晚上出行不便", urgency="较急"):
    schema = store.get_form("public_demand")["schema"]
    doc, _new = store.add_submission("public_demand", schema["version"], org, {
        "category": "道路交通", "content": content, "urgency": urgency, "channel": "板凳会",
        "collect_date": TODAY.isoformat(), "collector": "张三", "follow_up": True,
        "follow_up_way": "电话回访", "reporter": "李大妈", "reporter_phone": "13800138000"},
        uuid.uuid4().hex)
    return doc


def page(client, receipt):
    response = client.get(f"/admin/demands/{receipt}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def revision_of(html, step):
    form = html[html.index(f"/{step}\""):]
    return re.search(r'name="revision" type="hidden" value="(\d+)"', form).group(1)


def post(client, receipt, step, html=None, **data):
    html = html or page(client, receipt)
    data = {"csrf_token": csrf_token(html), "revision": revision_of(html, step), **data}
    return client.post(f"/admin/demands/{receipt}/{step}", data=data)


def flashes(response):
    return re.findall(r'class="flash flash-\w+" role="status">([^<]+)<', response.get_data(
        as_text=True))


def test_a_township_takes_a_demand_from_collected_to_visited(app, store, people):
    town = people["town_a"]
    doc = collect(store)
    receipt = doc["receipt"]
    listing = town.get("/admin/demands").get_data(as_text=True)
    assert receipt in listing and "征集 · 待研判" in listing
    assert 'href="/admin/demands"' in listing and ">诉求</a>" in listing  # the nav

    submission = town.get(f"/admin/submissions/{receipt}").get_data(as_text=True)
    assert f'href="/admin/demands/{receipt}">诉求办理</a>' in submission
    html = page(town, receipt)
    assert "村口路灯坏了三盏" in html and 'aria-current="step"' in html
    proposed = (TODAY + timedelta(days=7)).isoformat()  # 较急: 7 days
    assert f'value="{proposed}"' in html
    assert f'<option selected value="{VILLAGE_A}">' in html  # the collecting village first
    assert f'value="{VILLAGE_B}"' not in html  # another township's village is no owner

    response = post(town, receipt, "assess", html, category="道路交通", owner=TOWNSHIP_A,
                    deadline=proposed, comment="镇村联合处理")
    assert response.status_code == 303
    case = store.get_case(receipt)
    assert (case["stage"], case["owner"], case["deadline"], case["level"]) == (
        "研判", TOWNSHIP_A, proposed, "镇级")
    html = town.get(f"/admin/demands/{receipt}").get_data(as_text=True)
    assert "已研判，诉求现处于「研判」" in html and "响肠镇（镇级办理）" in html

    assert post(town, receipt, "close", handling="镇供电所更换路灯三盏",
                closed_on=TODAY.isoformat()).status_code == 303
    assert post(town, receipt, "visit", satisfaction="满意", note="群众表示满意",
                visited_on=TODAY.isoformat()).status_code == 303
    case = store.get_case(receipt)
    assert (case["stage"], case["satisfaction"], case["revision"]) == ("回访", "满意", 3)
    assert [e["user"] for e in case["history"]] == ["town_a"] * 3
    html = page(town, receipt)
    assert "已办结，回访满意。" in html and 'action="/admin/demands/' not in html
    for text in ("镇供电所更换路灯三盏", "群众表示满意", "办理记录"):
        assert text in html

    listing = town.get("/admin/demands").get_data(as_text=True)
    counts = re.search(rf'<tr class="area-township" data-org="{TOWNSHIP_A}">(.*?)</tr>',
                       listing, re.S).group(1)
    assert re.search(r"data-collected>1<", counts) and re.search(r"data-closed>1<", counts)
    assert "100.0%" in counts

    with app.app_context():  # the cadre's private receipt link shows what was done
        receipt_page = app.test_client().get(
            f"/r/{receipt_links.key(store.get_submission(receipt))}/{receipt}")
    shown = receipt_page.get_data(as_text=True)
    assert "回访 · 满意" in shown and "镇供电所更换路灯三盏" in shown
    assert "town_a" not in shown and "群众表示满意" not in shown  # who, and what was said: no

    log = people["admin"].get("/admin/audit").get_data(as_text=True)
    for label in ("诉求研判", "诉求办结", "诉求回访"):
        assert label in log
    assert "责任单位" in log and "回访结果: 满意" in log


def test_the_county_reopens_an_unsatisfied_demand(app, store, people):
    county = people["admin"]
    receipt = collect(store, VILLAGE_B)["receipt"]
    html = page(county, receipt)
    unit = "340828901"  # 县财政局: the county may give a demand to a county department
    assert f'<option value="{unit}">县财政局（县级）</option>' in html
    assert f'<option value="{unit}">' not in page(people["town_b"], receipt)
    post(county, receipt, "assess", html, category="饮水用电", owner=unit,
         deadline=(TODAY + timedelta(days=3)).isoformat())
    post(county, receipt, "close", handling="县水务局已维修水管", closed_on=TODAY.isoformat())
    response = post(county, receipt, "visit", satisfaction="不满意", note="",
                    visited_on=TODAY.isoformat())
    assert response.status_code == 422
    assert "请填写回访情况" in response.get_data(as_text=True)
    assert store.get_case(receipt)["stage"] == "办结"
    post(county, receipt, "visit", satisfaction="不满意", note="水压还是不够",
         visited_on=TODAY.isoformat())
    html = page(county, receipt)
    assert 'data-step="reopen"' in html
    post(county, receipt, "reopen", html, deadline=(TODAY + timedelta(days=10)).isoformat(),
         comment="加装增压泵")
    case = store.get_case(receipt)
    assert case["stage"] == "研判" and case["rounds"][0]["visit_note"] == "水压还是不够"
    assert "以前的办理" in page(county, receipt)
    assert "诉求重新办理" in county.get("/admin/audit").get_data(as_text=True)


def test_bad_inputs_are_shown_beside_their_fields_and_store_nothing(store, people):
    town = people["town_a"]
    receipt = collect(store)["receipt"]
    response = post(town, receipt, "assess", category="", owner=VILLAGE_B,
                    deadline=(TODAY - timedelta(days=1)).isoformat())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in ("请选择诉求类别", "请选择责任单位（本账号可安排的组织）", "办结时限不能早于今天"):
        assert message in html
    assert 'aria-invalid="true"' in html
    response = post(town, receipt, "assess", category="道路交通", owner=VILLAGE_A,
                    deadline="明天")
    assert response.status_code == 422
    assert "请输入正确的日期" in response.get_data(as_text=True)
    assert store.get_case(receipt) is None


def test_another_township_gets_404_and_readers_get_403(store, people):
    receipt = collect(store)["receipt"]
    other = people["town_b"]
    assert other.get(f"/admin/demands/{receipt}").status_code == 404
    assert receipt not in other.get("/admin/demands").get_data(as_text=True)
    html = other.get("/admin/demands").get_data(as_text=True)
    response = other.post(f"/admin/demands/{receipt}/assess", data={
        "csrf_token": csrf_token(html), "revision": "0", "category": "道路交通",
        "owner": VILLAGE_B, "deadline": (TODAY + timedelta(days=3)).isoformat()})
    assert response.status_code == 404
    assert other.get(f"/admin/demands?township={TOWNSHIP_A}").status_code == 404

    for reader in ("viewer_a", "judge"):
        client = people[reader]
        html = page(client, receipt)  # they read it...
        assert 'data-step=' not in html
        response = client.post(f"/admin/demands/{receipt}/assess", data={  # ...never act
            "csrf_token": csrf_token(html), "revision": "0", "category": "道路交通",
            "owner": VILLAGE_A, "deadline": (TODAY + timedelta(days=3)).isoformat()})
        assert response.status_code == 403, reader
        assert receipt in client.get("/admin/demands").get_data(as_text=True)
    assert store.get_case(receipt) is None
    assert 'href="/admin/demands"' in people["viewer_a"].get("/admin/").get_data(as_text=True)


def test_unknown_steps_and_receipts_and_other_forms_are_404(store, people, entry):
    town = people["town_a"]
    receipt = collect(store)["receipt"]
    html = page(town, receipt)
    assert town.post(f"/admin/demands/{receipt}/approve", data={
        "csrf_token": csrf_token(html), "revision": "0"}).status_code == 404
    assert town.get("/admin/demands/260101-9999").status_code == 404
    token, org = entry  # a submission of the test project form: not a 群众诉求
    other, _new = store.add_submission("t_project", 1, org["code"], {"title": "x"}, "p-1")
    assert town.get(f"/admin/demands/{other['receipt']}").status_code == 404


def test_a_page_made_before_another_step_stores_nothing(store, people):
    town, county = people["town_a"], people["admin"]
    receipt = collect(store)["receipt"]
    stale = page(town, receipt)  # open at 征集
    post(county, receipt, "assess", category="道路交通", owner=VILLAGE_A2,
         deadline=(TODAY + timedelta(days=5)).isoformat())
    before = store.get_case(receipt)
    response = post(town, receipt, "assess", stale, category="其他", owner=VILLAGE_A,
                    deadline=(TODAY + timedelta(days=9)).isoformat())
    assert response.status_code == 303
    assert "已被他人处理，请刷新" in flashes(town.get(response.headers["Location"]))
    assert store.get_case(receipt) == before
    # the same at 研判: a close sent from a page made before the county's change
    stale = page(town, receipt)
    post(county, receipt, "assess", category="道路交通", owner=VILLAGE_A,
         deadline=(TODAY + timedelta(days=6)).isoformat())
    before = store.get_case(receipt)
    response = post(town, receipt, "close", stale, handling="已更换路灯三盏",
                    closed_on=TODAY.isoformat())
    assert "已被他人处理，请刷新" in flashes(town.get(response.headers["Location"]))
    assert store.get_case(receipt) == before


def test_a_step_without_the_csrf_token_is_refused(store, people):
    receipt = collect(store)["receipt"]
    response = people["town_a"].post(f"/admin/demands/{receipt}/assess", data={
        "revision": "0", "category": "道路交通", "owner": VILLAGE_A,
        "deadline": (TODAY + timedelta(days=3)).isoformat()})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert store.get_case(receipt) is None


def test_the_list_marks_overdue_ones_filters_and_counts(app, store, people):
    index = org_index(store)
    town = {"username": "town_a", "role": "reviewer", "org_code": TOWNSHIP_A, "active": True}
    late = collect(store, content="河堤有一处塌方，需要尽快修复")
    in_time = collect(store, content="村小学门口缺少减速带")
    waiting = collect(store, VILLAGE_A2, content="低保申请不知道怎么办理")
    voided = collect(store, content="重复登记的诉求内容")
    elsewhere = collect(store, VILLAGE_B, content="白帽镇的诉求内容")
    weeks_ago = TODAY - timedelta(days=14)
    demands.take_step(store, town, index, late["receipt"], "assess", {
        "category": "道路交通", "owner": VILLAGE_A,
        "deadline": weeks_ago + timedelta(days=3)}, 0, weeks_ago)
    demands.take_step(store, town, index, in_time["receipt"], "assess", {
        "category": "道路交通", "owner": VILLAGE_A, "deadline": TODAY}, 0, TODAY)
    sub = store.get_submission(voided["receipt"])
    store.update_submission(voided["receipt"], sub["revision"], {
        "status": common.VOID, "user": "admin",
        "event": {"action": "void", "from": sub["status"], "to": common.VOID, "comment": "重复"}})

    client = people["town_a"]
    html = client.get("/admin/demands").get_data(as_text=True)
    assert voided["receipt"] not in html and elsewhere["receipt"] not in html
    row = re.search(rf'<tr data-receipt="{late["receipt"]}"([^>]*)>(.*?)</tr>', html, re.S)
    assert "data-overdue" in row.group(1) and "超期 11 天" in row.group(2)
    row = re.search(rf'<tr data-receipt="{in_time["receipt"]}"([^>]*)>(.*?)</tr>', html, re.S)
    assert "data-overdue" not in row.group(1) and "超期" not in row.group(2)

    overdue = client.get("/admin/demands?overdue=1").get_data(as_text=True)
    assert re.findall(r'<tr data-receipt="([^"]+)"', overdue) == [late["receipt"]]
    assert "共 1 条" in overdue
    collected = client.get("/admin/demands?stage=征集").get_data(as_text=True)
    assert re.findall(r'<tr data-receipt="([^"]+)"', collected) == [waiting["receipt"]]
    detail = page(client, late["receipt"])
    assert "超期 11 天" in detail and "data-overdue" in detail

    counts = re.search(rf'<tr class="area-township" data-org="{TOWNSHIP_A}">(.*?)</tr>',
                       html, re.S).group(1)
    assert re.search(r"data-collected>3<", counts)  # the voided one is not counted
    assert re.search(r'data-overdue><strong class="overdue-count">1<', counts)
    assert "0.0%" in counts
    # the county's page: every township, and the county's total on top
    county = people["admin"].get("/admin/demands").get_data(as_text=True)
    assert re.search(r'<tr class="area-county"[^>]*>.*?data-collected>4<', county, re.S)
    # a township's villages when it is chosen
    chosen = people["admin"].get(f"/admin/demands?township={TOWNSHIP_A}").get_data(
        as_text=True)
    assert f'data-org="{VILLAGE_A2}"' in chosen and elsewhere["receipt"] not in chosen
    # a village's own viewer: its village's counts
    with app.app_context():
        create_user(store, "viewer_v", PASSWORD, "viewer", VILLAGE_A2)
    village = app.test_client()
    login(village, "viewer_v", PASSWORD)
    own = village.get("/admin/demands").get_data(as_text=True)
    assert re.search(rf'data-org="{VILLAGE_A2}">.*?data-collected>1<', own, re.S)
    assert late["receipt"] not in own and waiting["receipt"] in own
