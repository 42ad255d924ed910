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


def create_private(path: Path) -> None:
    """Create the database file (0600) and its folder (0700) where they are missing.

    The database holds every prompt, plan and checkpoint an agent wrote, so on a shared
    machine it is its user's alone. Existing files and folders keep the modes their owner
    gave them.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:
        path.parent.chmod(0o700)  # mkdir's mode passes through the umask, which may lack bits
    create_private_file(path)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists. The mode is set after creating,
    so no umask changes it; SQLite gives the ``-wal`` and ``-shm`` files the database's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
