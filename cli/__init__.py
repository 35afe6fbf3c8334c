"""Operator commands: `flask --app app <command>`, one module per area. Each command is a thin
click wrapper around the same service function the web pages call."""
import sys

import click


def fail(message):
    """Print an error to stderr and exit non-zero."""
    click.echo(f"错误: {message}", err=True)
    sys.exit(1)


def register(app):
    from cli import accounts, database, formdefs, orgs, submissions

    for module in (database, accounts, orgs, formdefs, submissions):
        for command in module.COMMANDS:
            app.cli.add_command(command)
