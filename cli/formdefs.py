"""Form definitions: load-form, check-forms."""
import click
from flask.cli import with_appcontext

import os

from cli import audit, fail
from db import get_store
from forms.loader import SchemaError, load_schema_file
from services import formdefs


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


COMMANDS = (load_form, check_forms)
