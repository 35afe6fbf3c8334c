"""Admin sessions and login throttling through HTTP: sessions live in the database, so a logout
or a password change ends them everywhere, and failed logins are counted once for the whole
service. "Another worker" is a second app on the same data folder (its own Store)."""
import re
import time
from datetime import timedelta

import pytest

from app import create_app
from db import get_store
from services import accounts
from support.helpers import ADMIN, BASE_URL, csrf_token, login


@pytest.fixture
def other_worker(app):
    """A second app on the same database, as another gunicorn worker or host would be."""
    other = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                        "DATA_DIR": app.config["DATA_DIR"], "BASE_URL": BASE_URL,
                        "DATABASE_URL": app.config["DATABASE_URL"]})
    yield other
    other.extensions["taizhang.store"].close()


@pytest.fixture
def admin_user(app):
    with app.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")


def copy_cookies(source, target):
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_copied_session_cookie_stops_working_after_logout(app, other_worker, admin_user):
    browser = app.test_client()
    assert login(browser).status_code == 302
    thief = other_worker.test_client()  # the same cookie, presented to another worker
    copy_cookies(browser, thief)
    assert thief.get("/admin/").status_code == 200
    page = browser.get("/admin/").get_data(as_text=True)
    assert browser.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert thief.get("/admin/").status_code == 302  # back to the login page
    assert "/login" in thief.get("/admin/").headers["Location"]


def test_set_password_ends_every_session_of_the_user(app, other_worker, admin_user):
    first, second = app.test_client(), other_worker.test_client()
    assert login(first).status_code == 302 and login(second).status_code == 302
    runner = other_worker.test_cli_runner()
    result = runner.invoke(args=["set-password", ADMIN[0], "--password-stdin"],
                           input="a-brand-new-password\n")
    assert result.exit_code == 0, result.output
    assert first.get("/admin/").status_code == 302
    assert second.get("/admin/").status_code == 302
    assert login(first).status_code == 401
    assert login(first, password="a-brand-new-password").status_code == 302


def test_failed_logins_are_counted_once_for_all_workers(app, other_worker, admin_user):
    workers = [app.test_client(), other_worker.test_client()]
    for attempt in range(accounts.MAX_FAILURES):
        assert login(workers[attempt % 2], password="guess-guess").status_code == 401
    for client in workers:  # neither worker lets an eleventh guess through
        blocked = login(client)  # even the right password, until the window passes
        assert blocked.status_code == 429
        text = blocked.get_data(as_text=True)
        minutes = int(re.search(r"请 (\d+) 分钟后再试", text).group(1))
        assert 1 <= minutes <= 15
        assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60


def test_another_name_from_the_same_address_is_not_locked_out(app, admin_user):
    """The lock is per name and address: a stranger guessing cannot lock the admin out
    (up to the per-address cap)."""
    client = app.test_client()
    for _ in range(accounts.MAX_FAILURES):
        login(client, username="someone-else", password="guess-guess")
    assert login(client).status_code == 302


def test_one_address_trying_many_names_is_capped(app, admin_user):
    # The failed-login throttle alone: the per-minute limit on login attempts (ratelimits.py,
    # tests/http/test_ratelimits.py) would refuse the 21st attempt of this minute first.
    app.config["RATE_LIMIT_LOGIN"] = "off"
    client = app.test_client()
    for n in range(accounts.ADDRESS_MAX_FAILURES):
        assert login(client, username=f"name{n}", password="guess-guess").status_code == 401
    assert login(client).status_code == 429


def test_an_expired_session_is_refused(app, admin_user):
    app.config["SESSION_LIFETIME"] = timedelta(seconds=1)
    client = app.test_client()
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200
    time.sleep(1.2)
    assert client.get("/admin/").status_code == 302
