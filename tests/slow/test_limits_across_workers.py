"""Rate limits under the production server: two gunicorn workers count in one place (the
TinyDB counters file, or PostgreSQL), so a limit of 10 per minute lets exactly 10 requests of
a client through, whichever worker answers each."""
import concurrent.futures
import time
import urllib.error
import urllib.request

import pytest

from support.server import Server

pytestmark = pytest.mark.slow

LIMIT = 10


@pytest.fixture(params=["tinydb", "postgresql"])
def server(tmp_path, request):
    env = {"TAIZHANG_RATE_LIMIT_PUBLIC": f"{LIMIT} per minute"}
    if request.param == "postgresql":
        env["TAIZHANG_DATABASE_URL"] = request.getfixturevalue("pg_url")
    server = Server(tmp_path / "data", workers=2, extra_env=env)
    server.flask("init")
    log = tmp_path / "access.log"
    server.start(access_log=log)
    yield server, log
    server.stop()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def answered(log, path, count):
    """[(worker pid, status)] of the requests for path in gunicorn's access log (waiting for
    the count expected: a line is written once its response is sent)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line.split() for line in log.read_text().splitlines()]
        found = [(pid, int(status)) for pid, status, logged in lines if logged == path]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_two_workers_share_one_count(server):
    server, log = server
    links = server.flask("links", "monthly_report").stdout.strip().splitlines()
    tokens = [line.split("\t")[2].rsplit("/", 1)[1] for line in links]
    for token in tokens[:5]:  # a fresh link (a fresh count) until both workers took part
        path = f"/f/{token}"
        with concurrent.futures.ThreadPoolExecutor(2 * LIMIT) as pool:
            results = list(pool.map(fetch, [server.url + path] * (2 * LIMIT)))
        statuses = sorted(status for status, _, _ in results)
        # Counts of their own would let each worker pass up to LIMIT: more than LIMIT in all.
        assert statuses == [200] * LIMIT + [429] * LIMIT
        by_worker = answered(log, path, 2 * LIMIT)
        assert sorted(status for _, status in by_worker) == statuses
        passed = {pid for pid, status in by_worker if status == 200}
        refused = {pid for pid, status in by_worker if status == 429}
        if len(passed) == 2 and len(refused) == 2:
            break
    else:
        pytest.fail("the requests never reached both workers")
    for status, headers, body in results:
        if status == 429:
            assert 1 <= int(headers["Retry-After"]) <= 60
            assert "请求过于频繁" in body
    assert [fetch(server.url + path)[0] for _ in range(4)] == [429] * 4
