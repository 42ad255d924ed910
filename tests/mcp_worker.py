"""One agent process for the concurrency tests: claim and complete tasks until none are left.

Run as ``python mcp_worker.py stdio DB WORKFLOW INDEX COUNT`` (it starts its own
``caw --server``) or ``python mcp_worker.py http URL WORKFLOW INDEX COUNT``. Prints one
JSON line: the tasks it completed, its claim conflicts, and any other refusal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_session import ToolFailed, call, http_client, run, stdio_params

LOST_IN_A_ROW = 2
"""Claims lost in a row before asking for a fresh list: by then the list is mostly others' tasks."""


async def work(client: Client, workflow_id: str, index: int, count: int) -> dict[str, Any]:
    agent = await call(client, "agent_register", name=f"worker-{index}", runtime="custom")
    completed: list[str] = []
    conflicts, errors = 0, []
    while offered := (await call(client, "workflow_next_tasks", workflow_id=workflow_id))["tasks"]:
        start = len(offered) * index // count  # start in our own stretch of the list, meet others at its end
        lost = 0
        for task in offered[start:] + offered[:start]:
            try:
                if not await claim(client, task["id"], agent["id"]):
                    conflicts, lost = conflicts + 1, lost + 1
                    if lost == LOST_IN_A_ROW:
                        break
                    continue
                lost = 0
                await call(client, "task_update_status", id=task["id"], status="planning")
                await call(client, "task_update_status", id=task["id"], status="completed", outcome=f"by {index}")
                completed.append(task["id"])
            except ToolFailed as failed:
                errors.append(failed.error)
    await call(client, "agent_unregister", id=agent["id"])
    return {"completed": completed, "conflicts": conflicts, "errors": errors}


async def claim(client: Client, task_id: str, agent_id: str) -> bool:
    """Whether we won; losing to a holder, or to one who already finished the task, is a conflict."""
    try:
        return (await call(client, "task_claim", task_id=task_id, agent_id=agent_id))["success"]
    except ToolFailed as failed:
        if failed.error["code"] == "INVALID_STATE" and "is completed" in failed.error["message"]:
            return False
        raise


def main(transport: str, target: str, workflow_id: str, index: int, count: int) -> None:
    report: dict[str, Any] = {}

    async def scenario() -> None:
        if transport == "stdio":
            async with Client(stdio_params(Path(target))) as client:
                report.update(await work(client, workflow_id, index, count))
        else:
            async with http_client(target) as client:
                report.update(await work(client, workflow_id, index, count))

    run(scenario)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
