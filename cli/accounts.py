"""Accounts: create-user, set-password."""
import sys

import click
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from services import accounts
from services.access import ROLES
from storage import DuplicateError


def _read_password(password_stdin):
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-user")
@with_appcontext
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="Account role.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
def create_user(name, role, password_stdin):
    """Create an account NAME with a scrypt-hashed password (prompted unless --password-stdin)."""
    try:
        accounts.create_user(get_store(), name, _read_password(password_stdin), role)
    except (ValueError, DuplicateError) as e:
        fail(str(e))
    audit("user.create", target=name, detail={"role": role})
    click.echo(f"Created {role} '{name}'.")


@click.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
@with_appcontext
def set_password(name, password_stdin):
    """Set a new password for the account NAME (prompted unless --password-stdin). Every
    session of NAME ends: each browser must log in again."""
    try:
        accounts.set_password(get_store(), name, _read_password(password_stdin))
    except ValueError as e:
        fail(str(e))
    audit("user.password", target=name)
    click.echo(f"Password of '{name}' changed; its sessions have ended.")


COMMANDS = (create_user, set_password)
