"""The one extension point for running agents: a small ``Runtime`` base class.

A runtime starts one agent on one task and hands back a ``Handle`` the executor can poll,
wait on and stop, in the spirit of httpx's transport base class: a new way of running
agents (another CLI, a container, a remote machine) is one subclass, registered under the
``caw_lab.runtimes`` entry-point group. Whatever it runs talks to caw-lab itself (over MCP
or the Python client) to move its task along; the executor only watches for it to end.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from caw_lab.runtimes.agent_logs import Attempt

PermissionMode = Literal["acceptEdits", "bypassPermissions"]


class Caller(Protocol):
    """What an in-process agent moves its task along with, closed when it is done:
    ``caw_lab.Client`` is one."""

    def call(self, tool: str, /, **params: Any) -> Any: ...

    def __enter__(self) -> Caller: ...

    def __exit__(self, *exc: object) -> None: ...


Connect = Callable[[str], Caller]
"""Opens a ``Caller`` on a database target. Runtimes sit below the tools, so whoever builds
an executor hands it one (``caw_lab.connect``); runtimes never import the tool registry."""


@dataclass(frozen=True)
class RunOptions:
    """The reference's workflow_start options, for runtimes that drive an LLM CLI."""

    model: str | None = None
    permission_mode: PermissionMode = "bypassPermissions"
    max_turns: int = 50
    max_budget_usd: float | None = None
    ephemeral_worktree: bool = False
    """Ask the agent CLI for a throwaway git worktree of its own (Claude Code's ``--worktree``)."""


@dataclass(frozen=True)
class Launch:
    """Everything a runtime needs to start one agent on one task."""

    task: dict[str, Any]
    workflow: dict[str, Any]
    agent_id: str
    db: str
    """The database as a child process opens it: a SQLite path or a ``d1://`` URL."""
    cwd: str
    workdir: Path
    """A private directory for this agent's files (MCP config, log)."""
    options: RunOptions = field(default_factory=RunOptions)
    connect: Connect | None = None
    """How an in-process agent calls the tools (the python runtime needs it; the others run
    programs that speak MCP)."""
    env_passthrough: tuple[str, ...] = ()
    """Secret variables (names or glob patterns) the local user lets agents inherit (runtimes/environment.py)."""
    log: Attempt | None = None
    """Where the agent's output is kept for this attempt (runtimes/agent_logs.py); None: in ``workdir``,
    for as long as the run lasts."""

    def log_attempt(self) -> Attempt:
        return self.log or Attempt(0, self.agent_id, self.workdir / f"0-{self.agent_id}")


@dataclass(frozen=True)
class Exit:
    """How an agent ended: ``code`` 0 for a clean exit, negative for a signal; ``error`` says why not clean."""

    code: int
    error: str | None = None


class Handle(ABC):
    """One running agent."""

    pid: int | None = None
    log_path: str | None = None

    @abstractmethod
    def poll(self) -> Exit | None:
        """How it ended, or None while it runs."""

    @abstractmethod
    def stop(self, grace_s: float) -> Exit:
        """Ask it to stop, force it after ``grace_s`` seconds, and return how it ended."""

    def wait(self, timeout_s: float | None = None, interval_s: float = 0.05) -> Exit | None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (ended := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(interval_s)
        return ended


class Runtime(ABC):
    """Starts agents. ``check`` refuses early (before anything is written) when it cannot."""

    name: ClassVar[str]

    def check(self) -> None:
        """Raise CawError when agents cannot be started here, e.g. a missing executable."""

    @abstractmethod
    def start(self, launch: Launch) -> Handle:
        """Start one agent on ``launch.task`` and return at once."""
