"""Claiming tasks: exactly one agent wins a task, however many processes race for it.

A claim is one read and one batch. The read gathers everything the decision needs
(the task, its workflow's status, whether it is blocked, whether the agent exists);
the batch is a compare-and-set on ``assigned_agent_id IS NULL`` that repeats every
condition the read checked, then the ``task.claimed`` event, the agent marked busy on
the task and, on a workflow's first claim, the workflow moved from ready to
in_progress. If anything changed in between, the guard misses and the claim is read
and decided again instead of being applied on stale facts.

As in the reference, a claim does not change the task's status: the holder moves it
through planning and in_progress with task_update_status.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.agents import GIVE_UP_AFTER, unfinished
from caw_lab.engine.changes import Event, Gated, commit, raw, update
from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.rows import decode, fetch, placeholders, require
from caw_lab.engine.states import CLAIMABLE_WORKFLOW_STATUSES, DONE_TASK_STATUSES
from caw_lab.engine.tasks import workflow_follows
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

ORPHANED = ("planning", "in_progress", "paused")
"""Started statuses: an unclaimed task in one of them lost its agent mid-way."""

MAX_CAPABILITIES = 20

READ = f"""SELECT t.status, t.assigned_agent_id, t.workflow_id, w.status AS workflow_status,
  {blocked_sql('t')} AS blocked, (SELECT a.id FROM agents a WHERE a.id = ?) AS agent
FROM tasks t JOIN workflows w ON w.id = t.workflow_id WHERE t.id = ?"""

GUARD = f"""UPDATE tasks SET assigned_agent_id = ?, claimed_at = ?, updated_at = ?
WHERE id = ? AND assigned_agent_id IS NULL AND {unfinished('tasks')}
  AND (SELECT w.status FROM workflows w WHERE w.id = tasks.workflow_id) = ? AND NOT {blocked_sql('tasks')}"""


def claim(db: Backend, task_id: str, agent_id: str) -> dict[str, Any]:
    """``{success: true}`` for the winner (and for the holder asking again); a loser gets
    ``{success: false, already_claimed_by}``."""
    for _ in range(GIVE_UP_AFTER):
        state = read(db, task_id, agent_id)
        answer = decide(state, task_id, agent_id)
        if answer is not None:
            return answer
        if take(db, state, task_id, agent_id):
            return {"success": True}
    raise conflict(f"Task {task_id} kept changing while claiming it")


def read(db: Backend, task_id: str, agent_id: str) -> dict[str, Any]:
    state = db.one(READ, (agent_id, task_id))
    if state is None:
        raise not_found("task", task_id)
    if state["agent"] is None:
        raise not_found("agent", agent_id)
    return state


def decide(state: dict[str, Any], task_id: str, agent_id: str) -> dict[str, Any] | None:
    """The answer the facts already give, or ``None`` when the task is free to take."""
    if state["status"] in DONE_TASK_STATUSES:
        raise CawError(
            "INVALID_STATE", f"Task {task_id} is {state['status']} and cannot be claimed",
            recoverable=False, suggestion="Claim a pending task instead (task_get_available).",
        )
    holder = state["assigned_agent_id"]
    if holder == agent_id:
        return {"success": True}
    if holder is not None:
        return {"success": False, "already_claimed_by": holder}
    if state["workflow_status"] not in CLAIMABLE_WORKFLOW_STATUSES:
        raise CawError(
            "INVALID_STATE",
            f"Workflow {state['workflow_id']} is {state['workflow_status']}; its tasks cannot be claimed",
            recoverable=state["workflow_status"] == "paused",
            suggestion=f"Tasks can be claimed while the workflow is {', '.join(CLAIMABLE_WORKFLOW_STATUSES)}.",
        )
    if state["blocked"]:
        raise CawError(
            "TASK_BLOCKED", f"Task {task_id} waits on unfinished blocking dependencies",
            recoverable=True,
            suggestion="Claim it once its dependencies are completed or skipped (task_check_dependencies).",
        )
    return None


def take(db: Backend, state: dict[str, Any], task_id: str, agent_id: str) -> bool:
    now = now_ms()
    workflow_id, starts = state["workflow_id"], state["workflow_status"] == "ready"
    guard = Statement(GUARD, (agent_id, now, now, task_id, state["workflow_status"]))
    then = [update("agents", {"current_task_id": task_id, "status": "busy", "last_heartbeat": now, "updated_at": now},
                   "id = ?", (agent_id,))]
    if starts:
        then += workflow_follows(workflow_id, task_id, "in_progress")
    payload = {"workflow_started": True} if starts else {}
    event = Event("task.claimed", workflow_id, task_id, agent_id, payload)
    return commit(db, event, guard=guard, then=then) is not None


def release(db: Backend, task_id: str, agent_id: str, reason: str | None = None) -> dict[str, Any]:
    """Only the holder may release; the task goes back to the pool, its status unchanged."""
    for _ in range(GIVE_UP_AFTER):
        state = read(db, task_id, agent_id)
        require_holder(state, task_id, agent_id)
        guard, free_agent = letting_go(task_id, agent_id)
        event = Event("task.released", state["workflow_id"], task_id, agent_id, {"reason": reason})
        if commit(db, event, guard=guard, then=[free_agent]) is not None:
            return {"success": True}
    raise conflict(f"Task {task_id} kept changing while releasing it")


def require_holder(state: dict[str, Any], task_id: str, agent_id: str) -> None:
    holder = state["assigned_agent_id"]
    if holder != agent_id:
        raise CawError(
            "NOT_ASSIGNED" if holder else "NOT_CLAIMED",
            f"Task {task_id} is claimed by {holder}, not {agent_id}" if holder
            else f"Task {task_id} is not claimed",
            recoverable=False, suggestion="Only the agent holding a claim can release it.",
        )


def letting_go(task_id: str, agent_id: str) -> tuple[Statement, Gated]:
    """The guard that drops ``agent_id``'s claim, and the statement freeing that agent."""
    now = now_ms()
    guard = Statement(
        "UPDATE tasks SET assigned_agent_id = NULL, claimed_at = NULL, updated_at = ? "
        "WHERE id = ? AND assigned_agent_id = ?",
        (now, task_id, agent_id),
    )
    free_agent = raw(
        "UPDATE agents SET status = CASE WHEN current_task_id = ? THEN 'online' ELSE status END, "
        "current_task_id = CASE WHEN current_task_id = ? THEN NULL ELSE current_task_id END, "
        "last_heartbeat = ?, updated_at = ? WHERE id = ? AND",
        (task_id, task_id, now, now, agent_id),
    )
    return guard, free_agent


def available(db: Backend, agent_id: str, workflow_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Unclaimed, unblocked tasks of running workflows that an agent can take now.

    First any *orphaned* task: started (planning, in_progress, paused) but holding no
    claim, because its agent unregistered or was swept as stale; the new holder picks
    it up from its checkpoints. Then pending tasks in sequence order, those whose name,
    description or likely files mention one of the agent's capabilities first; that is
    all capability matching means here, since tasks declare no required capabilities.
    """
    agent = fetch(db, "agent", agent_id)
    if workflow_id:
        require(db, "workflow", workflow_id)
    orphans = offered(db, f"t.status IN ({placeholders(ORPHANED)})", list(ORPHANED), workflow_id, limit)
    order, order_params = capability_order(agent.get("capabilities") or [])
    pending = offered(db, "t.status = 'pending'", [], workflow_id, limit - len(orphans), order, order_params)
    return {"tasks": orphans + pending}


def offered(
    db: Backend,
    status_sql: str,
    status_params: list[Any],
    workflow_id: str | None,
    limit: int,
    order: str = "",
    order_params: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Unclaimed, unblocked tasks matching ``status_sql`` in workflows that hand out work."""
    if limit <= 0:
        return []
    where = [
        "t.assigned_agent_id IS NULL", status_sql, f"NOT {blocked_sql('t')}",
        f"w.status IN ({placeholders(CLAIMABLE_WORKFLOW_STATUSES)})",
    ]
    params: list[Any] = [*status_params, *CLAIMABLE_WORKFLOW_STATUSES]
    if workflow_id:
        where.append("t.workflow_id = ?")
        params.append(workflow_id)
    rows = db.query(
        f"SELECT t.* FROM tasks t JOIN workflows w ON w.id = t.workflow_id WHERE {' AND '.join(where)} "
        f"ORDER BY {order}t.sequence, t.created_at, t.id LIMIT ?",
        [*params, *(order_params or []), limit],
    )
    return [decode(r) for r in rows]


def capability_order(capabilities: list[str]) -> tuple[str, list[str]]:
    """An ORDER BY prefix ranking tasks by how many capabilities their text mentions."""
    wanted = [c.lower() for c in capabilities[:MAX_CAPABILITIES] if c.strip()]
    if not wanted:
        return "", []
    text = "lower(t.name || ' ' || COALESCE(t.description, '') || ' ' || COALESCE(t.files_likely_affected, ''))"
    score = " + ".join(f"(instr({text}, ?) > 0)" for _ in wanted)
    return f"({score}) DESC, ", wanted
