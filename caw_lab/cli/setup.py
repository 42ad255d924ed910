"""``caw setup claude-code`` and ``caw setup codex``: register caw's MCP server with an agent.

The server is set up on the database this command would use when one was chosen
(``caw --db X setup ...``, ``CAW_DB_PATH``, ``CAW_DB_MODE=global``), so the agent reads
and writes the same workflows as the user; a D1 database's token is forwarded from the
user's environment, never written into the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from caw_lab.cli import Settings, main
from caw_lab.setup import FileChange, chosen_database, claude_code_changes, codex_changes, forwarded_variables

PRINT_HELP = "Show what would be written; change nothing."


@main.group()
def setup() -> None:
    """Configure a coding agent to use caw's MCP server (safe to run again)."""


@setup.command("claude-code")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@click.option("--mcp-only", is_flag=True, help="Only configure the MCP server (.mcp.json), not CLAUDE.md.")
@click.option("--claude-md-only", is_flag=True, help="Only update CLAUDE.md, not the MCP server.")
@click.option(
    "--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Project folder holding .mcp.json and CLAUDE.md.",
)
def claude_code(print_only: bool, mcp_only: bool, claude_md_only: bool, project: Path) -> None:
    """Add caw to the project's .mcp.json and the agent protocol to its CLAUDE.md."""
    if mcp_only and claude_md_only:
        raise click.UsageError("--mcp-only and --claude-md-only exclude each other; pass at most one.")
    db = database() if not claude_md_only else None
    apply(claude_code_changes(project, db, mcp=not claude_md_only, claude_md=not mcp_only), print_only, db)


@setup.command("codex")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
def codex(print_only: bool) -> None:
    """Add [mcp_servers.caw] to Codex's config.toml ($CODEX_HOME, default ~/.codex)."""
    db = database()
    apply(codex_changes(db=db), print_only, db)


def database() -> str | None:
    settings = click.get_current_context().find_object(Settings) or Settings()
    return chosen_database(settings.db)


def apply(changes: list[FileChange], print_only: bool, db: str | None) -> None:
    for change in changes:
        if print_only:
            click.echo(f"--- {change.path}{'' if change.changed else ' (unchanged)'}")
            click.echo(change.after, nl=False)
        elif change.changed:
            change.write()
            click.echo(f"updated {change.path}")
        else:
            click.echo(f"unchanged {change.path}")
    missing = [name for name in forwarded_variables(db) if not os.environ.get(name)]
    if missing:
        click.echo(f"note: the agent's client passes {', '.join(missing)} on from your environment; "
                   "export it where the agent starts, or the server cannot reach D1.", err=True)
