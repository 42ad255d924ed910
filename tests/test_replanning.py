"""Replanning: insert after a task with re-wiring, remove with re-wiring, replace a started plan."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

CHAIN = [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["b"]}]


def graph(client: caw_lab.Client, workflow_id: str) -> dict[str, list[str]]:
    """``name -> sorted dependency names``, in sequence order."""
    tasks = client.call("workflow_get", id=workflow_id, include_tasks=True)["tasks"]
    names = {t["id"]: t["name"] for t in tasks}
    return {t["name"]: sorted(names[d] for d in t["depends_on"]) for t in tasks}


def status_of(client: caw_lab.Client, task_id: str) -> str:
    return client.call("task_get", id=task_id)["status"]


def start(client: caw_lab.Client, task_id: str) -> None:
    client.call("task_update_status", id=task_id, status="planning")
    client.call("task_update_status", id=task_id, status="in_progress")


def complete(client: caw_lab.Client, task_id: str) -> None:
    start(client, task_id)
    client.call("task_update_status", id=task_id, status="completed", outcome="done")


def claim(client: caw_lab.Client, task_id: str) -> None:
    if "task_claim" not in client.tools:
        pytest.skip("task_claim is not registered yet, so a claim cannot be set up")
    agent = client.call("agent_register", name="worker", runtime="custom")
    assert client.call("task_claim", task_id=task_id, agent_id=agent["id"])["success"]


def refused(client: caw_lab.Client, tool: str, code: str, **args: Any) -> caw_lab.CawError:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert info.value.code == code, info.value.to_dict()
    assert dump(client.db) == before
    return info.value


def test_add_after_task_rewires_its_dependents(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [*CHAIN, {"name": "d", "depends_on": ["a"]}])
    added = client.call("workflow_add_task", workflow_id=wf["id"], name="review", after_task="a")
    assert graph(client, wf["id"]) == {
        "a": [], "review": ["a"], "b": ["review"], "c": ["b"], "d": ["review"]}
    assert added["sequence"] == 2
    assert sorted(added["dependencies_rewired"]) == sorted([wf["tasks"]["b"], wf["tasks"]["d"]])
    sequences = [t["sequence"] for t in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]]
    assert sequences == [1, 2, 3, 4, 5]


def test_add_accepts_dependencies_by_id_or_name_and_appends(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    added = client.call("workflow_add_task", workflow_id=wf["id"], name="docs", description="write docs",
                        depends_on=[wf["tasks"]["a"], "c"], parallel_group="late")
    assert graph(client, wf["id"])["docs"] == ["a", "c"]
    task = client.call("task_get", id=added["task_id"])
    assert (task["sequence"], task["description"], task["parallel_group"]) == (4, "write docs", "late")


def test_add_leaves_started_dependents_wired_to_the_original(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c", "depends_on": ["a"]}])
    complete(client, wf["tasks"]["a"])
    start(client, wf["tasks"]["b"])
    client.call("workflow_add_task", workflow_id=wf["id"], name="extra", after_task="a")
    assert graph(client, wf["id"]) == {"a": [], "extra": ["a"], "b": ["a"], "c": ["extra"]}
    assert status_of(client, wf["tasks"]["c"]) == "blocked"


def test_add_that_would_close_a_cycle_is_refused_without_writing(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    error = refused(client, "workflow_add_task", "DEPENDENCY_CYCLE",
                    workflow_id=wf["id"], name="loop", after_task="a", depends_on=["c"])
    assert "loop" in error.message


@pytest.mark.parametrize("args, code", [
    ({"name": "b"}, "DUPLICATE_TASK_NAME"),
    ({"name": "x", "depends_on": ["x"]}, "SELF_DEPENDENCY"),
    ({"name": "x", "depends_on": ["nope"]}, "UNKNOWN_DEPENDENCY"),
    ({"name": "x", "after_task": "nope"}, "TASK_NOT_FOUND"),
])
def test_add_refuses_bad_names_and_references(client: caw_lab.Client, args: dict[str, Any], code: str) -> None:
    wf = make_workflow(client, CHAIN)
    refused(client, "workflow_add_task", code, workflow_id=wf["id"], **args)


def test_replanning_needs_a_started_plan(client: caw_lab.Client) -> None:
    wf = client.call("workflow_create", name="w", source_type="prompt", source_content="x")
    refused(client, "workflow_add_task", "INVALID_STATE", workflow_id=wf["id"], name="x")


def test_remove_rewires_dependents_to_its_dependencies(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "z"}, {"name": "b", "depends_on": ["a", "z"]},
                                {"name": "c", "depends_on": ["b"]}, {"name": "d", "depends_on": ["b", "a"]}])
    result = client.call("workflow_remove_task", workflow_id=wf["id"], task_id=wf["tasks"]["b"])
    assert graph(client, wf["id"]) == {"a": [], "z": [], "c": ["a", "z"], "d": ["a", "z"]}
    assert result == {"removed_task_id": wf["tasks"]["b"], "dependencies_rewired": 3, "tasks_renumbered": 2}
    sequences = [t["sequence"] for t in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]]
    assert sequences == [1, 2, 3, 4]
    events = client.call("events_list", kinds=["workflow.task_removed"])["events"]
    assert [e["task_id"] for e in events] == [wf["tasks"]["b"]]


def test_remove_refuses_started_and_claimed_tasks(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [*CHAIN, {"name": "free"}], max_parallel_tasks=2)  # b runs while free is claimed
    complete(client, wf["tasks"]["a"])
    start(client, wf["tasks"]["b"])
    claim(client, wf["tasks"]["free"])
    for name in ("a", "b", "free"):
        refused(client, "workflow_remove_task", "TASK_NOT_REMOVABLE", workflow_id=wf["id"], task_id=wf["tasks"][name])


def test_remove_refuses_another_workflows_task(client: caw_lab.Client) -> None:
    one, other = make_workflow(client, CHAIN), make_workflow(client, CHAIN)
    refused(client, "workflow_remove_task", "TASK_NOT_FOUND", workflow_id=one["id"], task_id=other["tasks"]["a"])


def test_replan_keeps_started_work_updates_matches_and_replaces_the_rest(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "done"}, {"name": "running"}, {"name": "keep", "depends_on": ["done"]},
                                {"name": "drop", "depends_on": ["running"]}])
    complete(client, wf["tasks"]["done"])
    start(client, wf["tasks"]["running"])
    result = client.call("workflow_replan", workflow_id=wf["id"], plan={
        "summary": "v2", "reason": "scope changed",
        "tasks": [{"name": "keep", "description": "now later", "depends_on": ["running", "new"]},
                  {"name": "new", "depends_on": ["done"]}]})
    assert result == {"workflow_id": wf["id"], "tasks_added": 1, "tasks_removed": 1, "tasks_preserved": 2,
                      "tasks_updated": 1, "new_status": "in_progress"}
    assert graph(client, wf["id"]) == {"done": [], "running": [], "keep": ["new", "running"], "new": ["done"]}
    keep = client.call("task_get", id=wf["tasks"]["keep"])
    assert keep["description"] == "now later"
    assert status_of(client, wf["tasks"]["running"]) == "in_progress"
    workflow = client.call("workflow_get", id=wf["id"])
    assert workflow["plan_summary"] == "v2"
    assert workflow["config"]["replan_history"][0]["reason"] == "scope changed"
    assert [e["kind"] for e in client.call("events_list", kinds=["workflow.replanned"])["events"]] == [
        "workflow.replanned"]


def test_replan_keeps_claimed_tasks(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    claim(client, wf["tasks"]["a"])
    result = client.call("workflow_replan", workflow_id=wf["id"], plan={
        "summary": "v2", "reason": "r", "tasks": [{"name": "x", "depends_on": ["a"]}]})
    assert (result["tasks_preserved"], result["tasks_removed"], result["tasks_added"]) == (1, 2, 1)
    assert graph(client, wf["id"]) == {"a": [], "x": ["a"]}


def test_replan_refuses_a_plan_that_cycles_through_a_preserved_task(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}])
    claim(client, wf["tasks"]["b"])
    client.call("task_add_dependency", task_id=wf["tasks"]["b"], depends_on_id=wf["tasks"]["a"])
    error = refused(client, "workflow_replan", "DEPENDENCY_CYCLE", workflow_id=wf["id"], plan={
        "summary": "v2", "reason": "r", "tasks": [{"name": "a", "depends_on": ["b"]}]})
    assert error.details["cycle"][0] == error.details["cycle"][-1]


def test_replan_refuses_dependencies_on_tasks_it_removes(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    complete(client, wf["tasks"]["a"])
    error = refused(client, "workflow_replan", "UNKNOWN_DEPENDENCY", workflow_id=wf["id"], plan={
        "summary": "v2", "reason": "r", "tasks": [{"name": "x", "depends_on": ["b"]}]})
    assert "'b'" in error.message


def test_replan_is_one_event_and_respects_the_session_lock(client: caw_lab.Client) -> None:
    wf = make_workflow(client, CHAIN)
    client.call("workflow_lock", id=wf["id"], session_id="ss_one")
    plan = {"summary": "v2", "reason": "r", "tasks": [{"name": "x"}]}
    refused(client, "workflow_replan", "WORKFLOW_LOCKED", workflow_id=wf["id"], session_id="ss_two", plan=plan)
    head = client.call("events_list")["head"]
    client.call("workflow_replan", workflow_id=wf["id"], session_id="ss_one", plan=plan)
    assert len(client.call("events_list", since_seq=head)["events"]) == 1
