"""Traces, metrics and JSON logs: recorded by the real OpenTelemetry SDK, scraped over HTTP."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.client
import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import caw_lab
from caw_lab import correlation
from caw_lab.alerts import Alert, LogSink, notebook
from caw_lab.engine import changes, events, recovery
from caw_lab.errors import CawError
from caw_lab.mcp.results import run_tool
from caw_lab.runtimes import Executor, PythonRuntime, TaskContext
from caw_lab.telemetry import export, runs, task_metrics, tool_calls
from caw_lab.telemetry.export import exported
from caw_lab.telemetry.logs import JsonFormatter, log_json
from caw_lab.tools import registry
from conftest import dump, make_workflow
from mcp_session import CAW, call, free_port, stdio_params
from otlp_receiver import otlp_receiver


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
    loads = seen.meter.create_histogram("caw.context.load.duration")
    monkeypatch.setattr(tool_calls, "context_load_durations", lambda: loads)
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


def status_for_host(port: int, host: str) -> int:
    """The status of a scrape carrying ``host`` in its Host header, as a browser's would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


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
            return scrape(metrics_port), status_for_host(metrics_port, "rebound.example")

    page, rebound = anyio.run(scenario)
    assert rebound == 421, "a name a rebinding DNS points at loopback is refused"
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
        logger.handlers[:] = handlers
        logger.setLevel(level)  # not an assignment: setLevel forgets the levels loggers cached
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


def test_spans_name_the_ids_a_call_is_about_whatever_the_parameter_is_called(client: caw_lab.Client,
                                                                              recorded: Recorded) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task = wf["tasks"]["a"]
    agent = client.call("agent_register", name="worker", runtime="custom", workflow_id=wf["id"])["id"]
    client.call("task_update_status", id=task, status="planning")
    client.call("task_get", id=task)
    client.call("workflow_get", id=wf["id"])
    client.call("agent_heartbeat", agent_id=agent)
    with pytest.raises(CawError):
        client.call("workflow_get", id="wf_" + "x" * 5000)
    spans = [(s.name, {k: v for k, v in s.attributes.items() if k in ("caw.workflow_id", "caw.task_id",
                                                                      "caw.agent_id")})
             for s in recorded.spans.get_finished_spans()]
    assert spans == [
        ("caw.tool workflow_create", {"caw.workflow_id": wf["id"]}),  # named by its result only
        ("caw.tool workflow_set_plan", {"caw.workflow_id": wf["id"]}),
        ("caw.tool agent_register", {"caw.workflow_id": wf["id"], "caw.agent_id": agent}),
        ("caw.tool task_update_status", {"caw.task_id": task}),
        ("caw.tool task_get", {"caw.task_id": task, "caw.workflow_id": wf["id"]}),  # its workflow from the result
        ("caw.tool workflow_get", {"caw.workflow_id": wf["id"]}),
        ("caw.tool agent_heartbeat", {"caw.agent_id": agent}),
        ("caw.tool workflow_get", {}),  # not an id: nothing a client made up is copied onto the span
    ]


def test_subjects_are_told_apart_by_prefix_and_a_named_key_wins() -> None:
    ids = {"wf": "wf_0123456789ab", "tk": "tk_0123456789ab", "ag": "ag_0123456789ab", "other": "ag_zzzzzzzzzzzz"}
    assert tool_calls.subjects({"sender_id": ids["ag"], "id": ids["tk"], "workflow_id": ids["wf"]}) == {
        "agent_id": ids["ag"], "task_id": ids["tk"], "workflow_id": ids["wf"]}
    assert tool_calls.subjects({"recipient_id": ids["other"], "agent_id": ids["ag"]}) == {"agent_id": ids["ag"]}
    assert tool_calls.subjects({"id": "cp_0123456789ab", "name": ids["wf"], "task_id": ids["tk"] + "x"}) == {}
    assert tool_calls.subjects({"task_id": ["tk_0123456789ab"], 7: ids["wf"]}) == {}


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """``caw --log-format json``'s set-up, writing to a buffer; returns a reader of the lines
    written since it last read."""
    logger = logging.getLogger("caw_lab")
    handlers, level = list(logger.handlers), logger.level
    log_json()
    buffer = io.StringIO()
    logger.handlers[-1].setStream(buffer)  # type: ignore[attr-defined]

    def read() -> list[dict[str, Any]]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    try:
        yield read
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)  # not an assignment: setLevel forgets the levels loggers cached


def test_every_tool_call_is_one_json_log_line_with_its_ids_outcome_and_span(
    client: caw_lab.Client, recorded: Recorded, json_log: Callable[[], list[dict[str, Any]]]
) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task = wf["tasks"]["a"]
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task, status=status)
    with pytest.raises(CawError):
        client.call("task_update_status", id=task, status="pending_review")
    client.call("task_update_status", id=task, status="completed", outcome="done")
    lines = [line for line in json_log() if line["logger"] == "caw_lab.tools.calls"]
    spans = recorded.spans.get_finished_spans()
    assert [line["tool"] for line in lines] == [s.attributes["caw.tool.name"] for s in spans]
    assert len(lines) == 6 and all(line["level"] == "info" for line in lines)
    refused = lines[4]
    assert refused["outcome"] == refused["error_code"] == "INVALID_INPUT", refused
    assert refused["task_id"] == task and "workflow_id" not in refused
    assert "error_code" not in lines[5] and lines[5]["outcome"] == "ok"
    for line, span in zip(lines, spans, strict=True):
        assert line["correlation_id"] == span.attributes["caw.correlation_id"]
        assert line["span_id"] == f"{span.context.span_id:016x}"
        assert 0 < line["duration_ms"] < 10_000
    assert lines[0]["workflow_id"] == wf["id"]


def test_without_json_logs_a_call_formats_no_log_record(client: caw_lab.Client,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The default: nobody listens at info level, so a call costs no record."""
    seen: list[logging.LogRecord] = []
    monkeypatch.setattr(tool_calls.logger, "makeRecord", lambda *a, **k: seen.append(a) or logging.LogRecord(
        "x", 0, "", 0, "", (), None))
    client.call("workflow_list")
    assert seen == []


def test_an_alert_log_line_carries_its_correlation_id(client: caw_lab.Client,
                                                      json_log: Callable[[], list[dict[str, Any]]]) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    agent = client.call("agent_register", name="gone", runtime="custom", workflow_id=wf["id"])
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=agent["id"])
    with correlation.bound("cr_sweepcall001"):
        recovery.end_agent(client.db, agent["id"], "its process vanished")
    [raised] = notebook.recent(client, workflow_id=wf["id"])
    json_log()
    LogSink().send(Alert.from_dict(raised))
    [line] = json_log()
    assert line["correlation_id"] == raised["correlation_id"] and line["correlation_id"].startswith("cr_sweepcall001.")
    assert line["alert"] == "agent_lost" and line["level"] == "error" and line["seq"] == raised["seq"]
    assert (line["workflow_id"], line["task_id"], line["agent_id"]) == (wf["id"], wf["tasks"]["a"], agent["id"])


def server_params(db_path: Path, *options: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=CAW, args=["--db", str(db_path), "--server", *options],
                                 env={**os.environ, **env})


@pytest.mark.parametrize("configured", ["option", "environment"])
def test_a_server_exports_spans_and_metrics_over_otlp_http(db_path: Path, configured: str) -> None:
    with otlp_receiver() as received:
        params = (server_params(db_path, "--otlp-endpoint", received.url) if configured == "option"
                  else server_params(db_path, OTEL_EXPORTER_OTLP_ENDPOINT=received.url, OTEL_SERVICE_NAME="caw-ci"))

        async def scenario() -> dict[str, str]:
            async with Client(params, mode="legacy") as mcp:
                wf = await call(mcp, "workflow_create", name="o", source_type="prompt", source_content="o")
                plan = {"summary": "s", "tasks": [{"name": "a"}]}
                task = (await call(mcp, "workflow_set_plan", id=wf["id"], plan=plan))["tasks"][0]["id"]
                await call(mcp, "task_update_status", id=task, status="planning")
                await mcp.call_tool("task_get", {"id": "tk_000000000000"})
                return {"workflow": wf["id"], "task": task}

        ids = anyio.run(scenario)  # the server flushes what it holds as it exits
        spans = received.wait_for(lambda r: [s for s in r.spans if s.name.startswith("caw.tool ")])
        points = received.wait_for(lambda r: r.points)
    assert set(received.paths) == {"/v1/traces", "/v1/metrics"}
    by_tool = {s.attributes["caw.tool.name"]: s for s in spans}
    updated = by_tool["task_update_status"]
    assert updated.attributes["caw.task_id"] == ids["task"] and updated.attributes["caw.correlation_id"].startswith(
        "cr_")
    assert by_tool["workflow_create"].attributes["caw.workflow_id"] == ids["workflow"]
    assert by_tool["task_get"].error and by_tool["task_get"].attributes["caw.error.code"] == "TASK_NOT_FOUND"
    assert updated.resource["service.name"] == ("caw" if configured == "option" else "caw-ci")
    calls = {(p.attributes["caw.tool.name"], p.attributes["caw.outcome"]): p.value for p in points
             if p.metric == "caw.tool.calls"}
    assert calls[("workflow_create", "ok")] == 1 and calls[("task_get", "TASK_NOT_FOUND")] == 1
    assert {p.attributes["caw.task.status"]: p.value for p in points if p.metric == "caw.tasks"} == {"planning": 1}


@pytest.mark.parametrize(("endpoint", "env", "says"), [
    ("ftp://127.0.0.1:4318", {}, "Not an OTLP/HTTP endpoint"),
    ("localhost:4318", {}, "Not an OTLP/HTTP endpoint"),
    ("http://127.0.0.1:4318/?x=1", {}, "Not an OTLP/HTTP endpoint"),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
     "OTLP over HTTP"),
])
def test_an_otlp_endpoint_caw_cannot_send_to_is_refused_before_anything_is_installed(
    endpoint: str | None, env: dict[str, str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = trace.get_tracer_provider()
    with pytest.raises(CawError) as refused, exported(None, otlp_endpoint=endpoint):
        pass
    assert refused.value.code == "INVALID_INPUT" and says in refused.value.message
    assert trace.get_tracer_provider() is before


def test_nothing_asked_for_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in export.OTLP_ENDPOINTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "caw_lab.telemetry.sdk", None)  # importing it would fail
    with exported(None):
        pass


PROMETHEUS = shutil.which("prometheus")


@contextlib.contextmanager
def prometheus(tmp_path: Path, target_port: int) -> Iterator[str]:
    """A real Prometheus server on loopback scraping ``127.0.0.1:target_port`` every second; yields
    the URL of its HTTP API."""
    assert PROMETHEUS
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "caw", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}],
    }))
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=20)


def dashboard_query(*needles: str) -> str:
    """The dashboard's own query that mentions every one of ``needles``, with Grafana's rate
    window ($__rate_interval: four scrape intervals at least) filled in."""
    exprs = [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]
    [expr] = [e for e in exprs if all(needle in e for needle in needles)]
    return expr.replace("$__rate_interval", "5s")


@pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed (Debian: apt-get install "
                                               "prometheus, which .ci/run does)")
def test_a_real_prometheus_scrapes_the_server_and_answers_the_dashboards_queries(
    db_path: Path, metrics_port: int, tmp_path: Path
) -> None:
    by_tool = dashboard_query("caw_tool_calls_total", "by (caw_tool_name)")
    by_status = dashboard_query("caw_tasks")

    async def query(http: httpx.AsyncClient, api: str, promql: str) -> dict[str, float]:
        try:
            answer = (await http.get(f"{api}/api/v1/query", params={"query": promql})).json()
        except httpx.TransportError:  # not listening yet
            return {}
        assert answer["status"] == "success", answer
        return {next(iter(s["metric"].values()), ""): float(s["value"][1]) for s in answer["data"]["result"]}

    async def scenario(api: str) -> tuple[dict[str, float], dict[str, float]]:
        async with Client(stdio_params(db_path), mode="legacy") as mcp, httpx.AsyncClient(timeout=5) as http:
            wf = await call(mcp, "workflow_create", name="p", source_type="prompt", source_content="p")
            plan = {"summary": "s", "tasks": [{"name": "a"}, {"name": "b"}]}
            task = (await call(mcp, "workflow_set_plan", id=wf["id"], plan=plan))["tasks"][0]["id"]
            await call(mcp, "task_update_status", id=task, status="planning")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # calls keep coming, as the scrapes do, until a rate shows
                await call(mcp, "workflow_get", id=wf["id"])
                rates = await query(http, api, by_tool)
                if rates.get("workflow_get", 0) > 0:
                    return rates, await query(http, api, by_status)
                await anyio.sleep(0.2)
            raise AssertionError(f"Prometheus never answered {by_tool!r} with a rate for workflow_get: {rates}")

    with prometheus(tmp_path, metrics_port) as api:
        rates, statuses = anyio.run(scenario, api)
    assert {"workflow_create", "workflow_set_plan", "task_update_status", "workflow_get"} <= set(rates)
    assert statuses == {"pending": 1, "planning": 1}


def flaky_first(task: dict[str, Any], ctx: TaskContext) -> str:
    """Task ``first`` fails its first attempt; every other attempt checkpoints and succeeds."""
    ctx.begin(["try"])
    if task["name"] == "first" and ctx.attempt == 1:
        raise RuntimeError("flaky")
    ctx.checkpoint("tried")
    return "done"


def test_an_executor_run_is_one_trace_of_its_attempts_agents_and_their_tool_calls(
    db_path: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "tracer", recorded.tracer)
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": "first"}, {"name": "second", "depends_on": ["first"]}])
        client.call("workflow_set_config", id=wf["id"], config={"retry": {"max_attempts": 2, "backoff_ms": 10}})
    outcome = Executor(str(db_path), wf["id"], overrides={"runtime": "python", "poll_interval_ms": 10},
                       runtimes={"python": PythonRuntime(flaky_first)}, connect=caw_lab.connect).run()
    assert outcome.status == "completed"
    spans = recorded.spans.get_finished_spans()
    [run] = [s for s in spans if s.name == "caw.run"]
    assert run.parent is None and run.attributes["caw.run.outcome"] == "completed"
    in_trace = [s for s in spans if s.context.trace_id == run.context.trace_id]
    attempts = [s for s in in_trace if s.name.startswith("caw.attempt ")]
    assert [(s.attributes["caw.task_id"], s.attributes["caw.task.attempt"], s.status.is_ok) for s in attempts] == [
        (wf["tasks"]["first"], 1, False), (wf["tasks"]["first"], 2, True), (wf["tasks"]["second"], 1, True)]
    assert all(s.parent.span_id == run.context.span_id for s in attempts)
    for attempt in attempts:
        [agent] = [s for s in in_trace if s.parent and s.parent.span_id == attempt.context.span_id]
        assert agent.name == "caw.agent python"
        assert agent.attributes["caw.agent_id"] == attempt.attributes["caw.agent_id"]
        calls = [s for s in in_trace if s.parent and s.parent.span_id == agent.context.span_id]
        assert "caw.tool task_update_status" in {s.name for s in calls}, "the agent's tool calls are in the trace"
        assert all(s.attributes["caw.task_id"] == attempt.attributes["caw.task_id"]
                   for s in calls if s.name == "caw.tool checkpoint_add")
    assert "flaky" in attempts[0].status.description


def test_caw_run_sends_its_whole_trace_over_otlp(db_path: Path, tmp_path: Path) -> None:
    with caw_lab.connect(db_path) as client:
        wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
        client.call("workflow_set_config", id=wf["id"], config={"execution": {"runtime": "python",
                                                                               "poll_interval_ms": 20}})
    runtimes = tmp_path / "runtimes.toml"  # what agents run is the local user's choice
    runtimes.write_text('[python]\nwork = "runtime_work:steady"\n')
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
           "CAW_RUNTIMES": str(runtimes)}
    with otlp_receiver() as received:
        done = subprocess.run([CAW, "--db", str(db_path), "--otlp-endpoint", received.url, "run", wf["id"]],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        [run] = received.wait_for(lambda r: [s for s in r.spans if s.name == "caw.run"])
    trace_spans = [s for s in received.spans if s.trace_id == run.trace_id]
    attempts = {s.span_id: s for s in trace_spans if s.name.startswith("caw.attempt ")}
    assert sorted(s.name for s in attempts.values()) == ["caw.attempt a", "caw.attempt b"]
    assert all(s.parent_span_id == run.span_id for s in attempts.values())
    agents = {s.span_id: s for s in trace_spans if s.name == "caw.agent python"}
    assert sorted(s.parent_span_id for s in agents.values()) == sorted(attempts)
    calls = [s for s in trace_spans if s.name == "caw.tool checkpoint_add"]
    assert len(calls) == 4 and all(s.parent_span_id in agents for s in calls)  # two steps per task
    assert run.attributes["caw.run.outcome"] == "completed" and run.resource["service.name"] == "caw"
