"""Scaling hints: how many agents a workflow could use, per capability, from its queue and its feed.

For each capability a task may require (and ``*`` for tasks requiring none), and for the
workflow as a whole (``total``):

- ``ready`` (Q): tasks that can be claimed now (unclaimed, unblocked, pending or orphaned);
- ``busy`` / ``idle``: agents holding one of the workflow's unfinished tasks (busy for that
  task's capabilities) / workers registered to the workflow, online, holding no unfinished
  task (idle for each capability they have, and for ``*``);
- ``mean_ms`` (W) and ``p90_ms``: how long completed tasks took, from their last move to
  ``in_progress`` to their completion (the feed's ``task.status`` events);
- ``arrivals`` and ``arrival_rate_per_min`` (λ): tasks that became ready in the last
  ``window_ms``: a task becomes ready when the last of its blocking dependencies completes
  (the feed again), or when it was created if it has none;
- ``drain_ms``: the expected time to empty the queue at the current agent count N:
  ``Q·W / (N - λ·W)``; ``null`` when that never happens (no agent, no duration known yet, or
  arrivals outpace the agents);
- ``recommended``: the smallest agent count that keeps up with arrivals and drains the queue
  within ``target_drain_ms`` (T). By Little's law, λ·W agents are busy on average just
  serving arrivals, and Q·W agent-milliseconds of queued work take Q·W/T agents to finish in
  T, so ``ceil(λ·W + Q·W/T)``. Before any task has completed (W unknown) it is Q + busy,
  an agent per task that can run. It is at least 1 while tasks are ready, and never more than
  the tasks that can run (Q + busy) nor than ``max_agents``: the workflow's
  ``execution.max_agents`` when a number, else its ``max_parallel_tasks`` (claims refuse more).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from caw_lab.engine.agents import stale_cutoff, unfinished
from caw_lab.engine.dag import blocked_sql
from caw_lab.engine.rows import fetched
from caw_lab.engine.task_stats import completions
from caw_lab.ids import now_ms
from caw_lab.store.backend import Backend, Row
from caw_lab.store.reads import Later, Reads

WINDOW_MS = 15 * 60 * 1000
TARGET_DRAIN_MS = 10 * 60 * 1000
ANY = "*"
ORPHANED = "('planning', 'in_progress', 'paused')"
METHOD = (
    "recommended = ceil(λ·W + Q·W/T) by Little's law (Q + busy before any duration is known), "
    "at least 1 while tasks are ready, at most min(Q + busy, max_agents)"
)


@dataclass
class Figures:
    """What the hints of one capability are computed from."""

    ready: int = 0
    busy: set[str] = field(default_factory=set)
    idle: set[str] = field(default_factory=set)
    durations: list[int] = field(default_factory=list)
    arrivals: int = 0


def hints(
    db: Backend,
    workflow_id: str,
    window_ms: int = WINDOW_MS,
    target_drain_ms: int = TARGET_DRAIN_MS,
    now: int | None = None,
) -> dict[str, Any]:
    now = now_ms() if now is None else now
    reads = Reads(db)
    workflow = fetched(reads, "workflow", workflow_id)
    figures = gather(reads, workflow_id, now, window_ms)
    reads.run()
    bound = max_agents(workflow())
    total, per_capability = figures()
    return {
        "workflow_id": workflow_id,
        "at": now,
        "window_ms": window_ms,
        "target_drain_ms": target_drain_ms,
        "max_agents": bound,
        "method": METHOD,
        "total": hint(total, window_ms, target_drain_ms, bound),
        "capabilities": [
            {"capability": name, **hint(figures, window_ms, target_drain_ms, bound)}
            for name, figures in sorted(per_capability.items())
        ],
    }


def running(db: Backend) -> list[str]:
    """The workflows worth watching for hints (their gauges): ready or in progress."""
    return [r["id"] for r in db.query("SELECT id FROM workflows WHERE status IN ('ready', 'in_progress') ORDER BY id")]


def max_agents(workflow: dict[str, Any]) -> int:
    configured = ((workflow.get("config") or {}).get("execution") or {}).get("max_agents")
    slots = workflow["max_parallel_tasks"]
    return min(configured, slots) if isinstance(configured, int) and not isinstance(configured, bool) else slots


def gather(reads: Reads, workflow_id: str, now: int, window_ms: int) -> Later[tuple[Figures, dict[str, Figures]]]:
    """The workflow's figures, in total and per capability, from three reads. An agent is busy for
    the capabilities of the task it holds, idle for those it has."""
    ready = reads.query(
        f"""SELECT t.id, t.required_capabilities, CASE WHEN {unfinished("t")} THEN t.assigned_agent_id END AS holder,
              t.assigned_agent_id IS NULL AND (t.status = 'pending' OR t.status IN {ORPHANED}) AS ready,
              MAX(t.created_at, COALESCE((
                SELECT MAX(e.at) FROM task_dependencies d JOIN events e ON e.task_id = d.depends_on_id
                WHERE d.task_id = t.id AND d.dependency_type = 'blocks' AND e.kind = 'task.status'
                  AND json_extract(e.payload, '$.to') IN ('completed', 'skipped')), 0)) AS ready_at
            FROM tasks t WHERE t.workflow_id = ? AND NOT {blocked_sql("t")}""",
        (workflow_id,),
    )
    live = reads.query(
        f"""SELECT a.id, a.capabilities FROM agents a
            WHERE a.workflow_id = ? AND a.role = 'worker' AND a.status != 'offline'
              AND COALESCE(a.last_heartbeat, a.created_at) >= ?
              AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.assigned_agent_id = a.id AND {unfinished("t")})""",
        (workflow_id, stale_cutoff(now)),
    )
    done = completions(reads, workflow_id)
    return lambda: figures_of(ready(), live(), done(), now, window_ms)


def figures_of(
    tasks: list[Row], idle: list[Row], done: list[Row], now: int, window_ms: int
) -> tuple[Figures, dict[str, Figures]]:
    took = {c["task_id"]: c["ms"] for c in done if c["ms"] is not None}
    total: Figures = Figures()
    per: dict[str, Figures] = defaultdict(Figures)
    for task in tasks:
        needs = json.loads(task["required_capabilities"] or "[]") or [ANY]
        for figures in (total, *(per[c] for c in needs)):
            figures.ready += task["ready"]
            figures.arrivals += now - window_ms < task["ready_at"] <= now
            if task["id"] in took:
                figures.durations.append(took[task["id"]])
            if task["holder"]:
                figures.busy.add(task["holder"])
    for agent in idle:
        has = {c.lower() for c in json.loads(agent["capabilities"] or "[]")}
        for figures in (total, *(f for name, f in per.items() if name == ANY or name.lower() in has)):
            figures.idle.add(agent["id"])
    return total, dict(per)


def hint(figures: Figures, window_ms: int, target_drain_ms: int, bound: int) -> dict[str, Any]:
    """The hints of one capability (see the module docstring)."""
    queue, busy, idle = figures.ready, len(figures.busy), len(figures.idle)
    agents = busy + idle
    mean = statistics.fmean(figures.durations) if figures.durations else None
    rate = figures.arrivals / window_ms  # tasks per millisecond
    return {
        "ready": queue,
        "busy": busy,
        "idle": idle,
        "agents": agents,
        "completed": len(figures.durations),
        "mean_ms": mean,
        "p90_ms": p90(figures.durations),
        "arrivals": figures.arrivals,
        "arrival_rate_per_min": rate * 60_000,
        "drain_ms": drain_ms(queue, agents, mean, rate),
        "recommended": recommended(queue, busy, mean, rate, target_drain_ms, bound),
    }


def p90(values: list[int]) -> float | None:
    if len(values) < 2:
        return float(values[0]) if values else None
    return statistics.quantiles(sorted(values), n=10, method="inclusive")[8]


def drain_ms(queue: int, agents: int, mean: float | None, rate: float) -> float | None:
    if queue == 0:
        return 0.0
    if mean is None or agents - rate * mean <= 0:
        return None
    return queue * mean / (agents - rate * mean)


def recommended(queue: int, busy: int, mean: float | None, rate: float, target_drain_ms: int, bound: int) -> int:
    # A hair below the ceiling counts as reached: λ·W = 2.0000000001 from rounding wants 2 agents, not 3.
    wanted = queue + busy if mean is None else math.ceil(rate * mean + queue * mean / target_drain_ms - 1e-9)
    if queue:
        wanted = max(wanted, 1)
    return max(0, min(wanted, queue + busy, bound))
