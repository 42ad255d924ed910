"""``caw show``: one workflow's task DAG as a table, blocked computed."""

from __future__ import annotations

from typing import Any

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json, echo_table, visible
from caw_lab.engine.states import DONE_TASK_STATUSES


@main.command()
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True, help="Print the workflow with its tasks as JSON.")
def show(workflow_id: str, as_json: bool) -> None:
    """Show a workflow and its tasks: status (blocked computed) and dependencies."""
    with open_client() as client:
        workflow = client.call("workflow_get", id=workflow_id, include_tasks=True)
    if as_json:
        echo_json(workflow)
        return
    tasks = workflow["tasks"]
    done = sum(t["status"] in DONE_TASK_STATUSES for t in tasks)
    click.echo(visible(f"{workflow['id']}  {workflow['name']}"))
    click.echo(visible(f"status: {workflow['status']}  tasks: {done}/{len(tasks)} done  "
                       f"max parallel: {workflow['max_parallel_tasks']}"))
    if tasks:
        click.echo()
        echo_table(task_rows(tasks), ["#", "id", "name", "status", "depends on"])


def task_rows(tasks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Dependencies by name: the id column already says which task each name is."""
    names = {t["id"]: t["name"] for t in tasks}
    return [
        (t["sequence"], t["id"], t["name"], t["status"], ", ".join(names.get(d, d) for d in t["depends_on"]))
        for t in tasks
    ]
