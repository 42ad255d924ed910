"""``caw setup claude-code`` and ``caw setup codex``: register caw's MCP server with an agent.

Over stdio the server is set up on the database this command would use when one was chosen
(``caw --db X setup ...``, ``CAW_DB_PATH``, ``CAW_DB_MODE=global``), so the agent reads and
writes the same workflows as the user; a D1 database's token is forwarded from the user's
environment, never written into the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from caw_lab.cli import Settings, main
from caw_lab.setup import (
    FileChange,
    HttpServer,
    chosen_database,
    claude_code_changes,
    codex_changes,
    forwarded_variables,
)

PRINT_HELP = "Show what would be written; change nothing."
TOOLS_HELP = (
    "The tools the agent sees (written into the stdio server's args as --tools): agent (the agent protocol, "
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


def http_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--url`` and ``--token``: point the client at a running HTTP server instead of starting caw over stdio."""
    command = click.option(
        "--token", envvar="CAW_TOKEN", show_envvar=True,
        help="With --url: the server's bearer token (default: the one caw keeps in ~/.caw/http-token).",
    )(command)
    return click.option(
        "--url", metavar="URL",
        help="Connect to `caw --server --transport http` at URL (e.g. http://127.0.0.1:3100/mcp) with its token, "
             "instead of starting caw over stdio.",
    )(command)


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
@http_options
@click.option("--tools", metavar="PROFILE", callback=checked_profile, help=TOOLS_HELP)
def claude_code(print_only: bool, mcp_only: bool, claude_md_only: bool, project: Path, url: str | None,
                token: str | None, tools: str | None) -> None:
    """Add caw to the project's .mcp.json and the agent protocol to its CLAUDE.md."""
    if mcp_only and claude_md_only:
        raise click.UsageError("--mcp-only and --claude-md-only exclude each other; pass at most one.")
    http = None if claude_md_only else http_server(url, token, print_only)
    db = database() if http is None and not claude_md_only else None
    changes = claude_code_changes(project, http, db, mcp=not claude_md_only, claude_md=not mcp_only,
                                  tools=tools)
    apply(changes, print_only, db)


@setup.command("codex")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@http_options
@click.option("--tools", metavar="PROFILE", callback=checked_profile, help=TOOLS_HELP)
def codex(print_only: bool, url: str | None, token: str | None, tools: str | None) -> None:
    """Add [mcp_servers.caw] to Codex's config.toml ($CODEX_HOME, default ~/.codex)."""
    http = http_server(url, token, print_only)
    db = database() if http is None else None
    apply(codex_changes(http=http, db=db, tools=tools), print_only, db)


def database() -> str | None:
    settings = click.get_current_context().find_object(Settings) or Settings()
    return chosen_database(settings.db)


def http_server(url: str | None, token: str | None, print_only: bool) -> HttpServer | None:
    """The server ``--url`` names, with ``--token`` or the stored token: generated now if there is none
    yet, so the server started later uses the same one; only shown as a placeholder by ``--print``."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter("give the server's URL, such as http://127.0.0.1:3100/mcp", param_hint="--url")
    if not token:
        from caw_lab.mcp.token import stored_token, token_path

        token = "<the token caw will generate>" if print_only and not token_path().exists() else stored_token()
    return HttpServer(url, token)


def apply(changes: list[FileChange], print_only: bool, db: str | None = None) -> None:
    for change in changes:
        if print_only:
            click.echo(f"--- {change.path}{'' if change.changed else ' (unchanged)'}")
            click.echo(change.after, nl=False)
        elif change.changed:
            change.write()
            click.echo(f"updated {change.path}")
        else:
            click.echo(f"unchanged {change.path}")
        if change.secret and not print_only:
            click.echo(f"note: {change.path} holds caw's bearer token (mode 0600); keep it out of version control.")
    missing = [name for name in forwarded_variables(db) if not os.environ.get(name)]
    if missing:
        click.echo(f"note: the agent's client passes {', '.join(missing)} on from your environment; "
                   "export it where the agent starts, or the server cannot reach D1.", err=True)
