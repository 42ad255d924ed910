"""``caw run --prompt``: a Claude Code agent plans a new workflow before it is run, as the
reference's ``caw run --prompt`` does.

The planner gets caw as its MCP server (the same per-agent config file the task agents
get) and is told the workflow id; it succeeds when the workflow has left ``planning``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from caw_lab.errors import CawError
from caw_lab.runtimes.claude_code import NESTING_VARIABLES
from caw_lab.runtimes.mcp_config import write_config
from caw_lab.runtimes.subprocess import require_executable

PLANNER_TURNS = 30

PLANNER_PROMPT = """You are the planner of a caw-lab workflow. The `caw` MCP server holds it.
1. Call workflow_get with the workflow ID to read the request.
2. Explore the repository as far as you need to split the request into tasks.
3. Call workflow_set_plan once with a summary and the tasks: each with a unique name, a description
   an agent can act on alone, depends_on naming the tasks it must wait for, and parallel_group for
   tasks that can run at the same time. Do not do the work itself."""


def plan_workflow(db: str, workflow: dict[str, Any], request: str, cwd: str, model: str | None = None,
                  executable: str = "claude") -> None:
    """Run the planner to completion; refuses with PLANNING_FAILED unless it set the plan."""
    argv = [
        require_executable(executable, "claude_code"),
        "-p", f"Plan this workflow. The workflow ID is {workflow['id']}. User request: {request}",
        "--append-system-prompt", PLANNER_PROMPT, "--output-format", "stream-json", "--verbose",
        "--no-session-persistence", "--max-turns", str(PLANNER_TURNS), "--permission-mode", "bypassPermissions",
        *(["--model", model] if model else []),
    ]
    env = {k: v for k, v in os.environ.items() if k not in NESTING_VARIABLES}
    with tempfile.TemporaryDirectory(prefix="caw-plan-") as folder:
        config = write_config(Path(folder) / "planner.mcp.json", db)
        done = subprocess.run([*argv, "--mcp-config", str(config)], cwd=cwd, env=env, capture_output=True,
                              text=True, check=False)
    if done.returncode != 0:
        raise planning_failed(workflow["id"], f"the planner exited with status {done.returncode}: "
                                              f"{done.stderr.strip()[-500:]}")


def planning_failed(workflow_id: str, why: str) -> CawError:
    return CawError("PLANNING_FAILED", f"Workflow {workflow_id} was not planned: {why}", recoverable=True,
                    suggestion=f"Set its plan yourself (workflow_set_plan), then `caw run {workflow_id}`.")
