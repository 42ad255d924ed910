"""``caw gc``: remove what finished workflows left in a repository, and say what went."""

from __future__ import annotations

import os

import click

from caw_lab.cli import main, open_client
from caw_lab.cli.output import echo_json


@main.command()
@click.option("--repo", "repo_path", metavar="PATH", help="The git repository (default: the working directory's).")
def gc(repo_path: str | None) -> None:
    """Remove task worktrees and branches of finished workflows; worktrees with uncommitted work are kept."""
    with open_client() as client:
        echo_json(client.call("worktree_gc", repo_path=repo_path or os.getcwd()))
