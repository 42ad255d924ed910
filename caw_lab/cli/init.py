"""``caw init``: create or upgrade the database where the global options say it lives."""

from __future__ import annotations

import click

from caw_lab.cli import main, open_client


@main.command()
def init() -> None:
    """Create the database (or apply new migrations) and print its path."""
    with open_client() as client:
        click.echo(client.db.url.removeprefix("sqlite:///"))
