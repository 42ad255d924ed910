"""Scaling hints as a tool: how many agents a workflow could use, per capability, and why.

The figures and the recommendation (Little's law, bounded by max_agents) are written out in
``caw_lab.engine.scaling``; Prometheus serves the same figures (``telemetry.scaling``) and the
executor scales on them with ``execution.max_agents: "auto"``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caw_lab.engine import scaling
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

DAY_MS = 24 * 60 * 60 * 1000


class WorkflowScalingHintsResult(Result):
    workflow_id: str
    at: int
    window_ms: int
    target_drain_ms: int
    max_agents: int
    method: str
    total: dict[str, Any]
    capabilities: list[dict[str, Any]]


class WorkflowScalingHints(Params):
    workflow_id: str
    window_ms: int = Field(scaling.WINDOW_MS, ge=1000, le=7 * DAY_MS, description="Arrivals counted this far back.")
    target_drain_ms: int = Field(scaling.TARGET_DRAIN_MS, ge=1, le=7 * DAY_MS)


@tool(
    "workflow_scaling_hints",
    "Per capability: ready queue, agents busy and idle, task duration (mean, p90), arrival rate, time to drain, "
    "and a recommended agent count by Little's law: ceil(rate x mean + queue x mean / target_drain_ms), "
    "bounded by max_agents.",
    read_only=True,
    result=WorkflowScalingHintsResult,
)
def workflow_scaling_hints(db: Backend, p: WorkflowScalingHints) -> dict[str, Any]:
    return scaling.hints(db, p.workflow_id, p.window_ms, p.target_drain_ms)
