"""The year of a 书记项目 in a real browser (Debian's Chromium, Playwright), as its people meet it:

a village cadre applies on a phone; the township reviewer, on a phone too, returns the
application with a comment; the cadre corrects it through the private receipt link (the
comment on top, the answers prefilled); the reviewer pre-approves it and the county admin, at a
desk, approves it (立项: the project appears); the county's 催报 list names the village for this
month's report; the cadre files the monthly report naming that project (the only one offered);
the report shows on the project page and the village leaves the 催报 list.
"""
import os
from datetime import date

import pytest
from playwright.sync_api import expect

from services.accounts import create_user
from support.helpers import phone

SCREENSHOTS_ENV = "TAIZHANG_SCREENSHOTS_DIR"
PASSWORD = "browser-password"
THIS_MONTH = date.today().strftime("%Y-%m")

pytestmark = pytest.mark.browser


def log_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill('[name="username"]', username)
    page.fill('[name="password"]', PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("main")).to_be_visible()


def fill_application(page, name):
    page.fill('[name="project_name"]', name)
    page.fill('[name="secretary_name"]', "王建国")
    page.fill('[name="secretary_title"]', "村党总支书记")
    page.fill('[name="phone"]', "13955667788")
    page.select_option('[name="theme"]', "发展壮大村集体经济")
    page.get_by_label("选题", exact=True).check()
    page.fill('[name="problem"]', "村集体经济薄弱，冬桃产业分散。")
    page.fill('[name="goal"]', "建成冬桃基地200亩。")
    page.fill('[name="measures"]', "支部+合作社+农户。")
    page.fill('[name="deadline"]', f"{date.today().year}-12-31")
    page.fill('[name="expected"]', "带动农户80户增收。")
    page.fill('[name="steps-0-month"]', THIS_MONTH)
    page.fill('[name="steps-0-task"]', "流转土地200亩")
    page.fill('[name="steps-0-owner"]', "李四")
    page.get_by_label("特色种养", exact=True).check()
    page.fill('[name="area_mu"]', "200")
    page.fill('[name="collective_income"]', "10.5")
    page.fill('[name="jobs"]', "35")
    page.locator('[name="pledge"]').check()


def test_return_correct_approve_report(live, browser, tmp_path):
    app, store = live
    base = app.config["BASE_URL"]
    shots = os.environ.get(SCREENSHOTS_ENV) or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    village = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    with app.app_context():
        create_user(store, "xiangchang", PASSWORD, "reviewer", org_code=village["parent_code"])
    apply_link = store.create_link("apply_development", village["code"])["token"]
    report_link = store.create_link("monthly_report", village["code"])["token"]

    # 1. the cadre applies on a phone
    cadre = phone(browser).new_page()
    cadre.goto(f"{base}/f/{apply_link}")
    fill_application(cadre, "党建引领“小冬桃”助力乡村振兴")
    cadre.click("[data-tz-submit]")
    expect(cadre.locator("[data-receipt]")).to_be_visible()
    receipt = cadre.locator("[data-receipt]").get_attribute("data-receipt")
    private_link = cadre.locator("[data-receipt-link]").get_attribute("href")

    # 2. the township reviewer returns it with a comment, on a phone
    reviewer = phone(browser).new_page()
    log_in(reviewer, base, "xiangchang")
    reviewer.goto(f"{base}/admin/submissions/{receipt}")
    expect(reviewer.locator("[data-status]")).to_have_text("待审核")
    reviewer.fill("#comment", "实施步骤请细化到每个月，写明责任人。")
    reviewer.click('[data-action="return"]')
    expect(reviewer.locator("[data-status]")).to_have_text("退回修改")
    assert reviewer.evaluate("document.documentElement.scrollWidth") <= 360

    # 3. the cadre corrects it through the private receipt link
    cadre.goto(private_link)
    expect(cadre.locator(".tz-returned")).to_contain_text("实施步骤请细化到每个月")
    cadre.click("[data-tz-edit]")
    expect(cadre.locator("[data-tz-returned]")).to_contain_text("实施步骤请细化到每个月")
    expect(cadre.locator('[name="project_name"]')).to_have_value("党建引领“小冬桃”助力乡村振兴")
    cadre.fill('[name="project_name"]', "党建引领“小冬桃”助力乡村振兴（修改稿）")
    cadre.click("[data-add-row]")
    row = cadre.locator("[data-rows] [data-row]").nth(1)
    row.locator('[name$="-month"]').fill(THIS_MONTH)
    row.locator('[name$="-task"]').fill("栽植冬桃苗")
    row.locator('[name$="-owner"]').fill("张三")
    cadre.click("[data-tz-submit]")
    expect(cadre.locator("[data-review-status]")).to_have_text("待审核")
    expect(cadre.locator(".receipt-number")).to_have_text(receipt)  # the same receipt
    doc = store.get_submission(receipt)
    assert doc["answers"]["project_name"].endswith("（修改稿）") and len(doc["versions"]) == 1

    # 4. the reviewer sees what changed and pre-approves it
    reviewer.goto(f"{base}/admin/submissions/{receipt}")
    expect(reviewer.locator("[data-changes]")).to_contain_text("（修改稿）")
    expect(reviewer.locator('[data-action="approve"]')).to_have_text("预审通过")
    reviewer.click('[data-action="approve"]')
    expect(reviewer.locator("[data-project-status]")).to_have_text("预审通过")

    # 5. the county admin approves it: 立项, and the project appears
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(admin, base, "admin")
    admin.goto(f"{base}/admin/projects")
    expect(admin.locator("[data-projects]")).to_contain_text("预审通过")
    admin.goto(f"{base}/admin/submissions/{receipt}")
    expect(admin.locator('[data-action="approve"]')).to_have_text("立项")
    admin.click('[data-action="approve"]')
    expect(admin.locator("[data-project-status]")).to_have_text("已立项")
    admin.goto(f"{base}/admin/projects?status=已立项")
    project_row = admin.locator("[data-project]", has_text="（修改稿）")
    expect(project_row).to_have_count(1)
    project_id = int(project_row.get_attribute("data-project"))

    # 6. this month's 催报 names the village
    chase = f"{base}/admin/forms/monthly_report/reporting?period={THIS_MONTH}"
    admin.goto(chase)
    expect(admin.locator("main")).to_contain_text("千佛塔村")
    missing_before = admin.locator("[data-missing]").inner_text()
    assert "千佛塔村" in missing_before

    # 7. the cadre files the monthly report naming the project (the only one offered)
    cadre.goto(f"{base}/f/{report_link}")
    options = cadre.locator('[name="project"] option').all_inner_texts()
    assert [o for o in options if o.strip() and "请选择" not in o] == [
        next(o for o in options if "（修改稿）" in o)]
    cadre.fill('[name="report_month"]', THIS_MONTH)
    cadre.select_option('[name="project"]', str(project_id))
    cadre.fill('[name="done_tasks"]', "完成土地流转200亩。")
    cadre.fill('[name="progress"]', "30")
    cadre.get_by_label("按序时推进", exact=True).check()
    cadre.fill('[name="next_plan"]', "栽植冬桃苗。")
    cadre.fill('[name="reporter"]', "王建国")
    cadre.fill('[name="phone"]', "13955667788")
    cadre.click("[data-tz-submit]")
    expect(cadre.locator("[data-receipt]")).to_be_visible()
    report = cadre.locator("[data-receipt]").get_attribute("data-receipt")

    # 8. it shows on the project page, which is now 实施中
    admin.goto(f"{base}/admin/projects/{project_id}")
    expect(admin.locator("[data-project-status]")).to_have_text("实施中")
    expect(admin.locator("[data-reports]")).to_contain_text(report)
    expect(admin.locator("[data-steps]")).to_contain_text(report)
    reviewer.goto(f"{base}/admin/submissions/{receipt}")
    reviewer.screenshot(path=os.path.join(shots, "review-phone.png"), full_page=True)

    # 9. and the village has left the 催报 list
    admin.goto(chase)
    assert "千佛塔村" not in admin.locator("[data-missing]").inner_text()
