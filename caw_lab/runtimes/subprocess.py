"""The ``subprocess`` runtime: any command, one process per task, talking to caw-lab over MCP.

The command is a list (or a shell-style string) whose items may name ``{task_id}``,
``{workflow_id}``, ``{agent_id}``, ``{db}``, ``{mcp_config}`` and ``{prompt}``. The process
also finds them in its environment (``CAW_TASK_ID``, ``CAW_WORKFLOW_ID``, ``CAW_AGENT_ID``,
``CAW_DB_PATH``, ``CAW_MCP_CONFIG``); the MCP config file tells any MCP client how to start
``caw --server`` on the same database. Output (stdout and stderr) goes, line by line through
``render``, to the attempt's log (runtimes/agent_logs.py), kept after the run and readable
while it runs; the last lines become the error when the process fails. The process inherits
the executor's environment without its secrets (runtimes/environment.py), and runs under a
keeper that ends its whole tree with the executor (runtimes/keeper.py).
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from caw_lab.errors import CawError, invalid_input
from caw_lab.runtimes.agent_logs import LogWriter, plain
from caw_lab.runtimes.base import Handle, Launch, Runtime
from caw_lab.runtimes.environment import inherited
from caw_lab.runtimes.mcp_config import agent_env, write_config
from caw_lab.runtimes.processes import ProcessHandle, spawn
from caw_lab.runtimes.prompt import task_prompt

PLACEHOLDER = re.compile(r"\{(task_id|workflow_id|agent_id|db|mcp_config|prompt)\}")


class SubprocessRuntime(Runtime):
    name = "subprocess"
    credentials: tuple[str, ...] = ()
    """Secret variables the runtime's CLI cannot work without, passed on whatever the scrubbing says."""

    def __init__(self, command: Sequence[str] | str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command or ()]
        if not self.argv:
            raise invalid_input(
                f"The {self.name} runtime needs a command",
                "Set command under [subprocess] in the local runtime config (.caw/runtimes.toml, or the file "
                "CAW_RUNTIMES names), or pass SubprocessRuntime(command) to the executor from Python.",
            )
        self.env = dict(env or {})

    def check(self) -> None:
        require_executable(self.argv[0], self.name)

    def command(self, launch: Launch, config: Path) -> list[str]:
        values = {"task_id": launch.task["id"], "workflow_id": launch.workflow["id"], "agent_id": launch.agent_id,
                  "db": launch.db, "mcp_config": str(config), "prompt": task_prompt(launch)}
        return [PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in self.argv]

    def environment(self, launch: Launch, config: Path) -> dict[str, str]:
        kept = inherited(launch.db, [*self.credentials, *launch.env_passthrough])
        return {**kept, **agent_env(launch, config), **self.env}

    def start(self, launch: Launch) -> Handle:
        self.check()
        config = write_config(launch.workdir / f"{launch.agent_id}.mcp.json", launch.db)
        attempt = launch.log_attempt()
        attempt.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        process, pump = spawn(self.command(launch, config), launch.cwd, self.environment(launch, config),
                              LogWriter(attempt), self.render)
        return ProcessHandle(process, attempt, pump, [config])

    def render(self, line: str) -> list[str]:
        """Output as the log keeps it; runtimes whose CLI speaks JSON events render them readable."""
        return plain(line)


def require_executable(executable: str, runtime: str) -> str:
    found = shutil.which(executable)
    if found is None:
        raise CawError(
            "RUNTIME_UNAVAILABLE", f"The {runtime} runtime needs the `{executable}` executable, which is not on PATH",
            recoverable=True,
            suggestion=f"Install `{executable}`, put it on PATH, or set executable under [{runtime}] in the "
                       "local runtime config (.caw/runtimes.toml).",
        )
    return found
