"""Operator commands: `flask --app app <command>`, one module per area. Each command is a thin
click wrapper around the same service function the web pages call."""
import sys

import click


def fail(message):
    """Print an error to stderr and exit non-zero."""
    click.echo(f"错误: {message}", err=True)
    sys.exit(1)


def audit(action, target="", detail=None):
    """Record a command's action in the audit log, as "cli:<OS user>" (services.audit)."""
    from db import get_store
    from services import audit as audit_service

    audit_service.record(get_store(), action, audit_service.command_user(), target, detail)


def register(app):
    from cli import accounts, database, formdefs, orgs, scoring, submissions, summary, xlsform

    for module in (database, accounts, orgs, formdefs, submissions, xlsform, scoring, summary):
        for command in module.COMMANDS:
            app.cli.add_command(command)
