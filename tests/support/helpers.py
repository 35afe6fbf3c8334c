"""Helpers the tests import (constants, page scraping, the test form): one module, so that
every test folder gets the same ones (fixtures are in tests/conftest.py)."""
import os
import re

BASE_URL = "https://tz.example.gov.cn/taizhang"
ADMIN = ("admin", "correct horse battery")


def phone(browser):
    """A Playwright browser context like a cheap phone: 360 px wide, touch, Chinese locale."""
    return browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                               is_mobile=True, has_touch=True, locale="zh-CN",
                               accept_downloads=True)


def db_file(app):
    """The TinyDB file of a test app."""
    return os.path.join(app.config["DATA_DIR"], "taizhang.db")


def csrf_token(html):
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username=ADMIN[0], password=ADMIN[1]):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page)})


PROJECT_FORM = {
    "id": "t_project",
    "title": "测试项目表",
    "description": "功能测试用",
    "fields": [
        {"name": "title", "type": "text", "label": "项目名称", "required": True, "max_length": 30},
        {"name": "people", "type": "integer", "label": "带动就业", "min": 0, "unit": "人"},
        {"name": "income", "type": "decimal", "label": "增收", "unit": "万元"},
        {"name": "mode", "type": "select", "label": "选题方式", "required": True,
         "choices": ["点题", "选题"]},
        {"name": "assigner", "type": "text", "label": "点题单位", "required": True,
         "show_if": {"field": "mode", "equals": "点题"}},
        {"name": "phone", "type": "phone", "label": "联系电话"},
        {"name": "photo", "type": "image", "label": "现场照片"},
        {"name": "steps", "type": "repeat", "label": "实施步骤", "min_items": 1, "max_items": 5,
         "fields": [
             {"name": "month", "type": "month", "label": "月份", "required": True},
             {"name": "task", "type": "text", "label": "任务", "required": True},
             {"name": "owner", "type": "text", "label": "责任人"},
         ]},
    ],
}

VALID = {"title": "党建引领“小冬桃”助力乡村振兴", "people": "12", "income": "3.5", "mode": "选题",
         "phone": "13800138000", "steps-0-month": "2026-03", "steps-0-task": "=1+1 流转土地",
         "steps-0-owner": "张三", "steps-1-month": "2026-04", "steps-1-task": "栽植冬桃",
         "steps-1-owner": ""}


def open_form(client, token):
    page = client.get(f"/f/{token}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    sid = re.search(r'name="submission_id" type="hidden" value="([0-9a-f]{32})"', html).group(1)
    return html, {"csrf_token": csrf_token(html), "submission_id": sid}
