"""Scaling hints: known arrivals and durations in the feed give the figures worked out by hand;
the recommendation's bounds; the Prometheus gauges; an executor with ``max_agents: "auto"``
that grows and shrinks its agent count as the ready queue does."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import caw_lab
from caw_lab.engine import changes, plans, scaling, tasks
from caw_lab.ids import now_ms
from caw_lab.lab.magics import register
from caw_lab.lab.session import LabSession
from caw_lab.runtimes import Executor, PythonRuntime
from caw_lab.runtimes.task_context import TaskContext
from caw_lab.telemetry import scaling as scaling_gauges
from tests.conftest import make_workflow

MINUTE = 60_000
PLAN = [
    *({"name": f"done{i}", "required_capabilities": ["python"]} for i in range(1, 5)),
    *({"name": f"r{i}", "required_capabilities": ["python"], "depends_on": ["done4"]} for i in range(1, 4)),
    *({"name": f"r{i}", "required_capabilities": ["python"]} for i in range(4, 7)),
    {"name": "run1", "required_capabilities": ["python"], "depends_on": ["done4"]},
    {"name": "q1", "depends_on": ["done4"]},
    {"name": "q2"},
    {"name": "b", "required_capabilities": ["python"], "depends_on": ["r1"]},
]
DONE = {"done1": (40, 60_000), "done2": (40, 120_000), "done3": (40, 180_000), "done4": (9, 240_000)}
"""Task -> (started this many minutes before now, took this many ms)."""


@pytest.fixture
def synthetic(client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch) -> tuple[caw_lab.Client, str, int]:
    """A workflow whose feed has known times: planned an hour ago, four python tasks completed in
    60, 120, 180 and 240 s (the last ending five minutes ago, which readied r1-r3, run1 and q1),
    run1 claimed by a python agent, two idle workers (one with python). Returns (client, wf, now)."""
    now = now_ms()
    clock = [now - 60 * MINUTE]
    for module in (changes, plans, tasks):
        monkeypatch.setattr(module, "now_ms", lambda: clock[0])
    wf = make_workflow(client, PLAN, max_parallel_tasks=10)
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"max_agents": 6}})
    for name, (minutes_ago, took) in DONE.items():
        clock[0] = now - minutes_ago * MINUTE
        for status in ("planning", "in_progress"):
            client.call("task_update_status", id=wf["tasks"][name], status=status)
        clock[0] += took
        client.call("task_update_status", id=wf["tasks"][name], status="completed", outcome="ok")
    clock[0] = now - MINUTE
    register = {"runtime": "custom", "workflow_id": wf["id"]}
    busy = client.call("agent_register", name="busy", capabilities=["python"], **register)["id"]
    client.call("agent_register", name="idle-python", capabilities=["Python"], **register)
    client.call("agent_register", name="idle-plain", **register)
    assert client.call("task_claim", task_id=wf["tasks"]["run1"], agent_id=busy)["success"]
    return client, wf["id"], now


def test_hints_on_a_feed_with_known_arrivals_and_durations(synthetic: tuple[caw_lab.Client, str, int]) -> None:
    client, wf, now = synthetic
    found = scaling.hints(client.db, wf, now=now)
    assert (found["window_ms"], found["target_drain_ms"], found["max_agents"]) == (15 * MINUTE, 10 * MINUTE, 6)
    by = {c["capability"]: c for c in found["capabilities"]}
    assert set(by) == {"python", "*"}
    # python: Q = 6 (r1-r6), busy 1, idle 1; W = 150 s; p90 of 60/120/180/240 s = 222 s;
    # λ = 4 arrivals (r1-r3, run1) / 15 min; λW = 2/3 agent; QW/T = 6 x 150 / 600 = 1.5.
    python = by["python"]
    assert python == {
        "capability": "python",
        "ready": 6,
        "busy": 1,
        "idle": 1,
        "agents": 2,
        "completed": 4,
        "mean_ms": 150_000,
        "p90_ms": 222_000,
        "arrivals": 4,
        "arrival_rate_per_min": pytest.approx(4 / 15),
        "drain_ms": pytest.approx(6 * 150_000 / (2 - 2 / 3)),
        "recommended": 3,
    }
    # *: q1 and q2 ready, no duration known yet: one agent per task that can run.
    assert by["*"] == {
        "capability": "*",
        "ready": 2,
        "busy": 0,
        "idle": 2,
        "agents": 2,
        "completed": 0,
        "mean_ms": None,
        "p90_ms": None,
        "arrivals": 1,
        "arrival_rate_per_min": pytest.approx(1 / 15),
        "drain_ms": None,
        "recommended": 2,
    }
    # total: Q = 8, N = 3, λW = 5 x 150 / 900 = 5/6, QW/T = 2: ceil(2.83) = 3.
    total = found["total"]
    assert (total["ready"], total["busy"], total["idle"], total["arrivals"], total["recommended"]) == (8, 1, 2, 5, 3)
    assert total["drain_ms"] == pytest.approx(8 * 150_000 / (3 - 5 / 6))
    assert "Little" in found["method"]


def test_the_recommendation_is_bounded_and_the_tool_takes_a_target(synthetic: tuple[caw_lab.Client, str, int]) -> None:
    client, wf, now = synthetic
    hurried = scaling.hints(client.db, wf, target_drain_ms=MINUTE, now=now)
    # python wants ceil(2/3 + 15) = 16 agents: capped by the 7 tasks it could run, then max_agents 6.
    assert {c["capability"]: c["recommended"] for c in hurried["capabilities"]} == {"python": 6, "*": 2}
    client.call("workflow_set_parallelism", id=wf, max_parallel_tasks=4)
    assert scaling.hints(client.db, wf, target_drain_ms=MINUTE, now=now)["total"]["recommended"] == 4
    shape = client.call("workflow_scaling_hints", workflow_id=wf, target_drain_ms=MINUTE, window_ms=MINUTE)
    assert shape["max_agents"] == 4 and shape["window_ms"] == MINUTE and shape["total"]["arrivals"] == 0
    for bad in (
        {"workflow_id": "wf_000000000000"},
        {"workflow_id": wf, "window_ms": 0},
        {"workflow_id": wf, "target_drain_ms": 0},
    ):
        with pytest.raises(caw_lab.CawError) as info:
            client.call("workflow_scaling_hints", **bad)
        assert info.value.code in ("WORKFLOW_NOT_FOUND", "INVALID_INPUT")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, 0, None, 0.0, 1000, 5), 0),  # nothing to do
        ((0, 3, 100.0, 0.0, 1000, 5), 0),  # busy, no queue, no arrivals: none needed once they finish
        ((4, 1, None, 0.0, 1000, 5), 5),  # no duration known: an agent per task that can run
        ((4, 1, None, 0.0, 1000, 3), 3),  # ... bounded by max_agents
        ((1, 0, 10.0, 0.0, 10**9, 5), 1),  # a queue always wants an agent
        ((10, 0, 100.0, 0.05, 1000, 50), 6),  # λW = 5 busy on arrivals, + 10 x 100 / 1000 = 1
        ((2, 0, 100.0, 0.05, 1000, 50), 2),  # ... but never more than the work there is
    ],
)
def test_recommended(args: tuple[Any, ...], expected: int) -> None:
    assert scaling.recommended(*args) == expected


def test_drain_time() -> None:
    assert scaling.drain_ms(0, 0, None, 0.0) == 0.0
    assert scaling.drain_ms(10, 2, 100.0, 0.0) == 500.0
    assert scaling.drain_ms(10, 2, 100.0, 0.01) == 1000.0  # one agent's worth of capacity goes to arrivals
    assert scaling.drain_ms(10, 1, 100.0, 0.01) is None, "arrivals take every agent: the queue never empties"
    assert scaling.drain_ms(10, 3, None, 0.0) is None


@pytest.mark.sqlite_only
def test_the_hints_are_prometheus_gauges(synthetic: tuple[caw_lab.Client, str, int]) -> None:
    client, wf, _ = synthetic
    reader = InMemoryMetricReader()
    scaling_gauges.observe(client.db, MeterProvider(metric_readers=[reader]).get_meter("test"))
    data = reader.get_metrics_data()
    points = {
        (m.name, tuple(sorted(p.attributes.items()))): p.value
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        for p in m.data.data_points
    }
    python = (("caw.capability", "python"), ("caw.workflow_id", wf))
    assert points[("caw.scaling.ready_tasks", python)] == 6
    assert points[("caw.scaling.agents", (("caw.agent.state", "busy"), *python))] == 1
    assert points[("caw.scaling.task_duration", (*python, ("stat", "p90")))] == 222_000
    total = (("caw.capability", "(total)"), ("caw.workflow_id", wf))
    assert (
        points[("caw.scaling.recommended_agents", total)]
        == client.call("workflow_scaling_hints", workflow_id=wf)["total"]["recommended"]
    )
    assert ("caw.scaling.drain_time", (("caw.capability", "*"), ("caw.workflow_id", wf))) not in points, (
        "no drain time while no duration is known"
    )


def wide(task: dict[str, Any], ctx: TaskContext) -> str:
    ctx.begin()
    time.sleep(0.3)
    return "done"


def test_auto_max_agents_grows_and_shrinks_with_the_queue(client: caw_lab.Client, db_path: Path) -> None:
    plan = [
        {"name": "first"},
        *({"name": f"w{i}", "depends_on": ["first"]} for i in range(6)),
        {"name": "last", "depends_on": [f"w{i}" for i in range(6)]},
    ]
    wf = make_workflow(client, plan, max_parallel_tasks=6)
    client.call(
        "workflow_set_config",
        id=wf["id"],
        config={
            "execution": {
                "runtime": "python",
                "max_agents": "auto",
                "target_drain_ms": 100,
                "poll_interval_ms": 20,
                "alerts": {"log": False},
            }
        },
    )
    outcome = Executor(str(db_path), wf["id"], runtimes={"python": PythonRuntime(wide)}, connect=caw_lab.connect).run()
    assert outcome.status == "completed", outcome
    events = client.call("events_list", workflow_id=wf["id"], limit=10_000)["events"]
    aims = [e["payload"]["to"] for e in events if e["kind"] == "execution.scaled"]
    assert aims[0] == 1, "one ready task: one agent"
    peak = aims.index(max(aims))
    assert max(aims) >= 4 and min(aims[peak:]) == 1, f"grew for the wide middle, then shrank: {aims}"
    running, most = set(), 0
    for e in events:
        if e["kind"] == "task.claimed":
            running.add(e["task_id"])
        elif e["kind"] == "task.status" and e["payload"]["to"] == "completed":
            running.discard(e["task_id"])
        most = max(most, len(running))
    assert most >= 4, "the wide middle ran side by side"
    started = [e for e in events if e["kind"] == "execution.started"]
    assert started[0]["payload"]["settings"]["max_agents"] == "auto"


def test_the_hints_view_in_a_notebook(synthetic: tuple[caw_lab.Client, str, int]) -> None:
    client, wf, _ = synthetic
    shell = InteractiveShell.instance()
    register(shell, LabSession(client))
    with capture_output():
        shown = shell.run_line_magic("caw", f"hints {wf} --target-drain-ms 60000")
    assert shown["target_drain_ms"] == 60_000 and shown["total"]["ready"] == 8
    page = html.unescape(shown._repr_html_())
    assert "Scaling hints:" in page and wf in page and "python" in page and "Little" in page
    assert "Recommended within 6 agents" in page
