"""Form definitions: load-form, check-forms, and drafts, publishing and versions (publish,
close-form, open-form, rollback, duplicate-form, form-diff, json-schema)."""
import json
import os
from pathlib import Path

import click
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from forms.loader import SchemaError, load_schema_file
from services import formdefs
from services.audit import command_user


@click.command("load-form")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--draft", is_flag=True,
              help="Store FILE as the draft of the form named by its file name, without "
                   "publishing it (an invalid draft is stored too; its problems are listed).")
def load_form(file, draft):
    """Validate FILE.json and install it as a new form, or as the next version of
    the form with the same id. Exits non-zero with the error's path if invalid."""
    if draft:
        return _load_draft(file)
    try:
        schema = load_schema_file(file)
    except SchemaError as e:
        fail(str(e))
    doc = get_store().add_form_version(schema, source="cli")
    audit("form.save", target=schema["id"], detail={
        "version": doc["version"], "source": "cli", "title": schema["title"],
        "file": os.path.basename(file)})
    click.echo(f"Installed {schema['id']} version {doc['version']}.")


@click.command("check-forms")
@with_appcontext
def check_forms():
    """Validate every form: the built-in files in schemas/ and the current version
    of every form in the database. Exits non-zero if any is invalid."""
    errors = 0
    for label, error in formdefs.check_stored_forms(get_store()):
        if error is None:
            click.echo(f"ok   {label}")
        else:
            errors += 1
            click.echo(f"FAIL {error}")
    if errors:
        fail(f"{errors} invalid")


def _load_draft(file):
    form_id = Path(file).stem
    try:
        doc = formdefs.save_draft(get_store(), form_id, Path(file).read_bytes(),
                                  user=command_user())
    except (ValueError, SchemaError) as e:
        fail(f"{file}: {e}")
    except OSError as e:
        fail(f"{file}: 无法读取文件({e.strerror or e})")
    audit("form.draft", target=form_id, detail={"revision": doc["revision"],
                                                "file": os.path.basename(file)})
    _schema, problems = formdefs.check_draft(doc["text"], form_id)
    click.echo(f"已保存表单 {form_id} 的草稿(第 {doc['revision']} 次保存),尚未发布。")
    if problems:
        click.echo(f"草稿有 {len(problems)} 处问题,修改后才能发布:")
        for problem in problems:
            click.echo(f"  {problem}")


@click.command("publish")
@with_appcontext
@click.argument("form_id")
def publish(form_id):
    """Publish the draft of FORM_ID as its next version (new submissions use it).
    Exits non-zero, publishing nothing, when there is no draft or it is invalid."""
    store = get_store()
    try:
        doc = formdefs.publish(store, form_id, user=command_user(), source="cli")
    except LookupError as e:
        fail(str(e))
    except SchemaError as e:
        for problem in getattr(e, "problems", [e]):
            click.echo(str(problem), err=True)
        fail(f"草稿有问题,没有发布表单 {form_id}")
    if doc is None:
        click.echo("草稿与当前版本内容相同,没有产生新版本;草稿已删除。")
        return
    audit("form.publish", target=form_id, detail={"version": doc["version"],
                                                  "title": doc["schema"]["title"]})
    click.echo(f"已发布表单 {form_id} 第 {doc['version']} 版。")


def _set_closed(form_id, closed):
    store = get_store()
    if store.get_form(form_id) is None:
        fail(f"表单「{form_id}」不存在")
    if formdefs.is_closed(store, form_id) == closed:
        click.echo(f"表单 {form_id} 已经是{'停止收集' if closed else '收集中'}状态,没有变化。")
        return
    formdefs.set_closed(store, form_id, closed, user=command_user())
    audit("form.close" if closed else "form.open", target=form_id)
    click.echo(f"表单 {form_id} 已{'停止收集:其二维码链接不再接受填报' if closed else '恢复收集'}。")


@click.command("close-form")
@with_appcontext
@click.argument("form_id")
def close_form(form_id):
    """Stop collecting FORM_ID: its QR links show 已停止收集 and accept nothing."""
    _set_closed(form_id, True)


@click.command("open-form")
@with_appcontext
@click.argument("form_id")
def open_form(form_id):
    """Collect FORM_ID again after close-form (its QR links work as before)."""
    _set_closed(form_id, False)


@click.command("rollback")
@with_appcontext
@click.argument("form_id")
@click.argument("version", type=int)
def rollback(form_id, version):
    """Publish a copy of VERSION of FORM_ID as its next version."""
    try:
        doc = formdefs.rollback(get_store(), form_id, version, user=command_user())
    except (LookupError, SchemaError) as e:
        fail(str(e))
    if doc is None:
        click.echo(f"第 {version} 版与当前版本内容相同,没有产生新版本。")
        return
    audit("form.rollback", target=form_id, detail={"version": doc["version"],
                                                   "from_version": version})
    click.echo(f"已将表单 {form_id} 第 {version} 版发布为第 {doc['version']} 版。")


@click.command("duplicate-form")
@with_appcontext
@click.argument("form_id")
@click.argument("new_id")
@click.option("--title", help="Title of the copy (default: the original's with (副本)).")
def duplicate_form(form_id, new_id, title):
    """Copy the current version of FORM_ID as a new form NEW_ID (version 1)."""
    try:
        doc = formdefs.duplicate(get_store(), form_id, new_id, user=command_user(), title=title)
    except (LookupError, ValueError) as e:
        fail(str(e))
    except SchemaError as e:
        fail(str(e))
    audit("form.duplicate", target=new_id, detail={"from": form_id,
                                                   "title": doc["schema"]["title"]})
    click.echo(f"已复制表单 {form_id} 为 {new_id}(第 1 版)。")


def _version(store, form_id, version):
    doc = store.get_form(form_id, version)
    if doc is None:
        fail(f"表单「{form_id}」不存在" if store.get_form(form_id) is None
             else f"表单「{form_id}」没有第 {version} 版")
    return doc


@click.command("form-diff")
@with_appcontext
@click.argument("form_id")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
def form_diff(form_id, v1, v2):
    """The changes from version V1 to version V2 of FORM_ID, one per line (fields added,
    removed, renamed, moved, changed attribute by attribute)."""
    store = get_store()
    old, new = _version(store, form_id, v1), _version(store, form_id, v2)
    changes = formdefs.diff(old["schema"], new["schema"])
    for change in changes:
        click.echo(change["text"])
    if not changes:
        click.echo(f"第 {v1} 版与第 {v2} 版没有差别。", err=True)


@click.command("json-schema")
@with_appcontext
@click.argument("form_id")
@click.argument("out", required=False, type=click.Path(dir_okay=False, writable=True))
@click.option("--version", type=int, help="That version (default: the current one).")
def json_schema(form_id, out, version):
    """The JSON Schema (draft 2020-12) of the answers of FORM_ID's submissions, to OUT.json
    (stdout when OUT is absent)."""
    store = get_store()
    if version is None and store.get_form(form_id) is None:
        fail(f"表单「{form_id}」不存在")
    doc = _version(store, form_id, version) if version is not None else store.get_form(form_id)
    text = json.dumps(formdefs.json_schema(doc["schema"]), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as e:
        fail(f"{out}: 无法写入({e.strerror or e})")
    click.echo(f"已写入 {out}(表单 {form_id} 第 {doc['version']} 版)。", err=True)


COMMANDS = (load_form, check_forms, publish, close_form, open_form, rollback, duplicate_form,
            form_diff, json_schema)
