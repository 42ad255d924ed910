"""The reads the context engine needs: a task's surroundings, the feed around them, a workflow at a glance.

A fixed handful of statements whatever the workflow's size; nothing here writes. The
context package (a service) decides what to keep and how to show it; the SQL is here, as
everywhere, in the engine.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from caw_lab.engine.memories import current_confidence
from caw_lab.engine.rows import decode, placeholders
from caw_lab.errors import not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row

MEMORY_LIMIT = 200
MESSAGE_LIMIT = 50


def workflow_head(db: Backend, workflow_id: str) -> dict[str, Any]:
    """The workflow fields a context shows. Its ``initial_plan`` (every task of the plan: a
    thousand-task workflow's weighs 300 KB) is read for its approach alone, so the
    ``initial_plan`` returned holds only ``approach``."""
    row = db.one(
        "SELECT id, name, status, plan_summary, source_content, "
        "json_object('approach', json_extract(initial_plan, '$.approach')) AS plan_head FROM workflows WHERE id = ?",
        (workflow_id,),
    )
    if row is None:
        raise not_found("workflow", workflow_id)
    head = {k: v for k, v in row.items() if k != "plan_head"}
    head["initial_plan"] = json.loads(row["plan_head"])
    return head


def workflow_of(db: Backend, task_id: str) -> str:
    """The id of the task's workflow, or TASK_NOT_FOUND."""
    workflow_id = db.scalar("SELECT workflow_id FROM tasks WHERE id = ?", (task_id,))
    if workflow_id is None:
        raise not_found("task", task_id)
    return workflow_id


def tasks_with_files(db: Backend, workflow_id: str, task_ids: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """The workflow's tasks by id (only ``task_ids`` when given), each with ``files_changed``:
    every file its visible checkpoints recorded, first seen first. Missing ids are left out."""
    if task_ids:
        rows = db.query(f"SELECT * FROM tasks WHERE id IN ({placeholders(task_ids)})", task_ids)
    else:
        rows = db.query("SELECT * FROM tasks WHERE workflow_id = ?", (workflow_id,))
    tasks = {r["id"]: decode(r) for r in rows}
    found = files_changed(db, workflow_id, tuple(tasks) if task_ids else ())
    for tid, task in tasks.items():
        task["files_changed"] = list(found.get(tid, {}))
    return tasks


def files_changed(db: Backend, workflow_id: str, task_ids: tuple[str, ...]) -> dict[str, dict[str, None]]:
    """Per task, the files its visible checkpoints recorded (ordered keys); ``task_ids`` limits the read."""
    only = f" AND c.task_id IN ({placeholders(task_ids)})" if task_ids else ""
    rows = db.query(
        "SELECT c.task_id, c.files_changed FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
        f"WHERE t.workflow_id = ?{only} AND c.files_changed IS NOT NULL AND c.rolled_back = 0 "
        "ORDER BY c.task_id, c.sequence",
        (workflow_id, *task_ids),
    )
    lists = json.loads("[" + ",".join(r["files_changed"] for r in rows) + "]")  # one parse, not one per row
    found: dict[str, dict[str, None]] = defaultdict(dict)
    for r, files in zip(rows, lists, strict=True):
        found[r["task_id"]].update(dict.fromkeys(files or ()))
    return found


def dependency_edges(db: Backend, workflow_id: str) -> dict[str, list[str]]:
    """What each task of the workflow depends on, in the order the edges were added."""
    rows = db.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        "WHERE t.workflow_id = ? ORDER BY d.rowid",
        (workflow_id,),
    )
    edges: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        edges[r["task_id"]].append(r["depends_on_id"])
    return edges


def trail(db: Backend, task_id: str) -> list[dict[str, Any]]:
    """The task's checkpoints a rollback did not hide, in sequence."""
    rows = db.query("SELECT * FROM checkpoints WHERE task_id = ? AND rolled_back = 0 ORDER BY sequence", (task_id,))
    return [decode(r) for r in rows]


def memories_for(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Memories of the workflow's repositories and global ones, newest first, confidence as of now."""
    rows = db.query(
        "SELECT * FROM memories WHERE repository_id IS NULL OR repository_id IN "
        "(SELECT repository_id FROM workflow_repositories WHERE workflow_id = ?) "
        "ORDER BY updated_at DESC LIMIT ?",
        (workflow_id, MEMORY_LIMIT),
    )
    now = now_ms()
    return [{**decode(r), "confidence": current_confidence(r, now)} for r in rows]


def messages_for(db: Backend, task_id: str) -> list[dict[str, Any]]:
    """Messages about the task that are not archived, newest first."""
    rows = db.query(
        "SELECT * FROM messages WHERE task_id = ? AND status != 'archived' ORDER BY created_at DESC LIMIT ?",
        (task_id, MESSAGE_LIMIT),
    )
    return [decode(r) for r in rows]


def conflict_for(db: Backend, task_id: str) -> dict[str, Any] | None:
    """The task's last detected merge conflict (files and hunks) while it is still unmerged:
    an agent picking the task up again sees what to resolve."""
    row = db.one("SELECT e.payload, e.at FROM events e WHERE e.task_id = ? AND e.kind = 'conflict.detected' "
                 "AND NOT EXISTS (SELECT 1 FROM events m WHERE m.task_id = e.task_id AND m.kind = 'task.merged' "
                 "AND m.seq > e.seq) ORDER BY e.seq DESC LIMIT 1", (task_id,))
    if row is None:
        return None
    payload = decode(row)["payload"]
    return {"files": payload["files"], "hunks": payload["hunks"], "with_tasks": payload["tasks"][1:], "at": row["at"]}


def events_between(db: Backend, since: int, head: int, limit: int) -> list[Row]:
    """Kind, workflow and task of at most ``limit`` events after ``since`` up to ``head``."""
    return db.query(
        "SELECT kind, workflow_id, task_id FROM events WHERE seq > ? AND seq <= ? LIMIT ?", (since, head, limit)
    )


def event_time(db: Backend, seq: int) -> int | None:
    """When event ``seq`` was written, or None when there is no such event."""
    return db.scalar("SELECT at FROM events WHERE seq = ?", (seq,))


def task_outline(db: Backend, workflow_id: str) -> list[Row]:
    """Id, name, status and error of every task of the workflow, in plan order."""
    return db.query("SELECT id, name, status, error FROM tasks WHERE workflow_id = ? ORDER BY sequence", (workflow_id,))


def repositories_of(db: Backend, workflow_id: str) -> list[Row]:
    """Id and path of the workflow's repositories, in the order they were added."""
    return db.query(
        "SELECT r.id, r.path FROM workflow_repositories wr JOIN repositories r ON r.id = wr.repository_id "
        "WHERE wr.workflow_id = ? ORDER BY wr.added_at",
        (workflow_id,),
    )
