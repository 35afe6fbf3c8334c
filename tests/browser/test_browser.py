"""Real browser: Debian's Chromium driven by Playwright, phone-sized, against a live server.

A village cadre opens a QR link, fills an application form with a repeat group and show_if
fields, submits and sees the receipt; then an admin logs in, exports, and finds the row.
"""
import os
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from support.helpers import phone

# Screenshots go to the test's temp folder; `make screenshots` points this at docs/screenshots
# to refresh the README's pictures (a plain test run never writes into tracked files).
SCREENSHOTS_ENV = "TAIZHANG_SCREENSHOTS_DIR"

pytestmark = pytest.mark.browser


def test_cadre_fills_form_on_phone_and_admin_exports_it(live, browser, tmp_path):
    app, store = live
    shots = os.environ.get(SCREENSHOTS_ENV) or str(tmp_path / "screenshots")
    village = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    link = store.create_link("apply_development", village["code"])
    url = f"{app.config['BASE_URL']}/f/{link['token']}"

    page = phone(browser).new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    expect(page.locator(".org-badge")).to_contain_text("千佛塔村")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # show_if: 点题单位 appears only when 选题方式 is 点题
    topic_source = page.locator('[data-field="topic_source"]')
    expect(topic_source).to_be_hidden()
    page.get_by_label("点题", exact=True).check()
    expect(topic_source).to_be_visible()
    page.fill('[name="topic_source"]', "县委组织部")

    page.fill('[name="project_name"]', "党建引领“小冬桃”助力乡村振兴")
    page.fill('[name="secretary_name"]', "王建国")
    page.fill('[name="secretary_title"]', "村党总支书记")
    page.fill('[name="phone"]', "139 5566 7788")
    page.select_option('[name="theme"]', "发展壮大村集体经济")
    page.fill('[name="problem"]', "村集体经济薄弱,冬桃产业分散,销路不畅。")
    page.fill('[name="goal"]', "建成冬桃基地200亩,村集体增收10万元。")
    page.fill('[name="measures"]', "支部+合作社+农户,统一品种、统一销售。")
    page.fill('[name="deadline"]', "2026-12-31")
    page.fill('[name="expected"]', "带动农户80户增收。")

    # repeat: fill the first row, add a second one in the page
    page.fill('[name="steps-0-month"]', "2026-03")
    page.fill('[name="steps-0-task"]', "流转土地200亩")
    page.fill('[name="steps-0-owner"]', "李四")
    page.click("[data-add-row]")
    rows = page.locator("[data-rows] [data-row]")
    expect(rows).to_have_count(2)
    second = rows.nth(1)
    second.locator('[name$="-month"]').fill("2026-05")
    second.locator('[name$="-task"]').fill("=栽植冬桃苗")
    second.locator('[name$="-owner"]').fill("张三")

    # show_if with "in" on a multiselect: 涉及面积 appears for 林下经济 etc.
    area = page.locator('[data-field="area_mu"]')
    expect(area).to_be_hidden()
    page.get_by_label("特色种养", exact=True).check()
    expect(area).to_be_visible()
    page.fill('[name="area_mu"]', "200")
    page.fill('[name="collective_income"]', "10.5")
    page.fill('[name="jobs"]', "35")

    # submit once without the pledge: the error shows beside the field, input is kept
    page.click("[data-tz-submit]")
    expect(page.locator('[data-field="pledge"] .tz-error')).to_be_visible()
    expect(page.locator('[name="project_name"]')).to_have_value("党建引领“小冬桃”助力乡村振兴")
    expect(page.locator("[data-rows] [data-row]")).to_have_count(2)
    page.locator('[name="pledge"]').check()
    os.makedirs(shots, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=os.path.join(shots, "form.png"))
    page.locator('[data-field="steps"]').scroll_into_view_if_needed()
    page.locator('[data-field="steps"]').screenshot(path=os.path.join(shots, "form-steps.png"))

    page.click("[data-tz-submit]")
    receipt_box = page.locator("[data-receipt]")
    expect(receipt_box).to_be_visible()
    receipt = receipt_box.get_attribute("data-receipt")
    assert re.fullmatch(r"\d{6}-\d{4}", receipt)
    expect(page.locator(".receipt-number")).to_have_text(receipt)
    page.screenshot(path=os.path.join(shots, "receipt.png"))
    base = app.config["BASE_URL"]
    assert all(r.startswith(base) for r in requests), "every asset must come from the app"

    doc = store.get_submission(receipt)
    assert doc["answers"]["topic_source"] == "县委组织部"
    assert doc["answers"]["phone"] == "13955667788"
    assert [s["task"] for s in doc["answers"]["steps"]] == ["流转土地200亩", "=栽植冬桃苗"]

    # the admin logs in, filters to the township, exports and finds the row
    admin = browser.new_context(viewport={"width": 1280, "height": 900},
                                accept_downloads=True).new_page()
    admin.goto(f"{base}/admin/forms/apply_development/submissions")
    admin.fill('[name="username"]', "admin")
    admin.fill('[name="password"]', "browser-password")
    admin.click("button[type=submit]")
    expect(admin.locator("h1")).to_contain_text("共 1 份")
    admin.select_option('[name="township"]', village["parent_code"])
    admin.click(".filters button[type=submit]")
    expect(admin.get_by_role("link", name=receipt)).to_be_visible()
    with admin.expect_download() as download_info:
        admin.click("text=导出 Excel")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / "export.xlsx"
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header, row = rows[0], rows[1]
    assert row[header.index("项目名称")] == "党建引领“小冬桃”助力乡村振兴"
    assert row[header.index("回执编号")] == receipt
    steps = list(book[book.sheetnames[1]].iter_rows(values_only=True))
    assert ("=栽植冬桃苗" in steps[2])
    assert not any(c.data_type == "f" for ws in book.worksheets for r in ws.iter_rows() for c in r)


def test_repeat_rows_removed_in_page_are_not_submitted(live, browser):
    app, store = live
    village = next(o for o in store.list_orgs() if o["name"] == "深村村")
    link = store.create_link("apply_development", village["code"])
    page = phone(browser).new_page()
    page.goto(f"{app.config['BASE_URL']}/f/{link['token']}")
    page.click("[data-add-row]")
    page.click("[data-add-row]")
    rows = page.locator("[data-rows] [data-row]")
    expect(rows).to_have_count(3)
    rows.nth(1).locator("[data-remove-row]").click()
    expect(rows).to_have_count(2)
    numbers = page.locator("[data-rows] [data-row-number]").all_inner_texts()
    assert numbers == ["1", "2"]
