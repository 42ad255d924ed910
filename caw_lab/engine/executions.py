"""Executions: which process runs a workflow's agents, written down so any process can see it.

An executor registers as the workflow's coordinator agent (runtime ``caw_executor``), so
its liveness is a heartbeat like any agent's, and the guard that registers it refuses a
second live executor for the same workflow. Its life is told by ``execution.*`` events:
``started`` (with the settings it runs with, so a resume can reuse them),
``heartbeat``, ``suspend_requested`` (another process asking it to stop),
``suspended`` and ``finished``. ``status`` reads only these and the agents, so
workflow_execution_status answers the same from any process.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine import deadletter, orchestration
from caw_lab.engine.agents import unfinished
from caw_lab.engine.alerts import alert
from caw_lab.engine.changes import Event, Gated, commit, raw, update
from caw_lab.engine.retries import parse
from caw_lab.engine.rows import decode, encode, fetch, fetched, placeholders
from caw_lab.engine.states import DONE_SQL, DONE_TASK_STATUSES, require_status
from caw_lab.engine.tasks import workflow_status_event
from caw_lab.errors import CawError
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Reads

EXECUTOR_RUNTIME = "caw_executor"
STARTABLE = ("ready", "in_progress", "paused", "failed")
LIFE = ("execution.started", "execution.suspended", "execution.finished")
LIVE_EXECUTOR = (
    "SELECT 1 FROM agents x WHERE x.workflow_id = ? AND x.runtime = 'caw_executor' AND x.status != 'offline' "
    "AND COALESCE(x.last_heartbeat, x.created_at) >= ?"
)


LAST_BEAT = ("SELECT MAX(COALESCE(last_heartbeat, created_at)) AS at FROM agents "
             "WHERE workflow_id = ? AND runtime = ? AND status != 'offline'")
"""When the workflow's executor agents that are not offline last showed a sign of life."""


def begin(db: Backend, workflow_id: str, *, settings: dict[str, Any], timeout_ms: int, pid: int, host: str) -> str:
    """Register this process as the workflow's one live executor and move a paused or failed
    workflow back to in_progress; returns the executor's agent id."""
    workflow = fetch(db, "workflow", workflow_id)
    require_status("workflow", workflow, STARTABLE, "start executing")
    now = now_ms()
    row = {
        "id": new_id("agent"), "name": f"executor-{host}-{pid}", "runtime": EXECUTOR_RUNTIME, "role": "coordinator",
        "status": "online", "workflow_id": workflow_id, "last_heartbeat": now,
        "metadata": encode({"pid": pid, "host": host, "executor": True}), "created_at": now, "updated_at": now,
    }
    guard = Statement(
        f"INSERT INTO agents ({', '.join(row)}) SELECT {placeholders(list(row))} WHERE NOT EXISTS ({LIVE_EXECUTOR})",
        (*row.values(), workflow_id, now - timeout_ms),
    )
    then: list[Gated] = [update("agents", {"status": "offline", "updated_at": now},
                                "workflow_id = ? AND runtime = ? AND id != ? AND status != 'offline'",
                                (workflow_id, EXECUTOR_RUNTIME, row["id"]))]
    if workflow["status"] in ("paused", "failed"):
        then += [raw("UPDATE workflows SET status = 'in_progress', updated_at = ? WHERE id = ? AND status = ? AND",
                     (now, workflow_id, workflow["status"])),
                 workflow_status_event(workflow_id, None, workflow["status"], "in_progress")]  # type: ignore[arg-type]
    payload = {"executor_id": row["id"], "pid": pid, "host": host, "settings": settings,
               "resumed": workflow["status"] == "paused", "from_status": workflow["status"]}
    if commit(db, Event("execution.started", workflow_id, agent_id=row["id"], payload=payload), guard=guard,
              then=then) is None:
        raise already_running(workflow_id)
    return row["id"]


def already_running(workflow_id: str) -> CawError:
    return CawError("ALREADY_RUNNING", f"Workflow {workflow_id} is already being executed by a live executor",
                    recoverable=False, suggestion="Use workflow_suspend to stop the current execution first.")


def heartbeat(db: Backend, workflow_id: str, executor_id: str, agent_ids: list[str]) -> bool:
    """Keep the executor and its running agents alive; False once the executor was marked offline."""
    now = now_ms()
    guard = Statement("UPDATE agents SET last_heartbeat = ?, updated_at = ? WHERE id = ? AND status != 'offline'",
                      (now, now, executor_id))
    then = [update("agents", {"last_heartbeat": now}, f"id IN ({placeholders(agent_ids)}) AND status != 'offline'",
                   agent_ids)] if agent_ids else []
    event = Event("execution.heartbeat", workflow_id, agent_id=executor_id, payload={"agents": len(agent_ids)})
    return commit(db, event, guard=guard, then=then) is not None


def scaled(db: Backend, workflow_id: str, executor_id: str, before: int | None, after: int,
           hints: dict[str, Any]) -> None:
    """Record that an executor scaling on hints (``max_agents: "auto"``) now aims for ``after`` agents."""
    payload = {"executor_id": executor_id, "from": before, "to": after,
               **{k: hints[k] for k in ("ready", "busy", "mean_ms", "arrival_rate_per_min", "recommended")}}
    commit(db, Event("execution.scaled", workflow_id, agent_id=executor_id, payload=payload))


def request_suspend(db: Backend, workflow_id: str, timeout_ms: int) -> int | None:
    """Ask the live executor (in whatever process) to suspend; the request's seq, None if none is live."""
    guard = Statement(f"UPDATE workflows SET updated_at = updated_at WHERE id = ? AND EXISTS ({LIVE_EXECUTOR})",
                      (workflow_id, workflow_id, now_ms() - timeout_ms))
    done = commit(db, Event("execution.suspend_requested", workflow_id), guard=guard)
    return done.seq if done else None


def requested(db: Backend, workflow_id: str, since_seq: int) -> bool:
    return bool(db.scalar(
        "SELECT COUNT(*) FROM events WHERE workflow_id = ? AND kind = 'execution.suspend_requested' AND seq > ?",
        (workflow_id, since_seq),
    ))


def suspend(db: Backend, workflow_id: str, executor_id: str, agent_ids: list[str]) -> dict[str, Any]:
    """Once the agents' processes are stopped: pause their running tasks, put tasks they were
    still planning back to pending, release every claim, mark them offline and pause the workflow."""
    held = db.query(
        f"SELECT id, status FROM tasks t WHERE t.assigned_agent_id IN ({placeholders(agent_ids) or 'NULL'}) "
        f"AND {unfinished('t')}",
        agent_ids,
    )
    now = now_ms()
    released = {"assigned_agent_id": None, "claimed_at": None, "updated_at": now}
    mine = f"assigned_agent_id IN ({placeholders(agent_ids) or 'NULL'}) AND {unfinished('tasks')}"
    then = [
        update("tasks", {"status": "paused", **released}, f"{mine} AND status = 'in_progress'", agent_ids),
        update("tasks", {"status": "pending", **released}, f"{mine} AND status = 'planning'", agent_ids),
        update("tasks", released, mine, agent_ids),
        update("agents", {"status": "offline", "current_task_id": None, "updated_at": now},
               f"id IN ({placeholders(agent_ids) or 'NULL'})", agent_ids),
        raw("UPDATE workflows SET status = 'paused', updated_at = ? WHERE id = ? AND status = 'in_progress' AND",
            (now, workflow_id)),
        workflow_status_event(workflow_id, None, "in_progress", "paused"),  # type: ignore[arg-type]
    ]
    payload = {
        "executor_id": executor_id, "agents_stopped": len(agent_ids),
        "tasks_paused": [r["id"] for r in held if r["status"] == "in_progress"],
        "tasks_released": [r["id"] for r in held],
    }
    guard = Statement("UPDATE agents SET status = 'offline', updated_at = ? WHERE id = ?", (now, executor_id))
    commit(db, Event("execution.suspended", workflow_id, agent_id=executor_id, payload=payload), guard=guard, then=then)
    return payload


def finish(db: Backend, workflow_id: str, executor_id: str, outcome: str, detail: dict[str, Any]) -> None:
    now = now_ms()
    guard = Statement("UPDATE agents SET status = 'offline', current_task_id = NULL, updated_at = ? WHERE id = ?",
                      (now, executor_id))
    commit(db, Event("execution.finished", workflow_id, agent_id=executor_id,
                     payload={"executor_id": executor_id, "outcome": outcome, **detail}), guard=guard)


def fail_workflow(db: Backend, workflow_id: str, reason: str) -> bool:
    """Mark a running workflow failed (nothing left can run) with an alert; False if it was not running."""
    guard = Statement("UPDATE workflows SET status = 'failed', updated_at = ? WHERE id = ? AND status = 'in_progress'",
                      (now_ms(), workflow_id))
    warn = alert("workflow_failed", f"Workflow {workflow_id} failed: {reason}", "error", workflow_id=workflow_id)
    event = Event("workflow.status", workflow_id, payload={"from": "in_progress", "to": "failed", "reason": reason})
    return commit(db, event, guard=guard, then=[warn]) is not None


def paused_unclaimed(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Tasks a suspension paused: they resume before new work starts."""
    rows = db.query("SELECT * FROM tasks WHERE workflow_id = ? AND status = 'paused' AND assigned_agent_id IS NULL "
                    "ORDER BY sequence, id", (workflow_id,))
    return [decode(r) for r in rows]


def suspension_after(db: Backend, workflow_id: str, seq: int) -> dict[str, Any] | None:
    """The payload of the first ``execution.suspended`` or ``.finished`` after ``seq``, if any yet."""
    row = db.one("SELECT payload FROM events WHERE workflow_id = ? AND seq > ? AND kind IN "
                 "('execution.suspended', 'execution.finished') ORDER BY seq LIMIT 1", (workflow_id, seq))
    return None if row is None else decode(row)["payload"] or {}


def runtimes_needed(db: Backend, workflow_id: str) -> set[str | None]:
    """The runtimes unfinished tasks name (None: the workflow's default)."""
    rows = db.query("SELECT DISTINCT runtime FROM tasks WHERE workflow_id = ? "
                    f"AND status NOT IN {DONE_SQL}", (workflow_id,))
    return {r["runtime"] for r in rows}


LAST_STARTED = "SELECT * FROM events WHERE workflow_id = ? AND kind = 'execution.started' ORDER BY seq DESC LIMIT 1"


def last_started(db: Backend, workflow_id: str) -> dict[str, Any] | None:
    row = db.one(LAST_STARTED, (workflow_id,))
    return decode(row) if row else None


def status(db: Backend, workflow_id: str, default_timeout_ms: int) -> dict[str, Any]:
    """The reference's ExecutionStatus, from the events and agent rows alone, in one batch of reads:
    the agents of the executor named by the last ``execution.started`` are found by a subquery,
    and whether it is alive by its heartbeat timeout (that event's settings, else the default)."""
    reads = Reads(db)
    found = fetched(reads, "workflow", workflow_id)
    started_row = reads.one(LAST_STARTED, (workflow_id,))
    last_row = reads.one(f"SELECT * FROM events WHERE workflow_id = ? AND kind IN ({placeholders(LIFE)}) "
                         "ORDER BY seq DESC LIMIT 1", (workflow_id, *LIFE))
    beat = reads.scalar(LAST_BEAT, (workflow_id, EXECUTOR_RUNTIME))
    agents = reads.query(
        "SELECT a.*, t.status AS task_status, t.attempts AS attempts, t.last_error AS last_error FROM agents a "
        "LEFT JOIN tasks t ON t.id = json_extract(a.metadata, '$.task_id') "
        "WHERE json_extract(a.metadata, '$.executor_id') = "
        f"(SELECT json_extract(s.payload, '$.executor_id') FROM ({LAST_STARTED}) s) ORDER BY a.created_at, a.id",
        (workflow_id,),
    )
    counts = orchestration.progress_of(reads, workflow_id)
    dead = reads.scalar(deadletter.QUEUED, (workflow_id,))
    reads.run()
    found()
    started = decode(row) if (row := started_row()) else None
    last = decode(row) if (row := last_row()) else None
    executor_id = started["payload"]["executor_id"] if started else None
    settings = started["payload"].get("settings", {}) if started else {}
    timeout_ms = (settings or {}).get("heartbeat_timeout_ms", default_timeout_ms)
    alive = bool(executor_id) and (beat() or -1) >= now_ms() - timeout_ms
    state, outcome = state_of(last, alive)
    return {
        "workflowId": workflow_id, "status": state, "outcome": outcome,
        "agents": [handle(decode(r), state) for r in agents()] if executor_id else [],
        "progress": progress_view(counts()),
        "startedAt": started["at"] if started else None,
        "suspendedAt": last["at"] if last and last["kind"] == "execution.suspended" else None,
        "executorId": executor_id, "executorAlive": alive,
        "runtime": settings.get("runtime"), "maxAgents": settings.get("max_agents"),
        "deadLetters": dead(),
    }


def state_of(last: dict[str, Any] | None, alive: bool) -> tuple[str, str | None]:
    """The reference's spawner states; an executor that died without finishing reads ``idle``, outcome ``lost``."""
    if last is None:
        return "idle", None
    if last["kind"] == "execution.started":
        return ("running", None) if alive else ("idle", "lost")
    if last["kind"] == "execution.suspended":
        return "suspended", "suspended"
    outcome = last["payload"].get("outcome")
    return (outcome if outcome in ("completed", "failed") else "idle"), outcome


def handle(agent: dict[str, Any], state: str) -> dict[str, Any]:
    meta = agent.get("metadata") or {}
    if agent["status"] != "offline":
        status = "running"
    elif agent["task_status"] in DONE_TASK_STATUSES:
        status = "completed"
    else:
        status = "aborted" if state == "suspended" and agent["task_status"] in ("paused", "pending") else "failed"
    return {
        "agentId": agent["id"], "taskId": meta.get("task_id"), "status": status, "startedAt": agent["created_at"],
        "completedAt": agent["updated_at"] if agent["status"] == "offline" else None,
        "retryCount": agent["attempts"] or 0, "error": agent["last_error"] if status == "failed" else None,
        "runtime": agent["runtime"], "pid": meta.get("pid"),
    }


def progress(db: Backend, workflow_id: str) -> dict[str, int]:
    return progress_view(orchestration.progress(db, workflow_id))


def progress_view(counts: dict[str, Any]) -> dict[str, int]:
    """The reference's execution progress, from ``orchestration.progress``."""
    by = counts["by_status"]
    return {"totalTasks": counts["total_tasks"], "completed": by.get("completed", 0),
            "inProgress": by.get("in_progress", 0), "failed": by.get("failed", 0),
            "remaining": counts["estimated_remaining"]}


def set_task_overrides(db: Backend, task_id: str, runtime: str | None, retry_policy: dict[str, Any] | None,
                       clear: list[str]) -> dict[str, Any]:
    """A task's own runtime and retry policy, winning over the workflow's; ``clear`` drops either."""
    task = fetch(db, "task", task_id)
    values: dict[str, Any] = {"updated_at": now_ms()}
    if runtime is not None:
        values["runtime"] = runtime
    if retry_policy is not None:
        values["retry_policy"] = encode(parse(retry_policy, f"task {task_id}"))
    values.update(dict.fromkeys(clear))
    fields = sorted(set(values) - {"updated_at"})
    event = Event("task.execution_set", task["workflow_id"], task_id, payload={"fields": fields})
    commit(db, event, then=[update("tasks", values, "id = ?", (task_id,))])
    row = fetch(db, "task", task_id)
    return {"success": True, "runtime": row["runtime"], "retry_policy": row["retry_policy"]}
