"""Runtimes by name: the built-in four, and any third-party adapter a package registers.

A package adds a runtime with an entry point in the ``caw_lab.runtimes`` group, naming
a ``Runtime`` subclass; it is loaded only when a workflow asks for it by name. Options
from the workflow's config (``runtimes.<name>``) become the class's keyword arguments.
Built-in names cannot be taken over by a plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from caw_lab.errors import CawError
from caw_lab.runtimes.base import Runtime
from caw_lab.runtimes.claude_code import ClaudeCodeRuntime
from caw_lab.runtimes.codex import CodexRuntime
from caw_lab.runtimes.python import PythonRuntime
from caw_lab.runtimes.subprocess import SubprocessRuntime

GROUP = "caw_lab.runtimes"
BUILTIN: dict[str, type[Runtime]] = {
    "python": PythonRuntime, "subprocess": SubprocessRuntime, "claude_code": ClaudeCodeRuntime, "codex": CodexRuntime,
}


def names() -> list[str]:
    return sorted({*BUILTIN, *(ep.name for ep in entry_points(group=GROUP))})


def runtime_class(name: str) -> type[Runtime]:
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in entry_points(group=GROUP, name=name):
        found = ep.load()
        if isinstance(found, type) and issubclass(found, Runtime):
            return found
        raise CawError("INVALID_RUNTIME", f"Entry point {ep.value!r} for runtime {name!r} is not a Runtime subclass",
                       recoverable=False, suggestion="Point the entry point at a caw_lab.runtimes.Runtime subclass.")
    raise CawError("UNKNOWN_RUNTIME", f"Unknown runtime: {name!r}", recoverable=True,
                   suggestion=f"Use one of: {', '.join(names())}, or install a package registering it.")


def create(name: str, options: Mapping[str, Any] | None = None) -> Runtime:
    """An instance of runtime ``name`` configured with ``options``."""
    cls = runtime_class(name)
    try:
        return cls(**dict(options or {}))
    except TypeError as exc:
        raise CawError("INVALID_CONFIG", f"Bad options for runtime {name!r}: {exc}", recoverable=True,
                       suggestion=f"Fix [{name}] in the local runtime config (.caw/runtimes.toml) or "
                                  f"runtimes.{name} in the workflow's execution config.") from None
