"""Rate limits (ratelimits.py) through HTTP, on both backends: a capability link and the login
form refuse a client address after its limit with 429, a Chinese page (or JSON) and
Retry-After; other addresses, other links and other workers' counts behave as one service.
(Across real gunicorn workers: tests/slow/test_limits_across_workers.py.)"""
import logging
import time

import pytest

from app import create_app
from db import get_store
from services import accounts
from storage import StorageError
from support.helpers import ADMIN, BASE_URL, VALID, login, open_form

LIMIT = 3


@pytest.fixture
def limited(app):
    app.config["RATE_LIMIT_PUBLIC"] = f"{LIMIT} per minute"
    app.config["RATE_LIMIT_LOGIN"] = f"{LIMIT} per minute"
    return app


def phone(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def another_link(store, token):
    """A link of the same form for another village."""
    link = store.get_link(token)
    org = next(o for o in store.list_orgs() if o["kind"] == "village"
               and o["code"] != link["org_code"])
    return store.create_link(link["form_id"], org["code"])["token"]


def assert_refused(response):
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    if response.is_json:
        assert response.get_json() == {"error": "操作太频繁了，请稍等一分钟后再试。"}
    else:
        text = response.get_data(as_text=True)
        assert "请求过于频繁" in text and "请稍等一分钟后再试" in text


def test_a_link_refuses_an_address_after_its_limit(limited, entry, store):
    token, _org = entry
    village = phone(limited, "10.0.0.1")
    for _ in range(LIMIT):
        assert village.get(f"/f/{token}").status_code == 200
    assert_refused(village.get(f"/f/{token}"))
    refused = village.get(f"/f/{token}", headers={"Accept": "application/json"})
    assert refused.is_json
    assert_refused(refused)
    # another address on the same link, and the same address on another link, are not refused
    assert phone(limited, "10.0.0.2").get(f"/f/{token}").status_code == 200
    assert village.get(f"/f/{another_link(store, token)}").status_code == 200


def test_every_page_of_a_link_counts_together_and_a_refused_submit_stores_nothing(
        limited, entry, store):
    token, _org = entry
    village = phone(limited, "10.0.0.1")
    _html, hidden = open_form(village, token)
    assert village.get(f"/f/{token}/r/000000-0000").status_code == 404
    assert village.get(f"/f/{token}/r/000000-0001").status_code == 404
    refused = village.post(f"/f/{token}", data={**hidden, **VALID})  # the fourth request
    assert_refused(refused)
    assert store.count_submissions() == 0
    limited.config["RATE_LIMIT_PUBLIC"] = "off"  # the same submit, not refused, is stored
    assert village.post(f"/f/{token}", data={**hidden, **VALID}).status_code == 303
    assert store.count_submissions() == 1


def test_pages_outside_the_limits_are_not_counted(limited, entry):
    token, _org = entry
    client = phone(limited, "10.0.0.1")
    for _ in range(LIMIT * 3):
        assert client.get("/login").status_code == 200  # only login attempts are limited
        with client.get("/static/css/app.css") as static:
            assert static.status_code == 200
        assert client.get("/").status_code == 302
    assert client.get(f"/f/{token}").status_code == 200


def test_login_attempts_are_limited_per_address(limited):
    with limited.app_context():
        accounts.create_user(get_store(), *ADMIN, "admin")
    guesser = phone(limited, "10.0.0.9")
    for _ in range(LIMIT):
        assert login(guesser, password="guess-guess").status_code == 401
    assert_refused(login(guesser))  # even the right password: the address must wait
    assert phone(limited, "10.0.0.10").get("/login").status_code == 200
    assert login(phone(limited, "10.0.0.10")).status_code == 302


def test_a_window_that_ended_lets_the_address_in_again(limited, entry):
    token, _org = entry
    limited.config["RATE_LIMIT_PUBLIC"] = "2 per 1 second"
    village = phone(limited, "10.0.0.1")
    assert [village.get(f"/f/{token}").status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(1.1)
    assert village.get(f"/f/{token}").status_code == 200


@pytest.fixture
def other_worker(limited):
    """A second app on the same database, as another gunicorn worker or host would be."""
    other = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                        "DATA_DIR": limited.config["DATA_DIR"], "BASE_URL": BASE_URL,
                        "DATABASE_URL": limited.config["DATABASE_URL"],
                        "RATE_LIMIT_PUBLIC": f"{LIMIT} per minute"})
    yield other
    other.extensions["taizhang.store"].close()


def test_workers_count_in_one_place(limited, other_worker, entry):
    token, _org = entry
    workers = [phone(limited, "10.0.0.1"), phone(other_worker, "10.0.0.1")]
    for n in range(LIMIT):
        assert workers[n % 2].get(f"/f/{token}").status_code == 200
    for worker in workers:
        assert_refused(worker.get(f"/f/{token}"))


def test_behind_a_proxy_each_client_address_counts(limited, entry):
    token, _org = entry
    proxied = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                          "DATA_DIR": limited.config["DATA_DIR"], "BASE_URL": BASE_URL,
                          "DATABASE_URL": limited.config["DATABASE_URL"], "PROXY_COUNT": 1,
                          "RATE_LIMIT_PUBLIC": f"{LIMIT} per minute"})
    proxy = phone(proxied, "127.0.0.1")  # every request comes from the proxy's address
    try:
        for _ in range(LIMIT):
            response = proxy.get(f"/f/{token}", headers={"X-Forwarded-For": "203.0.113.7"})
            assert response.status_code == 200
        assert_refused(proxy.get(f"/f/{token}", headers={"X-Forwarded-For": "203.0.113.7"}))
        assert proxy.get(f"/f/{token}",
                         headers={"X-Forwarded-For": "198.51.100.20"}).status_code == 200
    finally:
        proxied.extensions["taizhang.store"].close()


def test_off_turns_a_limit_off(limited, entry):
    token, _org = entry
    limited.config["RATE_LIMIT_PUBLIC"] = "off"
    village = phone(limited, "10.0.0.1")
    assert {village.get(f"/f/{token}").status_code for _ in range(LIMIT * 3)} == {200}


@pytest.mark.parametrize("key", ["RATE_LIMIT_PUBLIC", "RATE_LIMIT_LOGIN", "RATE_LIMIT_API"])
def test_a_malformed_limit_stops_the_start(tmp_path, key):
    with pytest.raises(ValueError, match=key):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATA_DIR": str(tmp_path),
                    key: "sixty a minute"})


def test_a_counter_that_cannot_be_stored_lets_the_request_through(limited, entry, store,
                                                                  monkeypatch, caplog):
    token, _org = entry

    def broken(*args, **kwargs):
        raise StorageError("数据保存失败,请稍后重试")

    monkeypatch.setattr(store, "hit_counter", broken)
    village = phone(limited, "10.0.0.1")
    with caplog.at_level(logging.ERROR):
        assert {village.get(f"/f/{token}").status_code for _ in range(LIMIT + 2)} == {200}
    assert "Failed to rate limit" in caplog.text


def test_the_api_limit_is_read_from_the_environment(tmp_path, monkeypatch):
    from flask import Flask

    from config import load_config

    monkeypatch.setenv("TAIZHANG_RATE_LIMIT_API", "7 per minute")
    app = Flask("taizhang-config-test", instance_path=str(tmp_path))
    load_config(app)
    assert app.config["RATE_LIMIT_API"] == "7 per minute"
