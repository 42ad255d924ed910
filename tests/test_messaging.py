"""Messaging: threads, priorities, broadcasts, inbox filters and unread counts."""

from __future__ import annotations

import time
from typing import Any

import pytest

import caw_lab
from tests.conftest import dump, make_workflow


def register(client: caw_lab.Client, name: str, **kwargs: Any) -> str:
    kwargs.setdefault("runtime", "custom")
    return client.call("agent_register", name=name, **kwargs)["id"]


def send(client: caw_lab.Client, sender: str, recipient: str, body: Any = "hello", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("message_type", "query")
    return client.call("message_send", sender_id=sender, recipient_id=recipient, body=body, **kwargs)


def inbox(client: caw_lab.Client, agent_id: str, **filters: Any) -> list[str]:
    return [m["id"] for m in client.call("message_list", agent_id=agent_id, **filters)["messages"]]


@pytest.fixture
def pair(client: caw_lab.Client) -> tuple[str, str]:
    return register(client, "alice"), register(client, "bob")


def test_a_reply_joins_the_thread_of_the_message_it_answers(client: caw_lab.Client, pair: tuple[str, str]) -> None:
    alice, bob = pair
    question = send(client, alice, bob, {"ask": "status?"})
    assert question["thread_id"] == question["id"], "a new message starts its own thread"
    answer = send(client, bob, alice, "fine", message_type="response", reply_to_id=question["id"])
    follow_up = send(client, alice, bob, "thanks", reply_to_id=answer["id"])
    assert answer["thread_id"] == follow_up["thread_id"] == question["id"]
    send(client, alice, bob, "unrelated")

    assert inbox(client, bob, thread_id=question["id"]) == [follow_up["id"], answer["id"], question["id"]], (
        "the thread shows both sides, newest first"
    )
    shown = client.call("message_get", id=question["id"])
    assert shown["body"] == {"ask": "status?"} and shown["sender_id"] == alice
    assert client.call("message_get", id=answer["id"])["reply_to_id"] == question["id"]


def test_unread_counts_follow_reading_and_archiving(client: caw_lab.Client, pair: tuple[str, str]) -> None:
    alice, bob = pair
    ids = [send(client, alice, bob, f"m{i}", priority=p)["id"] for i, p in enumerate(["low", "high", "high", "urgent"])]
    unread = client.call("message_count_unread", agent_id=bob)
    assert unread == {"count": 4, "by_priority": {"low": 1, "high": 2, "urgent": 1}}
    unread = client.call("message_count_unread", agent_id=bob, priority=["high"])
    assert unread == {"count": 2, "by_priority": {"high": 2}}
    assert client.call("message_count_unread", agent_id=alice)["count"] == 0

    peeked = client.call("message_get", id=ids[0], mark_read=False)
    assert (peeked["status"], peeked["read_at"]) == ("unread", None)
    read = client.call("message_get", id=ids[0])
    assert read["status"] == "read" and read["read_at"]
    marked = client.call("message_mark_read", message_ids=[ids[1], ids[0], "msg_unknown"])
    assert marked == {"success": True, "updated": 1}
    assert client.call("message_archive", message_ids=[ids[2]]) == {"success": True, "updated": 1}
    listed = client.call("message_list", agent_id=bob)
    assert listed["unread_count"] == 1 and len(listed["messages"]) == 4
    assert client.call("message_count_unread", agent_id=bob)["by_priority"] == {"urgent": 1}
    assert inbox(client, bob, status="read") == [ids[1], ids[0]]
    assert inbox(client, bob, status="archived") == [ids[2]]
    assert client.call("message_mark_read", message_ids=[]) == {"success": True, "updated": 0}


def test_reading_writes_one_event_and_rereading_writes_none(client: caw_lab.Client, pair: tuple[str, str]) -> None:
    alice, bob = pair
    ids = [send(client, alice, bob)["id"] for _ in range(2)]
    client.call("message_mark_read", message_ids=ids)
    before = dump(client.db)
    client.call("message_mark_read", message_ids=ids)
    client.call("message_get", id=ids[0])
    assert dump(client.db) == before
    [event] = client.call("events_list", kinds=["message.read"])["events"]
    assert event["payload"] == {"message_ids": ids}


def test_inbox_filters_by_type_priority_workflow_since_and_limit(client: caw_lab.Client, pair: tuple[str, str]) -> None:
    alice, bob = pair
    wf = make_workflow(client, [{"name": "a"}])
    first = send(client, alice, bob, message_type="status_update", priority="low", workflow_id=wf["id"],
                 task_id=wf["tasks"]["a"])["id"]
    time.sleep(0.005)
    cut = client.call("message_get", id=first, mark_read=False)["created_at"]
    time.sleep(0.005)
    second = send(client, alice, bob, message_type="task_assignment", priority="urgent")["id"]
    third = send(client, alice, bob, message_type="task_assignment", priority="normal")["id"]

    assert inbox(client, bob) == [third, second, first]
    assert inbox(client, bob, message_type=["task_assignment"]) == [third, second]
    assert inbox(client, bob, priority=["low", "urgent"]) == [second, first]
    assert inbox(client, bob, workflow_id=wf["id"]) == [first]
    assert inbox(client, bob, since=cut) == [third, second]
    assert inbox(client, bob, since=cut / 1000) == [third, second], "since in seconds is understood too"
    assert inbox(client, bob, limit=1) == [third]
    assert inbox(client, alice) == []


def test_broadcast_reaches_matching_agents_but_not_the_sender(client: caw_lab.Client) -> None:
    boss = register(client, "boss", role="coordinator")
    other_boss = register(client, "boss-2", role="coordinator")
    w1, w2 = register(client, "w1", runtime="codex"), register(client, "w2", runtime="claude_code")
    gone = register(client, "gone")
    client.call("agent_unregister", id=gone)

    everyone = client.call("message_broadcast", sender_id=boss, message_type="broadcast", body={"note": "x"},
                           priority="high")
    assert everyone["sent_count"] == 4
    recipients = [client.call("message_get", id=i, mark_read=False)["recipient_id"] for i in everyone["message_ids"]]
    assert recipients == [other_boss, w1, w2, gone]
    assert client.call("message_count_unread", agent_id=boss)["count"] == 0
    assert client.call("message_count_unread", agent_id=w1)["by_priority"] == {"high": 1}
    threads = {client.call("message_get", id=i, mark_read=False)["thread_id"] for i in everyone["message_ids"]}
    assert threads == {everyone["message_ids"][0]}, "one broadcast is one thread"

    def sent_to(**wanted: Any) -> list[str]:
        ids = client.call("message_broadcast", sender_id=boss, message_type="status_update", body="s",
                          recipient_filter=wanted)["message_ids"]
        return [client.call("message_get", id=i, mark_read=False)["recipient_id"] for i in ids]

    assert sent_to(role="worker", status=["online", "busy"]) == [w1, w2]
    assert sent_to(status="offline") == [gone]
    assert sent_to(runtime="codex") == [w1]
    assert sent_to(role="coordinator") == [other_boss]
    before = dump(client.db)
    assert client.call("message_broadcast", sender_id=boss, message_type="broadcast", body="x",
                       recipient_filter={"runtime": "opencode"}) == {"sent_count": 0, "message_ids": []}
    assert dump(client.db) == before


def test_a_broadcast_is_one_change_with_one_event(client: caw_lab.Client) -> None:
    boss = register(client, "boss")
    workers = [register(client, f"w{i}") for i in range(5)]
    result = client.call("message_broadcast", sender_id=boss, message_type="broadcast", body="go")
    [event] = client.call("events_list", kinds=["message.broadcast"])["events"]
    assert event["agent_id"] == boss
    assert event["payload"]["message_ids"] == result["message_ids"]
    assert event["payload"]["recipient_ids"] == workers


@pytest.mark.parametrize(("args", "code"), [
    ({"recipient_id": "ag_missing"}, "RECIPIENT_NOT_FOUND"),
    ({"sender_id": "ag_missing"}, "SENDER_NOT_FOUND"),
    ({"reply_to_id": "msg_missing"}, "MESSAGE_NOT_FOUND"),
    ({"workflow_id": "wf_missing"}, "WORKFLOW_NOT_FOUND"),
    ({"task_id": "tk_missing"}, "TASK_NOT_FOUND"),
])
def test_send_refuses_unknown_references_and_writes_nothing(
    client: caw_lab.Client, pair: tuple[str, str], args: dict[str, str], code: str
) -> None:
    alice, bob = pair
    before = dump(client.db)
    with pytest.raises(caw_lab.CawError) as info:
        client.call("message_send", **{"sender_id": alice, "recipient_id": bob, "message_type": "query",
                                       "body": "x", **args})
    assert info.value.code == code
    assert dump(client.db) == before


def test_reading_unknown_messages_and_inboxes_is_refused(client: caw_lab.Client) -> None:
    for tool, args, code in [
        ("message_get", {"id": "msg_missing"}, "MESSAGE_NOT_FOUND"),
        ("message_list", {"agent_id": "ag_missing"}, "AGENT_NOT_FOUND"),
        ("message_count_unread", {"agent_id": "ag_missing"}, "AGENT_NOT_FOUND"),
        ("message_broadcast", {"sender_id": "ag_missing", "message_type": "broadcast", "body": "x"},
         "SENDER_NOT_FOUND"),
    ]:
        with pytest.raises(caw_lab.CawError) as info:
            client.call(tool, **args)
        assert info.value.code == code, tool
