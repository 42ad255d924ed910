"""The ``caw://workflows/{id}/summary`` resource: a workflow as one markdown page.

Written for an agent coming back after a context reset, so it leads with where the
work stands (status, counts, tasks and who holds them) and ends with the latest
checkpoints of the tasks touched most recently, which is where work resumes.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from caw_lab.errors import invalid_input
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool

URI_TEMPLATE = "caw://workflows/{id}/summary"
URI = re.compile(r"^caw://workflows/(?P<id>[^/]+)/summary$")
RECENT_TASKS = 5
CHECKPOINTS_PER_TASK = 3
RECENT_CHECKPOINTS = 10
CELL_CHARS = 120


def uri_for(workflow_id: str) -> str:
    return URI_TEMPLATE.format(id=workflow_id)


def workflow_id_of(uri: str) -> str:
    match = URI.match(uri)
    if not match:
        raise invalid_input(f"Unknown resource: {uri}", f"Read a resource of the form {URI_TEMPLATE}.")
    return match["id"]


def render(db: Backend, workflow_id: str) -> str:
    workflow = call_tool(db, "workflow_get", {"id": workflow_id, "include_tasks": True})
    tasks = workflow["tasks"]
    return "\n".join([*header(workflow, tasks), *task_table(tasks), *recent_checkpoints(db, tasks)]) + "\n"


def header(workflow: dict[str, Any], tasks: list[dict[str, Any]]) -> list[str]:
    counts = Counter(t["status"] for t in tasks)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no tasks yet"
    lines = [
        f"# {workflow['name']} ({workflow['id']})",
        "",
        f"- Status: **{workflow['status']}**",
        f"- Tasks: {len(tasks)} ({tally})",
        f"- Max parallel tasks: {workflow['max_parallel_tasks']}",
    ]
    if workflow.get("plan_summary"):
        lines += ["", "## Plan", "", workflow["plan_summary"]]
    return lines


def task_table(tasks: list[dict[str, Any]]) -> list[str]:
    if not tasks:
        return []
    lines = ["", "## Tasks", "", "| # | Task | Status | Agent | Outcome or error |", "|---|---|---|---|---|"]
    for task in tasks:
        result = task.get("outcome") or task.get("error") or ""
        lines.append(
            f"| {task['sequence']} | {cell(task['name'])} (`{task['id']}`) | {task['status']} "
            f"| {task.get('assigned_agent_id') or ''} | {cell(result)} |"
        )
    return lines


def recent_checkpoints(db: Backend, tasks: list[dict[str, Any]]) -> list[str]:
    touched = sorted((t for t in tasks if t["stored_status"] != "pending"), key=lambda t: -t["updated_at"])
    names = {t["id"]: t["name"] for t in tasks}
    found = [cp for t in touched[:RECENT_TASKS] for cp in newest_checkpoints(db, t["id"])]
    found.sort(key=lambda cp: (-cp["created_at"], -cp["sequence"]))
    if not found:
        return []
    lines = ["", "## Recent checkpoints", ""]
    for cp in found[:RECENT_CHECKPOINTS]:
        lines.append(
            f"- {stamp(cp['created_at'])} {names[cp['task_id']]} (`{cp['task_id']}`) "
            f"#{cp['sequence']} {cp['checkpoint_type']}: {cell(cp['summary'])}"
        )
    return lines


def newest_checkpoints(db: Backend, task_id: str) -> list[dict[str, Any]]:
    task = call_tool(db, "task_get", {"id": task_id, "include_checkpoints": True,
                                      "checkpoint_limit": CHECKPOINTS_PER_TASK})
    return task["checkpoints"]


def cell(text: str) -> str:
    """One line, pipes escaped, cut short: a table cell or list item must not break the page."""
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= CELL_CHARS else flat[: CELL_CHARS - 1] + "…"


def stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
