"""Claiming tasks: exactly one agent wins a task, however many processes race for it.

A claim is one read and one batch. The read gathers what the decision needs (the task,
its workflow's status and free slots, whether it is blocked, whether the agent exists); the
batch is a compare-and-set on ``assigned_agent_id IS NULL`` that checks every condition
again, the slots taken included, then the ``task.claimed`` event, the agent marked busy on
the task and, on a workflow's first claim, the workflow moved from ready to in_progress. If
anything changed in between, or no slot is free, the guard misses and the claim is read
again and decided again instead of being applied on stale facts. A claim that loses its
race therefore answers ``already_claimed_by`` after that read, as the reference does,
without trying again.

Capacity is enforced, not advised: a task takes a slot while it is started or claimed
and unfinished (``ACTIVE``), and a claim succeeds only while fewer than the workflow's
``max_parallel_tasks`` other tasks do, and fewer than its group's limit
(``config.parallel_group_limits: {group: n}``) in its parallel group. The workflow's slots
taken are its stored count, ``workflows.active_tasks``, which triggers keep inside every
change that moves a task into or out of a slot (migration 010): comparing it costs the same
however many tasks run, where counting them cost every claim time in proportion to them.
A group's slots are counted (only tasks of a group with a limit have any), from the index
of grouped active tasks, in the guard, and in the read only after a miss, to say why. Both
checks are inside the guard, so eight processes racing for the last slot leave one winner.

With ``lease_files`` the claim also takes exclusive leases on the task's
``files_likely_affected`` (engine/leases.py) in the same batch: the guard repeats the
lease decision too, so a claim never holds some of its leases without the rest, nor
succeeds without them. Releasing the task (here, or by finishing it) releases them.

As in the reference, a claim does not change the task's status: the holder moves it
through planning and in_progress with task_update_status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from caw_lab.engine import leases
from caw_lab.engine.agents import GIVE_UP_AFTER, unfinished
from caw_lab.engine.changes import Event, Gated, commit, raw, update
from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.orchestration import ACTIVE
from caw_lab.engine.rows import decode, fetched, placeholders, required
from caw_lab.engine.states import CLAIMABLE_WORKFLOW_STATUSES, DONE_TASK_STATUSES
from caw_lab.engine.tasks import workflow_follows
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Later, Reads

ORPHANED = ("planning", "in_progress", "paused")
"""Started statuses: an unclaimed task in one of them lost its agent mid-way."""

MAX_CAPABILITIES = 20

GROUP_LIMIT = ("(SELECT g.value FROM json_each({w}.config, '$.parallel_group_limits') g "
               "WHERE g.key = {t}.parallel_group)")
"""The limit ``config.parallel_group_limits`` sets on task ``t``'s group in workflow ``w``, or NULL."""


def group_slots_taken(t: str) -> str:
    """SQL counting the other tasks taking a slot of task ``t``'s parallel group (read from
    idx_tasks_group_active, whose leading columns are the workflow and the group)."""
    return (f"(SELECT COUNT(*) FROM tasks o WHERE o.workflow_id = {t}.workflow_id AND o.id != {t}.id "
            f"AND o.parallel_group = {t}.parallel_group AND {ACTIVE.format(t='o')})")


def slots_taken(t: str, w: str) -> str:
    """SQL for the slots of workflow ``w`` that tasks other than ``t`` take: its stored count
    (``workflows.active_tasks``, kept by triggers, migration 010) less ``t`` when ``t`` takes one."""
    return f"({w}.active_tasks - {ACTIVE.format(t=t)})"


FACTS = f"""SELECT t.id, t.status, t.assigned_agent_id, t.workflow_id, t.parallel_group, t.repository_id,
  t.files_likely_affected, w.status AS workflow_status, w.max_parallel_tasks, {slots_taken('t', 'w')} AS active,
  CASE WHEN t.assigned_agent_id IS NULL THEN {blocked_sql('t')} END AS blocked,
  (SELECT a.id FROM agents a WHERE a.id = ?) AS agent, {{group}}
FROM tasks t LEFT JOIN workflows w ON w.id = t.workflow_id AND t.assigned_agent_id IS NULL WHERE t.id = ?"""
"""What a claim decides on. The workflow's facts and the task's blockers matter only while the
task is free, and are read only then: most claims racing for a task find it taken, and each
page a read touches after another process's write is fetched again (SQLite drops a
connection's page cache whenever the file changed), a third of such a read's cost."""

READ = FACTS.format(group="NULL AS group_active, NULL AS group_limit")
"""What a claim decides on, its group's slots aside: the guard counts those anyway, and only
tasks of a group with a limit have any to count."""

READ_COUNTED = FACTS.format(group=f"""CASE WHEN t.parallel_group IS NOT NULL THEN {group_slots_taken('t')} END
  AS group_active,
  CASE WHEN t.parallel_group IS NOT NULL THEN {GROUP_LIMIT.format(w='w', t='t')} END AS group_limit""")
"""READ with the group's slots counted: read again after a guard missed, to say why."""

GUARD = f"""UPDATE tasks SET assigned_agent_id = ?, claimed_at = ?, updated_at = ?
WHERE id = ? AND assigned_agent_id IS NULL AND {unfinished('tasks')}
  AND (SELECT w.status = ? AND {slots_taken('tasks', 'w')} < w.max_parallel_tasks
       FROM workflows w WHERE w.id = tasks.workflow_id)
  AND NOT {blocked_sql('tasks')}
  AND (tasks.parallel_group IS NULL OR NOT EXISTS (SELECT 1 FROM workflows w WHERE w.id = tasks.workflow_id
         AND {group_slots_taken('tasks')} >= {GROUP_LIMIT.format(w='w', t='tasks')}))"""

def claim(
    db: Backend, task_id: str, agent_id: str, lease_files: bool = False, lease_ttl_ms: int = leases.CLAIM_TTL_MS
) -> dict[str, Any]:
    """``{success: true}`` for the winner (and for the holder asking again), with ``leases`` when
    ``lease_files``; a loser gets ``{success: false}`` with ``already_claimed_by``, or with
    ``reason`` (``max_parallel_tasks``, ``parallel_group_limit``, ``lease_conflict``) and its detail."""
    if lease_files:
        leases.check_ttl(lease_ttl_ms)
    for attempt in range(GIVE_UP_AFTER):
        state = read(db, task_id, agent_id, counted=attempt > 0)
        answer = decide(state, task_id, agent_id)
        if answer is not None:
            return with_leases(db, answer, task_id) if lease_files else answer
        leasing = None
        if lease_files and (wants := leases.task_wants(state)):
            held = leases.read(db, agent_id, wants, now_ms())
            leasing = Leasing(wants, held, leases.decide(wants, held), lease_ttl_ms)
            if leasing.decision.blocking:
                return {"success": False, "reason": "lease_conflict",
                        "lease_conflicts": [leases.held_view(r) for r in leasing.decision.blocking]}
        taken = take(db, state, task_id, agent_id, leasing)
        if taken is not None:
            return {"success": True, **({"leases": taken} if lease_files else {})}
    raise conflict(f"Task {task_id} kept changing while claiming it")


def read(db: Backend, task_id: str, agent_id: str, counted: bool = False) -> dict[str, Any]:
    """The facts a claim decides on, the slots taken too when ``counted``."""
    state = db.one(READ_COUNTED if counted else READ, (agent_id, task_id))
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
    if state["active"] >= state["max_parallel_tasks"]:
        return {"success": False, "reason": "max_parallel_tasks", "max_parallel_tasks": state["max_parallel_tasks"],
                "active": state["active"]}
    if state["group_limit"] is not None and state["group_active"] >= state["group_limit"]:
        return {"success": False, "reason": "parallel_group_limit", "parallel_group": state["parallel_group"],
                "limit": state["group_limit"], "active": state["group_active"]}
    return None


def with_leases(db: Backend, answer: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The holder asking again with ``lease_files`` gets the leases its claim holds."""
    if not answer["success"]:
        return answer
    return {**answer, "leases": [leases.held_view(r) for r in leases.of_task(db, task_id)]}


@dataclass(frozen=True)
class Leasing:
    """The file leases a claim takes: what it wants and what the lease read decided."""

    wants: list[leases.Want]
    facts: leases.Facts
    decision: leases.Decision
    ttl_ms: int


def take(
    db: Backend, state: dict[str, Any], task_id: str, agent_id: str, leasing: Leasing | None = None
) -> list[dict[str, Any]] | None:
    """Apply the claim; the leases it took (``[]`` without leasing), or ``None`` if the guard missed."""
    now = now_ms()
    workflow_id, starts = state["workflow_id"], state["workflow_status"] == "ready"
    sql, params = GUARD, (agent_id, now, now, task_id, state["workflow_status"])
    then = [update("agents", {"current_task_id": task_id, "status": "busy", "last_heartbeat": now, "updated_at": now},
                   "id = ?", (agent_id,))]
    if starts:
        then += workflow_follows(workflow_id, task_id, "in_progress")
    grants = leases.grants(leasing.wants, agent_id, leasing.ttl_ms, now, task_id, workflow_id) if leasing else []
    if leasing:
        condition, lease_params = leases.unchanged(leasing.wants, leasing.facts, leasing.decision, now)
        sql, params = f"{sql} AND {condition}", (*params, *lease_params)
        then += leases.expiry(leasing.decision.expired, now, agent_id)
        then += [statement for grant in grants for statement in grant.statements]
    payload = {"workflow_started": True} if starts else {}
    event = Event("task.claimed", workflow_id, task_id, agent_id, payload)
    done = commit(db, event, guard=Statement(sql, params), then=then)
    return None if done is None else [leases.held_view(r) for r in leases.granted(db, done, grants)]


def release(db: Backend, task_id: str, agent_id: str, reason: str | None = None) -> dict[str, Any]:
    """Only the holder may release; the task goes back to the pool, its status unchanged."""
    for _ in range(GIVE_UP_AFTER):
        state = read(db, task_id, agent_id)
        require_holder(state, task_id, agent_id)
        guard, freed = claim_dropping(db, task_id, agent_id, "task released")
        event = Event("task.released", state["workflow_id"], task_id, agent_id, {"reason": reason})
        if commit(db, event, guard=guard, then=freed) is not None:
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


def claim_dropping(db: Backend, task_id: str, agent_id: str, why: str) -> tuple[Statement, list[Gated]]:
    """The guard that drops ``agent_id``'s claim, and the statements freeing that agent and
    releasing the task's leases (``why`` is recorded on each ``lease.released``)."""
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
    return guard, [free_agent, *leases.release_for_task(db, task_id, why)]


def available(db: Backend, agent_id: str, workflow_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Unclaimed, unblocked tasks of running workflows that an agent can take now.

    First any *orphaned* task: started (planning, in_progress, paused) but holding no
    claim, because its agent unregistered or was swept as stale; the new holder picks
    it up from its checkpoints. Then pending tasks in sequence order, ranked by capability:
    tasks whose ``required_capabilities`` the agent all has, then tasks requiring none (those
    whose name, description or likely files mention one of the agent's capabilities first),
    then tasks needing a capability it lacks.
    """
    reads = Reads(db)
    agent = fetched(reads, "agent", agent_id)
    exists = required(reads, "workflow", workflow_id) if workflow_id else None
    orphans = offered(reads, f"t.status IN ({placeholders(ORPHANED)})", list(ORPHANED), workflow_id, limit)
    reads.run()
    capabilities = agent().get("capabilities") or []
    if exists:
        exists()
    found = orphans()
    if len(found) >= limit:
        return {"tasks": found}
    order, order_params = capability_order(capabilities)
    reads = Reads(db)
    pending = offered(reads, "t.status = 'pending'", [], workflow_id, limit - len(found), order, order_params)
    reads.run()
    return {"tasks": found + pending()}


def offered(
    reads: Reads,
    status_sql: str,
    status_params: list[Any],
    workflow_id: str | None,
    limit: int,
    order: str = "",
    order_params: list[str] | None = None,
) -> Later[list[dict[str, Any]]]:
    """Unclaimed, unblocked tasks matching ``status_sql`` in workflows that hand out work."""
    where = [
        "t.assigned_agent_id IS NULL", status_sql, f"NOT {blocked_sql('t')}",
        f"w.status IN ({placeholders(CLAIMABLE_WORKFLOW_STATUSES)})",
    ]
    params: list[Any] = [*status_params, *CLAIMABLE_WORKFLOW_STATUSES]
    if workflow_id:
        where.append("t.workflow_id = ?")
        params.append(workflow_id)
    rows = reads.query(
        f"SELECT t.* FROM tasks t JOIN workflows w ON w.id = t.workflow_id WHERE {' AND '.join(where)} "
        f"ORDER BY {order}t.sequence, t.created_at, t.id LIMIT ?",
        [*params, *(order_params or []), limit],
    )
    return lambda: [decode(r) for r in rows()]


def capability_order(capabilities: list[str]) -> tuple[str, list[str]]:
    """An ORDER BY prefix: required capabilities met, none required, some missing; among tasks
    requiring none, those whose text mentions more of the agent's capabilities first."""
    wanted = [c.lower() for c in capabilities[:MAX_CAPABILITIES] if c.strip()]
    requires = "COALESCE(json_array_length(t.required_capabilities), 0) > 0"
    if not wanted:
        return f"({requires}), ", []
    unmet = ("EXISTS (SELECT 1 FROM json_each(t.required_capabilities) r "
             "WHERE lower(r.value) NOT IN (SELECT value FROM json_each(?)))")
    text = "lower(t.name || ' ' || COALESCE(t.description, '') || ' ' || COALESCE(t.files_likely_affected, ''))"
    score = " + ".join(f"(instr({text}, ?) > 0)" for _ in wanted)
    return f"CASE WHEN NOT ({requires}) THEN 1 WHEN {unmet} THEN 2 ELSE 0 END, ({score}) DESC, ", [
        json.dumps(wanted), *wanted]
