"""``caw setup claude-code`` and ``caw setup codex``: register caw's MCP server with an agent."""

from __future__ import annotations

from pathlib import Path

import click

from caw_lab.cli import main
from caw_lab.setup import FileChange, claude_code_changes, codex_changes

PRINT_HELP = "Show what would be written; change nothing."


@main.group()
def setup() -> None:
    """Configure a coding agent to use caw's MCP server (safe to run again)."""


@setup.command("claude-code")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@click.option(
    "--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Project folder holding .mcp.json and CLAUDE.md.",
)
def claude_code(print_only: bool, project: Path) -> None:
    """Add caw to the project's .mcp.json and the agent protocol to its CLAUDE.md."""
    apply(claude_code_changes(project), print_only)


@setup.command("codex")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
def codex(print_only: bool) -> None:
    """Add [mcp_servers.caw] to Codex's config.toml ($CODEX_HOME, default ~/.codex)."""
    apply(codex_changes(), print_only)


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
