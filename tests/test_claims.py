"""task_claim, task_release and task_get_available in one process: who wins, who is
refused, and that a refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow


def agent(client: caw_lab.Client, name: str = "w", **kwargs: Any) -> str:
    return client.call("agent_register", name=name, runtime="custom", **kwargs)["id"]


def claimed_events(client: caw_lab.Client, task_id: str) -> list[dict[str, Any]]:
    return client.call("events_list", task_id=task_id, kinds=["task.claimed"])["events"]


def refused(client: caw_lab.Client, tool: str, **args: Any) -> caw_lab.CawError:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call(tool, **args)
    assert dump(client.db) == before, f"{tool} wrote while refusing"
    return info.value


def complete(client: caw_lab.Client, task_id: str) -> None:
    for status in ("planning", "in_progress"):
        client.call("task_update_status", id=task_id, status=status)
    client.call("task_update_status", id=task_id, status="completed", outcome="done")


@pytest.fixture
def wf(client: caw_lab.Client) -> dict[str, Any]:
    tasks = [{"name": "a"}, {"name": "b", "depends_on": ["a"]}, {"name": "c"}]
    return make_workflow(client, tasks, max_parallel_tasks=3)


def test_first_claim_wins_and_a_second_agent_is_told_who_holds_it(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    task = wf["tasks"]["a"]
    assert client.call("task_claim", task_id=task, agent_id=a) == {"success": True}
    assert client.call("task_claim", task_id=task, agent_id=b) == {"success": False, "already_claimed_by": a}
    shown = client.call("task_get", id=task)
    assert shown["assigned_agent_id"] == a and shown["claimed_at"]
    assert shown["status"] == "pending", "a claim does not change the task's status"
    assert len(claimed_events(client, task)) == 1


def test_claiming_again_is_idempotent_and_writes_nothing(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    before = dump(client.db)
    assert client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a) == {"success": True}
    assert dump(client.db) == before


def test_claim_marks_the_agent_busy_and_starts_a_ready_workflow(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    assert client.call("workflow_get", id=wf["id"])["status"] == "ready"
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    assert client.call("workflow_get", id=wf["id"])["status"] == "in_progress"
    shown = client.call("agent_get", id=a)
    assert (shown["status"], shown["current_task_id"]) == ("busy", wf["tasks"]["a"])
    [event] = claimed_events(client, wf["tasks"]["a"])
    assert (event["agent_id"], event["workflow_id"], event["payload"]) == (a, wf["id"], {"workflow_started": True})
    client.call("task_claim", task_id=wf["tasks"]["c"], agent_id=a)
    assert claimed_events(client, wf["tasks"]["c"])[0]["payload"] == {}


def test_blocked_task_is_refused_until_its_dependency_completes(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    error = refused(client, "task_claim", task_id=wf["tasks"]["b"], agent_id=a)
    assert (error.code, error.recoverable) == ("TASK_BLOCKED", True)
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    complete(client, wf["tasks"]["a"])
    assert client.call("task_claim", task_id=wf["tasks"]["b"], agent_id=a) == {"success": True}


def test_finished_tasks_cannot_be_claimed(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    complete(client, wf["tasks"]["a"])
    assert refused(client, "task_claim", task_id=wf["tasks"]["a"], agent_id=b).code == "INVALID_STATE"


def test_tasks_of_a_paused_workflow_cannot_be_claimed(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    client.call("workflow_update_status", id=wf["id"], status="paused")
    error = refused(client, "task_claim", task_id=wf["tasks"]["c"], agent_id=a)
    assert (error.code, error.recoverable) == ("INVALID_STATE", True)


def test_unknown_task_or_agent_is_refused(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    assert refused(client, "task_claim", task_id="tk_missing", agent_id=a).code == "TASK_NOT_FOUND"
    assert refused(client, "task_claim", task_id=wf["tasks"]["a"], agent_id="ag_missing").code == "AGENT_NOT_FOUND"


def test_only_the_holder_may_release(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    task = wf["tasks"]["a"]
    assert refused(client, "task_release", task_id=task, agent_id=a).code == "NOT_CLAIMED"
    client.call("task_claim", task_id=task, agent_id=a)
    error = refused(client, "task_release", task_id=task, agent_id=b)
    assert error.code == "NOT_ASSIGNED" and a in error.message


def test_release_returns_the_task_to_the_pool_and_frees_the_agent(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a, b = agent(client, "a"), agent(client, "b")
    task = wf["tasks"]["a"]
    client.call("task_claim", task_id=task, agent_id=a)
    assert client.call("task_release", task_id=task, agent_id=a, reason="handing over") == {"success": True}
    shown = client.call("agent_get", id=a)
    assert (shown["status"], shown["current_task_id"]) == ("online", None)
    [event] = client.call("events_list", task_id=task, kinds=["task.released"])["events"]
    assert (event["agent_id"], event["payload"]) == (a, {"reason": "handing over"})
    assert client.call("task_claim", task_id=task, agent_id=b) == {"success": True}


def test_available_tasks_are_unclaimed_unblocked_and_pending(client: caw_lab.Client, wf: dict[str, Any]) -> None:
    a = agent(client)
    other = make_workflow(client, [{"name": "x"}], name="other")

    def names(**kwargs: Any) -> list[str]:
        return [t["name"] for t in client.call("task_get_available", agent_id=a, **kwargs)["tasks"]]

    assert names(workflow_id=wf["id"]) == ["a", "c"]
    assert sorted(names()) == ["a", "c", "x"]
    assert names(workflow_id=wf["id"], limit=1) == ["a"]
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    assert names(workflow_id=wf["id"]) == ["c"]
    client.call("workflow_update_status", id=wf["id"], status="paused")
    assert names() == ["x"], "a paused workflow offers no work"
    assert refused(client, "task_get_available", agent_id="ag_missing").code == "AGENT_NOT_FOUND"
    assert refused(client, "task_get_available", agent_id=a, workflow_id=other["id"] + "x").code == "WORKFLOW_NOT_FOUND"


def test_available_tasks_matching_capabilities_come_first(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [
        {"name": "write docs"},
        {"name": "fix parser", "description": "Python tokenizer bug"},
        {"name": "style", "files_likely_affected": ["web/app.css"]},
    ])
    plain = agent(client, "plain")
    skilled = agent(client, "skilled", capabilities=["python", "CSS"])

    def names(agent_id: str) -> list[str]:
        return [t["name"] for t in client.call("task_get_available", agent_id=agent_id, workflow_id=wf["id"])["tasks"]]

    assert names(plain) == ["write docs", "fix parser", "style"]
    assert names(skilled) == ["fix parser", "style", "write docs"]


def test_a_started_task_whose_agent_left_is_offered_first(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    gone, heir = agent(client, "gone"), agent(client, "heir")
    client.call("task_claim", task_id=wf["tasks"]["b"], agent_id=gone)
    client.call("task_update_status", id=wf["tasks"]["b"], status="planning")
    client.call("agent_unregister", id=gone)
    offered = client.call("task_get_available", agent_id=heir, workflow_id=wf["id"])["tasks"]
    assert [(t["name"], t["status"]) for t in offered] == [("b", "planning"), ("a", "pending")]
    assert client.call("task_get_available", agent_id=heir, limit=1)["tasks"][0]["name"] == "b"
    assert client.call("task_claim", task_id=wf["tasks"]["b"], agent_id=heir) == {"success": True}
