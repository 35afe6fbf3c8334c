"""A submission returned twice, in Debian's Chromium at 360 px: the correction page keeps its
fill on the phone under its own key (fix/<receipt>) until the receipt page has loaded; the
receipt page forgets it then, so the next correction of the same submission opens clean —
no stale "您上次的填报已提交成功" banner."""
import pytest
from playwright.sync_api import expect

from support.helpers import phone

pytestmark = pytest.mark.browser


def give_back(store, receipt, comment):
    """A reviewer returns the submission for correction (退回修改)."""
    doc = store.get_submission(receipt)
    store.update_submission(receipt, doc["revision"], {
        "status": "退回修改", "user": "admin",
        "event": {"action": "return", "from": doc["status"], "to": "退回修改",
                  "comment": comment}})


def kept(page, receipt):
    """What the phone keeps under the correction page's key."""
    return page.evaluate("r => localStorage.getItem('taizhang:draft:fix/' + r)", receipt)


def test_a_second_correction_opens_without_the_first_ones_banner(live, browser):
    app, store = live
    village = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    token = store.create_link("public_demand", village["code"])["token"]
    page = phone(browser).new_page()
    page.goto(f"{app.config['BASE_URL']}/f/{token}")
    page.select_option('[name="category"]', "道路交通")
    page.fill('[name="content"]', "村口道路坑洼，雨天积水")
    page.get_by_label("入户走访", exact=True).check()
    page.fill('[name="collect_date"]', "2026-01-20")
    page.fill('[name="collector"]', "王建国")
    page.get_by_label("电话回访", exact=True).check()
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    receipt = page.locator("[data-receipt]").get_attribute("data-receipt")
    private_link = page.locator("[data-receipt-link]").get_attribute("href")

    give_back(store, receipt, "请写明积水路段的位置")
    page.goto(private_link)
    page.click("[data-tz-edit]")
    expect(page.locator("[data-tz-returned]")).to_contain_text("请写明积水路段的位置")
    page.fill('[name="content"]', "村口至小学路段坑洼，雨天积水")
    page.click("[data-tz-submit]")
    expect(page.locator("[data-review-status]")).to_have_text("待审核", timeout=20000)
    expect(page.locator(".receipt-number")).to_have_text(receipt)
    page.wait_for_load_state("load")  # receipt.js has run
    assert kept(page, receipt) is None
    assert store.get_submission(receipt)["answers"]["content"].startswith("村口至小学")

    give_back(store, receipt, "请补充现场照片")
    page.goto(private_link)
    page.click("[data-tz-edit]")
    expect(page.locator("[data-tz-returned]")).to_contain_text("请补充现场照片")
    page.wait_for_load_state("load")  # form.js has looked for a kept fill
    expect(page.locator("[data-tz-sent]")).to_be_hidden()
    expect(page.locator('[name="content"]')).to_have_value("村口至小学路段坑洼，雨天积水")
