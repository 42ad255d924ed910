"""Execution tools: the reference's workflow_start family, and a task's own runtime and retries.

workflow_start runs the executor (runtimes/executor.py) in a background thread of the
process serving the call and returns once the first agents are started; the executor
records its life as events, so workflow_execution_status answers from any process and
workflow_suspend reaches an executor running in another one. The runtimes are imported by
the tools when first called: every ``caw --server`` imports this module at start, and few
ever start an executor.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import executions
from caw_lab.store.backend import Backend
from caw_lab.tools.client import connect
from caw_lab.tools.registry import Params, Result, tool


class TaskSetExecutionResult(Result):
    success: bool
    runtime: str | None
    retry_policy: dict[str, Any] | None


class WorkflowExecutionStatusResult(Result):
    workflowId: str
    status: str
    outcome: str | None
    agents: list[dict[str, Any]]
    progress: dict[str, Any]
    startedAt: int | None
    suspendedAt: int | None
    executorId: str | None
    executorAlive: bool
    runtime: str | None
    maxAgents: int | str | None
    deadLetters: int


class WorkflowStartResult(Result):
    success: bool
    agentHandles: list[dict[str, Any]]
    executorId: str
    runtime: str
    maxAgents: int | str


class WorkflowSuspendResult(Result):
    success: bool
    agentsStopped: int
    tasksReleased: int
    tasksPaused: list[str]


class WorkflowResumeResult(Result):
    success: bool
    agentsSpawned: int
    tasksAvailable: int


class WorkflowStart(Params):
    workflow_id: str
    max_agents: int | Literal["auto"] | None = None  # 1 to 100 is checked with the execution settings
    model: str | None = None
    permission_mode: Literal["acceptEdits", "bypassPermissions"] | None = None
    max_turns: int | None = Field(None, ge=1)
    max_budget_usd: float | None = Field(None, ge=0)
    cwd: str | None = None
    runtime: str | None = Field(None, description="Runtime for tasks without their own (default: the workflow's).")


class WorkflowRef(Params):
    workflow_id: str


@tool("workflow_start", "Start executing a workflow: agents are started for its ready tasks (up to max_agents), "
      "watched, and replaced when they die; failed tasks are retried, then dead-lettered.",
      read_only=False, open_world=True, result=WorkflowStartResult)
def workflow_start(db: Backend, p: WorkflowStart) -> dict[str, Any]:
    from caw_lab.runtimes import running

    overrides = p.model_dump(exclude={"workflow_id"}, exclude_none=True)
    executor = running.start(running.db_target(db), p.workflow_id, connect, overrides)
    return {"success": True, "agentHandles": executor.handles(), "executorId": executor.executor_id,
            "runtime": executor.settings.runtime, "maxAgents": executor.settings.max_agents}


@tool("workflow_suspend", "Gracefully stop a workflow's agents: in-progress tasks are paused, claims released, "
      "the workflow paused.", read_only=False, destructive=True, idempotent=True, open_world=True,
      result=WorkflowSuspendResult)
def workflow_suspend(db: Backend, p: WorkflowRef) -> dict[str, Any]:
    from caw_lab.runtimes import running

    return running.suspend(db, p.workflow_id)


@tool("workflow_resume", "Resume a suspended workflow: agents are started again for its paused and ready tasks.",
      read_only=False, open_world=True, result=WorkflowResumeResult)
def workflow_resume(db: Backend, p: WorkflowRef) -> dict[str, Any]:
    from caw_lab.runtimes import running

    return running.resume(db, p.workflow_id, connect)


@tool("workflow_execution_status", "A workflow's execution: running, suspended or finished, its agents and progress.",
      read_only=True, result=WorkflowExecutionStatusResult)
def workflow_execution_status(db: Backend, p: WorkflowRef) -> dict[str, Any]:
    from caw_lab.runtimes import running

    return running.status(db, p.workflow_id)


class RetryPolicyParams(Params):
    max_attempts: int | None = Field(None, ge=1, le=100)
    backoff_ms: int | None = Field(None, ge=0)
    backoff_factor: float | None = Field(None, ge=1.0, le=10.0)
    max_backoff_ms: int | None = Field(None, ge=0)
    jitter: float | None = Field(None, ge=0.0, le=1.0)
    retry_on: list[str] | None = None
    never_retry_on: list[str] | None = None


class TaskSetExecution(Params):
    task_id: str
    session_id: str | None = None
    runtime: str | None = Field(None, min_length=1)
    retry_policy: RetryPolicyParams | None = None
    clear: list[Literal["runtime", "retry_policy"]] = Field(default_factory=list)


@tool("task_set_execution", "Give a task its own runtime and retry policy, overriding the workflow's execution "
      "config; clear removes them.", lock=("task", "task_id"), read_only=False, destructive=True, idempotent=True,
      result=TaskSetExecutionResult)
def task_set_execution(db: Backend, p: TaskSetExecution) -> dict[str, Any]:
    policy = p.retry_policy.model_dump(exclude_none=True) if p.retry_policy else None
    return executions.set_task_overrides(db, p.task_id, p.runtime, policy, list(p.clear))
