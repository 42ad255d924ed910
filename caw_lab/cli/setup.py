"""``caw setup claude-code`` and ``caw setup codex``: register caw's MCP server with an agent."""

from __future__ import annotations

from pathlib import Path

import click

from caw_lab.cli import main
from caw_lab.setup import FileChange, claude_code_changes, codex_changes

PRINT_HELP = "Show what would be written; change nothing."
TOOLS_HELP = (
    "The tools the agent sees (written into the server's args as --tools): agent (the agent protocol, "
    "fewest tokens), reference (the reference's 58), all (default), or a comma list of tools and groups."
)


def checked_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A profile naming no tool is refused here, not by the agent's client at its next start."""
    if value:
        from caw_lab.errors import CawError
        from caw_lab.mcp import profiles

        try:
            profiles.select(value)
        except CawError as err:
            raise click.BadParameter(f"{err.message}. {err.suggestion}") from None
    return value


@main.group()
def setup() -> None:
    """Configure a coding agent to use caw's MCP server (safe to run again)."""


@setup.command("claude-code")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@click.option("--tools", metavar="PROFILE", callback=checked_profile, help=TOOLS_HELP)
@click.option(
    "--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Project folder holding .mcp.json and CLAUDE.md.",
)
def claude_code(print_only: bool, tools: str | None, project: Path) -> None:
    """Add caw to the project's .mcp.json and the agent protocol to its CLAUDE.md."""
    apply(claude_code_changes(project, tools), print_only)


@setup.command("codex")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@click.option("--tools", metavar="PROFILE", callback=checked_profile, help=TOOLS_HELP)
def codex(print_only: bool, tools: str | None) -> None:
    """Add [mcp_servers.caw] to Codex's config.toml ($CODEX_HOME, default ~/.codex)."""
    apply(codex_changes(tools=tools), print_only)


def apply(changes: list[FileChange], print_only: bool) -> None:
    for change in changes:
        if print_only:
            click.echo(f"--- {change.path}{'' if change.changed else ' (unchanged)'}")
            click.echo(change.after, nl=False)
        elif change.changed:
            change.write()
            click.echo(f"updated {change.path}")
        else:
            click.echo(f"unchanged {change.path}")
