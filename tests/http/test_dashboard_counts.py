"""The dashboard's 提交数, on both backends: the same number the submissions list says (共 N 份)
for the same user — voided submissions left out, like the list leaves them out by default."""
import re
import uuid

import pytest

from services.accounts import create_user
from support.helpers import login

VILLAGE = "340828101202"  # 千佛塔村, 响肠镇
OTHER_VILLAGE = "340828102201"  # a village of 菖蒲镇


def dashboard_count(client, form_id):
    """The 提交数 of one form on the dashboard."""
    page = client.get("/admin/").get_data(as_text=True)
    row = re.search(rf'href="/admin/forms/{form_id}">.*?'
                    r'<td data-label="提交数" class="num">(\d+)</td>', page, re.S)
    return int(row.group(1))


def list_count(client, form_id):
    """共 N 份 of the form's submissions list."""
    page = client.get(f"/admin/forms/{form_id}/submissions").get_data(as_text=True)
    return int(re.search(r"共 (\d+) 份", page).group(1))


def add_report(store, org_code, period):
    doc, _created = store.add_submission(
        "monthly_report", store.get_form("monthly_report")["version"], org_code,
        {"progress": "本月进展"}, uuid.uuid4().hex, period=period)
    return doc


def void(store, doc):
    store.update_submission(doc["receipt"], doc["revision"], {
        "status": "已作废", "user": "admin",
        "event": {"action": "void", "from": doc["status"], "to": "已作废",
                  "comment": "重复提交"}})


@pytest.mark.parametrize("role", ["admin", "reviewer"])
def test_voided_submissions_are_not_counted(app, store, role):
    with app.app_context():
        create_user(store, "someone", "correct horse battery", role,
                    org_code=VILLAGE[:9] if role == "reviewer" else None)
    client = app.test_client()
    assert login(client, "someone", "correct horse battery").status_code == 302
    kept = add_report(store, VILLAGE, "2026-01")
    void(store, add_report(store, VILLAGE, "2026-02"))
    add_report(store, OTHER_VILLAGE, "2026-01")  # out of a reviewer's scope
    expected = 2 if role == "admin" else 1
    assert list_count(client, "monthly_report") == expected
    assert dashboard_count(client, "monthly_report") == expected

    void(store, store.get_submission(kept["receipt"]))
    assert list_count(client, "monthly_report") == expected - 1
    assert dashboard_count(client, "monthly_report") == expected - 1
