"""The cadre's page on a village network, in Debian's Chromium at 360 px: the fill is kept on
the phone across an offline submit, a reload and a proxy error; photos are shrunk on the phone
and survive a validation error; the receipt link shows the answers again."""
import io
import random

import pytest
from PIL import Image
from playwright.sync_api import expect

from support.helpers import phone

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 10; V1990A Build/QP1A.190711.020; wv) "
             "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4343 "
             "MMWEBSDK/20220903 Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.28.2240(0x28001C57) "
             "WeChat/arm64 Weixin NetType/4G Language/zh_CN ABI/arm64")
# The rural link of the issue: 400 ms, 50 KB/s each way.
RURAL = {"offline": False, "latency": 400, "downloadThroughput": 50 * 1024,
         "uploadThroughput": 50 * 1024}


def all_submissions(store, form_id="apply_development"):
    _count, docs = store.iter_submissions(form_id)
    return list(docs)


def open_link(browser, app, store, form_id, village_name):
    village = next(o for o in store.list_orgs() if o["name"] == village_name)
    link = store.create_link(form_id, village["code"])
    context = phone(browser)
    page = context.new_page()
    url = f"{app.config['BASE_URL']}/f/{link['token']}"
    page.goto(url)
    return context, page, url


def network(context, page, **conditions):
    """CDP network emulation of the page (offline, or a slow link)."""
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {**RURAL, **conditions})
    return cdp


def fill_application(page):
    page.get_by_label("点题", exact=True).check()
    page.fill('[name="topic_source"]', "县委组织部")
    page.fill('[name="project_name"]', "党建引领“小冬桃”助力乡村振兴")
    page.fill('[name="secretary_name"]', "王建国")
    page.fill('[name="secretary_title"]', "村党总支书记")
    page.fill('[name="phone"]', "13955667788")
    page.select_option('[name="theme"]', "发展壮大村集体经济")
    page.fill('[name="problem"]', "村集体经济薄弱")
    page.fill('[name="goal"]', "建成冬桃基地200亩")
    page.fill('[name="measures"]', "支部+合作社+农户")
    page.fill('[name="deadline"]', "2026-12-31")
    page.fill('[name="expected"]', "带动农户80户增收。")
    page.fill('[name="steps-0-month"]', "2026-03")
    page.fill('[name="steps-0-task"]', "流转土地")
    page.fill('[name="steps-0-owner"]', "李四")
    for n, task in ((1, "栽植冬桃苗"), (2, "建冷库"), (3, "开网店")):
        page.click("[data-add-row]")
        row = page.locator("[data-rows] [data-row]").nth(n)
        row.locator('[name$="-month"]').fill(f"2026-0{n + 3}")
        row.locator('[name$="-task"]').fill(task)
        row.locator('[name$="-owner"]').fill("张三")
    page.get_by_label("特色种养", exact=True).check()
    page.fill('[name="area_mu"]', "200")
    page.fill('[name="collective_income"]', "10.5")
    page.fill('[name="jobs"]', "35")
    page.locator('[name="pledge"]').check()


def fill_public_demand(page, content="村口道路坑洼，雨天积水"):
    """群众诉求征集: a form with a photo, no period and no project (any number per village)."""
    page.select_option('[name="category"]', "道路交通")
    page.fill('[name="content"]', content)
    page.get_by_label("入户走访", exact=True).check()
    page.fill('[name="collect_date"]', "2026-11-20")
    page.fill('[name="collector"]', "王建国")
    page.get_by_label("电话回访", exact=True).check()


def assert_application(doc):
    answers = doc["answers"]
    assert answers["topic_source"] == "县委组织部"
    assert answers["project_name"] == "党建引领“小冬桃”助力乡村振兴"
    assert answers["industry_types"] == ["特色种养"]
    assert str(answers["area_mu"]) == "200" and answers["jobs"] == 35 and answers["pledge"] is True
    assert [s["task"] for s in answers["steps"]] == ["流转土地", "栽植冬桃苗", "建冷库", "开网店"]
    assert [s["month"] for s in answers["steps"]] == ["2026-03", "2026-04", "2026-05", "2026-06"]


ONLINE = {**RURAL, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def submit_offline(context, page, store):
    """Fill the application, lose the network, press 提交: the page says it kept the fill."""
    fill_application(page)
    sid = page.locator('[name="submission_id"]').input_value()
    cdp = network(context, page, offline=True)
    page.click("[data-tz-submit]")
    status = page.locator("[data-tz-status]")
    expect(status).to_contain_text("网络不通")
    expect(status).to_contain_text("已保存在手机上")
    assert store.count_submissions("apply_development") == 0
    return sid, cdp


def assert_one_record(page, store, sid):
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    receipt = page.locator("[data-receipt]").get_attribute("data-receipt")
    assert store.count_submissions("apply_development") == 1
    doc = store.get_submission(receipt)
    assert doc["submission_id"] == sid.replace("-", "")
    assert_application(doc)


def test_offline_submit_is_sent_by_itself_when_the_network_returns(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "千佛塔村")
    sid, cdp = submit_offline(context, page, store)
    cdp.send("Network.emulateNetworkConditions", ONLINE)  # the browser fires "online"
    assert_one_record(page, store, sid)


def test_offline_submit_is_kept_through_a_reload_and_sent_once_back_online(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "千佛塔村")
    sid, _cdp = submit_offline(context, page, store)
    page.close()  # the cadre gives up for now; WeChat closes the page

    # Later, on the network again, the cadre opens the link: every answer is back and the
    # fill is sent by itself.
    page = context.new_page()
    page.goto(url, wait_until="commit")
    assert_one_record(page, store, sid)
    # the receipt cleared the fill: the link opens a fresh, empty page
    page.goto(url)
    expect(page.locator('[name="project_name"]')).to_have_value("")
    expect(page.locator("[data-tz-draft]")).to_be_hidden()
    assert page.locator('[name="submission_id"]').input_value() != sid


def test_answers_survive_closing_the_tab_and_clear_starts_over(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "深村村")
    fill_application(page)
    page.locator("[data-rows] [data-row]").nth(1).locator("[data-remove-row]").click()
    page.wait_for_timeout(600)  # saved as typed (after a short pause)
    page.close()
    page = context.new_page()
    page.goto(url)
    expect(page.locator("[data-tz-draft]")).to_be_visible()
    expect(page.locator('[name="project_name"]')).to_have_value("党建引领“小冬桃”助力乡村振兴")
    expect(page.locator('[name="topic_source"]')).to_have_value("县委组织部")
    expect(page.locator('[name="pledge"]')).to_be_checked()
    expect(page.locator("[data-rows] [data-row]")).to_have_count(3)
    tasks = page.locator('[data-rows] [name$="-task"]')
    assert [tasks.nth(i).input_value() for i in range(3)] == ["流转土地", "建冷库", "开网店"]
    # 清空重填: after a confirmation the page starts over with a new fill
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("[data-tz-reset]")
    expect(page.locator('[name="project_name"]')).to_have_value("")
    expect(page.locator("[data-tz-draft]")).to_be_hidden()
    expect(page.locator("[data-rows] [data-row]")).to_have_count(1)


def test_a_502_after_the_server_stored_the_fill_is_retried_into_one_record(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "千佛塔村")
    fill_application(page)
    failed = []

    def proxy_error_once(route):
        if route.request.method == "POST" and not failed:
            route.fetch()  # the server stores the fill; the proxy loses the answer
            failed.append(route.request.url)
            route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")
        else:
            route.continue_()

    page.route(url, proxy_error_once)
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=30000)
    assert failed, "the 502 was injected"
    assert store.count_submissions("apply_development") == 1
    receipt = page.locator("[data-receipt]").get_attribute("data-receipt")
    assert_application(store.get_submission(receipt))


def phone_photo(path):
    """A 4,000 x 3,000 JPEG like a phone camera's (noisy, ~4-5 MB), taken sideways: EXIF
    orientation 6 (the picture is shown rotated 90 degrees)."""
    rng = random.Random(7)
    small = Image.new("RGB", (400, 300))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(400 * 300)])
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((4000, 3000), 60).convert("RGB")
    image = Image.blend(image, noise, 0.5)
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, "JPEG", quality=95, exif=exif)
    return path


def test_a_phone_photo_is_shrunk_uploaded_once_and_survives_a_validation_error(
        live, browser, tmp_path):
    app, store = live
    photo = phone_photo(tmp_path / "IMG_0001.jpg")
    assert photo.stat().st_size > 3_000_000
    context, page, url = open_link(browser, app, store, "public_demand", "千佛塔村")
    uploads = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/photo") else None)
    fill_public_demand(page, content="路坏了")  # refused: at least 5 characters
    page.set_input_files('[name="photo"][type=file]', str(photo))
    expect(page.locator('[data-field="photo"] [data-photo-state]')).to_contain_text(
        "已上传照片", timeout=60000)
    assert len(uploads) == 1

    page.click("[data-tz-submit]")
    expect(page.locator('[data-field="content"] .tz-error')).to_be_visible()
    expect(page.locator('[data-field="photo"] [data-photo-state]')).to_contain_text("已上传照片")
    page.fill('[name="content"]', "村口道路坑洼，雨天积水")
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=30000)
    assert len(uploads) == 1, "the photo is not sent again"

    doc = store.get_submission(page.locator("[data-receipt]").get_attribute("data-receipt"))
    answer = doc["answers"]["photo"]
    stored = store.get_photo(answer["file"])
    assert len(stored["data"]) <= 600 * 1024 and answer["content_type"] == "image/jpeg"
    with Image.open(io.BytesIO(stored["data"])) as image:
        assert max(image.size) <= 1600
        assert image.size[1] > image.size[0], "orientation kept: the sideways photo is upright"
    with Image.open(io.BytesIO(store.get_photo(answer["thumb"])["data"])) as thumb:
        assert max(thumb.size) <= 640


def test_the_receipt_link_shows_the_answers_again(live, browser):
    app, store = live
    context = phone(browser)
    page = context.new_page()
    blocked = []
    page.on("console", lambda m: blocked.append(m.text)
            if "Content Security Policy" in m.text else None)
    village = next(o for o in store.list_orgs() if o["name"] == "深村村")
    url = f"{app.config['BASE_URL']}/f/{store.create_link('apply_development', village['code'])['token']}"
    page.goto(url)
    fill_application(page)
    page.fill('[name="jobs"]', "x")
    page.click("[data-tz-submit]")
    expect(page.locator('[data-field="jobs"] .tz-error')).to_be_visible()
    page.fill('[name="jobs"]', "35")
    page.fill('[name="project_name"]', "<b>冬桃</b>")
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    link = page.locator("[data-receipt-link]").get_attribute("href")
    assert page.url == link and "/r/" in link
    later = browser.new_context(user_agent=WECHAT_UA).new_page()  # another day, a new tab
    later.goto(link)
    answers = later.locator(".receipt-answers")
    expect(answers).to_contain_text("<b>冬桃</b>")
    expect(answers).to_contain_text("栽植冬桃苗")
    expect(answers).to_contain_text("县委组织部")
    assert not blocked, blocked  # the CSP blocked nothing the pages need


def test_a_photo_picked_offline_waits_on_the_phone_through_a_closed_tab(
        live, browser, tmp_path):
    app, store = live
    picture = tmp_path / "田间.jpg"
    Image.new("RGB", (2400, 1800), (40, 140, 60)).save(picture, "JPEG", quality=92)
    context, page, url = open_link(browser, app, store, "public_demand", "深村村")
    fill_public_demand(page)
    network(context, page, offline=True)
    page.set_input_files('[name="photo"][type=file]', str(picture))
    state = page.locator('[data-field="photo"] [data-photo-state]')
    expect(state).to_contain_text("尚未上传")
    page.click("[data-tz-submit]")
    expect(page.locator("[data-tz-status]")).to_contain_text("已保存在手机上")
    page.close()
    with store.snapshot() as snap:
        assert snap.counts()["photos"] == 0

    page = context.new_page()  # later, online: the photo and the fill go up by themselves
    page.goto(url, wait_until="commit")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    doc = store.get_submission(page.locator("[data-receipt]").get_attribute("data-receipt"))
    assert doc["answers"]["photo"]["name"] == "田间.jpg"
    with Image.open(io.BytesIO(store.get_photo(doc["answers"]["photo"]["file"])["data"])) as im:
        assert im.size == (1600, 1200)
    assert store.count_submissions("public_demand") == 1


def test_back_from_the_receipt_does_not_reopen_the_sent_fill(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "深村村")
    fill_application(page)
    sid = page.locator('[name="submission_id"]').input_value()
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    page.go_back()
    page.wait_for_load_state()
    if page.url == url:  # the link itself, if the phone had history before it: a new fill
        expect(page.locator('[name="project_name"]')).to_have_value("")
        assert page.locator('[name="submission_id"]').input_value() != sid
    else:
        assert "/f/" not in page.url
    assert store.count_submissions("apply_development") == 1


def test_a_receipt_page_lost_on_the_way_is_named_on_the_next_open(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "千佛塔村")
    fill_application(page)
    page.route("**/r/**", lambda route: route.abort("internetdisconnected"))
    page.click("[data-tz-submit]")
    page.wait_for_timeout(1500)
    assert store.count_submissions("apply_development") == 1
    page.close()
    page = context.new_page()
    page.goto(url)
    sent = page.locator("[data-tz-sent]")
    expect(sent).to_be_visible()
    receipt = all_submissions(store)[0]["receipt"]
    expect(sent).to_contain_text(receipt)
    page.click("[data-tz-sent-link]")
    expect(page.locator("[data-receipt]")).to_have_attribute("data-receipt", receipt)
    page.goto(url)  # told once: then the link opens a new fill
    expect(page.locator("[data-tz-sent]")).to_be_hidden()


def test_a_firewall_page_is_said_not_retried_forever(live, browser):
    app, store = live
    context, page, url = open_link(browser, app, store, "apply_development", "深村村")
    fill_application(page)
    posts = []

    def firewall(route):
        if route.request.method == "POST":
            posts.append(1)
            route.fulfill(status=403, content_type="text/html", body="<h1>Forbidden</h1>")
        else:
            route.continue_()

    page.route(url, firewall)
    page.click("[data-tz-submit]")
    expect(page.locator("[data-tz-status]")).to_contain_text("错误 403")
    page.wait_for_timeout(6000)  # longer than the first automatic retry
    assert len(posts) == 1
    expect(page.locator('[name="project_name"]')).to_have_value("党建引领“小冬桃”助力乡村振兴")


def test_a_fill_sent_from_another_page_can_be_sent_again_as_a_new_one(live, browser):
    app, store = live
    # 群众诉求征集 takes any number of submissions (an application is one a year).
    context, first, url = open_link(browser, app, store, "public_demand", "深村村")
    fill_public_demand(first)
    first.wait_for_timeout(600)
    second = context.new_page()  # the same link open twice: the same fill
    second.goto(url)
    expect(second.locator('[name="content"]')).to_have_value("村口道路坑洼，雨天积水")
    first.click("[data-tz-submit]")
    expect(first.locator("[data-receipt]")).to_be_visible(timeout=20000)
    second.fill('[name="content"]', "村小学路口缺少路灯")
    second.click("[data-tz-submit]")
    status = second.locator("[data-tz-status]")
    expect(status).to_contain_text("已经提交过")
    second.get_by_role("button", name="把本页内容作为新的一份提交").click()
    expect(second.locator("[data-receipt]")).to_be_visible(timeout=20000)
    contents = sorted(d["answers"]["content"] for d in all_submissions(store, "public_demand"))
    assert contents == ["村口道路坑洼，雨天积水", "村小学路口缺少路灯"]


def test_a_picked_photo_is_previewed_and_can_be_removed(live, browser, tmp_path):
    app, store = live
    picture = tmp_path / "错的.jpg"
    Image.new("RGB", (1200, 900), (200, 60, 40)).save(picture, "JPEG")
    context, page, url = open_link(browser, app, store, "public_demand", "深村村")
    fill_public_demand(page)
    page.set_input_files('[name="photo"][type=file]', str(picture))
    box = page.locator('[data-field="photo"]')
    expect(box.locator("[data-photo-state]")).to_contain_text("已上传照片", timeout=20000)
    expect(box.locator("[data-photo-preview]")).to_be_visible()
    box.get_by_role("button", name="删除照片").click()
    expect(box.locator("[data-photo-preview]")).to_be_hidden()
    expect(box.locator("[data-photo-state]")).to_be_hidden()
    page.wait_for_timeout(500)
    page.reload()  # the removal is kept on the phone too
    expect(page.locator('[name="content"]')).to_have_value("村口道路坑洼，雨天积水")
    expect(page.locator('[data-field="photo"] [data-photo-remove]')).to_be_hidden()
    page.click("[data-tz-submit]")
    expect(page.locator("[data-receipt]")).to_be_visible(timeout=20000)
    doc = store.get_submission(page.locator("[data-receipt]").get_attribute("data-receipt"))
    assert doc["answers"]["photo"] is None
