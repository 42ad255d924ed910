"""task_handoff: the claim released, a handoff checkpoint and a message, in one change."""

from __future__ import annotations

from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow

NOTE = "Parser half done: empty input still fails tests/test_parser.py; see the decision checkpoint."


def register(client: caw_lab.Client, name: str, **kwargs: Any) -> str:
    return client.call("agent_register", name=name, runtime="custom", **kwargs)["id"]


@pytest.fixture
def started(client: caw_lab.Client) -> dict[str, Any]:
    """A task claimed and in progress, with a checkpoint, and agents around it."""
    wf = make_workflow(client, [{"name": "parser"}, {"name": "docs"}], max_parallel_tasks=2)
    task = wf["tasks"]["parser"]
    people = {name: register(client, name) for name in ("leaver", "taker", "other")}
    people["boss"] = register(client, "boss", role="coordinator")
    client.call("task_claim", task_id=task, agent_id=people["leaver"])
    client.call("task_update_status", id=task, status="planning")
    client.call("task_update_status", id=task, status="in_progress")
    client.call("checkpoint_add", task_id=task, type="decision", summary="hand-written parser, no generator")
    return {"workflow": wf["id"], "task": task, **people}


def test_handoff_releases_records_and_tells_the_receiver_in_one_change(
    client: caw_lab.Client, started: dict[str, Any]
) -> None:
    head = client.call("events_list")["head"]
    done = client.call("task_handoff", task_id=started["task"], from_agent=started["leaver"],
                       to_agent=started["taker"], note=NOTE)
    task = client.call("task_get", id=started["task"])
    assert task["assigned_agent_id"] is None and task["status"] == "in_progress"
    assert client.call("agent_get", id=started["leaver"])["current_task_id"] is None
    last = client.call("checkpoint_list", task_id=started["task"])["checkpoints"][-1]
    assert (last["id"], last["checkpoint_type"], last["summary"]) == (done["checkpoint_id"], "handoff", NOTE)
    [message] = client.call("message_list", agent_id=started["taker"])["messages"]
    assert [message["id"]] == done["message_ids"]
    assert (message["message_type"], message["task_id"], message["body"]["note"]) == (
        "task_assignment", started["task"], NOTE)
    events = client.call("events_list", since_seq=head)["events"]
    assert [e["kind"] for e in events] == ["task.handed_off"]
    assert events[0]["payload"]["message_ids"] == done["message_ids"]


def test_the_receiver_finds_the_task_first_and_the_note_in_its_context(
    client: caw_lab.Client, started: dict[str, Any]
) -> None:
    client.call("task_handoff", task_id=started["task"], from_agent=started["leaver"], to_agent=started["taker"],
                note=NOTE)
    offered = client.call("task_get_available", agent_id=started["taker"])["tasks"]
    assert offered[0]["id"] == started["task"], "orphaned work is offered before pending work"
    assert client.call("task_claim", task_id=started["task"], agent_id=started["taker"])["success"] is True
    context = client.call("task_load_context", task_id=started["task"])
    trail = context["current_task"]["checkpoints"]
    assert (trail[-1]["type"], trail[-1]["summary"]) == ("handoff", NOTE)
    assert context["current_task"]["resume"]["last_checkpoint"]["checkpoint_type"] == "handoff"
    assert [m["body"]["note"] for m in context["messages"]] == [NOTE]


def test_handoff_to_no_one_tells_every_live_worker(client: caw_lab.Client, started: dict[str, Any]) -> None:
    gone = register(client, "gone")
    client.call("agent_unregister", id=gone)
    done = client.call("task_handoff", task_id=started["task"], from_agent=started["leaver"], note=NOTE)
    assert done["to_agent"] is None and len(done["message_ids"]) == 2
    for name, expected in (("taker", 1), ("other", 1), ("boss", 0), ("leaver", 0)):
        inbox = client.call("message_list", agent_id=started[name])["messages"]
        assert len(inbox) == expected, name
    assert client.call("message_list", agent_id=gone)["messages"] == []
    received = client.call("message_list", agent_id=started["taker"])["messages"][0]
    assert received["message_type"] == "broadcast" and received["thread_id"] == done["message_ids"][0]


@pytest.mark.parametrize("who,code", [
    ("stranger", "NOT_ASSIGNED"), ("self", "INVALID_INPUT"), ("nobody", "RECIPIENT_NOT_FOUND"),
    ("no task", "TASK_NOT_FOUND"), ("empty note", "INVALID_INPUT"),
])
def test_refused_handoffs_write_nothing(client: caw_lab.Client, started: dict[str, Any], who: str, code: str) -> None:
    args = {"task_id": started["task"], "from_agent": started["leaver"], "to_agent": started["taker"], "note": NOTE}
    args.update({
        "stranger": {"from_agent": started["other"]}, "self": {"to_agent": started["leaver"]},
        "nobody": {"to_agent": "ag_nobody"}, "no task": {"task_id": "tk_missing"}, "empty note": {"note": ""},
    }[who])
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("task_handoff", **args)
    assert info.value.code == code
    assert dump(client.db) == before
