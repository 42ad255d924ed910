"""Events of the change feed as the reference's WebSocket messages, and the channels they go to.

The reference forwards what its own process just did; we read the ``events`` table, so a
message is the translation of one event row, whoever wrote it. The reference's types come
first (``workflow:status``, ``task:updated``, ``agent:registered``, ``agent:heartbeat``,
``agent:unregistered``, ``message:new``) with their ``data`` fields; every other kind
arrives as ``event``. Each message also carries ``seq`` (the event's sequence number, the
cursor a reconnecting client resumes from) and ``event`` (its kind).
"""

from __future__ import annotations

from typing import Any

AGENT_GONE = frozenset({"agent.unregistered", "agent.stale", "agent.lost", "agent.stopped"})
TASK_PREFIXES = ("task.", "checkpoint.", "deadletter.")


def message_type(kind: str) -> str:
    if kind == "workflow.status":
        return "workflow:status"
    if kind.startswith(TASK_PREFIXES):
        return "task:updated"
    if kind == "agent.registered":
        return "agent:registered"
    if kind == "agent.heartbeat":
        return "agent:heartbeat"
    if kind in AGENT_GONE:
        return "agent:unregistered"
    if kind in ("message.sent", "message.broadcast"):
        return "message:new"
    return "event"


def data_of(event: dict[str, Any]) -> dict[str, Any]:
    """The reference's ``data`` for the event's type, plus the ids the row carries."""
    kind, payload = event["kind"], event.get("payload") or {}
    kind_type = message_type(kind)
    if kind_type == "workflow:status":
        return {"id": event["workflow_id"], "status": payload.get("to"), "from": payload.get("from")}
    if kind_type == "task:updated":
        data = {"id": event["task_id"], "workflow_id": event["workflow_id"], "action": kind.split(".", 1)[1]}
        if kind == "task.status":
            data["status"] = payload.get("to")
        elif kind == "task.claimed":
            data.update(status="in_progress", agent_id=event["agent_id"])
        return data
    if kind_type == "agent:registered":
        return {"id": event["agent_id"], "name": payload.get("name"), "workflow_id": event["workflow_id"]}
    if kind_type == "agent:heartbeat":
        return {"id": event["agent_id"], "timestamp": event["at"], "status": payload.get("status")}
    if kind_type == "agent:unregistered":
        return {"id": event["agent_id"], "reason": kind.split(".", 1)[1]}
    if kind == "message.sent":
        return {"id": payload.get("message_id"), "recipient_id": payload.get("recipient_id"),
                "thread_id": payload.get("thread_id"), "sender_id": event["agent_id"]}
    if kind == "message.broadcast":
        return {"ids": payload.get("message_ids"), "recipient_ids": payload.get("recipient_ids"),
                "thread_id": payload.get("thread_id"), "sender_id": event["agent_id"]}
    return {"workflow_id": event["workflow_id"], "task_id": event["task_id"], "agent_id": event["agent_id"],
            "payload": payload}


def to_message(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": message_type(event["kind"]), "data": data_of(event), "seq": event["seq"], "event": event["kind"],
            "at": event["at"]}


def channels_of(event: dict[str, Any]) -> set[str]:
    """``global``, the workflow's channel, and the channel of every agent it concerns (its actor,
    and a message's recipients)."""
    found = {"global"}
    if event.get("workflow_id"):
        found.add(f"workflow:{event['workflow_id']}")
    if event.get("task_id"):
        found.add(f"task:{event['task_id']}")
    if event.get("agent_id"):
        found.add(f"agent:{event['agent_id']}")
    payload = event.get("payload") or {}
    for agent in [payload.get("recipient_id"), *(payload.get("recipient_ids") or [])]:
        if isinstance(agent, str):
            found.add(f"agent:{agent}")
    return found


def matches(channel: str, event: dict[str, Any]) -> bool:
    return channel in channels_of(event)
