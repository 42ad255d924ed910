"""Task metrics as a tool, so an agent, the notebook and a script read the same figures the
Prometheus endpoint serves (``telemetry.task_metrics``)."""

from __future__ import annotations

from typing import Any

from caw_lab.store.backend import Backend
from caw_lab.telemetry import task_metrics
from caw_lab.tools.registry import Params, Result, tool


class WorkflowMetricsResult(Result):
    workflow_id: str | None
    tasks: dict[str, Any]
    failure_rate: float | None
    duration_ms: dict[str, Any] | None


class WorkflowMetrics(Params):
    workflow_id: str | None = None


@tool("workflow_metrics", "Task counts by status, failure rate and completed tasks' duration (p50, p95, max ms) "
      "of a workflow, or of every workflow when workflow_id is omitted.", read_only=True, result=WorkflowMetricsResult)
def workflow_metrics(db: Backend, p: WorkflowMetrics) -> dict[str, Any]:
    return {"workflow_id": p.workflow_id, **task_metrics.summary(db, p.workflow_id)}
