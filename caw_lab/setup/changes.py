"""A planned edit to one config file, and how a client reaches caw: its command line, or a URL and token."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


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


def server_command() -> list[str]:
    """``caw --server``, by name when the ``caw`` on PATH is this installation's (portable across
    machines), else by full path so another ``caw`` — the TypeScript reference's, say — is never
    started instead."""
    ours = Path(sys.executable).with_name("caw")
    if not ours.exists():
        return ["caw", "--server"]
    on_path = shutil.which("caw")
    same = on_path is not None and Path(on_path).resolve() == ours.resolve()
    return ["caw" if same else str(ours), "--server"]
