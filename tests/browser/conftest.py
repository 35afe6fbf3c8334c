"""Fixtures of the browser tests: Debian's Chromium through Playwright, and a live server."""
import os
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from db import get_store
from seed import seed_first_start
from services.accounts import create_user

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def live(tmp_path):
    """A real HTTP server on a free loopback port, its app and store."""
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-test",
                      "DATA_DIR": str(tmp_path / "data")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    with app.app_context():
        store = get_store()
        seed_first_start(store)
        create_user(store, "admin", "browser-password", "admin")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, store
    server.shutdown()
    thread.join(10)
    app.extensions["taizhang.store"].close()


@pytest.fixture
def browser():
    """Debian's Chromium, headless (never a browser download). Missing: skipped locally, a
    failure under CI=true (.ci/run must install it)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: .ci/run must install it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


