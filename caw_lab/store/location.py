"""Where the database lives, decided as the reference decides it.

Precedence: an explicit ``db`` argument (``--db``), then ``CAW_DB_PATH``, then
``CAW_DB_MODE``: ``global`` is ``workflows.db`` in caw's home (``CAW_HOME``, default
``~/.caw``, which also keeps the HTTP server's token); anything else (the default,
``per-repo``) is ``.caw/workflows.db`` at the root of the git repository holding
``CAW_REPO_PATH`` or the working directory (the directory itself outside a repository).
"""

from __future__ import annotations

import os
from pathlib import Path

DB_FILE = Path(".caw") / "workflows.db"


def caw_home() -> Path:
    """The user's own caw folder, ``CAW_HOME`` or ``~/.caw``: one variable moves all of it (a test, a container)."""
    return Path(os.environ.get("CAW_HOME") or Path.home() / ".caw")


def repo_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def resolve_db(db: str | os.PathLike[str] | None = None) -> str:
    if db:
        return str(db)
    if path := os.environ.get("CAW_DB_PATH"):
        return path
    if os.environ.get("CAW_DB_MODE", "per-repo") == "global":
        return str(caw_home() / DB_FILE.name)
    start = Path(os.environ.get("CAW_REPO_PATH") or os.getcwd()).resolve()
    return str(repo_root(start) / DB_FILE)
