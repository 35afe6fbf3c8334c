"""A real PostgreSQL server for the tests (a pytest plugin: tests/conftest.py loads it).

Once per test session it initializes a throwaway cluster in a temp folder (initdb from
/usr/lib/postgresql/<highest>/bin, else from PATH), starts it on a free loopback port with
``--auth=trust`` and fsync on (durability is part of what the tests check), migrates a template
database to the latest schema, and stops and removes everything at the end (also after Ctrl-C:
an atexit hook). As root, initdb and postgres run as the ``postgres`` OS user (they refuse
root), so the folder is made outside pytest's 0700 tmp and handed to that user.

``TAIZHANG_TEST_DATABASE_URL`` (an existing server where the test user may CREATE DATABASE)
replaces the throwaway cluster. Without PostgreSQL the tests that need it are skipped, except
under ``CI=true``, where they fail: .ci/run must install it.

Fixtures:

* ``pg_url`` — a database at the latest migration with no data, new for each test: a clone
  of the migrated template, ~0.1 s to make and 20 ms to drop (TRUNCATE of every table would
  take ~45 ms, but a clone guarantees that no test sees what another left behind: rows,
  triggers, open connections and locks, schema changes of the migration tests);
* ``pg_database`` — a factory: ``pg_database(migrated=False)`` makes an EMPTY database (no
  tables) for the migration tests; dropped after the test;
* ``pg_server`` — the server itself (``.admin_url``, ``.restart(mode)`` when we own it).
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

TEMPLATE = "taizhang_test_template"
ENV_URL = "TAIZHANG_TEST_DATABASE_URL"


def find_pg_bin() -> str | None:
    """The folder holding initdb and pg_ctl: Debian's highest version, else PATH's."""
    def version(path):
        name = path.split(os.sep)[-3]  # /usr/lib/postgresql/<name>/bin/initdb
        return [int(part) for part in name.split(".") if part.isdigit()]

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class LocalServer:
    """A PostgreSQL cluster of our own in a temp folder, run as the postgres user when root."""

    def __init__(self, bin_dir: str):
        self.bin_dir = bin_dir
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="taizhang-pg-")  # /tmp, not pytest's 0700 tmp
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.port = None
        self.running = False

    def _run(self, *args, check=True):
        return subprocess.run(
            [os.path.join(self.bin_dir, args[0]), *args[1:]], check=check,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            extra_groups=[] if self.user else None)

    def init(self):
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-instructions")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("\n# taizhang tests\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\n"
                       "fsync = on\nsynchronous_commit = on\nmax_connections = 200\n")

    def start(self):
        for attempt in range(5):  # the free port may be taken between probe and start
            self.port = free_port()
            result = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                               "-o", f"-p {self.port}", "start", check=False)
            if result.returncode == 0:
                self.running = True
                return
        raise RuntimeError(f"PostgreSQL did not start: {result.stdout}\n{self.server_log()}")

    def restart(self, mode: str = "fast"):
        """Restart the server; mode "immediate" is a crash (no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")
        self.running = False
        result = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                           "-o", f"-p {self.port}", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not restart: {result.stdout}")
        self.running = True

    @contextmanager
    def down(self):
        """The server stopped for the duration of the block (a database host gone away),
        then started again on the same port."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        self.running = False
        try:
            yield
        finally:
            result = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                               "-o", f"-p {self.port}", "start", check=False)
            if result.returncode != 0:
                raise RuntimeError(f"PostgreSQL did not start again: {result.stdout}")
            self.running = True

    def stop(self):
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_log(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class ExternalServer:
    """A server given by TAIZHANG_TEST_DATABASE_URL: we may create and drop databases."""

    def __init__(self, url: str):
        self.admin_url = url

    def restart(self, mode: str = "fast"):
        pytest.skip("the server of TAIZHANG_TEST_DATABASE_URL is not ours to restart")

    def stop(self):
        pass


def admin_execute(admin_url: str, *statements: str):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def drop_database(admin_url: str, name: str):
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server of this test session, its template database migrated."""
    url = os.environ.get(ENV_URL)
    if url:
        server = ExternalServer(url)
    else:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true but PostgreSQL (initdb, pg_ctl) is not installed: "
                            ".ci/run must install it", pytrace=False)
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql), "
                        f"and {ENV_URL} is not set")
        server = LocalServer(bin_dir)
        atexit.register(server.stop)  # Ctrl-C, or a session that dies before teardown
        server.init()
        server.start()
    from storage.pg import migrate

    drop_database(server.admin_url, TEMPLATE)
    admin_execute(server.admin_url, f'CREATE DATABASE "{TEMPLATE}"')
    migrate(with_database(server.admin_url, TEMPLATE))
    yield server
    drop_database(server.admin_url, TEMPLATE)
    server.stop()


@pytest.fixture
def pg_database(pg_server):
    """make(migrated=False) -> the URL of a new database: empty (no tables at all), or a
    clone of the migrated template. Every database made is dropped after the test."""
    made = []

    def make(migrated: bool = False) -> str:
        name = f"taizhang_test_{uuid.uuid4().hex[:12]}"
        if migrated:
            admin_execute(pg_server.admin_url,
                          f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        else:
            admin_execute(pg_server.admin_url, f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(pg_server.admin_url, name)

    yield make
    for name in made:
        for attempt in range(3):
            try:
                drop_database(pg_server.admin_url, name)
                break
            except Exception:  # the server may be restarting after a crash test
                if attempt == 2:
                    raise
                time.sleep(1)


@pytest.fixture
def pg_url(pg_database):
    """A database at the latest migration, with no data, for this test alone."""
    return pg_database(migrated=True)
