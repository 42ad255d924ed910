"""Lease tools: hold files, a workflow or a name for a while, with fencing tokens that fence off a holder
that lost its lease.

Resources are ``file:<glob>`` (repository-relative: ``*``, ``?``, ``[...]``, ``**``), ``file:<repository_id>:<glob>``,
``workflow:<id>`` and ``named:<name>``; file leases conflict when their globs can match a common path. How leases,
tokens and takeovers work is written out in ``caw_lab.engine.leases`` and docs/leases.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import leases
from caw_lab.limits import MAX_LEASE_TTL_MS
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

Ttl = Field(ge=1, le=MAX_LEASE_TTL_MS)
Token = Field(ge=1)


class LeaseAcquireResult(Result):
    granted: bool
    fencing_token: int | None = None
    expires_at: int
    held_by: str | None = None
    conflicts: list[dict[str, Any]] | None = None
    lease_id: str | None = None


class LeaseCheckResult(Result):
    valid: bool
    held_by: str | None
    expires_at: int | None


class LeaseListResult(Result):
    leases: list[dict[str, Any]]


class LeaseReleaseResult(Result):
    success: bool


class LeaseRenewResult(Result):
    success: bool
    fencing_token: int
    expires_at: int


class LeaseAcquire(Params):
    resource: str = Field(description="file:<glob>, file:<repository_id>:<glob>, workflow:<id> or named:<name>")
    agent_id: str
    ttl_ms: int = Ttl
    mode: Literal["exclusive", "shared"] = "exclusive"


@tool(
    "lease_acquire",
    "Lease a resource for ttl_ms: {granted, fencing_token, expires_at}, or {granted: false, held_by, expires_at}. "
    "File globs conflict when they can match a common path; shared leases only with exclusive ones.",
    read_only=False,
    result=LeaseAcquireResult,
)
def lease_acquire(db: Backend, p: LeaseAcquire) -> dict[str, Any]:
    return leases.acquire(db, p.resource, p.agent_id, p.ttl_ms, p.mode)


class LeaseRenew(Params):
    resource: str
    agent_id: str
    fencing_token: int = Token
    ttl_ms: int = Ttl


@tool(
    "lease_renew",
    "Extend a live lease to ttl_ms from now (LEASE_STALE once it ended).",
    read_only=False,
    result=LeaseRenewResult,
)
def lease_renew(db: Backend, p: LeaseRenew) -> dict[str, Any]:
    return leases.renew(db, p.resource, p.agent_id, p.fencing_token, p.ttl_ms)


class LeaseRelease(Params):
    resource: str
    agent_id: str
    fencing_token: int = Token


@tool(
    "lease_release",
    "Release a live lease you hold (LEASE_STALE once it ended).",
    read_only=False,
    destructive=True,
    result=LeaseReleaseResult,
)
def lease_release(db: Backend, p: LeaseRelease) -> dict[str, Any]:
    return leases.release(db, p.resource, p.agent_id, p.fencing_token)


class LeaseList(Params):
    resource_prefix: str | None = None
    agent_id: str | None = None
    include_expired: bool = False
    limit: int = Field(1000, ge=1, le=10_000)


@tool(
    "lease_list",
    "Live leases, oldest grant first (with include_expired, ended ones not yet taken over too).",
    read_only=True,
    result=LeaseListResult,
)
def lease_list(db: Backend, p: LeaseList) -> dict[str, Any]:
    return leases.list_leases(db, p.resource_prefix, p.agent_id, p.include_expired, p.limit)


class LeaseCheck(Params):
    resource: str
    fencing_token: int = Token


@tool(
    "lease_check",
    "Whether the lease with this fencing token still holds the resource: {valid, held_by, expires_at}.",
    read_only=True,
    result=LeaseCheckResult,
)
def lease_check(db: Backend, p: LeaseCheck) -> dict[str, Any]:
    return leases.check(db, p.resource, p.fencing_token)
