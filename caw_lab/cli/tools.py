"""``caw tools`` and ``caw call``: the tool registry from a shell, exactly as agents see it."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json
from caw_lab.cli.schema import describe_params
from caw_lab.errors import invalid_input
from caw_lab.tools import load_all


def tool_listing() -> list[dict[str, Any]]:
    """Every tool as MCP lists it: name, description, JSON input schema; sorted by name."""
    return [
        {"name": t.name, "description": t.description, "inputSchema": t.input_schema()}
        for t in sorted(load_all().values(), key=lambda t: t.name)
    ]


def openai_definitions() -> Any:
    try:
        openai = importlib.import_module("caw_lab.openai")
    except ModuleNotFoundError as exc:
        if exc.name != "caw_lab.openai":
            raise
        raise click.ClickException("OpenAI tool definitions (caw_lab.openai) are not available yet.") from None
    return openai.tool_definitions()


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "openai"]), default="text", show_default=True,
    help="text for people; json as MCP lists tools; openai as function-calling definitions.",
)
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
def tools(fmt: str, as_json: bool) -> None:
    """List every tool with its description and input parameters."""
    fmt = "json" if as_json else fmt
    if fmt == "openai":
        echo_json(openai_definitions())
        return
    listing = tool_listing()
    if fmt == "json":
        echo_json(listing)
        return
    for i, spec in enumerate(listing):
        click.echo(("\n" if i else "") + f"{spec['name']}\n  {spec['description']}")
        for param in describe_params(spec["inputSchema"]):
            required = ", required" if param.required else ""
            click.echo(f"  - {param.name}: {param.type}{required}{param.note()}")


@main.command()
@click.argument("tool")
@click.option(
    "--json", "arguments", default="{}", show_default=True, metavar="JSON",
    help="The tool's arguments as a JSON object; - reads it from stdin.",
)
def call(tool: str, arguments: str) -> None:
    """Call TOOL and print its JSON result; a refusal prints the error JSON on stderr and exits 1."""
    params = parse_arguments(sys.stdin.read() if arguments == "-" else arguments)
    with open_client() as client:
        echo_json(client.call(tool, **params))


def parse_arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        example = "Pass a JSON object, e.g. '{\"id\": \"wf_...\"}'."
        raise invalid_input(f"--json is not valid JSON: {exc}", suggestion=example) from None
    if not isinstance(value, dict):
        raise invalid_input("--json must be a JSON object of arguments", suggestion="Wrap the arguments in {...}.")
    return value
