"""The executor: an 8-task DAG run by MCP agent processes, dependencies and parallel groups
respected, never more agents than allowed, suspend from another process and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import caw_lab
from caw_lab.errors import CawError
from caw_lab.runtimes import Executor, PythonRuntime, SubprocessRuntime, running
from conftest import dump, make_workflow
from mcp_session import call, run
from runtime_work import steady

TESTS = Path(__file__).resolve().parent
CAW = str(Path(sys.executable).with_name("caw"))
AGENT = [sys.executable, str(TESTS / "mcp_agent.py")]


def events(client: caw_lab.Client, workflow_id: str) -> list[dict[str, Any]]:
    return client.call("events_list", workflow_id=workflow_id, limit=10_000)["events"]


def most_at_once(feed: list[dict[str, Any]]) -> tuple[int, int]:
    """The most tasks claimed but not finished, and the most worker agents alive, at any point of the feed."""
    claimed: set[str] = set()
    alive: set[str] = set()
    most_claimed = most_alive = 0
    for e in feed:
        if e["kind"] == "task.claimed":
            claimed.add(e["task_id"])
        elif e["kind"] == "task.status" and e["payload"]["to"] in ("completed", "failed"):
            claimed.discard(e["task_id"])
        elif e["kind"] == "agent.registered":
            alive.add(e["agent_id"])
        elif e["kind"] in ("agent.stopped", "agent.lost", "agent.unregistered"):
            alive.discard(e["agent_id"])
        most_claimed, most_alive = max(most_claimed, len(claimed)), max(most_alive, len(alive))
    return most_claimed, most_alive


def assert_dependencies_respected(client: caw_lab.Client, workflow_id: str, feed: list[dict[str, Any]]) -> None:
    """No task was claimed or started before every task it depends on had completed."""
    tasks = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]
    completed = {e["task_id"]: e["seq"] for e in feed
                 if e["kind"] == "task.status" and e["payload"]["to"] == "completed"}
    for task in tasks:
        began = [e["seq"] for e in feed if e["task_id"] == task["id"] and (
            e["kind"] == "task.claimed" or (e["kind"] == "task.status" and e["payload"]["to"] == "planning"))]
        assert began, f"{task['name']} never started"
        for dep in task["depends_on"]:
            assert completed[dep] < min(began), f"{task['name']} started before its dependency {dep} completed"


def wait_for(check: Callable[[], Any], timeout_s: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


def caw(db: Path, *args: str) -> Any:
    done = subprocess.run([CAW, "--db", str(db), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


DAG = [
    *({"name": f"t{i}", "depends_on": [f"t{i - 1}"] if i else None} for i in range(3)),
    {"name": "side"},
    *({"name": f"w{i}", "parallel_group": "wide", "depends_on": ["t2", "side"]} for i in range(4)),
]
"""A chain of three beside a lone task, then a wide group of four on both: each task an agent
process with an MCP server of its own, so eight is enough to show dependencies and parallelism."""


@pytest.mark.slow
def test_eight_task_dag_over_mcp_stdio_with_four_agents(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, DAG, max_parallel_tasks=4)
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "subprocess", "poll_interval_ms": 50}})
    agents = {"subprocess": SubprocessRuntime(AGENT)}
    outcome = Executor(str(db_path), wf["id"], overrides={"max_agents": 4}, runtimes=agents,
                       connect=caw_lab.connect).run()
    assert outcome.status == "completed", outcome
    feed = events(client, wf["id"])
    assert_dependencies_respected(client, wf["id"], feed)
    claimed, alive = most_at_once(feed)
    assert claimed <= 4 and alive <= 4
    assert claimed >= 3, "the wide group should have run side by side"
    tasks = client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
    assert {t["status"] for t in tasks} == {"completed"} and len(tasks) == len(DAG)
    assert client.call("workflow_get", id=wf["id"])["status"] == "completed"
    workers = client.call("agent_list", workflow_id=wf["id"], runtime="subprocess")["agents"]
    assert len(workers) == len(DAG) and all(gone(a["metadata"]["pid"]) for a in workers)


def test_parallel_group_members_start_together(client: caw_lab.Client, db_path: Path) -> None:
    plan = [{"name": "g1", "parallel_group": "g"}, {"name": "x"}, {"name": "g2", "parallel_group": "g"},
            {"name": "z", "depends_on": ["x", "g2"]}]
    wf = make_workflow(client, plan, max_parallel_tasks=2)
    overrides = {"runtime": "python", "max_agents": 2, "poll_interval_ms": 10}
    outcome = Executor(str(db_path), wf["id"], overrides=overrides, runtimes={"python": PythonRuntime(steady)},
                       connect=caw_lab.connect).run()
    assert outcome.status == "completed"
    feed = events(client, wf["id"])
    names = {v: k for k, v in wf["tasks"].items()}
    assert [names[e["task_id"]] for e in feed if e["kind"] == "task.claimed"] == ["g1", "g2", "x", "z"]
    assert most_at_once(feed)[0] == 2
    assert_dependencies_respected(client, wf["id"], feed)


def test_each_task_may_name_its_own_runtime(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    client.call("task_set_execution", task_id=wf["tasks"]["b"], runtime="other")
    runtimes = {"python": PythonRuntime(steady), "other": PythonRuntime(lambda task, ctx: "by the other runtime")}
    Executor(str(db_path), wf["id"], overrides={"runtime": "python"}, runtimes=runtimes, connect=caw_lab.connect).run()
    a, b = (client.call("task_get", id=wf["tasks"][n]) for n in "ab")
    assert a["outcome"].startswith("a done") and b["outcome"] == "by the other runtime"
    assert {x["runtime"] for x in client.call("agent_list", workflow_id=wf["id"])["agents"]} >= {"python", "other"}


def test_bad_execution_config_is_refused_before_writing(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"max_agents": 0, "runtime": "python"}})
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("workflow_start", workflow_id=wf["id"])
    assert refused.value.code == "INVALID_CONFIG" and "max_agents" in refused.value.message
    assert dump(client.db) == before


def local_runtimes(folder: Path, text: str) -> dict[str, str]:
    """A local runtime config holding ``text``, and the environment naming it (CAW_RUNTIMES)."""
    config = folder / "runtimes.toml"
    config.write_text(text)
    return {"CAW_RUNTIMES": str(config)}


def test_suspend_from_another_process_then_resume(client: caw_lab.Client, db_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plan = [{"name": n, "description": "wait"} for n in ("p1", "p2", "p3")] + [{"name": "end", "depends_on": ["p1"]}]
    wf = make_workflow(client, plan, max_parallel_tasks=3)
    for name, value in local_runtimes(db_path.parent, '[python]\nwork = "runtime_work:patient"\n').items():
        monkeypatch.setenv(name, value)
    client.call("workflow_set_config", id=wf["id"], config={"execution": {
        "runtime": "python", "runtimes": {"python": {"mode": "process"}}, "poll_interval_ms": 50,
        "stop_grace_ms": 3000}})
    assert client.call("workflow_execution_status", workflow_id=wf["id"])["status"] == "idle"
    started = client.call("workflow_start", workflow_id=wf["id"])
    assert started["success"] and started["maxAgents"] == 3 and len(started["agentHandles"]) == 3
    with pytest.raises(CawError) as twice:
        client.call("workflow_start", workflow_id=wf["id"])
    assert twice.value.code == "ALREADY_RUNNING"
    wait_for(lambda: client.call("workflow_progress", workflow_id=wf["id"])["by_status"]["in_progress"] == 3,
             what="three tasks in progress")

    status = caw(db_path, "call", "workflow_execution_status", "--json", json.dumps({"workflow_id": wf["id"]}))
    assert status["status"] == "running" and status["executorAlive"]
    pids = [a["pid"] for a in status["agents"] if a["status"] == "running"]
    assert len(pids) == 3 and not any(gone(pid) for pid in pids)

    result = caw(db_path, "call", "workflow_suspend", "--json", json.dumps({"workflow_id": wf["id"]}))
    assert result["success"] and result["agentsStopped"] == 3 and len(result["tasksPaused"]) == 3
    assert all(gone(pid) for pid in pids), "an agent process outlived the suspension"
    progress = client.call("workflow_progress", workflow_id=wf["id"])["by_status"]
    assert progress["in_progress"] == 0 and progress["paused"] == 3
    assert client.call("workflow_get", id=wf["id"])["status"] == "paused"
    assert client.call("workflow_execution_status", workflow_id=wf["id"])["status"] == "suspended"
    assert not client.call("agent_list", workflow_id=wf["id"], status=["online", "busy"])["agents"]

    resumed = client.call("workflow_resume", workflow_id=wf["id"])
    assert resumed["success"] and resumed["agentsSpawned"] >= 1
    wait_for(lambda: client.call("workflow_execution_status", workflow_id=wf["id"])["status"] == "completed",
             what="the resumed workflow to complete")
    tasks = client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
    assert [t["outcome"] for t in tasks[:3]] == ["finished after resuming"] * 3
    assert running.local(wf["id"]) is None


def test_workflow_start_over_mcp_runs_agents_in_the_server_process(client: caw_lab.Client, db_path: Path) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    client.call("workflow_set_config", id=wf["id"], config={"execution": {"runtime": "python", "poll_interval_ms": 20}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
           **local_runtimes(db_path.parent, '[python]\nwork = "runtime_work:steady"\n')}
    server = StdioServerParameters(command=CAW, args=["--db", str(db_path), "--server"], env=env)

    async def scenario() -> None:
        async with Client(server) as session:
            started = await call(session, "workflow_start", workflow_id=wf["id"])
            assert started["success"] and started["runtime"] == "python"
            deadline = time.monotonic() + 60
            while client.call("workflow_execution_status", workflow_id=wf["id"])["status"] != "completed":
                assert time.monotonic() < deadline, "the server's executor did not finish"
                await anyio.sleep(0.05)
            assert (await call(session, "workflow_execution_status", workflow_id=wf["id"]))["status"] == "completed"

    run(scenario)
    outcomes = [t["outcome"] for t in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]]
    pids = {int(o.rsplit(" ", 1)[1]) for o in outcomes}
    assert len(pids) == 1 and os.getpid() not in pids, "both agents ran in the MCP server's process"
