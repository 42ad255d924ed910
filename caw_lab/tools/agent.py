"""Agent tools: register, heartbeat, update, read, list, unregister, sweep the silent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import agents
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

Runtime = Literal["claude_code", "codex", "opencode", "custom"]
Role = Literal["coordinator", "worker"]
Status = Literal["online", "offline", "busy"]


class AgentGetResult(Result):
    id: str
    name: str
    runtime: str
    role: str
    status: str
    capabilities: list[str] | None
    current_task_id: str | None
    workflow_id: str | None
    workspace_path: str | None
    last_heartbeat: int | None
    metadata: dict[str, Any] | None
    created_at: int
    updated_at: int
    stored_status: str
    stale: bool
    heartbeat_age_ms: int | None


class AgentListResult(Result):
    agents: list[dict[str, Any]]


class AgentMarkStaleResult(Result):
    agents: list[dict[str, Any]]


class AgentUpdateResult(Result):
    success: bool


class Registered(Result):
    id: str
    name: str
    status: str


class Beat(Result):
    success: bool
    next_heartbeat_ms: int


class Unregistered(Result):
    success: bool
    tasks_released: int
    released_task_ids: list[str]


class AgentRegister(Params):
    name: str = Field(min_length=1)
    runtime: Runtime
    role: Role = "worker"
    workflow_id: str | None = None
    capabilities: list[str] | None = None
    workspace_path: str | None = None
    metadata: dict[str, Any] | None = None


@tool("agent_register", "Register an agent on startup; it starts online.", read_only=False, result=Registered)
def agent_register(db: Backend, p: AgentRegister) -> dict[str, Any]:
    return agents.register(db, **p.model_dump())


class AgentHeartbeat(Params):
    agent_id: str
    current_task_id: str | None = None
    status: Literal["online", "busy"] | None = None


@tool("agent_heartbeat", "Keep an agent online; call again after next_heartbeat_ms.", read_only=False, idempotent=True,
      result=Beat)
def agent_heartbeat(db: Backend, p: AgentHeartbeat) -> dict[str, Any]:
    return agents.heartbeat(db, p.agent_id, p.current_task_id, p.status)


class AgentUpdate(Params):
    id: str
    status: Status | None = None
    current_task_id: str | None = Field(None, description="null clears it.")
    workspace_path: str | None = None
    metadata: dict[str, Any] | None = None


@tool("agent_update", "Change an agent's status, current task, workspace or metadata (merged).",
      read_only=False, destructive=True, idempotent=True, result=AgentUpdateResult)
def agent_update(db: Backend, p: AgentUpdate) -> dict[str, Any]:
    """Only the fields the caller sent change; ``current_task_id: null`` clears the task."""
    given = p.model_dump(include=p.model_fields_set - {"id"})
    changes = {k: v for k, v in given.items() if v is not None or k == "current_task_id"}
    return agents.update_agent(db, p.id, changes)


class AgentGet(Params):
    id: str


@tool("agent_get", "An agent's details, with whether it has gone stale (silent past the timeout).", read_only=True,
      result=AgentGetResult)
def agent_get(db: Backend, p: AgentGet) -> dict[str, Any]:
    return agents.get(db, p.id)


class AgentList(Params):
    status: list[Status] | None = None
    role: Role | None = None
    runtime: str | None = None
    workflow_id: str | None = None


@tool("agent_list", "List agents, oldest first; a stale agent is listed as offline.", read_only=True,
      result=AgentListResult)
def agent_list(db: Backend, p: AgentList) -> dict[str, Any]:
    return agents.list_agents(db, **p.model_dump())


class AgentUnregister(Params):
    id: str


@tool("agent_unregister", "Mark an agent offline on shutdown and release its unfinished claims.",
      read_only=False, destructive=True, idempotent=True, result=Unregistered)
def agent_unregister(db: Backend, p: AgentUnregister) -> dict[str, Any]:
    return agents.unregister(db, p.id)


class AgentMarkStale(Params):
    timeout_ms: int | None = Field(None, ge=0, description=f"Default {agents.AGENT_TIMEOUT_MS} ms.")


@tool("agent_mark_stale", "Mark agents silent for timeout_ms offline and release their unfinished claims.",
      read_only=False, destructive=True, idempotent=True, result=AgentMarkStaleResult)
def agent_mark_stale(db: Backend, p: AgentMarkStale) -> dict[str, Any]:
    return {"agents": agents.mark_stale(db, p.timeout_ms)}
