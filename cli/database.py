"""The database: init, backup, restore, check-db, prune-photos."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

import storage
from cli import audit, fail
from db import get_store
from seed import seed_first_start
from services import deployment, photos
from storage import portable


def _counts(counts):
    return ", ".join(f"{kind} {counts.get(kind, 0)}" for kind in (*storage.KINDS, "photos"))


@click.command("init")
@with_appcontext
@click.option("--no-demo", is_flag=True, help="Do not load the demo organization tree.")
def init(no_demo):
    """Prepare the database: on PostgreSQL create or upgrade its schema (migrations) and make
    this host use the secret key all hosts share, then install missing built-in forms and (on
    an empty database) the demo organization tree. Safe to run on every start and on every
    host: it never overwrites or deletes data."""
    url = current_app.config["DATABASE_URL"]
    if url:
        try:
            before, after = storage.migrate(url)
        except storage.StorageError as e:
            fail(str(e))
        if before != after:
            click.echo(f"Database schema: {before or 'empty'} -> {after}")
    store = get_store()
    if url:
        try:
            shared = deployment.share_secret_key(store, current_app.config)
        except deployment.SecretKeyMismatch as e:
            fail(str(e))
        if shared != "same":
            click.echo("Secret key: this host now signs sessions with the key every host of "
                       "this database shares (DATA_DIR/secret_key).")
    result = seed_first_start(store, demo_orgs=not no_demo)
    if result["forms"]:
        click.echo(f"Installed {len(result['forms'])} built-in forms: {', '.join(result['forms'])}")
    if result["orgs"]:
        click.echo(f"Loaded {result['orgs']} demo organizations (edit them under /admin/orgs).")
    click.echo(f"Database: {store.backend} at {store.location}")
    if not store.list_users():
        click.echo("No admin account yet. Create the first one with:\n"
                   "    .venv/bin/flask --app app create-user admin --role admin")


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=True, dir_okay=True, writable=True))
@with_appcontext
def backup(dest):
    """Write everything (forms with all versions, organizations, users, links, submissions
    with their receipts, photos) to one portable file DEST, or to a dated
    taizhang-YYYYmmdd-HHMMSS.zip in the folder DEST. Safe while the server is serving;
    restorable into either backend."""
    try:
        report = portable.write_backup(get_store(), dest)
    except storage.StorageError as e:
        fail(str(e))
    audit("backup", target=report["path"], detail=report["counts"])
    click.echo(f"Backup written to {report['path']} ({report['bytes']} bytes): "
               f"{_counts(report['counts'])}.")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore(src, force):
    """Restore the backup file SRC into the configured database (TinyDB or PostgreSQL),
    keeping receipts, times and links. Refuses to overwrite a database that holds data
    unless --force; running servers see the restored data at once."""
    store = get_store()
    try:
        with portable.open_backup(src) as snapshot:
            counts = store.load(snapshot, force=force)
    except storage.StorageError as e:
        fail(str(e))
    # The log now is the backup's; this entry says where it came from.
    audit("restore", target=os.path.abspath(src), detail=counts)
    click.echo(f"Restored {store.location} from {src}: {_counts(counts)}.")


@click.command("check-db")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def check_db(path):
    """Check the configured database (TinyDB file or PostgreSQL), or the backup file PATH,
    and report counts. Exits non-zero on any problem (a torn last line of a TinyDB file is
    only reported: it is what a crash mid-write leaves, and it is ignored)."""
    try:
        report = portable.check_backup(path) if path else get_store().check()
    except storage.StorageError as e:
        fail(str(e))
    where = report.get("path") or report.get("location")
    click.echo(f"{where}: {report.get('backend') or report.get('format')}"
               + (f", {report['bytes']} bytes" if "bytes" in report else ""))
    click.echo(f"  {_counts(report['counts'])}")
    if report.get("torn_tail_bytes"):
        click.echo(f"  torn last line ignored: {report['torn_tail_bytes']} bytes")
    if not report["ok"]:
        for problem in report["problems"][:20]:
            click.echo(f"  problem: {problem}")
        fail(f"{len(report['problems'])} problems")
    click.echo("  ok")


@click.command("prune-photos")
@click.option("--days", type=int, default=None,
              help=f"Keep photos put in the last DAYS days (default and least: "
                   f"{photos.PRUNE_AFTER_DAYS}).")
@with_appcontext
def prune_photos(days):
    """Delete the photos that cadres' pages uploaded for fills never sent (no submission refers
    to them) and that are older than DAYS days. Safe while the server is serving; run it from
    cron, e.g. weekly."""
    try:
        count = photos.prune(get_store(), days)
    except ValueError as e:
        fail(str(e))
    except storage.StorageError as e:
        fail(str(e))
    audit("photos.prune", target=f"{days or photos.PRUNE_AFTER_DAYS} 天前", detail={"count": count})
    click.echo(f"Deleted {count} photos that no submission refers to.")


COMMANDS = (init, backup, restore, check_db, prune_photos)
