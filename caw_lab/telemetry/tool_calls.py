"""Each tool call through the registry, whatever the surface (MCP, REST, magics, OpenAI), as an
OpenTelemetry span (``caw.tool <name>``, with the ids the call is about and its error code),
as two metrics: ``caw.tool.calls`` by tool and outcome (``ok`` or the CawError code), and
``caw.tool.duration`` in milliseconds, and as one log record (logger ``caw_lab.tools.calls``,
level info, seen with ``caw --log-format json``). Only calls to registered tools are observed,
so a hostile client cannot grow the metrics' label sets with made-up names.

One tool says more: ``caw.context.load.duration`` is the milliseconds a ``task_load_context``
took, with ``caw.context.kept`` telling a kept answer (the same question at an unchanged feed
head) from one assembled afresh, as the two differ a hundredfold (``context_loaded``)."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from caw_lab import correlation
from caw_lab.errors import CawError
from caw_lab.ids import ALPHABET, LENGTH, PREFIXES
from caw_lab.telemetry.logs import FIELDS

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram

SUBJECTS = ("workflow_id", "task_id", "agent_id")
"""What a call can be about, each recognised by its id's prefix (``wf_``, ``tk_``, ``ag_``)."""

KINDS = {PREFIXES[key.removesuffix("_id")]: key for key in SUBJECTS}
SUBJECT_ID = re.compile(rf"({'|'.join(KINDS)})[{ALPHABET}]{{{LENGTH}}}")
"""A well-formed id of a subject: anything else a client sends (1 MiB of text, a made-up
name) is never copied onto a span or a log line."""

MILLISECONDS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
"""Histogram buckets: most calls take under a few milliseconds, which OpenTelemetry's default
buckets (0, 5, 10, 25, ...) would lump together."""

tracer = trace.get_tracer("caw_lab")
logger = logging.getLogger("caw_lab.tools.calls")
T = TypeVar("T")


@functools.cache
def instruments() -> tuple[Counter, Histogram]:
    """Made on the first call: importing the metrics API at import time would lengthen every
    server's start-up (the tracing API is imported by the SDK anyway)."""
    from opentelemetry import metrics

    meter = metrics.get_meter("caw_lab")
    return (meter.create_counter("caw.tool.calls", unit="{call}", description="Tool calls by tool and outcome"),
            meter.create_histogram("caw.tool.duration", unit="ms", description="Tool call duration",
                                   explicit_bucket_boundaries_advisory=MILLISECONDS))


@functools.cache
def context_load_durations() -> Histogram:
    """Made on the first load, as ``instruments`` are."""
    from opentelemetry import metrics

    return metrics.get_meter("caw_lab").create_histogram(
        "caw.context.load.duration", unit="ms", description="Context load duration",
        explicit_bucket_boundaries_advisory=MILLISECONDS,
    )


def context_loaded(ms: float, *, kept: bool) -> None:
    context_load_durations().record(ms, {"caw.context.kept": kept})


class Call:
    """The call in progress, as ``Observed`` hands it to the registry: what it is about so far."""

    def __init__(self, span: Span, about: dict[str, str], watched: bool) -> None:
        self.span = span
        self.about = about
        self.watched = watched

    def returned(self, result: T) -> T:
        """``result``, after taking the ids it names that the arguments did not (``workflow_create``
        names its workflow only in its result, ``task_get`` the task's workflow)."""
        if self.watched and isinstance(result, Mapping):
            for key, value in subjects(result).items():
                if key not in self.about:
                    self.about[key] = value
                    self.span.set_attribute(f"caw.{key}", value)
        return result


class Observed:
    """Around the whole call, validation included: a refused call is what an operator most
    wants counted, and its span carries the code the agent saw.

    A class rather than a generator-based context manager: every tool call enters it, and a
    generator's frames cost a claim that loses its race a tenth of its time."""

    __slots__ = ("arguments", "call", "name", "span_scope", "start", "token")

    def __init__(self, name: str, arguments: Mapping[str, Any]) -> None:
        self.name = name
        self.arguments = arguments

    def __enter__(self) -> Call:
        traced = tracing()
        watched = traced or logger.isEnabledFor(logging.INFO)
        about = subjects(self.arguments) if watched else {}
        self.token = correlation.bind()
        self.span_scope = (tracer.start_as_current_span(f"caw.tool {self.name}",
                                                        attributes=span_attributes(self.name, about))
                           if traced else None)
        span = self.span_scope.__enter__() if self.span_scope is not None else trace.INVALID_SPAN
        self.call = Call(span, about, watched)
        self.start = time.perf_counter()
        return self.call

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        ms = (time.perf_counter() - self.start) * 1000
        outcome = "ok" if kind is None else error.code if isinstance(error, CawError) else "INTERNAL_ERROR"
        try:
            if isinstance(error, CawError):
                self.call.span.set_attribute("caw.error.code", error.code)
                self.call.span.set_status(Status(StatusCode.ERROR, error.message))
            labels = {"caw.tool.name": self.name, "caw.outcome": outcome}
            calls, durations = instruments()
            calls.add(1, labels)
            durations.record(ms, labels)
            log(self.name, outcome, ms, self.call.about)
        finally:
            if self.span_scope is not None:
                self.span_scope.__exit__(kind, error, tb)
            correlation.unbind(self.token)


def tracing() -> bool:
    """Whether a span would reach anyone: a tracer provider is installed, or a tracer of one was
    put in place. Without one, making the span and its attributes, and finding the call's
    subjects for them, cost a claim that loses its race two thirds of its time (bench/RESULTS.md)."""
    return not (isinstance(tracer, trace.ProxyTracer)
                and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider))


def subjects(values: Mapping[str, Any]) -> dict[str, str]:
    """The workflow, task and agent ids among ``values``' top-level strings, told apart by their
    prefix, whatever the key: ``task_update_status`` names its task ``id``, ``message_send``
    its agent ``sender_id``. A key named for the subject wins, then ``id``, then other ``*_id``
    keys in their order."""
    found: dict[str, str] = {}
    keys = [*SUBJECTS, "id", *(key for key in values if isinstance(key, str) and key.endswith("_id"))]
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and SUBJECT_ID.fullmatch(value):
            found.setdefault(KINDS[value[:3]], value)
    return found


def span_attributes(name: str, about: Mapping[str, str]) -> dict[str, str]:
    """The call's name, its correlation id (drawn now, as the span names it) and its subjects."""
    return {"caw.tool.name": name, "caw.correlation_id": str(correlation.current()),
            **{f"caw.{key}": value for key, value in about.items()}}


def log(name: str, outcome: str, ms: float, about: Mapping[str, str]) -> None:
    """One record a call, inside its span and correlation id so the JSON line carries both;
    checked first, since nothing listens at info level unless ``--log-format json`` asked."""
    if logger.isEnabledFor(logging.INFO):
        fields = {"tool": name, "outcome": outcome, "error_code": None if outcome == "ok" else outcome,
                  "duration_ms": round(ms, 3), **about}
        logger.info("%s %s in %.1f ms", name, outcome, ms, extra={FIELDS: fields})
