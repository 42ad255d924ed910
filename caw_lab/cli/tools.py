"""``caw tools``: the tool registry as agents see it: names, descriptions, input schemas."""

from __future__ import annotations

import importlib
from typing import Any

import click

from caw_lab.cli import main
from caw_lab.cli.output import echo_json
from caw_lab.cli.schema import describe_params
from caw_lab.tools import load_all


def tool_listing(profile: str | None = None) -> list[dict[str, Any]]:
    """The tools of ``profile`` (default all) as MCP lists them, sorted by name: name, description,
    input and output schemas, annotations."""
    from caw_lab.mcp import profiles

    listed = profiles.listed(profiles.select(profile)) if profile else [
        profiles.as_mcp_tool(t) for t in load_all().values()]
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in sorted(listed, key=lambda t: t.name)]


def echo_costs(profile: str | None) -> None:
    """Each profile's tokens (cl100k) as an MCP client receives its tools/list."""
    from caw_lab.mcp import profiles

    for name in [profile] if profile else list(profiles.PROFILES):
        cost = profiles.cost(name)
        click.echo(f"{cost['profile']}: {cost['tools']} tools, {cost['tokens']:,} tokens a turn "
                   f"({cost['wire_tokens']:,} with output schemas, once a session)")


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
@click.option(
    "--profile", metavar="PROFILE",
    help="Only the tools of a profile (agent, reference, all) or a comma list of tools and groups.",
)
@click.option(
    "--tokens", is_flag=True,
    help="Print what each profile's tool list costs an agent (cl100k tokens of the tools/list JSON) instead.",
)
def tools(fmt: str, as_json: bool, profile: str | None, tokens: bool) -> None:
    """List every tool with its description and input parameters."""
    fmt = "json" if as_json else fmt
    if tokens:
        echo_costs(profile)
        return
    if fmt == "openai":
        echo_json(openai_definitions())
        return
    listing = tool_listing(profile)
    if fmt == "json":
        echo_json(listing)
        return
    for i, spec in enumerate(listing):
        click.echo(("\n" if i else "") + f"{spec['name']}\n  {spec['description']}")
        for param in describe_params(spec["inputSchema"]):
            required = ", required" if param.required else ""
            about = f" - {param.description}" if param.description else ""
            click.echo(f"  - {param.name}: {param.type}{required}{param.note()}{about}")
