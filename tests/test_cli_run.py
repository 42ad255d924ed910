"""``caw run`` and ``caw demo`` in real subprocesses: a run to the end, a failed run's exit
code, Ctrl-C suspending and a second ``caw run`` resuming, a missing runtime refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from conftest import make_workflow

TESTS = Path(__file__).resolve().parent
CAW = str(Path(sys.executable).with_name("caw"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}


def caw(*args: str, env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAW, *args], capture_output=True, text=True, timeout=300, env=env)


def python_workflow(client: caw_lab.Client, tasks: list[dict[str, Any]], **retry: Any) -> str:
    wf = make_workflow(client, tasks, max_parallel_tasks=3)
    client.call("workflow_set_config", id=wf["id"], config={
        "execution": {"runtime": "python", "poll_interval_ms": 20, "alerts": {"log": False}},
        "retry": {"backoff_ms": 0, **retry}})
    return wf["id"]


def running(work: str, folder: Path) -> dict[str, str]:
    """The environment of a ``caw run`` whose local runtime config runs ``runtime_work:<work>``."""
    config = folder / "runtimes.toml"
    config.write_text(f'[python]\nwork = "runtime_work:{work}"\n')
    return {**ENV, "CAW_RUNTIMES": str(config)}


def test_demo_runs_the_sample_workflow() -> None:
    done = caw("demo")
    assert done.returncode == 0, done.stderr
    assert "completed: all 7 tasks done" in done.stdout
    [blog] = [line for line in done.stdout.splitlines() if line.startswith("write-blog")]
    assert "completed  1" in blog and "the review service timed out" in blog and "resumed at 'review'" in blog


def test_run_executes_a_workflow_to_the_end(client: caw_lab.Client, db_path: Path) -> None:
    workflow_id = python_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c"}])
    done = caw("--db", str(db_path), "run", workflow_id, "--max-agents", "2", env=running("steady", db_path.parent))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("completed: all 3 tasks done")
    assert client.call("workflow_get", id=workflow_id)["status"] == "completed"
    [started] = client.call("events_list", workflow_id=workflow_id, kinds=["execution.started"])["events"]
    assert started["payload"]["settings"]["max_agents"] == 2


def test_run_exits_1_when_tasks_end_in_the_dead_letter_queue(client: caw_lab.Client, db_path: Path) -> None:
    workflow_id = python_workflow(client, [{"name": "doomed"}], max_attempts=2)
    done = caw("--db", str(db_path), "run", workflow_id, env=running("always_fails", db_path.parent))
    assert done.returncode == 1
    assert "failed: 1 task(s) in the dead-letter queue" in done.stdout
    assert client.call("dlq_list", workflow_id=workflow_id)["dead_letters"][0]["attempts"] == 2


def test_ctrl_c_suspends_and_run_again_resumes(client: caw_lab.Client, db_path: Path) -> None:
    # "quick" waits for "slow", so exactly one task is running when the interrupt lands
    workflow_id = python_workflow(client, [{"name": "slow", "description": "wait"},
                                           {"name": "quick", "depends_on": ["slow"]}])
    env = running("patient", db_path.parent)
    process = subprocess.Popen([CAW, "--db", str(db_path), "run", workflow_id], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while client.call("workflow_progress", workflow_id=workflow_id)["by_status"]["in_progress"] == 0:
        assert time.monotonic() < deadline and process.poll() is None, "the run never started its slow task"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert f"caw run {workflow_id}" in err
    progress = client.call("workflow_progress", workflow_id=workflow_id)["by_status"]
    assert progress["in_progress"] == 0 and progress["paused"] == 1
    assert client.call("workflow_get", id=workflow_id)["status"] == "paused"

    again = caw("--db", str(db_path), "run", workflow_id, env=env)
    assert again.returncode == 0, again.stderr
    slow = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"][0]
    assert slow["outcome"] == "finished after resuming"


def test_run_refuses_a_runtime_that_is_not_installed(client: caw_lab.Client, db_path: Path, tmp_path: Path) -> None:
    workflow_id = python_workflow(client, [{"name": "a"}])
    done = caw("--db", str(db_path), "run", workflow_id, "--runtime", "codex", env={**ENV, "PATH": str(tmp_path)})
    assert done.returncode == 1
    error = json.loads(done.stderr)
    assert error["code"] == "RUNTIME_UNAVAILABLE" and "`codex`" in error["message"]
    assert client.call("workflow_get", id=workflow_id)["status"] == "ready"


@pytest.mark.slow
def test_run_prompt_plans_with_a_claude_agent_then_runs_with_the_options_given(tmp_path: Path) -> None:
    from standins import install, path_with

    db, log = tmp_path / "w.db", tmp_path / "standin.json"
    env = {**ENV, "PATH": path_with(install(tmp_path)), "STANDIN_LOG": str(log)}
    done = caw("run", "--db", str(db), "--prompt", "first second", "--model", "m1", "--max-turns", "7",
               "--permission-mode", "acceptEdits", "--no-watch", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("completed: all 2 tasks done")
    with caw_lab.connect(str(db)) as client:
        [listed] = client.call("workflow_list")["workflows"]
        workflow = client.call("workflow_get", id=listed["id"])
        assert (workflow["name"], workflow["source_type"]) == ("first second", "prompt")
        tasks = client.call("workflow_get", id=workflow["id"], include_tasks=True)["tasks"]
        assert [(t["name"], t["status"]) for t in tasks] == [("first", "completed"), ("second", "completed")]
        [started] = client.call("events_list", kinds=["execution.started"])["events"]
    settings = started["payload"]["settings"]
    assert (settings["model"], settings["max_turns"], settings["permission_mode"]) == ("m1", 7, "acceptEdits")
    argv = json.loads(log.read_text())["argv"]  # the last agent started: a task worker, given the options
    assert argv[argv.index("--model") + 1] == "m1" and argv[argv.index("--max-turns") + 1] == "7"


def test_run_prompt_refuses_when_the_planner_sets_no_plan(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "claude").chmod(0o755)
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV['PATH']}"}
    done = caw("--db", str(tmp_path / "w.db"), "run", "--prompt", "anything", env=env)
    assert done.returncode == 1
    assert json.loads(done.stderr.splitlines()[-1])["code"] == "PLANNING_FAILED"


def test_run_detach_returns_at_once_and_the_run_goes_on(client: caw_lab.Client, db_path: Path) -> None:
    workflow_id = python_workflow(client, [{"name": "a"}, {"name": "b"}])
    done = caw("--db", str(db_path), "run", workflow_id, "--detach", "--max-agents", "2",
               env=running("steady", db_path.parent))
    assert done.returncode == 0, done.stderr
    assert "background" in done.stdout and workflow_id in done.stdout
    deadline = time.monotonic() + 120
    while client.call("workflow_get", id=workflow_id)["status"] != "completed":
        assert time.monotonic() < deadline, "the detached run did not finish"
        time.sleep(0.2)
    [started] = client.call("events_list", workflow_id=workflow_id, kinds=["execution.started"])["events"]
    assert started["payload"]["settings"]["max_agents"] == 2


@pytest.mark.parametrize("detach", [False, True])
def test_ephemeral_worktree_reaches_the_runs_settings(client: caw_lab.Client, db_path: Path, detach: bool) -> None:
    """``--ephemeral-worktree`` becomes the run's ``ephemeral_worktree`` setting (recorded with the
    run's start), in the foreground and through a detached run's own command line."""
    workflow_id = python_workflow(client, [{"name": "a"}])
    flags = ("--detach",) if detach else ("--no-watch",)
    done = caw("--db", str(db_path), "run", workflow_id, "--ephemeral-worktree", *flags,
               env=running("steady", db_path.parent))
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 120
    while client.call("workflow_get", id=workflow_id)["status"] != "completed":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.2)
    [started] = client.call("events_list", workflow_id=workflow_id, kinds=["execution.started"])["events"]
    assert started["payload"]["settings"]["ephemeral_worktree"] is True


def test_run_needs_exactly_one_of_a_workflow_and_a_prompt(db_path: Path) -> None:
    for args in ((), ("wf_x", "--prompt", "p")):
        done = caw("--db", str(db_path), "run", *args)
        assert done.returncode == 2 and "WORKFLOW_ID or --prompt" in done.stderr
