"""``caw workflows``: every workflow at a glance, with how far along it is."""

from __future__ import annotations

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json, echo_table


@main.command()
@click.option("--status", "statuses", multiple=True, help="Only workflows in this status (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the workflow_list result as JSON.")
def workflows(statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List workflows, newest first: id, name, status, done/total tasks."""
    with open_client() as client:
        result = client.call("workflow_list", status=list(statuses) or None, limit=limit)
    if as_json:
        echo_json(result)
        return
    rows = [(w["id"], w["name"], w["status"], f"{w['completed_count']}/{w['task_count']}") for w in result["workflows"]]
    echo_table(rows, ["id", "name", "status", "done/total"])
