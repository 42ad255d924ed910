"""A task waiting on another workflow's task, however the dependency is given: in a plan
(workflow_set_plan, workflow_replan), with workflow_add_task, or edge by edge
(task_add_dependency). The waiting task is held back by every way work is handed out
(workflow_next_tasks, task_get_available, task_claim) until the other task is done; a bad
reference is a clear error and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from caw_lab.errors import CawError
from tests.conftest import dump, make_workflow


def finish(client: caw_lab.Client, task_id: str) -> None:
    agent = client.call("agent_register", name="finisher", runtime="custom")["id"]
    assert client.call("task_claim", task_id=task_id, agent_id=agent)["success"]
    for status in ("planning", "in_progress", "completed"):
        if client.call("task_get", id=task_id)["status"] != status:
            client.call("task_update_status", id=task_id, status=status, outcome="done")


def handed_out(client: caw_lab.Client, workflow_id: str, task_id: str) -> dict[str, bool]:
    """Whether each way of handing out work offers ``task_id``; a refused claim releases nothing."""
    agent = client.call("agent_register", name="probe", runtime="custom")["id"]
    nxt = [t["id"] for t in client.call("workflow_next_tasks", workflow_id=workflow_id)["tasks"]]
    available = [t["id"] for t in client.call("task_get_available", agent_id=agent, workflow_id=workflow_id)["tasks"]]
    try:
        claimed = client.call("task_claim", task_id=task_id, agent_id=agent)["success"]
    except CawError as refused:
        assert refused.code == "TASK_BLOCKED", refused
        claimed = False
    return {"next_tasks": task_id in nxt, "available": task_id in available, "claim": claimed}


HELD = {"next_tasks": False, "available": False, "claim": False}
FREE = {"next_tasks": True, "available": True, "claim": True}


@pytest.fixture
def upstream(client: caw_lab.Client) -> dict[str, Any]:
    return make_workflow(client, [{"name": "base"}, {"name": "after-base", "depends_on": ["base"]}], name="upstream")


def external(upstream: dict[str, Any], task: str = "base") -> dict[str, str]:
    return {"workflow_id": upstream["id"], "task": task}


def test_workflow_add_task_takes_another_workflows_task_and_work_waits_for_it(
        client: caw_lab.Client, upstream: dict[str, Any]) -> None:
    wf = make_workflow(client, [{"name": "first"}])
    added = client.call("workflow_add_task", workflow_id=wf["id"], name="later",
                        depends_on=["first", external(upstream)])
    assert added["depends_on"] == [wf["tasks"]["first"], upstream["tasks"]["base"]]
    assert sorted(client.call("task_get", id=added["task_id"])["depends_on"]) == sorted(added["depends_on"])
    finish(client, wf["tasks"]["first"])
    assert handed_out(client, wf["id"], added["task_id"]) == HELD
    finish(client, upstream["tasks"]["base"])
    assert handed_out(client, wf["id"], added["task_id"]) == FREE


def test_workflow_replan_takes_another_workflows_task_for_new_and_kept_tasks(
        client: caw_lab.Client, upstream: dict[str, Any]) -> None:
    wf = make_workflow(client, [{"name": "kept"}, {"name": "dropped"}])
    client.call("workflow_replan", workflow_id=wf["id"], plan={"summary": "s", "reason": "r", "tasks": [
        {"name": "kept", "depends_on": [external(upstream, upstream["tasks"]["base"])]},
        {"name": "new", "depends_on": ["kept", external(upstream, "after-base")]},
    ]})
    tasks = {t["name"]: t for t in client.call("workflow_get", id=wf["id"], include_tasks=True)["tasks"]}
    assert tasks["kept"]["id"] == wf["tasks"]["kept"] and "dropped" not in tasks
    assert tasks["kept"]["depends_on"] == [upstream["tasks"]["base"]]
    assert sorted(tasks["new"]["depends_on"]) == sorted([tasks["kept"]["id"], upstream["tasks"]["after-base"]])
    assert handed_out(client, wf["id"], tasks["kept"]["id"]) == HELD
    finish(client, upstream["tasks"]["base"])
    assert handed_out(client, wf["id"], tasks["kept"]["id"]) == FREE


def test_task_add_dependency_links_tasks_of_two_workflows(client: caw_lab.Client, upstream: dict[str, Any]) -> None:
    wf = make_workflow(client, [{"name": "x"}])
    done = client.call("task_add_dependency", task_id=wf["tasks"]["x"], depends_on_id=upstream["tasks"]["base"])
    assert done["created"] is True
    assert handed_out(client, wf["id"], wf["tasks"]["x"]) == HELD
    finish(client, upstream["tasks"]["base"])
    assert handed_out(client, wf["id"], wf["tasks"]["x"]) == FREE


def bad_references(wf: dict[str, Any], upstream: dict[str, Any]) -> list[tuple[Any, str]]:
    return [
        ({"workflow_id": "wf_000000000000", "task": "base"}, "WORKFLOW_NOT_FOUND"),
        ({"workflow_id": upstream["id"], "task": "nope"}, "UNKNOWN_DEPENDENCY"),
        ({"workflow_id": wf["id"], "task": "a"}, "INVALID_INPUT"),
        ({"workflow_id": upstream["id"]}, "INVALID_INPUT"),
        ({"workflow_id": upstream["id"], "task": "base", "extra": 1}, "INVALID_INPUT"),
        ({"workflow_id": upstream["id"], "task": ["base"]}, "INVALID_INPUT"),
        (7, "INVALID_INPUT"),
        ({"workflow_id": upstream["id"], "task": "waits-on-a"}, "DEPENDENCY_CYCLE"),
    ]


@pytest.mark.parametrize("how", ["workflow_add_task", "workflow_replan", "workflow_set_plan"])
def test_bad_references_to_another_workflow_are_refused_with_nothing_changed(
        client: caw_lab.Client, upstream: dict[str, Any], how: str) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    client.call("workflow_add_task", workflow_id=upstream["id"], name="waits-on-a",
                depends_on=[{"workflow_id": wf["id"], "task": "a"}])
    fresh = client.call("workflow_create", name="fresh", source_type="prompt", source_content="t")
    for dep, code in bad_references(wf, upstream):
        if how == "workflow_set_plan" and code == "DEPENDENCY_CYCLE":
            continue  # a new plan's tasks have no dependants yet: no edge to them can close a cycle
        before = dump(client.db)
        with pytest.raises(CawError) as refused:
            if how == "workflow_add_task":
                client.call(how, workflow_id=wf["id"], name="new", depends_on=[dep])
            elif how == "workflow_replan":
                client.call(how, workflow_id=wf["id"], plan={"summary": "s", "reason": "r", "tasks": [
                    {"name": "a", "depends_on": [dep]}]})
            else:
                if code == "INVALID_INPUT" and isinstance(dep, dict) and dep.get("workflow_id") == wf["id"]:
                    dep = {**dep, "workflow_id": fresh["id"]}
                client.call(how, id=fresh["id"], plan={"summary": "s", "tasks": [{"name": "a", "depends_on": [dep]}]})
        assert refused.value.code == code, (dep, refused.value)
        assert refused.value.suggestion
        assert dump(client.db) == before, dep
