"""Messages between agents: direct sends, threaded replies, broadcasts and inboxes.

A message's ``thread_id`` is the thread of the message it replies to, or its own id
when it starts one, so a thread is named by its first message. A broadcast is one
thread too: every copy carries the first copy's id. Bodies are stored as JSON, so a
string comes back a string and an object an object.
"""

from __future__ import annotations

from typing import Any

from caw_lab.engine.agents import EFFECTIVE_STATUS, stale_cutoff
from caw_lab.engine.changes import Event, commit, insert
from caw_lab.engine.rows import decode, encode, fetch, placeholders, require, required
from caw_lab.errors import CawError, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Later, Reads

Body = str | dict[str, Any]
SECONDS_BEFORE = 10**11
"""A ``since`` below this (1973 in milliseconds) can only be meant as seconds."""

REFERENCES = """SELECT (SELECT id FROM agents WHERE id = ?) AS sender,
  (SELECT id FROM agents WHERE id = ?) AS recipient,
  (SELECT COALESCE(thread_id, id) FROM messages WHERE id = ?) AS thread,
  (SELECT id FROM workflows WHERE id = ?) AS workflow, (SELECT id FROM tasks WHERE id = ?) AS task"""


def send(
    db: Backend,
    *,
    sender_id: str,
    recipient_id: str,
    message_type: str,
    body: Body,
    subject: str | None = None,
    priority: str = "normal",
    workflow_id: str | None = None,
    task_id: str | None = None,
    reply_to_id: str | None = None,
) -> dict[str, Any]:
    found = db.one(REFERENCES, (sender_id, recipient_id, reply_to_id, workflow_id, task_id))
    assert found is not None, "a SELECT without FROM always returns its row"
    if found["sender"] is None:
        raise sender_not_found(sender_id)
    if found["recipient"] is None:
        raise CawError("RECIPIENT_NOT_FOUND", f"Recipient agent not found: {recipient_id}", recoverable=False,
                       suggestion="List agents (agent_list) to find the recipient's id.")
    references = (("message", reply_to_id, "thread"), ("workflow", workflow_id, "workflow"), ("task", task_id, "task"))
    for kind, ident, key in references:
        if ident and found[key] is None:
            raise not_found(kind, ident)
    row = message_row(sender_id, recipient_id, message_type, body, subject, priority, workflow_id)
    row.update(task_id=task_id, reply_to_id=reply_to_id, thread_id=found["thread"] or row["id"])
    payload = {"message_id": row["id"], "recipient_id": recipient_id, "thread_id": row["thread_id"],
               "message_type": message_type, "priority": priority}
    commit(db, Event("message.sent", workflow_id, task_id, sender_id, payload), then=[insert("messages", row)])
    return {"id": row["id"], "thread_id": row["thread_id"]}


def sender_not_found(sender_id: str) -> CawError:
    return CawError("SENDER_NOT_FOUND", f"Sender agent not found: {sender_id}", recoverable=False,
                    suggestion="Register the sending agent first (agent_register) and send with its id.")


def message_row(
    sender_id: str, recipient_id: str, message_type: str, body: Body, subject: str | None, priority: str,
    workflow_id: str | None,
) -> dict[str, Any]:
    return {
        "id": new_id("message"), "sender_id": sender_id, "recipient_id": recipient_id, "message_type": message_type,
        "subject": subject, "body": encode(body), "priority": priority, "status": "unread",
        "workflow_id": workflow_id, "created_at": now_ms(),
    }


def broadcast(
    db: Backend,
    *,
    sender_id: str,
    message_type: str,
    body: Body,
    recipient_filter: dict[str, Any] | None = None,
    subject: str | None = None,
    priority: str = "normal",
    workflow_id: str | None = None,
) -> dict[str, Any]:
    """One copy per matching agent other than the sender, all in one change and one event.

    ``recipient_filter`` takes ``role``, ``runtime`` and ``status`` (one or a list),
    where status is as agent_list shows it: a stale agent counts as offline.
    """
    if db.one("SELECT 1 AS x FROM agents WHERE id = ?", (sender_id,)) is None:
        raise sender_not_found(sender_id)
    if workflow_id:
        require(db, "workflow", workflow_id)
    recipients = matching_agents(db, sender_id, recipient_filter or {})
    if not recipients:
        return {"sent_count": 0, "message_ids": []}
    rows = [message_row(sender_id, r, message_type, body, subject, priority, workflow_id) for r in recipients]
    for row in rows:
        row["thread_id"] = rows[0]["id"]
    ids = [r["id"] for r in rows]
    payload = {"message_ids": ids, "recipient_ids": recipients, "thread_id": rows[0]["id"],
               "message_type": message_type, "priority": priority}
    commit(db, Event("message.broadcast", workflow_id, agent_id=sender_id, payload=payload),
           then=[insert("messages", r) for r in rows])
    return {"sent_count": len(ids), "message_ids": ids, "thread_id": rows[0]["id"]}


def matching_agents(db: Backend, sender_id: str, wanted: dict[str, Any]) -> list[str]:
    where, params = ["id != ?"], [sender_id]
    statuses = wanted.get("status")
    if statuses is not None:
        statuses = [statuses] if isinstance(statuses, str) else list(statuses)
        where.append(f"{EFFECTIVE_STATUS} IN ({placeholders(statuses) or 'NULL'})")
        params += [stale_cutoff(now_ms()), *statuses]
    for column in ("role", "runtime"):
        if wanted.get(column) is not None:
            where.append(f"{column} = ?")
            params.append(wanted[column])
    rows = db.query(f"SELECT id FROM agents WHERE {' AND '.join(where)} ORDER BY created_at, rowid", params)
    return [r["id"] for r in rows]


def list_messages(
    db: Backend,
    agent_id: str | None,
    *,
    status: str | None = None,
    message_type: list[str] | None = None,
    priority: list[str] | None = None,
    workflow_id: str | None = None,
    thread_id: str | None = None,
    limit: int = 20,
    since: float | None = None,
) -> dict[str, Any]:
    """The agent's inbox, newest first, with its total unread count.

    Without ``status`` every message is listed, as the reference server does. With
    ``thread_id`` the agent's own messages in that thread are included too, so the
    conversation reads whole. ``since`` is epoch milliseconds (seconds are recognised).
    Without ``agent_id`` every agent's messages are listed: the inbox of a person
    watching all agents (the web page's).
    """
    reads = Reads(db)
    exists = required(reads, "agent", agent_id) if agent_id is not None else None
    where, params = ["1 = 1"], []
    if agent_id is not None:
        mine = "(recipient_id = ? OR sender_id = ?)" if thread_id else "recipient_id = ?"
        where, params = [mine], [agent_id] * mine.count("?")
    for column, values in (("status", [status] if status else None), ("message_type", message_type),
                           ("priority", priority)):
        if values is not None:
            where.append(f"{column} IN ({placeholders(values) or 'NULL'})")
            params += values
    for column, value in (("workflow_id", workflow_id), ("thread_id", thread_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("created_at > ?")
        params.append(since * 1000 if since < SECONDS_BEFORE else since)
    rows = reads.query(
        f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY created_at DESC, rowid DESC LIMIT ?",
        [*params, limit],
    )
    unread = unread_of(reads, agent_id)
    reads.run()
    if exists:
        exists()
    return {"messages": [decode(r) for r in rows()], "unread_count": unread()["count"]}


def get(db: Backend, message_id: str, mark_read: bool = True) -> dict[str, Any]:
    message = fetch(db, "message", message_id)
    if mark_read and message["status"] == "unread":
        now = now_ms()
        guard = Statement("UPDATE messages SET status = 'read', read_at = ? WHERE id = ? AND status = 'unread'",
                          (now, message_id))
        event = Event("message.read", message["workflow_id"], message["task_id"], message["recipient_id"],
                      {"message_ids": [message_id]})
        if commit(db, event, guard=guard) is not None:
            return {**message, "status": "read", "read_at": now}
        return fetch(db, "message", message_id)
    return message


def mark_read(db: Backend, message_ids: list[str]) -> dict[str, Any]:
    """Unread messages among ``message_ids`` become read; unknown ids are ignored."""
    return set_status(db, message_ids, "read", "status = 'unread'", "message.read")


def archive(db: Backend, message_ids: list[str]) -> dict[str, Any]:
    return set_status(db, message_ids, "archived", "status != 'archived'", "message.archived")


def set_status(db: Backend, message_ids: list[str], status: str, condition: str, kind: str) -> dict[str, Any]:
    if not message_ids:
        return {"success": True, "updated": 0}
    read_at = "COALESCE(read_at, ?)" if status == "read" else "read_at"
    guard = Statement(
        f"UPDATE messages SET status = ?, read_at = {read_at} WHERE id IN ({placeholders(message_ids)}) "
        f"AND {condition} RETURNING id",
        (status, *([now_ms()] if status == "read" else []), *message_ids),
    )
    done = commit(db, Event(kind, payload={"message_ids": list(message_ids)}), guard=guard)
    return {"success": True, "updated": len(done.guard_rows) if done else 0}


def count_unread(db: Backend, agent_id: str | None, priority: list[str] | None = None) -> dict[str, Any]:
    """Unread messages of one agent, or of every agent when ``agent_id`` is None: one batch."""
    reads = Reads(db)
    exists = required(reads, "agent", agent_id) if agent_id is not None else None
    unread = unread_of(reads, agent_id, priority)
    reads.run()
    if exists:
        exists()
    return unread()


def unread_of(reads: Reads, agent_id: str | None, priority: list[str] | None = None) -> Later[dict[str, Any]]:
    where, params = ["status = 'unread'"], []
    if agent_id is not None:
        where, params = ["recipient_id = ?", "status = 'unread'"], [agent_id]
    if priority:
        where.append(f"priority IN ({placeholders(priority)})")
        params += priority
    rows = reads.query(
        f"SELECT priority, COUNT(*) AS n FROM messages WHERE {' AND '.join(where)} GROUP BY priority", params
    )

    def value() -> dict[str, Any]:
        by_priority = {r["priority"]: r["n"] for r in rows()}
        return {"count": sum(by_priority.values()), "by_priority": by_priority}

    return value
