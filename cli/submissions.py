"""Links and submissions: links, export, seed-demo."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from seed import seed_demo as seed_demo_submissions
from seed import seed_first_start
from services import links as link_service
from services import submissions
from services.orgs import org_index


def _form_or_fail(store, form_id):
    if store.get_form(form_id) is None:
        fail(f"表单 {form_id} 不存在")


def _org_or_fail(index, code):
    if code and code not in index:
        fail(f"组织 {code} 不存在")


@click.command("links")
@with_appcontext
@click.argument("form_id")
@click.option("--township", help="Only this township code and the organizations under it.")
def links(form_id, township):
    """Print tab-separated org code, org name, entry URL for every organization that must
    fill FORM_ID (its audience; creating missing links), for mail merge."""
    store = get_store()
    _form_or_fail(store, form_id)
    index = org_index(store)
    _org_or_fail(index, township)
    scope = link_service.scope(index, store.get_form(form_id)["schema"], township)
    before = len(link_service.active_links(store, form_id))
    active = link_service.ensure_links(store, form_id, [o["code"] for o in scope])
    created = len(link_service.active_links(store, form_id)) - before
    if created:
        audit("link.create", target=form_id, detail={"count": created, "township": township})
    base_url = current_app.config["BASE_URL"]
    for org in scope:
        url = link_service.entry_url(base_url, active[org["code"]]["token"])
        click.echo(f"{org['code']}\t{org['name']}\t{url}")


@click.command("export")
@with_appcontext
@click.argument("form_id")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--township", help="Only submissions from this township (code) and below.")
@click.option("--org", help="Only submissions from this organization (code).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="From date YYYY-MM-DD.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="To date YYYY-MM-DD.")
@click.option("--include-void", is_flag=True,
              help="Also export voided submissions (已作废: left out by default).")
def export(form_id, out, township, org, date_from, date_to, include_void):
    """Export the submissions of FORM_ID to OUT.xlsx, OUT.csv or OUT.zip (by extension).

    OUT.zip holds one CSV per sheet (the main one and one per repeat field); OUT.csv only the
    main sheet: for a form with repeat fields the command says so and names OUT.zip."""
    store = get_store()
    _form_or_fail(store, form_id)
    fmt = os.path.splitext(out)[1].lower().lstrip(".")
    if fmt not in ("xlsx", "csv", "zip"):
        fail("输出文件须以 .xlsx、.csv 或 .zip 结尾")
    index = org_index(store)
    _org_or_fail(index, township)
    _org_or_fail(index, org)
    count = submissions.export_submissions(
        store, index, form_id, fmt, out, org_codes=submissions.org_scope(index, township, org),
        date_from=date_from and date_from.date(), date_to=date_to and date_to.date(),
        include_void=include_void)
    filters = {"township": township, "org": org,
               "date_from": date_from and date_from.date().isoformat(),
               "date_to": date_to and date_to.date().isoformat()}
    audit("export", target=form_id, detail={
        "format": fmt, "rows": count, "file": os.path.abspath(out),
        "filters": {key: value for key, value in filters.items() if value}})
    click.echo(f"Exported {count} submissions to {out}.")
    if submissions.export_format(store, form_id, fmt) != fmt:
        zipped = os.path.splitext(out)[0] + ".zip"
        click.echo(f"注意：本表含明细（重复填写的部分），{out} 只有主表；明细行请导出为 "
                   f"{zipped}（每张表一个 CSV）或 .xlsx", err=True)


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


COMMANDS = (links, export, seed_demo)
