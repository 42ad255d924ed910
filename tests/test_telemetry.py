"""Traces, metrics and JSON logs: recorded by the real OpenTelemetry SDK, scraped over HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import logging
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import caw_lab
from caw_lab import correlation
from caw_lab.engine import changes, events
from caw_lab.errors import CawError
from caw_lab.mcp.results import run_tool
from caw_lab.telemetry import context_loads, task_metrics, tool_calls
from caw_lab.telemetry.logs import JsonFormatter, log_json
from caw_lab.tools import registry
from conftest import dump, make_workflow
from mcp_session import CAW, call, free_port, stdio_params


class Recorded:
    """Spans and metrics recorded by SDK providers of the test's own, not the process's."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = tracer_provider.get_tracer("test")
        self.meter = MeterProvider(metric_readers=[self.reader]).get_meter("test")

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()  # None when nothing was recorded
        return [point for resource in (data.resource_metrics if data else []) for scope in resource.scope_metrics
                for metric in scope.metrics if metric.name == name for point in metric.data.data_points]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    seen = Recorded()
    monkeypatch.setattr(tool_calls, "tracer", seen.tracer)
    counter = seen.meter.create_counter("caw.tool.calls")
    histogram = seen.meter.create_histogram("caw.tool.duration")
    monkeypatch.setattr(tool_calls, "instruments", lambda: (counter, histogram))
    monkeypatch.setattr(context_loads, "durations", seen.meter.create_histogram("caw.context.load.duration"))
    return seen


def test_a_tool_call_is_a_span_about_its_subjects(client: caw_lab.Client, recorded: Recorded) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("checkpoint_add", task_id=wf["tasks"]["a"], type="progress", summary="step")
    span = next(s for s in recorded.spans.get_finished_spans() if s.name == "caw.tool checkpoint_add")
    assert span.attributes["caw.task_id"] == wf["tasks"]["a"]
    assert span.attributes["caw.correlation_id"].startswith("cr_")
    assert span.status.is_ok


def test_a_refused_call_is_an_error_span_and_counted_by_its_code(client: caw_lab.Client, recorded: Recorded) -> None:
    with pytest.raises(CawError):
        client.call("task_get", id="tk_000000000000")
    span = recorded.spans.get_finished_spans()[-1]
    assert span.attributes["caw.error.code"] == "TASK_NOT_FOUND" and not span.status.is_ok
    counts = {(p.attributes["caw.tool.name"], p.attributes["caw.outcome"]): p.value
              for p in recorded.points("caw.tool.calls")}
    assert counts == {("task_get", "TASK_NOT_FOUND"): 1}


def test_an_unknown_tool_is_not_given_a_label(client: caw_lab.Client, recorded: Recorded) -> None:
    """A hostile client must not grow the metrics' label sets with names of its own making."""
    with pytest.raises(CawError, match="Unknown tool"):
        client.call("no_such_tool'; DROP TABLE tasks; --")
    assert recorded.points("caw.tool.calls") == [] and recorded.spans.get_finished_spans() == ()


def test_durations_are_recorded_per_tool_and_context_loads_say_if_kept(client: caw_lab.Client,
                                                                        recorded: Recorded) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    for _ in range(2):
        client.call("task_load_context", task_id=wf["tasks"]["a"])
    loads = {p.attributes["caw.context.kept"]: p.count for p in recorded.points("caw.context.load.duration")}
    assert loads == {False: 1, True: 1}
    tools = {p.attributes["caw.tool.name"]: p.count for p in recorded.points("caw.tool.duration")}
    assert tools["task_load_context"] == 2


def test_a_calls_events_carry_its_correlation_id(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    with correlation.bound("cr_reviewcall01") as cid:
        client.call("task_update_status", id=wf["tasks"]["a"], status="planning")
        client.call("checkpoint_add", task_id=wf["tasks"]["a"], type="progress", summary="inside the same request")
    written = events.of_call(client.db, cid)
    # the workflow starting with its first task is an automatic consequence, in the same call
    assert [e["kind"] for e in written] == ["task.status", "workflow.status", "checkpoint.added"]
    assert len({e["correlation_id"] for e in written}) == 3, "each event keeps an id of its own, for its gate"
    client.call("checkpoint_add", task_id=wf["tasks"]["b"], type="progress", summary="another request")
    assert len(events.of_call(client.db, cid)) == 3


def test_each_call_has_its_own_correlation_id_unless_one_is_bound(recorded: Recorded, client: caw_lab.Client) -> None:
    make_workflow(client, [{"name": "a"}])
    ids = {s.attributes["caw.correlation_id"] for s in recorded.spans.get_finished_spans()}
    assert len(ids) == 2  # workflow_create and workflow_set_plan
    for cid in ids:
        assert events.of_call(client.db, cid), "every call's events are found by its id"


def test_json_log_lines_carry_the_correlation_id() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("caw_lab.test", logging.WARNING, __file__, 1, "claim lost: %s", ("tk_1",), None)
    assert "correlation_id" not in json.loads(formatter.format(record))
    with correlation.bound() as cid:
        line = json.loads(formatter.format(record))
    assert line["correlation_id"] == cid and line["message"] == "claim lost: tk_1" and line["level"] == "warning"
    with Recorded().tracer.start_as_current_span("call") as span:
        line = json.loads(formatter.format(record))
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["at"])


def test_task_metrics_read_the_feed(client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000]
    monkeypatch.setattr(changes, "now_ms", lambda: clock[0])
    wf = make_workflow(client, [{"name": n} for n in ("done", "broke", "waits")])
    ends = {"done": {"status": "completed", "outcome": "ok"}, "broke": {"status": "failed", "error": "x"}}

    def call_a_second_later(**params: Any) -> None:
        clock[0] += 1000
        client.call("task_update_status", **params)

    for name, end in ends.items():
        for status in ("planning", "in_progress"):
            call_a_second_later(id=wf["tasks"][name], status=status)
        call_a_second_later(id=wf["tasks"][name], **end)
    summary = task_metrics.summary(client.db, wf["id"])
    assert summary["tasks"] == {"completed": 1, "failed": 1, "pending": 1}
    assert summary["failure_rate"] == 0.5
    assert summary["duration_ms"] == {"p50": 1000, "p95": 1000, "max": 1000, "count": 1}


def test_task_gauges_are_read_at_collection(client: caw_lab.Client) -> None:
    seen = Recorded()
    task_metrics.observe(client.db, seen.meter)
    assert {p.attributes["caw.task.status"]: p.value for p in seen.points("caw.tasks")} == {}
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    assert {p.attributes["caw.task.status"]: p.value for p in seen.points("caw.tasks")} == {"pending": 2}
    assert seen.points("caw.task.failure_rate") == [], "no rate before any task finished"
    for status in ("planning", "in_progress", "failed"):
        client.call("task_update_status", id=wf["tasks"]["a"], status=status, error="x")
    assert [p.value for p in seen.points("caw.task.failure_rate")] == [1.0]
    assert seen.points("caw.task.duration") == [], "no completed task yet"


def scrape(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def metrics_port(monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    monkeypatch.setenv("CAW_METRICS_PORT", str(port))
    return port


DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "caw-lab.json"


def test_a_server_serves_prometheus_metrics_and_the_dashboard_reads_them(db_path: Path, metrics_port: int) -> None:
    async def scenario() -> str:
        async with Client(stdio_params(db_path), mode="legacy") as mcp:
            wf = await call(mcp, "workflow_create", name="m", source_type="prompt", source_content="m")
            plan = {"summary": "s", "tasks": [{"name": "a"}, {"name": "b"}]}
            task = (await call(mcp, "workflow_set_plan", id=wf["id"], plan=plan))["tasks"][0]["id"]
            await mcp.call_tool("task_get", {"id": "tk_000000000000"})
            await call(mcp, "task_load_context", task_id=task)
            for status in ("planning", "in_progress"):
                await call(mcp, "task_update_status", id=task, status=status)
            await call(mcp, "task_update_status", id=task, status="completed", outcome="done")
            return scrape(metrics_port)

    page = anyio.run(scenario)
    assert re.search(r'caw_tool_calls_total\{caw_outcome="ok",caw_tool_name="workflow_create"[^}]*\} 1', page)
    assert re.search(r'caw_tool_calls_total\{caw_outcome="TASK_NOT_FOUND",caw_tool_name="task_get"', page)
    assert re.search(r'caw_tasks\{caw_task_status="pending"[^}]*\} 1', page)
    assert re.search(r'caw_task_failure_rate\{[^}]*\} 0', page)
    assert re.search(r'caw_tool_duration_milliseconds_bucket\{[^}]*le="0.5"', page), "buckets fine enough for ms calls"
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = {name for panel in panels for target in panel["targets"] for name in re.findall(r"caw_\w+", target["expr"])}
    missing = [name for name in used if not re.search(rf'^{name}\b|[{{,]{name}="', page, re.M)]
    assert used and not missing, f"the dashboard reads metrics or labels the server does not serve: {missing}"


@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_metrics_port_is_a_clear_refusal(db_path: Path) -> None:
    with busy_port() as port:
        done = subprocess.run([CAW, "--db", str(db_path), "--server", "--metrics-port", str(port)],
                              input=b"", capture_output=True, timeout=60)
    assert done.returncode == 1
    error = json.loads(done.stderr.decode().strip().splitlines()[-1])
    assert error["code"] == "INVALID_INPUT" and "--metrics-port" in error["suggestion"]


def test_log_json_sends_caw_lab_records_to_stderr_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("caw_lab")
    handlers, level = list(logger.handlers), logger.level
    try:
        log_json()
        with correlation.bound() as cid:
            logging.getLogger("caw_lab.engine.recovery").info("agent %s lost", "ag_1")
    finally:
        logger.handlers[:], logger.level = handlers, level
    err = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["correlation_id"] for line in err] == [cid]
    assert json.loads(err[0])["logger"] == "caw_lab.engine.recovery"


@pytest.mark.parametrize("in_thread", [False, True], ids=["stdio", "http"])
def test_a_failed_mcp_calls_log_line_carries_the_id_its_span_carries(
    client: caw_lab.Client, recorded: Recorded, monkeypatch: pytest.MonkeyPatch, in_thread: bool
) -> None:
    def broken(db: Any, params: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(registry.REGISTRY, "workflow_get", dataclasses.replace(registry.get_tool("workflow_get"),
                                                                               fn=broken))
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("caw_lab.mcp")
    logger.addHandler(handler)
    try:
        result = anyio.run(functools.partial(run_tool, client.db, "workflow_get", {"id": "wf_x"}, in_thread=in_thread))
    finally:
        logger.removeHandler(handler)
    assert result.is_error and result.structured_content["code"] == "INTERNAL_ERROR"
    logged = json.loads(lines.getvalue().splitlines()[0])
    span = recorded.spans.get_finished_spans()[-1]
    assert logged["correlation_id"] == span.attributes["caw.correlation_id"]
    assert "RuntimeError: a bug" in logged["exc"]


def test_workflow_metrics_is_a_tool_and_refuses_an_unknown_or_hostile_id(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    assert client.call("workflow_metrics", workflow_id=wf["id"]) == {
        "workflow_id": wf["id"], "tasks": {"pending": 1}, "failure_rate": None, "duration_ms": None}
    before = dump(client.db)
    for hostile in ("wf_000000000000", "x' OR '1'='1", "../../etc/passwd"):
        with pytest.raises(CawError) as refused:
            client.call("workflow_metrics", workflow_id=hostile)
        assert refused.value.code == "WORKFLOW_NOT_FOUND"
    with pytest.raises(CawError) as refused:
        client.call("workflow_metrics", workflow_id=["not", "a", "string"])
    assert refused.value.code == "INVALID_INPUT"
    assert dump(client.db) == before
