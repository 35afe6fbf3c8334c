"""show_if is decided twice: live in the browser (static/js/form.js) and on the server
(forms/show_if.py). For the same input they must agree, or a cadre sees a field the server
then ignores (or is asked for a field she never saw). Each scenario is typed into Chromium;
the fields the page shows are compared with what the server's rule says for that input."""
import pytest
from werkzeug.datastructures import MultiDict

from forms.builder import build_form_class, hidden_names
from forms.loader import check_schema
from support.helpers import phone

pytestmark = pytest.mark.browser

TARGETS = [
    {"name": "sel", "type": "select", "label": "选题方式", "choices": ["点题", "选题", "自选"]},
    {"name": "multi", "type": "multiselect", "label": "领域", "choices": ["产业", "治理", "文化"]},
    {"name": "flag", "type": "boolean", "label": "需要协调"},
    {"name": "num", "type": "integer", "label": "户数"},
    {"name": "dec", "type": "decimal", "label": "金额", "unit": "万元"},
    {"name": "txt", "type": "text", "label": "说明"},
    {"name": "mon", "type": "month", "label": "月份"},
    {"name": "day", "type": "date", "label": "日期"},
]
DEPENDENTS = {
    "sel_is": {"field": "sel", "equals": "选题"},
    "sel_in": {"field": "sel", "in": ["点题", "自选"]},
    "multi_is": {"field": "multi", "equals": "治理"},
    "multi_in": {"field": "multi", "in": ["产业", "文化"]},
    "flag_on": {"field": "flag", "equals": True},
    "flag_off": {"field": "flag", "equals": False},
    "num_is": {"field": "num", "equals": 5},
    "num_in": {"field": "num", "in": [1, 2, 3]},
    "dec_is": {"field": "dec", "equals": 12.5},
    "txt_is": {"field": "txt", "equals": "是"},
    "mon_is": {"field": "mon", "equals": "2026-03"},
    "day_is": {"field": "day", "equals": "2026-03-05"},
}
SCHEMA = check_schema({
    "id": "t_show_if", "title": "显示条件", "description": "show_if 一致性",
    "fields": TARGETS + [{"name": name, "type": "text", "label": name, "show_if": condition}
                         for name, condition in DEPENDENTS.items()]
    + [{"name": "chain", "type": "text", "label": "chain",
        "show_if": {"field": "sel_is", "equals": "好"}}],
})
SCHEMA["version"] = 1

# What a cadre types: values as typed on a phone (spaces, full-width digits, trailing zeros,
# a month or date typed by hand where the browser has no picker).
SCENARIOS = [
    {},
    {"sel": "选题", "sel_is": "好", "multi": ["治理", "文化"], "flag": True},
    {"sel": "自选", "multi": ["产业"], "num": " 5 ", "dec": "12.50", "txt": "是"},
    {"num": "２", "dec": "12.5", "txt": " 是 ", "mon": "2026-03", "day": "2026-03-05"},
    {"num": "1,000", "dec": "1,2.5", "txt": "否", "mon": "2026-3", "day": "2026/3/5"},
    {"num": "五", "dec": "abc", "mon": "2026年3月", "day": "2026年3月5日"},
    {"sel": "选题", "sel_is": "不好", "flag": False},
]


def server_shown(app, scenario):
    """The dependent fields the server's rule shows for this input."""
    data = MultiDict()
    for name, value in scenario.items():
        if isinstance(value, list):
            for item in value:
                data.add(name, item)
        elif value is True:
            data.add(name, "y")
        elif value is not False:
            data.add(name, value)
    with app.test_request_context(method="POST", data=data):
        form = build_form_class(SCHEMA)(meta={"csrf": False})
        hidden = hidden_names(form, form._specs)
    return {name for name in [*DEPENDENTS, "chain"] if name not in hidden}


def type_into(page, scenario):
    for name, value in scenario.items():
        kind = next((t["type"] for t in TARGETS if t["name"] == name), "text")
        if kind == "select":
            page.locator(f'[data-field="{name}"] input[value="{value}"]').check()
        elif kind == "multiselect":
            for item in value:
                page.locator(f'[data-field="{name}"] input[value="{item}"]').check()
        elif kind == "boolean":
            page.locator(f'[name="{name}"]').set_checked(value)
        else:
            field = page.locator(f'[name="{name}"]')
            if kind in ("month", "date"):
                # a browser without a month/date picker (some WeChat versions): plain text
                field.evaluate("el => { el.type = 'text'; }")
            field.fill(value)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[str(i) for i in range(len(SCENARIOS))])
def test_the_page_shows_what_the_server_will_accept(live, browser, scenario):
    app, store = live
    store.add_form_version(SCHEMA, source="test")
    org = next(o for o in store.list_orgs() if o["kind"] == "village")
    token = store.create_link("t_show_if", org["code"])["token"]
    page = phone(browser).new_page()
    page.goto(f"{app.config['BASE_URL']}/f/{token}")
    type_into(page, scenario)
    page.locator("body").click()  # leave the last field, as a cadre does
    shown = {name for name in [*DEPENDENTS, "chain"]
             if page.locator(f'[data-field="{name}"]').is_visible()}
    assert shown == server_shown(app, scenario)
