"""The two storage backends as the benchmarks see them (issue 7).

A measurement runs against a ``Deployment``: a data folder (``TAIZHANG_DATA_DIR``: the TinyDB
file, or for PostgreSQL only the host's secret key) and, for PostgreSQL, one database of the
bench's own server (``TAIZHANG_DATABASE_URL``). Base deployments are built once per (backend,
size) with the operator commands and reused; every measurement that writes gets a fresh copy:

  TinyDB       bench/out/base/n<SIZE>/ (common.build_base), copied to bench/out/work/<name>/
  PostgreSQL   database demo_n<SIZE> + folder bench/out/pg/bases/demo_n<SIZE>/ (its
               manifest), copied with CREATE DATABASE work_<name> TEMPLATE demo_n<SIZE>
               (STRATEGY FILE_COPY) + a copy of the folder in bench/out/work/

The PostgreSQL server (``PgCluster``) is the bench's own: initdb in bench/out/pg/data (same
disk as everything else; BENCH_PG_DIR moves it), started on a free loopback port by whichever
bench process needs it first and stopped by that process at its end (run_all.py starts it once
for all its children). As root, initdb and postgres run as the ``postgres`` user. Settings:
PostgreSQL 15's defaults - fsync, synchronous_commit and full_page_writes on - except
PG_SETTINGS, what a small deployment on a machine like this one would set.
"""
import atexit
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

BACKENDS = ("tinydb", "postgresql")
LABELS = {"tinydb": "TinyDB", "postgresql": "PostgreSQL"}
PG_DIR = os.environ.get("BENCH_PG_DIR") or os.path.join(common.OUT, "pg")

# What a sane small deployment changes from PostgreSQL's defaults (which are sized for a
# 1990s machine): memory for the page cache PostgreSQL keeps itself and for the planner's
# estimate of the OS cache, for index builds and VACUUM, fewer forced checkpoints during bulk
# loads, and random reads priced as on an SSD / virtual disk. Durability is left at the
# defaults (listed in DURABILITY and checked at start).
PG_SETTINGS = {
    "shared_buffers": "1GB",
    "effective_cache_size": "8GB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "random_page_cost": "1.1",
}
DURABILITY = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def backends_of(text):
    names = [b.strip() for b in (text or ",".join(BACKENDS)).split(",") if b.strip()]
    for name in names:
        if name not in BACKENDS:
            raise SystemExit(f"unknown backend {name!r}: choose among {', '.join(BACKENDS)}")
    return names


def add_backends_arg(parser):
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated storage backends (default {','.join(BACKENDS)})")


# ---------------------------------------------------------------- the PostgreSQL server

def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.split(os.sep)[-3].split(".") if x.isdigit()])
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")


class PgCluster:
    """The bench's PostgreSQL server (see the module docstring)."""

    def __init__(self, folder=PG_DIR):
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.log = os.path.join(folder, "server.log")
        self.bin = pg_bin()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.port = None
        self.started_here = False

    def _run(self, *args, check=True, timeout=600):
        done = subprocess.run(
            [os.path.join(self.bin, args[0]), *args[1:]], check=False, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            extra_groups=[] if self.user else None)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{self.server_log()}")
        return done

    def server_log(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def _init(self):
        os.makedirs(self.folder, exist_ok=True)
        if self.user:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        common.log(f"initdb {os.path.relpath(self.data, common.ROOT)} ...")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-instructions")
        lines = ["", "# taizhang bench (bench/backends.py)", "listen_addresses = '127.0.0.1'",
                 f"unix_socket_directories = '{self.folder}'"]
        lines += [f"{k} = '{v}'" for k, v in {**DURABILITY, **PG_SETTINGS}.items()]
        with open(os.path.join(self.data, "postgresql.conf"), "a", encoding="utf-8") as conf:
            conf.write("\n".join(lines) + "\n")

    def _running_port(self):
        """The port of a server already running on this data folder, or None."""
        pid_file = os.path.join(self.data, "postmaster.pid")
        if not os.path.exists(pid_file):
            return None
        if self._run("pg_ctl", "-D", self.data, "status", check=False).returncode != 0:
            return None
        with open(pid_file, encoding="ascii") as f:
            lines = f.read().splitlines()
        return int(lines[3])

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def ensure_running(self):
        if self.port:
            return self
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            shutil.rmtree(self.folder, ignore_errors=True)
            self._init()
        self.port = self._running_port()
        if self.port:
            return self
        for _attempt in range(5):  # the free port may be taken between probe and start
            port = common.free_port()
            done = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120",
                             "-o", f"-p {port}", "start", check=False)
            if done.returncode == 0:
                self.port, self.started_here = port, True
                atexit.register(self.stop)
                common.log(f"PostgreSQL started on port {port} ({self.version()})")
                return self
        raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}\n{self.server_log()}")

    def stop(self):
        if self.started_here and self.port:
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
            common.log("PostgreSQL stopped")
        self.port, self.started_here = None, False

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def query(self, sql, params=(), database="postgres"):
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def execute(self, *statements, database="postgres"):
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def exists(self, database):
        return bool(self.query("SELECT 1 FROM pg_database WHERE datname = %s", (database,)))

    def drop(self, database):
        self.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def copy_database(self, template, database):
        """A new database with the content of ``template``, file by file (checkpointed, so
        its pages are on disk before the measurement starts)."""
        self.drop(database)
        self.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}" STRATEGY FILE_COPY')

    def size_mb(self, database):
        return self.query("SELECT pg_database_size(%s)", (database,))[0][0] / 1e6

    def version(self):
        return self.query("SHOW server_version")[0][0]

    def settings(self):
        names = sorted({*DURABILITY, *PG_SETTINGS, "max_connections", "work_mem"})
        return dict(self.query("SELECT name, current_setting(name) FROM pg_settings "
                               "WHERE name = ANY(%s) ORDER BY name", (names,)))

    def cpu_seconds(self):
        """CPU used so far by the whole server: the postmaster with its exited children
        (cutime/cstime: backends of closed connections) plus every live child process."""
        pid = self.postmaster_pid()
        if pid is None:
            return 0.0
        total = _stat_cpu(pid, children=True)
        for child in common.child_pids(pid):
            total += _stat_cpu(child)
        return total


def _stat_cpu(pid, children=False):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


_CLUSTER = None


def cluster():
    """The bench's PostgreSQL server, running (started by this process if it was not)."""
    global _CLUSTER
    if _CLUSTER is None:
        _CLUSTER = PgCluster()
    return _CLUSTER.ensure_running()


def running_cluster():
    """The bench's server if this process already uses it, else None (no start)."""
    return _CLUSTER if _CLUSTER is not None and _CLUSTER.port else None


def database_cpu_seconds():
    """CPU used so far by the bench's PostgreSQL server (0 when it is not in use)."""
    server = running_cluster()
    return server.cpu_seconds() if server else 0.0


# ---------------------------------------------------------------- deployments

class Deployment:
    """Where one measurement's data lives: a data folder and, on PostgreSQL, a database."""

    def __init__(self, backend, data_dir, database=None):
        self.backend = backend
        self.data_dir = data_dir
        self.database = database
        if backend == "postgresql":
            cluster()  # from now on its CPU is measured (database_cpu_seconds)

    @property
    def label(self):
        return LABELS[self.backend]

    @property
    def url(self):
        return cluster().url(self.database) if self.backend == "postgresql" else None

    def extra_env(self):
        return {"TAIZHANG_DATABASE_URL": self.url} if self.url else {}

    def env(self, base_url="http://127.0.0.1:5000", workers=2):
        return {**common.env_for(self.data_dir, base_url, workers), **self.extra_env()}

    def flask(self, *args, input=None, timeout=3600):
        """`flask --app app ARGS` on this deployment; its stdout (raises on failure)."""
        done = subprocess.run([common.PY, "-m", "flask", "--app", "app", *args], cwd=common.ROOT,
                              env=self.env(), input=input, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")
        return done.stdout

    def open_store(self):
        """This deployment's Store, in this process (close it after use)."""
        import storage

        return storage.open_store(self.url, self.data_dir)

    def gunicorn(self, app_spec="app:create_app()", workers=2, extra_env=None):
        return common.Gunicorn(app_spec, self.data_dir, workers,
                               {**self.extra_env(), **(extra_env or {})})

    def run_child(self, args, timeout=600):
        """common.run_child with this deployment's environment."""
        return common.run_child(args, timeout=timeout, env=self.env())

    def count(self, form_id=None):
        """Stored submissions (of form_id), counted by a fresh process."""
        code = ("import json, os, sys, storage\n"
                "s = storage.open_store(os.environ.get('TAIZHANG_DATABASE_URL'), "
                "os.environ['TAIZHANG_DATA_DIR'])\n"
                "print(json.dumps(s.count_submissions(sys.argv[1] or None))); s.close()")
        return self.run_child(["-c", code, form_id or ""], timeout=300)

    def size_mb(self):
        if self.backend == "postgresql":
            return cluster().size_mb(self.database)
        return os.path.getsize(os.path.join(self.data_dir, common.DB_NAME)) / 1e6

    def vacuum_analyze(self):
        """What autovacuum does to a table some time after a bulk load (visibility map for
        index-only scans, statistics for the planner), done at once."""
        if self.backend == "postgresql":
            cluster().execute("VACUUM (ANALYZE)", database=self.database)


def fresh_copy(base, name):
    """A throw-away copy of a base deployment for one measurement."""
    folder = common.fresh_copy(base.data_dir, f"{base.backend}-{name}")
    if base.backend == "tinydb":
        return Deployment("tinydb", folder)
    database = "work_" + "".join(c if c.isalnum() else "_" for c in name)
    cluster().copy_database(base.database, database)
    return Deployment("postgresql", folder, database)


def remove_copy(copy):
    common.remove_copy(copy.data_dir)
    if copy.backend == "postgresql" and copy.database.startswith("work_"):
        cluster().drop(copy.database)


def content_fingerprint(*extra):
    """What the content of a PostgreSQL base depends on (common.content_fingerprint; not the
    storage code: a base is migrated to the latest schema when reused)."""
    return common.content_fingerprint(*extra)


def pg_base(name, build, fingerprint, rebuild=False):
    """The PostgreSQL base ``name`` (database) with its data folder: reused when its manifest
    matches ``fingerprint`` (and migrated to the latest schema), else built by
    ``build(deployment) -> manifest``. The folder and its manifest live beside the server
    (PG_DIR/bases/<name>/), so that every tree using the server (a --snapshot run, the
    working tree) agrees on what each database holds."""
    server = cluster()
    folder = os.path.join(server.folder, "bases", name)
    deployment = Deployment("postgresql", folder, name)
    manifest = common.read_manifest(folder)
    if (not rebuild and manifest and manifest.get("fingerprint") == fingerprint
            and manifest.get("database") == name and server.exists(name)):
        import storage

        before, after = storage.migrate(deployment.url)
        if before != after:
            common.log(f"{name}: schema migrated {before} -> {after}")
            deployment.vacuum_analyze()
        return deployment, manifest
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    server.drop(name)
    server.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    manifest = build(deployment)
    deployment.vacuum_analyze()
    server.execute("CHECKPOINT")
    manifest.update({"fingerprint": fingerprint, "database": name,
                     "build_s": round(time.perf_counter() - started, 1),
                     "db_mb": round(server.size_mb(name), 1),
                     "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "commit": common.git_commit()[0]})
    common.write_manifest(folder, manifest)
    return deployment, manifest


def _demo_manifest(deployment, size):
    """Build the demo base the way common.build_base builds the TinyDB one."""
    common.log(f"building PostgreSQL base demo_n{size} ...")
    deployment.flask("init")
    seeded = time.perf_counter()
    deployment.flask("seed-demo", "--submissions", str(size), "--seed", str(common.SEED))
    seed_s = time.perf_counter() - seeded
    deployment.flask("create-user", common.ADMIN[0], "--role", "admin", "--password-stdin",
                     input=common.ADMIN[1] + "\n")
    links = [line.split("\t") for line in deployment.flask("links", common.SUBMIT_FORM)
             .splitlines() if line.strip()]
    with deployment.open_store() as store:
        orgs = store.list_orgs()
        counts = {"total": store.count_submissions(),
                  common.SUBMIT_FORM: store.count_submissions(common.SUBMIT_FORM),
                  "monthly_report": store.count_submissions("monthly_report"),
                  "projects": len(store.list_projects())}
    villages = [o["code"] for o in orgs if o["kind"] == "village"]
    by_code = {code: url.rsplit("/", 1)[-1] for code, _name, url in links}
    common.log(f"  demo_n{size}: {counts['total']} submissions, seed-demo {seed_s:.1f} s")
    return {"size": size, "seed": common.SEED, "seed_demo_s": round(seed_s, 2),
            "entry_form": common.SUBMIT_FORM,
            "counts": counts, "townships": [o["code"] for o in orgs if o["kind"] == "township"],
            "entry_org": villages[0], "entry_token": by_code[villages[0]]}


def base(backend, size, rebuild=False):
    """(Deployment, manifest) of the demo base at ``size`` (flask init + seed-demo, an admin
    user, the links of common.SUBMIT_FORM) on ``backend``."""
    if backend == "tinydb":
        folder, manifest = common.build_base(size, rebuild)
        return Deployment("tinydb", folder), manifest
    return pg_base(f"demo_n{size}", lambda d: _demo_manifest(d, size),
                   common.demo_fingerprint(size), rebuild)


def describe_server():
    """Version and settings of the bench's PostgreSQL server (for the report)."""
    server = running_cluster()
    if server is None:
        return None
    data = server.data
    if data.startswith(common.ROOT + os.sep):
        data = os.path.relpath(data, common.ROOT)
    return {"version": server.version(), "settings": server.settings(),
            "changed_from_defaults": PG_SETTINGS, "data": data,
            "filesystem": common._filesystem(server.folder)}


def dump(path, data):
    common.dump_json(path, data)


def main():
    """start: start the server and leave it running (prints its URL); stop: stop it."""
    action = sys.argv[1] if len(sys.argv) > 1 else "start"
    server = PgCluster()
    if action == "start":
        server.ensure_running()
        server.started_here = False  # leave it running
        print(server.url())
    elif action == "stop":
        server.port = server._running_port()
        server.started_here = bool(server.port)
        server.stop()
    else:
        raise SystemExit("usage: bench/backends.py [start|stop]")


if __name__ == "__main__":
    main()
