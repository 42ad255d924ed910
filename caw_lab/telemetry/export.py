"""Metrics for Prometheus: ``caw --server --metrics-port 9464`` serves its text format at
``http://127.0.0.1:9464/metrics`` (loopback only: the endpoint has no token), through the
OpenTelemetry SDK and its Prometheus exporter, the ``telemetry`` extra
(``pip install 'caw-lab[telemetry]'``). Traces go wherever the standard OpenTelemetry set-up
sends them: ``opentelemetry-instrument caw --server`` with the ``OTEL_*`` variables."""

from __future__ import annotations

from opentelemetry import metrics

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.telemetry import scaling, task_metrics

HOST = "127.0.0.1"


def serve_metrics(db: Backend, port: int) -> None:
    """Install a meter provider whose reader Prometheus scrapes on ``port``, and the task and scaling gauges."""
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from prometheus_client import start_http_server
    except ImportError:
        raise CawError("INVALID_INPUT", "Serving metrics needs the OpenTelemetry SDK and its Prometheus exporter",
                       recoverable=True, suggestion="pip install 'caw-lab[telemetry]'") from None
    try:
        start_http_server(port, addr=HOST)
    except OSError as exc:
        raise CawError("INVALID_INPUT", f"Cannot serve metrics on {HOST}:{port}: {exc.strerror}",
                       recoverable=True, suggestion="Pick a free port for --metrics-port.") from None
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    task_metrics.observe(db)
    scaling.observe(db)
