"""``caw export`` and ``caw import``: hand a workflow to another database, e.g. a laptop's
SQLite file to the team's D1 and back (see caw_lab.engine.transfer for what moves).

The bundle file, like every path caw-lab touches, must resolve inside the allowed roots
(caw_lab.engine.sandbox): an agent with a shell can run ``caw`` too, and a symlink named
like a bundle must not make an export overwrite a file elsewhere. ``-`` (standard input or
output) needs no path."""

from __future__ import annotations

import json
import sys

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json
from caw_lab.engine import sandbox, transfer
from caw_lab.errors import invalid_input

STDIO = "-"


@main.command("export")
@click.argument("workflow_id")
@click.option("-o", "--output", default=STDIO, show_default=True, metavar="FILE",
              help="File to write the bundle to (- for standard output); it must lie in an allowed root.")
def export_workflow(workflow_id: str, output: str) -> None:
    """Write a workflow with its tasks, dependencies, checkpoints, messages and events as a JSON bundle."""
    target = None if output == STDIO else sandbox.user_path(output, "Export file")
    with open_client() as client:
        bundle = transfer.export(client.db, workflow_id)
    text = json.dumps(bundle, ensure_ascii=False) + "\n"
    if target is None:
        sys.stdout.write(text)
        return
    try:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise invalid_input(f"Cannot write {target}: {exc.strerror}", "Pass a writable file path.") from None


@main.command("import")
@click.argument("bundle")
def import_workflow(bundle: str) -> None:
    """Add the workflow of a bundle written by `caw export`, ids kept, in one atomic batch.

    BUNDLE is a file in an allowed root, or - for standard input. Importing the same bundle
    again changes nothing; a different workflow with the same id is refused (WORKFLOW_EXISTS)
    and nothing is written. Events get new sequence numbers.
    """
    try:
        if bundle == STDIO:
            content = json.load(sys.stdin)
        else:
            with open(sandbox.user_path(bundle, "Bundle file"), encoding="utf-8") as f:
                content = json.load(f)
    except OSError as exc:
        raise invalid_input(f"Cannot read the bundle: {exc.strerror}", "Pass a file written by `caw export`.") from None
    except ValueError as exc:
        raise invalid_input(f"The bundle is not JSON: {exc}", "Pass a file written by `caw export`.") from None
    with open_client() as client:
        echo_json(transfer.import_bundle(client.db, content))
