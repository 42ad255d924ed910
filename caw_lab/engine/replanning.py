"""Changing a started workflow's plan: add a task, remove one, or replace the plan.

Work already begun is never lost: a task that is claimed, or whose status is anything
but pending or planning, is *preserved* (kept with its dependencies). Each operation
checks the whole resulting graph for cycles before writing, and is one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from caw_lab.engine import dag
from caw_lab.engine.changes import Event, Gated, commit, insert, raw, update
from caw_lab.engine.plans import (
    check_fan_in,
    check_workflow_size,
    external_statements,
    split_external,
    task_statements,
    validate_plan,
)
from caw_lab.engine.repositories import task_repository_statements
from caw_lab.engine.rows import decode, encode, fetch
from caw_lab.engine.states import require_status
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import now_ms
from caw_lab.limits import MAX_WORKFLOW_TASKS
from caw_lab.store.backend import Backend, Statement

REPLAN_STATUSES = ("ready", "in_progress", "paused")
REMOVABLE_STATUSES = ("pending", "planning")
ALLOWED_SQL = ", ".join(repr(s) for s in REPLAN_STATUSES)
REMOVABLE_SQL = f"status IN ({', '.join(repr(s) for s in REMOVABLE_STATUSES)}) AND assigned_agent_id IS NULL"


def preserved(task: Mapping[str, Any]) -> bool:
    """A task whose work has begun or is reserved: replanning keeps it."""
    return task["status"] not in REMOVABLE_STATUSES or task["assigned_agent_id"] is not None


def load(db: Backend, workflow_id: str, action: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    workflow = fetch(db, "workflow", workflow_id)
    require_status("workflow", workflow, REPLAN_STATUSES, action)
    tasks = [decode(r) for r in db.query(
        "SELECT * FROM tasks WHERE workflow_id = ? ORDER BY sequence, created_at", (workflow_id,))]
    return workflow, tasks


def resolve(tasks: Sequence[Mapping[str, Any]], ref: str, role: str) -> dict[str, Any]:
    """The task a reference names: its id, else its name. An unknown dependency is
    ``UNKNOWN_DEPENDENCY`` (the plan's own code), an unknown ``after_task`` ``TASK_NOT_FOUND``."""
    for key in ("id", "name"):
        for t in tasks:
            if t[key] == ref:
                return dict(t)
    code = "TASK_NOT_FOUND" if role == "after_task" else "UNKNOWN_DEPENDENCY"
    raise CawError(code, f"No task {ref!r} in this workflow ({role})", recoverable=code == "UNKNOWN_DEPENDENCY",
                   suggestion="Refer to a task of this workflow by its id or its name.")


def refuse_cycle(graph: Mapping[str, Sequence[str]], label: Mapping[str, str]) -> None:
    cycle = dag.find_cycle(graph)
    if cycle:
        names = [label.get(n, n) for n in cycle]
        raise CawError("DEPENDENCY_CYCLE", "Change would create a dependency cycle: " + " -> ".join(names),
                       recoverable=True, suggestion="Drop one of the dependencies on that cycle.",
                       details={"cycle": names})


def touch(
    workflow_id: str, values: Mapping[str, Any] | None = None, also: str = "", params: Sequence[Any] = ()
) -> Statement:
    """Guard: the workflow is still in a status that allows changing its plan (and ``also`` holds)."""
    values = {"updated_at": now_ms(), **(values or {})}
    sets = ", ".join(f"{k} = ?" for k in values)
    return Statement(
        f"UPDATE workflows SET {sets} WHERE id = ? AND status IN ({ALLOWED_SQL}) {also}",
        (*values.values(), workflow_id, *params),
    )


NEW = ""
"""The graph key of a task about to be added, before it has an id."""


def add_task(db: Backend, workflow_id: str, spec: dict[str, Any], after_task: str | None = None) -> dict[str, Any]:
    """Insert a task; with ``after_task`` it goes right after that task, whose pending dependents
    are re-wired to wait for the new task instead, so the new step sits between them. Its
    ``depends_on`` may name another workflow's task (``{"workflow_id": ..., "task": ...}``)."""
    _, tasks = load(db, workflow_id, "add a task")
    check_workflow_size(len(tasks) + 1)
    [spec], external = split_external(db, workflow_id, [spec])
    check_fan_in(spec["name"], len(set(spec.get("context_from") or [])), "takes context from")
    if any(t["name"] == spec["name"] for t in tasks):
        raise CawError("DUPLICATE_TASK_NAME", f"Duplicate task name {spec['name']!r} in workflow", recoverable=True,
                       suggestion="Give the new task a unique name.")
    if spec["name"] in (spec.get("depends_on") or []):
        raise CawError("SELF_DEPENDENCY", f"Task {spec['name']!r} cannot depend on itself", recoverable=True,
                       suggestion="Remove the self-dependency.")
    after = resolve(tasks, after_task, "after_task") if after_task else None
    context = [resolve(tasks, ref, "context_from")["name"] for ref in spec.get("context_from") or []]
    deps, rewired = wire(db, workflow_id, tasks, spec, after)
    check_fan_in(spec["name"], len(deps) + len(external))
    sequence = after["sequence"] + 1 if after else max((t["sequence"] for t in tasks), default=0) + 1
    names = {t["id"]: t["name"] for t in tasks}
    full = {**spec, "depends_on": [names[i] for i in deps], "context_from": context}
    statements, rows = task_statements(workflow_id, [full], {t["name"]: t["id"] for t in tasks}, sequence)
    new_id = rows[0]["id"]
    then = [
        *([raw("UPDATE tasks SET sequence = sequence + 1 WHERE workflow_id = ? AND sequence >= ? AND",
               (workflow_id, sequence))] if after else []),
        *statements,
        *external_statements(rows, external),
        *task_repository_statements(db, workflow_id, [spec], rows),
        *(raw("UPDATE task_dependencies SET depends_on_id = ? WHERE task_id = ? AND depends_on_id = ? "
              "AND EXISTS (SELECT 1 FROM tasks WHERE id = ? AND status = 'pending') AND",
              (new_id, tid, after["id"], tid)) for tid in rewired if after),
    ]
    guard = touch(workflow_id, also="AND NOT EXISTS (SELECT 1 FROM tasks WHERE workflow_id = ? AND name = ?) "
                  "AND (SELECT COUNT(*) FROM tasks WHERE workflow_id = ?) < ?",
                  params=(workflow_id, spec["name"], workflow_id, MAX_WORKFLOW_TASKS))
    deps += [dep for _, dep in external]
    event = Event("workflow.task_added", workflow_id, task_id=new_id, payload={
        "name": spec["name"], "after_task": after and after["id"], "depends_on": deps, "rewired": rewired})
    if commit(db, event, guard=guard, then=then) is None:
        raise conflict(f"Workflow {workflow_id} changed while adding task {spec['name']!r}")
    return {"task_id": new_id, "workflow_id": workflow_id, "sequence": sequence, "depends_on": deps,
            "dependencies_rewired": rewired}


def wire(
    db: Backend, workflow_id: str, tasks: Sequence[Mapping[str, Any]], spec: Mapping[str, Any],
    after: Mapping[str, Any] | None,
) -> tuple[list[str], list[str]]:
    """The new task's dependency ids and the pending dependents of ``after`` re-wired to it;
    refuses the addition if the resulting graph has a cycle."""
    graph = dag.dependency_map(db, workflow_id)
    deps = [resolve(tasks, ref, "depends_on")["id"] for ref in spec.get("depends_on") or []]
    deps = list(dict.fromkeys(deps + ([after["id"]] if after else [])))
    check_fan_in(spec["name"], len(deps))
    rewired = [t["id"] for t in tasks if after and t["status"] == "pending" and after["id"] in graph[t["id"]]]
    graph[NEW] = deps
    for tid in rewired:
        graph[tid] = [d for d in graph[tid] if d != after["id"]] + [NEW]
    refuse_cycle(graph, {**{t["id"]: t["name"] for t in tasks}, NEW: spec["name"]})
    return deps, rewired


def remove_task(db: Backend, workflow_id: str, task_id: str) -> dict[str, Any]:
    """Delete a not-yet-started task; its dependents inherit its dependencies, so order holds."""
    _, tasks = load(db, workflow_id, "remove a task")
    task = next((t for t in tasks if t["id"] == task_id), None)
    if task is None:
        raise not_found("task", task_id)
    if preserved(task):
        raise not_removable(task)
    check_inherited_fan_in(dag.dependency_map(db, workflow_id), task_id, {t["id"]: t["name"] for t in tasks})
    guard = Statement(f"UPDATE tasks SET updated_at = ? WHERE id = ? AND {REMOVABLE_SQL}", (now_ms(), task_id))
    inherit = Gated(
        "INSERT OR IGNORE INTO task_dependencies (task_id, depends_on_id, dependency_type) "
        "SELECT down.task_id, up.depends_on_id, CASE WHEN down.dependency_type = 'blocks' "
        "AND up.dependency_type = 'blocks' THEN 'blocks' ELSE 'informs' END FROM task_dependencies down "
        "JOIN task_dependencies up ON up.task_id = down.depends_on_id WHERE down.depends_on_id = ? AND",
        (task_id,), returning="task_id",
    )
    renumber = update_sequence_after(workflow_id, task["sequence"])
    event = Event("workflow.task_removed", workflow_id, task_id=task_id, payload={"name": task["name"]})
    done = commit(db, event, guard=guard, then=[
        inherit, raw("DELETE FROM tasks WHERE id = ? AND", (task_id,)), renumber,
        raw("UPDATE workflows SET updated_at = ? WHERE id = ? AND", (now_ms(), workflow_id)),
    ])
    if done is None:
        raise not_removable(decode(db.one("SELECT * FROM tasks WHERE id = ?", (task_id,)) or task))
    return {"removed_task_id": task_id, "dependencies_rewired": len(done.rows[0]),
            "tasks_renumbered": len(done.rows[2])}


def check_inherited_fan_in(graph: Mapping[str, Sequence[str]], task_id: str, names: Mapping[str, str]) -> None:
    """Refuse a removal that would give one of the task's dependents more dependencies than allowed."""
    for tid, deps in graph.items():
        if task_id in deps:
            check_fan_in(names.get(tid, tid), len(set(deps) - {task_id} | set(graph.get(task_id, []))))


def update_sequence_after(workflow_id: str, sequence: int) -> Gated:
    return Gated("UPDATE tasks SET sequence = sequence - 1 WHERE workflow_id = ? AND sequence > ? AND",
                 (workflow_id, sequence), returning="id")


def not_removable(task: Mapping[str, Any]) -> CawError:
    holder = f", claimed by {task['assigned_agent_id']}" if task.get("assigned_agent_id") else ""
    return CawError("TASK_NOT_REMOVABLE", f"Task {task['id']} is {task['status']}{holder}", recoverable=False,
                    suggestion="Only unclaimed pending or planning tasks can be removed; "
                               "fail or skip a started task instead.")


def replan(db: Backend, workflow_id: str, plan: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the plan. Preserved tasks stay as they are and the plan may not name them
    (NAME_CONFLICT, as the reference); other existing tasks the plan names are updated in place
    and keep their ids; the rest are removed; the plan's new names are added. Sequence follows
    the plan, after any preserved tasks it leaves out. A task's ``depends_on`` may name another
    workflow's task (``{"workflow_id": ..., "task": ...}``)."""
    workflow, tasks = load(db, workflow_id, "replan")
    specs, external = split_external(db, workflow_id, plan["tasks"])
    kept = [t for t in tasks if preserved(t)]
    refuse_renaming_kept(kept, specs)
    planned = {s["name"] for s in specs}
    validate_plan(specs, known=[t["name"] for t in kept])
    old_graph = dag.dependency_map(db, workflow_id)
    by_name = {t["name"]: t for t in tasks}
    refuse_cycle(final_graph(kept, specs, old_graph, {t["id"]: t["name"] for t in tasks}), {})

    removed = [t for t in tasks if not preserved(t) and t["name"] not in planned]
    updated = [s for s in specs if s["name"] in by_name and not preserved(by_name[s["name"]])]
    added = [s for s in specs if s["name"] not in by_name]
    gone = {t["id"] for t in removed}
    ids = {t["name"]: t["id"] for t in tasks if t["id"] not in gone}
    inserts, rows = task_statements(workflow_id, added, ids, 0)
    statements = [
        *(Gated(f"DELETE FROM tasks WHERE id = ? AND {REMOVABLE_SQL} AND", (t["id"],), returning="id")
          for t in removed),
        *inserts,
        *task_repository_statements(db, workflow_id, added, rows),
        *(s for spec in updated for s in rewrite(spec, ids)),
        *external_statements([{"id": ids[spec["name"]]} for spec in specs], external),
        *task_repository_statements(db, workflow_id, updated, [by_name[s["name"]] for s in updated]),
        *renumber(tasks, removed, specs, ids),
    ]
    config = workflow.get("config") or {}
    history = [*config.get("replan_history", []),
               {"summary": plan["summary"], "reason": plan.get("reason"), "timestamp": now_ms()}]
    plan_values = {"plan_summary": plan["summary"], "config": encode({**config, "replan_history": history})}
    guard = touch(workflow_id, plan_values,
                  also="AND updated_at = ?", params=(workflow["updated_at"],))
    event = Event("workflow.replanned", workflow_id, payload={
        "summary": plan["summary"], "reason": plan.get("reason"), "added": [r["id"] for r in rows],
        "removed": [t["id"] for t in removed], "updated": [ids[s["name"]] for s in updated]})
    done = commit(db, event, guard=guard, then=statements)
    if done is None:
        raise conflict(f"Workflow {workflow_id} changed while it was being replanned")
    removed_count = sum(len(r) for r in done.rows[: len(removed)])
    return {
        "workflow_id": workflow_id, "tasks_added": len(rows), "tasks_removed": removed_count,
        "tasks_preserved": len(kept), "tasks_updated": len(updated),
        "new_status": workflow["status"],
    }


def refuse_renaming_kept(kept: Sequence[Mapping[str, Any]], specs: Sequence[Mapping[str, Any]]) -> None:
    """A preserved task's name stays its own: a plan naming it would be read as changing work
    already started or held, which a replan never does."""
    names = {t["name"] for t in kept}
    clash = next((s["name"] for s in specs if s["name"] in names), None)
    if clash is not None:
        raise CawError("NAME_CONFLICT", f"Task name {clash!r} conflicts with a preserved task that cannot be removed",
                       recoverable=True, suggestion="Leave preserved tasks out of the plan (they stay as they are) "
                                                    "or give the new task another name.")


def final_graph(
    kept: Sequence[Mapping[str, Any]], specs: Sequence[Mapping[str, Any]],
    old_graph: Mapping[str, Sequence[str]], names: Mapping[str, str],
) -> dict[str, list[str]]:
    """Name -> dependency names after a replan: preserved tasks keep their edges, the rest follow the plan."""
    graph = {t["name"]: [names[d] for d in old_graph[t["id"]]] for t in kept}
    for spec in specs:
        graph.setdefault(spec["name"], list(spec.get("depends_on") or []))
    return graph


def rewrite(spec: Mapping[str, Any], ids: Mapping[str, str]) -> list[Gated]:
    """Give a kept, not-started task the plan's fields and dependencies."""
    tid = ids[spec["name"]]
    fields = {
        "description": spec.get("description"), "parallel_group": spec.get("parallel_group"),
        "estimated_complexity": spec.get("estimated_complexity"),
        "files_likely_affected": encode(spec.get("files_likely_affected")),
        "required_capabilities": encode(spec.get("required_capabilities")),
        "context_from": encode([ids[n] for n in spec["context_from"]]) if spec.get("context_from") else None,
        "updated_at": now_ms(),
    }
    deps = [insert("task_dependencies", {"task_id": tid, "depends_on_id": ids[d]})
            for d in dict.fromkeys(spec.get("depends_on") or [])]
    return [update("tasks", fields, "id = ?", (tid,)),
            raw("DELETE FROM task_dependencies WHERE task_id = ? AND", (tid,)), *deps]


def renumber(
    tasks: Sequence[Mapping[str, Any]], removed: Sequence[Mapping[str, Any]],
    specs: Sequence[Mapping[str, Any]], ids: Mapping[str, str],
) -> list[Gated]:
    """Sequence after a replan: kept tasks the plan does not mention first, then the plan's order."""
    planned = {s["name"] for s in specs}
    gone = {t["id"] for t in removed}
    order = [t["id"] for t in tasks if t["id"] not in gone and t["name"] not in planned]
    order += [ids[s["name"]] for s in specs]
    return [update("tasks", {"sequence": i}, "id = ?", (tid,)) for i, tid in enumerate(order, 1)]

