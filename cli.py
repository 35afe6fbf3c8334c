"""Operator commands: `flask --app app <command>`. Each wraps the same code the web pages use."""
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

import orgs as org_tree
from forms.loader import SchemaError, check_schema, load_builtin_schemas, load_schema_file
import storage
from seed import seed_demo as seed_demo_submissions
from seed import seed_first_start
from views import auth
from views.admin import ensure_links, export_submissions, import_orgs_csv
from views.web import db_path, entry_url, get_store, orgs_by_code


def register(app):
    for command in (init, create_user, set_password, import_orgs, load_form, check_forms, links, export,
                    backup, restore, check_db, seed_demo):
        app.cli.add_command(command)


def fail(message):
    """Print an error to stderr and exit non-zero."""
    click.echo(f"错误: {message}", err=True)
    sys.exit(1)


@click.command("init")
@with_appcontext
@click.option("--no-demo", is_flag=True, help="Do not load the demo organization tree.")
def init(no_demo):
    """Prepare the data folder: install missing built-in forms and (on an empty
    database) the demo organization tree. Safe to run on every start: it never
    overwrites or deletes existing data."""
    store = get_store()
    result = seed_first_start(store, demo_orgs=not no_demo)
    data_dir = current_app.config["DATA_DIR"]
    if result["forms"]:
        click.echo(f"Installed {len(result['forms'])} built-in forms: {', '.join(result['forms'])}")
    if result["orgs"]:
        click.echo(f"Loaded {result['orgs']} demo organizations (edit them under /admin/orgs).")
    click.echo(f"Data folder: {data_dir}")
    if not store.list_users():
        click.echo("No admin account yet. Create the first one with:\n"
                   "    .venv/bin/flask --app app create-user admin --role admin")


@click.command("create-user")
@with_appcontext
@click.argument("name")
@click.option("--role", type=click.Choice(auth.ROLES), required=True, help="Account role.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
def create_user(name, role, password_stdin):
    """Create an account NAME with a scrypt-hashed password (prompted unless --password-stdin)."""
    try:
        auth.create_user(name, _read_password(password_stdin), role)
    except ValueError as e:
        fail(str(e))
    click.echo(f"Created {role} '{name}'.")


def _read_password(password_stdin):
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
@with_appcontext
def set_password(name, password_stdin):
    """Set a new password for the account NAME (prompted unless --password-stdin)."""
    try:
        auth.set_password(name, _read_password(password_stdin))
    except ValueError as e:
        fail(str(e))
    click.echo(f"Password of '{name}' changed.")


@click.command("import-orgs")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_orgs(file):
    """Import organizations from FILE.csv (UTF-8, columns code,name,parent_code,kind).

    Existing codes are updated; any bad row rejects the whole file and is listed."""
    with open(file, "rb") as f:
        data = f.read()
    try:
        rows = import_orgs_csv(get_store(), data)
    except org_tree.OrgImportError as e:
        for row, reason in e.errors:
            click.echo(f"{file}:{row}: {reason}" if row else f"{file}: {reason}", err=True)
        fail(f"{len(e.errors)} 处错误，未导入任何数据")
    click.echo(f"Imported {len(rows)} organizations.")


@click.command("load-form")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def load_form(file):
    """Validate FILE.json and install it as a new form, or as the next version of
    the form with the same id. Exits non-zero with the error's path if invalid."""
    try:
        schema = load_schema_file(file)
    except SchemaError as e:
        fail(str(e))
    doc = get_store().add_form_version(schema, source="cli")
    click.echo(f"Installed {schema['id']} version {doc['version']}.")


@click.command("check-forms")
@with_appcontext
def check_forms():
    """Validate every form: the built-in files in schemas/ and the current version
    of every form in the database. Exits non-zero if any is invalid."""
    errors = 0
    try:
        builtin = load_builtin_schemas()
        click.echo(f"ok   schemas/: {len(builtin)} built-in files")
    except SchemaError as e:
        errors += 1
        click.echo(f"FAIL {e}")
    for doc in get_store().list_forms():
        try:
            check_schema({k: v for k, v in doc["schema"].items() if k != "version"},
                         source=f"db:{doc['id']} v{doc['version']}", expected_id=doc["id"])
            click.echo(f"ok   {doc['id']} v{doc['version']}")
        except SchemaError as e:
            errors += 1
            click.echo(f"FAIL {e}")
    if errors:
        fail(f"{errors} invalid")


def _form_or_fail(form_id):
    if get_store().get_form(form_id) is None:
        fail(f"表单 {form_id} 不存在")


@click.command("links")
@with_appcontext
@click.argument("form_id")
@click.option("--township", help="Only this township code and the organizations under it.")
def links(form_id, township):
    """Print tab-separated org code, org name, entry URL for every organization
    (creating missing links), for mail merge."""
    store = get_store()
    _form_or_fail(form_id)
    orgs = orgs_by_code(store)
    codes = sorted(orgs)
    if township:
        if township not in orgs:
            fail(f"组织 {township} 不存在")
        scope = org_tree.descendants(orgs, township) | {township}
        codes = [c for c in codes if c in scope]
    active = ensure_links(store, form_id, codes)
    for code in codes:
        click.echo(f"{code}\t{orgs[code]['name']}\t{entry_url(active[code]['token'])}")


@click.command("export")
@with_appcontext
@click.argument("form_id")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--township", help="Only submissions from this township (code) and below.")
@click.option("--org", help="Only submissions from this organization (code).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="From date YYYY-MM-DD.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="To date YYYY-MM-DD.")
def export(form_id, out, township, org, date_from, date_to):
    """Export the submissions of FORM_ID to OUT.xlsx or OUT.csv (by extension)."""
    store = get_store()
    _form_or_fail(form_id)
    fmt = os.path.splitext(out)[1].lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        fail("输出文件须以 .xlsx 或 .csv 结尾")
    orgs = orgs_by_code(store)
    org_codes = None
    if org:
        org_codes = {org}
    elif township:
        org_codes = org_tree.descendants(orgs, township) | {township}
    count = export_submissions(store, form_id, fmt, out, org_codes=org_codes,
                               date_from=date_from and date_from.date(),
                               date_to=date_to and date_to.date())
    click.echo(f"Exported {count} submissions to {out}.")


def _table_counts(report):
    tables = report["tables"]
    return ", ".join(f"{name} {tables.get(name, 0)}"
                     for name in ("forms", "orgs", "users", "links", "submissions"))


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=True, dir_okay=True, writable=True))
@with_appcontext
def backup(dest):
    """Write a consistent snapshot of the database to DEST (a file, or a folder for a
    dated taizhang-YYYYmmdd-HHMMSS.db). Safe while the server is serving."""
    try:
        report = storage.backup(db_path(current_app), dest)
    except storage.StorageError as e:
        fail(str(e))
    click.echo(f"Backup written to {report['path']} ({report['bytes']} bytes): "
               f"{_table_counts(report)}.")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore(src, force):
    """Restore the database from the backup SRC. Refuses to overwrite a database that
    holds data unless --force; running servers pick the restored file up by themselves."""
    try:
        report = storage.restore(src, db_path(current_app), force=force)
    except storage.StorageError as e:
        fail(str(e))
    click.echo(f"Restored {report['path']} from {src}: {_table_counts(report)}.")


@click.command("check-db")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@with_appcontext
def check_db(path):
    """Verify a database file (default: this instance's) and report counts. Exits
    non-zero if any complete record is corrupt (a torn last line is only reported)."""
    try:
        report = storage.check(path or db_path(current_app))
    except storage.StorageError as e:
        fail(str(e))
    click.echo(f"{report['path']}: {report['bytes']} bytes, {report['records']} records")
    click.echo(f"  {_table_counts(report)}")
    if report["torn_tail_bytes"]:
        click.echo(f"  torn last line ignored: {report['torn_tail_bytes']} bytes")
    if not report["ok"]:
        for line in report["corrupt"][:20]:
            click.echo(f"  corrupt: {line}")
        fail(f"{len(report['corrupt'])} corrupt records, {report['bad_raw_values']} bad values")
    click.echo("  ok")


@click.command("seed-demo")
@click.option("--submissions", "count", type=click.IntRange(min=0), default=1000,
              show_default=True, help="How many demo submissions to add.")
@click.option("--seed", type=int, default=None, help="Random seed, for repeatable data.")
@with_appcontext
def seed_demo(count, seed):
    """Fill the database with COUNT realistic demo submissions across the built-in forms
    and the demo organizations (for benchmarks and for a newcomer to see a full system).
    Installs the built-in forms and demo organizations first if they are missing."""
    store = get_store()
    seed_first_start(store)
    added = seed_demo_submissions(store, count, seed)
    click.echo(f"Added {added} demo submissions; {store.count_submissions()} in total.")
