"""``caw export`` and ``caw import``: hand a workflow to another database, e.g. a laptop's
SQLite file to the team's D1 and back (see caw_lab.engine.transfer for what moves)."""

from __future__ import annotations

import json
from typing import IO

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json
from caw_lab.engine import transfer
from caw_lab.errors import invalid_input


@main.command("export")
@click.argument("workflow_id")
@click.option("-o", "--output", type=click.File("w"), default="-", show_default=True,
              help="File to write the bundle to (- for standard output).")
def export_workflow(workflow_id: str, output: IO[str]) -> None:
    """Write a workflow with its tasks, dependencies, checkpoints, messages and events as a JSON bundle."""
    with open_client() as client:
        bundle = transfer.export(client.db, workflow_id)
    json.dump(bundle, output, ensure_ascii=False)
    output.write("\n")


@main.command("import")
@click.argument("bundle", type=click.File("r"))
def import_workflow(bundle: IO[str]) -> None:
    """Add the workflow of a bundle written by `caw export`, ids kept, in one atomic batch.

    Importing the same bundle again changes nothing; a different workflow with the same id
    is refused (WORKFLOW_EXISTS) and nothing is written. Events get new sequence numbers.
    """
    try:
        content = json.load(bundle)
    except ValueError as exc:
        raise invalid_input(f"The bundle is not JSON: {exc}", "Pass a file written by `caw export`.") from None
    with open_client() as client:
        echo_json(transfer.import_bundle(client.db, content))
