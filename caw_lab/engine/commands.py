"""Which parts of a workflow's execution config name a program: those the database never holds.

DESIGN.md invariant 9. A workflow's config is written by whoever can call a tool (an agent,
a web page that reached the HTTP server, an imported bundle, another machine on a shared
D1), so it may choose which runtime runs a task and how long it may take, never what is
executed. ``COMMAND_OPTIONS`` is that vocabulary, for every runtime (a third-party runtime
names its own program options the same way); ``runtimes.local_config`` says where they come
from instead. A config naming one is refused when it is set, and again when an executor
reads it, so one that reached the database some other way still runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caw_lab.errors import CawError

COMMAND_OPTIONS = frozenset({"command", "executable", "extra_args", "env", "work"})
"""Runtime options that choose what runs: a command line, a program and its arguments, its environment
(``LD_PRELOAD`` is a program too), a python runtime's ``"module:function"``."""

LOCAL_CONFIG = ".caw/runtimes.toml"


def refuse_commands(runtimes: Any, workflow_id: str) -> None:
    """Refuse an ``execution.runtimes`` value that names a program for any runtime."""
    if not isinstance(runtimes, Mapping):
        return
    named = sorted(
        f"runtimes.{name}.{option}"
        for name, options in runtimes.items()
        if isinstance(options, Mapping)
        for option in COMMAND_OPTIONS.intersection(options)
    )
    if named:
        raise CawError(
            "COMMAND_NOT_ALLOWED",
            f"The execution config of workflow {workflow_id} names what agents run ({', '.join(named)}); "
            "only the local user may choose that",
            recoverable=True,
            suggestion=f"Leave {', '.join(named)} out of the workflow's config: put them in the local runtime "
            f"config ({LOCAL_CONFIG}, or the file CAW_RUNTIMES names), or pass runtime objects to the "
            "executor from Python.",
        )


def refuse_commands_in_config(config: Mapping[str, Any], workflow_id: str) -> None:
    """``refuse_commands`` on a whole workflow config, as workflow_set_config receives it."""
    execution = config.get("execution")
    if isinstance(execution, Mapping):
        refuse_commands(execution.get("runtimes"), workflow_id)
