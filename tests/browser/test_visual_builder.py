"""The visual builder in Debian's Chromium (issue 9): an admin builds a form by its labels only
(a select, a field shown under a condition, a repeat), publishes it, a cadre fills it through
its QR link at 360 px; the admin renames a field, publishes again, the cadre fills again; the
Excel export has both submissions with the renamed field's answers in one column. Then the
parts on their own: reordering by drag and by the ↑/↓ buttons on a touch screen, the 高级 tab
and invalid JSON, problems beside their cards, and a draft saved by someone else meanwhile."""
import json
import os

import openpyxl
import pytest
from playwright.sync_api import expect

from services import formdefs
from support.helpers import phone

pytestmark = pytest.mark.browser

SCREENSHOTS_ENV = "TAIZHANG_SCREENSHOTS_DIR"  # as in test_browser.py: `make screenshots`
PASSWORD = "browser-password"  # tests/browser/conftest.py
LABEL = "标题(填报人看到的问题)"


def admin_page(browser, base, width=1280, height=900, **options):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="zh-CN", accept_downloads=True, **options)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill('[name="username"]', "admin")
    page.fill('[name="password"]', PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar nav")).to_be_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def cards(page):
    return page.locator("[data-list] > .bf-card")


def add_field(page, type_label):
    """Add a field of the type named ``type_label``; its (open) card."""
    page.get_by_label("新字段类型").select_option(label=type_label)
    page.get_by_role("button", name="＋ 添加字段").click()
    card = cards(page).last
    expect(card.get_by_label(LABEL).first).to_be_focused()
    return card


def open_card(card):
    toggle = card.locator(":scope > .bf-card-head .bf-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def publish(page, version):
    """发布… in the builder, then confirm on the publish page."""
    publish_button = page.get_by_role("button", name="发布…")
    expect(publish_button).to_be_enabled(timeout=10000)
    publish_button.click()
    page.wait_for_url("**/publish")
    page.get_by_role("button", name=f"确认发布为第 {version} 版").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已发布为第 {version} 版")


def fill_on_phone(browser, url, leader, kind_label, other, tasks):
    """A cadre fills the form at 360 px and submits; the receipt number."""
    context = phone(browser)
    page = context.new_page()
    page.goto(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_label("负责人").fill(leader)
    other_field = page.get_by_label("其他项目说明")
    expect(other_field).to_be_hidden()
    page.get_by_label(kind_label, exact=True).check()
    if other is None:
        expect(other_field).to_be_hidden()
    else:
        expect(other_field).to_be_visible()
        other_field.fill(other)
    rows = page.locator("[data-rows] [data-row]")
    for n, (month, task) in enumerate(tasks):
        if rows.count() <= n:
            page.click("[data-add-row]")
        rows.nth(n).get_by_label("月份").fill(month)
        rows.nth(n).get_by_label("任务").fill(task)
    page.get_by_label("参与人数").fill("12")
    page.click("[data-tz-submit]")
    receipt = page.locator("[data-receipt]")
    expect(receipt).to_be_visible(timeout=15000)
    number = receipt.get_attribute("data-receipt")
    context.close()
    return number


def test_build_publish_fill_rename_fill_export(live, browser, tmp_path):
    app, store = live
    base = app.config["BASE_URL"]
    shots = os.environ.get(SCREENSHOTS_ENV) or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    page = admin_page(browser, base)

    # a new form: id and title, then the builder
    page.goto(f"{base}/admin/forms")
    page.get_by_role("link", name="新建表单").click()
    page.get_by_label("表单编号(英文)").fill("village_project")
    page.get_by_label("表单标题").fill("村级书记项目登记")
    page.get_by_role("button", name="创建并打开编辑器").click()
    page.wait_for_url("**/admin/forms/village_project/builder")
    expect(page.get_by_role("button", name="发布…")).to_be_disabled()  # no field yet
    expect(page.locator("[data-publish-why]")).to_contain_text("修正后才能发布")

    leader = add_field(page, "单行文字")
    leader.get_by_label(LABEL).fill("负责人")
    leader.get_by_label("必填").check()
    expect(leader.get_by_label("字段名(英文,导出和接口用)")).to_have_value("field_1")

    kind = add_field(page, "单选")
    kind.get_by_label(LABEL).fill("项目类型")
    kind.get_by_label("选项(每行一个)").fill("产业发展\n文化建设\nother|其他")
    kind.get_by_label("必填").check()

    other = add_field(page, "多行文字")
    other.get_by_label(LABEL).fill("其他项目说明")
    other.get_by_label("显示条件").select_option(label="当「项目类型」…时显示")
    other.get_by_label("等于", exact=True).select_option(label="其他")
    other.get_by_label("必填").check()

    steps = add_field(page, "重复组(多行明细)")
    steps.get_by_label(LABEL).first.fill("实施步骤")
    task = steps.locator(".bf-sub").first
    task.get_by_label(LABEL).fill("任务")
    steps.get_by_label("子字段类型").select_option(label="月份")
    steps.get_by_role("button", name="＋ 添加子字段").click()
    month = steps.locator(".bf-sub").last
    month.get_by_label(LABEL).fill("月份")
    month.locator(":scope > .bf-card-head").get_by_role("button", name="上移:月份").click()
    expect(steps.locator(".bf-sub").first.locator(".bf-title")).to_have_text("月份")

    people = add_field(page, "整数")
    people.get_by_label(LABEL).fill("参与人数")
    people.get_by_label("单位(可不填,如 万元、人、亩)").fill("人")
    people.get_by_label("最小值").fill("0")

    # the phone preview shows the draft as the cadre will see it, show_if included
    preview = page.frame_locator("[data-preview]")
    expect(preview.get_by_label("参与人数")).to_be_visible(timeout=10000)
    expect(preview.get_by_label("其他项目说明")).to_be_hidden()
    preview.get_by_label("其他", exact=True).check()
    expect(preview.get_by_label("其他项目说明")).to_be_visible()
    for n in (0, 1, 3, 4):  # the picture: the conditional field's card open, the others closed
        cards(page).nth(n).locator(":scope > .bf-card-head .bf-toggle").click()
    page.evaluate("window.scrollBy(0, "
                  "document.querySelector('#bf-list-title').getBoundingClientRect().top - 8)")
    page.screenshot(path=os.path.join(shots, "builder.png"))

    publish(page, 1)
    schema = store.get_form("village_project")["schema"]
    names = [f["name"] for f in schema["fields"]]
    assert names == ["field_1", "field_2", "field_3", "field_4", "field_5"]
    assert schema["fields"][1]["choices"] == ["产业发展", "文化建设", {"value": "other", "label": "其他"}]
    assert schema["fields"][2]["show_if"] == {"field": "field_2", "equals": "other"}
    assert [s["label"] for s in schema["fields"][3]["fields"]] == ["月份", "任务"]
    assert schema["fields"][4] == {"name": "field_5", "type": "integer", "label": "参与人数",
                                   "unit": "人", "min": 0}
    assert formdefs.get_draft(store, "village_project") is None

    village = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    url = f"{base}/f/{store.create_link('village_project', village['code'])['token']}"
    first = fill_on_phone(browser, url, "王书记", "其他", "村史馆改造",
                          [("2026-03", "流转土地"), ("2026-05", "建冷库")])

    # rename 负责人 (field_1, published) in the builder: the old name is kept in renamed_from
    page.goto(f"{base}/admin/forms/village_project/builder")
    leader = cards(page).first
    open_card(leader)
    leader.get_by_label("字段名(英文,导出和接口用)").fill("leader")
    leader.get_by_label("字段名(英文,导出和接口用)").press("Tab")
    expect(leader.locator("[data-former]")).to_contain_text("field_1")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("[data-status]")).to_contain_text("草稿已保存")
    draft = json.loads(formdefs.get_draft(store, "village_project")["text"])
    assert draft["fields"][0]["name"] == "leader"
    assert draft["fields"][0]["renamed_from"] == ["field_1"]
    publish(page, 2)
    published = [e["detail"]["version"] for e in store.query_audit(action="form.publish")[0]]
    assert published == [2, 1]
    assert store.query_audit(action="form.draft")[1] >= 2  # created, and 保存草稿 (not autosaves)
    second = fill_on_phone(browser, url, "李书记", "产业发展", None, [("2026-04", "栽桃苗")])
    assert "leader" in store.get_submission(second)["answers"]
    assert "field_1" in store.get_submission(first)["answers"]

    # the export: both submissions, the renamed field's answers in one column
    page.goto(f"{base}/admin/forms/village_project/submissions")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 Excel").click()
    path = tmp_path / "export.xlsx"
    download_info.value.save_as(path)
    book = openpyxl.load_workbook(path)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header, data = rows[0], {r[rows[0].index("回执编号")]: r for r in rows[1:]}
    assert list(header).count("负责人") == 1
    assert set(data) == {first, second}
    column = header.index("负责人")
    assert data[first][column] == "王书记" and data[second][column] == "李书记"
    assert data[first][header.index("项目类型")] == "其他"
    assert data[second][header.index("项目类型")] == "产业发展"
    assert data[first][header.index("其他项目说明")] == "村史馆改造"
    assert data[second][header.index("其他项目说明")] in (None, "")
    steps_rows = list(book[book.sheetnames[1]].iter_rows(values_only=True))
    tasks = {(r[0], r[steps_rows[0].index("任务")]) for r in steps_rows[1:]}
    assert tasks == {(first, "流转土地"), (first, "建冷库"), (second, "栽桃苗")}


def test_reorder_by_touch_drag_and_buttons_on_a_phone(live, browser):
    """At 390 px on a touch screen: ↑/↓ tapped, and the ⠿ handle dragged with a finger."""
    app, store = live
    base = app.config["BASE_URL"]
    page = admin_page(browser, base, width=390, height=844, is_mobile=True, has_touch=True,
                      device_scale_factor=2)
    page.goto(f"{base}/admin/forms/monthly_report/builder")
    titles = cards(page).locator(":scope > .bf-card-head .bf-title")
    before = titles.all_inner_texts()

    # ↓ on the first card, tapped
    cards(page).first.locator(":scope > .bf-card-head").get_by_role("button", name="下移").tap()
    expect(titles.nth(1)).to_have_text(before[0])
    expect(titles.nth(0)).to_have_text(before[1])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # drag the third card's handle above the first with a finger (touch events -> pointer events)
    handle = cards(page).nth(2).locator(":scope > .bf-card-head .bf-handle")
    handle.scroll_into_view_if_needed()
    start = handle.bounding_box()
    target = cards(page).nth(0).bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    steps = 12
    for i in range(1, steps + 1):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x, "y": y + (target["y"] + 4 - y) * i / steps}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(titles.nth(0)).to_have_text(before[2])
    expect(titles.nth(1)).to_have_text(before[1])
    expect(titles.nth(2)).to_have_text(before[0])

    # the order is saved as such
    expect(page.locator("[data-status]")).to_contain_text("草稿已保存", timeout=10000)
    fields = json.loads(formdefs.get_draft(store, "monthly_report")["text"])["fields"]
    assert [f["label"] for f in fields[:3]] == [before[2], before[1], before[0]]


def test_advanced_tab_edits_the_same_draft(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    page = admin_page(browser, base)
    page.goto(f"{base}/admin/forms/monthly_report/builder")
    first_title = cards(page).first.locator(".bf-title")

    page.get_by_role("tab", name="高级(JSON)").click()
    box = page.get_by_label("表单定义(JSON)")
    schema = json.loads(box.input_value())
    assert schema["id"] == "monthly_report" and "version" not in schema
    schema["fields"][0]["label"] = "一、本月进展(改)"
    box.fill(json.dumps(schema, ensure_ascii=False, indent=2))
    page.get_by_role("tab", name="字段").click()
    expect(first_title).to_have_text("一、本月进展(改)")

    # invalid JSON stays in 高级, with the error in Chinese
    page.get_by_role("tab", name="高级(JSON)").click()
    box.fill(box.input_value()[:-3])
    page.get_by_role("tab", name="字段").click()
    expect(page.locator("[data-json-error]")).to_contain_text("JSON")
    expect(page.get_by_role("tab", name="高级(JSON)")).to_have_attribute("aria-selected", "true")
    expect(box).to_be_visible()
    # ... and may be saved as it is, never published
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("[data-status]")).to_contain_text("草稿已保存")
    expect(page.get_by_role("button", name="发布…")).to_be_disabled()
    expect(page.locator("[data-problems]")).to_contain_text("JSON 格式错误：")
    assert formdefs.get_draft(store, "monthly_report")["text"] == box.input_value()


def test_problems_show_beside_their_field(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    page = admin_page(browser, base)
    page.goto(f"{base}/admin/forms/monthly_report/builder")
    card = cards(page).nth(3)
    open_card(card)
    label = card.get_by_label(LABEL).input_value()
    card.get_by_label(LABEL).fill("")
    errors = card.locator(":scope > [data-errors]")
    expect(errors).to_contain_text("fields[3].label", timeout=10000)
    expect(errors).to_contain_text("不能为空")
    expect(card.get_by_label(LABEL)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="发布…")).to_be_disabled()
    expect(page.locator("[data-publish-why]")).to_contain_text("1 处错误")
    card.get_by_label(LABEL).fill(label)
    expect(errors).to_be_hidden(timeout=10000)
    expect(page.get_by_role("button", name="发布…")).to_be_enabled()

    # a label typed, then at once ↑ on its card: the cards drawn again do not swallow the click
    card.get_by_label(LABEL).fill(label + "(改)")
    up = cards(page).nth(3).locator(":scope > .bf-card-head").get_by_role("button", name="上移")
    box = up.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(150)  # a person's press: the label's "change" is handled meanwhile
    page.mouse.up()
    moved = cards(page).nth(2).locator(":scope > .bf-card-head .bf-title")
    expect(moved).to_have_text(label + "(改)")


def test_a_draft_saved_by_someone_else_is_never_overwritten(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    page = admin_page(browser, base)
    page.goto(f"{base}/admin/forms/monthly_report/builder")
    expect(cards(page).first).to_be_visible()
    theirs = formdefs.schema_json(store.get_form("monthly_report")["schema"]).replace(
        "本月进展", "本月进展(对方的修改)")
    formdefs.save_draft(store, "monthly_report", theirs, user="other", base_revision=0)

    card = cards(page).first
    open_card(card)
    card.get_by_label("分节标题").fill("我的修改")
    page.get_by_role("button", name="保存草稿").click()
    conflict = page.locator("[data-conflict]")
    expect(conflict).to_contain_text("草稿已被其他人修改")
    expect(conflict).to_contain_text("other")
    expect(card.get_by_label("分节标题")).to_have_value("我的修改")
    expect(page.get_by_role("button", name="发布…")).to_be_disabled()
    assert formdefs.get_draft(store, "monthly_report")["text"] == theirs
    page.get_by_role("button", name="保存草稿").click()  # again: still refused, and says so
    expect(page.locator("[data-status]")).to_contain_text("没有保存")
    assert formdefs.get_draft(store, "monthly_report")["text"] == theirs

    # overwriting is a choice the admin makes (after a confirm)
    page.get_by_role("button", name="用我的内容覆盖草稿").click()
    expect(page.locator("[data-status]")).to_contain_text("草稿已保存")
    expect(conflict).to_be_hidden()
    assert "我的修改" in formdefs.get_draft(store, "monthly_report")["text"]
