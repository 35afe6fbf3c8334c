"""路演评审 in a real browser (Debian's Chromium, Playwright) at 390 px, as its people meet it:

a judge logs in on a phone, opens 评审 from the menu, scores the first project (a score above
the maximum is refused beside its input, nothing stored), is taken to the next project, scores
it and is back on the list with both done; the county admin, on a phone too, imports a second
judge's paper sheets as CSV and opens 排名: both projects ranked with the totals worked out
here by hand (criterion means over the two judges, times the weights, to two places), the
lower one marked as the bottom 5%; then the admin's 统计: the score panels' charts drawn with
those totals (on the rubric's 100-point scale), the tables beside them saying the same.
"""
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import expect

from services import scoring
from services.accounts import create_user

pytestmark = pytest.mark.browser

PASSWORD = "browser-password"
YEAR = date.today().year
WIDTH = 390
CATEGORY = "党建引领发展类"
RUBRIC_TEXT = "选题精准 20\n推进实效 40 1.5\n示范效应 20\n群众满意 20 0.5"
WEIGHTS = {"选题精准": "1", "推进实效": "1.5", "示范效应": "1", "群众满意": "0.5"}
# What the judge types on the phone, and the paper sheet of a second judge (imported as CSV).
ON_PHONE = {"冬桃": {"选题精准": "17.5", "推进实效": "36", "示范效应": "18", "群众满意": "19"},
            "菜园": {"选题精准": "15", "推进实效": "30.5", "示范效应": "16", "群众满意": "14"}}
ON_PAPER = {"冬桃": {"选题精准": "18", "推进实效": "30.5", "示范效应": "17", "群众满意": "20"},
            "菜园": {"选题精准": "16", "推进实效": "31", "示范效应": "15", "群众满意": "15"}}
TITLES = {"冬桃": "党建引领“小冬桃”助力乡村振兴", "菜园": "打造“一米菜园”助推一二三产融合发展"}


def expected_total(key):
    """The rule stated on the ranking page, worked out here: each criterion's mean over the
    judges to two places (half up), times its weight, summed, to two places."""
    two = Decimal("0.01")
    total = Decimal(0)
    for criterion, weight in WEIGHTS.items():
        scores = [Decimal(sheet[key][criterion]) for sheet in (ON_PHONE, ON_PAPER)]
        mean = (sum(scores) / len(scores)).quantize(two, ROUND_HALF_UP)
        total += mean * Decimal(weight)
    return total.quantize(two, ROUND_HALF_UP)


def phone_page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    return context.new_page()


def log_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill('[name="username"]', username)
    page.fill('[name="password"]', PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar nav")).to_be_visible()


def fits_the_phone(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def add_project(store, org_code, title):
    project, _new = store.add_project({
        "title": title, "category": CATEGORY, "kind": "书记项目", "org_code": org_code,
        "secretary": "王建国", "year": YEAR, "status": "已申报", "application": title,
        "steps": [{"month": f"{YEAR}-03", "task": "流转土地200亩", "owner": "李四"}]})
    for step in ("预审通过", "已立项"):
        project = store.update_project(project["id"], project["revision"], {
            "status": step, "user": "admin",
            "event": {"action": "transition", "from": project["status"], "to": step,
                      "comment": ""}})
    return project


def score_on_the_phone(page, values):
    for criterion, value in values.items():
        field = page.get_by_label(criterion)
        expect(field).to_have_attribute("inputmode", "decimal")
        field.fill(value)
    page.get_by_role("button", name="保存评分").click()


def test_a_judge_scores_two_projects_on_a_phone_and_the_admin_sees_the_ranking(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    villages = {o["name"]: o["code"] for o in store.list_orgs()}
    projects = {"冬桃": add_project(store, villages["千佛塔村"], TITLES["冬桃"]),
                "菜园": add_project(store, villages["菖蒲村"], TITLES["菜园"])}
    with app.app_context():
        create_user(store, "expert1", PASSWORD, "judge")
        create_user(store, "county", PASSWORD, "admin")
    scoring.save_rubric(store, YEAR, scoring.parse_rubric(RUBRIC_TEXT), "county")

    # 1. The judge, on a phone: the menu, the list, the first sheet
    judge = phone_page(browser)
    log_in(judge, base, "expert1")
    judge.get_by_role("link", name="评审", exact=True).click()
    expect(judge.locator("[data-progress]")).to_have_text("已评完 0 / 2 个项目")
    fits_the_phone(judge)
    judge.get_by_role("link", name=TITLES["冬桃"]).click()
    expect(judge.locator("[data-project-title]")).to_have_text(TITLES["冬桃"])
    expect(judge.get_by_text("流转土地200亩")).to_be_visible()
    fits_the_phone(judge)

    # A score above the maximum: refused beside its input, nothing stored
    score_on_the_phone(judge, {**ON_PHONE["冬桃"], "选题精准": "25"})
    error = judge.locator('[data-criterion="选题精准"] .tz-error')
    expect(error).to_have_text("「选题精准」的分数应在 0 到 20 之间，收到 25")
    expect(judge.get_by_label("推进实效")).to_have_value("36")  # the rest is kept
    assert store.list_scores(YEAR) == []
    fits_the_phone(judge)

    # Corrected and saved: on to the next project
    score_on_the_phone(judge, ON_PHONE["冬桃"])
    expect(judge.locator(".flash-success")).to_contain_text("已保存")
    expect(judge.locator("[data-project-title]")).to_have_text(TITLES["菜园"])
    score_on_the_phone(judge, ON_PHONE["菜园"])
    expect(judge.locator(".flash-success")).to_contain_text("已全部评完")
    expect(judge.locator("[data-progress]")).to_have_text("已评完 2 / 2 个项目")
    expect(judge.locator("[data-state]")).to_have_text(["已评", "已评"])
    stored = {(s["project"], s["criterion"]): s["score"]
              for s in store.list_scores(YEAR, judge="expert1")}
    assert stored == {(projects[key]["id"], criterion): value
                      for key, values in ON_PHONE.items() for criterion, value in values.items()}

    # 2. The admin, on a phone: the paper sheets of a second judge, then the ranking
    admin = phone_page(browser)
    log_in(admin, base, "county")
    admin.goto(f"{base}/admin/scoring")
    rows = ["project,judge,criterion,score"] + [
        f"{projects[key]['id']},纸质评委,{criterion},{value}"
        for key, values in ON_PAPER.items() for criterion, value in values.items()]
    admin.set_input_files("#import input[type=file]", files=[{
        "name": "paper.csv", "mimeType": "text/csv",
        "buffer": ("\n".join(rows) + "\n").encode()}])
    admin.locator("#import").get_by_role("button", name="导入").click()
    expect(admin.locator(".flash-success")).to_have_text("已导入 8 条评分")
    expect(admin.locator('[data-judge="expert1"] [data-complete]')).to_have_text("2")

    admin.get_by_role("link", name="排名", exact=True).click()
    high, low = projects["冬桃"]["id"], projects["菜园"]["id"]
    assert expected_total("冬桃") > expected_total("菜园")
    for project_id, key, rank in ((high, "冬桃", "1"), (low, "菜园", "2")):
        row = admin.locator(f"#project-{project_id}")
        expect(row.locator("[data-rank]")).to_have_text(rank)
        expect(row.locator("[data-total]")).to_have_text(str(expected_total(key)))
        expect(row).to_contain_text(TITLES[key])
    expect(admin.locator(f"#project-{low} [data-bottom]")).to_have_text("末位 5%")
    expect(admin.locator(f"#project-{high} [data-bottom]")).to_have_count(0)
    expect(admin.locator("[data-bottom-rule]")).to_contain_text(scoring.BOTTOM_RULE)
    fits_the_phone(admin)

    # 3. The admin's dashboard: the score panels drawn with the totals just ranked
    from services import dashboard
    from services.orgs import OrgIndex
    from services.reporting import today_local
    from test_dashboard_phone import CHARTS, TABLE
    from views.admin.dashboard import dash_number

    admin.get_by_role("link", name="统计", exact=True).click()
    expect(admin.locator("canvas[data-chart-for='dash-scores-table']")).to_have_count(1)
    data = dashboard.dashboard(store, OrgIndex(store.list_orgs()),
                               {"username": "county", "role": "admin", "org_code": None,
                                "active": True}, YEAR, None, today_local())
    panels = {p["key"]: p for p in data["panels"]}
    # worked out here: both projects' totals on the 100-point scale of this rubric (max 110)
    scale = Decimal(100) / Decimal("110")
    points = sorted(((expected_total(k) * scale).quantize(Decimal("0.01"), ROUND_HALF_UP)
                     for k in TITLES), reverse=True)
    assert panels["scores-category"]["rows"] == [
        (CATEGORY, float((sum(points) / 2).quantize(Decimal("0.01"), ROUND_HALF_UP)), 2,
         float(points[0]))]
    assert sum(n for _, n in panels["scores"]["rows"]) == 2
    charts = {c["table"]: c for c in admin.evaluate(CHARTS)}
    for key in ("scores", "scores-category"):
        chart = charts[f"dash-{key}-table"]
        assert chart["labels"] == [r[0] for r in panels[key]["rows"]]
        assert chart["values"] == [r[1] for r in panels[key]["rows"]]
        assert chart["bars"] > 0, key  # drawn, not an empty canvas
        assert admin.evaluate(TABLE, f"dash-{key}-table") == [
            [str(r[0])] + [dash_number(v) for v in r[1:]] for r in panels[key]["rows"]]
    fits_the_phone(admin)
