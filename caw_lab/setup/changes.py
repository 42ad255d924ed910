"""A planned edit to one config file, and how a client reaches caw: its command line, or a URL and token."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from caw_lab.store.location import DB_FILE

D1_VARIABLES = ("CAW_D1_TOKEN", "CAW_D1_API")
"""What a D1 server needs from the user's environment; the client must hand them on, since
a config file is no place for a token (``.mcp.json`` is often committed)."""


@dataclass(frozen=True)
class FileChange:
    path: Path
    before: str | None
    after: str
    secret: bool = False
    """The file will hold a bearer token: it is written readable by its owner alone (0600)."""

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.secret:
            self.path.write_text(self.after, encoding="utf-8")
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.after)


@dataclass(frozen=True)
class HttpServer:
    """A running ``caw --server --transport http`` a client connects to, with the token it requires."""

    url: str
    token: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


def read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def server_command(db: str | None = None, tools: str | None = None) -> list[str]:
    """``caw [--db DB] --server [--tools PROFILE]``, by name when the ``caw`` on PATH is this installation's (portable
    across machines), else by full path so another ``caw`` — the TypeScript reference's, say — is
    never started instead."""
    served = [*(["--db", db] if db else []), "--server", *(["--tools", tools] if tools else [])]
    ours = Path(sys.executable).with_name("caw")
    if not ours.exists():
        return ["caw", *served]
    on_path = shutil.which("caw")
    same = on_path is not None and Path(on_path).resolve() == ours.resolve()
    return ["caw" if same else str(ours), *served]


def chosen_database(db: str | None = None) -> str | None:
    """The database the user chose for this setup, as the server must be told it: ``--db``, else
    ``CAW_DB_PATH``, else the global file under ``CAW_DB_MODE=global``; a path made absolute,
    since the client starts the server in a directory of its own choosing. ``None`` keeps the
    default, the per-repo database the server finds from the project it is started in."""
    chosen = db or os.environ.get("CAW_DB_PATH")
    if chosen:
        return chosen if chosen.startswith("d1://") else str(Path(chosen).expanduser().resolve())
    if os.environ.get("CAW_DB_MODE") == "global":
        return str(Path.home() / DB_FILE)
    return None


def forwarded_variables(db: str | None) -> list[str]:
    """The environment variables the client must pass to a server on ``db``: D1's token (always)
    and API base (when the user set one)."""
    if not (db or "").startswith("d1://"):
        return []
    return [name for name in D1_VARIABLES if name == "CAW_D1_TOKEN" or os.environ.get(name)]
