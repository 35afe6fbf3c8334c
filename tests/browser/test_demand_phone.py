"""A 群众诉求 in a real browser (Debian's Chromium, Playwright) at 390 px, as its people meet it:
a village cadre registers a demand with the QR link; the township reviewer, on a phone, finds it
in the list beside an overdue one (marked in words, not by colour alone), assesses it (责任单位,
the deadline proposed by its 紧急程度), closes it and records a satisfied visit; the cadre's
private receipt link then shows what was done."""
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from services import demands
from services.accounts import create_user
from services.orgs import OrgIndex

PASSWORD = "browser-password"
WIDTH = 390

pytestmark = pytest.mark.browser


def phone(browser):
    return browser.new_context(viewport={"width": WIDTH, "height": 844}, device_scale_factor=2,
                               is_mobile=True, has_touch=True, locale="zh-CN")


def fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def test_a_reviewer_takes_a_demand_from_collected_to_visited(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    village = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    township = village["parent_code"]
    with app.app_context():
        create_user(store, "xiangchang", PASSWORD, "reviewer", org_code=township)
    link = store.create_link("public_demand", village["code"])["token"]
    # an older demand of the township, assessed three weeks ago with a one-week deadline
    schema = store.get_form("public_demand")["schema"]
    old, _new = store.add_submission("public_demand", schema["version"], village["code"], {
        "category": "饮水用电", "content": "组里自来水压力不够，高处几户经常停水", "urgency": "一般",
        "channel": "入户走访", "collect_date": "2026-01-05", "collector": "张三",
        "follow_up": False}, "old-demand")
    weeks_ago = date.today() - timedelta(days=21)
    county = {"username": "admin", "role": "admin", "org_code": None, "active": True}
    demands.take_step(store, county, OrgIndex(store.list_orgs()), old["receipt"], "assess", {
        "category": "饮水用电", "owner": village["code"],
        "deadline": weeks_ago + timedelta(days=7)}, 0, weeks_ago)

    # 1. the cadre registers a demand with the village's QR link
    cadre = phone(browser).new_page()
    cadre.goto(f"{base}/f/{link}")
    cadre.select_option('[name="category"]', "道路交通")
    cadre.fill('[name="content"]', "村口到小学的路灯坏了三盏，晚上学生放学不安全")
    cadre.get_by_label("紧急", exact=True).check()
    cadre.get_by_label("板凳会", exact=True).check()
    cadre.fill('[name="collect_date"]', date.today().isoformat())
    cadre.fill('[name="collector"]', "王建国")
    cadre.get_by_label("电话回访", exact=True).check()
    cadre.click("[data-tz-submit]")
    expect(cadre.locator("[data-receipt]")).to_be_visible()
    receipt = cadre.locator("[data-receipt]").get_attribute("data-receipt")
    private_link = cadre.locator("[data-receipt-link]").get_attribute("href")

    # 2. the township's list: the new one waits for 研判, the old one is overdue
    reviewer = phone(browser).new_page()
    reviewer.goto(f"{base}/login")
    reviewer.fill('[name="username"]', "xiangchang")
    reviewer.fill('[name="password"]', PASSWORD)
    reviewer.click("button[type=submit]")
    reviewer.get_by_role("link", name="诉求", exact=True).click()
    overdue_row = reviewer.locator(f'tr[data-receipt="{old["receipt"]}"]')
    expect(overdue_row).to_have_attribute("data-overdue", "")
    expect(overdue_row.locator("[data-overdue-days]")).to_have_text("⚠ 超期 14 天")
    new_row = reviewer.locator(f'tr[data-receipt="{receipt}"]')
    expect(new_row.locator("[data-stage]")).to_have_text("征集 · 待研判")
    expect(reviewer.locator(f'[data-demand-counts] tr[data-org="{township}"] [data-overdue]')
           ).to_have_text("1")
    fits(reviewer)
    reviewer.get_by_label("只看超期").check()
    reviewer.get_by_role("button", name="筛选").click()
    expect(reviewer.locator("tr[data-receipt]")).to_have_count(1)
    reviewer.get_by_role("link", name="清除筛选").click()

    # 3. 研判: the township handles it itself; 紧急 proposes a deadline 3 days away
    reviewer.locator(f'tr[data-receipt="{receipt}"] td.title a').click()
    expect(reviewer.locator("[data-content]")).to_contain_text("路灯坏了三盏")
    expect(reviewer.locator("#assess-deadline")).to_have_value(
        (date.today() + timedelta(days=3)).isoformat())
    reviewer.select_option("#assess-owner", township)
    reviewer.fill("#assess-comment", "镇供电所协助更换")
    fits(reviewer)
    reviewer.click("[data-submit=assess]")
    expect(reviewer.locator(".flash-success")).to_contain_text("已研判")
    expect(reviewer.locator('.demand-stages [aria-current="step"]')).to_contain_text("研判")
    expect(reviewer.locator("[data-owner]")).to_contain_text("镇级办理")

    # 4. 办结 (today's date proposed), then 5. 回访: satisfied
    reviewer.fill("#close-handling", "镇供电所已更换路灯三盏，晚上道路恢复照明")
    reviewer.click("[data-submit=close]")
    expect(reviewer.locator(".flash-success")).to_contain_text("已办结")
    fits(reviewer)
    reviewer.get_by_label("满意", exact=True).check()
    reviewer.fill("#visit-note", "家长们很满意")
    reviewer.click("[data-submit=visit]")
    expect(reviewer.locator("[data-done]")).to_have_text("已办结，回访满意。")
    expect(reviewer.locator('.demand-stages [aria-current="step"]')).to_contain_text("回访")
    expect(reviewer.locator("[data-history] li")).to_have_count(3)
    fits(reviewer)
    case = store.get_case(receipt)
    assert (case["stage"], case["owner"], case["satisfaction"]) == ("回访", township, "满意")

    # 6. the cadre's private receipt link shows how it was handled
    cadre.goto(private_link if private_link.startswith("http") else base + private_link)
    expect(cadre.locator("[data-demand-stage]")).to_have_text("回访 · 满意")
    expect(cadre.locator("[data-demand-handling]")).to_contain_text("更换路灯三盏")
    fits(cadre)
