"""``caw call``: run one tool from a shell, its result as JSON, a refusal on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json, echo_text
from caw_lab.errors import invalid_input


@main.command()
@click.argument("tool")
@click.option(
    "--json", "arguments", default="{}", show_default=True, metavar="JSON",
    help="The tool's arguments as a JSON object; - reads it from stdin.",
)
@click.option("--field", metavar="NAME",
              help="Print only this field of the result (a string unquoted, escaped on a terminal), for scripts.")
def call(tool: str, arguments: str, field: str | None) -> None:
    """Call TOOL and print its JSON result; a refusal prints the error JSON on stderr and exits 1."""
    params = parse_arguments(sys.stdin.read() if arguments == "-" else arguments)
    with open_client() as client:
        result = client.call(tool, **params)
    if field is None:
        echo_json(result)
        return
    if not isinstance(result, dict) or field not in result:
        raise click.ClickException(f"{tool}'s result has no field {field!r}")
    value = result[field]
    echo_text(value) if isinstance(value, str) else echo_json(value)


def parse_arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        example = "Pass a JSON object, e.g. '{\"id\": \"wf_...\"}'."
        raise invalid_input(f"--json is not valid JSON: {exc}", suggestion=example) from None
    if not isinstance(value, dict):
        raise invalid_input("--json must be a JSON object of arguments", suggestion="Wrap the arguments in {...}.")
    return value
