"""A planned edit to one config file, and the command line a client uses to start caw."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileChange:
    path: Path
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.after, encoding="utf-8")


def read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def server_command() -> list[str]:
    """``caw --server``, by name when ``caw`` is on PATH (portable across machines), else by full path."""
    executable = "caw" if shutil.which("caw") else str(Path(sys.executable).with_name("caw"))
    return [executable, "--server"]
