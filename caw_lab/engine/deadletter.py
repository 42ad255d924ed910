"""The dead-letter queue: tasks that used up their attempts, waiting for a person.

A dead-lettered task stays ``failed``, keeping its last error and its checkpoints; its
entry stays ``queued`` until someone requeues it (the task goes back to pending with a
fresh set of attempts, optionally a new plan recorded as a ``replan`` checkpoint) or
discards it (the task is skipped, so its dependents can run and the workflow can finish).
Either way a workflow that had failed for want of the task moves back to in_progress, and
a discard that finishes the last task completes it, so the workflow's status always
matches its tasks.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine import checkpoints
from caw_lab.engine.alerts import alert
from caw_lab.engine.changes import Event, Gated, also, commit, insert, raw
from caw_lab.engine.rows import decode, encode, fetch, required
from caw_lab.engine.tasks import workflow_follows, workflow_status_event
from caw_lab.errors import CawError
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Reads

SHOWN_CHECKPOINTS = 10


def enqueue(task: dict[str, Any], attempts: int, error: str, why: str, agent_id: str | None) -> list[Gated]:
    """The statements that put ``task`` in the queue: its entry, a ``task.dead_lettered`` event, an alert."""
    entry = {
        "id": new_id("dead_letter"), "task_id": task["id"], "workflow_id": task["workflow_id"], "status": "queued",
        "attempts": attempts, "error": error, "created_at": now_ms(),
    }
    where = {"workflow_id": task["workflow_id"], "task_id": task["id"], "agent_id": agent_id}
    detail = {"dead_letter_id": entry["id"], "attempts": attempts, "error": error, "why": why}
    message = f"Task {task['name']!r} ({task['id']}) moved to the dead-letter queue: {why}. Last error: {error}"
    return [
        insert("dead_letters", entry),
        also(Event("task.dead_lettered", payload=detail, **where)),
        alert("task_dead_lettered", message, "error", **where, **detail),
    ]


def get(db: Backend, entry_id: str) -> dict[str, Any]:
    row = db.one("SELECT * FROM dead_letters WHERE id = ?", (entry_id,))
    if row is None:
        raise CawError("DEAD_LETTER_NOT_FOUND", f"Dead letter not found: {entry_id}", recoverable=False,
                       suggestion="List the queue with dlq_list to find the entry's id.")
    return dict(row)


def list_entries(
    db: Backend, workflow_id: str | None = None, status: str | None = "queued", limit: int = 100
) -> dict[str, Any]:
    """Entries newest first, each with its task's name and status and its newest visible
    checkpoints: one batch, the checkpoints of every listed entry read by one windowed query."""
    reads = Reads(db)
    exists = required(reads, "workflow", workflow_id) if workflow_id else None
    where, params = ["1 = 1"], []
    for column, value in (("d.workflow_id", workflow_id), ("d.status", status)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    listed = (f"SELECT d.*, t.name AS task_name, t.status AS task_status, t.plan AS task_plan FROM dead_letters d "
              f"JOIN tasks t ON t.id = d.task_id WHERE {' AND '.join(where)} ORDER BY d.created_at DESC, d.id LIMIT ?")
    rows = reads.query(listed, [*params, limit])
    trails = reads.query(
        f"""SELECT * FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY c.task_id ORDER BY c.sequence DESC) AS newest
              FROM checkpoints c WHERE c.rolled_back = 0 AND c.task_id IN (SELECT task_id FROM ({listed})))
            WHERE newest <= ? ORDER BY task_id, sequence""",
        [*params, limit, SHOWN_CHECKPOINTS],
    )
    reads.run()
    if exists:
        exists()
    shown: dict[str, list[dict[str, Any]]] = {}
    for r in trails():
        shown.setdefault(r["task_id"], []).append(decode({k: v for k, v in r.items() if k != "newest"}))
    entries = [decode(r) for r in rows()]
    for entry in entries:
        entry["checkpoints"] = shown.get(entry["task_id"], [])
    return {"dead_letters": entries, "count": len(entries)}


QUEUED = "SELECT COUNT(*) FROM dead_letters WHERE workflow_id = ? AND status = 'queued'"


def queued(db: Backend, workflow_id: str) -> int:
    return db.scalar(QUEUED, (workflow_id,))


def resolve_guard(entry_id: str, status: str, note: str | None) -> Statement:
    """Close a queued entry, only while its task is still the failed task it queued."""
    return Statement(
        "UPDATE dead_letters SET status = ?, resolved_at = ?, resolution = ? WHERE id = ? AND status = 'queued' "
        "AND (SELECT t.status FROM tasks t WHERE t.id = dead_letters.task_id) = 'failed'",
        (status, now_ms(), note, entry_id),
    )


def reopen_workflow(workflow_id: str, task_id: str, only_if_last: bool) -> list[Gated]:
    """Move a workflow that failed back to in_progress (with its event); with ``only_if_last``,
    only once no other entry of the workflow is queued."""
    last = (" AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.workflow_id = workflows.id "
            "AND d.status = 'queued')") if only_if_last else ""
    reopen = raw(
        f"UPDATE workflows SET status = 'in_progress', updated_at = ? WHERE id = ? AND status = 'failed'{last} AND",
        (now_ms(), workflow_id),
    )
    return [reopen, workflow_status_event(workflow_id, task_id, "failed", "in_progress")]


def requeue(
    db: Backend, entry_id: str, new_plan: dict[str, Any] | None = None, reason: str | None = None
) -> dict[str, Any]:
    """Run the task again from pending with fresh attempts; a new plan replaces its plan."""
    entry = get(db, entry_id)
    task = fetch(db, "task", entry["task_id"])
    now = now_ms()
    values: dict[str, Any] = {"status": "pending", "attempts": 0, "next_attempt_at": None, "error": None,
                              "assigned_agent_id": None, "claimed_at": None, "updated_at": now}
    then: list[Gated] = []
    checkpoint_id = None
    if new_plan is not None:
        values.update(plan=encode(new_plan), plan_summary=new_plan.get("approach"))
        detail = {"previous_plan": task.get("plan"), "new_plan": new_plan, "previous_status": "failed",
                  "error": task.get("last_error") or task.get("error")}
        summary = reason or "Requeued with a new plan"
        checkpoint_id, add = checkpoints.add_statement(task["id"], "replan", summary, detail)
        then.append(add)
    sets = ", ".join(f"{k} = ?" for k in values)
    reset = raw(f"UPDATE tasks SET {sets} WHERE id = ? AND status = 'failed' AND", (*values.values(), task["id"]))
    then.insert(0, reset)
    then += reopen_workflow(task["workflow_id"], task["id"], only_if_last=False)
    payload = {"dead_letter_id": entry_id, "plan_replaced": new_plan is not None, "checkpoint_id": checkpoint_id,
               "reason": reason}
    event = Event("deadletter.requeued", task["workflow_id"], task["id"], payload=payload)
    if commit(db, event, guard=resolve_guard(entry_id, "requeued", reason), then=then) is None:
        raise not_queued(db, entry_id)
    return {"success": True, "task_id": task["id"], "status": "pending", "plan_replaced": new_plan is not None,
            "checkpoint_id": checkpoint_id}


def discard(db: Backend, entry_id: str, reason: str | None = None) -> dict[str, Any]:
    """Give up on the task: it is skipped (its dependents may run), the entry is closed."""
    entry = get(db, entry_id)
    task = fetch(db, "task", entry["task_id"])
    outcome = f"Discarded from the dead-letter queue{': ' + reason if reason else ''}"
    skip = raw(
        "UPDATE tasks SET status = 'skipped', outcome = ?, assigned_agent_id = NULL, claimed_at = NULL, "
        "next_attempt_at = NULL, updated_at = ? WHERE id = ? AND status = 'failed' AND",
        (outcome, now_ms(), task["id"]),
    )
    then = [skip, *reopen_workflow(task["workflow_id"], task["id"], only_if_last=True),
            *workflow_follows(task["workflow_id"], task["id"], "skipped")]
    event = Event("deadletter.discarded", task["workflow_id"], task["id"], payload={"dead_letter_id": entry_id,
                                                                                    "reason": reason})
    if commit(db, event, guard=resolve_guard(entry_id, "discarded", reason), then=then) is None:
        raise not_queued(db, entry_id)
    workflow_status = db.scalar("SELECT status FROM workflows WHERE id = ?", (task["workflow_id"],))
    return {"success": True, "task_id": task["id"], "status": "skipped", "workflow_status": workflow_status}


def not_queued(db: Backend, entry_id: str) -> CawError:
    entry = get(db, entry_id)
    task_status = db.scalar("SELECT status FROM tasks WHERE id = ?", (entry["task_id"],))
    if entry["status"] != "queued":
        why = f"it was already {entry['status']}"
    else:
        why = f"its task is {task_status}, no longer failed"
    return CawError("INVALID_STATE", f"Dead letter {entry_id} cannot be resolved: {why}", recoverable=False,
                    suggestion="List the queue again (dlq_list); only queued entries of failed tasks can be resolved.")
