"""Agents: registration, heartbeats, updates, listing, unregistering and the stale sweep."""

from __future__ import annotations

import time
from typing import Any

import pytest

import caw_lab
from caw_lab.engine import agents
from tests.conftest import dump, make_workflow


def register(client: caw_lab.Client, name: str = "w", **kwargs: Any) -> str:
    kwargs.setdefault("runtime", "custom")
    return client.call("agent_register", name=name, **kwargs)["id"]


def test_register_returns_an_online_agent_with_its_details_stored(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    answer = client.call("agent_register", name="worker-1", runtime="claude_code", role="coordinator",
                         workflow_id=wf["id"], capabilities=["python"], workspace_path="/src", metadata={"k": 1})
    assert answer["id"].startswith("ag_") and len(answer["id"]) == 15
    assert answer == {"id": answer["id"], "name": "worker-1", "status": "online"}
    shown = client.call("agent_get", id=answer["id"])
    assert shown["capabilities"] == ["python"] and shown["metadata"] == {"k": 1}
    assert (shown["role"], shown["workflow_id"], shown["stale"]) == ("coordinator", wf["id"], False)
    [event] = client.call("events_list", kinds=["agent.registered"])["events"]
    assert event["agent_id"] == answer["id"]


def test_register_refuses_an_unknown_workflow(client: caw_lab.Client) -> None:
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("agent_register", name="w", runtime="custom", workflow_id="wf_missing")
    assert info.value.code == "WORKFLOW_NOT_FOUND"
    assert dump(client.db) == before


def test_heartbeat_refreshes_the_agent_and_says_when_to_call_again(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    a = register(client)
    first = client.call("agent_get", id=a)["last_heartbeat"]
    time.sleep(0.01)
    answer = client.call("agent_heartbeat", agent_id=a, current_task_id=wf["tasks"]["a"], status="busy")
    assert answer["success"] and answer["next_heartbeat_ms"] == agents.HEARTBEAT_INTERVAL_MS
    shown = client.call("agent_get", id=a)
    assert shown["last_heartbeat"] > first
    assert (shown["status"], shown["current_task_id"]) == ("busy", wf["tasks"]["a"])
    with pytest.raises(caw_lab.CawError) as info:
        client.call("agent_heartbeat", agent_id=a, current_task_id="tk_missing")
    assert info.value.code == "TASK_NOT_FOUND"


def test_heartbeat_from_an_offline_agent_is_refused_and_changes_nothing(client: caw_lab.Client) -> None:
    a = register(client)
    client.call("agent_unregister", id=a)
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("agent_heartbeat", agent_id=a)
    assert (info.value.code, info.value.recoverable) == ("INVALID_STATE", False)
    assert "register" in info.value.suggestion.lower()
    assert dump(client.db) == before
    assert client.call("agent_get", id=a)["status"] == "offline"


def test_update_changes_only_the_fields_given_and_merges_metadata(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    a = register(client, metadata={"keep": 1, "change": 1})
    client.call("agent_update", id=a, current_task_id=wf["tasks"]["a"], metadata={"change": 2, "new": 3})
    shown = client.call("agent_get", id=a)
    assert shown["metadata"] == {"keep": 1, "change": 2, "new": 3}
    assert (shown["current_task_id"], shown["status"]) == (wf["tasks"]["a"], "online")
    client.call("agent_update", id=a, current_task_id=None, workspace_path="/w", status="busy")
    shown = client.call("agent_get", id=a)
    assert (shown["current_task_id"], shown["workspace_path"], shown["status"]) == (None, "/w", "busy")
    assert shown["metadata"] == {"keep": 1, "change": 2, "new": 3}


def test_list_filters_by_status_role_runtime_and_workflow(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    boss = register(client, "boss", role="coordinator", runtime="claude_code", workflow_id=wf["id"])
    w1 = register(client, "w1", runtime="codex")
    w2 = register(client, "w2", runtime="codex")
    client.call("agent_unregister", id=w2)

    def ids(**filters: Any) -> list[str]:
        return [a["id"] for a in client.call("agent_list", **filters)["agents"]]

    assert ids() == [boss, w1, w2]
    assert ids(status=["online"]) == [boss, w1]
    assert ids(status=["offline"]) == [w2]
    assert ids(status=[]) == []
    assert ids(role="worker") == [w1, w2]
    assert ids(runtime="codex", status=["online", "busy"]) == [w1]
    assert ids(workflow_id=wf["id"]) == [boss]


def test_unregister_marks_offline_and_releases_unfinished_claims(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}], max_parallel_tasks=2)
    a, b = register(client, "a"), register(client, "b")
    for task in wf["tasks"].values():
        client.call("task_claim", task_id=task, agent_id=a)
    answer = client.call("agent_unregister", id=a)
    assert answer["success"] and answer["tasks_released"] == 2
    assert sorted(answer["released_task_ids"]) == sorted(wf["tasks"].values())
    shown = client.call("agent_get", id=a)
    assert (shown["status"], shown["current_task_id"]) == ("offline", None)
    assert client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=b) == {"success": True}
    [event] = client.call("events_list", kinds=["agent.unregistered"])["events"]
    assert event["workflow_id"] == wf["id"], "followers of the workflow see its tasks come free"
    assert sorted(event["payload"]["released_task_ids"]) == sorted(wf["tasks"].values())


def test_a_silent_agent_reads_as_stale_before_any_sweep(
    client: caw_lab.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = register(client)
    time.sleep(0.4)
    monkeypatch.setattr(agents, "AGENT_TIMEOUT_MS", 200)
    b = register(client, "fresh")
    shown = client.call("agent_get", id=a)
    assert (shown["status"], shown["stored_status"], shown["stale"]) == ("offline", "online", True)
    assert shown["heartbeat_age_ms"] >= 400
    assert [x["id"] for x in client.call("agent_list", status=["online"])["agents"]] == [b]
    assert [x["id"] for x in client.call("agent_list", status=["offline"])["agents"]] == [a]


def test_mark_stale_sweeps_silent_agents_and_frees_their_claims(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}, {"name": "b"}, {"name": "c"}], max_parallel_tasks=3)
    silent, lively, idle_offline = register(client, "silent"), register(client, "lively"), register(client, "quit")
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=silent)
    client.call("task_claim", task_id=wf["tasks"]["b"], agent_id=lively)
    client.call("agent_unregister", id=idle_offline)
    time.sleep(0.4)
    client.call("agent_heartbeat", agent_id=lively)

    swept = agents.mark_stale(client.db, timeout_ms=200)
    assert [(s["id"], s["status"], s["released_task_ids"]) for s in swept] == [(silent, "offline", [wf["tasks"]["a"]])]
    assert client.call("agent_get", id=silent)["stored_status"] == "offline"
    assert client.call("task_get", id=wf["tasks"]["a"])["assigned_agent_id"] is None
    assert client.call("task_get", id=wf["tasks"]["b"])["assigned_agent_id"] == lively
    [event] = client.call("events_list", kinds=["agent.stale"])["events"]
    assert (event["agent_id"], event["payload"]) == (silent, {"released_task_ids": [wf["tasks"]["a"]]})
    client.call("agent_heartbeat", agent_id=lively)
    assert agents.mark_stale(client.db, timeout_ms=200) == [], "a second sweep finds nothing left to do"


def test_mark_stale_frees_claims_of_an_agent_that_set_itself_offline(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "a"}])
    a = register(client)
    client.call("task_claim", task_id=wf["tasks"]["a"], agent_id=a)
    client.call("agent_update", id=a, status="offline")
    time.sleep(0.02)
    answer = client.call("agent_mark_stale", timeout_ms=10)
    assert [(s["id"], s["released_task_ids"]) for s in answer["agents"]] == [(a, [wf["tasks"]["a"]])]
    assert client.call("task_get", id=wf["tasks"]["a"])["assigned_agent_id"] is None
