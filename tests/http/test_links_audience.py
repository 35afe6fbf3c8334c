"""QR links follow a form's audience, on both backends: the links page, its 一键生成, the single
link, the printable QR sheet and `flask links` cover only the organizations that must fill the
form (services.periods.in_audience) — 机关党建提升类 (units only) gives no village a link; a
form without an audience gives its villages and units theirs, not the townships; a form for
townships gives each township its own."""
import json

import pytest

from forms.loader import check_schema
from support.helpers import BASE_URL, csrf_token

TOWNSHIP = "340828101"  # 响肠镇: villages, no units
VILLAGE = "340828101202"  # 千佛塔村
UNIT = "340828901"  # 县财政局
TOWNSHIP_FORM = {
    "id": "t_township", "title": "乡镇测试表", "description": "乡镇填报",
    "audience": {"kinds": ["township"]},
    "fields": [{"name": "note", "type": "text", "label": "说明", "required": True}],
}


def kinds(store, codes):
    return sorted({store.get_org(code)["kind"] for code in codes})


def linked(store, form_id):
    return {link["org_code"] for link in store.list_links(form_id, active_only=True)}


@pytest.fixture
def units(store):
    return {o["code"] for o in store.list_orgs() if o["kind"] == "unit"}


def test_the_links_page_and_its_generate_cover_the_audience(admin_client, store, units):
    page = admin_client.get("/admin/forms/apply_organ/links").get_data(as_text=True)
    assert page.count('<td class="title">') == len(units)  # a row per unit, no other
    assert "县财政局" in page and "千佛塔村" not in page
    assert admin_client.post("/admin/forms/apply_organ/links/generate", data={
        "csrf_token": csrf_token(page), "township": ""}).status_code == 302
    assert linked(store, "apply_organ") == units
    # a township without units: nothing to show, nothing made
    page = admin_client.get(f"/admin/forms/apply_organ/links?township={TOWNSHIP}"
                            ).get_data(as_text=True)
    assert '<td class="title">' not in page and "千佛塔村" not in page
    admin_client.post("/admin/forms/apply_organ/links/generate", data={
        "csrf_token": csrf_token(page), "township": TOWNSHIP})
    assert linked(store, "apply_organ") == units


def test_a_single_link_only_for_the_audience(admin_client, store):
    csrf = csrf_token(admin_client.get("/admin/forms/apply_organ/links").get_data(as_text=True))
    assert admin_client.post("/admin/forms/apply_organ/links/new", data={
        "csrf_token": csrf, "org_code": VILLAGE}).status_code == 404
    assert admin_client.post("/admin/forms/apply_organ/links/new", data={
        "csrf_token": csrf, "org_code": UNIT}).status_code == 302
    assert linked(store, "apply_organ") == {UNIT}


def test_the_qr_sheet_shows_the_audience(admin_client, store):
    for code in (VILLAGE, UNIT):  # a link made before the audience was followed
        store.create_link("apply_organ", code)
    sheet = admin_client.get(f"/admin/forms/apply_organ/qr-sheet?township={TOWNSHIP}"
                             ).get_data(as_text=True)
    assert 'class="qr-card"' not in sheet and "千佛塔村" not in sheet
    store.add_form_version(check_schema(json.loads(json.dumps(TOWNSHIP_FORM))), source="cli")
    store.create_link("t_township", TOWNSHIP)
    sheet = admin_client.get(f"/admin/forms/t_township/qr-sheet?township={TOWNSHIP}"
                             ).get_data(as_text=True)
    assert sheet.count('class="qr-card"') == 1 and "响肠镇" in sheet


def test_the_links_command_covers_the_audience(runner, store, units):
    result = runner.invoke(args=["links", "apply_organ"])
    assert result.exit_code == 0, result.output
    printed = {line.split("\t")[0] for line in result.output.strip().splitlines()}
    assert printed == units == linked(store, "apply_organ")
    result = runner.invoke(args=["links", "apply_organ", "--township", TOWNSHIP])
    assert result.exit_code == 0 and result.output == ""

    # a form that names no audience is for every organization, as it always was
    result = runner.invoke(args=["links", "monthly_report"])
    printed = {line.split("\t")[0] for line in result.output.strip().splitlines()}
    assert len(printed) == len(store.list_orgs())

    store.add_form_version(check_schema(json.loads(json.dumps(TOWNSHIP_FORM))), source="cli")
    result = runner.invoke(args=["links", "t_township", "--township", TOWNSHIP])
    [line] = result.output.strip().splitlines()
    code, name, url = line.split("\t")
    assert (code, name) == (TOWNSHIP, "响肠镇") and url.startswith(f"{BASE_URL}/f/")
