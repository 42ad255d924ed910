"""The reads the context engine needs: a task's surroundings, the feed around them, a workflow at a glance.

A fixed handful of statements whatever the workflow's size; nothing here writes. Each read
declares its statements on the caller's ``Reads`` (``store.reads``), so a load sends what
does not depend on anything else in one batch. The
context package (a service) decides what to keep and how to show it; the SQL is here, as
everywhere, in the engine.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from caw_lab.engine.memories import current_confidence
from caw_lab.engine.rows import decode
from caw_lab.errors import not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Row, Statement
from caw_lab.store.reads import Later, Reads

MEMORY_LIMIT = 200
MESSAGE_LIMIT = 50


def workflow_head(reads: Reads, task_id: str) -> Later[dict[str, Any]]:
    """The fields a context shows of the workflow of task ``task_id`` (TASK_NOT_FOUND if there is
    no such task). Its ``initial_plan`` (every task of the plan: a thousand-task workflow's
    weighs 300 KB) is read for its approach alone, so the ``initial_plan`` returned holds only
    ``approach``."""
    row = reads.one(
        "SELECT w.id, w.name, w.status, w.plan_summary, w.source_content, "
        "json_object('approach', json_extract(w.initial_plan, '$.approach')) AS plan_head "
        "FROM tasks t JOIN workflows w ON w.id = t.workflow_id WHERE t.id = ?",
        (task_id,),
    )

    def value() -> dict[str, Any]:
        found = row()
        if found is None:
            raise not_found("task", task_id)
        head = {k: v for k, v in found.items() if k != "plan_head"}
        head["initial_plan"] = json.loads(found["plan_head"])
        return head

    return value


def tasks_with_files(
    reads: Reads, workflow_id: str, touched: tuple[int, int] | None = None, when: Statement | None = None
) -> Later[dict[str, dict[str, Any]]]:
    """The workflow's tasks by id, each with ``files_changed``: every file its visible checkpoints
    recorded, first seen first. With ``touched=(after, upto)``, only the tasks events
    ``after < seq <= upto`` name; with ``when``, nothing unless that SQL condition holds."""
    scope, only, extra = "t.workflow_id = ?", "", ()
    if touched is not None:
        # The touched tasks are few: looked up by id. The unary + keeps SQLite from walking every
        # task of the workflow through its index instead, as it would with no statistics.
        scope = "+t.workflow_id = ?"
        only, extra = " AND t.id IN (SELECT task_id FROM events WHERE seq > ? AND seq <= ?)", touched
    if when is not None:
        only, extra = f"{only} AND ({when.sql})", (*extra, *when.params)
    rows = reads.query(f"SELECT * FROM tasks t WHERE {scope}{only}", (workflow_id, *extra))
    files = reads.query(
        "SELECT c.task_id, c.files_changed FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
        f"WHERE {scope}{only} AND c.files_changed IS NOT NULL AND c.rolled_back = 0 "
        "ORDER BY c.task_id, c.sequence",
        (workflow_id, *extra),
    )

    def value() -> dict[str, dict[str, Any]]:
        tasks = {r["id"]: decode(r) for r in rows()}
        found = files_by_task(files())
        for tid, task in tasks.items():
            task["files_changed"] = list(found.get(tid, {}))
        return tasks

    return value


def beyond_tasks(
    workflow_id: str, after: int, upto: int, local: frozenset[str], elsewhere: frozenset[str], limit: int
) -> Statement:
    """SQL true when an event ``after < seq <= upto`` may have changed more of the workflow than
    its own task's row and checkpoints (a kind not in ``local`` that is not ``elsewhere``, on this
    workflow or none), or when there are more than ``limit`` of them: what a kept workflow cannot
    follow by rereading the tasks the events name."""
    return Statement(
        "EXISTS (SELECT 1 FROM events e WHERE e.seq > ? AND e.seq <= ? "
        "AND e.kind NOT IN (SELECT value FROM json_each(?)) AND (e.workflow_id IS NULL OR e.workflow_id = ?) "
        "AND (e.kind NOT IN (SELECT value FROM json_each(?)) OR e.task_id IS NULL "
        "OR e.task_id NOT IN (SELECT id FROM tasks WHERE workflow_id = ?))) "
        "OR (SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE seq > ? AND seq <= ? LIMIT ?)) > ?",
        (after, upto, json.dumps(sorted(elsewhere)), workflow_id, json.dumps(sorted(local)), workflow_id,
         after, upto, limit + 1, limit),
    )


def files_by_task(rows: list[Row]) -> dict[str, dict[str, None]]:
    """Per task, the files its checkpoints recorded (ordered keys)."""
    lists = json.loads("[" + ",".join(r["files_changed"] for r in rows) + "]")  # one parse, not one per row
    found: dict[str, dict[str, None]] = defaultdict(dict)
    for r, files in zip(rows, lists, strict=True):
        found[r["task_id"]].update(dict.fromkeys(files or ()))
    return found


def dependency_edges(reads: Reads, workflow_id: str, when: Statement | None = None) -> Later[dict[str, list[str]]]:
    """What each task of the workflow depends on, in the order the edges were added (with
    ``when``, nothing unless that SQL condition holds)."""
    condition, extra = (f" AND ({when.sql})", when.params) if when is not None else ("", ())
    rows = reads.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        f"WHERE t.workflow_id = ?{condition} ORDER BY d.rowid",
        (workflow_id, *extra),
    )

    def value() -> dict[str, list[str]]:
        edges: dict[str, list[str]] = defaultdict(list)
        for r in rows():
            edges[r["task_id"]].append(r["depends_on_id"])
        return edges

    return value


def trail(reads: Reads, task_id: str) -> Later[list[dict[str, Any]]]:
    """The task's checkpoints a rollback did not hide, in sequence."""
    rows = reads.query("SELECT * FROM checkpoints WHERE task_id = ? AND rolled_back = 0 ORDER BY sequence",
                       (task_id,))
    return lambda: [decode(r) for r in rows()]


def memories_for(reads: Reads, task_id: str) -> Later[list[dict[str, Any]]]:
    """Memories of the repositories of the task's workflow and global ones, newest first,
    confidence as of now."""
    rows = reads.query(
        "SELECT * FROM memories WHERE repository_id IS NULL OR repository_id IN "
        "(SELECT repository_id FROM workflow_repositories WHERE workflow_id = "
        "(SELECT workflow_id FROM tasks WHERE id = ?)) ORDER BY updated_at DESC LIMIT ?",
        (task_id, MEMORY_LIMIT),
    )

    def value() -> list[dict[str, Any]]:
        now = now_ms()
        return [{**decode(r), "confidence": current_confidence(r, now)} for r in rows()]

    return value


def messages_for(reads: Reads, task_id: str) -> Later[list[dict[str, Any]]]:
    """Messages about the task that are not archived, newest first."""
    rows = reads.query(
        "SELECT * FROM messages WHERE task_id = ? AND status != 'archived' ORDER BY created_at DESC LIMIT ?",
        (task_id, MESSAGE_LIMIT),
    )
    return lambda: [decode(r) for r in rows()]


def conflict_for(reads: Reads, task_id: str) -> Later[dict[str, Any] | None]:
    """The task's last detected merge conflict (files and hunks) while it is still unmerged:
    an agent picking the task up again sees what to resolve."""
    row = reads.one("SELECT e.payload, e.at FROM events e WHERE e.task_id = ? AND e.kind = 'conflict.detected' "
                    "AND NOT EXISTS (SELECT 1 FROM events m WHERE m.task_id = e.task_id AND m.kind = 'task.merged' "
                    "AND m.seq > e.seq) ORDER BY e.seq DESC LIMIT 1", (task_id,))

    def value() -> dict[str, Any] | None:
        found = row()
        if found is None:
            return None
        payload = decode(found)["payload"]
        return {"files": payload["files"], "hunks": payload["hunks"], "with_tasks": payload["tasks"][1:],
                "at": found["at"]}

    return value


def events_between(reads: Reads, since: int, head: int, limit: int) -> Later[list[Row]]:
    """Kind, workflow and task of at most ``limit`` events after ``since`` up to ``head``."""
    return reads.query(
        "SELECT kind, workflow_id, task_id FROM events WHERE seq > ? AND seq <= ? LIMIT ?", (since, head, limit)
    )


def event_time(reads: Reads, seq: int) -> Later[int | None]:
    """When event ``seq`` was written, or None when there is no such event."""
    return reads.scalar("SELECT at FROM events WHERE seq = ?", (seq,))


def task_outline(reads: Reads, workflow_id: str) -> Later[list[Row]]:
    """Id, name, status and error of every task of the workflow, in plan order."""
    return reads.query("SELECT id, name, status, error FROM tasks WHERE workflow_id = ? ORDER BY sequence",
                       (workflow_id,))


def repositories_of(reads: Reads, workflow_id: str) -> Later[list[Row]]:
    """Id and path of the workflow's repositories, in the order they were added."""
    return reads.query(
        "SELECT r.id, r.path FROM workflow_repositories wr JOIN repositories r ON r.id = wr.repository_id "
        "WHERE wr.workflow_id = ? ORDER BY wr.added_at",
        (workflow_id,),
    )
