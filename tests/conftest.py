"""Fixtures: a real app on a real database in a temp folder, clients with and without login."""
pytest_plugins = ["support.pg"]
import json

import pytest

from app import create_app
from forms.loader import check_schema
from seed import seed_first_start
from support.helpers import ADMIN, BASE_URL, PROJECT_FORM, login
from db import get_store
from services.accounts import create_user


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tinydb_only: a test of the TinyDB file itself (its bytes, its engine's "
        "faults); it does not run on the PostgreSQL backend")


@pytest.fixture(params=["tinydb", "postgresql"])
def app_backend(request):
    """Every test that uses the app runs on both backends (PostgreSQL: a real server, see
    tests/support/pg.py) — except tests marked tinydb_only."""
    if request.param == "postgresql" and request.node.get_closest_marker("tinydb_only"):
        pytest.skip("a test of the TinyDB file itself")
    return request.param


@pytest.fixture
def app(tmp_path, request, app_backend):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": request.getfixturevalue("pg_url") if app_backend == "postgresql"
        else None,
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


@pytest.fixture
def admin_client(app, client):
    with app.app_context():
        create_user(get_store(), ADMIN[0], ADMIN[1], "admin")
    response = login(client)
    assert response.status_code == 302
    return client


@pytest.fixture
def entry(app, store):
    """(token, org) of a fresh link for the test form at 千佛塔村."""
    store.add_form_version(check_schema(json.loads(json.dumps(PROJECT_FORM))), source="cli")
    org = next(o for o in store.list_orgs() if o["name"] == "千佛塔村")
    return store.create_link("t_project", org["code"])["token"], org
