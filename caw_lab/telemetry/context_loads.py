"""``caw.context.load.duration``: milliseconds to answer a ``task_load_context``, with
``caw.context.kept`` telling a kept answer (the same question at an unchanged feed head) from
one assembled afresh, as the two differ a hundredfold."""

from __future__ import annotations

from opentelemetry import metrics

from caw_lab.telemetry.tool_calls import MILLISECONDS

durations = metrics.get_meter("caw_lab").create_histogram(
    "caw.context.load.duration", unit="ms", description="Context load duration",
    explicit_bucket_boundaries_advisory=MILLISECONDS,
)


def record(ms: float, *, kept: bool) -> None:
    durations.record(ms, {"caw.context.kept": kept})
