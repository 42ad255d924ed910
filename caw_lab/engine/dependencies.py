"""Editing a workflow's DAG one edge at a time, never letting it close a cycle.

The cycle check runs twice: in Python first, to name the cycle by task names in the
refusal, and again inside the guarding INSERT, so two writers adding ``a -> b`` and
``b -> a`` at the same moment cannot together create the cycle neither would alone.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.changes import Event, Gated, commit, update
from caw_lab.engine.dag import dependency_map, find_cycle
from caw_lab.engine.plans import check_fan_in, other_workflow_task
from caw_lab.engine.rows import fetch
from caw_lab.errors import CawError, conflict, invalid_input
from caw_lab.ids import now_ms
from caw_lab.limits import MAX_DEPENDENCIES
from caw_lab.store.backend import Backend, Statement

REACHES = """WITH RECURSIVE upstream(id) AS (
    SELECT ? UNION SELECT d.depends_on_id FROM task_dependencies d JOIN upstream u ON d.task_id = u.id
  ) SELECT 1 FROM upstream WHERE id = ?"""
"""True when the first task already depends, directly or not, on the second."""
FAN_IN = "SELECT COUNT(*) AS n FROM task_dependencies WHERE task_id = ?"
"""How many tasks a task depends on (``limits.MAX_DEPENDENCIES`` bounds it)."""


def add(db: Backend, task_id: str, depends_on_id: str, dependency_type: str = "blocks") -> dict[str, Any]:
    """Make ``task_id`` depend on ``depends_on_id``; an edge already there is left as it is."""
    task, upstream = endpoints(db, task_id, depends_on_id)
    if exists(db, task_id, depends_on_id):
        return {"success": True, "created": False, "task_id": task_id, "depends_on_id": depends_on_id}
    check_fan_in(task["name"], fan_in(db, task_id) + 1)
    refuse_cycle(db, task, upstream)
    guard = Statement(
        "INSERT INTO task_dependencies (task_id, depends_on_id, dependency_type) "
        f"SELECT ?, ?, ? WHERE NOT EXISTS ({REACHES}) AND ({FAN_IN}) < ?",
        (task_id, depends_on_id, dependency_type, depends_on_id, task_id, task_id, MAX_DEPENDENCIES),
    )
    event = Event("task.dependency_added", task["workflow_id"], task_id,
                  payload={"depends_on_id": depends_on_id, "dependency_type": dependency_type})
    if commit(db, event, guard=guard, then=[touch(task_id)]) is None:
        check_fan_in(task["name"], fan_in(db, task_id) + 1)
        refuse_cycle(db, task, upstream)
        raise conflict(f"The dependencies of task {task_id} changed while adding one")
    return {"success": True, "created": True, "task_id": task_id, "depends_on_id": depends_on_id}


def remove(db: Backend, task_id: str, depends_on_id: str) -> dict[str, Any]:
    task, _ = endpoints(db, task_id, depends_on_id)
    guard = Statement(
        "DELETE FROM task_dependencies WHERE task_id = ? AND depends_on_id = ?", (task_id, depends_on_id)
    )
    event = Event("task.dependency_removed", task["workflow_id"], task_id, payload={"depends_on_id": depends_on_id})
    if commit(db, event, guard=guard, then=[touch(task_id)]) is None:
        raise CawError(
            "DEPENDENCY_NOT_FOUND",
            f"Task {task['name']!r} does not depend on task {depends_on_id}",
            recoverable=False,
            suggestion="Read the task's depends_on (task_get) to see its dependencies.",
        )
    return {"success": True, "task_id": task_id, "depends_on_id": depends_on_id}


def endpoints(db: Backend, task_id: str, depends_on_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both tasks, refused when they are one task. A task of another workflow is refused when it
    already waits on a task of this one (plans.other_workflow_task): that would close a cycle
    across workflows."""
    task = fetch(db, "task", task_id)
    upstream = fetch(db, "task", depends_on_id)
    if task_id == depends_on_id:
        raise invalid_input(f"Task {task['name']!r} cannot depend on itself", "Pick two different tasks.")
    if task["workflow_id"] != upstream["workflow_id"] and not exists(db, task_id, depends_on_id):
        other_workflow_task(db, task["workflow_id"], upstream["workflow_id"], depends_on_id)
    return task, upstream


def fan_in(db: Backend, task_id: str) -> int:
    return db.one(FAN_IN, (task_id,))["n"]


def exists(db: Backend, task_id: str, depends_on_id: str) -> bool:
    return bool(db.one(
        "SELECT 1 AS x FROM task_dependencies WHERE task_id = ? AND depends_on_id = ?", (task_id, depends_on_id)
    ))


def refuse_cycle(db: Backend, task: dict[str, Any], upstream: dict[str, Any]) -> None:
    """Raise DEPENDENCY_CYCLE, naming the tasks on it, if the new edge would close a cycle."""
    graph = dependency_map(db, task["workflow_id"])
    graph = {task["id"]: [*graph.pop(task["id"], []), upstream["id"]], **graph}
    cycle = find_cycle(graph)
    if not cycle:
        return
    names = {r["id"]: r["name"] for r in db.query(
        f"SELECT id, name FROM tasks WHERE id IN ({', '.join('?' for _ in cycle)})", cycle
    )}
    path = " -> ".join(repr(names[i]) for i in cycle)
    raise CawError(
        "DEPENDENCY_CYCLE",
        f"{task['name']!r} cannot depend on {upstream['name']!r}: that would close the cycle {path}",
        recoverable=True,
        suggestion="Remove one of the dependencies on that cycle first, or pick another task.",
        details={"cycle": cycle, "cycle_names": [names[i] for i in cycle]},
    )


def touch(task_id: str) -> Gated:
    return update("tasks", {"updated_at": now_ms()}, "id = ?", (task_id,))
