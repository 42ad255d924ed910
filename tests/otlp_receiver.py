"""A local OTLP/HTTP receiver, as a collector's ``otlphttp`` receiver speaks it: protobuf
``ExportTraceServiceRequest`` and ``ExportMetricsServiceRequest`` POSTed to ``/v1/traces`` and
``/v1/metrics``, decoded with the official ``opentelemetry-proto`` messages (the exporter's own
dependency) and kept as plain spans and metric points for tests to read."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

MAX_BODY = 16 * 1024 * 1024


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(pairs: list[KeyValue]) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    error: bool


@dataclass(frozen=True)
class Point:
    metric: str
    attributes: dict[str, Any]
    value: float
    """A sum's or gauge's value, a histogram's count."""


@dataclass
class Received:
    url: str = ""
    spans: list[Span] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_traces(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append(Span(span.name, span.trace_id.hex(), span.span_id.hex(),
                                           span.parent_span_id.hex(), attributes(span.attributes), resource,
                                           span.status.code == span.status.STATUS_CODE_ERROR))

    def add_metrics(self, request: ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    data = getattr(metric, metric.WhichOneof("data"))
                    for point in data.data_points:
                        number = point.count if hasattr(point, "count") else value_of(point)
                        self.points.append(Point(metric.name, attributes(point.attributes), number))

    def wait_for(self, found: Callable[[Received], Any], timeout_s: float = 20) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (seen := found(self)):
            assert time.monotonic() < deadline, f"the receiver got no such data: {self.spans} {self.points}"
            time.sleep(0.05)
        return seen


def value_of(point: Any) -> float:
    return point.as_double if point.WhichOneof("value") == "as_double" else point.as_int


ROUTES: dict[str, tuple[type[Message], type[Message], str]] = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, "add_traces"),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse, "add_metrics"),
}


def handler(received: Received) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            route = ROUTES.get(self.path)
            length = int(self.headers.get("Content-Length", 0))
            if route is None or self.headers.get("Content-Type") != "application/x-protobuf" or length > MAX_BODY:
                self.send_error(404 if route is None else 415)
                return
            body = self.rfile.read(length)
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request_type, response_type, add = route
            with received.lock:
                received.paths.append(self.path)
                getattr(received, add)(request_type.FromString(body))
            answer = response_type().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[Received]:
    """A receiver on a free loopback port; ``url`` is the base an exporter is pointed at."""
    received = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(received))
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
