"""Several hosts, one truth: two application hosts (each its own DATA_DIR and gunicorn) on one
PostgreSQL database behave as one service, as behind a load balancer."""
import concurrent.futures
import io
import os
import random
import re
import uuid

import pytest
from PIL import Image

from seed_data.demo_answers import fake_answers, to_formdata
from support.server import ROOT, Browser, Server

pytestmark = pytest.mark.slow

ADMIN = ("admin", "correct horse battery")


@pytest.fixture
def hosts(tmp_path, pg_url):
    """Hosts A and B: separate data folders and servers, one database."""
    env = {"TAIZHANG_DATABASE_URL": pg_url}
    # each host made its own random secret key, as `make serve` does on a new machine
    a = Server(tmp_path / "host-a", workers=2, extra_env=env, secret_file=True)
    b = Server(tmp_path / "host-b", workers=2, extra_env=env, secret_file=True)
    assert key_of(a) != key_of(b)
    a.flask("init")  # creates the schema and the built-in forms; its key becomes the shared one
    b.flask("init")  # finds everything in place and adopts the shared key
    assert key_of(a) == key_of(b)
    a.flask("create-user", ADMIN[0], "--role", "admin", "--password-stdin",
            input=ADMIN[1] + "\n")
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def key_of(host):
    with open(os.path.join(host.data_dir, "secret_key")) as f:
        return f.read().strip()


def test_a_host_with_another_explicit_secret_key_is_told_to_share(tmp_path, pg_url):
    env = {"TAIZHANG_DATABASE_URL": pg_url}
    Server(tmp_path / "a", extra_env={**env, "TAIZHANG_SECRET_KEY": "key-of-a"}).flask("init")
    b = Server(tmp_path / "b", extra_env={**env, "TAIZHANG_SECRET_KEY": "key-of-b"})
    result = b.flask("init", check=False)
    assert result.returncode != 0 and "各主机必须使用同一个密钥" in result.stderr


def entry_tokens(host, form_id, count):
    lines = host.flask("links", form_id).stdout.strip().splitlines()
    return [line.split("\t")[2].rsplit("/", 1)[1] for line in lines][:count]


def form_pairs(seed):
    from forms.loader import load_schema_file

    # 群众诉求征集: any number per village (a monthly report is one per project and month).
    schema = load_schema_file(os.path.join(ROOT, "schemas", "public_demand.json"))
    return to_formdata(schema["fields"], fake_answers(schema, random.Random(seed)))


def receipt_of(headers):
    return headers["Location"].rsplit("/", 1)[-1]


def test_a_link_made_on_one_host_works_on_the_other_and_a_retry_keeps_its_receipt(hosts):
    a, b = hosts
    [token] = entry_tokens(a, "public_demand", 1)
    phone = Browser()
    csrf = phone.csrf(f"{b.url}/f/{token}")  # the QR link, served by the other host
    sid = uuid.uuid4().hex
    fields = [("csrf_token", csrf), ("submission_id", sid), *form_pairs(1)]
    status, headers, _ = phone.post(f"{b.url}/f/{token}", fields)
    assert status == 303
    receipt = receipt_of(headers)
    # the response was lost; the phone retries and the balancer picks host A
    status, headers, _ = phone.post(f"{a.url}/f/{token}", fields)
    assert status == 303 and receipt_of(headers) == receipt
    status, _, body = phone.get(f"{a.url}/f/{token}/r/{receipt}")
    assert status == 200 and receipt in body.decode()


def test_receipts_never_collide_across_hosts(hosts):
    a, b = hosts
    tokens = entry_tokens(a, "public_demand", 4)

    def fill(n):
        host = (a, b)[n % 2]
        token = tokens[n % len(tokens)]
        phone = Browser()
        csrf = phone.csrf(f"{host.url}/f/{token}")
        status, headers, _ = phone.post(f"{host.url}/f/{token}", [
            ("csrf_token", csrf), ("submission_id", uuid.uuid4().hex), *form_pairs(n)])
        return status, receipt_of(headers) if status == 303 else None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fill, range(80)))
    assert [status for status, _ in results] == [303] * 80
    receipts = sorted(receipt for _, receipt in results)
    assert len(set(receipts)) == 80
    days = {r.split("-")[0] for r in receipts}
    if len(days) == 1:  # (unless the run crossed midnight) numbered 1..80 without a gap
        assert [int(r.split("-")[1]) for r in receipts] == list(range(1, 81))


def test_a_photo_uploaded_through_one_host_is_shown_by_the_other(hosts, tmp_path):
    a, b = hosts
    a.flask("load-form", os.path.join(ROOT, "tests", "data", "t_photo.json"))
    [token] = entry_tokens(a, "t_photo", 1)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(buf, "JPEG")
    photo = buf.getvalue()
    phone = Browser()
    csrf = phone.csrf(f"{a.url}/f/{token}")
    status, headers, _ = phone.post(
        f"{a.url}/f/{token}", [("csrf_token", csrf), ("submission_id", uuid.uuid4().hex),
                               ("title", "村部新貌")],
        files=[("photo", "村部.jpg", photo, "image/jpeg")])
    assert status == 303
    receipt = receipt_of(headers)
    admin = Browser()
    assert admin.login(b.url, *ADMIN) == 302
    status, _, page = admin.get(f"{b.url}/admin/submissions/{receipt}")
    assert status == 200
    name = re.search(r'/admin/uploads/([0-9a-f]{2}/[0-9a-f]{32}\.jpg)', page.decode()).group(1)
    status, headers, data = admin.get(f"{b.url}/admin/uploads/{name}")
    assert status == 200 and data == photo
    assert "public" not in headers.get("Cache-Control", "")


def test_logout_on_one_host_ends_the_session_on_the_other(hosts):
    a, b = hosts
    admin = Browser()
    assert admin.login(a.url, *ADMIN) == 302
    assert admin.get(f"{b.url}/admin/")[0] == 200  # the session is known to host B
    stolen = Browser()  # a copy of the session cookie, kept after the logout
    for cookie in admin.cookies:
        stolen.cookies.set_cookie(cookie)
    csrf = admin.csrf(f"{a.url}/admin/")
    assert admin.post(f"{a.url}/logout", [("csrf_token", csrf)])[0] == 302
    assert stolen.get(f"{b.url}/admin/")[0] == 302
    assert stolen.get(f"{a.url}/admin/")[0] == 302


def test_login_failures_are_counted_once_for_both_hosts(hosts):
    a, b = hosts
    guesser = Browser()
    for attempt in range(10):
        host = (a, b)[attempt % 2]
        assert guesser.login(host.url, ADMIN[0], "guess-guess") == 401
    for host in (a, b):
        token = guesser.csrf(host.url + "/login")
        status, headers, body = guesser.post(host.url + "/login", [
            ("csrf_token", token), ("username", ADMIN[0]), ("password", ADMIN[1])])
        assert status == 429
        assert re.search(r"请 \d+ 分钟后再试", body.decode())
