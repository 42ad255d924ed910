"""task_update_status: the task state machine, blocking, and the workflow moves it causes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import caw_lab
from caw_lab.engine.states import TASK_STATUSES, TASK_TRANSITIONS
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow

DETAILS = {"outcome": "done", "error": "broke"}
"""Passed with every move so the table alone decides; extra fields are ignored by other moves."""

PATH_TO: dict[str, list[str]] = {
    "pending": [],
    "planning": ["planning"],
    "in_progress": ["planning", "in_progress"],
    "paused": ["planning", "in_progress", "paused"],
    "failed": ["planning", "in_progress", "failed"],
    "completed": ["planning", "completed"],
    "skipped": ["planning", "in_progress", "failed", "skipped"],
}


def move(client: caw_lab.Client, task_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return client.call("task_update_status", id=task_id, status=status, **extra)


def task_in(client: caw_lab.Client, state: str) -> str:
    """A task of a fresh workflow put into ``state`` through allowed moves only."""
    wf = make_workflow(client, [{"name": "first"}, {"name": "second", "depends_on": ["first"]}])
    if state == "blocked":
        return wf["tasks"]["second"]
    for step in PATH_TO[state]:
        move(client, wf["tasks"]["first"], step, **DETAILS)
    return wf["tasks"]["first"]


def shown_status(client: caw_lab.Client, task_id: str) -> str:
    return client.call("task_get", id=task_id)["status"]


ALL_PAIRS = [(src, dst) for src in TASK_STATUSES for dst in TASK_STATUSES]


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS, ids=[f"{s}->{d}" for s, d in ALL_PAIRS])
def test_every_transition_is_allowed_or_refused_as_the_table_says(client: caw_lab.Client, src: str, dst: str) -> None:
    task_id = task_in(client, src)
    assert shown_status(client, task_id) == src
    before = dump(client.db)
    if src == "blocked" and dst in ("planning", "in_progress"):
        with pytest.raises(CawError) as refused:
            move(client, task_id, dst, **DETAILS)
        assert refused.value.code == "TASK_BLOCKED"
        assert dump(client.db) == before
    elif dst in TASK_TRANSITIONS[src]:
        result = move(client, task_id, dst, **DETAILS)
        assert result["success"] is True
        assert (result["previous_status"], result["status"]) == (src, dst)
        assert shown_status(client, task_id) == dst
    else:
        with pytest.raises(CawError) as refused:
            move(client, task_id, dst, **DETAILS)
        assert refused.value.code == "INVALID_TRANSITION"
        assert src in refused.value.message and dst in refused.value.message
        assert dump(client.db) == before


def test_a_blocked_task_is_refused_recoverably_naming_what_it_waits_on(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "schema"}, {"name": "api", "depends_on": ["schema"]}])
    with pytest.raises(CawError) as refused:
        move(client, wf["tasks"]["api"], "planning")
    assert refused.value.code == "TASK_BLOCKED"
    assert refused.value.recoverable is True
    assert "schema" in refused.value.message
    move(client, wf["tasks"]["schema"], "planning")
    move(client, wf["tasks"]["schema"], "completed", outcome="tables exist")
    assert move(client, wf["tasks"]["api"], "planning")["status"] == "planning"


def test_a_skipped_dependency_unblocks_too(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}])
    for step in PATH_TO["skipped"]:
        move(client, wf["tasks"]["a"], step, **DETAILS)
    assert client.call("task_get", id=wf["tasks"]["b"])["blocked"] is False
    assert move(client, wf["tasks"]["b"], "planning")["status"] == "planning"


@pytest.mark.parametrize(("status", "needs", "code"),
                         [("completed", "outcome", "MISSING_OUTCOME"), ("failed", "error", "MISSING_ERROR")])
def test_finishing_needs_its_explanation_and_writes_nothing_without_it(
    client: caw_lab.Client, status: str, needs: str, code: str
) -> None:
    task_id = task_in(client, "in_progress")
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        move(client, task_id, status)
    assert (refused.value.code, refused.value.recoverable) == (code, True)
    assert needs in refused.value.message
    assert dump(client.db) == before


def test_outcome_and_error_are_stored(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    a, b = wf["tasks"]["a"], wf["tasks"]["b"]
    move(client, a, "planning")
    move(client, a, "completed", outcome="shipped", outcome_detail={"files": 3})
    for step in ("planning", "in_progress"):
        move(client, b, step)
    move(client, b, "failed", error="tests red")
    assert (client.call("task_get", id=a)["outcome"], client.call("task_get", id=a)["outcome_detail"]) == (
        "shipped", {"files": 3})
    assert client.call("task_get", id=b)["error"] == "tests red"


def test_an_unknown_status_is_bad_input(client: caw_lab.Client) -> None:
    task_id = task_in(client, "pending")
    with pytest.raises(CawError) as refused:
        move(client, task_id, "done")
    assert refused.value.code == "INVALID_INPUT"


def test_retrying_a_failed_task_frees_its_claim_and_the_agent(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    task_id = wf["tasks"]["a"]
    agent = client.call("agent_register", name="w1", runtime="custom")["id"]
    assert client.call("task_claim", task_id=task_id, agent_id=agent)["success"] is True
    for step in ("planning", "in_progress"):
        move(client, task_id, step)
    move(client, task_id, "failed", error="flaky")
    assert client.call("task_get", id=task_id)["assigned_agent_id"] == agent
    move(client, task_id, "pending")
    task = client.call("task_get", id=task_id)
    assert (task["status"], task["assigned_agent_id"], task["claimed_at"]) == ("pending", None, None)
    assert client.call("agent_get", id=agent)["current_task_id"] is None
    assert [t["id"] for t in client.call("workflow_next_tasks", workflow_id=wf["id"])["tasks"]] == [task_id]


def test_task_get_shows_blocked_computed_and_the_stored_status(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}, {"name": "c", "depends_on": ["b", "a"]}])
    t = wf["tasks"]
    c = client.call("task_get", id=t["c"])
    assert (c["status"], c["stored_status"], c["blocked"]) == ("blocked", "pending", True)
    assert c["depends_on"] == [t["a"], t["b"]]
    assert c["checkpoints"] == []
    move(client, t["b"], "planning", **DETAILS)
    move(client, t["b"], "completed", **DETAILS)
    c = client.call("task_get", id=t["c"])
    assert (c["status"], c["blocked"], c["depends_on"]) == ("blocked", True, [t["a"], t["b"]])
    move(client, t["a"], "planning", **DETAILS)
    move(client, t["a"], "completed", **DETAILS)
    assert client.call("task_get", id=t["c"])["status"] == "pending"
    with pytest.raises(CawError) as missing:
        client.call("task_get", id="tk_000000000000")
    assert missing.value.code == "TASK_NOT_FOUND"


def workflow_status(client: caw_lab.Client, workflow_id: str) -> str:
    return client.call("workflow_get", id=workflow_id)["status"]


def auto_events(client: caw_lab.Client, workflow_id: str) -> list[tuple[str, str]]:
    events = client.call("events_list", workflow_id=workflow_id, kinds=["workflow.status"])["events"]
    return [(e["payload"]["from"], e["payload"]["to"]) for e in events if e["payload"].get("auto")]


@pytest.mark.parametrize("start", ["planning", "in_progress"])
def test_the_first_task_started_starts_a_ready_workflow(client: caw_lab.Client, start: str) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    assert workflow_status(client, wf["id"]) == "ready"
    result = {}
    for step in PATH_TO[start]:
        result = move(client, wf["tasks"]["a"], step)
    assert result["workflow_status"] == "in_progress"
    assert workflow_status(client, wf["id"]) == "in_progress"
    move(client, wf["tasks"]["b"], "planning")
    assert auto_events(client, wf["id"]) == [("ready", "in_progress")]


@pytest.mark.parametrize("last", ["completed", "skipped"])
def test_the_last_task_finished_completes_a_running_workflow(client: caw_lab.Client, last: str) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    a, b = wf["tasks"]["a"], wf["tasks"]["b"]
    move(client, a, "planning")
    assert move(client, a, "completed", outcome="ok")["workflow_status"] == "in_progress"
    for step in PATH_TO[last]:
        result = move(client, b, step, **DETAILS)
    assert result["workflow_status"] == "completed"
    assert workflow_status(client, wf["id"]) == "completed"
    assert auto_events(client, wf["id"]) == [("ready", "in_progress"), ("in_progress", "completed")]


def test_a_paused_workflow_is_not_completed_behind_its_back(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    move(client, wf["tasks"]["a"], "planning")
    client.call("workflow_update_status", id=wf["id"], status="paused")
    move(client, wf["tasks"]["a"], "completed", outcome="ok")
    assert workflow_status(client, wf["id"]) == "paused"


FINISH = """
import pathlib, sys, time, caw_lab
with caw_lab.connect(sys.argv[1]) as c:
    go = pathlib.Path(sys.argv[3])
    (go.parent / sys.argv[2]).touch()
    while not go.exists():
        time.sleep(0.005)
    c.call("task_update_status", id=sys.argv[2], status="completed", outcome="done")
"""


def test_processes_finishing_the_last_tasks_at_once_complete_the_workflow_once(
    client: caw_lab.Client, db_path: Path, tmp_path: Path
) -> None:
    wf = make_workflow(client, [{"name": f"t{i}"} for i in range(3)])
    for task_id in wf["tasks"].values():
        move(client, task_id, "planning")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", FINISH, str(db_path), task_id, str(go)], cwd=Path(__file__).parents[1])
        for task_id in wf["tasks"].values()
    ]
    while not all((tmp_path / task_id).exists() for task_id in wf["tasks"].values()):
        assert all(p.poll() is None for p in procs), "a finisher died before the start"
        time.sleep(0.005)
    go.touch()
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert workflow_status(client, wf["id"]) == "completed"
    assert auto_events(client, wf["id"]) == [("ready", "in_progress"), ("in_progress", "completed")]


def test_a_locked_workflow_refuses_other_sessions(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_lock", id=wf["id"], session_id="ss_holder")
    with pytest.raises(CawError) as refused:
        move(client, wf["tasks"]["a"], "planning", session_id="ss_other")
    assert refused.value.code == "WORKFLOW_LOCKED"
    assert move(client, wf["tasks"]["a"], "planning", session_id="ss_holder")["status"] == "planning"
