"""Workflow plans: validated as a DAG, then turned into tasks in one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from caw_lab.engine.changes import Event, Gated, commit, insert, update
from caw_lab.engine.dag import find_cycle
from caw_lab.engine.repositories import task_repository_statements
from caw_lab.engine.rows import encode, fetch
from caw_lab.engine.states import require_status
from caw_lab.errors import CawError, conflict, invalid_input
from caw_lab.ids import new_id, now_ms
from caw_lab.limits import (
    MAX_CAPABILITY_CHARS,
    MAX_DEPENDENCIES,
    MAX_REQUIRED_CAPABILITIES,
    MAX_WORKFLOW_TASKS,
    exceeded,
)
from caw_lab.store.backend import Backend, Statement


def validate_plan(tasks: Sequence[dict[str, Any]], known: Sequence[str] = ()) -> None:
    """Refuse plans over the size limits, duplicate names, unknown or self dependencies, and
    cycles (naming the cycle).

    ``known`` are names of tasks already in the workflow that the plan may depend on.
    """
    check_workflow_size(len(tasks) + len(known))
    for t in tasks:
        check_fan_in(t["name"], len(set(t.get("depends_on") or [])), "depends on")
        check_fan_in(t["name"], len(set(t.get("context_from") or [])), "takes context from")
    names = [t["name"] for t in tasks]
    seen: set[str] = set()
    for name in names:
        if not name.strip():
            raise invalid_input("Task names must not be empty")
        if name in seen or name in known:
            raise CawError("DUPLICATE_TASK_NAME", f"Duplicate task name: {name!r}", recoverable=True,
                           suggestion="Give every task a unique name.")
        seen.add(name)
    available = seen | set(known)
    for t in tasks:
        check_capabilities(t)
        for field in ("depends_on", "context_from"):
            for dep in t.get(field) or []:
                if dep == t["name"]:
                    raise CawError("SELF_DEPENDENCY", f"Task {t['name']!r} cannot depend on itself",
                                   recoverable=True, suggestion="Remove the self-dependency.")
                if dep not in available:
                    raise CawError(
                        "UNKNOWN_DEPENDENCY",
                        f"Unknown dependency: task {t['name']!r} {field.replace('_', ' ')} unknown task {dep!r}",
                        recoverable=True,
                        suggestion=f"Known tasks: {', '.join(sorted(available))}.",
                    )
    cycle = find_cycle({t["name"]: list(t.get("depends_on") or []) for t in tasks})
    if cycle:
        raise CawError(
            "DEPENDENCY_CYCLE",
            "Plan has a dependency cycle: " + " -> ".join(cycle),
            recoverable=True,
            suggestion="Remove one of the dependencies on that cycle.",
            details={"cycle": cycle},
        )


def check_workflow_size(tasks: int) -> None:
    """A workflow's size bounds what every read of it costs (next tasks, progress, context)."""
    if tasks > MAX_WORKFLOW_TASKS:
        raise exceeded(f"A workflow holds at most {MAX_WORKFLOW_TASKS} tasks; this would make {tasks}",
                       "Split the work into several workflows.", limit=MAX_WORKFLOW_TASKS, requested=tasks)


def check_fan_in(name: str, count: int, relation: str = "depends on") -> None:
    """A task's fan-in bounds what loading its context and checking whether it is blocked cost."""
    if count > MAX_DEPENDENCIES:
        raise exceeded(f"Task {name!r} {relation} {count} tasks; a task may have at most {MAX_DEPENDENCIES}",
                       "Group the tasks it waits on behind a few intermediate tasks.",
                       limit=MAX_DEPENDENCIES, requested=count)


def check_capabilities(task: dict[str, Any]) -> None:
    needs = task.get("required_capabilities") or []
    if len(needs) > MAX_REQUIRED_CAPABILITIES:
        raise exceeded(f"Task {task['name']!r} requires {len(needs)} capabilities; at most {MAX_REQUIRED_CAPABILITIES}",
                       "Name the few capabilities an agent must have.", limit=MAX_REQUIRED_CAPABILITIES,
                       requested=len(needs))
    if not all(0 < len(c) <= MAX_CAPABILITY_CHARS for c in needs):
        raise invalid_input(f"Task {task['name']!r}: a required capability is empty or over {MAX_CAPABILITY_CHARS} "
                            "characters", "Name each capability briefly, e.g. python or sql.")


def task_row(workflow_id: str, spec: dict[str, Any], sequence: int, now: int) -> dict[str, Any]:
    return {
        "id": new_id("task"), "workflow_id": workflow_id, "name": spec["name"],
        "description": spec.get("description"), "status": "pending", "sequence": sequence,
        "parallel_group": spec.get("parallel_group"), "estimated_complexity": spec.get("estimated_complexity"),
        "files_likely_affected": encode(spec.get("files_likely_affected")),
        "required_capabilities": encode(spec.get("required_capabilities")),
        "created_at": now, "updated_at": now,
    }


def task_statements(
    workflow_id: str, specs: Sequence[dict[str, Any]], ids: dict[str, str], first_sequence: int
) -> tuple[list[Gated], list[dict[str, Any]]]:
    """Insert rows for ``specs``; ``ids`` maps every reachable name to its task id and is extended."""
    now = now_ms()
    rows = [task_row(workflow_id, spec, first_sequence + i, now) for i, spec in enumerate(specs)]
    ids.update({r["name"]: r["id"] for r in rows})
    statements = [insert("tasks", r) for r in rows]
    for spec, row in zip(specs, rows, strict=True):
        for dep in spec.get("depends_on") or []:
            statements.append(insert("task_dependencies", {"task_id": row["id"], "depends_on_id": ids[dep]}))
        if spec.get("context_from"):
            context_from = encode([ids[n] for n in spec["context_from"]])
            statements.append(update("tasks", {"context_from": context_from}, "id = ?", (row["id"],)))
    return statements, rows


def split_external(
    db: Backend, workflow_id: str, tasks: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Plan tasks with only their own workflow's dependencies, and the dependencies on other
    workflows' tasks (``{"workflow_id": ..., "task": name or id}``) as (task index, task id).
    Such a dependency blocks like any other (dag.blocked_sql reads the edge, whatever the
    workflow), so workflow_next_tasks, task_get_available and task_claim hold the task back
    until the other task is done. Used wherever tasks are given with their dependencies
    (workflow_set_plan, workflow_add_task, workflow_replan). The plan's size is checked first:
    nothing here reads a plan over the limits."""
    check_workflow_size(len(tasks))
    local, external = [], []
    for index, spec in enumerate(tasks):
        deps = spec.get("depends_on") or []
        check_fan_in(spec["name"], len(deps), "depends on")
        for dep in deps:
            if not isinstance(dep, (str, dict)):
                raise invalid_input(f"Task {spec['name']!r}: depends_on lists task names or "
                                    "{\"workflow_id\": ..., \"task\": ...}", "Fix the dependency list.")
            if isinstance(dep, dict):
                if set(dep) != {"workflow_id", "task"}:
                    raise invalid_input(f"Task {spec['name']!r}: a dependency on another workflow's task is "
                                        "{\"workflow_id\": ..., \"task\": ...}", "Give exactly those two keys.")
                external.append((index, other_workflow_task(db, workflow_id, dep["workflow_id"], dep["task"])))
        local.append({**spec, "depends_on": [d for d in deps if isinstance(d, str)] or None})
    return local, list(dict.fromkeys(external))


def external_statements(rows: Sequence[Mapping[str, Any]], external: Sequence[tuple[int, str]]) -> list[Gated]:
    """The edges from ``rows`` (the plan's tasks, in plan order) to other workflows' tasks."""
    return [insert("task_dependencies", {"task_id": rows[i]["id"], "depends_on_id": dep}) for i, dep in external]


REACHES_WORKFLOW = """WITH RECURSIVE upstream(id) AS (
    SELECT ? UNION SELECT d.depends_on_id FROM task_dependencies d JOIN upstream u ON d.task_id = u.id
  ) SELECT t.name FROM upstream u JOIN tasks t ON t.id = u.id WHERE t.workflow_id = ? LIMIT 1"""
"""A task of the workflow that the given task depends on, directly or through any workflow."""


def other_workflow_task(db: Backend, workflow_id: str, other: str, task: str) -> str:
    """The id of the task ``task`` (id or name) of workflow ``other``, refused when it is unknown,
    or when it already waits, through any chain of dependencies, on a task of ``workflow_id``: an
    edge to it could then close a cycle across workflows that no single workflow's check sees."""
    if not isinstance(other, str) or not isinstance(task, str):
        raise invalid_input("A dependency on another workflow's task names both as strings",
                            "Write {\"workflow_id\": \"wf_...\", \"task\": \"<name or id>\"}.")
    if other == workflow_id:
        raise invalid_input("A dependency on a task of the same workflow names the task alone",
                            "Write depends_on: [\"<task name>\"] for tasks of this workflow.")
    fetch(db, "workflow", other)
    found = db.one("SELECT id FROM tasks WHERE workflow_id = ? AND (id = ? OR name = ?) ORDER BY id = ? DESC LIMIT 1",
                   (other, task, task, task))
    if found is None:
        raise CawError("UNKNOWN_DEPENDENCY", f"Workflow {other} has no task {task[:200]!r}", recoverable=True,
                       suggestion="Name a task of that workflow by its name or id (workflow_get include_tasks).")
    back = db.one(REACHES_WORKFLOW, (found["id"], workflow_id))
    if back is not None:
        raise CawError("DEPENDENCY_CYCLE", f"Task {task[:200]!r} of workflow {other} already waits on task "
                       f"{back['name']!r} of this workflow", recoverable=True,
                       suggestion="Depend on another task, or remove the dependency the other way round.",
                       details={"workflow_id": other, "task": found["id"], "waits_on": back["name"]})
    return str(found["id"])


def set_plan(db: Backend, workflow_id: str, plan: dict[str, Any]) -> dict[str, Any]:
    workflow = fetch(db, "workflow", workflow_id)
    require_status("workflow", workflow, ("planning",), "set the plan")
    tasks, external = split_external(db, workflow_id, plan["tasks"])
    validate_plan(tasks)
    statements, rows = task_statements(workflow_id, tasks, {}, 1)
    statements += external_statements(rows, external)
    statements += task_repository_statements(db, workflow_id, tasks, rows)
    now = now_ms()
    guard = Statement(
        "UPDATE workflows SET status = 'ready', initial_plan = ?, plan_summary = ?, updated_at = ? "
        "WHERE id = ? AND status = 'planning'",
        (encode(plan), plan.get("summary"), now, workflow_id),
    )
    groups = sorted({t["parallel_group"] for t in tasks if t.get("parallel_group")})
    event = Event("workflow.plan_set", workflow_id, payload={"task_ids": [r["id"] for r in rows]})
    if commit(db, event, guard=guard, then=statements) is None:
        raise conflict(f"Workflow {workflow_id} left planning while its plan was being set")
    return {
        "workflow_id": workflow_id,
        "tasks_created": len(rows),
        "parallelizable_groups": groups,
        "status": "ready",
        "tasks": [{"id": r["id"], "name": r["name"], "sequence": r["sequence"]} for r in rows],
    }
