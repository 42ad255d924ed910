"""Reading what surrounds a task: its workflow, trail, earlier and parallel tasks, memories.

A service-layer read of the tables, a fixed handful of statements whatever the
workflow's size. Nothing here writes. Each task also gets ``files_changed``: the union of
the files its checkpoints recorded, which is what ties tasks together for the ranker.

The workflow-sized part (every task with its files, the dependency edges) is the costly
read: a thousand tasks carry twenty thousand checkpoints. It is kept per backend as a
``Snapshot``, keyed by the change feed's head read *before* it is built. Every mutation
writes exactly one event in the same transaction (DESIGN.md), so an unchanged head means
unchanged tables, and a snapshot is never used once anything has been written since.
Snapshots are shared: their rows are read, never modified.

The usual write between two loads is an agent's checkpoint, or a task changing status:
the events since the kept snapshot say which tasks they touched, and when every one is
known to change only its own task's row and checkpoints, only those tasks are read again
(``advanced``). Anything else (a plan, an edge, a suspension) reads the workflow whole.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from caw_lab.context.resume import resume_point
from caw_lab.engine.memories import current_confidence
from caw_lab.engine.rows import decode, fetch
from caw_lab.errors import not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend

MEMORY_LIMIT = 200
MESSAGE_LIMIT = 50
WORKFLOWS_PER_BACKEND = 8
ADVANCE_LIMIT = 64
"""More events than this since a kept snapshot and it is read again whole."""
TASK_LOCAL = frozenset({"checkpoint.added", "task.status", "task.claimed", "task.released", "task.plan_set",
                        "task.execution_set", "task.workspace_assigned"})
"""Events whose change is confined to their task's row and checkpoints."""
ELSEWHERE = frozenset({"agent.heartbeat", "agent.registered", "message.sent", "message.read", "message.broadcast",
                       "memory.created", "memory.reinforced", "memory.decayed", "execution.heartbeat",
                       "template.created", "repository.registered", "alert.raised"})
"""Events that change no task row, whichever workflow they name."""


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
    memo: dict[Any, Any] = field(default_factory=dict)
    """Values derived from the shared rows, kept with their snapshot (``relevance.scored``)."""
    per_task: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """Values derived from one task's row, by task id (``loader.task_items``)."""

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


@dataclass(frozen=True)
class Snapshot:
    """A workflow's tasks (with ``files_changed``) and dependency edges as of one feed head."""

    tasks: dict[str, dict[str, Any]]
    edges: dict[str, list[str]]
    memo: dict[Any, Any] = field(default_factory=dict)
    per_task: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """Values derived from one task's row: an advanced snapshot keeps those of the tasks it
    did not reread."""


_snapshots: weakref.WeakKeyDictionary[Backend, OrderedDict[str, tuple[int, Snapshot]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def gather(db: Backend, task_id: str, head: int) -> Surroundings:
    """Everything around ``task_id``; ``head`` is the change feed's head, read before this."""
    workflow = workflow_head(db, fetch(db, "task", task_id)["workflow_id"])
    shared = snapshot(db, workflow["id"], head)
    trail = [decode(r) for r in db.query(
        "SELECT * FROM checkpoints WHERE task_id = ? AND rolled_back = 0 ORDER BY sequence", (task_id,))]
    task = {**shared.tasks[task_id]}
    task["resume"] = resume_point(task, trail)
    return Surroundings(
        workflow=workflow,
        task=task,
        checkpoints=trail,
        tasks=shared.tasks,
        depends_on=shared.edges.get(task_id, []),
        distance=ancestors(shared.edges, task_id),
        memories=memories_for(db, workflow["id"]),
        messages=messages_for(db, task_id),
        memo=shared.memo,
        per_task=shared.per_task,
    )


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


def snapshot(db: Backend, workflow_id: str, head: int) -> Snapshot:
    """The workflow's snapshot at feed head ``head``, read from the tables unless kept.

    One snapshot is kept per workflow (the newest: heads only grow), for the
    ``WORKFLOWS_PER_BACKEND`` workflows loaded last. Tool calls run on worker threads, so
    the bookkeeping is locked; two threads missing at once both read the tables.
    """
    with _lock:
        kept = _snapshots.setdefault(db, OrderedDict())
        found = kept.get(workflow_id)
        if found is not None and found[0] == head:
            kept.move_to_end(workflow_id)
            return found[1]
    made = advanced(db, workflow_id, *found, head) if found is not None and found[0] < head else None
    if made is None:
        tasks = {r["id"]: decode(r) for r in db.query("SELECT * FROM tasks WHERE workflow_id = ?", (workflow_id,))}
        attach_files(db, workflow_id, tasks)
        made = Snapshot(tasks, dependency_edges(db, workflow_id))
    with _lock:
        if workflow_id not in kept or kept[workflow_id][0] <= head:
            kept[workflow_id] = (head, made)
            kept.move_to_end(workflow_id)
        if len(kept) > WORKFLOWS_PER_BACKEND:
            kept.popitem(last=False)
    return made


def advanced(db: Backend, workflow_id: str, since: int, kept: Snapshot, head: int) -> Snapshot | None:
    """``kept`` (as of feed head ``since``) brought to ``head`` by rereading only the tasks the
    events between touched, or None when one of them may have changed more than its own
    task's row and files (a plan, an edge, a suspension: anything not known to be local)."""
    events = db.query("SELECT kind, workflow_id, task_id FROM events WHERE seq > ? AND seq <= ? LIMIT ?",
                      (since, head, ADVANCE_LIMIT + 1))
    if len(events) > ADVANCE_LIMIT:
        return None
    touched: set[str] = set()
    for e in events:
        if e["kind"] in ELSEWHERE or (e["workflow_id"] is not None and e["workflow_id"] != workflow_id):
            continue
        if e["kind"] not in TASK_LOCAL or e["task_id"] not in kept.tasks:
            return None
        touched.add(e["task_id"])
    marks = ", ".join("?" * len(touched))
    rows = db.query(f"SELECT * FROM tasks WHERE id IN ({marks})", tuple(touched)) if touched else []
    if len(rows) != len(touched):
        return None
    fresh = {r["id"]: decode(r) for r in rows}
    attach_files(db, workflow_id, fresh, task_ids=tuple(fresh))
    carried = {tid: values for tid, values in kept.per_task.items() if tid not in fresh}
    return Snapshot({**kept.tasks, **fresh}, kept.edges, per_task=carried)


def clear() -> None:
    """Forget every snapshot (``caches.clear``)."""
    with _lock:
        _snapshots.clear()


def attach_files(
    db: Backend, workflow_id: str, tasks: dict[str, dict[str, Any]], task_ids: tuple[str, ...] = ()
) -> None:
    """Give each task ``files_changed``: every file its checkpoints recorded, first seen first.
    ``task_ids``, when given, limits the read to those tasks: they must be all of ``tasks``."""
    only = f" AND c.task_id IN ({', '.join('?' * len(task_ids))})" if task_ids else ""
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
