"""Accounts: create-user, set-password, create-token."""
import sys

import click
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from services import accounts, tokens
from services.access import ROLES
from storage import DuplicateError


def _read_password(password_stdin):
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-user")
@with_appcontext
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="Account role, never assumed: admin (county-wide, everything), "
                   "reviewer (reviews within its organization), judge (scores), viewer (reads "
                   "within its organization).")
@click.option("--org", "org_code", metavar="CODE",
              help="Code of the organization the account belongs to: its scope (required for "
                   "reviewer and viewer; not for admin).")
@click.option("--full-name", help="The person's name (姓名).")
@click.option("--phone", help="The person's phone number.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts).")
def create_user(name, role, org_code, full_name, phone, password_stdin):
    """Create an account NAME with a scrypt-hashed password (prompted unless --password-stdin)."""
    store = get_store()
    try:
        accounts.check_new_user(store, name, role, org_code, full_name, phone)
        accounts.create_user(store, name, _read_password(password_stdin), role, org_code,
                             full_name, phone)
    except (ValueError, DuplicateError) as e:
        fail(str(e))
    audit("user.create", target=name, detail={"role": role, "org": org_code})
    click.echo(f"Created {role} '{name}'" + (f" of {org_code}." if org_code else "."))


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


@click.command("create-token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (shown on /admin/tokens).")
@click.option("--days", type=int, default=tokens.DEFAULT_DAYS, show_default=True,
              help="Days until the token expires.")
@with_appcontext
def create_token(username, label, days):
    """Make an API token of USERNAME (it acts with that account's role and scope) and print
    its secret, alone on one line: it is shown only this once (only its hash is stored).
    Revoke it on /admin/tokens."""
    try:
        secret, doc = tokens.create(get_store(), username, label, days)
    except ValueError as e:
        fail(str(e))
    audit("token.create", target=username, detail={"label": doc["label"], "days": days})
    click.echo(secret)


COMMANDS = (create_user, set_password, create_token)
