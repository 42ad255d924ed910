"""The OpenTelemetry SDK's providers and OTLP/HTTP exporters, imported only when a process
exports telemetry (``export.exported``): an ``ImportError`` here means the ``telemetry`` extra
is missing."""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from caw_lab.version import __version__


def resource() -> Resource:
    return Resource.create(resource_attributes())


def resource_attributes() -> dict[str, str]:
    """``service.name`` is ``caw`` unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` say otherwise."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    return {"service.version": __version__, **({} if named else {"service.name": "caw"})}


def install_tracer(endpoint: str | None) -> TracerProvider:
    """Spans batched and sent to ``endpoint`` (None: where the ``OTEL_*`` variables say)."""
    provider = TracerProvider(resource=resource())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def otlp_metric_reader(endpoint: str | None) -> MetricReader:
    """Metrics pushed every ``OTEL_METRIC_EXPORT_INTERVAL`` (60 s by default) and at shutdown."""
    return PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint))


def install_meter(readers: Sequence[MetricReader]) -> MeterProvider:
    provider = MeterProvider(metric_readers=list(readers), resource=resource())
    metrics.set_meter_provider(provider)
    return provider
