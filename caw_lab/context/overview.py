"""``workflow_get_summary``: a workflow at a glance, as JSON text or Markdown.

The reference's fields (name, status, plan summary, task counts by status, repositories)
plus what an agent or a person resuming work asks next: which tasks are running, which
failed and why, and which are ready to start. ``token_estimate`` is the exact count of
the whole returned payload, as for ``task_load_context``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from caw_lab.context.tokens import counter, with_estimate
from caw_lab.engine import context_reads
from caw_lab.engine.dag import blocked_ids
from caw_lab.engine.rows import fetched
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Reads

ERROR_TOKENS = 60


def facts(db: Backend, workflow_id: str) -> dict[str, Any]:
    """What the summary shows, read in one batch."""
    batch = Reads(db)
    found = fetched(batch, "workflow", workflow_id)
    outline = context_reads.task_outline(batch, workflow_id)
    waiting = blocked_ids(batch, workflow_id)
    repositories = context_reads.repositories_of(batch, workflow_id)
    batch.run()
    wf, tasks, blocked, repos = found(), outline(), waiting(), repositories()
    statuses = Counter("blocked" if t["id"] in blocked else t["status"] for t in tasks)
    enc = counter()
    return {
        "id": wf["id"],
        "name": wf["name"],
        "status": wf["status"],
        "plan_summary": wf.get("plan_summary"),
        "total_tasks": len(tasks),
        "tasks_by_status": dict(statuses),
        "repositories": repos,
        "in_progress": [t["name"] for t in tasks if t["status"] == "in_progress"],
        "failed": [
            {"name": t["name"], "error": enc.truncate(t["error"] or "", ERROR_TOKENS)}
            for t in tasks
            if t["status"] == "failed"
        ],
        "ready": [t["name"] for t in tasks if t["status"] == "pending" and t["id"] not in blocked],
    }


def markdown(f: dict[str, Any]) -> str:
    lines = [f"# {f['name']}", "", f"**Status:** {f['status']}", f"**Tasks:** {f['total_tasks']} total", ""]
    if f["repositories"]:
        lines += ["## Repositories", "", *(f"- {r['path']}" for r in f["repositories"]), ""]
    if f["plan_summary"]:
        lines += ["## Plan", "", f["plan_summary"], ""]
    if f["tasks_by_status"]:
        lines += ["## Tasks by Status", "", *(f"- {s}: {n}" for s, n in f["tasks_by_status"].items()), ""]
    for title, key in (("In progress", "in_progress"), ("Ready", "ready")):
        if f[key]:
            lines += [f"## {title}", "", *(f"- {name}" for name in f[key]), ""]
    if f["failed"]:
        lines += ["## Failed", "", *(f"- {t['name']}: {t['error']}" for t in f["failed"]), ""]
    return "\n".join(lines)


def summary(db: Backend, workflow_id: str, fmt: str = "json") -> dict[str, Any]:
    """``{summary, token_estimate}``; a JSON summary is compact JSON text, as the reference returns text."""
    f = facts(db, workflow_id)
    text = markdown(f) if fmt == "markdown" else json.dumps(f, ensure_ascii=False, separators=(",", ":"))
    return with_estimate({"summary": text})
