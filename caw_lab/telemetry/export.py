"""Where a server's telemetry goes, built in (the ``telemetry`` extra:
``pip install 'caw-lab[telemetry]'``), so no ``opentelemetry-instrument`` wrapper is needed:

- ``--metrics-port 9464``: Prometheus's text format at ``http://127.0.0.1:9464/metrics``
  (loopback only: the endpoint has no token).
- ``--otlp-endpoint http://collector:4318``, or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
  (and its ``_TRACES_``/``_METRICS_`` forms): traces and metrics over OTLP/HTTP (protobuf),
  to ``/v1/traces`` and ``/v1/metrics`` under the endpoint as the OpenTelemetry specification
  says. The other ``OTEL_*`` variables (headers, timeouts, ``OTEL_SERVICE_NAME``,
  ``OTEL_METRIC_EXPORT_INTERVAL``) apply as usual.

Both share one meter provider, so Prometheus and the collector see the same instruments.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend

HOST = "127.0.0.1"
OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
OTLP_PROTOCOLS = ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                  "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
PROTOCOL = "http/protobuf"
NEEDS_EXTRA = "pip install 'caw-lab[telemetry]'"


def otlp_wanted(endpoint: str | None) -> bool:
    """An endpoint given, or one in the standard variables."""
    return endpoint is not None or any(os.environ.get(name) for name in OTLP_ENDPOINTS)


@contextmanager
def exported(db: Backend | None, *, metrics_port: int | None = None,
             otlp_endpoint: str | None = None) -> Iterator[None]:
    """The SDK installed with the exporters asked for, for as long as the block runs; on the way
    out what is still buffered is sent, before ``db`` (which the task gauges read) closes. Asked
    for nothing, installs nothing: the API then records nothing, at no cost."""
    wants_otlp = otlp_wanted(otlp_endpoint)
    if metrics_port is None and not wants_otlp:
        yield
        return
    sdk = load_sdk()
    with ExitStack() as stack:
        readers: list[Any] = []
        if metrics_port is not None:
            readers.append(prometheus_reader(metrics_port))
        if wants_otlp:
            check_protocol()
            readers.append(sdk.otlp_metric_reader(signal_url(otlp_endpoint, "metrics")))
            stack.callback(sdk.install_tracer(signal_url(otlp_endpoint, "traces")).shutdown)
        stack.callback(sdk.install_meter(readers).shutdown)
        if db is not None:
            from caw_lab.telemetry import scaling, task_metrics

            task_metrics.observe(db)
            scaling.observe(db)
        yield


def load_sdk() -> Any:
    try:
        from caw_lab.telemetry import sdk
    except ImportError:
        raise CawError("INVALID_INPUT", "Exporting telemetry needs the OpenTelemetry SDK and its exporters",
                       recoverable=True, suggestion=NEEDS_EXTRA) from None
    return sdk


def prometheus_reader(port: int) -> Any:
    """The reader Prometheus scrapes, its endpoint listening on loopback ``port``."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    try:
        serve_metrics(port)
    except OSError as exc:
        raise CawError("INVALID_INPUT", f"Cannot serve metrics on {HOST}:{port}: {exc.strerror}",
                       recoverable=True, suggestion="Pick a free port for --metrics-port.") from None
    return PrometheusMetricReader()


def serve_metrics(port: int) -> None:
    """prometheus_client's exposition on loopback ``port``, in a daemon thread, answering only
    requests addressed to loopback by name: binding loopback alone leaves the endpoint to any web
    page whose host name a rebinding DNS points at 127.0.0.1, and the metrics name workflows."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Scrapes every few seconds are not news."""

    server = make_server(HOST, port, loopback_only(make_wsgi_app(), port), Server, Quiet)
    threading.Thread(target=server.serve_forever, name="caw-metrics", daemon=True).start()


def loopback_only(app: Any, port: int) -> Any:
    """``app`` behind a check of the Host header: 421 for any name but loopback's."""
    names = ("127.0.0.1", "localhost", "[::1]")
    allowed = {*names, *(f"{name}:{port}" for name in names)}

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_HOST", "").lower() not in allowed:
            start_response("421 Misdirected Request", [("Content-Type", "text/plain")])
            return [b"This endpoint answers requests addressed to loopback only.\n"]
        return app(environ, start_response)

    return guarded


def signal_url(endpoint: str | None, signal: str) -> str | None:
    """``endpoint``'s URL for ``signal`` (``traces``, ``metrics``); None leaves the exporter to
    read the ``OTEL_*`` variables, which it does by the same rule."""
    if endpoint is None:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise CawError("INVALID_INPUT", f"Not an OTLP/HTTP endpoint: {endpoint[:200]!r}", recoverable=True,
                       suggestion="Give the collector's base URL, e.g. --otlp-endpoint http://localhost:4318")
    return f"{endpoint.rstrip('/')}/v1/{signal}"


def check_protocol() -> None:
    """Refuse up front a protocol other than OTLP/HTTP's protobuf, rather than export nothing."""
    for name in OTLP_PROTOCOLS:
        if (value := os.environ.get(name)) and value != PROTOCOL:
            raise CawError("INVALID_INPUT", f"{name}={value[:40]!r}: caw exports OTLP over HTTP ({PROTOCOL}) only",
                           recoverable=True,
                           suggestion=f"Unset {name} or set it to {PROTOCOL}, and point the endpoint at the "
                                      "collector's OTLP/HTTP port (4318 by default).")
