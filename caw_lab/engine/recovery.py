"""Failure detection and recovery: nothing a lost agent did is lost.

An agent is *lost* when its process ends while its task is unfinished, or when nothing
has been heard from it for longer than the heartbeat timeout. Recovery then applies, in
one batch with one ``agent.lost`` event: the agent goes offline; each unfinished task it
held counts a failed attempt and is either put back to ``pending`` after the retry
policy's backoff (claim released, ``task.retry_scheduled``) or moved to the dead-letter
queue; and an ``alert.raised`` event says what happened. Checkpoints stay, so the next
agent resumes from them.

Putting a started task back to pending is not a move of the task state machine (an agent
cannot make it): it is recovery's own, as releasing a claim is, because the agent that
would have moved the task on is gone. A task its agent reported ``failed`` is settled by
the same policy when that agent ends, or straight away when nobody holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caw_lab.engine import deadletter, retries
from caw_lab.engine.agents import GIVE_UP_AFTER, unfinished
from caw_lab.engine.alerts import alert
from caw_lab.engine.changes import Event, Gated, also, commit, update
from caw_lab.engine.rows import decode, fetch
from caw_lab.engine.states import ACTIVE_SQL
from caw_lab.errors import conflict
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Statement

LOST_FROM = ("pending", "planning", "in_progress", "paused")
"""Statuses of a held task whose agent vanished without finishing it."""
AGENT_SEEN = "COALESCE(a.last_heartbeat, a.created_at)"


@dataclass(frozen=True)
class Fate:
    """What one failed attempt does to its task: retry after ``decision.delay_ms``, or dead-letter."""

    task: dict[str, Any]
    error: str
    lost: bool
    attempts: int
    decision: retries.Decision
    now: int

    @property
    def next_attempt_at(self) -> int | None:
        return self.now + self.decision.delay_ms if self.decision.retry else None

    def summary(self) -> dict[str, Any]:
        return {
            "task_id": self.task["id"], "name": self.task["name"], "from": self.task["status"],
            "attempts": self.attempts, "retry": self.decision.retry, "delay_ms": self.decision.delay_ms,
            "next_attempt_at": self.next_attempt_at, "error": self.error,
        }

    def statements(self, agent_id: str | None) -> list[Gated]:
        """The task's update and its own event (with the queue entry and alert when dead-lettered)."""
        task = self.task
        values: dict[str, Any] = {"attempts": self.attempts, "last_error": self.error, "assigned_agent_id": None,
                                  "claimed_at": None, "next_attempt_at": self.next_attempt_at, "updated_at": self.now}
        if self.decision.retry:
            values.update(status="pending", error=None)
            where = {"workflow_id": task["workflow_id"], "task_id": task["id"], "agent_id": agent_id}
            retry = also(Event("task.retry_scheduled", payload=self.summary(), **where))
            return [update("tasks", values, "id = ?", (task["id"],)), retry]
        values.update(status="failed", error=task.get("error") or self.error)
        queue = deadletter.enqueue(task, self.attempts, self.error, self.decision.reason, agent_id)
        return [update("tasks", values, "id = ?", (task["id"],)), *queue]


def fate_of(db: Backend, task: dict[str, Any], reason: str, now: int) -> Fate:
    """A reported failure keeps the agent's own error; any other unfinished task was lost with ``reason``."""
    lost = task["status"] in LOST_FROM
    error = reason if lost else (task.get("error") or reason)
    policy = retries.policy_for(fetch(db, "workflow", task["workflow_id"]), task)
    attempts = task["attempts"] + 1
    return Fate(task, error, lost, attempts, retries.decide(policy, attempts, error), now)


def held_tasks(db: Backend, agent_id: str) -> list[dict[str, Any]]:
    rows = db.query(
        f"SELECT * FROM tasks t WHERE t.assigned_agent_id = ? AND {unfinished('t')} ORDER BY t.sequence, t.id",
        (agent_id,),
    )
    return [decode(r) for r in rows]


def same_state(agent_id: str, held: list[dict[str, Any]]) -> tuple[str, tuple[Any, ...]]:
    """SQL true while the agent holds exactly ``held``, each in the status and attempt count read."""
    count = f"(SELECT COUNT(*) FROM tasks t WHERE t.assigned_agent_id = ? AND {unfinished('t')}"
    sql, params = f"{count}) = ?", (agent_id, len(held))
    if held:
        each = " OR ".join("(t.id = ? AND t.status = ? AND t.attempts = ?)" for _ in held)
        sql += f" AND {count} AND ({each})) = ?"
        params += (agent_id, *(v for t in held for v in (t["id"], t["status"], t["attempts"])), len(held))
    return sql, params


def end_agent(db: Backend, agent_id: str, reason: str, stale_before: int | None = None) -> dict[str, Any] | None:
    """The agent is gone: settle every unfinished task it held and mark it offline, in one batch.

    With ``stale_before`` (a heartbeat sweep), nothing happens if the agent was heard from
    since then; returns None in that case.
    """
    for _ in range(GIVE_UP_AFTER):
        agent = fetch(db, "agent", agent_id)
        held = held_tasks(db, agent_id)
        now = now_ms()
        fates = [fate_of(db, task, reason, now) for task in held]
        condition, params = same_state(agent_id, held)
        if stale_before is not None:
            condition += " AND COALESCE(last_heartbeat, created_at) < ?"
            params += (stale_before,)
        guard = Statement(
            "UPDATE agents SET status = 'offline', current_task_id = NULL, updated_at = ? "
            f"WHERE id = ? AND {condition}",
            (now, agent_id, *params),
        )
        then = [s for fate in fates for s in fate.statements(agent_id)]
        lost = [fate for fate in fates if fate.lost]
        workflow_id = agent["workflow_id"] or (held[0]["workflow_id"] if held else None)
        task_id = held[0]["id"] if len(held) == 1 else None
        if lost:
            then.append(alert("agent_lost", lost_message(agent, reason, lost), "error", workflow_id=workflow_id,
                              task_id=task_id, agent_id=agent_id, reason=reason, tasks=[f.summary() for f in lost]))
        payload = {"reason": reason, "tasks": [f.summary() for f in fates]}
        event = Event("agent.lost" if lost else "agent.stopped", workflow_id, task_id, agent_id, payload)
        if commit(db, event, guard=guard, then=then) is not None:
            return {"agent_id": agent_id, "lost": bool(lost), "tasks": payload["tasks"]}
        if stale_before is not None and last_seen(fetch(db, "agent", agent_id)) >= stale_before:
            return None
    raise conflict(f"Agent {agent_id}'s tasks kept changing while recovering them")


def last_seen(agent: dict[str, Any]) -> int:
    return agent["last_heartbeat"] or agent["created_at"]


def lost_message(agent: dict[str, Any], reason: str, lost: list[Fate]) -> str:
    fates = "; ".join(
        f"task {f.task['name']!r} " + (f"retries in {f.decision.delay_ms} ms" if f.decision.retry else "dead-lettered")
        for f in lost
    )
    return f"Agent {agent['name']!r} ({agent['id']}) lost: {reason}. {fates}."


def sweep(db: Backend, timeout_ms: int, workflow_id: str | None = None) -> list[dict[str, Any]]:
    """Recover every agent silent for longer than ``timeout_ms`` that still holds unfinished tasks."""
    now = now_ms()
    cutoff = now - timeout_ms
    scope, params = ("AND t.workflow_id = ?", (cutoff, workflow_id)) if workflow_id else ("", (cutoff,))
    silent = db.query(
        f"SELECT DISTINCT a.id, {AGENT_SEEN} AS seen FROM agents a JOIN tasks t ON t.assigned_agent_id = a.id "
        f"WHERE {AGENT_SEEN} < ? AND {unfinished('t')} {scope} ORDER BY seen",
        params,
    )
    recovered = []
    for agent in silent:
        reason = f"no heartbeat for {now - agent['seen']} ms (timeout {timeout_ms} ms)"
        done = end_agent(db, agent["id"], reason, stale_before=cutoff)
        if done is not None:
            recovered.append(done)
    return recovered


def settle_orphans(db: Backend, workflow_id: str) -> list[dict[str, Any]]:
    """Tasks nobody holds that still need the retry policy: failed ones not yet dead-lettered,
    and started ones whose agent let go of them (unregistered or swept) without finishing."""
    rows = db.query(
        f"""SELECT * FROM tasks t WHERE t.workflow_id = ? AND t.assigned_agent_id IS NULL
             AND (t.status IN {ACTIVE_SQL} OR (t.status = 'failed' AND NOT EXISTS
                  (SELECT 1 FROM dead_letters d WHERE d.task_id = t.id AND d.status = 'queued')))
           ORDER BY t.sequence, t.id""",
        (workflow_id,),
    )
    settled = []
    for task in (decode(r) for r in rows):
        reason = "its agent let go of it without finishing" if task["status"] != "failed" else "reported failed"
        fate = fate_of(db, task, reason, now_ms())
        guard = Statement(
            "UPDATE tasks SET updated_at = ? WHERE id = ? AND status = ? AND attempts = ? "
            "AND assigned_agent_id IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM dead_letters d WHERE d.task_id = tasks.id AND d.status = 'queued')",
            (fate.now, task["id"], task["status"], task["attempts"]),
        )
        event = Event("task.recovered", workflow_id, task["id"], payload=fate.summary())
        if commit(db, event, guard=guard, then=fate.statements(None)) is not None:
            settled.append(fate.summary())
    return settled


def waiting(db: Backend, workflow_id: str, now: int) -> dict[str, int]:
    """Pending tasks still inside their backoff: ``task_id -> next_attempt_at``."""
    rows = db.query(
        "SELECT id, next_attempt_at FROM tasks WHERE workflow_id = ? AND status = 'pending' AND next_attempt_at > ?",
        (workflow_id, now),
    )
    return {r["id"]: r["next_attempt_at"] for r in rows}

