"""Plans: a workflow's plan must be a DAG (refused whole otherwise); a task's plan and replans."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow


def planning_workflow(client: caw_lab.Client) -> str:
    return client.call("workflow_create", name="wf", source_type="prompt", source_content="x")["id"]


def refuse_plan(client: caw_lab.Client, tasks: list[dict[str, Any]]) -> CawError:
    """Set a bad plan; assert it wrote nothing and the workflow can still be planned."""
    workflow_id = planning_workflow(client)
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("workflow_set_plan", id=workflow_id, plan={"summary": "s", "tasks": tasks})
    assert dump(client.db) == before
    assert client.call("workflow_get", id=workflow_id)["status"] == "planning"
    return refused.value


def test_a_cycle_is_refused_and_named(client: caw_lab.Client) -> None:
    error = refuse_plan(client, [
        {"name": "setup"},
        {"name": "a", "depends_on": ["setup", "c"]},
        {"name": "b", "depends_on": ["a"]},
        {"name": "c", "depends_on": ["b"]},
    ])
    assert error.code == "DEPENDENCY_CYCLE"
    assert error.recoverable is True
    cycle = error.details["cycle"]
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    assert " -> ".join(cycle) in error.message


def test_a_long_cycle_is_found_without_hitting_the_recursion_limit(client: caw_lab.Client) -> None:
    n = 3000
    tasks = [{"name": f"t{i}", "depends_on": [f"t{(i - 1) % n}"]} for i in range(n)]
    error = refuse_plan(client, tasks)
    assert error.code == "DEPENDENCY_CYCLE"
    assert len(error.details["cycle"]) == n + 1
    assert "t0" in error.message and f"t{n - 1}" in error.message


@pytest.mark.parametrize(
    ("tasks", "code", "words"),
    [
        ([{"name": "a", "depends_on": ["ghost"]}], "UNKNOWN_DEPENDENCY", ["a", "ghost"]),
        ([{"name": "a"}, {"name": "b", "context_from": ["ghost"]}], "UNKNOWN_DEPENDENCY", ["b", "ghost"]),
        ([{"name": "a", "depends_on": ["a"]}], "SELF_DEPENDENCY", ["a", "itself"]),
        ([{"name": "a"}, {"name": "a"}], "DUPLICATE_TASK_NAME", ["Duplicate", "a"]),
    ],
    ids=["unknown-dependency", "unknown-context", "self-dependency", "duplicate-name"],
)
def test_bad_references_are_refused_and_nothing_is_written(
    client: caw_lab.Client, tasks: list[dict[str, Any]], code: str, words: list[str]
) -> None:
    error = refuse_plan(client, tasks)
    assert (error.code, error.recoverable) == (code, True)
    assert all(word in error.message for word in words)


def test_a_valid_plan_creates_the_dag_in_order(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "a", "parallel_group": "g"}, {"name": "b", "parallel_group": "g"},
        {"name": "c", "depends_on": ["a", "b"]},
    ])
    tasks = client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]
    assert [(t["name"], t["sequence"], t["status"]) for t in tasks] == [
        ("a", 1, "pending"), ("b", 2, "pending"), ("c", 3, "blocked")]
    assert sorted(tasks[2]["depends_on"]) == sorted([wf["tasks"]["a"], wf["tasks"]["b"]])


PLAN = {"approach": "write the migration first", "steps": ["migrate", "backfill"], "files_to_modify": ["db.py"]}


def planning_task(client: caw_lab.Client) -> str:
    task_id = make_workflow(client, [{"name": "a"}])["tasks"]["a"]
    client.call("task_update_status", id=task_id, status="planning")
    return task_id


def test_task_set_plan_stores_the_plan_and_merges_context(client: caw_lab.Client) -> None:
    task_id = planning_task(client)
    assert client.call("task_set_plan", id=task_id, plan=PLAN, context={"db": "pg", "stale": 1}) == {"success": True}
    client.call("task_set_plan", id=task_id, plan={**PLAN, "steps": ["migrate"]}, context={"stale": None, "orm": "sa"})
    task = client.call("task_get", id=task_id)
    assert task["plan"] == {**PLAN, "steps": ["migrate"]}
    assert task["plan_summary"] == PLAN["approach"]
    assert task["context"] == {"db": "pg", "orm": "sa"}


@pytest.mark.parametrize("status", ["pending", "in_progress"])
def test_task_set_plan_needs_the_task_in_planning(client: caw_lab.Client, status: str) -> None:
    task_id = planning_task(client)
    if status == "in_progress":
        client.call("task_update_status", id=task_id, status="in_progress")
    else:
        task_id = make_workflow(client, [{"name": "b"}])["tasks"]["b"]
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("task_set_plan", id=task_id, plan=PLAN)
    assert refused.value.code == "INVALID_STATE"
    assert dump(client.db) == before


def test_task_set_plan_needs_approach_and_steps(client: caw_lab.Client) -> None:
    task_id = planning_task(client)
    with pytest.raises(CawError) as refused:
        client.call("task_set_plan", id=task_id, plan={"approach": "x"})
    assert refused.value.code == "INVALID_INPUT" and "steps" in refused.value.message


def failed_task(client: caw_lab.Client, agent: str | None = None) -> tuple[str, str]:
    wf = make_workflow(client, [{"name": "a"}])
    task_id = wf["tasks"]["a"]
    if agent:
        client.call("task_claim", task_id=task_id, agent_id=agent)
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_set_plan", id=task_id, plan=PLAN)
    client.call("task_update_status", id=task_id, status="in_progress")
    client.call("task_update_status", id=task_id, status="failed", error="backfill timed out")
    return wf["id"], task_id


def test_replanning_a_failed_task_records_why_and_sends_it_back_to_pending(client: caw_lab.Client) -> None:
    agent = client.call("agent_register", name="w", runtime="custom")["id"]
    _, task_id = failed_task(client, agent)
    new_plan = {"approach": "batch the backfill", "steps": ["migrate", "backfill in batches"]}
    result = client.call("task_replan", id=task_id, reason="backfill too slow", new_plan=new_plan)
    assert result["success"] is True
    task = client.call("task_get", id=task_id, include_checkpoints=True)
    assert (task["status"], task["plan"], task["error"]) == ("pending", new_plan, None)
    assert task["assigned_agent_id"] == agent
    [checkpoint] = task["checkpoints"]
    assert (checkpoint["id"], checkpoint["checkpoint_type"], checkpoint["summary"]) == (
        result["checkpoint_id"], "replan", "backfill too slow")
    assert checkpoint["detail"]["previous_plan"] == PLAN
    assert checkpoint["detail"]["error"] == "backfill timed out"


def test_replanning_a_running_task_keeps_it_running(client: caw_lab.Client) -> None:
    task_id = planning_task(client)
    client.call("task_update_status", id=task_id, status="in_progress")
    client.call("checkpoint_add", task_id=task_id, type="progress", summary="half way")
    result = client.call("task_replan", id=task_id, reason="simpler", new_plan={"approach": "y", "steps": ["1"]})
    task = client.call("task_get", id=task_id, include_checkpoints=True)
    assert task["status"] == "in_progress"
    assert [(c["sequence"], c["checkpoint_type"]) for c in task["checkpoints"]] == [(1, "progress"), (2, "replan")]
    assert task["checkpoints"][-1]["id"] == result["checkpoint_id"]


@pytest.mark.parametrize("status", ["pending", "planning", "completed"])
def test_replanning_needs_a_failed_or_running_task(client: caw_lab.Client, status: str) -> None:
    task_id = make_workflow(client, [{"name": "a"}])["tasks"]["a"]
    if status != "pending":
        client.call("task_update_status", id=task_id, status="planning")
    if status == "completed":
        client.call("task_update_status", id=task_id, status="completed", outcome="ok")
    before = dump(client.db)
    with pytest.raises(CawError) as refused:
        client.call("task_replan", id=task_id, reason="r", new_plan={"approach": "y", "steps": []})
    assert refused.value.code == "INVALID_STATE"
    assert dump(client.db) == before
