"""Organizations: import-orgs."""
import click
from flask.cli import with_appcontext

import os

from cli import audit, fail
from db import get_store
from services import orgs


@click.command("import-orgs")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_orgs(file):
    """Import organizations from FILE.csv (UTF-8, columns code,name,parent_code,kind).

    Existing codes are updated; any bad row rejects the whole file and is listed."""
    with open(file, "rb") as f:
        data = f.read()
    try:
        rows = orgs.import_csv(get_store(), data)
    except orgs.OrgImportError as e:
        for row, reason in e.errors:
            click.echo(f"{file}:{row}: {reason}" if row else f"{file}: {reason}", err=True)
        fail(f"{len(e.errors)} 处错误，未导入任何数据")
    audit("org.import", target=os.path.basename(file), detail={"rows": len(rows)})
    click.echo(f"Imported {len(rows)} organizations.")


COMMANDS = (import_orgs,)
