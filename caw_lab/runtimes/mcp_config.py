"""How an agent process reaches caw-lab: its own ``caw --server`` over stdio, on the same database.

The config file is in Claude Code's ``--mcp-config`` shape (``{"mcpServers": {"caw":
...}}``), which most MCP clients read. Every subprocess runtime writes one per agent and
passes its path in ``CAW_MCP_CONFIG``, next to ``CAW_TASK_ID``, ``CAW_WORKFLOW_ID``,
``CAW_AGENT_ID`` and ``CAW_DB_PATH``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from caw_lab.runtimes.base import Launch

SERVER_NAME = "caw"


def caw_command() -> list[str]:
    """The ``caw`` script beside this Python (the same installation), else the one on PATH."""
    beside = Path(sys.executable).with_name("caw")
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("caw"):
        return [found]
    return [sys.executable, "-c", "from caw_lab.cli import main; main()"]


def server_entry(db: str) -> dict[str, Any]:
    command, *args = caw_command()
    return {"type": "stdio", "command": command, "args": [*args, "--db", db, "--server"], "env": {"CAW_DB_PATH": db}}


def write_config(path: Path, db: str) -> Path:
    path.write_text(json.dumps({"mcpServers": {SERVER_NAME: server_entry(db)}}, indent=2) + "\n", encoding="utf-8")
    return path


def agent_env(launch: Launch, config: Path) -> dict[str, str]:
    """What an agent process is told about its task, in its environment."""
    return {
        "CAW_TASK_ID": launch.task["id"], "CAW_WORKFLOW_ID": launch.workflow["id"], "CAW_AGENT_ID": launch.agent_id,
        "CAW_DB_PATH": launch.db, "CAW_MCP_CONFIG": str(config), **launch.env,
    }
