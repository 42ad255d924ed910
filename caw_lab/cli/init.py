"""``caw init``: create or upgrade the database, and with ``--yes`` (or answers at a terminal)
set the project up as the reference's ``caw init`` does.

Alone (no terminal to ask at) it only creates the database and prints its path, for
scripts. With ``--yes`` it takes the reference's defaults: the database, ``.caw/`` in the
repository's ``.gitignore`` (per-repo only), and Claude Code set up on that database.
``--global`` uses ``~/.caw/workflows.db`` instead of the repository's ``.caw/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from caw_lab.cli import Settings, main
from caw_lab.setup import chosen_database, claude_code_changes
from caw_lab.store.location import DB_FILE, repo_root, resolve_db
from caw_lab.tools.client import connect

IGNORED = ".caw/"


@main.command()
@click.option("--yes", "-y", is_flag=True, help="Skip prompts: ignore .caw/ in git and set up Claude Code.")
@click.option("--global", "global_", is_flag=True, help="Use the global database ~/.caw/workflows.db.")
def init(yes: bool, global_: bool) -> None:
    """Create the database (or apply new migrations) and print its path."""
    settings = click.get_current_context().find_object(Settings) or Settings()
    interactive = not yes and sys.stdin.isatty()
    if interactive and not global_ and not settings.db:
        global_ = click.prompt("Database mode", type=click.Choice(["per-repo", "global"]),
                               default="per-repo") == "global"
    db = settings.db or (str(Path.home() / DB_FILE) if global_ else resolve_db())
    with connect(db) as client:
        click.echo(client.db.url.removeprefix("sqlite:///"))
    if not (yes or interactive):
        return
    if not global_ and not settings.db and ignore_in_git(Path.cwd()):
        click.echo(f"Added {IGNORED} to .gitignore")
    if yes or click.confirm("Set up Claude Code integration?", default=True):
        chosen = chosen_database(db if global_ else settings.db)
        for change in claude_code_changes(Path.cwd(), db=chosen):
            if change.changed:
                change.write()
                click.echo(f"updated {change.path}")


def ignore_in_git(start: Path) -> bool:
    """Add ``.caw/`` to the repository's .gitignore unless already there; False outside a repository."""
    root = repo_root(start.resolve())
    if not (root / ".git").exists():
        return False
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(line.strip() in (IGNORED, IGNORED.rstrip("/")) for line in text.splitlines()):
        return False
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + IGNORED + "\n", encoding="utf-8")
    return True
