"""Tasks: their shape as returned, status changes through the state machine, plans.

A status change carries its consequences in the same batch: a ``ready`` workflow whose
first task starts becomes ``in_progress``, and an ``in_progress`` workflow whose last
unfinished task finishes becomes ``completed``. Both are conditional UPDATEs evaluated
inside the batch, so two agents finishing the last two tasks at once still complete the
workflow exactly once. Such a derived workflow change records its own
``workflow.status`` event (payload ``auto: true``) so the change feed shows every
status a workflow passes through.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine import checkpoints, conflicts, leases, orchestration
from caw_lab.engine.agents import release_agent
from caw_lab.engine.changes import Event, Gated, also, commit, raw
from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.rows import encode, fetch, fetched
from caw_lab.engine.states import ACTIVE_TASK_STATUSES, DONE_SQL, DONE_TASK_STATUSES, check_transition, require_status
from caw_lab.errors import CawError, conflict
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Reads

REPLANNABLE = ("failed", "in_progress")


def view(task: dict[str, Any], blocked: bool, depends_on: list[str]) -> dict[str, Any]:
    """A task as the tools show it: ``status`` reads ``blocked`` when it is computed so."""
    shown = dict(task)
    shown["stored_status"] = task["status"]
    if blocked and task["status"] == "pending":
        shown["status"] = "blocked"
    shown["blocked"] = blocked
    shown["depends_on"] = depends_on
    return shown


def get(
    db: Backend, task_id: str, include_checkpoints: bool = False, checkpoint_limit: int | None = None
) -> dict[str, Any]:
    """The task with ``blocked`` computed; with checkpoints, the newest ``checkpoint_limit``: one batch."""
    reads = Reads(db)
    found = fetched(reads, "task", task_id)
    upstream = reads.query(
        "SELECT d.depends_on_id, d.dependency_type, up.status FROM task_dependencies d "
        "JOIN tasks up ON up.id = d.depends_on_id WHERE d.task_id = ? ORDER BY up.sequence",
        (task_id,),
    )
    trail = checkpoints.newest(reads, task_id, checkpoint_limit) if include_checkpoints else list
    reads.run()
    task, deps = found(), upstream()
    waiting = any(d["dependency_type"] == "blocks" and d["status"] not in DONE_TASK_STATUSES for d in deps)
    shown = view(task, task["status"] == "pending" and waiting, [d["depends_on_id"] for d in deps])
    shown["checkpoints"] = trail()
    return shown


def workflow_status_event(workflow_id: str, task_id: str, before: str, after: str) -> Gated:
    """A ``workflow.status`` event written only if the UPDATE just before it changed a row."""
    payload = {"from": before, "to": after, "auto": True}
    return also(Event("workflow.status", workflow_id, task_id, payload=payload), if_changed=True)


def workflow_follows(workflow_id: str, task_id: str, target: str) -> list[Gated]:
    """The workflow's automatic transitions that ``task_id`` moving to ``target`` may cause."""
    now = now_ms()
    if target in ACTIVE_TASK_STATUSES:
        start = raw(
            "UPDATE workflows SET status = 'in_progress', updated_at = ? WHERE id = ? AND status = 'ready' AND",
            (now, workflow_id),
        )
        return [start, workflow_status_event(workflow_id, task_id, "ready", "in_progress")]
    if target in DONE_TASK_STATUSES:
        finish = raw(
            "UPDATE workflows SET status = 'completed', updated_at = ? WHERE id = ? AND status = 'in_progress' "
            f"AND NOT EXISTS (SELECT 1 FROM tasks WHERE workflow_id = ? AND status NOT IN {DONE_SQL}) AND",
            (now, workflow_id, workflow_id),
        )
        return [finish, workflow_status_event(workflow_id, task_id, "in_progress", "completed")]
    return []


def blocked_error(task: dict[str, Any], blockers: list[str]) -> CawError:
    return CawError(
        "TASK_BLOCKED",
        f"Task {task['name']!r} ({task['id']}) waits on unfinished dependencies: {', '.join(blockers)}",
        recoverable=True,
        suggestion="Finish or skip those tasks first, or pick another task with workflow_next_tasks.",
        details={"blocked_by": blockers},
    )


def require_details(status: str, outcome: str | None, error: str | None) -> None:
    if status == "completed" and not outcome:
        raise CawError("MISSING_OUTCOME", "Completing a task needs an outcome", recoverable=True,
                       suggestion="Pass outcome: a short summary of what was done.")
    if status == "failed" and not error:
        raise CawError("MISSING_ERROR", "Failing a task needs an error", recoverable=True,
                       suggestion="Pass error: what went wrong, so a retry can avoid it.")


def status_values(
    current: str, status: str, outcome: str | None, outcome_detail: dict[str, Any] | None, error: str | None
) -> dict[str, Any]:
    """Columns a move to ``status`` sets; a failed task going back to pending loses its claim
    so any agent may retry it."""
    values: dict[str, Any] = {"status": status, "updated_at": now_ms()}
    if status == "completed":
        values.update(outcome=outcome, outcome_detail=encode(outcome_detail))
    if status == "failed":
        values["error"] = error
    if current == "failed" and status == "pending":
        values.update(assigned_agent_id=None, claimed_at=None)
    return values


def update_status(
    db: Backend,
    task_id: str,
    status: str,
    *,
    outcome: str | None = None,
    outcome_detail: dict[str, Any] | None = None,
    error: str | None = None,
    fencing_token: int | None = None,
) -> dict[str, Any]:
    """Move the task to ``status``. With ``fencing_token`` the move is made on behalf of that lease
    and refused with LEASE_STALE unless it still holds (checked inside the change). A task that
    finishes, or loses its claim going back to pending, releases its leases."""
    task = fetch(db, "task", task_id)
    current = task["status"]
    waits_on = orchestration.check_dependencies(db, task_id)["pending"] if current == "pending" else []
    blockers = [d["name"] for d in waits_on]
    if blockers and status in ACTIVE_TASK_STATUSES:
        raise blocked_error(task, blockers)
    check_transition("task", "blocked" if blockers else current, status)
    require_details(status, outcome, error)
    if status == "completed":
        conflicts.before_completion(db, task)
    values = status_values(current, status, outcome, outcome_detail, error)
    sets = ", ".join(f"{k} = ?" for k in values)
    unblocked = f" AND NOT {blocked_sql('tasks')}" if current == "pending" else ""
    fence, fence_params = leases.fenced(fencing_token, task_id, now_ms()) if fencing_token else ("1 = 1", ())
    guard = Statement(
        f"UPDATE tasks SET {sets} WHERE id = ? AND status = ?{unblocked} AND {fence}",
        (*values.values(), task_id, current, *fence_params),
    )
    then = workflow_follows(task["workflow_id"], task_id, status)
    if "assigned_agent_id" in values:
        then.insert(0, release_agent(task_id))
    if "assigned_agent_id" in values or status in DONE_TASK_STATUSES:
        then += leases.release_for_task(db, task_id, f"task {status}")
    event = Event("task.status", task["workflow_id"], task_id, task["assigned_agent_id"],
                  {"from": current, "to": status})
    if commit(db, event, guard=guard, then=then) is None:
        if fencing_token and not db.one(f"SELECT {fence} AS held", fence_params)["held"]:
            raise leases.stale(db, fencing_token)
        raise refusal(db, task_id, current)
    workflow_status = db.scalar("SELECT status FROM workflows WHERE id = ?", (task["workflow_id"],))
    return {"success": True, "previous_status": current, "status": status, "workflow_status": workflow_status}


def refusal(db: Backend, task_id: str, expected: str) -> CawError:
    """Why a guarded task update matched nothing: it moved, or it became blocked."""
    task = fetch(db, "task", task_id)
    pending = orchestration.check_dependencies(db, task_id)["pending"]
    if task["status"] == expected and pending:
        return blocked_error(task, [d["name"] for d in pending])
    return conflict(f"Task {task_id} changed from {expected} to {task['status']} while updating it")


def set_plan(db: Backend, task_id: str, plan: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store the task's plan; ``context`` is merged into the stored one (a null value removes a key)."""
    task = fetch(db, "task", task_id)
    require_status("task", task, ("planning",), "set the plan")
    merge = ", context = json_patch(COALESCE(context, '{}'), ?)" if context is not None else ""
    params: tuple[Any, ...] = (encode(plan), plan.get("approach"), now_ms())
    params += (encode(context),) if context is not None else ()
    guard = Statement(
        f"UPDATE tasks SET plan = ?, plan_summary = ?, updated_at = ?{merge} WHERE id = ? AND status = 'planning'",
        (*params, task_id),
    )
    event = Event("task.plan_set", task["workflow_id"], task_id, task["assigned_agent_id"],
                  {"steps": len(plan.get("steps") or [])})
    if commit(db, event, guard=guard) is None:
        raise conflict(f"Task {task_id} left planning while its plan was being set")
    return {"success": True}


def replan(db: Backend, task_id: str, reason: str, new_plan: dict[str, Any]) -> dict[str, Any]:
    """Replace the plan of a failed or running task, recording why in a ``replan`` checkpoint.

    A failed task goes back to ``pending`` (an allowed transition) and keeps its claim, so
    the agent that replanned it carries on; a running task stays ``in_progress``.
    """
    task = fetch(db, "task", task_id)
    require_status("task", task, REPLANNABLE, "replan")
    status = "pending" if task["status"] == "failed" else task["status"]
    detail = {"previous_plan": task.get("plan"), "new_plan": new_plan, "previous_status": task["status"],
              "error": task.get("error")}
    checkpoint_id, add = checkpoints.add_statement(task_id, "replan", reason, detail)
    guard = Statement(
        "UPDATE tasks SET plan = ?, plan_summary = ?, status = ?, error = NULL, outcome = NULL, outcome_detail = NULL, "
        "updated_at = ? WHERE id = ? AND status = ?",
        (encode(new_plan), new_plan.get("approach"), status, now_ms(), task_id, task["status"]),
    )
    event = Event("task.replanned", task["workflow_id"], task_id, task["assigned_agent_id"],
                  {"reason": reason, "from": task["status"], "to": status, "checkpoint_id": checkpoint_id})
    if commit(db, event, guard=guard, then=[add]) is None:
        raise conflict(f"Task {task_id} changed status while it was being replanned")
    return {"success": True, "checkpoint_id": checkpoint_id, "status": status}
