"""``caw tools``: the tool registry as agents see it: names, descriptions, input schemas."""

from __future__ import annotations

import importlib
from typing import Any

import click

from caw_lab.cli import main
from caw_lab.cli.output import echo_json
from caw_lab.cli.schema import describe_params
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
            about = f" - {param.description}" if param.description else ""
            click.echo(f"  - {param.name}: {param.type}{required}{param.note()}{about}")
