"""Agents: registration, heartbeats, and the sweep that frees a silent agent's claims.

An agent is *stale* once nothing has been heard from it (a heartbeat, a claim, a
release) for ``AGENT_TIMEOUT_MS``. Reads report a stale agent as ``offline`` with
``stale: true`` straight away, as tasks report a computed ``blocked``; ``mark_stale``
then stores that and releases the agent's unfinished claims, because a task held by a
crashed agent would otherwise never be offered to anyone again. The new holder resumes
from the task's checkpoints. The timeout is generous (ten missed heartbeats) since an
LLM agent cannot heartbeat in the middle of a long tool call.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.changes import Event, Gated, commit, insert, raw, update
from caw_lab.engine.rows import decode, encode, fetch, placeholders, require
from caw_lab.engine.states import DONE_TASK_STATUSES
from caw_lab.errors import CawError, conflict, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement

HEARTBEAT_INTERVAL_MS = 30_000
AGENT_TIMEOUT_MS = 10 * HEARTBEAT_INTERVAL_MS
GIVE_UP_AFTER = 5
"""Attempts at a change whose guard keeps losing to concurrent writers."""

LAST_SEEN = "COALESCE(last_heartbeat, created_at)"
EFFECTIVE_STATUS = f"CASE WHEN status != 'offline' AND {LAST_SEEN} < ? THEN 'offline' ELSE status END"
"""An agent's status as reads show it; binds the staleness cutoff."""


def stale_cutoff(now: int) -> int:
    """Agents last heard from before this instant are stale."""
    return now - AGENT_TIMEOUT_MS


def unfinished(alias: str) -> str:
    """SQL true for a task (aliased ``alias``) that is neither completed nor skipped."""
    done = ", ".join(f"'{s}'" for s in DONE_TASK_STATUSES)
    return f"{alias}.status NOT IN ({done})"


def release_agent(task_id: str) -> Gated:
    """Free the agent working on ``task_id`` (a task finishing or paused): ``busy`` becomes ``online``.
    A gated statement, so it rides in the batch of the task's own change."""
    return raw(
        "UPDATE agents SET current_task_id = NULL, updated_at = ?, "
        "status = CASE WHEN status = 'busy' THEN 'online' ELSE status END WHERE current_task_id = ? AND",
        (now_ms(), task_id),
    )


def register(
    db: Backend,
    *,
    name: str,
    runtime: str,
    role: str = "worker",
    workflow_id: str | None = None,
    capabilities: list[str] | None = None,
    workspace_path: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if workflow_id:
        require(db, "workflow", workflow_id)
    now = now_ms()
    row = {
        "id": new_id("agent"), "name": name, "runtime": runtime, "role": role, "status": "online",
        "capabilities": encode(capabilities), "workflow_id": workflow_id, "workspace_path": workspace_path,
        "last_heartbeat": now, "metadata": encode(metadata), "created_at": now, "updated_at": now,
    }
    payload = {"name": name, "runtime": runtime, "role": role}
    event = Event("agent.registered", workflow_id, agent_id=row["id"], payload=payload)
    commit(db, event, then=[insert("agents", row)])
    return {"id": row["id"], "name": name, "status": "online"}


def heartbeat(
    db: Backend, agent_id: str, current_task_id: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Record a sign of life. An agent marked offline (stale or unregistered) is refused:
    its claims were released when it went offline, so it must register again and claim
    afresh rather than carry on as if it still held them."""
    agent = fetch(db, "agent", agent_id)
    if current_task_id:
        require(db, "task", current_task_id)
    now = now_ms()
    values: dict[str, Any] = {"last_heartbeat": now, "updated_at": now, "status": status or agent["status"]}
    if current_task_id:
        values["current_task_id"] = current_task_id
    guard = Statement(f"UPDATE agents SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ? AND status != 'offline'",
                      (*values.values(), agent_id))
    event = Event("agent.heartbeat", agent["workflow_id"], agent_id=agent_id, payload={"status": values["status"]})
    if commit(db, event, guard=guard) is None:
        raise CawError("INVALID_STATE", f"Cannot heartbeat offline agent: {agent_id}", recoverable=False,
                       suggestion="Re-register the agent (agent_register) and claim its work again; "
                                  "its claims were released when it went offline.")
    return {"success": True, "next_heartbeat_ms": HEARTBEAT_INTERVAL_MS}


def update_agent(db: Backend, agent_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the fields the caller gave; ``metadata`` merges into the stored metadata."""
    agent = fetch(db, "agent", agent_id)
    if changes.get("current_task_id"):
        require(db, "task", changes["current_task_id"])
    values = {k: v for k, v in changes.items() if k != "metadata"}
    if "metadata" in changes:
        values["metadata"] = encode({**(agent["metadata"] or {}), **(changes["metadata"] or {})})
    values["updated_at"] = now_ms()
    event = Event("agent.updated", agent["workflow_id"], agent_id=agent_id, payload={"fields": sorted(changes)})
    commit(db, event, then=[update("agents", values, "id = ?", (agent_id,))])
    return {"success": True}


def view(agent: dict[str, Any], now: int) -> dict[str, Any]:
    """An agent as the tools show it: a stale agent reads ``offline``; ``stored_status`` keeps the row's."""
    shown = decode(agent)
    last_seen = agent["last_heartbeat"] or agent["created_at"]
    stale = agent["status"] != "offline" and last_seen < stale_cutoff(now)
    shown["stored_status"] = agent["status"]
    if stale:
        shown["status"] = "offline"
    shown["stale"] = stale
    shown["heartbeat_age_ms"] = now - last_seen
    return shown


def get(db: Backend, agent_id: str) -> dict[str, Any]:
    row = db.one("SELECT * FROM agents WHERE id = ?", (agent_id,))
    if row is None:
        raise not_found("agent", agent_id)
    return view(row, now_ms())


def list_agents(
    db: Backend,
    *,
    status: list[str] | None = None,
    role: str | None = None,
    runtime: str | None = None,
    workflow_id: str | None = None,
) -> dict[str, Any]:
    """Agents oldest first; ``status`` filters on the status as shown, so a stale agent
    counts as offline here before any sweep has stored it."""
    now = now_ms()
    where, params = ["1 = 1"], []
    if status is not None:
        where.append(f"{EFFECTIVE_STATUS} IN ({placeholders(status) or 'NULL'})")
        params += [stale_cutoff(now), *status]
    for column, value in (("role", role), ("runtime", runtime), ("workflow_id", workflow_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = db.query(f"SELECT * FROM agents WHERE {' AND '.join(where)} ORDER BY created_at, rowid", params)
    return {"agents": [view(r, now) for r in rows]}


def unregister(db: Backend, agent_id: str) -> dict[str, Any]:
    """Mark the agent offline and release its unfinished claims so others can take them."""
    agent = fetch(db, "agent", agent_id)
    released = go_offline(db, agent, "agent.unregistered")
    if released is None:
        raise conflict(f"Agent {agent_id}'s claims kept changing while unregistering it")
    return {"success": True, "tasks_released": len(released), "released_task_ids": released}


def mark_stale(db: Backend, timeout_ms: int | None = None) -> list[dict[str, Any]]:
    """Store as offline every agent not heard from within ``timeout_ms`` and release its
    unfinished claims, one change (and one ``agent.stale`` event) per agent.

    Also sweeps agents already offline that still hold claims (one that set itself
    offline with agent_update), so no claim outlives its agent's silence. An agent that
    speaks up while being swept is left alone. Returns the swept agents as stored
    afterwards, each with ``released_task_ids``.
    """
    now = now_ms()
    cutoff = stale_cutoff(now) if timeout_ms is None else now - timeout_ms
    candidates = db.query(
        f"SELECT * FROM agents a WHERE {LAST_SEEN} < ? AND (a.status != 'offline' OR EXISTS "
        f"(SELECT 1 FROM tasks t WHERE t.assigned_agent_id = a.id AND {unfinished('t')})) ORDER BY {LAST_SEEN}",
        (cutoff,),
    )
    swept = []
    for agent in candidates:
        released = go_offline(db, agent, "agent.stale", f"{LAST_SEEN} < ?", (cutoff,))
        if released is not None:
            swept.append({**decode(agent), "status": "offline", "current_task_id": None, "released_task_ids": released})
    return swept


def go_offline(
    db: Backend, agent: dict[str, Any], kind: str, condition: str = "1 = 1", params: tuple[Any, ...] = ()
) -> list[str] | None:
    """Mark ``agent`` offline and release its unfinished claims in one change whose event
    names exactly the tasks released; ``None`` if ``condition`` stopped holding.

    The guard also checks the agent still holds exactly the claims just read, and the
    change is retried when it does not, so the event never misreports what was freed.
    """
    for _ in range(GIVE_UP_AFTER):
        rows = db.query(
            f"SELECT t.id, t.workflow_id FROM tasks t WHERE t.assigned_agent_id = ? AND {unfinished('t')} "
            "ORDER BY t.id",
            (agent["id"],),
        )
        held = [r["id"] for r in rows]
        now = now_ms()
        claims_sql, claims_params = same_claims(agent["id"], held)
        guard = Statement(
            f"UPDATE agents SET status = 'offline', current_task_id = NULL, updated_at = ? "
            f"WHERE id = ? AND {condition} AND {claims_sql}",
            (now, agent["id"], *params, *claims_params),
        )
        release = update(
            "tasks", {"assigned_agent_id": None, "claimed_at": None, "updated_at": now},
            f"assigned_agent_id = ? AND {unfinished('tasks')}", (agent["id"],),
        )
        event = Event(kind, event_workflow(agent, rows), agent_id=agent["id"], payload={"released_task_ids": held})
        if commit(db, event, guard=guard, then=[release]) is not None:
            return held
        if not db.one(f"SELECT 1 AS x FROM agents WHERE id = ? AND {condition}", (agent["id"], *params)):
            return None
    return None


def event_workflow(agent: dict[str, Any], released: list[dict[str, Any]]) -> str | None:
    """The agent's workflow, else the one workflow all released tasks belong to, so a
    follower of that workflow's feed sees its tasks come free."""
    workflows = {r["workflow_id"] for r in released}
    return agent["workflow_id"] or (workflows.pop() if len(workflows) == 1 else None)


def same_claims(agent_id: str, held: list[str]) -> tuple[str, tuple[Any, ...]]:
    """SQL (and its parameters) true while the agent's unfinished claims are exactly ``held``."""
    count = f"(SELECT COUNT(*) FROM tasks t WHERE t.assigned_agent_id = ? AND {unfinished('t')}"
    sql, params = f"{count}) = ?", (agent_id, len(held))
    if held:
        sql += f" AND {count} AND t.id IN ({placeholders(held)})) = ?"
        params += (agent_id, *held, len(held))
    return sql, params
