"""Every kind of event the engine writes, each declared once with what it can change.

Followers of the change feed (the context loader's kept snapshots, the DAG widget, the
Workbench panels) decide from an event's *scope* how much to read again: one task, one
edge, the workflow's own row, everything, or nothing. Declaring the scope here, beside
the kind, keeps those decisions in one place; ``changes.Event`` refuses a kind that is
not declared, so a new kind cannot reach the feed unclassified.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    TASK = "task"
    """Changes the named task's own row or checkpoints, nothing else."""
    EDGE = "edge"
    """Adds or removes one dependency of the named task (``payload.depends_on_id``)."""
    WORKFLOW = "workflow"
    """Changes the workflow's own row, never its tasks."""
    WIDE = "wide"
    """May change any task of its workflow (a plan, a replan, an agent's tasks released)."""
    OUTSIDE = "outside"
    """Changes no task or workflow row (agents' liveness, messages, memories, alerts, ...)."""


KINDS: dict[str, Scope] = {
    # tasks
    "task.status": Scope.TASK,
    "task.claimed": Scope.TASK,
    "task.released": Scope.TASK,
    "task.plan_set": Scope.TASK,
    "task.execution_set": Scope.TASK,
    "task.workspace_assigned": Scope.TASK,
    "task.retry_scheduled": Scope.TASK,
    "task.dead_lettered": Scope.TASK,
    "task.recovered": Scope.TASK,
    "task.rolled_back": Scope.TASK,
    "checkpoint.added": Scope.TASK,
    "deadletter.requeued": Scope.TASK,
    "deadletter.discarded": Scope.TASK,
    "task.dependency_added": Scope.EDGE,
    "task.dependency_removed": Scope.EDGE,
    "task.replanned": Scope.WIDE,
    "task.handed_off": Scope.WIDE,
    # workflows
    "workflow.status": Scope.WORKFLOW,
    "workflow.locked": Scope.WORKFLOW,
    "workflow.unlocked": Scope.WORKFLOW,
    "workflow.config": Scope.WORKFLOW,
    "workflow.parallelism": Scope.WORKFLOW,
    "workflow.repository_added": Scope.WORKFLOW,
    "workflow.repository_removed": Scope.WORKFLOW,
    "workflow.created": Scope.WIDE,
    "workflow.plan_set": Scope.WIDE,
    "workflow.replanned": Scope.WIDE,
    "workflow.task_added": Scope.WIDE,
    "workflow.task_removed": Scope.WIDE,
    "workflow.imported": Scope.WIDE,
    "workspace.created": Scope.WIDE,
    "workspace.updated": Scope.WIDE,
    # isolation (engine/isolation.py): a worktree and branch per task, merged back, conflicts found early
    "worktree.created": Scope.OUTSIDE,
    "worktree.assigned": Scope.OUTSIDE,
    "worktree.removed": Scope.OUTSIDE,
    "worktree.collected": Scope.OUTSIDE,
    "task.merged": Scope.OUTSIDE,
    "conflict.detected": Scope.TASK,
    # agents: going offline releases or pauses what the agent held
    "agent.registered": Scope.OUTSIDE,
    "agent.heartbeat": Scope.OUTSIDE,
    "agent.updated": Scope.OUTSIDE,
    "agent.unregistered": Scope.WIDE,
    "agent.stale": Scope.WIDE,
    "agent.lost": Scope.WIDE,
    "agent.stopped": Scope.WIDE,
    # leases (engine/leases.py): a lease holds files, a workflow or a name, never a row
    "lease.acquired": Scope.OUTSIDE,
    "lease.renewed": Scope.OUTSIDE,
    "lease.released": Scope.OUTSIDE,
    "lease.expired": Scope.OUTSIDE,
    # executors
    "execution.started": Scope.OUTSIDE,
    "execution.scaled": Scope.OUTSIDE,
    "execution.heartbeat": Scope.OUTSIDE,
    "execution.suspend_requested": Scope.OUTSIDE,
    "execution.suspended": Scope.WIDE,
    "execution.finished": Scope.WIDE,
    # the rest of the system
    "message.sent": Scope.OUTSIDE,
    "message.read": Scope.OUTSIDE,
    "message.broadcast": Scope.OUTSIDE,
    "message.archived": Scope.OUTSIDE,
    "memory.created": Scope.OUTSIDE,
    "memory.reinforced": Scope.OUTSIDE,
    "memory.decayed": Scope.OUTSIDE,
    "template.created": Scope.OUTSIDE,
    "template.published": Scope.OUTSIDE,
    "repository.registered": Scope.OUTSIDE,
    "alert.raised": Scope.OUTSIDE,
    "alert.undelivered": Scope.OUTSIDE,
}


def of_scope(*scopes: Scope) -> frozenset[str]:
    """The kinds whose scope is one of ``scopes``."""
    return frozenset(kind for kind, scope in KINDS.items() if scope in scopes)


def scope(kind: str) -> Scope:
    """An unknown kind (from a newer caw-lab sharing the database) may change anything."""
    return KINDS.get(kind, Scope.WIDE)
