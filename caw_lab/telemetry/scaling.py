"""Scaling hints as Prometheus gauges, for every workflow that is ready or running: the figures
``workflow_scaling_hints`` returns (engine/scaling.py), read from the database at each scrape.

Labels: ``caw.workflow_id`` and ``caw.capability`` (a capability tasks require, ``*`` for tasks
requiring none, ``(total)`` for the whole workflow).

- ``caw.scaling.ready_tasks``: the ready-queue depth;
- ``caw.scaling.agents``: agents by ``caw.agent.state`` (``busy``, ``idle``);
- ``caw.scaling.task_duration``: by ``stat`` (``mean``, ``p90``), ms;
- ``caw.scaling.arrival_rate``: tasks becoming ready per minute;
- ``caw.scaling.drain_time``: expected ms to empty the queue at the current agent count (absent when it never empties);
- ``caw.scaling.recommended_agents``: the recommended agent count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from caw_lab.engine import scaling
from caw_lab.store.backend import Backend

TOTAL = "(total)"


def rows(db: Backend) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """Each running workflow's hints, per capability and in total, with their labels."""
    for workflow_id in scaling.running(db):
        found = scaling.hints(db, workflow_id)
        for figures in [{"capability": TOTAL, **found["total"]}, *found["capabilities"]]:
            yield {"caw.workflow_id": workflow_id, "caw.capability": figures["capability"]}, figures


def gauge(db: Backend, read: Callable[[dict[str, Any]], Iterable[tuple[float | None, dict[str, str]]]]) -> Any:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, {**labels, **extra})
            for labels, figures in rows(db)
            for value, extra in read(figures)
            if value is not None
        ]

    return observe


def observe(db: Backend, meter: Meter | None = None) -> None:
    """Publish the hints of every running workflow as gauges on ``meter`` (the global provider's by default)."""
    meter = meter or metrics.get_meter("caw_lab")
    meter.create_observable_gauge(
        "caw.scaling.ready_tasks",
        [gauge(db, lambda f: [(f["ready"], {})])],
        unit="{task}",
        description="Tasks that can be claimed now",
    )
    meter.create_observable_gauge(
        "caw.scaling.agents",
        [gauge(db, lambda f: [(f["busy"], {"caw.agent.state": "busy"}), (f["idle"], {"caw.agent.state": "idle"})])],
        unit="{agent}",
        description="Agents busy on the workflow's tasks, and idle workers registered to it",
    )
    meter.create_observable_gauge(
        "caw.scaling.task_duration",
        [gauge(db, lambda f: [(f["mean_ms"], {"stat": "mean"}), (f["p90_ms"], {"stat": "p90"})])],
        unit="ms",
        description="Completed tasks' duration, mean and p90",
    )
    meter.create_observable_gauge(
        "caw.scaling.arrival_rate",
        [gauge(db, lambda f: [(f["arrival_rate_per_min"], {})])],
        unit="{task}/min",
        description="Tasks becoming ready per minute",
    )
    meter.create_observable_gauge(
        "caw.scaling.drain_time",
        [gauge(db, lambda f: [(f["drain_ms"], {})])],
        unit="ms",
        description="Expected time to empty the ready queue at the current agents",
    )
    meter.create_observable_gauge(
        "caw.scaling.recommended_agents",
        [gauge(db, lambda f: [(f["recommended"], {})])],
        unit="{agent}",
        description="Recommended agent count (Little's law, bounded)",
    )
