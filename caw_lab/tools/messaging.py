"""Messaging tools: send, broadcast, read and file messages between agents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from caw_lab.engine import messages
from caw_lab.store.backend import Backend
from caw_lab.tools.registry import Params, Result, tool

MessageType = Literal["task_assignment", "status_update", "query", "response", "broadcast"]
Priority = Literal["low", "normal", "high", "urgent"]
Body = str | dict[str, Any]


class MessageArchiveResult(Result):
    success: bool
    updated: int


class MessageBroadcastResult(Result):
    sent_count: int
    message_ids: list[str]
    thread_id: str | None = None


class MessageCountUnreadResult(Result):
    count: int
    by_priority: dict[str, Any]


class MessageGetResult(Result):
    id: str
    sender_id: str | None
    recipient_id: str
    message_type: str
    subject: str | None
    body: Any
    priority: str
    status: str
    workflow_id: str | None
    task_id: str | None
    reply_to_id: str | None
    thread_id: str | None
    created_at: int
    read_at: int | None
    expires_at: int | None


class MessageListResult(Result):
    messages: list[dict[str, Any]]
    unread_count: int


class MessageMarkReadResult(Result):
    success: bool
    updated: int


class MessageSendResult(Result):
    id: str
    thread_id: str


class MessageSend(Params):
    sender_id: str
    recipient_id: str
    message_type: MessageType
    body: Body
    subject: str | None = None
    priority: Priority = "normal"
    workflow_id: str | None = None
    task_id: str | None = None
    reply_to_id: str | None = None


@tool("message_send", "Send a message to one agent; a reply joins the replied-to message's thread.", read_only=False,
      result=MessageSendResult)
def message_send(db: Backend, p: MessageSend) -> dict[str, Any]:
    return messages.send(db, **p.model_dump())


class RecipientFilter(Params):
    role: Literal["coordinator", "worker"] | None = None
    status: str | list[str] | None = None
    runtime: str | None = None


class MessageBroadcast(Params):
    sender_id: str
    message_type: Literal["broadcast", "status_update"]
    body: Body
    recipient_filter: RecipientFilter | None = None
    subject: str | None = None
    priority: Priority = "normal"
    workflow_id: str | None = None


@tool("message_broadcast", "Send one message to every agent matching a filter, except the sender.", read_only=False,
      result=MessageBroadcastResult)
def message_broadcast(db: Backend, p: MessageBroadcast) -> dict[str, Any]:
    wanted = p.recipient_filter.model_dump(exclude_none=True) if p.recipient_filter else {}
    return messages.broadcast(db, **p.model_dump(exclude={"recipient_filter"}), recipient_filter=wanted)


class MessageList(Params):
    agent_id: str | None = None
    status: Literal["unread", "read", "archived"] | None = None
    message_type: list[str] | None = None
    priority: list[str] | None = None
    workflow_id: str | None = None
    thread_id: str | None = None
    limit: int = Field(20, ge=1, le=1000)
    since: float | None = None


@tool("message_list", "An agent's messages, newest first, with its unread count.", read_only=True,
      result=MessageListResult)
def message_list(db: Backend, p: MessageList) -> dict[str, Any]:
    return messages.list_messages(db, **p.model_dump())


class MessageGet(Params):
    id: str
    mark_read: bool = True


@tool("message_get", "One message; marks it read unless mark_read is false.", read_only=False, idempotent=True,
      result=MessageGetResult)
def message_get(db: Backend, p: MessageGet) -> dict[str, Any]:
    return messages.get(db, p.id, p.mark_read)


class MessageIds(Params):
    message_ids: list[str]


@tool("message_mark_read", "Mark messages read.", read_only=False, idempotent=True, result=MessageMarkReadResult)
def message_mark_read(db: Backend, p: MessageIds) -> dict[str, Any]:
    return messages.mark_read(db, p.message_ids)


@tool("message_archive", "Archive messages: they stay listable with status archived but no longer count as unread.",
      read_only=False, idempotent=True, result=MessageArchiveResult)
def message_archive(db: Backend, p: MessageIds) -> dict[str, Any]:
    return messages.archive(db, p.message_ids)


class MessageCountUnread(Params):
    agent_id: str | None = None
    priority: list[str] | None = None


@tool("message_count_unread", "How many unread messages an agent has, in total and by priority.", read_only=True,
      result=MessageCountUnreadResult)
def message_count_unread(db: Backend, p: MessageCountUnread) -> dict[str, Any]:
    return messages.count_unread(db, p.agent_id, p.priority)
