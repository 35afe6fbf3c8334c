"""Operator commands for the database (backup, restore, check-db, seed-demo) and loud
failure: a write that fails returns 503 and leaves the database as it was."""
import errno
import io
import os
import re
import shutil
import zipfile

import pytest
from PIL import Image

from seed import seed_demo, seed_first_start
from storage import TinyStore
from support.helpers import VALID, db_file, open_form


def db_bytes(app):
    with open(db_file(app), "rb") as f:
        return f.read()


def test_seed_demo_fills_realistic_submissions(runner, store):
    result = runner.invoke(args=["seed-demo", "--submissions", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert store.count_submissions() == 300
    total, docs = store.query_submissions("monthly_report")
    assert total > 50
    assert all(re.fullmatch(r"\d{6}-\d{4}", d["receipt"]) for d in docs)
    assert len({d["receipt"] for d in store.query_submissions(None)[1]}) == 300
    dates = [d["submitted_at"] for d in docs]
    assert dates == sorted(dates, reverse=True)  # newest first really is newest first
    orgs = {o["code"] for o in store.list_orgs()}
    assert {d["org_code"] for d in docs} <= orgs


def test_backup_restore_and_check_db(app, runner, store, tmp_path):
    runner.invoke(args=["seed-demo", "--submissions", "50", "--seed", "1"])
    photo = store.put_photo(png(), "image/png")
    backup = tmp_path / "nightly"
    backup.mkdir()
    result = runner.invoke(args=["backup", str(backup)])
    assert result.exit_code == 0, result.output
    [snapshot] = list(backup.iterdir())
    assert re.fullmatch(r"taizhang-\d{8}-\d{6}\.zip", snapshot.name)
    assert "submissions 50" in result.output and "photos 1" in result.output
    receipts = {d["receipt"] for d in store.query_submissions(None)[1]}

    runner.invoke(args=["seed-demo", "--submissions", "5"])
    refused = runner.invoke(args=["restore", str(snapshot)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert store.count_submissions() == 55
    restored = runner.invoke(args=["restore", str(snapshot), "--force"])
    assert restored.exit_code == 0, restored.output
    assert store.count_submissions() == 50  # the live Store sees the restored data
    assert {d["receipt"] for d in store.query_submissions(None)[1]} == receipts
    assert store.get_photo(photo)["data"] == png()

    check = runner.invoke(args=["check-db"])
    assert check.exit_code == 0 and "submissions 50" in check.output and "ok" in check.output
    assert runner.invoke(args=["check-db", str(snapshot)]).exit_code == 0
    with zipfile.ZipFile(snapshot) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    damaged = bytearray(members["submissions.jsonl"])
    damaged[len(damaged) // 2] ^= 0x01
    members["submissions.jsonl"] = bytes(damaged)
    with zipfile.ZipFile(snapshot, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    corrupt = runner.invoke(args=["check-db", str(snapshot)])
    assert corrupt.exit_code != 0 and "submissions.jsonl" in corrupt.output
    assert runner.invoke(args=["restore", str(snapshot), "--force"]).exit_code != 0
    assert store.count_submissions() == 50


def test_restore_reads_a_backup_of_the_earlier_log_format(app, runner, store, tmp_path):
    """Nightly backups made before the portable format (copies of the TinyDB file) restore,
    into either backend."""
    old = tmp_path / "taizhang-20261120-023000.db"
    with TinyStore(old) as legacy:
        seed_first_start(legacy)
        seed_demo(legacy, 20, seed=2)
        receipts = {d["receipt"] for d in legacy.query_submissions(None)[1]}
    runner.invoke(args=["seed-demo", "--submissions", "5"])
    assert runner.invoke(args=["check-db", str(old)]).exit_code == 0
    result = runner.invoke(args=["restore", str(old), "--force"])
    assert result.exit_code == 0, result.output
    assert {d["receipt"] for d in store.query_submissions(None)[1]} == receipts


@pytest.mark.tinydb_only
def test_check_db_reports_a_torn_last_line_without_failing(app, runner, store):
    with open(db_file(app), "ab") as f:
        f.write(b'{"crc":"00000000","len":[5],"ops":[["put"')
    result = runner.invoke(args=["check-db"])
    assert result.exit_code == 0 and "torn" in result.output


def png():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.tinydb_only
@pytest.mark.parametrize("call", ["write", "fsync"])
def test_failed_write_is_503_and_changes_nothing(app, client, entry, store, monkeypatch, call):
    token, _ = entry
    html, hidden = open_form(client, token)
    before = db_bytes(app)
    real = getattr(os, call)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, call, disk_full)
    response = client.post(f"/f/{token}", data={**hidden, **VALID})
    monkeypatch.setattr(os, call, real)
    assert response.status_code == 503
    assert "数据保存失败" in response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert db_bytes(app) == before
    assert store.count_submissions("t_project") == 0
    retry = client.post(f"/f/{token}", data={**hidden, **VALID})
    assert retry.status_code == 303  # the same page, resent, now goes through
    assert store.count_submissions("t_project") == 1


@pytest.mark.tinydb_only
def test_failed_photo_write_is_503(app, client, entry, store, monkeypatch):
    token, _ = entry
    html, hidden = open_form(client, token)
    before = db_bytes(app)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    response = client.post(f"/f/{token}", data={**hidden, **VALID,
                                                "photo": (io.BytesIO(png()), "p.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 503
    assert db_bytes(app) == before


def test_database_server_down_is_503_then_the_resend_goes_through(app, app_backend, client,
                                                                 entry, store, request):
    """PostgreSQL stops while a cadre submits: a Chinese 503, nothing stored; the same page
    sent again once the server is back is stored once."""
    if app_backend != "postgresql":
        pytest.skip("the PostgreSQL server going away")
    server = request.getfixturevalue("pg_server")
    token, _ = entry
    html, hidden = open_form(client, token)
    if not hasattr(server, "down"):
        pytest.skip("an external test server (TAIZHANG_TEST_DATABASE_URL) is not ours to stop")
    with server.down():
        response = client.post(f"/f/{token}", data={**hidden, **VALID})
    assert response.status_code == 503
    assert "数据保存失败" in response.get_data(as_text=True)
    assert "Location" not in response.headers
    retry = client.post(f"/f/{token}", data={**hidden, **VALID})
    assert retry.status_code == 303
    assert store.count_submissions("t_project") == 1


@pytest.mark.parametrize("command", ["backup", "restore", "check-db", "seed-demo"])
def test_help(runner, command):
    result = runner.invoke(args=[command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_photos_in_a_configured_folder(app, client, entry, store, tmp_path):
    """TAIZHANG_PHOTOS_DIR: photos go to a folder every host mounts (PostgreSQL keeps them in
    the database otherwise; TinyDB in DATA_DIR/uploads)."""
    from app import create_app
    from db import get_store

    shared = tmp_path / "shared-photos"
    other = create_app({**{k: app.config[k] for k in ("TESTING", "SECRET_KEY", "DATA_DIR",
                                                       "DATABASE_URL", "BASE_URL")},
                        "PHOTOS_DIR": str(shared)})
    try:
        with other.app_context():
            name = get_store().put_photo(png(), "image/png")
        assert (shared / name).read_bytes() == png()
        assert not (tmp_path / "data" / "uploads" / name).exists()
    finally:
        other.extensions["taizhang.store"].close()
