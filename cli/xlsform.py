"""XLSForm import: import-xlsform (forms.xlsform does the conversion)."""
import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from forms.xlsform import XLSFormError, convert
from services import formdefs
from services.audit import command_user


@click.command("import-xlsform")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--id", "form_id", metavar="FORM_ID",
              help="The form's id (default: the settings sheet's form_id, else the file name).")
@click.option("--out", type=click.Path(), metavar="FORM.json",
              help="Write the form JSON here (a folder: FORM_ID.json in it) for load-form, "
                   "instead of storing it as a draft.")
def import_xlsform(file, form_id, out):
    """Convert the XLSForm FILE.xlsx (ODK / KoboToolbox: survey, choices and settings
    sheets) into a form. Without --out, store it as the draft of the form, to review in the
    builder and publish there; with --out, only write the JSON. Every row that could not be
    imported is printed as "FILE.xlsx: survey row N: reason". Exits 0 when a form came out,
    non-zero when the workbook is unusable."""
    try:
        data = Path(file).read_bytes()
    except OSError as e:
        fail(f"{file}: 无法读取文件({e.strerror or e})")
    try:
        schema, unmapped = convert(data, os.path.basename(file), form_id=form_id)
    except XLSFormError as e:
        fail(f"{file}: {e}")
    target = _out_path(Path(out), schema["id"]) if out else None
    for item in unmapped:
        click.echo(f"{file}: survey row {item.row}: {item.reason}")
    text = formdefs.schema_json(schema) + "\n"
    click.echo(f"已转换表单 {schema['id']}({schema['title']}):{len(schema['fields'])} 个字段,"
               f"{len({item.row for item in unmapped})} 行有未能导入的内容"
               f"{'(见上)' if unmapped else ''}。")
    if target is not None:
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as e:
            fail(f"{target}: 无法写入({e.strerror or e})")
        click.echo(f"已写入 {target};用 flask --app app load-form {target} 安装,"
                   f"或加 --draft 存为草稿。")
        return
    store = get_store()
    try:
        doc, replaced = formdefs.save_imported_draft(store, schema, user=command_user(),
                                                     replace=True)
    except ValueError as e:
        fail(f"{file}: {e}")
    audit("form.draft", target=schema["id"], detail={
        "revision": doc["revision"], "source": "xlsform", "file": os.path.basename(file)})
    if replaced:
        click.echo(f"表单 {schema['id']} 原有的草稿已被替换。")
    current = store.get_form(schema["id"])
    if current is not None:
        click.echo(f"注意:表单 {schema['id']} 已存在(第 {current['version']} 版);发布这份草稿"
                   f"将成为它的新版本。")
    url = f"{current_app.config['BASE_URL'].rstrip('/')}/admin/forms/{schema['id']}/builder"
    click.echo(f"已保存为草稿,尚未发布。请在可视化编辑器中检查后发布:{url}")


def _out_path(out, form_id):
    """Where --out writes (a folder: FORM_ID.json in it). load-form takes the id from the file
    name, so another name is refused before anything is written."""
    if out.is_dir():
        out = out / f"{form_id}.json"
    if out.stem != form_id:
        fail(f"{out}: 文件名须为 {form_id}.json(load-form 要求文件名与表单编号一致);"
             f"或用 --id 指定表单编号")
    return out


COMMANDS = (import_xlsform,)
