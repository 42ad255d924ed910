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


def server_command(tools: str | None = None) -> list[str]:
    """``caw --server [--tools PROFILE]``, by name when the ``caw`` on PATH is this installation's
    (portable across machines), else by full path so another ``caw`` — the TypeScript reference's,
    say — is never started instead."""
    profile = ["--tools", tools] if tools else []
    ours = Path(sys.executable).with_name("caw")
    if not ours.exists():
        return ["caw", "--server", *profile]
    on_path = shutil.which("caw")
    same = on_path is not None and Path(on_path).resolve() == ours.resolve()
    return ["caw" if same else str(ours), "--server", *profile]
