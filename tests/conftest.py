"""Fixtures: a real app on a real TinyDB file in a temp folder, clients with and without login."""
import re

import pytest

from app import create_app
from seed import seed_first_start
from views.web import get_store

BASE_URL = "https://tz.example.gov.cn/taizhang"
ADMIN = ("admin", "correct horse battery")


@pytest.fixture
def app(tmp_path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATA_DIR": str(tmp_path / "data"),
        "BASE_URL": BASE_URL,
        "SUBMISSIONS_PER_PAGE": 5,
    })
    with app.app_context():
        seed_first_start(get_store())
    yield app
    app.extensions["taizhang.store"].close()


@pytest.fixture
def store(app):
    # Not kept inside an app context: requests must each get their own (and their own `g`).
    with app.app_context():
        return get_store()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


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


@pytest.fixture
def admin_client(app, client):
    from views.auth import create_user

    with app.app_context():
        create_user(ADMIN[0], ADMIN[1], "admin")
    response = login(client)
    assert response.status_code == 302
    return client
