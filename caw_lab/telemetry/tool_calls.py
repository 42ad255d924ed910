"""Each tool call through the registry, whatever the surface (MCP, REST, magics, OpenAI), as an
OpenTelemetry span (``caw.tool <name>``, with the ids the call is about and its error code)
and as two metrics: ``caw.tool.calls`` by tool and outcome (``ok`` or the CawError code), and
``caw.tool.duration`` in milliseconds. Only calls to registered tools are observed, so a
hostile client cannot grow the metrics' label sets with made-up names."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from caw_lab import correlation
from caw_lab.errors import CawError

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram

SUBJECTS = ("workflow_id", "task_id", "agent_id")
"""Arguments that name what a call is about, copied onto its span."""

MILLISECONDS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
"""Histogram buckets: most calls take under a few milliseconds, which OpenTelemetry's default
buckets (0, 5, 10, 25, ...) would lump together."""

tracer = trace.get_tracer("caw_lab")


@functools.cache
def instruments() -> tuple[Counter, Histogram]:
    """Made on the first call: importing the metrics API at import time would lengthen every
    server's start-up (the tracing API is imported by the SDK anyway)."""
    from opentelemetry import metrics

    meter = metrics.get_meter("caw_lab")
    return (meter.create_counter("caw.tool.calls", unit="{call}", description="Tool calls by tool and outcome"),
            meter.create_histogram("caw.tool.duration", unit="ms", description="Tool call duration",
                                   explicit_bucket_boundaries_advisory=MILLISECONDS))


@contextmanager
def observed(name: str, arguments: Mapping[str, Any]) -> Iterator[None]:
    """Around the whole call, validation included: a refused call is what an operator most
    wants counted, and its span carries the code the agent saw."""
    with (
        correlation.bound() as cid,
        tracer.start_as_current_span(f"caw.tool {name}", attributes=span_attributes(name, arguments, cid)) as span,
    ):
        start, outcome = time.perf_counter(), "ok"
        try:
            yield
        except CawError as err:
            outcome = err.code
            span.set_attribute("caw.error.code", err.code)
            span.set_status(Status(StatusCode.ERROR, err.message))
            raise
        except Exception:
            outcome = "INTERNAL_ERROR"
            raise
        finally:
            labels = {"caw.tool.name": name, "caw.outcome": outcome}
            calls, durations = instruments()
            calls.add(1, labels)
            durations.record((time.perf_counter() - start) * 1000, labels)


def span_attributes(name: str, arguments: Mapping[str, Any], cid: str) -> dict[str, str]:
    about = {f"caw.{key}": value for key in SUBJECTS if isinstance(value := arguments.get(key), str)}
    return {"caw.tool.name": name, "caw.correlation_id": cid, **about}
