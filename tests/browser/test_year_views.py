"""A county's year in the browser (Debian's Chromium): seed-demo's year of projects, then the
county admin reads the 催报 matrix of the monthly reports and a running project's page. What
the pages show is checked against the services' own figures; `make screenshots` keeps the
pictures the README shows (docs/screenshots/reporting-matrix.png, project.png).
"""
import os
from datetime import date

import pytest
from playwright.sync_api import expect

from seed import seed_demo
from services import projects, reporting
from services.orgs import OrgIndex

SCREENSHOTS_ENV = "TAIZHANG_SCREENSHOTS_DIR"

pytestmark = pytest.mark.browser


def test_the_matrix_and_a_project_page_of_a_demo_year(live, browser, tmp_path):
    app, store = live
    base = app.config["BASE_URL"]
    shots = os.environ.get(SCREENSHOTS_ENV) or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    seed_demo(store, 1500, seed=11)
    index = OrgIndex(store.list_orgs())
    schema = store.get_form("monthly_report")["schema"]
    year = date.today().year
    table = reporting.matrix(store, index, schema, year)
    assert table["orgs"] and table["periods"]

    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{base}/login")
    admin.fill('[name="username"]', "admin")
    admin.fill('[name="password"]', "browser-password")
    admin.click("button[type=submit]")
    admin.goto(f"{base}/admin/forms/monthly_report/reporting/matrix?year={year}")
    matrix = admin.locator("table.matrix")
    expect(matrix).to_be_visible()
    # one row per organization with a project to report on, one column per month so far
    expect(matrix.locator("tbody tr")).to_have_count(len(table["orgs"]))
    expect(matrix.locator("thead th")).to_have_count(len(table["periods"]) + 1)
    first = table["orgs"][0]
    row = matrix.locator("tbody tr").first
    # (a short state is followed by its full name for screen readers)
    assert [c.split()[-1] for c in row.locator("td").all_inner_texts()] == [
        c["state"] or "—" for c in first["cells"]]
    total = matrix.locator("tfoot tr").first.locator("td")
    for cell, period in zip(total.all_inner_texts(), table["periods"]):
        counts = period["counts"]
        assert f"{counts['已报'] + counts['迟报']}/{counts['expected']}" in cell
    matrix.screenshot(path=os.path.join(shots, "reporting-matrix.png"))

    # a running project with the most reports: its page lists them in month order
    running = [p for p in store.list_projects(statuses=["实施中"])]
    assert running
    project = max(running, key=lambda p: len(projects.project_records(store, p)[1]))
    _application, reports, _acceptances = projects.project_records(store, project)
    assert reports
    admin.goto(f"{base}/admin/projects/{project['id']}")
    expect(admin.locator("[data-project-status]")).to_have_text("实施中")
    listed = admin.locator("[data-reports] tbody tr")
    expect(listed).to_have_count(len(reports))
    assert [r.get_attribute("data-report") for r in listed.all()] == [
        r["receipt"] for r in reports]
    admin.screenshot(path=os.path.join(shots, "project.png"), full_page=True)
