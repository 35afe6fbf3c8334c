"""The dashboard page (GET /admin/dashboard, views/admin/dashboard.py) through Flask's test
client, on both backends: every role that may view opens it for its own scope; a township
reviewer or viewer gets its township and a 404 for another's (or an unknown code); the numbers
in the page's tables are services.dashboard's; the charts get their numbers from the tables
(data-value) and the page carries no inline script."""
import re
from html.parser import HTMLParser

import pytest

from db import get_store
from services import accounts
from services import dashboard as dashboard_service
from services.orgs import OrgIndex
from services.reporting import today_local
from support.helpers import ADMIN, login
from views.admin.dashboard import dash_number

TOWNSHIP_A, VILLAGE_A = "340828101", "340828101202"  # 响肠镇 / 千佛塔村
TOWNSHIP_B, VILLAGE_B = "340828102", "340828102201"  # 菖蒲镇 / 菖蒲村
PASSWORD = "dash-password-1"
PEOPLE = {"rev_a": ("reviewer", TOWNSHIP_A), "viewer_a": ("viewer", TOWNSHIP_A),
          "judge": ("judge", None), "viewer_b1": ("viewer", VILLAGE_B)}


class Tables(HTMLParser):
    """The dashboard's tables: {table id: [[row header, cell, ...], ...]} with each row's
    data-value, and every <script> tag's attributes."""

    def __init__(self, html):
        super().__init__()
        self.tables, self.values, self.scripts = {}, {}, []
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        elif tag == "table" and "data-chart" in attrs:
            self._table = attrs["id"]
            self.tables[self._table], self.values[self._table] = [], []
        elif self._table and tag == "tr" and "data-value" in attrs:
            self._row = []
            self.tables[self._table].append(self._row)
            self.values[self._table].append((attrs["data-label"], attrs["data-value"]))
        elif self._row is not None and tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def county(app, store):
    """Two townships' projects of this year (A: two, one approved; B: one approved) and one
    of last year in A; an account per role."""
    year = today_local().year
    for n, (org, status, category, project_year) in enumerate((
            (VILLAGE_A, "实施中", "党建引领发展类", year),
            (VILLAGE_A, "已申报", "党建文化建设类", year),
            (VILLAGE_B, "已申请验收", "党建引领发展类", year),
            (VILLAGE_A, "已验收", "党建改革创新类", year - 1))):
        store.add_project({"title": f"项目{n}", "category": category, "kind": "书记项目",
                           "org_code": org, "secretary": "张三", "year": project_year,
                           "steps": [], "status": status, "application": f"A-{n}"})
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
        for username, (role, org) in PEOPLE.items():
            accounts.create_user(get_store(), username, PASSWORD, role, org)
    return {"year": year}


def client_of(app, username):
    client = app.test_client()
    response = login(client, username, ADMIN[1] if username == "admin" else PASSWORD)
    assert response.status_code == 302, username
    return client


def expected(store, username, org=None, year=None):
    """services.dashboard's figures for that user, as the page must show them."""
    user = store.get_user(username)
    return dashboard_service.dashboard(store, OrgIndex(store.list_orgs()), user, year, org,
                                       today_local())


def assert_tables_match(html, data):
    tables = Tables(html)
    assert list(tables.tables) == [f"dash-{p['key']}-table" for p in data["panels"] if p["rows"]]
    for p in data["panels"]:
        table_id = f"dash-{p['key']}-table"
        if not p["rows"]:
            assert table_id not in tables.tables
            continue
        assert tables.tables[table_id] == [[str(r[0])] + [dash_number(v) for v in r[1:]]
                                           for r in p["rows"]], p["key"]
        # what the chart draws (dashboard.js reads data-label, data-value)
        assert tables.values[table_id] == [(r[0], "" if r[1] is None else str(r[1]))
                                           for r in p["rows"]], p["key"]
    # the charts' script and Chart.js are files; no inline script (the CSP forbids one)
    assert [s.get("src", "").split("?")[0] for s in tables.scripts] == [
        "/static/js/admin.js", "/static/vendor/chartjs/chart.umd.min.js",
        "/static/js/dashboard.js"]
    return tables


def test_the_admin_sees_the_county_and_each_township(app, store, county):
    client = client_of(app, "admin")
    response = client.get("/admin/dashboard")
    assert response.status_code == 200
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self'
    html = response.get_data(as_text=True)
    data = expected(store, "admin")
    assert data["area"]["name"] == "岳西县" and "统计" in html and "岳西县" in html
    tables = assert_tables_match(html, data)
    assert tables.tables["dash-projects-status-table"][5] == ["实施中", "1"]
    assert tables.tables["dash-acceptance-table"][:2] == [["已立项(合计)", "2", "100.0"],
                                                          ["已申请验收", "1", "50.0"]]
    # every township is offered
    options = re.findall(r'<option value="(\d*)"', html)
    assert options[:6] == ["", "340828101", "340828102", "340828103", "340828104", "340828105"]
    township = client.get(f"/admin/dashboard?org={TOWNSHIP_B}&year={county['year']}")
    assert township.status_code == 200
    data_b = expected(store, "admin", TOWNSHIP_B)
    assert_tables_match(township.get_data(as_text=True), data_b)
    assert [r[1] for r in data_b["panels"][0]["rows"]] == [0, 1, 0, 0, 0]
    last_year = client.get(f"/admin/dashboard?year={county['year'] - 1}")
    assert_tables_match(last_year.get_data(as_text=True),
                        expected(store, "admin", year=county["year"] - 1))
    assert "党建改革创新类</th>\n          <td class=\"num\">1</td>" in last_year.get_data(
        as_text=True)


@pytest.mark.parametrize("username", ["rev_a", "viewer_a"])
def test_a_township_sees_its_own_and_404_for_another(app, store, county, username):
    client = client_of(app, username)
    response = client.get("/admin/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    data = expected(store, username)
    assert data["area"]["code"] == TOWNSHIP_A
    assert_tables_match(html, data)
    # A's projects only (B's 已申请验收 is not counted), and no other township offered
    assert [r[1] for r in data["panels"][1]["rows"]][6] == 0
    assert "菖蒲镇" not in html and "岳西县" not in html.split("<main", 1)[1].split("</h1>")[0]
    for org in (TOWNSHIP_B, VILLAGE_B, "340828", "nowhere"):
        assert client.get(f"/admin/dashboard?org={org}").status_code == 404, org
    village = client.get(f"/admin/dashboard?org={VILLAGE_A}")
    assert village.status_code == 200
    assert_tables_match(village.get_data(as_text=True), expected(store, username, VILLAGE_A))


def test_every_role_that_may_view_sees_its_scope(app, store, county):
    judge = client_of(app, "judge").get("/admin/dashboard")
    assert judge.status_code == 200
    assert_tables_match(judge.get_data(as_text=True), expected(store, "judge"))
    assert expected(store, "judge")["area"]["name"] == "岳西县"
    village = client_of(app, "viewer_b1")
    page = village.get("/admin/dashboard")
    data = expected(store, "viewer_b1")
    assert data["area"]["name"] == "菖蒲村"
    assert_tables_match(page.get_data(as_text=True), data)
    assert village.get(f"/admin/dashboard?org={TOWNSHIP_B}").status_code == 404
    assert village.get(f"/admin/dashboard?org={VILLAGE_A}").status_code == 404


def test_the_navigation_links_it_and_login_is_required(app, store, county):
    assert app.test_client().get("/admin/dashboard").status_code == 302
    for username in ("admin", "rev_a", "viewer_a", "judge"):
        page = client_of(app, username).get("/admin/").get_data(as_text=True)
        assert 'href="/admin/dashboard">统计</a>' in page, username
    current = client_of(app, "rev_a").get("/admin/dashboard").get_data(as_text=True)
    assert 'href="/admin/dashboard" aria-current="true">统计</a>' in current


def test_the_year_selector(app, store, county):
    client = client_of(app, "admin")
    year = county["year"]
    html = client.get("/admin/dashboard").get_data(as_text=True)
    assert re.findall(r'<option value="(\d{4})"', html) == [str(year - n) for n in range(5)]
    for query in ("?year=1999", f"?year={year + 1}", "?year=abc", "?year="):
        html = client.get(f"/admin/dashboard{query}").get_data(as_text=True)
        assert f"岳西县 · {year}年" in html, query
    # an older year asked for by its URL is shown, and offered in the selector
    older = client.get(f"/admin/dashboard?year={year - 7}").get_data(as_text=True)
    assert f"岳西县 · {year - 7}年" in older
    assert f'<option value="{year - 7}" selected>' in older
