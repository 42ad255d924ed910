"""Recovery tools: the dead-letter queue, rollback to a checkpoint, and a sweep for lost agents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import agents, deadletter, recovery, rollback
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool
from caw_lab.tools.task import ReplacementPlan


class DlqDiscardResult(Result):
    success: bool
    task_id: str
    status: str
    workflow_status: str


class DlqListResult(Result):
    dead_letters: list[dict[str, Any]]
    count: int


class DlqRequeueResult(Result):
    success: bool
    task_id: str
    status: str
    plan_replaced: bool
    checkpoint_id: str | None


class RecoverySweepResult(Result):
    agents: list[dict[str, Any]]
    tasks_settled: list[Any]


class TaskRollbackResult(Result):
    success: bool
    task_id: str
    checkpoint_id: str
    sequence: int
    rolled_back_checkpoints: list[str]
    plan: dict[str, Any] | None
    workspace_reset: dict[str, Any] | None


class DlqList(Params):
    workflow_id: str | None = None
    status: Literal["queued", "requeued", "discarded", "all"] = "queued"
    limit: int = Field(100, ge=1, le=1000)


@tool("dlq_list", "Tasks in the dead-letter queue (used up their attempts): last error, attempts, checkpoints.",
      read_only=True, result=DlqListResult)
def dlq_list(db: Backend, p: DlqList) -> dict[str, Any]:
    return deadletter.list_entries(db, p.workflow_id, None if p.status == "all" else p.status, p.limit)


class DlqRequeue(Params):
    id: str
    new_plan: ReplacementPlan | None = None
    reason: str | None = None


@tool("dlq_requeue", "Run a dead-lettered task again from pending with fresh attempts, optionally with a new plan.",
      read_only=False, destructive=True, result=DlqRequeueResult)
def dlq_requeue(db: Backend, p: DlqRequeue) -> dict[str, Any]:
    plan = p.new_plan.model_dump(exclude_none=True) if p.new_plan else None
    return deadletter.requeue(db, p.id, plan, p.reason)


class DlqDiscard(Params):
    id: str
    reason: str | None = None


@tool("dlq_discard", "Give up on a dead-lettered task: it is skipped so its dependents can run and the workflow "
      "can finish.", read_only=False, destructive=True, idempotent=True, result=DlqDiscardResult)
def dlq_discard(db: Backend, p: DlqDiscard) -> dict[str, Any]:
    return deadletter.discard(db, p.id, p.reason)


class TaskRollback(Params):
    task_id: str
    checkpoint_id: str
    session_id: str | None = None
    reset_workspace: bool = True
    force: bool = False


@tool("task_rollback", "Make a checkpoint the task's latest state: later checkpoints rolled back (kept, hidden from "
      "context), plan restored, workspace reset to the recorded git commit (uncommitted work refused unless force, "
      "then kept under a backup ref).", lock=("task", "task_id"), read_only=False, destructive=True, idempotent=True,
      result=TaskRollbackResult)
def task_rollback(db: Backend, p: TaskRollback) -> dict[str, Any]:
    return rollback.rollback(db, p.task_id, p.checkpoint_id, p.reset_workspace, p.force)


class RecoverySweep(Params):
    workflow_id: str | None = None
    timeout_ms: int = Field(agents.AGENT_TIMEOUT_MS, ge=0)


@tool("recovery_sweep", "Recover agents silent for timeout_ms: their tasks are retried after backoff or "
      "dead-lettered, with an alert; orphaned failed tasks are settled too.", read_only=False, destructive=True,
      result=RecoverySweepResult)
def recovery_sweep(db: Backend, p: RecoverySweep) -> dict[str, Any]:
    agents_recovered = recovery.sweep(db, p.timeout_ms, p.workflow_id)
    settled = recovery.settle_orphans(db, p.workflow_id) if p.workflow_id else []
    return {"agents": agents_recovered, "tasks_settled": settled}
