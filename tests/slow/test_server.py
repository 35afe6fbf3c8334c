"""The production server under load: gunicorn with several workers on one database file."""
import concurrent.futures
import multiprocessing
import random
import uuid

import pytest

from seed_data.demo_answers import fake_answers, to_formdata
from support.server import Cadre, Server
from storage import TinyStore as Store

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path / "data", workers=4)
    server.flask("init")
    yield server
    server.stop()


def entry_urls(server, form_id, count):
    """Entry URLs of `count` organizations, made the way an operator does (`flask links`)."""
    out = server.flask("links", form_id).stdout.strip().splitlines()
    return [line.split("\t")[2] for line in out][:count]


def submit_many(args):
    url, seed, count = args
    rng = random.Random(seed)
    cadre = Cadre(url)
    schema = cadre_schema()
    results = []
    for _ in range(count):
        pairs = to_formdata(schema["fields"], fake_answers(schema, rng))
        results.append(cadre.submit(pairs, uuid.uuid4().hex))
    return results


# 群众诉求征集: any number of submissions per village (a monthly report is one per project
# and month, and names a project).
FORM = "public_demand"


def cadre_schema():
    from forms.loader import load_schema_file
    import os

    return load_schema_file(os.path.join(os.path.dirname(__file__), "..", "..", "schemas",
                                         f"{FORM}.json"))


def test_eight_processes_times_250_submissions_over_http(server):
    server.start()
    urls = entry_urls(server, FORM, 8)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = [r for batch in pool.map(submit_many, [(u, i, 250) for i, u in enumerate(urls)])
                   for r in batch]
    assert [status for status, _ in results] == [303] * 2000
    receipts = [receipt for _, receipt in results]
    assert len(set(receipts)) == 2000
    server.stop()
    with Store(f"{server.data_dir}/taizhang.db") as store:
        assert store.count_submissions(FORM) == 2000
        total, docs = store.query_submissions(FORM)
        assert total == 2000 and {d["receipt"] for d in docs} == set(receipts)


def test_same_payload_ten_times_concurrently_is_one_record(server):
    server.start()
    url = entry_urls(server, FORM, 1)[0]
    schema = cadre_schema()
    pairs = to_formdata(schema["fields"], fake_answers(schema, random.Random(7)))
    submission_id = uuid.uuid4().hex
    cadre = Cadre(url)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: cadre.submit(pairs, submission_id), range(10)))
    assert {status for status, _ in results} == {303}
    assert len({receipt for _, receipt in results}) == 1
    changed = [(k, v + "改") if k == "content" else (k, v) for k, v in pairs]
    assert cadre.submit(changed, submission_id)[0] == 409
    server.stop()
    with Store(f"{server.data_dir}/taizhang.db") as store:
        assert store.count_submissions(FORM) == 1


def test_kill_9_of_the_whole_server_loses_no_acknowledged_submission(server):
    urls = None
    for round_number in range(3):
        server.start()
        urls = urls or entry_urls(server, FORM, 4)
        acknowledged, refused = [], []
        schema = cadre_schema()
        rng = random.Random(round_number)

        def load(url):
            cadre = Cadre(url)
            while True:
                pairs = to_formdata(schema["fields"], fake_answers(schema, rng))
                try:
                    status, receipt = cadre.submit(pairs, uuid.uuid4().hex)
                except OSError:
                    return  # the server is gone: the only way this loop may end
                if status != 303:
                    refused.append(status)  # a 500 or 503 before the kill is a failure
                    return
                acknowledged.append(receipt)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(load, u) for u in urls]
            while len(acknowledged) < 40 + 30 * round_number:
                if any(f.done() for f in futures):
                    break
                concurrent.futures.wait(futures, timeout=0.05)
            server.kill()
            for f in futures:
                f.result(timeout=60)
        assert not refused, f"round {round_number}: answered {refused} before the kill"
        assert acknowledged, "no submission was acknowledged before the kill"
        with Store(f"{server.data_dir}/taizhang.db") as store:
            stored = {d["receipt"] for d in store.query_submissions(FORM)[1]}
        missing = set(acknowledged) - stored
        assert not missing, f"round {round_number}: acknowledged but lost: {sorted(missing)[:5]}"
