"""Reading what surrounds a task: its workflow, trail, earlier and parallel tasks, memories.

A service-layer read of the tables, a fixed handful of statements whatever the
workflow's size. Nothing here writes. Each task also gets ``files_changed``: the union of
the files its checkpoints recorded, which is what ties tasks together for the ranker.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from caw_lab.context.resume import resume_point
from caw_lab.engine.memories import current_confidence
from caw_lab.engine.rows import decode, fetch
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend

MEMORY_LIMIT = 200
MESSAGE_LIMIT = 50


@dataclass
class Surroundings:
    workflow: dict[str, Any]
    task: dict[str, Any]
    checkpoints: list[dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    depends_on: list[str]
    distance: dict[str, int]
    memories: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prior(self) -> list[dict[str, Any]]:
        """Tasks earlier in the plan, in plan order (the reference's prior tasks)."""
        seq = self.task["sequence"]
        return sorted((t for t in self.tasks.values() if t["sequence"] < seq), key=lambda t: t["sequence"])

    @property
    def siblings(self) -> list[dict[str, Any]]:
        group = self.task.get("parallel_group")
        if not group:
            return []
        same = (t for t in self.tasks.values() if t.get("parallel_group") == group and t["id"] != self.task["id"])
        return sorted(same, key=lambda t: t["sequence"])

    @property
    def dependencies(self) -> list[dict[str, Any]]:
        return [self.tasks[d] for d in self.depends_on if d in self.tasks]


def gather(db: Backend, task_id: str) -> Surroundings:
    task = fetch(db, "task", task_id)
    workflow = fetch(db, "workflow", task["workflow_id"])
    tasks = {r["id"]: decode(r) for r in db.query("SELECT * FROM tasks WHERE workflow_id = ?", (workflow["id"],))}
    trail = [decode(r) for r in db.query(
        "SELECT * FROM checkpoints WHERE task_id = ? AND rolled_back = 0 ORDER BY sequence", (task_id,))]
    tasks[task_id]["resume"] = resume_point(tasks[task_id], trail)
    attach_files(db, workflow["id"], tasks)
    edges = dependency_edges(db, workflow["id"])
    return Surroundings(
        workflow=workflow,
        task=tasks[task_id],
        checkpoints=trail,
        tasks=tasks,
        depends_on=edges.get(task_id, []),
        distance=ancestors(edges, task_id),
        memories=memories_for(db, workflow["id"]),
        messages=messages_for(db, task_id),
    )


def attach_files(db: Backend, workflow_id: str, tasks: dict[str, dict[str, Any]]) -> None:
    """Give each task ``files_changed``: every file its checkpoints recorded, first seen first."""
    rows = db.query(
        "SELECT c.task_id, c.files_changed FROM checkpoints c JOIN tasks t ON t.id = c.task_id "
        "WHERE t.workflow_id = ? AND c.files_changed IS NOT NULL AND c.rolled_back = 0 ORDER BY c.task_id, c.sequence",
        (workflow_id,),
    )
    found: dict[str, dict[str, None]] = defaultdict(dict)
    for r in rows:
        for f in decode(r)["files_changed"] or []:
            found[r["task_id"]][f] = None
    for tid, task in tasks.items():
        task["files_changed"] = list(found.get(tid, {}))


def dependency_edges(db: Backend, workflow_id: str) -> dict[str, list[str]]:
    rows = db.query(
        "SELECT d.task_id, d.depends_on_id FROM task_dependencies d JOIN tasks t ON t.id = d.task_id "
        "WHERE t.workflow_id = ? ORDER BY d.rowid",
        (workflow_id,),
    )
    edges: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        edges[r["task_id"]].append(r["depends_on_id"])
    return edges


def ancestors(edges: dict[str, list[str]], task_id: str) -> dict[str, int]:
    """Every task the given one waits on, directly (1) or through others (2, 3, ...)."""
    distance: dict[str, int] = {}
    queue = deque([(task_id, 0)])
    while queue:
        node, d = queue.popleft()
        for up in edges.get(node, []):
            if up not in distance:
                distance[up] = d + 1
                queue.append((up, d + 1))
    return distance


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
