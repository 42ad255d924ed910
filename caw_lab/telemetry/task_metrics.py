"""Task counts, durations and failure rate: read from the tables and the change feed when asked
(a scrape, a notebook), so they cost nothing between looks and agree with the database.

- ``caw.tasks``: tasks by status, now.
- ``caw.task.failure_rate``: the share of finished tasks (completed or failed) that failed.
- ``caw.task.duration``: milliseconds each completed task's successful attempt took, from its
  last move to ``in_progress`` to its completion, as p50, p95 and max.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from caw_lab.engine import task_stats
from caw_lab.engine.rows import required
from caw_lab.store.backend import Backend
from caw_lab.store.reads import Reads


def summary(db: Backend, workflow_id: str | None = None) -> dict[str, Any]:
    """The task metrics of one workflow (WORKFLOW_NOT_FOUND if there is none), or of the whole
    database: one batch of reads."""
    reads = Reads(db)
    exists = required(reads, "workflow", workflow_id) if workflow_id is not None else None
    statuses, times = task_stats.status_counts(reads, workflow_id), task_stats.completion_times(reads, workflow_id)
    reads.run()
    if exists:
        exists()
    counts = statuses()
    return {"tasks": counts, "failure_rate": failure_rate(counts), "duration_ms": percentiles(times())}


def failure_rate(counts: dict[str, int]) -> float | None:
    finished = counts.get("completed", 0) + counts.get("failed", 0)
    return counts.get("failed", 0) / finished if finished else None


def percentiles(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else ordered[0]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "count": len(ordered)}


def observe(db: Backend, meter: Meter | None = None) -> None:
    """Publish ``summary(db)`` as OpenTelemetry gauges on ``meter`` (the global provider's by
    default), read at each collection."""
    meter = meter or metrics.get_meter("caw_lab")

    def tasks(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"caw.task.status": status}) for status, n in task_stats.counts_by_status(db).items()]

    def failures(options: CallbackOptions) -> Iterable[Observation]:
        rate = failure_rate(task_stats.counts_by_status(db))
        return [] if rate is None else [Observation(rate)]

    def duration(options: CallbackOptions) -> Iterable[Observation]:
        spread = percentiles(task_stats.completion_ms(db))
        return [] if spread is None else [Observation(spread[q], {"quantile": q}) for q in ("p50", "p95", "max")]

    meter.create_observable_gauge("caw.tasks", [tasks], unit="{task}", description="Tasks by status")
    meter.create_observable_gauge("caw.task.failure_rate", [failures], unit="1",
                                  description="Share of finished tasks that failed")
    meter.create_observable_gauge("caw.task.duration", [duration], unit="ms",
                                  description="Successful attempts' duration, by quantile")
