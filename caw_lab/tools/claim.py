"""Claim tools: take a task atomically, give it back, find tasks free to take."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import claims, leases
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool


class TaskGetAvailableResult(Result):
    tasks: list[dict[str, Any]]


class Claimed(Result):
    success: bool
    already_claimed_by: str | None = None


class Succeeded(Result):
    success: bool


class TaskClaim(Params):
    task_id: str
    agent_id: str
    session_id: str | None = None
    lease_files: bool = False
    lease_ttl_ms: int = leases.CLAIM_TTL_MS


@tool("task_claim", "Claim a task for an agent; exactly one of any number of racing agents wins.",
      lock=("task", "task_id"), read_only=False, idempotent=True, result=Claimed)
def task_claim(db: Backend, p: TaskClaim) -> dict[str, Any]:
    return claims.claim(db, p.task_id, p.agent_id, p.lease_files, p.lease_ttl_ms)


class TaskRelease(Params):
    task_id: str
    agent_id: str
    session_id: str | None = None
    reason: str | None = None


@tool("task_release", "Give back a claimed task so another agent can take it; only its holder may.",
      lock=("task", "task_id"), read_only=False, destructive=True, idempotent=True, result=Succeeded)
def task_release(db: Backend, p: TaskRelease) -> dict[str, Any]:
    return claims.release(db, p.task_id, p.agent_id, p.reason)


class TaskGetAvailable(Params):
    agent_id: str
    workflow_id: str | None = None
    limit: int = Field(100, ge=1, le=10_000)


@tool("task_get_available",
      "Unclaimed, unblocked tasks: orphaned started ones first, then pending ones, capability matches first.",
      read_only=True, result=TaskGetAvailableResult)
def task_get_available(db: Backend, p: TaskGetAvailable) -> dict[str, Any]:
    return claims.available(db, p.agent_id, p.workflow_id, p.limit)
