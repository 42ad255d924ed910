"""``caw setup claude-code`` and ``caw setup codex``: register caw's MCP server with an agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from caw_lab.cli import main
from caw_lab.setup import FileChange, HttpServer, claude_code_changes, codex_changes

PRINT_HELP = "Show what would be written; change nothing."


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
@click.option(
    "--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Project folder holding .mcp.json and CLAUDE.md.",
)
@http_options
def claude_code(print_only: bool, project: Path, url: str | None, token: str | None) -> None:
    """Add caw to the project's .mcp.json and the agent protocol to its CLAUDE.md."""
    apply(claude_code_changes(project, http_server(url, token, print_only)), print_only)


@setup.command("codex")
@click.option("--print", "print_only", is_flag=True, help=PRINT_HELP)
@http_options
def codex(print_only: bool, url: str | None, token: str | None) -> None:
    """Add [mcp_servers.caw] to Codex's config.toml ($CODEX_HOME, default ~/.codex)."""
    apply(codex_changes(http=http_server(url, token, print_only)), print_only)


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
        if change.secret and not print_only:
            click.echo(f"note: {change.path} holds caw's bearer token (mode 0600); keep it out of version control.")
