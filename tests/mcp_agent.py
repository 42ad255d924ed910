"""An agent for the subprocess runtime: a small script that works its task over MCP stdio.

Started by the executor with CAW_MCP_CONFIG, CAW_TASK_ID and CAW_AGENT_ID in its
environment, it starts the ``caw --server`` the config names and, with the official MCP
SDK client, loads its context, moves its task to in_progress, checkpoints each step not
already done (the resume point says which) and completes it. The outcome is JSON naming
the checkpoints it saw and its attempt. The task's description (JSON) can ask it to
``hang_on_attempt`` N after its first checkpoint, or to ``fail`` with an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

STEPS = ["prepare", "change", "verify"]


async def call(client: Client, name: str, /, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    payload = json.loads(result.content[0].text)
    if result.is_error:
        raise RuntimeError(f"{name}: {payload}")
    return payload


async def work(client: Client, task_id: str, agent_id: str) -> None:
    context = await call(client, "task_load_context", task_id=task_id, include={"all_checkpoints": True})
    current = context["current_task"]
    behaviour = json.loads(current.get("description") or "{}")
    resume = current.get("resume") or {}
    attempt = resume.get("attempt", 1)
    seen = [c["summary"] for c in current.get("checkpoints", [])]
    if current["status"] == "pending":
        await call(client, "task_update_status", id=task_id, status="planning")
    if current["status"] in ("pending", "planning"):
        await call(client, "task_set_plan", id=task_id, plan={"approach": "three steps", "steps": STEPS})
    if current["status"] != "in_progress":
        await call(client, "task_update_status", id=task_id, status="in_progress")
    done = set(resume.get("steps_done", []))
    for number, step in enumerate(STEPS, 1):
        if step in done:
            continue
        await call(client, "checkpoint_add", task_id=task_id, type="progress", summary=f"{step} done",
                   detail={"step": number})
        if behaviour.get("hang_on_attempt") == attempt:
            await anyio.sleep(600)
        await anyio.sleep(behaviour.get("step_s", 0.01))
    if behaviour.get("fail"):
        await call(client, "task_update_status", id=task_id, status="failed", error=behaviour["fail"])
        return
    outcome = json.dumps({"seen": seen, "attempt": attempt, "agent": agent_id})
    await call(client, "task_update_status", id=task_id, status="completed", outcome=outcome)


async def main() -> None:
    server = json.loads(Path(os.environ["CAW_MCP_CONFIG"]).read_text())["mcpServers"]["caw"]
    params = StdioServerParameters(command=server["command"], args=server["args"],
                                   env={**os.environ, **server.get("env", {})})
    async with Client(params) as client:
        await work(client, os.environ["CAW_TASK_ID"], os.environ["CAW_AGENT_ID"])


if __name__ == "__main__":
    anyio.run(main)
