"""Claim tools: take a task atomically, give it back, find tasks free to take."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import claims, leases
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, tool


class TaskClaim(Params):
    task_id: str
    agent_id: str
    session_id: str | None = None
    lease_files: bool = Field(False, description="Also take exclusive leases on the task's files_likely_affected, "
                              "all in the same atomic change as the claim, or neither.")
    lease_ttl_ms: int = Field(leases.CLAIM_TTL_MS, ge=1, le=leases.MAX_TTL_MS,
                              description="How long the file leases last; each checkpoint_add renews them.")


@tool("task_claim",
      "Claim a task for an agent; exactly one of any number of racing agents wins. The claim is refused "
      "(success: false, reason) while max_parallel_tasks, or the task's parallel group limit, are taken, or, with "
      "lease_files, while another lease holds one of its files.",
      lock=("task", "task_id"))
def task_claim(db: Backend, p: TaskClaim) -> dict[str, Any]:
    return claims.claim(db, p.task_id, p.agent_id, p.lease_files, p.lease_ttl_ms)


class TaskRelease(Params):
    task_id: str
    agent_id: str
    session_id: str | None = None
    reason: str | None = None


@tool("task_release", "Give back a claimed task so another agent can take it; only its holder may. Its leases "
      "are released with it.",
      lock=("task", "task_id"))
def task_release(db: Backend, p: TaskRelease) -> dict[str, Any]:
    return claims.release(db, p.task_id, p.agent_id, p.reason)


class TaskGetAvailable(Params):
    agent_id: str
    workflow_id: str | None = None
    limit: int = Field(100, ge=1, le=10_000)


@tool("task_get_available",
      "Unclaimed, unblocked tasks: orphaned started ones first, then pending ones, capability matches first.")
def task_get_available(db: Backend, p: TaskGetAvailable) -> dict[str, Any]:
    return claims.available(db, p.agent_id, p.workflow_id, p.limit)
