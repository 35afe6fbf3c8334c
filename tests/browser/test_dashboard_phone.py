"""The dashboard on a phone (Debian's Chromium, 390 px; 360 px too): seed-demo's year of
projects, the county admin opens 统计, every panel's chart is drawn (a Chart.js instance on its
canvas, and pixels on it) with exactly services.dashboard's numbers, and the table beside it
says the same; then one township, picked in the page's selector. Nothing scrolls sideways and
the Content-Security-Policy blocks nothing (Chart.js, dashboard.js and the page need no inline
script or style)."""
import pytest
from playwright.sync_api import expect

from seed import seed_demo
from services import dashboard
from services.orgs import OrgIndex
from services.reporting import today_local
from views.admin.dashboard import dash_number

pytestmark = pytest.mark.browser

ADMIN = {"username": "admin", "role": "admin", "org_code": None, "active": True}
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""
# Per chart: the Chart.js instance's labels and numbers, how many pixels of its canvas are
# painted (not transparent), and how many of them in a bar's colour (dashboard.js: BAR,
# PERCENT_BAR).
CHARTS = """
() => Array.from(document.querySelectorAll('canvas[data-chart-for]')).map(canvas => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const near = (i, r, g, b) => Math.abs(pixels[i] - r) < 10 && Math.abs(pixels[i + 1] - g) < 10
    && Math.abs(pixels[i + 2] - b) < 10 && pixels[i + 3] > 240;
  let painted = 0, bars = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3]) painted++;
    if (near(i, 0xb3, 0x26, 0x1e) || near(i, 0x1f, 0x6f, 0x8b)) bars++;
  }
  return {table: canvas.getAttribute('data-chart-for'), width: canvas.width,
          height: canvas.height, painted: painted, bars: bars,
          labels: chart ? chart.data.labels : null,
          values: chart ? chart.data.datasets[0].data : null};
})
"""
TABLE = """
id => Array.from(document.getElementById(id).querySelectorAll('tbody tr')).map(
  tr => Array.from(tr.children).map(cell => cell.textContent.trim()))
"""


def _phone(browser, width):
    context = browser.new_context(viewport={"width": width, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    context.add_init_script(CSP_LISTENER)
    return context


def _login(page, base):
    page.goto(f"{base}/login")
    page.fill('[name="username"]', "admin")
    page.fill('[name="password"]', "browser-password")
    page.click("button[type=submit]")
    expect(page.locator(".topbar nav")).to_be_visible()


def _check_page(page, data):
    """Every panel of ``data`` drawn, with its numbers, and its table saying the same."""
    panels = [p for p in data["panels"] if p["rows"]]
    assert len(panels) >= 4
    expect(page.locator("canvas[data-chart-for]")).to_have_count(len(panels))
    charts = page.evaluate(CHARTS)
    assert [c["table"] for c in charts] == [f"dash-{p['key']}-table" for p in panels]
    for chart, panel in zip(charts, panels):
        assert chart["labels"] is not None, f"no chart drawn for {panel['key']}"
        assert chart["labels"] == [r[0] for r in panel["rows"]], panel["key"]
        assert chart["values"] == [r[1] for r in panel["rows"]], panel["key"]
        # drawn: axes and labels, and the bars of the numbers that are not 0
        area = chart["width"] * chart["height"]
        assert chart["width"] > 200 and chart["height"] > 100
        assert chart["painted"] > area * 0.02, panel["key"]
        if any(r[1] for r in panel["rows"]):
            assert chart["bars"] > area * 0.01, panel["key"]
        assert page.evaluate(TABLE, chart["table"]) == [
            [str(r[0])] + [dash_number(v) for v in r[1:]] for r in panel["rows"]], panel["key"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    assert page.evaluate("window.__cspViolations") == []


def test_the_dashboard_charts_on_a_phone(live, browser):
    app, store = live
    base = app.config["BASE_URL"]
    seed_demo(store, 1500, seed=11)
    index = OrgIndex(store.list_orgs())
    today = today_local()
    county = dashboard.dashboard(store, index, ADMIN, today.year, None, today)
    # the demo year has something in every panel
    assert all(any(r[1] for r in p["rows"]) for p in county["panels"])

    context = _phone(browser, 390)
    page = context.new_page()
    _login(page, base)
    page.goto(f"{base}/admin/dashboard")
    expect(page.locator("h1")).to_contain_text("岳西县")
    _check_page(page, county)

    # one township, chosen in the page's own selector (it submits when changed)
    township = index.townships()[1]
    with page.expect_navigation():
        page.get_by_label("范围").select_option(township["code"])
    expect(page.locator("h1")).to_contain_text(township["name"])
    _check_page(page, dashboard.dashboard(store, index, ADMIN, today.year, township["code"],
                                          today))
    context.close()

    narrow = _phone(browser, 360)
    page = narrow.new_page()
    _login(page, base)
    page.goto(f"{base}/admin/dashboard")
    _check_page(page, county)
    narrow.close()
